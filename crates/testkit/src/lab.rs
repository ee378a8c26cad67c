//! A guard around `scripts/lab.sh`: three throwaway network namespaces that are always removed.
//!
//! ```text
//!  ns weir-in-NAME      ns weir-br-NAME                 ns weir-out-NAME
//!    in0  <-------->  inside  [weir|br0]  outside  <-------->  out0
//!    198.18.0.1/24, 2001:2::1/64                198.18.0.2/24, 2001:2::2/64
//! ```
//!
//! [`Lab::up`] picks a unique short NAME (pid, a per-process counter, clock bits) so tests can
//! run in parallel; [`Drop`] runs `scripts/lab.sh down NAME` always, also while unwinding from a
//! panic. Tests call [`lab_available`] first: where the lab cannot run (not root, no AF_XDP,
//! no `ip`), it says so loudly on stderr and the test returns early, except under `CI=true`,
//! where it panics instead of skipping.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Address of `in0` in the inside namespace.
pub const IN_V4: &str = "198.18.0.1";
/// Address of `out0` in the outside namespace.
pub const OUT_V4: &str = "198.18.0.2";
/// IPv6 address of `in0`.
pub const IN_V6: &str = "2001:2::1";
/// IPv6 address of `out0`.
pub const OUT_V6: &str = "2001:2::2";
/// The bridge namespace's interface facing `in0`.
pub const INSIDE_IF: &str = "inside";
/// The bridge namespace's interface facing `out0`.
pub const OUTSIDE_IF: &str = "outside";

/// One of the lab's three namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    /// Inside hosts: `in0`.
    In,
    /// The bridge: `inside`, `outside` (and `br0` with a kernel bridge).
    Br,
    /// Outside hosts: `out0`.
    Out,
}

impl Ns {
    fn word(self) -> &'static str {
        match self {
            Ns::In => "in",
            Ns::Br => "br",
            Ns::Out => "out",
        }
    }
}

/// Options for [`Lab::up`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabOptions {
    /// RX/TX queues per veth (`--queues`). Default 1.
    pub queues: u32,
    /// Put a Linux bridge `br0` over `inside` and `outside` (`--kernel-bridge`). Default false.
    pub kernel_bridge: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions { queues: 1, kernel_bridge: false }
    }
}

/// Why a lab could not be brought up.
#[derive(Debug)]
pub enum LabError {
    /// `lab.sh` could not be started.
    Spawn(std::io::Error),
    /// `lab.sh up` failed; its stderr.
    Script {
        /// The lab name.
        name: String,
        /// What the script printed on stderr.
        stderr: String,
    },
}

impl std::fmt::Display for LabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabError::Spawn(e) => write!(f, "cannot run scripts/lab.sh: {e}"),
            LabError::Script { name, stderr } => write!(f, "scripts/lab.sh up {name} failed: {stderr}"),
        }
    }
}

impl std::error::Error for LabError {}

/// A running lab; removed on drop.
#[derive(Debug)]
pub struct Lab {
    /// The NAME part of the namespace names.
    pub name: String,
    /// What it was brought up with.
    pub options: LabOptions,
}

/// The workspace root, found from this crate's manifest dir (`crates/testkit`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or(here)
}

/// Path of `scripts/lab.sh`.
pub fn lab_script() -> PathBuf {
    repo_root().join("scripts").join("lab.sh")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    // e.g. "3f2a1-0-7c1": short enough for any name limit, unique per process and run.
    format!("{:x}-{:x}-{:x}", std::process::id(), n, (nanos >> 10) & 0xfff)
}

