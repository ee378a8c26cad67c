//! Criterion benches for the classification path: frame parsing, flow lookup/insert, the DPI
//! scan, and the whole engine. Each bench checks its own answer first, so a bench that measures
//! the wrong thing fails instead of reporting a fast number.
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use weir_dpi::{Classifier, Dir, Endpoint, FlowInspect, L4, PacketMeta, PeerCache, ProtocolId, Verdict};
use weir_engine::{Engine, EngineConfig, FlowTableConfig, Ingress, LinkType, Shared};
use weir_export::{ExportFlow, Forwarding};
use weir_flow::{FlowKey, FlowTable, Seen};
use weir_testkit::packet::{Builder, flags, tcp_conversation};
use weir_wire::{Network, Transport, parse_frame};

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc612_0000 | (n & 0xffff)))
}

/// A mix of frames: TCP and UDP over IPv4 and IPv6, some VLAN-tagged, various payloads.
fn mixed_frames(n: usize) -> Vec<Vec<u8>> {
    let plain = Builder::default();
    let tagged = Builder { vlans: vec![100] };
    (0..n)
        .map(|i| {
            let i32_ = i as u32;
            let payload = vec![(i % 251) as u8; 64 + (i * 37) % 1200];
            match i % 4 {
                0 => plain.tcp((v4(i32_), 40000 + (i % 1000) as u16), (v4(i32_ + 1), 443), 1, 1, flags::ACK, &payload),
                1 => plain.udp((v4(i32_), 50000), (v4(i32_ + 7), 53), &payload[..40]),
                2 => {
                    let a = IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, (i % 60000) as u16));
                    let b = IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 1, 1));
                    plain.tcp((a, 1234), (b, 80), 7, 7, flags::ACK, &payload)
                }
                _ => tagged.udp((v4(i32_), 6881), (v4(i32_ + 3), 6881), &payload[..100.min(payload.len())]),
            }
        })
        .collect()
}

fn bench_parse(c: &mut Criterion) {
    let frames = mixed_frames(4096);
    let parse_all = |frames: &[Vec<u8>]| {
        let mut tcp = 0usize;
        for f in frames {
            if let Ok(p) = parse_frame(f, LinkType::Ethernet)
                && let Network::Ip(ip) = p.network
                && matches!(ip.transport, Transport::Tcp { .. })
            {
                tcp += 1;
            }
        }
        tcp
    };
    assert_eq!(parse_all(&frames), 2048, "half of the mixed frames are TCP");
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_frame/mixed", |b| b.iter(|| black_box(parse_all(black_box(&frames)))));
    g.finish();
}

fn bench_flow(c: &mut Criterion) {
    const FLOWS: u32 = 100_000;
    let keys: Vec<_> =
        (0..FLOWS).map(|i| FlowKey::new(v4(i), 10_000 + (i >> 16) as u16, v4(i.wrapping_mul(7919)), 443, 6)).collect();
    let touch_all = |table: &FlowTable<u64>, now: u64| {
        let mut created = 0u32;
        for (key, dir) in &keys {
            let h = table.hash(key);
            let mut shard = table.lock(table.shard_of(h));
            let t = shard.touch(key, h, Seen { dir: *dir, now, wire_len: 100, tcp_flags: 0x10 }, &mut |_, _| {});
            created += u32::from(t.is_new);
        }
        created
    };
    let config = FlowTableConfig { shards: 64, capacity: 1 << 18, ..FlowTableConfig::default() };
    // Check: the first pass creates every flow, the second finds every one.
    let check = FlowTable::new(config).unwrap();
    assert_eq!(touch_all(&check, 1), FLOWS);
    assert_eq!(touch_all(&check, 2), 0);
    assert_eq!(check.stats().active, u64::from(FLOWS));

    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(u64::from(FLOWS)));
    g.bench_function("lookup/100k-existing", |b| b.iter(|| black_box(touch_all(&check, 3))));
    g.bench_function("insert/100k-new", |b| {
        b.iter_batched(|| FlowTable::new(config).unwrap(), |t| black_box(touch_all(&t, 1)), BatchSize::LargeInput)
    });
    g.finish();
}

