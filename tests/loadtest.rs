//! A short load test through the real bridge: `weir gen` sends a small campus mix into the
//! inside veth for a few seconds at a modest rate, `weir sink` receives behind the bridge, and
//! the accounting must close: every generated frame is delivered to the sink, dropped by
//! weir's policy (or as malformed), or counted as lost by weir (TX full) or the kernel (frames
//! weir never received). The per-protocol packet counts weir reports must equal the
//! generator's ground truth for every protocol.
//!
//! Runs in its own uniquely named lab; where the lab cannot run (not root, no AF_XDP) it says so
//! loudly and returns, and under `CI=true` it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_testkit::bridge::{TempDir, Weir};
use weir_testkit::lab::{Lab, LabOptions, Ns, lab_available};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

const CONFIG: &str = "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\
    [rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n\
    [flows]\nclosed_linger_s = 1\n";

#[test]
fn short_load_test_accounts_for_every_frame() {
    if !lab_available("short_load_test_accounts_for_every_frame") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let dir = TempDir::new("loadtest");
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

    let profile = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/profiles/campus-2004.toml");
    let gen_report = dir.path("gen.json");
    let out = lab
        .cmd(Ns::In, WEIR)
        .args(["gen", "--profile", profile, "--iface", "in0", "--duration", "3", "--rate-pps", "5000", "--quiet"])
        .args(["--report", gen_report.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "weir gen: {}", String::from_utf8_lossy(&out.stderr));

    // Every generated TCP flow ends with FIN both ways; with a 1 s linger weir ends them and
    // books each flow's packets under its label before it stops.
    std::thread::sleep(Duration::from_millis(3000));
    // SIGTERM: the sink writes its report and exits.
    let _ = lab.run(Ns::Out, "kill", &["-TERM", &sink.id().to_string()]);
    let status = sink.wait().unwrap();
    assert!(status.success(), "weir sink exited with {status}");
    let (code, _log, summary) = weir.stop();
    assert_eq!(code, 0, "weir run exit code");

    let offered: Value = serde_json::from_str(&std::fs::read_to_string(&gen_report).unwrap()).unwrap();
    let sink: Value = serde_json::from_str(&std::fs::read_to_string(&sink_report).unwrap()).unwrap();
    let sent = offered["packets"].as_u64().unwrap();
    assert!(sent > 10_000, "only {sent} frames generated");
    let delivered = sink["received"].as_u64().unwrap();
    let inside = &summary["interfaces"]["inside"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let weir_received = n(&inside["received"]);
    let dropped = n(&inside["dropped_policy"]) + n(&inside["dropped_malformed"]);
    let lost_weir = n(&inside["lost_tx_full"]);
    // The lab's own frames (IPv6 neighbour discovery and the like) also cross: weir may have
    // received a few more frames than were generated, never fewer unless the kernel lost them.
    let lost_kernel = sent.saturating_sub(weir_received);
    assert_eq!(
        sent,
        delivered + dropped + lost_weir + lost_kernel,
        "generated {sent} != delivered {delivered} + dropped {dropped} + lost by weir {lost_weir} + lost before weir {lost_kernel}"
    );
    // Per protocol: weir counted exactly the packets the generator made of each.
    let weir_protocols: Vec<&Value> = summary["protocols"].as_array().unwrap().iter().collect();
    for g in offered["protocols"].as_array().unwrap() {
        let name = g["protocol"].as_str().unwrap();
        let w = weir_protocols.iter().find(|w| w["protocol"] == name);
        let gp = n(&g["packets_out"]) + n(&g["packets_in"]);
        let wp = w.map_or(0, |w| n(&w["packets_out"]) + n(&w["packets_in"]));
        assert_eq!(
            wp, gp,
            "{name}: weir counted {wp} packets, the generator made {gp}; weir: {}",
            summary["protocols"]
        );
        // And exactly the bytes (whole frames, trailer included: weir counts frames as they are on
        // the wire). This run sends both directions into in0, so compare the two directions' sum.
        let gb = n(&g["bytes_out"]) + n(&g["bytes_in"]);
        let wb = w.map_or(0, |w| n(&w["bytes_out"]) + n(&w["bytes_in"]));
        assert_eq!(wb, gb, "{name}: weir counted {wb} bytes, the generator made {gb}");
        let gf = n(&g["flows"]);
        let wf = w.map_or(0, |w| n(&w["flows"]));
        assert_eq!(wf, gf, "{name}: weir saw {wf} flows, the generator made {gf}");
    }
}
