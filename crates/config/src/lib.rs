//! weir's configuration file: TOML schema, documented defaults, and validation whose errors name
//! the key and the fix.
//!
//! Two stages, after ripgrep's low-level/high-level arguments: [`raw`] structs mirror the file
//! (`deny_unknown_fields`: an unknown key is an error, never ignored), and [`Config`] is what the
//! rest of weir uses, with every value checked. Nothing here touches an interface: checking that
//! `inside` exists or that a core is online belongs to start-up, which has the system at hand.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod raw;

use std::path::{Path, PathBuf};

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

/// XDP attach mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// Driver mode.
    Native,
    /// Generic (skb) mode.
    Generic,
    /// Native, else generic.
    Auto,
}

/// AF_XDP bind mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindMode {
    /// Zero-copy (needs driver support).
    ZeroCopy,
    /// Copy mode.
    Copy,
    /// Zero-copy, else copy.
    Auto,
}

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
    /// BitTorrent peer cache entries.
    pub peer_cache: usize,
}

/// One policy rule: a protocol or category name, a direction, an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Protocol name (`bittorrent`) or category name (`p2p`); checked against the classifier's
    /// registry by the caller, which knows it.
    pub matches: Match,
    /// Which direction.
    pub direction: RuleDirection,
    /// What to do.
    pub action: Action,
    /// Where it came from, for error messages: e.g. `policy.protocols.bittorrent`.
    pub key: String,
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
        if w.batch == 0 || w.batch > 1024 {
            return Err(e("workers.batch", format!("{} is out of range", w.batch), "use 1..=1024 (64 is usual)"));
        }
        let busy_poll = if w.busy_poll {
            if w.busy_poll_budget == 0 {
                return Err(e("workers.busy_poll_budget", "is 0".into(), "use a budget like 64"));
            }
            Some(BusyPoll { timeout_us: w.busy_poll_us, budget: w.busy_poll_budget })
        } else {
            None
        };

        let r = self.rings;
        if r.frame_size != 2048 && r.frame_size != 4096 {
            return Err(e("rings.frame_size", format!("{} is not supported", r.frame_size), "use 2048 or 4096"));
        }
        for (key, v) in
            [("rings.rx", r.rx), ("rings.tx", r.tx), ("rings.fill", r.fill), ("rings.completion", r.completion)]
        {
            if !v.is_power_of_two() || !(64..=32768).contains(&v) {
                return Err(e(key, format!("{v} is not a power of two in 64..=32768"), "use e.g. 2048"));
            }
        }
        // Two sockets share the UMEM: each has its own four rings.
        let need = 2 * 2 * (r.rx + r.tx + r.fill + r.completion);
        if r.frames < need {
            return Err(e(
                "rings.frames",
                format!("{} frames cannot cover two sockets' rings ({} entries)", r.frames, need / 2),
                &format!("use at least {need} (twice the sum of both sockets' rings)"),
            ));
        }

        let f = self.flows;
        if f.shards == 0 || !f.shards.is_power_of_two() {
            return Err(e("flows.shards", format!("{} is not a power of two", f.shards), "use e.g. 64"));
        }
        if f.capacity < f.shards {
            return Err(e(
                "flows.capacity",
                format!("{} is below flows.shards ({})", f.capacity, f.shards),
                "use e.g. 1048576",
            ));
        }
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

        let p = self.policy;
        let action = |key: &str, s: &str| {
            Action::parse(s).ok_or_else(|| e(key, format!("{s:?} is not an action"), "use \"forward\" or \"drop\""))
        };
        let default = action("policy.default", &p.default)?;
        let malformed = action("policy.malformed", &p.malformed)?;
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
            let action = action(&format!("{key}.action"), &rule.action)?;
            rules.push(Rule { matches, direction, action, key });
        }
        for (name, a) in p.protocols {
            let key = format!("policy.protocols.{name}");
            let action = action(&key, &a)?;
            rules.push(Rule { matches: Match::Protocol(name), direction: RuleDirection::Both, action, key });
        }
        for (name, a) in p.categories {
            let key = format!("policy.categories.{name}");
            let action = action(&key, &a)?;
            rules.push(Rule { matches: Match::Category(name), direction: RuleDirection::Both, action, key });
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

        Ok(Config {
            interfaces: Interfaces { inside: i.inside, outside: i.outside, queues, xdp_mode, bind_mode },
            workers: Workers { cores: w.cores, stats_core: w.stats_core, batch: w.batch, busy_poll },
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
            },
            policy: Policy { rules, default, malformed },
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
        })
    }
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
        assert_eq!(c.policy.default, Action::Forward);
        assert_eq!(c.policy.malformed, Action::Forward);
        assert!(c.policy.rules.is_empty());
        assert_eq!(c.flows.active_timeout_s, 60);
        assert_eq!((c.stats.hosts, c.stats.hosts_tracked), (20, 4096));
        assert!(c.export.ipfix.is_empty());
        assert_eq!((c.export.observation_domain, c.export.template_refresh_s), (1, 60));
        assert_eq!((c.export.queue, c.export.max_message), (65536, 1400));
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
    }
}
