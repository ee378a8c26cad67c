//! Least privilege after set-up: keep only the capabilities weir still needs, optionally as an
//! unprivileged user.
//!
//! Linux capabilities belong to threads. [`drop_privileges`] is called on the main thread after
//! every socket is open and before the workers start, so the workers inherit the reduced sets;
//! a thread started earlier (the stats endpoint's) clears its own at its start
//! ([`clear_thread_capabilities`]). Changing the user goes through glibc's `setresuid`, which
//! changes every thread; with `PR_SET_KEEPCAPS` on the calling thread only, the other threads
//! lose everything.
//!
//! Order matters: the bounding set is cut first (that needs `CAP_SETPCAP`), then the user is
//! changed (`CAP_SETUID`/`CAP_SETGID`), then the permitted and effective sets are reduced to the
//! kept ones, inheritable and ambient cleared, and `no_new_privs` set so no exec can regain any.

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid, User};
use std::fmt;

/// An account to run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The name, as configured.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

/// Why privileges could not be dropped, or a user not resolved.
#[derive(Debug)]
pub enum PrivError {
    /// `service.user` names no account.
    NoSuchUser(String),
    /// `service.user` is root, which would keep every privilege.
    RootUser(String),
    /// A system call failed.
    Os {
        /// What was being done.
        what: &'static str,
        /// The error as text (from `caps` or `nix`).
        error: String,
    },
}

impl fmt::Display for PrivError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivError::NoSuchUser(u) => write!(
                f,
                "key `service.user`: no user named {u:?}; create it (adduser --system --group --no-create-home {u}) \
                 or remove the key to stay root with reduced capabilities"
            ),
            PrivError::RootUser(u) => {
                write!(f, "key `service.user`: {u:?} is root (uid 0); name an unprivileged user or remove the key")
            }
            PrivError::Os { what, error } => write!(f, "cannot {what}: {error}"),
        }
    }
}

impl std::error::Error for PrivError {}

fn os(what: &'static str) -> impl FnOnce(&dyn fmt::Display) -> PrivError {
    move |e| PrivError::Os { what, error: e.to_string() }
}

/// Look up `name` in the user database.
///
/// # Errors
/// [`PrivError::NoSuchUser`], [`PrivError::RootUser`], or [`PrivError::Os`] if the lookup fails.
pub fn resolve_user(name: &str) -> Result<Account, PrivError> {
    let user = User::from_name(name)
        .map_err(|e| os("look up the user")(&e))?
        .ok_or_else(|| PrivError::NoSuchUser(name.to_string()))?;
    if user.uid.is_root() {
        return Err(PrivError::RootUser(name.to_string()));
    }
    Ok(Account { name: name.to_string(), uid: user.uid.as_raw(), gid: user.gid.as_raw() })
}

/// What [`drop_privileges`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dropped {
    /// The effective set afterwards.
    pub effective: Vec<Capability>,
    /// Whether the bounding set was reduced too (needs `CAP_SETPCAP`).
    pub bounding_reduced: bool,
    /// The account now in use, if it was changed.
    pub user: Option<Account>,
}

/// Keep `keep` (those of it still permitted), drop every other capability from every set of
/// the calling thread (and the bounding set), change to `user` if given, and set
/// `no_new_privs`. Threads started afterwards inherit the result.
///
/// # Errors
/// [`PrivError::Os`] naming the step that failed; the process should then exit.
pub fn drop_privileges(keep: &[Capability], user: Option<&Account>) -> Result<Dropped, PrivError> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| os("read the permitted capabilities")(&e))?;
    let keep: CapsHashSet = keep.iter().copied().filter(|c| permitted.contains(c)).collect();

    let bounding_reduced = permitted.contains(&Capability::CAP_SETPCAP);
    if bounding_reduced {
        let bounding = caps::read(None, CapSet::Bounding).map_err(|e| os("read the bounding set")(&e))?;
        for cap in bounding.difference(&keep) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(|e| os("reduce the bounding set")(&e))?;
        }
    }

    if let Some(a) = user {
        // Make sure the kept capabilities may be used for what follows (set-up may have run
        // with a reduced effective set).
        let mut eff = caps::read(None, CapSet::Effective).map_err(|e| os("read the effective capabilities")(&e))?;
        eff.extend([Capability::CAP_SETUID, Capability::CAP_SETGID].into_iter().filter(|c| permitted.contains(c)));
        caps::set(None, CapSet::Effective, &eff).map_err(|e| os("raise CAP_SETUID/CAP_SETGID")(&e))?;
        nix::sys::prctl::set_keepcaps(true).map_err(|e| os("set PR_SET_KEEPCAPS")(&e))?;
        let (uid, gid) = (Uid::from_raw(a.uid), Gid::from_raw(a.gid));
        nix::unistd::setgroups(&[gid]).map_err(|e| os("set the supplementary groups")(&e))?;
        nix::unistd::setresgid(gid, gid, gid).map_err(|e| os("change the group")(&e))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(|e| os("change the user")(&e))?;
        nix::sys::prctl::set_keepcaps(false).map_err(|e| os("clear PR_SET_KEEPCAPS")(&e))?;
    }

    // Effective first: it must stay a subset of permitted at every step.
    caps::set(None, CapSet::Effective, &keep).map_err(|e| os("set the effective capabilities")(&e))?;
    caps::set(None, CapSet::Permitted, &keep).map_err(|e| os("set the permitted capabilities")(&e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| os("clear the inheritable capabilities")(&e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| os("clear the ambient capabilities")(&e))?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| os("set no_new_privs")(&e))?;

    let now = caps::read(None, CapSet::Effective).map_err(|e| os("read the effective capabilities")(&e))?;
    if now != keep {
        return Err(PrivError::Os {
            what: "drop capabilities",
            error: format!("effective set is {now:?}, not {keep:?}"),
        });
    }
    let mut effective: Vec<Capability> = now.into_iter().collect();
    effective.sort_by_key(|c| c.index());
    Ok(Dropped { effective, bounding_reduced, user: user.cloned() })
}

