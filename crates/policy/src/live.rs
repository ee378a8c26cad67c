//! The live policy: the current [`PolicyTable`] behind an atomic pointer, and the control-thread
//! side that publishes a new generation at each schedule boundary and each reload.
//!
//! Workers call [`LivePolicy::load`] once per batch (arc-swap: a few atomic operations, no lock,
//! never blocked by a publish) and keep the guard for the batch. The control thread owns the
//! [`Publisher`]; it never reads the clock itself: its loop passes `now` to
//! [`Publisher::tick`], which returns the next boundary to sleep until. A clock that steps (NTP)
//! is harmless: each tick evaluates the schedules from scratch for the instant it is given.
//!
//! Each generation may carry a companion `C` beside its table: the bridge publishes its
//! classifier (signatures and inspection limits) so, so that a reload's new signatures and new
//! policy reach a worker together, in the same atomic load ([`Publisher::replace_with`]). A
//! schedule tick keeps the companion; [`Generation::epoch`] counts how often it changed.

use std::ops::Deref;
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use jiff::Timestamp;

use crate::{PolicyTable, Program, ScheduleMask};

/// One published generation: the policy table and its companion (the bridge's classifier).
/// Derefs to the table.
#[derive(Debug)]
pub struct Generation<C> {
    table: PolicyTable,
    companion: Arc<C>,
    epoch: u8,
}

impl<C> Generation<C> {
    /// The policy table.
    #[inline]
    pub fn table(&self) -> &PolicyTable {
        &self.table
    }

    /// The companion published with it.
    #[inline]
    pub fn companion(&self) -> &Arc<C> {
        &self.companion
    }

    /// Which companion this is: starts at 1 and steps (wrapping, never 0) each time
    /// [`Publisher::replace_with`] publishes a new one; schedule ticks and
    /// [`Publisher::replace`] keep it. Readers compare it to tell a new companion cheaply.
    #[inline]
    pub fn epoch(&self) -> u8 {
        self.epoch
    }
}

impl<C> Deref for Generation<C> {
    type Target = PolicyTable;
    #[inline]
    fn deref(&self) -> &PolicyTable {
        &self.table
    }
}

/// The current policy generation, shared by the control thread and every worker.
#[derive(Debug)]
pub struct LivePolicy<C = ()> {
    current: ArcSwap<Generation<C>>,
}

impl LivePolicy<()> {
    /// A live policy that starts at `table` with no companion (tests, and data paths without a
    /// control thread; the bridge gets its own from [`Publisher::live`]).
    pub fn new(table: PolicyTable) -> LivePolicy<()> {
        LivePolicy::with(table, Arc::new(()))
    }
}

impl<C> LivePolicy<C> {
    /// A live policy that starts at `table` with `companion`.
    pub fn with(table: PolicyTable, companion: Arc<C>) -> LivePolicy<C> {
        LivePolicy { current: ArcSwap::from_pointee(Generation { table, companion, epoch: 1 }) }
    }

    /// The current generation, for one batch. Hold the guard no longer than that.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Generation<C>>> {
        self.current.load()
    }

    /// The current generation as an owned `Arc` (for the stats thread and tests).
    pub fn load_full(&self) -> Arc<Generation<C>> {
        self.current.load_full()
    }
}

/// What a tick or a reload published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The generation now current.
    pub generation: u64,
    /// Whether this call published it (false: nothing changed).
    pub changed: bool,
    /// The next schedule boundary, if any: call [`Publisher::tick`] again then.
    pub next_boundary: Option<Timestamp>,
}

/// The control thread's side: owns the compiled program and numbers the generations.
#[derive(Debug)]
pub struct Publisher<C = ()> {
    program: Program,
    companion: Arc<C>,
    epoch: u8,
    live: Arc<LivePolicy<C>>,
    generation: u64,
    active: ScheduleMask,
    next_boundary: Option<Timestamp>,
}

impl Publisher<()> {
    /// Publish generation 1 of `program` as of `now`, with no companion.
    pub fn new(program: Program, now: Timestamp) -> Publisher<()> {
        Publisher::with(program, Arc::new(()), now)
    }
}

impl<C> Publisher<C> {
    /// Publish generation 1 of `program` with `companion` as of `now`.
    pub fn with(program: Program, companion: Arc<C>, now: Timestamp) -> Publisher<C> {
        let (active, next_boundary) = program.schedules_at(now);
        let live = Arc::new(LivePolicy::with(program.table(active, 1), Arc::clone(&companion)));
        Publisher { program, companion, epoch: 1, live, generation: 1, active, next_boundary }
    }

