//! Charts: the inbound and outbound share of bytes by protocol, and bandwidth per protocol over
//! time, as SVG or PNG (chosen by the output file's extension).
//!
//! Data preparation ([`totals_from_records`], [`share_data`], [`time_series`]) is separate from
//! drawing and tested on its own. P2P protocols are drawn first (at the left of a share bar, at the
//! bottom of a stack) in warm colours, everything else in cool ones, so the P2P mass reads at a
//! glance; the protocols beyond the `max_named` largest are summed as "other".

use crate::ViewError;
use crate::font::{self, FAMILY};
use crate::model::{
    HostRow, SortKey, clean, format_bps, format_bytes, format_count, format_share, format_us, host_rows,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Display;
use std::path::Path;
use weir_stats::IntervalRecord;

/// One protocol's byte totals in each direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolTotals {
    /// Protocol name.
    pub name: String,
    /// Its category ("p2p", "web", ...).
    pub category: String,
    /// Bytes outbound (inside to outside).
    pub bytes_out: u64,
    /// Bytes inbound.
    pub bytes_in: u64,
}

/// Per-protocol totals over a stats file. Totals in a record count since the bridge started, so
/// the last record holds them; when `uptime_s` goes back (the bridge restarted), the totals
/// before the restart are added to those after it.
pub fn totals_from_records(records: &[IntervalRecord]) -> Vec<ProtocolTotals> {
    let mut sum: std::collections::BTreeMap<String, ProtocolTotals> = std::collections::BTreeMap::new();
    let mut add = |r: &IntervalRecord| {
        for (name, p) in &r.protocols {
            let t = sum.entry(name.clone()).or_insert_with(|| ProtocolTotals {
                name: name.clone(),
                category: p.category.clone(),
                bytes_out: 0,
                bytes_in: 0,
            });
            t.bytes_out = t.bytes_out.saturating_add(p.bytes_out);
            t.bytes_in = t.bytes_in.saturating_add(p.bytes_in);
        }
    };
    for pair in records.windows(2) {
        if pair[1].uptime_s < pair[0].uptime_s {
            add(&pair[0]);
        }
    }
    if let Some(last) = records.last() {
        add(last);
    }
    sum.into_values().collect()
}

/// The inside hosts with the most peer-to-peer bytes over a stats file, largest first, at most
/// `n`, leaving out hosts with none. Host figures count since the bridge started, so each run's
/// last record holds them; across restarts (uptime going back) a host's figures are added up.
pub fn p2p_hosts_from_records(records: &[IntervalRecord], n: usize) -> Vec<HostRow> {
    let mut sum: std::collections::BTreeMap<String, weir_stats::HostStats> = std::collections::BTreeMap::new();
    let mut add = |r: &IntervalRecord| {
        for h in &r.hosts {
            let t = sum
                .entry(h.host.clone())
                .or_insert_with(|| weir_stats::HostStats { host: h.host.clone(), ..Default::default() });
            t.bytes_out = t.bytes_out.saturating_add(h.bytes_out);
            t.bytes_in = t.bytes_in.saturating_add(h.bytes_in);
            t.p2p_bytes_out = t.p2p_bytes_out.saturating_add(h.p2p_bytes_out);
            t.p2p_bytes_in = t.p2p_bytes_in.saturating_add(h.p2p_bytes_in);
            t.error_bytes = t.error_bytes.saturating_add(h.error_bytes);
            for (name, p) in &h.protocols {
                let e = t.protocols.entry(name.clone()).or_insert_with(|| weir_stats::HostProtocolStats {
                    category: p.category.clone(),
                    ..Default::default()
                });
                e.bytes_out = e.bytes_out.saturating_add(p.bytes_out);
                e.bytes_in = e.bytes_in.saturating_add(p.bytes_in);
            }
        }
    };
    for pair in records.windows(2) {
        if pair[1].uptime_s < pair[0].uptime_s {
            add(&pair[0]);
        }
    }
    if let Some(last) = records.last() {
        add(last);
    }
    let merged = IntervalRecord { hosts: sum.into_values().collect(), ..IntervalRecord::default() };
    host_rows(&merged, SortKey::P2p).into_iter().filter(|h| h.p2p() > 0).take(n).collect()
}

/// One protocol (or "other") as drawn: its colour and shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Name shown.
    pub name: String,
    /// Category; "other" for the summed rest.
    pub category: String,
    /// Colour, RGB.
    pub colour: (u8, u8, u8),
    /// Share of outbound bytes, `0.0..=1.0`.
    pub share_out: f64,
    /// Share of inbound bytes, `0.0..=1.0`.
    pub share_in: f64,
}

impl Entry {
    /// Whether it is drawn as P2P.
    pub fn is_p2p(&self) -> bool {
        self.category == "p2p"
    }
}

/// What the share chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ShareData {
    /// In drawing order: P2P by size, then the others by size, then "other", then "unknown".
    pub entries: Vec<Entry>,
    /// All outbound bytes.
    pub total_out: u64,
    /// All inbound bytes.
    pub total_in: u64,
}

impl ShareData {
    /// The P2P share of (outbound, inbound) bytes.
    pub fn p2p(&self) -> (f64, f64) {
        self.entries.iter().filter(|e| e.is_p2p()).fold((0.0, 0.0), |a, e| (a.0 + e.share_out, a.1 + e.share_in))
    }
}

const WARM: [(u8, u8, u8); 8] = [
    (200, 40, 40),
    (240, 120, 20),
    (225, 170, 30),
    (160, 60, 120),
    (230, 90, 110),
    (150, 80, 40),
    (250, 160, 120),
    (190, 110, 180),
];
const COOL: [(u8, u8, u8); 8] = [
    (40, 100, 180),
    (50, 150, 80),
    (30, 170, 190),
    (110, 90, 190),
    (120, 170, 220),
    (130, 200, 120),
    (70, 130, 130),
    (160, 150, 220),
];
/// Classes' colours: cool and warm alternating, so neighbours differ.
const PALETTE: [(u8, u8, u8); 8] = [COOL[0], WARM[0], COOL[1], WARM[1], COOL[3], WARM[3], COOL[2], WARM[2]];
const OTHER: (u8, u8, u8) = (150, 150, 150);
const UNKNOWN: (u8, u8, u8) = (205, 205, 205);

/// Shares and colours for the `max_named` largest protocols (by outbound plus inbound share),
/// the rest summed as "other". Protocols with no bytes are left out.
pub fn share_data(totals: &[ProtocolTotals], max_named: usize) -> ShareData {
    let total_out = totals.iter().fold(0u64, |a, t| a.saturating_add(t.bytes_out));
    let total_in = totals.iter().fold(0u64, |a, t| a.saturating_add(t.bytes_in));
    let frac = |b: u64, t: u64| if t == 0 { 0.0 } else { b as f64 / t as f64 };
    let mut ranked: Vec<&ProtocolTotals> = totals.iter().filter(|t| t.bytes_out > 0 || t.bytes_in > 0).collect();
    let weight = |t: &ProtocolTotals| frac(t.bytes_out, total_out) + frac(t.bytes_in, total_in);
    ranked.sort_by(|a, b| weight(b).total_cmp(&weight(a)).then_with(|| a.name.cmp(&b.name)));
    let (named, rest) = ranked.split_at(ranked.len().min(max_named));
    let mut p2p: Vec<Entry> = Vec::new();
    let mut others: Vec<Entry> = Vec::new();
    let mut unknown: Option<Entry> = None;
    for t in named {
        let mut e = Entry {
            name: t.name.clone(),
            category: t.category.clone(),
            colour: OTHER,
            share_out: frac(t.bytes_out, total_out),
            share_in: frac(t.bytes_in, total_in),
        };
        if t.category == "p2p" {
            e.colour = WARM[p2p.len() % WARM.len()];
            p2p.push(e);
        } else if t.name == "unknown" {
            e.colour = UNKNOWN;
            unknown = Some(e);
        } else {
            e.colour = COOL[others.len() % COOL.len()];
            others.push(e);
        }
    }
    let mut entries = p2p;
    entries.append(&mut others);
    if !rest.is_empty() {
        let out = rest.iter().fold(0u64, |a, t| a.saturating_add(t.bytes_out));
        let inb = rest.iter().fold(0u64, |a, t| a.saturating_add(t.bytes_in));
        entries.push(Entry {
            name: format!("other ({})", rest.len()),
            category: "other".into(),
            colour: OTHER,
            share_out: frac(out, total_out),
            share_in: frac(inb, total_in),
        });
    }
    entries.extend(unknown);
    ShareData { entries, total_out, total_in }
}

