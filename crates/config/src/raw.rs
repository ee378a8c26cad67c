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
    /// `[control]`.
    #[serde(default)]
    pub control: RawControl,
    /// `[service]`.
    #[serde(default)]
    pub service: RawService,
    /// `[fastpath]`.
    #[serde(default)]
    pub fastpath: RawFastpath,
}

/// A number or a string with a unit (`burst = 65536` or `burst = "64 KiB"`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum NumOrText {
    /// A bare number.
    Num(i64),
    /// Text, with a unit or a name.
    Text(String),
}

/// One string or a list of them (`time = "08:00-17:00"` or `time = ["08:00-12:00", "13:00-17:00"]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
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
    /// Default "32 MiB": frames a worker's shaper may hold, counted in the UMEM frames they pin.
    pub queue_memory: NumOrText,
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
            queue_memory: NumOrText::Text("32 MiB".into()),
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
    /// Default 262144.
    pub peer_cache: usize,
    /// Default 1800.
    pub peer_cache_ttl_s: u32,
    /// Default 4096; 0 turns related-flow labelling off.
    pub related: usize,
    /// Default 120.
    pub related_timeout_s: u64,
}

impl Default for RawInspect {
    fn default() -> Self {
        RawInspect {
            max_packets: 10,
            max_bytes: 4096,
            signatures: None,
            peer_cache: 262_144,
            peer_cache_ttl_s: 1800,
            related: 4096,
            related_timeout_s: 120,
        }
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
    /// `[policy.classes.NAME]`: rate classes and marks.
    pub classes: BTreeMap<String, RawClass>,
    /// `[policy.schedules.NAME]`: days and times.
    pub schedules: BTreeMap<String, RawSchedule>,
}

/// `[policy.classes.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    /// Default none (a class without a rate only marks).
    pub rate: Option<NumOrText>,
    /// Default 10 ms at `rate`, at least 64 KiB.
    pub burst: Option<NumOrText>,
    /// Default "shape".
    pub mode: Option<String>,
    /// Default "5 ms".
    pub target: Option<NumOrText>,
    /// Default "100 ms".
    pub interval: Option<NumOrText>,
    /// Default none (no mark).
    pub dscp: Option<NumOrText>,
}

/// `[policy.schedules.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Default every day.
    pub days: Option<Vec<String>>,
    /// Required.
    pub time: Option<OneOrMany>,
    /// Default the host's zone.
    pub timezone: Option<String>,
}

impl Default for RawPolicy {
    fn default() -> Self {
        RawPolicy {
            default: "forward".into(),
            malformed: "forward".into(),
            rule: Vec::new(),
            protocols: BTreeMap::new(),
            categories: BTreeMap::new(),
            classes: BTreeMap::new(),
            schedules: BTreeMap::new(),
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
    /// `action` or `class`, one of them.
    pub action: Option<String>,
    /// A class name, instead of an action.
    pub class: Option<String>,
    /// Default none (always): a schedule name.
    pub schedule: Option<String>,
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

/// `[control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawControl {
    /// Default "/run/weir/INSIDE-OUTSIDE.sock"; "" turns the control socket off.
    pub socket: Option<String>,
}

/// `[service]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawService {
    /// Default "" (stay root, with only the capabilities still needed).
    pub user: String,
    /// Default "/run/weir".
    pub run_dir: PathBuf,
}

impl Default for RawService {
    fn default() -> Self {
        RawService { user: String::new(), run_dir: PathBuf::from("/run/weir") }
    }
}

/// `[fastpath]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFastpath {
    /// Default true.
    pub enabled: bool,
    /// Default 65536.
    pub map_size: u64,
    /// Default 1.
    pub sweep_interval_s: u64,
    /// Default "open".
    pub fail: String,
    /// Default 500.
    pub watchdog_ms: u64,
}

impl Default for RawFastpath {
    fn default() -> Self {
        RawFastpath { enabled: true, map_size: 65536, sweep_interval_s: 1, fail: "open".into(), watchdog_ms: 500 }
    }
}
