use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

fn codel() -> CodelParams {
    CodelParams { target_ns: 5 * MS, interval_ns: 100 * MS, mtu: 1514 }
}

fn shape(name: &str, bits: u64) -> ClassConfig {
    ClassConfig {
        name: Arc::from(name),
        limit: Some(Limit {
            rate_bytes_per_s: bits / 8,
            burst_bytes: (bits / 8 / 100).max(3028),
            mode: Mode::Shape,
            codel: codel(),
        }),
    }
}

fn police(name: &str, bits: u64) -> ClassConfig {
    let mut c = shape(name, bits);
    if let Some(l) = c.limit.as_mut() {
        l.mode = Mode::Police;
    }
    c
}

fn mark(name: &str) -> ClassConfig {
    ClassConfig { name: Arc::from(name), limit: None }
}

fn config(classes: Vec<ClassConfig>, memory: u64) -> ShaperConfig {
    ShaperConfig { classes, memory_limit: memory, frame_cost: 4096, flow_queues: 1024, quantum: 1514 }
}

fn pkt(len: u32, flow: u64) -> Packet {
    Packet { len, flow_hash: flow.wrapping_mul(0x1234_5678_9abc_def1) ^ flow, ecn_capable: false }
}

/// Frames come back here; `sent` and `dropped` keep (frame, reason) per event.
#[derive(Default)]
struct Sink {
    sent: Vec<(u64, bool)>,
    dropped: Vec<(u64, DropReason)>,
}

impl Sink {
    fn take(&mut self) -> impl FnMut(Event<u64>) + '_ {
        |e| match e {
            Event::Send { frame, mark_ce } => self.sent.push((frame, mark_ce)),
            Event::Drop { frame, reason } => self.dropped.push((frame, reason)),
        }
    }
}

/// Offer `offered_bits` of `len`-byte frames spread over `flows` flows to class 0 for
/// `seconds`, dequeuing every `tick` (as a timer-driven worker would); the frame id encodes the
/// flow (`id % flows`).
fn run(s: &mut Shaper<u64>, offered_bits: u64, len: u32, flows: u64, seconds: u64, tick: u64) -> Sink {
    let mut sink = Sink::default();
    let gap = (u64::from(len) * 8 * SEC) / offered_bits;
    let (mut t, mut next_arrival, mut id) = (0u64, 0u64, 0u64);
    while t < seconds * SEC {
        while next_arrival <= t {
            s.enqueue(0, 0, id, pkt(len, id % flows), next_arrival, &mut sink.take());
            id += 1;
            next_arrival += gap;
        }
        s.dequeue(t, 64, &mut sink.take());
        t += tick;
    }
    sink
}

#[test]
fn a_marking_class_passes_everything_at_once() {
    let mut s: Shaper<u64> = Shaper::new(&config(vec![mark("m")], 32 << 20), 0).unwrap();
    let mut sink = Sink::default();
    for i in 0..1000 {
        s.enqueue(0, i as usize % 2, i, pkt(1500, i), 0, &mut sink.take());
    }
    assert_eq!(sink.sent.len(), 1000);
    assert_eq!(s.queued(), 0);
    assert_eq!(s.next_wakeup(0), None);
    let c = s.counters().load();
    assert_eq!(c.classes[0].lane(0).packets_out.get(), 500);
    assert_eq!(c.classes[0].kind(), ClassKind::Mark);
}

#[test]
fn shaping_holds_the_rate_over_ten_seconds() {
    // 8 Mbit/s class offered 12 Mbit/s of 1500-byte frames by 4 flows, dequeued every 1 ms.
    let mut s = Shaper::new(&config(vec![shape("bt", 8_000_000)], 32 << 20), 0).unwrap();
    let sink = run(&mut s, 12_000_000, 1500, 4, 10, MS);
    let c = s.counters().load();
    let out = c.classes[0].lane(0).bytes_out.get();
    let rate = out as f64 * 8.0 / 10.0;
    // The burst (10 ms at 8 Mbit/s) may come on top once.
    assert!((rate - 8e6).abs() / 8e6 < 0.01, "achieved {rate} bit/s");
    assert_eq!(sink.sent.len() as u64 * 1500, out);
    assert!(c.classes[0].lane(0).dropped(DropReason::Codel) > 0, "a standing queue: CoDel dropped");
    assert_eq!(c.classes[0].lane(0).dropped(DropReason::QueueFull), 0);
}

