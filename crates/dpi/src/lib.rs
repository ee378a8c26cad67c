//! Protocol identification for weir: protocol ids and categories, the signature file, the
//! aho-corasick matcher, structural detectors, and the per-flow inspection state.
//!
//! This crate is a leaf: it knows nothing of packet parsing, flow tables or clocks. The engine
//! hands it one packet's payload at a time ([`PacketMeta`]) together with the flow's small
//! [`FlowInspect`] state, and gets a [`Verdict`] back. The [`Classifier`] is built once from
//! `configs/signatures.toml` (or a user's file) and shared read-only between threads.
//!
//! Contracts:
//! - Building can fail, with a [`SignatureError`] that names the file, signature and key.
//!   Inspecting never fails, never panics on any bytes, and never allocates.
//! - A label by content (signature or detector) never depends on ports. Ports only break ties
//!   (a signature naming several protocols) or label flows nothing matched, and such labels say so
//!   ([`Decision::PortGuess`]); a port guess never names a peer-to-peer protocol.
//! - A peer-to-peer label needs proof in the flow's bytes, or an endpoint that such proof put in
//!   the [`PeerCache`] ([`Decision::PeerCache`]).
//! - Literal signatures give the same label however a TCP stream is split into segments; see
//!   [`detect`]'s docs for which structural detectors share that property.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classifier;
pub mod detect;
#[cfg(test)]
mod lookalike_tests;
mod peers;
mod ports;
mod registry;
pub mod related;
mod signature;

pub use classifier::{Classifier, Decision, Dir, Endpoint, FlowInspect, InspectLimits, L4, Label, PacketMeta, Verdict};
pub use detect::{DetectorId, Probe};
pub use peers::{DEFAULT_PEER_TTL_S, PeerCache, PeerKind};
pub use registry::{Category, ProtocolId, Registry};
pub use related::Related;

/// Protocol ids a live reload may add beyond those of the signatures a process started with:
/// whatever is sized by protocol at start (per-protocol counters, drop counts) has this much
/// room, and a reload whose signatures declare more is refused.
pub const PROTOCOL_HEADROOM: usize = 64;
pub use signature::{MAX_CASE_INSENSITIVE_LETTERS, MAX_SIGNATURES, SignatureError, SignatureId};
