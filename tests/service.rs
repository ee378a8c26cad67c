//! weir as a service, in the lab: one instance per NIC pair, the capabilities left after
//! set-up (read from /proc), the service user, readiness over $NOTIFY_SOCKET, SIGHUP, JSON log
//! lines, and the stats endpoint answering while 1,000 idle connections are open.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weir_testkit::bridge::{TempDir, Weir, check_accounting};
use weir_testkit::lab::{IN_V4, Lab, LabOptions, Ns, OUT_V4, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const CONFIG: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n";

/// CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21), CAP_BPF (39): what weir keeps (crates/weir/service.rs).
const KEPT: u64 = (1 << 12) | (1 << 21) | (1 << 39);

fn ping(lab: &Lab, from: Ns, to: &str) -> bool {
    lab.run(from, "ping", &["-c", "2", "-i", "0.2", "-W", "1", to]).map(|o| o.status.success()).unwrap_or(false)
}

fn xdp_attached(lab: &Lab, nic: &str) -> bool {
    let out = lab.run(Ns::Br, "ip", &["-d", "link", "show", nic]).unwrap();
    String::from_utf8_lossy(&out.stdout).contains("prog/xdp")
}

/// `Field:\tvalue` of a /proc status file.
fn status_field(status: &str, field: &str) -> String {
    status.lines().find_map(|l| l.strip_prefix(field)).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// (thread name, CapEff, Uid line) of every thread of `pid`.
fn threads(pid: u32) -> Vec<(String, u64, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let t = t.unwrap().path();
        let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default().trim().to_string();
        let status = std::fs::read_to_string(t.join("status")).unwrap_or_default();
        let eff = u64::from_str_radix(&status_field(&status, "CapEff:"), 16).unwrap();
        out.push((comm, eff, status_field(&status, "Uid:")));
    }
    out
}

#[test]
fn a_second_weir_on_the_same_nics_exits_naming_the_first_and_touches_nothing() {
    if !lab_available("a_second_weir_on_the_same_nics_exits_naming_the_first_and_touches_nothing") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("second");
    let first = Weir::start(WEIR, &lab, &dir, &format!("{CONFIG}[stats]\nlisten = \"\"\n"));
    assert!(ping(&lab, Ns::In, OUT_V4));
    let prog_before = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap().stdout;
    let cfg = dir.path("second.toml");
    // Another stats port, so only the lock can stop it.
    std::fs::write(&cfg, format!("{CONFIG}[stats]\nlisten = \"127.0.0.1:9755\"\n")).unwrap();
    let out =
        lab.cmd(Ns::Br, WEIR).args(["run", "--config", cfg.to_str().unwrap()]).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("weir pid {}", first.pid())) && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert!(!stderr.contains("leftover"), "the second weir must not touch the first one's program: {stderr}");
    // The first is untouched: same program, still forwarding, and stops cleanly.
    assert_eq!(lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap().stdout, prog_before);
    assert!(ping(&lab, Ns::In, OUT_V4), "the first weir must still forward");
    assert!(ping(&lab, Ns::Out, IN_V4));
    let pid = first.pid();
    // Killed hard: the kernel releases its lock, so the next weir starts and cleans up.
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
    drop(first);
    assert!(xdp_attached(&lab, "inside"), "a killed weir leaves its program");
    let next = Weir::start(WEIR, &lab, &dir, &format!("{CONFIG}[stats]\nlisten = \"\"\n"));
    assert!(ping(&lab, Ns::In, OUT_V4));
    let (code, stderr, summary) = next.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed a leftover XDP program"), "{stderr}");
    check_accounting(&summary);
    assert!(!xdp_attached(&lab, "inside") && !xdp_attached(&lab, "outside"));
}

