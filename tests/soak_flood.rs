//! The soak and the flow flood as short CI runs of their scripts (the long runs are for the
//! figures in the README): `scripts/soak.sh 1` at a fixed 10,000 packets/s (the script's own
//! checks: every frame accounted for, loss <= 0.01%, RSS growth <= 1%, weir's counters equal the
//! generator's ground truth), and `scripts/flowflood.sh 20` (the flow table at its bound with
//! evictions, memory flat, a real HTTP download and a BitTorrent transfer classified and
//! forwarded during the flood). Each script exits non-zero if a check fails; its report is
//! printed either way.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use weir_testkit::lab::{lab_available, repo_root};

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

fn run_script(script: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts").join(script))
        .args(args)
        .env("WEIR", WEIR)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    assert!(out.status.success(), "{script} {args:?} failed:\n{text}");
    text
}

#[test]
fn soak_one_minute() {
    if !lab_available("soak_one_minute") {
        return;
    }
    let text = run_script("soak.sh", &["1"], &[("PPS", "10000")]);
    assert!(text.contains("soak: PASS"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn flow_flood_twenty_seconds() {
    if !lab_available("flow_flood_twenty_seconds") {
        return;
    }
    let text = run_script("flowflood.sh", &["20"], &[("CAPACITY", "16384")]);
    assert!(text.contains("flowflood: PASS"), "{text}");
    assert!(text.contains("new flows per second"), "{text}");
}
