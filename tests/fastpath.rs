//! weir's own XDP program end to end (issue 13): decided flows stay in the kernel with exact
//! counters, SYN/FIN/RST reach user space and end flows, idle expiry empties the kernel's map,
//! and the program fails open (or closed) by itself when weir is killed or hangs, with no Linux
//! bridge; a restart rebuilds the maps.
//!
//! Each test runs the real binary in its own lab (scripts/lab.sh through weir-testkit). These
//! tests are about the fast path itself, so with `WEIR_FASTPATH=off` in the environment (the
//! switch that runs the other lab tests without it) they check that weir says it is off and
//! return.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weir_testkit::bridge::{BridgeSummary, TempDir, Weir, check_accounting};
use weir_testkit::lab::{IN_V4, Lab, LabOptions, Ns, OUT_V4, OUT_V6, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

const BASE: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n\
    [stats]\ninterval_s = 1\nlisten = \"\"\n[control]\nsocket = \"\"\n";

/// A DNS query for example.com: labelled `dns` at its first packet. 29 bytes of UDP payload,
/// so each frame is 14 + 20 + 8 + 29 = 71 bytes.
const DNS_QUERY: &str = "123401000001000000000000076578616d706c6503636f6d0000010001";
const DNS_FRAME: u64 = 71;

/// UDP server: `PORT SECONDS echo|count`; prints "ready", then how many datagrams it got.
const UDP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(float(sys.argv[2]))
print("ready", flush=True)
n = 0
try:
    while True:
        d, a = s.recvfrom(65535)
        n += 1
        if sys.argv[3] == "echo":
            s.sendto(d, a)
except socket.timeout:
    pass
print(n, flush=True)
"#;

/// UDP client: `DST PORT COUNT SPORT HEX wait|nowait`: sends COUNT datagrams from SPORT (in
/// lockstep with the echo when `wait`), prints the replies it got.
const UDP_CLIENT: &str = r#"
import socket, sys, time
dst, n, sport, payload = (sys.argv[1], int(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), bytes.fromhex(sys.argv[5])
wait = sys.argv[6] == "wait"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", sport))
s.settimeout(2.0)
got = 0
for i in range(n):
    s.sendto(payload, dst)
    if wait:
        try:
            s.recvfrom(65535)
            got += 1
        except socket.timeout:
            pass
    else:
        time.sleep(0.002)
print(got, flush=True)
"#;

/// TCP echo server on `PORT` for `CONNS` connections; prints "ready".
const TCP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(4)
s.settimeout(30)
print("ready", flush=True)
for _ in range(int(sys.argv[2])):
    c, _ = s.accept()
    c.settimeout(10)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except (socket.timeout, ConnectionResetError):
        pass
    c.close()
"#;

/// TCP client: `DST PORT fin|rst`: 40 lockstep exchanges of 200 bytes, then a close (FIN) or
/// an abort (RST, SO_LINGER 0). Prints the bytes echoed.
const TCP_CLIENT: &str = r#"
import socket, struct, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
got = 0
for i in range(40):
    c.sendall(bytes([i % 256]) * 200)
    want = 200
    while want:
        d = c.recv(want)
        if not d:
            break
        want -= len(d)
        got += len(d)
if sys.argv[3] == "rst":
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
else:
    c.shutdown(socket.SHUT_WR)
    c.recv(10)
c.close()
print(got, flush=True)
"#;

fn fastpath_off_by_env() -> bool {
    std::env::var("WEIR_FASTPATH").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off"))
}

/// Start a python helper in `ns`, waiting for its "ready" line; returns it and its stdout.
fn helper(
    lab: &Lab,
    ns: Ns,
    script: &str,
    args: &[&str],
) -> (Child, std::io::Lines<std::io::BufReader<std::process::ChildStdout>>) {
    let mut child = lab
        .cmd(ns, "python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().map(Result::unwrap).as_deref(), Some("ready"), "helper in {ns:?} did not start");
    (child, lines)
}

fn run_out(lab: &Lab, ns: Ns, script: &str, args: &[&str]) -> String {
    let o = lab.cmd(ns, "python3").arg("-c").arg(script).args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The interval records written so far.
fn records(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Waits (at most `within`) for an interval record satisfying `ok`; returns it.
fn wait_record(path: &std::path::Path, within: Duration, ok: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = records(path).into_iter().rev().find(|r| ok(r)) {
            return r;
        }
        assert!(Instant::now() < deadline, "no record as expected within {within:?}; last: {:?}", records(path).last());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn fp(r: &serde_json::Value, key: &str) -> u64 {
    r["fastpath"][key].as_u64().unwrap_or(u64::MAX)
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]).status();
}

/// Pings `to` from `ns` every 50 ms for at most `limit`, stopping at the first answer; returns
/// when the first answered echo was sent (from the start), or `None`.
fn first_answer(lab: &Lab, ns: Ns, to: &str, limit: Duration) -> Option<Duration> {
    let count = (limit.as_millis() / 50).max(1).to_string();
    let deadline = (limit.as_secs() + 1).to_string();
    let o = lab.run(ns, "ping", &["-n", "-i", "0.05", "-c", &count, "-w", &deadline, "-W", "1", to]).unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let first = text
        .lines()
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .min()?;
    Some(Duration::from_millis((first - 1) * 50))
}

fn summary_fastpath(s: &BridgeSummary) -> weir_stats::FastpathStats {
    s.fastpath.clone().unwrap_or_else(|| panic!("the summary has no fastpath figures: {s:?}"))
}

/// With the env switch off, these tests only check that weir runs without the fast path.
fn off_only(lab: &Lab, dir: &TempDir) -> bool {
    if !fastpath_off_by_env() {
        return false;
    }
    let weir = Weir::start(WEIR, lab, dir, BASE);
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("event=fastpath state=off reason=\"WEIR_FASTPATH=off\""), "{stderr}");
    assert!(summary.fastpath.is_none());
    true
}

#[test]
fn decided_flows_stay_in_the_kernel_with_exact_counters_and_expire() {
    if !lab_available("decided_flows_stay_in_the_kernel_with_exact_counters_and_expire") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-exact");
    if off_only(&lab, &dir) {
        return;
    }
    let stats = dir.path("stats.jsonl");
    let config = format!("{BASE}[flows]\nudp_idle_s = 3\n");
    let weir = Weir::start_with(WEIR, &lab, &dir, &config, &["--stats-json", stats.to_str().unwrap()]);
    assert!(weir.stderr_text().contains("event=fastpath state=on"), "{}", weir.stderr_text());

    // 200 queries, each echoed: 400 frames of one decided flow, all but its first few in the kernel.
    let (mut server, mut out) = helper(&lab, Ns::Out, UDP_SERVER, &["53", "6", "echo"]);
    let got = run_out(&lab, Ns::In, UDP_CLIENT, &[OUT_V4, "53", "200", "40000", DNS_QUERY, "wait"]);
    assert_eq!(got, "200", "every query answered through the bridge");
    // The kernel map holds the flow, and its counters reached the table (the top flow).
    // The flow is in the kernel's map (counted at the map's walks, once a second).
    wait_record(&stats, Duration::from_secs(3), |r| fp(r, "installed") >= 1 && fp(r, "flows") >= 1);
    // Idle past udp_idle_s: the flow leaves the table, and the map with it. What it carried in
    // the kernel was credited to it in the table: its host's bytes (counted from the flow at
    // its end) are exact each way.
    let dns_of = |r: &serde_json::Value| -> Option<serde_json::Value> {
        let hosts = r["hosts"].as_array()?;
        let host = hosts.iter().find(|h| h["host"] == IN_V4)?;
        host["protocols"].get("dns").cloned()
    };
    let idle = wait_record(&stats, Duration::from_secs(10), |r| {
        r["flow_table"]["expired"].as_u64().unwrap_or(0) >= 1 && fp(r, "removed") >= 1 && dns_of(r).is_some()
    });
    assert!(fp(&idle, "packets") >= 390, "the kernel forwarded all but the first frames: {}", idle["fastpath"]);
    let dns_host = dns_of(&idle).unwrap_or_default();
    assert_eq!(dns_host["bytes_out"].as_u64(), Some(200 * DNS_FRAME), "{dns_host}");
    assert_eq!(dns_host["bytes_in"].as_u64(), Some(200 * DNS_FRAME), "{dns_host}");
    let _ = server.wait();
    assert_eq!(out.next().map(Result::unwrap).as_deref(), Some("200"));
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    let dns = summary.protocol("dns");
    assert_eq!((dns.packets_out, dns.packets_in), (200, 200), "{dns:?}");
    assert_eq!((dns.bytes_out, dns.bytes_in), (200 * DNS_FRAME, 200 * DNS_FRAME), "{dns:?}");
    assert_eq!((dns.dropped_out, dns.dropped_in), (0, 0), "{dns:?}");
    let f = summary_fastpath(&summary);
    assert!(f.packets >= 390 && f.packets <= 400, "user space saw only the first frames: {f:?}");
    assert_eq!(f.bytes, f.packets * DNS_FRAME, "{f:?}");
    assert_eq!(summary.interfaces.inside.received, summary.interfaces.inside.forwarded, "{:?}", summary.interfaces);

    // A map of two flows and three flows: an install is refused (counted) and that flow stays
    // in user space; the counts stay exact either way.
    let config = format!("{BASE}[fastpath]\nmap_size = 2\n");
    let weir = Weir::start(WEIR, &lab, &dir, &config);
    let (mut server, _out) = helper(&lab, Ns::Out, UDP_SERVER, &["53", "3", "echo"]);
    for sport in ["40002", "40003", "40004"] {
        let got = run_out(&lab, Ns::In, UDP_CLIENT, &[OUT_V4, "53", "50", sport, DNS_QUERY, "wait"]);
        assert_eq!(got, "50", "flow from {sport}");
    }
    let _ = server.wait();
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    let dns = summary.protocol("dns");
    assert_eq!((dns.packets_out, dns.packets_in, dns.bytes_in), (150, 150, 150 * DNS_FRAME), "{dns:?}");
    let f = summary_fastpath(&summary);
    assert!(f.map_full >= 1 && f.installed >= 1, "{f:?}");
    assert!(
        f.packets >= 90 && f.packets <= 200,
        "at most two of the three flows (100 frames each) in the kernel: {f:?}"
    );

    // The same flow dropped by policy: the kernel drops all but the first query, and counts it.
    let config = format!("{BASE}[policy.protocols]\ndns = \"drop\"\n");
    let weir = Weir::start(WEIR, &lab, &dir, &config);
    let (mut server, mut out) = helper(&lab, Ns::Out, UDP_SERVER, &["53", "3", "count"]);
    run_out(&lab, Ns::In, UDP_CLIENT, &[OUT_V4, "53", "100", "40001", DNS_QUERY, "nowait"]);
    let _ = server.wait();
    assert_eq!(out.next().map(Result::unwrap).as_deref(), Some("0"), "no dropped query may pass");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    let dns = summary.protocol("dns");
    assert_eq!((dns.packets_out, dns.dropped_out, dns.bytes_out), (100, 100, 100 * DNS_FRAME), "{dns:?}");
    let f = summary_fastpath(&summary);
    assert!(f.packets >= 95, "dropped in the kernel: {f:?}");
    assert_eq!(summary.interfaces.inside.dropped_policy, 100, "{:?}", summary.interfaces);
}

#[test]
fn syn_fin_and_rst_reach_user_space_and_end_the_flow() {
    if !lab_available("syn_fin_and_rst_reach_user_space_and_end_the_flow") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-fin");
    if off_only(&lab, &dir) {
        return;
    }
    let stats = dir.path("stats.jsonl");
    // Label after 2 payload packets each way; closed flows linger 1 s; idle ones 300 s (so only
    // a close seen in user space can end them here).
    let config = format!("{BASE}[inspect]\nmax_packets = 2\n[flows]\nclosed_linger_s = 1\ntcp_idle_s = 300\n");
    let weir = Weir::start_with(WEIR, &lab, &dir, &config, &["--stats-json", stats.to_str().unwrap()]);
    let (mut server, _out) = helper(&lab, Ns::Out, TCP_SERVER, &["9000", "2"]);
    for how in ["fin", "rst"] {
        let got = run_out(&lab, Ns::In, TCP_CLIENT, &[OUT_V4, "9000", how]);
        assert_eq!(got, "8000", "{how}: every byte echoed");
    }
    let _ = server.wait();
    // Both connections closed in the table (a FIN each way, an RST), lingered 1 s, and left the
    // map with the table. (Anything else, such as ICMP, may stay.)
    let r = wait_record(&stats, Duration::from_secs(10), |r| {
        r["flow_table"]["closed"].as_u64().unwrap_or(0) >= 2 && fp(r, "removed") >= 2
    });
    assert_eq!(r["flow_table"]["expired"].as_u64(), Some(0), "no flow ended idle: {r}");
    assert!(fp(&r, "installed") >= 2, "both connections went to the kernel once decided: {}", r["fastpath"]);
    assert!(fp(&r, "packets") >= 40, "the kernel carried the middle of each connection: {}", r["fastpath"]);
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
}

#[test]
fn killed_or_hung_weir_fails_open_without_a_bridge_and_a_restart_rebuilds() {
    if !lab_available("killed_or_hung_weir_fails_open_without_a_bridge_and_a_restart_rebuilds") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-failopen");
    if off_only(&lab, &dir) {
        return;
    }
    // SIGKILL: the sockets are gone, the program stays and sends every frame to the other NIC.
    let weir = Weir::start(WEIR, &lab, &dir, BASE);
    assert!(first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(5)).is_some());
    kill(weir.pid(), "KILL");
    drop(weir);
    // IPv6 was never seen by weir: neighbour discovery and the echoes all go past the sockets.
    let t = first_answer(&lab, Ns::In, OUT_V6, Duration::from_secs(3));
    assert!(t.is_some_and(|t| t < Duration::from_secs(1)), "ping after SIGKILL took {t:?}");
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(String::from_utf8_lossy(&link.stdout).contains("weir_xdp"), "the program stays attached");

    // Restart: the leftover is removed, the maps rebuilt, and weir is back in the path.
    let weir = Weir::start(WEIR, &lab, &dir, BASE);
    assert!(weir.stderr_text().contains("event=fastpath state=on"), "{}", weir.stderr_text());
    assert!(weir.stderr_text().contains("removed a leftover XDP program"), "{}", weir.stderr_text());
    assert!(first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(5)).is_some());

    // SIGSTOP: the sockets stay, but the heartbeat stops: after watchdog_ms (500) the program
    // goes past them. IPv6 is new to this weir, so only the watchdog lets it through.
    kill(weir.pid(), "STOP");
    let t = first_answer(&lab, Ns::In, OUT_V6, Duration::from_secs(3));
    kill(weir.pid(), "CONT");
    assert!(t.is_some_and(|t| t < Duration::from_secs(1)), "ping after SIGSTOP took {t:?}");
    // Woken up, weir is in the path again and stops cleanly.
    std::thread::sleep(Duration::from_millis(300));
    assert!(first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(3)).is_some());
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    assert!(summary_fastpath(&summary).bypassed > 0, "{:?}", summary.fastpath);
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(!String::from_utf8_lossy(&link.stdout).contains("prog/xdp"), "a clean stop detaches the program");
}

