//! Sojourn-time histograms (hdrhistogram), per class and direction, handed from the worker to
//! the stats thread without locks and without allocating on the worker's side, the way
//! `weir_stats::histo` hands over batch timings: the stats thread raises a flag; at its next
//! batch the worker swaps its full set for a cleared spare the stats thread sent back earlier,
//! and sends the full one over a bounded channel.
//!
//! The only allocation on the worker's side is after a reconfiguration that changed the
//! number of classes (a reload, on the control path): the next spare is resized once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use hdrhistogram::{CreationError, Histogram};

/// Largest sojourn tracked, ns (10 s); larger samples are clamped to it.
const HIGHEST_NS: u64 = 10_000_000_000;

/// An empty histogram of sojourn times in ns, 1 µs to 10 s, 2 significant digits (about 1%).
///
/// # Errors
/// Only if hdrhistogram rejects these fixed bounds, which it does not.
pub(crate) fn template() -> Result<Histogram<u64>, CreationError> {
    Histogram::new_with_bounds(1_000, HIGHEST_NS, 2)
}

/// One interval's sojourn times, by class and direction.
#[derive(Debug, Clone)]
pub struct SojournSet {
    /// Class names, by class id.
    pub names: Arc<[Arc<str>]>,
    /// `2 * class + direction`.
    pub histograms: Vec<Histogram<u64>>,
    template: Histogram<u64>,
}

impl SojournSet {
    pub(crate) fn new(names: Arc<[Arc<str>]>, template: &Histogram<u64>) -> SojournSet {
        let histograms = (0..names.len() * 2).map(|_| Histogram::new_from(template)).collect();
        SojournSet { names, histograms, template: Histogram::new_from(template) }
    }

    /// The histogram of a class and direction.
    pub fn get(&self, class: usize, direction: usize) -> Option<&Histogram<u64>> {
        self.histograms.get(2 * class + direction.min(1))
    }

    #[inline]
    pub(crate) fn record(&mut self, class: usize, direction: usize, ns: u64) {
        if let Some(h) = self.histograms.get_mut(2 * class + direction.min(1)) {
            h.saturating_record(ns.clamp(1_000, HIGHEST_NS));
        }
    }

    fn reset(&mut self) {
        self.histograms.iter_mut().for_each(Histogram::reset);
    }

    /// Make this set fit `names` (after a reconfiguration), keeping nothing.
    fn refit(&mut self, names: &Arc<[Arc<str>]>) {
        if self.histograms.len() != names.len() * 2 {
            let template = &self.template;
            self.histograms.resize_with(names.len() * 2, || Histogram::new_from(template));
        }
        self.names = Arc::clone(names);
        self.reset();
    }
}

/// The worker's end.
#[derive(Debug)]
pub(crate) struct WorkerEnd {
    want: Arc<AtomicBool>,
    spare: Receiver<SojournSet>,
    full: Sender<SojournSet>,
}

/// The stats thread's end of one shaper's exchange.
#[derive(Debug)]
pub struct SojournCollector {
    want: Arc<AtomicBool>,
    spare: Sender<SojournSet>,
    full: Receiver<SojournSet>,
}

pub(crate) fn exchange(names: &Arc<[Arc<str>]>, template: &Histogram<u64>) -> (WorkerEnd, SojournCollector) {
    let want = Arc::new(AtomicBool::new(false));
    let (spare_tx, spare_rx) = bounded(1);
    let (full_tx, full_rx) = bounded(1);
    // The first spare, so the first hand-over needs nothing from the stats thread.
    let _ = spare_tx.try_send(SojournSet::new(Arc::clone(names), template));
    (
        WorkerEnd { want: Arc::clone(&want), spare: spare_rx, full: full_tx },
        SojournCollector { want, spare: spare_tx, full: full_rx },
    )
}

impl WorkerEnd {
    /// If the stats thread asked, swap `current` for the spare and send the full set.
    pub(crate) fn hand_over(&self, current: &mut SojournSet) {
        if !self.want.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut fresh) = self.spare.try_recv() else { return };
        if !Arc::ptr_eq(&fresh.names, &current.names) {
            fresh.refit(&current.names);
        }
        let full = std::mem::replace(current, fresh);
        match self.full.try_send(full) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            // Cannot happen (one set in flight); keep the samples.
            Err(TrySendError::Full(full)) => {
                for (mine, theirs) in current.histograms.iter_mut().zip(&full.histograms) {
                    let _ = mine.add(theirs);
                }
            }
        }
        self.want.store(false, Ordering::Relaxed);
    }
}

impl SojournCollector {
    /// Ask the worker for its histograms.
    pub fn request(&self) {
        self.want.store(true, Ordering::Relaxed);
    }

    /// The set the worker handed over since the last [`SojournCollector::request`], if it has;
    /// give it back with [`SojournCollector::give_back`] when read.
    pub fn try_take(&self) -> Option<SojournSet> {
        self.full.try_recv().ok()
    }

    /// Return a read set as the next spare (cleared here, on the stats thread).
    pub fn give_back(&self, mut set: SojournSet) {
        set.reset();
        let _ = self.spare.try_send(set);
    }
}
