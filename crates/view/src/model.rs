//! What the views show, computed from a record: rows sorted by a key, shares, and units.
//!
//! Shares are fractions in `0.0..=1.0` of the sum over all protocols in one direction; a zero,
//! negative or non-finite total gives shares of zero, never NaN.

use weir_stats::IntervalRecord;

/// How the protocol rows are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Outbound bits/s, largest first (key `o`).
    #[default]
    Outbound,
    /// Inbound bits/s, largest first (key `i`).
    Inbound,
    /// Protocol name, A to Z (key `n`).
    Name,
    /// Outbound plus inbound bits/s, largest first (key `t`).
    Total,
    /// Peer-to-peer first (key `p`): hosts by their peer-to-peer bytes; protocols of category
    /// p2p before the others, each by total.
    P2p,
}

impl SortKey {
    /// The key for a pressed character, if it is one of `o`, `i`, `n`, `t`.
    pub fn from_key(c: char) -> Option<SortKey> {
        match c {
            'o' | 'O' => Some(SortKey::Outbound),
            'i' | 'I' => Some(SortKey::Inbound),
            'n' | 'N' => Some(SortKey::Name),
            't' | 'T' => Some(SortKey::Total),
            'p' | 'P' => Some(SortKey::P2p),
            _ => None,
        }
    }

    /// A short word for the header.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Outbound => "outbound",
            SortKey::Inbound => "inbound",
            SortKey::Name => "name",
            SortKey::Total => "total",
            SortKey::P2p => "p2p",
        }
    }
}

/// One protocol as shown in `weir top`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolRow {
    /// Protocol name.
    pub name: String,
    /// Its category.
    pub category: String,
    /// Outbound bits/s over the interval.
    pub bps_out: f64,
    /// Inbound bits/s over the interval.
    pub bps_in: f64,
    /// Share of all outbound bits/s, `0.0..=1.0`.
    pub share_out: f64,
    /// Share of all inbound bits/s, `0.0..=1.0`.
    pub share_in: f64,
    /// Outbound bytes since start.
    pub bytes_out: u64,
    /// Inbound bytes since start.
    pub bytes_in: u64,
    /// Flows labelled since start.
    pub flows: u64,
    /// Packets dropped by policy since start, both directions.
    pub dropped: u64,
}

/// A rate as shown: finite and not negative.
pub(crate) fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// `part / total` in `0.0..=1.0`; zero when the total is zero, negative or not finite.
pub fn share(part: f64, total: f64) -> f64 {
    let (part, total) = (clean(part), clean(total));
    if total <= 0.0 { 0.0 } else { (part / total).clamp(0.0, 1.0) }
}

/// The record's protocols as rows, sorted by `sort` (ties by name, so the order is stable).
pub fn protocol_rows(record: &IntervalRecord, sort: SortKey) -> Vec<ProtocolRow> {
    let total_out: f64 = record.protocols.values().map(|p| clean(p.bps_out)).sum();
    let total_in: f64 = record.protocols.values().map(|p| clean(p.bps_in)).sum();
    let mut rows: Vec<ProtocolRow> = record
        .protocols
        .iter()
        .map(|(name, p)| ProtocolRow {
            name: name.clone(),
            category: p.category.clone(),
            bps_out: clean(p.bps_out),
            bps_in: clean(p.bps_in),
            share_out: share(p.bps_out, total_out),
            share_in: share(p.bps_in, total_in),
            bytes_out: p.bytes_out,
            bytes_in: p.bytes_in,
            flows: p.flows,
            dropped: p.dropped_out.saturating_add(p.dropped_in),
        })
        .collect();
    sort_rows(&mut rows, sort);
    rows
}

/// Sort rows in place by `sort`; ties (and [`SortKey::Name`]) by name.
pub fn sort_rows(rows: &mut [ProtocolRow], sort: SortKey) {
    let key = |r: &ProtocolRow| match sort {
        SortKey::Outbound => r.bps_out,
        SortKey::Inbound => r.bps_in,
        SortKey::Total => r.bps_out + r.bps_in,
        SortKey::Name => 0.0,
        SortKey::P2p => r.bps_out + r.bps_in,
    };
    let p2p_first = |r: &ProtocolRow| sort == SortKey::P2p && r.category == "p2p";
    rows.sort_by(|a, b| {
        p2p_first(b).cmp(&p2p_first(a)).then_with(|| key(b).total_cmp(&key(a))).then_with(|| a.name.cmp(&b.name))
    });
}

