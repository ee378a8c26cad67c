//! [`Worker`]: one queue pair, its inspector and its counters, and the loop that drives them.
//!
//! The worker is the I/O half of the data path (the [`Inspector`] is the other, sans I/O): it
//! reads the clock once per batch, polls the rings with the inspector's verdicts, publishes its
//! counters once per batch, hands its histograms and top-flow candidates over when the stats
//! thread asks, and sleeps in poll(2) when there is nothing to do. Generic over the
//! [`FramePair`], so the same loop runs over real sockets ([`QueuePair`]) and over the simulated
//! kernel of `weir_xdp::testing` in tests.
//!
//! # Classes: marking and shaping
//!
//! A frame whose verdict is a [`Verdict::Class`] has its DSCP rewritten in place if the class
//! marks (ECN bits kept, IPv4 checksum updated, VLAN tags walked: `weir_wire::mark`). If the
//! class has a rate, the frame is *held* in the UMEM ([`FrameAction::Hold`]) and handed to the
//! worker's [`Shaper`] after the pass; what the shaper sends (at once, or later when its bucket
//! allows) is released onto the other side's TX ring, what it drops (police, CoDel, queue full)
//! is recycled and counted as a shaper drop of the side it came in on. The worker's wait in
//! poll(2) ends no later than the shaper's next departure, so queued frames leave on time and
//! an idle worker still sleeps. When the policy generation brings a different class list (a
//! reload), the shaper is reconfigured at the start of the batch. At close every queued frame
//! is flushed (dropped, counted) before the frame census is checked.

use crate::counters::{WorkerCounters, WorkerView};
use crate::export::Export;
use crate::fast::{Fast, FastLink};
use crate::verdict::{Inspector, Verdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir_config::Class;
use weir_engine::TopCandidate;
use weir_shaper::{Event, Packet, Shaper, ShaperConfig};
use weir_stats::histo::WorkerSide;
use weir_xdp::{FrameAction, FrameCensus, FramePair, Held, PollResult, QueuePair, Side, XdpError};

/// What the shaper queues: the pair's handle on the held frame, and the side it came in on.
pub type ShapedFrame = (Held, Side);

/// A frame held in a pass, to hand to the shaper after it.
#[derive(Clone, Copy, Debug)]
struct Pending {
    frame: ShapedFrame,
    class: u8,
    direction: u8,
    packet: Packet,
}

/// The worker's shaper and what it needs beside it.
struct Shaping {
    shaper: Shaper<ShapedFrame>,
    config: ShaperConfig,
    /// The class list the shaper is configured for (a new generation with the same `Arc` keeps it).
    classes: Arc<[Class]>,
    /// Frames held in the current pass (capacity: two batches, allocated once).
    pending: Vec<Pending>,
    /// Frames the shaper dropped, per receive side.
    dropped: [u64; 2],
}

/// Idle sockets are polled at least this often (the kernel's need_wakeup does the rest), so a
/// worker answers the stats thread within this even when no frame comes.
pub const IDLE_WAIT: Duration = Duration::from_millis(10);

/// Why a worker stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Waiting on the sockets failed.
    #[error("queue {queue}: poll failed: {source}")]
    Poll {
        /// The queue.
        queue: u32,
        /// Why.
        source: XdpError,
    },
    /// Closing failed.
    #[error("queue {queue}: close failed: {source}")]
    Close {
        /// The queue.
        queue: u32,
        /// Why.
        source: XdpError,
    },
    /// The frame census did not add up at close: a frame was lost or counted twice.
    #[error("queue {queue}: frame accounting broke: {census:?}")]
    Census {
        /// The queue.
        queue: u32,
        /// Where the frames were.
        census: FrameCensus,
    },
}

/// One worker: owns its queue pair, inspector and counters.
pub struct Worker<P: FramePair = QueuePair> {
    pair: P,
    inspector: Inspector,
    counters: Arc<WorkerCounters>,
    /// Frames dropped as malformed, per side (plain memory; published per batch).
    malformed: [u64; 2],
    histograms: Option<WorkerSide>,
    /// The buffer top-flow candidates are gathered in (swapped with the published one).
    top: Vec<TopCandidate>,
    core: Option<usize>,
    epoch: Instant,
    /// Where the flows this worker's packets end (and the interim reports they start) go.
    export: Option<Export>,
    /// The shaper, for policies with rated classes (see the module docs).
    shaping: Option<Box<Shaping>>,
    /// The XDP fast path, where weir's program runs: decided flows are installed there.
    fast: Option<FastLink>,
}

impl<P: FramePair> std::fmt::Debug for Worker<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("queue", &self.pair.queue()).field("inspector", &self.inspector).finish()
    }
}

/// What a worker hands back when it stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerExit {
    /// Its queue.
    pub queue: u32,
    /// Where its frames were when its sockets closed; adds up.
    pub census: FrameCensus,
}

impl<P: FramePair> Worker<P> {
    /// A worker over `pair` deciding with `inspector`; `epoch` is the bridge's clock origin
    /// (every worker and the sweeper measure `now` from it).
    pub fn new(pair: P, inspector: Inspector, epoch: Instant) -> Worker<P> {
        let protocols = inspector.dropped().len();
        let top_flows = inspector.top_flows();
        let counters = Arc::new(WorkerCounters::new(protocols, top_flows));
        counters.publish(pair.counters(), &[0, 0], &[0, 0], &pair.census());
        Worker {
            pair,
            inspector,
            counters,
            malformed: [0, 0],
            histograms: None,
            top: Vec::with_capacity(top_flows),
            core: None,
            epoch,
            export: None,
            shaping: None,
            fast: None,
        }
    }

