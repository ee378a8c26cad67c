//! Per-protocol summaries and flow lines, as a table for people and JSON for scripts.
//!
//! The JSON field names are an interface, documented in the README: change them only with it.

use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use weir_dpi::{Classifier, ProtocolId};
use weir_engine::{Direction, Encap, EndReason, Engine, FlowRecord, WireError};
use weir_stats::l4_name;

/// One protocol's row.
pub(crate) struct Row {
    pub protocol: String,
    pub category: &'static str,
    pub flows: u64,
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

impl Row {
    fn packets_total(&self) -> u64 {
        self.packets[0] + self.packets[1]
    }
    fn bytes_total(&self) -> u64 {
        self.bytes[0] + self.bytes[1]
    }
}

/// What a run saw.
pub(crate) struct Summary {
    pub files: Vec<String>,
    pub rows: Vec<Row>,
    pub packets: u64,
    pub bytes: u64,
    pub non_ip: (u64, u64),
    pub malformed: (u64, u64),
    pub malformed_by_reason: Vec<(&'static str, u64)>,
    pub fragments: u64,
    pub snaplen_cut: u64,
    /// Frames and bytes per tunnel kind, those seen only.
    pub encapsulated: Vec<(&'static str, u64, u64)>,
    /// Notes about the input that do not make the figures incomplete.
    pub warnings: Vec<String>,
    pub flows: u64,
    pub flows_evicted: u64,
    pub elapsed: Duration,
    pub partial: bool,
}

impl Summary {
    pub(crate) fn collect(engine: &Engine, elapsed: Duration, files: &[PathBuf], partial: bool) -> Summary {
        let c = engine.counters();
        let reg = engine.classifier().registry();
        let mut rows: Vec<Row> = reg
            .iter()
            .map(|id: ProtocolId| {
                let p = c.protocol(id);
                Row {
                    protocol: reg.name(id).to_string(),
                    category: reg.category(id).name(),
                    flows: p.flows.get(),
                    packets: [p.packets[0].get(), p.packets[1].get()],
                    bytes: [p.bytes[0].get(), p.bytes[1].get()],
                }
            })
            .filter(|r| r.flows > 0 || r.packets_total() > 0)
            .collect();
        rows.sort_by(|a, b| b.bytes_total().cmp(&a.bytes_total()).then(a.protocol.cmp(&b.protocol)));
        let malformed_by_reason = WireError::ALL
            .iter()
            .zip(c.malformed.iter())
            .map(|(e, n)| (e.name(), n.get()))
            .filter(|(_, n)| *n > 0)
            .collect();
        Summary {
            files: files.iter().map(|f| f.display().to_string()).collect(),
            rows,
            packets: c.packets.get(),
            bytes: c.bytes.get(),
            non_ip: (c.non_ip_packets.get(), c.non_ip_bytes.get()),
            malformed: (c.malformed_total(), c.malformed_bytes.get()),
            malformed_by_reason,
            fragments: c.fragments.get(),
            snaplen_cut: c.snaplen_cut.get(),
            encapsulated: Encap::ALL
                .iter()
                .map(|e| (e.name(), c.encapsulated[e.index()].get(), c.encapsulated_bytes[e.index()].get()))
                .filter(|(_, n, _)| *n > 0)
                .collect(),
            warnings: Vec::new(),
            flows: c.flows_created.get(),
            flows_evicted: c.flows_ended(EndReason::Evicted).get(),
            elapsed,
            partial,
        }
    }

    fn direction_totals(&self) -> [u64; 2] {
        let mut t = [0; 2];
        for r in &self.rows {
            t[0] += r.bytes[0];
            t[1] += r.bytes[1];
        }
        t
    }

    fn rates(&self) -> (f64, f64) {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        (self.packets as f64 / secs, self.bytes as f64 * 8.0 / secs / 1e9)
    }

    pub(crate) fn to_json(&self) -> Value {
        let totals = self.direction_totals();
        let (pps, gbps) = self.rates();
        let protocols: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "protocol": r.protocol,
                    "category": r.category,
                    "flows": r.flows,
                    "packets": r.packets_total(),
                    "bytes": r.bytes_total(),
                    "packets_out": r.packets[Direction::Outbound.index()],
                    "packets_in": r.packets[Direction::Inbound.index()],
                    "bytes_out": r.bytes[Direction::Outbound.index()],
                    "bytes_in": r.bytes[Direction::Inbound.index()],
                    "share_out": share(r.bytes[0], totals[0]),
                    "share_in": share(r.bytes[1], totals[1]),
                })
            })
            .collect();
        let by_reason: serde_json::Map<String, Value> =
            self.malformed_by_reason.iter().map(|(k, v)| ((*k).to_string(), json!(v))).collect();
        let encapsulated: serde_json::Map<String, Value> = self
            .encapsulated
            .iter()
            .map(|(k, packets, bytes)| ((*k).to_string(), json!({"packets": packets, "bytes": bytes})))
            .collect();
        json!({
            "type": "summary",
            "files": self.files,
            "complete": !self.partial,
            "packets": self.packets,
            "bytes": self.bytes,
            "flows": self.flows,
            "flows_evicted": self.flows_evicted,
            "fragments": self.fragments,
            "snaplen_cut": self.snaplen_cut,
            "protocols": protocols,
            "non_ip": {"packets": self.non_ip.0, "bytes": self.non_ip.1},
            "malformed": {"packets": self.malformed.0, "bytes": self.malformed.1, "by_reason": by_reason},
            "encapsulated": encapsulated,
            "warnings": self.warnings,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "packets_per_s": pps,
            "gbit_per_s": gbps,
        })
    }
}

