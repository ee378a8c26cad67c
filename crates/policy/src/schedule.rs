//! Schedules: days of the week and clock ranges in an IANA time zone, evaluated for a given
//! instant (never the clock: the caller passes `now`).
//!
//! A schedule is *active* at an instant when the instant falls inside one of its occurrences.
//! Each occurrence starts and ends at the first instant the zone's wall clock reaches the given
//! time of day:
//!
//! - in a **spring-forward gap** (the clock jumps from 03:00 to 04:00, so 03:30 never shows) the
//!   boundary is the jump itself: a range starting at 03:30 starts at 04:00 summer time, and one
//!   ending at 03:30 ends there too;
//! - in a **fall-back overlap** (03:00-04:00 shows twice) the boundary is the first time the
//!   clock shows it: a range `03:30-05:00` starts at the first 03:30 and runs, without a break,
//!   to 05:00; a range ending at 03:30 ends at the first 03:30.
//!
//! A range that crosses midnight (`22:00-06:00`) belongs to the day it starts on, as with cron and
//! iptables' `--contiguous`. Occurrences that touch or overlap merge, so a boundary is always a
//! change of state.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use weir_config::{Schedule, TimeRange, Zone};

/// A schedule with its zone resolved.
#[derive(Clone, Debug)]
pub struct CompiledSchedule {
    /// The schedule's name.
    pub name: String,
    days: [bool; 7],
    ranges: Vec<TimeRange>,
    tz: TimeZone,
}

/// Why a schedule cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The zone vanished between validation and compilation (the tz database changed) or the
    /// host's zone is unknown.
    #[error("policy key `policy.schedules.{name}.timezone`: {problem}; set an IANA name such as \"Europe/Helsinki\"")]
    Zone {
        /// The schedule.
        name: String,
        /// What went wrong.
        problem: String,
    },
}

impl CompiledSchedule {
    /// Resolve the schedule's zone in the tz database (the system's, else the bundled copy).
    ///
    /// # Errors
    /// If the zone cannot be found.
    pub fn compile(s: &Schedule) -> Result<CompiledSchedule, ScheduleError> {
        let tz = match &s.zone {
            Zone::Named(n) => jiff::tz::db().get(n),
            Zone::Host => TimeZone::try_system(),
        }
        .map_err(|e| ScheduleError::Zone { name: s.name.clone(), problem: e.to_string() })?;
        Ok(CompiledSchedule::with_zone(s, tz))
    }

    /// The schedule in an explicitly given zone (tests, or a caller with its own database).
    pub fn with_zone(s: &Schedule, tz: TimeZone) -> CompiledSchedule {
        CompiledSchedule { name: s.name.clone(), days: s.days, ranges: s.ranges.clone(), tz }
    }

    /// Whether the schedule is active at `now`, and the next instant at which that changes
    /// (`None`: never, as for a schedule that covers every minute of every day).
    pub fn state_at(&self, now: Timestamp) -> (bool, Option<Timestamp>) {
        let merged = self.occurrences_around(now);
        for &(start, end) in &merged {
            if now < start {
                return (false, Some(start));
            }
            if now < end {
                return (true, Some(end));
            }
        }
        (false, None)
    }

