#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use super::*;
use std::net::{IpAddr, Ipv4Addr};
use weir_capture::PcapWriter;
use weir_testkit::packet::{Builder, tcp_conversation};

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const ETHERNET: u32 = 1;

/// A directory of its own under the system's temp dir, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("weir-replay-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP exchange on client port `port`: 7 frames (handshake, request, response, FINs).
fn http_flow(port: u16) -> Vec<Vec<u8>> {
    let req: &[u8] = b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n";
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    tcp_conversation(&Builder::default(), (CLIENT, port), (SERVER, 80), &[(true, req), (false, resp)])
        .into_iter()
        .map(|(f, _)| f)
        .collect()
}

fn write_pcap(path: &Path, linktype: u32, frames: &[Vec<u8>]) {
    let mut w = PcapWriter::new(std::fs::File::create(path).unwrap(), linktype, true).unwrap();
    for (i, f) in frames.iter().enumerate() {
        w.write_packet(1_700_000_000_000_000_000 + i as u64 * 1_000_000, f, f.len() as u32).unwrap();
    }
    w.flush().unwrap();
}

fn engine() -> Engine {
    let classifier = Arc::new(Classifier::builtin().unwrap());
    offline_engine(classifier, 1024, EngineConfig::default()).unwrap()
}

fn http_flows(e: &Engine) -> u64 {
    let id = e.classifier().registry().lookup("http").unwrap();
    e.counters().protocol(id).flows.get()
}

#[test]
fn every_pass_reads_every_packet_and_ends_with_a_flush() {
    let dir = Dir::new("passes");
    let (a, b) = (dir.0.join("a.pcap"), dir.0.join("b.pcap"));
    write_pcap(&a, ETHERNET, &[http_flow(40000), http_flow(40001)].concat());
    write_pcap(&b, ETHERNET, &http_flow(40002));
    let mut e = engine();
    let mut events = Vec::new();
    let options = ReplayOptions { loops: 2, drain_every: 5 };
    let done = replay::<ReplayError>(&mut e, &[&a, &b], options, |ev, engine| {
        // At each pass end the flows are flushed: no flow is left in the table.
        if ev == Event::PassEnd {
            let c = engine.counters();
            let ended: u64 = c.flows_ended.iter().map(|n| n.get()).sum();
            assert_eq!(ended, c.flows_created.get(), "flushed before PassEnd");
        }
        events.push(ev);
        Ok(())
    })
    .unwrap();
    assert_eq!(done.packets, 2 * 21);
    assert!(done.failure.is_none() && done.warnings.is_empty(), "{done:?}");
    // Three flows a pass, each counted again in the second pass.
    assert_eq!(http_flows(&e), 6);
    let ends: Vec<_> = events.iter().filter(|e| !matches!(e, Event::Progress { .. })).copied().collect();
    let size = |p: &PathBuf| std::fs::metadata(p).unwrap().len();
    let pass = [Event::FileEnd { size: size(&a) }, Event::FileEnd { size: size(&b) }, Event::PassEnd];
    assert_eq!(ends, [pass, pass].concat());
    // 42 packets, a progress call every 5th.
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Progress { .. })).count(), 8);
}

#[test]
fn an_unknown_link_type_stops_the_replay_with_the_packets_before_it_counted() {
    let dir = Dir::new("link");
    let (good, wifi) = (dir.0.join("good.pcap"), dir.0.join("wifi.pcap"));
    write_pcap(&good, ETHERNET, &http_flow(40000));
    write_pcap(&wifi, 105, &http_flow(40001));
    let mut e = engine();
    let mut pass_ends = 0;
    let done = replay::<ReplayError>(&mut e, &[&good, &wifi, &good], ReplayOptions::default(), |ev, _| {
        pass_ends += usize::from(ev == Event::PassEnd);
        Ok(())
    })
    .unwrap();
    assert_eq!(done.packets, 7, "only the first file's packets");
    assert_eq!(http_flows(&e), 1, "its flow was flushed and counted");
    assert_eq!(pass_ends, 1, "one flush, after the failure");
    let msg = done.failure.expect("a failure").to_string();
    assert!(msg.contains("wifi.pcap") && msg.contains("unsupported link type 105 (IEEE 802.11)"), "{msg}");
    assert!(
        msg.contains("byte offset 24") && msg.contains("Ethernet (1)"),
        "names the offset and what weir reads: {msg}"
    );
}