/// One inside host as shown in `weir top`'s hosts view and `weir report`.
#[derive(Clone, Debug, PartialEq)]
pub struct HostRow {
    /// Its address.
    pub host: String,
    /// Bytes from it since start.
    pub bytes_out: u64,
    /// Bytes to it since start.
    pub bytes_in: u64,
    /// Peer-to-peer bytes from it.
    pub p2p_out: u64,
    /// Peer-to-peer bytes to it.
    pub p2p_in: u64,
    /// Peer-to-peer share of its bytes, `0.0..=1.0`.
    pub p2p_share: f64,
    /// Its protocols by bytes (both directions), largest first.
    pub protocols: Vec<(String, u64)>,
    /// At most this many more bytes may have gone uncounted.
    pub error: u64,
}

impl HostRow {
    /// Both directions.
    pub fn bytes(&self) -> u64 {
        self.bytes_out.saturating_add(self.bytes_in)
    }

    /// Peer-to-peer, both directions.
    pub fn p2p(&self) -> u64 {
        self.p2p_out.saturating_add(self.p2p_in)
    }
}

/// The record's hosts as rows, sorted by `sort`: bytes out, in, both, peer-to-peer bytes, or
/// address (ties by address, so the order is stable).
pub fn host_rows(record: &IntervalRecord, sort: SortKey) -> Vec<HostRow> {
    let mut rows: Vec<HostRow> = record
        .hosts
        .iter()
        .map(|h| {
            let mut protocols: Vec<(String, u64)> = h
                .protocols
                .iter()
                .map(|(n, p)| (n.clone(), p.bytes_out.saturating_add(p.bytes_in)))
                .filter(|(_, b)| *b > 0)
                .collect();
            protocols.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let total = h.bytes_out.saturating_add(h.bytes_in);
            let p2p = h.p2p_bytes_out.saturating_add(h.p2p_bytes_in);
            HostRow {
                host: h.host.clone(),
                bytes_out: h.bytes_out,
                bytes_in: h.bytes_in,
                p2p_out: h.p2p_bytes_out,
                p2p_in: h.p2p_bytes_in,
                p2p_share: share(p2p as f64, total as f64),
                protocols,
                error: h.error_bytes,
            }
        })
        .collect();
    let addr = |r: &HostRow| r.host.parse::<std::net::IpAddr>().ok();
    let key = |r: &HostRow| match sort {
        SortKey::Outbound => r.bytes_out,
        SortKey::Inbound => r.bytes_in,
        SortKey::Total => r.bytes(),
        SortKey::P2p => r.p2p(),
        SortKey::Name => 0,
    };
    rows.sort_by(|a, b| key(b).cmp(&key(a)).then_with(|| addr(a).cmp(&addr(b))).then_with(|| a.host.cmp(&b.host)));
    rows
}

/// One shaping class in one direction, as `weir top` and `weir report` show it.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassRow {
    /// The class's name.
    pub class: String,
    /// "shape", "police" or "mark".
    pub kind: String,
    /// "out" or "in".
    pub direction: &'static str,
    /// The configured rate, bits/s (0: none, a class that only marks).
    pub rate_set_bps: u64,
    /// The achieved rate over the interval, bits/s.
    pub bps: f64,
    /// `bps` as a share of the configured rate, `0.0..=1.0`; `None` without a configured rate.
    pub rate_use: Option<f64>,
    /// Frames handed to the class since start.
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Frames the class sent on since start.
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Frames queued now.
    pub queued_frames: u64,
    /// Bytes queued now.
    pub queued_bytes: u64,
    /// Median time in the queue over the interval, µs.
    pub sojourn_p50_us: u64,
    /// 99th percentile of it, µs.
    pub sojourn_p99_us: u64,
    /// Frames dropped since start by reason: police, CoDel, queue full, flushed.
    pub drops: [u64; 4],
    /// Bytes of all dropped frames.
    pub dropped_bytes: u64,
    /// Frames CoDel marked CE instead of dropping.
    pub ecn_marked: u64,
    /// Frames whose DSCP the class rewrote.
    pub dscp_marked: u64,
}