impl Lab {
    /// Creates a lab with a fresh unique name.
    ///
    /// # Errors
    ///
    /// [`LabError`] if the script cannot run or fails (it cleans up after itself).
    pub fn up(options: LabOptions) -> Result<Lab, LabError> {
        let name = unique_name();
        let mut cmd = Command::new("bash");
        cmd.arg(lab_script()).args(["up", &name, "--queues", &options.queues.to_string()]);
        if options.kernel_bridge {
            cmd.arg("--kernel-bridge");
        }
        let out = cmd.output().map_err(LabError::Spawn)?;
        // Own it from here: even a failed `up` is followed by `down` on drop.
        let lab = Lab { name, options };
        if !out.status.success() {
            return Err(LabError::Script {
                name: lab.name.clone(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(lab)
    }

    /// The full namespace name, e.g. `weir-br-NAME`.
    pub fn ns(&self, which: Ns) -> String {
        format!("weir-{}-{}", which.word(), self.name)
    }

    /// `ip netns exec NS program`; add arguments and run it.
    pub fn cmd(&self, which: Ns, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which), program]);
        c
    }

    /// Runs `program args...` in `which` and returns its output (not checked).
    ///
    /// # Errors
    ///
    /// If the command cannot be started.
    pub fn run(&self, which: Ns, program: &str, args: &[&str]) -> std::io::Result<Output> {
        self.cmd(which, program).args(args).output()
    }

    /// Waits until something in `which` listens on `port` (`udp` or `tcp`, as `ss` sees it), so a
    /// client started next does not race the server's bind. Returns whether it did in `timeout`.
    pub fn wait_listening(&self, which: Ns, proto: &str, port: u16, timeout: std::time::Duration) -> bool {
        let flag = if proto == "udp" { "-Hnlu" } else { "-Hnlt" };
        let filter = format!("sport = :{port}");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let bound = self.run(which, "ss", &[flag, &filter]).is_ok_and(|o| !o.stdout.trim_ascii().is_empty());
            if bound {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `/run/netns/weir-...`: the file to `setns(2)` into.
    pub fn ns_path(&self, which: Ns) -> PathBuf {
        PathBuf::from("/run/netns").join(self.ns(which))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        match Command::new("bash").arg(lab_script()).args(["down", &self.name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!("weir-testkit: `lab.sh down {}` failed: {}", self.name, String::from_utf8_lossy(&o.stderr))
            }
            Err(e) => eprintln!("weir-testkit: cannot run `lab.sh down {}`: {e}", self.name),
        }
    }
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Checks what the lab needs: root, AF_XDP in the kernel, network namespaces, `ip`, `ethtool`
/// and the script.
///
/// # Errors
///
/// A sentence saying what is missing.
pub fn require_lab() -> Result<(), String> {
    if effective_uid() != Some(0) {
        return Err("not running as root (the lab creates network namespaces and attaches XDP)".into());
    }
    let protocols = std::fs::read_to_string("/proc/net/protocols").unwrap_or_default();
    if !protocols.lines().any(|l| l.split_whitespace().next() == Some("XDP")) {
        return Err(
            "the kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS; `XDP` missing from /proc/net/protocols)".into()
        );
    }
    if !std::path::Path::new("/proc/self/ns/net").exists() {
        return Err("the kernel has no network namespaces".into());
    }
    for (tool, version) in [("ip", "-V"), ("ethtool", "--version")] {
        let ok = Command::new(tool).arg(version).output().map(|o| o.status.success()).unwrap_or(false);
        if !ok {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    if !lab_script().exists() {
        return Err(format!("{} is missing", lab_script().display()));
    }
    Ok(())
}

/// Whether `test` can run its lab. If not, says so loudly on stderr and returns false, or,
/// under `CI=true`, panics: a CI run must not pass by skipping.
///
/// # Panics
///
/// Under `CI=true` when the lab is unavailable.
pub fn lab_available(test: &str) -> bool {
    match require_lab() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: lab unavailable under CI=true: {why}");
            }
            eprintln!("\n!!! SKIPPED {test}: lab unavailable: {why} !!!\n");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_short() {
        let a = unique_name();
        let b = unique_name();
        assert_ne!(a, b);
        // lab.sh accepts at most 24 characters.
        assert!(a.len() <= 24 && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{a}");
    }

    #[test]
    fn paths_and_namespaces() {
        assert!(lab_script().ends_with("scripts/lab.sh"));
        let lab = std::mem::ManuallyDrop::new(Lab { name: "x1".into(), options: LabOptions::default() });
        assert_eq!(lab.ns(Ns::In), "weir-in-x1");
        assert_eq!(lab.ns(Ns::Br), "weir-br-x1");
        assert_eq!(lab.ns(Ns::Out), "weir-out-x1");
        assert_eq!(lab.ns_path(Ns::Br), PathBuf::from("/run/netns/weir-br-x1"));
        let c = lab.cmd(Ns::Out, "true");
        let args: Vec<_> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["netns", "exec", "weir-out-x1", "true"]);
    }

    #[test]
    fn lab_up_and_down() {
        if !lab_available("lab_up_and_down") {
            return;
        }
        let lab = Lab::up(LabOptions { queues: 2, kernel_bridge: true }).unwrap();
        let ns = lab.ns(Ns::Br);
        assert!(lab.ns_path(Ns::Br).exists());
        let out = lab.run(Ns::Br, "ip", &["-o", "link", "show", "br0"]).unwrap();
        assert!(out.status.success());
        drop(lab);
        assert!(!PathBuf::from("/run/netns").join(ns).exists(), "drop removes the namespaces");
    }
}