fn share(part: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { (part as f64 / total as f64 * 10_000.0).round() / 100.0 }
}

fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{b} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

pub(crate) fn write_table(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    let totals = s.direction_totals();
    writeln!(
        out,
        "{:<15} {:<13} {:>7} {:>9} {:>10} {:>10} {:>6} {:>10} {:>6}",
        "protocol", "category", "flows", "packets", "bytes", "out", "out%", "in", "in%"
    )?;
    for r in &s.rows {
        writeln!(
            out,
            "{:<15} {:<13} {:>7} {:>9} {:>10} {:>10} {:>5.1}% {:>10} {:>5.1}%",
            r.protocol,
            r.category,
            r.flows,
            r.packets_total(),
            human_bytes(r.bytes_total()),
            human_bytes(r.bytes[0]),
            share(r.bytes[0], totals[0]),
            human_bytes(r.bytes[1]),
            share(r.bytes[1], totals[1]),
        )?;
    }
    if s.non_ip.0 > 0 {
        writeln!(out, "{:<15} {:<13} {:>7} {:>9} {:>10}", "non-ip", "-", "-", s.non_ip.0, human_bytes(s.non_ip.1))?;
    }
    if s.malformed.0 > 0 {
        let reasons: Vec<String> = s.malformed_by_reason.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(
            out,
            "{:<15} {:<13} {:>7} {:>9} {:>10}   ({})",
            "malformed",
            "-",
            "-",
            s.malformed.0,
            human_bytes(s.malformed.1),
            reasons.join(", ")
        )?;
    }
    if !s.encapsulated.is_empty() {
        let kinds: Vec<String> = s.encapsulated.iter().map(|(k, n, _)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "tunnelled frames: {}; each counted once, to its inner flow, at its length on the wire",
            kinds.join(", ")
        )?;
    }
    if s.snaplen_cut > 0 {
        writeln!(
            out,
            "{} frames were cut short by the capture's snaplen: classified from their captured bytes, counted at their length on the wire",
            s.snaplen_cut
        )?;
    }
    let (pps, gbps) = s.rates();
    writeln!(
        out,
        "{}{} packets, {} in {} flows, {:.3} s: {:.0} packets/s, {:.3} Gbit/s",
        if s.partial { "PARTIAL (input error): " } else { "" },
        s.packets,
        human_bytes(s.bytes),
        s.flows,
        s.elapsed.as_secs_f64(),
        pps,
        gbps
    )
}

