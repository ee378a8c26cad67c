//! `weir top` and `weir report` as a user runs them.
//!
//! `weir top` runs in a detached tmux session (on a tmux server of its own, so no user session is
//! touched) against a fake `/stats.json` endpoint; the test reads the screen with capture-pane and
//! types keys with send-keys. `weir report` and `weir classify --report` write charts that are
//! checked as SVG and PNG files. Set `WEIR_UPDATE_DOCS=1` to also write docs/report-example.png and
//! .svg from the synthetic 2004-campus stats file.
#![forbid(unsafe_code)]
#![expect(clippy::unwrap_used, reason = "a test fails loudly on a broken fixture")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir_stats::{HostProtocolStats, HostStats, InterfaceStats, IntervalRecord, Percentiles, ProtocolStats, TopFlow};

fn weir() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weir"))
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// A fake stats endpoint: answers every request with the current body, or hangs up without an
// answer while the body is None (as a bridge that went away would).

struct FakeEndpoint {
    port: u16,
    body: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeEndpoint {
    fn start(record: &IntervalRecord) -> FakeEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(Mutex::new(Some(serde_json::to_string(record).unwrap())));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (Arc::clone(&body), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let current = b.lock().unwrap().clone();
                if let Some(json) = current {
                    assert!(req.starts_with(b"GET /stats.json HTTP/1.1\r\n"), "{}", String::from_utf8_lossy(&req));
                    let _ = write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                        json.len()
                    );
                }
            }
        });
        FakeEndpoint { port, body, stop }
    }

    fn set(&self, body: Option<String>) {
        *self.body.lock().unwrap() = body;
    }
}

impl Drop for FakeEndpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// A tmux server of our own, killed on drop whatever happens.

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let t = Tmux { socket: unique("weir-top-test"), session: unique("weir-top") };
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", &t.session, "-x", "120", "-y", "40", command])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).env_remove("TMUX");
        c
    }

    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p", "-t", &self.session]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        assert!(self.cmd().args(["send-keys", "-t", &self.session, keys]).status().unwrap().success());
    }

    /// Wait until `check` holds for the screen; the last screen either way.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if check(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen was:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether a process whose command line contains `needle` is running.
fn running(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
    })
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().args(["kill-session", "-t", &self.session]).status();
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn tmux_available() -> bool {
    let found = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is required under CI=true (scripts/setup.sh installs it)"
        );
        eprintln!("SKIPPED: tmux is not installed; `weir top` was not tested as a user runs it");
    }
    found
}

fn live_record() -> IntervalRecord {
    let mut r = IntervalRecord { kind: "interval".into(), uptime_s: 125.0, interval_s: 1.0, ..Default::default() };
    for (name, cat, out, inb) in [
        ("bittorrent", "p2p", 60e6, 20e6),
        ("http", "web", 10e6, 70e6),
        ("edonkey", "p2p", 25e6, 4e6),
        ("dns", "naming", 1e6, 2e6),
    ] {
        let p = ProtocolStats {
            category: cat.into(),
            bps_out: out,
            bps_in: inb,
            bytes_out: (out * 15.0) as u64,
            bytes_in: (inb * 15.0) as u64,
            flows: 7,
            ..Default::default()
        };
        r.protocols.insert(name.into(), p);
    }
    r.protocols.get_mut("edonkey").unwrap().dropped_out = 4321;
    r.interfaces.insert(
        "inside".into(),
        InterfaceStats { received: 123_456, forwarded: 123_000, rx_bps: 96e6, ..Default::default() },
    );
    r.interfaces.insert(
        "outside".into(),
        InterfaceStats { received: 654_321, forwarded: 650_000, rx_bps: 96e6, ..Default::default() },
    );
    r.packet_ns = Percentiles { count: 1000, p50: 420, p99: 2_100, p999: 9_000, max: 31_000, ..Default::default() };
    r.top_flows.push(TopFlow {
        l4: "TCP".into(),
        src: "198.18.0.7:51413".into(),
        dst: "198.19.4.2:6881".into(),
        protocol: "bittorrent".into(),
        bytes: 98_765_432,
        packets: 70_000,
    });
    for (host, bt, http) in
        [("198.18.0.7", (900_000_000, 300_000_000), (1_000, 2_000)), ("198.18.0.9", (0, 0), (5_000, 800_000_000))]
    {
        let mut h = HostStats {
            host: host.into(),
            bytes_out: bt.0 + http.0,
            bytes_in: bt.1 + http.1,
            p2p_bytes_out: bt.0,
            p2p_bytes_in: bt.1,
            ..Default::default()
        };
        h.protocols.insert(
            "bittorrent".into(),
            HostProtocolStats { category: "p2p".into(), bytes_out: bt.0, bytes_in: bt.1, error_bytes: 0 },
        );
        h.protocols.insert(
            "http".into(),
            HostProtocolStats { category: "web".into(), bytes_out: http.0, bytes_in: http.1, error_bytes: 0 },
        );
        r.hosts.push(h);
    }
    r
}

