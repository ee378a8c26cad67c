//! `weir classify` over captures of other link types and of tunnels, in tests/pcaps/encap (nDPI's
//! test suite, LGPL-3.0-or-later; see tests/pcaps/README.md): every capture nDPI reads is read
//! whole, a tunnelled packet belongs to its inner flow and counts at its length on the wire, and a
//! capture that ends inside a record header is complete, with a warning.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps/encap")
}

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir")).args(args).output().expect("run weir")
}

/// One flow as weir printed it: (l4, src, dst, protocol, bytes).
type Flow = (String, String, String, String, u64);

/// `weir classify PATH --flows --json`: exit status, flows, summary, stderr.
fn run(path: &Path) -> (Option<i32>, Vec<Flow>, Value, String) {
    let out = weir(&["classify", path.to_str().unwrap(), "--flows", "--json", "--no-progress"]);
    let mut flows = Vec::new();
    let mut summary = Value::Null;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("flow") => flows.push((
                v["l4"].as_str().unwrap().to_string(),
                v["src"].as_str().unwrap().to_string(),
                v["dst"].as_str().unwrap().to_string(),
                v["protocol"].as_str().unwrap().to_string(),
                v["bytes"].as_u64().unwrap(),
            )),
            Some("summary") => summary = v,
            other => panic!("{}: unexpected record {other:?}", path.display()),
        }
    }
    (out.status.code(), flows, summary, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A capture weir must read to its end without error.
fn classify(file: &str) -> (Vec<Flow>, Value) {
    let (code, flows, summary, stderr) = run(&dir().join(file));
    assert_eq!(code, Some(0), "{file}: {stderr}");
    assert!(summary["complete"].as_bool().unwrap(), "{file}: {summary}");
    (flows, summary)
}

/// Reference rows of labels.tsv for one capture: (l4, endpoint a, endpoint b, nDPI's label).
fn labels(file: &str) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(dir().join("labels.tsv"))
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
        .filter(|c| c.len() >= 5 && c[0] == file)
        .map(|c| (c[1].clone(), c[2].clone(), c[3].clone(), c[4].clone()))
        .collect()
}

fn find<'a>(flows: &'a [Flow], l4: &str, a: &str, b: &str) -> Option<&'a Flow> {
    flows.iter().find(|f| f.0.eq_ignore_ascii_case(l4) && ((f.1 == a && f.2 == b) || (f.1 == b && f.2 == a)))
}

/// Every packet is in a protocol row, the non-IP row or the malformed row; every byte too.
fn assert_accounted(file: &str, s: &Value) {
    let rows = s["protocols"].as_array().unwrap();
    let sum = |k: &str| rows.iter().map(|p| p[k].as_u64().unwrap()).sum::<u64>();
    let (non_ip, malformed) = (&s["non_ip"], &s["malformed"]);
    assert_eq!(
        sum("packets") + non_ip["packets"].as_u64().unwrap() + malformed["packets"].as_u64().unwrap(),
        s["packets"].as_u64().unwrap(),
        "{file}: packets"
    );
    assert_eq!(
        sum("bytes") + non_ip["bytes"].as_u64().unwrap() + malformed["bytes"].as_u64().unwrap(),
        s["bytes"].as_u64().unwrap(),
        "{file}: bytes"
    );
}

fn encapsulated(s: &Value, kind: &str) -> u64 {
    s["encapsulated"][kind]["packets"].as_u64().unwrap_or(0)
}

/// The captures weir refused before it read BSD loopback, PPP and Cisco HDLC; nDPI reads them all.
#[test]
fn captures_of_every_link_type_ndpi_reads_are_read_whole() {
    for (file, packets) in [
        ("BGP_Cisco_hdlc_slarp.pcap", 14), // LINKTYPE_PPP carrying Cisco HDLC, SLARP keepalives
        ("BGP_redist.pcap", 2),            // LINKTYPE_C_HDLC, one frame in MPLS
        ("dlt_ppp.pcap", 1),               // LINKTYPE_PPP without address and control
        ("nats.pcap", 27),                 // LINKTYPE_NULL, little-endian AF_INET
        ("pgsql2.pcapng", 19),             // LINKTYPE_NULL in pcapng
    ] {
        let (flows, s) = classify(file);
        assert_eq!(s["packets"].as_u64(), Some(packets), "{file}: {s}");
        assert_eq!(s["malformed"]["packets"].as_u64(), Some(0), "{file}: {s}");
        assert_accounted(file, &s);
        let rows = labels(file);
        assert!(!rows.is_empty(), "{file}: no reference rows");
        for (l4, a, b, label) in rows {
            assert!(
                find(&flows, &l4, &a, &b).is_some(),
                "{file}: nDPI's {label} flow {l4} {a} {b} not found in {flows:?}"
            );
        }
    }
    let (flows, _) = classify("dlt_ppp.pcap");
    assert_eq!(flows[0].3, "quic");
    let (_, s) = classify("BGP_redist.pcap");
    assert_eq!(encapsulated(&s, "mpls"), 1);
}

