//! Flow tracking for weir: the symmetric flow key and the sharded, bounded flow table.
//!
//! Contract: nothing here reads a clock or allocates per packet. Callers pass `now` (ns) with
//! each packet; the table's memory is allocated once, at its configured capacity, and never grows
//! past it. A full shard evicts its oldest idle flow and counts it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod key;
mod table;

pub use key::{FlowKey, KeyDir};
pub use table::{
    EndReason, Flow, FlowConfigError, FlowDir, FlowTable, FlowTableConfig, Seen, Shard, ShardStats, Timeouts, Touched,
    tcp_flags,
};
