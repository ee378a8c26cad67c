//! weir's control plane outside the data path: loading a config with its signatures and policy
//! in one checked step, live reload, and the local control socket that `weir reload` talks to.
//!
//! # Reload
//!
//! [`reload`] re-reads the config file and the signature file it names, validates everything
//! ([`load`]: keys, signatures, policy names, classes, schedules and their zones), and compares
//! the result with what is running. It returns the new [`Loaded`] to swap in, or a
//! [`ReloadError`] saying why not; either way nothing running has changed yet, so a bad file
//! changes nothing. What a reload can change: `[policy]` (rules, classes, schedules, defaults),
//! the signature file (`inspect.signatures`, its path or its text: new signatures, new
//! protocols) and the inspection limits (`inspect.max_packets`, `inspect.max_bytes`), which
//! travel with the classifier. What it refuses, naming the keys: changes that need the AF_XDP
//! sockets re-bound (`[interfaces]`, `[rings]`, busy polling), changes that need a restart
//! (`[workers]`, `[flows]`, `[stats]`, `[control]`, `[export]`, `[service]`, and the rest of
//! `[inspect]`: the peer cache and the related-flow table are built once at start), signatures
//! that renumber or remove a protocol flows are labelled with (flows keep their labels across a
//! reload: new protocols go after the known ones), and signatures that declare more protocols
//! than the room kept at start ([`Loaded::protocol_capacity`]: those at start plus
//! [`weir_dpi::PROTOCOL_HEADROOM`]).
//!
//! # Triggers: SIGHUP and the control socket
//!
//! Both land on the control thread (the one that owns the [`weir_policy::live::Publisher`]),
//! never in a signal handler: [`Control::poll`], called from that thread's loop (the stats loop
//! ticks every 50 ms), returns a [`Trigger`] when SIGHUP was received (a flag set by
//! signal-hook's handler) or a client sent a command. The thread then runs [`reload`]; on
//! success it calls `Publisher::replace_with` (a new policy generation, with the new classifier
//! beside it: a worker loads both in one atomic load per batch; every flow recomputes its
//! verdict on its next packet, without being classified again, and a flow whose inspection is
//! pending finishes it under the classifier it began with); on failure it logs the error and
//! runs on. The result is kept as the [`Status`] that the socket's
//! `status` command and the stats report show.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod socket;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use weir_config::{Config, ConfigError};
use weir_dpi::{Category, Classifier, InspectLimits, PROTOCOL_HEADROOM, SignatureError};
use weir_policy::{PolicyError, Program, ProtocolInfo};

pub use socket::{ControlError, ControlServer, Reply, Request};

/// A config with everything built from it that does not touch the system.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config.
    pub config: Config,
    /// The classifier for its signatures and inspection limits.
    pub classifier: Arc<Classifier>,
    /// Its policy, compiled for that classifier's protocols.
    pub program: Program,
    /// The text of `inspect.signatures` as read (`None`: the built-in signatures), so a reload
    /// can tell whether it changed.
    pub signature_text: Option<String>,
    /// The most protocols (ids) the running process has room for: those of the signatures it
    /// started with plus [`PROTOCOL_HEADROOM`]. A reload keeps the running value.
    pub protocol_capacity: usize,
}

/// Why a config cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The config file.
    #[error(transparent)]
    Config(#[from] Box<ConfigError>),
    /// The signature file.
    #[error("{file}: key `inspect.signatures`: {source}")]
    Signatures {
        /// The config file.
        file: String,
        /// What is wrong with the signatures.
        source: Box<SignatureError>,
    },
    /// The built-in signatures (cannot happen: the crate's tests rule it out).
    #[error("the built-in signature file is invalid: {0}")]
    Builtin(Box<SignatureError>),
    /// The policy against the classifier's protocols.
    #[error("{file}: invalid policy: {source}")]
    Policy {
        /// The config file.
        file: String,
        /// What is wrong.
        source: Box<PolicyError>,
    },
}

