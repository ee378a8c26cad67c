//! Per-protocol policy rules, actions and token buckets
#![forbid(unsafe_code)]
