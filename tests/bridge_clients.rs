//! Real third-party clients across the weir bridge, each test in its own lab (scripts/lab.sh via
//! weir-testkit's `Lab`): opentracker + transmission-daemon seeding outside and aria2c leeching
//! inside (BitTorrent), uhub outside and ncdc inside (Direct Connect, ADC), python3 http.server
//! outside and curl inside (HTTP). The clients are driven by scripts/lab-traffic.sh, which the
//! demo uses too. Every test checks weir's `--summary-json`: per-protocol rows, and that every
//! packet and frame is accounted for.
//!
//! Needs root, AF_XDP and the Debian packages in scripts/setup.sh; where the lab cannot run the
//! tests say so loudly and pass, except under `CI=true`, where they fail.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use support::{TempDir, Traffic, WeirRun, assert_accounted, random_bytes, sha256, wait_bounded, write_config};
use weir_testkit::lab::{Lab, LabOptions, OUT_V4, lab_available};

/// Size of the files moved across the bridge: a few MB, many pieces, many segments.
const FILE_LEN: usize = 4 << 20;

/// The piece length mktorrent chose, read from the torrent's `12:piece lengthi<N>e`.
fn piece_length(torrent: &[u8]) -> usize {
    let key = b"12:piece lengthi";
    let at = torrent.windows(key.len()).position(|w| w == key).expect("piece length in torrent") + key.len();
    let digits: Vec<u8> = torrent[at..].iter().take_while(|b| b.is_ascii_digit()).copied().collect();
    String::from_utf8(digits).unwrap().parse().unwrap()
}

/// How many whole pieces of `original` the leech's copy at `got` holds (0 if it has no file).
fn pieces_received(original: &[u8], got: &std::path::Path, piece: usize) -> usize {
    let Ok(data) = std::fs::read(got) else { return 0 };
    original.chunks(piece).enumerate().filter(|(i, p)| data.get(i * piece..i * piece + p.len()) == Some(*p)).count()
}

#[test]
fn bittorrent_transfer_completes_across_the_bridge() {
    if !lab_available("bittorrent_transfer_completes_across_the_bridge") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);
    let traffic = Traffic::new(&lab);
    let weir = WeirRun::start(&lab, &write_config(&tmp.0, &[]), &tmp.0, "forward");

    let file = tmp.path("data.bin");
    let data = random_bytes(FILE_LEN, 0xb177);
    std::fs::write(&file, &data).unwrap();
    let torrent = tmp.path("data.torrent");
    traffic.ok("bt-tracker", &["out"]);
    traffic.ok("bt-seed", &["out", file.to_str().unwrap(), torrent.to_str().unwrap()]);

    let leech = tmp.path("leech");
    let out = traffic.run("bt-leech", &["in", torrent.to_str().unwrap(), leech.to_str().unwrap(), "120"]);
    assert!(
        out.status.success(),
        "aria2c did not complete: {:?}\n{}\nweir:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        weir.stderr_text()
    );
    let got = leech.join("data.bin");
    assert_eq!(sha256(&got), sha256(&file), "downloaded file differs");
    assert!(std::fs::read(&got).unwrap() == data);

    traffic.stop();
    let summary = weir.stop();
    assert_accounted(&summary);
    let bt = summary.protocol("bittorrent");
    eprintln!("bittorrent: {bt:?}");
    assert!(bt.flows > 0, "no bittorrent flow: {:?}", summary.protocols);
    assert!(bt.packets_out > 0 && bt.packets_in > 0, "bittorrent packets not seen both ways: {bt:?}");
    assert!(bt.bytes_in >= FILE_LEN as u64, "the file came in as bittorrent bytes: {bt:?}");
    assert_eq!(bt.dropped_out + bt.dropped_in, 0, "forwarding policy dropped bittorrent: {bt:?}");
}

