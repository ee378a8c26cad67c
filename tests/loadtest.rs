//! Short load tests through the real bridge, checking that the accounting closes: every
//! generated frame is delivered, dropped by weir's policy (or as malformed), or counted as lost
//! by weir (TX full) or the kernel (frames weir never received); and that weir's per-protocol
//! flows, packets and bytes equal the generator's ground truth.
//!
//! - Two-sided, as `scripts/loadtest.sh` runs it: `weir gen` sends each frame from its host's
//!   side (in0 or out0) and measures what arrives with the same sockets (`--sink-report`), so
//!   the comparison holds direction by direction.
//! - Two queues: a lab whose veths have two queues, so weir runs two workers; `weir gen
//!   --threads 2` sends from both queues of in0, and `weir sink` receives on both of out0.
//! - Tunnels: the two-sided test with `configs/profiles/tunnels.toml`, whose flows travel in
//!   PPPoE, MPLS and VXLAN: weir counts each under its inner flow's protocol, at its whole length.
//!
//! Each runs in its own uniquely named lab; where the lab cannot run (not root, no AF_XDP) it
//! says so loudly and returns, and under `CI=true` it fails instead.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_testkit::bridge::{BridgeSummary, TempDir, Weir};
use weir_testkit::lab::{Lab, LabOptions, Ns, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");
const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/profiles/campus-2004.toml");
const TUNNELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/profiles/tunnels.toml");

const CONFIG: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n\
    [flows]\nclosed_linger_s = 1\n";

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Checks weir's summary and the sink's report against the generator's: every frame accounted
/// for, and per protocol the same flows, packets and bytes. With `by_direction`, each
/// direction on its own (inside hosts' frames entered on `inside`); otherwise the sum of both
/// (everything was sent into in0).
fn check(offered: &Value, sink: &Value, summary: &BridgeSummary, by_direction: bool) {
    let sent = n(&offered["packets"]);
    assert!(sent > 10_000, "only {sent} frames generated");
    let delivered = n(&sink["received"]);
    let (inside, outside) = (&summary.interfaces.inside, &summary.interfaces.outside);
    let dropped = inside.dropped_policy + outside.dropped_policy + inside.dropped_malformed + outside.dropped_malformed;
    let lost_weir = inside.lost_tx_full + outside.lost_tx_full;
    let protos = offered["protocols"].as_array().unwrap();
    let from = |key: &str| protos.iter().map(|p| n(&p[key])).sum::<u64>();
    // The lab's own frames (IPv6 neighbour discovery and the like) also cross: weir may have
    // received a few more frames than were generated, never fewer unless the kernel lost them.
    let lost_kernel = if by_direction {
        from("packets_out").saturating_sub(inside.received) + from("packets_in").saturating_sub(outside.received)
    } else {
        sent.saturating_sub(inside.received)
    };
    assert_eq!(
        sent,
        delivered + dropped + lost_weir + lost_kernel,
        "generated {sent} != delivered {delivered} + dropped {dropped} + lost by weir {lost_weir} + lost before weir {lost_kernel}"
    );
    let sink_protocols = sink["protocols"].as_array().unwrap();
    for g in protos {
        let name = g["protocol"].as_str().unwrap();
        // The summary's row, as JSON, so the generator's and the sink's rows are read alike.
        let w = serde_json::to_value(summary.protocol(name)).unwrap_or(Value::Null);
        let w = &w;
        let s = sink_protocols.iter().find(|s| s["protocol"] == name).unwrap_or(&Value::Null);
        let keys: &[&[&str]] = if by_direction {
            &[&["flows"], &["packets_out"], &["packets_in"], &["bytes_out"], &["bytes_in"]]
        } else {
            &[&["flows"], &["packets_out", "packets_in"], &["bytes_out", "bytes_in"]]
        };
        for k in keys {
            let sum = |v: &Value| k.iter().map(|k| n(&v[*k])).sum::<u64>();
            let (gv, wv) = (sum(g), sum(w));
            assert_eq!(
                wv, gv,
                "{name} {k:?}: weir counted {wv}, the generator made {gv}; weir: {:?}",
                summary.protocols
            );
            // Nothing was lost here (the rates are modest), so the sink saw it all too.
            if lost_kernel + lost_weir + dropped == 0 {
                let sv = sum(s);
                assert_eq!(sv, gv, "{name} {k:?}: the sink received {sv}, the generator made {gv}");
            }
        }
    }
    assert_eq!(n(&sink["lost_in_stream"]), 0, "the sink saw gaps in streams: {sink}");
}

#[test]
fn two_sided_load_test_matches_the_ground_truth_by_direction() {
    if !lab_available("two_sided_load_test_matches_the_ground_truth_by_direction") {
        return;
    }
    two_sided(PROFILE, "loadtest2");
}

#[test]
fn tunnelled_load_test_matches_the_ground_truth_by_direction() {
    if !lab_available("tunnelled_load_test_matches_the_ground_truth_by_direction") {
        return;
    }
    let offered = two_sided(TUNNELS, "loadtesttun");
    // The profile does tunnel most of its bytes (the ground truth alone cannot tell).
    let protos: Vec<&str> =
        offered["protocols"].as_array().unwrap().iter().map(|p| p["protocol"].as_str().unwrap()).collect();
    for p in ["bittorrent", "http", "directconnect", "smtp", "tls", "dns", "edonkey", "ssh"] {
        assert!(protos.contains(&p), "{p} not generated: {protos:?}");
    }
}

/// Runs `profile` two-sided through a fresh lab's bridge for 3 s and checks the accounting by
/// direction; returns the generator's report.
fn two_sided(profile: &str, tag: &str) -> Value {
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new(tag);
    let weir = Weir::start(WEIR, &lab, &dir, CONFIG);
    let (gen_report, sink_report) = (dir.path("gen.json"), dir.path("sink.json"));
    let out_ns = lab.ns(Ns::Out);
    let out = lab
        .cmd(Ns::In, WEIR)
        .args(["gen", "--profile", profile, "--iface", "in0", "--peer-iface", "out0", "--peer-netns", &out_ns])
        .args(["--duration", "3", "--rate-pps", "5000", "--quiet"])
        .args(["--report", gen_report.to_str().unwrap(), "--sink-report", sink_report.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "weir gen: {}", String::from_utf8_lossy(&out.stderr));
    // Every generated TCP flow ends with FIN both ways; with a 1 s linger weir ends them and
    // books each flow's packets under its label before it stops.
    std::thread::sleep(Duration::from_millis(2000));
    let (code, _log, summary) = weir.stop();
    assert_eq!(code, 0, "weir run exit code");
    let offered = read_json(&gen_report);
    check(&offered, &read_json(&sink_report), &summary, true);
    offered
}

#[test]
fn two_generator_threads_on_two_queues_keep_the_ground_truth_exact() {
    if !lab_available("two_generator_threads_on_two_queues_keep_the_ground_truth_exact") {
        return;
    }
    let lab = Lab::up(LabOptions { queues: 2, ..LabOptions::default() }).unwrap();
    let dir = TempDir::new("loadtestq2");
    let weir = Weir::start(WEIR, &lab, &dir, CONFIG);

    let (sink_report, ready) = (dir.path("sink.json"), dir.path("ready"));
    let mut sink = lab
        .cmd(Ns::Out, WEIR)
        .args(["sink", "--iface", "out0", "--report", sink_report.to_str().unwrap()])
        .args(["--ready-file", ready.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready.exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "weir sink did not bind");
        std::thread::sleep(Duration::from_millis(50));
    }
    let gen_report = dir.path("gen.json");
    let out = lab
        .cmd(Ns::In, WEIR)
        .args(["gen", "--profile", PROFILE, "--iface", "in0", "--threads", "2", "--duration", "3"])
        .args(["--rate-pps", "6000", "--quiet", "--report", gen_report.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "weir gen: {}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_millis(2000));
    // SIGTERM: the sink writes its report and exits.
    let _ = lab.run(Ns::Out, "kill", &["-TERM", &sink.id().to_string()]);
    let status = sink.wait().unwrap();
    assert!(status.success(), "weir sink exited with {status}");
    let (code, log, summary) = weir.stop();
    assert_eq!(code, 0, "weir run exit code");
    // Both weir workers were started, and the two senders' frames arrived on both queues.
    assert!(log.contains("queue=0") && log.contains("queue=1"), "weir did not start a worker per queue: {log}");
    let offered = read_json(&gen_report);
    assert_eq!(n(&offered["threads"]), 2);
    let sink = read_json(&sink_report);
    check(&offered, &sink, &summary, false);
}

#[test]
fn gen_thread_errors_name_the_fix() {
    if !lab_available("gen_thread_errors_name_the_fix") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let run = |args: &[&str]| {
        let out = lab
            .cmd(Ns::In, WEIR)
            .arg("gen")
            .args(["--profile", PROFILE, "--iface", "in0"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "weir gen {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["--threads", "2"]);
    assert!(e.contains("--threads 2") && e.contains("in0") && e.contains("has 1"), "{e}");
    let e = run(&["--threads", "1", "--cores", "0,1"]);
    assert!(e.contains("--cores") && e.contains("one core per thread"), "{e}");
    let e = run(&["--cores", "4096"]);
    assert!(e.contains("core 4096"), "{e}");
}
