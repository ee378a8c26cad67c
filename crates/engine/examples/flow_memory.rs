//! Measures flow-table memory with 1M flows: the table's own allocation per flow and the
//! process's resident-set growth per flow (from /proc/self/statm).
//! Run: cargo run --release -p weir-engine --example flow_memory [FLOWS]
#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use weir_engine::{FlowState, FlowTable, FlowTableConfig};
use weir_flow::{FlowKey, Seen};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn main() {
    let flows: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let before = rss_bytes();
    // Shards fill unevenly, so a table bounded at exactly FLOWS would evict a few before holding
    // them all: size it with 1/8 headroom, as an operator would, and count that headroom in.
    let capacity = flows + flows / 8;
    let table: FlowTable<FlowState> =
        FlowTable::new(FlowTableConfig { capacity, shards: 64, ..FlowTableConfig::default() }).unwrap();
    for i in 0..flows as u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0xc612_0000u32.wrapping_add(i >> 8)));
        let dst = IpAddr::V4(Ipv4Addr::from(0xc613_0000u32.wrapping_add(i & 0xff)));
        let (key, dir) = FlowKey::new(src, (i % 50_000) as u16 + 1024, dst, 443, 6);
        let h = table.hash(&key);
        let mut shard = table.lock(table.shard_of(h));
        shard.touch(&key, h, Seen { dir, now: 1, wire_len: 60, tcp_flags: 0x02 }, &mut |_, _| {});
    }
    let after = rss_bytes();
    let stats = table.stats();
    assert_eq!(stats.evicted, 0, "capacity must hold every flow");
    println!("flows in table:            {} (capacity {capacity})", stats.active);
    println!("size_of::<Flow<FlowState>>: {} bytes", std::mem::size_of::<weir_flow::Flow<FlowState>>());
    println!(
        "of which: key {}, FlowState {} (FlowInspect {}, Option<Label> {})",
        std::mem::size_of::<FlowKey>(),
        std::mem::size_of::<FlowState>(),
        std::mem::size_of::<weir_dpi::FlowInspect>(),
        std::mem::size_of::<Option<weir_dpi::Label>>()
    );
    println!("table allocation per flow: {:.1} bytes", table.allocated_bytes() as f64 / stats.active as f64);
    println!("RSS growth per flow:       {:.1} bytes", (after - before) as f64 / stats.active as f64);
}
