//! Running the real `weir` binary in a lab, for end-to-end tests.

use crate::lab::{Lab, Ns};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A temp dir removed on drop.
pub struct TempDir(PathBuf);

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
        let cfg = dir.path("weir.toml");
        std::fs::write(&cfg, config).unwrap();
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let summary = dir.path(&format!("summary-{n}.json"));
        let mut child = lab
            .cmd(Ns::Br, exe)
            .args(["run", "--config", cfg.to_str().unwrap(), "--summary-json", summary.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = Weir { child: Some(child), stderr: rx, lines: Vec::new(), summary };
        w.wait_for("bound", Duration::from_secs(30));
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
