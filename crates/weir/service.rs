//! `weir run` as a service: the steps around the bridge that make it safe to leave running.
//!
//! - [`Service::start`], before any interface is touched: resolve `service.user`, raise the
//!   open-files limit, take the per-NIC locks (a second weir on the same NICs stops here, naming
//!   the first, having changed nothing). (SIGHUP and the control socket are the bridge's:
//!   `weir_bridge` reloads the policy on its control thread.)
//! - [`Service::http_thread_init`]: the stats endpoint's thread waits until privileges are
//!   dropped (a user change must happen in every thread, and glibc aborts if one cannot), then
//!   clears all its capabilities: the thread facing the network holds none.
//! - [`Service::drop_privileges`], once the sockets are bound and the programs attached, before
//!   the workers start: keep only [`KEEP`], change user if configured, `no_new_privs`.
//! - [`Service::ready`]: tell systemd (`READY=1`) and log the start and the policy generation.
//! - [`Service::stopping`] says `STOPPING=1`.

use anyhow::{Context, Result};
use caps::Capability;
use std::path::{Path, PathBuf};
use weir_config::Config;
use weir_service::lock::InstanceLock;
use weir_service::log;
use weir_service::privs::{self, Account};

/// The capabilities weir keeps once set up, and why:
///
/// - `CAP_NET_ADMIN`: at exit, detaching the XDP program (netlink) and restoring the NICs' VLAN
///   stripping (ethtool); later, the fast path's map updates.
/// - `CAP_BPF`: the bpf() calls of libxdp's teardown (removing the sockets from the XSKMAP,
///   releasing the dispatcher) and, later, the fast path's map updates.
/// - `CAP_SYS_ADMIN`: libxdp's teardown looks the dispatcher up by id
///   (`BPF_PROG_GET_FD_BY_ID`), which the kernel allows only with it.
///
/// Everything else goes: `CAP_NET_RAW` and `CAP_IPC_LOCK` were only needed to create the
/// sockets and register the UMEM, `CAP_NET_BIND_SERVICE` to bind the endpoint, and the rest
/// (`CAP_DAC_OVERRIDE`, `CAP_SYS_PTRACE`, `CAP_SETUID`, ...) never. A reload re-reads files the
/// service user can read; it needs no capability.
pub(crate) const KEEP: &[Capability] = &[Capability::CAP_NET_ADMIN, Capability::CAP_BPF, Capability::CAP_SYS_ADMIN];

/// What the start-up log lines say about the config.
struct Facts {
    rules: usize,
    default: &'static str,
    malformed: &'static str,
    inside: String,
    outside: String,
}

/// What `weir run` holds while it runs.
pub(crate) struct Service {
    _lock: InstanceLock,
    user: Option<Account>,
    config: PathBuf,
    /// Added to the wall clock the schedules are evaluated by (`weir run --clock-start`, for
    /// tests); zero in service.
    clock_offset: jiff::SignedDuration,
    /// The policy and NICs, for the start-up log line.
    facts: Facts,
    /// Dropped once privileges are dropped: releases the endpoint's thread.
    http_gate: parking_lot::Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl weir_bridge::Lifecycle for Service {
    fn http_thread_init(&self) -> Option<weir_stats::http::ThreadInit> {
        Some(Service::http_thread_init(self))
    }
    fn bound(&self) -> Result<()> {
        self.drop_privileges()
    }
    fn ready(&self, queues: usize) {
        self.ready(queues);
    }
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now().checked_add(self.clock_offset).unwrap_or_else(|_| jiff::Timestamp::now())
    }
    fn interval(&self, line: &str) {
        interval_line(line);
    }
    fn stopping(&self) {
        self.stopping();
    }
    fn start_failed(&self) {
        // The endpoint's thread waits for this gate (see `http_thread_init`).
        self.http_gate.lock().take();
    }
}

impl Service {
    /// Before any interface is touched (see the module docs).
    pub(crate) fn start(c: &Config, path: &Path) -> Result<Service> {
        let user = c
            .service
            .user
            .as_deref()
            .map(privs::resolve_user)
            .transpose()
            .with_context(|| format!("{}: invalid [service]", path.display()))?;
        let files = privs::raise_nofile_limit(1 << 20).unwrap_or_else(|e| {
            log::warn("limits", &[("error", &e)]);
            0
        });
        let nics = [c.interfaces.inside.as_str(), c.interfaces.outside.as_str()];
        let lock = InstanceLock::acquire(&c.service.run_dir, &nics)?;
        let locks: Vec<String> = lock.paths().map(|p| p.display().to_string()).collect();
        log::info(
            "starting",
            &[
                ("pid", &std::process::id()),
                ("version", &env!("CARGO_PKG_VERSION")),
                ("config", &path.display()),
                ("inside", &c.interfaces.inside),
                ("outside", &c.interfaces.outside),
                ("lock", &locks.join(",")),
                ("open_files", &files),
            ],
        );
        let facts = Facts {
            rules: c.policy.rules.len(),
            default: c.policy.default.name(),
            malformed: c.policy.malformed.name(),
            inside: c.interfaces.inside.clone(),
            outside: c.interfaces.outside.clone(),
        };
        Ok(Service {
            _lock: lock,
            user,
            config: path.to_path_buf(),
            clock_offset: jiff::SignedDuration::ZERO,
            facts,
            http_gate: Default::default(),
        })
    }

