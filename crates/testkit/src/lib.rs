//! Test kit (dev-dependency only): packet builders, and the network-namespace lab guard.
#![forbid(unsafe_code)]
#![allow(missing_docs)]

pub mod lab;
pub mod packet;
