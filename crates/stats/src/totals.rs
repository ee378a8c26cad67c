//! A snapshot of every worker's counters, summed: what the interval record and the bridge
//! summary are built from.
//!
//! Arrays by direction are indexed 0 outbound, 1 inbound; by side 0 inside, 1 outside.

/// One interface's frames, summed over workers. `received` = `forwarded` + `dropped_policy` +
/// `dropped_malformed` + `lost_tx_full`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideTotals {
    /// Frames received on the interface.
    pub received: u64,
    /// Their bytes.
    pub received_bytes: u64,
    /// Frames put on the other interface's TX ring.
    pub forwarded: u64,
    /// Frames dropped by policy.
    pub dropped_policy: u64,
    /// Frames dropped as malformed (`policy.malformed = "drop"`).
    pub dropped_malformed: u64,
    /// Frames to forward lost because the other interface's TX ring was full.
    pub lost_tx_full: u64,
    /// Frames a shaping class dropped (police, CoDel, queue full, flushed at stop).
    pub dropped_shaper: u64,
    /// Frames a shaping class holds now (received, neither sent nor dropped yet).
    pub queued: u64,
}

impl SideTotals {
    /// Add `o` into `self`.
    pub fn add(&mut self, o: &SideTotals) {
        self.received += o.received;
        self.received_bytes += o.received_bytes;
        self.forwarded += o.forwarded;
        self.dropped_policy += o.dropped_policy;
        self.dropped_malformed += o.dropped_malformed;
        self.lost_tx_full += o.lost_tx_full;
        self.dropped_shaper += o.dropped_shaper;
        self.queued += o.queued;
    }
}

/// One protocol's figures, summed over workers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtoTotals {
    /// Flows labelled with it.
    pub flows: u64,
    /// Packets by direction.
    pub packets: [u64; 2],
    /// Wire bytes by direction.
    pub bytes: [u64; 2],
    /// Packets dropped by policy, by direction.
    pub dropped: [u64; 2],
}

impl ProtoTotals {
    /// Whether the protocol was seen at all.
    pub fn seen(&self) -> bool {
        self.flows > 0 || self.packets != [0, 0]
    }
}

/// Every worker's counters, summed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Per interface: inside, outside.
    pub sides: [SideTotals; 2],
    /// Per protocol id.
    pub protocols: Vec<ProtoTotals>,
    /// Malformed frames.
    pub malformed: u64,
    /// Malformed frames by reason, in the order of the names the record builder was given.
    pub malformed_by: Vec<u64>,
    /// Non-IP frames.
    pub non_ip: u64,
    /// Flows created.
    pub flows: u64,
    /// UMEM frames over all workers.
    pub frames_total: u64,
    /// UMEM frames not on a worker's free list.
    pub frames_in_use: u64,
}
