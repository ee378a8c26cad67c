//! The file as written: serde structs, every field with its default. Unknown keys are errors.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[interfaces]`: required.
    pub interfaces: RawInterfaces,
    /// `[workers]`.
    #[serde(default)]
    pub workers: RawWorkers,
    /// `[rings]`.
    #[serde(default)]
    pub rings: RawRings,
    /// `[flows]`.
    #[serde(default)]
    pub flows: RawFlows,
    /// `[inspect]`.
    #[serde(default)]
    pub inspect: RawInspect,
    /// `[policy]`.
    #[serde(default)]
    pub policy: RawPolicy,
    /// `[stats]`.
    #[serde(default)]
    pub stats: RawStats,
    /// `[export]`.
    #[serde(default)]
    pub export: RawExport,
}

/// `interfaces.queues`: "all" or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Queues {
    /// A word; only "all" is valid.
    All(String),
    /// Queue indices.
    List(Vec<u32>),
}

fn all_queues() -> Queues {
    Queues::All("all".into())
}
fn auto() -> String {
    "auto".into()
}

/// `[interfaces]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterfaces {
    /// Inside NIC. Required.
    pub inside: String,
    /// Outside NIC. Required.
    pub outside: String,
    /// Default "all".
    #[serde(default = "all_queues")]
    pub queues: Queues,
    /// Default "auto".
    #[serde(default = "auto")]
    pub xdp_mode: String,
    /// Default "auto".
    #[serde(default = "auto")]
    pub bind_mode: String,
}

/// `[workers]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawWorkers {
    /// Default [] (worker i on core i mod cores).
    pub cores: Vec<usize>,
    /// Default none (not pinned).
    pub stats_core: Option<usize>,
    /// Default 64.
    pub batch: u32,
    /// Default false.
    pub busy_poll: bool,
    /// Default 20.
    pub busy_poll_us: u32,
    /// Default 64.
    pub busy_poll_budget: u16,
}

impl Default for RawWorkers {
    fn default() -> Self {
        RawWorkers {
            cores: Vec::new(),
            stats_core: None,
            batch: 64,
            busy_poll: false,
            busy_poll_us: 20,
            busy_poll_budget: 64,
        }
    }
}

/// `[rings]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRings {
    /// Default 4096.
    pub frame_size: u32,
    /// Default 40960.
    pub frames: u32,
    /// Default 2048.
    pub rx: u32,
    /// Default 2048.
    pub tx: u32,
    /// Default 4096.
    pub fill: u32,
    /// Default 2048.
    pub completion: u32,
}

impl Default for RawRings {
    fn default() -> Self {
        RawRings { frame_size: 4096, frames: 40960, rx: 2048, tx: 2048, fill: 4096, completion: 2048 }
    }
}

/// `[flows]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlows {
    /// Default 64.
    pub shards: usize,
    /// Default 1048576.
    pub capacity: usize,
    /// Default 300.
    pub tcp_idle_s: u64,
    /// Default 60.
    pub udp_idle_s: u64,
    /// Default 30.
    pub other_idle_s: u64,
    /// Default 10.
    pub closed_linger_s: u64,
    /// Default 60; 0: flows are reported only when they end.
    pub active_timeout_s: u64,
}

impl Default for RawFlows {
    fn default() -> Self {
        RawFlows {
            shards: 64,
            capacity: 1 << 20,
            tcp_idle_s: 300,
            udp_idle_s: 60,
            other_idle_s: 30,
            closed_linger_s: 10,
            active_timeout_s: 60,
        }
    }
}

/// `[inspect]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawInspect {
    /// Default 10.
    pub max_packets: u8,
    /// Default 4096.
    pub max_bytes: u16,
    /// Default none (built-in signatures).
    pub signatures: Option<PathBuf>,
    /// Default 65536.
    pub peer_cache: usize,
}

impl Default for RawInspect {
    fn default() -> Self {
        RawInspect { max_packets: 10, max_bytes: 4096, signatures: None, peer_cache: 65536 }
    }
}

/// `[policy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawPolicy {
    /// Default "forward".
    pub default: String,
    /// Default "forward".
    pub malformed: String,
    /// Default none.
    pub rule: Vec<RawRule>,
    /// Protocol name to action, both directions.
    pub protocols: BTreeMap<String, String>,
    /// Category name to action, both directions.
    pub categories: BTreeMap<String, String>,
}

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            default: "forward".into(),
            malformed: "forward".into(),
            rule: Vec::new(),
            protocols: BTreeMap::new(),
            categories: BTreeMap::new(),
        }
    }
}

fn both() -> String {
    "both".into()
}

/// `[[policy.rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A protocol name.
    pub protocol: Option<String>,
    /// Or a category name.
    pub category: Option<String>,
    /// Default "both".
    #[serde(default = "both")]
    pub direction: String,
    /// Required.
    pub action: String,
}

/// `[stats]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStats {
    /// Default true.
    pub enabled: bool,
    /// Default 1.
    pub interval_s: u64,
    /// Default "127.0.0.1:9754"; "" turns the endpoint off.
    pub listen: String,
    /// Default 20: hosts in each stats record (and in /metrics) by bytes, and as many again by
    /// peer-to-peer bytes; 0: none.
    pub hosts: usize,
    /// Default 4096: (host, protocol) pairs each worker tracks; 0 turns per-host accounting off.
    pub hosts_tracked: usize,
}

impl Default for RawStats {
    fn default() -> Self {
        RawStats { enabled: true, interval_s: 1, listen: "127.0.0.1:9754".into(), hosts: 20, hosts_tracked: 4096 }
    }
}

/// `[export]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawExport {
    /// Default none: IPFIX collectors, `"HOST:PORT"` (UDP), `"udp://HOST:PORT"` or
    /// `"tcp://HOST:PORT"`.
    pub ipfix: Vec<String>,
    /// Default 1.
    pub observation_domain: u32,
    /// Default 60.
    pub template_refresh_s: u64,
    /// Default 65536.
    pub queue: usize,
    /// Default 1400.
    pub max_message: usize,
}

impl Default for RawExport {
    fn default() -> Self {
        RawExport { ipfix: Vec::new(), observation_domain: 1, template_refresh_s: 60, queue: 65536, max_message: 1400 }
    }
}