/// The line of the first row that names `protocol` (the protocol table comes first).
fn line_of(screen: &str, protocol: &str) -> usize {
    screen.lines().position(|l| l.contains(&format!("│{protocol} "))).unwrap_or(usize::MAX)
}

#[test]
fn top_shows_protocols_sorts_on_keys_survives_an_outage_and_quits_on_q() {
    if !tmux_available() {
        return;
    }
    // A bridge serves an empty body until its first interval ends.
    let endpoint = FakeEndpoint::start(&live_record());
    endpoint.set(Some(String::new()));
    let command = format!(
        "{} top --url http://127.0.0.1:{}; echo weir-exited-with=$?; sleep 60",
        env!("CARGO_BIN_EXE_weir"),
        endpoint.port
    );
    let tmux = Tmux::start(&command);
    let s = tmux.wait_for("the waiting status", |s| s.contains("waiting for the first record"));
    assert!(!s.contains("endpoint unreachable") && !s.contains("bad answer"), "{s}");
    endpoint.set(Some(serde_json::to_string(&live_record()).unwrap()));
    // The screen is read while tmux may be mid-redraw: wait until every figure is there.
    let needles = [
        "60.0 Mbit/s",
        "70.0 Mbit/s",
        "p2p 88.5%",
        "p2p 25.0%",
        "198.18.0.7:51413",
        "policy: edonkey",
        "420 ns",
        "sort: outbound",
        "live",
    ];
    let s = tmux.wait_for("the protocol rows and figures", |s| needles.iter().all(|n| s.contains(n)));
    assert!(line_of(&s, "bittorrent") < line_of(&s, "edonkey") && line_of(&s, "edonkey") < line_of(&s, "http"), "{s}");

    tmux.keys("i");
    tmux.wait_for("the inbound order: http, bittorrent, edonkey", |s| {
        s.contains("sort: inbound")
            && line_of(s, "http") < line_of(s, "bittorrent")
            && line_of(s, "bittorrent") < line_of(s, "edonkey")
    });

    tmux.keys("o");
    tmux.wait_for("the outbound order again: bittorrent, edonkey, http", |s| {
        s.contains("sort: outbound")
            && line_of(s, "bittorrent") < line_of(s, "edonkey")
            && line_of(s, "edonkey") < line_of(s, "http")
    });

    // The hosts view: who carries the P2P, first by P2P bytes, then by inbound bytes.
    let host_line = |s: &str, h: &str| s.lines().position(|l| l.contains(&format!("│{h} "))).unwrap_or(usize::MAX);
    tmux.keys("h");
    tmux.wait_for("the hosts view by P2P bytes", |s| {
        s.contains("Inside hosts (2")
            && s.contains("sort: p2p")
            && s.contains("900 MB")
            && host_line(s, "198.18.0.7") < host_line(s, "198.18.0.9")
    });
    tmux.keys("i");
    tmux.wait_for("the hosts view by inbound bytes", |s| {
        s.contains("sort: inbound") && host_line(s, "198.18.0.9") < host_line(s, "198.18.0.7")
    });
    tmux.keys("h");
    tmux.wait_for("the protocols again, in their own order", |s| {
        s.contains("sort: outbound") && s.contains("Protocols (")
    });

    endpoint.set(None);
    let s = tmux.wait_for("the unreachable status", |s| s.contains("endpoint unreachable"));
    assert!(s.contains("60.0 Mbit/s"), "the last figures stay on screen:\n{s}");
    let mut back = live_record();
    back.protocols.get_mut("bittorrent").unwrap().bps_out = 33e6;
    endpoint.set(Some(serde_json::to_string(&back).unwrap()));
    tmux.wait_for("recovery", |s| s.contains("33.0 Mbit/s") && !s.contains("endpoint unreachable"));

    tmux.keys("q");
    let s = tmux.wait_for("the exit", |s| s.contains("weir-exited-with="));
    assert!(s.contains("weir-exited-with=0"), "{s}");
    assert!(!s.contains("Protocols"), "the alternate screen was left:\n{s}");
}

