//! weir's configuration file: TOML schema, documented defaults, and validation whose errors name
//! the key and the fix.
//!
//! Two stages, after ripgrep's low-level/high-level arguments: [`raw`] structs mirror the file
//! (`deny_unknown_fields`: an unknown key is an error, never ignored), and [`Config`] is what the
//! rest of weir uses, with every value checked. Nothing here touches an interface: checking that
//! `inside` exists or that a core is online belongs to start-up, which has the system at hand.
//!
//! The rules of the parts a config sets up live with those parts, once: ring and batch sizes in
//! [`weir_xdp::XdpConfig::check`], the flow table's shape in
//! [`weir_flow::FlowTableConfig::validate`]. [`Config::xdp`] and [`Config::flow_table`] are the one
//! conversion from this file's keys to those configs, and validation names the file's keys.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod raw;
pub mod units;

pub use units::{Dscp, Rate, TimeRange};

use std::path::{Path, PathBuf};

/// Most classes a policy may define: a flow's cached verdict holds a class id in 6 bits, beside
/// forward and drop.
pub const MAX_CLASSES: usize = 62;
/// Most schedules a policy may define (their state is one bit each in a 64-bit mask).
pub const MAX_SCHEDULES: usize = 64;
/// A full-size Ethernet frame without FCS: the smallest burst a rated class may have.
pub const FULL_FRAME: u64 = 1514;

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pass it to the other side unchanged.
    Forward,
    /// Drop it.
    Drop,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        match s {
            "forward" | "pass" => Some(Action::Forward),
            "drop" => Some(Action::Drop),
            _ => None,
        }
    }

    /// "forward" or "drop".
    pub fn name(self) -> &'static str {
        match self {
            Action::Forward => "forward",
            Action::Drop => "drop",
        }
    }
}

/// Which traffic a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleDirection {
    /// Inside to outside.
    Outbound,
    /// Outside to inside.
    Inbound,
    /// Both.
    Both,
}

/// XDP attach and AF_XDP bind modes: the AF_XDP crate's own types, so nothing maps them by hand.
pub use weir_xdp::{BindMode, XdpMode};

/// The NICs and how to attach to them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interfaces {
    /// The inside NIC's name.
    pub inside: String,
    /// The outside NIC's name.
    pub outside: String,
    /// Queue indices to serve; `None` means all of them.
    pub queues: Option<Vec<u32>>,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// AF_XDP bind mode.
    pub bind_mode: BindMode,
}

/// Busy-polling settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusyPoll {
    /// SO_BUSY_POLL in microseconds.
    pub timeout_us: u32,
    /// SO_BUSY_POLL_BUDGET.
    pub budget: u16,
}

/// Worker threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workers {
    /// Core of each worker, in queue order; empty: one worker per queue, pinned to cores
    /// 0, 1, ... in turn.
    pub cores: Vec<usize>,
    /// Core of the stats thread, if pinned.
    pub stats_core: Option<usize>,
    /// Frames per batch.
    pub batch: u32,
    /// Busy polling, if enabled.
    pub busy_poll: Option<BusyPoll>,
    /// Bytes of UMEM a worker's shaper may pin with queued frames (each queued frame counts as
    /// one whole `rings.frame_size` frame); beyond it frames are dropped and counted.
    pub queue_memory: u64,
}

/// UMEM and ring sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rings {
    /// Bytes per UMEM frame.
    pub frame_size: u32,
    /// Frames per UMEM (one UMEM per worker).
    pub frames: u32,
    /// RX ring entries per socket.
    pub rx: u32,
    /// TX ring entries per socket.
    pub tx: u32,
    /// Fill ring entries per socket.
    pub fill: u32,
    /// Completion ring entries per socket.
    pub completion: u32,
}

/// Flow-table shape and timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flows {
    /// Number of shards (power of two).
    pub shards: usize,
    /// Most flows held.
    pub capacity: usize,
    /// Idle timeout of TCP flows, seconds.
    pub tcp_idle_s: u64,
    /// Idle timeout of UDP flows, seconds.
    pub udp_idle_s: u64,
    /// Idle timeout of other flows, seconds.
    pub other_idle_s: u64,
    /// Linger after TCP RST/FIN, seconds.
    pub closed_linger_s: u64,
    /// Active timeout, seconds: a flow that lasts longer is reported (to the collectors and the
    /// per-host counts) every this long while it runs; 0: only when it ends.
    pub active_timeout_s: u64,
}

/// Inspection limits and signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspect {
    /// Payload packets inspected per direction.
    pub max_packets: u8,
    /// Payload bytes inspected per direction.
    pub max_bytes: u16,
    /// Signature file; `None`: the built-in one.
    pub signatures: Option<PathBuf>,
    /// Peer cache entries (BitTorrent and Direct Connect endpoints).
    pub peer_cache: usize,
    /// Seconds a learned peer endpoint stays a peer.
    pub peer_cache_ttl_s: u32,
    /// Most flows announced by control flows (FTP data, TFTP transfers, SIP media) waited for at
    /// once; 0: off.
    pub related: usize,
    /// How long an announced flow is waited for, seconds.
    pub related_timeout_s: u64,
}

/// One policy rule: a protocol or category name, a direction, an action or a class, and
/// optionally a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Protocol name (`bittorrent`) or category name (`p2p`); checked against the classifier's
    /// registry by the caller, which knows it.
    pub matches: Match,
    /// Which direction.
    pub direction: RuleDirection,
    /// What to do: an action, or a class (index into [`Policy::classes`]).
    pub target: Target,
    /// The schedule (index into [`Policy::schedules`]) inside which the rule applies; `None`:
    /// always.
    pub schedule: Option<usize>,
    /// Where it came from, for error messages: e.g. `policy.protocols.bittorrent`.
    pub key: String,
}

/// What a rule does to the traffic it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Forward or drop.
    Action(Action),
    /// Shape, police or mark into a class: index into [`Policy::classes`].
    Class(usize),
}

/// How a class enforces its rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassMode {
    /// Queue above the rate (token bucket, fair queueing over flows, CoDel): the default.
    Shape,
    /// Drop above the rate at once: no queue, no added delay, bursty loss for TCP.
    Police,
}

impl ClassMode {
    /// "shape" or "police".
    pub fn name(self) -> &'static str {
        match self {
            ClassMode::Shape => "shape",
            ClassMode::Police => "police",
        }
    }
}

/// A class's rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassRate {
    /// For all flows of the class together, per direction.
    pub rate: Rate,
    /// Token bucket depth, bytes.
    pub burst_bytes: u64,
    /// Shape or police.
    pub mode: ClassMode,
    /// CoDel target sojourn time, ns (shape mode).
    pub target_ns: u64,
    /// CoDel interval, ns (shape mode).
    pub interval_ns: u64,
}

/// `[policy.classes.NAME]`: a rate limit, a DSCP mark, or both.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Class {
    /// The class's name.
    pub name: String,
    /// `None`: the class only marks.
    pub limit: Option<ClassRate>,
    /// The DSCP mark written into every packet of the class, if any.
    pub dscp: Option<Dscp>,
}

/// Which time zone a schedule's clock times are in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Zone {
    /// An IANA zone name, checked to exist in the tz database.
    Named(String),
    /// The host's zone (TZ, else /etc/localtime), checked to be known.
    Host,
}

/// `[policy.schedules.NAME]`: days of the week and clock ranges in a time zone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// The schedule's name.
    pub name: String,
    /// Days on which a range may start, Monday first.
    pub days: [bool; 7],
    /// Clock ranges; one that crosses midnight belongs to the day it starts on.
    pub ranges: Vec<TimeRange>,
    /// The zone.
    pub zone: Zone,
}

/// What a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// A protocol by name.
    Protocol(String),
    /// A category by name.
    Category(String),
}

