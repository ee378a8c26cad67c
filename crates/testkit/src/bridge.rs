//! Running the real `weir` binary in a lab, for end-to-end tests.

use crate::lab::{Lab, Ns};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
pub use weir_stats::{BridgeSummary, ProtocolSummary, SideSummary};

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

    /// SIGTERM, wait, and return the exit code, stderr and the summary (`--summary-json`, read
    /// through its type).
    pub fn stop(mut self) -> (i32, String, BridgeSummary) {
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
        let summary = serde_json::from_str(&summary).unwrap_or_else(|e| panic!("summary {summary}: {e}"));
        (status.code().unwrap_or(-1), stderr, summary)
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
/// worker's frames accounted for ([`BridgeSummary::check_accounting`]).
pub fn check_accounting(summary: &BridgeSummary) {
    if let Err(e) = summary.check_accounting() {
        panic!("{e}: {summary:#?}");
    }
}

/// [`check_accounting`], that the summary is a bridge summary, and that both NICs received
/// something.
pub fn assert_accounted(summary: &BridgeSummary) {
    assert_eq!(summary.kind, "bridge-summary", "{summary:?}");
    check_accounting(summary);
    for (side, i) in [("inside", &summary.interfaces.inside), ("outside", &summary.interfaces.outside)] {
        assert!(i.received > 0, "{side} received nothing: {i:?}");
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
