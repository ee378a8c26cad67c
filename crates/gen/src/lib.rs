//! weir's traffic generator and sink.
//!
//! `weir gen` makes realistic conversations of every protocol weir classifies, from a profile
//! (a mix of conversation templates with weights, a rate, a duration), and either writes them to
//! a pcapng file or sends them over AF_XDP with rate control. `weir sink` receives them on the
//! far side of the bridge and measures loss, reordering and one-way latency per stream from the
//! trailer each frame carries, and delivered rates per protocol.
//!
//! # Layout
//!
//! - [`profile`]: the TOML profile, raw and validated ([`Profile`], [`ProfileError`]).
//! - [`template`]: each protocol's opening exchange and bulk framing.
//! - [`packet`]: frames built with weir-wire's Reprs.
//! - [`trailer`]: the measurement trailer after the IP packet.
//! - [`generator`]: the deterministic frame sequence and its ground truth.
//! - [`rate`]: the rate schedule (ramp-up) and the pacer, clock passed in.
//! - [`pcap`]: pcapng output.
//! - [`sink`]: the measurements ([`sink::SinkStats`]) and the JSON report.
//! - [`cli`]: `weir gen` and `weir sink` (AF_XDP I/O lives here and in `weir_xdp::XskPort`).
//!
//! Everything but `cli` is logic without I/O or clocks, tested beside the code.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod generator;
pub mod packet;
pub mod pcap;
pub mod profile;
pub mod proto;
pub mod rate;
pub mod rng;
pub mod sink;
pub mod template;
pub mod trailer;

pub use generator::{FlowTruth, Generator, Packet, ProtoTruth};
pub use profile::{Profile, ProfileError};
pub use proto::Protocol;

#[cfg(test)]
mod classify_tests;