/// Policy: ordered rules, the default for everything else (unknown included), and what to do
/// with frames that do not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Rules, most specific first: explicit `[[policy.rule]]` tables in file order, then
    /// `[policy.protocols]`, then `[policy.categories]`.
    pub rules: Vec<Rule>,
    /// Classes, sorted by name; rules refer to them by index.
    pub classes: Vec<Class>,
    /// Schedules, sorted by name; rules refer to them by index.
    pub schedules: Vec<Schedule>,
    /// Action for traffic no rule matches.
    pub default: Action,
    /// Action for frames that do not parse.
    pub malformed: Action,
}

/// Stats output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Whether the stats thread, histograms and endpoint run at all (counters always do).
    pub enabled: bool,
    /// Seconds between stats records.
    pub interval_s: u64,
    /// Address of the HTTP endpoint (/metrics, /stats.json); `None`: off.
    pub listen: Option<std::net::SocketAddr>,
    /// Hosts in each record by bytes (and as many by peer-to-peer bytes).
    pub hosts: usize,
    /// (host, protocol) pairs tracked per worker; 0: no per-host accounting.
    pub hosts_tracked: usize,
}

/// How flow records reach a collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: templates resent periodically; a lost datagram is lost.
    Udp,
    /// TCP: templates once per connection; reconnects with backoff.
    Tcp,
}

impl Transport {
    /// "udp" or "tcp".
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

/// An IPFIX collector: `HOST:PORT` (UDP), `udp://HOST:PORT` or `tcp://HOST:PORT`; an IPv6
/// address in brackets (`[2001:db8::1]:4739`). The host is resolved when the exporter starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Collector {
    /// UDP or TCP.
    pub transport: Transport,
    /// Host name or address, as written (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Collector {
    /// Parse `[udp://|tcp://]HOST:PORT`.
    ///
    /// # Errors
    /// A message saying what is wrong and what is expected.
    pub fn parse(s: &str) -> Result<Collector, String> {
        let s = s.trim();
        let expect = "expected HOST:PORT, udp://HOST:PORT or tcp://HOST:PORT (IPv6 as [ADDR]:PORT)";
        let (transport, rest) = if let Some(r) = s.strip_prefix("udp://") {
            (Transport::Udp, r)
        } else if let Some(r) = s.strip_prefix("tcp://") {
            (Transport::Tcp, r)
        } else if s.contains("://") {
            return Err(format!("{s:?}: unknown transport; {expect}"));
        } else {
            (Transport::Udp, s)
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, p) = v6.split_once("]:").ok_or_else(|| format!("{s:?}: no port; {expect}"))?;
            (h, p)
        } else {
            rest.rsplit_once(':').ok_or_else(|| format!("{s:?}: no port; {expect}"))?
        };
        if host.is_empty() || host.contains(['/', ' ', '[', ']']) || (host.contains(':') && !rest.starts_with('[')) {
            return Err(format!("{s:?}: bad host; {expect}"));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("{s:?}: bad port {port:?}; {expect}")),
        };
        Ok(Collector { transport, host: host.to_string(), port })
    }
}

impl std::fmt::Display for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.transport.name(), self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.transport.name(), self.host, self.port)
        }
    }
}

impl std::str::FromStr for Collector {
    type Err = String;
    fn from_str(s: &str) -> Result<Collector, String> {
        Collector::parse(s)
    }
}

/// Flow export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// IPFIX collectors; empty: no export.
    pub ipfix: Vec<Collector>,
    /// Observation Domain ID in every message.
    pub observation_domain: u32,
    /// Seconds between template (and application name) resends over UDP.
    pub template_refresh_s: u64,
    /// Records the queue to the exporter thread holds; more are dropped and counted.
    pub queue: usize,
    /// Largest IPFIX message, octets.
    pub max_message: usize,
}

/// The smallest default token-bucket depth of a rated class (64 KiB; see `burst` in the class
/// docs of configs/weir.toml).
pub const DEFAULT_MIN_BURST: u64 = 64 * 1024;

/// The control socket of a weir bridging `inside` and `outside` when `control.socket` is not
/// set: `/run/weir/INSIDE-OUTSIDE.sock`, or, in a named network namespace (`ip netns`; other
/// weirs may bridge NICs of the same names in other namespaces),
/// `/run/weir/INSIDE-OUTSIDE@NETNS.sock`. `weir reload` run in the same namespace finds it.
pub fn default_control_socket(inside: &str, outside: &str) -> PathBuf {
    match named_netns() {
        Some(ns) => PathBuf::from(format!("/run/weir/{inside}-{outside}@{ns}.sock")),
        None => PathBuf::from(format!("/run/weir/{inside}-{outside}.sock")),
    }
}

/// The `ip netns` name of the namespace this process is in, if it has one (as `ip netns
/// identify` finds it: the entry of /run/netns that is this namespace).
fn named_netns() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = std::fs::metadata("/proc/self/ns/net").ok()?;
    std::fs::read_dir("/run/netns").ok()?.flatten().find_map(|e| {
        let m = std::fs::metadata(e.path()).ok()?;
        (m.ino() == me.ino() && m.dev() == me.dev()).then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// The local control socket (`weir reload`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Path of the Unix socket; `None`: off.
    pub socket: Option<PathBuf>,
}

/// Running as a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// Change to this user once set up; `None`: stay root with reduced capabilities.
    pub user: Option<String>,
    /// Directory of the per-NIC pid files (one weir per NIC).
    pub run_dir: std::path::PathBuf,
}

/// What frames do when no AF_XDP socket takes them (weir died or hangs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Go to the other NIC: traffic keeps flowing, uninspected.
    Open,
    /// Are dropped.
    Closed,
}

impl FailMode {
    /// "open" or "closed".
    pub fn name(self) -> &'static str {
        match self {
            FailMode::Open => "open",
            FailMode::Closed => "closed",
        }
    }
}

/// weir's XDP program: decided flows stay in the kernel, and fail-open without a bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fastpath {
    /// Load weir's own XDP program (where it loads; else weir runs as without it).
    pub enabled: bool,
    /// Decided flows the kernel's map holds; more stay in user space (counted).
    pub map_size: u32,
    /// How often the map is swept (kernel counters merged, ended flows removed), seconds.
    pub sweep_interval_s: u64,
    /// Open or closed when no socket takes a frame.
    pub fail: FailMode,
    /// The program goes past the sockets when user space's heartbeat is older than this; 0: off.
    pub watchdog_ms: u32,
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// NICs.
    pub interfaces: Interfaces,
    /// Workers.
    pub workers: Workers,
    /// Rings.
    pub rings: Rings,
    /// Flow table.
    pub flows: Flows,
    /// Inspection.
    pub inspect: Inspect,
    /// Policy.
    pub policy: Policy,
    /// Stats.
    pub stats: Stats,
    /// Flow export.
    pub export: Export,
    /// Control socket.
    pub control: Control,
    /// Service.
    pub service: Service,
    /// The XDP fast path.
    pub fastpath: Fastpath,
}

/// A configuration that cannot be used. Every variant names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax error, or an unknown key or wrong type (serde's message names the key,
    /// the line and the column).
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// toml's message, with line, column and key.
        message: String,
    },
    /// A value that parses but cannot work.
    #[error("{file}: key `{key}`: {problem}; {fix}")]
    Invalid {
        /// The file.
        file: String,
        /// Dotted key path.
        key: String,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
}

impl Config {
    /// Read and validate a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file, the key and the fix.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        let mut config = Config::parse(&text, &file)?;
        // A relative signatures path is relative to the config file.
        if let (Some(sig), Some(dir)) = (&config.inspect.signatures, path.parent())
            && sig.is_relative()
            && !sig.exists()
        {
            config.inspect.signatures = Some(dir.join(sig));
        }
        Ok(config)
    }

    /// Parse and validate config text; `file` names it in errors.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key and the fix.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: raw::RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Syntax { file: file.to_string(), message: e.to_string() })?;
        raw.validate(file)
    }
}

fn invalid(file: &str, key: &str, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { file: file.to_string(), key: key.to_string(), problem: problem.into(), fix: fix.into() }
}

