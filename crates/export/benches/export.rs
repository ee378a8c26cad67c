//! Criterion benches for flow export, per record: what a worker pays (turning an engine record
//! into an [`ExportFlow`] and pushing it onto the exporter's queue) and what the exporter thread
//! pays (encoding). Each bench checks its answer: the encoder must make exactly one data record
//! per direction with packets, and the queue must account for every record (queued + dropped),
//! with every queued one sent.
//!
//! Run: `cargo bench -p weir-export`. At 100k new flows per second, a worker's share is
//! `100_000 x (try_send time)`; the README gives the figure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;
use weir_dpi::{Classifier, Decision, Label, ProtocolId};
use weir_engine::{EndReason, FlowRecord, Reported};
use weir_export::{AppTable, Collector, Encoder, EncoderConfig, ExportFlow, Exporter, ExporterConfig, Forwarding};

/// Flow records: IPv4 and IPv6, most with packets both ways, one in eight one-way.
fn records(n: usize) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let (a, b) = if i % 4 == 3 {
                (
                    IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, i as u16)),
                    IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 1)),
                )
            } else {
                (IpAddr::V4(Ipv4Addr::from(0xc612_0000 | i as u32 & 0xffff)), IpAddr::V4(Ipv4Addr::new(198, 19, 0, 1)))
            };
            FlowRecord {
                ip_protocol: 6,
                originator: (a, 40_000 + (i % 20_000) as u16),
                responder: (b, 443),
                originator_inside: true,
                label: Label { protocol: ProtocolId(1 + (i % 16) as u16), decision: Decision::NoMatch },
                packets: [10 + i as u64 % 7, if i % 8 == 5 { 0 } else { 8 }],
                bytes: [5000, if i % 8 == 5 { 0 } else { 400 }],
                first_seen: 1_700_000_000_000_000_000 + i as u64,
                last_seen: 1_700_000_005_000_000_000 + i as u64,
                end: EndReason::Closed,
                vlan: 0,
                reported: Reported::default(),
            }
        })
        .collect()
}

fn apps() -> Arc<AppTable> {
    Arc::new(AppTable::from_registry(Classifier::builtin().unwrap().registry()))
}

fn expected_data_records(recs: &[FlowRecord]) -> u64 {
    recs.iter().map(|r| u64::from(r.packets[0] > 0) + u64::from(r.packets[1] > 0)).sum()
}

fn bench_encode(c: &mut Criterion) {
    let recs = records(4096);
    let want = expected_data_records(&recs);
    let config = EncoderConfig { domain: 1, max_message: 1400, interfaces: [1, 2] };
    let mut encoder = Encoder::new(config, apps());
    let mut encode_all = |recs: &[FlowRecord]| {
        let (mut records, mut octets) = (0u64, 0usize);
        for r in recs {
            let f = ExportFlow::ended(r, 0, [Forwarding::Forwarded; 2]);
            encoder.push(&f, 1, &mut |m, n| {
                records += u64::from(n);
                octets += m.len();
            });
        }
        encoder.flush(1, &mut |m, n| {
            records += u64::from(n);
            octets += m.len();
        });
        (records, octets)
    };
    let (records, octets) = encode_all(&recs);
    assert_eq!(records, want, "one data record per direction with packets");
    assert!(octets > 70 * want as usize, "{octets} octets for {want} records");
    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("encode/flow-record", |b| b.iter(|| black_box(encode_all(black_box(&recs)))));
    g.finish();
}

fn bench_queue(c: &mut Criterion) {
    let recs = records(4096);
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sink.local_addr().unwrap();
    // Drain the collector's socket so the exporter's sends never fail.
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while sink.recv(&mut buf).is_ok() {}
    });
    let config = ExporterConfig {
        collectors: vec![Collector::parse(&addr.to_string()).unwrap()],
        encoder: EncoderConfig { domain: 1, max_message: 1400, interfaces: [1, 2] },
        template_refresh: Duration::from_secs(60),
        queue: 65536,
        linger: Duration::from_millis(100),
        udp_messages_per_s: None,
        core: None,
    };
    let exporter = Exporter::start(config, apps()).unwrap();
    let handle = exporter.handle().unwrap();
    let (mut sent, mut accepted_records) = (0u64, 0u64);
    let mut g = c.benchmark_group("export");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("try_send/flow-record", |b| {
        b.iter(|| {
            for r in &recs {
                let f = ExportFlow::ended(r, 0, [Forwarding::Forwarded; 2]);
                if handle.try_send(black_box(f)) {
                    accepted_records += u64::from(f.data_records());
                }
            }
            sent += recs.len() as u64;
        })
    });
    g.finish();
    drop(handle);
    let stats = exporter.finish(Duration::from_secs(5));
    assert_eq!(stats.queued + stats.dropped, sent, "every record is queued or counted as dropped");
    let c0 = &stats.collectors[0];
    let flows_sent = c0.records - c0.template_rounds * apps().apps().len() as u64;
    assert_eq!(c0.records_lost, 0);
    assert_eq!(flows_sent, accepted_records, "every queued record was encoded and sent");
    eprintln!(
        "export/try_send: {sent} records offered, {} queued, {} dropped ({:.2}%) with the exporter thread on a shared core",
        stats.queued,
        stats.dropped,
        100.0 * stats.dropped as f64 / sent.max(1) as f64
    );
}

criterion_group!(benches, bench_encode, bench_queue);
criterion_main!(benches);