/// The reasons of [`ClassRow::drops`], in order, as metrics and the drops panel name them.
pub const CLASS_DROP_REASONS: [&str; 4] = ["police", "codel", "queue_full", "flushed"];

impl ClassRow {
    /// Frames dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.drops.iter().fold(0u64, |a, d| a.saturating_add(*d))
    }
}

/// The record's classes as rows, two per class (out, then in), in the policy's order.
pub fn class_rows(record: &IntervalRecord) -> Vec<ClassRow> {
    record
        .classes
        .iter()
        .flat_map(|c| {
            [("out", &c.out), ("in", &c.inb)].map(|(direction, d)| ClassRow {
                class: c.name.clone(),
                kind: c.kind.clone(),
                direction,
                rate_set_bps: c.rate_set_bps,
                bps: clean(d.bps),
                rate_use: (c.rate_set_bps > 0).then(|| share(d.bps, c.rate_set_bps as f64)),
                packets_in: d.packets_in,
                bytes_in: d.bytes_in,
                packets_out: d.packets_out,
                bytes_out: d.bytes_out,
                queued_frames: d.queued_frames,
                queued_bytes: d.queued_bytes,
                sojourn_p50_us: d.sojourn_us.p50,
                sojourn_p99_us: d.sojourn_us.p99,
                drops: [d.dropped_police, d.dropped_codel, d.dropped_queue_full, d.dropped_flushed],
                dropped_bytes: d.dropped_bytes,
                ecn_marked: d.ecn_marked,
                dscp_marked: d.dscp_marked,
            })
        })
        .collect()
}

/// The policy status as one line: `policy generation 3 · schedules workday, p2p-cap · last
/// reload 2027-01-15 08:00 UTC (5m00s before this record): ok: ...`; `None` when the record
/// carries none (generation 0 and no reload: a bridge without the policy status, or `weir
/// classify`). The flag says the last reload was refused.
pub fn policy_line(record: &IntervalRecord) -> Option<(String, bool)> {
    let p = &record.policy;
    if p.generation == 0 && p.last_reload_unix_s.is_none() {
        return None;
    }
    let mut s = format!("policy generation {}", p.generation);
    if p.active_schedules.is_empty() {
        s.push_str(" · no schedule active");
    } else {
        s.push_str(&format!(" · schedules {}", p.active_schedules.join(", ")));
    }
    let mut refused = false;
    if let Some(at) = p.last_reload_unix_s {
        let when = crate::chart::utc(at as f64);
        s.push_str(&format!(" · last reload {}", if when.is_empty() { at.to_string() } else { when }));
        let ago = record.time_unix_s - at as f64;
        if record.time_unix_s > 0.0 && ago.is_finite() && ago >= 0.0 {
            s.push_str(&format!(" ({} ago)", format_duration(ago)));
        }
        if let Some(result) = &p.last_reload_result {
            refused = result != "ok";
            s.push_str(&format!(": {result}"));
        }
        if let Some(m) = p.last_reload_message.as_deref().filter(|m| !m.is_empty()) {
            s.push_str(&format!(" ({m})"));
        }
    }
    Some((s, refused))
}

/// Microseconds as `0 µs`, `850 µs`, `12.3 ms`, `1.20 s`.
pub fn format_us(us: u64) -> String {
    if us < 1000 { format!("{us} µs") } else { format_ns(us.saturating_mul(1000)) }
}

