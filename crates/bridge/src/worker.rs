//! [`Worker`]: one queue pair, its inspector and its counters, and the loop that drives them.
//!
//! The worker is the I/O half of the data path (the [`Inspector`] is the other, sans I/O): it
//! reads the clock once per batch, polls the rings with the inspector's verdicts, publishes its
//! counters once per batch, hands its histograms and top-flow candidates over when the stats
//! thread asks, and sleeps in poll(2) when there is nothing to do. Generic over the
//! [`FramePair`], so the same loop runs over real sockets ([`QueuePair`]) and over the simulated
//! kernel of `weir_xdp::testing` in tests.

use crate::counters::{WorkerCounters, WorkerView};
use crate::export::Export;
use crate::verdict::{Inspector, Verdict};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir_engine::TopCandidate;
use weir_stats::histo::WorkerSide;
use weir_xdp::{FrameCensus, FramePair, PollResult, QueuePair, XdpError};

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
        counters.publish(pair.counters(), &[0, 0], &pair.census());
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
        }
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

    /// One batch at `now` (ns since the epoch): poll both rings with the inspector's verdicts,
    /// then publish the counters.
    pub fn poll_once(&mut self, now: u64) -> PollResult {
        let Worker { pair, inspector, malformed, .. } = self;
        let result = pair.poll(|side, frame| {
            let v = inspector.verdict(side, frame, now);
            if v == Verdict::DropMalformed {
                malformed[side.index()] += 1;
            }
            v.frame_action()
        });
        self.publish();
        result
    }

    fn publish(&mut self) {
        self.counters.publish(self.pair.counters(), &self.malformed, &self.pair.census());
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
                self.pair.wait(IDLE_WAIT).map_err(|source| WorkerError::Poll { queue, source })?;
            }
        }
        self.close()
    }

    /// Closes the pair (draining TX), publishes the last counters, and checks the census.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn close(mut self) -> Result<WorkerExit, WorkerError> {
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
}
