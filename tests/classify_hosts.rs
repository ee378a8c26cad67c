//! `weir classify --hosts`: which inside hosts carry the bytes, per protocol and direction, over
//! the real captures in tests/pcaps; and the errors of the export options.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pcap(name: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps").join(name);
    p.to_string_lossy().into_owned()
}

fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir")).args(args).output().expect("run weir")
}

/// Hosts and summary of `weir classify FILES --hosts --json`.
fn hosts(files: &[&str], extra: &[&str]) -> (Vec<Value>, Value) {
    let paths: Vec<String> = files.iter().map(|f| pcap(f)).collect();
    let mut args: Vec<&str> = vec!["classify"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--hosts", "--json", "--no-progress"]);
    args.extend(extra);
    let out = weir(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut hosts = Vec::new();
    let mut summary = None;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("host") => hosts.push(v),
            Some("summary") => summary = Some(v),
            other => panic!("unexpected {other:?}"),
        }
    }
    (hosts, summary.unwrap())
}

#[test]
fn every_byte_of_every_protocol_belongs_to_an_inside_host() {
    let files = ["bittorrent.pcap", "gnutella.pcap", "http_ipv6.pcap", "edonkey.pcap", "sip.pcap"];
    let (hosts, summary) = hosts(&files, &["--top-hosts", "100000"]);
    assert!(hosts.len() > 5, "{}", hosts.len());
    let mut per_protocol: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    for h in &hosts {
        assert!(h["host"].as_str().unwrap().parse::<std::net::IpAddr>().is_ok(), "{h}");
        assert_eq!(h["error_bytes"], 0, "a few hundred hosts fit the table: exact");
        let (mut out, mut inb, mut p2p) = (0, 0, [0, 0]);
        for (name, p) in h["protocols"].as_object().unwrap() {
            let (o, i) = (p["bytes_out"].as_u64().unwrap(), p["bytes_in"].as_u64().unwrap());
            let e = per_protocol.entry(name.clone()).or_default();
            e[0] += o;
            e[1] += i;
            out += o;
            inb += i;
            if p["category"] == "p2p" {
                p2p[0] += o;
                p2p[1] += i;
            }
        }
        assert_eq!((h["bytes_out"].as_u64().unwrap(), h["bytes_in"].as_u64().unwrap()), (out, inb), "{h}");
        assert_eq!((h["p2p_bytes_out"].as_u64().unwrap(), h["p2p_bytes_in"].as_u64().unwrap()), (p2p[0], p2p[1]));
    }
    // Summed over hosts, each protocol's bytes each way are the summary's.
    for p in summary["protocols"].as_array().unwrap() {
        let name = p["protocol"].as_str().unwrap();
        let want = [p["bytes_out"].as_u64().unwrap(), p["bytes_in"].as_u64().unwrap()];
        assert_eq!(per_protocol.get(name).copied().unwrap_or_default(), want, "{name}");
    }
    // Largest first.
    let totals: Vec<u64> =
        hosts.iter().map(|h| h["bytes_out"].as_u64().unwrap() + h["bytes_in"].as_u64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
}

#[test]
fn top_hosts_keeps_the_heaviest_and_the_p2p_ones() {
    let files = ["gnutella.pcap", "http_ipv6.pcap"];
    let (all, _) = hosts(&files, &["--top-hosts", "100000"]);
    let (top, _) = hosts(&files, &["--top-hosts", "1"]);
    assert!(!top.is_empty() && top.len() <= 2, "{top:?}");
    assert_eq!(top[0], all[0], "the heaviest host first");
    let p2p = |h: &Value| h["p2p_bytes_out"].as_u64().unwrap() + h["p2p_bytes_in"].as_u64().unwrap();
    let most_p2p =
        all.iter().max_by_key(|h| (p2p(h), std::cmp::Reverse(h["host"].as_str().unwrap().to_string()))).unwrap();
    assert!(top.contains(most_p2p), "the host with the most P2P bytes is kept too");
}

#[test]
fn the_hosts_table_names_hosts_and_their_protocols() {
    let out = weir(&["classify", &pcap("bittorrent.pcap"), "--hosts", "--no-progress"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let header = text.lines().next().unwrap();
    for col in ["host", "out", "in", "p2p out", "p2p in", "protocols"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(text.contains("192.168.1.3") && text.contains("bittorrent 100%"), "{text}");
    assert!(text.contains("\nprotocol "), "the protocol table follows: {text}");
}

#[test]
fn bad_export_options_are_named() {
    for bad in ["localhost", "sctp://127.0.0.1:4739", "127.0.0.1:0"] {
        let out = weir(&["classify", &pcap("bittorrent.pcap"), "--ipfix", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--ipfix") && err.contains("HOST:PORT"), "{bad}: {err}");
    }
    let out = weir(&["classify", &pcap("bittorrent.pcap"), "--ipfix", "no-such-host.invalid:4739"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("udp://no-such-host.invalid:4739") && err.contains("cannot resolve"), "{err}");
}
