//! Prometheus text exposition (format 0.0.4) of an [`IntervalRecord`].
//!
//! Names follow Prometheus conventions: base units (bytes, seconds), `_total` on counters, one
//! metric family per quantity with labels for protocol, category, direction, interface and
//! reason. `promtool check metrics` accepts the output (a test in the bridge suite runs it).

use crate::record::{IntervalRecord, Percentiles};
use std::fmt::Write;

/// Escape a label value: backslash, double quote and newline.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", esc(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
    fn summary(&mut self, name: &str, help: &str, p: &Percentiles, scale: f64) {
        self.family(name, "summary", help);
        for (q, v) in [("0.5", p.p50), ("0.99", p.p99), ("0.999", p.p999), ("1", p.max)] {
            self.sample(name, &[("quantile", q)], v as f64 * scale);
        }
        self.sample(&format!("{name}_sum"), &[], p.sum_total as f64 * scale);
        self.sample(&format!("{name}_count"), &[], p.count_total as f64);
    }
}

/// Render `r` as Prometheus text.
pub fn render(r: &IntervalRecord) -> String {
    let mut o = Out(String::with_capacity(8192));
    o.family("weir_uptime_seconds", "gauge", "Seconds since weir started.");
    o.sample("weir_uptime_seconds", &[], r.uptime_s);

    type Field = fn(&crate::record::ProtocolStats) -> (u64, u64);
    let per_protocol: [(&str, &str, Field); 3] = [
        ("weir_protocol_packets_total", "Packets per protocol and direction.", |p| (p.packets_out, p.packets_in)),
        ("weir_protocol_bytes_total", "Wire bytes per protocol and direction.", |p| (p.bytes_out, p.bytes_in)),
        ("weir_protocol_dropped_packets_total", "Packets dropped by policy per protocol and direction.", |p| {
            (p.dropped_out, p.dropped_in)
        }),
    ];
    for (name, help, field) in per_protocol {
        o.family(name, "counter", help);
        for (proto, p) in &r.protocols {
            let (out, inb) = field(p);
            let labels = |d| [("protocol", proto.as_str()), ("category", p.category.as_str()), ("direction", d)];
            o.sample(name, &labels("outbound"), out as f64);
            o.sample(name, &labels("inbound"), inb as f64);
        }
    }
    o.family("weir_protocol_flows_total", "counter", "Flows labelled with each protocol.");
    for (proto, p) in &r.protocols {
        o.sample("weir_protocol_flows_total", &[("protocol", proto), ("category", &p.category)], p.flows as f64);
    }

    o.family("weir_interface_received_packets_total", "counter", "Frames received per NIC.");
    for (nic, i) in &r.interfaces {
        o.sample("weir_interface_received_packets_total", &[("interface", nic)], i.received as f64);
    }
    o.family("weir_interface_received_bytes_total", "counter", "Bytes received per NIC.");
    for (nic, i) in &r.interfaces {
        o.sample("weir_interface_received_bytes_total", &[("interface", nic)], i.received_bytes as f64);
    }
    o.family(
        "weir_interface_forwarded_packets_total",
        "counter",
        "Frames forwarded to the other NIC, per receiving NIC.",
    );
    for (nic, i) in &r.interfaces {
        o.sample("weir_interface_forwarded_packets_total", &[("interface", nic)], i.forwarded as f64);
    }
    o.family("weir_interface_dropped_packets_total", "counter", "Frames dropped per receiving NIC and reason.");
    for (nic, i) in &r.interfaces {
        for (reason, v) in
            [("policy", i.dropped_policy), ("malformed", i.dropped_malformed), ("tx_full", i.lost_tx_full)]
        {
            o.sample("weir_interface_dropped_packets_total", &[("interface", nic), ("reason", reason)], v as f64);
        }
    }
    o.family("weir_malformed_frames_total", "counter", "Frames that did not parse, by reason.");
    for (reason, v) in &r.malformed {
        o.sample("weir_malformed_frames_total", &[("reason", reason)], *v as f64);
    }
    o.family("weir_non_ip_frames_total", "counter", "Frames that are not IP (ARP, LLDP, ...).");
    o.sample("weir_non_ip_frames_total", &[], r.non_ip as f64);

    let ft = &r.flow_table;
    o.family("weir_flows", "gauge", "Flows in the flow table.");
    o.sample("weir_flows", &[], ft.active as f64);
    o.family("weir_flows_capacity", "gauge", "The flow table's bound.");
    o.sample("weir_flows_capacity", &[], ft.capacity as f64);
    o.family("weir_flows_created_total", "counter", "Flows created.");
    o.sample("weir_flows_created_total", &[], ft.created as f64);
    o.family("weir_flows_ended_total", "counter", "Flows ended, by reason.");
    for (reason, v) in [("evicted", ft.evicted), ("idle", ft.expired), ("closed", ft.closed)] {
        o.sample("weir_flows_ended_total", &[("reason", reason)], v as f64);
    }
    o.family("weir_umem_frames", "gauge", "UMEM frames over all workers, by state.");
    o.sample("weir_umem_frames", &[("state", "total")], r.umem.frames_total as f64);
    o.sample("weir_umem_frames", &[("state", "in_use")], r.umem.frames_in_use as f64);

    o.summary("weir_batch_duration_seconds", "Time a batch spends in a worker.", &r.batch_ns, 1e-9);
    o.summary("weir_packet_duration_seconds", "Time per packet through the engine.", &r.packet_ns, 1e-9);
    o.summary("weir_batch_frames", "Frames per non-empty batch.", &r.batch_size, 1.0);
    o.0.push_str(&crate::hosts::prometheus(&r.hosts));
    o.0.push_str(&crate::ipfix::prometheus(r.ipfix.as_ref()));
    o.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{InterfaceStats, ProtocolStats};

    #[test]
    fn renders_counters_with_labels_and_escapes() {
        let mut r = IntervalRecord::default();
        r.protocols.insert(
            "bittorrent".into(),
            ProtocolStats { category: "p2p".into(), bytes_out: 1500, bytes_in: 60, ..Default::default() },
        );
        r.interfaces.insert("in\"side".into(), InterfaceStats { received: 3, ..Default::default() });
        let text = render(&r);
        assert!(text.contains(
            "weir_protocol_bytes_total{protocol=\"bittorrent\",category=\"p2p\",direction=\"outbound\"} 1500"
        ));
        assert!(text.contains("weir_interface_received_packets_total{interface=\"in\\\"side\"} 3"));
        assert!(text.contains("# TYPE weir_batch_duration_seconds summary"));
        assert!(text.contains("weir_batch_duration_seconds_count 0"));
    }
}
