//! The per-interval stats record: one schema for the stats thread, `--stats-json` JSON lines,
//! the `/stats.json` endpoint, `weir top` and `weir report`.
//!
//! Field names are an interface (documented in the README); add fields, never rename them.
//! Rates are per second over the interval (`*_bps` bits/s, `*_pps` packets/s) and `*_1m` is
//! the one-minute moving average; counts without a suffix are totals since start.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One interval's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    /// Always "interval".
    #[serde(rename = "type")]
    pub kind: String,
    /// Wall-clock time at the end of the interval, Unix seconds.
    pub time_unix_s: f64,
    /// Seconds since weir started.
    pub uptime_s: f64,
    /// Length of this interval, seconds.
    pub interval_s: f64,
    /// Per protocol (by name), both directions.
    pub protocols: BTreeMap<String, ProtocolStats>,
    /// Per NIC: "inside" and "outside".
    pub interfaces: BTreeMap<String, InterfaceStats>,
    /// Malformed frames by reason (totals).
    pub malformed: BTreeMap<String, u64>,
    /// Non-IP frames (total).
    pub non_ip: u64,
    /// The flow table.
    pub flow_table: FlowTableStats,
    /// UMEM frames over all workers.
    pub umem: UmemStats,
    /// Time a batch spends in the worker, ns.
    pub batch_ns: Percentiles,
    /// Frames per non-empty batch.
    pub batch_size: Percentiles,
    /// Time per packet through the engine, ns (batch time / batch size).
    pub packet_ns: Percentiles,
    /// The flows with the most bytes among those active, largest first.
    pub top_flows: Vec<TopFlow>,
    /// The inside hosts with the most bytes and those with the most peer-to-peer bytes, largest
    /// (by bytes) first. Bytes since start, counted when a flow ends and, for a long flow, at each
    /// active timeout; from a bounded table per worker (see `hosts`), so each figure is a lower
    /// bound, short of the truth by at most its `error_bytes`.
    #[serde(default)]
    pub hosts: Vec<HostStats>,
    /// IPFIX export, when `[export] ipfix` names collectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<IpfixStats>,
    /// The shaping classes of `[policy.classes]`, in the policy's order (empty without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassStats>,
    /// The policy in force: its generation, the schedules active now, the last reload.
    #[serde(default)]
    pub policy: PolicyStatus,
    /// weir's XDP fast path, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fastpath: Option<FastpathStats>,
}

/// weir's XDP fast path: decided flows whose frames the kernel forwards or drops itself. Its
/// frames are also in the per-protocol and per-interface counts (merged there); these say how
/// much of that the kernel did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastpathStats {
    /// Where the program runs: "native" or "generic" (inside, outside).
    pub mode: String,
    /// Entries the flow map has room for.
    pub map_size: u64,
    /// Flows in the map at the last sweep.
    pub flows: u64,
    /// Flows installed since start.
    pub installed: u64,
    /// Installs refused because the map was full (those flows stay in user space).
    pub map_full: u64,
    /// Flows taken out of the map (ended, expired, new policy).
    pub removed: u64,
    /// Frames the kernel decided (both NICs).
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames sent past the sockets to the other NIC (no socket, or the watchdog).
    pub bypassed: u64,
    /// Frames dropped because no socket took them and the fast path fails closed.
    pub bypass_dropped: u64,
    /// Map operations the kernel refused otherwise than for a full map (installs, walks,
    /// heartbeats); 0 in a healthy run.
    #[serde(default)]
    pub errors: u64,
}

/// One class of `[policy.classes]`, over all workers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    /// The class's name.
    pub name: String,
    /// "shape", "police" or "mark".
    pub kind: String,
    /// The configured rate, bits/s, per direction (0 for a class that only marks).
    pub rate_set_bps: u64,
    /// Outbound (inside to outside).
    pub out: ClassDirStats,
    /// Inbound.
    #[serde(rename = "in")]
    pub inb: ClassDirStats,
}