#[test]
fn fail_closed_drops_undecided_frames_and_keeps_decided_verdicts() {
    if !lab_available("fail_closed_drops_undecided_frames_and_keeps_decided_verdicts") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-closed");
    if off_only(&lab, &dir) {
        return;
    }
    let weir = Weir::start(WEIR, &lab, &dir, &format!("{BASE}[fastpath]\nfail = \"closed\"\n"));
    // IPv4 ICMP is decided (forward) and installed; IPv6 never reaches weir before the kill.
    assert!(first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(5)).is_some());
    std::thread::sleep(Duration::from_millis(200));
    kill(weir.pid(), "KILL");
    drop(weir);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(2)).is_some(),
        "a decided flow keeps its verdict after the kill"
    );
    assert!(first_answer(&lab, Ns::In, OUT_V6, Duration::from_secs(2)).is_none(), "fail closed: nothing else passes");
    // The next start cleans up; a clean stop leaves nothing attached.
    let weir = Weir::start(WEIR, &lab, &dir, BASE);
    assert!(first_answer(&lab, Ns::In, OUT_V6, Duration::from_secs(5)).is_some());
    let (code, stderr, _) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_reload_applies_to_a_decided_flow_at_its_next_frame() {
    if !lab_available("a_reload_applies_to_a_decided_flow_at_its_next_frame") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-reload");
    if off_only(&lab, &dir) {
        return;
    }
    let cfg = dir.path("reload.toml");
    std::fs::write(&cfg, BASE).unwrap();
    let mut weir = Weir::spawn(WEIR, &lab, &cfg, &dir.path("reload-summary.json"), &[]);
    let (mut server, mut out) = helper(&lab, Ns::Out, UDP_SERVER, &["53", "8", "echo"]);
    let got = run_out(&lab, Ns::In, UDP_CLIENT, &[OUT_V4, "53", "100", "40000", DNS_QUERY, "wait"]);
    assert_eq!(got, "100", "forwarded (in the kernel once decided)");
    // The same flow, after a reload that drops DNS: the kernel's entry is of the old generation,
    // so the flow's next frame is decided again in user space, and dropped.
    std::fs::write(&cfg, format!("{BASE}[policy.protocols]\ndns = \"drop\"\n")).unwrap();
    kill(weir.pid(), "HUP");
    weir.wait_for("generation=2", Duration::from_secs(10));
    run_out(&lab, Ns::In, UDP_CLIENT, &[OUT_V4, "53", "50", "40000", DNS_QUERY, "nowait"]);
    let _ = server.wait();
    assert_eq!(out.next().map(Result::unwrap).as_deref(), Some("100"), "no query passed after the reload");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    let dns = summary.protocol("dns");
    assert_eq!((dns.packets_out, dns.packets_in, dns.dropped_out), (150, 100, 50), "{dns:?}");
    let f = summary_fastpath(&summary);
    assert!(f.packets >= 190, "forwarded and then dropped in the kernel: {f:?}");
}

