//! The bridge runtime: what `weir run` is, as a library.
//!
//! # Shape
//!
//! - [`Inspector`] (`verdict`): the verdict glue, sans I/O. Frame bytes and a time in, a
//!   [`Verdict`] out: the engine classifies, the compiled policy decides, per-protocol drops are
//!   counted in plain memory. No ring, no clock, no lock of its own.
//! - [`Worker`] (`worker`): the I/O driver of one queue. Owns its [`weir_xdp::FramePair`]
//!   (real sockets, or the simulated kernel of `weir_xdp::testing` in tests), its inspector and
//!   its counters; one [`Worker::run`] loop reads the clock once per batch, polls, publishes its
//!   counters once per batch ([`WorkerCounters`]), hands histograms and top-flow candidates to
//!   the stats thread when asked, and waits in poll(2) when idle.
//! - [`Sweeper`] (`sweep`): the one owner of idle expiry, on the control thread, one flow-table
//!   shard at a time so each is swept once a second; workers never sweep.
//! - [`Export`] (`export`): flow records to the IPFIX exporter of `[export]`, from each worker
//!   (flows its packets end, interim reports it starts) and from the [`Sweeper`] (idle flows,
//!   interim reports of long flows, the flows left at shutdown), never waiting on the data path.
//! - [`run`] (`run`): start-up checks, opening every queue pair before any worker starts, the
//!   control loop (sweeps, the interval record from [`weir_stats::RecordBuilder`], the endpoint),
//!   and shutdown into a typed [`weir_stats::BridgeSummary`]. The `weir` binary is argument
//!   parsing and output files around these calls.
//! - The shaper (`worker`): a [`Verdict::Class`] frame is marked in place and, for a rated
//!   class, held in the UMEM by the pair and queued in the worker's `weir_shaper::Shaper`; the
//!   worker's wait ends at the shaper's next departure. The live policy (`control`) is published
//!   by the control loop at schedule boundaries and reloads; workers load it once per batch.
//!   Per-class figures (`classes`) go to the stats record and the summary.
//!
//! # The XDP fast path
//!
//! - [`Fast`] (`fast`): where weir's own XDP program runs, a worker installs a flow in the
//!   kernel's map when [`Inspector::verdict`] finds its verdict final (forward or drop); the
//!   [`Sweeper`] walks that map beside the table (crediting the kernel's counts to the flows,
//!   removing what the table no longer holds), and the stats thread adds the kernel's
//!   per-protocol and per-NIC counters to the totals ([`Fast::add_to`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classes;
mod control;
mod counters;
mod export;
mod fast;
mod run;
mod sweep;
mod verdict;
mod worker;

pub use counters::{WorkerCounters, WorkerView, totals};
pub use export::{Export, ipfix_stats, start_exporter};
pub use fast::Fast;
pub use run::{Lifecycle, Prepared, RunOutcome, StatsSink, final_report, prepare, run};
pub use sweep::{SWEEP_PERIOD, Sweeper};
pub use verdict::{Inspector, Verdict, ingress};
pub use worker::{IDLE_WAIT, ShapedFrame, Worker, WorkerError, WorkerExit};

/// Pin the calling thread to `core`; a warning if that fails.
pub fn pin(core: usize) {
    if let Some(id) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|c| c.id == core))
        && !core_affinity::set_for_current(id)
    {
        weir_service::log::warn("pin", &[("core", &core), ("msg", &"could not pin to this core")]);
    }
}
