//! Per-class figures for the stats record and the summary: every worker's shaper counters and
//! sojourn histograms, summed by class name and direction.
//!
//! The workers' shapers publish their counters (relaxed stores, one writer each) and hand over
//! their sojourn histograms when asked (`weir_shaper::SojournCollector`); the stats thread reads
//! both once per interval here. A class is found by name, so the figures of a class kept across
//! a reload continue, and the achieved rate is the change of its sent bytes over the interval.

use hdrhistogram::Histogram;
use std::collections::HashMap;
use weir_shaper::{CountersHandle, DropReason, LaneCounters, Shaper, SojournCollector};
use weir_stats::{ClassDirStats, ClassStats, Percentiles};

/// How the stats thread reads one worker's shaper.
pub(crate) struct ClassView {
    counters: CountersHandle,
    sojourn: Option<SojournCollector>,
}

impl ClassView {
    /// The view of `shaper` (takes its sojourn collector: call once per shaper).
    pub(crate) fn of<H>(shaper: &mut Shaper<H>) -> ClassView {
        ClassView { counters: shaper.counters(), sojourn: shaper.take_sojourn_collector() }
    }
}

/// Running state between intervals: bytes sent at the last record (for rates) and the sojourn
/// totals since start.
#[derive(Default)]
pub(crate) struct ClassRates {
    last_bytes_out: HashMap<(String, usize), u64>,
    sojourn_totals: HashMap<(String, usize), (u64, u64)>,
}

impl ClassRates {
    /// The classes now, summed over `views`; rates over `interval_s` (0: none, as at stop).
    pub(crate) fn record(&mut self, views: &[ClassView], interval_s: f64) -> Vec<ClassStats> {
        let Some(first) = views.first() else { return Vec::new() };
        // Every worker runs the same class list; the first names them, in policy order.
        let names: Vec<_> = first.counters.load().classes.iter().map(|c| c.name.clone()).collect();
        if names.is_empty() {
            return Vec::new();
        }
        let sets: Vec<_> = views.iter().map(|v| v.counters.load()).collect();
        // The histograms the workers handed over since the last request; ask for the next ones.
        let mut sojourns: HashMap<(String, usize), Histogram<u64>> = HashMap::new();
        for v in views {
            let Some(c) = &v.sojourn else { continue };
            if let Some(set) = c.try_take() {
                for (class, name) in set.names.iter().enumerate() {
                    for dir in 0..2 {
                        if let Some(h) = set.get(class, dir).filter(|h| !h.is_empty()) {
                            match sojourns.get_mut(&(name.to_string(), dir)) {
                                Some(sum) => {
                                    let _ = sum.add(h);
                                }
                                None => {
                                    sojourns.insert((name.to_string(), dir), h.clone());
                                }
                            }
                        }
                    }
                }
                c.give_back(set);
            }
            c.request();
        }
        let mut out = Vec::with_capacity(names.len());
        for name in &names {
            let mut stats = ClassStats { name: name.to_string(), ..ClassStats::default() };
            for set in &sets {
                let Some(c) = set.class(name) else { continue };
                stats.kind = c.kind().name().to_string();
                stats.rate_set_bps = c.rate_bits.get();
                add_lane(&mut stats.out, c.lane(0));
                add_lane(&mut stats.inb, c.lane(1));
            }
            for (dir, d) in [(0, &mut stats.out), (1, &mut stats.inb)] {
                let key = (name.to_string(), dir);
                let last = self.last_bytes_out.insert(key.clone(), d.bytes_out).unwrap_or(0);
                if interval_s > 0.0 {
                    d.bps = d.bytes_out.saturating_sub(last) as f64 * 8.0 / interval_s;
                }
                let totals = self.sojourn_totals.entry(key.clone()).or_default();
                if let Some(h) = sojourns.get(&key) {
                    totals.0 += h.len();
                    totals.1 = totals.1.saturating_add((h.mean() * h.len() as f64 / 1000.0) as u64);
                    d.sojourn_us = Percentiles {
                        count: h.len(),
                        p50: h.value_at_quantile(0.5) / 1000,
                        p99: h.value_at_quantile(0.99) / 1000,
                        p999: h.value_at_quantile(0.999) / 1000,
                        max: h.max() / 1000,
                        count_total: 0,
                        sum_total: 0,
                    };
                }
                d.sojourn_us.count_total = totals.0;
                d.sojourn_us.sum_total = totals.1;
            }
            out.push(stats);
        }
        out
    }
}

fn add_lane(d: &mut ClassDirStats, l: &LaneCounters) {
    d.packets_in += l.packets_in.get();
    d.bytes_in += l.bytes_in.get();
    d.packets_out += l.packets_out.get();
    d.bytes_out += l.bytes_out.get();
    d.queued_frames += l.queued_frames.get();
    d.queued_bytes += l.queued_bytes.get();
    d.dropped_police += l.dropped(DropReason::Police);
    d.dropped_codel += l.dropped(DropReason::Codel);
    d.dropped_queue_full += l.dropped(DropReason::QueueFull);
    d.dropped_flushed += l.dropped(DropReason::Flushed);
    d.dropped_bytes += l.dropped_bytes.get();
    d.ecn_marked += l.ecn_marked.get();
    d.dscp_marked += l.dscp_marked.get();
}