#[test]
fn policing_drops_above_the_rate_at_once() {
    let mut s = Shaper::new(&config(vec![police("cap", 8_000_000)], 32 << 20), 0).unwrap();
    let sink = run(&mut s, 16_000_000, 1000, 1, 10, MS);
    assert_eq!(s.queued(), 0, "police mode never queues");
    let c = s.counters().load();
    let lane = c.classes[0].lane(0);
    let rate = lane.bytes_out.get() as f64 * 8.0 / 10.0;
    assert!((rate - 8e6).abs() / 8e6 < 0.01, "achieved {rate}");
    let drops = lane.dropped(DropReason::Police);
    assert!((drops as f64 / 20_000.0 - 0.5).abs() < 0.01, "half dropped: {drops} of 20000");
    assert_eq!(sink.dropped.len() as u64, drops);
}

#[test]
fn flows_share_a_class_fairly_whatever_their_frame_sizes() {
    // Two flows, each offering 8 Mbit/s into a 4 Mbit/s class: one in 1500-byte frames, one in
    // 300-byte frames. DRR gives each half the bytes.
    let mut s = Shaper::new(&config(vec![shape("c", 4_000_000)], 32 << 20), 0).unwrap();
    let mut sink = Sink::default();
    let (mut t, mut id) = (0u64, 0u64);
    let mut bytes: HashMap<u64, u64> = HashMap::new();
    let mut len_of: HashMap<u64, (u64, u32)> = HashMap::new();
    let (mut next_big, mut next_small) = (0u64, 0u64);
    while t < 10 * SEC {
        while next_big <= t {
            s.enqueue(0, 1, id, pkt(1500, 1), next_big, &mut sink.take());
            len_of.insert(id, (1, 1500));
            id += 1;
            next_big += 1500 * 8 * SEC / 8_000_000;
        }
        while next_small <= t {
            s.enqueue(0, 1, id, pkt(300, 2), next_small, &mut sink.take());
            len_of.insert(id, (2, 300));
            id += 1;
            next_small += 300 * 8 * SEC / 8_000_000;
        }
        s.dequeue(t, 64, &mut sink.take());
        t += MS;
    }
    for (frame, _) in &sink.sent {
        let (flow, len) = len_of[frame];
        *bytes.entry(flow).or_default() += u64::from(len);
    }
    let (a, b) = (bytes[&1] as f64, bytes[&2] as f64);
    assert!((a / b - 1.0).abs() < 0.05, "flow shares {a} vs {b}");
}

#[test]
fn a_new_sparse_flow_goes_before_a_backlog() {
    let mut s = Shaper::new(&config(vec![shape("c", 8_000_000)], 32 << 20), 0).unwrap();
    let mut sink = Sink::default();
    // Build a backlog of flow 1 and serve it for a while, so it is an old flow.
    for i in 0..200 {
        s.enqueue(0, 0, i, pkt(1500, 1), 0, &mut sink.take());
    }
    s.dequeue(100 * MS, 10, &mut sink.take());
    let before = sink.sent.len();
    // One frame of a new flow arrives: it is next out, before the backlog.
    s.enqueue(0, 0, 9999, pkt(100, 2), 100 * MS, &mut sink.take());
    let wake = s.next_wakeup(100 * MS).unwrap();
    s.dequeue(wake, 1, &mut sink.take());
    assert_eq!(sink.sent.get(before).map(|s| s.0), Some(9999));
}