/// Read and check a config file, its signatures and its policy. Touches no interface.
///
/// # Errors
/// [`LoadError`] naming the file, the key and the fix.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let config = Config::load(path).map_err(Box::new)?;
    let signatures = |e| LoadError::Signatures { file: file.clone(), source: Box::new(e) };
    let (classifier, signature_text) = match &config.inspect.signatures {
        Some(p) => {
            let origin = p.display().to_string();
            let text = std::fs::read_to_string(p)
                .map_err(|source| signatures(SignatureError::Io { origin: origin.clone(), source }))?;
            (Classifier::from_toml(&text, &origin).map_err(signatures)?, Some(text))
        }
        None => (Classifier::builtin().map_err(|e| LoadError::Builtin(Box::new(e)))?, None),
    };
    let limits = InspectLimits { max_packets: config.inspect.max_packets, max_bytes: config.inspect.max_bytes };
    let classifier = Arc::new(classifier.with_limits(limits));
    let reg = classifier.registry();
    let protocols: Vec<ProtocolInfo<'_>> =
        reg.iter().map(|id| ProtocolInfo { name: reg.name(id), category: reg.category(id).name() }).collect();
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
    let program = Program::compile(&config.policy, &protocols, &categories)
        .map_err(|source| LoadError::Policy { file: file.clone(), source: Box::new(source) })?;
    let protocol_capacity = reg.len() + PROTOCOL_HEADROOM;
    Ok(Loaded { config, classifier, program, signature_text, protocol_capacity })
}

/// What a change to a key takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Closing and re-binding the AF_XDP sockets.
    Rebind,
    /// Restarting weir (threads, tables or endpoints built once at start).
    Restart,
}

/// A changed key that a reload cannot apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The key, e.g. `interfaces.inside`.
    pub key: &'static str,
    /// The running value.
    pub old: String,
    /// The value in the file.
    pub new: String,
    /// What it would take.
    pub needs: Needs,
}

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self.needs {
            Needs::Rebind => "needs a re-bind of the AF_XDP sockets",
            Needs::Restart => "needs a restart",
        };
        write!(f, "`{}` changed ({} -> {}): {what}", self.key, self.old, self.new)
    }
}

/// The keys of `new` that differ from `running` and that a reload cannot apply.
pub fn refused_changes(running: &Config, new: &Config) -> Vec<Refused> {
    let mut out = Vec::new();
    let mut check = |key: &'static str, old: String, new: String, needs: Needs| {
        if old != new {
            out.push(Refused { key, old, new, needs });
        }
    };
    let (a, b) = (&running.interfaces, &new.interfaces);
    check("interfaces.inside", format!("{:?}", a.inside), format!("{:?}", b.inside), Needs::Rebind);
    check("interfaces.outside", format!("{:?}", a.outside), format!("{:?}", b.outside), Needs::Rebind);
    check("interfaces.queues", format!("{:?}", a.queues), format!("{:?}", b.queues), Needs::Rebind);
    check("interfaces.xdp_mode", format!("{:?}", a.xdp_mode), format!("{:?}", b.xdp_mode), Needs::Rebind);
    check("interfaces.bind_mode", format!("{:?}", a.bind_mode), format!("{:?}", b.bind_mode), Needs::Rebind);
    let (a, b) = (&running.rings, &new.rings);
    for (key, x, y) in [
        ("rings.frame_size", a.frame_size, b.frame_size),
        ("rings.frames", a.frames, b.frames),
        ("rings.rx", a.rx, b.rx),
        ("rings.tx", a.tx, b.tx),
        ("rings.fill", a.fill, b.fill),
        ("rings.completion", a.completion, b.completion),
    ] {
        check(key, x.to_string(), y.to_string(), Needs::Rebind);
    }
    let (a, b) = (&running.workers, &new.workers);
    check("workers.busy_poll", format!("{:?}", a.busy_poll), format!("{:?}", b.busy_poll), Needs::Rebind);
    check("workers.cores", format!("{:?}", a.cores), format!("{:?}", b.cores), Needs::Restart);
    check("workers.stats_core", format!("{:?}", a.stats_core), format!("{:?}", b.stats_core), Needs::Restart);
    check("workers.batch", a.batch.to_string(), b.batch.to_string(), Needs::Restart);
    check("workers.queue_memory", a.queue_memory.to_string(), b.queue_memory.to_string(), Needs::Restart);
    let (a, b) = (&running.flows, &new.flows);
    for (key, x, y) in [
        ("flows.shards", a.shards as u64, b.shards as u64),
        ("flows.capacity", a.capacity as u64, b.capacity as u64),
        ("flows.tcp_idle_s", a.tcp_idle_s, b.tcp_idle_s),
        ("flows.udp_idle_s", a.udp_idle_s, b.udp_idle_s),
        ("flows.other_idle_s", a.other_idle_s, b.other_idle_s),
        ("flows.closed_linger_s", a.closed_linger_s, b.closed_linger_s),
    ] {
        check(key, x.to_string(), y.to_string(), Needs::Restart);
    }
    check("flows.active_timeout_s", a.active_timeout_s.to_string(), b.active_timeout_s.to_string(), Needs::Restart);
    let (a, b) = (&running.inspect, &new.inspect);
    // `inspect.signatures`, `max_packets` and `max_bytes` reload: they make the classifier, which
    // is published with the policy.
    check("inspect.peer_cache", a.peer_cache.to_string(), b.peer_cache.to_string(), Needs::Restart);
    check("inspect.peer_cache_ttl_s", a.peer_cache_ttl_s.to_string(), b.peer_cache_ttl_s.to_string(), Needs::Restart);
    check("inspect.related", a.related.to_string(), b.related.to_string(), Needs::Restart);
    check(
        "inspect.related_timeout_s",
        a.related_timeout_s.to_string(),
        b.related_timeout_s.to_string(),
        Needs::Restart,
    );
    let (a, b) = (&running.stats, &new.stats);
    check("stats.enabled", a.enabled.to_string(), b.enabled.to_string(), Needs::Restart);
    check("stats.interval_s", a.interval_s.to_string(), b.interval_s.to_string(), Needs::Restart);
    check("stats.listen", format!("{:?}", a.listen), format!("{:?}", b.listen), Needs::Restart);
    check("stats.hosts", a.hosts.to_string(), b.hosts.to_string(), Needs::Restart);
    check("stats.hosts_tracked", a.hosts_tracked.to_string(), b.hosts_tracked.to_string(), Needs::Restart);
    check("export", format!("{:?}", running.export), format!("{:?}", new.export), Needs::Restart);
    check("service", format!("{:?}", running.service), format!("{:?}", new.service), Needs::Restart);
    check(
        "control.socket",
        format!("{:?}", running.control.socket),
        format!("{:?}", new.control.socket),
        Needs::Restart,
    );
    out
}

