//! Per-worker counters, the stats thread and exposition
#![forbid(unsafe_code)]