    /// Install this worker's decided flows in the XDP fast path `fast` (its engine must run
    /// with `fast_hints`).
    pub fn with_fastpath(mut self, fast: Arc<Fast>) -> Self {
        self.fast = Some(FastLink::new(fast));
        self
    }

    /// Shape the frames of rated classes with `shaper`, made from `config` for the class list
    /// `classes` (the one of the policy generation in force); `batch` is the pair's batch size.
    /// A worker without one forwards a class's frames unmarked and unshaped (`weir run` gives
    /// every classifying worker one).
    pub fn with_shaper(
        mut self,
        shaper: Shaper<ShapedFrame>,
        config: ShaperConfig,
        classes: Arc<[Class]>,
        batch: usize,
    ) -> Self {
        self.shaping = Some(Box::new(Shaping {
            shaper,
            config,
            classes,
            pending: Vec::with_capacity(2 * batch.max(1)),
            dropped: [0, 0],
        }));
        self
    }

    /// Record batch timings into `side` of a histogram exchange, and hand them (and the top-flow
    /// candidates) over when its stats thread asks.
    pub fn with_histograms(mut self, side: WorkerSide) -> Self {
        self.histograms = Some(side);
        self
    }

    /// Export the flows this worker's engine ends, and its interim reports, through `export`
    /// (the engine must keep records: `EngineConfig::record_flows`).
    pub fn with_export(mut self, export: Export) -> Self {
        self.export = Some(export);
        self
    }

    /// Pin the worker's thread to `core` when [`run`](Self::run) starts.
    pub fn pinned(mut self, core: usize) -> Self {
        self.core = Some(core);
        self
    }

    /// How the stats thread reads this worker.
    pub fn view(&self) -> WorkerView {
        WorkerView {
            queue: self.pair.queue(),
            counters: Arc::clone(&self.counters),
            engine: self.inspector.engine_counters(),
        }
    }

    /// The queue pair.
    pub fn pair(&self) -> &P {
        &self.pair
    }

    /// The queue pair, mutably (tests feed a simulated one).
    pub fn pair_mut(&mut self) -> &mut P {
        &mut self.pair
    }

    /// One batch at `now` (ns since the epoch): load the policy generation, poll both rings
    /// with the inspector's verdicts (marking, holding frames to shape), run the shaper, then
    /// publish the counters.
    pub fn poll_once(&mut self, now: u64) -> PollResult {
        if let Some(table) = self.inspector.begin_batch()
            && let Some(s) = self.shaping.as_deref_mut()
            && !Arc::ptr_eq(table.classes(), &s.classes)
        {
            let classes = Arc::clone(table.classes());
            reconfigure(&mut self.pair, s, classes, now);
        }
        let generation = self.inspector.generation();
        let Worker { pair, inspector, malformed, shaping, fast, .. } = self;
        let mut shaping = shaping.as_deref_mut();
        let result = pair.poll_hold(|side, frame, held| {
            let v = inspector.verdict(side, frame, now);
            if let Some(f) = fast.as_mut() {
                f.on_frame(inspector.fast_hint(), v, generation);
            }
            act(v, side, frame, held, malformed, shaping.as_deref_mut())
        });
        if let Some(s) = self.shaping.as_deref_mut() {
            shape(&mut self.pair, s, now);
        }
        self.publish();
        result
    }
}

/// What the rings do with a frame of verdict `v` (marking it, or holding it for the shaper).
#[inline]
fn act(
    v: Verdict,
    side: Side,
    frame: &mut [u8],
    held: weir_xdp::Held,
    malformed: &mut [u64; 2],
    shaping: Option<&mut Shaping>,
) -> FrameAction {
    match v {
        Verdict::Forward => FrameAction::Forward,
        Verdict::DropPolicy => FrameAction::Drop,
        Verdict::DropMalformed => {
            malformed[side.index()] += 1;
            FrameAction::Drop
        }
        Verdict::Class { class, direction, dscp, rated, flow_hash } => {
            let Some(s) = shaping else { return FrameAction::Forward };
            if let Some(d) = dscp
                && weir_wire::mark::set_dscp(frame, d).is_ok_and(|r| r != weir_wire::mark::Rewrite::NotIp)
            {
                s.shaper.count_dscp_mark(usize::from(class), usize::from(direction));
            }
            if !rated || s.pending.len() == s.pending.capacity() {
                return FrameAction::Forward;
            }
            let ecn_capable = weir_wire::mark::ecn(frame).ok().flatten().is_some_and(|e| e.is_capable());
            let packet = Packet { len: frame.len() as u32, flow_hash, ecn_capable };
            s.pending.push(Pending { frame: (held, side), class, direction, packet });
            FrameAction::Hold
        }
    }
}

impl<P: FramePair> Worker<P> {
    /// When the shaper's next queued frame may leave (ns since the epoch), if any is queued.
    fn next_departure(&self, now: u64) -> Option<u64> {
        self.shaping.as_ref().and_then(|s| s.shaper.next_wakeup(now))
    }

    fn publish(&mut self) {
        let shaper_dropped = self.shaping.as_ref().map_or([0, 0], |s| s.dropped);
        self.counters.publish(self.pair.counters(), &self.malformed, &shaper_dropped, &self.pair.census());
        if self.inspector.drops_changed() {
            self.counters.publish_drops(self.inspector.dropped());
        }
    }

