//! Arbitrary bytes as a sequence of frames through the whole engine: parse, flow, DPI, counters.
//! Invariants beyond "no panic": after a flush, every packet is in exactly one of the protocol
//! rows, the non-IP row or the malformed row.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use weir_dpi::Classifier;
use weir_engine::{Engine, EngineConfig, FlowTableConfig, Ingress, LinkType, Shared};

static CLASSIFIER: OnceLock<Arc<Classifier>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let classifier = Arc::clone(CLASSIFIER.get_or_init(|| Arc::new(Classifier::builtin().expect("built-in signatures"))));
    let table = FlowTableConfig { shards: 2, capacity: 16, ..FlowTableConfig::default() };
    let Ok(shared) = Shared::new(classifier, table, 8) else { return };
    let mut engine = Engine::new(shared, EngineConfig { inside: Vec::new(), record_flows: true, ..EngineConfig::default() });
    // Frames: [link selector][len hi][len lo][bytes...] repeated.
    let mut rest = data;
    let mut now = 0u64;
    let mut frames = 0u64;
    while rest.len() >= 3 {
        let link = LinkType::ALL[usize::from(rest[0] >> 4) % LinkType::ALL.len()];
        let len = (usize::from(rest[1]) << 8 | usize::from(rest[2])).min(rest.len() - 3);
        let frame = &rest[3..3 + len];
        let ingress = if rest[0] & 1 == 0 { Ingress::Inside } else { Ingress::Outside };
        engine.process(frame, len as u32, link, ingress, now);
        now += u64::from(rest[0] & 0x0e) * 50_000_000;
        frames += 1;
        rest = &rest[3 + len..];
    }
    engine.flush();
    let c = engine.counters();
    let in_protocols: u64 = c.protocols.iter().map(|p| p.packets[0].get() + p.packets[1].get()).sum();
    assert_eq!(c.packets.get(), frames);
    assert_eq!(in_protocols + c.non_ip_packets.get() + c.malformed_total(), frames);
    let in_records: u64 = engine.drain_records().map(|r| r.packets[0] + r.packets[1]).sum();
    assert_eq!(in_records, in_protocols);
});
