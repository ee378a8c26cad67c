//! One weir per NIC: an exclusive `flock` on a pid file per interface, held while weir runs.
//!
//! The file is `DIR/NIC@netns-INODE.pid` (default DIR `/run/weir`): interface names are per
//! network namespace, so the namespace's inode is part of the name and two labs (or containers)
//! with an `eth1` each do not collide. The kernel releases a `flock` when its holder exits,
//! however it exits, so a weir that was killed leaves a file that the next one simply locks
//! again: a stale pid never blocks a start, and a live one always does.
//!
//! The files are never removed (removing a lock file while another process waits to open it
//! lets two processes hold "the" lock); they are a few bytes in a tmpfs.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The default directory of the pid files.
pub const DEFAULT_DIR: &str = "/run/weir";

/// Why the lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock of `nic`.
    Held {
        /// The interface.
        nic: String,
        /// The pid written in the file, if any.
        pid: Option<u32>,
        /// That process's command line, if it can be read.
        command: Option<String>,
        /// The pid file.
        path: PathBuf,
    },
    /// The directory or file could not be made or locked.
    Io {
        /// What was being done.
        what: String,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockError::Held { nic, pid: Some(pid), command, path } => {
                write!(f, "{nic} is already bridged by weir pid {pid}")?;
                if let Some(c) = command {
                    write!(f, " ({c})")?;
                }
                write!(
                    f,
                    "; lock {} is held. Stop that weir first (systemctl stop weir, or kill {pid}); \
                     nothing was changed",
                    path.display()
                )
            }
            LockError::Held { nic, pid: None, path, .. } => write!(
                f,
                "{nic} is already bridged by another weir (lock {} is held, no pid in it yet); \
                 stop that weir first; nothing was changed",
                path.display()
            ),
            LockError::Io { what, path, source } => write!(
                f,
                "cannot {what} {}: {source}; weir needs a writable run directory (key `service.run_dir`, \
                 default {DEFAULT_DIR}; under systemd RuntimeDirectory=weir makes it)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LockError {}

/// The locks of one weir, released when dropped (or when the process exits).
#[derive(Debug)]
pub struct InstanceLock {
    held: Vec<(String, PathBuf, Flock<File>)>,
}

/// The network namespace of this process as `netns-INODE` (from `/proc/self/ns/net`).
///
/// # Errors
/// If `/proc` is not mounted.
pub fn netns_id() -> io::Result<String> {
    let m = std::fs::metadata("/proc/self/ns/net")?;
    Ok(format!("netns-{}", m.ino()))
}

/// The pid file of `nic` in namespace `netns` under `dir`.
pub fn lock_path(dir: &Path, netns: &str, nic: &str) -> PathBuf {
    // Interface names never hold '/' (the kernel refuses them), but a config could.
    let nic: String = nic.chars().map(|c| if c == '/' || c.is_whitespace() { '_' } else { c }).collect();
    dir.join(format!("{nic}@{netns}.pid"))
}

impl InstanceLock {
    /// Take the lock of every NIC in `nics` (of this process's network namespace) under `dir`,
    /// creating `dir` if needed, and write this process's pid into each file. Nothing else is
    /// touched: if any NIC's lock is held, those taken here are released again and the error
    /// names the holder.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the running weir, or [`LockError::Io`].
    pub fn acquire(dir: &Path, nics: &[&str]) -> Result<InstanceLock, LockError> {
        let netns = netns_id().map_err(|source| LockError::Io {
            what: "read".into(),
            path: "/proc/self/ns/net".into(),
            source,
        })?;
        Self::acquire_in(dir, &netns, nics)
    }

    /// As [`InstanceLock::acquire`], with the namespace given.
    ///
    /// # Errors
    /// [`LockError::Held`] naming the running weir, or [`LockError::Io`].
    pub fn acquire_in(dir: &Path, netns: &str, nics: &[&str]) -> Result<InstanceLock, LockError> {
        if !dir.is_dir() {
            std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
                what: "create".into(),
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut sorted: Vec<&str> = nics.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut held = Vec::new();
        for nic in sorted {
            let path = lock_path(dir, netns, nic);
            let io = |what: &str, source| LockError::Io { what: what.into(), path: path.clone(), source };
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| io("open", e))?;
            let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
                    let pid = read_pid(file);
                    let command = pid.and_then(command_of);
                    return Err(LockError::Held { nic: nic.to_string(), pid, command, path });
                }
                Err((_, e)) => return Err(io("lock", io::Error::from(e))),
            };
            lock.set_len(0).map_err(|e| io("write", e))?;
            lock.rewind().map_err(|e| io("write", e))?;
            lock.write_all(format!("{}\n", std::process::id()).as_bytes()).map_err(|e| io("write", e))?;
            lock.flush().map_err(|e| io("write", e))?;
            held.push((nic.to_string(), path, lock));
        }
        Ok(InstanceLock { held })
    }

    /// The pid files held.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.held.iter().map(|(_, p, _)| p.as_path())
    }
}