/// One class in one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassDirStats {
    /// Frames handed to the class since start.
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Frames the class sent on since start.
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Bits per second the class sent on over the interval (its achieved rate).
    pub bps: f64,
    /// Frames queued now.
    pub queued_frames: u64,
    /// Bytes queued now.
    pub queued_bytes: u64,
    /// Time frames waited in the class's queues over the interval, microseconds.
    pub sojourn_us: Percentiles,
    /// Frames dropped since start: police (above the rate), CoDel, queue full (the worker's
    /// `workers.queue_memory`), flushed at stop.
    pub dropped_police: u64,
    /// See `dropped_police`.
    pub dropped_codel: u64,
    /// See `dropped_police`.
    pub dropped_queue_full: u64,
    /// See `dropped_police`.
    pub dropped_flushed: u64,
    /// Bytes of all dropped frames.
    pub dropped_bytes: u64,
    /// ECN-capable frames CoDel marked CE instead of dropping.
    pub ecn_marked: u64,
    /// Frames whose DSCP was rewritten to the class's mark.
    pub dscp_marked: u64,
}

/// The policy in force.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyStatus {
    /// The policy generation (1 at start; +1 at each schedule change and each reload).
    pub generation: u64,
    /// The schedules active now, by name.
    pub active_schedules: Vec<String>,
    /// When the last reload was tried, Unix seconds (none yet: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload_unix_s: Option<i64>,
    /// Its result: "ok" or "refused" (none yet: absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload_result: Option<String>,
    /// What it changed, or why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload_message: Option<String>,
}

/// IPFIX export since start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpfixStats {
    /// Flow records the workers queued for the exporter.
    pub queued: u64,
    /// Flow records dropped because the queue was full (export never waits).
    pub dropped: u64,
    /// Per collector.
    pub collectors: Vec<IpfixCollectorStats>,
}

/// One IPFIX collector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpfixCollectorStats {
    /// `udp://host:port` or `tcp://host:port`.
    pub collector: String,
    /// TCP: connected now; UDP: always.
    pub connected: bool,
    /// Messages sent.
    pub messages: u64,
    /// Data records sent.
    pub records: u64,
    /// Octets sent.
    pub bytes: u64,
    /// Data records that never reached it.
    pub records_lost: u64,
    /// Failed sends (refused datagrams, broken connections).
    pub send_errors: u64,
}

/// One inside host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostStats {
    /// Its address.
    pub host: String,
    /// Bytes from the host (outbound), all protocols.
    pub bytes_out: u64,
    /// Bytes to the host (inbound), all protocols.
    pub bytes_in: u64,
    /// Outbound bytes of peer-to-peer protocols (category `p2p`).
    pub p2p_bytes_out: u64,
    /// Inbound bytes of peer-to-peer protocols.
    pub p2p_bytes_in: u64,
    /// At most this many more bytes of the host's protocols may have gone uncounted (the
    /// bounded table's error).
    pub error_bytes: u64,
    /// Per protocol (by name).
    pub protocols: BTreeMap<String, HostProtocolStats>,
}

/// One protocol of one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostProtocolStats {
    /// The protocol's category.
    pub category: String,
    /// Bytes from the host.
    pub bytes_out: u64,
    /// Bytes to the host.
    pub bytes_in: u64,
    /// At most this many more bytes may have gone uncounted.
    #[serde(default)]
    pub error_bytes: u64,
}

/// One protocol.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolStats {
    /// Its category ("p2p", "web", ...).
    pub category: String,
    /// Totals since start, outbound (inside to outside).
    pub packets_out: u64,
    /// Totals since start, inbound.
    pub packets_in: u64,
    /// Wire bytes since start, outbound.
    pub bytes_out: u64,
    /// Wire bytes since start, inbound.
    pub bytes_in: u64,
    /// Packets dropped by policy since start, outbound.
    pub dropped_out: u64,
    /// Packets dropped by policy since start, inbound.
    pub dropped_in: u64,
    /// Bits per second over the interval, outbound.
    pub bps_out: f64,
    /// Bits per second over the interval, inbound.
    pub bps_in: f64,
    /// Packets per second over the interval, outbound.
    pub pps_out: f64,
    /// Packets per second over the interval, inbound.
    pub pps_in: f64,
    /// One-minute moving average of `bps_out`.
    pub bps_out_1m: f64,
    /// One-minute moving average of `bps_in`.
    pub bps_in_1m: f64,
    /// Flows labelled with this protocol since start.
    pub flows: u64,
    /// Flows labelled in this interval.
    pub flows_new: u64,
}