    /// The handle workers load from.
    pub fn live(&self) -> &Arc<LivePolicy<C>> {
        &self.live
    }

    /// The companion now in force.
    pub fn companion(&self) -> &Arc<C> {
        &self.companion
    }

    /// The program now in force.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The next schedule boundary, as of the last tick.
    pub fn next_boundary(&self) -> Option<Timestamp> {
        self.next_boundary
    }

    /// Evaluate the schedules at `now`; if the set of active schedules changed, publish a new
    /// generation. Call it at (or after) the returned boundary; calling it more often is cheap.
    pub fn tick(&mut self, now: Timestamp) -> Published {
        let (active, next_boundary) = self.program.schedules_at(now);
        self.next_boundary = next_boundary;
        let changed = active != self.active;
        if changed {
            self.active = active;
            self.publish();
        }
        Published { generation: self.generation, changed, next_boundary }
    }

    /// Put a new program (a reload) in force at `now`: always a new generation, so every flow
    /// recomputes its verdict on its next packet.
    pub fn replace(&mut self, program: Program, now: Timestamp) -> Published {
        let (active, next_boundary) = program.schedules_at(now);
        self.program = program;
        self.active = active;
        self.next_boundary = next_boundary;
        self.publish();
        Published { generation: self.generation, changed: true, next_boundary }
    }

    /// Put a new program and a new companion (a reload with new signatures) in force at `now`,
    /// in one generation: a reader sees both change in the same load, never one without the
    /// other. The companion's epoch steps.
    pub fn replace_with(&mut self, program: Program, companion: Arc<C>, now: Timestamp) -> Published {
        self.companion = companion;
        self.epoch = match self.epoch.wrapping_add(1) {
            0 => 1,
            e => e,
        };
        self.replace(program, now)
    }

