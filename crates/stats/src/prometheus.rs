//! Prometheus text exposition (format 0.0.4) of an [`IntervalRecord`].
//!
//! Names follow Prometheus conventions: base units (bytes, seconds), `_total` on counters, one
//! metric family per quantity with labels for protocol, category, direction, interface, reason,
//! shaping class (`class`, `kind`) and schedule. Rates are bytes per second (the base unit). `promtool check metrics` accepts the output (a test in the bridge suite runs it).

use crate::record::{ClassDirStats, ClassStats, IntervalRecord, Percentiles, PolicyStatus};
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
        for (reason, v) in [
            ("policy", i.dropped_policy),
            ("malformed", i.dropped_malformed),
            ("tx_full", i.lost_tx_full),
            ("shaper", i.dropped_shaper),
        ] {
            o.sample("weir_interface_dropped_packets_total", &[("interface", nic), ("reason", reason)], v as f64);
        }
    }
    o.family("weir_interface_queued_frames", "gauge", "Frames received per NIC that a shaping class holds now.");
    for (nic, i) in &r.interfaces {
        o.sample("weir_interface_queued_frames", &[("interface", nic)], i.queued as f64);
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
    classes(&mut o, &r.classes);
    policy(&mut o, &r.policy);
    if let Some(f) = &r.fastpath {
        fastpath(&mut o, f);
    }
    o.0
}

