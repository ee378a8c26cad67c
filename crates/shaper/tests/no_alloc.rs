//! The shaper allocates only when it is built: shaping, policing, CoDel drops, evictions at the
//! memory limit, counters and the sojourn-histogram hand-over allocate nothing per packet.
//! dhat's heap profiler (in testing mode) counts every allocation of this test binary.

use std::sync::Arc;
use weir_shaper::{ClassConfig, CodelParams, Event, Limit, Mode, Packet, Shaper, ShaperConfig};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn class(name: &str, bits: u64, mode: Mode) -> ClassConfig {
    ClassConfig {
        name: Arc::from(name),
        limit: Some(Limit {
            rate_bytes_per_s: bits / 8,
            burst_bytes: 12_500,
            mode,
            codel: CodelParams { target_ns: 5_000_000, interval_ns: 100_000_000, mtu: 1514 },
        }),
    }
}

#[test]
fn no_allocation_per_packet() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let config = ShaperConfig {
        classes: vec![
            class("shaped", 10_000_000, Mode::Shape),
            class("policed", 10_000_000, Mode::Police),
            ClassConfig { name: Arc::from("mark"), limit: None },
        ],
        // 256 frames: the flood below hits the memory limit, so evictions run too.
        memory_limit: 256 * 4096,
        frame_cost: 4096,
        flow_queues: 1024,
        quantum: 1514,
    };
    let mut shaper: Shaper<u64> = Shaper::new(&config, 0).expect("valid config");
    let collector = shaper.take_sojourn_collector().expect("first take");
    let (mut sent, mut dropped, mut marked) = (0u64, 0u64, 0u64);
    let mut out = |e: Event<u64>| match e {
        Event::Send { mark_ce, .. } => {
            sent += 1;
            marked += u64::from(mark_ce);
        }
        Event::Drop { .. } => dropped += 1,
    };
    let mut now = 0u64;
    let mut id = 0u64;
    let mut step = |shaper: &mut Shaper<u64>, out: &mut dyn FnMut(Event<u64>), rounds: u64| {
        for _ in 0..rounds {
            // 3x the rate into each class, 8 flows, half ECN-capable.
            for _ in 0..3 {
                for class in 0..3 {
                    let p = Packet { len: 1500, flow_hash: id % 8, ecn_capable: id.is_multiple_of(2) };
                    shaper.enqueue(class, (id % 2) as usize, id, p, now, &mut &mut *out);
                    id += 1;
                }
            }
            now += 1_200_000; // 1500 bytes at 10 Mbit/s
            shaper.dequeue(now, 64, &mut &mut *out);
            if id.is_multiple_of(3000) {
                collector.request();
                shaper.publish_stats();
                if let Some(set) = collector.try_take() {
                    collector.give_back(set);
                }
            }
        }
    };
    // Warm up (first hand-over of the sojourn sets, channels), then count.
    step(&mut shaper, &mut out, 2_000);
    let before = dhat::HeapStats::get();
    step(&mut shaper, &mut out, 20_000);
    let after = dhat::HeapStats::get();
    shaper.flush(&mut out);
    assert!(sent > 20_000 && dropped > 20_000 && marked > 0, "sent {sent} dropped {dropped} marked {marked}");
    assert_eq!(id, sent + dropped, "every frame came back");
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
}
