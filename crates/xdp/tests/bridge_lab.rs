//! AF_XDP end to end in a throwaway lab (scripts/lab.sh via weir-testkit's `Lab`).
//!
//! How the test enters the namespaces: a dedicated thread calls `setns(2)` on
//! `/run/netns/weir-br-NAME` and then opens the [`QueuePair`] there (setns changes only the
//! calling thread's namespace, and weir-xdp reads interface facts with ioctls in the caller's
//! namespace, so this works inside one test process). Traffic is made the same way, by threads
//! in `weir-in-NAME` and `weir-out-NAME` using raw ICMP sockets and std TCP/UDP sockets, so the
//! test needs no ping/nc binaries. The crash test re-runs this test binary as a child process
//! (`forwarder_child`, ignored unless asked for) under `ip netns exec` and SIGKILLs it.

#![allow(clippy::unwrap_used, reason = "test helpers: a failed unwrap is a failed test")]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use weir_bridge::{Inspector, Verdict, Worker, totals};
use weir_stats::SideTotals;
use weir_testkit::lab::{IN_V4, IN_V6, INSIDE_IF, Lab, LabOptions, Ns, OUT_V4, OUT_V6, OUTSIDE_IF, lab_available};
use weir_xdp::{FrameAction, FrameCensus, FramePair, Held, QueuePair, Side, XdpConfig, detach_xdp, xdp_program};

fn enter_netns(path: &Path) {
    let f = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // SAFETY: setns on a valid namespace fd; affects only this thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {}: {}", path.display(), std::io::Error::last_os_error());
}

/// Runs `f` on a new thread inside the namespace at `path`.
fn in_ns<T: Send + 'static>(path: PathBuf, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    thread::spawn(move || {
        enter_netns(&path);
        f()
    })
}

fn small_cfg() -> XdpConfig {
    // Small rings keep the UMEM at 10 MiB for tests; the rules of thumb still hold (2x).
    XdpConfig {
        rx_ring: 512,
        tx_ring: 512,
        fill_ring: 1024,
        completion_ring: 512,
        frame_count: 5120,
        ..XdpConfig::default()
    }
}

struct Bridge {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<BridgeReport>,
}

#[derive(Debug)]
struct BridgeReport {
    /// Inside, outside: as the worker published them.
    sides: [SideTotals; 2],
    closed: FrameCensus,
    xdp_after_close: [bool; 2],
    reopen_ok: bool,
    zero_copy_forwarding: bool,
}

/// Starts the bridge's worker in the bridge namespace, forwarding everything, or with
/// `drop_all` dropping everything, without inspecting.
fn start_bridge(lab: &Lab, drop_all: bool) -> Bridge {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let s = stop.clone();
    let handle = in_ns(lab.ns_path(Ns::Br), move || {
        let cfg = small_cfg();
        let pair = match QueuePair::open(INSIDE_IF, OUTSIDE_IF, 0, &cfg) {
            Ok(p) => p,
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                panic!("open: {e}");
            }
        };
        let zero_copy_forwarding = pair.zero_copy_forwarding();
        let _ = ready_tx.send(Ok(format!(
            "bind {:?}, xdp {:?}/{:?}, zero-copy forwarding {zero_copy_forwarding}",
            pair.bind_mode(),
            pair.xdp_mode(Side::Inside),
            pair.xdp_mode(Side::Outside),
        )));
        let verdict = if drop_all { Verdict::DropPolicy } else { Verdict::Forward };
        let worker = Worker::new(pair, Inspector::fixed(verdict), Instant::now());
        let view = worker.view();
        // The worker checks its census at close and fails if it does not add up.
        let exit = worker.run(&s).unwrap();
        let sides = totals(&[view], &[], 0).sides;
        let xdp_after_close = [xdp_program(INSIDE_IF).unwrap().is_some(), xdp_program(OUTSIDE_IF).unwrap().is_some()];
        // Re-open at once: the old sockets' teardown is asynchronous (EBUSY is retried).
        let reopen_ok = match QueuePair::open(INSIDE_IF, OUTSIDE_IF, 0, &cfg) {
            Ok(p) => {
                p.close().unwrap();
                xdp_program(INSIDE_IF).unwrap().is_none() && xdp_program(OUTSIDE_IF).unwrap().is_none()
            }
            Err(e) => {
                eprintln!("re-open failed: {e}");
                false
            }
        };
        BridgeReport { sides, closed: exit.census, xdp_after_close, reopen_ok, zero_copy_forwarding }
    });
    match ready_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(what)) => eprintln!("bridge up: {what}"),
        Ok(Err(e)) => panic!("bridge failed to open: {e}"),
        Err(e) => panic!("bridge did not start: {e}"),
    }
    Bridge { stop, handle }
}