/// A bar `width` cells wide filled to `share` (`0.0..=1.0`) with eighth-block precision.
pub fn share_bar(share: f64, width: usize) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths_total = width.saturating_mul(8);
    let filled = (clean(share).min(1.0) * eighths_total as f64).round() as usize;
    let filled = filled.min(eighths_total);
    let mut s = String::with_capacity(width * 3);
    s.extend(std::iter::repeat_n('█', filled / 8));
    let mut cells = filled / 8;
    if !filled.is_multiple_of(8) {
        s.push(PARTIAL[filled % 8]);
        cells += 1;
    }
    s.extend(std::iter::repeat_n(' ', width - cells));
    s
}

/// Bits per second with a decimal unit: `0 bit/s`, `950 bit/s`, `12.3 kbit/s`, `4.56 Mbit/s`.
pub fn format_bps(bps: f64) -> String {
    let v = clean(bps);
    const UNITS: [&str; 5] = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    scaled(v, 1000.0, &UNITS)
}

/// A count of bytes with a decimal unit: `512 B`, `1.23 kB`, `4.5 MB`, `2.00 GB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    scaled(bytes as f64, 1000.0, &UNITS)
}

/// A large count made short: `999`, `12.3k`, `4.56M`.
pub fn format_count(n: u64) -> String {
    const UNITS: [&str; 5] = ["", "k", "M", "G", "T"];
    let s = scaled(n as f64, 1000.0, &UNITS);
    s.replace(' ', "")
}

/// Nanoseconds as `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`.
pub fn format_ns(ns: u64) -> String {
    const UNITS: [&str; 4] = ["ns", "µs", "ms", "s"];
    scaled(ns as f64, 1000.0, &UNITS)
}