/// Bandwidth over time for the entries of a [`ShareData`].
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    /// X values in [`TimeSeries::unit`]s since the first record.
    pub x: Vec<f64>,
    /// "s", "min" or "h".
    pub unit: &'static str,
    /// Per entry (same order as the share data), outbound bits/s at each x.
    pub out: Vec<Vec<f64>>,
    /// Per entry, inbound bits/s at each x.
    pub inb: Vec<Vec<f64>>,
}

/// Per-record bits/s of each entry of `share` (a protocol not named there counts in "other",
/// if there is one, else it is left out). X is wall-clock time since the first record, or uptime
/// when the records carry no wall-clock time.
pub fn time_series(records: &[IntervalRecord], share: &ShareData) -> TimeSeries {
    let (x, unit) = time_axis(records);
    let other = share.entries.iter().position(|e| e.category == "other" && e.name.starts_with("other"));
    let index = |name: &str| share.entries.iter().position(|e| e.name == name).or(other);
    let n = share.entries.len();
    let mut out = vec![vec![0.0; records.len()]; n];
    let mut inb = vec![vec![0.0; records.len()]; n];
    for (k, r) in records.iter().enumerate() {
        for (name, p) in &r.protocols {
            if let Some(i) = index(name) {
                out[i][k] += clean(p.bps_out);
                inb[i][k] += clean(p.bps_in);
            }
        }
    }
    TimeSeries {
        x: downsample(&x, MAX_POINTS),
        unit,
        out: out.iter().map(|l| downsample(l, MAX_POINTS)).collect(),
        inb: inb.iter().map(|l| downsample(l, MAX_POINTS)).collect(),
    }
}

/// Each record's x: wall-clock time since the first record, or uptime when the records carry no
/// wall-clock time, in the unit returned ("s", "min" or "h", by the span).
fn time_axis(records: &[IntervalRecord]) -> (Vec<f64>, &'static str) {
    let t0 = records.first().map_or(0.0, |r| clean(r.time_unix_s));
    let secs: Vec<f64> =
        records.iter().map(|r| if t0 > 0.0 { clean(r.time_unix_s - t0) } else { clean(r.uptime_s) }).collect();
    let span = secs.iter().copied().fold(0.0, f64::max);
    let (unit, div) = if span > 3.0 * 3600.0 {
        ("h", 3600.0)
    } else if span > 180.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    };
    (secs.iter().map(|s| s / div).collect(), unit)
}

/// One shaping class over a stats file: what it was set to, what it achieved, what it dropped
/// and marked.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassTotals {
    /// The class's name.
    pub name: String,
    /// "shape", "police" or "mark" (as last seen).
    pub kind: String,
    /// The configured rate as last seen, bits/s (0: none).
    pub rate_set_bps: u64,
    /// Colour in the charts, RGB.
    pub colour: (u8, u8, u8),
    /// Per direction, out then in.
    pub dirs: [ClassDirTotals; 2],
}

/// One class in one direction over a stats file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassDirTotals {
    /// Bytes the class sent on (each run's last record, added up across restarts).
    pub bytes_sent: u64,
    /// Bytes handed to it.
    pub bytes_received: u64,
    /// Frames dropped by reason (police, CoDel, queue full, flushed), as `bytes_sent`.
    pub drops: [u64; 4],
    /// Bytes of the dropped frames.
    pub dropped_bytes: u64,
    /// ECN CE marks.
    pub ecn_marked: u64,
    /// DSCP rewrites.
    pub dscp_marked: u64,
    /// The achieved rate averaged over the records that list the class, bits/s.
    pub avg_bps: f64,
    /// The largest achieved rate of a record, bits/s.
    pub peak_bps: f64,
    /// The largest p99 sojourn of a record, µs.
    pub peak_sojourn_p99_us: u64,
}

impl ClassDirTotals {
    /// Frames dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().fold(0u64, |a, d| a.saturating_add(*d))
    }
}

/// Per-class totals over a stats file, classes in the order they first appear. Counts come from
/// each run's last record (uptime going back is a restart), added up; rates and sojourns are
/// over every record listing the class.
pub fn class_totals_from_records(records: &[IntervalRecord]) -> Vec<ClassTotals> {
    let mut out: Vec<ClassTotals> = Vec::new();
    let mut samples: Vec<[(f64, usize); 2]> = Vec::new();
    let index = |out: &mut Vec<ClassTotals>, samples: &mut Vec<[(f64, usize); 2]>, c: &weir_stats::ClassStats| {
        if let Some(i) = out.iter().position(|t| t.name == c.name) {
            return i;
        }
        let colour = PALETTE[out.len() % PALETTE.len()];
        out.push(ClassTotals {
            name: c.name.clone(),
            kind: c.kind.clone(),
            rate_set_bps: c.rate_set_bps,
            colour,
            dirs: Default::default(),
        });
        samples.push([(0.0, 0); 2]);
        out.len() - 1
    };
    let run_ends: Vec<bool> =
        (0..records.len()).map(|k| records.get(k + 1).is_none_or(|next| next.uptime_s < records[k].uptime_s)).collect();
    for (r, run_end) in records.iter().zip(run_ends) {
        for c in &r.classes {
            let i = index(&mut out, &mut samples, c);
            let t = &mut out[i];
            t.kind.clone_from(&c.kind);
            t.rate_set_bps = c.rate_set_bps;
            for (k, d) in [&c.out, &c.inb].into_iter().enumerate() {
                let (sum, n) = &mut samples[i][k];
                *sum += clean(d.bps);
                *n += 1;
                let e = &mut t.dirs[k];
                e.peak_bps = e.peak_bps.max(clean(d.bps));
                e.peak_sojourn_p99_us = e.peak_sojourn_p99_us.max(d.sojourn_us.p99);
                if run_end {
                    e.bytes_sent = e.bytes_sent.saturating_add(d.bytes_out);
                    e.bytes_received = e.bytes_received.saturating_add(d.bytes_in);
                    let drops = [d.dropped_police, d.dropped_codel, d.dropped_queue_full, d.dropped_flushed];
                    for (a, b) in e.drops.iter_mut().zip(drops) {
                        *a = a.saturating_add(b);
                    }
                    e.dropped_bytes = e.dropped_bytes.saturating_add(d.dropped_bytes);
                    e.ecn_marked = e.ecn_marked.saturating_add(d.ecn_marked);
                    e.dscp_marked = e.dscp_marked.saturating_add(d.dscp_marked);
                }
            }
        }
    }
    for (t, s) in out.iter_mut().zip(&samples) {
        for (e, (sum, n)) in t.dirs.iter_mut().zip(s) {
            e.avg_bps = if *n == 0 { 0.0 } else { sum / *n as f64 };
        }
    }
    out
}