/// The shaping classes: one series per class and direction, labelled `class`, `kind` and
/// `direction` (`outbound`, `inbound`, as the protocol families). Nothing without classes.
fn classes(o: &mut Out, classes: &[ClassStats]) {
    if classes.is_empty() {
        return;
    }
    /// Each direction of `c`: its figures and labels.
    fn each(c: &ClassStats) -> [(&ClassDirStats, [(&'static str, &str); 3]); 2] {
        [("outbound", &c.out), ("inbound", &c.inb)]
            .map(|(d, s)| (s, [("class", c.name.as_str()), ("kind", c.kind.as_str()), ("direction", d)]))
    }
    type Field = fn(&ClassDirStats) -> f64;
    let per: [(&str, &str, &str, Field); 9] = [
        ("weir_class_received_packets_total", "counter", "Frames handed to each shaping class.", |s| {
            s.packets_in as f64
        }),
        ("weir_class_received_bytes_total", "counter", "Bytes of the frames handed to each shaping class.", |s| {
            s.bytes_in as f64
        }),
        ("weir_class_sent_packets_total", "counter", "Frames each shaping class sent on.", |s| s.packets_out as f64),
        ("weir_class_sent_bytes_total", "counter", "Bytes of the frames each shaping class sent on.", |s| {
            s.bytes_out as f64
        }),
        (
            "weir_class_rate_bytes_per_second",
            "gauge",
            "Rate each shaping class achieved over the last interval, bytes/s.",
            |s| s.bps / 8.0,
        ),
        ("weir_class_queued_frames", "gauge", "Frames each shaping class holds now.", |s| s.queued_frames as f64),
        ("weir_class_queued_bytes", "gauge", "Bytes each shaping class holds now.", |s| s.queued_bytes as f64),
        (
            "weir_class_ecn_marked_packets_total",
            "counter",
            "ECN-capable frames CoDel marked CE instead of dropping, per shaping class.",
            |s| s.ecn_marked as f64,
        ),
        ("weir_class_dscp_marked_packets_total", "counter", "Frames whose DSCP a class rewrote to its mark.", |s| {
            s.dscp_marked as f64
        }),
    ];
    for (name, kind, help, field) in per {
        o.family(name, kind, help);
        for c in classes {
            for (s, labels) in each(c) {
                o.sample(name, &labels, field(s));
            }
        }
    }
    // The configured rate applies to each direction; a class that only marks has none.
    let name = "weir_class_rate_limit_bytes_per_second";
    o.family(name, "gauge", "Configured rate of each shaping class, per direction, bytes/s (absent: none).");
    for c in classes.iter().filter(|c| c.rate_set_bps > 0) {
        for (_, labels) in each(c) {
            o.sample(name, &labels, c.rate_set_bps as f64 / 8.0);
        }
    }
    let name = "weir_class_dropped_packets_total";
    o.family(name, "counter", "Frames each shaping class dropped, by reason.");
    for c in classes {
        for (s, [class, kind, dir]) in each(c) {
            let reasons = [
                ("police", s.dropped_police),
                ("codel", s.dropped_codel),
                ("queue_full", s.dropped_queue_full),
                ("flushed", s.dropped_flushed),
            ];
            for (reason, v) in reasons {
                o.sample(name, &[class, kind, dir, ("reason", reason)], v as f64);
            }
        }
    }
    let name = "weir_class_dropped_bytes_total";
    o.family(name, "counter", "Bytes of the frames each shaping class dropped, all reasons.");
    for c in classes {
        for (s, labels) in each(c) {
            o.sample(name, &labels, s.dropped_bytes as f64);
        }
    }
    // A summary like the workers' latencies: quantiles of the last interval, sum and count
    // since start.
    let name = "weir_class_sojourn_seconds";
    o.family(name, "summary", "Time frames waited in each shaping class's queues (quantiles: last interval).");
    for c in classes {
        for (s, labels) in each(c) {
            let p = &s.sojourn_us;
            for (q, v) in [("0.5", p.p50), ("0.99", p.p99), ("0.999", p.p999), ("1", p.max)] {
                let [class, kind, dir] = labels;
                o.sample(name, &[class, kind, dir, ("quantile", q)], v as f64 * 1e-6);
            }
            o.sample(&format!("{name}_sum"), &labels, p.sum_total as f64 * 1e-6);
            o.sample(&format!("{name}_count"), &labels, p.count_total as f64);
        }
    }
}

/// The XDP fast path's figures (its frames are in the per-protocol and per-interface families too).
fn fastpath(o: &mut Out, f: &crate::FastpathStats) {
    let gauges: [(&str, &str, u64); 2] = [
        ("weir_fastpath_flows", "Decided flows in the kernel's map at the last sweep.", f.flows),
        ("weir_fastpath_map_size", "Entries the kernel's flow map has room for.", f.map_size),
    ];
    for (name, help, v) in gauges {
        o.family(name, "gauge", help);
        o.sample(name, &[], v as f64);
    }
    let counters: [(&str, &str, u64); 8] = [
        ("weir_fastpath_installed_total", "Flows installed in the kernel's map.", f.installed),
        ("weir_fastpath_map_full_total", "Installs refused by a full map (the flow stays in user space).", f.map_full),
        ("weir_fastpath_removed_total", "Flows taken out of the kernel's map.", f.removed),
        ("weir_fastpath_packets_total", "Frames the kernel decided itself.", f.packets),
        ("weir_fastpath_bytes_total", "Bytes of the frames the kernel decided itself.", f.bytes),
        ("weir_fastpath_bypassed_total", "Frames sent past the sockets to the other NIC (fail open).", f.bypassed),
        (
            "weir_fastpath_bypass_dropped_total",
            "Frames dropped with no socket to take them (fail closed).",
            f.bypass_dropped,
        ),
        ("weir_fastpath_errors_total", "Fast-path map operations refused (other than a full map).", f.errors),
    ];
    for (name, help, v) in counters {
        o.family(name, "counter", help);
        o.sample(name, &[], v as f64);
    }
}

/// The policy in force: its generation, the schedules active now, the last reload. Nothing when
/// the record carries no policy status (generation 0: a record from before the policy was
/// loaded, or from `weir classify`); the reload's two gauges only once a reload was tried.
fn policy(o: &mut Out, p: &PolicyStatus) {
    if p.generation == 0 && p.last_reload_unix_s.is_none() {
        return;
    }
    o.family(
        "weir_policy_generation",
        "gauge",
        "The policy generation (1 at start; +1 per schedule change and reload).",
    );
    o.sample("weir_policy_generation", &[], p.generation as f64);
    o.family("weir_policy_schedule_active", "gauge", "1 for each schedule active now.");
    for s in &p.active_schedules {
        o.sample("weir_policy_schedule_active", &[("schedule", s)], 1.0);
    }
    if let Some(at) = p.last_reload_unix_s {
        o.family(
            "weir_policy_last_reload_timestamp_seconds",
            "gauge",
            "When the last policy reload was tried, Unix time.",
        );
        o.sample("weir_policy_last_reload_timestamp_seconds", &[], at as f64);
    }
    if let Some(result) = &p.last_reload_result {
        o.family(
            "weir_policy_last_reload_success",
            "gauge",
            "Whether the last policy reload was applied (1) or refused (0).",
        );
        o.sample("weir_policy_last_reload_success", &[], if result == "ok" { 1.0 } else { 0.0 });
    }
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
        assert!(text.contains("weir_interface_dropped_packets_total{interface=\"in\\\"side\",reason=\"shaper\"} 0\n"));
        assert!(text.contains("weir_interface_queued_frames{interface=\"in\\\"side\"} 0\n"));
        assert!(!text.contains("weir_class_"), "no classes, nothing about classes:\n{text}");
        assert!(!text.contains("weir_policy_"), "no policy status, no policy series:\n{text}");
    }

    /// Two classes: a shaper that queues and drops, and a marker without a rate.
    pub(crate) fn two_classes() -> Vec<ClassStats> {
        let p2p = ClassStats {
            name: "p2p-day".into(),
            kind: "shape".into(),
            rate_set_bps: 8_000_000,
            out: ClassDirStats {
                packets_in: 1000,
                bytes_in: 1_500_000,
                packets_out: 990,
                bytes_out: 1_485_000,
                bps: 7.9e6,
                queued_frames: 12,
                queued_bytes: 18_000,
                sojourn_us: Percentiles {
                    p50: 2500,
                    p99: 40_000,
                    count_total: 990,
                    sum_total: 4_950_000,
                    ..Default::default()
                },
                dropped_police: 0,
                dropped_codel: 3,
                dropped_queue_full: 1,
                dropped_flushed: 0,
                dropped_bytes: 6000,
                ecn_marked: 5,
                dscp_marked: 0,
            },
            inb: ClassDirStats { packets_in: 10, packets_out: 10, bps: 1.2e5, ..Default::default() },
        };
        let voip = ClassStats {
            name: "voip".into(),
            kind: "mark".into(),
            rate_set_bps: 0,
            out: ClassDirStats { packets_in: 70, packets_out: 70, dscp_marked: 70, ..Default::default() },
            inb: ClassDirStats { packets_in: 60, packets_out: 60, dscp_marked: 60, ..Default::default() },
        };
        vec![p2p, voip]
    }

    #[test]
    fn two_classes_get_their_series_per_direction_and_the_policy_its_gauges() {
        let mut r = IntervalRecord { classes: two_classes(), ..Default::default() };
        r.interfaces.insert("inside".into(), InterfaceStats { dropped_shaper: 4, queued: 12, ..Default::default() });
        r.policy = PolicyStatus {
            generation: 3,
            active_schedules: vec!["workday".into(), "p2p-cap".into()],
            last_reload_unix_s: Some(1_800_000_000),
            last_reload_result: Some("ok".into()),
            last_reload_message: Some("classes: p2p-day 6 -> 8 Mbit/s".into()),
        };
        let text = render(&r);
        let out = "class=\"p2p-day\",kind=\"shape\",direction=\"outbound\"";
        let inb = "class=\"p2p-day\",kind=\"shape\",direction=\"inbound\"";
        let voip = "class=\"voip\",kind=\"mark\",direction=\"inbound\"";
        for line in [
            "weir_interface_dropped_packets_total{interface=\"inside\",reason=\"shaper\"} 4\n".to_string(),
            "weir_interface_queued_frames{interface=\"inside\"} 12\n".into(),
            "# TYPE weir_class_received_packets_total counter\n".into(),
            format!("weir_class_received_packets_total{{{out}}} 1000\n"),
            format!("weir_class_received_bytes_total{{{out}}} 1500000\n"),
            format!("weir_class_sent_packets_total{{{out}}} 990\n"),
            format!("weir_class_sent_bytes_total{{{out}}} 1485000\n"),
            format!("weir_class_sent_packets_total{{{inb}}} 10\n"),
            "# TYPE weir_class_rate_bytes_per_second gauge\n".into(),
            format!("weir_class_rate_bytes_per_second{{{out}}} 987500\n"),
            format!("weir_class_rate_bytes_per_second{{{inb}}} 15000\n"),
            format!("weir_class_rate_limit_bytes_per_second{{{out}}} 1000000\n"),
            format!("weir_class_rate_limit_bytes_per_second{{{inb}}} 1000000\n"),
            format!("weir_class_queued_frames{{{out}}} 12\n"),
            format!("weir_class_queued_bytes{{{out}}} 18000\n"),
            "# TYPE weir_class_sojourn_seconds summary\n".into(),
            format!("weir_class_sojourn_seconds{{{out},quantile=\"0.5\"}} 0.0025\n"),
            format!("weir_class_sojourn_seconds{{{out},quantile=\"0.99\"}} 0.04\n"),
            format!("weir_class_sojourn_seconds_sum{{{out}}} 4.95\n"),
            format!("weir_class_sojourn_seconds_count{{{out}}} 990\n"),
            format!("weir_class_dropped_packets_total{{{out},reason=\"codel\"}} 3\n"),
            format!("weir_class_dropped_packets_total{{{out},reason=\"queue_full\"}} 1\n"),
            format!("weir_class_dropped_packets_total{{{out},reason=\"police\"}} 0\n"),
            format!("weir_class_dropped_packets_total{{{out},reason=\"flushed\"}} 0\n"),
            format!("weir_class_dropped_bytes_total{{{out}}} 6000\n"),
            format!("weir_class_ecn_marked_packets_total{{{out}}} 5\n"),
            format!("weir_class_dscp_marked_packets_total{{{voip}}} 60\n"),
            "# TYPE weir_policy_generation gauge\nweir_policy_generation 3\n".into(),
            "weir_policy_schedule_active{schedule=\"workday\"} 1\n".into(),
            "weir_policy_schedule_active{schedule=\"p2p-cap\"} 1\n".into(),
            "weir_policy_last_reload_timestamp_seconds 1800000000\n".into(),
            "weir_policy_last_reload_success 1\n".into(),
        ] {
            assert!(text.contains(&line), "{line} missing from\n{text}");
        }
        // A marker has no rate to report.
        assert!(!text.contains("weir_class_rate_limit_bytes_per_second{class=\"voip\""), "{text}");
        // Every sample belongs to a family declared just before it, once.
        let mut declared = std::collections::BTreeSet::new();
        let mut current = String::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or_default().to_string();
                assert!(declared.insert(name.clone()), "{name} declared twice");
                current = name;
            } else if !l.starts_with('#') {
                let name = l.split(['{', ' ']).next().unwrap_or_default();
                let base = name.strip_suffix("_sum").or_else(|| name.strip_suffix("_count")).unwrap_or(name);
                assert!(name == current || base == current, "{l} outside its family {current}");
            }
        }
    }

    /// `promtool check metrics` (Debian package prometheus) lints the exposition with classes
    /// and the policy status: names, units, `_total` on counters only, `quantile` on summaries
    /// only. Without promtool the test says so; under `CI=true` it fails instead.
    #[test]
    fn promtool_accepts_classes_and_the_policy() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let mut r = IntervalRecord { classes: two_classes(), ..Default::default() };
        r.interfaces.insert("inside".into(), InterfaceStats::default());
        r.protocols.insert("http".into(), ProtocolStats { category: "web".into(), ..Default::default() });
        r.policy = PolicyStatus {
            generation: 2,
            active_schedules: vec!["workday".into()],
            last_reload_unix_s: Some(1_800_000_000),
            last_reload_result: Some("refused".into()),
            last_reload_message: None,
        };
        let text = render(&r);
        let child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                assert!(std::env::var("CI").as_deref() != Ok("true"), "promtool is needed under CI: {e}");
                eprintln!("SKIPPED promtool_accepts_classes_and_the_policy: no promtool ({e}); apt install prometheus");
                return;
            }
        };
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}\n{text}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_refused_reload_reads_zero_and_no_reload_leaves_its_gauges_out() {
        let mut r = IntervalRecord::default();
        r.policy.generation = 1;
        let text = render(&r);
        assert!(text.contains("weir_policy_generation 1\n"), "{text}");
        assert!(text.contains("# TYPE weir_policy_schedule_active gauge\n"));
        assert!(!text.contains("weir_policy_last_reload"), "no reload yet:\n{text}");
        r.policy.last_reload_unix_s = Some(1_800_000_100);
        r.policy.last_reload_result = Some("refused".into());
        let text = render(&r);
        assert!(text.contains("weir_policy_last_reload_success 0\n"), "{text}");
        assert!(text.contains("weir_policy_last_reload_timestamp_seconds 1800000100\n"), "{text}");
    }
}
