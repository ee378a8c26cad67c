//! Running the real `weir` binary in a lab, for end-to-end tests.

use crate::lab::{Lab, Ns};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after `tag` and this process.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("weir-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `weir run` in a lab's bridge namespace.
pub struct Weir {
    child: Option<Child>,
    stderr: mpsc::Receiver<String>,
    lines: Vec<String>,
    text: std::sync::Arc<std::sync::Mutex<String>>,
    summary: PathBuf,
}

impl Weir {
    /// Start `weir` (the binary at `exe`) with `config` (TOML) in the lab's bridge namespace,
    /// with `extra` arguments, and wait until it has bound its sockets.
    pub fn start(exe: &str, lab: &Lab, dir: &TempDir, config: &str) -> Weir {
        Weir::start_with(exe, lab, dir, config, &[])
    }

    /// As [`Weir::start`], with extra command-line arguments.
    pub fn start_with(exe: &str, lab: &Lab, dir: &TempDir, config: &str, extra: &[&str]) -> Weir {
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let cfg = dir.path(&format!("weir-{n}.toml"));
        std::fs::write(&cfg, config).unwrap();
        Weir::spawn(exe, lab, &cfg, &dir.path(&format!("summary-{n}.json")), extra)
    }

    /// Start `weir run --config CONFIG --summary-json SUMMARY EXTRA...` in the lab's bridge
    /// namespace and wait (at most 30 s) until it is ready (sockets bound, workers running).
    pub fn spawn(exe: &str, lab: &Lab, config: &Path, summary: &Path, extra: &[&str]) -> Weir {
        let mut child = lab
            .cmd(Ns::Br, exe)
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--summary-json")
            .arg(summary)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&text);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(mut t) = sink.lock() {
                    t.push_str(&line);
                    t.push('\n');
                }
                // The receiver may be gone (weir stopped); the text above still has the line.
                let _ = tx.send(line);
            }
        });
        let mut w = Weir { child: Some(child), stderr: rx, lines: Vec::new(), text, summary: summary.to_path_buf() };
        // `event=ready`: every socket bound, privileges dropped, the workers running.
        w.wait_for("event=ready", Duration::from_secs(30));
        w
    }

    /// Wait until weir prints a stderr line containing `needle`; panics after `timeout`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.stderr.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.lines.push(line);
                    if hit {
                        return;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("weir never printed {needle:?}; stderr:\n{}", self.lines.join("\n"));
    }

    /// Everything weir printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGTERM, wait, and return the exit code, stderr and the summary JSON.
    pub fn stop(mut self) -> (i32, String, Value) {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("weir did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            self.lines.push(line);
        }
        let stderr = self.lines.join("\n");
        let summary =
            std::fs::read_to_string(&self.summary).unwrap_or_else(|e| panic!("no summary ({e}); stderr:\n{stderr}"));
        (status.code().unwrap_or(-1), stderr, serde_json::from_str(&summary).unwrap())
    }
}

impl Drop for Weir {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The invariants every run must keep: per interface, received = forwarded + dropped, and every
/// worker's frames accounted for.
pub fn check_accounting(summary: &Value) {
    for side in ["inside", "outside"] {
        let s = &summary["interfaces"][side];
        let n = |k: &str| s[k].as_u64().unwrap();
        assert_eq!(
            n("received"),
            n("forwarded") + n("dropped_policy") + n("dropped_malformed") + n("lost_tx_full"),
            "{side}: {s}"
        );
    }
    let frames = summary["frames"].as_array().unwrap();
    assert!(!frames.is_empty());
    for f in frames {
        assert_eq!(f["accounted"], Value::Bool(true), "{f}");
        assert_eq!(f["in_batch"].as_u64(), Some(0), "{f}");
    }
}

/// weir's `--summary-json` object.
#[derive(Debug)]
pub struct Summary(pub Value);

/// One row of the summary's `protocols` array (zeros when the protocol is absent).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolRow {
    /// Flows labelled with it.
    pub flows: u64,
    /// Packets inside to outside.
    pub packets_out: u64,
    /// Packets outside to inside.
    pub packets_in: u64,
    /// Bytes inside to outside.
    pub bytes_out: u64,
    /// Bytes outside to inside.
    pub bytes_in: u64,
    /// Packets dropped inside to outside.
    pub dropped_out: u64,
    /// Packets dropped outside to inside.
    pub dropped_in: u64,
}

fn field(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("summary field {key} missing or not a count in {v}"))
}

impl Summary {
    /// The row for `protocol`, all zeros if weir never saw it.
    pub fn protocol(&self, protocol: &str) -> ProtocolRow {
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
    /// [`check_accounting`], and both NICs received something.
    pub fn assert_accounted(&self) {
        assert_eq!(self.0["type"], "bridge-summary", "{}", self.0);
        check_accounting(&self.0);
        for side in ["inside", "outside"] {
            let i = &self.0["interfaces"][side];
            assert!(field(i, "received") > 0, "{side} received nothing: {i}");
        }
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so a test's payload is incompressible and
/// reproducible without a random-number crate.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
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
pub fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}