#[test]
fn codel_marks_ecn_capable_frames_instead_of_dropping_them() {
    let mut s = Shaper::new(&config(vec![shape("c", 8_000_000)], 32 << 20), 0).unwrap();
    let mut sink = Sink::default();
    let (mut t, mut id, mut next) = (0u64, 0u64, 0u64);
    while t < 5 * SEC {
        while next <= t {
            let p = Packet { ecn_capable: true, ..pkt(1500, id % 3) };
            s.enqueue(0, 0, id, p, next, &mut sink.take());
            id += 1;
            next += 1500 * 8 * SEC / 12_000_000;
        }
        s.dequeue(t, 64, &mut sink.take());
        t += MS;
    }
    let c = s.counters().load();
    let lane = c.classes[0].lane(0);
    assert_eq!(lane.dropped(DropReason::Codel), 0, "ECT frames are marked, not dropped");
    assert!(lane.ecn_marked.get() > 0);
    assert_eq!(sink.sent.iter().filter(|(_, ce)| *ce).count() as u64, lane.ecn_marked.get());
}

#[test]
fn the_memory_limit_drops_from_the_longest_queue() {
    // 64 frames of memory; a flood of flow 1 fills it, flow 2's frames survive.
    let mut s = Shaper::new(&config(vec![shape("c", 1_000_000)], 64 * 4096), 0).unwrap();
    let mut sink = Sink::default();
    for i in 0..10 {
        s.enqueue(0, 0, 10_000 + i, pkt(1500, 2), 0, &mut sink.take());
    }
    for i in 0..200 {
        s.enqueue(0, 0, i, pkt(1500, 1), 0, &mut sink.take());
    }
    assert!(s.queued() <= 64);
    let c = s.counters().load();
    let full = c.classes[0].lane(0).dropped(DropReason::QueueFull);
    assert!(full > 0);
    assert!(sink.dropped.iter().all(|(f, r)| *f < 10_000 && *r == DropReason::QueueFull), "only the flood lost frames");
    let mut rest = Sink::default();
    s.flush(&mut rest.take());
    let small: Vec<_> = rest.dropped.iter().filter(|(f, _)| *f >= 10_000).collect();
    let sent_small = sink.sent.iter().filter(|(f, _)| *f >= 10_000).count();
    assert_eq!(small.len() + sent_small, 10, "all of flow 2 was kept");
}

#[test]
fn next_wakeup_says_when_the_bucket_allows_the_next_frame() {
    // 1 Mbit/s = 125,000 bytes/s: a 1250-byte frame's worth of tokens takes 10 ms.
    let mut c = config(vec![shape("c", 1_000_000)], 32 << 20);
    if let Some(l) = c.classes[0].limit.as_mut() {
        l.burst_bytes = 1514;
    }
    let mut s = Shaper::new(&c, 0).unwrap();
    let mut sink = Sink::default();
    assert_eq!(s.next_wakeup(0), None, "nothing queued: sleep until a frame arrives");
    s.enqueue(0, 0, 1, pkt(1250, 1), 0, &mut sink.take());
    assert_eq!(sink.sent.len(), 1, "sent at once from the full bucket");
    s.enqueue(0, 0, 2, pkt(1250, 1), 0, &mut sink.take());
    s.enqueue(0, 0, 3, pkt(1250, 1), 0, &mut sink.take());
    assert_eq!(sink.sent.len(), 2, "the bucket (1514 bytes) had room for one more");
    // Tokens are now 1514 - 2500 = -986 bytes: positive after 986 / 125000 s = 7.888 ms.
    let wake = s.next_wakeup(0).unwrap();
    assert_eq!(wake, 7_888_001);
    assert_eq!(s.dequeue(wake - 1, 64, &mut sink.take()), 0, "not a nanosecond early");
    assert_eq!(s.dequeue(wake, 64, &mut sink.take()), 1);
    assert_eq!(s.next_wakeup(wake), None);
}

