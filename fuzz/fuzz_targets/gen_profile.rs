//! Arbitrary text as a generator profile (`weir gen --profile`): it validates or gives an error,
//! never a panic; a valid profile generates frames (the first 64 here, in halves as two senders
//! would) that fit the buffer and parse as Ethernet frames weir's parser accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_gen::{Generator, Profile};
use weir_wire::LinkType;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(profile) = Profile::parse(&text, "fuzz.toml") else { return };
    // Huge concurrent-flow counts are valid and cost memory up front: keep the run small.
    if profile.templates.iter().map(|t| u64::from(t.flows)).sum::<u64>() > 100_000 {
        return;
    }
    for share in 0..2 {
        let mut g = Generator::new(profile.share(share, 2)).with_flow_ids(u64::from(share), 2);
        let mut buf = vec![0u8; 2048];
        for _ in 0..32 {
            let Some(p) = g.next_packet(&mut buf) else { break };
            assert!(p.len >= 14 && p.len <= buf.len(), "frame length {}", p.len);
            let frame = &buf[..p.len];
            if let Err(e) = weir_wire::parse_frame(frame, LinkType::Ethernet) {
                panic!("generated frame does not parse ({e:?}): {frame:02x?}");
            }
        }
    }
});
