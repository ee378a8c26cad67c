//! A live reload of the signature file across the weir bridge: weir starts with signatures that
//! know nothing of a lab protocol (UDP datagrams opening with `LABPROTO-HELLO`), so its flows are
//! unknown and forwarded; a new signature file declares the protocol, a new policy drops it, and
//! `weir reload` puts both in force at once. New flows of it are then labelled with the new
//! protocol (by name in the stats JSON and /metrics) and dropped, other traffic goes on, and
//! every frame is accounted for (received = forwarded + dropped).
//!
//! Needs root, AF_XDP and the Debian packages in scripts/setup.sh; where the lab cannot run the
//! test says so loudly and passes, except under `CI=true`, where it fails.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use weir_testkit::bridge::{TempDir, Weir, assert_accounted};
use weir_testkit::lab::{Lab, LabOptions, Ns, OUT_V4, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const BUILTIN: &str = include_str!("../configs/signatures.toml");
/// The lab protocol's port and another UDP port for traffic that must go on.
const LAB_PORT: u16 = 47_001;
const OTHER_PORT: u16 = 47_002;
/// Flows per round, datagrams per flow (more than `inspect.max_packets`: each flow is decided
/// while it runs, so it is counted while weir runs).
const FLOWS: u16 = 8;
const PER_FLOW: u16 = 6;

/// Signatures before the reload: the built-in ones and a protocol of the lab's that nothing sends.
fn signatures_v1() -> String {
    format!(
        "{BUILTIN}\n[[protocol]]\nname = \"labother\"\ncategory = \"other\"\n\n\
         [[signature]]\nname = \"labother-hi\"\nprotocol = \"labother\"\npattern = 'LABOTHER-HI'\nl4 = \"udp\"\noffset = 0\n"
    )
}

/// After: the same (known protocols keep their ids) and `labproto` after them.
fn signatures_v2() -> String {
    format!(
        "{}\n[[protocol]]\nname = \"labproto\"\ncategory = \"other\"\n\n\
         [[signature]]\nname = \"labproto-hello\"\nprotocol = \"labproto\"\npattern = 'LABPROTO-HELLO'\nl4 = \"udp\"\noffset = 0\npriority = 200\n",
        signatures_v1()
    )
}

fn config(dir: &Path, policy: &str) -> String {
    format!(
        "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\n\
         [rings]\nframes = 10240\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 512\n\n\
         [stats]\ninterval_s = 1\n\n\
         [control]\nsocket = \"{}\"\n\n\
         [inspect]\nsignatures = \"{}\"\nmax_packets = 4\n\n{policy}",
        dir.join("control.sock").display(),
        dir.join("signatures.toml").display(),
    )
}

/// A UDP receiver outside: counts datagrams per port for `secs` seconds, then prints
/// `port count` lines.
fn receiver(lab: &Lab, secs: u32) -> Child {
    let script = format!(
        "import socket, select, time\n\
         socks = {{}}\n\
         for p in ({LAB_PORT}, {OTHER_PORT}):\n\
         \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', p)); socks[s] = p\n\
         counts = {{p: 0 for p in socks.values()}}\n\
         end = time.time() + {secs}\n\
         print('ready', flush=True)\n\
         while time.time() < end:\n\
         \x20   r, _, _ = select.select(list(socks), [], [], 0.2)\n\
         \x20   for s in r:\n\
         \x20       s.recv(2048); counts[socks[s]] += 1\n\
         for p, n in counts.items():\n\
         \x20   print(p, n, flush=True)\n"
    );
    let mut c = lab.cmd(Ns::Out, "python3").args(["-c", &script]).stdout(Stdio::piped()).spawn().unwrap();
    // Wait for its sockets.
    let out = c.stdout.as_mut().unwrap();
    let mut b = [0u8; 6];
    std::io::Read::read_exact(out, &mut b).unwrap();
    assert_eq!(&b, b"ready\n");
    c
}

fn received(c: Child) -> (u64, u64) {
    let o = c.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let get = |port: u16| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{port} ")).and_then(|n| n.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no count for {port}: {text}"))
    };
    (get(LAB_PORT), get(OTHER_PORT))
}

/// From inside: `FLOWS` flows (source ports from `base`) of `PER_FLOW` datagrams to `port`, each
/// opening with `payload`.
fn send(lab: &Lab, base: u16, port: u16, payload: &str) {
    let script = format!(
        "import socket, time\n\
         for i in range({FLOWS}):\n\
         \x20   s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', {base} + i))\n\
         \x20   for k in range({PER_FLOW}):\n\
         \x20       s.sendto(b'{payload} %d %d' % (i, k), ('{OUT_V4}', {port})); time.sleep(0.01)\n\
         \x20   s.close()\n"
    );
    let o = lab.cmd(Ns::In, "python3").args(["-c", &script]).output().unwrap();
    assert!(o.status.success(), "sender: {}", String::from_utf8_lossy(&o.stderr));
}