/// One host as a JSON line of `weir classify --hosts --json`.
pub(crate) fn host_json(h: &weir_stats::HostStats) -> Value {
    let protocols: serde_json::Map<String, Value> = h
        .protocols
        .iter()
        .map(|(name, p)| {
            (name.clone(), json!({"category": p.category, "bytes_out": p.bytes_out, "bytes_in": p.bytes_in}))
        })
        .collect();
    json!({
        "type": "host",
        "host": h.host,
        "bytes_out": h.bytes_out,
        "bytes_in": h.bytes_in,
        "p2p_bytes_out": h.p2p_bytes_out,
        "p2p_bytes_in": h.p2p_bytes_in,
        "error_bytes": h.error_bytes,
        "protocols": protocols,
    })
}

/// The hosts table: per inside host its bytes each way, its peer-to-peer bytes each way, and
/// its protocols by share of its bytes.
pub(crate) fn write_hosts_table(out: &mut impl Write, hosts: &[weir_stats::HostStats]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<39} {:>10} {:>10} {:>10} {:>10}  protocols (share of the host's bytes)",
        "host", "out", "in", "p2p out", "p2p in"
    )?;
    for h in hosts {
        let total = (h.bytes_out + h.bytes_in).max(1);
        let mut protos: Vec<(&String, u64)> =
            h.protocols.iter().map(|(n, p)| (n, p.bytes_out + p.bytes_in)).filter(|(_, b)| *b > 0).collect();
        protos.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let list: Vec<String> = protos
            .iter()
            .take(4)
            .map(|(n, b)| format!("{n} {:.0}%", *b as f64 * 100.0 / total as f64))
            .chain((protos.len() > 4).then(|| format!("+{} more", protos.len() - 4)))
            .collect();
        writeln!(
            out,
            "{:<39} {:>10} {:>10} {:>10} {:>10}  {}",
            h.host,
            human_bytes(h.bytes_out),
            human_bytes(h.bytes_in),
            human_bytes(h.p2p_bytes_out),
            human_bytes(h.p2p_bytes_in),
            list.join(", ")
        )?;
    }
    Ok(())
}

fn endpoint(e: (std::net::IpAddr, u16)) -> String {
    std::net::SocketAddr::from(e).to_string()
}

fn end_name(e: EndReason) -> &'static str {
    match e {
        EndReason::Idle => "idle",
        EndReason::Closed => "closed",
        EndReason::Evicted => "evicted",
        EndReason::Flushed => "end-of-input",
    }
}

pub(crate) fn flow_json(classifier: &Classifier, r: &FlowRecord) -> Value {
    let reg = classifier.registry();
    json!({
        "type": "flow",
        "l4": l4_name(r.ip_protocol),
        "src": endpoint(r.originator),
        "dst": endpoint(r.responder),
        "src_inside": r.originator_inside,
        "protocol": reg.name(r.label.protocol),
        "category": reg.category(r.label.protocol).name(),
        "decision": classifier.describe(r.label.decision).to_string(),
        "packets": r.packets[0] + r.packets[1],
        "bytes": r.bytes[0] + r.bytes[1],
        "src_packets": r.packets[0],
        "dst_packets": r.packets[1],
        "src_bytes": r.bytes[0],
        "dst_bytes": r.bytes[1],
        "first_seen_ns": r.first_seen,
        "last_seen_ns": r.last_seen,
        "end": end_name(r.end),
    })
}

pub(crate) fn flow_line(classifier: &Classifier, r: &FlowRecord) -> String {
    let reg = classifier.registry();
    format!(
        "{:<6} {:>45} -> {:<45} {:<14} {:<34} {:>7} pkts {:>10}",
        l4_name(r.ip_protocol),
        endpoint(r.originator),
        endpoint(r.responder),
        reg.name(r.label.protocol),
        classifier.describe(r.label.decision).to_string(),
        r.packets[0] + r.packets[1],
        human_bytes(r.bytes[0] + r.bytes[1]),
    )
}
