//! `weir run --summary-json`: the final counters as one typed object.
//!
//! Field names are an interface (documented in the README); add fields, never rename them. The
//! test harness and scripts read the summary through this type.

use crate::record::{ClassStats, HostStats, IpfixStats, PolicyStatus};
use crate::totals::{SideTotals, Totals};
use serde::{Deserialize, Serialize};

/// The final counters of one `weir run`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeSummary {
    /// Always "bridge-summary".
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds the bridge ran.
    pub elapsed_s: f64,
    /// Per interface.
    pub interfaces: Interfaces,
    /// Flows created.
    pub flows: u64,
    /// Every protocol seen, in protocol-id order.
    pub protocols: Vec<ProtocolSummary>,
    /// Non-IP frames.
    pub non_ip: u64,
    /// Malformed frames.
    pub malformed: u64,
    /// Per queue: where its UMEM frames were when its worker stopped.
    pub frames: Vec<FrameSummary>,
    /// The inside hosts with the most bytes and those with the most peer-to-peer bytes over
    /// the whole run (`stats.hosts` of each; as in the interval record); empty with per-host
    /// accounting off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostStats>,
    /// The IPFIX exporter's final figures, with export on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipfix: Option<IpfixStats>,
    /// The shaping classes' totals at stop (their interval rates and sojourns are of the last
    /// interval); empty without classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassStats>,
    /// The policy in force at stop.
    #[serde(default)]
    pub policy: PolicyStatus,
    /// weir's XDP fast path at stop, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fastpath: Option<crate::FastpathStats>,
}

/// The two interfaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Interfaces {
    /// The inside NIC.
    pub inside: SideSummary,
    /// The outside NIC.
    pub outside: SideSummary,
}

/// One interface: `received` = `forwarded` + `dropped_policy` + `dropped_malformed` +
/// `lost_tx_full`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideSummary {
    /// Frames received.
    pub received: u64,
    /// Their bytes.
    pub received_bytes: u64,
    /// Frames forwarded to the other interface.
    pub forwarded: u64,
    /// Frames dropped by policy.
    pub dropped_policy: u64,
    /// Frames dropped as malformed.
    pub dropped_malformed: u64,
    /// Frames lost to the other interface's full TX ring.
    pub lost_tx_full: u64,
    /// Frames a shaping class dropped (police, CoDel, queue full, flushed at stop).
    #[serde(default)]
    pub dropped_shaper: u64,
    /// Frames a shaping class held when the bridge stopped (0 after a clean stop: flushed).
    #[serde(default)]
    pub queued: u64,
}

impl From<SideTotals> for SideSummary {
    fn from(s: SideTotals) -> Self {
        SideSummary {
            received: s.received,
            received_bytes: s.received_bytes,
            forwarded: s.forwarded,
            dropped_policy: s.dropped_policy,
            dropped_malformed: s.dropped_malformed,
            lost_tx_full: s.lost_tx_full,
            dropped_shaper: s.dropped_shaper,
            queued: s.queued,
        }
    }
}

impl SideSummary {
    /// Every frame not forwarded, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_policy + self.dropped_malformed + self.lost_tx_full + self.dropped_shaper
    }
}

/// One protocol (both directions; `_out` inside to outside).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolSummary {
    /// Its name.
    pub protocol: String,
    /// Its category.
    pub category: String,
    /// Flows labelled with it.
    pub flows: u64,
    /// Packets outbound.
    pub packets_out: u64,
    /// Packets inbound.
    pub packets_in: u64,
    /// Wire bytes outbound.
    pub bytes_out: u64,
    /// Wire bytes inbound.
    pub bytes_in: u64,
    /// Packets dropped by policy outbound.
    pub dropped_out: u64,
    /// Packets dropped by policy inbound.
    pub dropped_in: u64,
}

/// One queue's frame census at stop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameSummary {
    /// The queue.
    pub queue: u32,
    /// Frames in its UMEM(s).
    pub total: u64,
    /// On the free list.
    pub free: u64,
    /// On fill rings.
    pub fill: u64,
    /// On RX rings.
    pub rx: u64,
    /// In a batch (0 when stopped).
    pub in_batch: u64,
    /// On TX rings.
    pub tx: u64,
    /// On completion rings.
    pub completion: u64,
    /// Whether the places add up to the total.
    pub accounted: bool,
}

