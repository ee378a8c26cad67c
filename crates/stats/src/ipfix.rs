//! Prometheus text for the IPFIX exporter's figures in a record.

use crate::record::IpfixStats;
use std::fmt::Write;

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `weir_ipfix_queued_records_total`, `weir_ipfix_dropped_records_total` (queue full),
/// `weir_ipfix_records_total{collector, result="sent"|"lost"}`, `weir_ipfix_messages_total`,
/// `weir_ipfix_bytes_total`, `weir_ipfix_send_errors_total` and `weir_ipfix_connected` per
/// collector; nothing when export is off.
pub fn prometheus(x: Option<&IpfixStats>) -> String {
    let mut o = String::new();
    let Some(x) = x else { return o };
    let family = |o: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(&mut o, "weir_ipfix_queued_records_total", "counter", "Flow records queued for the IPFIX exporter.");
    let _ = writeln!(o, "weir_ipfix_queued_records_total {}", x.queued);
    family(
        &mut o,
        "weir_ipfix_dropped_records_total",
        "counter",
        "Flow records dropped because the exporter's queue was full.",
    );
    let _ = writeln!(o, "weir_ipfix_dropped_records_total {}", x.dropped);
    family(&mut o, "weir_ipfix_records_total", "counter", "IPFIX data records per collector, sent or lost on the way.");
    for c in &x.collectors {
        let name = esc(&c.collector);
        let _ = writeln!(o, "weir_ipfix_records_total{{collector=\"{name}\",result=\"sent\"}} {}", c.records);
        let _ = writeln!(o, "weir_ipfix_records_total{{collector=\"{name}\",result=\"lost\"}} {}", c.records_lost);
    }
    type Field = fn(&crate::record::IpfixCollectorStats) -> u64;
    let per: [(&str, &str, &str, Field); 4] = [
        ("weir_ipfix_messages_total", "counter", "IPFIX messages sent per collector.", |c| c.messages),
        ("weir_ipfix_bytes_total", "counter", "IPFIX octets sent per collector.", |c| c.bytes),
        (
            "weir_ipfix_send_errors_total",
            "counter",
            "Failed sends per collector (refused datagrams, broken connections).",
            |c| c.send_errors,
        ),
        ("weir_ipfix_connected", "gauge", "Whether the collector is connected (UDP: always 1).", |c| {
            u64::from(c.connected)
        }),
    ];
    for (name, kind, help, field) in per {
        family(&mut o, name, kind, help);
        for c in &x.collectors {
            let _ = writeln!(o, "{name}{{collector=\"{}\"}} {}", esc(&c.collector), field(c));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::IpfixCollectorStats;

    #[test]
    fn collectors_get_their_series_and_nothing_without_export() {
        assert_eq!(prometheus(None), "");
        let x = IpfixStats {
            queued: 10,
            dropped: 2,
            collectors: vec![IpfixCollectorStats {
                collector: "udp://127.0.0.1:4739".into(),
                connected: true,
                records: 16,
                records_lost: 1,
                ..Default::default()
            }],
        };
        let text = prometheus(Some(&x));
        for line in [
            "weir_ipfix_dropped_records_total 2\n",
            "weir_ipfix_records_total{collector=\"udp://127.0.0.1:4739\",result=\"sent\"} 16\n",
            "weir_ipfix_records_total{collector=\"udp://127.0.0.1:4739\",result=\"lost\"} 1\n",
            "weir_ipfix_connected{collector=\"udp://127.0.0.1:4739\"} 1\n",
            "# TYPE weir_ipfix_connected gauge\n",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
    }
}