fn bench_dpi(c: &mut Criterion) {
    let classifier = Classifier::builtin().unwrap();
    let reg = classifier.registry();
    let client = Endpoint { ip: v4(1), port: 50000 };
    let server = Endpoint { ip: v4(2), port: 443 };
    // First payloads of several protocols, and their expected labels.
    let cases: Vec<(L4, &[u8], ProtocolId)> = vec![
        (
            L4::Tcp,
            b"\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbb",
            reg.lookup("bittorrent").unwrap(),
        ),
        (
            L4::Tcp,
            b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
            reg.lookup("http").unwrap(),
        ),
        (L4::Tcp, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", reg.lookup("ssh").unwrap()),
        (
            L4::Tcp,
            b"$MyNick weiruser|$Lock EXTENDEDPROTOCOLABCABCABCABCABCABC Pk=DCPLUSPLUS0.868|",
            reg.lookup("directconnect").unwrap(),
        ),
        (L4::Udp, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", reg.lookup("bittorrent").unwrap()),
    ];
    let peers = PeerCache::new(16, 3600);
    let classify = |l4: L4, payload: &[u8]| {
        let mut st = FlowInspect::default();
        let meta = PacketMeta {
            l4,
            dir: Dir::Originator,
            originator: client,
            responder: server,
            tcp_seq: if l4 == L4::Tcp { Some(1) } else { None },
            syn: false,
            payload,
            payload_len: payload.len(),
            now: 0,
        };
        // A first packet may leave the flow pending (a higher-priority signature could still
        // match further on); the label it would end with checks the answer.
        match classifier.inspect(&mut st, &meta, &peers) {
            Verdict::Done(l) => Some(l.protocol),
            Verdict::Pending => Some(classifier.finish(&st, l4, client, server, &peers, 0).protocol),
        }
    };
    for (l4, p, want) in &cases {
        assert_eq!(classify(*l4, p), Some(*want), "{:?}", String::from_utf8_lossy(p));
    }
    let random: Vec<u8> = (0..1400u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut g = c.benchmark_group("dpi");
    g.throughput(Throughput::Elements(cases.len() as u64));
    g.bench_function("first-packet/5-protocols", |b| {
        b.iter(|| {
            for (l4, p, _) in &cases {
                black_box(classify(*l4, black_box(p)));
            }
        })
    });
    g.throughput(Throughput::Bytes(random.len() as u64));
    g.bench_function("scan/1400B-no-match", |b| b.iter(|| black_box(classify(L4::Tcp, black_box(&random)))));
    g.finish();
}

fn bench_engine(c: &mut Criterion) {
    let classifier = Arc::new(Classifier::builtin().unwrap());
    let b = Builder::default();
    let mut frames = Vec::new();
    for i in 0..200u32 {
        let conv = tcp_conversation(
            &b,
            (v4(i), 40000 + i as u16),
            (v4(10_000 + i), 6881),
            &[
                (
                    true,
                    b"\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbb",
                ),
                (
                    false,
                    b"\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05aaaaaaaaaaaaaaaaaaaacccccccccccccccccccc",
                ),
                (false, &[0x55; 1400]),
                (false, &[0x55; 1400]),
                (false, &[0x55; 1400]),
                (false, &[0x55; 1400]),
            ],
        );
        frames.extend(conv.into_iter().map(|(f, _)| f));
    }
    // The same with what flow export and per-host accounting add on the data path: a record
    // per ended flow (drained and turned into export records, as a worker does before pushing
    // them onto the exporter's queue), the active-timeout check per packet, and host accounting
    // at each flow end.
    let run = |frames: &[Vec<u8>], export: bool| {
        let shared = Shared::new(Arc::clone(&classifier), FlowTableConfig::default(), 1024).unwrap();
        let config = if export {
            EngineConfig {
                record_flows: true,
                active_timeout_ns: 60_000_000_000,
                host_capacity: 4096,
                ..EngineConfig::default()
            }
        } else {
            EngineConfig::default()
        };
        let mut e = Engine::new(shared, config);
        let mut exported = 0u64;
        for (n, f) in frames.iter().enumerate() {
            e.process(f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, n as u64);
            if export && n % 64 == 63 {
                for r in e.drain_records() {
                    let x = ExportFlow::ended(&r, 0, [Forwarding::Forwarded; 2]);
                    exported += u64::from(black_box(x).data_records());
                }
            }
        }
        e.flush();
        for r in e.drain_records() {
            exported += u64::from(black_box(ExportFlow::ended(&r, 0, [Forwarding::Forwarded; 2])).data_records());
        }
        let bt = e.classifier().registry().lookup("bittorrent").unwrap();
        let host_bytes: u64 = e.hosts().entries().iter().map(|h| h.bytes[0] + h.bytes[1]).sum();
        (e.counters().protocol(bt).flows.get(), exported, host_bytes, e.counters().bytes.get())
    };
    assert_eq!(run(&frames, false).0, 200, "every conversation is BitTorrent");
    let (flows, exported, host_bytes, bytes) = run(&frames, true);
    assert_eq!((flows, exported), (200, 400), "one record each way per flow");
    assert_eq!(host_bytes, bytes, "every byte is counted to its inside host");
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("bittorrent-conversations", |bch| bch.iter(|| black_box(run(black_box(&frames), false))));
    g.bench_function("bittorrent-conversations/export+hosts", |bch| {
        bch.iter(|| black_box(run(black_box(&frames), true)))
    });
    g.finish();
}

/// One peer cache design, for [`bench_peer_cache`].
trait Peers: Send + Sync + 'static {
    fn look(&self, e: &Endpoint) -> bool;
    fn learn(&self, e: Endpoint);
}

impl Peers for PeerCache {
    fn look(&self, e: &Endpoint) -> bool {
        self.contains(e, 0)
    }
    fn learn(&self, e: Endpoint) {
        PeerCache::learn(self, e, weir_dpi::PeerKind::BitTorrent, 0)
    }
}

/// The design it replaced: one mutex around a hash map, taken for every lookup.
impl Peers for parking_lot::Mutex<std::collections::HashSet<Endpoint>> {
    fn look(&self, e: &Endpoint) -> bool {
        self.lock().contains(e)
    }
    fn learn(&self, e: Endpoint) {
        self.lock().insert(e);
    }
}

/// The bridge's hot path on the peer cache: every worker looks up both ends of every pending
/// packet's flow, while some learn. `threads` threads look up at once (each `LOOKUPS` per
/// iteration) while one more learns about 20,000 endpoints a second.
fn peer_lookups<P: Peers>(peers: &Arc<P>, threads: usize, iters: u64) -> std::time::Duration {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ep = |i: u32| Endpoint { ip: v4(i), port: 6881 + (i % 7) as u16 };
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, peers) = (Arc::clone(&stop), Arc::clone(peers));
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                peers.learn(ep(50_000 + i % 20_000));
                i = i.wrapping_add(1);
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        })
    };
    let start = std::time::Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let peers = Arc::clone(peers);
            std::thread::spawn(move || {
                let mut hits = 0usize;
                for _ in 0..iters {
                    for k in 0..PEER_LOOKUPS as u32 {
                        let i = k.wrapping_mul(2_654_435_761).wrapping_add(t as u32) % 40_000;
                        hits += usize::from(peers.look(&ep(i)));
                    }
                }
                hits
            })
        })
        .collect();
    let hits: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    black_box(hits);
    took
}