impl raw::RawConfig {
    fn validate(self, file: &str) -> Result<Config, ConfigError> {
        let e = |key: &str, problem: String, fix: &str| invalid(file, key, problem, fix);
        let i = self.interfaces;
        if i.inside.is_empty() {
            return Err(e("interfaces.inside", "is empty".into(), "name the inside NIC, e.g. inside = \"eth1\""));
        }
        if i.outside.is_empty() {
            return Err(e("interfaces.outside", "is empty".into(), "name the outside NIC, e.g. outside = \"eth2\""));
        }
        if i.inside == i.outside {
            return Err(e(
                "interfaces.outside",
                format!("is the same NIC as interfaces.inside ({:?})", i.inside),
                "a bridge needs two different NICs",
            ));
        }
        let queues = match i.queues {
            raw::Queues::All(s) if s == "all" => None,
            raw::Queues::All(s) => {
                return Err(e(
                    "interfaces.queues",
                    format!("{s:?} is not a queue list"),
                    "use \"all\" or a list like [0, 1]",
                ));
            }
            raw::Queues::List(list) => {
                if list.is_empty() {
                    return Err(e("interfaces.queues", "is an empty list".into(), "use \"all\" or a list like [0, 1]"));
                }
                let mut sorted = list.clone();
                sorted.sort_unstable();
                sorted.dedup();
                if sorted.len() != list.len() {
                    return Err(e("interfaces.queues", "lists a queue twice".into(), "list each queue once"));
                }
                Some(list)
            }
        };
        let xdp_mode = match i.xdp_mode.as_str() {
            "native" => XdpMode::Native,
            "generic" => XdpMode::Generic,
            "auto" => XdpMode::Auto,
            other => {
                return Err(e(
                    "interfaces.xdp_mode",
                    format!("{other:?} is not a mode"),
                    "use native, generic or auto",
                ));
            }
        };
        let bind_mode = match i.bind_mode.as_str() {
            "zerocopy" => BindMode::ZeroCopy,
            "copy" => BindMode::Copy,
            "auto" => BindMode::Auto,
            other => {
                return Err(e(
                    "interfaces.bind_mode",
                    format!("{other:?} is not a mode"),
                    "use zerocopy, copy or auto",
                ));
            }
        };

        let w = self.workers;
        let ncores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        for (n, &core) in w.cores.iter().enumerate() {
            if core >= ncores {
                return Err(e(
                    &format!("workers.cores[{n}]"),
                    format!("core {core} does not exist (this machine has cores 0..={})", ncores - 1),
                    "pick cores from that range",
                ));
            }
        }
        if let (Some(q), false) = (&queues, w.cores.is_empty())
            && q.len() != w.cores.len()
        {
            return Err(e(
                "workers.cores",
                format!("lists {} cores for {} queues", w.cores.len(), q.len()),
                "give one core per queue in interfaces.queues, or leave cores empty",
            ));
        }
        if let Some(core) = w.stats_core
            && core >= ncores
        {
            return Err(e(
                "workers.stats_core",
                format!("core {core} does not exist (this machine has cores 0..={})", ncores - 1),
                "pick a core from that range or remove the key",
            ));
        }
        let busy_poll = w.busy_poll.then_some(BusyPoll { timeout_us: w.busy_poll_us, budget: w.busy_poll_budget });

        let r = self.rings;
        let f = self.flows;
        for (key, v) in [
            ("flows.tcp_idle_s", f.tcp_idle_s),
            ("flows.udp_idle_s", f.udp_idle_s),
            ("flows.other_idle_s", f.other_idle_s),
            ("flows.closed_linger_s", f.closed_linger_s),
        ] {
            if v == 0 {
                return Err(e(key, "is 0".into(), "use a timeout of at least 1 second"));
            }
        }

        let ins = self.inspect;
        if ins.max_packets == 0 {
            return Err(e(
                "inspect.max_packets",
                "is 0".into(),
                "inspect at least 1 packet per direction (10 is usual)",
            ));
        }
        if ins.max_bytes < 64 {
            return Err(e(
                "inspect.max_bytes",
                format!("{} is too small", ins.max_bytes),
                "use at least 64 (4096 is usual)",
            ));
        }
        if ins.related > 1 << 20 {
            return Err(e(
                "inspect.related",
                format!("{} is too large", ins.related),
                "use at most 1048576 (4096 is usual; 0 turns related flows off)",
            ));
        }
        if !(1..=86_400).contains(&ins.related_timeout_s) {
            return Err(e(
                "inspect.related_timeout_s",
                format!("{} is out of range", ins.related_timeout_s),
                "use 1 to 86400 seconds (120 is usual)",
            ));
        }
        if !(1..=604_800).contains(&ins.peer_cache_ttl_s) {
            return Err(e(
                "inspect.peer_cache_ttl_s",
                format!("{} is out of range", ins.peer_cache_ttl_s),
                "use 1 to 604800 seconds (a week); 1800 is usual",
            ));
        }

        let policy = validate_policy(self.policy, file)?;
        let queue_memory = match &w.queue_memory {
            raw::NumOrText::Num(n) if *n > 0 => *n as u64,
            raw::NumOrText::Num(n) => {
                return Err(e("workers.queue_memory", format!("{n} is not a size"), "use e.g. \"32 MiB\""));
            }
            raw::NumOrText::Text(t) => {
                units::parse_size(t).map_err(|p| e("workers.queue_memory", p, "use e.g. \"32 MiB\""))?
            }
        };
        // Queued frames pin UMEM frames; they must fit beside what both sockets' rings hold.
        let queue_frames = queue_memory / u64::from(r.frame_size);
        if policy.classes.iter().any(|c| c.limit.is_some_and(|l| l.mode == ClassMode::Shape)) {
            let rings = 2 * u64::from(r.rx + r.tx + r.fill + r.completion);
            let spare = u64::from(r.frames).saturating_sub(rings);
            if queue_frames < 16 {
                return Err(e(
                    "workers.queue_memory",
                    format!("{queue_memory} bytes is {queue_frames} frames of {} bytes", r.frame_size),
                    "allow at least 16 frames (the default is \"32 MiB\")",
                ));
            }
            if queue_frames > spare {
                return Err(e(
                    "workers.queue_memory",
                    format!(
                        "{queue_memory} bytes is {queue_frames} frames of {} bytes, more than the {spare} frames \
                         rings.frames ({}) leaves beside both sockets' rings ({rings})",
                        r.frame_size, r.frames
                    ),
                    &format!("lower it to at most {} bytes, or raise rings.frames", spare * u64::from(r.frame_size)),
                ));
            }
        }
        if f.active_timeout_s > 86_400 {
            return Err(e(
                "flows.active_timeout_s",
                format!("{} is more than a day", f.active_timeout_s),
                "use 1..=86400 seconds (60 is usual), or 0 to report flows only when they end",
            ));
        }
        if self.stats.hosts > 1000 {
            return Err(e(
                "stats.hosts",
                format!("{} hosts per record is too many for /metrics", self.stats.hosts),
                "use 0..=1000 (20 is usual)",
            ));
        }
        if self.stats.hosts_tracked > 1 << 20 {
            return Err(e(
                "stats.hosts_tracked",
                format!("{} is more than 1048576", self.stats.hosts_tracked),
                "use 0..=1048576 (4096 is usual; 0 turns per-host accounting off)",
            ));
        }
        let x = self.export;
        let mut ipfix = Vec::new();
        for (n, text) in x.ipfix.iter().enumerate() {
            let key = format!("export.ipfix[{n}]");
            let c = Collector::parse(text)
                .map_err(|m| e(&key, m, "e.g. \"192.0.2.10:4739\" or \"tcp://[2001:db8::10]:4739\""))?;
            if ipfix.contains(&c) {
                return Err(e(&key, format!("{c} is listed twice"), "list each collector once"));
            }
            ipfix.push(c);
        }
        if !(1..=3600).contains(&x.template_refresh_s) {
            return Err(e(
                "export.template_refresh_s",
                format!("{} is out of range", x.template_refresh_s),
                "use 1..=3600 seconds (60 is usual)",
            ));
        }
        if !(1024..=1 << 24).contains(&x.queue) {
            return Err(e(
                "export.queue",
                format!("{} is out of range", x.queue),
                "use 1024..=16777216 (65536 is usual)",
            ));
        }
        if !(512..=65535).contains(&x.max_message) {
            return Err(e(
                "export.max_message",
                format!("{} is out of range", x.max_message),
                "use 512..=65535 octets; over UDP stay under the path MTU less 48 (1400 is safe)",
            ));
        }
        if self.stats.interval_s == 0 {
            return Err(e("stats.interval_s", "is 0".into(), "use at least 1"));
        }
        let control = Control {
            socket: match self.control.socket.as_deref().map(str::trim) {
                None => Some(default_control_socket(&i.inside, &i.outside)),
                Some("") => None,
                Some(path) if !path.starts_with('/') => {
                    return Err(e(
                        "control.socket",
                        format!("{path:?} is not an absolute path"),
                        "use e.g. \"/run/weir/weir.sock\", or \"\" to turn the control socket off",
                    ));
                }
                Some(path) => Some(PathBuf::from(path)),
            },
        };
        let listen = match self.stats.listen.trim() {
            "" => None,
            addr => Some(addr.parse::<std::net::SocketAddr>().map_err(|_| {
                e(
                    "stats.listen",
                    format!("{addr:?} is not an address:port"),
                    "use e.g. \"127.0.0.1:9754\" (loopback; \"\" turns the endpoint off)",
                )
            })?),
        };

        let user = match self.service.user.trim() {
            "" => None,
            u if u.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) => Some(u.to_string()),
            u => {
                return Err(e(
                    "service.user",
                    format!("{u:?} is not a user name"),
                    "name an account such as \"weir\" (adduser --system --group weir), or \"\" to stay root",
                ));
            }
        };
        if !self.service.run_dir.is_absolute() {
            return Err(e(
                "service.run_dir",
                format!("{:?} is not an absolute path", self.service.run_dir),
                "use e.g. \"/run/weir\"",
            ));
        }

