//! CoDel's per-queue state and control law (RFC 8289), as Linux's `codel_impl.h` runs it inside
//! fq_codel: the queue's head sojourn time is checked at dequeue; once it has stayed above
//! `target` for a whole `interval`, CoDel enters its dropping state and drops (or, for
//! ECN-capable packets, marks CE) at intervals shrinking with the square root of the count.

/// CoDel parameters of one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodelParams {
    /// Acceptable standing queue delay, ns (5 ms).
    pub target_ns: u64,
    /// Window over which the delay must stay above target before dropping, ns (100 ms: about
    /// a worst-case RTT).
    pub interval_ns: u64,
    /// A queue holding at most this many bytes is never dropped from (one full-size frame).
    pub mtu: u32,
}

/// Per-queue CoDel state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Codel {
    /// When the sojourn time went above target, plus interval; 0: below target.
    first_above_time: u64,
    /// When the next drop is due, in the dropping state.
    drop_next: u64,
    /// Drops (or marks) since entering the dropping state.
    count: u32,
    /// `count` when the dropping state was last left.
    lastcount: u32,
    /// Whether in the dropping state.
    dropping: bool,
    /// The dropping state was entered by the packet just dropped: the next one is sent
    /// whatever its sojourn (RFC 8289's entry path drops one packet, not a run).
    entered: bool,
}

/// `t + interval / sqrt(count)`.
fn control_law(t: u64, interval_ns: u64, count: u32) -> u64 {
    let c = f64::from(count.max(1));
    t.saturating_add((interval_ns as f64 / c.sqrt()) as u64)
}

/// What CoDel decided for the packet at a queue's head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send it.
    Send,
    /// Send it marked CE.
    Mark,
    /// Drop it and look at the next one.
    Drop,
}

impl Codel {
    /// RFC 8289 `dodequeue`'s test: whether the packet just taken from the head (`sojourn_ns`
    /// old, leaving `backlog_after` bytes queued) is in a standing queue long enough to act on.
    fn ok_to_drop(&mut self, sojourn_ns: u64, backlog_after: u64, now: u64, p: &CodelParams) -> bool {
        if sojourn_ns < p.target_ns || backlog_after <= u64::from(p.mtu) {
            self.first_above_time = 0;
            return false;
        }
        if self.first_above_time == 0 {
            self.first_above_time = now.saturating_add(p.interval_ns).max(1);
            false
        } else {
            now >= self.first_above_time
        }
    }

    /// The queue is empty: leave the dropping state (RFC 8289: a dequeue that finds nothing).
    pub(crate) fn on_empty(&mut self) {
        self.first_above_time = 0;
        self.dropping = false;
        self.entered = false;
    }

    /// Decide for the packet just taken from the head. Called once per packet; after a
    /// [`Decision::Drop`] the caller takes the next packet and calls again, with `again` set, until
    /// one is sent or the queue is empty. `ecn` says the packet may be marked instead of dropped.
    pub(crate) fn decide(
        &mut self,
        sojourn_ns: u64,
        backlog_after: u64,
        ecn: bool,
        again: bool,
        now: u64,
        p: &CodelParams,
    ) -> Decision {
        let drop = self.ok_to_drop(sojourn_ns, backlog_after, now, p);
        if again {
            // Inside the drop loop of the dropping state (or right after the first drop).
            if core::mem::take(&mut self.entered) {
                return Decision::Send;
            }
            if !self.dropping {
                return Decision::Send;
            }
            if !drop {
                self.dropping = false;
                return Decision::Send;
            }
            if now < self.drop_next {
                return Decision::Send;
            }
            return self.drop_or_mark_in_dropping_state(ecn, p);
        }
        if self.dropping {
            if !drop {
                self.dropping = false;
                return Decision::Send;
            }
            if now >= self.drop_next {
                return self.drop_or_mark_in_dropping_state(ecn, p);
            }
            return Decision::Send;
        }
        if !drop {
            return Decision::Send;
        }
        // Enter the dropping state. If it was left only recently, resume near the old rate.
        self.dropping = true;
        let delta = self.count.wrapping_sub(self.lastcount);
        self.count = if delta > 1 && now.saturating_sub(self.drop_next) < 16 * p.interval_ns { delta } else { 1 };
        self.lastcount = self.count;
        self.drop_next = control_law(now, p.interval_ns, self.count);
        if ecn {
            Decision::Mark
        } else {
            self.entered = true;
            Decision::Drop
        }
    }

    fn drop_or_mark_in_dropping_state(&mut self, ecn: bool, p: &CodelParams) -> Decision {
        self.count = self.count.wrapping_add(1);
        self.drop_next = control_law(self.drop_next, p.interval_ns, self.count);
        if ecn { Decision::Mark } else { Decision::Drop }
    }

    /// Whether in the dropping state (tests).
    #[cfg(test)]
    pub(crate) fn dropping(&self) -> bool {
        self.dropping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: CodelParams = CodelParams { target_ns: 5_000_000, interval_ns: 100_000_000, mtu: 1514 };
    const MS: u64 = 1_000_000;

    #[test]
    fn below_target_never_drops() {
        let mut c = Codel::default();
        for t in 0..1000 {
            assert_eq!(c.decide(4 * MS, 100_000, false, false, t * MS, &P), Decision::Send);
        }
    }

    #[test]
    fn a_standing_queue_is_dropped_from_after_one_interval_then_faster() {
        let mut c = Codel::default();
        let mut drops = Vec::new();
        for t in (0..1000).map(|ms| ms * MS) {
            let d = c.decide(20 * MS, 100_000, false, false, t, &P);
            if d == Decision::Drop {
                drops.push(t / MS);
                // The next packet in the same dequeue is checked too; it is not yet due.
                assert_eq!(c.decide(20 * MS, 100_000, false, true, t, &P), Decision::Send);
            }
        }
        assert_eq!(drops.first(), Some(&100), "first drop one interval after going above target");
        // Control law: 100 ms, then 100/sqrt(2) = 70.7 ms, then 57.7 ms, ...
        assert_eq!(drops.get(1), Some(&200));
        assert_eq!(drops.get(2), Some(&271));
        assert_eq!(drops.get(3), Some(&329));
        assert!(c.dropping());
        // Back below target: leaves the dropping state at once.
        assert_eq!(c.decide(MS, 100_000, false, false, 1001 * MS, &P), Decision::Send);
        assert!(!c.dropping());
    }

    #[test]
    fn ecn_capable_packets_are_marked_instead() {
        let mut c = Codel::default();
        let mut marks = 0;
        for t in (0..400).map(|ms| ms * MS) {
            match c.decide(20 * MS, 100_000, true, false, t, &P) {
                Decision::Mark => marks += 1,
                Decision::Drop => panic!("an ECT packet was dropped"),
                Decision::Send => {}
            }
        }
        assert!(marks >= 3, "{marks}");
    }

    #[test]
    fn a_queue_of_one_frame_is_never_dropped_from() {
        let mut c = Codel::default();
        for t in 0..500 {
            assert_eq!(c.decide(50 * MS, 1500, false, false, t * MS, &P), Decision::Send);
        }
    }
}
