//! The systemd unit and the Debian package: `systemd-analyze verify` accepts
//! packaging/weir.service, and the .deb that scripts/package.sh builds from this test's binary
//! (cargo-deb, no rebuild) holds the binary, the unit, the config as a conffile, the signature
//! file and the profiles, with the unit's hardening in place; the packaged binary checks the
//! packaged config.
//!
//! Needs systemd-analyze, cargo-deb and dpkg-deb (scripts/setup.sh installs them); without them
//! the tests say so and pass, except under `CI=true`, where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use weir_testkit::bridge::TempDir;
use weir_testkit::lab::repo_root;

const WEIR: &str = env!("CARGO_BIN_EXE_weir");

fn have(tool: &str, test: &str) -> bool {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: `{tool}` is not installed (scripts/setup.sh installs it)");
        }
        eprintln!("\n!!! SKIPPED {test}: `{tool}` is not installed (scripts/setup.sh installs it) !!!\n");
    }
    found
}

/// `systemd-analyze verify` of `unit`, with /usr/bin/weir replaced by `exe` (verify insists
/// that the binary exists).
fn verify_unit(unit: &Path, exe: &Path, dir: &TempDir) -> (bool, String) {
    let text = std::fs::read_to_string(unit).unwrap().replace("/usr/bin/weir", exe.to_str().unwrap());
    let copy = dir.path("weir.service");
    std::fs::write(&copy, text).unwrap();
    let out = Command::new("systemd-analyze").arg("verify").arg(&copy).output().unwrap();
    let msg = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && msg.trim().is_empty(), msg)
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_is_hardened() {
    if !have("systemd-analyze", "the_unit_passes_systemd_analyze_verify_and_is_hardened") {
        return;
    }
    let dir = TempDir::new("unit");
    let unit = repo_root().join("packaging/weir.service");
    let (ok, msg) = verify_unit(&unit, Path::new(WEIR), &dir);
    assert!(ok, "systemd-analyze verify: {msg}");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_XDP AF_NETLINK AF_UNIX AF_INET AF_INET6",
        "RuntimeDirectory=weir xdp",
    ] {
        assert!(text.lines().any(|l| l == line), "weir.service lacks {line:?}");
    }
    assert!(text.lines().any(|l| l.starts_with("MemoryMax=")), "no MemoryMax");
    let bounding = text.lines().find_map(|l| l.strip_prefix("CapabilityBoundingSet=")).expect("CapabilityBoundingSet");
    for cap in ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF", "CAP_SYS_ADMIN", "CAP_IPC_LOCK"] {
        assert!(bounding.split_whitespace().any(|c| c == cap), "{cap} missing from the bounding set");
    }
    assert!(!bounding.contains("CAP_DAC_OVERRIDE") && !bounding.contains("CAP_SYS_PTRACE"), "{bounding}");

    // A broken unit is refused: the check can fail.
    let broken = dir.path("broken.service");
    std::fs::write(&broken, text.replace("Type=notify", "Type=notifyy")).unwrap();
    let (ok, _) = verify_unit(&broken, Path::new(WEIR), &dir);
    assert!(!ok, "systemd-analyze accepted Type=notifyy");
}

/// Cargo's profile name for the directory the test binary lives in (target/ci -> ci).
fn profile_of(exe: &Path) -> String {
    match exe.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()) {
        Some("debug") => "dev".into(),
        Some(p) => p.into(),
        None => "release".into(),
    }
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb").args(args).arg(deb).output().unwrap();
    assert!(out.status.success(), "dpkg-deb {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_holds_the_binary_unit_config_and_data() {
    let test = "the_debian_package_holds_the_binary_unit_config_and_data";
    if !have("cargo-deb", test) || !have("dpkg-deb", test) || !have("systemd-analyze", test) {
        return;
    }
    let exe = PathBuf::from(WEIR);
    let dir = TempDir::new("deb");
    let out = Command::new("cargo")
        .current_dir(repo_root())
        .args(["deb", "--no-build", "--no-strip", "--fast", "--profile", &profile_of(&exe), "--output"])
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo deb: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");

    let contents = dpkg_deb(&["-c"], &deb);
    let paths: Vec<&str> = contents.lines().filter_map(|l| l.split_whitespace().nth(5)).collect();
    for want in [
        "./usr/bin/weir",
        "./etc/weir/weir.toml",
        "./usr/share/weir/signatures.toml",
        "./usr/share/weir/profiles/campus-2004.toml",
        "./usr/share/weir/profiles/flow-flood.toml",
        "./usr/share/doc/weir/README.md",
    ] {
        assert!(paths.contains(&want), "{want} not in the package:\n{contents}");
    }
    let unit = paths
        .iter()
        .find(|p| p.ends_with("systemd/system/weir.service"))
        .unwrap_or_else(|| panic!("no unit:\n{contents}"));
    assert!(contents.lines().any(|l| l.ends_with("./usr/bin/weir") && l.starts_with("-rwxr-xr-x")), "{contents}");

    let info = dpkg_deb(&["-I"], &deb);
    assert!(info.contains("Package: weir"), "{info}");
    assert!(info.contains("Section: net"), "{info}");
    let depends = info.lines().find(|l| l.trim_start().starts_with("Depends:")).unwrap_or_else(|| panic!("{info}"));
    assert!(depends.contains("libc6") && depends.contains("libelf1"), "dependencies from the binary: {depends}");
    let conffiles = dpkg_deb(&["--info"], &deb);
    assert!(conffiles.contains("conffiles"), "{conffiles}");
    let control = dir.path("control");
    let out = Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control).output().unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(control.join("conffiles")).unwrap().trim(), "/etc/weir/weir.toml");
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system") && postinst.contains("deb-systemd-helper"), "{postinst}");

    // What the package installs works together: the packaged binary accepts the packaged config
    // and systemd accepts the packaged unit pointing at it.
    let root = dir.path("root");
    let out = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root).output().unwrap();
    assert!(out.status.success());
    let bin = root.join("usr/bin/weir");
    let check = Command::new(&bin).arg("check-config").arg(root.join("etc/weir/weir.toml")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let (ok, msg) = verify_unit(&root.join(unit.trim_start_matches("./")), &bin, &dir);
    assert!(ok, "the packaged unit: {msg}");
    assert_eq!(
        std::fs::read(root.join("etc/weir/weir.toml")).unwrap(),
        std::fs::read(repo_root().join("configs/weir.toml")).unwrap()
    );
}