/// Seconds as `42s`, `3m07s`, `5h02m`, `3d04h`.
pub fn format_duration(secs: f64) -> String {
    let s = clean(secs).min(1e12) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `v` scaled by `step` to the largest unit that keeps it at least 1, with three significant digits.
fn scaled(v: f64, step: f64, units: &[&str]) -> String {
    let mut v = v;
    let mut i = 0;
    while v >= step && i + 1 < units.len() {
        v /= step;
        i += 1;
    }
    let unit = units.get(i).copied().unwrap_or("");
    if i == 0 {
        format!("{v:.0} {unit}")
    } else if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// A percentage with one decimal: `45.1%`.
pub fn format_share(share: f64) -> String {
    format!("{:.1}%", clean(share) * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_stats::ProtocolStats;

    fn record(protos: &[(&str, f64, f64)]) -> IntervalRecord {
        let mut r = IntervalRecord::default();
        for (name, o, i) in protos {
            r.protocols.insert((*name).into(), ProtocolStats { bps_out: *o, bps_in: *i, ..Default::default() });
        }
        r
    }

    fn names(rows: &[ProtocolRow]) -> Vec<&str> {
        rows.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn each_key_orders_the_rows() {
        let r = record(&[("http", 10.0, 900.0), ("bittorrent", 800.0, 300.0), ("dns", 5.0, 5.0), ("ssh", 50.0, 0.0)]);
        assert_eq!(names(&protocol_rows(&r, SortKey::Outbound)), ["bittorrent", "ssh", "http", "dns"]);
        assert_eq!(names(&protocol_rows(&r, SortKey::Inbound)), ["http", "bittorrent", "dns", "ssh"]);
        assert_eq!(names(&protocol_rows(&r, SortKey::Name)), ["bittorrent", "dns", "http", "ssh"]);
        assert_eq!(names(&protocol_rows(&r, SortKey::Total)), ["bittorrent", "http", "ssh", "dns"]);
    }

    #[test]
    fn p2p_sorts_peer_to_peer_protocols_first() {
        let mut r = record(&[("http", 900.0, 900.0), ("bittorrent", 10.0, 1.0), ("edonkey", 50.0, 0.0)]);
        for (name, p) in r.protocols.iter_mut() {
            p.category = if name == "http" { "web".into() } else { "p2p".into() };
        }
        assert_eq!(names(&protocol_rows(&r, SortKey::P2p)), ["edonkey", "bittorrent", "http"]);
    }

    fn host(addr: &str, out: u64, inb: u64, p2p: (u64, u64)) -> weir_stats::HostStats {
        let mut h = weir_stats::HostStats {
            host: addr.into(),
            bytes_out: out,
            bytes_in: inb,
            p2p_bytes_out: p2p.0,
            p2p_bytes_in: p2p.1,
            ..Default::default()
        };
        h.protocols.insert(
            "bittorrent".into(),
            weir_stats::HostProtocolStats { category: "p2p".into(), bytes_out: p2p.0, bytes_in: p2p.1, error_bytes: 0 },
        );
        h.protocols.insert(
            "http".into(),
            weir_stats::HostProtocolStats {
                category: "web".into(),
                bytes_out: out - p2p.0,
                bytes_in: inb - p2p.1,
                error_bytes: 0,
            },
        );
        h
    }

    #[test]
    fn host_rows_sort_by_each_key_and_show_the_p2p_share() {
        let r = IntervalRecord {
            hosts: vec![
                host("198.18.0.10", 1000, 100, (900, 50)),
                host("198.18.0.2", 50, 5000, (0, 0)),
                host("198.18.0.9", 300, 300, (300, 100)),
            ],
            ..IntervalRecord::default()
        };
        let hosts = |k| host_rows(&r, k).into_iter().map(|h| h.host).collect::<Vec<_>>();
        assert_eq!(hosts(SortKey::P2p), ["198.18.0.10", "198.18.0.9", "198.18.0.2"]);
        assert_eq!(hosts(SortKey::Inbound), ["198.18.0.2", "198.18.0.9", "198.18.0.10"]);
        assert_eq!(hosts(SortKey::Outbound), ["198.18.0.10", "198.18.0.9", "198.18.0.2"]);
        // By address, not by text: .2 before .9 before .10.
        assert_eq!(hosts(SortKey::Name), ["198.18.0.2", "198.18.0.9", "198.18.0.10"]);
        let top = &host_rows(&r, SortKey::P2p)[0];
        assert!((top.p2p_share - 950.0 / 1100.0).abs() < 1e-9);
        assert_eq!(top.protocols[0], ("bittorrent".to_string(), 950));
    }

    #[test]
    fn ties_break_by_name_so_the_order_never_flickers() {
        let r = record(&[("zeta", 0.0, 0.0), ("alpha", 0.0, 0.0), ("mid", 0.0, 0.0)]);
        for key in [SortKey::Outbound, SortKey::Inbound, SortKey::Total, SortKey::Name] {
            assert_eq!(names(&protocol_rows(&r, key)), ["alpha", "mid", "zeta"], "{key:?}");
        }
    }

    #[test]
    fn shares_are_fractions_of_each_direction_and_sum_to_one() {
        let r = record(&[("a", 750.0, 100.0), ("b", 250.0, 300.0)]);
        let rows = protocol_rows(&r, SortKey::Name);
        assert_eq!((rows[0].share_out, rows[1].share_out), (0.75, 0.25));
        assert_eq!((rows[0].share_in, rows[1].share_in), (0.25, 0.75));
        let sum_in: f64 = rows.iter().map(|r| r.share_in).sum();
        assert!((sum_in - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_rates_give_zero_shares_not_nan() {
        let r = record(&[("a", -5.0, f64::INFINITY), ("b", 0.0, f64::NAN)]);
        for row in protocol_rows(&r, SortKey::Total) {
            assert_eq!((row.share_out, row.share_in, row.bps_out, row.bps_in), (0.0, 0.0, 0.0, 0.0), "{row:?}");
        }
        assert_eq!(share(1.0, 0.0), 0.0);
        assert_eq!(share(5.0, 2.0), 1.0);
    }

    #[test]
    fn share_bar_fills_by_eighths_and_keeps_its_width() {
        assert_eq!(share_bar(0.0, 4), "    ");
        assert_eq!(share_bar(1.0, 4), "████");
        assert_eq!(share_bar(0.5, 4), "██  ");
        assert_eq!(share_bar(1.0 / 32.0, 4), "▏   ");
        assert_eq!(share_bar(7.0 / 8.0 / 4.0 + 0.5, 4), "██▉ ");
        for s in [-1.0, 0.013, 0.5, 0.999, 2.0, f64::NAN] {
            for w in [0, 1, 7, 20] {
                assert_eq!(share_bar(s, w).chars().count(), w, "{s} {w}");
            }
        }
    }

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(format_bps(0.0), "0 bit/s");
        assert_eq!(format_bps(950.0), "950 bit/s");
        assert_eq!(format_bps(12_345.0), "12.3 kbit/s");
        assert_eq!(format_bps(4_560_000.0), "4.56 Mbit/s");
        assert_eq!(format_bps(987_000_000.0), "987 Mbit/s");
        assert_eq!(format_bps(-3.0), "0 bit/s");
        assert_eq!(format_bps(2e15), "2000 Tbit/s");
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1_230), "1.23 kB");
        assert_eq!(format_bytes(u64::MAX), "18447 PB");
        assert_eq!(format_count(12_345), "12.3k");
        assert_eq!(format_ns(850), "850 ns");
        assert_eq!(format_ns(12_300), "12.3 µs");
        assert_eq!(format_duration(3.2), "3s");
        assert_eq!(format_duration(187.0), "3m07s");
        assert_eq!(format_duration(18_120.0), "5h02m");
        assert_eq!(format_duration(273_600.0), "3d04h");
        assert_eq!(format_share(0.4512), "45.1%");
    }

    #[test]
    fn class_rows_come_two_per_class_with_the_rate_use_and_drops() {
        let mut r = IntervalRecord::default();
        r.classes.push(weir_stats::ClassStats {
            name: "p2p".into(),
            kind: "shape".into(),
            rate_set_bps: 8_000_000,
            out: weir_stats::ClassDirStats { bps: 6e6, dropped_codel: 2, dropped_flushed: 1, ..Default::default() },
            inb: weir_stats::ClassDirStats { bps: f64::NAN, ..Default::default() },
        });
        r.classes.push(weir_stats::ClassStats { name: "mark".into(), kind: "mark".into(), ..Default::default() });
        let rows = class_rows(&r);
        let keys: Vec<(&str, &str)> = rows.iter().map(|c| (c.class.as_str(), c.direction)).collect();
        assert_eq!(keys, [("p2p", "out"), ("p2p", "in"), ("mark", "out"), ("mark", "in")]);
        assert_eq!(rows[0].rate_use, Some(0.75));
        assert_eq!((rows[0].drops, rows[0].dropped()), ([0, 2, 0, 1], 3));
        assert_eq!((rows[1].bps, rows[1].rate_use), (0.0, Some(0.0)), "NaN reads as zero");
        assert_eq!(rows[2].rate_use, None, "no rate, no use");
        assert!(class_rows(&IntervalRecord::default()).is_empty());
    }

    #[test]
    fn the_policy_line_says_the_generation_schedules_and_last_reload() {
        let mut r = IntervalRecord::default();
        assert_eq!(policy_line(&r), None);
        r.policy.generation = 4;
        assert_eq!(policy_line(&r), Some(("policy generation 4 · no schedule active".to_string(), false)));
        r.policy.active_schedules = vec!["night".into()];
        r.policy.last_reload_unix_s = Some(1_800_000_000);
        r.policy.last_reload_result = Some("refused".into());
        r.policy.last_reload_message = Some("bad rate".into());
        let (line, refused) = policy_line(&r).unwrap();
        assert_eq!(
            line,
            "policy generation 4 · schedules night · last reload 2027-01-15 08:00 UTC: refused (bad rate)"
        );
        assert!(refused);
        assert_eq!(format_us(0), "0 µs");
        assert_eq!(format_us(850), "850 µs");
        assert_eq!(format_us(41_000), "41.0 ms");
    }

    #[test]
    fn keys_map_to_sorts() {
        assert_eq!(SortKey::from_key('o'), Some(SortKey::Outbound));
        assert_eq!(SortKey::from_key('i'), Some(SortKey::Inbound));
        assert_eq!(SortKey::from_key('n'), Some(SortKey::Name));
        assert_eq!(SortKey::from_key('t'), Some(SortKey::Total));
        assert_eq!(SortKey::from_key('p'), Some(SortKey::P2p));
        assert_eq!(SortKey::from_key('x'), None);
    }
}