#[test]
fn bittorrent_dropped_while_http_passes() {
    if !lab_available("bittorrent_dropped_while_http_passes") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);
    let traffic = Traffic::new(&lab);
    let weir = WeirRun::start(&lab, &write_config(&tmp.0, &["bittorrent = \"drop\""]), &tmp.0, "bt-drop");

    let www = tmp.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let bt_file = tmp.path("seed.bin");
    let bt_data = random_bytes(FILE_LEN, 0x5eed);
    std::fs::write(&bt_file, &bt_data).unwrap();
    let web_file = www.join("page.bin");
    std::fs::write(&web_file, random_bytes(FILE_LEN, 0x4774)).unwrap();
    let torrent = tmp.path("seed.torrent");
    traffic.ok("bt-tracker", &["out"]);
    traffic.ok("bt-seed", &["out", bt_file.to_str().unwrap(), torrent.to_str().unwrap()]);
    traffic.ok("http-serve", &["out", www.to_str().unwrap(), "8080"]);

    // The leech and the HTTP download at the same time.
    let leech = tmp.path("leech");
    let mut aria = traffic.spawn("bt-leech", &["in", torrent.to_str().unwrap(), leech.to_str().unwrap(), "40"], &tmp.0);
    let got = tmp.path("page.got");
    let url = format!("http://{OUT_V4}:8080/page.bin");
    let http = traffic.run("http-get", &["in", &url, got.to_str().unwrap(), "60"]);
    let aria_status = wait_bounded(&mut aria, Duration::from_secs(90), "bt-leech");
    assert!(
        http.status.success(),
        "HTTP download failed while bittorrent was dropped: {}\nweir:\n{}",
        String::from_utf8_lossy(&http.stderr),
        weir.stderr_text()
    );
    assert_eq!(sha256(&got), sha256(&web_file), "HTTP download differs");

    let aria_log = std::fs::read_to_string(leech.join("aria2c.log")).unwrap_or_default();
    eprintln!("aria2c exit {aria_status:?}; log:\n{aria_log}");
    assert!(!aria_status.success(), "aria2c completed although bittorrent is dropped");
    let piece = piece_length(&std::fs::read(&torrent).unwrap());
    let pieces = pieces_received(&bt_data, &leech.join("seed.bin"), piece);
    assert_eq!(pieces, 0, "the leech got {pieces} piece(s) of {piece} bytes across a dropping bridge");

    traffic.stop();
    let summary = weir.stop();
    assert_accounted(&summary);
    let bt = summary.protocol("bittorrent");
    let web = summary.protocol("http");
    eprintln!("bittorrent: {bt:?}\nhttp: {web:?}");
    assert!(bt.flows > 0, "no bittorrent flow seen: {:?}", summary.protocols);
    assert!(bt.dropped_out + bt.dropped_in > 0, "no bittorrent packet dropped: {bt:?}");
    assert!(bt.bytes_in < (FILE_LEN / 4) as u64, "bittorrent data came through: {bt:?}");
    assert!(web.flows > 0 && web.bytes_in >= FILE_LEN as u64, "the HTTP download is not counted: {web:?}");
    assert_eq!(web.dropped_out + web.dropped_in, 0, "HTTP was dropped: {web:?}");
}

#[test]
fn directconnect_session_is_classified_and_dropped() {
    if !lab_available("directconnect_session_is_classified_and_dropped") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);

    // Forwarding: the ncdc client logs in to the hub, and weir labels the flow directconnect.
    {
        let traffic = Traffic::new(&lab);
        let weir = WeirRun::start(&lab, &write_config(&tmp.0, &[]), &tmp.0, "dc-forward");
        traffic.ok("dc-hub", &["out"]);
        traffic.ok("dc-client", &["in", "alice"]);
        let login = traffic.run("dc-wait", &["alice", "30"]);
        assert!(
            login.status.success(),
            "ncdc did not log in across a forwarding bridge:\n{}\nweir:\n{}",
            String::from_utf8_lossy(&login.stderr),
            weir.stderr_text()
        );
        traffic.stop();
        let summary = weir.stop();
        assert_accounted(&summary);
        let dc = summary.protocol("directconnect");
        eprintln!("directconnect (forward): {dc:?}");
        assert!(dc.flows > 0, "the hub session is not labelled directconnect: {:?}", summary.protocols);
        assert!(dc.packets_out > 0 && dc.packets_in > 0, "{dc:?}");
        assert_eq!(dc.dropped_out + dc.dropped_in, 0, "{dc:?}");
    }

    // Dropping: the client never logs in, while HTTP across the same bridge completes.
    let traffic = Traffic::new(&lab);
    let cfg = tmp.path("drop");
    std::fs::create_dir_all(&cfg).unwrap();
    let weir = WeirRun::start(&lab, &write_config(&cfg, &["directconnect = \"drop\""]), &tmp.0, "dc-drop");
    let www = tmp.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let web_file = www.join("page.bin");
    std::fs::write(&web_file, random_bytes(FILE_LEN, 0xdc)).unwrap();
    traffic.ok("dc-hub", &["out"]);
    traffic.ok("http-serve", &["out", www.to_str().unwrap(), "8080"]);
    traffic.ok("dc-client", &["in", "bob"]);
    let got = tmp.path("page.got");
    let url = format!("http://{OUT_V4}:8080/page.bin");
    let http = traffic.run("http-get", &["in", &url, got.to_str().unwrap(), "60"]);
    assert!(
        http.status.success(),
        "HTTP download failed while directconnect was dropped: {}\nweir:\n{}",
        String::from_utf8_lossy(&http.stderr),
        weir.stderr_text()
    );
    assert_eq!(sha256(&got), sha256(&web_file), "HTTP download differs");
    // Login took well under a second when forwarded; give it 15 s here.
    let login = traffic.run("dc-wait", &["bob", "15"]);
    let screen = traffic.run("dc-status", &["bob"]);
    eprintln!("ncdc bob's screen:\n{}", String::from_utf8_lossy(&screen.stdout));
    assert!(!login.status.success(), "ncdc logged in although directconnect is dropped");
    assert!(!screen.status.success(), "dc-status says bob is logged in");

    traffic.stop();
    let summary = weir.stop();
    assert_accounted(&summary);
    let dc = summary.protocol("directconnect");
    let web = summary.protocol("http");
    eprintln!("directconnect (drop): {dc:?}\nhttp: {web:?}");
    assert!(dc.flows > 0, "the hub session is not labelled directconnect: {:?}", summary.protocols);
    assert!(dc.dropped_out + dc.dropped_in > 0, "no directconnect packet dropped: {dc:?}");
    assert!(web.flows > 0 && web.bytes_in >= FILE_LEN as u64, "the HTTP download is not counted: {web:?}");
    assert_eq!(web.dropped_out + web.dropped_in, 0, "HTTP was dropped: {web:?}");
}
