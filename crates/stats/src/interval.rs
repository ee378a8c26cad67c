//! The stats thread's work each interval: turn a counter snapshot, the merged histograms, the
//! flow table's figures and the top flows into one [`IntervalRecord`].

use crate::histo::{BatchHistograms, Collector, percentiles};
use crate::hosts::{HostSelection, HostTopK, host_stats, merge};
use crate::record::{
    ClassDirStats, ClassStats, FlowTableStats, HostStats, InterfaceStats, IntervalRecord, IpfixStats, Percentiles,
    ProtocolStats, UmemStats,
};
use crate::totals::{ProtoTotals, SideTotals, Totals};
use hdrhistogram::CreationError;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long the stats thread waits for workers' histograms (a worker answers within one poll
/// wait, 10 ms, even when idle).
const COLLECT_WAIT: Duration = Duration::from_millis(100);
/// Window of the moving average.
const MINUTE: Duration = Duration::from_secs(60);

/// What the per-host and export figures of a record come from: the engines' published host
/// tables, how many hosts a record lists (by bytes, and as many by P2P bytes), the exporter's
/// figures.
#[derive(Default)]
pub struct Extra<'a> {
    /// Each engine's published host table ([`HostTopK`]), merged into the record's hosts.
    pub host_tables: &'a [Arc<Mutex<HostTopK>>],
    /// Hosts listed by bytes, and as many by peer-to-peer bytes; 0: none.
    pub hosts_shown: usize,
    /// The exporter's figures, with export on.
    pub ipfix: Option<IpfixStats>,
}

/// The hosts of a record: the engines' published host tables merged, `shown` hosts with the
/// most bytes and as many with the most peer-to-peer bytes (`protocol_names[id]` = (name,
/// category)). Each table is copied out under its lock, one at a time, and merged unlocked.
pub fn merged_hosts(
    tables: &[Arc<Mutex<HostTopK>>],
    protocol_names: &[(String, String)],
    shown: usize,
) -> Vec<HostStats> {
    if shown == 0 || tables.is_empty() {
        return Vec::new();
    }
    let copies: Vec<HostTopK> = tables.iter().map(|t| t.lock().clone()).collect();
    let name = |id: u16| protocol_names.get(usize::from(id)).cloned().unwrap_or_default();
    host_stats(&merge(copies.iter()), &name, HostSelection { by_bytes: shown, by_p2p: shown })
}

/// Builds one [`IntervalRecord`] per interval, carrying what rates need from one to the next.
pub struct RecordBuilder {
    started: Instant,
    last_at: Instant,
    last_protocols: Vec<ProtoTotals>,
    last_sides: [SideTotals; 2],
    /// (time, per-protocol bytes by direction) for the one-minute average.
    history: VecDeque<(Instant, Vec<[u64; 2]>)>,
    merged: BatchHistograms,
    /// Cumulative (count, sum) of batch_ns, packet_ns, batch_size.
    cumulative: [(u64, u64); 3],
    flow_capacity: u64,
    protocol_names: Vec<(String, String)>,
    malformed_names: Vec<&'static str>,
}

fn with_totals(mut p: Percentiles, c: &mut (u64, u64), h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    c.0 += h.len();
    c.1 += (h.mean() * h.len() as f64) as u64;
    p.count_total = c.0;
    p.sum_total = c.1;
    p
}

fn rate(now: u64, then: u64, secs: f64) -> f64 {
    if secs > 0.0 { now.saturating_sub(then) as f64 / secs } else { 0.0 }
}

impl RecordBuilder {
    /// A builder for protocols named `protocol_names[id]` = (name, category), malformed reasons
    /// named in the order of [`Totals::malformed_by`], and a flow table of `flow_capacity`.
    ///
    /// # Errors
    /// As [`BatchHistograms::new`].
    pub fn new(
        protocol_names: Vec<(String, String)>,
        malformed_names: Vec<&'static str>,
        flow_capacity: u64,
    ) -> Result<Self, CreationError> {
        let now = Instant::now();
        Ok(RecordBuilder {
            started: now,
            last_at: now,
            last_protocols: Vec::new(),
            last_sides: Default::default(),
            history: VecDeque::new(),
            merged: BatchHistograms::new()?,
            cumulative: [(0, 0); 3],
            flow_capacity,
            protocol_names,
            malformed_names,
        })
    }