fn reload(lab: &Lab, cfg: &Path) -> (i32, String) {
    let o = lab.cmd(Ns::Br, WEIR).arg("reload").arg("--config").arg(cfg).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    eprintln!("weir reload: exit {:?}\n{text}", o.status.code());
    (o.status.code().unwrap_or(-1), text)
}

/// The last interval record of `--stats-json` in which `pick` finds something, waiting up to
/// `within` for one.
fn wait_record(path: &Path, within: Duration, pick: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(v) = text.lines().rev().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|v| pick(v)) {
            return v;
        }
        assert!(Instant::now() < deadline, "no stats record as wanted in {}:\n{text}", path.display());
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn packets_out(r: &Value, protocol: &str) -> u64 {
    r["protocols"][protocol]["packets_out"].as_u64().unwrap_or(0)
}

#[test]
fn a_reload_with_new_signatures_labels_and_drops_a_new_protocol() {
    if !lab_available("a_reload_with_new_signatures_labels_and_drops_a_new_protocol") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);
    let sigs = tmp.0.join("signatures.toml");
    std::fs::write(&sigs, signatures_v1()).unwrap();
    let cfg = tmp.path("weir.toml");
    std::fs::write(&cfg, config(&tmp.0, "")).unwrap();
    let stats = tmp.path("stats.jsonl");
    let mut weir = Weir::spawn(WEIR, &lab, &cfg, &tmp.path("summary.json"), &["--stats-json", stats.to_str().unwrap()]);

    // Before: the lab protocol is unknown to weir, and forwarded.
    let rx = receiver(&lab, 4);
    send(&lab, 20_000, LAB_PORT, "LABPROTO-HELLO");
    let (lab_in, _) = received(rx);
    let sent = u64::from(FLOWS * PER_FLOW);
    assert_eq!(lab_in, sent, "before the reload every datagram goes through");
    let r = wait_record(&stats, Duration::from_secs(10), |r| packets_out(r, "unknown") >= sent);
    assert!(r["protocols"].get("labproto").is_none(), "no such protocol yet: {r}");

    // The reload: new signatures (same path, new text) and a policy that drops the new protocol.
    std::fs::write(&sigs, signatures_v2()).unwrap();
    std::fs::write(&cfg, config(&tmp.0, "[policy.protocols]\nlabproto = \"drop\"\n")).unwrap();
    let (code, text) = reload(&lab, &cfg);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("generation 2") && text.contains("new signatures"), "{text}");
    weir.wait_for("event=reload result=ok", Duration::from_secs(10));

    // After: new flows of it are labelled labproto and dropped; other traffic goes on.
    let rx = receiver(&lab, 5);
    send(&lab, 30_000, LAB_PORT, "LABPROTO-HELLO");
    send(&lab, 31_000, OTHER_PORT, "SOMETHING-ELSE");
    let (lab_in, other_in) = received(rx);
    assert_eq!(lab_in, 0, "labproto went through after the reload");
    assert_eq!(other_in, sent, "other traffic was held up");
    let r = wait_record(&stats, Duration::from_secs(10), |r| {
        r["protocols"]["labproto"]["dropped_out"].as_u64().unwrap_or(0) >= sent
    });
    assert_eq!(r["protocols"]["labproto"]["category"], "other", "{r}");
    assert_eq!(r["policy"]["generation"], 2, "{r}");
    // /metrics names it too.
    let m = lab.run(Ns::Br, "curl", &["-sS", "--max-time", "5", "http://127.0.0.1:9754/metrics"]).unwrap();
    let metrics = String::from_utf8_lossy(&m.stdout);
    assert!(metrics.contains("protocol=\"labproto\""), "labproto not in /metrics:\n{metrics}");

    // A broken signature file changes nothing: refused, named, the new protocol still dropped.
    std::fs::write(&sigs, format!("{}\n[[signature]\n", signatures_v2())).unwrap();
    let (code, text) = reload(&lab, &cfg);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("inspect.signatures") && text.contains("nothing changed"), "{text}");
    let rx = receiver(&lab, 4);
    send(&lab, 32_000, LAB_PORT, "LABPROTO-HELLO");
    let (lab_in, _) = received(rx);
    assert_eq!(lab_in, 0, "the refused reload changed something");

    let (code, stderr, summary) = weir.stop();
    assert_eq!(code, 0, "weir exited with {code}; stderr:\n{stderr}");
    assert_accounted(&summary);
    let p = summary.protocol("labproto");
    assert!(p.dropped_out >= 2 * sent, "{p:?}");
    assert_eq!(p.flows, 2 * u64::from(FLOWS), "{p:?}");
    assert!(summary.protocol("unknown").packets_out >= sent);
}
