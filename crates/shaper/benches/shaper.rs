//! Criterion benches of the shaper: nanoseconds per packet for an enqueue and its dequeue, in
//! each mode, and DSCP rewriting of a real frame. Each bench checks its own answer before
//! it is timed (every frame comes back, the rate holds, policing drops the excess), so a
//! bench that measures the wrong thing fails instead of reporting a fast number.
//!
//! `cargo bench -p weir-shaper` (scripts/bench-shaper.sh runs it too).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use weir_shaper::{ClassConfig, CodelParams, DropReason, Event, Limit, Mode, Packet, Shaper, ShaperConfig};

const PACKETS: u64 = 10_000;
const LEN: u32 = 1500;

fn config(mode: Option<Mode>, bits: u64) -> ShaperConfig {
    ShaperConfig {
        classes: vec![ClassConfig {
            name: Arc::from("c"),
            limit: mode.map(|mode| Limit {
                rate_bytes_per_s: bits / 8,
                burst_bytes: (bits / 8 / 100).max(3028),
                mode,
                codel: CodelParams { target_ns: 5_000_000, interval_ns: 100_000_000, mtu: 1514 },
            }),
        }],
        memory_limit: 32 << 20,
        frame_cost: 4096,
        flow_queues: 1024,
        quantum: 1514,
    }
}

#[derive(Default, Debug, Clone, Copy, PartialEq)]
struct Tally {
    sent: u64,
    dropped: u64,
    codel: u64,
    police: u64,
    bytes: u64,
}

/// Offer `PACKETS` frames of `flows` flows at `load` times the class rate, one dequeue per
/// arrival (a worker's batch loop at its finest), then drain by `next_wakeup`. Returns the tally
/// and the simulated seconds the sending took.
fn pass(s: &mut Shaper<u64>, bits: u64, load: f64, flows: u64, start: u64) -> (Tally, u64) {
    let mut t = Tally::default();
    let mut out = |e: Event<u64>| match e {
        Event::Send { frame, .. } => {
            t.sent += 1;
            t.bytes += u64::from(LEN);
            black_box(frame);
        }
        Event::Drop { reason, .. } => {
            t.dropped += 1;
            match reason {
                DropReason::Codel => t.codel += 1,
                DropReason::Police => t.police += 1,
                _ => {}
            }
        }
    };
    let gap = (f64::from(LEN) * 8.0 * 1e9 / (bits as f64 * load)) as u64;
    let mut now = start;
    for id in 0..PACKETS {
        let p = Packet { len: LEN, flow_hash: id % flows, ecn_capable: false };
        s.enqueue(0, 0, id, p, now, &mut out);
        s.dequeue(now, 64, &mut out);
        now += gap;
    }
    let sent_until = now;
    while let Some(wake) = s.next_wakeup(now) {
        now = wake.max(now);
        s.dequeue(now, 64, &mut out);
    }
    (t, sent_until.saturating_sub(start).max(now.saturating_sub(start)))
}

fn bench_shaper(c: &mut Criterion) {
    let bits = 1_000_000_000; // 1 Gbit/s class
    let mut g = c.benchmark_group("shaper");
    g.throughput(Throughput::Elements(PACKETS));

    // Check the answers first.
    let mut s = Shaper::new(&config(Some(Mode::Shape), bits), 0).unwrap();
    let (t, _) = pass(&mut s, bits, 0.9, 64, 0);
    assert_eq!((t.sent, t.dropped), (PACKETS, 0), "under the rate nothing is dropped");
    let mut s = Shaper::new(&config(Some(Mode::Shape), bits), 0).unwrap();
    let (t, ns) = pass(&mut s, bits, 2.0, 64, 0);
    assert_eq!(t.sent + t.dropped, PACKETS, "every frame came back");
    // Busy from start to end: the bytes sent are the rate times the time plus one burst.
    let expect = bits as f64 / 8.0 * (ns as f64 / 1e9) + (bits / 8 / 100) as f64;
    assert!((t.bytes as f64 / expect - 1.0).abs() < 0.01, "2x offered: sent {} bytes, expected {expect}", t.bytes);
    let mut s = Shaper::new(&config(Some(Mode::Police), bits), 0).unwrap();
    let (t, _) = pass(&mut s, bits, 2.0, 64, 0);
    assert_eq!(t.sent + t.police, PACKETS);
    // Half the frames fit the rate, plus the first burst's worth.
    let fits = PACKETS as f64 / 2.0 + (bits / 8 / 100) as f64 / f64::from(LEN);
    assert!((t.sent as f64 / fits - 1.0).abs() < 0.01, "policed to the rate: {t:?}");
    let mut s = Shaper::new(&config(None, bits), 0).unwrap();
    assert_eq!(pass(&mut s, bits, 2.0, 64, 0).0.sent, PACKETS);

    for (name, mode, load) in [
        ("shape_under_rate", Some(Mode::Shape), 0.9),
        ("shape_2x_overload_codel", Some(Mode::Shape), 2.0),
        ("police_2x_overload", Some(Mode::Police), 2.0),
        ("mark_only", None, 1.0),
    ] {
        let mut s = Shaper::new(&config(mode, bits), 0).unwrap();
        let mut start = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (t, ns) = pass(&mut s, bits, load, 64, start);
                start += ns + 1_000_000_000;
                black_box(t)
            })
        });
    }
    g.finish();

    // Rewriting the DS field of real frames: DSCP (with the IPv4 checksum update) and CE.
    let mut frame = vec![0u8; 1514];
    frame[12..14].copy_from_slice(&[0x81, 0x00]);
    frame[16..18].copy_from_slice(&[0x08, 0x00]);
    frame[18] = 0x45;
    frame[19] = 0x02;
    frame[20..22].copy_from_slice(&1496u16.to_be_bytes());
    let ck = weir_wire::checksum::checksum(&frame[18..38]);
    frame[28..30].copy_from_slice(&ck.to_be_bytes());
    assert_eq!(weir_wire::mark::set_dscp(&mut frame, 8), Ok(weir_wire::mark::Rewrite::Changed));
    assert_eq!(weir_wire::checksum::data(&frame[18..38]), 0xffff);
    let mut g = c.benchmark_group("mark");
    g.throughput(Throughput::Elements(1));
    let mut d = 0u8;
    g.bench_function("set_dscp_vlan_ipv4", |b| {
        b.iter(|| {
            d = (d + 1) & 0x3f;
            black_box(weir_wire::mark::set_dscp(black_box(&mut frame), d))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_shaper);
criterion_main!(benches);
