//! The per-packet pipeline: wire, flow, dpi, policy, counters
#![forbid(unsafe_code)]