/// Achieved rate per class over time, the classes of [`class_totals_from_records`] in order.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassSeries {
    /// X values in [`ClassSeries::unit`]s since the first record.
    pub x: Vec<f64>,
    /// "s", "min" or "h".
    pub unit: &'static str,
    /// Per class, outbound bits/s at each x (0 where a record does not list the class).
    pub out: Vec<Vec<f64>>,
    /// Per class, inbound bits/s at each x.
    pub inb: Vec<Vec<f64>>,
    /// Per class, the configured rate at each x, bits/s (0 where none: a class that only
    /// marks, or a record without the class); a reload that changes the rate shows as a step.
    pub set: Vec<Vec<f64>>,
    /// Where the policy generation changed: x of the first record of each new generation.
    pub generation_changes: Vec<f64>,
}

/// The achieved rate of each class of `classes` over time, and where the policy changed.
pub fn class_series(records: &[IntervalRecord], classes: &[ClassTotals]) -> ClassSeries {
    let (x, unit) = time_axis(records);
    let mut out = vec![vec![0.0; records.len()]; classes.len()];
    let mut inb = vec![vec![0.0; records.len()]; classes.len()];
    let mut set = vec![vec![0.0; records.len()]; classes.len()];
    for (k, r) in records.iter().enumerate() {
        for c in &r.classes {
            if let Some(i) = classes.iter().position(|t| t.name == c.name) {
                out[i][k] = clean(c.out.bps);
                inb[i][k] = clean(c.inb.bps);
                set[i][k] = c.rate_set_bps as f64;
            }
        }
    }
    let generation_changes = records
        .windows(2)
        .zip(x.iter().skip(1))
        .filter(|(w, _)| w[0].policy.generation != w[1].policy.generation && w[1].policy.generation > 0)
        .map(|(_, x)| *x)
        .collect();
    ClassSeries {
        x: downsample(&x, MAX_POINTS),
        unit,
        out: out.iter().map(|l| downsample(l, MAX_POINTS)).collect(),
        inb: inb.iter().map(|l| downsample(l, MAX_POINTS)).collect(),
        set: set.iter().map(|l| downsample(l, MAX_POINTS)).collect(),
        generation_changes,
    }
}

/// One change of the policy seen in a stats file: a new generation, or a reload tried.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyChange {
    /// The record's wall-clock time, Unix seconds (0: the records carry none).
    pub time_unix_s: f64,
    /// The generation from then on.
    pub generation: u64,
    /// The schedules active from then on.
    pub active_schedules: Vec<String>,
    /// A reload tried since the previous record: (result, message).
    pub reload: Option<(String, String)>,
}

/// The policy's changes over a stats file: the first record's status, then each record whose
/// generation or last reload differs from the record before. Empty when no record carries a
/// policy status.
pub fn policy_changes(records: &[IntervalRecord]) -> Vec<PolicyChange> {
    let mut changes = Vec::new();
    let mut before: Option<&weir_stats::PolicyStatus> = None;
    for r in records {
        let p = &r.policy;
        if p.generation == 0 && p.last_reload_unix_s.is_none() {
            continue;
        }
        let new_reload =
            p.last_reload_unix_s.is_some() && before.is_none_or(|b| b.last_reload_unix_s != p.last_reload_unix_s);
        if before.is_none_or(|b| b.generation != p.generation) || new_reload {
            let reload = new_reload.then(|| {
                (
                    p.last_reload_result.clone().unwrap_or_else(|| "?".into()),
                    p.last_reload_message.clone().unwrap_or_default(),
                )
            });
            changes.push(PolicyChange {
                time_unix_s: r.time_unix_s,
                generation: p.generation,
                active_schedules: p.active_schedules.clone(),
                reload,
            });
        }
        before = Some(p);
    }
    changes
}

/// Most points drawn per series: a day of 1 s records becomes 1500 averages of ~58 s, which is
/// more than a 1400-pixel chart can show and keeps the SVG small.
pub const MAX_POINTS: usize = 1500;

/// `values` averaged over consecutive buckets so that at most `max` remain (unchanged if fewer).
/// Averaging keeps the area under a rate curve, so the drawn volume stays true.
pub fn downsample(values: &[f64], max: usize) -> Vec<f64> {
    if values.len() <= max || max == 0 {
        return values.to_vec();
    }
    (0..max)
        .map(|b| {
            let (lo, hi) = (b * values.len() / max, (b + 1) * values.len() / max);
            let bucket = &values[lo..hi.max(lo + 1)];
            bucket.iter().sum::<f64>() / bucket.len() as f64
        })
        .collect()
}

/// Write the share chart alone (`weir classify --report`). `source` names where the totals come
/// from, for the subtitle.
///
/// # Errors
/// [`ViewError::UnknownFormat`] for an extension other than `.svg`/`.png`, [`ViewError::NoFont`],
/// [`ViewError::Draw`] when the file cannot be written.
pub fn write_share_chart(path: &Path, source: &str, totals: &[ProtocolTotals]) -> Result<(), ViewError> {
    let share = share_data(totals, 10);
    let height = share_height(&share);
    render(path, (WIDTH, height), &ShareOnly { source, share: &share })
}

/// Write the report: the share chart over the file's totals, then outbound and inbound bandwidth
/// per protocol over time, with the `max_named` largest protocols named.
///
/// # Errors
/// As [`write_share_chart`].
pub fn write_report(path: &Path, source: &str, records: &[IntervalRecord], max_named: usize) -> Result<(), ViewError> {
    let share = share_data(&totals_from_records(records), max_named);
    let series = time_series(records, &share);
    let start = records.first().map(|r| utc(r.time_unix_s)).unwrap_or_default();
    let hosts = p2p_hosts_from_records(records, TOP_HOSTS);
    let classes = class_totals_from_records(records);
    let class_series = class_series(records, &classes);
    let policy = policy_changes(records);
    let report = Report {
        source,
        share: &share,
        series: &series,
        start: &start,
        hosts: &hosts,
        classes: &classes,
        class_series: &class_series,
        policy: &policy,
    };
    let height = share_height(&share)
        + 2 * PANEL
        + hosts_height(&hosts)
        + classes_height(&classes)
        + policy_height(&policy, &classes);
    render(path, (WIDTH, height), &report)
}

/// Policy changes listed in the report at most; the rest are counted.
pub const MAX_POLICY_LINES: usize = 12;

/// The class rate panel and the class table; nothing without classes.
fn classes_height(classes: &[ClassTotals]) -> u32 {
    if classes.is_empty() { 0 } else { PANEL + 130 + 30 * classes.len() as u32 }
}

/// The list of policy changes: shown when there was a change to show (more than the status at
/// start, or a reload), or when there are classes.
fn policy_height(policy: &[PolicyChange], classes: &[ClassTotals]) -> u32 {
    if policy.len() > 1 || policy.iter().any(|c| c.reload.is_some()) || (!classes.is_empty() && !policy.is_empty()) {
        90 + 26 * policy.len().min(MAX_POLICY_LINES + 1) as u32
    } else {
        0
    }
}

/// Hosts in the report's last panel.
pub const TOP_HOSTS: usize = 10;

fn hosts_height(hosts: &[HostRow]) -> u32 {
    if hosts.is_empty() { 0 } else { 110 + 36 * hosts.len() as u32 }
}

/// Something drawn onto any backend.
trait Paint {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

struct ShareOnly<'a> {
    source: &'a str,
    share: &'a ShareData,
}

impl Paint for ShareOnly<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        draw_share(root, self.source, self.share)
    }
}

