//! Shared helpers for the real-client lab tests: the `weir run` process in a lab's bridge
//! namespace, its `--summary-json` output, `scripts/lab-traffic.sh` as a guard that stops every
//! client it started, and a per-test temp dir that is always removed.
//!
//! Drop order matters: declare the [`Lab`] first, then [`Traffic`], [`WeirRun`] and [`TempDir`], so
//! they are dropped (clients stopped, weir killed, files removed) before the namespaces go.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use weir_testkit::lab::{Lab, Ns};

/// Path of `scripts/lab-traffic.sh`.
pub(crate) fn traffic_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("lab-traffic.sh")
}

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// Creates `TMP/weir-clients-TAG` afresh.
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("weir-clients-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        TempDir(dir)
    }

    /// A path inside the directory.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// `weir run` in the lab's bridge namespace; killed on drop if still running.
pub(crate) struct WeirRun {
    child: Child,
    summary: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl WeirRun {
    /// Starts `weir run --config CONFIG --summary-json DIR/summary-N.json` in `weir-br-NAME` and
    /// waits (at most 30 s) until it says its queue is bound.
    pub(crate) fn start(lab: &Lab, config: &Path, dir: &Path, tag: &str) -> WeirRun {
        let summary = dir.join(format!("summary-{tag}.json"));
        let mut child = lab
            .cmd(Ns::Br, env!("CARGO_BIN_EXE_weir"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--summary-json")
            .arg(&summary)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start weir: {e}"));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        if let Some(pipe) = child.stderr.take() {
            let sink = stderr.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("queue 0:") && line.contains("bound") {
                        let _ = ready_tx.send(());
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        let mut run = WeirRun { child, summary, stderr };
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(()) => eprintln!("weir ({tag}) is bridging, pid {}", run.child.id()),
            Err(_) => {
                let _ = run.child.kill();
                let _ = run.child.wait();
                panic!("weir ({tag}) did not bind its queue within 30 s; stderr:\n{}", run.stderr_text());
            }
        }
        run
    }

    /// What weir printed on stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGTERM by PID, waits at most 20 s for exit 0, and returns the parsed summary.
    pub(crate) fn stop(mut self) -> Summary {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().map(|s| s.success()).unwrap_or(false);
        assert!(killed, "kill -TERM {pid} failed");
        let status = wait_bounded(&mut self.child, Duration::from_secs(20), "weir after SIGTERM");
        // Let the reader thread take the last lines.
        thread::sleep(Duration::from_millis(200));
        let err = self.stderr_text();
        assert!(status.success(), "weir exited with {status}; stderr:\n{err}");
        let text = std::fs::read_to_string(&self.summary)
            .unwrap_or_else(|e| panic!("no summary at {}: {e}; stderr:\n{err}", self.summary.display()));
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad summary JSON {text:?}: {e}"));
        let tail: Vec<&str> = err.lines().rev().take(12).collect();
        eprintln!("weir final lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        Summary(json)
    }
}

impl Drop for WeirRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// weir's `--summary-json` object.
#[derive(Debug)]
pub(crate) struct Summary(pub(crate) Value);

/// One row of the summary's `protocols` array (zeros when the protocol is absent).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProtocolRow {
    /// Flows labelled with it.
    pub(crate) flows: u64,
    /// Packets inside to outside.
    pub(crate) packets_out: u64,
    /// Packets outside to inside.
    pub(crate) packets_in: u64,
    /// Bytes inside to outside.
    pub(crate) bytes_out: u64,
    /// Bytes outside to inside.
    pub(crate) bytes_in: u64,
    /// Packets dropped inside to outside.
    pub(crate) dropped_out: u64,
    /// Packets dropped outside to inside.
    pub(crate) dropped_in: u64,
}

fn field(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("summary field {key} missing or not a count in {v}"))
}

impl Summary {
    /// The row for `protocol`, all zeros if weir never saw it.
    pub(crate) fn protocol(&self, protocol: &str) -> ProtocolRow {
        let rows = self.0["protocols"].as_array().unwrap_or_else(|| panic!("no protocols array in {}", self.0));
        rows.iter()
            .find(|r| r["protocol"].as_str() == Some(protocol))
            .map(|r| ProtocolRow {
                flows: field(r, "flows"),
                packets_out: field(r, "packets_out"),
                packets_in: field(r, "packets_in"),
                bytes_out: field(r, "bytes_out"),
                bytes_in: field(r, "bytes_in"),
                dropped_out: field(r, "dropped_out"),
                dropped_in: field(r, "dropped_in"),
            })
            .unwrap_or_default()
    }

    /// Every frame and packet accounted for: per interface, received = forwarded + dropped by
    /// policy + dropped malformed + lost to a full TX ring; every queue's frame census adds up.
    pub(crate) fn assert_accounted(&self) {
        assert_eq!(self.0["type"], "bridge-summary", "{}", self.0);
        for side in ["inside", "outside"] {
            let i = &self.0["interfaces"][side];
            let received = field(i, "received");
            let out = field(i, "forwarded")
                + field(i, "dropped_policy")
                + field(i, "dropped_malformed")
                + field(i, "lost_tx_full");
            assert_eq!(received, out, "{side}: received != forwarded + dropped + lost: {i}");
            assert!(received > 0, "{side} received nothing: {i}");
        }
        let frames = self.0["frames"].as_array().unwrap_or_else(|| panic!("no frames array in {}", self.0));
        assert!(!frames.is_empty(), "no queues in the frame census: {}", self.0);
        for q in frames {
            assert_eq!(q["accounted"], Value::Bool(true), "frames not accounted: {q}");
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so a test's payload is incompressible and
/// reproducible without a random-number crate.
pub(crate) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `sha256sum FILE`'s hex digest.
pub(crate) fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}: {}", path.display(), show(&out));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}