    /// Name protocols by `protocol_names` from the next record on (a live reload's signatures
    /// added protocols after the known ones; the ids of those keep their names).
    pub fn set_protocol_names(&mut self, protocol_names: Vec<(String, String)>) {
        self.protocol_names = protocol_names;
    }

    /// This interval's record from `t` (a fresh snapshot) and the flow table's figures; collects
    /// the workers' histograms from `collector`. `epoch` is when the bridge started. The top
    /// flows are left empty, for the caller (whose candidates come with the histograms); the
    /// hosts and the export figures come from `extra`.
    pub fn record(
        &mut self,
        t: &Totals,
        collector: &mut Collector,
        table: FlowTableStats,
        epoch: Instant,
        extra: Extra<'_>,
    ) -> IntervalRecord {
        let now = Instant::now();
        let secs = now.duration_since(self.last_at).as_secs_f64().max(1e-6);
        self.merged.reset();
        collector.collect(&mut self.merged, COLLECT_WAIT);

        // One-minute window: the oldest snapshot no older than a minute.
        let bytes_now: Vec<[u64; 2]> = t.protocols.iter().map(|p| p.bytes).collect();
        self.history.push_back((now, bytes_now));
        while self.history.front().is_some_and(|(at, _)| now.duration_since(*at) > MINUTE) {
            self.history.pop_front();
        }
        let (oldest_at, oldest) = self.history.front().cloned().unwrap_or((now, Vec::new()));
        let window = now.duration_since(oldest_at).as_secs_f64();

        let zero = ProtoTotals::default();
        let mut protocols = BTreeMap::new();
        for (id, p) in t.protocols.iter().enumerate().filter(|(_, p)| p.seen()) {
            let before = self.last_protocols.get(id).unwrap_or(&zero);
            let old = oldest.get(id).copied().unwrap_or([0, 0]);
            let (name, category) = self.protocol_names.get(id).cloned().unwrap_or_default();
            protocols.insert(
                name,
                ProtocolStats {
                    category,
                    packets_out: p.packets[0],
                    packets_in: p.packets[1],
                    bytes_out: p.bytes[0],
                    bytes_in: p.bytes[1],
                    dropped_out: p.dropped[0],
                    dropped_in: p.dropped[1],
                    bps_out: rate(p.bytes[0], before.bytes[0], secs) * 8.0,
                    bps_in: rate(p.bytes[1], before.bytes[1], secs) * 8.0,
                    pps_out: rate(p.packets[0], before.packets[0], secs),
                    pps_in: rate(p.packets[1], before.packets[1], secs),
                    bps_out_1m: rate(p.bytes[0], old[0], window) * 8.0,
                    bps_in_1m: rate(p.bytes[1], old[1], window) * 8.0,
                    flows: p.flows,
                    flows_new: p.flows.saturating_sub(before.flows),
                },
            );
        }

        let mut interfaces = BTreeMap::new();
        for (i, name) in ["inside", "outside"].iter().enumerate() {
            let (s, before) = (&t.sides[i], &self.last_sides[i]);
            interfaces.insert(
                (*name).to_string(),
                InterfaceStats {
                    received: s.received,
                    received_bytes: s.received_bytes,
                    forwarded: s.forwarded,
                    dropped_policy: s.dropped_policy,
                    dropped_malformed: s.dropped_malformed,
                    lost_tx_full: s.lost_tx_full,
                    dropped_shaper: s.dropped_shaper,
                    queued: s.queued,
                    rx_pps: rate(s.received, before.received, secs),
                    rx_bps: rate(s.received_bytes, before.received_bytes, secs) * 8.0,
                },
            );
        }

        let malformed = self
            .malformed_names
            .iter()
            .zip(&t.malformed_by)
            .filter(|(_, n)| **n > 0)
            .map(|(e, n)| ((*e).to_string(), *n))
            .collect();

        let hosts = merged_hosts(extra.host_tables, &self.protocol_names, extra.hosts_shown);

        let [c_batch, c_packet, c_size] = &mut self.cumulative;
        let record = IntervalRecord {
            kind: "interval".into(),
            time_unix_s: SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
            uptime_s: now.duration_since(epoch.min(self.started)).as_secs_f64(),
            interval_s: secs,
            protocols,
            interfaces,
            malformed,
            non_ip: t.non_ip,
            flow_table: FlowTableStats { capacity: self.flow_capacity, ..table },
            umem: UmemStats { frames_total: t.frames_total, frames_in_use: t.frames_in_use },
            batch_ns: with_totals(percentiles(&self.merged.batch_ns), c_batch, &self.merged.batch_ns),
            batch_size: with_totals(percentiles(&self.merged.batch_size), c_size, &self.merged.batch_size),
            packet_ns: with_totals(percentiles(&self.merged.packet_ns), c_packet, &self.merged.packet_ns),
            top_flows: Vec::new(),
            hosts,
            ipfix: extra.ipfix,
            classes: Vec::new(),
            policy: Default::default(),
            fastpath: None,
        };
        self.last_at = now;
        self.last_protocols.clone_from(&t.protocols);
        self.last_sides = t.sides;
        record
    }
}

