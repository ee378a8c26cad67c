//! Rate control: the schedule of when each unit (packet or bit) is due, with a linear ramp-up,
//! and a pacer that compares it with a clock passed in (so tests drive it with a fake clock).
//!
//! With rate `r` units/s and ramp `T`, the credit (units allowed) at time `t` is
//! `r t² / 2T` while `t < T` and `r (t - T/2)` after; [`Schedule::time_of`] is its inverse, the
//! time at which the `u`-th unit is due. Generated traffic takes its timestamps from the
//! schedule (not from the clock), so its bytes do not depend on how fast the sender ran.

/// When units are due.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Units per second at full rate (> 0).
    pub rate: f64,
    /// Ramp-up time, ns.
    pub ramp_ns: u64,
}

impl Schedule {
    /// Units allowed by `t_ns` after the start.
    pub fn credit_at(&self, t_ns: u64) -> f64 {
        let t = t_ns as f64 * 1e-9;
        let ramp = self.ramp_ns as f64 * 1e-9;
        if t < ramp { self.rate * t * t / (2.0 * ramp) } else { self.rate * (t - ramp / 2.0) }
    }

    /// The time (ns after the start) at which `units` have become due.
    pub fn time_of(&self, units: f64) -> u64 {
        let ramp = self.ramp_ns as f64 * 1e-9;
        let in_ramp = self.rate * ramp / 2.0;
        let t = if units < in_ramp { (2.0 * ramp * units / self.rate).sqrt() } else { units / self.rate + ramp / 2.0 };
        (t * 1e9).round() as u64
    }
}

/// Decides how many units may go now, given what was sent and the clock.
#[derive(Debug, Clone)]
pub struct Pacer {
    schedule: Schedule,
    sent: f64,
}

impl Pacer {
    /// A pacer over `schedule`, nothing sent yet.
    pub fn new(schedule: Schedule) -> Pacer {
        Pacer { schedule, sent: 0.0 }
    }

    /// Units the sender may send now (`now_ns` after the start): what is due and not yet sent.
    /// Falling behind is caught up (the rate is an average over the run); the caller bounds
    /// each burst by its batch size.
    pub fn allowance(&self, now_ns: u64) -> f64 {
        (self.schedule.credit_at(now_ns) - self.sent).max(0.0)
    }

    /// Records that `units` were sent.
    pub fn sent(&mut self, units: f64) {
        self.sent += units;
    }

    /// Units sent so far.
    pub fn total(&self) -> f64 {
        self.sent
    }

    /// The time (ns after the start) when the next `units` will be due: how long a sender that
    /// is ahead should sleep.
    pub fn next_due(&self, units: f64) -> u64 {
        self.schedule.time_of(self.sent + units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_and_time_are_inverse() {
        for ramp_ns in [0, 1_000_000_000] {
            let s = Schedule { rate: 1000.0, ramp_ns };
            for u in [0.0, 1.0, 10.0, 499.0, 500.0, 501.0, 12_345.0] {
                let t = s.time_of(u);
                assert!((s.credit_at(t) - u).abs() < 1e-3, "ramp {ramp_ns} u {u}");
            }
        }
        let s = Schedule { rate: 1000.0, ramp_ns: 2_000_000_000 };
        assert_eq!(s.credit_at(0), 0.0);
        assert!((s.credit_at(1_000_000_000) - 250.0).abs() < 1e-9);
        assert!((s.credit_at(2_000_000_000) - 1000.0).abs() < 1e-9);
        assert!((s.credit_at(12_000_000_000) - 11_000.0).abs() < 1e-9);
    }

    /// A sender driven by a fake clock that advances 37 µs per loop and sends at most one batch
    /// of 64 per loop hits the asked rate within 0.1% over 10 s.
    #[test]
    fn pacer_tracks_the_rate_with_an_injected_clock() {
        let rate = 123_456.0;
        let mut p = Pacer::new(Schedule { rate, ramp_ns: 0 });
        let mut now = 0u64;
        while now < 10_000_000_000 {
            let n = p.allowance(now).floor().min(64.0);
            p.sent(n);
            now += 37_000;
        }
        let want = rate * 10.0;
        assert!((p.total() - want).abs() / want < 0.001, "sent {} want {want}", p.total());
    }

    /// A sender that stalls for a second catches up afterwards, so the average still holds.
    #[test]
    fn pacer_catches_up_after_a_stall() {
        let mut p = Pacer::new(Schedule { rate: 10_000.0, ramp_ns: 0 });
        let mut now = 0u64;
        while now < 10_000_000_000 {
            if !(3_000_000_000..4_000_000_000).contains(&now) {
                let n = p.allowance(now).floor().min(256.0);
                p.sent(n);
            }
            now += 10_000;
        }
        assert!((p.total() - 100_000.0).abs() < 300.0, "{}", p.total());
        assert_eq!(p.next_due(0.0), Schedule { rate: 10_000.0, ramp_ns: 0 }.time_of(p.total()));
    }
}