impl Bridge {
    fn finish(self) -> BridgeReport {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 { u16::from_be_bytes([c[0], c[1]]) } else { u16::from(c[0]) << 8 };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends ICMP echo requests to `dst` (raw socket, in the calling thread's namespace) until a
/// reply comes or `tries` run out. Returns whether a reply came.
fn ping(dst: IpAddr, tries: u32) -> bool {
    let (domain, proto, req_type, reply_type) = match dst {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP, 8u8, 0u8),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6, 128u8, 129u8),
    };
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "raw socket: {}", std::io::Error::last_os_error());
    let tv = libc::timeval { tv_sec: 0, tv_usec: 300_000 };
    // SAFETY: `tv` is a live timeval of the size passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as u32,
        );
    }
    let sa = socket2_addr(SocketAddr::new(dst, 0));
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut ok = false;
    'outer: for seq in 0..tries {
        let mut pkt = vec![req_type, 0, 0, 0];
        pkt.extend_from_slice(&id.to_be_bytes());
        pkt.extend_from_slice(&(seq as u16).to_be_bytes());
        pkt.extend_from_slice(b"weir-xdp lab ping payload 0123456789");
        if dst.is_ipv4() {
            let c = checksum(&pkt);
            pkt[2..4].copy_from_slice(&c.to_be_bytes());
        }
        // SAFETY: `pkt` and the address are live for the call, lengths passed.
        let rc = unsafe { libc::sendto(fd, pkt.as_ptr().cast(), pkt.len(), 0, sa.0.as_ptr().cast(), sa.1) };
        assert!(rc >= 0, "sendto: {}", std::io::Error::last_os_error());
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            let mut buf = [0u8; 1500];
            // SAFETY: `buf` is live and its length passed.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                break;
            }
            let b = &buf[..n as usize];
            // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
            let icmp = if dst.is_ipv4() { &b[usize::from(b[0] & 0x0f) * 4..] } else { b };
            if icmp.len() >= 8 && icmp[0] == reply_type && icmp[4..6] == id.to_be_bytes() {
                ok = true;
                break 'outer;
            }
        }
    }
    // SAFETY: closing the descriptor made above, once.
    unsafe { libc::close(fd) };
    ok
}

/// A sockaddr for `sendto`, as bytes plus length.
fn socket2_addr(a: SocketAddr) -> (Vec<u8>, libc::socklen_t) {
    match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_in is plain old data; all zeroes is a valid (unspecified) address.
            let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            s.sin_family = libc::AF_INET as u16;
            s.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            let len = size_of::<libc::sockaddr_in>();
            // SAFETY: viewing a live POD struct as bytes.
            let bytes = unsafe { std::slice::from_raw_parts((&s as *const libc::sockaddr_in).cast::<u8>(), len) };
            (bytes.to_vec(), len as u32)
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_in6 is plain old data; all zeroes is a valid (unspecified) address.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as u16;
            s.sin6_addr.s6_addr = v6.ip().octets();
            let len = size_of::<libc::sockaddr_in6>();
            // SAFETY: viewing a live POD struct as bytes.
            let bytes = unsafe { std::slice::from_raw_parts((&s as *const libc::sockaddr_in6).cast::<u8>(), len) };
            (bytes.to_vec(), len as u32)
        }
    }
}