#[test]
fn tunnelled_packets_are_their_inner_flows() {
    // IPv4 in IPv4, IPv4 in IPv6, IPv6 in IPv6: the inner 5-tuple is the flow.
    let (flows, s) = classify("4in4tunnel.pcap");
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!((&flows[0].1[..], &flows[0].2[..]), ("10.10.100.25:62367", "10.10.101.2:17000"));
    assert_eq!((encapsulated(&s, "ip_in_ip"), s["packets"].as_u64()), (5, Some(5)));
    assert_eq!(flows[0].4, s["bytes"].as_u64().unwrap(), "the flow counts the frames' whole length");
    for (file, frames, protocol) in [("4in6tunnel.pcap", 4, Some("tls")), ("6in6tunnel.pcap", 2, None)] {
        let (flows, s) = classify(file);
        assert_eq!(encapsulated(&s, "ip_in_ip"), frames, "{file}: {s}");
        for (l4, a, b, _) in labels(file) {
            let f = find(&flows, &l4, &a, &b).unwrap_or_else(|| panic!("{file}: {l4} {a} {b} not in {flows:?}"));
            if let Some(p) = protocol {
                assert_eq!(f.3, p, "{file}");
            }
        }
    }
    // PPTP: GRE version 1 carrying PPP carrying a SIP response.
    let (flows, s) = classify("gre.pcapng");
    assert_eq!(encapsulated(&s, "gre"), 1);
    assert_eq!(
        flows.iter().map(|f| (&f.0[..], &f.1[..], &f.2[..], &f.3[..])).collect::<Vec<_>>(),
        [("UDP", "192.168.10.210:5060", "192.168.103.40:5060", "sip")]
    );
    // GTP-U carrying IPv6 (an ESP packet and a UDP datagram) on a mobile core's VLAN.
    let (flows, s) = classify("ipv6_in_gtp.pcap");
    assert_eq!(encapsulated(&s, "gtp_u"), 2);
    assert!(flows.iter().all(|f| f.1.starts_with("[2")), "{flows:?}");
    // VXLAN: every frame is unwrapped, no flow is the tunnel's own UDP/4789.
    let (flows, s) = classify("vxlan.pcap");
    assert_eq!(encapsulated(&s, "vxlan"), s["packets"].as_u64().unwrap());
    assert!(flows.iter().all(|f| f.1.starts_with("10.10.20.") || f.2.starts_with("10.10.20.")), "{flows:?}");
    assert!(flows.iter().filter(|f| f.3 == "tls").count() >= 2 && flows.iter().any(|f| f.3 == "dns"), "{flows:?}");
    assert_accounted("vxlan.pcap", &s);
    // PPPoE sessions carrying DNS.
    let (flows, s) = classify("dns.pcap");
    assert_eq!(encapsulated(&s, "pppoe"), 2);
    for (l4, a, b, _) in labels("dns.pcap") {
        assert_eq!(find(&flows, &l4, &a, &b).map(|f| &f.3[..]), Some("dns"));
    }
    // The table says so too.
    let out = weir(&["classify", dir().join("vxlan.pcap").to_str().unwrap(), "--no-progress"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("tunnelled frames: vxlan 127"), "{text}");
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weir-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Record offsets of a little-endian microsecond pcap.
fn record_offsets(pcap: &[u8]) -> Vec<usize> {
    let mut at = 24;
    let mut out = Vec::new();
    while at + 16 <= pcap.len() {
        out.push(at);
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    out
}

#[test]
fn a_partial_record_header_at_the_end_is_a_warning_not_an_error() {
    // nDPI's fuzzed capture: a format-2.0 file (lengths swapped, as libpcap reads them) whose last
    // record header is 2 bytes long.
    let (code, _, s, stderr) = run(&dir().join("fuzz-2021-10-13.pcap"));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(s["complete"].as_bool().unwrap() && s["packets"].as_u64() == Some(1), "{s}");
    assert!(
        stderr.contains("weir: warning:") && stderr.contains("ends inside a record header at byte offset 237"),
        "{stderr}"
    );
    assert_eq!(s["warnings"].as_array().unwrap().len(), 1);

    // Whole captures, and the same with the start of one more record header (pcap) or block
    // header (pcapng).
    for (file, header, what) in [("smtp.pcap", 16, "record header"), ("ssh.pcap", 8, "block header")] {
        let good = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps").join(file)).unwrap();
        let (_, flows, whole, _) = run(&temp_file(file, &good));
        assert!(whole["warnings"].as_array().unwrap().is_empty());
        for extra in [1, header / 2, header - 1] {
            let mut cut = good.clone();
            cut.resize(good.len() + extra, 0);
            let (code, cut_flows, s, stderr) = run(&temp_file(&format!("partial-{file}"), &cut));
            assert_eq!(code, Some(0), "{file} + {extra}: {stderr}");
            let note = format!("ends inside a {what} at byte offset {} ({extra} of its {header} bytes)", good.len());
            assert!(stderr.contains(&note), "{stderr}");
            for k in ["packets", "bytes", "flows", "protocols"] {
                assert_eq!(s[k], whole[k], "{file}: {k} with {extra} trailing bytes");
            }
            assert_eq!(cut_flows.len(), flows.len());
        }
    }
}

#[test]
fn a_bad_record_in_the_middle_stays_an_error_with_its_offset() {
    let good = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps/smtp.pcap")).unwrap();
    let third = record_offsets(&good)[2];
    let mut bad = good.clone();
    bad[third + 8..third + 12].copy_from_slice(&(1u32 << 20).to_le_bytes());
    let (code, _, s, stderr) = run(&temp_file("bad-middle.pcap", &bad));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!s["complete"].as_bool().unwrap());
    assert_eq!(s["packets"].as_u64(), Some(2), "the records before it are counted: {s}");
    assert!(
        stderr.contains(&format!("bad record at byte offset {third}: captured length 1048576 exceeds")),
        "{stderr}"
    );
    // A record cut inside its data at the end loses packet bytes: an error too.
    let last = *record_offsets(&good).last().unwrap();
    let (code, _, _, stderr) = run(&temp_file("cut-data.pcap", &good[..last + 20]));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("truncated record at byte offset {last}")), "{stderr}");
}
