//! Idle expiry with one owner: the [`Sweeper`] ends idle flows one shard at a time.
//!
//! Workers never sweep (their engines run with `Expiry::External`): the control thread owns an
//! engine of its own for ending flows, so the flows it ends and labels count to its own counters
//! (single writer), and it visits the shards in turn, one lock at a time, so that each shard is
//! swept once per [`SWEEP_PERIOD`]. A worker then waits at most for one shard's sweep, never for
//! all of them. (The XDP fast path will sweep its flow map from here too, by the same clock.)

use crate::export::Export;
use crate::fast::{Fast, FastSweep};
use parking_lot::Mutex;
use std::sync::Arc;
use weir_engine::{Engine, EngineConfig, EngineCounters, Expiry, HostTopK, Shared};

/// Interim reports made per tick at most (in steps of the engine's), so a backlog of long flows
/// never holds the control loop for long; the rest wait for the next tick.
const REPORT_STEPS: usize = 8;

/// Every shard is swept once per this many nanoseconds (one second, as the engine's inline
/// sweep of a capture does).
pub const SWEEP_PERIOD: u64 = 1_000_000_000;

/// Ends idle flows, staggered over the shards.
pub struct Sweeper {
    engine: Engine,
    shards: usize,
    next_shard: usize,
    /// When the next shard is due, ns on the bridge clock.
    next_at: u64,
    /// Where the flows it ends and the interim reports it makes go.
    export: Option<Export>,
    /// The XDP fast path's map, swept beside the table.
    fast: Option<FastSweep>,
}

impl std::fmt::Debug for Sweeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sweeper").field("shards", &self.shards).field("next_shard", &self.next_shard).finish()
    }
}

impl Sweeper {
    /// A sweeper over `shared`'s flow table.
    pub fn new(shared: Shared) -> Sweeper {
        Sweeper::with_config(shared, EngineConfig::default())
    }

    /// A sweeper whose engine keeps records (`record_flows`), makes the interim reports of long
    /// flows (`active_timeout_ns`; the workers' engines only start them) and counts the flows it
    /// ends to their hosts (`host_capacity`), as `config` says. Its expiry is always external.
    pub fn with_config(shared: Shared, config: EngineConfig) -> Sweeper {
        let shards = shared.table.shard_count().max(1);
        let engine = Engine::new(shared, EngineConfig { expiry: Expiry::External, ..config });
        Sweeper { engine, shards, next_shard: 0, next_at: 0, export: None, fast: None }
    }

    /// Export the flows it ends and the interim reports it makes through `export`.
    pub fn with_export(mut self, export: Export) -> Sweeper {
        self.export = Some(export);
        self
    }

    /// Sweep the XDP fast path's flow map too (see `crate::fast`): its engine must have been made
    /// with `fast_hints`, so the flows it ends leave the map.
    pub fn with_fastpath(mut self, fast: Arc<Fast>) -> Sweeper {
        self.fast = Some(FastSweep::new(fast));
        self
    }

    /// Its engine's published host table (the flows it ends), for the stats thread to merge.
    pub fn published_hosts(&self) -> Arc<Mutex<HostTopK>> {
        self.engine.published_hosts()
    }

    fn step(&self) -> u64 {
        (SWEEP_PERIOD / self.shards as u64).max(1)
    }

    /// Sweep the shards that are due at `now` (ns on the bridge clock); returns how many flows
    /// ended. Call it often (every few tens of ms): each call locks only the shards due since
    /// the last, at most all of them once.
    pub fn tick(&mut self, now: u64) -> usize {
        let step = self.step();
        // After a stall of more than a round, resume the stagger from now rather than sweeping
        // every missed shard at once.
        if now > self.next_at.saturating_add(SWEEP_PERIOD) {
            self.next_at = now;
        }
        // The kernel's counts first, so a flow the kernel forwards is not idle here.
        if let Some(f) = self.fast.as_mut() {
            f.walk(&mut self.engine, now, false);
        }
        let mut ended = 0;
        let mut swept = 0;
        while self.next_at <= now && swept < self.shards {
            ended += self.engine.expire_shard(self.next_shard, now);
            self.next_shard = (self.next_shard + 1) % self.shards;
            self.next_at += step;
            swept += 1;
        }
        if let Some(f) = self.fast.as_mut() {
            f.ended(&mut self.engine);
        }
        self.reports_and_export(now);
        ended
    }

    /// The interim reports due at `now`, the host table's publication (once a second), and
    /// what ended or was reported to the exporter, never waiting for room.
    fn reports_and_export(&mut self, now: u64) {
        for _ in 0..REPORT_STEPS {
            if !self.engine.report_active(now) {
                break;
            }
        }
        self.engine.tick(now);
        if let Some(x) = &self.export {
            x.send(&mut self.engine, false);
        }
    }

    /// End every flow (shutdown), labelling those still pending from what was seen, and export
    /// them (waiting for room in the queue: the workers have stopped).
    pub fn flush(&mut self) {
        if let Some(f) = self.fast.as_mut() {
            f.walk(&mut self.engine, u64::MAX, true);
        }
        self.engine.flush();
        if let Some(f) = self.fast.as_mut() {
            f.ended(&mut self.engine);
        }
        if let Some(x) = &self.export {
            x.send(&mut self.engine, true);
        }
    }

    /// Inspect (end pending flows) with `classifier`, epoch `epoch`, from now on (a reload's;
    /// see [`Engine::set_classifier`]).
    pub fn set_classifier(&mut self, classifier: Arc<weir_dpi::Classifier>, epoch: u8) {
        self.engine.set_classifier(classifier, epoch);
    }

    /// The counters of the flows this sweeper ended.
    pub fn counters(&self) -> &Arc<EngineCounters> {
        self.engine.counters()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_dpi::Classifier;
    use weir_engine::{FlowTableConfig, Ingress, LinkType};
    use weir_testkit::packet::Builder;

    #[test]
    fn each_shard_is_swept_once_per_period_and_idle_flows_end() {
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let table = FlowTableConfig { shards: 8, capacity: 1024, ..FlowTableConfig::default() };
        let shared = Shared::new(classifier, table, 64).unwrap();
        let mut worker =
            Engine::new(shared.clone(), EngineConfig { expiry: Expiry::External, ..EngineConfig::default() });
        let ip = |n| std::net::IpAddr::from([198, 18, 0, n]);
        for p in 0..64u16 {
            let f = Builder::default().udp((ip(1), 1000 + p), (ip(2), 53), b"x");
            worker.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, 0);
        }
        let mut s = Sweeper::new(shared.clone());
        // Before the UDP timeout nothing ends, however often it ticks.
        for ms in 0..2000 {
            assert_eq!(s.tick(ms * 1_000_000), 0);
        }
        // Past it: ticks 10 ms apart sweep the 8 shards over one period (125 ms per shard), not
        // all at once.
        let t0 = 61 * SWEEP_PERIOD;
        let mut ends = Vec::new();
        for i in 0..100u64 {
            ends.push(s.tick(t0 + i * 10_000_000));
        }
        assert_eq!(ends.iter().sum::<usize>(), 64);
        assert!(ends.iter().filter(|n| **n > 0).count() >= 4, "staggered: {ends:?}");
        assert_eq!(shared.table.stats().active, 0);
        assert_eq!(s.counters().flows_ended(weir_engine::EndReason::Idle).get(), 64);
    }
}