    /// Occurrences from the day before `now` (a range crossing midnight may still run) to 8 days
    /// after it (the next start is at most a week away), merged and sorted.
    fn occurrences_around(&self, now: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let today = self.tz.to_datetime(now).date();
        let mut out = Vec::new();
        for offset in -1i64..=8 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(offset)) else { continue };
            let weekday = usize::try_from(day.weekday().to_monday_zero_offset()).unwrap_or(0);
            if !self.days.get(weekday).copied().unwrap_or(false) {
                continue;
            }
            for r in &self.ranges {
                let end_day = if r.crosses_midnight() { day.tomorrow().ok() } else { Some(day) };
                let (Some(start), Some(end)) =
                    (self.resolve(day, r.start_min), end_day.and_then(|d| self.resolve(d, r.end_min)))
                else {
                    continue;
                };
                if start < end {
                    out.push((start, end));
                }
            }
        }
        out.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(out.len());
        for (s, e) in out {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// The first instant the wall clock in this zone reaches `minute` after midnight of `day`
    /// (1440 is the next midnight).
    fn resolve(&self, day: Date, minute: u16) -> Option<Timestamp> {
        let (day, minute) = if minute >= 1440 { (day.tomorrow().ok()?, minute - 1440) } else { (day, minute) };
        let dt: DateTime = day.at((minute / 60) as i8, (minute % 60) as i8, 0, 0);
        match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
            // The earlier of the two instants that show this time: the larger offset.
            AmbiguousOffset::Fold { before, after } => before.max(after).to_timestamp(dt).ok(),
            // The time never shows: the boundary is the jump over it, the first transition
            // after the instant this time would be with the later (larger) offset.
            AmbiguousOffset::Gap { before, after } => {
                let probe = before.max(after).to_timestamp(dt).ok()?;
                self.tz.following(probe).next().map(|t| t.timestamp())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::units::parse_time_range;

    fn schedule(days: [bool; 7], ranges: &[&str], zone: &str) -> CompiledSchedule {
        let s = Schedule {
            name: "s".into(),
            days,
            ranges: ranges.iter().map(|r| parse_time_range(r).unwrap()).collect(),
            zone: Zone::Named(zone.into()),
        };
        CompiledSchedule::compile(&s).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const WEEKDAYS: [bool; 7] = [true, true, true, true, true, false, false];

    #[test]
    fn office_hours_on_weekdays() {
        let s = schedule(WEEKDAYS, &["08:00-17:00"], "Europe/Helsinki");
        // 2026-06-03 is a Wednesday; Helsinki is UTC+3 in summer.
        assert_eq!(s.state_at(ts("2026-06-03T04:59:59Z")), (false, Some(ts("2026-06-03T05:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-06-03T05:00:00Z")), (true, Some(ts("2026-06-03T14:00:00Z"))));
        // Friday evening: the next start is Monday morning.
        assert_eq!(s.state_at(ts("2026-06-05T14:00:00Z")), (false, Some(ts("2026-06-08T05:00:00Z"))));
    }

    #[test]
    fn a_range_across_midnight_belongs_to_its_start_day() {
        // Friday only, 22:00-06:00 UTC.
        let s = schedule([false, false, false, false, true, false, false], &["22:00-06:00"], "UTC");
        // 2026-06-05 is a Friday.
        assert_eq!(s.state_at(ts("2026-06-05T21:00:00Z")), (false, Some(ts("2026-06-05T22:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-06-05T23:59:59Z")), (true, Some(ts("2026-06-06T06:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-06-06T00:00:00Z")), (true, Some(ts("2026-06-06T06:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-06-06T06:00:00Z")), (false, Some(ts("2026-06-12T22:00:00Z"))));
        // Thursday night is not in it.
        assert!(!s.state_at(ts("2026-06-04T23:00:00Z")).0);
    }

    #[test]
    fn consecutive_nights_merge_so_each_boundary_is_a_change() {
        let s = schedule([true; 7], &["18:00-24:00", "00:00-08:00"], "UTC");
        assert_eq!(s.state_at(ts("2026-06-05T23:00:00Z")), (true, Some(ts("2026-06-06T08:00:00Z"))));
        let all = schedule([true; 7], &["00:00-24:00"], "UTC");
        let (on, next) = all.state_at(ts("2026-06-05T12:00:00Z"));
        assert!(on);
        assert!(next.is_none_or(|n| n > ts("2026-06-12T00:00:00Z")), "no boundary within the week");
    }

    #[test]
    fn spring_forward_gap_starts_at_the_jump() {
        // Helsinki, 2026-03-29 (Sunday): 03:00 EET jumps to 04:00 EEST at 01:00 UTC.
        let s = schedule([true; 7], &["03:30-05:00"], "Europe/Helsinki");
        let (on, next) = s.state_at(ts("2026-03-29T00:30:00Z")); // 02:30 EET
        assert!(!on);
        assert_eq!(next, Some(ts("2026-03-29T01:00:00Z")), "03:30 never shows: the range starts at the jump");
        // 05:00 EEST = 02:00 UTC: 1 hour of real time that day.
        assert_eq!(s.state_at(ts("2026-03-29T01:00:00Z")), (true, Some(ts("2026-03-29T02:00:00Z"))));
        // The day before and after, 1.5 hours as usual (EET = UTC+2, then EEST = UTC+3).
        assert_eq!(s.state_at(ts("2026-03-28T01:30:00Z")), (true, Some(ts("2026-03-28T03:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-03-30T00:30:00Z")), (true, Some(ts("2026-03-30T02:00:00Z"))));
        // A range ending inside the gap ends at the jump too.
        let e = schedule([true; 7], &["02:00-03:30"], "Europe/Helsinki");
        assert_eq!(e.state_at(ts("2026-03-29T00:10:00Z")), (true, Some(ts("2026-03-29T01:00:00Z"))));
    }

    #[test]
    fn fall_back_overlap_starts_at_the_first_showing_and_does_not_break() {
        // Helsinki, 2026-10-25 (Sunday): 04:00 EEST falls back to 03:00 EET at 01:00 UTC, so
        // 03:00-04:00 shows twice: first at 00:00-01:00 UTC, then at 01:00-02:00 UTC.
        let s = schedule([true; 7], &["03:30-05:00"], "Europe/Helsinki");
        assert_eq!(s.state_at(ts("2026-10-25T00:00:00Z")), (false, Some(ts("2026-10-25T00:30:00Z"))));
        // From the first 03:30 (EEST) straight through the second one to 05:00 EET (03:00 UTC):
        // 2.5 hours of real time, no break when the clock falls back.
        assert_eq!(s.state_at(ts("2026-10-25T00:30:00Z")), (true, Some(ts("2026-10-25T03:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-10-25T01:15:00Z")), (true, Some(ts("2026-10-25T03:00:00Z"))));
        // A range ending at 03:30 ends the first time the clock shows 03:30.
        let e = schedule([true; 7], &["01:00-03:30"], "Europe/Helsinki");
        assert_eq!(e.state_at(ts("2026-10-24T23:00:00Z")), (true, Some(ts("2026-10-25T00:30:00Z"))));
        assert!(!e.state_at(ts("2026-10-25T01:35:00Z")).0, "the second 03:30 is after the end");
    }

    #[test]
    fn us_eastern_dst_both_ways() {
        // New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
        let s = schedule([true; 7], &["08:00-17:00"], "America/New_York");
        assert_eq!(s.state_at(ts("2026-03-07T14:00:00Z")), (true, Some(ts("2026-03-07T22:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-03-09T12:00:00Z")), (true, Some(ts("2026-03-09T21:00:00Z"))));
        assert_eq!(s.state_at(ts("2026-11-02T12:00:00Z")), (false, Some(ts("2026-11-02T13:00:00Z"))));
    }
}
