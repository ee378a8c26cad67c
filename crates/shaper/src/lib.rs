//! weir's traffic shaper: rate classes in user space, since AF_XDP transmit bypasses the
//! kernel's queueing disciplines.
//!
//! Pure logic, after quinn-proto: no I/O, no clock (every call takes `now` in nanoseconds), no
//! knowledge of AF_XDP. What it queues are opaque frame handles `H` (for the bridge, a UMEM
//! frame's address and length); the caller keeps the bytes where they are.
//!
//! Per class and direction (a *lane*):
//!
//! - **shape** mode: a token bucket at the class rate with the class burst; behind it, fair
//!   queueing over flows (RFC 8290's deficit round robin over hashed per-flow queues, new flows
//!   first), and CoDel (RFC 8289) on each queue's sojourn time, marking ECN-capable packets CE
//!   and dropping the others;
//! - **police** mode: the same bucket, no queue: a frame above the rate is dropped at once;
//! - a class without a rate (only a DSCP mark) passes every frame straight through.
//!
//! The frames queued by all lanes of one shaper are bounded by its memory limit (the worker's
//! `workers.queue_memory`, each frame charged a whole UMEM frame); at the limit the shaper drops
//! from the head of the longest queue, as fq_codel does, so one flood cannot take the memory of
//! every other flow.
//!
//! # Contract
//!
//! - **Every frame handed in comes back exactly once**, through the `out` callback of the call
//!   that hands it back: [`Event::Send`] (put it on the TX ring, marked CE if asked) or
//!   [`Event::Drop`] (recycle it). [`Shaper::enqueue`] may hand back the frame it was given
//!   (sent at once, or policed) and frames evicted to make room; [`Shaper::dequeue`] hands back
//!   what the buckets allow and what CoDel drops; [`Shaper::flush`] hands back everything.
//!   The bridge's frame census depends on this; a property test proves it.
//! - **No allocation per packet**: every queue, slot and histogram is allocated in
//!   [`Shaper::new`] (and again only by [`Shaper::reconfigure`], on a reload).
//! - **Timer driven**: [`Shaper::next_wakeup`] says when a queued frame can next leave, so the
//!   worker sleeps until then instead of spinning.
//!
//! # In the bridge worker
//!
//! Once per batch, with the batch's `now`: load the policy (`weir_policy::live::LivePolicy::load`);
//! if its generation differs from the one the shaper was last configured for and its class list
//! is a different `Arc`, [`Shaper::reconfigure`] with [`ShaperConfig::from_classes`]. Per frame:
//! the flow's `weir_policy::CachedVerdict::get` gives `Forward`, `Drop` or `Class(id)`; for a class
//! with a DSCP, `weir_wire::mark::set_dscp` (and [`Shaper::count_dscp_mark`]); for a class with a
//! rate, [`Shaper::enqueue`] with the frame's handle, its length, the flow's hash and
//! `weir_wire::mark::ecn(..).is_capable()`; `Event::Send` goes to the other side's TX ring (after
//! `set_ce` if `mark_ce`), `Event::Drop` back to the fill ring or free list. After RX:
//! [`Shaper::dequeue`] with the TX ring's free room as the budget, then [`Shaper::publish_stats`];
//! wait in poll no longer than [`Shaper::next_wakeup`] (or the idle timeout if `None`). At stop:
//! [`Shaper::flush`] before the frame census.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codel;
pub mod counters;
pub mod sojourn;

use std::sync::Arc;

use arc_swap::ArcSwap;
pub use codel::CodelParams;
use codel::{Codel, Decision};
pub use counters::{ClassCounters, ClassKind, CountersHandle, DropReason, LaneCounters, ShaperCounters};
pub use sojourn::{SojournCollector, SojournSet};
use weir_config::{Class, ClassMode, FULL_FRAME};

const NIL: u32 = u32::MAX;
const NANO: i128 = 1_000_000_000;
/// Most frames dropped from the longest queue at once when the memory limit is reached (as
/// fq_codel), so the scan for the longest queue is paid once per that many drops.
const EVICT_BATCH: u32 = 64;

/// How a rated class enforces its rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Queue above the rate.
    Shape,
    /// Drop above the rate.
    Police,
}