/// The one-line summary of a record printed on stderr each interval: per NIC the receive rate
/// and the totals forwarded and dropped, then the four protocols with the most bandwidth, then,
/// with shaping classes, each class's achieved and configured rates, queue and drops.
pub fn stderr_line(r: &IntervalRecord) -> String {
    let mut s = String::new();
    for (name, i) in &r.interfaces {
        s.push_str(&format!(
            "{name}: rx {:.0} pps {:.1} Mbit/s fwd {} drop {}  ",
            i.rx_pps,
            i.rx_bps / 1e6,
            i.forwarded,
            i.dropped_policy + i.dropped_malformed + i.lost_tx_full + i.dropped_shaper
        ));
    }
    let mut top: Vec<(f64, &str)> =
        r.protocols.iter().map(|(n, p)| (p.bps_out + p.bps_in, n.as_str())).filter(|(b, _)| *b > 0.0).collect();
    top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let top: Vec<String> = top.iter().take(4).map(|(b, n)| format!("{n} {:.1} Mbit/s", b / 1e6)).collect();
    s.push_str(&format!("| {}", if top.is_empty() { "-".to_string() } else { top.join(", ") }));
    if !r.classes.is_empty() {
        let shown: Vec<String> = r.classes.iter().take(STDERR_CLASSES).map(class_part).collect();
        s.push_str(&format!(" | class {}", shown.join(", ")));
        if r.classes.len() > STDERR_CLASSES {
            s.push_str(&format!(" +{} more", r.classes.len() - STDERR_CLASSES));
        }
    }
    s
}

/// Classes named on the stderr line; the rest are counted.
const STDERR_CLASSES: usize = 6;