        let fp = self.fastpath;
        if !(1..=1 << 24).contains(&fp.map_size) {
            return Err(e(
                "fastpath.map_size",
                format!("{} is out of range", fp.map_size),
                "use 1..=16777216 flows (65536 is usual; about 100 bytes each in the kernel)",
            ));
        }
        if !(1..=60).contains(&fp.sweep_interval_s) {
            return Err(e(
                "fastpath.sweep_interval_s",
                format!("{} is out of range", fp.sweep_interval_s),
                "use 1..=60 seconds (1 is usual)",
            ));
        }
        let fail = match fp.fail.trim() {
            "open" => FailMode::Open,
            "closed" => FailMode::Closed,
            other => {
                return Err(e(
                    "fastpath.fail",
                    format!("{other:?} is not a fail mode"),
                    "use \"open\" (forward uninspected while weir is down) or \"closed\" (drop)",
                ));
            }
        };
        if fp.watchdog_ms != 0 && !(100..=60_000).contains(&fp.watchdog_ms) {
            return Err(e(
                "fastpath.watchdog_ms",
                format!("{} is out of range", fp.watchdog_ms),
                "use 100..=60000 ms (500 is usual; weir beats every 50 ms), or 0 to turn the watchdog off",
            ));
        }
        let fastpath = Fastpath {
            enabled: fp.enabled,
            map_size: fp.map_size as u32,
            sweep_interval_s: fp.sweep_interval_s,
            fail,
            watchdog_ms: fp.watchdog_ms as u32,
        };
        let config = Config {
            interfaces: Interfaces { inside: i.inside, outside: i.outside, queues, xdp_mode, bind_mode },
            workers: Workers { cores: w.cores, stats_core: w.stats_core, batch: w.batch, busy_poll, queue_memory },
            rings: Rings {
                frame_size: r.frame_size,
                frames: r.frames,
                rx: r.rx,
                tx: r.tx,
                fill: r.fill,
                completion: r.completion,
            },
            flows: Flows {
                shards: f.shards,
                capacity: f.capacity,
                tcp_idle_s: f.tcp_idle_s,
                udp_idle_s: f.udp_idle_s,
                other_idle_s: f.other_idle_s,
                closed_linger_s: f.closed_linger_s,
                active_timeout_s: f.active_timeout_s,
            },
            inspect: Inspect {
                max_packets: ins.max_packets,
                max_bytes: ins.max_bytes,
                signatures: ins.signatures,
                peer_cache: ins.peer_cache,
                peer_cache_ttl_s: ins.peer_cache_ttl_s,
                related: ins.related,
                related_timeout_s: ins.related_timeout_s,
            },
            policy,
            stats: Stats {
                enabled: self.stats.enabled,
                interval_s: self.stats.interval_s,
                listen,
                hosts: self.stats.hosts,
                hosts_tracked: self.stats.hosts_tracked,
            },
            export: Export {
                ipfix,
                observation_domain: x.observation_domain,
                template_refresh_s: x.template_refresh_s,
                queue: x.queue,
                max_message: x.max_message,
            },
            control,
            service: Service { user, run_dir: self.service.run_dir },
            fastpath,
        };
        if let Err(p) = config.xdp().check() {
            return Err(invalid(file, xdp_key(p.key), p.problem, p.fix));
        }
        if let Err(err) = config.flow_table().validate() {
            let key = match err {
                weir_flow::FlowConfigError::ShardsNotPowerOfTwo(_) => "flows.shards",
                weir_flow::FlowConfigError::CapacityOutOfRange { .. } => "flows.capacity",
            };
            return Err(invalid(file, key, err.to_string(), "see configs/weir.toml"));
        }
        Ok(config)
    }
}

/// The file's key for a field of [`weir_xdp::XdpConfig`].
fn xdp_key(field: &str) -> &'static str {
    match field {
        "frame_size" => "rings.frame_size",
        "frame_count" => "rings.frames",
        "rx_ring" => "rings.rx",
        "tx_ring" => "rings.tx",
        "fill_ring" => "rings.fill",
        "completion_ring" => "rings.completion",
        "batch" => "workers.batch",
        "busy_poll.timeout_us" => "workers.busy_poll_us",
        "busy_poll.budget" => "workers.busy_poll_budget",
        _ => "rings",
    }
}

impl Config {
    /// The AF_XDP sizes and modes this config asks for (one UMEM and two sockets per worker).
    pub fn xdp(&self) -> weir_xdp::XdpConfig {
        let (r, w, i) = (&self.rings, &self.workers, &self.interfaces);
        weir_xdp::XdpConfig {
            frame_size: r.frame_size,
            frame_count: r.frames,
            rx_ring: r.rx,
            tx_ring: r.tx,
            fill_ring: r.fill,
            completion_ring: r.completion,
            batch: w.batch,
            xdp_mode: i.xdp_mode,
            bind_mode: i.bind_mode,
            need_wakeup: true,
            busy_poll: w.busy_poll.map(|b| weir_xdp::BusyPoll {
                timeout_us: b.timeout_us,
                budget: b.budget,
                prefer: true,
            }),
        }
    }

    /// The fast path's map size and failure behaviour.
    pub fn fastpath(&self) -> weir_xdp::FastPathConfig {
        let f = &self.fastpath;
        weir_xdp::FastPathConfig {
            map_size: f.map_size,
            fail_closed: f.fail == FailMode::Closed,
            watchdog_ms: f.watchdog_ms,
        }
    }

    /// The flow table's shape and timeouts (seconds here, nanoseconds there).
    pub fn flow_table(&self) -> weir_flow::FlowTableConfig {
        const S: u64 = 1_000_000_000;
        let f = &self.flows;
        weir_flow::FlowTableConfig {
            shards: f.shards,
            capacity: f.capacity,
            timeouts: weir_flow::Timeouts {
                tcp_ns: f.tcp_idle_s.saturating_mul(S),
                udp_ns: f.udp_idle_s.saturating_mul(S),
                other_ns: f.other_idle_s.saturating_mul(S),
                closed_ns: f.closed_linger_s.saturating_mul(S),
            },
        }
    }
}