struct Report<'a> {
    source: &'a str,
    share: &'a ShareData,
    series: &'a TimeSeries,
    start: &'a str,
    hosts: &'a [HostRow],
    classes: &'a [ClassTotals],
    class_series: &'a ClassSeries,
    policy: &'a [PolicyChange],
}

impl Paint for Report<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let (upper, lower) = root.split_vertically(share_height(self.share));
        draw_share(&upper, self.source, self.share)?;
        let (out, rest) = lower.split_vertically(PANEL);
        draw_series(&out, self.share, self.series, true, self.start)?;
        let (inb, rest) = rest.split_vertically(PANEL);
        draw_series(&inb, self.share, self.series, false, self.start)?;
        let (hosts, rest) = rest.split_vertically(hosts_height(self.hosts));
        if !self.hosts.is_empty() {
            draw_hosts(&hosts, self.hosts)?;
        }
        let (classes, policy) = rest.split_vertically(classes_height(self.classes));
        if !self.classes.is_empty() {
            let (rates, table) = classes.split_vertically(PANEL);
            let (w, _) = rates.dim_in_pixel();
            let (left, right) = rates.split_horizontally(w / 2);
            draw_class_rates(&left, self.classes, self.class_series, true, self.start)?;
            draw_class_rates(&right, self.classes, self.class_series, false, self.start)?;
            draw_class_table(&table, self.classes)?;
        }
        if policy_height(self.policy, self.classes) > 0 {
            draw_policy(&policy, self.policy)?;
        }
        Ok(())
    }
}

/// One direction's achieved rate per class: a line each, the configured rate a dashed line of
/// the same colour, the policy's generation changes grey verticals.
fn draw_class_rates<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    classes: &[ClassTotals],
    series: &ClassSeries,
    outbound: bool,
    start: &str,
) -> Result<(), String> {
    let lines = if outbound { &series.out } else { &series.inb };
    let peak = lines.iter().flatten().copied().map(clean).fold(0.0, f64::max);
    let set = series.set.iter().flatten().copied().map(clean).fold(0.0, f64::max);
    let max = peak.max(set);
    let (div, unit) = rate_unit(max);
    let ymax = (max / div * 1.08).max(1.0);
    let xmax = series.x.last().copied().unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let title =
        if outbound { "Achieved rate per shaping class, outbound" } else { "Achieved rate per shaping class, inbound" };
    let mut chart = ChartBuilder::on(area)
        .caption(title, style(20, true, BLACK))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)
        .s()?;
    let x_desc = if start.is_empty() {
        format!("time since start ({})", series.unit)
    } else {
        format!("time since {start} ({})", series.unit)
    };
    chart
        .configure_mesh()
        .light_line_style(RGBColor(246, 246, 246))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_desc(x_desc)
        .y_desc(format!("{unit} (dashed: configured)"))
        .label_style(style(14, false, BLACK))
        .axis_desc_style(style(15, false, GREY))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .s()?;
    for &x in &series.generation_changes {
        chart.draw_series(LineSeries::new([(x, 0.0), (x, ymax)], RGBColor(170, 170, 170).stroke_width(1))).s()?;
    }
    for ((c, line), set) in classes.iter().zip(lines).zip(&series.set) {
        let colour = rgb(c.colour);
        if set.iter().any(|v| *v > 0.0) {
            let points: Vec<(f64, f64)> = series.x.iter().copied().zip(set.iter().map(|v| clean(*v) / div)).collect();
            chart.draw_series(DashedLineSeries::new(points, 8, 6, colour.stroke_width(1))).s()?;
        }
        let points = series.x.iter().copied().zip(line.iter().map(|v| clean(*v) / div));
        chart.draw_series(LineSeries::new(points, colour.stroke_width(2))).s()?;
    }
    Ok(())
}

/// The classes over the file: set rate, average and peak achieved, bytes sent, drops by reason,
/// marks, the worst p99 sojourn; a row per class, both directions in each cell (out / in).
fn draw_class_table<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, classes: &[ClassTotals]) -> Result<(), String> {
    root.draw(&Text::new("Shaping classes over the run", (30, 18), style(26, true, BLACK))).s()?;
    let sub = [
        "colours as in the charts above; each cell out / in; rates averaged over the records; counts since the \
         bridge started (added up across restarts)",
        "dropped: police / CoDel / queue full / flushed; marks: ECN CE / DSCP rewritten; worst p99: the largest \
         p99 sojourn of an interval",
    ];
    for (k, line) in sub.into_iter().enumerate() {
        root.draw(&Text::new(line, (30, 50 + 22 * k as i32), style(15, false, GREY))).s()?;
    }
    let columns: [(&str, i32); 9] = [
        ("class", 30),
        ("kind", 200),
        ("set rate", 270),
        ("average", 380),
        ("peak", 560),
        ("sent", 740),
        ("dropped (p/c/q/f)", 900),
        ("ECN / DSCP marks", 1090),
        ("worst p99", 1250),
    ];
    for (name, x) in columns {
        root.draw(&Text::new(name, (x, 104), style(15, true, BLACK))).s()?;
    }
    let pair = |a: String, b: String| format!("{a} / {b}");
    for (i, c) in classes.iter().enumerate() {
        let y = 130 + 30 * i as i32;
        let [o, n] = &c.dirs;
        root.draw(&Rectangle::new([(30, y), (46, y + 16)], rgb(c.colour).filled())).s()?;
        let set = if c.rate_set_bps == 0 { "-".to_string() } else { format_bps(c.rate_set_bps as f64) };
        let drops = |d: &ClassDirTotals| {
            if d.dropped() == 0 {
                "0".to_string()
            } else {
                d.drops.iter().map(|n| format_count(*n)).collect::<Vec<_>>().join("/")
            }
        };
        let cells = [
            (c.name.clone(), 54),
            (c.kind.clone(), 200),
            (set, 270),
            (pair(format_bps(o.avg_bps), format_bps(n.avg_bps)), 380),
            (pair(format_bps(o.peak_bps), format_bps(n.peak_bps)), 560),
            (pair(format_bytes(o.bytes_sent), format_bytes(n.bytes_sent)), 740),
            (pair(drops(o), drops(n)), 900),
            (
                pair(
                    format!("{}/{}", format_count(o.ecn_marked), format_count(o.dscp_marked)),
                    format!("{}/{}", format_count(n.ecn_marked), format_count(n.dscp_marked)),
                ),
                1090,
            ),
            (pair(format_us(o.peak_sojourn_p99_us), format_us(n.peak_sojourn_p99_us)), 1250),
        ];
        for (text, x) in cells {
            root.draw(&Text::new(text, (x, y), style(14, false, BLACK))).s()?;
        }
    }
    Ok(())
}