    /// After a batch: the engine's timers at `now` (its host table is published once a second,
    /// also on a quiet link), and the flows its packets ended to the exporter, never waiting
    /// for room. `last` (at close): publish the host table whatever the time, and wait for room.
    fn flow_ends(&mut self, now: u64, last: bool) {
        let Some(engine) = self.inspector.engine_mut() else { return };
        if last {
            engine.publish_hosts();
        } else {
            engine.tick(now);
        }
        if let Some(f) = self.fast.as_mut() {
            f.ended(engine);
        }
        if let Some(x) = &self.export {
            x.send(engine, last);
        }
    }

    /// Hand histograms and top-flow candidates to the stats thread if it asked.
    fn hand_over(&mut self) {
        let Some(h) = self.histograms.as_mut() else { return };
        if !h.wanted() {
            return;
        }
        self.top.clear();
        self.inspector.take_top(&mut self.top);
        // The stats thread locks this only to read it, after this hand-over: never contended
        // for long. Swapping keeps both buffers' capacity: nothing allocates.
        std::mem::swap(&mut *self.counters.top.lock(), &mut self.top);
        h.hand_over();
    }

    /// Runs until `stop` is set: batches, publishing, hand-overs, and a wait of at most
    /// [`IDLE_WAIT`] when a batch was empty. Then closes the pair and checks its census.
    ///
    /// # Errors
    ///
    /// [`WorkerError`] if waiting or closing fails or the census does not add up.
    pub fn run(mut self, stop: &AtomicBool) -> Result<WorkerExit, WorkerError> {
        if let Some(core) = self.core {
            crate::pin(core);
        }
        let queue = self.pair.queue();
        while !stop.load(Ordering::Relaxed) {
            // The clock is read at the start and end of a batch, never per packet.
            let started = Instant::now();
            let now = started.duration_since(self.epoch).as_nanos() as u64;
            let result = self.poll_once(now);
            if let Some(h) = self.histograms.as_mut()
                && result.received > 0
            {
                h.record_batch(started.elapsed().as_nanos() as u64, result.received);
            }
            self.hand_over();
            self.flow_ends(now, false);
            if result.received == 0 {
                // Sleep until a frame comes, but no later than the shaper's next departure
                // (poll(2) counts whole milliseconds: round up, never spin; the class's bucket
                // holds the burst that builds up meanwhile, so the rate is kept).
                let wait = match self.next_departure(now) {
                    Some(at) if at <= now => None,
                    Some(at) => Some(Duration::from_nanos(at - now).max(Duration::from_millis(1)).min(IDLE_WAIT)),
                    None => Some(IDLE_WAIT),
                };
                if let Some(wait) = wait {
                    self.pair.wait(wait).map_err(|source| WorkerError::Poll { queue, source })?;
                }
            }
        }
        self.close()
    }

    /// Flushes the shaper (its queued frames are dropped and counted), closes the pair
    /// (draining TX), publishes the last counters, and checks the census.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn close(mut self) -> Result<WorkerExit, WorkerError> {
        if let Some(s) = self.shaping.as_deref_mut() {
            let Shaping { shaper, dropped, .. } = s;
            let pair = &mut self.pair;
            shaper.flush(&mut |e| release(pair, dropped, e));
            pair.flush_released();
            shaper.publish_stats();
        }
        self.flow_ends(u64::MAX, true);
        self.publish();
        let queue = self.pair.queue();
        let census = self.pair.close().map_err(|source| WorkerError::Close { queue, source })?;
        if census.sum() != census.total {
            return Err(WorkerError::Census { queue, census });
        }
        Ok(WorkerExit { queue, census })
    }
}

/// Hand the frames held in the pass to the shaper, then send what its buckets allow (at most
/// what both TX rings have room for), and put the released frames on the rings.
fn shape<P: FramePair>(pair: &mut P, s: &mut Shaping, now: u64) {
    let Shaping { shaper, pending, dropped, .. } = s;
    for p in pending.drain(..) {
        shaper.enqueue(usize::from(p.class), usize::from(p.direction), p.frame, p.packet, now, &mut |e| {
            release(pair, dropped, e)
        });
    }
    if shaper.queued() > 0 {
        let budget = pair.tx_room(Side::Inside).min(pair.tx_room(Side::Outside)) as usize;
        shaper.dequeue(now, budget, &mut |e| release(pair, dropped, e));
    }
    pair.flush_released();
    shaper.publish_stats();
}

/// Carry out one shaper event on the pair.
#[inline]
fn release<P: FramePair>(pair: &mut P, dropped: &mut [u64; 2], e: Event<ShapedFrame>) {
    match e {
        Event::Send { frame: (held, _), mark_ce } => {
            if mark_ce {
                // The shaper asks only for ECN-capable frames, which set_ce marks; a frame it
                // could not parse again is sent as it is.
                let _ = pair.with_held(held, weir_wire::mark::set_ce);
            }
            pair.release(held, true);
        }
        Event::Drop { frame: (held, side), .. } => {
            if pair.release(held, false) {
                dropped[side.index()] += 1;
            }
        }
    }
}