/// Why a reload was refused. Nothing running was changed.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new files do not load.
    #[error("{0}")]
    Invalid(#[from] LoadError),
    /// Keys changed that a reload cannot apply.
    #[error("{file}: {}; nothing was changed (restart weir to apply these)", .refused.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Refused {
        /// The config file.
        file: String,
        /// The keys.
        refused: Vec<Refused>,
    },
    /// The new signatures renumber or remove a protocol that flows may be labelled with.
    #[error(
        "{file}: key `inspect.signatures`: protocol {old:?} (id {id}) would become {new:?}: flows keep their labels across a reload, so the protocols already known must keep their place (add new ones after them); nothing was changed (restart weir to apply this)"
    )]
    Renumbered {
        /// The config file.
        file: String,
        /// The id.
        id: u16,
        /// Its running name.
        old: String,
        /// Its name in the new signatures (`unknown` if gone).
        new: String,
    },
    /// The new signatures declare more protocols than the counters have room for.
    #[error(
        "{file}: key `inspect.signatures`: the signatures declare {count} protocols, but weir has room for {capacity} until it restarts (those it started with and {headroom} more); nothing was changed (declare fewer protocols, or restart weir to apply this)"
    )]
    TooManyProtocols {
        /// The config file.
        file: String,
        /// Protocols the new signatures declare, `unknown` and the built-in ones included.
        count: usize,
        /// Room kept at start.
        capacity: usize,
        /// [`PROTOCOL_HEADROOM`].
        headroom: usize,
    },
}

/// A validated reload, ready to swap in.
#[derive(Debug, Clone)]
pub struct Reload {
    /// The new config, classifier and policy.
    pub loaded: Loaded,
    /// One line saying what changed, for the log and the reply.
    pub summary: String,
    /// Whether the signatures or the inspection limits changed (the classifier must be
    /// published with the policy); `false`: the running classifier stays.
    pub new_classifier: bool,
}

/// Re-read `path` and check it against what is `running` (see the crate documentation).
///
/// # Errors
/// [`ReloadError`] saying why; nothing has been changed.
pub fn reload(running: &Loaded, path: &Path) -> Result<Reload, ReloadError> {
    let file = path.display().to_string();
    let new = load(path)?;
    let (old_reg, new_reg) = (running.classifier.registry(), new.classifier.registry());
    for id in old_reg.iter() {
        let (a, b) = (old_reg.name(id), new_reg.name(id));
        let gone = usize::from(id.0) >= new_reg.len();
        if a != b || gone {
            return Err(ReloadError::Renumbered {
                file,
                id: id.0,
                old: a.to_string(),
                new: if gone { "nothing".into() } else { b.to_string() },
            });
        }
    }
    if new_reg.len() > running.protocol_capacity {
        return Err(ReloadError::TooManyProtocols {
            file,
            count: new_reg.len(),
            capacity: running.protocol_capacity,
            headroom: PROTOCOL_HEADROOM,
        });
    }
    let refused = refused_changes(&running.config, &new.config);
    if !refused.is_empty() {
        return Err(ReloadError::Refused { file, refused });
    }
    let mut new = new;
    new.protocol_capacity = running.protocol_capacity;
    let p = &new.config.policy;
    let limits = new.classifier.limits();
    let new_classifier = new.signature_text != running.signature_text
        || running.classifier.limits() != limits
        || new.config.inspect.signatures != running.config.inspect.signatures;
    let signatures = if new_classifier { "new signatures" } else { "signatures unchanged" };
    let summary = format!(
        "{} policy rules, {} classes, {} schedules, default {}; {} signatures, {} protocols ({signatures}; inspect {} packets, {} bytes)",
        p.rules.len(),
        p.classes.len(),
        p.schedules.len(),
        p.default.name(),
        new.classifier.signature_count(),
        new.classifier.registry().len(),
        limits.max_packets,
        limits.max_bytes,
    );
    Ok(Reload { loaded: new, summary, new_classifier })
}