/// Clear every capability of the calling thread (effective, permitted, inheritable, ambient).
/// For threads that never need one, such as the stats endpoint's.
///
/// # Errors
/// [`PrivError::Os`].
pub fn clear_thread_capabilities() -> Result<(), PrivError> {
    caps::clear(None, CapSet::Effective).map_err(|e| os("clear the effective capabilities")(&e))?;
    caps::clear(None, CapSet::Permitted).map_err(|e| os("clear the permitted capabilities")(&e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| os("clear the inheritable capabilities")(&e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| os("clear the ambient capabilities")(&e))
}

/// Names of capabilities, lower case without the `cap_` prefix joined by `,` (`none` if empty),
/// for the log.
pub fn names(caps: &[Capability]) -> String {
    if caps.is_empty() {
        return "none".into();
    }
    caps.iter().map(|c| c.to_string().trim_start_matches("CAP_").to_ascii_lowercase()).collect::<Vec<_>>().join(",")
}

/// Raise the soft limit on open files to the hard limit (at most `cap`): the stats endpoint
/// holds a descriptor per connection. Returns the new soft limit.
///
/// # Errors
/// [`PrivError::Os`].
pub fn raise_nofile_limit(cap: u64) -> Result<u64, PrivError> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| os("read RLIMIT_NOFILE")(&e))?;
    let want = hard.min(cap).max(soft);
    if want > soft {
        setrlimit(Resource::RLIMIT_NOFILE, want, hard).map_err(|e| os("raise RLIMIT_NOFILE")(&e))?;
    }
    Ok(want)
}

/// The `CapEff` mask of a `/proc/PID/status` or `/proc/PID/task/TID/status` text.
pub fn cap_eff(status: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
}

/// The bit mask of `caps`, as `/proc` prints it.
pub fn mask(caps: &[Capability]) -> u64 {
    caps.iter().fold(0, |m, c| m | c.bitmask())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_eff_reads_proc_status() {
        let s = "Name:\tweir\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\nCapBnd:\t000001ffffffffff\n";
        assert_eq!(cap_eff(s), Some(0x3000));
        assert_eq!(mask(&[Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW]), 0x3000);
        assert!(cap_eff(&std::fs::read_to_string("/proc/self/status").unwrap()).is_some());
    }

    #[test]
    fn names_are_short_and_lower_case() {
        assert_eq!(names(&[Capability::CAP_NET_ADMIN, Capability::CAP_BPF]), "net_admin,bpf");
        assert_eq!(names(&[]), "none");
    }

    #[test]
    fn users_are_resolved_or_named_in_the_error() {
        let e = resolve_user("weir-no-such-user-x").unwrap_err();
        assert!(e.to_string().contains("service.user") && e.to_string().contains("adduser"), "{e}");
        assert!(matches!(resolve_user("root"), Err(PrivError::RootUser(_))));
        let nobody = resolve_user("nobody").unwrap();
        assert_ne!(nobody.uid, 0);
    }

    #[test]
    fn the_open_files_limit_never_goes_down() {
        use nix::sys::resource::{Resource, getrlimit};
        let (before, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let now = raise_nofile_limit(1 << 20).unwrap();
        assert!(now >= before);
        assert_eq!(getrlimit(Resource::RLIMIT_NOFILE).unwrap().0, now);
    }

    /// Dropping in a thread of its own changes that thread only (capabilities are per thread),
    /// unless a user change is asked for; this test never changes the user.
    #[test]
    fn a_thread_keeps_only_what_it_asked_for() {
        let permitted = caps::read(None, CapSet::Permitted).unwrap();
        if !permitted.contains(&Capability::CAP_NET_ADMIN) {
            eprintln!("not root: only checks that an unprivileged thread can drop to nothing");
        }
        let before_main = caps::read(None, CapSet::Effective).unwrap();
        let d = std::thread::spawn(|| drop_privileges(&[Capability::CAP_NET_ADMIN], None).unwrap()).join().unwrap();
        let want: Vec<Capability> = [Capability::CAP_NET_ADMIN].into_iter().filter(|c| permitted.contains(c)).collect();
        assert_eq!(d.effective, want);
        // This (the test's) thread is untouched.
        assert_eq!(caps::read(None, CapSet::Effective).unwrap(), before_main);
        let cleared = std::thread::spawn(|| {
            clear_thread_capabilities().unwrap();
            caps::read(None, CapSet::Effective).unwrap()
        })
        .join()
        .unwrap();
        assert!(cleared.is_empty());
    }
}
