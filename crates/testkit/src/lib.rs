//! Test kit (dev-dependency only): packet builders, the network-namespace lab guard, and a
//! harness for running the real `weir` binary in a lab.
#![forbid(unsafe_code)]
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support: a failed unwrap is a failed test")]

pub mod bridge;
pub mod lab;
pub mod packet;
