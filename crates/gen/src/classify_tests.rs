//! Every template, generated and fed through weir's own engine, is labelled as the protocol it
//! was generated as; and so are the flows of every shipped profile (>= 99.9%).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use weir_engine::{Classifier, Engine, EngineConfig, FlowTableConfig, Ingress, LinkType, Shared};

use crate::generator::Generator;
use crate::profile::Profile;
use crate::proto::Protocol;

/// Result of classifying a generator's whole output: (flows labelled right, flows, mistakes).
fn classify(mut g: Generator) -> (usize, usize, Vec<String>) {
    g.record_flows();
    let classifier = Arc::new(Classifier::builtin().unwrap());
    let shared = Shared::new(Arc::clone(&classifier), FlowTableConfig::default(), 65_536).unwrap();
    let mut engine = Engine::new(shared, EngineConfig { record_flows: true, ..EngineConfig::default() });
    let mut buf = vec![0u8; 2048];
    let mut records = Vec::new();
    while let Some(p) = g.next_packet(&mut buf) {
        engine.process(&buf[..p.len], p.len as u32, LinkType::Ethernet, Ingress::Unknown, p.ts_ns);
        records.extend(engine.drain_records());
    }
    engine.flush();
    records.extend(engine.drain_records());
    let truth: HashMap<(SocketAddr, SocketAddr), (Protocol, String)> =
        g.flow_records().iter().map(|f| ((f.client, f.server), (f.protocol, f.template.clone()))).collect();
    let reg = classifier.registry();
    let mut right = 0;
    let mut wrong = Vec::new();
    for r in &records {
        let key = (SocketAddr::new(r.originator.0, r.originator.1), SocketAddr::new(r.responder.0, r.responder.1));
        let Some((want, template)) = truth.get(&key) else {
            wrong.push(format!("flow {key:?} was not generated"));
            continue;
        };
        let got = reg.name(r.label.protocol);
        if got == want.name() {
            right += 1;
        } else {
            wrong.push(format!("{template}: {key:?} labelled {got} ({})", classifier.describe(r.label.decision)));
        }
    }
    assert_eq!(records.len(), truth.len(), "weir saw a different number of flows than were generated");
    (right, records.len(), wrong)
}

fn one_template(protocol: &str, variant: &str, extra: &str) -> Profile {
    let text = format!(
        "seed = 5\npps = 1000\npackets = 3000\nipv6 = 0.3\n[[template]]\nprotocol = \"{protocol}\"\nvariant = \"{variant}\"\nflows = 20\nlifetime_packets = 8\n{extra}\n"
    );
    Profile::parse(&text, "test").unwrap()
}

#[test]
fn every_template_is_labelled_as_generated() {
    let mut cases: Vec<(&str, &str)> = Protocol::ALL.iter().map(|p| (p.name(), "standard")).collect();
    cases.extend([
        ("bittorrent", "utp"),
        ("bittorrent", "dht"),
        ("bittorrent", "udp-tracker"),
        ("directconnect", "adc"),
    ]);
    let mut failures = Vec::new();
    for (proto, variant) in cases {
        for extra in [
            "",
            "inbound = 1.0\nvlan = 12",
            "random_ports = true\nsize = { dist = \"fixed\", bytes = 1518 }",
            "encap = \"pppoe\"\nipv6 = 0.5",
            "encap = \"mpls\"\ninbound = 0.5",
            "encap = \"vxlan\"\nvlan = 7\nsize = { dist = \"fixed\", bytes = 1518 }",
        ] {
            let (right, total, wrong) = classify(Generator::new(one_template(proto, variant, extra)));
            assert!(total > 20, "{proto}/{variant}: only {total} flows");
            if right != total {
                failures.push(format!("{proto}/{variant} [{extra}]: {right}/{total}; first: {:?}", wrong.first()));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_trailer_does_not_change_labels() {
    for trailer in [true, false] {
        let text = format!(
            "seed = 3\npps = 1000\npackets = 20000\ntrailer = {trailer}\n[[template]]\nprotocol = \"bittorrent\"\n[[template]]\nprotocol = \"tls\"\n[[template]]\nprotocol = \"dns\"\n[[template]]\nprotocol = \"winmx\"\n"
        );
        let (right, total, wrong) = classify(Generator::new(Profile::parse(&text, "t").unwrap()));
        assert_eq!(right, total, "trailer {trailer}: {wrong:?}");
    }
}

#[test]
fn shipped_profiles_are_labelled_at_least_999_per_mille() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs/profiles");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let mut p = Profile::load(&path).unwrap();
        // A bounded slice of each profile keeps the test quick.
        p.stop.packets = Some(p.stop.packets.unwrap_or(u64::MAX).min(200_000));
        let (right, total, wrong) = classify(Generator::new(p));
        let share = right as f64 / total.max(1) as f64;
        assert!(share >= 0.999, "{}: {right}/{total} = {share}; {:?}", path.display(), &wrong[..wrong.len().min(5)]);
        seen += 1;
    }
    assert!(seen >= 4, "expected the four shipped profiles in {dir}");
}
