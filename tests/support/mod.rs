//! Shared helpers for the real-client lab tests: the `weir run` process in a lab's bridge
//! namespace, its `--summary-json` output, `scripts/lab-traffic.sh` as a guard that stops every
//! client it started, and a per-test temp dir that is always removed.
//!
//! Drop order matters: declare the [`Lab`] first, then [`Traffic`], [`WeirRun`] and [`TempDir`], so
//! they are dropped (clients stopped, weir killed, files removed) before the namespaces go.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use weir_testkit::bridge::Weir;
pub(crate) use weir_testkit::bridge::{BridgeSummary as Summary, TempDir, assert_accounted, random_bytes, sha256};
use weir_testkit::lab::Lab;

/// Path of `scripts/lab-traffic.sh`.
pub(crate) fn traffic_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("lab-traffic.sh")
}

/// `scripts/lab-traffic.sh` for one lab; `stop` runs on drop, also while unwinding.
pub(crate) struct Traffic {
    lab: String,
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Traffic {
    /// The script bound to `lab`.
    pub(crate) fn new(lab: &Lab) -> Traffic {
        Traffic { lab: lab.name.clone() }
    }

    fn command(&self, sub: &str, args: &[&str]) -> Command {
        let mut c = Command::new("bash");
        c.arg(traffic_script()).arg(sub).arg(&self.lab).args(args).stdin(Stdio::null());
        c
    }

    /// Runs `lab-traffic.sh SUB NAME ARGS...` and returns its output, whatever its status.
    pub(crate) fn run(&self, sub: &str, args: &[&str]) -> Output {
        self.command(sub, args).output().unwrap_or_else(|e| panic!("cannot run lab-traffic.sh {sub}: {e}"))
    }

    /// Like [`Traffic::run`], and panics with the script's output unless it succeeds.
    pub(crate) fn ok(&self, sub: &str, args: &[&str]) -> Output {
        let out = self.run(sub, args);
        assert!(out.status.success(), "lab-traffic.sh {sub} {}: {}", args.join(" "), show(&out));
        eprintln!("lab-traffic.sh {sub}: {}", String::from_utf8_lossy(&out.stdout).trim_end());
        out
    }

    /// Starts `lab-traffic.sh SUB NAME ARGS...` in the background (output to files in `logs`).
    pub(crate) fn spawn(&self, sub: &str, args: &[&str], logs: &Path) -> Child {
        let out = std::fs::File::create(logs.join(format!("{sub}.out"))).unwrap();
        let err = std::fs::File::create(logs.join(format!("{sub}.err"))).unwrap();
        self.command(sub, args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start lab-traffic.sh {sub}: {e}"))
    }

    /// Stops every client the script started in this lab (idempotent).
    pub(crate) fn stop(&self) {
        let out = self.run("stop", &[]);
        if !out.status.success() {
            eprintln!("lab-traffic.sh stop {}: {}", self.lab, show(&out));
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits for `child` at most `bound`; kills it (SIGKILL) and panics when it takes longer.
pub(crate) fn wait_bounded(child: &mut Child, bound: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if start.elapsed() < bound => thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} still running after {bound:?}: killed");
            }
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

/// Writes a weir config for the lab's `inside`/`outside` NICs with small rings (a 40 MiB UMEM, so
/// several labs fit side by side) and the given `[policy.protocols]` lines, e.g. `bittorrent = "drop"`.
pub(crate) fn write_config(dir: &Path, policy: &[&str]) -> PathBuf {
    let path = dir.join("weir.toml");
    let text = format!(
        "[interfaces]\ninside = \"inside\"\noutside = \"outside\"\n\n\
         [rings]\nframes = 10240\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 512\n\n\
         [policy.protocols]\n{}\n",
        policy.join("\n")
    );
    std::fs::write(&path, text).unwrap();
    let check = Command::new(env!("CARGO_BIN_EXE_weir")).arg("check-config").arg(&path).output().unwrap();
    assert!(check.status.success(), "weir check-config: {}", show(&check));
    path
}

/// `weir run` in the lab's bridge namespace (testkit's harness); killed on drop if still running.
pub(crate) struct WeirRun(Weir);

impl WeirRun {
    /// Starts `weir run --config CONFIG --summary-json DIR/summary-TAG.json` in `weir-br-NAME` and
    /// waits (at most 30 s) until it says its queue is bound.
    pub(crate) fn start(lab: &Lab, config: &Path, dir: &Path, tag: &str) -> WeirRun {
        let summary = dir.join(format!("summary-{tag}.json"));
        let weir = Weir::spawn(env!("CARGO_BIN_EXE_weir"), lab, config, &summary, &[]);
        eprintln!("weir ({tag}) is bridging, pid {}", weir.pid());
        WeirRun(weir)
    }

    /// What weir printed on stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        self.0.stderr_text()
    }

    /// SIGTERM by PID, waits at most 20 s for exit 0, and returns the parsed summary.
    pub(crate) fn stop(self) -> Summary {
        let (code, stderr, summary) = self.0.stop();
        assert_eq!(code, 0, "weir exited with {code}; stderr:\n{stderr}");
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        eprintln!("weir final lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        summary
    }
}
