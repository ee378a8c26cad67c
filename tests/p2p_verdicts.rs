//! P2P verdicts against the reference labels, over the bundled captures (tests/pcaps) and the
//! lookalike corpus (tests/pcaps/lookalikes: nDPI test captures of the protocols whose headers
//! resemble P2P ones, and nDPI's own false-positive traps; LGPL-3.0-or-later, see the README
//! there):
//!
//! - no flow nDPI names as a non-P2P protocol gets a P2P label, except the flows listed in
//!   [`NDPI_WRONG`] whose bytes show nDPI is wrong;
//! - in the lookalike corpus, no flow at all gets a P2P label unless nDPI labels it P2P;
//! - every flow nDPI labels P2P gets a P2P label.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

const P2P: &[&str] = &["BitTorrent", "eDonkey", "Gnutella", "DirectConnect", "FastTrack", "WinMX"];

/// Flows nDPI names as a non-P2P protocol that are P2P by their bytes: (pcap, l4, a, b, why).
const NDPI_WRONG: &[(&str, &str, &str, &str, &str)] = &[(
    "gnutella.pcap",
    "UDP",
    "10.0.2.15:28681",
    "164.132.10.25:47808",
    // nDPI says BACnet, by the port: the datagrams are Gnutella pings from the Gnutella client's
    // own port (16-byte GUID marked 0xff at byte 8, type 0x00, TTL 1, hops 0, payload length 5
    // = a GGEP block 0xC3 with the "QK" query-key extension), as sent to hundreds of other peers
    // in the same capture.
    "a GUESS ping (GGEP QK) from the Gnutella client's port",
)];

fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps")
}

/// A flow's key: transport and its two endpoints (canonical `ip:port`), order-free.
type Key = (String, [String; 2]);

fn key(l4: &str, a: &str, b: &str) -> Key {
    // nDPI's labels spell IPv6 addresses their own way (one row of stun.pcap has an address
    // with two "::"); an endpoint that does not parse is kept as written.
    let canonical = |s: &str| -> String {
        s.rsplit_once(':')
            .and_then(|(host, port)| {
                let ip = host.trim_matches(|c| c == '[' || c == ']').parse::<IpAddr>().ok()?;
                Some(SocketAddr::new(ip, port.parse().ok()?).to_string())
            })
            .unwrap_or_else(|| s.to_string())
    };
    let mut e = [canonical(a), canonical(b)];
    e.sort();
    (l4.to_string(), e)
}

/// weir's flows of one capture: key -> (protocol, category, decision) of each weir flow.
fn classify(path: &Path) -> HashMap<Key, Vec<(String, String, String)>> {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["classify", path.to_str().unwrap(), "--flows", "--json", "--no-progress"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let mut flows: HashMap<Key, Vec<_>> = HashMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "flow" {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            flows.entry(key(&s("l4"), &s("src"), &s("dst"))).or_default().push((
                s("protocol"),
                s("category"),
                s("decision"),
            ));
        }
    }
    flows
}

/// (pcap, key) -> nDPI label, for one directory's labels.tsv.
fn labels(dir: &Path) -> HashMap<String, HashMap<Key, String>> {
    let mut m: HashMap<String, HashMap<Key, String>> = HashMap::new();
    for line in std::fs::read_to_string(dir.join("labels.tsv")).unwrap().lines() {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() >= 5 {
            m.entry(c[0].to_string()).or_default().insert(key(c[1], c[2], c[3]), c[4].to_string());
        }
    }
    m
}

fn ndpi_p2p(label: &str) -> bool {
    label.split('.').any(|part| P2P.contains(&part))
}

fn captures(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".pcap") || f.ends_with(".pcapng"))
        .filter(|f| !f.starts_with("fuzz-2006"))
        .collect();
    v.sort();
    v
}

/// Runs every capture of both directories once: (dir is the lookalike corpus, pcap, nDPI labels
/// of its flows, weir's flows).
type Run = Vec<(bool, String, HashMap<Key, String>, HashMap<Key, Vec<(String, String, String)>>)>;

fn run_all() -> Run {
    let mut all = Vec::new();
    for (lookalike, dir) in [(false, pcaps()), (true, pcaps().join("lookalikes"))] {
        let mut labels = labels(&dir);
        let files = captures(&dir);
        assert!(!files.is_empty(), "{}: no captures", dir.display());
        for f in files {
            let flows = classify(&dir.join(&f));
            all.push((lookalike, f.clone(), labels.remove(&f).unwrap_or_default(), flows));
        }
    }
    all
}

