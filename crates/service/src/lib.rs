//! Running weir as a service: one instance per NIC ([`lock`]), least privilege once set up
//! ([`privs`]), readiness for systemd ([`notify`]) and one-line structured logs ([`log`]).
//!
//! Safe code only: capabilities through the `caps` crate, user switching, resource limits and
//! `flock` through `nix`; the readiness datagram with std's Unix sockets.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod lock;
pub mod log;
pub mod notify;
pub mod privs;
