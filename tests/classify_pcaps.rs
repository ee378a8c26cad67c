//! `weir classify` end to end over the real captures in tests/pcaps (nDPI's test suite,
//! LGPL-3.0-or-later; see tests/pcaps/README.md), checked against the reference labels.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps")
}

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir")).args(args).output().expect("run weir")
}

/// One flow as weir printed it.
#[derive(Debug)]
struct WeirFlow {
    l4: String,
    a: String,
    b: String,
    protocol: String,
    category: String,
    decision: String,
    packets: u64,
}

/// Run `weir classify FILE --flows --json` and return its flows and summary.
fn classify(file: &str) -> (Vec<WeirFlow>, Value) {
    let path = pcaps().join(file);
    let out = weir(&["classify", path.to_str().unwrap(), "--flows", "--json", "--no-progress"]);
    assert!(out.status.success(), "{file}: weir failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut flows = Vec::new();
    let mut summary = None;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}: bad JSON line {line:?}: {e}"));
        match v["type"].as_str() {
            Some("flow") => flows.push(WeirFlow {
                l4: v["l4"].as_str().unwrap().to_string(),
                a: v["src"].as_str().unwrap().to_string(),
                b: v["dst"].as_str().unwrap().to_string(),
                protocol: v["protocol"].as_str().unwrap().to_string(),
                category: v["category"].as_str().unwrap().to_string(),
                decision: v["decision"].as_str().unwrap().to_string(),
                packets: v["packets"].as_u64().unwrap(),
            }),
            Some("summary") => summary = Some(v),
            other => panic!("{file}: unexpected record type {other:?}"),
        }
    }
    (flows, summary.expect("a summary line"))
}

/// Reference rows of labels.tsv for one capture: (l4, endpoint a, endpoint b, master label).
fn labels(file: &str) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(pcaps().join("labels.tsv")).unwrap();
    text.lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|c| c.len() >= 5 && c[0] == file)
        .map(|c| {
            let master = c[4].split('.').next().unwrap_or("").to_string();
            (c[1].to_string(), c[2].to_string(), c[3].to_string(), master)
        })
        .collect()
}

fn find<'a>(flows: &'a [WeirFlow], l4: &str, a: &str, b: &str) -> Vec<&'a WeirFlow> {
    flows.iter().filter(|f| f.l4 == l4 && ((f.a == a && f.b == b) || (f.a == b && f.b == a))).collect()
}

/// Every flow the reference labels as `reference` in `file` gets `expected` from weir.
fn check_p2p(file: &str, reference: &str, expected: &str) {
    let (flows, _) = classify(file);
    let rows: Vec<_> = labels(file).into_iter().filter(|r| r.3 == reference).collect();
    assert!(!rows.is_empty(), "{file}: no reference rows labelled {reference}");
    let mut missed = Vec::new();
    for (l4, a, b, _) in &rows {
        let found = find(&flows, l4, a, b);
        if found.is_empty() || found.iter().any(|f| f.protocol != expected) {
            missed.push(format!("{l4} {a} {b}: weir says {:?}", found.iter().map(|f| &f.protocol).collect::<Vec<_>>()));
        }
    }
    assert!(
        missed.is_empty(),
        "{file}: {} of {} {reference} flows not labelled {expected}:\n{}",
        missed.len(),
        rows.len(),
        missed.join("\n")
    );
}

#[test]
fn bittorrent_peer_wire_flows_are_all_bittorrent() {
    check_p2p("bittorrent.pcap", "BitTorrent", "bittorrent");
}

#[test]
fn bittorrent_utp_flows_are_all_bittorrent() {
    check_p2p("bittorrent_utp.pcap", "BitTorrent", "bittorrent");
}

#[test]
fn bittorrent_local_peer_discovery_is_bittorrent() {
    check_p2p("bt_search.pcap", "BitTorrent", "bittorrent");
}

#[test]
fn edonkey_flows_are_all_edonkey() {
    check_p2p("edonkey.pcap", "eDonkey", "edonkey");
}

#[test]
fn gnutella_flows_are_all_gnutella() {
    check_p2p("gnutella.pcap", "Gnutella", "gnutella");
}

const MAINSTREAM: &[&str] = &[
    "http_ipv6.pcap",
    "http_connect.pcap",
    "443-curl.pcap",
    "443-firefox.pcap",
    "tls-appdata.pcap",
    "quic.pcap",
    "quic-29.pcap",
    "googledns_android10.pcap",
    "dns_fragmented.pcap",
    "ssh.pcap",
    "smtp.pcap",
    "ftp.pcap",
    "pop3.pcap",
    "imap.pcap",
    "irc.pcap",
    "sip.pcap",
    "dropbox.pcap",
    "upnp.pcap",
    "snmp.pcap",
    "netflix.pcap",
    "1kxun.pcap",
];

