//! Per-worker latency and batch-size histograms, handed to the stats thread without locks or
//! allocation on the worker's side.
//!
//! Each worker records into its own [`BatchHistograms`]. Once per interval the stats thread
//! raises the worker's `want` flag; at its next loop the worker swaps its full set for a spare,
//! already-cleared set the stats thread sent earlier, and sends the full one over a bounded
//! channel. The stats thread merges, clears, and sends the set back as the next spare. The only
//! per-batch costs are two clock reads and three histogram increments.

use crate::record::Percentiles;
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use hdrhistogram::{CreationError, Histogram};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Largest value tracked (ns): 60 s. Larger samples are clamped to it.
const HIGHEST: u64 = 60_000_000_000;

/// One worker's histograms for one interval.
#[derive(Debug, Clone)]
pub struct BatchHistograms {
    /// Time a batch spends in the worker, ns.
    pub batch_ns: Histogram<u64>,
    /// Frames per non-empty batch.
    pub batch_size: Histogram<u64>,
    /// Time per packet (batch time / frames), one sample per packet.
    pub packet_ns: Histogram<u64>,
}

/// 2 significant digits: about 1% resolution, a few KiB per histogram.
fn histogram() -> Result<Histogram<u64>, CreationError> {
    Histogram::new_with_bounds(1, HIGHEST, 2)
}

impl BatchHistograms {
    /// An empty set (allocated here, at start-up, never on the worker's path).
    ///
    /// # Errors
    /// Only if hdrhistogram rejects the fixed bounds, which it does not.
    pub fn new() -> Result<Self, CreationError> {
        Ok(BatchHistograms { batch_ns: histogram()?, batch_size: histogram()?, packet_ns: histogram()? })
    }

    /// Record one non-empty batch of `frames` frames that took `ns`.
    #[inline]
    pub fn record_batch(&mut self, ns: u64, frames: u32) {
        if frames == 0 {
            return;
        }
        let ns = ns.clamp(1, HIGHEST);
        self.batch_ns.saturating_record(ns);
        self.batch_size.saturating_record(u64::from(frames));
        let per_packet = (ns / u64::from(frames)).max(1);
        let _ = self.packet_ns.record_n(per_packet, u64::from(frames));
    }

    /// Clear every histogram (keeps the memory).
    pub fn reset(&mut self) {
        self.batch_ns.reset();
        self.batch_size.reset();
        self.packet_ns.reset();
    }

    /// Add another set into this one.
    pub fn merge(&mut self, other: &BatchHistograms) {
        let _ = self.batch_ns.add(&other.batch_ns);
        let _ = self.batch_size.add(&other.batch_size);
        let _ = self.packet_ns.add(&other.packet_ns);
    }
}

/// p50/p99/p99.9/max of a histogram (count and sum for this interval only).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50: h.value_at_quantile(0.5),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
        count_total: 0,
        sum_total: 0,
    }
}

/// The worker's end of the exchange.
pub struct WorkerSide {
    index: usize,
    want: Arc<AtomicBool>,
    current: BatchHistograms,
    spare: Receiver<BatchHistograms>,
    full: Sender<(usize, BatchHistograms)>,
}

impl WorkerSide {
    /// Record one batch.
    #[inline]
    pub fn record_batch(&mut self, ns: u64, frames: u32) {
        self.current.record_batch(ns, frames);
    }

    /// Whether the stats thread asked for this interval's histograms.
    #[inline]
    pub fn wanted(&self) -> bool {
        self.want.load(Ordering::Relaxed)
    }

    /// Swap in the spare set and send the full one. Never blocks, never allocates; if no spare
    /// has come back yet, keep recording into the current set.
    pub fn hand_over(&mut self) {
        let Ok(fresh) = self.spare.try_recv() else { return };
        let full = std::mem::replace(&mut self.current, fresh);
        match self.full.try_send((self.index, full)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            // Cannot happen (one slot per worker and one set in flight); keep the data.
            Err(TrySendError::Full((_, full))) => self.current.merge(&full),
        }
        self.want.store(false, Ordering::Relaxed);
    }
}

/// The stats thread's end.
pub struct Collector {
    wants: Vec<Arc<AtomicBool>>,
    spares: Vec<Sender<BatchHistograms>>,
    full: Receiver<(usize, BatchHistograms)>,
}

/// An exchange for `workers` workers: the collector and one [`WorkerSide`] per worker.
///
/// # Errors
/// As [`BatchHistograms::new`].
pub fn exchange(workers: usize) -> Result<(Collector, Vec<WorkerSide>), CreationError> {
    let (full_tx, full_rx) = bounded(workers.max(1));
    let mut wants = Vec::new();
    let mut spares = Vec::new();
    let mut sides = Vec::new();
    for index in 0..workers {
        let want = Arc::new(AtomicBool::new(false));
        let (spare_tx, spare_rx) = bounded(1);
        // The first spare, so the first hand-over needs nothing from the stats thread.
        let _ = spare_tx.send(BatchHistograms::new()?);
        wants.push(Arc::clone(&want));
        spares.push(spare_tx);
        sides.push(WorkerSide {
            index,
            want,
            current: BatchHistograms::new()?,
            spare: spare_rx,
            full: full_tx.clone(),
        });
    }
    Ok((Collector { wants, spares, full: full_rx }, sides))
}

impl Collector {
    /// Ask every worker for its histograms, wait up to `timeout` for them, merge them into
    /// `into`, and send each set back cleared. Workers that did not answer in time (blocked in
    /// poll with nothing to do) contribute next interval.
    pub fn collect(&mut self, into: &mut BatchHistograms, timeout: std::time::Duration) {
        for w in &self.wants {
            w.store(true, Ordering::Relaxed);
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut got = 0;
        while got < self.wants.len() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.full.recv_timeout(left) {
                Ok((i, mut h)) => {
                    into.merge(&h);
                    h.reset();
                    if let Some(tx) = self.spares.get(i) {
                        let _ = tx.try_send(h);
                    }
                    got += 1;
                }
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn batches_reach_the_collector_and_sets_are_reused() {
        let (mut collector, mut sides) = exchange(2).unwrap();
        let mut w0 = sides.remove(0);
        let mut w1 = sides.remove(0);
        w0.record_batch(64_000, 64);
        w1.record_batch(10_000, 10);
        w1.record_batch(20_000, 10);
        let t = std::thread::spawn(move || {
            for _ in 0..200 {
                if w0.wanted() {
                    w0.hand_over();
                }
                if w1.wanted() {
                    w1.hand_over();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (w0, w1)
        });
        let mut into = BatchHistograms::new().unwrap();
        collector.collect(&mut into, Duration::from_secs(2));
        let (mut w0, _w1) = t.join().unwrap();
        assert_eq!(into.batch_ns.len(), 3);
        assert_eq!(into.batch_size.len(), 3);
        assert_eq!(into.packet_ns.len(), 84, "one sample per packet");
        let p = percentiles(&into.packet_ns);
        assert!((990..=1010).contains(&p.p50), "{p:?}");
        // The spare came back cleared: the next hand-over works and carries only new batches.
        w0.record_batch(5_000, 5);
        assert!(!w0.wanted());
        w0.want.store(true, Ordering::Relaxed);
        w0.hand_over();
        let (_, h) = collector.full.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(h.batch_ns.len(), 1);
    }
}
