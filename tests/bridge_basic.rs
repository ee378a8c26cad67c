//! `weir run` end to end in throwaway labs (scripts/lab.sh through weir-testkit's `Lab`): the
//! bridge is transparent, byte-exact in both directions, keeps its frame accounting, restarts at
//! once, fails open when killed over a kernel bridge, and refuses bad configs before attaching.
//!
//! Each test runs the real binary under `ip netns exec` in its own uniquely named lab. Where the
//! lab cannot run (not root, no AF_XDP), the test says so loudly and returns; under `CI=true` it
//! fails instead.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use weir_testkit::bridge::{TempDir, Weir, check_accounting, random_bytes, sha256};
use weir_testkit::lab::{IN_V4, IN_V6, Lab, LabOptions, Ns, OUT_V4, OUT_V6, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

const MINIMAL: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n";

fn ping(lab: &Lab, from: Ns, to: &str, count: u32) -> bool {
    lab.run(from, "ping", &["-c", &count.to_string(), "-i", "0.2", "-W", "2", to]).unwrap().status.success()
}

/// Serve `dir` over HTTP from namespace `ns` on `port`; returns the server process.
fn http_server(lab: &Lab, ns: Ns, dir: &Path, port: u16) -> Child {
    let child = lab
        .cmd(ns, "python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "::", "--directory", dir.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Python can take seconds to start on a busy machine: wait until it answers, in its own
    // namespace (so without crossing the bridge).
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !lab.run(ns, "curl", &["-s", "-o", "/dev/null", &url]).unwrap().status.success() {
        assert!(std::time::Instant::now() < deadline, "the HTTP server in {ns:?} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn kill(mut c: Child) {
    let _ = c.kill();
    let _ = c.wait();
}

fn random_file(path: &Path, bytes: usize) {
    std::fs::write(path, random_bytes(bytes, bytes as u64)).unwrap();
}

fn curl(lab: &Lab, ns: Ns, url: &str, out: &Path) -> bool {
    let r = lab.run(ns, "curl", &["-sS", "-g", "--max-time", "60", "-o", out.to_str().unwrap(), url]).unwrap();
    if !r.status.success() {
        eprintln!("curl {url}: {}", String::from_utf8_lossy(&r.stderr));
    }
    r.status.success()
}

#[test]
fn ping_and_tcp_cross_the_bridge_both_ways_byte_identical() {
    if !lab_available("ping_and_tcp_cross_the_bridge_both_ways_byte_identical") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("basic");
    let weir = Weir::start(WEIR, &lab, &dir, MINIMAL);
    assert!(ping(&lab, Ns::In, OUT_V4, 3), "IPv4 ping inside -> outside");
    assert!(ping(&lab, Ns::Out, IN_V4, 3), "IPv4 ping outside -> inside");
    assert!(ping(&lab, Ns::In, OUT_V6, 3), "IPv6 ping inside -> outside");
    assert!(ping(&lab, Ns::Out, IN_V6, 3), "IPv6 ping outside -> inside");

    // A download each way, over IPv4 one way and IPv6 the other.
    let (srv_out, srv_in) = (dir.path("srv-out"), dir.path("srv-in"));
    std::fs::create_dir_all(&srv_out).unwrap();
    std::fs::create_dir_all(&srv_in).unwrap();
    random_file(&srv_out.join("blob"), 4 << 20);
    random_file(&srv_in.join("blob"), 3 << 20);
    let s1 = http_server(&lab, Ns::Out, &srv_out, 8080);
    let s2 = http_server(&lab, Ns::In, &srv_in, 8081);
    let got_in = dir.path("got-in");
    let got_out = dir.path("got-out");
    let ok1 = curl(&lab, Ns::In, &format!("http://{OUT_V4}:8080/blob"), &got_in);
    let ok2 = curl(&lab, Ns::Out, &format!("http://[{IN_V6}]:8081/blob"), &got_out);
    kill(s1);
    kill(s2);
    assert!(ok1 && ok2, "downloads failed: inside<-outside {ok1}, outside<-inside {ok2}");
    assert_eq!(sha256(&got_in), sha256(&srv_out.join("blob")), "outside -> inside download differs");
    assert_eq!(sha256(&got_out), sha256(&srv_in.join("blob")), "inside -> outside download differs");

    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("final counters"), "{stderr}");
    check_accounting(&summary);
    let http = summary.protocol("http");
    assert!(http.flows >= 2, "{http:?}");
    assert!(http.bytes_in > 4 << 20, "the 4 MiB download came inbound: {http:?}");
    assert!(http.bytes_out > 3 << 20, "the 3 MiB download went outbound: {http:?}");
    assert!(summary.protocol("icmp").flows > 0, "{:?}", summary.protocols);
    // No XDP program stays behind.
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(!String::from_utf8_lossy(&link.stdout).contains("prog/xdp"), "XDP program left attached");
}

/// Sends raw frames from in0 with an AF_PACKET socket and returns what out0 received, as hex.
const RAW_XMIT: &str = r#"
import socket, sys, time, binascii
frames = [binascii.unhexlify(h) for h in sys.argv[1:]]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("in0", 0))
for f in frames:
    s.send(f)
    time.sleep(0.05)
"#;
/// Receives frames on out0 and prints them as hex. The kernel's receive path moves the outer
/// 802.1Q tag into metadata before packet sockets see the frame, so the tag is put back from
/// PACKET_AUXDATA: what is printed is the frame as it was on the wire.
const RAW_RECV: &str = r#"
import socket, sys, time, binascii, select, struct
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 263, 8, 1 << 4, 1 << 6
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.bind(("out0", 0))
print("ready", flush=True)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    r, _, _ = select.select([s], [], [], 0.1)
    if not r:
        continue
    data, anc, _, addr = s.recvmsg(65535, socket.CMSG_LEN(64))
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    for level, kind, payload in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(payload) >= 20:
            status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", payload[:20])
            if status & TP_STATUS_VLAN_VALID:
                tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    print(binascii.hexlify(data).decode(), flush=True)
"#;

#[test]
fn non_ip_and_vlan_tagged_frames_pass_unchanged() {
    if !lab_available("non_ip_and_vlan_tagged_frames_pass_unchanged") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("vlan");
    let weir = Weir::start(WEIR, &lab, &dir, MINIMAL);
    let b = weir_testkit::packet::Builder::default();
    let tagged = weir_testkit::packet::Builder { vlans: vec![100, 200] };
    let frames: Vec<Vec<u8>> = vec![
        b.arp_request([198, 18, 0, 1], [198, 18, 0, 99]),
        tagged.udp(("198.18.0.1".parse().unwrap(), 4000), ("198.18.0.2".parse().unwrap(), 4001), b"tagged payload"),
        // An LLDP-like frame with an EtherType weir does not know.
        {
            let mut f = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e, 2, 0, 0, 0, 0, 1, 0x88, 0xcc];
            f.extend_from_slice(&[7u8; 46]);
            f
        },
    ];
    let hex: Vec<String> = frames.iter().map(|f| f.iter().map(|b| format!("{b:02x}")).collect()).collect();
    let recv = lab
        .cmd(Ns::Out, "python3")
        .args(["-c", RAW_RECV, "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Send only once the receiver's socket is bound (python can take seconds to start).
    let mut recv = recv;
    let mut lines = std::io::BufReader::new(recv.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().map(Result::unwrap).as_deref(), Some("ready"), "the raw receiver did not start");
    let sent = lab.cmd(Ns::In, "python3").args(["-c", RAW_XMIT]).args(&hex).status().unwrap();
    assert!(sent.success());
    let received: String = lines.map_while(Result::ok).map(|l| l + "\n").collect();
    let _ = recv.wait();
    for h in &hex {
        // Short frames may arrive padded to the 60-byte Ethernet minimum; compare the prefix.
        assert!(received.lines().any(|l| l.starts_with(h.as_str())), "frame {h} not received unchanged:\n{received}");
    }
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    assert!(summary.non_ip >= 2, "{summary:?}");
    // The NIC's VLAN stripping is back as it was.
    let k = lab.run(Ns::Br, "ethtool", &["-k", "inside"]).unwrap();
    assert!(String::from_utf8_lossy(&k.stdout).contains("rx-vlan-offload: on"), "VLAN stripping not restored");
}

#[test]
fn frames_stay_accounted_for_after_a_long_run() {
    if !lab_available("frames_stay_accounted_for_after_a_long_run") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("long");
    let weir = Weir::start(WEIR, &lab, &dir, MINIMAL);
    // Far more frames than the UMEM holds (12288), so every frame is recycled many times.
    let flood = lab.run(Ns::In, "ping", &["-f", "-c", "30000", "-s", "1000", "-W", "1", OUT_V4]).unwrap();
    assert!(flood.status.success() || !flood.stdout.is_empty(), "{}", String::from_utf8_lossy(&flood.stderr));
    let flood6 = lab.run(Ns::Out, "ping", &["-f", "-c", "10000", "-W", "1", IN_V6]).unwrap();
    assert!(flood6.status.success() || !flood6.stdout.is_empty());
    assert!(ping(&lab, Ns::In, OUT_V4, 2), "still forwarding after the flood");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    check_accounting(&summary);
    let rx = summary.interfaces.inside.received;
    assert!(rx >= 30_000, "inside received {rx}");
    assert_eq!(summary.frames[0].total, 12288);
}

#[test]
fn restart_right_after_stop_works() {
    if !lab_available("restart_right_after_stop_works") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("restart");
    for round in 0..3 {
        let weir = Weir::start(WEIR, &lab, &dir, MINIMAL);
        assert!(ping(&lab, Ns::In, OUT_V4, 2), "round {round}: no ping");
        let (code, stderr, summary) = weir.stop();
        assert_eq!(code, 0, "round {round}: {stderr}");
        check_accounting(&summary);
    }
}

#[test]
fn killed_weir_fails_open_over_a_kernel_bridge_and_the_next_start_cleans_up() {
    if !lab_available("killed_weir_fails_open_over_a_kernel_bridge_and_the_next_start_cleans_up") {
        return;
    }
    let lab = Lab::up(LabOptions { kernel_bridge: true, ..LabOptions::default() }).unwrap();
    let dir = TempDir::new("failopen");
    // Without weir's own XDP program (libxdp's redirect program): a killed weir's frames go to
    // the kernel stack, where br0 forwards them. (With it, see the end of this test and
    // tests/fastpath.rs.)
    let no_fastpath = format!("{MINIMAL}[fastpath]\nenabled = false\n[policy.protocols]\nicmp = \"drop\"\n");
    // While weir runs, the kernel bridge sees nothing: everything goes through AF_XDP.
    let weir = Weir::start(WEIR, &lab, &dir, &no_fastpath);
    assert!(!ping(&lab, Ns::In, OUT_V4, 2), "weir drops ICMP by policy, so the bridge must not see it");
    // Kill it hard: its XDP program stays, redirecting to no socket, so frames go to the kernel
    // stack, where br0 forwards them.
    let _ = Command::new("kill").args(["-KILL", &weir.pid().to_string()]).status();
    drop(weir);
    std::thread::sleep(Duration::from_millis(500));
    assert!(ping(&lab, Ns::In, OUT_V4, 3), "traffic must flow through br0 while weir is down");
    let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", "inside"]).unwrap();
    assert!(String::from_utf8_lossy(&link.stdout).contains("xdp"), "the killed weir's program is still attached");
    // The next start removes the leftover program and takes over again.
    let weir = Weir::start(WEIR, &lab, &dir, &no_fastpath);
    assert!(!ping(&lab, Ns::In, OUT_V4, 2), "weir is back in the path");
    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("removed a leftover XDP program"), "{stderr}");
    check_accounting(&summary);
    assert!(ping(&lab, Ns::In, OUT_V4, 2), "after a clean stop, br0 forwards again");

    // With the fast path (the default, unless WEIR_FASTPATH=off): a killed weir's program keeps
    // the verdicts of decided flows (the dropped ICMP stays dropped) and sends everything else
    // to the other NIC itself, before br0 sees it.
    let weir = Weir::start(WEIR, &lab, &dir, &format!("{MINIMAL}[policy.protocols]\nicmp = \"drop\"\n"));
    let fast = weir.stderr_text().contains("event=fastpath state=on");
    assert!(!ping(&lab, Ns::In, OUT_V4, 2), "weir drops ICMP by policy");
    let _ = Command::new("kill").args(["-KILL", &weir.pid().to_string()]).status();
    drop(weir);
    std::thread::sleep(Duration::from_millis(500));
    if fast {
        assert!(!ping(&lab, Ns::In, OUT_V4, 2), "the decided drop stays in force after the kill");
        assert!(ping(&lab, Ns::In, OUT_V6, 2), "undecided traffic fails open");
    } else {
        assert!(ping(&lab, Ns::In, OUT_V4, 3), "traffic must flow through br0 while weir is down");
    }
    let weir = Weir::start(WEIR, &lab, &dir, MINIMAL);
    let (code, stderr, _) = weir.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(ping(&lab, Ns::In, OUT_V4, 2), "after a clean stop, br0 forwards again");
}

/// Bad configs: a clear error naming the cause and the fix, non-zero exit, nothing attached.
#[test]
fn start_up_errors_name_the_cause_and_attach_nothing() {
    if !lab_available("start_up_errors_name_the_cause_and_attach_nothing") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("badcfg");
    let iface = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("missing-iface", "[interfaces]\ninside = \"nosuch0\"\noutside = \"outside\"\n".into(), vec!["nosuch0"]),
        ("queue", MINIMAL.replace(iface, &format!("{iface}queues = [3]\n")), vec!["interfaces.queues", "queue 3"]),
        ("bad-key", format!("{iface}colour = 1\n"), vec!["colour"]),
        ("core", format!("{MINIMAL}[workers]\ncores = [999]\n"), vec!["workers.cores[0]", "does not exist"]),
        ("policy", format!("{MINIMAL}[policy.protocols]\nbittorent = \"drop\"\n"), vec!["bittorent", "bittorrent"]),
        ("rings", format!("{iface}[rings]\nframes = 100\n"), vec!["rings.frames"]),
    ];
    for (name, config, needles) in &cases {
        let cfg = dir.path(&format!("{name}.toml"));
        std::fs::write(&cfg, config).unwrap();
        let out = lab.cmd(Ns::Br, WEIR).args(["run", "--config", cfg.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: weir started with a bad config");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: error should mention {n:?}: {stderr}");
        }
        for nic in ["inside", "outside"] {
            let link = lab.run(Ns::Br, "ip", &["-d", "link", "show", nic]).unwrap();
            assert!(!String::from_utf8_lossy(&link.stdout).contains("prog/xdp"), "{name}: XDP left on {nic}");
        }
    }
    // check-config touches nothing and agrees.
    let out = Command::new(WEIR).args(["check-config", dir.path("bad-key.toml").to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/weir.toml");
    let out = Command::new(WEIR).args(["check-config", shipped.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
