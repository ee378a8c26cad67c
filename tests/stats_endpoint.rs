//! The stats path end to end: during a lab run, `/metrics` passes `promtool check metrics`, the
//! byte counters equal what the kernel counted on the lab's veths, `/stats.json` and
//! `--stats-json` carry the documented record, and the stats can be turned off.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weir_testkit::bridge::{TempDir, Weir, check_accounting};
use weir_testkit::lab::{IN_V4, Lab, LabOptions, Ns, OUT_V4, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const CONFIG: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n";

const IN_BYTES: &str = "weir_interface_received_bytes_total{interface=\"inside\"}";
const OUT_BYTES: &str = "weir_interface_received_bytes_total{interface=\"outside\"}";

/// The bytes in0 and out0 have sent (as whole frames: veth counts bytes after the 14-byte
/// Ethernet header is pulled) and weir's metrics, over a quiet window: the kernel's counters
/// unchanged across a whole stats interval, since IPv6 neighbour discovery may send at any time.
fn quiet_snapshot(lab: &Lab) -> ((u64, u64), String) {
    let wire = |ns, dev| kernel_counter(lab, ns, dev, "tx_bytes") + 14 * kernel_counter(lab, ns, dev, "tx_packets");
    for _ in 0..10 {
        let before = (wire(Ns::In, "in0"), wire(Ns::Out, "out0"));
        std::thread::sleep(Duration::from_millis(1300));
        let metrics = scrape(lab, "/metrics");
        if before == (wire(Ns::In, "in0"), wire(Ns::Out, "out0")) {
            return (before, metrics);
        }
    }
    panic!("no quiet stats interval within 10 tries");
}

fn scrape(lab: &Lab, path: &str) -> String {
    let out = lab.run(Ns::Br, "curl", &["-sS", "--max-time", "5", &format!("http://127.0.0.1:9754{path}")]).unwrap();
    assert!(out.status.success(), "scrape {path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The value of one sample line `name{labels} value` in Prometheus text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
}

/// A veth's kernel counter in its namespace.
fn kernel_counter(lab: &Lab, ns: Ns, dev: &str, counter: &str) -> u64 {
    let out = lab.run(ns, "cat", &[&format!("/sys/class/net/{dev}/statistics/{counter}")]).unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn metrics_pass_promtool_and_match_the_kernels_counts() {
    if !lab_available("metrics_pass_promtool_and_match_the_kernels_counts") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("stats");
    let jsonl = dir.path("stats.jsonl");
    let mut weir = Weir::start_with(WEIR, &lab, &dir, CONFIG, &["--stats-json", jsonl.to_str().unwrap()]);
    // The veths sent neighbour discovery before weir was attached: compare from here on.
    let (base_sent, base_metrics) = quiet_snapshot(&lab);
    let base_got = (sample(&base_metrics, IN_BYTES) as u64, sample(&base_metrics, OUT_BYTES) as u64);
    // Some HTTP and ICMP both ways.
    let srv = lab
        .cmd(Ns::Out, "python3")
        .args(["-m", "http.server", "8080", "--bind", OUT_V4, "--directory", "/usr/share/doc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Python can take seconds to start on a busy machine: wait until it answers, in its own
    // namespace (so without crossing the bridge).
    let url = format!("http://{OUT_V4}:8080/");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lab.run(Ns::Out, "curl", &["-s", "-o", "/dev/null", &url]).unwrap().status.success() {
        assert!(Instant::now() < deadline, "the HTTP server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..5 {
        let out = lab.run(Ns::In, "curl", &["-sS", "-o", "/dev/null", &url]).unwrap();
        assert!(out.status.success(), "curl through weir: {}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = lab.run(Ns::Out, "ping", &["-c", "5", "-i", "0.2", IN_V4]).unwrap();
    let mut srv = srv;
    let _ = srv.kill();
    let _ = srv.wait();
    // Quiet now: wait for a stats interval that covers everything sent.
    std::thread::sleep(Duration::from_millis(2500));
    weir.wait_for("inside: rx", Duration::from_secs(5));

    let ((sent_in, sent_out), metrics) = quiet_snapshot(&lab);
    let got_in = sample(&metrics, IN_BYTES) as u64;
    let got_out = sample(&metrics, OUT_BYTES) as u64;
    assert_eq!(got_in - base_got.0, sent_in - base_sent.0, "inside bytes since start: weir vs in0");
    assert_eq!(got_out - base_got.1, sent_out - base_sent.1, "outside bytes since start: weir vs out0");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), metrics.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let http_in =
        sample(&metrics, "weir_protocol_bytes_total{protocol=\"http\",category=\"web\",direction=\"inbound\"}");
    assert!(http_in > 0.0, "{metrics}");

    let json: Value = serde_json::from_str(&scrape(&lab, "/stats.json")).unwrap();
    assert_eq!(json["type"], "interval");
    assert!(json["protocols"]["http"]["flows"].as_u64().unwrap() >= 5, "{json}");
    assert!(json["top_flows"].as_array().is_some_and(|a| !a.is_empty()), "{json}");
    assert!(json["batch_ns"]["count_total"].as_u64().unwrap() > 0, "{json}");

    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    // Every byte weir received is in a protocol row, the non-IP frames, or the malformed ones.
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    let records: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(records.len() >= 3, "one record per second: {}", records.len());
    assert!(records.iter().all(|r| r["type"] == "interval"));
    let first_uptime = records[0]["uptime_s"].as_f64().unwrap();
    assert!(records.windows(2).all(|w| w[1]["uptime_s"].as_f64() > w[0]["uptime_s"].as_f64()), "{first_uptime}");
}

#[test]
fn stats_can_be_turned_off_and_a_busy_port_is_a_start_up_error() {
    if !lab_available("stats_can_be_turned_off_and_a_busy_port_is_a_start_up_error") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("stats-off");
    let weir = Weir::start(WEIR, &lab, &dir, &format!("{CONFIG}[stats]\nenabled = false\n"));
    let out = lab.run(Ns::Br, "curl", &["-sS", "--max-time", "2", "http://127.0.0.1:9754/metrics"]).unwrap();
    assert!(!out.status.success(), "the endpoint must be off");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("inside: rx"), "no interval lines with stats off: {stderr}");
    check_accounting(&summary);

    // Something already listens on the port: weir says so and attaches nothing. Wait until the
    // blocker really holds the port, and give weir a deadline: if it started anyway, it is
    // stopped and the test fails instead of hanging.
    let mut blocker = lab
        .cmd(Ns::Br, "python3")
        .args(["-c", "import socket,time;s=socket.socket();s.bind(('127.0.0.1',9754));s.listen();print('ready',flush=True);time.sleep(60)"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(blocker.stdout.take().unwrap()), &mut ready).unwrap();
    assert_eq!(ready.trim(), "ready", "the port blocker did not start");
    let cfg = dir.path("busy.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut child = lab
        .cmd(Ns::Br, WEIR)
        .args(["run", "--config", cfg.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let _ = blocker.kill();
            let _ = blocker.wait();
            panic!("weir started although its stats port was taken");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let _ = blocker.kill();
    let _ = blocker.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("stats.listen") && stderr.contains("127.0.0.1:9754"), "{stderr}");
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(!String::from_utf8_lossy(&link.stdout).contains("prog/xdp"));
}