#[test]
fn reconfiguring_keeps_frames_and_counters_and_releases_what_cannot_stay() {
    let mut s = Shaper::new(&config(vec![shape("a", 1_000_000), shape("b", 1_000_000)], 32 << 20), 0).unwrap();
    let mut sink = Sink::default();
    for i in 0..20 {
        s.enqueue(0, 0, i, pkt(1500, i), 0, &mut sink.take());
        s.enqueue(1, 1, 100 + i, pkt(1500, i), 0, &mut sink.take());
    }
    let queued = s.queued();
    let a_in = s.counters().load().classes[0].lane(0).packets_in.get();
    // "a" doubles its rate and moves to id 1; "b" is gone; "c" is new.
    let new = config(vec![shape("c", 1_000_000), shape("a", 2_000_000)], 32 << 20);
    let mut released = Sink::default();
    s.reconfigure(&new, 1, &mut released.take()).unwrap();
    let b_queued = queued - s.queued();
    assert_eq!(released.sent.len(), b_queued, "b's frames sent on");
    assert!(released.sent.iter().all(|(f, _)| *f >= 100));
    let c = s.counters().load();
    assert_eq!(c.classes[1].lane(0).packets_in.get(), a_in, "a kept its counters");
    assert_eq!(c.classes[1].rate_bits.get(), 2_000_000);
    assert_eq!(&*c.classes[0].name, "c");
    // a's frames are still queued under its new id, and leave at the new rate (2 Mbit/s =
    // 250,000 bytes/s: the 20 * 1500 bytes take about 0.1 s after the burst).
    let mut later = Sink::default();
    let mut now = 1;
    while let Some(wake) = s.next_wakeup(now) {
        now = wake;
        s.dequeue(now, 64, &mut later.take());
    }
    assert!(later.sent.iter().all(|(f, _)| *f < 100));
    assert_eq!(later.sent.len() + released.sent.len() + sink.sent.len(), 40);
    assert!(now > 90 * MS && now < 130 * MS, "{now}");
    assert_eq!(s.queued(), 0);
    let bad = ShaperConfig { memory_limit: 1 << 20, ..new };
    assert_eq!(s.reconfigure(&bad, 2, &mut released.take()), Err(ShaperError::NeedsRestart));
}

#[test]
fn sojourn_histograms_reach_the_stats_thread() {
    let mut s = Shaper::new(&config(vec![shape("c", 8_000_000)], 32 << 20), 0).unwrap();
    let collector = s.take_sojourn_collector().unwrap();
    let _ = run(&mut s, 12_000_000, 1500, 2, 2, MS);
    collector.request();
    s.publish_stats();
    let set = collector.try_take().unwrap();
    let h = set.get(0, 0).unwrap();
    assert!(h.len() > 1000);
    assert!(h.value_at_quantile(0.99) >= MS, "a queue formed: p99 {}", h.value_at_quantile(0.99));
    assert_eq!(&*set.names[0], "c");
    collector.give_back(set);
    // The spare is back: a second hand-over works.
    collector.request();
    s.publish_stats();
    assert!(collector.try_take().is_some());
}

#[test]
fn bad_limits_are_refused() {
    let too_small = config(vec![shape("c", 8_000_000)], 15 * 4096);
    assert!(matches!(Shaper::<u64>::new(&too_small, 0), Err(ShaperError::TooLittleMemory { frames: 15, .. })));
    let queues = ShaperConfig { flow_queues: 1000, ..config(vec![], 32 << 20) };
    assert!(matches!(Shaper::<u64>::new(&queues, 0), Err(ShaperError::BadQueues { .. })));
}

#[test]
fn from_config_classes() {
    let text = "[interfaces]\ninside = \"a\"\noutside = \"b\"\n\
        [policy.classes.slow]\nrate = \"8 Mbit/s\"\ntarget = \"10 ms\"\n[policy.classes.cap]\nrate = \"1 MB/s\"\nmode = \"police\"\n\
        [policy.classes.mark]\ndscp = \"CS1\"\n";
    let c = weir_config::Config::parse(text, "t.toml").unwrap();
    let sc = ShaperConfig::from_classes(&c.policy.classes, c.workers.queue_memory, c.rings.frame_size);
    assert_eq!(sc.max_frames(), 8192, "32 MiB of 4096-byte frames");
    let names: Vec<_> = sc.classes.iter().map(|c| &*c.name).collect();
    assert_eq!(names, ["cap", "mark", "slow"]);
    assert_eq!(sc.classes[0].limit.map(|l| (l.mode, l.rate_bytes_per_s)), Some((Mode::Police, 1_000_000)));
    assert_eq!(sc.classes[1].limit, None);
    assert_eq!(sc.classes[2].limit.map(|l| (l.rate_bytes_per_s, l.codel.target_ns)), Some((1_000_000, 10 * MS)));
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Op {
    Enqueue { class: usize, direction: usize, len: u32, flow: u64, ecn: bool },
    Dequeue { budget: usize },
    Advance { ns: u64 },
    Reconfigure { variant: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..4, 0usize..2, 60u32..=1514, 0u64..6, any::<bool>())
            .prop_map(|(class, direction, len, flow, ecn)| Op::Enqueue { class, direction, len, flow, ecn }),
        3 => (0usize..80).prop_map(|budget| Op::Dequeue { budget }),
        3 => (0u64..50_000_000).prop_map(|ns| Op::Advance { ns }),
        1 => (0usize..3).prop_map(|variant| Op::Reconfigure { variant }),
    ]
}