/// The pid in a held lock file. The holder writes it right after locking, so an empty file is
/// read again a few times.
fn read_pid(mut file: File) -> Option<u32> {
    for _ in 0..20 {
        let mut s = String::new();
        if file.rewind().is_ok()
            && file.read_to_string(&mut s).is_ok()
            && let Ok(pid) = s.trim().parse()
        {
            return Some(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// `/proc/PID/cmdline` with spaces, at most 200 characters.
fn command_of(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let s: String =
        raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy).collect::<Vec<_>>().join(" ");
    (!s.is_empty()).then(|| s.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("weir-lock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_second_instance_on_a_nic_is_refused_and_named() {
        let d = dir("second");
        let first = InstanceLock::acquire_in(&d, "netns-1", &["inside", "outside"]).unwrap();
        assert_eq!(first.paths().count(), 2);
        let text = std::fs::read_to_string(lock_path(&d, "netns-1", "inside")).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        // The same pair, or one NIC of it with another: refused, naming the holder.
        for nics in [["inside", "outside"], ["outside", "eth9"]] {
            let err = InstanceLock::acquire_in(&d, "netns-1", &nics).unwrap_err();
            let LockError::Held { pid, ref command, .. } = err else { panic!("{err}") };
            assert_eq!(pid, Some(std::process::id()));
            assert!(command.is_some());
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("weir pid {}", std::process::id())) && msg.contains("nothing was changed"),
                "{msg}"
            );
        }
        // The refused attempt released what it took: eth9 is free.
        drop(InstanceLock::acquire_in(&d, "netns-1", &["eth9"]).unwrap());
        // The same names in another namespace are other NICs.
        drop(InstanceLock::acquire_in(&d, "netns-2", &["inside", "outside"]).unwrap());
        drop(first);
        // Released: a new weir takes over, and the stale pid in the file does not matter.
        let again = InstanceLock::acquire_in(&d, "netns-1", &["inside", "outside"]).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_stale_pid_file_does_not_block() {
        let d = dir("stale");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(lock_path(&d, "netns-1", "inside"), "999999999\n").unwrap();
        let l = InstanceLock::acquire_in(&d, "netns-1", &["inside"]).unwrap();
        let text = std::fs::read_to_string(lock_path(&d, "netns-1", "inside")).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(l);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let err = InstanceLock::acquire_in(Path::new("/proc/weir-no"), "netns-1", &["inside"]).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(err.to_string().contains("service.run_dir"), "{err}");
    }

    #[test]
    fn names_carry_the_namespace() {
        assert!(netns_id().unwrap().starts_with("netns-"));
        assert_eq!(lock_path(Path::new("/run/weir"), "netns-7", "eth1"), PathBuf::from("/run/weir/eth1@netns-7.pid"));
        assert_eq!(lock_path(Path::new("/r"), "n", "a/b c"), PathBuf::from("/r/a_b_c@n.pid"));
    }
}