#[test]
fn after_set_up_weir_keeps_three_capabilities_and_the_endpoint_thread_none() {
    if !lab_available("after_set_up_weir_keeps_three_capabilities_and_the_endpoint_thread_none") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("caps");
    let weir = Weir::start(WEIR, &lab, &dir, CONFIG);
    let status = std::fs::read_to_string(format!("/proc/{}/status", weir.pid())).unwrap();
    assert_eq!(u64::from_str_radix(&status_field(&status, "CapEff:"), 16).unwrap(), KEPT, "{status}");
    assert_eq!(u64::from_str_radix(&status_field(&status, "CapPrm:"), 16).unwrap(), KEPT, "{status}");
    assert_eq!(u64::from_str_radix(&status_field(&status, "CapBnd:"), 16).unwrap(), KEPT, "{status}");
    assert_eq!(status_field(&status, "CapAmb:"), "0000000000000000");
    assert_eq!(status_field(&status, "NoNewPrivs:"), "1");
    // A new thread names itself once it runs: give the worker a moment to.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ts = threads(weir.pid());
    while !ts.iter().any(|(n, _, _)| n == "weir-q0") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        ts = threads(weir.pid());
    }
    assert!(ts.iter().any(|(n, _, _)| n == "weir-q0"), "{ts:?}");
    for (name, eff, _) in &ts {
        let want = if name == "weir-http" { 0 } else { KEPT };
        assert_eq!(*eff, want, "thread {name}: {ts:?}");
    }
    // Reduced, it still bridges, serves, and tears down completely.
    assert!(ping(&lab, Ns::In, OUT_V4));
    let m = lab.run(Ns::Br, "curl", &["-sS", "--max-time", "5", "http://127.0.0.1:9754/metrics"]).unwrap();
    assert!(m.status.success());
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("event=privileges kept=net_admin,sys_admin,bpf"), "{stderr}");
    check_accounting(&summary);
    assert!(!xdp_attached(&lab, "inside") && !xdp_attached(&lab, "outside"), "{stderr}");
    let k = lab.run(Ns::Br, "ethtool", &["-k", "inside"]).unwrap();
    assert!(String::from_utf8_lossy(&k.stdout).contains("rx-vlan-offload: on"), "VLAN stripping restored");
}

#[test]
fn as_the_service_user_weir_bridges_and_leaves_nothing_behind() {
    if !lab_available("as_the_service_user_weir_bridges_and_leaves_nothing_behind") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("user");
    // The summary is written at exit, as the service user.
    let out = TempDir::new("user-out");
    std::fs::set_permissions(&out.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let cfg = dir.path("user.toml");
    std::fs::write(&cfg, format!("{CONFIG}[service]\nuser = \"nobody\"\n")).unwrap();
    let weir = Weir::spawn(WEIR, &lab, &cfg, &out.path("summary.json"), &[]);
    let ts = threads(weir.pid());
    for (name, eff, uid) in &ts {
        assert!(uid.split_whitespace().all(|u| u == "65534"), "thread {name} runs as {uid}");
        assert_eq!(*eff, if name == "weir-http" { 0 } else { KEPT }, "thread {name}");
    }
    assert!(ping(&lab, Ns::In, OUT_V4));
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("user=\"nobody uid=65534"), "{stderr}");
    check_accounting(&summary);
    assert!(!xdp_attached(&lab, "inside") && !xdp_attached(&lab, "outside"), "{stderr}");

    // A user that does not exist: a start-up error naming the key; nothing attached.
    std::fs::write(&cfg, format!("{CONFIG}[service]\nuser = \"weir-no-such-user\"\n")).unwrap();
    let bad = lab.cmd(Ns::Br, WEIR).args(["run", "--config", cfg.to_str().unwrap()]).output().unwrap();
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && e.contains("service.user") && e.contains("adduser"), "{e}");
    assert!(!xdp_attached(&lab, "inside"));
}