#[test]
fn no_mainstream_flow_gets_a_peer_to_peer_label() {
    let mut wrong = Vec::new();
    for file in MAINSTREAM {
        let (flows, _) = classify(file);
        for f in flows.iter().filter(|f| f.category == "p2p") {
            wrong.push(format!("{file}: {} {} {} -> {} ({})", f.l4, f.a, f.b, f.protocol, f.decision));
        }
    }
    assert!(wrong.is_empty(), "mainstream flows labelled peer-to-peer:\n{}", wrong.join("\n"));
}

/// The mainstream protocols weir names are the ones the reference names, flow by flow, for the
/// captures whose point is that protocol.
#[test]
fn mainstream_captures_get_their_protocol() {
    let cases: &[(&str, &str, &str)] = &[
        ("ssh.pcap", "SSH", "ssh"),
        ("smtp.pcap", "SMTP", "smtp"),
        ("pop3.pcap", "POP3", "pop3"),
        ("imap.pcap", "IMAP", "imap"),
        ("ftp.pcap", "FTP_CONTROL", "ftp"),
        ("quic.pcap", "QUIC", "quic"),
        ("quic-29.pcap", "QUIC", "quic"),
        ("443-curl.pcap", "TLS", "tls"),
        ("443-firefox.pcap", "TLS", "tls"),
        ("http_ipv6.pcap", "HTTP", "http"),
        ("googledns_android10.pcap", "DNS", "dns"),
        // Local network services, declared in the shipped signatures file.
        ("gnutella.pcap", "SSDP", "ssdp"),
        ("1kxun.pcap", "SSDP", "ssdp"),
        ("1kxun.pcap", "DHCP", "dhcp"),
        ("gnutella.pcap", "DHCP", "dhcp"),
        ("gnutella.pcap", "NetBIOS", "netbios"),
        ("1kxun.pcap", "NetBIOS", "netbios"),
        ("gnutella.pcap", "WSD", "wsd"),
        ("snmp.pcap", "SNMP", "snmp"),
        ("irc.pcap", "IRC", "irc"),
    ];
    let mut wrong = Vec::new();
    for (file, reference, expected) in cases {
        let (flows, _) = classify(file);
        for (l4, a, b, master) in labels(file) {
            if &master != reference {
                continue;
            }
            let found = find(&flows, &l4, &a, &b);
            if found.is_empty() || found.iter().any(|f| f.protocol != *expected) {
                wrong.push(format!(
                    "{file}: {l4} {a} {b}: expected {expected}, weir says {:?}",
                    found.iter().map(|f| (&f.protocol, &f.decision)).collect::<Vec<_>>()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn summary_accounts_for_every_packet() {
    for file in ["bittorrent.pcap", "dns_fragmented.pcap", "badpackets.pcap", "gnutella.pcap"] {
        let (flows, s) = classify(file);
        let packets = s["packets"].as_u64().unwrap();
        let in_protocols: u64 = s["protocols"].as_array().unwrap().iter().map(|p| p["packets"].as_u64().unwrap()).sum();
        let non_ip = s["non_ip"]["packets"].as_u64().unwrap();
        let malformed = s["malformed"]["packets"].as_u64().unwrap();
        assert_eq!(in_protocols + non_ip + malformed, packets, "{file}: protocols + non-ip + malformed != packets");
        let in_flows: u64 = flows.iter().map(|f| f.packets).sum();
        assert_eq!(in_flows, in_protocols, "{file}: flow packets != protocol packets");
        assert!(s["complete"].as_bool().unwrap());
    }
}

#[test]
fn bad_input_captures_are_counted_not_fatal() {
    for file in ["badpackets.pcap", "ip_fragmented_garbage.pcap", "malformed_dns.pcap"] {
        let path = pcaps().join(file);
        let out = weir(&["classify", path.to_str().unwrap(), "--json", "--no-progress"]);
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (_, s) = classify("badpackets.pcap");
    assert!(s["malformed"]["packets"].as_u64().unwrap() > 0, "badpackets.pcap has malformed frames: {s}");
}

#[test]
fn fuzzed_capture_is_read_to_the_end_with_its_damage_counted() {
    // This nDPI capture is well-formed as a file; the damage is inside the frames.
    let (flows, s) = classify("fuzz-2006-06-26-2594.pcap");
    assert!(s["complete"].as_bool().unwrap());
    assert!(s["malformed"]["packets"].as_u64().unwrap() > 0, "{s}");
    assert!(!flows.is_empty());
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn truncated_record_gives_file_and_offset_and_non_zero_exit() {
    let good = std::fs::read(pcaps().join("smtp.pcap")).unwrap();
    // Cut in the middle of the third record's data (a cut inside a record header, after whole
    // records, is only a warning: tests/classify_links.rs).
    let caplen = |at: usize| u32::from_le_bytes(good[at + 8..at + 12].try_into().unwrap()) as usize;
    let mut third = 24;
    for _ in 0..2 {
        third += 16 + caplen(third);
    }
    let p = temp_file("truncated.pcap", &good[..third + 16 + caplen(third) / 2]);
    let out = weir(&["classify", p.to_str().unwrap(), "--no-progress"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated.pcap"), "{stderr}");
    assert!(stderr.contains("offset"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unsupported_link_type_is_a_clear_error() {
    // A pcap header with link type 105 (IEEE 802.11) and one 4-byte record.
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&105u32.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&[1, 2, 3, 4]);
    let p = temp_file("wifi.pcap", &b);
    let out = weir(&["classify", p.to_str().unwrap(), "--no-progress"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported link type 105"), "{stderr}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = weir(&["classify", "/nonexistent/weir.pcap", "--no-progress"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/weir.pcap"), "{stderr}");
}

#[test]
fn inside_networks_set_the_direction() {
    // bittorrent.pcap: the local client is 192.168.1.3; with it inside, its uploads are outbound.
    let path = pcaps().join("bittorrent.pcap");
    let out = weir(&["classify", path.to_str().unwrap(), "--json", "--no-progress", "--inside", "192.168.1.0/24"]);
    assert!(out.status.success());
    let s: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().lines().last().unwrap()).unwrap();
    let bt = s["protocols"].as_array().unwrap().iter().find(|p| p["protocol"] == "bittorrent").unwrap();
    assert!(bt["bytes_in"].as_u64().unwrap() > 0 && bt["bytes_out"].as_u64().unwrap() > 0, "{bt}");
    assert_eq!(bt["bytes_in"].as_u64().unwrap() + bt["bytes_out"].as_u64().unwrap(), bt["bytes"].as_u64().unwrap());
}

#[test]
fn text_table_lists_protocols_and_rates() {
    let path = pcaps().join("bittorrent.pcap");
    let out = weir(&["classify", path.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("protocol"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("bittorrent")), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.contains("packets/s") && last.contains("Gbit/s"), "{last}");
}

#[test]
fn flows_text_output_has_one_line_per_flow() {
    let path = pcaps().join("edonkey.pcap");
    let out = weir(&["classify", path.to_str().unwrap(), "--flows", "--no-progress"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("TCP") && l.contains("edonkey")), "{text}");
}

/// A copy of `file` as a capture with `snaplen` would have stored it: each record cut to at most
/// `snaplen` bytes, its original length kept.
fn with_snaplen(file: &str, snaplen: usize) -> PathBuf {
    let mut r = weir_capture::CaptureReader::open(&pcaps().join(file)).unwrap();
    let mut w = None;
    while let Some(rec) = r.next_record().unwrap() {
        let w = w.get_or_insert_with(|| weir_capture::PcapWriter::new(Vec::new(), rec.linktype, true).unwrap());
        w.write_packet(rec.ts_nanos, &rec.data[..rec.data.len().min(snaplen)], rec.orig_len).unwrap();
    }
    temp_file(&format!("snap{snaplen}-{file}"), &w.unwrap().into_inner())
}

#[test]
fn snaplen_cut_captures_classify_like_whole_ones() {
    for file in ["bittorrent.pcap", "gnutella.pcap", "edonkey.pcap", "smtp.pcap", "http_connect.pcap"] {
        let (whole_flows, whole) = classify(file);
        let cut_path = with_snaplen(file, 96);
        let (cut_flows, cut) = classify(cut_path.to_str().unwrap());
        assert!(cut["snaplen_cut"].as_u64().unwrap() > 0, "{file}: nothing was cut at 96 bytes");
        assert_eq!(whole["snaplen_cut"].as_u64(), Some(0));
        // Counted at their wire length, nothing malformed that was not before.
        for key in ["packets", "bytes", "flows"] {
            assert_eq!(cut[key], whole[key], "{file}: {key}");
        }
        assert_eq!(cut["malformed"], whole["malformed"], "{file}");
        // A cut can only cost a label (a detector that needs bytes past the snaplen says
        // unknown), never change one; and at 96 bytes nearly every flow keeps its label.
        let label = |flows: &[WeirFlow]| {
            let mut v: Vec<_> =
                flows.iter().map(|f| (f.l4.clone(), f.a.clone(), f.b.clone(), f.protocol.clone())).collect();
            v.sort();
            v
        };
        let (whole_labels, cut_labels) = (label(&whole_flows), label(&cut_flows));
        assert_eq!(whole_labels.len(), cut_labels.len(), "{file}");
        let mut kept = 0;
        for (w, c) in whole_labels.iter().zip(&cut_labels) {
            assert_eq!((&w.0, &w.1, &w.2), (&c.0, &c.1, &c.2), "{file}: flows differ");
            if w.3 == c.3 {
                kept += 1;
            } else {
                assert_eq!(c.3, "unknown", "{file}: {w:?} became {c:?} when cut at 96 bytes");
            }
        }
        let share = f64::from(kept) / whole_labels.len() as f64;
        assert!(share >= 0.9, "{file}: only {kept} of {} flows kept their label at snaplen 96", whole_labels.len());
    }
}