/// One NIC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InterfaceStats {
    /// Frames received since start.
    pub received: u64,
    /// Bytes received since start.
    pub received_bytes: u64,
    /// Frames forwarded to the other NIC since start.
    pub forwarded: u64,
    /// Frames dropped by policy since start.
    pub dropped_policy: u64,
    /// Malformed frames dropped (by policy for malformed frames) since start.
    pub dropped_malformed: u64,
    /// Frames lost because the other NIC's TX ring was full, since start.
    pub lost_tx_full: u64,
    /// Frames a shaping class dropped since start (police, CoDel, queue full).
    #[serde(default)]
    pub dropped_shaper: u64,
    /// Frames a shaping class holds now.
    #[serde(default)]
    pub queued: u64,
    /// Received packets per second over the interval.
    pub rx_pps: f64,
    /// Received bits per second over the interval.
    pub rx_bps: f64,
}

/// The flow table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowTableStats {
    /// Flows in the table now.
    pub active: u64,
    /// The table's bound.
    pub capacity: u64,
    /// Flows created since start.
    pub created: u64,
    /// Flows evicted because the table was full, since start.
    pub evicted: u64,
    /// Flows ended by idle timeout since start.
    pub expired: u64,
    /// Flows ended by TCP FIN/RST since start.
    pub closed: u64,
}

/// UMEM frames.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UmemStats {
    /// Frames in all workers' UMEMs.
    pub frames_total: u64,
    /// Frames not on a free list (in rings, in a batch, in flight).
    pub frames_in_use: u64,
}

/// Percentiles of a distribution over the interval.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples in the interval.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Samples since start.
    #[serde(default)]
    pub count_total: u64,
    /// Sum of all samples since start (for Prometheus summaries).
    #[serde(default)]
    pub sum_total: u64,
}

/// One of the top flows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopFlow {
    /// "TCP", "UDP", "ICMP", ...
    pub l4: String,
    /// `ip:port` of the side that opened the flow.
    pub src: String,
    /// `ip:port` of the other side.
    pub dst: String,
    /// Protocol name, or "pending" while inspection is undecided.
    pub protocol: String,
    /// Wire bytes, both directions, since the flow began.
    pub bytes: u64,
    /// Packets, both directions.
    pub packets: u64,
}

/// The name of IP protocol `ip_protocol` as flow lines and records give it: "TCP", "UDP",
/// "ICMP", "ICMPv6", or "IP/<n>".
pub fn l4_name(ip_protocol: u8) -> String {
    match ip_protocol {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "ICMPv6".into(),
        n => format!("IP/{n}"),
    }
}

impl IntervalRecord {
    /// Total bits per second over the interval in one direction, all protocols.
    pub fn total_bps(&self, outbound: bool) -> f64 {
        self.protocols.values().map(|p| if outbound { p.bps_out } else { p.bps_in }).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_json_with_stable_names() {
        let mut r = IntervalRecord { kind: "interval".into(), uptime_s: 3.0, ..IntervalRecord::default() };
        r.protocols
            .insert("bittorrent".into(), ProtocolStats { category: "p2p".into(), bps_out: 8e6, ..Default::default() });
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"type\":\"interval\"") && text.contains("\"bps_out\":8000000.0"), "{text}");
        let back: IntervalRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.total_bps(true), 8e6);
        assert!(!text.contains("\"classes\"") && !text.contains("last_reload"), "absent when empty: {text}");
    }

    #[test]
    fn classes_and_the_policy_status_round_trip_with_their_documented_names() {
        let mut r = IntervalRecord { kind: "interval".into(), ..IntervalRecord::default() };
        r.classes.push(ClassStats {
            name: "p2p-day".into(),
            kind: "shape".into(),
            rate_set_bps: 8_000_000,
            out: ClassDirStats { bps: 7.9e6, dropped_codel: 3, ..Default::default() },
            inb: ClassDirStats { queued_frames: 2, ..Default::default() },
        });
        r.policy = PolicyStatus {
            generation: 2,
            active_schedules: vec!["workday".into()],
            last_reload_unix_s: Some(1_800_000_000),
            last_reload_result: Some("ok".into()),
            last_reload_message: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        for name in [
            "\"classes\":[{\"name\":\"p2p-day\",\"kind\":\"shape\",\"rate_set_bps\":8000000,\"out\":{",
            "\"in\":{\"packets_in\":0",
            "\"dropped_codel\":3",
            "\"sojourn_us\":{",
            "\"policy\":{\"generation\":2,\"active_schedules\":[\"workday\"],\"last_reload_unix_s\":1800000000,\"last_reload_result\":\"ok\"}",
        ] {
            assert!(text.contains(name), "{name} in {text}");
        }
        let back: IntervalRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }
}