/// The policy's generations and reloads over the run, one line each.
fn draw_policy<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, changes: &[PolicyChange]) -> Result<(), String> {
    let reloads = changes.iter().filter(|c| c.reload.is_some()).count();
    let refused = changes.iter().filter(|c| c.reload.as_ref().is_some_and(|(r, _)| r != "ok")).count();
    let last = changes.last().map_or(0, |c| c.generation);
    let new_generations = changes.windows(2).filter(|w| w[0].generation != w[1].generation).count();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let title = format!(
        "Policy: generation {last} at the end, {new_generations} generation change{}, {reloads} reload{} \
         ({refused} refused)",
        plural(new_generations),
        plural(reloads)
    );
    root.draw(&Text::new(title, (30, 18), style(24, true, BLACK))).s()?;
    root.draw(&Text::new(
        "grey verticals in the class charts mark each new generation",
        (30, 52),
        style(15, false, GREY),
    ))
    .s()?;
    for (i, c) in changes.iter().take(MAX_POLICY_LINES).enumerate() {
        let y = 84 + 26 * i as i32;
        let when = utc(c.time_unix_s);
        let schedules =
            if c.active_schedules.is_empty() { "no schedule".to_string() } else { c.active_schedules.join(", ") };
        let mut line =
            format!("{}  generation {}  ·  {schedules}", if when.is_empty() { "-" } else { &when }, c.generation);
        let mut ink = BLACK;
        if let Some((result, message)) = &c.reload {
            line.push_str(&format!("  ·  reload {result}"));
            if !message.is_empty() {
                line.push_str(&format!(": {message}"));
            }
            if result != "ok" {
                ink = P2P_INK;
            }
        }
        root.draw(&Text::new(line, (30, y), style(15, false, ink))).s()?;
    }
    if changes.len() > MAX_POLICY_LINES {
        let y = 84 + 26 * MAX_POLICY_LINES as i32;
        let more = format!("and {} more", changes.len() - MAX_POLICY_LINES);
        root.draw(&Text::new(more, (30, y), style(15, false, GREY))).s()?;
    }
    Ok(())
}

/// The inside hosts with the most peer-to-peer bytes: a bar each, outbound and inbound.
fn draw_hosts<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, hosts: &[HostRow]) -> Result<(), String> {
    let (w, _) = root.dim_in_pixel();
    let w = w as i32;
    let title = format!("Top {} inside hosts by peer-to-peer bytes", hosts.len());
    root.draw(&Text::new(title, (30, 18), style(26, true, BLACK))).s()?;
    let sub = "since the bridge started, counted as flows end and every active timeout; \
               outbound (from the host) and inbound (to it)";
    root.draw(&Text::new(sub, (30, 54), style(16, false, GREY))).s()?;
    let (x0, x1) = (240, w - 620);
    let max = hosts.iter().map(HostRow::p2p).max().unwrap_or(0).max(1) as f64;
    let (out_colour, in_colour) = (rgb(WARM[0]), rgb(WARM[1]));
    for (i, h) in hosts.iter().enumerate() {
        let y = 90 + 36 * i as i32;
        root.draw(&Text::new(h.host.clone(), (30, y + 4), style(17, false, BLACK))).s()?;
        let span = f64::from(x1 - x0);
        let out_end = x0 + (h.p2p_out as f64 / max * span).round() as i32;
        let in_end = out_end + (h.p2p_in as f64 / max * span).round() as i32;
        if out_end > x0 {
            root.draw(&Rectangle::new([(x0, y), (out_end, y + 26)], out_colour.filled())).s()?;
        }
        if in_end > out_end {
            root.draw(&Rectangle::new([(out_end, y), (in_end, y + 26)], in_colour.filled())).s()?;
        }
        let protocols: Vec<&str> = h.protocols.iter().take(2).map(|(n, _)| n.as_str()).collect();
        let figures = format!(
            "{} out, {} in · {} of its bytes · {}",
            format_bytes(h.p2p_out),
            format_bytes(h.p2p_in),
            format_share(h.p2p_share),
            protocols.join(", ")
        );
        root.draw(&Text::new(figures, (x1 + 20, y + 4), style(16, false, P2P_INK))).s()?;
    }
    let y = 90 + 36 * hosts.len() as i32 + 4;
    root.draw(&Rectangle::new([(x0, y), (x0 + 18, y + 18)], out_colour.filled())).s()?;
    root.draw(&Text::new("outbound", (x0 + 26, y + 1), style(15, false, GREY))).s()?;
    root.draw(&Rectangle::new([(x0 + 140, y), (x0 + 158, y + 18)], in_colour.filled())).s()?;
    root.draw(&Text::new("inbound", (x0 + 166, y + 1), style(15, false, GREY))).s()?;
    Ok(())
}

const PANEL: u32 = 420;

const WIDTH: u32 = 1400;
const LEGEND_COLUMNS: usize = 3;

fn share_height(share: &ShareData) -> u32 {
    let rows = share.entries.len().div_ceil(LEGEND_COLUMNS) as u32;
    340 + rows * 30 + 20
}

fn render(path: &Path, size: (u32, u32), chart: &impl Paint) -> Result<(), ViewError> {
    let fail = |message: String| ViewError::Draw { path: path.to_path_buf(), message };
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") | Some("png") => {}
        _ => return Err(ViewError::UnknownFormat { path: path.to_path_buf() }),
    }
    font::ensure()?;
    if ext.as_deref() == Some("svg") {
        let root = SVGBackend::new(path, size).into_drawing_area();
        root.fill(&WHITE).s().map_err(fail)?;
        chart.paint(&root).map_err(fail)?;
        root.present().s().map_err(fail)
    } else {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        root.fill(&WHITE).s().map_err(fail)?;
        chart.paint(&root).map_err(fail)?;
        root.present().s().map_err(fail)
    }
}

/// Errors of any backend, as text.
trait AsText<T> {
    fn s(self) -> Result<T, String>;
}

impl<T, E: Display> AsText<T> for Result<T, E> {
    fn s(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Black or white, whichever reads better on `c`.
fn ink_on(c: (u8, u8, u8)) -> RGBColor {
    let lum = 0.299 * f64::from(c.0) + 0.587 * f64::from(c.1) + 0.114 * f64::from(c.2);
    if lum > 150.0 { BLACK } else { WHITE }
}

fn style(size: u32, bold: bool, colour: RGBColor) -> TextStyle<'static> {
    let font = if bold { (FAMILY, size, FontStyle::Bold).into_font() } else { (FAMILY, size).into_font() };
    font.color(&colour)
}

const GREY: RGBColor = RGBColor(90, 90, 90);
const P2P_INK: RGBColor = RGBColor(170, 30, 30);

fn draw_share<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    source: &str,
    share: &ShareData,
) -> Result<(), String> {
    let (w, _) = root.dim_in_pixel();
    let w = w as i32;
    root.draw(&Text::new("Share of bytes by protocol", (30, 18), style(28, true, BLACK))).s()?;
    let subtitle = format!(
        "{source}  ·  outbound (inside → outside) {}  ·  inbound (outside → inside) {}",
        format_bytes(share.total_out),
        format_bytes(share.total_in)
    );
    root.draw(&Text::new(subtitle, (30, 58), style(17, false, GREY))).s()?;
    let (x0, x1) = (190, w - 40);
    let (p2p_out, p2p_in) = share.p2p();
    let bars =
        [("Outbound", "inside → outside", 130, true, p2p_out), ("Inbound", "outside → inside", 240, false, p2p_in)];
    for (label, sub, y, outbound, p2p) in bars {
        let h = 60;
        root.draw(&Text::new(label, (30, y + 10), style(22, true, BLACK))).s()?;
        root.draw(&Text::new(sub, (30, y + 38), style(14, false, GREY))).s()?;
        let total = if outbound { share.total_out } else { share.total_in };
        if total == 0 {
            root.draw(&Rectangle::new([(x0, y), (x1, y + h)], RGBColor(240, 240, 240).filled())).s()?;
            let s = style(16, false, GREY).pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new("no bytes", ((x0 + x1) / 2, y + h / 2), s)).s()?;
            continue;
        }
        let span = f64::from(x1 - x0);
        let mut at = 0.0;
        for e in &share.entries {
            let part = if outbound { e.share_out } else { e.share_in };
            if part <= 0.0 {
                continue;
            }
            let left = x0 + (at * span).round() as i32;
            at += part;
            let right = x0 + (at.min(1.0) * span).round() as i32;
            root.draw(&Rectangle::new([(left, y), (right, y + h)], rgb(e.colour).filled())).s()?;
            root.draw(&PathElement::new(vec![(right, y), (right, y + h)], WHITE.stroke_width(2))).s()?;
            let ink = style(15, false, ink_on(e.colour)).pos(Pos::new(HPos::Center, VPos::Center));
            let width = right - left;
            let mid = ((left + right) / 2, y + h / 2);
            let long = format!("{} {}", e.name, format_share(part));
            let short = format_share(part);
            for (text, lines) in [(long, 1), (short, 1)] {
                let (tw, _) = root.estimate_text_size(&text, &ink).s()?;
                if (tw as i32) + 10 <= width && lines == 1 {
                    root.draw(&Text::new(text, mid, ink.clone())).s()?;
                    break;
                }
            }
        }
        if p2p > 0.0 {
            let right = x0 + (p2p.min(1.0) * span).round() as i32;
            let ty = y - 10;
            root.draw(&PathElement::new(
                vec![(x0, ty + 6), (x0, ty), (right, ty), (right, ty + 6)],
                P2P_INK.stroke_width(2),
            ))
            .s()?;
            let s = style(17, true, P2P_INK).pos(Pos::new(HPos::Center, VPos::Bottom));
            let label = format!("P2P {}", format_share(p2p));
            // Centred over the bracket, but never sticking out left of the bar into its name.
            let (tw, _) = root.estimate_text_size(&label, &s).s()?;
            let cx = ((x0 + right) / 2).max(x0 + tw as i32 / 2);
            root.draw(&Text::new(label, (cx, ty - 4), s)).s()?;
        }
    }
    // Legend: swatch, name, both shares.
    let col_w = (w - 60) / LEGEND_COLUMNS as i32;
    for (i, e) in share.entries.iter().enumerate() {
        let col = (i % LEGEND_COLUMNS) as i32;
        let row = (i / LEGEND_COLUMNS) as i32;
        let (x, y) = (30 + col * col_w, 340 + row * 30);
        root.draw(&Rectangle::new([(x, y), (x + 18, y + 18)], rgb(e.colour).filled())).s()?;
        let ink = if e.is_p2p() { P2P_INK } else { BLACK };
        let tag = if e.is_p2p() { " (P2P)" } else { "" };
        root.draw(&Text::new(format!("{}{tag}", e.name), (x + 26, y + 1), style(16, e.is_p2p(), ink))).s()?;
        let figures = format!("out {} · in {}", format_share(e.share_out), format_share(e.share_in));
        root.draw(&Text::new(figures, (x + 210, y + 1), style(16, false, GREY))).s()?;
    }
    Ok(())
}