    /// Evaluate schedules as if the wall clock had read `start` when weir started (it then runs
    /// at the normal pace): `weir run --clock-start`, for testing schedules without waiting.
    pub(crate) fn with_clock_start(mut self, start: jiff::Timestamp) -> Service {
        self.clock_offset = start.duration_since(jiff::Timestamp::now());
        log::warn("clock", &[("start", &start), ("msg", &"schedules follow a shifted clock (--clock-start)")]);
        self
    }

    /// Drop every capability but [`KEEP`] and change user if configured (see the module docs).
    pub(crate) fn drop_privileges(&self) -> Result<()> {
        let d = privs::drop_privileges(KEEP, self.user.as_ref()).context("cannot drop privileges");
        // Release the endpoint's thread (also on failure: it clears its own capabilities).
        self.http_gate.lock().take();
        let d = d?;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        log::info(
            "privileges",
            &[
                ("kept", &privs::names(&d.effective)),
                ("cap_eff", &format!("{:016x}", privs::cap_eff(&status).unwrap_or(0))),
                ("bounding_reduced", &d.bounding_reduced),
                (
                    "user",
                    &d.user
                        .as_ref()
                        .map_or("root (unchanged)".to_string(), |a| format!("{} uid={} gid={}", a.name, a.uid, a.gid)),
                ),
                ("no_new_privs", &true),
            ],
        );
        Ok(())
    }

    /// Everything is running: tell systemd and log the start and the policy in force.
    pub(crate) fn ready(&self, queues: usize) {
        let c = &self.facts;
        log::info(
            "policy",
            &[
                ("generation", &1),
                ("rules", &c.rules),
                ("default", &c.default),
                ("malformed", &c.malformed),
                ("source", &self.config.display()),
            ],
        );
        let status = format!("bridging {} <-> {}, {queues} queue(s)", c.inside, c.outside);
        match weir_service::notify::notify(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id())) {
            Ok(told) => log::info("ready", &[("status", &status), ("systemd_notified", &told)]),
            Err(e) => log::warn("ready", &[("status", &status), ("notify_error", &e)]),
        }
    }

    /// For the stats endpoint's thread: it never needs a capability, so it holds none. It waits
    /// for [`Service::drop_privileges`] first (or for the service to end), since a user change
    /// runs in every thread and needs `CAP_SETUID` there.
    pub(crate) fn http_thread_init(&self) -> weir_stats::http::ThreadInit {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        *self.http_gate.lock() = Some(tx);
        Box::new(move || {
            // Err once the sender is dropped: privileges are dropped, or start-up failed.
            let _ = rx.recv();
            if let Err(e) = privs::clear_thread_capabilities() {
                log::warn("privileges", &[("thread", &"weir-http"), ("error", &e)]);
            }
        })
    }

    /// After the sockets are closed: libxdp detaches its program with the last socket, but as
    /// `service.user` it cannot open its lock directory (`/run/xdp` or the bpffs `xdp` dir,
    /// root's, mode 0700) and leaves the program attached. Whatever is still attached to weir's
    /// NICs is detached here (netlink, `CAP_NET_ADMIN`), so weir never leaves a program behind
    /// after a clean stop.
    pub(crate) fn finish(&self, c: &Config) {
        for nic in [&c.interfaces.inside, &c.interfaces.outside] {
            match weir_xdp::xdp_program(nic) {
                Ok(None) => {}
                Ok(Some(_)) => match weir_xdp::detach_xdp(nic) {
                    Ok(_) => log::info(
                        "teardown",
                        &[("nic", nic), ("msg", &"detached the XDP program libxdp left attached")],
                    ),
                    Err(e) => log::error("teardown", &[("nic", nic), ("error", &e)]),
                },
                Err(e) => log::warn("teardown", &[("nic", nic), ("error", &e)]),
            }
        }
    }

    /// weir is stopping (a signal, or a worker ended).
    pub(crate) fn stopping(&self) {
        let _ = weir_service::notify::notify("STOPPING=1");
        log::info("stopping", &[("pid", &std::process::id())]);
    }
}

/// The stats thread's line each interval: as it is in text mode, one `interval` event in JSON.
pub(crate) fn interval_line(line: &str) {
    match log::format() {
        log::Format::Text => eprintln!("{line}"),
        log::Format::Json => log::info("interval", &[("line", &line)]),
    }
}