#[test]
fn readiness_sighup_and_json_logs() {
    if !lab_available("readiness_sighup_and_json_logs") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("notify");
    let sock_path = dir.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let cfg = dir.path("w.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let mut child = lab
        .cmd(Ns::Br, WEIR)
        .args(["run", "--log-format", "json", "--config", cfg.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.contains("READY=1") && ready.contains("STATUS=bridging inside <-> outside"), "{ready}");
    // Ready means bound: the programs are attached and frames cross at once.
    assert!(xdp_attached(&lab, "inside") && xdp_attached(&lab, "outside"));
    assert!(ping(&lab, Ns::In, OUT_V4));
    // SIGHUP reloads (the same file: a new policy generation) and does not stop it.
    let _ = Command::new("kill").args(["-HUP", &child.id().to_string()]).status();
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP must not stop weir");
    assert!(ping(&lab, Ns::In, OUT_V4));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let n = sock.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "weir did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Every line up to the final table is one JSON object with ts, level and event.
    let events: Vec<Value> = stderr
        .lines()
        .take_while(|l| !l.starts_with("weir: final counters"))
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for want in ["starting", "queue-bound", "privileges", "policy", "ready", "reload", "stopping"] {
        assert!(names.contains(&want), "no {want} event in {names:?}");
    }
    assert!(events.iter().all(|e| e["ts"].is_string() && e["level"].is_string()));
    let reload = events.iter().find(|e| e["event"] == "reload").unwrap();
    assert_eq!(reload["result"], "ok", "{reload}");
    assert_eq!(reload["level"], "info");
    assert_eq!(reload["generation"], "2");
    assert_eq!(reload["source"], "sighup");
    let policy = events.iter().find(|e| e["event"] == "policy").unwrap();
    assert_eq!(policy["generation"], "1");
}

#[test]
fn the_endpoint_answers_while_a_thousand_idle_connections_are_open() {
    if !lab_available("the_endpoint_answers_while_a_thousand_idle_connections_are_open") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("idle");
    let mut weir = Weir::start(WEIR, &lab, &dir, CONFIG);
    weir.wait_for("inside: rx", Duration::from_secs(10));
    // In the bridge namespace: 1,000 connections that send nothing (200 of them half a request
    // head), then scrapes over new connections while they stay open. Prints one line per check.
    let script = r#"
import socket, sys, http.client, time
t0 = time.monotonic()
idle = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", 9754))
    if i < 200:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost")
    idle.append(s)
for path in ["/metrics", "/stats.json", "/metrics", "/stats.json"]:
    c = http.client.HTTPConnection("127.0.0.1", 9754, timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    print(path, r.status, len(body), flush=True)
alive = 0
for s in idle[200:]:
    s.setblocking(False)
    try:
        alive += s.recv(1) != b""
    except BlockingIOError:
        alive += 1
    except OSError:
        pass
print("idle-still-open", alive, round(time.monotonic() - t0, 2), flush=True)
# Garbage, an oversized head and an announced body on the same endpoint.
for raw in [b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"]:
    s = socket.create_connection(("127.0.0.1", 9754), timeout=5)
    try:
        s.sendall(raw)
    except OSError:
        pass
    print("refused", s.recv(64).split(b"\r\n")[0].decode(), flush=True)
"#;
    let out = lab.run(Ns::Br, "python3", &["-c", script]).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    for (i, path) in ["/metrics", "/stats.json", "/metrics", "/stats.json"].iter().enumerate() {
        let f: Vec<&str> = lines[i].split_whitespace().collect();
        assert_eq!((f[0], f[1]), (*path, "200"), "{text}");
        assert!(f[2].parse::<usize>().unwrap() > 100, "a real body: {text}");
    }
    // The silent ones were still open when the scrapes had been answered, unless the 5 s head
    // timeout had already passed (a very slow machine): then they were rightly closed.
    let f: Vec<&str> = lines[4].split_whitespace().collect();
    let (alive, secs): (usize, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
    if secs < 4.0 {
        assert_eq!(alive, 800, "{text}");
    } else {
        eprintln!("the idle connections took {secs} s to open and scrape: not checking that they stayed open");
    }
    assert_eq!(lines[5], "refused HTTP/1.1 400 Bad Request", "{text}");
    assert_eq!(lines[6], "refused HTTP/1.1 431 Request Header Fields Too Large", "{text}");
    assert_eq!(lines[7], "refused HTTP/1.1 413 Payload Too Large", "{text}");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
}