#[test]
fn a_cut_record_header_is_a_warning_and_a_bad_record_a_failure() {
    let dir = Dir::new("cut");
    let cut = dir.0.join("cut.pcap");
    write_pcap(&cut, ETHERNET, &http_flow(40000));
    let mut bytes = std::fs::read(&cut).unwrap();
    bytes.extend_from_slice(&[0; 5]);
    std::fs::write(&cut, &bytes).unwrap();
    let mut e = engine();
    let done =
        replay::<ReplayError>(&mut e, &[&cut], ReplayOptions { loops: 2, drain_every: 1 }, |_, _| Ok(())).unwrap();
    assert!(done.failure.is_none(), "{:?}", done.failure);
    assert_eq!(done.packets, 14);
    assert_eq!(done.warnings.len(), 1, "once, not per pass: {:?}", done.warnings);
    assert!(done.warnings[0].contains("after 7 whole records") && done.warnings[0].contains("complete"));

    // A record claiming more bytes than any capture holds, after two good ones.
    let bad = dir.0.join("bad.pcap");
    let frames = http_flow(40001);
    write_pcap(&bad, ETHERNET, &frames[..2]);
    let mut bytes = std::fs::read(&bad).unwrap();
    let mut header = [0u8; 16];
    header[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    header[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes.extend_from_slice(&header);
    std::fs::write(&bad, &bytes).unwrap();
    let mut e = engine();
    let done = replay::<ReplayError>(&mut e, &[&bad], ReplayOptions::default(), |_, _| Ok(())).unwrap();
    assert_eq!(done.packets, 2);
    assert!(matches!(done.failure, Some(ReplayError::Capture(_))), "{:?}", done.failure);
}

#[test]
fn a_missing_file_is_an_error_and_a_callback_error_stops_the_replay() {
    let dir = Dir::new("missing");
    let mut e = engine();
    let err =
        replay::<ReplayError>(&mut e, &[dir.0.join("nope.pcap")], ReplayOptions::default(), |_, _| Ok(())).unwrap_err();
    assert!(err.to_string().contains("nope.pcap"), "{err}");

    let a = dir.0.join("a.pcap");
    write_pcap(&a, ETHERNET, &[http_flow(40000), http_flow(40001)].concat());
    #[derive(Debug)]
    enum Failed {
        Replay(#[allow(dead_code, reason = "shown by Debug")] ReplayError),
        Sink,
    }
    impl From<ReplayError> for Failed {
        fn from(e: ReplayError) -> Failed {
            Failed::Replay(e)
        }
    }
    let mut calls = 0;
    let r = replay::<Failed>(&mut e, &[&a], ReplayOptions { loops: 1, drain_every: 4 }, |_, _| {
        calls += 1;
        if calls == 2 { Err(Failed::Sink) } else { Ok(()) }
    });
    assert!(matches!(r, Err(Failed::Sink)), "{r:?}");
    assert_eq!(calls, 2, "nothing after the error");
}

#[test]
fn a_capacity_the_table_cannot_hold_is_named() {
    let classifier = Arc::new(Classifier::builtin().unwrap());
    match offline_engine(classifier, 0, EngineConfig::default()) {
        Err(e) => assert!(e.to_string().starts_with("--flow-capacity 0: "), "{e}"),
        Ok(_) => panic!("a table of no flows was built"),
    }
}