/// The unit for a panel whose largest value is `max` bits/s: (divisor, label).
pub fn rate_unit(max: f64) -> (f64, &'static str) {
    let max = clean(max);
    if max >= 1e9 {
        (1e9, "Gbit/s")
    } else if max >= 1e6 {
        (1e6, "Mbit/s")
    } else if max >= 1e3 {
        (1e3, "kbit/s")
    } else {
        (1.0, "bit/s")
    }
}

/// Cumulative sums bottom-up: `stack[k][t]` is the sum of layers `0..=k` at `t`.
pub fn stacked(layers: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut acc: Vec<Vec<f64>> = Vec::with_capacity(layers.len());
    for layer in layers {
        let next: Vec<f64> = match acc.last() {
            Some(prev) => prev.iter().zip(layer).map(|(a, b)| a + clean(*b)).collect(),
            None => layer.iter().map(|v| clean(*v)).collect(),
        };
        acc.push(next);
    }
    acc
}

fn draw_series<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    share: &ShareData,
    series: &TimeSeries,
    outbound: bool,
    start: &str,
) -> Result<(), String> {
    let layers = if outbound { &series.out } else { &series.inb };
    let stack = stacked(layers);
    let max = stack.last().map_or(0.0, |top| top.iter().copied().fold(0.0, f64::max));
    let (div, unit) = rate_unit(max);
    let ymax = (max / div * 1.08).max(1.0);
    let xmax = series.x.last().copied().unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let (w, _) = area.dim_in_pixel();
    let (plot, legend) = area.split_horizontally(w.saturating_sub(250));
    let title = if outbound {
        "Outbound bandwidth by protocol (inside → outside)"
    } else {
        "Inbound bandwidth by protocol (outside → inside)"
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, style(22, true, BLACK))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..xmax, 0.0..ymax)
        .s()?;
    let x_desc = if start.is_empty() {
        format!("time since start ({})", series.unit)
    } else {
        format!("time since {start} ({})", series.unit)
    };
    chart
        .configure_mesh()
        .light_line_style(RGBColor(246, 246, 246))
        .bold_line_style(RGBColor(210, 210, 210))
        .x_desc(x_desc)
        .y_desc(unit)
        .label_style(style(15, false, BLACK))
        .axis_desc_style(style(16, false, GREY))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .s()?;
    for (k, level) in stack.iter().enumerate().rev() {
        let Some(e) = share.entries.get(k) else { continue };
        let points = series.x.iter().copied().zip(level.iter().map(|v| v / div));
        chart.draw_series(AreaSeries::new(points, 0.0, rgb(e.colour).filled())).s()?;
    }
    let averages: Vec<f64> = layers
        .iter()
        .map(|l| if l.is_empty() { 0.0 } else { l.iter().map(|v| clean(*v)).sum::<f64>() / l.len() as f64 })
        .collect();
    legend.draw(&Text::new("average", (10, 30), style(16, true, BLACK))).s()?;
    for (i, e) in share.entries.iter().enumerate().rev() {
        let y = 58 + (share.entries.len() - 1 - i) as i32 * 24;
        legend.draw(&Rectangle::new([(10, y), (26, y + 16)], rgb(e.colour).filled())).s()?;
        let ink = if e.is_p2p() { P2P_INK } else { BLACK };
        legend.draw(&Text::new(e.name.clone(), (34, y), style(14, e.is_p2p(), ink))).s()?;
        let avg = averages.get(i).copied().unwrap_or(0.0);
        legend.draw(&Text::new(format_bps(avg), (150, y), style(14, false, GREY))).s()?;
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM UTC` for Unix seconds; empty for times before 1971 (records without a clock).
pub fn utc(unix_s: f64) -> String {
    if !(31_536_000.0..=1e11).contains(&unix_s) {
        return String::new();
    }
    let secs = unix_s as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_stats::ProtocolStats;

    fn t(name: &str, cat: &str, out: u64, inb: u64) -> ProtocolTotals {
        ProtocolTotals { name: name.into(), category: cat.into(), bytes_out: out, bytes_in: inb }
    }

    fn rec(uptime: f64, protos: &[(&str, &str, u64, u64, f64)]) -> IntervalRecord {
        let mut r = IntervalRecord { kind: "interval".into(), uptime_s: uptime, ..Default::default() };
        for (n, c, o, i, bps) in protos {
            r.protocols.insert(
                (*n).into(),
                ProtocolStats {
                    category: (*c).into(),
                    bytes_out: *o,
                    bytes_in: *i,
                    bps_out: *bps,
                    bps_in: bps / 2.0,
                    ..Default::default()
                },
            );
        }
        r
    }

    #[test]
    fn p2p_comes_first_then_others_then_other_then_unknown() {
        let totals = [
            t("http", "web", 100, 600),
            t("unknown", "unknown", 50, 50),
            t("bittorrent", "p2p", 700, 300),
            t("dns", "naming", 10, 10),
            t("edonkey", "p2p", 140, 40),
            t("ssh", "remote-access", 0, 0),
        ];
        let s = share_data(&totals, 10);
        let names: Vec<&str> = s.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["bittorrent", "edonkey", "http", "dns", "unknown"]);
        assert_eq!((s.total_out, s.total_in), (1000, 1000));
        let (p_out, p_in) = s.p2p();
        assert!((p_out - 0.84).abs() < 1e-12 && (p_in - 0.34).abs() < 1e-12, "{p_out} {p_in}");
        let sum: f64 = s.entries.iter().map(|e| e.share_out).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        assert_eq!(s.entries[0].colour, WARM[0]);
        assert_eq!(s.entries[2].colour, COOL[0]);
        assert_eq!(s.entries[4].colour, UNKNOWN);
    }

    #[test]
    fn beyond_the_named_ones_the_rest_is_summed_as_other() {
        let totals = [t("a", "p2p", 500, 0), t("b", "web", 300, 0), t("c", "web", 150, 0), t("d", "mail", 50, 0)];
        let s = share_data(&totals, 2);
        let names: Vec<&str> = s.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "other (2)"]);
        assert_eq!(s.entries[2].share_out, 0.2);
        assert_eq!(s.entries[2].share_in, 0.0);
    }

    #[test]
    fn no_bytes_gives_no_entries_and_no_nan() {
        let s = share_data(&[t("a", "p2p", 0, 0)], 10);
        assert!(s.entries.is_empty());
        assert_eq!(s.p2p(), (0.0, 0.0));
    }

    #[test]
    fn totals_come_from_the_last_record_and_add_up_across_restarts() {
        let records = [
            rec(1.0, &[("bittorrent", "p2p", 10, 5, 0.0)]),
            rec(2.0, &[("bittorrent", "p2p", 100, 50, 0.0)]),
            rec(1.0, &[("bittorrent", "p2p", 7, 3, 0.0), ("http", "web", 1, 2, 0.0)]),
            rec(2.0, &[("bittorrent", "p2p", 20, 30, 0.0), ("http", "web", 4, 8, 0.0)]),
        ];
        let totals = totals_from_records(&records);
        assert_eq!(totals, [t("bittorrent", "p2p", 120, 80), t("http", "web", 4, 8)]);
        assert!(totals_from_records(&[]).is_empty());
    }

    #[test]
    fn time_series_follow_the_entries_and_fold_the_rest_into_other() {
        let mut records: Vec<IntervalRecord> = (0..5)
            .map(|k| {
                rec(k as f64, &[("a", "p2p", 900, 900, 8e6), ("b", "web", 90, 90, 1e6), ("c", "web", 10, 10, 5e5)])
            })
            .collect();
        for (k, r) in records.iter_mut().enumerate() {
            r.time_unix_s = 1_100_000_000.0 + 60.0 * k as f64;
        }
        let share = share_data(&totals_from_records(&records), 2);
        let ts = time_series(&records, &share);
        assert_eq!(ts.unit, "min");
        assert_eq!(ts.x, [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(ts.out[0], [8e6; 5]);
        assert_eq!(ts.out[2], [5e5; 5], "c is in other");
        assert_eq!(ts.inb[1], [5e5; 5]);
    }

    #[test]
    fn long_files_are_averaged_down_keeping_the_mean() {
        let v: Vec<f64> = (0..10_000).map(|k| (k % 7) as f64).collect();
        let d = downsample(&v, MAX_POINTS);
        assert_eq!(d.len(), MAX_POINTS);
        let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        assert!((mean(&d) - mean(&v)).abs() < 0.01, "{} {}", mean(&d), mean(&v));
        assert_eq!(downsample(&[1.0, 2.0], 5), [1.0, 2.0]);
        assert_eq!(downsample(&[1.0, 3.0, 5.0, 7.0], 2), [2.0, 6.0]);
        let records: Vec<IntervalRecord> =
            (0..4000).map(|k| rec(k as f64 * 10.0, &[("a", "p2p", 1, 1, 8e6)])).collect();
        let ts = time_series(&records, &share_data(&totals_from_records(&records), 10));
        assert_eq!((ts.x.len(), ts.out[0].len(), ts.inb[0].len()), (MAX_POINTS, MAX_POINTS, MAX_POINTS));
        assert_eq!(ts.unit, "h");
    }

    #[test]
    fn stacks_add_up_and_units_scale() {
        let s = stacked(&[vec![1.0, 2.0], vec![3.0, f64::NAN], vec![-1.0, 1.0]]);
        assert_eq!(s, [vec![1.0, 2.0], vec![4.0, 2.0], vec![4.0, 3.0]]);
        assert_eq!(rate_unit(5e8), (1e6, "Mbit/s"));
        assert_eq!(rate_unit(2e9), (1e9, "Gbit/s"));
        assert_eq!(rate_unit(0.0), (1.0, "bit/s"));
        assert_eq!(rate_unit(f64::NAN), (1.0, "bit/s"));
    }

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(utc(1_084_000_000.0), "2004-05-08 07:06 UTC");
        assert_eq!(utc(951_782_400.0), "2000-02-29 00:00 UTC");
        assert_eq!(utc(0.0), "");
        assert_eq!(utc(f64::NAN), "");
    }

    fn with_host(mut r: IntervalRecord, addr: &str, p2p_out: u64, p2p_in: u64, web: u64) -> IntervalRecord {
        let mut h = weir_stats::HostStats {
            host: addr.into(),
            bytes_out: p2p_out + web,
            bytes_in: p2p_in,
            p2p_bytes_out: p2p_out,
            p2p_bytes_in: p2p_in,
            ..Default::default()
        };
        h.protocols.insert(
            "bittorrent".into(),
            weir_stats::HostProtocolStats {
                category: "p2p".into(),
                bytes_out: p2p_out,
                bytes_in: p2p_in,
                error_bytes: 0,
            },
        );
        h.protocols.insert(
            "http".into(),
            weir_stats::HostProtocolStats { category: "web".into(), bytes_out: web, bytes_in: 0, error_bytes: 0 },
        );
        r.hosts.push(h);
        r
    }

    #[test]
    fn the_p2p_hosts_come_from_each_runs_last_record_largest_first() {
        let a = with_host(rec(1.0, &[]), "198.18.0.1", 10, 0, 5);
        let b = with_host(with_host(rec(2.0, &[]), "198.18.0.1", 100, 10, 5), "198.18.0.2", 0, 0, 999);
        // The bridge restarted: its figures start again.
        let c = with_host(with_host(rec(1.0, &[]), "198.18.0.3", 50, 50, 0), "198.18.0.1", 1, 1, 0);
        let hosts = p2p_hosts_from_records(&[a, b, c], 10);
        let names: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(names, ["198.18.0.1", "198.18.0.3"], "a host without P2P is left out");
        assert_eq!((hosts[0].p2p_out, hosts[0].p2p_in), (101, 11));
        assert_eq!(p2p_hosts_from_records(&[], 10), []);
        let many: IntervalRecord =
            (0..30).fold(rec(1.0, &[]), |r, i| with_host(r, &format!("198.18.1.{i}"), 1000 + i, 0, 0));
        let top = p2p_hosts_from_records(&[many], TOP_HOSTS);
        assert_eq!(top.len(), 10);
        assert_eq!(top[0].host, "198.18.1.29");
    }

    fn with_class(mut r: IntervalRecord, name: &str, bps: f64, dropped: u64, generation: u64) -> IntervalRecord {
        let dir = |bps: f64| weir_stats::ClassDirStats {
            bps,
            bytes_out: (r.uptime_s * 1000.0) as u64,
            dropped_codel: dropped,
            ecn_marked: dropped * 2,
            sojourn_us: weir_stats::Percentiles { p99: (bps / 1000.0) as u64, ..Default::default() },
            ..Default::default()
        };
        r.classes.push(weir_stats::ClassStats {
            name: name.into(),
            kind: if name == "voip" { "mark".into() } else { "shape".into() },
            rate_set_bps: if name == "voip" { 0 } else { 8_000_000 },
            out: dir(bps),
            inb: dir(bps / 4.0),
        });
        r.policy.generation = generation;
        r
    }

    #[test]
    fn class_totals_come_from_each_runs_last_record_and_rates_are_averaged() {
        let records = [
            with_class(rec(1.0, &[]), "p2p-day", 6e6, 1, 1),
            with_class(with_class(rec(2.0, &[]), "p2p-day", 8e6, 4, 1), "voip", 1e5, 0, 1),
            // The bridge restarted.
            with_class(rec(1.0, &[]), "p2p-day", 7e6, 2, 1),
        ];
        let t = class_totals_from_records(&records);
        assert_eq!(t.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["p2p-day", "voip"]);
        let [out, inb] = &t[0].dirs;
        assert_eq!(out.drops, [0, 6, 0, 0], "4 before the restart, 2 after");
        assert_eq!((out.ecn_marked, out.bytes_sent), (12, 3000));
        assert!((out.avg_bps - 7e6).abs() < 1e-6 && out.peak_bps == 8e6, "{out:?}");
        assert!((inb.avg_bps - 1.75e6).abs() < 1e-6, "{inb:?}");
        assert_eq!(out.peak_sojourn_p99_us, 8000);
        assert_eq!((t[1].kind.as_str(), t[1].rate_set_bps, t[1].dirs[0].avg_bps), ("mark", 0, 1e5));
        assert_ne!(t[0].colour, t[1].colour);
        assert!(class_totals_from_records(&[rec(1.0, &[])]).is_empty());
    }

    #[test]
    fn class_series_follow_each_class_and_mark_the_generation_changes() {
        let records: Vec<IntervalRecord> = (0..5)
            .map(|k| {
                let r = with_class(rec(k as f64, &[]), "p2p-day", 1e6 * k as f64, 0, 1 + k / 3);
                if k == 2 { r } else { with_class(r, "voip", 5e4, 0, 1 + k / 3) }
            })
            .collect();
        let classes = class_totals_from_records(&records);
        let cs = class_series(&records, &classes);
        assert_eq!(cs.x, [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(cs.out[0], [0.0, 1e6, 2e6, 3e6, 4e6]);
        assert_eq!(cs.inb[0][4], 1e6);
        assert_eq!(cs.out[1], [5e4, 5e4, 0.0, 5e4, 5e4], "a record without the class reads 0");
        assert_eq!(cs.generation_changes, [3.0]);
        assert_eq!(cs.set[0], [8e6; 5]);
        assert_eq!(cs.set[1], [0.0; 5], "a marker has no rate");
    }

    #[test]
    fn policy_changes_list_new_generations_and_reloads() {
        let mut records: Vec<IntervalRecord> = (0..6).map(|k| rec(k as f64, &[])).collect();
        assert!(policy_changes(&records).is_empty(), "no policy status, no changes");
        for (k, r) in records.iter_mut().enumerate() {
            r.time_unix_s = 1_800_000_000.0 + k as f64;
            r.policy.generation = if k < 2 { 1 } else { 2 };
            r.policy.active_schedules = if k < 2 { vec![] } else { vec!["night".into()] };
            if k >= 4 {
                r.policy.last_reload_unix_s = Some(1_800_000_004);
                r.policy.last_reload_result = Some("refused".into());
                r.policy.last_reload_message = Some("bad rate".into());
            }
        }
        let c = policy_changes(&records);
        assert_eq!(c.iter().map(|c| c.generation).collect::<Vec<_>>(), [1, 2, 2]);
        assert_eq!(c[1].active_schedules, ["night"]);
        assert_eq!(c[1].reload, None);
        assert_eq!(c[2].reload, Some(("refused".to_string(), "bad rate".to_string())));
        assert_eq!(c[2].time_unix_s, 1_800_000_004.0);
    }

    #[test]
    fn the_report_draws_the_classes_and_the_policy_when_the_file_has_them() {
        let dir = std::env::temp_dir().join(format!("weir-view-classes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut records: Vec<IntervalRecord> = (0..30)
            .map(|k| {
                let r = rec(k as f64, &[("bittorrent", "p2p", 900 * k, 400 * k, 8e6)]);
                let r = with_class(r, "p2p-day", 7.5e6 + (k % 3) as f64 * 1e5, k, 1 + k / 20);
                with_class(r, "voip", 6.4e4, 0, 1 + k / 20)
            })
            .collect();
        if let Some(last) = records.last_mut() {
            last.policy.last_reload_unix_s = Some(1_800_000_000);
            last.policy.last_reload_result = Some("ok".into());
            last.policy.last_reload_message = Some("p2p-day 6 -> 8 Mbit/s".into());
        }
        let svg = dir.join("classes.svg");
        write_report(&svg, "test", &records, 10).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for needle in [
            "Achieved rate per shaping class, outbound",
            "Achieved rate per shaping class, inbound",
            "Shaping classes over the run",
            "p2p-day",
            "voip",
            "8.00 Mbit/s",
            "0/29/0/0 / 0/29/0/0",
            "58/0 / 58/0",
            "Policy: generation 2 at the end, 1 generation change, 1 reload (0 refused)",
            "reload ok: p2p-day 6 -&gt; 8 Mbit/s",
        ] {
            assert!(text.contains(needle), "{needle} missing from the report");
        }
        let png = dir.join("classes.png");
        write_report(&png, "test", &records, 10).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        // Without classes or a policy status, none of it.
        let plain: Vec<IntervalRecord> = (0..5).map(|k| rec(k as f64, &[("http", "web", k, k, 1e6)])).collect();
        write_report(&svg, "test", &plain, 10).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(!text.contains("shaping class") && !text.contains("Policy:"), "no classes, no class panels");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn charts_are_written_as_svg_and_png_and_other_names_are_refused() {
        let dir = std::env::temp_dir().join(format!("weir-view-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let records: Vec<IntervalRecord> = (0..30)
            .map(|k| {
                rec(k as f64, &[("bittorrent", "p2p", 900 * k, 400 * k, 8e6), ("http", "web", 100 * k, 600 * k, 3e6)])
            })
            .collect();
        let svg = dir.join("r.svg");
        write_report(&svg, "test", &records, 10).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("bittorrent") && text.contains("P2P 90.0%"), "{}", &text[..200]);
        assert!(!text.contains("inside hosts by peer-to-peer"), "no host figures, no host panel");
        let mut with_hosts = records.clone();
        let last = with_hosts.pop().unwrap();
        with_hosts.push(with_host(last, "198.18.0.42", 7_000_000, 3_000_000, 1_000_000));
        write_report(&svg, "test", &with_hosts, 10).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("Top 1 inside hosts by peer-to-peer bytes") && text.contains("198.18.0.42"),
            "host panel"
        );
        assert!(text.contains("7.00 MB out, 3.00 MB in"), "host figures");
        let png = dir.join("r.png");
        write_share_chart(&png, "test", &totals_from_records(&records)).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let e = write_share_chart(&dir.join("r.gif"), "t", &[]).unwrap_err().to_string();
        assert!(e.contains("r.gif: unknown chart format"), "{e}");
        let e = write_share_chart(&dir.join("no/such/dir/r.png"), "t", &[]).unwrap_err().to_string();
        assert!(e.contains("r.png: cannot write the chart"), "{e}");
        // Empty data still draws (grey bars saying "no bytes").
        write_report(&dir.join("empty.svg"), "t", &[IntervalRecord::default()], 10).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
