//! The stats thread's work each interval: turn counter snapshots, merged histograms, the flow
//! table and the top flows into one [`IntervalRecord`].

use crate::bridge::Totals;
use anyhow::Result;
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use weir_dpi::{Classifier, ProtocolId};
use weir_engine::{HostTopK, Shared, WireError};
use weir_stats::histo::{BatchHistograms, Collector, percentiles};
use weir_stats::hosts::{HostSelection, host_stats, merge};
use weir_stats::{FlowTableStats, InterfaceStats, IntervalRecord, Percentiles, ProtocolStats, TopFlow, UmemStats};

/// How long the stats thread waits for workers' histograms (a worker answers within one poll
/// wait, 10 ms, even when idle).
const COLLECT_WAIT: Duration = Duration::from_millis(100);
/// Window of the moving average.
const MINUTE: Duration = Duration::from_secs(60);
/// Flows listed in `top_flows`.
const TOP_FLOWS: usize = 10;

/// What the per-host and export figures of a record come from: the workers' host tables, how
/// many hosts a record lists (by bytes, and as many by P2P bytes), the exporter's figures.
pub(crate) struct Extra<'a> {
    pub(crate) host_tables: &'a [Arc<Mutex<HostTopK>>],
    pub(crate) hosts_shown: usize,
    pub(crate) ipfix: Option<weir_stats::IpfixStats>,
}

/// What the stats thread carries from one interval to the next.
pub(crate) struct StatsState {
    started: Instant,
    last_at: Instant,
    last: Option<Totals>,
    /// (time, per-protocol bytes by direction) for the one-minute average.
    history: VecDeque<(Instant, Vec<[u64; 2]>)>,
    merged: BatchHistograms,
    /// Cumulative (count, sum) of batch_ns, packet_ns, batch_size.
    cumulative: [(u64, u64); 3],
    flow_capacity: u64,
    frames_total: u64,
    protocol_names: Vec<(String, String)>,
}

fn with_totals(mut p: Percentiles, c: &mut (u64, u64), h: &hdrhistogram::Histogram<u64>) -> Percentiles {
    c.0 += h.len();
    c.1 += (h.mean() * h.len() as f64) as u64;
    p.count_total = c.0;
    p.sum_total = c.1;
    p
}

impl StatsState {
    pub(crate) fn new(classifier: &Classifier, flow_capacity: u64, frames_total: u64) -> Result<Self> {
        let reg = classifier.registry();
        let now = Instant::now();
        Ok(StatsState {
            started: now,
            last_at: now,
            last: None,
            history: VecDeque::new(),
            merged: BatchHistograms::new().map_err(|e| anyhow::anyhow!("histograms: {e}"))?,
            cumulative: [(0, 0); 3],
            flow_capacity,
            frames_total,
            protocol_names: reg
                .iter()
                .map(|id| (reg.name(id).to_string(), reg.category(id).name().to_string()))
                .collect(),
        })
    }