fn ping_from(lab: &Lab, ns: Ns, dst: &str, tries: u32) -> bool {
    let dst: IpAddr = dst.parse().unwrap();
    in_ns(lab.ns_path(ns), move || ping(dst, tries)).join().unwrap()
}

fn pattern(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Client in `in` sends `data` to a server in `out`, which echoes it back. Returns (what the
/// server got, what the client got back).
fn tcp_echo(lab: &Lab, data: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_ns(lab.ns_path(Ns::Out), move || {
        let l = TcpListener::bind((OUT_V4, 5201)).unwrap();
        tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got).unwrap();
        got
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let client = in_ns(lab.ns_path(Ns::In), move || {
        let mut s =
            TcpStream::connect_timeout(&SocketAddr::new(OUT_V4.parse().unwrap(), 5201), Duration::from_secs(10))
                .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(&data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    (server.join().unwrap(), client.join().unwrap())
}

/// Sends `n` UDP datagrams from `in` to `out`, paced in bursts; returns how many arrived.
fn udp_blast(lab: &Lab, n: u32) -> u32 {
    let (tx, rx) = std::sync::mpsc::channel();
    let recv = in_ns(lab.ns_path(Ns::Out), move || {
        let s = UdpSocket::bind((OUT_V4, 5301)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
        tx.send(()).unwrap();
        let mut got = 0u32;
        let mut buf = [0u8; 2048];
        while let Ok(k) = s.recv(&mut buf) {
            if k == 1000 {
                got += 1;
            }
            if got == n {
                break;
            }
        }
        got
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    in_ns(lab.ns_path(Ns::In), move || {
        let s = UdpSocket::bind((IN_V4, 0)).unwrap();
        let payload = pattern(1000);
        for i in 0..n {
            // EAGAIN/ENOBUFS under load are loss, which the caller tolerates.
            let _ = s.send_to(&payload, (OUT_V4, 5301));
            if i % 32 == 31 {
                thread::sleep(Duration::from_micros(500));
            }
        }
    })
    .join()
    .unwrap();
    recv.join().unwrap()
}

fn xdp_attached(lab: &Lab, dev: &str) -> bool {
    let out = lab.run(Ns::Br, "ip", &["-d", "link", "show", "dev", dev]).unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("prog/xdp") || text.contains(" xdp") || text.contains("xdpgeneric") || text.contains("xdpdrv")
}

#[test]
fn forwards_everything_and_accounts_for_every_frame() {
    if !lab_available("forwards_everything_and_accounts_for_every_frame") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    // Without weir nothing connects the two sides.
    assert!(!ping_from(&lab, Ns::In, OUT_V4, 2), "lab leaks: ping works without a bridge");

    let bridge = start_bridge(&lab, false);
    assert!(xdp_attached(&lab, INSIDE_IF) && xdp_attached(&lab, OUTSIDE_IF), "XDP program attached while open");
    for (from, to) in [(Ns::In, OUT_V4), (Ns::Out, IN_V4), (Ns::In, OUT_V6), (Ns::Out, IN_V6)] {
        assert!(ping_from(&lab, from, to, 10), "ping {from:?} -> {to} through weir");
    }
    let data = pattern(3 << 20);
    let (server_got, client_back) = tcp_echo(&lab, data.clone());
    assert!(
        server_got == data,
        "TCP payload differs after crossing weir ({} vs {} bytes)",
        server_got.len(),
        data.len()
    );
    assert!(client_back == data, "TCP echo differs after crossing weir back");
    let sent = 20_000;
    let got = udp_blast(&lab, sent);
    eprintln!("udp: {got}/{sent} datagrams arrived");
    assert!(got >= sent * 9 / 10, "too much UDP loss through weir: {got}/{sent}");

    let report = bridge.finish();
    eprintln!("{report:#?}");
    let [inside, outside] = report.sides;
    assert_eq!(report.closed.sum(), report.closed.total);
    assert_eq!(report.closed.tx + report.closed.completion, 0, "TX drained at close");
    assert!(report.zero_copy_forwarding, "veth pair shares one UMEM here: nothing is copied");
    assert!(inside.received >= u64::from(got) + 1000, "inside saw the blast: {inside:?}");
    assert_eq!(inside.dropped_policy + outside.dropped_policy, 0);
    assert_eq!(inside.received, inside.forwarded + inside.lost_tx_full);
    assert_eq!(outside.received, outside.forwarded + outside.lost_tx_full);
    assert_eq!(report.xdp_after_close, [false, false], "close() leaves no XDP program");
    assert!(!xdp_attached(&lab, INSIDE_IF) && !xdp_attached(&lab, OUTSIDE_IF), "ip -d link shows no xdp");
    assert!(report.reopen_ok, "re-open right after close works and closes clean");
    // And with weir gone, nothing connects the sides again.
    assert!(!ping_from(&lab, Ns::In, OUT_V4, 2));
}

#[test]
fn dropping_closure_blocks_traffic_and_counts() {
    if !lab_available("dropping_closure_blocks_traffic_and_counts") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let bridge = start_bridge(&lab, true);
    assert!(!ping_from(&lab, Ns::In, OUT_V4, 3), "ping must fail through a dropping weir");
    assert!(!ping_from(&lab, Ns::Out, IN_V6, 3), "ping v6 must fail through a dropping weir");
    let report = bridge.finish();
    let [inside, outside] = report.sides;
    // Each side sent something (ARP, neighbour solicitations, echo requests: how many in 3 s
    // depends on the kernel's retry timers), and every frame was dropped and counted.
    assert!(inside.dropped_policy >= 1, "{inside:?}");
    assert!(outside.dropped_policy >= 1, "{outside:?}");
    assert_eq!(inside.forwarded + outside.forwarded, 0);
    assert_eq!(inside.received, inside.dropped_policy);
    assert_eq!(outside.received, outside.dropped_policy);
    assert_eq!(report.closed.sum(), report.closed.total);
    assert_eq!(report.xdp_after_close, [false, false]);
}

/// What the holding forwarder of [`held_frames_released_a_pass_later_cross_the_bridge`] saw.
#[derive(Debug)]
struct HoldReport {
    counters: weir_xdp::PairCounters,
    closed: FrameCensus,
    /// Frames whose bytes differed between hold and release.
    changed: u64,
    /// Frames still held when the stop came (dropped by close).
    left: usize,
}

/// A real pair driven by hand: every frame is held, and released to send one pass later at
/// most (within the other side's TX budget), as the shaper does.
#[test]
fn held_frames_released_a_pass_later_cross_the_bridge() {
    if !lab_available("held_frames_released_a_pass_later_cross_the_bridge") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = in_ns(lab.ns_path(Ns::Br), move || {
        let mut pair = QueuePair::open(INSIDE_IF, OUTSIDE_IF, 0, &small_cfg()).unwrap();
        ready_tx.send(()).unwrap();
        // Per receive side: held frames with a digest of their bytes, oldest first.
        let mut queues: [std::collections::VecDeque<(Held, u64)>; 2] = Default::default();
        let digest = |b: &[u8]| {
            b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3))
        };
        let mut changed = 0u64;
        while !s.load(Ordering::Relaxed) {
            // Release what earlier passes held, within the budget of the side it leaves by.
            for side in Side::BOTH {
                let budget = pair.tx_room(side.other()) as usize;
                for _ in 0..budget {
                    let Some((h, d)) = queues[side.index()].pop_front() else { break };
                    if pair.with_held(h, |b| digest(b)) != Some(d) {
                        changed += 1;
                    }
                    assert!(pair.release(h, true));
                }
            }
            pair.flush_released();
            let r = pair.poll_hold(|side, bytes, h| {
                queues[side.index()].push_back((h, digest(bytes)));
                FrameAction::Hold
            });
            let c = pair.census();
            assert_eq!(c.sum(), c.total);
            if r.received == 0 && queues.iter().all(|q| q.is_empty()) {
                pair.wait(Duration::from_millis(10)).unwrap();
            }
        }
        let left = queues.iter().map(|q| q.len()).sum();
        let counters = *pair.counters();
        let closed = FramePair::close(pair).unwrap();
        HoldReport { counters, closed, changed, left }
    });
    ready_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    for (from, to) in [(Ns::In, OUT_V4), (Ns::Out, IN_V4), (Ns::In, OUT_V6), (Ns::Out, IN_V6)] {
        assert!(ping_from(&lab, from, to, 10), "ping {from:?} -> {to} through a holding pair");
    }
    let data = pattern(1 << 20);
    let (server_got, client_back) = tcp_echo(&lab, data.clone());
    assert!(server_got == data && client_back == data, "TCP payload differs after being held");
    stop.store(true, Ordering::Relaxed);
    let report = handle.join().unwrap();
    eprintln!("{report:?}");
    assert_eq!(report.changed, 0, "held bytes changed while held");
    for side in Side::BOTH {
        let c = report.counters.side(side);
        assert!(c.forwarded > 0, "{side:?}: {c:?}");
        assert_eq!(c.rx_frames, c.forwarded + c.dropped + c.tx_full + c.held, "{side:?}: {c:?}");
        assert_eq!(c.dropped, 0, "{side:?}: nothing is dropped while running: {c:?}");
    }
    assert_eq!(report.counters.inside.held + report.counters.outside.held, report.left as u64);
    assert_eq!(report.closed.held, 0);
    assert_eq!(report.closed.sum(), report.closed.total);
}

/// Child process for the crash test: forwards between `inside` and `outside` of the namespace
/// it was started in until killed. Does nothing unless WEIR_XDP_CHILD=1.
#[test]
#[ignore = "helper: run by killed_forwarder_fails_open as a child process"]
fn forwarder_child() {
    if std::env::var("WEIR_XDP_CHILD").as_deref() != Ok("1") {
        return;
    }
    let pair = QueuePair::open(INSIDE_IF, OUTSIDE_IF, 0, &small_cfg()).unwrap();
    println!("READY");
    std::io::stdout().flush().unwrap();
    // Never stopped: it runs until the test kills it.
    let never = AtomicBool::new(false);
    let _ = Worker::new(pair, Inspector::fixed(Verdict::Forward), Instant::now()).run(&never);
}

#[test]
fn killed_forwarder_fails_open_over_a_kernel_bridge() {
    if !lab_available("killed_forwarder_fails_open_over_a_kernel_bridge") {
        return;
    }
    let lab = Lab::up(LabOptions { queues: 1, kernel_bridge: true }).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = lab
        .cmd(Ns::Br, exe.to_str().unwrap())
        .args(["--ignored", "--exact", "forwarder_child", "--nocapture", "--test-threads=1"])
        .env("WEIR_XDP_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("READY") {
        assert!(Instant::now() < deadline, "child never got ready");
        let mut b = [0u8; 256];
        let n = out.read(&mut b).unwrap();
        assert!(n > 0, "child exited: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&b[..n]);
    }
    assert!(ping_from(&lab, Ns::In, OUT_V4, 10), "ping through the running forwarder");
    child.kill().unwrap(); // SIGKILL to our own child, by pid
    child.wait().unwrap();
    // The program stays attached after a crash (netlink attach, refcount never released) ...
    assert!(xdp_attached(&lab, INSIDE_IF) && xdp_attached(&lab, OUTSIDE_IF), "program left behind by SIGKILL");
    // ... and with the XSKMAP entry gone it returns XDP_PASS: the kernel bridge carries traffic.
    assert!(ping_from(&lab, Ns::In, OUT_V4, 10), "fail-open: ping over br0 after weir died");
    assert!(ping_from(&lab, Ns::Out, IN_V6, 10), "fail-open v6");
    // detach_xdp() (what weir does at start) removes the stale program.
    let cleaned = in_ns(lab.ns_path(Ns::Br), || {
        (detach_xdp(INSIDE_IF).unwrap(), detach_xdp(OUTSIDE_IF).unwrap(), detach_xdp(INSIDE_IF).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(cleaned, (true, true, false));
    assert!(!xdp_attached(&lab, INSIDE_IF) && !xdp_attached(&lab, OUTSIDE_IF));
    assert!(ping_from(&lab, Ns::In, OUT_V4, 10));
}
