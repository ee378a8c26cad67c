//! Related flows across the weir bridge, with real servers and clients from Debian: pyftpdlib
//! outside and curl inside (FTP, passive and active mode), tftpd-hpa outside and curl inside
//! (TFTP). The data connections and the TFTP transfer carry nothing a signature could match (a
//! file of random bytes); weir labels them `ftp`/`tftp` because the control flow announced them,
//! counts their bytes under that protocol, and a policy that drops the protocol drops them too.
//!
//! Needs root, AF_XDP and the Debian packages in scripts/setup.sh; where the lab cannot run the
//! tests say so loudly and pass, except under `CI=true`, where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

#[path = "support/mod.rs"]
mod support;

use support::{TempDir, Traffic, WeirRun, assert_accounted, random_bytes, sha256, write_config};
use weir_testkit::lab::{Lab, LabOptions, OUT_V4, lab_available};

/// Size of the files moved: many segments, far more bytes than the control flows carry.
const FILE_LEN: usize = 2 << 20;

#[test]
fn ftp_data_connections_are_ftp_and_dropped_with_it() {
    if !lab_available("ftp_data_connections_are_ftp_and_dropped_with_it") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);
    let pub_dir = tmp.path("pub");
    std::fs::create_dir_all(&pub_dir).unwrap();
    let file = pub_dir.join("data.bin");
    std::fs::write(&file, random_bytes(FILE_LEN, 0xf7f7)).unwrap();
    let url = format!("ftp://{OUT_V4}/data.bin");

    // Forwarding: a passive and an active download complete, and their data connections are ftp.
    {
        let traffic = Traffic::new(&lab);
        let weir = WeirRun::start(&lab, &write_config(&tmp.0, &[]), &tmp.0, "ftp-forward");
        traffic.ok("ftp-serve", &["out", pub_dir.to_str().unwrap()]);
        for mode in ["passive", "active"] {
            let got = tmp.path(&format!("{mode}.got"));
            let out = traffic.run("ftp-get", &["in", &url, got.to_str().unwrap(), "60", mode]);
            assert!(
                out.status.success(),
                "{mode} FTP download failed across a forwarding bridge: {}\nweir:\n{:?}",
                String::from_utf8_lossy(&out.stderr),
                weir.stderr_text()
            );
            assert_eq!(sha256(&got), sha256(&file), "{mode} download differs");
        }
        traffic.stop();
        let summary = weir.stop();
        assert_accounted(&summary);
        let ftp = summary.protocol("ftp");
        eprintln!("ftp (forward): {ftp:?}");
        // Two control connections and at least one data connection each (curl lists nothing).
        assert!(ftp.flows >= 4, "the data connections are not labelled ftp: {:?}", summary.protocols);
        assert!(
            ftp.bytes_in >= 2 * FILE_LEN as u64,
            "both downloads' bytes should count as ftp inbound: {ftp:?}\n{:?}",
            summary.protocols
        );
        let unknown = summary.protocol("unknown");
        assert!(unknown.bytes_in < (FILE_LEN / 8) as u64, "the downloads were left unknown: {unknown:?}");
        assert_eq!(ftp.dropped_out + ftp.dropped_in, 0, "{ftp:?}");
    }

    // Dropping ftp: no download gets through, and nothing of it is counted as another protocol.
    let traffic = Traffic::new(&lab);
    let cfg = tmp.path("drop");
    std::fs::create_dir_all(&cfg).unwrap();
    let weir = WeirRun::start(&lab, &write_config(&cfg, &["ftp = \"drop\""]), &tmp.0, "ftp-drop");
    traffic.ok("ftp-serve", &["out", pub_dir.to_str().unwrap()]);
    let got = tmp.path("dropped.got");
    let out = traffic.run("ftp-get", &["in", &url, got.to_str().unwrap(), "20", "passive"]);
    assert!(!out.status.success(), "the FTP download completed although ftp is dropped");
    traffic.stop();
    let summary = weir.stop();
    assert_accounted(&summary);
    let ftp = summary.protocol("ftp");
    eprintln!("ftp (drop): {ftp:?}");
    assert!(ftp.flows > 0 && ftp.dropped_out + ftp.dropped_in > 0, "no ftp packet dropped: {:?}", summary.protocols);
    assert!(ftp.bytes_in < (FILE_LEN / 8) as u64, "ftp data came through: {ftp:?}");
}

#[test]
fn tftp_transfer_is_tftp() {
    if !lab_available("tftp_transfer_is_tftp") {
        return;
    }
    let lab = Lab::up(LabOptions::default()).unwrap();
    let tmp = TempDir::new(&lab.name);
    let root = tmp.path("tftp");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("boot.img");
    // TFTP moves 512-byte blocks one at a time: a smaller file keeps the test quick.
    std::fs::write(&file, random_bytes(256 << 10, 0x7f7f)).unwrap();
    // tftpd-hpa drops privileges: the tree must be readable by anyone.
    for p in [&tmp.0, &root] {
        std::process::Command::new("chmod").arg("755").arg(p).status().unwrap();
    }
    std::process::Command::new("chmod").arg("644").arg(&file).status().unwrap();

    let traffic = Traffic::new(&lab);
    let weir = WeirRun::start(&lab, &write_config(&tmp.0, &[]), &tmp.0, "tftp");
    traffic.ok("tftp-serve", &["out", root.to_str().unwrap()]);
    let got = tmp.path("boot.got");
    let out = traffic.run("tftp-get", &["in", &format!("tftp://{OUT_V4}/boot.img"), got.to_str().unwrap(), "60"]);
    assert!(
        out.status.success(),
        "TFTP download failed across the bridge: {}\nweir:\n{:?}",
        String::from_utf8_lossy(&out.stderr),
        weir.stderr_text()
    );
    assert_eq!(sha256(&got), sha256(&file), "TFTP download differs");
    traffic.stop();
    let summary = weir.stop();
    assert_accounted(&summary);
    let tftp = summary.protocol("tftp");
    eprintln!("tftp: {tftp:?}");
    assert!(tftp.flows >= 2, "the request and the transfer should both be tftp: {:?}", summary.protocols);
    assert!(tftp.bytes_in >= 256 << 10, "the transfer's bytes count as tftp: {tftp:?}\n{:?}", summary.protocols);
}