impl BridgeSummary {
    /// The summary of `t`; `protocols[id]` names protocol id `id` as (name, category).
    pub fn new(t: &Totals, protocols: &[(String, String)], frames: Vec<FrameSummary>, elapsed_s: f64) -> Self {
        let protocols = t
            .protocols
            .iter()
            .zip(protocols)
            .filter(|(p, _)| p.seen())
            .map(|(p, (name, category))| ProtocolSummary {
                protocol: name.clone(),
                category: category.clone(),
                flows: p.flows,
                packets_out: p.packets[0],
                packets_in: p.packets[1],
                bytes_out: p.bytes[0],
                bytes_in: p.bytes[1],
                dropped_out: p.dropped[0],
                dropped_in: p.dropped[1],
            })
            .collect();
        BridgeSummary {
            kind: "bridge-summary".into(),
            elapsed_s,
            interfaces: Interfaces { inside: t.sides[0].into(), outside: t.sides[1].into() },
            flows: t.flows,
            protocols,
            non_ip: t.non_ip,
            malformed: t.malformed,
            frames,
            hosts: Vec::new(),
            ipfix: None,
            classes: Vec::new(),
            policy: PolicyStatus::default(),
            fastpath: None,
        }
    }

    /// The row of `protocol`, zeros (and the name) if it was never seen.
    pub fn protocol(&self, protocol: &str) -> ProtocolSummary {
        self.protocols
            .iter()
            .find(|p| p.protocol == protocol)
            .cloned()
            .unwrap_or_else(|| ProtocolSummary { protocol: protocol.into(), ..ProtocolSummary::default() })
    }

    /// Whether every frame is accounted for: per interface received = forwarded + every drop,
    /// and every queue's census adds up with nothing left in a batch.
    ///
    /// # Errors
    /// What does not add up.
    pub fn check_accounting(&self) -> Result<(), String> {
        for (name, s) in [("inside", &self.interfaces.inside), ("outside", &self.interfaces.outside)] {
            if s.received != s.forwarded + s.dropped() + s.queued {
                return Err(format!(
                    "{name}: received {} != forwarded {} + dropped {}",
                    s.received,
                    s.forwarded,
                    s.dropped()
                ));
            }
        }
        if self.frames.is_empty() {
            return Err("no queue's frame census".into());
        }
        for f in &self.frames {
            let sum = f.free + f.fill + f.rx + f.in_batch + f.tx + f.completion;
            if !f.accounted || sum != f.total || f.in_batch != 0 {
                return Err(format!("queue {}: frames do not add up: {f:?}", f.queue));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totals::ProtoTotals;

    #[test]
    fn summary_has_the_documented_names_and_round_trips() {
        let mut t = Totals { protocols: vec![ProtoTotals::default(); 3], flows: 2, non_ip: 1, ..Totals::default() };
        t.sides[0] = SideTotals {
            received: 10,
            received_bytes: 1000,
            forwarded: 7,
            dropped_policy: 2,
            dropped_malformed: 0,
            lost_tx_full: 1,
            dropped_shaper: 0,
            queued: 0,
        };
        t.protocols[1] = ProtoTotals { flows: 2, packets: [6, 3], bytes: [600, 300], dropped: [2, 0] };
        let names: Vec<(String, String)> =
            [("unknown", "unknown"), ("bittorrent", "p2p"), ("http", "web")].map(|(a, b)| (a.into(), b.into())).into();
        let frames =
            vec![FrameSummary { queue: 0, total: 8, free: 5, fill: 3, accounted: true, ..FrameSummary::default() }];
        let s = BridgeSummary::new(&t, &names, frames, 1.5);
        let text = serde_json::to_string(&s).unwrap();
        for name in [
            "\"type\":\"bridge-summary\"",
            "\"elapsed_s\"",
            "\"interfaces\":{\"inside\":{\"received\":10",
            "\"lost_tx_full\":1",
            "\"dropped_shaper\":0",
            "\"queued\":0",
            "\"policy\":{\"generation\":0",
            "\"protocol\":\"bittorrent\"",
            "\"category\":\"p2p\"",
            "\"dropped_out\":2",
            "\"accounted\":true",
            "\"non_ip\":1",
        ] {
            assert!(text.contains(name), "{name} in {text}");
        }
        assert_eq!(s.protocols.len(), 1, "only protocols seen");
        let back: BridgeSummary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.protocol("bittorrent").packets_out, 6);
        assert_eq!(back.protocol("http"), ProtocolSummary { protocol: "http".into(), ..ProtocolSummary::default() });
        back.check_accounting().unwrap();
        let mut bad = back.clone();
        bad.interfaces.outside.received = 1;
        assert!(bad.check_accounting().unwrap_err().contains("outside"));
        let mut bad = back;
        bad.frames[0].free = 4;
        assert!(bad.check_accounting().is_err());
    }
}