    /// Build this interval's record from `t` (a fresh snapshot); collects the workers'
    /// histograms and scans the flow table for the top flows.
    pub(crate) fn record(
        &mut self,
        t: &Totals,
        collector: &mut Collector,
        shared: &Shared,
        classifier: &Classifier,
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

        let zero = Default::default();
        let mut protocols = BTreeMap::new();
        for (id, p) in t.protocols.iter().enumerate() {
            if p.flows == 0 && p.packets == [0, 0] {
                continue;
            }
            let before = self.last.as_ref().and_then(|l| l.protocols.get(id)).unwrap_or(&zero);
            let old = oldest.get(id).copied().unwrap_or([0, 0]);
            let rate = |now: u64, then: u64, s: f64| if s > 0.0 { now.saturating_sub(then) as f64 / s } else { 0.0 };
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
                    bps_out_1m: if window > 0.0 { rate(p.bytes[0], old[0], window) * 8.0 } else { 0.0 },
                    bps_in_1m: if window > 0.0 { rate(p.bytes[1], old[1], window) * 8.0 } else { 0.0 },
                    flows: p.flows,
                    flows_new: p.flows.saturating_sub(before.flows),
                },
            );
        }

        let mut interfaces = BTreeMap::new();
        for (i, name) in ["inside", "outside"].iter().enumerate() {
            let s = &t.sides[i];
            let before = self.last.as_ref().map(|l| l.sides[i]).unwrap_or_default();
            interfaces.insert(
                (*name).to_string(),
                InterfaceStats {
                    received: s.received,
                    received_bytes: s.received_bytes,
                    forwarded: s.forwarded(),
                    dropped_policy: s.dropped_policy,
                    dropped_malformed: s.dropped_malformed,
                    lost_tx_full: s.tx_full,
                    rx_pps: s.received.saturating_sub(before.received) as f64 / secs,
                    rx_bps: s.received_bytes.saturating_sub(before.received_bytes) as f64 * 8.0 / secs,
                },
            );
        }

        let malformed = WireError::ALL
            .iter()
            .zip(&t.malformed_by)
            .filter(|(_, n)| **n > 0)
            .map(|(e, n)| (e.name().to_string(), *n))
            .collect();

        let table = shared.table.stats();
        let reg = classifier.registry();
        let top_flows = weir_engine::top_flows(&shared.table, TOP_FLOWS)
            .into_iter()
            .map(|f| TopFlow {
                l4: crate::report::l4_name(f.ip_protocol),
                src: std::net::SocketAddr::from(f.originator).to_string(),
                dst: std::net::SocketAddr::from(f.responder).to_string(),
                protocol: f.protocol.map_or_else(|| "pending".to_string(), |p: ProtocolId| reg.name(p).to_string()),
                bytes: f.bytes,
                packets: f.packets,
            })
            .collect();

        // The workers' host tables, copied out one at a time (each lock held for a copy only).
        let tables: Vec<HostTopK> = extra.host_tables.iter().map(|t| t.lock().clone()).collect();
        let name = |id: u16| self.protocol_names.get(usize::from(id)).cloned().unwrap_or_default();
        let select = HostSelection { by_bytes: extra.hosts_shown, by_p2p: extra.hosts_shown };
        let hosts = if extra.hosts_shown == 0 { Vec::new() } else { host_stats(&merge(tables.iter()), &name, select) };

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
            flow_table: FlowTableStats {
                active: table.active,
                capacity: self.flow_capacity,
                created: table.created,
                evicted: table.evicted,
                expired: table.expired,
                closed: table.closed,
            },
            umem: UmemStats { frames_total: self.frames_total, frames_in_use: collector.frames_in_use() },
            batch_ns: with_totals(percentiles(&self.merged.batch_ns), c_batch, &self.merged.batch_ns),
            batch_size: with_totals(percentiles(&self.merged.batch_size), c_size, &self.merged.batch_size),
            packet_ns: with_totals(percentiles(&self.merged.packet_ns), c_packet, &self.merged.packet_ns),
            top_flows,
            hosts,
            ipfix: extra.ipfix,
        };
        self.last_at = now;
        self.last = Some(Totals { protocols: t.protocols.clone(), sides: t.sides, ..Totals::default() });
        record
    }
}

/// The one-line summary of a record printed on stderr each interval: per NIC the receive rate
/// and the totals forwarded and dropped, then the four protocols with the most bandwidth.
pub(crate) fn line(r: &IntervalRecord) -> String {
    let mut s = String::new();
    for (name, i) in &r.interfaces {
        s.push_str(&format!(
            "{name}: rx {:.0} pps {:.1} Mbit/s fwd {} drop {}  ",
            i.rx_pps,
            i.rx_bps / 1e6,
            i.forwarded,
            i.dropped_policy + i.dropped_malformed + i.lost_tx_full
        ));
    }
    let mut top: Vec<(f64, &str)> =
        r.protocols.iter().map(|(n, p)| (p.bps_out + p.bps_in, n.as_str())).filter(|(b, _)| *b > 0.0).collect();
    top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let top: Vec<String> = top.iter().take(4).map(|(b, n)| format!("{n} {:.1} Mbit/s", b / 1e6)).collect();
    s.push_str(&format!("| {}", if top.is_empty() { "-".to_string() } else { top.join(", ") }));
    s
}