const PEER_LOOKUPS: usize = 100_000;

/// The lock-free cache against the one-mutex design it replaced, 1 and 2 lookup threads.
fn bench_peer_cache(c: &mut Criterion) {
    let ep = |i: u32| Endpoint { ip: v4(i), port: 6881 + (i % 7) as u16 };
    let cache = Arc::new(PeerCache::new(65_536, 3600));
    let locked = Arc::new(parking_lot::Mutex::new(std::collections::HashSet::new()));
    for i in 0..30_000u32 {
        Peers::learn(&*cache, ep(i));
        Peers::learn(&*locked, ep(i));
    }
    assert!(cache.look(&ep(7)) && !cache.look(&ep(40_000)) && locked.look(&ep(7)));
    let mut g = c.benchmark_group("peer-cache");
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements((PEER_LOOKUPS * threads) as u64));
        g.bench_function(format!("lock-free/{threads}-lookup-threads"), |b| {
            b.iter_custom(|iters| peer_lookups(&cache, threads, iters))
        });
        g.bench_function(format!("one-mutex/{threads}-lookup-threads"), |b| {
            b.iter_custom(|iters| peer_lookups(&locked, threads, iters))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse, bench_flow, bench_dpi, bench_engine, bench_peer_cache);
criterion_main!(benches);