/// The socket path a config names (`control.socket`, else [`weir_config::default_control_socket`]),
/// read leniently: `weir reload` must find the running weir's socket even when the file on
/// disk no longer validates (that is what the running weir will say).
///
/// # Errors
/// A sentence, if the file cannot be read or is not TOML, or names no interfaces.
pub fn socket_path_of(config: &Path) -> Result<Option<PathBuf>, String> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("{}: cannot read: {e}", config.display()))?;
    let table: toml::Table = text.parse().map_err(|e| {
        format!("{}: not TOML, so the socket cannot be found from it ({e}); pass --socket", config.display())
    })?;
    let get = |section: &str, key: &str| table.get(section).and_then(|s| s.get(key)).and_then(|v| v.as_str());
    match get("control", "socket") {
        Some("") => return Ok(None),
        Some(p) => return Ok(Some(PathBuf::from(p))),
        None => {}
    }
    match (get("interfaces", "inside"), get("interfaces", "outside")) {
        (Some(i), Some(o)) => Ok(Some(weir_config::default_control_socket(i, o))),
        _ => Err(format!("{}: no [interfaces] inside/outside to name the socket by; pass --socket", config.display())),
    }
}

/// The last reload's outcome, for `status` and the stats report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The policy generation in force.
    pub generation: u64,
    /// Names of the schedules active now.
    pub active_schedules: Vec<String>,
    /// When the last reload was tried (Unix seconds), if ever.
    pub last_reload_unix_s: Option<i64>,
    /// Its result: `Ok(summary)` or `Err(why)`.
    pub last_reload: Option<Result<String, String>>,
}

impl Status {
    /// Lines for the `status` reply.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("generation {}", self.generation),
            format!(
                "active schedules: {}",
                if self.active_schedules.is_empty() { "none".to_string() } else { self.active_schedules.join(", ") }
            ),
        ];
        match (&self.last_reload_unix_s, &self.last_reload) {
            (Some(t), Some(Ok(s))) => v.push(format!("last reload: at {t} (unix s): ok: {s}")),
            (Some(t), Some(Err(e))) => v.push(format!("last reload: at {t} (unix s): refused: {e}")),
            _ => v.push("last reload: none".into()),
        }
        v
    }
}

/// What asked for something.
#[derive(Debug)]
pub enum Trigger {
    /// SIGHUP: reload, log the result.
    Hangup,
    /// A client on the control socket.
    Client(Request),
}

/// SIGHUP and the control socket, polled from the control thread.
#[derive(Debug)]
pub struct Control {
    hangup: Arc<AtomicBool>,
    server: Option<ControlServer>,
}

impl Control {
    /// Install the SIGHUP flag and open the socket (if `socket` is some).
    ///
    /// # Errors
    /// [`ControlError`] if the handler cannot be installed or the socket cannot be opened
    /// (another weir holds it, the directory is not ours, ...).
    pub fn start(socket: Option<&Path>) -> Result<Control, ControlError> {
        let hangup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hangup))
            .map_err(|e| ControlError::Signal(e.to_string()))?;
        let server = socket.map(ControlServer::bind).transpose()?;
        Ok(Control { hangup, server })
    }

    /// The next trigger, if any; never blocks.
    pub fn poll(&self) -> Option<Trigger> {
        if self.hangup.swap(false, Ordering::Relaxed) {
            return Some(Trigger::Hangup);
        }
        self.server.as_ref().and_then(ControlServer::poll).map(Trigger::Client)
    }

    /// The socket's path, if one is open.
    pub fn socket_path(&self) -> Option<&Path> {
        self.server.as_ref().map(ControlServer::path)
    }
}

#[cfg(test)]
mod tests;