/// The IPv6 versions of the UDP helpers.
fn v6(script: &str) -> String {
    script.replace("socket.AF_INET,", "socket.AF_INET6,").replace("\"0.0.0.0\"", "\"::\"")
}

#[test]
fn an_ipv6_flow_is_decided_in_the_kernel_with_exact_counters() {
    if !lab_available("an_ipv6_flow_is_decided_in_the_kernel_with_exact_counters") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-v6");
    if off_only(&lab, &dir) {
        return;
    }
    let weir = Weir::start(WEIR, &lab, &dir, BASE);
    let (server, client) = (v6(UDP_SERVER), v6(UDP_CLIENT));
    let (mut srv, mut out) = helper(&lab, Ns::Out, &server, &["53", "3", "echo"]);
    let got = run_out(&lab, Ns::In, &client, &[OUT_V6, "53", "100", "40000", DNS_QUERY, "wait"]);
    assert_eq!(got, "100");
    let _ = srv.wait();
    assert_eq!(out.next().map(Result::unwrap).as_deref(), Some("100"));
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    // 14 + 40 + 8 + 29 bytes a frame.
    let dns = summary.protocol("dns");
    assert_eq!((dns.packets_out, dns.packets_in), (100, 100), "{dns:?}");
    assert_eq!((dns.bytes_out, dns.bytes_in), (100 * 91, 100 * 91), "{dns:?}");
    let f = summary_fastpath(&summary);
    assert!(f.packets >= 190, "the IPv6 key matched in the kernel: {f:?}");
}

#[test]
fn disabled_fastpath_runs_as_before_and_says_so() {
    if !lab_available("disabled_fastpath_runs_as_before_and_says_so") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("fastpath-disabled");
    let weir = Weir::start(WEIR, &lab, &dir, &format!("{BASE}[fastpath]\nenabled = false\n"));
    assert!(first_answer(&lab, Ns::In, OUT_V4, Duration::from_secs(5)).is_some());
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(!String::from_utf8_lossy(&link.stdout).contains("weir_xdp"), "libxdp's program, not weir's");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("event=fastpath state=off"), "{stderr}");
    assert!(summary.fastpath.is_none());
    check_accounting(&summary);
}