/// A class's rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Bytes per second, for all flows of the class together, per direction.
    pub rate_bytes_per_s: u64,
    /// Bucket depth in bytes.
    pub burst_bytes: u64,
    /// Shape or police.
    pub mode: Mode,
    /// CoDel's parameters (shape mode).
    pub codel: CodelParams,
}

/// One class, by its policy class id (the index in [`ShaperConfig::classes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassConfig {
    /// The class's name (counters are kept by name across reconfigurations).
    pub name: Arc<str>,
    /// `None`: the class only marks; its frames pass straight through.
    pub limit: Option<Limit>,
}

/// A shaper's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShaperConfig {
    /// The classes, indexed by class id.
    pub classes: Vec<ClassConfig>,
    /// Bytes the queued frames may pin.
    pub memory_limit: u64,
    /// Bytes each queued frame counts for (the UMEM frame size: a queued frame pins a whole one).
    pub frame_cost: u32,
    /// Hashed flow queues per shaped lane (a power of two; 1024 as fq_codel).
    pub flow_queues: u32,
    /// DRR quantum, bytes (one full-size frame, as fq_codel).
    pub quantum: u32,
}

impl ShaperConfig {
    /// The shaper for a policy's classes (indexed like its class ids), a worker's
    /// `workers.queue_memory` and the UMEM's `rings.frame_size`.
    pub fn from_classes(classes: &[Class], queue_memory: u64, frame_size: u32) -> ShaperConfig {
        let classes = classes
            .iter()
            .map(|c| ClassConfig {
                name: Arc::from(c.name.as_str()),
                limit: c.limit.map(|l| Limit {
                    rate_bytes_per_s: l.rate.bytes_per_s(),
                    burst_bytes: l.burst_bytes,
                    mode: match l.mode {
                        ClassMode::Shape => Mode::Shape,
                        ClassMode::Police => Mode::Police,
                    },
                    codel: CodelParams { target_ns: l.target_ns, interval_ns: l.interval_ns, mtu: FULL_FRAME as u32 },
                }),
            })
            .collect();
        ShaperConfig { classes, memory_limit: queue_memory, frame_cost: frame_size, flow_queues: 1024, quantum: 1514 }
    }

    fn max_frames(&self) -> u64 {
        self.memory_limit / u64::from(self.frame_cost.max(1))
    }
}

/// A shaper that cannot be built as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShaperError {
    /// The memory limit holds too few frames to shape with.
    #[error("workers.queue_memory: {bytes} bytes holds {frames} frames of {frame_cost} bytes; allow at least 16")]
    TooLittleMemory {
        /// The limit.
        bytes: u64,
        /// Frames it holds.
        frames: u64,
        /// Bytes per frame.
        frame_cost: u32,
    },
    /// More than 2^24 frames: indices would not fit.
    #[error("workers.queue_memory: {frames} frames is more than a shaper can index (16777216)")]
    TooMuchMemory {
        /// Frames asked for.
        frames: u64,
    },
    /// More classes than a class id can name.
    #[error("{0} classes: at most 256")]
    TooManyClasses(usize),
    /// Flow queues not a power of two in 1..=65536, or a zero quantum.
    #[error("flow queues {flow_queues} (a power of two up to 65536) or quantum {quantum} (at least 1) out of range")]
    BadQueues {
        /// Flow queues per lane.
        flow_queues: u32,
        /// The quantum.
        quantum: u32,
    },
    /// A reconfiguration that changes the frame limit, the frame cost or the queue shape: those
    /// take a restart (the queues are allocated once).
    #[error("the shaper's queue memory, frame size, flow queues and quantum change only at a restart")]
    NeedsRestart,
    /// hdrhistogram refused the sojourn histogram's bounds.
    #[error("cannot create the sojourn histograms: {0}")]
    Histogram(String),
}

/// What the caller tells the shaper about a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Bytes on the wire (the frame's length), what the rate counts.
    pub len: u32,
    /// The flow's hash (the flow table's), which picks the flow queue.
    pub flow_hash: u64,
    /// ECT(0), ECT(1) or CE: CoDel may mark it instead of dropping it.
    pub ecn_capable: bool,
}