#[test]
fn p2p_verdicts_agree_with_the_reference_or_the_bytes() {
    let (mut false_p2p, mut missed) = (Vec::new(), Vec::new());
    let mut exceptions_used = vec![false; NDPI_WRONG.len()];
    let (mut reference_p2p, mut non_p2p_checked) = (0, 0);
    for (lookalike, pcap, labels, flows) in run_all() {
        for (k, got) in &flows {
            let p2p = got.iter().filter(|g| g.1 == "p2p").collect::<Vec<_>>();
            if p2p.is_empty() {
                continue;
            }
            let reference = labels.get(k);
            let allowed = match reference {
                Some(l) if ndpi_p2p(l) => true,
                // nDPI names another protocol: only the reviewed exceptions.
                Some(l) if l != "Unknown" => {
                    match NDPI_WRONG.iter().position(|w| w.0 == pcap && key(w.1, w.2, w.3) == *k) {
                        Some(i) => {
                            exceptions_used[i] = true;
                            true
                        }
                        None => false,
                    }
                }
                // Unknown to nDPI, or not listed: in the lookalike corpus never.
                _ => !lookalike,
            };
            if !allowed {
                false_p2p.push(format!("{pcap}: {k:?}: weir {p2p:?}, nDPI {reference:?}"));
            }
        }
        for (k, l) in &labels {
            if ndpi_p2p(l) {
                reference_p2p += 1;
                let got = flows.get(k).cloned().unwrap_or_default();
                if got.is_empty() || got.iter().any(|g| g.1 != "p2p") {
                    missed.push(format!("{pcap}: {k:?}: nDPI {l}, weir {got:?}"));
                }
            } else if l != "Unknown" {
                non_p2p_checked += 1;
            }
        }
    }
    assert!(false_p2p.is_empty(), "{} flows wrongly P2P:\n{}", false_p2p.len(), false_p2p.join("\n"));
    for (used, w) in exceptions_used.iter().zip(NDPI_WRONG) {
        assert!(used, "the reviewed exception {w:?} no longer applies: remove it");
    }
    assert!(missed.is_empty(), "{} of {reference_p2p} P2P flows missed:\n{}", missed.len(), missed.join("\n"));
    // The corpus is what it claims to be.
    assert!(reference_p2p >= 360, "{reference_p2p} reference P2P flows");
    assert!(non_p2p_checked >= 1000, "{non_p2p_checked} reference non-P2P flows");
}

#[test]
fn the_lookalike_corpus_keeps_its_labels_and_attribution() {
    let dir = pcaps().join("lookalikes");
    let labels = labels(&dir);
    for f in captures(&dir) {
        assert!(labels.contains_key(&f), "{f} has no rows in labels.tsv");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("LGPL-3.0-or-later") && readme.contains("ntop/nDPI"), "attribution note");
}

// ---------------------------------------------------------------------------------------------
// Real clients (tests/pcaps/lab, made by scripts/lab-captures/lab_captures.py in this lab)

fn lab() -> PathBuf {
    pcaps().join("lab")
}

/// Every TCP and UDP flow of a real-client capture has `want` (ICMP port-unreachable and IGMP
/// chatter aside); returns the flows' decisions by protocol.
fn all_flows_are(file: &str, want: &str) -> Vec<(Key, String)> {
    let flows = classify(&lab().join(file));
    let mut wrong = Vec::new();
    let mut seen = Vec::new();
    for (k, got) in &flows {
        if k.0 != "TCP" && k.0 != "UDP" {
            continue;
        }
        for (proto, _, decision) in got {
            if proto != want {
                wrong.push(format!("{k:?}: {proto} ({decision})"));
            }
            seen.push((k.clone(), decision.clone()));
        }
    }
    assert!(wrong.is_empty(), "{file}: flows not {want}:\n{}", wrong.join("\n"));
    assert!(!seen.is_empty(), "{file}: no flows");
    seen
}

#[test]
fn encrypted_bittorrent_of_real_clients_is_labelled_through_the_peer_cache() {
    // libtorrent 2.0 with forced MSE: the peer connections carry no plaintext at all; the HTTP
    // and UDP trackers' replies teach the cache their peers.
    for file in ["bt-mse-trackers.pcap", "bt-mse-dht-lsd-utp.pcap"] {
        let bytes = std::fs::read(lab().join(file)).unwrap();
        assert!(!bytes.windows(19).any(|w| w == b"BitTorrent protocol"), "{file} has a plaintext handshake");
        let flows = all_flows_are(file, "bittorrent");
        let tcp: Vec<_> =
            flows.iter().filter(|(k, _)| k.0 == "TCP" && k.1.iter().any(|e| e.ends_with(":6881"))).collect();
        assert!(tcp.len() >= 4, "{file}: {} peer connections", tcp.len());
        for (k, decision) in tcp {
            assert_eq!(decision, "peer cache", "{file}: {k:?}");
        }
        let decisions: Vec<&str> = flows.iter().map(|(_, d)| d.as_str()).collect();
        if file == "bt-mse-trackers.pcap" {
            assert!(decisions.contains(&"detector:bittorrent-udp-tracker"), "{decisions:?}");
            assert!(decisions.contains(&"signature:bittorrent-tracker-query"), "{decisions:?}");
        } else {
            // TCP connections of a uTP-less peer to peers met over uTP, the DHT and LSD.
            assert!(decisions.contains(&"detector:bittorrent-dht"), "{decisions:?}");
            assert!(decisions.contains(&"signature:bittorrent-lsd"), "{decisions:?}");
        }
    }
}

