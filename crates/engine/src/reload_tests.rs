//! A live reload's new classifier, swapped in while flows are mid-inspection.

use super::*;
use weir_testkit::packet::{Builder, tcp_conversation};

/// `alpha`: "HELLOWORLD" opening the client's stream (split over two segments below).
const V1: &str = "[[protocol]]\nname = \"alpha\"\ncategory = \"other\"\n\
    [[signature]]\nname = \"alpha-hello\"\nprotocol = \"alpha\"\npattern = 'HELLOWORLD'\nl4 = \"tcp\"\noffset = 0\npriority = 90\n";
/// The next file: alpha kept (same id), its signature gone; a new protocol `beta` for "WORLD"
/// anywhere. A flow begun under V1 and read on under V2 from where it was would be beta.
const V2: &str = "[[protocol]]\nname = \"alpha\"\ncategory = \"other\"\n\
    [[protocol]]\nname = \"beta\"\ncategory = \"other\"\n\
    [[signature]]\nname = \"beta-world\"\nprotocol = \"beta\"\npattern = 'WORLD'\nl4 = \"tcp\"\npriority = 90\n";

fn classifier(text: &str) -> Arc<Classifier> {
    Arc::new(Classifier::from_toml(text, "test").unwrap())
}

/// The frames of a TCP conversation whose client sends `parts` one segment each, without the
/// closing FINs (so the flow is still open), and the FINs.
type Frames = Vec<(Vec<u8>, bool)>;

fn conversation(port: u16, parts: &[&[u8]]) -> (Frames, Frames) {
    let ip = |n| IpAddr::from([198, 18, 0, n]);
    let ex: Vec<(bool, &[u8])> = parts.iter().map(|p| (true, *p)).collect();
    let mut all = tcp_conversation(&Builder::default(), (ip(1), port), (ip(2), 7000), &ex);
    let fins = all.split_off(all.len() - 2);
    (all, fins)
}

fn run(e: &mut Engine, frames: &[(Vec<u8>, bool)], t: &mut u64) -> Vec<Option<ProtocolId>> {
    frames
        .iter()
        .map(|(f, from_client)| {
            *t += 1000;
            let ingress = if *from_client { Ingress::Inside } else { Ingress::Outside };
            match e.process(f, f.len() as u32, LinkType::Ethernet, ingress, *t) {
                Outcome::Ip { protocol, .. } => protocol,
                o => panic!("{o:?}"),
            }
        })
        .collect()
}

fn engine(c: &Arc<Classifier>) -> Engine {
    let table = FlowTableConfig { shards: 2, capacity: 256, ..FlowTableConfig::default() };
    let shared = Shared::new(Arc::clone(c), table, 64).unwrap();
    Engine::new(shared, EngineConfig { record_flows: true, ..EngineConfig::default() })
}

#[test]
fn a_flow_pending_at_the_swap_finishes_under_the_classifier_it_began_with() {
    let (v1, v2) = (classifier(V1), classifier(V2));
    let alpha = v1.registry().lookup("alpha").unwrap();
    let beta = v2.registry().lookup("beta").unwrap();
    assert_eq!(v2.registry().lookup("alpha"), Some(alpha));
    let mut e = engine(&v1);
    let mut t = 0;
    let (first, _) = conversation(40_000, &[b"HELLO", b"WORLD"]);
    let (head, tail) = first.split_at(first.len() - 1);
    assert_eq!(run(&mut e, head, &mut t).last(), Some(&None), "pending after HELLO");

    // The reload: V2 from the next packet on.
    e.set_classifier(Arc::clone(&v2), 2);
    assert_eq!(e.classifier_epoch(), 2);
    assert_eq!(run(&mut e, tail, &mut t), [Some(alpha)], "finished under V1: alpha, not beta");

    // A flow that begins now is inspected with V2.
    let (second, fins) = conversation(40_001, &[b"HELLO", b"WORLD"]);
    assert_eq!(run(&mut e, &second, &mut t).last(), Some(&Some(beta)));
    run(&mut e, &fins, &mut t);
    e.flush();
    let labels: Vec<(u16, ProtocolId)> = e.drain_records().map(|r| (r.originator.1, r.label.protocol)).collect();
    assert!(labels.contains(&(40_000, alpha)) && labels.contains(&(40_001, beta)), "{labels:?}");
    // Both counted, the new protocol's id within the counters' room.
    assert!(e.counters().protocols.len() >= v2.registry().len());
    assert_eq!(e.counters().protocol(beta).flows.get(), 1);
    assert_eq!(e.counters().protocol(alpha).flows.get(), 1);
}

#[test]
fn a_flow_pending_across_more_reloads_than_kept_restarts_cleanly_under_the_current_one() {
    let (v1, v2) = (classifier(V1), classifier(V2));
    let beta = v2.registry().lookup("beta").unwrap();
    let mut e = engine(&v1);
    let mut t = 0;
    let (frames, _) = conversation(40_002, &[b"HELLO", b"WORLD"]);
    let (head, tail) = frames.split_at(frames.len() - 1);
    run(&mut e, head, &mut t);
    // More reloads than the engine keeps classifiers for while the flow waits.
    for epoch in 2..=(2 + CLASSIFIER_HISTORY as u8) {
        e.set_classifier(Arc::clone(&v2), epoch);
    }
    // V1 is gone: the flow starts afresh under V2 and gets V2's label, no panic.
    assert_eq!(run(&mut e, tail, &mut t), [Some(beta)]);
    // A pending flow ended by a sweep after its classifier was dropped gets a label from its
    // ends alone, never one read from another classifier's states.
    let (other, _) = conversation(40_003, &[b"HELLO"]);
    run(&mut e, &other, &mut t);
    for epoch in 10..=(10 + CLASSIFIER_HISTORY as u8) {
        e.set_classifier(Arc::clone(&v1), epoch);
    }
    e.flush();
    let r: Vec<FlowRecord> = e.drain_records().filter(|r| r.originator.1 == 40_003).collect();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].label.protocol, ProtocolId::UNKNOWN, "{:?}", r[0].label);
}

#[test]
fn the_flow_entry_does_not_grow_with_the_epoch() {
    assert_eq!(core::mem::size_of::<FlowState>(), 44);
}
