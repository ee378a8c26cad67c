//! Counters that one thread writes and any thread reads, and what is built on them: the
//! snapshot of all workers' counters ([`Totals`]), the per-interval record and its builder, the
//! bridge's final summary, histograms, Prometheus text and the HTTP endpoint.
//!
//! Contract: a [`Counter`] has exactly one writer (the worker that owns it). The writer bumps it
//! with a relaxed load and store, which on x86-64 and AArch64 is a plain load and store: no lock
//! prefix, no contention per packet. Readers (the stats thread) take relaxed snapshots and compute
//! deltas; a reading is never torn, though it may be a moment old.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod histo;
pub mod hosts;
pub mod http;
pub mod interval;
pub mod ipfix;
pub mod prometheus;
pub mod record;
pub mod summary;
pub mod totals;

pub use interval::{Extra, RecordBuilder, merged_hosts, stderr_line};
pub use record::{
    ClassDirStats, ClassStats, FastpathStats, FlowTableStats, HostProtocolStats, HostStats, InterfaceStats,
    IntervalRecord, IpfixCollectorStats, IpfixStats, Percentiles, PolicyStatus, ProtocolStats, TopFlow, UmemStats,
    l4_name,
};
pub use summary::{BridgeSummary, FrameSummary, Interfaces, ProtocolSummary, SideSummary};
pub use totals::{ProtoTotals, SideTotals, Totals};

use core::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub const fn new() -> Self {
        Counter(AtomicU64::new(0))
    }

    /// Add `n`. Only the counter's one writer may call this: two writers would lose updates.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Add one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (e.g. flows in the table), with a single writer.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Set the value.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn single_writer_counts_are_seen_by_readers() {
        let c = Arc::new(Counter::new());
        let w = Arc::clone(&c);
        let t = std::thread::spawn(move || {
            for _ in 0..100_000 {
                w.inc();
            }
        });
        let mut last = 0;
        while !t.is_finished() {
            let now = c.get();
            assert!(now >= last, "a reader must never see a counter go back");
            last = now;
        }
        t.join().unwrap();
        assert_eq!(c.get(), 100_000);
    }

    #[test]
    fn gauge_holds_the_last_value() {
        let g = Gauge::default();
        g.set(7);
        g.set(3);
        assert_eq!(g.get(), 3);
    }
}
