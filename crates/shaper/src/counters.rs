//! Per-class counters: one writer (the worker that owns the shaper), any number of readers
//! (the stats thread), like `weir_stats`: relaxed stores, cache-padded per class and direction so
//! two lanes never share a line with another writer's data.
//!
//! The set of classes can change at a reload; the shaper then publishes a new
//! [`ShaperCounters`] through the [`CountersHandle`] (an atomic pointer the stats thread loads
//! once per interval). A class kept across the reload (same name) keeps its counters, so they
//! stay monotonic.

use std::sync::Arc;

use arc_swap::ArcSwap;
use crossbeam_utils::CachePadded;
use weir_stats::{Counter, Gauge};

/// Why the shaper dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Police mode: above the rate, dropped at once.
    Police,
    /// CoDel: the queue's sojourn time stayed above target.
    Codel,
    /// The worker's queue memory limit was reached: dropped from the head of the longest queue.
    QueueFull,
    /// The shaper was flushed (the worker is stopping).
    Flushed,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 4] =
        [DropReason::Police, DropReason::Codel, DropReason::QueueFull, DropReason::Flushed];

    /// Stable counter name: `police`, `codel`, `queue_full`, `flushed`.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Police => "police",
            DropReason::Codel => "codel",
            DropReason::QueueFull => "queue_full",
            DropReason::Flushed => "flushed",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// One class in one direction.
#[derive(Debug, Default)]
pub struct LaneCounters {
    /// Frames handed to the shaper.
    pub packets_in: Counter,
    /// Their bytes.
    pub bytes_in: Counter,
    /// Frames sent on (immediately or after queueing).
    pub packets_out: Counter,
    /// Their bytes: the class's rate is the change of this per interval.
    pub bytes_out: Counter,
    /// Frames dropped, by [`DropReason`] (index [`DropReason::ALL`] order).
    pub dropped: [Counter; 4],
    /// Bytes dropped, all reasons.
    pub dropped_bytes: Counter,
    /// ECN-capable frames CoDel marked CE instead of dropping.
    pub ecn_marked: Counter,
    /// Frames whose DSCP the worker rewrote for this class (the worker writes it, on the same
    /// thread as the shaper).
    pub dscp_marked: Counter,
    /// Frames queued now.
    pub queued_frames: Gauge,
    /// Bytes queued now.
    pub queued_bytes: Gauge,
}

impl LaneCounters {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).map_or(0, Counter::get)
    }

    pub(crate) fn count_drop(&self, reason: DropReason, len: u32) {
        if let Some(c) = self.dropped.get(reason.index()) {
            c.inc();
        }
        self.dropped_bytes.add(u64::from(len));
    }
}

/// What kind of class it is, for labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClassKind {
    /// Queued at a rate.
    Shape,
    /// Dropped above a rate.
    Police,
    /// Only marked: no rate.
    Mark,
}

impl ClassKind {
    /// `shape`, `police` or `mark`.
    pub const fn name(self) -> &'static str {
        match self {
            ClassKind::Shape => "shape",
            ClassKind::Police => "police",
            ClassKind::Mark => "mark",
        }
    }
}

/// One class's counters, both directions (0 outbound, 1 inbound).
#[derive(Debug)]
pub struct ClassCounters {
    /// The class's name.
    pub name: Arc<str>,
    /// Shape, police or mark (as of the last reconfiguration), see [`ClassCounters::kind`].
    kind: Gauge,
    /// Configured rate, bits/s (0 for a marking class), as of the last reconfiguration.
    pub rate_bits: Gauge,
    /// Per direction.
    pub directions: [CachePadded<LaneCounters>; 2],
}

impl ClassCounters {
    pub(crate) fn new(name: Arc<str>, kind: ClassKind, rate_bits: u64) -> ClassCounters {
        let c =
            ClassCounters { name, kind: Gauge::default(), rate_bits: Gauge::default(), directions: Default::default() };
        c.set_kind(kind, rate_bits);
        c
    }

    pub(crate) fn set_kind(&self, kind: ClassKind, rate_bits: u64) {
        self.kind.set(kind as u64);
        self.rate_bits.set(rate_bits);
    }

    /// Shape, police or mark, as of the last reconfiguration.
    pub fn kind(&self) -> ClassKind {
        match self.kind.get() {
            0 => ClassKind::Shape,
            1 => ClassKind::Police,
            _ => ClassKind::Mark,
        }
    }

    /// One direction (0 outbound, 1 inbound; anything else reads as inbound).
    pub fn lane(&self, direction: usize) -> &LaneCounters {
        &self.directions[direction.min(1)]
    }
}

/// One shaper's classes, indexed like the policy's class ids.
#[derive(Debug, Default)]
pub struct ShaperCounters {
    /// By class id.
    pub classes: Vec<Arc<ClassCounters>>,
}

impl ShaperCounters {
    /// A class by name.
    pub fn class(&self, name: &str) -> Option<&Arc<ClassCounters>> {
        self.classes.iter().find(|c| &*c.name == name)
    }
}

/// The stats thread's handle on one shaper's counters.
#[derive(Clone, Debug)]
pub struct CountersHandle(pub(crate) Arc<ArcSwap<ShaperCounters>>);

impl CountersHandle {
    /// The current set (load once per interval).
    pub fn load(&self) -> Arc<ShaperCounters> {
        self.0.load_full()
    }
}