/// A frame the shaper hands back.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<H> {
    /// Transmit it; `mark_ce`: set ECN CE first (`weir_wire::mark::set_ce`).
    Send {
        /// The frame.
        frame: H,
        /// Mark it Congestion Experienced before sending.
        mark_ce: bool,
    },
    /// Recycle it.
    Drop {
        /// The frame.
        frame: H,
        /// Why.
        reason: DropReason,
    },
}

struct Slot<H> {
    frame: Option<H>,
    len: u32,
    ecn: bool,
    enqueued_ns: u64,
    next: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    None,
    New,
    Old,
}

#[derive(Clone, Copy, Debug)]
struct FlowQueue {
    head: u32,
    tail: u32,
    frames: u32,
    bytes: u64,
    deficit: i64,
    list: List,
    /// Next queue on the same active list.
    next: u32,
    codel: Codel,
}

impl Default for FlowQueue {
    fn default() -> Self {
        FlowQueue {
            head: NIL,
            tail: NIL,
            frames: 0,
            bytes: 0,
            deficit: 0,
            list: List::None,
            next: NIL,
            codel: Codel::default(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct ActiveList {
    head: u32,
    tail: u32,
}

impl ActiveList {
    const EMPTY: ActiveList = ActiveList { head: NIL, tail: NIL };

    fn push(&mut self, queues: &mut [FlowQueue], q: u32, list: List) {
        if let Some(fq) = queues.get_mut(q as usize) {
            fq.next = NIL;
            fq.list = list;
        }
        match queues.get_mut(self.tail as usize) {
            Some(t) => t.next = q,
            None => self.head = q,
        }
        self.tail = q;
    }

    fn pop(&mut self, queues: &mut [FlowQueue]) -> u32 {
        let q = self.head;
        if let Some(fq) = queues.get_mut(q as usize) {
            self.head = fq.next;
            fq.next = NIL;
            fq.list = List::None;
            if self.head == NIL {
                self.tail = NIL;
            }
        }
        q
    }
}

struct Lane {
    limit: Option<Limit>,
    /// Tokens in nano-bytes (bytes x 1e9), so a refill of `rate x ns` is exact; may go negative
    /// by the last frame sent (shape mode): that debt is what keeps the long-run rate exact.
    tokens: i64,
    cap: i64,
    last_ns: u64,
    queues: Box<[FlowQueue]>,
    new_flows: ActiveList,
    old_flows: ActiveList,
    frames: u32,
    bytes: u64,
    counters: Arc<ClassCounters>,
    direction: usize,
}

impl Lane {
    fn new(class: &ClassConfig, counters: Arc<ClassCounters>, direction: usize, flow_queues: u32, now: u64) -> Lane {
        let queues = match class.limit {
            Some(Limit { mode: Mode::Shape, .. }) => {
                vec![FlowQueue::default(); flow_queues as usize].into_boxed_slice()
            }
            _ => Box::default(),
        };
        let mut lane = Lane {
            limit: None,
            tokens: 0,
            cap: 0,
            last_ns: now,
            queues,
            new_flows: ActiveList::EMPTY,
            old_flows: ActiveList::EMPTY,
            frames: 0,
            bytes: 0,
            counters,
            direction,
        };
        lane.set_limit(class.limit);
        lane.tokens = lane.cap;
        lane
    }

    fn set_limit(&mut self, limit: Option<Limit>) {
        self.limit = limit;
        self.cap = limit.map_or(0, |l| (i128::from(l.burst_bytes) * NANO).min(i128::from(i64::MAX / 2)) as i64);
        self.tokens = self.tokens.min(self.cap);
    }

    fn counters(&self) -> &LaneCounters {
        self.counters.lane(self.direction)
    }

    fn rate(&self) -> i128 {
        self.limit.map_or(0, |l| i128::from(l.rate_bytes_per_s))
    }

    fn refill(&mut self, now: u64) {
        let dt = now.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now);
        if dt > 0 {
            let t = i128::from(self.tokens) + self.rate() * i128::from(dt);
            self.tokens = t.min(i128::from(self.cap)) as i64;
        }
    }

    /// Nanoseconds from `now` until the bucket holds a positive amount (0: it does now).
    fn wait_ns(&self, now: u64) -> u64 {
        let rate = self.rate().max(1);
        let t = i128::from(self.tokens) + rate * i128::from(now.saturating_sub(self.last_ns));
        if t > 0 { 0 } else { ((-t) / rate + 1).min(i128::from(u64::MAX)) as u64 }
    }

    fn publish_gauges(&self) {
        let c = self.counters();
        c.queued_frames.set(u64::from(self.frames));
        c.queued_bytes.set(self.bytes);
    }
}

/// The shaper of one worker. See the crate documentation for the contract.
pub struct Shaper<H> {
    slots: Box<[Slot<H>]>,
    free: u32,
    queued: u32,
    lanes: Vec<Lane>,
    /// Lanes with frames queued.
    backlogged: u32,
    /// Lane the next dequeue starts at (round robin between lanes).
    rr: usize,
    flow_shift: u32,
    config: ShaperConfig,
    names: Arc<[Arc<str>]>,
    counters: Arc<ArcSwap<ShaperCounters>>,
    sojourn: SojournSet,
    exchange: sojourn::WorkerEnd,
    collector: Option<SojournCollector>,
}

impl<H> Shaper<H> {
    /// Allocate everything: the frame slots for the memory limit, each shaped lane's flow
    /// queues, the counters and the sojourn histograms. `now` starts every bucket full.
    ///
    /// # Errors
    /// [`ShaperError`] if the limits are out of range.
    pub fn new(config: &ShaperConfig, now: u64) -> Result<Shaper<H>, ShaperError> {
        let frames = config.max_frames();
        if frames < 16 {
            return Err(ShaperError::TooLittleMemory {
                bytes: config.memory_limit,
                frames,
                frame_cost: config.frame_cost,
            });
        }
        if frames > 1 << 24 {
            return Err(ShaperError::TooMuchMemory { frames });
        }
        if config.classes.len() > 256 {
            return Err(ShaperError::TooManyClasses(config.classes.len()));
        }
        if !config.flow_queues.is_power_of_two() || config.flow_queues > 65536 || config.quantum == 0 {
            return Err(ShaperError::BadQueues { flow_queues: config.flow_queues, quantum: config.quantum });
        }
        let slots: Box<[Slot<H>]> = (0..frames as u32)
            .map(|i| Slot {
                frame: None,
                len: 0,
                ecn: false,
                enqueued_ns: 0,
                next: if u64::from(i) + 1 < frames { i + 1 } else { NIL },
            })
            .collect();
        let template = sojourn::template().map_err(|e| ShaperError::Histogram(e.to_string()))?;
        let names: Arc<[Arc<str>]> = config.classes.iter().map(|c| Arc::clone(&c.name)).collect();
        let class_counters: Vec<Arc<ClassCounters>> = config
            .classes
            .iter()
            .map(|c| Arc::new(ClassCounters::new(Arc::clone(&c.name), kind(c), rate_bits(c))))
            .collect();
        let lanes = lanes_for(config, &class_counters, &mut Vec::new(), now);
        let (exchange, collector) = sojourn::exchange(&names, &template);
        Ok(Shaper {
            slots,
            free: 0,
            queued: 0,
            lanes,
            backlogged: 0,
            rr: 0,
            flow_shift: 64 - config.flow_queues.trailing_zeros(),
            config: config.clone(),
            names: Arc::clone(&names),
            counters: Arc::new(ArcSwap::from_pointee(ShaperCounters { classes: class_counters })),
            sojourn: SojournSet::new(names, &template),
            exchange,
            collector: Some(collector),
        })
    }

    /// Frames queued now.
    pub fn queued(&self) -> usize {
        self.queued as usize
    }

    /// Most frames the shaper can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The stats thread's handle on the counters.
    pub fn counters(&self) -> CountersHandle {
        CountersHandle(Arc::clone(&self.counters))
    }

    /// The stats thread's end of the sojourn-histogram exchange (once).
    pub fn take_sojourn_collector(&mut self) -> Option<SojournCollector> {
        self.collector.take()
    }

    /// Once per batch: hand the sojourn histograms over if the stats thread asked.
    #[inline]
    pub fn publish_stats(&mut self) {
        self.exchange.hand_over(&mut self.sojourn);
    }

    /// Count a DSCP rewrite the worker made for a frame of `class` going `direction`.
    #[inline]
    pub fn count_dscp_mark(&self, class: usize, direction: usize) {
        if let Some(lane) = self.lanes.get(2 * class + direction.min(1)) {
            lane.counters().dscp_marked.inc();
        }
    }

    /// Hand a frame of `class` travelling `direction` (0 outbound, 1 inbound) to the shaper at
    /// `now`. It is queued, or handed back through `out` at once (sent: the class has no rate,
    /// or the bucket has room and nothing is queued; dropped: policed). When the memory limit
    /// is reached, frames from the head of the longest queue are dropped through `out` first.
    /// An unknown class passes the frame straight through.
    #[inline]
    pub fn enqueue(
        &mut self,
        class: usize,
        direction: usize,
        frame: H,
        pkt: Packet,
        now: u64,
        out: &mut impl FnMut(Event<H>),
    ) {
        let index = 2 * class + direction.min(1);
        let Some(lane) = self.lanes.get_mut(index) else {
            out(Event::Send { frame, mark_ce: false });
            return;
        };
        let cost = i64::from(pkt.len) * NANO as i64;
        lane.refill(now);
        let c = lane.counters.lane(lane.direction);
        c.packets_in.inc();
        c.bytes_in.add(u64::from(pkt.len));
        let send_now = match lane.limit {
            None => true,
            Some(Limit { mode: Mode::Police, .. }) => {
                if lane.tokens >= cost {
                    lane.tokens -= cost;
                    true
                } else {
                    c.count_drop(DropReason::Police, pkt.len);
                    out(Event::Drop { frame, reason: DropReason::Police });
                    return;
                }
            }
            Some(Limit { mode: Mode::Shape, .. }) => {
                // Nothing queued and room in the bucket: no reason to queue.
                if lane.frames == 0 && lane.tokens > 0 {
                    lane.tokens -= cost;
                    self.sojourn.record(class, direction, 0);
                    true
                } else {
                    false
                }
            }
        };
        if send_now {
            c.packets_out.inc();
            c.bytes_out.add(u64::from(pkt.len));
            out(Event::Send { frame, mark_ce: false });
            return;
        }
        if self.free == NIL {
            self.evict_longest(out);
        }
        if self.free == NIL {
            // Nothing to evict (cannot happen: a full slab means frames are queued).
            if let Some(lane) = self.lanes.get(index) {
                lane.counters().count_drop(DropReason::QueueFull, pkt.len);
            }
            out(Event::Drop { frame, reason: DropReason::QueueFull });
            return;
        }
        self.push(index, frame, pkt, now);
    }

    /// Queue a frame on its lane's flow queue (the lane shapes; a slot is free).
    fn push(&mut self, index: usize, frame: H, pkt: Packet, now: u64) {
        let slot_index = self.free;
        let Some(slot) = self.slots.get_mut(slot_index as usize) else { return };
        self.free = slot.next;
        *slot = Slot { frame: Some(frame), len: pkt.len, ecn: pkt.ecn_capable, enqueued_ns: now, next: NIL };
        let Some(lane) = self.lanes.get_mut(index) else { return };
        let q = (pkt.flow_hash.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.flow_shift) as u32;
        let quantum = i64::from(self.config.quantum);
        let Some(fq) = lane.queues.get_mut(q as usize) else { return };
        match self.slots.get_mut(fq.tail as usize) {
            Some(tail) => tail.next = slot_index,
            None => fq.head = slot_index,
        }
        fq.tail = slot_index;
        fq.frames += 1;
        fq.bytes += u64::from(pkt.len);
        if fq.list == List::None {
            fq.deficit = quantum;
            lane.new_flows.push(&mut lane.queues, q, List::New);
        }
        if lane.frames == 0 {
            self.backlogged += 1;
        }
        lane.frames += 1;
        lane.bytes += u64::from(pkt.len);
        self.queued += 1;
        lane.publish_gauges();
    }

    /// Take the head frame of flow queue `q` of lane `index`.
    fn pop(&mut self, index: usize, q: u32) -> Option<(H, u32, bool, u64)> {
        let lane = self.lanes.get_mut(index)?;
        let fq = lane.queues.get_mut(q as usize)?;
        let slot_index = fq.head;
        let slot = self.slots.get_mut(slot_index as usize)?;
        let frame = slot.frame.take()?;
        let (len, ecn, at) = (slot.len, slot.ecn, slot.enqueued_ns);
        fq.head = slot.next;
        if fq.head == NIL {
            fq.tail = NIL;
        }
        fq.frames -= 1;
        fq.bytes -= u64::from(len);
        slot.next = self.free;
        self.free = slot_index;
        lane.frames -= 1;
        lane.bytes -= u64::from(len);
        if lane.frames == 0 {
            self.backlogged -= 1;
        }
        self.queued -= 1;
        lane.publish_gauges();
        Some((frame, len, ecn, at))
    }

    /// The memory limit is reached: drop up to half (at most 64) of the frames of the longest
    /// flow queue of any lane, from its head (fq_codel's `fq_codel_drop`).
    fn evict_longest(&mut self, out: &mut impl FnMut(Event<H>)) {
        let mut best: Option<(usize, u32, u64)> = None;
        for (i, lane) in self.lanes.iter().enumerate().filter(|(_, l)| l.frames > 0) {
            for list in [lane.new_flows, lane.old_flows] {
                let mut q = list.head;
                while let Some(fq) = lane.queues.get(q as usize) {
                    if best.is_none_or(|(_, _, b)| fq.bytes > b) {
                        best = Some((i, q, fq.bytes));
                    }
                    q = fq.next;
                }
            }
        }
        let Some((index, q, _)) = best else { return };
        let frames = self.lanes.get(index).and_then(|l| l.queues.get(q as usize)).map_or(0, |fq| fq.frames);
        for _ in 0..(frames / 2).clamp(1, EVICT_BATCH) {
            let Some((frame, len, _, _)) = self.pop(index, q) else { break };
            if let Some(lane) = self.lanes.get(index) {
                lane.counters().count_drop(DropReason::QueueFull, len);
            }
            out(Event::Drop { frame, reason: DropReason::QueueFull });
        }
    }

    /// Send what the buckets allow at `now`, at most `budget` frames (the room on the TX ring),
    /// lanes in turn. CoDel's drops go through `out` too and do not count against the budget.
    /// Returns the frames sent.
    pub fn dequeue(&mut self, now: u64, budget: usize, out: &mut impl FnMut(Event<H>)) -> usize {
        if self.backlogged == 0 || budget == 0 {
            return 0;
        }
        let n = self.lanes.len();
        let mut sent = 0;
        for k in 0..n {
            let index = (self.rr + k) % n;
            if self.lanes.get(index).is_some_and(|l| l.frames > 0) {
                sent += self.dequeue_lane(index, now, budget - sent, out);
                if sent >= budget {
                    break;
                }
            }
        }
        self.rr = (self.rr + 1) % n.max(1);
        sent
    }

    fn dequeue_lane(&mut self, index: usize, now: u64, budget: usize, out: &mut impl FnMut(Event<H>)) -> usize {
        let (class, direction) = (index / 2, index % 2);
        let quantum = i64::from(self.config.quantum);
        let mut sent = 0;
        let Some(lane) = self.lanes.get_mut(index) else { return 0 };
        let Some(params) = lane.limit.map(|l| l.codel) else { return 0 };
        lane.refill(now);
        while sent < budget {
            let Some(lane) = self.lanes.get_mut(index) else { break };
            if lane.tokens <= 0 {
                break;
            }
            let (q, from_new) = if lane.new_flows.head != NIL {
                (lane.new_flows.head, true)
            } else if lane.old_flows.head != NIL {
                (lane.old_flows.head, false)
            } else {
                break;
            };
            let Some(fq) = lane.queues.get_mut(q as usize) else { break };
            if fq.deficit <= 0 {
                fq.deficit += quantum;
                if from_new {
                    lane.new_flows.pop(&mut lane.queues);
                } else {
                    lane.old_flows.pop(&mut lane.queues);
                }
                lane.old_flows.push(&mut lane.queues, q, List::Old);
                continue;
            }
            // CoDel at the head of this queue: drop (or mark) until a frame goes or none is left.
            let mut again = false;
            let picked = loop {
                let Some((frame, len, ecn, at)) = self.pop(index, q) else {
                    if let Some(fq) = self.lanes.get_mut(index).and_then(|l| l.queues.get_mut(q as usize)) {
                        fq.codel.on_empty();
                    }
                    break None;
                };
                let Some(lane) = self.lanes.get_mut(index) else { break None };
                let Some(fq) = lane.queues.get_mut(q as usize) else { break None };
                let sojourn = now.saturating_sub(at);
                match fq.codel.decide(sojourn, fq.bytes, ecn, again, now, &params) {
                    Decision::Send => break Some((frame, len, false, sojourn)),
                    Decision::Mark => break Some((frame, len, true, sojourn)),
                    Decision::Drop => {
                        lane.counters().count_drop(DropReason::Codel, len);
                        out(Event::Drop { frame, reason: DropReason::Codel });
                        again = true;
                    }
                }
            };
            let Some(lane) = self.lanes.get_mut(index) else { break };
            match picked {
                None => {
                    // Empty: a new flow moves to the old list (so it cannot stay first by
                    // emptying itself), an old one leaves the lists (RFC 8290 §4.2).
                    if from_new {
                        lane.new_flows.pop(&mut lane.queues);
                        lane.old_flows.push(&mut lane.queues, q, List::Old);
                    } else {
                        lane.old_flows.pop(&mut lane.queues);
                    }
                }
                Some((frame, len, mark_ce, sojourn)) => {
                    if let Some(fq) = lane.queues.get_mut(q as usize) {
                        fq.deficit -= i64::from(len);
                    }
                    lane.tokens -= i64::from(len) * NANO as i64;
                    let c = lane.counters();
                    c.packets_out.inc();
                    c.bytes_out.add(u64::from(len));
                    if mark_ce {
                        c.ecn_marked.inc();
                    }
                    self.sojourn.record(class, direction, sojourn);
                    out(Event::Send { frame, mark_ce });
                    sent += 1;
                }
            }
        }
        sent
    }

    /// When the next queued frame can leave: `Some(now)` if one can now, a later instant if the
    /// buckets must refill first, `None` if nothing is queued (sleep until the next frame
    /// arrives). CoDel acts only at dequeue, so no other timer is needed.
    pub fn next_wakeup(&self, now: u64) -> Option<u64> {
        if self.backlogged == 0 {
            return None;
        }
        self.lanes.iter().filter(|l| l.frames > 0).map(|l| now.saturating_add(l.wait_ns(now))).min()
    }

    /// Hand every queued frame back as dropped ([`DropReason::Flushed`]): the worker is stopping.
    pub fn flush(&mut self, out: &mut impl FnMut(Event<H>)) {
        for index in 0..self.lanes.len() {
            self.release_lane(index, &mut |frame, len, lane: &Lane| {
                lane.counters().count_drop(DropReason::Flushed, len);
                out(Event::Drop { frame, reason: DropReason::Flushed });
            });
        }
    }

    /// Take every frame of lane `index` out of its queues, oldest first per flow.
    fn release_lane(&mut self, index: usize, each: &mut impl FnMut(H, u32, &Lane)) {
        let nq = self.lanes.get(index).map_or(0, |l| l.queues.len());
        for q in 0..nq as u32 {
            while let Some((frame, len, _, _)) = self.pop(index, q) {
                if let Some(lane) = self.lanes.get(index) {
                    each(frame, len, lane);
                }
            }
            if let Some(fq) = self.lanes.get_mut(index).and_then(|l| l.queues.get_mut(q as usize)) {
                fq.codel.on_empty();
            }
        }
        if let Some(lane) = self.lanes.get_mut(index) {
            lane.new_flows = ActiveList::EMPTY;
            lane.old_flows = ActiveList::EMPTY;
            for fq in lane.queues.iter_mut() {
                fq.list = List::None;
                fq.next = NIL;
            }
        }
    }

    /// Apply a new class list (a reload) at `now`. A class kept by name keeps its queued frames,
    /// its counters and its bucket (clamped to a new burst); its rate, burst, mode and CoDel
    /// parameters take the new values. Frames of a class that goes away, or that stops shaping,
    /// are sent on at once through `out` (they were admitted by the old policy). The frame
    /// limit and queue shape cannot change here.
    ///
    /// # Errors
    /// [`ShaperError::NeedsRestart`] if the memory limit, frame cost, flow queues or quantum
    /// differ; [`ShaperError::TooManyClasses`]. The shaper is then unchanged.
    pub fn reconfigure(
        &mut self,
        config: &ShaperConfig,
        now: u64,
        out: &mut impl FnMut(Event<H>),
    ) -> Result<(), ShaperError> {
        let c = &self.config;
        if config.max_frames() != self.slots.len() as u64
            || config.frame_cost != c.frame_cost
            || config.flow_queues != c.flow_queues
            || config.quantum != c.quantum
        {
            return Err(ShaperError::NeedsRestart);
        }
        if config.classes.len() > 256 {
            return Err(ShaperError::TooManyClasses(config.classes.len()));
        }
        // Lanes whose frames cannot stay: the class is gone or no longer shapes.
        for index in 0..self.lanes.len() {
            let Some(lane) = self.lanes.get(index) else { continue };
            let shaped_now = matches!(lane.limit, Some(Limit { mode: Mode::Shape, .. }));
            let keeps = config
                .classes
                .iter()
                .any(|k| *k.name == *lane.counters.name && matches!(k.limit, Some(Limit { mode: Mode::Shape, .. })));
            if shaped_now && !keeps {
                self.release_lane(index, &mut |frame, len, lane: &Lane| {
                    let c = lane.counters();
                    c.packets_out.inc();
                    c.bytes_out.add(u64::from(len));
                    out(Event::Send { frame, mark_ce: false });
                });
            }
        }
        let old = ShaperCounters { classes: self.counters.load().classes.clone() };
        let class_counters: Vec<Arc<ClassCounters>> = config
            .classes
            .iter()
            .map(|k| match old.class(&k.name) {
                Some(c) => {
                    c.set_kind(kind(k), rate_bits(k));
                    Arc::clone(c)
                }
                None => Arc::new(ClassCounters::new(Arc::clone(&k.name), kind(k), rate_bits(k))),
            })
            .collect();
        let mut old_lanes: Vec<Option<Lane>> = std::mem::take(&mut self.lanes).into_iter().map(Some).collect();
        self.lanes = lanes_for(config, &class_counters, &mut old_lanes, now);
        self.backlogged = self.lanes.iter().filter(|l| l.frames > 0).count() as u32;
        self.rr = 0;
        self.names = config.classes.iter().map(|c| Arc::clone(&c.name)).collect();
        self.sojourn.names = Arc::clone(&self.names);
        if self.sojourn.histograms.len() != self.names.len() * 2 {
            let template = sojourn::template().map_err(|e| ShaperError::Histogram(e.to_string()))?;
            self.sojourn.histograms.resize_with(self.names.len() * 2, || hdrhistogram::Histogram::new_from(&template));
        }
        self.sojourn.histograms.iter_mut().for_each(hdrhistogram::Histogram::reset);
        self.counters.store(Arc::new(ShaperCounters { classes: class_counters }));
        self.config = config.clone();
        Ok(())
    }
}

fn kind(c: &ClassConfig) -> ClassKind {
    match c.limit {
        None => ClassKind::Mark,
        Some(Limit { mode: Mode::Shape, .. }) => ClassKind::Shape,
        Some(Limit { mode: Mode::Police, .. }) => ClassKind::Police,
    }
}

fn rate_bits(c: &ClassConfig) -> u64 {
    c.limit.map_or(0, |l| l.rate_bytes_per_s.saturating_mul(8))
}

/// The lanes for `config`: reuse a lane of `old` with the same class name and direction whose
/// queues fit (both shape, or neither), else make one.
fn lanes_for(config: &ShaperConfig, counters: &[Arc<ClassCounters>], old: &mut [Option<Lane>], now: u64) -> Vec<Lane> {
    let mut lanes = Vec::with_capacity(config.classes.len() * 2);
    for (class, c) in config.classes.iter().zip(counters) {
        for direction in 0..2 {
            let shapes = matches!(class.limit, Some(Limit { mode: Mode::Shape, .. }));
            let reuse = old.iter_mut().find(|l| {
                l.as_ref().is_some_and(|l| {
                    *l.counters.name == *class.name && l.direction == direction && (l.queues.is_empty() != shapes)
                })
            });
            let lane = match reuse.and_then(Option::take) {
                Some(mut lane) => {
                    lane.refill(now);
                    lane.set_limit(class.limit);
                    lane.counters = Arc::clone(c);
                    lane
                }
                None => Lane::new(class, Arc::clone(c), direction, config.flow_queues, now),
            };
            lanes.push(lane);
        }
    }
    lanes
}

#[cfg(test)]
mod tests;
