//! The heaviest flows, kept on the data path by each engine, so nobody scans the table for them.
//!
//! Each engine keeps a few candidates (key, hash, bytes) of the flows with the most bytes among
//! those it saw. A flow is offered every [`SAMPLE`]th packet, so a flow with at least that many
//! packets in an interval is offered at least once, and the cost per packet is one mask test,
//! plus, for a sampled packet of a heavy flow, a scan of the few candidates. Once per interval the
//! owner takes the candidates and starts afresh, and [`top_flows`] looks each candidate up
//! again, one brief shard lock each, for its exact bytes, packets and label; flows that ended are
//! not found. (The bridge's stats thread also keeps the candidates it listed, so a heavy flow that
//! pauses for an interval stays listed while it is in the table.)

use crate::{FlowSnapshot, FlowState, portless_label};
use weir_flow::{FlowKey, FlowTable};

/// A flow is offered to the top-k every this many of its packets (a power of two).
pub const SAMPLE: u64 = 8;

/// One flow among an engine's heaviest, as seen when it was last offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopCandidate {
    /// The flow's key.
    pub key: FlowKey,
    /// Its hash in the table the engine uses.
    pub hash: u64,
    /// Its bytes, both directions, when last offered.
    pub bytes: u64,
}

/// Up to `k` candidates; allocated once, never grows.
#[derive(Debug)]
pub(crate) struct TopFlows {
    slots: Vec<TopCandidate>,
    k: usize,
    /// The smallest `bytes` among the slots once all `k` are used (0 until then).
    min: u64,
}

impl TopFlows {
    pub(crate) fn new(k: usize) -> TopFlows {
        TopFlows { slots: Vec::with_capacity(k), k, min: 0 }
    }

    /// Offer the flow of `key` with `bytes` so far and `packets` so far. On the per-packet path:
    /// two tests, and the rest out of line for the one packet in [`SAMPLE`].
    #[inline(always)]
    pub(crate) fn offer(&mut self, key: &FlowKey, hash: u64, bytes: u64, packets: u64) {
        if self.k != 0 && packets & (SAMPLE - 1) == 0 {
            self.offer_sampled(key, hash, bytes);
        }
    }

    #[inline(never)]
    fn offer_sampled(&mut self, key: &FlowKey, hash: u64, bytes: u64) {
        let full = self.slots.len() == self.k;
        if full && bytes <= self.min {
            return;
        }
        if let Some(s) = self.slots.iter_mut().find(|s| s.hash == hash && s.key == *key) {
            s.bytes = bytes;
        } else if !full {
            // Within the capacity reserved at creation: no allocation.
            self.slots.push(TopCandidate { key: *key, hash, bytes });
        } else if let Some(s) = self.slots.iter_mut().min_by_key(|s| s.bytes) {
            *s = TopCandidate { key: *key, hash, bytes };
        }
        if self.slots.len() == self.k {
            self.min = self.slots.iter().map(|s| s.bytes).min().unwrap_or(0);
        }
    }

    /// Append the candidates to `into` and start afresh.
    pub(crate) fn take(&mut self, into: &mut Vec<TopCandidate>) {
        into.extend_from_slice(&self.slots);
        self.slots.clear();
        self.min = 0;
    }
}

/// The `n` flows with the most bytes among `candidates` that are still in `table`, largest
/// first, with their bytes, packets and labels as the table has them now (and each candidate
/// with its bytes brought up to date). Candidates may repeat (two engines saw the two directions
/// of one flow); each flow is listed once. Locks one shard per candidate, briefly.
pub fn top_flows(
    table: &FlowTable<FlowState>,
    candidates: &[TopCandidate],
    n: usize,
) -> Vec<(TopCandidate, FlowSnapshot)> {
    let mut out: Vec<(TopCandidate, FlowSnapshot)> = Vec::with_capacity(candidates.len());
    for c in candidates {
        if out.iter().any(|(k, _)| k.key == c.key) {
            continue;
        }
        let shard = table.lock(table.shard_of(c.hash));
        if let Some(f) = shard.get(&c.key, c.hash) {
            let proto = f.key.protocol();
            let bytes = f.bytes[0] + f.bytes[1];
            out.push((
                TopCandidate { bytes, ..*c },
                FlowSnapshot {
                    ip_protocol: proto,
                    originator: f.originator(),
                    responder: f.responder(),
                    protocol: f.value.label(proto, portless_label(proto)).map(|l| l.protocol),
                    bytes,
                    packets: f.packets[0] + f.packets[1],
                },
            ));
        }
    }
    out.sort_by_key(|(_, s)| std::cmp::Reverse(s.bytes));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    fn key(port: u16) -> FlowKey {
        let ip = |n| IpAddr::V4(Ipv4Addr::new(198, 18, 0, n));
        FlowKey::new(ip(1), port, ip(2), 80, 6).0
    }

    #[test]
    fn keeps_the_heaviest_and_updates_in_place() {
        let mut t = TopFlows::new(3);
        for (port, bytes) in [(1, 100), (2, 300), (3, 200), (4, 50), (5, 400)] {
            t.offer(&key(port), u64::from(port), bytes, SAMPLE);
        }
        // Flow 2 grows: updated, not added twice.
        t.offer(&key(2), 2, 1000, 2 * SAMPLE);
        // Not a sampled packet: ignored.
        t.offer(&key(6), 6, 5000, SAMPLE + 1);
        let mut got = Vec::new();
        t.take(&mut got);
        got.sort_by_key(|c| c.hash);
        let bytes: Vec<_> = got.iter().map(|c| (c.hash, c.bytes)).collect();
        assert_eq!(bytes, [(2, 1000), (3, 200), (5, 400)]);
        assert_eq!(t.slots.capacity(), 3);
        // Afresh after take.
        t.offer(&key(4), 4, 10, SAMPLE);
        let mut again = Vec::new();
        t.take(&mut again);
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn k_zero_keeps_nothing() {
        let mut t = TopFlows::new(0);
        t.offer(&key(1), 1, 100, SAMPLE);
        let mut got = Vec::new();
        t.take(&mut got);
        assert!(got.is_empty());
    }
}