#[test]
fn top_reads_the_stats_endpoint_that_weir_run_serves() {
    if !tmux_available() {
        return;
    }
    // The bridge's own endpoint (weir_stats::http), before and after its first interval.
    let published = Arc::new(parking_lot::Mutex::new(weir_stats::http::Published::default()));
    let server = weir_stats::http::Server::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&published)).unwrap();
    let command = format!(
        "{} top --url http://{}; echo weir-exited-with=$?; sleep 60",
        env!("CARGO_BIN_EXE_weir"),
        server.addr()
    );
    let tmux = Tmux::start(&command);
    tmux.wait_for("the waiting status", |s| s.contains("waiting for the first record"));
    published.lock().json = serde_json::to_string(&live_record()).unwrap();
    tmux.wait_for("the protocol rows", |s| s.contains("60.0 Mbit/s") && s.contains("p2p 88.5%") && s.contains("live"));
    // A terminal that goes away (ssh dropped, tmux killed) ends weir top; it does not linger.
    let needle = format!("top --url http://{}", server.addr());
    assert!(running(&needle));
    drop(tmux);
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(&needle) {
        assert!(Instant::now() < deadline, "weir top still runs after its terminal went away");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn top_rejects_a_bad_url_before_touching_the_terminal() {
    let out = weir().args(["top", "--url", "https://127.0.0.1:9754"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("https://127.0.0.1:9754: not an http:// URL"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// A synthetic but realistic stats file: a campus uplink in 2004, where P2P carried about 85% of
// the outbound and 64% of the inbound bytes. Rates wander smoothly (deterministic noise) around a
// rising afternoon load; totals are the running sums of the rates.

const CAMPUS_OUT: &[(&str, &str, f64)] = &[
    ("bittorrent", "p2p", 0.34),
    ("edonkey", "p2p", 0.22),
    ("fasttrack", "p2p", 0.15),
    ("gnutella", "p2p", 0.08),
    ("directconnect", "p2p", 0.04),
    ("winmx", "p2p", 0.02),
    ("http", "web", 0.08),
    ("ftp", "file-transfer", 0.015),
    ("smtp", "mail", 0.012),
    ("ssh", "remote-access", 0.008),
    ("tls", "web", 0.004),
    ("dns", "naming", 0.003),
    ("pop3", "mail", 0.0),
    ("imap", "mail", 0.0),
    ("unknown", "unknown", 0.028),
];
const CAMPUS_IN: &[f64] =
    &[0.25, 0.16, 0.12, 0.06, 0.03, 0.02, 0.24, 0.02, 0.02, 0.005, 0.03, 0.005, 0.01, 0.005, 0.025];

fn campus_2004(records: usize, interval_s: f64) -> Vec<IntervalRecord> {
    let start = 1_083_679_200.0; // 2004-05-04 14:00 UTC
    let mut seed: u64 = 2004;
    let mut noise = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let n = CAMPUS_OUT.len();
    let mut wander_out = vec![1.0; n];
    let mut wander_in = vec![1.0; n];
    let mut totals = vec![(0u64, 0u64); n];
    (0..records)
        .map(|k| {
            let t = k as f64 * interval_s;
            let load = 1.0 + 0.35 * (t / (records as f64 * interval_s) * std::f64::consts::PI).sin();
            let (uplink_out, uplink_in) = (72e6 * load, 58e6 * load);
            let mut r = IntervalRecord {
                kind: "interval".into(),
                time_unix_s: start + t + interval_s,
                uptime_s: t + interval_s,
                interval_s,
                ..Default::default()
            };
            for (i, (name, cat, share_out)) in CAMPUS_OUT.iter().enumerate() {
                // A random walk pulled back towards 1, so each share stays near its target.
                wander_out[i] = (wander_out[i] + 0.06 * noise() - 0.03 * (wander_out[i] - 1.0)).clamp(0.7, 1.3);
                wander_in[i] = (wander_in[i] + 0.06 * noise() - 0.03 * (wander_in[i] - 1.0)).clamp(0.7, 1.3);
                let bps_out = uplink_out * share_out * wander_out[i];
                let bps_in = uplink_in * CAMPUS_IN[i] * wander_in[i];
                totals[i].0 += (bps_out * interval_s / 8.0) as u64;
                totals[i].1 += (bps_in * interval_s / 8.0) as u64;
                let p = ProtocolStats {
                    category: (*cat).into(),
                    bytes_out: totals[i].0,
                    bytes_in: totals[i].1,
                    packets_out: totals[i].0 / 900,
                    packets_in: totals[i].1 / 900,
                    bps_out,
                    bps_in,
                    pps_out: bps_out / 7200.0,
                    pps_in: bps_in / 7200.0,
                    flows: (k as u64 + 1) * (1 + (share_out * 40.0) as u64),
                    ..Default::default()
                };
                r.protocols.insert((*name).into(), p);
            }
            // Twelve inside hosts: a few heavy P2P users carry most of it, as on any campus.
            const P2P_WEIGHT: [f64; 12] = [0.30, 0.21, 0.15, 0.10, 0.08, 0.05, 0.04, 0.03, 0.02, 0.01, 0.01, 0.0];
            for (n, weight) in P2P_WEIGHT.iter().enumerate() {
                let mut h = HostStats { host: format!("198.18.{}.{}", n / 4, 10 + 7 * n), ..Default::default() };
                for (i, (name, cat, _)) in CAMPUS_OUT.iter().enumerate() {
                    let w = if *cat == "p2p" { *weight } else { 1.0 / 12.0 };
                    let (o, inb) = ((totals[i].0 as f64 * w) as u64, (totals[i].1 as f64 * w) as u64);
                    h.bytes_out += o;
                    h.bytes_in += inb;
                    if *cat == "p2p" {
                        h.p2p_bytes_out += o;
                        h.p2p_bytes_in += inb;
                    }
                    h.protocols.insert(
                        (*name).into(),
                        HostProtocolStats { category: (*cat).into(), bytes_out: o, bytes_in: inb, error_bytes: 0 },
                    );
                }
                r.hosts.push(h);
            }
            r
        })
        .collect()
}

fn write_jsonl(path: &Path, records: &[IntervalRecord]) {
    let mut text = String::new();
    for r in records {
        text.push_str(&serde_json::to_string(r).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn report_writes_an_svg_and_a_png_from_a_stats_file() {
    let dir = temp_dir("weir-report");
    let stats = dir.join("stats.jsonl");
    write_jsonl(&stats, &campus_2004(720, 10.0));
    let update_docs = std::env::var("WEIR_UPDATE_DOCS").as_deref() == Ok("1");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let (svg, png) = if update_docs {
        (docs.join("report-example.svg"), docs.join("report-example.png"))
    } else {
        (dir.join("report.svg"), dir.join("report.png"))
    };
    for out in [&svg, &png] {
        let run = weir().args(["report", "--from"]).arg(&stats).arg("--out").arg(out).output().unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{}", &text[..100]);
    for needle in [
        "Share of bytes by protocol",
        "bittorrent",
        "Mbit/s",
        "2004-05-04 14:00 UTC",
        "Top 10 inside hosts by peer-to-peer bytes",
        "198.18.0.10",
    ] {
        assert!(text.contains(needle), "{needle} missing from the SVG");
    }
    // The P2P brackets over the outbound and inbound bars, in that order.
    let p2p: Vec<f64> = text.split("P2P ").skip(1).filter_map(|rest| rest.split('%').next()?.parse().ok()).collect();
    assert_eq!(p2p.len(), 2, "{p2p:?}");
    assert!((83.0..87.0).contains(&p2p[0]) && (61.0..67.0).contains(&p2p[1]), "{p2p:?}");
    let (w, h) = png_size(&std::fs::read(&png).unwrap());
    assert_eq!(w, 1400);
    assert!((1000..2400).contains(&h), "{h}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_names_the_file_and_line_of_bad_input_and_exits_non_zero() {
    let dir = temp_dir("weir-report-bad");
    let good = serde_json::to_string(&campus_2004(1, 1.0)[0]).unwrap();
    let cases: [(&str, Option<String>, &str); 4] = [
        ("missing.jsonl", None, "missing.jsonl: cannot read: No such file"),
        ("empty.jsonl", Some(String::new()), "empty.jsonl: no stats records"),
        (
            "bad.jsonl",
            Some(format!("{good}\n{good}\n{{\"type\":\"interval\",\"uptime_s\":\"x\"}}\n")),
            "bad.jsonl:3: not a valid stats record",
        ),
        ("text.jsonl", Some("hello\n".into()), "text.jsonl:1: not a valid stats record: not JSON"),
    ];
    for (name, contents, expected) in cases {
        let path = dir.join(name);
        if let Some(c) = contents {
            std::fs::write(&path, c).unwrap();
        }
        let out = dir.join("out.svg");
        let run = weir().args(["report", "--from"]).arg(&path).arg("--out").arg(&out).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(!out.exists(), "{name}: no chart is written from bad input");
    }
    let stats = dir.join("ok.jsonl");
    write_jsonl(&stats, &campus_2004(3, 1.0));
    let run = weir().args(["report", "--from"]).arg(&stats).arg("--out").arg(dir.join("r.jpg")).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("r.jpg: unknown chart format; use a file name ending in .svg or .png")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn classify_report_draws_the_share_chart_of_a_capture() {
    let dir = temp_dir("weir-classify-report");
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps/bittorrent.pcap");
    let chart = dir.join("share.svg");
    let run = weir().arg("classify").arg(&pcap).arg("--report").arg(&chart).arg("--no-progress").output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&chart).unwrap();
    assert!(
        text.contains("<svg") && text.contains("bittorrent.pcap") && text.contains("bittorrent"),
        "{}",
        &text[..200]
    );
    assert!(text.contains("P2P "), "the P2P share is marked");
    let png = dir.join("share.png");
    let run = weir().arg("classify").arg(&pcap).arg("--report").arg(&png).arg("--no-progress").output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(png_size(&std::fs::read(&png).unwrap()).0, 1400);
    std::fs::remove_dir_all(&dir).unwrap();
}