    fn publish(&mut self) {
        self.generation += 1;
        // Flows cache the low bits, where 0 means "nothing cached": skip those generations.
        if self.generation & ((1 << crate::CACHED_GENERATION_BITS) - 1) == 0 {
            self.generation += 1;
        }
        let table = self.program.table(self.active, self.generation);
        self.live.current.store(Arc::new(Generation {
            table,
            companion: Arc::clone(&self.companion),
            epoch: self.epoch,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CachedVerdict, ProtocolInfo, Verdict};
    use weir_config::Config;

    const PROTOS: &[ProtocolInfo<'static>] = &[
        ProtocolInfo { name: "unknown", category: "unknown" },
        ProtocolInfo { name: "bittorrent", category: "p2p" },
        ProtocolInfo { name: "http", category: "web" },
    ];

    fn program(policy: &str) -> Program {
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        let c = Config::parse(&text, "t.toml").unwrap();
        Program::compile(&c.policy, PROTOS, &["p2p", "web", "unknown"]).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A drop rule for P2P during night hours in Helsinki; everything else forwarded.
    const NIGHT_DROP: &str = "[policy.schedules.night]\ntime = \"22:00-06:00\"\ntimezone = \"Europe/Helsinki\"\n\
        [[policy.rule]]\ncategory = \"p2p\"\nschedule = \"night\"\naction = \"drop\"\n";

    #[test]
    fn an_injected_clock_turns_a_drop_rule_on_and_off_across_midnight() {
        // 2026-06-03, Helsinki is UTC+3: the night is 19:00Z-03:00Z.
        let mut p = Publisher::new(program(NIGHT_DROP), ts("2026-06-03T18:00:00Z"));
        let live = Arc::clone(p.live());
        let mut flow = CachedVerdict::default();
        let bt = Some(1u16);
        assert_eq!(flow.get(&live.load(), bt, 0), Verdict::Forward);
        assert_eq!(p.next_boundary(), Some(ts("2026-06-03T19:00:00Z")));

        // A tick before the boundary changes nothing.
        let r = p.tick(ts("2026-06-03T18:59:59Z"));
        assert!(!r.changed);
        assert_eq!(r.generation, 1);

        // 22:00 local: generation 2 drops; the flow recomputes without being classified again.
        let r = p.tick(ts("2026-06-03T19:00:00Z"));
        assert!(r.changed);
        assert_eq!(r.generation, 2);
        assert_eq!(r.next_boundary, Some(ts("2026-06-04T03:00:00Z")), "06:00 local, after midnight");
        assert_eq!(flow.get(&live.load(), bt, 0), Verdict::Drop);
        assert_eq!(flow.get(&live.load(), Some(2), 0), Verdict::Drop, "the cache is per flow: same flow, same verdict");
        let mut web = CachedVerdict::default();
        assert_eq!(web.get(&live.load(), Some(2), 0), Verdict::Forward);

        // Across midnight: still night, nothing published.
        assert!(!p.tick(ts("2026-06-03T21:00:01Z")).changed);
        assert_eq!(live.load().active_schedules().collect::<Vec<_>>(), ["night"]);

        // 06:00 local: forwarded again.
        let r = p.tick(ts("2026-06-04T03:00:00Z"));
        assert_eq!((r.changed, r.generation), (true, 3));
        assert_eq!(flow.get(&live.load(), bt, 1), Verdict::Forward);
        assert_eq!(r.next_boundary, Some(ts("2026-06-04T19:00:00Z")));
    }

    #[test]
    fn a_dst_change_moves_the_boundaries_by_the_zone_not_by_utc() {
        // Helsinki's fall-back night, 2026-10-24/25: 22:00 EEST = 19:00Z, 06:00 EET = 04:00Z.
        let mut p = Publisher::new(program(NIGHT_DROP), ts("2026-10-24T12:00:00Z"));
        assert_eq!(p.next_boundary(), Some(ts("2026-10-24T19:00:00Z")));
        let r = p.tick(ts("2026-10-24T19:00:00Z"));
        assert_eq!(r.next_boundary, Some(ts("2026-10-25T04:00:00Z")), "a night one hour longer");
        // Spring-forward night, 2026-03-28/29: 22:00 EET = 20:00Z, 06:00 EEST = 03:00Z.
        // (A clock stepped back months is fine: each tick evaluates from scratch.)
        let r = p.tick(ts("2026-03-28T20:00:00Z"));
        assert!(!r.changed, "night then, night now");
        assert_eq!(r.next_boundary, Some(ts("2026-03-29T03:00:00Z")), "a night one hour shorter");
    }

    #[test]
    fn a_reload_is_always_a_new_generation() {
        let mut p = Publisher::new(program(""), ts("2026-06-03T12:00:00Z"));
        let live = Arc::clone(p.live());
        let mut flow = CachedVerdict::default();
        assert_eq!(flow.get(&live.load(), Some(1), 0), Verdict::Forward);
        let r = p.replace(program("[policy.protocols]\nbittorrent = \"drop\"\n"), ts("2026-06-03T12:00:01Z"));
        assert_eq!((r.changed, r.generation, r.next_boundary), (true, 2, None));
        assert_eq!(flow.get(&live.load(), Some(1), 0), Verdict::Drop);
        assert_eq!(live.load_full().generation(), 2);
    }

    #[test]
    fn a_reload_with_a_companion_publishes_both_in_one_generation() {
        let mut p = Publisher::with(program(""), Arc::new("signatures v1"), ts("2026-06-03T12:00:00Z"));
        let live = Arc::clone(p.live());
        let g1 = live.load_full();
        assert_eq!((g1.generation(), g1.epoch(), **g1.companion()), (1, 1, "signatures v1"));
        // A policy-only reload keeps the companion and its epoch.
        p.replace(program(""), ts("2026-06-03T12:00:01Z"));
        let g2 = live.load_full();
        assert_eq!((g2.generation(), g2.epoch()), (2, 1));
        assert!(Arc::ptr_eq(g2.companion(), g1.companion()));
        // A reload with new signatures: the new policy and the new companion in the same load.
        let r = p.replace_with(
            program("[policy.protocols]\nbittorrent = \"drop\"\n"),
            Arc::new("signatures v2"),
            ts("2026-06-03T12:00:02Z"),
        );
        assert_eq!(r.generation, 3);
        let g3 = live.load();
        assert_eq!((g3.generation(), g3.epoch(), **g3.companion()), (3, 2, "signatures v2"));
        let mut flow = CachedVerdict::default();
        assert_eq!(flow.get(&g3, Some(1), 0), Verdict::Drop, "the policy of the same generation");
        // The old generation a reader still holds is whole: old policy, old companion.
        assert_eq!((g1.generation(), **g1.companion()), (1, "signatures v1"));
        // Epochs wrap past 255 to 1, never 0.
        p.epoch = 255;
        p.replace_with(program(""), Arc::new("v3"), ts("2026-06-03T12:00:03Z"));
        assert_eq!(live.load().epoch(), 1);
    }

    #[test]
    fn generation_zero_is_never_published() {
        let mut p = Publisher::new(program(""), ts("2026-06-03T12:00:00Z"));
        p.generation = 4095;
        p.replace(program(""), ts("2026-06-03T12:00:00Z"));
        assert_eq!(p.live().load().generation(), 4097, "4096 has low bits 0: skipped");
        let mut flow = CachedVerdict::default();
        flow.get(&p.live().load(), Some(1), 0);
        assert_ne!(flow.generation(), 0);
    }
}