/// Whether `name` may name a class or a schedule: it appears in metric labels and messages.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn text_value<'a>(v: &'a raw::NumOrText, file: &str, key: &str, fix: &str) -> Result<&'a str, ConfigError> {
    match v {
        raw::NumOrText::Text(t) => Ok(t),
        raw::NumOrText::Num(n) => Err(invalid(file, key, format!("{n} has no unit"), fix)),
    }
}

fn validate_class(name: &str, c: raw::RawClass, file: &str) -> Result<Class, ConfigError> {
    let key = format!("policy.classes.{name}");
    let e = |k: &str, problem: String, fix: &str| invalid(file, &format!("{key}.{k}"), problem, fix);
    let dscp = match &c.dscp {
        None => None,
        Some(raw::NumOrText::Num(n)) => Some(
            Dscp::from_number(*n)
                .map_err(|p| e("dscp", p, "use a name (CS0-CS7, AF11-AF43, EF, LE) or a number 0-63"))?,
        ),
        Some(raw::NumOrText::Text(t)) => Some(
            Dscp::parse_name(t)
                .map_err(|p| e("dscp", p, "use a name (CS0-CS7, AF11-AF43, EF, LE) or a number 0-63"))?,
        ),
    };
    let Some(rate) = &c.rate else {
        for (k, set) in [
            ("burst", c.burst.is_some()),
            ("mode", c.mode.is_some()),
            ("target", c.target.is_some()),
            ("interval", c.interval.is_some()),
        ] {
            if set {
                return Err(e(k, "is set but the class has no rate".into(), "add a rate, e.g. rate = \"20 Mbit/s\""));
            }
        }
        if dscp.is_none() {
            return Err(invalid(
                file,
                &key,
                "has neither rate nor dscp, so it does nothing",
                "add rate = \"20 Mbit/s\" to limit it, dscp = \"CS1\" to mark it, or both",
            ));
        }
        return Ok(Class { name: name.to_string(), limit: None, dscp });
    };
    let rate_fix = "write a rate with its unit, e.g. \"20 Mbit/s\", \"500 kbit/s\" or \"2 MB/s\"";
    let rate = units::parse_rate(text_value(rate, file, &format!("{key}.rate"), rate_fix)?)
        .map_err(|p| e("rate", p, rate_fix))?;
    let mode = match c.mode.as_deref() {
        None | Some("shape") => ClassMode::Shape,
        Some("police") => ClassMode::Police,
        Some(other) => return Err(e("mode", format!("{other:?} is not a mode"), "use \"shape\" or \"police\"")),
    };
    let size_fix = "write a size, e.g. \"64 KiB\" or 65536 (bytes)";
    let burst_bytes = match &c.burst {
        // 10 ms at the rate, but at least 64 KiB: request-driven P2P (a BitTorrent seed answers a
        // batch of block requests with one burst of several 16 KiB blocks) reached only a fifth
        // of an 8 Mbit/s class through a 10 kB bucket, and all of it through 64 KiB.
        None => (rate.bytes_per_s() / 100).max(DEFAULT_MIN_BURST),
        Some(raw::NumOrText::Num(n)) if *n > 0 => *n as u64,
        Some(raw::NumOrText::Num(n)) => return Err(e("burst", format!("{n} is not a size"), size_fix)),
        Some(raw::NumOrText::Text(t)) => units::parse_size(t).map_err(|p| e("burst", p, size_fix))?,
    };
    if burst_bytes < FULL_FRAME {
        return Err(e(
            "burst",
            format!("{burst_bytes} bytes is less than one full-size frame ({FULL_FRAME} bytes)"),
            "use at least \"2 KiB\", or leave it out (default: 10 ms at the rate, at least 64 KiB)",
        ));
    }
    if burst_bytes > 1 << 30 {
        return Err(e("burst", format!("{burst_bytes} bytes is more than 1 GiB"), "use e.g. \"64 KiB\""));
    }
    let time_fix = "write a duration with its unit, e.g. \"5 ms\"";
    let duration = |k: &str, v: &Option<raw::NumOrText>, default: u64| -> Result<u64, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) => {
                if mode == ClassMode::Police {
                    return Err(e(
                        k,
                        "is set but the class polices (CoDel runs only in shape mode)".into(),
                        "remove it, or use mode = \"shape\"",
                    ));
                }
                let t = text_value(v, file, &format!("{key}.{k}"), time_fix)?;
                units::parse_duration_ns(t).map_err(|p| e(k, p, time_fix))
            }
        }
    };
    let target_ns = duration("target", &c.target, 5_000_000)?;
    let interval_ns = duration("interval", &c.interval, 100_000_000)?;
    if target_ns >= interval_ns {
        return Err(e(
            "target",
            format!("{} µs is not below the interval ({} µs)", target_ns / 1000, interval_ns / 1000),
            "keep target at 5-10% of interval (5 ms with 100 ms)",
        ));
    }
    Ok(Class {
        name: name.to_string(),
        limit: Some(ClassRate { rate, burst_bytes, mode, target_ns, interval_ns }),
        dscp,
    })
}

