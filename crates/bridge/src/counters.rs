//! One worker's counters as the stats thread sees them: published once per batch.
//!
//! On the data path a worker counts only in plain memory it owns: the AF_XDP layer's per-side
//! counters ([`weir_xdp::PairCounters`]), the inspector's per-protocol drops, and the malformed
//! and shaper drops per side (the shaper's per-class counters are its own,
//! `weir_shaper::CountersHandle`). After each batch it publishes them here with one relaxed store each (a
//! [`Gauge`] has one writer), so nothing is counted twice and the stats thread never locks the
//! data path. The engine's own per-protocol counters are separate (`weir_engine::EngineCounters`)
//! and read beside these.

use parking_lot::Mutex;
use weir_engine::{EngineCounters, TopCandidate};
use weir_stats::{Gauge, ProtoTotals, SideTotals, Totals};
use weir_xdp::{FrameCensus, PairCounters, Side};

/// One side's published frame counts.
#[derive(Debug, Default)]
struct SideGauges {
    received: Gauge,
    received_bytes: Gauge,
    forwarded: Gauge,
    dropped_policy: Gauge,
    dropped_malformed: Gauge,
    lost_tx_full: Gauge,
    dropped_shaper: Gauge,
    queued: Gauge,
}

/// What one worker publishes; read by the stats thread through an `Arc`.
#[derive(Debug)]
pub struct WorkerCounters {
    sides: [SideGauges; 2],
    /// Packets dropped by policy, per protocol id and direction.
    dropped: Box<[[Gauge; 2]]>,
    frames_total: Gauge,
    frames_free: Gauge,
    /// The heaviest flows the worker saw in the last interval, handed over with its histograms.
    pub(crate) top: Mutex<Vec<TopCandidate>>,
}

impl WorkerCounters {
    /// Counters for a worker whose inspector knows `protocols` protocol ids.
    pub fn new(protocols: usize, top_flows: usize) -> WorkerCounters {
        WorkerCounters {
            sides: Default::default(),
            dropped: (0..protocols).map(|_| Default::default()).collect(),
            frames_total: Gauge::default(),
            frames_free: Gauge::default(),
            top: Mutex::new(Vec::with_capacity(top_flows)),
        }
    }

    /// Publish the pair's counters, with `malformed` and `shaper` (frames dropped as malformed
    /// and by a shaping class, per receive side) taken out of the pair's drops, and its census.
    pub(crate) fn publish(&self, pair: &PairCounters, malformed: &[u64; 2], shaper: &[u64; 2], census: &FrameCensus) {
        for side in Side::BOTH {
            let i = side.index();
            let (c, g, m, s) = (pair.side(side), &self.sides[i], malformed[i], shaper[i]);
            g.received.set(c.rx_frames);
            g.received_bytes.set(c.rx_bytes);
            g.forwarded.set(c.forwarded);
            g.dropped_policy.set(c.dropped.saturating_sub(m).saturating_sub(s));
            g.dropped_malformed.set(m);
            g.lost_tx_full.set(c.tx_full);
            g.dropped_shaper.set(s);
            g.queued.set(c.held);
        }
        self.frames_total.set(census.total);
        self.frames_free.set(census.free);
    }

    /// Publish per-protocol drop counts.
    pub(crate) fn publish_drops(&self, dropped: &[[u64; 2]]) {
        for (g, d) in self.dropped.iter().zip(dropped) {
            g[0].set(d[0]);
            g[1].set(d[1]);
        }
    }
}

/// One worker as the stats thread reads it.
#[derive(Clone, Debug)]
pub struct WorkerView {
    /// The queue it serves.
    pub queue: u32,
    /// What it publishes.
    pub counters: std::sync::Arc<WorkerCounters>,
    /// Its engine's counters (none for a fixed inspector).
    pub engine: Option<std::sync::Arc<EngineCounters>>,
}

/// Every worker's counters summed, with `extra` engines' (the sweeper's: the flows it ends and
/// labels count to their protocols), for `protocols` protocol ids.
pub fn totals(workers: &[WorkerView], extra: &[&EngineCounters], protocols: usize) -> Totals {
    let mut t = Totals { protocols: vec![ProtoTotals::default(); protocols], ..Totals::default() };
    let add_engine = |t: &mut Totals, ec: &EngineCounters| {
        for (row, p) in t.protocols.iter_mut().zip(ec.protocols.iter()) {
            row.flows += p.flows.get();
            for i in 0..2 {
                row.packets[i] += p.packets[i].get();
                row.bytes[i] += p.bytes[i].get();
            }
        }
        t.malformed += ec.malformed_total();
        t.malformed_by.resize(ec.malformed.len(), 0);
        for (sum, c) in t.malformed_by.iter_mut().zip(ec.malformed.iter()) {
            *sum += c.get();
        }
        t.non_ip += ec.non_ip_packets.get();
        t.flows += ec.flows_created.get();
    };
    for w in workers {
        let c = &w.counters;
        for (sum, g) in t.sides.iter_mut().zip(&c.sides) {
            sum.add(&SideTotals {
                received: g.received.get(),
                received_bytes: g.received_bytes.get(),
                forwarded: g.forwarded.get(),
                dropped_policy: g.dropped_policy.get(),
                dropped_malformed: g.dropped_malformed.get(),
                lost_tx_full: g.lost_tx_full.get(),
                dropped_shaper: g.dropped_shaper.get(),
                queued: g.queued.get(),
            });
        }
        for (row, d) in t.protocols.iter_mut().zip(c.dropped.iter()) {
            row.dropped[0] += d[0].get();
            row.dropped[1] += d[1].get();
        }
        let total = c.frames_total.get();
        t.frames_total += total;
        t.frames_in_use += total.saturating_sub(c.frames_free.get());
        if let Some(ec) = &w.engine {
            add_engine(&mut t, ec);
        }
    }
    for ec in extra {
        add_engine(&mut t, ec);
    }
    t
}