#[test]
fn real_extension_handshakes_and_pex_teach_the_peer_cache() {
    // Replays only h2's IPv4 connection to the seed: h2's extension handshake announces its
    // listen port (its own source port is ephemeral), and the seed's ut_pex message, sent a
    // minute in right after piece data, names h3 in added6. Neither endpoint appears in the flow.
    all_flows_are("bt-pex.pcap", "bittorrent");
    let classifier = std::sync::Arc::new(weir_engine::Classifier::builtin().unwrap());
    let shared = weir_engine::Shared::new(classifier, weir_engine::FlowTableConfig::default(), 1024).unwrap();
    let mut engine = weir_engine::Engine::new(shared.clone(), weir_engine::EngineConfig::default());
    let mut reader = weir_capture::CaptureReader::open(&lab().join("bt-pex.pcap")).unwrap();
    let (h1, h2): (IpAddr, IpAddr) = ("198.18.10.1".parse().unwrap(), "198.18.10.2".parse().unwrap());
    let mut fed = 0;
    let mut last = 0;
    while let Some(rec) = reader.next_record().unwrap() {
        let link = weir_engine::LinkType::from_pcap(rec.linktype).unwrap();
        let Ok(frame) = weir_wire::parse_frame(rec.data, link) else { continue };
        let Some(ip) = frame.ip() else { continue };
        let ports = ip.transport.ports();
        let ends = [(ip.src, ports.map(|p| p.0)), (ip.dst, ports.map(|p| p.1))];
        let to_seed = |a: (IpAddr, Option<u16>), b: (IpAddr, Option<u16>)| a.0 == h2 && b == (h1, Some(6881));
        if ip.protocol == weir_wire::IpProtocol::Tcp && (to_seed(ends[0], ends[1]) || to_seed(ends[1], ends[0])) {
            engine.process(rec.data, rec.orig_len, link, weir_engine::Ingress::Unknown, rec.ts_nanos);
            fed += 1;
            last = rec.ts_nanos;
        }
    }
    assert!(fed > 20, "{fed} packets of h2's connections to the seed");
    let peer = |ip: &str, port| weir_dpi::Endpoint { ip: ip.parse().unwrap(), port };
    assert!(shared.peers.contains(&peer("198.18.10.1", 6881), last), "the seed, as responder");
    assert!(shared.peers.contains(&peer("198.18.10.2", 6881), last), "h2's listen port, from its extension handshake");
    assert!(shared.peers.contains(&peer("2001:2:0:a::3", 6881), last), "h3, from the seed's PEX (added6)");
}

#[test]
fn direct_connect_search_results_of_real_clients_are_directconnect() {
    // ncdc in active mode answers a search with a datagram to the searcher's UDP port: NMDC $SR
    // on the lab's NMDC hub, ADC URES on uhub.
    for (file, hub) in [("dc-nmdc.pcap", "signature:nmdc-lock"), ("dc-adc.pcap", "signature:adc-hub-supports")] {
        let flows = all_flows_are(file, "directconnect");
        let udp: Vec<_> = flows.iter().filter(|(k, _)| k.0 == "UDP").collect();
        assert!(!udp.is_empty(), "{file}: no search result datagram");
        for (k, d) in &udp {
            assert_eq!(d, "detector:directconnect-udp", "{file}: {k:?}");
        }
        assert!(flows.iter().any(|(k, d)| k.0 == "TCP" && d == hub), "{file}: {flows:?}");
    }
}

#[test]
fn a_utp_connection_picked_up_after_its_syn_is_bittorrent() {
    // bittorrent_utp.pcap's uTP flow without its first two packets (the SYN and the ST_STATE
    // answering it), as a flow that outlived the flow table or a capture started late: its data
    // and acknowledgements still tie the two directions.
    let mut r = weir_capture::CaptureReader::open(&pcaps().join("bittorrent_utp.pcap")).unwrap();
    let mut w = None;
    let mut dropped = 0;
    while let Some(rec) = r.next_record().unwrap() {
        let w = w.get_or_insert_with(|| weir_capture::PcapWriter::new(Vec::new(), rec.linktype, true).unwrap());
        let link = weir_engine::LinkType::from_pcap(rec.linktype).unwrap();
        let utp = weir_wire::parse_frame(rec.data, link)
            .ok()
            .and_then(|f| f.ip().and_then(|ip| ip.transport.ports()))
            .is_some_and(|(s, d)| s == 33333 || d == 33333);
        if utp && dropped < 2 {
            dropped += 1;
            continue;
        }
        w.write_packet(rec.ts_nanos, rec.data, rec.orig_len).unwrap();
    }
    assert_eq!(dropped, 2);
    let dir = std::env::temp_dir().join(format!("weir-p2p-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("utp-no-syn.pcap");
    std::fs::write(&path, w.unwrap().into_inner()).unwrap();
    let flows = classify(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let got = &flows[&key("UDP", "127.0.0.1:49861", "127.0.0.1:33333")];
    assert_eq!(got, &[("bittorrent".to_string(), "p2p".to_string(), "detector:bittorrent-utp".to_string())]);
}
