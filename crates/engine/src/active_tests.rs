//! Interim reports (active timeouts) and per-host accounting, through the whole engine.

use super::*;
use std::net::{IpAddr, Ipv4Addr};
use weir_testkit::packet::Builder;

const S: u64 = 1_000_000_000;

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, n))
}

fn engine(capacity: usize, active_s: u64) -> Engine {
    let classifier = Arc::new(Classifier::builtin().unwrap());
    let table = FlowTableConfig { shards: 1, capacity, ..FlowTableConfig::default() };
    let shared = Shared::new(classifier, table, 1024).unwrap();
    let config = EngineConfig {
        inside: vec!["198.18.0.0/28".parse().unwrap()],
        record_flows: true,
        active_timeout_ns: active_s * S,
        host_capacity: 64,
        ..EngineConfig::default()
    };
    Engine::new(shared, config)
}

/// A ping each second from `inside` to `outside` or back, at the given seconds.
fn pings(e: &mut Engine, b: &Builder, inside: IpAddr, outside: IpAddr, seconds: impl Iterator<Item = u64>) -> u64 {
    let mut bytes = 0;
    for t in seconds {
        let f = if t % 2 == 0 { b.ping(inside, outside, 1, t as u16) } else { b.ping(outside, inside, 1, t as u16) };
        bytes += f.len() as u64;
        e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, t * S);
    }
    bytes
}

/// The share of each record: (packets, bytes) per direction, summed over all records of a flow.
fn shares(e: &mut Engine) -> (Vec<ActiveRecord>, Vec<FlowRecord>) {
    (e.drain_active().collect(), e.drain_records().collect())
}

#[test]
fn a_long_flow_is_reported_every_timeout_and_its_records_add_up() {
    let mut e = engine(1024, 60);
    let b = Builder::default();
    let bytes = pings(&mut e, &b, ip(1), ip(200), 0..=250);
    e.flush();
    let (active, ended) = shares(&mut e);
    // Reports at 60, 120, 180 and 240 s of packet time; then the end.
    let at: Vec<u64> = active.iter().map(|r| r.last_seen / S).collect();
    assert_eq!(at, [60, 120, 180, 240]);
    assert_eq!(ended.len(), 1);
    let end = ended[0];
    assert_eq!(end.packets.iter().sum::<u64>(), 251);
    assert_eq!(end.reported.packets.iter().sum::<u64>(), 241);
    assert_eq!(end.reported.at, 240 * S);
    // Each record's share, from what the one before it reported: they add up to the totals.
    let mut packets = [0u64; 2];
    let mut sum_bytes = [0u64; 2];
    let mut before = Reported::default();
    for r in &active {
        assert_eq!(r.reported, before);
        let (p, b) = r.reported.since(r.packets, r.bytes);
        for i in 0..2 {
            packets[i] += p[i];
            sum_bytes[i] += b[i];
        }
        before = Reported { packets: r.packets, bytes: r.bytes, at: r.last_seen };
    }
    let (p, b) = end.reported.since(end.packets, end.bytes);
    for i in 0..2 {
        packets[i] += p[i];
        sum_bytes[i] += b[i];
    }
    assert_eq!(packets, end.packets);
    assert_eq!(sum_bytes, end.bytes);
    assert_eq!(sum_bytes[0] + sum_bytes[1], bytes);
    assert_eq!(e.counters().active_reports.get(), 4);
    assert_eq!(e.shared.active_flows(), 0, "the ended flow's entry is gone");
}

#[test]
fn a_quiet_flow_is_not_reported_again_without_new_packets() {
    let mut e = engine(1024, 60);
    let b = Builder::default();
    let quiet = |t: u64| b.udp((ip(1), 4000), (ip(200), 9), &t.to_be_bytes());
    for t in 0..=60u64 {
        let f = quiet(t);
        e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, t * S);
    }
    // Another flow keeps the clock going. At 125 s the quiet flow's second report is due, but
    // it had no packet since the first: no report; then it idles out (UDP: 60 s).
    let f = b.udp((ip(2), 4000), (ip(200), 9), b"tick");
    e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, 125 * S);
    let (active, ended) = shares(&mut e);
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].packets, [61, 0]);
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].end, EndReason::Idle);
    assert_eq!(ended[0].reported.packets, [61, 0]);
    assert_eq!(ended[0].reported.since(ended[0].packets, ended[0].bytes), ([0, 0], [0, 0]));
}