fn variant(v: usize) -> ShaperConfig {
    // 32 frames of memory so the limit is hit; classes change name, mode and rate.
    let classes = match v {
        0 => vec![shape("a", 2_000_000), police("b", 1_000_000), mark("m")],
        1 => vec![mark("m"), shape("b", 500_000), shape("a", 100_000)],
        _ => vec![shape("c", 300_000)],
    };
    ShaperConfig { classes, memory_limit: 32 * 4096, frame_cost: 4096, flow_queues: 8, quantum: 1514 }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every frame handed to the shaper comes back exactly once, sent or dropped, never before
    /// it was handed in; the shaper's own count of queued frames agrees at every step; and after
    /// a flush nothing is left. (The bridge's frame census rests on this.)
    #[test]
    fn every_frame_comes_back_exactly_once(ops in proptest::collection::vec(op(), 1..400)) {
        let mut s: Shaper<u64> = Shaper::new(&variant(0), 0).unwrap();
        let mut now = 0u64;
        let mut next_id = 0u64;
        let mut outstanding = std::collections::HashSet::new();
        let mut returned = std::collections::HashSet::new();
        let mut events: Vec<Event<u64>> = Vec::new();
        for op in ops {
            match op {
                Op::Enqueue { class, direction, len, flow, ecn } => {
                    outstanding.insert(next_id);
                    let p = Packet { len, flow_hash: flow, ecn_capable: ecn };
                    s.enqueue(class, direction, next_id, p, now, &mut |e| events.push(e));
                    next_id += 1;
                }
                Op::Dequeue { budget } => {
                    let sent = s.dequeue(now, budget, &mut |e| events.push(e));
                    let sends = events.iter().filter(|e| matches!(e, Event::Send { .. })).count();
                    prop_assert_eq!(sent, sends);
                    prop_assert!(sent <= budget);
                }
                Op::Advance { ns } => now += ns,
                Op::Reconfigure { variant: v } => {
                    s.reconfigure(&variant(v), now, &mut |e| events.push(e)).unwrap();
                }
            }
            for e in events.drain(..) {
                let (Event::Send { frame, .. } | Event::Drop { frame, .. }) = e;
                prop_assert!(outstanding.remove(&frame), "frame {} came back twice or was never handed in", frame);
                prop_assert!(returned.insert(frame));
            }
            prop_assert_eq!(s.queued(), outstanding.len());
            prop_assert!(s.queued() <= s.capacity());
            if s.queued() > 0 {
                prop_assert!(s.next_wakeup(now).is_some());
            } else {
                prop_assert_eq!(s.next_wakeup(now), None);
            }
        }
        s.flush(&mut |e| events.push(e));
        for e in events.drain(..) {
            let (Event::Send { frame, .. } | Event::Drop { frame, .. }) = e;
            prop_assert!(outstanding.remove(&frame));
        }
        prop_assert!(outstanding.is_empty());
        prop_assert_eq!(s.queued(), 0);
        // Counters add up: in = out + dropped + queued (0), per lane.
        let c = s.counters().load();
        for class in &c.classes {
            for d in 0..2 {
                let l = class.lane(d);
                prop_assert_eq!(l.queued_frames.get(), 0);
                let dropped: u64 = DropReason::ALL.iter().map(|r| l.dropped(*r)).sum();
                prop_assert_eq!(l.packets_out.get() + dropped, l.packets_in.get(), "class {}", &*class.name);
            }
        }
    }
}
