//! The engine's counters: one writer (the engine that owns them), read by anyone.

use weir_dpi::ProtocolId;
use weir_flow::EndReason;
use weir_stats::Counter;
pub use weir_wire::Direction;
use weir_wire::{Encap, Encapsulation, WireError};

/// Per-protocol counters.
#[derive(Debug, Default)]
pub struct ProtoCounters {
    /// Flows labelled with this protocol.
    pub flows: Counter,
    /// Packets per direction, indexed by [`Direction::index`].
    pub packets: [Counter; 2],
    /// Wire bytes per direction.
    pub bytes: [Counter; 2],
}

impl ProtoCounters {
    /// Count one packet.
    #[inline]
    pub fn count_packet(&self, dir: Direction, wire_len: u32) {
        self.count(dir, 1, u64::from(wire_len));
    }

    /// Count `packets` packets of `bytes` bytes in all.
    #[inline]
    pub fn count(&self, dir: Direction, packets: u64, bytes: u64) {
        self.packets[dir.index()].add(packets);
        self.bytes[dir.index()].add(bytes);
    }
}

/// Everything one engine counts.
#[derive(Debug)]
pub struct EngineCounters {
    /// Frames seen.
    pub packets: Counter,
    /// Wire bytes seen.
    pub bytes: Counter,
    /// Frames that are not IP (ARP, LLDP, ...).
    pub non_ip_packets: Counter,
    /// Their bytes.
    pub non_ip_bytes: Counter,
    /// Malformed frames, indexed like [`WireError::ALL`].
    pub malformed: Box<[Counter]>,
    /// Bytes of malformed frames.
    pub malformed_bytes: Counter,
    /// IP fragments seen.
    pub fragments: Counter,
    /// Non-first fragments whose first fragment was not seen (counted to a port-less flow).
    pub fragments_unmatched: Counter,
    /// Frames a capture cut short (snaplen) that were still parsed, from their captured bytes.
    pub snaplen_cut: Counter,
    /// Frames that carried each kind of tunnel, indexed like [`Encap::ALL`] (a frame with two
    /// kinds counts in both, with two of one kind once). Their packets and bytes also count to
    /// the protocol of their inner flow, or as non-IP.
    pub encapsulated: [Counter; Encap::ALL.len()],
    /// Wire bytes of those frames, indexed the same way.
    pub encapsulated_bytes: [Counter; Encap::ALL.len()],
    /// Flows created.
    pub flows_created: Counter,
    /// Flows ended, by reason: idle, closed, evicted, flushed.
    pub flows_ended: [Counter; 4],
    /// Interim reports of long flows (active timeouts).
    pub active_reports: Counter,
    /// Long flows that went without interim reports (reported only when they end) because the
    /// table of tracked flows was full.
    pub active_untracked: Counter,
    /// Per protocol, indexed by [`ProtocolId`].
    pub protocols: Box<[ProtoCounters]>,
    /// Catch-all for a protocol id beyond the table (cannot happen with one classifier).
    spare: ProtoCounters,
}

impl EngineCounters {
    /// Counters for `protocols` protocol ids.
    pub fn new(protocols: usize) -> Self {
        EngineCounters {
            packets: Counter::new(),
            bytes: Counter::new(),
            non_ip_packets: Counter::new(),
            non_ip_bytes: Counter::new(),
            malformed: WireError::ALL.iter().map(|_| Counter::new()).collect(),
            malformed_bytes: Counter::new(),
            fragments: Counter::new(),
            fragments_unmatched: Counter::new(),
            snaplen_cut: Counter::new(),
            encapsulated: Default::default(),
            encapsulated_bytes: Default::default(),
            flows_created: Counter::new(),
            flows_ended: Default::default(),
            active_reports: Counter::new(),
            active_untracked: Counter::new(),
            protocols: (0..protocols).map(|_| ProtoCounters::default()).collect(),
            spare: ProtoCounters::default(),
        }
    }

    /// The counters of protocol `id`.
    #[inline]
    pub fn protocol(&self, id: ProtocolId) -> &ProtoCounters {
        self.protocols.get(usize::from(id.0)).unwrap_or(&self.spare)
    }

    /// The counter of flows ended for `why`.
    pub fn flows_ended(&self, why: EndReason) -> &Counter {
        &self.flows_ended[match why {
            EndReason::Idle => 0,
            EndReason::Closed => 1,
            EndReason::Evicted => 2,
            EndReason::Flushed => 3,
        }]
    }

    /// Count one frame's tunnels.
    #[inline]
    pub fn count_encapsulation(&self, encap: &Encapsulation, wire_len: u32) {
        let mut seen = [false; Encap::ALL.len()];
        for kind in encap.iter() {
            seen[kind.index()] = true;
        }
        for (i, _) in seen.iter().enumerate().filter(|(_, s)| **s) {
            self.encapsulated[i].inc();
            self.encapsulated_bytes[i].add(u64::from(wire_len));
        }
    }

    /// Count one malformed frame.
    pub fn count_malformed(&self, e: WireError, wire_len: u32) {
        if let Some(c) = self.malformed.get(e.index()) {
            c.inc();
        }
        self.malformed_bytes.add(u64::from(wire_len));
    }

    /// Malformed frames of every kind.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().map(Counter::get).sum()
    }
}