#[test]
fn flows_beyond_the_tracked_table_are_reported_whole_when_they_end() {
    // A table of 256 flows tracks max(256 / 8, 64) = 64 of them for interim reports: make 70
    // long flows.
    let mut e = engine(256, 10);
    let b = Builder::default();
    for t in 0..=12u64 {
        for n in 0..70u16 {
            let f = b.udp((ip(1), 10_000 + n), (ip(200), 9), b"\x00\x01\x02\x03 not a known protocol");
            e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, t * S);
        }
    }
    e.flush();
    let (active, ended) = shares(&mut e);
    let untracked = e.counters().active_untracked.get();
    assert_eq!(active.len() as u64 + untracked, 70, "{} reports, {untracked} untracked", active.len());
    assert_eq!(untracked, 6);
    assert_eq!(ended.len(), 70);
    for r in &ended {
        let (p, _) = r.reported.since(r.packets, r.bytes);
        assert_eq!(p[0] + r.reported.packets[0], 13);
    }
}

#[test]
fn hosts_get_every_byte_of_their_flows_by_direction() {
    let mut e = engine(1024, 60);
    let b = Builder::default();
    let inside = ip(3);
    let mut sent = [0u64; 2];
    for t in 0..200u64 {
        // The outside host opens this flow; the inside address is still the host counted.
        let (frame, out) = if t % 3 == 0 {
            (b.udp((inside, 5000), (ip(200), 53), b"x"), true)
        } else {
            (b.udp((ip(200), 53), (inside, 5000), b"yy"), false)
        };
        sent[usize::from(!out)] += frame.len() as u64;
        e.process(&frame, frame.len() as u32, LinkType::Ethernet, Ingress::Unknown, t * S / 2);
    }
    e.flush();
    let entries: Vec<_> = e.hosts().entries().to_vec();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].key.host, inside);
    assert_eq!(entries[0].bytes, sent);
    assert_eq!(entries[0].error, 0);
    let published = e.published_hosts();
    assert_eq!(published.lock().entries(), &entries[..]);
}

#[test]
fn the_first_packets_vlan_is_recorded() {
    let mut e = engine(1024, 0);
    let b = Builder { vlans: vec![42] };
    let f = b.ping(ip(1), ip(200), 7, 1);
    e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, S);
    let f = Builder::default().ping(ip(1), ip(200), 7, 2);
    e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, 2 * S);
    e.flush();
    let ended: Vec<_> = e.drain_records().collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].vlan, 42);
    assert_eq!(e.drain_active().count(), 0, "no active timeout, no interim reports");
}

/// With external expiry (the bridge), a worker's engine only starts a long flow's reports (the
/// first, on the packet that passes the timeout) and the sweeping engine makes the rest and ends
/// the flow: every byte is reported once, to one engine or the other, and to its host.
#[test]
fn with_external_expiry_the_sweeper_makes_the_later_reports_and_ends_the_flow() {
    let classifier = Arc::new(Classifier::builtin().unwrap());
    let table = FlowTableConfig { shards: 2, capacity: 1024, ..FlowTableConfig::default() };
    let shared = Shared::new(classifier, table, 1024).unwrap();
    let config = EngineConfig {
        inside: vec!["198.18.0.0/28".parse().unwrap()],
        record_flows: true,
        active_timeout_ns: 10 * S,
        host_capacity: 64,
        expiry: Expiry::External,
        ..EngineConfig::default()
    };
    let mut worker = Engine::new(shared.clone(), config.clone());
    let mut sweeper = Engine::new(shared.clone(), config);
    let b = Builder::default();
    let mut bytes = 0;
    let mut sweeper_reports = Vec::new();
    for t in 0..=35u64 {
        bytes += pings(&mut worker, &b, ip(1), ip(200), t..=t);
        // The control loop: interim reports every second of its clock.
        assert!(!sweeper.report_active(t * S + S / 2), "never a backlog of more than one step here");
        sweeper_reports.extend(sweeper.drain_active());
    }
    let worker_reports: Vec<ActiveRecord> = worker.drain_active().collect();
    assert_eq!(worker_reports.iter().map(|r| r.last_seen / S).collect::<Vec<_>>(), [10]);
    assert_eq!(sweeper_reports.iter().map(|r| r.reported.at / S).collect::<Vec<_>>(), [10, 20]);
    assert!(worker.drain_records().next().is_none());
    // Idle past the ICMP timeout: the sweeper ends it.
    let ended: usize = (0..2).map(|s| sweeper.expire_shard(s, 200 * S)).sum();
    assert_eq!(ended, 1);
    let records: Vec<FlowRecord> = sweeper.drain_records().collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].reported.at / S, 30);
    assert_eq!(shared.active_flows(), 0);
    // Each engine counted its share to the host; together, every byte.
    worker.publish_hosts();
    sweeper.publish_hosts();
    let tables = [worker.published_hosts().lock().clone(), sweeper.published_hosts().lock().clone()];
    let merged = weir_stats::hosts::merge(tables.iter());
    assert_eq!(merged.iter().map(|e| e.bytes[0] + e.bytes[1]).sum::<u64>(), bytes);
}