fn validate_schedule(name: &str, s: raw::RawSchedule, file: &str) -> Result<Schedule, ConfigError> {
    let key = format!("policy.schedules.{name}");
    let e = |k: &str, problem: String, fix: &str| invalid(file, &format!("{key}.{k}"), problem, fix);
    let days = match s.days {
        None => [true; 7],
        Some(list) => {
            if list.is_empty() {
                return Err(e(
                    "days",
                    "is empty".into(),
                    "list days like [\"mon\", \"fri\"], or leave it out for every day",
                ));
            }
            let mut days = [false; 7];
            for d in &list {
                let i = units::parse_day(d).map_err(|p| e("days", p, "use mon, tue, wed, thu, fri, sat, sun"))?;
                days[usize::from(i)] = true;
            }
            days
        }
    };
    let ranges = match s.time {
        None => {
            return Err(invalid(
                file,
                &format!("{key}.time"),
                "is missing",
                "give a range like time = \"08:00-17:00\" (\"22:00-06:00\" crosses midnight)",
            ));
        }
        Some(raw::OneOrMany::One(t)) => vec![t],
        Some(raw::OneOrMany::Many(v)) if v.is_empty() => {
            return Err(e("time", "is an empty list".into(), "give a range like \"08:00-17:00\""));
        }
        Some(raw::OneOrMany::Many(v)) => v,
    };
    let ranges = ranges
        .iter()
        .map(|t| {
            units::parse_time_range(t)
                .map_err(|p| e("time", p, "use HH:MM-HH:MM, e.g. \"08:00-17:00\" or \"22:00-06:00\""))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let zone = match s.timezone {
        Some(tz) => {
            jiff::tz::db().get(&tz).map_err(|err| {
                e(
                    "timezone",
                    format!("{tz:?} is not in the time zone database ({err})"),
                    "use an IANA name such as \"Europe/Helsinki\" or \"UTC\"",
                )
            })?;
            Zone::Named(tz)
        }
        None => {
            jiff::tz::TimeZone::try_system().map_err(|err| {
                e(
                    "timezone",
                    format!("is not set and the host's time zone cannot be determined ({err})"),
                    "set it to an IANA name such as \"Europe/Helsinki\", or set TZ or /etc/localtime on the host",
                )
            })?;
            Zone::Host
        }
    };
    Ok(Schedule { name: name.to_string(), days, ranges, zone })
}

fn validate_policy(p: raw::RawPolicy, file: &str) -> Result<Policy, ConfigError> {
    let e = |key: &str, problem: String, fix: &str| invalid(file, key, problem, fix);
    let action = |key: &str, s: &str| {
        Action::parse(s).ok_or_else(|| e(key, format!("{s:?} is not an action"), "use \"forward\" or \"drop\""))
    };
    let default = action("policy.default", &p.default)?;
    let malformed = action("policy.malformed", &p.malformed)?;
    if p.classes.len() > MAX_CLASSES {
        return Err(e("policy.classes", format!("defines {} classes", p.classes.len()), "use at most 62"));
    }
    if p.schedules.len() > MAX_SCHEDULES {
        return Err(e("policy.schedules", format!("defines {} schedules", p.schedules.len()), "use at most 64"));
    }
    let mut classes = Vec::new();
    for (name, c) in p.classes {
        if !valid_name(&name) {
            return Err(e(
                &format!("policy.classes.{name}"),
                format!("{name:?} is not a usable name"),
                "use letters, digits, - and _ (at most 64)",
            ));
        }
        classes.push(validate_class(&name, c, file)?);
    }
    let mut schedules = Vec::new();
    for (name, s) in p.schedules {
        if !valid_name(&name) {
            return Err(e(
                &format!("policy.schedules.{name}"),
                format!("{name:?} is not a usable name"),
                "use letters, digits, - and _ (at most 64)",
            ));
        }
        schedules.push(validate_schedule(&name, s, file)?);
    }
    let names = |v: &mut dyn Iterator<Item = &str>| {
        let list: Vec<&str> = v.collect();
        if list.is_empty() { "none are defined".to_string() } else { format!("defined: {}", list.join(", ")) }
    };
    let mut rules = Vec::new();
    for (n, rule) in p.rule.into_iter().enumerate() {
        let key = format!("policy.rule[{n}]");
        let matches = match (rule.protocol, rule.category) {
            (Some(p), None) => Match::Protocol(p),
            (None, Some(c)) => Match::Category(c),
            _ => {
                return Err(e(
                    &key,
                    "needs exactly one of protocol or category".into(),
                    "e.g. protocol = \"bittorrent\"",
                ));
            }
        };
        let direction = match rule.direction.as_str() {
            "outbound" => RuleDirection::Outbound,
            "inbound" => RuleDirection::Inbound,
            "both" => RuleDirection::Both,
            other => {
                return Err(e(
                    &format!("{key}.direction"),
                    format!("{other:?} is not a direction"),
                    "use outbound, inbound or both",
                ));
            }
        };
        let target = match (rule.action, rule.class) {
            (Some(a), None) => Target::Action(action(&format!("{key}.action"), &a)?),
            (None, Some(c)) => match classes.iter().position(|k| k.name == c) {
                Some(i) => Target::Class(i),
                None => {
                    return Err(e(
                        &format!("{key}.class"),
                        format!("no class named {c:?} ({})", names(&mut classes.iter().map(|k| k.name.as_str()))),
                        &format!("define [policy.classes.{c}] or use a defined name"),
                    ));
                }
            },
            (Some(_), Some(_)) => {
                return Err(e(
                    &key,
                    "has both action and class".into(),
                    "keep one: action = \"drop\" (or \"forward\"), or class = \"NAME\" to shape or mark",
                ));
            }
            (None, None) => {
                return Err(e(
                    &key,
                    "has neither action nor class".into(),
                    "add action = \"drop\" or class = \"NAME\"",
                ));
            }
        };
        let schedule = match rule.schedule {
            None => None,
            Some(name) => match schedules.iter().position(|s| s.name == name) {
                Some(i) => Some(i),
                None => {
                    return Err(e(
                        &format!("{key}.schedule"),
                        format!(
                            "no schedule named {name:?} ({})",
                            names(&mut schedules.iter().map(|s| s.name.as_str()))
                        ),
                        &format!("define [policy.schedules.{name}] or use a defined name"),
                    ));
                }
            },
        };
        rules.push(Rule { matches, direction, target, schedule, key });
    }
    for (name, a) in p.protocols {
        let key = format!("policy.protocols.{name}");
        let target = Target::Action(action(&key, &a)?);
        rules.push(Rule {
            matches: Match::Protocol(name),
            direction: RuleDirection::Both,
            target,
            schedule: None,
            key,
        });
    }
    for (name, a) in p.categories {
        let key = format!("policy.categories.{name}");
        let target = Target::Action(action(&key, &a)?);
        rules.push(Rule {
            matches: Match::Category(name),
            direction: RuleDirection::Both,
            target,
            schedule: None,
            key,
        });
    }
    Ok(Policy { rules, classes, schedules, default, malformed })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[interfaces]\ninside = \"in0\"\noutside = \"out0\"\n";

    fn err(text: &str) -> String {
        Config::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let c = Config::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.interfaces.queues, None);
        assert_eq!(c.interfaces.xdp_mode, XdpMode::Auto);
        assert_eq!(c.workers.batch, 64);
        assert_eq!(c.rings.frame_size, 4096);
        assert_eq!(c.rings.fill, 4096);
        assert_eq!(c.flows.capacity, 1 << 20);
        assert_eq!((c.inspect.peer_cache, c.inspect.peer_cache_ttl_s), (262_144, 1800));
        assert_eq!(c.policy.default, Action::Forward);
        assert_eq!(c.policy.malformed, Action::Forward);
        assert!(c.policy.rules.is_empty());
        assert_eq!(c.flows.active_timeout_s, 60);
        assert_eq!((c.stats.hosts, c.stats.hosts_tracked), (20, 4096));
        assert!(c.export.ipfix.is_empty());
        assert_eq!((c.export.observation_domain, c.export.template_refresh_s), (1, 60));
        assert_eq!((c.export.queue, c.export.max_message), (65536, 1400));
        assert_eq!(c.service.user, None);
        assert_eq!(c.service.run_dir, std::path::PathBuf::from("/run/weir"));
        let c =
            Config::parse(&format!("{MINIMAL}[service]\nuser = \"weir\"\nrun_dir = \"/tmp/w\"\n"), "t.toml").unwrap();
        assert_eq!(c.service.user.as_deref(), Some("weir"));
    }

    #[test]
    fn fastpath_defaults_and_errors_name_the_key_and_the_fix() {
        let c = Config::parse(MINIMAL, "t.toml").unwrap();
        let f = &c.fastpath;
        assert!(f.enabled);
        assert_eq!((f.map_size, f.sweep_interval_s, f.fail, f.watchdog_ms), (65536, 1, FailMode::Open, 500));
        assert_eq!(c.fastpath(), weir_xdp::FastPathConfig { map_size: 65536, fail_closed: false, watchdog_ms: 500 });
        let text = format!("{MINIMAL}[fastpath]\nenabled = false\nmap_size = 16\nfail = \"closed\"\nwatchdog_ms = 0\n");
        let c = Config::parse(&text, "t.toml").unwrap();
        assert_eq!((c.fastpath.enabled, c.fastpath.map_size, c.fastpath.fail), (false, 16, FailMode::Closed));
        assert!(c.fastpath().fail_closed);
        for (body, key, fix) in [
            ("map_size = 0", "fastpath.map_size", "use 1..=16777216"),
            ("sweep_interval_s = 0", "fastpath.sweep_interval_s", "use 1..=60"),
            ("fail = \"ajar\"", "fastpath.fail", "\"open\""),
            ("watchdog_ms = 50", "fastpath.watchdog_ms", "or 0 to turn the watchdog off"),
        ] {
            let m = err(&format!("{MINIMAL}[fastpath]\n{body}\n"));
            assert!(m.contains(&format!("key `{key}`")) && m.contains(fix), "{body}: {m}");
        }
        assert!(err(&format!("{MINIMAL}[fastpath]\nmapsize = 1\n")).contains("mapsize"));
    }

    #[test]
    fn the_xdp_and_flow_configs_follow_the_file() {
        let text = format!(
            "{MINIMAL}xdp_mode = \"generic\"\n[rings]\nrx = 512\n[workers]\nbatch = 32\nbusy_poll = true\n[flows]\nudp_idle_s = 5\n"
        );
        let c = Config::parse(&text, "t.toml").unwrap();
        let x = c.xdp();
        assert_eq!((x.rx_ring, x.fill_ring, x.frame_count, x.batch), (512, 4096, 40960, 32));
        assert_eq!(x.xdp_mode, XdpMode::Generic);
        assert_eq!(x.busy_poll.map(|b| (b.timeout_us, b.budget)), Some((20, 64)));
        x.validate().unwrap();
        let f = c.flow_table();
        assert_eq!((f.shards, f.capacity, f.timeouts.udp_ns), (64, 1 << 20, 5_000_000_000));
    }

    #[test]
    fn collectors_parse_with_their_transport() {
        let text = format!(
            "{MINIMAL}[export]\nipfix = [\"127.0.0.1:4739\", \"tcp://collector.example:4739\", \"udp://[2001:2::9]:2055\"]\n"
        );
        let c = Config::parse(&text, "t.toml").unwrap();
        let shown: Vec<String> = c.export.ipfix.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["udp://127.0.0.1:4739", "tcp://collector.example:4739", "udp://[2001:2::9]:2055"]);
        assert_eq!(c.export.ipfix[1].transport, Transport::Tcp);
        assert_eq!(c.export.ipfix[2].host, "2001:2::9");
        for bad in ["127.0.0.1", "sctp://h:1", "h:0", "h:70000", ":4739", "2001:2::9:4739", "[2001:2::9]"] {
            assert!(Collector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../../configs/weir.toml");
        let c = Config::parse(text, "configs/weir.toml").unwrap();
        assert_eq!(c.interfaces.inside, "inside");
    }

    #[test]
    fn rules_keep_their_order_and_source_key() {
        let text = format!(
            "{MINIMAL}[policy]\ndefault = \"drop\"\n[[policy.rule]]\nprotocol = \"http\"\ndirection = \"outbound\"\naction = \"forward\"\n[policy.protocols]\nbittorrent = \"drop\"\n[policy.categories]\np2p = \"drop\"\n"
        );
        let c = Config::parse(&text, "t.toml").unwrap();
        assert_eq!(c.policy.default, Action::Drop);
        let keys: Vec<_> = c.policy.rules.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["policy.rule[0]", "policy.protocols.bittorrent", "policy.categories.p2p"]);
        assert_eq!(c.policy.rules[0].direction, RuleDirection::Outbound);
    }

    const SHAPER: &str = r#"
[policy.classes.p2p-day]
rate = "20 Mbit/s"
burst = "64 KiB"
mode = "shape"
target = "5 ms"
dscp = "CS1"

[policy.classes.bulk]
dscp = "LE"

[policy.classes.cap]
rate = "8 Mbit/s"
mode = "police"

[policy.schedules.office-hours]
days = ["mon", "tue", "wed", "thu", "fri"]
time = "08:00-17:00"
timezone = "Europe/Helsinki"

[policy.schedules.night]
time = ["22:00-06:00"]
timezone = "UTC"

[[policy.rule]]
category = "p2p"
direction = "both"
schedule = "office-hours"
action = "drop"

[[policy.rule]]
protocol = "bittorrent"
class = "p2p-day"
"#;

    #[test]
    fn classes_schedules_and_class_rules() {
        let c = Config::parse(&format!("{MINIMAL}{SHAPER}"), "t.toml").unwrap();
        let p = &c.policy;
        let names: Vec<_> = p.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["bulk", "cap", "p2p-day"], "sorted by name");
        let day = &p.classes[2];
        let l = day.limit.unwrap();
        assert_eq!(l.rate.bits_per_s, 20_000_000);
        assert_eq!(l.burst_bytes, 65536);
        assert_eq!(l.mode, ClassMode::Shape);
        assert_eq!((l.target_ns, l.interval_ns), (5_000_000, 100_000_000));
        assert_eq!(day.dscp, Some(Dscp(8)));
        assert_eq!(p.classes[0].limit, None, "a class with only dscp just marks");
        assert_eq!(p.classes[0].dscp, Some(Dscp(1)));
        let cap = p.classes[1].limit.unwrap();
        assert_eq!(cap.mode, ClassMode::Police);
        assert_eq!(cap.burst_bytes, 65_536, "default burst: 10 ms at 8 Mbit/s is 10 kB, raised to 64 KiB");
        let names: Vec<_> = p.schedules.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["night", "office-hours"]);
        let office = &p.schedules[1];
        assert_eq!(office.days, [true, true, true, true, true, false, false]);
        assert_eq!(office.zone, Zone::Named("Europe/Helsinki".into()));
        assert!(p.schedules[0].ranges[0].crosses_midnight());
        assert_eq!(p.schedules[0].days, [true; 7], "default: every day");
        assert_eq!(p.rules[0].schedule, Some(1));
        assert_eq!(p.rules[0].target, Target::Action(Action::Drop));
        assert_eq!(p.rules[1].target, Target::Class(2));
        assert_eq!(p.rules[1].schedule, None);
        assert_eq!(c.workers.queue_memory, 32 << 20);
    }

    #[test]
    fn the_default_burst_is_10_ms_at_the_rate_and_at_least_64_kib() {
        let burst = |rate: &str| {
            let c = Config::parse(&format!("{MINIMAL}[policy.classes.c]\nrate = \"{rate}\"\n"), "t.toml").unwrap();
            c.policy.classes[0].limit.unwrap().burst_bytes
        };
        assert_eq!(burst("1 Mbit/s"), DEFAULT_MIN_BURST);
        assert_eq!(burst("100 Mbit/s"), 125_000);
    }

    #[test]
    fn control_socket_defaults_to_the_interface_pair() {
        let c = Config::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(c.control.socket, Some(default_control_socket("in0", "out0")));
        let c = Config::parse(&format!("{MINIMAL}[control]\nsocket = \"\"\n"), "t.toml").unwrap();
        assert_eq!(c.control.socket, None);
    }

    #[test]
    fn the_host_zone_is_the_default() {
        // Only where the host's zone is known; the error case is the check below.
        if jiff::tz::TimeZone::try_system().is_ok() {
            let text = format!("{MINIMAL}[policy.schedules.s]\ntime = \"08:00-17:00\"\n");
            assert_eq!(Config::parse(&text, "t.toml").unwrap().policy.schedules[0].zone, Zone::Host);
        }
    }

    #[test]
    fn the_bundled_tz_database_has_the_zones_without_a_system_copy() {
        // weir is built with jiff's bundled tz database, used when /usr/share/zoneinfo is absent.
        let db = jiff::tz::TimeZoneDatabase::bundled();
        assert!(db.get("Europe/Helsinki").is_ok());
        assert!(db.get("America/New_York").is_ok());
        assert!(db.get("Mars/Olympus_Mons").is_err());
    }

    macro_rules! bad_config {
        ($($name:ident: $text:expr => $($needle:expr),+;)*) => {$(
            #[test]
            fn $name() {
                let msg = err(&$text);
                $(assert!(msg.contains($needle), "{msg:?} should contain {:?}", $needle);)+
            }
        )*};
    }

    bad_config! {
        bad_user: format!("{MINIMAL}[service]\nuser = \"we ir\"\n") => "service.user", "adduser";
        relative_run_dir: format!("{MINIMAL}[service]\nrun_dir = \"run\"\n") => "service.run_dir", "/run/weir";
        unknown_service_key: format!("{MINIMAL}[service]\ngroup = \"x\"\n") => "group";
        unknown_key_is_named: format!("{MINIMAL}colour = \"blue\"\n") => "colour", "t.toml";
        unknown_nested_key_is_named: "[interfaces]\ninside = \"a\"\noutside = \"b\"\nqueue = 3\n" => "queue";
        missing_inside: "[interfaces]\noutside = \"b\"\n" => "inside";
        same_nics: "[interfaces]\ninside = \"a\"\noutside = \"a\"\n" => "interfaces.outside", "two different";
        bad_action: format!("{MINIMAL}[policy.protocols]\nbittorrent = \"block\"\n") => "policy.protocols.bittorrent", "forward";
        bad_default: format!("{MINIMAL}[policy]\ndefault = \"allow\"\n") => "policy.default";
        bad_direction: format!("{MINIMAL}[[policy.rule]]\nprotocol = \"x\"\ndirection = \"up\"\naction = \"drop\"\n") => "policy.rule[0].direction";
        rule_needs_one_target: format!("{MINIMAL}[[policy.rule]]\naction = \"drop\"\n") => "policy.rule[0]", "exactly one";
        core_out_of_range: format!("{MINIMAL}[workers]\ncores = [4096]\n") => "workers.cores[0]", "does not exist";
        frames_too_few: format!("{MINIMAL}[rings]\nframes = 1024\n") => "rings.frames", "at least";
        ring_not_power_of_two: format!("{MINIMAL}[rings]\nrx = 1000\n") => "rings.rx", "power of two";
        frame_size_unsupported: format!("{MINIMAL}[rings]\nframe_size = 1500\n") => "rings.frame_size";
        shards_not_power_of_two: format!("{MINIMAL}[flows]\nshards = 3\n") => "flows.shards";
        xdp_mode_unknown: "[interfaces]\ninside = \"a\"\noutside = \"b\"\nxdp_mode = \"fast\"\n" => "interfaces.xdp_mode", "native";
        queues_word: "[interfaces]\ninside = \"a\"\noutside = \"b\"\nqueues = \"some\"\n" => "interfaces.queues";
        queues_twice: "[interfaces]\ninside = \"a\"\noutside = \"b\"\nqueues = [1, 1]\n" => "interfaces.queues", "twice";
        zero_timeout: format!("{MINIMAL}[flows]\nudp_idle_s = 0\n") => "flows.udp_idle_s";
        zero_peer_ttl: format!("{MINIMAL}[inspect]\npeer_cache_ttl_s = 0\n") => "inspect.peer_cache_ttl_s", "1800";
        bad_listen: format!("{MINIMAL}[stats]\nlisten = \"localhost\"\n") => "stats.listen", "127.0.0.1:9754";
        wrong_type: format!("{MINIMAL}[workers]\nbatch = \"many\"\n") => "batch";
        bad_collector: format!("{MINIMAL}[export]\nipfix = [\"localhost\"]\n") => "export.ipfix[0]", "no port", "HOST:PORT";
        collector_twice: format!("{MINIMAL}[export]\nipfix = [\"127.0.0.1:4739\", \"udp://127.0.0.1:4739\"]\n") => "export.ipfix[1]", "twice";
        refresh_zero: format!("{MINIMAL}[export]\ntemplate_refresh_s = 0\n") => "export.template_refresh_s", "1..=3600";
        queue_tiny: format!("{MINIMAL}[export]\nqueue = 10\n") => "export.queue";
        message_small: format!("{MINIMAL}[export]\nmax_message = 100\n") => "export.max_message", "MTU";
        active_too_long: format!("{MINIMAL}[flows]\nactive_timeout_s = 100000\n") => "flows.active_timeout_s", "0 to report";
        hosts_too_many: format!("{MINIMAL}[stats]\nhosts = 5000\n") => "stats.hosts";
        unknown_export_key: format!("{MINIMAL}[export]\ncollectors = []\n") => "collectors";
        batch_too_large: format!("{MINIMAL}[workers]\nbatch = 4096\n") => "workers.batch", "1..=1024";
        ring_too_large: format!("{MINIMAL}[rings]\nfill = 65536\nframes = 1048576\n") => "rings.fill", "32768";
        busy_poll_budget_zero: format!("{MINIMAL}[workers]\nbusy_poll = true\nbusy_poll_budget = 0\n") => "workers.busy_poll_budget";
        capacity_below_shards: format!("{MINIMAL}[flows]\ncapacity = 8\n") => "flows.capacity";
        unknown_class: format!("{MINIMAL}[[policy.rule]]\nprotocol = \"x\"\nclass = \"slow\"\n") => "policy.rule[0].class", "no class named \"slow\"", "none are defined", "[policy.classes.slow]";
        unknown_class_lists_known: format!("{MINIMAL}[policy.classes.a]\ndscp = 8\n[[policy.rule]]\nprotocol = \"x\"\nclass = \"b\"\n") => "defined: a";
        unknown_schedule: format!("{MINIMAL}[[policy.rule]]\nprotocol = \"x\"\naction = \"drop\"\nschedule = \"lunch\"\n") => "policy.rule[0].schedule", "lunch";
        action_and_class: format!("{MINIMAL}[policy.classes.a]\ndscp = 8\n[[policy.rule]]\nprotocol = \"x\"\naction = \"drop\"\nclass = \"a\"\n") => "policy.rule[0]", "both action and class";
        neither_action_nor_class: format!("{MINIMAL}[[policy.rule]]\nprotocol = \"x\"\n") => "policy.rule[0]", "neither action nor class";
        rate_without_unit: format!("{MINIMAL}[policy.classes.a]\nrate = 20000000\n") => "policy.classes.a.rate", "no unit", "Mbit/s";
        rate_bad_unit: format!("{MINIMAL}[policy.classes.a]\nrate = \"20 Mbps\"\n") => "policy.classes.a.rate", "ambiguous";
        rate_unknown_unit: format!("{MINIMAL}[policy.classes.a]\nrate = \"20 furlongs\"\n") => "policy.classes.a.rate", "not a rate unit";
        rate_too_low: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 bit/s\"\n") => "policy.classes.a.rate", "outside";
        burst_too_small: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 Mbit/s\"\nburst = 100\n") => "policy.classes.a.burst", "full-size frame";
        burst_without_rate: format!("{MINIMAL}[policy.classes.a]\ndscp = \"EF\"\nburst = \"64 KiB\"\n") => "policy.classes.a.burst", "no rate";
        class_does_nothing: format!("{MINIMAL}[policy.classes.a]\n") => "policy.classes.a", "neither rate nor dscp";
        class_bad_mode: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 Mbit/s\"\nmode = \"throttle\"\n") => "policy.classes.a.mode", "police";
        police_with_target: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 Mbit/s\"\nmode = \"police\"\ntarget = \"5 ms\"\n") => "policy.classes.a.target", "shape mode";
        target_above_interval: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 Mbit/s\"\ntarget = \"200 ms\"\n") => "policy.classes.a.target", "interval";
        bad_dscp_name: format!("{MINIMAL}[policy.classes.a]\ndscp = \"AF44\"\n") => "policy.classes.a.dscp", "CS0-CS7";
        bad_dscp_number: format!("{MINIMAL}[policy.classes.a]\ndscp = 64\n") => "policy.classes.a.dscp", "0-63";
        unknown_class_key: format!("{MINIMAL}[policy.classes.a]\nrate = \"1 Mbit/s\"\nceil = \"2 Mbit/s\"\n") => "ceil";
        bad_class_name: format!("{MINIMAL}[policy.classes.\"a b\"]\ndscp = 8\n") => "policy.classes.a b", "letters";
        zone_does_not_exist: format!("{MINIMAL}[policy.schedules.s]\ntime = \"08:00-17:00\"\ntimezone = \"Europe/Tampere\"\n") => "policy.schedules.s.timezone", "Europe/Tampere", "IANA";
        schedule_needs_time: format!("{MINIMAL}[policy.schedules.s]\ndays = [\"mon\"]\n") => "policy.schedules.s.time", "missing";
        schedule_bad_day: format!("{MINIMAL}[policy.schedules.s]\ndays = [\"monday\", \"funday\"]\ntime = \"08:00-17:00\"\n") => "policy.schedules.s.days", "funday";
        schedule_bad_time: format!("{MINIMAL}[policy.schedules.s]\ntime = \"8am-5pm\"\n") => "policy.schedules.s.time", "HH:MM";
        schedule_empty_range: format!("{MINIMAL}[policy.schedules.s]\ntime = \"08:00-08:00\"\n") => "policy.schedules.s.time", "00:00-24:00";
        queue_memory_too_big: format!("{MINIMAL}[workers]\nqueue_memory = \"1 GiB\"\n[policy.classes.a]\nrate = \"1 Mbit/s\"\n") => "workers.queue_memory", "rings.frames";
        queue_memory_bad_unit: format!("{MINIMAL}[workers]\nqueue_memory = \"32 KB\"\n") => "workers.queue_memory", "ambiguous";
        control_socket_relative: format!("{MINIMAL}[control]\nsocket = \"weir.sock\"\n") => "control.socket", "absolute";
    }
}