/// A new class list (a reload): reconfigure the shaper; frames of classes that no longer shape
/// are sent on. If the shaper cannot take it (cannot happen: the queue shape is fixed at start
/// and reloads that change it are refused), it keeps the old classes and says so.
fn reconfigure<P: FramePair>(pair: &mut P, s: &mut Shaping, classes: Arc<[Class]>, now: u64) {
    let config = ShaperConfig::from_classes(&classes, s.config.memory_limit, s.config.frame_cost);
    let Shaping { shaper, dropped, .. } = s;
    match shaper.reconfigure(&config, now, &mut |e| release(pair, dropped, e)) {
        Ok(()) => {
            s.config = config;
            s.classes = classes;
        }
        Err(e) => {
            weir_service::log::error("shaper", &[("error", &e), ("msg", &"keeping the previous classes")]);
            // Do not retry at every batch.
            s.classes = classes;
        }
    }
    pair.flush_released();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::totals;
    use crate::verdict::tests::{bittorrent, bt_handshake, inspector, inspector_with, ip};
    use weir_testkit::packet::{Builder, tcp_conversation};
    use weir_xdp::Side;
    use weir_xdp::testing::SimPair;

    /// A BitTorrent conversation and a web one through a worker whose policy drops
    /// BitTorrent: the web frames come out of the far side byte for byte, the BitTorrent ones
    /// after their label do not, and the published counters add up per interface.
    #[test]
    fn the_worker_forwards_drops_and_publishes_over_the_simulated_kernel() {
        let policy = inspector("[policy.protocols]\nbittorrent = \"drop\"\n");
        let mut w = Worker::new(SimPair::new(256, 32, 16, 8), policy, Instant::now());
        let b = Builder::default();
        let hs = bt_handshake();
        let bt = tcp_conversation(&b, (ip(1), 40000), (ip(2), 6881), &[(true, &hs), (false, &hs), (true, &[1; 100])]);
        let web = tcp_conversation(
            &b,
            (ip(1), 40001),
            (ip(3), 80),
            &[(true, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), (false, b"HTTP/1.1 200 OK\r\n\r\nhello")],
        );
        let mut arp = b.arp_request([198, 18, 0, 1], [198, 18, 0, 2]);
        arp.resize(60, 0);
        let mut want_out = Vec::new();
        let mut want_in = Vec::new();
        for (i, (f, from_client)) in bt.iter().chain(&web).enumerate() {
            let side = if *from_client { Side::Inside } else { Side::Outside };
            w.pair_mut().push(side, f.clone());
            // Forwarded: all web frames, and the BitTorrent ones before the first handshake.
            if i >= bt.len() || i < 3 {
                if *from_client { want_out.push(f.clone()) } else { want_in.push(f.clone()) }
            }
            for _ in 0..3 {
                w.poll_once(1);
            }
        }
        w.pair_mut().push(Side::Inside, arp.clone());
        want_out.push(arp);
        for _ in 0..10 {
            w.poll_once(2);
        }
        assert_eq!(w.pair().sent(Side::Outside), &want_out[..]);
        assert_eq!(w.pair().sent(Side::Inside), &want_in[..]);

        let view = w.view();
        let t = totals(std::slice::from_ref(&view), &[], view.engine.as_ref().map_or(0, |e| e.protocols.len()));
        let dropped = (bt.len() - 3) as u64;
        let (inside, outside) = (t.sides[0], t.sides[1]);
        assert_eq!(inside.received + outside.received, (bt.len() + web.len() + 1) as u64);
        assert_eq!(inside.dropped_policy + outside.dropped_policy, dropped);
        for s in [inside, outside] {
            assert_eq!(s.received, s.forwarded + s.dropped_policy + s.dropped_malformed + s.lost_tx_full, "{s:?}");
        }
        let d = t.protocols[bittorrent()].dropped;
        assert_eq!(d[0] + d[1], dropped);
        assert_eq!(t.non_ip, 1);
        assert!(t.frames_total > 0 && t.frames_in_use <= t.frames_total);
        let exit = w.close().unwrap();
        assert_eq!(exit.census.sum(), exit.census.total);
    }

    /// Frames dropped as malformed are counted apart from policy drops.
    #[test]
    fn malformed_drops_are_their_own_count() {
        let mut w =
            Worker::new(SimPair::new(64, 16, 8, 4), inspector("[policy]\nmalformed = \"drop\"\n"), Instant::now());
        let mut runt = Builder::default().udp((ip(1), 1), (ip(2), 2), b"x");
        runt.truncate(20);
        w.pair_mut().push(Side::Outside, runt);
        for _ in 0..4 {
            w.poll_once(0);
        }
        let t = totals(&[w.view()], &[], 64);
        assert_eq!((t.sides[1].received, t.sides[1].dropped_malformed, t.sides[1].dropped_policy), (1, 1, 0));
        assert!(w.pair().sent(Side::Inside).is_empty());
    }

    /// When the stats thread asks, a running worker hands over its histograms and its top-flow
    /// candidates, which then name the heavy flow.
    #[test]
    fn histograms_and_top_flow_candidates_are_handed_over_when_asked() {
        let (mut collector, mut sides) = weir_stats::histo::exchange(1).unwrap();
        let config = weir_engine::EngineConfig { top_flows: 4, ..Default::default() };
        let mut w = Worker::new(SimPair::new(256, 32, 16, 8), inspector_with("", config), Instant::now())
            .with_histograms(sides.remove(0));
        let f = Builder::default().udp((ip(1), 5000), (ip(2), 5001), &[0x42; 100]);
        for _ in 0..40 {
            w.pair_mut().push(Side::Inside, f.clone());
        }
        let view = w.view();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let t = std::thread::spawn(move || w.run(&s));
        let deadline = Instant::now() + Duration::from_secs(10);
        while totals(std::slice::from_ref(&view), &[], 64).sides[0].forwarded < 40 {
            assert!(Instant::now() < deadline, "the worker did not forward");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut merged = weir_stats::histo::BatchHistograms::new().unwrap();
        collector.collect(&mut merged, Duration::from_secs(5));
        assert!(!merged.batch_size.is_empty(), "batches were recorded");
        let top = view.counters.top.lock().clone();
        assert_eq!(top.len(), 1, "{top:?}");
        assert_eq!(top[0].bytes, 40 * f.len() as u64);
        stop.store(true, Ordering::Relaxed);
        t.join().unwrap().unwrap();
    }

    /// `run` drives the same loop until stopped, in its own thread, and closes cleanly.
    #[test]
    fn run_until_stopped() {
        let mut w = Worker::new(SimPair::new(64, 16, 8, 4), Inspector::fixed(Verdict::Forward), Instant::now());
        for i in 0..50u8 {
            w.pair_mut().push(Side::Inside, vec![i; 64]);
        }
        let view = w.view();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let t = std::thread::spawn(move || w.run(&s));
        let deadline = Instant::now() + Duration::from_secs(10);
        while totals(std::slice::from_ref(&view), &[], 0).sides[0].forwarded < 50 {
            assert!(Instant::now() < deadline, "the worker did not forward");
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Ordering::Relaxed);
        let exit = t.join().unwrap().unwrap();
        assert_eq!(exit.census.sum(), exit.census.total);
        assert_eq!(exit.census.tx + exit.census.completion, 0, "drained at close");
    }

    /// A worker whose policy (`policy` TOML) is live in a publisher the test controls, with a
    /// shaper for its classes.
    fn shaping_worker(policy: &str) -> (Worker<SimPair>, weir_policy::live::Publisher<weir_dpi::Classifier>) {
        use weir_dpi::Classifier;
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let program = program(&classifier, policy);
        let publisher =
            weir_policy::live::Publisher::with(program, Arc::clone(&classifier), jiff::Timestamp::UNIX_EPOCH);
        let table = weir_engine::FlowTableConfig { shards: 4, capacity: 4096, ..Default::default() };
        let shared = weir_engine::Shared::new(Arc::clone(&classifier), table, 64).unwrap();
        let engine = weir_engine::Engine::new(shared, weir_engine::EngineConfig::default());
        let inspector = Inspector::classify(engine, Arc::clone(publisher.live()));
        let classes = Arc::clone(publisher.live().load().classes());
        let config = ShaperConfig::from_classes(&classes, 64 * 2048, 2048);
        let shaper = Shaper::new(&config, 0).unwrap();
        let w = Worker::new(SimPair::new(512, 64, 64, 16), inspector, Instant::now())
            .with_shaper(shaper, config, classes, 16);
        (w, publisher)
    }

    fn program(classifier: &weir_dpi::Classifier, policy: &str) -> weir_policy::Program {
        let reg = classifier.registry();
        let protocols: Vec<weir_policy::ProtocolInfo<'_>> = reg
            .iter()
            .map(|id| weir_policy::ProtocolInfo { name: reg.name(id), category: reg.category(id).name() })
            .collect();
        let categories: Vec<&str> = weir_dpi::Category::ALL.iter().map(|c| c.name()).collect();
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        let config = weir_config::Config::parse(&text, "t.toml").unwrap();
        weir_policy::Program::compile(&config.policy, &protocols, &categories).unwrap()
    }

    /// A worker under `policy` (TOML) whose engine keeps flow records and hands them to
    /// `exporter`, its times counted from the Unix time `epoch_unix_ns`.
    fn exporting_worker(
        classifier: &Arc<weir_dpi::Classifier>,
        policy: &str,
        exporter: &weir_export::Exporter,
        epoch_unix_ns: u64,
    ) -> Worker<SimPair> {
        let reg = classifier.registry();
        let protocols: Vec<weir_policy::ProtocolInfo<'_>> = reg
            .iter()
            .map(|id| weir_policy::ProtocolInfo { name: reg.name(id), category: reg.category(id).name() })
            .collect();
        let categories: Vec<&str> = weir_dpi::Category::ALL.iter().map(|c| c.name()).collect();
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        let config = weir_config::Config::parse(&text, "t.toml").unwrap();
        let table = weir_policy::PolicyTable::compile(&config.policy, &protocols, &categories).unwrap();
        let live = Arc::new(weir_policy::live::LivePolicy::with(table, Arc::clone(classifier)));
        let flows = weir_engine::FlowTableConfig { shards: 4, capacity: 4096, ..Default::default() };
        let shared = weir_engine::Shared::new(Arc::clone(classifier), flows, 64).unwrap();
        let engine =
            weir_engine::Engine::new(shared, weir_engine::EngineConfig { record_flows: true, ..Default::default() });
        let inspector = Inspector::classify(engine, Arc::clone(&live));
        let export = Export::new(exporter, epoch_unix_ns, live).unwrap();
        Worker::new(SimPair::new(256, 32, 16, 8), inspector, Instant::now()).with_export(export)
    }

    /// A BitTorrent download: handshakes both ways, then `n` data segments of 180 bytes (234-byte
    /// frames: the simulated UMEM's frames hold 256) from the outside peer.
    fn bt_download(n: usize) -> Vec<(Vec<u8>, bool)> {
        let hs = bt_handshake();
        let data = [0x55u8; 180];
        let mut turns: Vec<(bool, &[u8])> = vec![(true, &hs), (false, &hs)];
        turns.extend(std::iter::repeat_n((false, &data[..]), n));
        tcp_conversation(&Builder::default(), (ip(1), 40000), (ip(2), 6881), &turns)
    }

    fn feed(w: &mut Worker<SimPair>, frames: &[(Vec<u8>, bool)], now: u64) {
        for (f, from_client) in frames {
            w.pair_mut().push(if *from_client { Side::Inside } else { Side::Outside }, f.clone());
            w.poll_once(now);
        }
        // A pushed frame arrives at the next kernel step: let the last ones through.
        for _ in 0..4 {
            w.poll_once(now);
        }
    }

    fn side_sums(w: &Worker<SimPair>) -> [weir_stats::SideTotals; 2] {
        totals(&[w.view()], &[], 0).sides
    }

    /// BitTorrent in a class of 16 kbit/s (2,000 bytes/s) with a bucket of one full-size frame.
    const SLOW_BITTORRENT: &str = "[policy.classes.slow]\nrate = \"16 kbit/s\"\nburst = 1514\n[[policy.rule]]\nprotocol = \"bittorrent\"\nclass = \"slow\"\n";

    /// Frames of a rated class wait in the UMEM and leave at the class's rate as the clock
    /// advances; the census and the per-side sums add up while they wait and after the rest is
    /// flushed at close.
    #[test]
    fn a_rated_class_holds_frames_and_sends_them_at_its_rate() {
        let (mut w, _p) = shaping_worker(SLOW_BITTORRENT);
        let conv = bt_download(40);
        feed(&mut w, &conv, 0);
        let sent_at_0 = w.pair().sent(Side::Inside).len();
        let [_, outside] = side_sums(&w);
        assert!(outside.queued > 20, "frames wait in the class: {outside:?}");
        assert_eq!(outside.received, outside.forwarded + outside.queued + outside.dropped_shaper, "{outside:?}");
        let census = w.pair().census();
        assert_eq!(census.held, outside.queued);
        assert_eq!(census.sum(), census.total);
        // One second later the bucket has let about 2,000 bytes (eight or nine 234-byte frames) go.
        for _ in 0..5 {
            w.poll_once(1_000_000_000);
        }
        let sent_at_1s = w.pair().sent(Side::Inside).len() - sent_at_0;
        assert!((7..=10).contains(&sent_at_1s), "{sent_at_1s} frames in one second at 2 kB/s");
        // The frames come out unchanged and in order.
        let inbound: Vec<Vec<u8>> = conv.iter().filter(|(_, c)| !c).map(|(f, _)| f.clone()).collect();
        assert_eq!(w.pair().sent(Side::Inside), &inbound[..w.pair().sent(Side::Inside).len()]);
        let exit = w.close().unwrap();
        assert_eq!(exit.census.sum(), exit.census.total);
        assert_eq!(exit.census.held, 0, "flushed at close");
    }

    /// Frames still queued at close are flushed: dropped, and counted as shaper drops of the
    /// side they came in on.
    #[test]
    fn frames_flushed_at_close_count_as_shaper_drops() {
        let (mut w, _p) = shaping_worker(SLOW_BITTORRENT);
        feed(&mut w, &bt_download(30), 0);
        let queued = side_sums(&w)[1].queued;
        assert!(queued > 0);
        let view = w.view();
        w.close().unwrap();
        let t = totals(&[view], &[], 0);
        let o = t.sides[1];
        assert_eq!(o.queued, 0);
        assert_eq!(o.dropped_shaper, queued, "{o:?}");
        assert_eq!(o.received, o.forwarded + o.dropped_shaper + o.dropped_policy, "{o:?}");
    }

    /// A marking class rewrites the DSCP (ECN kept, IPv4 checksum valid) and forwards at once.
    #[test]
    fn a_marking_class_rewrites_dscp_and_keeps_the_checksum_valid() {
        let (mut w, _p) = shaping_worker(
            "[policy.classes.bulk]\ndscp = \"CS1\"\n[[policy.rule]]\nprotocol = \"bittorrent\"\nclass = \"bulk\"\n",
        );
        let conv = bt_download(5);
        feed(&mut w, &conv, 0);
        let sent = w.pair().sent(Side::Inside).to_vec();
        assert_eq!(sent.len(), 8, "all inbound frames forwarded (SYN-ACK, handshake, 5 data, FIN)");
        // From the label on (the inside handshake labels the flow), marked.
        for f in &sent[1..] {
            assert_eq!(weir_wire::mark::dscp(f).unwrap(), Some(8), "CS1");
            let ip = &f[14..34];
            assert_eq!(weir_wire::checksum::checksum(ip), 0, "IPv4 header checksum verifies");
        }
        let c = w.shaping.as_ref().unwrap().shaper.counters().load();
        assert_eq!(c.class("bulk").unwrap().lane(1).dscp_marked.get(), 7);
    }

    /// A new policy generation (a reload) applies from the flow's next packet, without
    /// classifying it again: bittorrent forwarded, then dropped.
    #[test]
    fn a_new_generation_applies_to_a_flow_at_its_next_packet() {
        let (mut w, mut publisher) = shaping_worker("");
        let conv = bt_download(10);
        feed(&mut w, &conv[..6], 0);
        // SYN-ACK, the handshake and one data segment.
        assert_eq!(w.pair().sent(Side::Inside).len(), 3, "forwarded under generation 1");
        let c = weir_dpi::Classifier::builtin().unwrap();
        let dropping = program(&c, "[policy.protocols]\nbittorrent = \"drop\"\n");
        assert_eq!(publisher.replace(dropping, jiff::Timestamp::UNIX_EPOCH).generation, 2);
        feed(&mut w, &conv[6..], 1);
        assert_eq!(w.pair().sent(Side::Inside).len(), 3, "nothing forwarded under generation 2");
        // Nine data segments and the FIN in, the client's FIN out.
        let d = w.inspector.dropped()[bittorrent()];
        assert_eq!(d, [1, 10]);
        w.close().unwrap();
    }

    /// One uniflow data record as a collector reads it.
    #[derive(Debug, PartialEq, Eq)]
    struct Uniflow {
        src: (std::net::Ipv4Addr, u16),
        dst: (std::net::Ipv4Addr, u16),
        ip_protocol: u64,
        vlan: u64,
        packets: u64,
        bytes: u64,
        start_ms: u64,
        end_ms: u64,
        end_reason: u64,
        interfaces: (u64, u64),
        biflow_direction: u64,
        forwarding: u64,
        application: String,
    }

    /// Flow export over the simulated kernel to a UDP collector on 127.0.0.1, read back with an
    /// RFC 7011 reader that learns the templates from the stream (`export::reader`). A BitTorrent
    /// conversation (the policy drops BitTorrent) and a web one, each SYN to FIN both ways, one
    /// frame a millisecond, batches and flow ends driven as `run` drives them. The BitTorrent
    /// flow is ended by the engine's sweep during the web conversation and queued on the data
    /// path; the web flow ends at its closed linger and is handed over at close. Each flow is two
    /// uniflow records carrying its 5-tuple each way, the frames and wire bytes fed per direction,
    /// its times, end reason, interfaces, application name and what the policy did with it; the
    /// exporter queued one record per flow and dropped none.
    #[test]
    fn ended_flows_reach_an_ipfix_collector_with_counts_labels_and_policy() {
        use crate::export::reader::{Reader, Record};
        use std::collections::HashMap;
        use std::net::{IpAddr, UdpSocket};
        use weir_export::{AppTable, Collector, EncoderConfig, Exporter, ExporterConfig};

        const MS: u64 = 1_000_000;
        const EPOCH_UNIX_NS: u64 = 1_700_000_000_000_000_000;
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let classifier = Arc::new(weir_dpi::Classifier::builtin().unwrap());
        let apps = Arc::new(AppTable::from_registry(classifier.registry()));
        let config = ExporterConfig {
            collectors: vec![Collector::parse(&collector.local_addr().unwrap().to_string()).unwrap()],
            encoder: EncoderConfig { domain: 42, max_message: 1400, interfaces: [3, 4] },
            template_refresh: Duration::from_secs(600),
            queue: 64,
            linger: Duration::from_millis(20),
            udp_messages_per_s: None,
            core: None,
        };
        let exporter = Exporter::start(config, Arc::clone(&apps)).unwrap();
        let mut w =
            exporting_worker(&classifier, "[policy.protocols]\nbittorrent = \"drop\"\n", &exporter, EPOCH_UNIX_NS);

        let b = Builder::default();
        let hs = bt_handshake();
        let bt = tcp_conversation(&b, (ip(1), 40000), (ip(2), 6881), &[(true, &hs), (false, &hs), (true, &[1; 100])]);
        let web = tcp_conversation(
            &b,
            (ip(1), 40001),
            (ip(3), 80),
            &[(true, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), (false, b"HTTP/1.1 200 OK\r\n\r\nhello")],
        );
        // Frame i at `start` + i ms; after each batch, the engine's timers and the flows it ended
        // go to the exporter without waiting, as in `run`.
        fn play(w: &mut Worker<SimPair>, frames: &[(Vec<u8>, bool)], start: u64) {
            for (i, (f, from_client)) in frames.iter().enumerate() {
                let now = start + i as u64 * MS;
                w.pair_mut().push(if *from_client { Side::Inside } else { Side::Outside }, f.clone());
                for _ in 0..3 {
                    w.poll_once(now);
                    w.flow_ends(now, false);
                }
            }
        }
        let (bt_at, web_at) = (1_000 * MS, 20_000 * MS);
        play(&mut w, &bt, bt_at);
        // SYN, SYN-ACK and ACK went through; from the client's handshake (the label) on, dropped.
        assert_eq!(w.pair().sent(Side::Outside).len() + w.pair().sent(Side::Inside).len(), 3);
        assert_eq!(w.inspector.dropped()[bittorrent()], [3, 2]);
        assert_eq!(exporter.stats().queued, 0, "a closed flow lingers in the table");
        play(&mut w, &web, web_at);
        assert_eq!(w.pair().sent(Side::Outside).len() + w.pair().sent(Side::Inside).len(), 3 + web.len());
        // The sweep at the web conversation's first packet ended the BitTorrent flow (closed for
        // 19 s, past the 10 s linger): queued on the data path.
        assert_eq!(exporter.stats().queued, 1);
        // The web flow's linger passes; its record waits in the engine for close.
        w.inspector.engine_mut().unwrap().tick(web_at + 11_000 * MS);
        assert_eq!(exporter.stats().queued, 1);
        let exit = w.close().unwrap();
        assert_eq!(exit.census.sum(), exit.census.total);
        let stats = exporter.finish(Duration::from_secs(2));

        let mut reader = Reader::default();
        let mut buf = vec![0u8; 65536];
        let mut messages = Vec::new();
        while let Ok(n) = collector.recv(&mut buf) {
            messages.push(reader.read(&buf[..n]));
        }
        assert!(!messages.is_empty(), "no IPFIX message arrived");
        assert!(messages[0].templates >= 3, "the first message carries the templates: {:?}", messages[0]);
        // Sequence numbers count the data records sent before each message.
        let mut sequence = 0u32;
        for m in &messages {
            assert_eq!((m.domain, m.sequence), (42, sequence));
            sequence += m.records.len() as u32;
        }
        let records: Vec<&Record> = messages.iter().flat_map(|m| &m.records).collect();
        // The application options records: applicationId (IE 95) -> applicationName (IE 96).
        let names: HashMap<Vec<u8>, String> = records
            .iter()
            .filter(|r| r.get(96).is_some())
            .map(|r| (r.get(95).unwrap().to_vec(), r.string(96)))
            .collect();
        assert_eq!(names.len(), apps.apps().len());
        // Flow records: those with a sourceIPv4Address (IE 8).
        let flows: Vec<&Record> = records.iter().copied().filter(|r| r.get(8).is_some()).collect();
        let v4 = |r: &Record, ie: u16| std::net::Ipv4Addr::from(<[u8; 4]>::try_from(r.get(ie).unwrap()).unwrap());
        let mut got: Vec<(Uniflow, u64)> = flows
            .iter()
            .map(|r| {
                let app = names.get(r.get(95).unwrap()).cloned().unwrap_or_else(|| format!("unnamed {:?}", r.get(95)));
                let u = Uniflow {
                    src: (v4(r, 8), r.uint(7) as u16),
                    dst: (v4(r, 12), r.uint(11) as u16),
                    ip_protocol: r.uint(4),
                    vlan: r.uint(58),
                    packets: r.uint(2),
                    bytes: r.uint(1),
                    start_ms: r.uint(152),
                    end_ms: r.uint(153),
                    end_reason: r.uint(136),
                    interfaces: (r.uint(10), r.uint(14)),
                    biflow_direction: r.uint(239),
                    forwarding: r.uint(89),
                    application: app,
                };
                (u, r.uint(148))
            })
            .collect();
        got.sort_by_key(|(u, _)| (u.src, u.dst));

        let ms = |t: u64| (EPOCH_UNIX_NS + t) / MS;
        let sum = |conv: &[(Vec<u8>, bool)], client: bool| -> (u64, u64) {
            let frames = conv.iter().filter(|(_, c)| *c == client);
            (frames.clone().count() as u64, frames.map(|(f, _)| f.len() as u64).sum())
        };
        let v4_of = |a: IpAddr| match a {
            IpAddr::V4(a) => a,
            IpAddr::V6(a) => panic!("{a}"),
        };
        // (conversation, client, server, start, application, forwardingStatus)
        let cases = [
            (&bt, (ip(1), 40000), (ip(2), 6881), bt_at, "bittorrent", 129),
            (&web, (ip(1), 40001), (ip(3), 80), web_at, "http", 64),
        ];
        let mut want = Vec::new();
        for (conv, client, server, start, application, forwarding) in cases {
            let end = start + (conv.len() as u64 - 1) * MS;
            for (from_client, (src, dst), interfaces, direction) in
                [(true, (client, server), (3, 4), 1), (false, (server, client), (4, 3), 2)]
            {
                let (packets, bytes) = sum(conv, from_client);
                want.push(Uniflow {
                    src: (v4_of(src.0), src.1),
                    dst: (v4_of(dst.0), dst.1),
                    ip_protocol: 6,
                    vlan: 0,
                    packets,
                    bytes,
                    start_ms: ms(start),
                    end_ms: ms(end),
                    end_reason: 3,
                    interfaces,
                    biflow_direction: direction,
                    forwarding,
                    application: application.to_string(),
                });
            }
        }
        want.sort_by_key(|u| (u.src, u.dst));
        let got_flows: Vec<&Uniflow> = got.iter().map(|(u, _)| u).collect();
        assert_eq!(got_flows, want.iter().collect::<Vec<_>>());
        // Both records of a flow carry its flowId; the two flows' differ.
        let id = |client: (IpAddr, u16), server, start| weir_export::flow::flow_id(6, client, server, start);
        let bt_id = id((ip(1), 40000), (ip(2), 6881), bt_at);
        let web_id = id((ip(1), 40001), (ip(3), 80), web_at);
        assert_ne!(bt_id, web_id);
        let mut ids: Vec<u64> = got.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        let mut want_ids = vec![bt_id, bt_id, web_id, web_id];
        want_ids.sort_unstable();
        assert_eq!(ids, want_ids);

        // One queued record per flow, none dropped; every data record sent arrived.
        assert_eq!((stats.queued, stats.dropped), (2, 0), "{stats:?}");
        let c = &stats.collectors[0];
        assert_eq!((c.messages, c.records_lost, c.send_errors), (messages.len() as u64, 0, 0), "{c:?}");
        assert_eq!(c.records, u64::from(sequence));
        assert_eq!(c.records, 4 + c.template_rounds * apps.apps().len() as u64, "{c:?}");
    }
}