/// `p2p-day out 7.9/8.0 in 0.1/8.0 Mbit/s q 12 drop 3`: achieved over configured rate each way
/// (the configured rate left out for a class that only marks), frames queued now and dropped
/// since start, both directions.
fn class_part(c: &ClassStats) -> String {
    let mbit = |bps: f64| if bps.is_finite() && bps > 0.0 { bps / 1e6 } else { 0.0 };
    let rate = |d: &ClassDirStats| {
        if c.rate_set_bps > 0 {
            format!("{:.1}/{:.1}", mbit(d.bps), c.rate_set_bps as f64 / 1e6)
        } else {
            format!("{:.1}", mbit(d.bps))
        }
    };
    let drops = |d: &ClassDirStats| {
        d.dropped_police
            .saturating_add(d.dropped_codel)
            .saturating_add(d.dropped_queue_full)
            .saturating_add(d.dropped_flushed)
    };
    format!(
        "{} out {} in {} Mbit/s q {} drop {}",
        c.name,
        rate(&c.out),
        rate(&c.inb),
        c.out.queued_frames.saturating_add(c.inb.queued_frames),
        drops(&c.out).saturating_add(drops(&c.inb))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histo::exchange;

    #[test]
    fn rates_are_deltas_over_the_interval_and_names_come_from_the_builder() {
        let (mut collector, _sides) = exchange(0).unwrap();
        let names = vec![("unknown".to_string(), "unknown".to_string()), ("http".to_string(), "web".to_string())];
        let mut b = RecordBuilder::new(names, vec!["truncated", "bad-ip-version"], 1000).unwrap();
        let epoch = Instant::now();
        let mut t =
            Totals { protocols: vec![ProtoTotals::default(); 2], malformed_by: vec![0, 3], ..Totals::default() };
        t.protocols[1] = ProtoTotals { flows: 1, packets: [10, 0], bytes: [1000, 0], dropped: [0, 0] };
        t.sides[0].received = 10;
        t.frames_total = 64;
        t.frames_in_use = 9;
        let r =
            b.record(&t, &mut collector, FlowTableStats { active: 1, ..Default::default() }, epoch, Extra::default());
        assert_eq!(r.kind, "interval");
        assert_eq!(r.protocols.keys().collect::<Vec<_>>(), ["http"]);
        assert_eq!(r.malformed.get("bad-ip-version"), Some(&3));
        assert_eq!((r.flow_table.active, r.flow_table.capacity), (1, 1000));
        assert_eq!((r.umem.frames_total, r.umem.frames_in_use), (64, 9));
        std::thread::sleep(Duration::from_millis(20));
        t.protocols[1].bytes[0] = 3000;
        t.protocols[1].flows = 3;
        let r = b.record(&t, &mut collector, FlowTableStats::default(), epoch, Extra::default());
        let http = &r.protocols["http"];
        assert_eq!(http.flows_new, 2);
        let want = 2000.0 * 8.0 / r.interval_s;
        assert!((http.bps_out - want).abs() < want * 1e-9, "{} vs {want}", http.bps_out);
        assert!(http.bps_out_1m > 0.0);
        assert_eq!(r.interfaces["inside"].rx_pps, 0.0, "nothing new received");
        assert!(stderr_line(&r).contains("http"));
        assert!(!stderr_line(&r).contains("class"), "no classes, no class part");
    }

    #[test]
    fn the_stderr_line_shows_each_class_on_the_same_line() {
        let mut r = IntervalRecord::default();
        r.interfaces.insert("inside".into(), InterfaceStats { dropped_shaper: 4, forwarded: 9, ..Default::default() });
        let dir = |bps: f64, queued: u64, codel: u64, full: u64| ClassDirStats {
            bps,
            queued_frames: queued,
            dropped_codel: codel,
            dropped_queue_full: full,
            ..Default::default()
        };
        r.classes.push(ClassStats {
            name: "p2p-day".into(),
            kind: "shape".into(),
            rate_set_bps: 8_000_000,
            out: dir(7.94e6, 12, 2, 1),
            inb: dir(1.2e5, 0, 1, 0),
        });
        r.classes.push(ClassStats {
            name: "voip".into(),
            kind: "mark".into(),
            out: dir(6.4e4, 0, 0, 0),
            ..Default::default()
        });
        let line = stderr_line(&r);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("inside: rx 0 pps 0.0 Mbit/s fwd 9 drop 4"), "{line}");
        assert!(
            line.ends_with(
                "| - | class p2p-day out 7.9/8.0 in 0.1/8.0 Mbit/s q 12 drop 4, voip out 0.1 in 0.0 Mbit/s q 0 drop 0"
            ),
            "{line}"
        );
        for k in 0..8 {
            r.classes.push(ClassStats { name: format!("c{k}"), ..Default::default() });
        }
        assert!(stderr_line(&r).ends_with(" +4 more"), "{}", stderr_line(&r));
    }
}
