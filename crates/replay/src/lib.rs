//! weir's offline runtime: capture files fed through an [`Engine`], the loop `weir classify`
//! runs (and benches and tests with it). The live runtime, AF_XDP rings through the same engine,
//! is `weir-bridge`.
//!
//! [`replay`] reads each file record by record, hands every packet to [`Engine::process`] at its
//! capture time, and calls the caller back at fixed points: every [`ReplayOptions::drain_every`]
//! packets (to drain ended flows and show progress), at the end of each file and at the end of
//! each pass. Between passes (`loops` > 1, for benchmarks) every flow is flushed, so each pass
//! counts the same flows again.
//!
//! What can go wrong, and what it costs:
//! - A file that cannot be opened is an error ([`ReplayError`]); nothing was counted from it.
//! - A file that cannot be read further (a bad record, I/O) or a record of a link type the engine
//!   does not parse ends the replay there: [`Replayed::failure`] says where, every flow is flushed,
//!   and the figures cover every packet before it.
//! - A file that ends inside a record header after whole records is complete: every packet it
//!   holds was read. That is a warning ([`Replayed::warnings`]), not a failure.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weir_capture::{CaptureError, CaptureReader};
use weir_engine::{Classifier, Engine, EngineConfig, FlowTableConfig, Ingress, LinkType, Shared};

/// Expected-flow slots of an offline engine's related-flow table (FTP data, SIP media...).
const RELATED_SLOTS: usize = 262_144;

/// An engine for reading captures: one table holding at most `flow_capacity` flows (the oldest
/// idle one is evicted, and counted, beyond it), with as many shards as the capacity allows.
///
/// # Errors
///
/// [`ReplayError::FlowCapacity`] when the table cannot be built with that capacity.
pub fn offline_engine(
    classifier: Arc<Classifier>,
    flow_capacity: usize,
    config: EngineConfig,
) -> Result<Engine, ReplayError> {
    let table = FlowTableConfig { capacity: flow_capacity, ..FlowTableConfig::default() };
    // One thread reads a capture: shards only bound each lookup's probe; keep at least two flows
    // per shard so a tiny capacity still builds.
    let shards = table.shards.min(flow_capacity.next_power_of_two() / 2).max(1);
    let table = FlowTableConfig { shards, ..table };
    let shared = Shared::new(classifier, table, RELATED_SLOTS)
        .map_err(|e| ReplayError::FlowCapacity { capacity: flow_capacity, reason: e.to_string() })?;
    Ok(Engine::new(shared, config))
}

/// How to replay.
#[derive(Clone, Copy, Debug)]
pub struct ReplayOptions {
    /// Read the inputs this many times; flows are flushed between passes. At least 1.
    pub loops: u32,
    /// Call back with [`Event::Progress`] every this many packets. At least 1.
    pub drain_every: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { loops: 1, drain_every: 4096 }
    }
}

/// When [`replay`] calls back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Every [`ReplayOptions::drain_every`] packets: the byte offset reached in the current file.
    Progress {
        /// Bytes of the current file read so far.
        offset: u64,
    },
    /// A file was read to its end: its size in bytes as read.
    FileEnd {
        /// Bytes read from the file.
        size: u64,
    },
    /// A pass over all files ended and every flow was flushed (also after a failure).
    PassEnd,
}

/// Why a replay stopped, or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The capture could not be opened or read (the error names the file and the byte offset).
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A record of a link type the engine does not parse.
    #[error(
        "{}: unsupported link type {linktype}{} in the record at byte offset {offset}; weir reads {}",
        path.display(),
        link_hint(*linktype),
        known_links()
    )]
    UnsupportedLink {
        /// The capture file.
        path: PathBuf,
        /// The record's pcap `LINKTYPE_` value.
        linktype: u32,
        /// Where the record starts.
        offset: u64,
    },
    /// The flow table cannot hold that many flows.
    #[error("--flow-capacity {capacity}: {reason}")]
    FlowCapacity {
        /// The capacity asked for.
        capacity: usize,
        /// Why it cannot be built.
        reason: String,
    },
}

/// What a link type weir does not read is, where it is a well-known one.
fn link_hint(linktype: u32) -> &'static str {
    match linktype {
        105 => " (IEEE 802.11)",
        119 => " (Prism 802.11)",
        127 => " (radiotap 802.11)",
        147..=162 => " (reserved for private use)",
        163 => " (AVS 802.11)",
        192 => " (PPI, per-packet information)",
        _ => "",
    }
}

fn known_links() -> String {
    let known: Vec<String> = LinkType::PCAP_NAMES.iter().map(|(n, name)| format!("{name} ({n})")).collect();
    known.join(", ")
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Packets handed to the engine, over all passes.
    pub packets: u64,
    /// Notes on complete but oddly ended files (first pass only), for the user.
    pub warnings: Vec<String>,
    /// Why the replay stopped early, if it did; the figures cover every packet before it.
    pub failure: Option<ReplayError>,
}

/// Replays `files` through `engine` (see the crate docs), calling `on` at each [`Event`].
///
/// # Errors
///
/// A file that cannot be opened ([`ReplayError::Capture`], converted into `E`), or the first
/// error `on` returns; the replay stops there. Read failures mid-file are not errors: they end
/// the replay with [`Replayed::failure`] set.
pub fn replay<E: From<ReplayError>>(
    engine: &mut Engine,
    files: &[impl AsRef<Path>],
    options: ReplayOptions,
    mut on: impl FnMut(Event, &mut Engine) -> Result<(), E>,
) -> Result<Replayed, E> {
    let drain_every = options.drain_every.max(1);
    let mut done = Replayed::default();
    'passes: for pass in 0..options.loops.max(1) {
        for path in files {
            let path = path.as_ref();
            let mut reader = CaptureReader::open(path).map_err(ReplayError::from)?;
            let mut file_records: u64 = 0;
            loop {
                let record = match reader.next_record() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        done.failure = Some(e.into());
                        break 'passes;
                    }
                };
                let Some(link) = LinkType::from_pcap(record.linktype) else {
                    let (linktype, offset) = (record.linktype, record.offset);
                    done.failure = Some(ReplayError::UnsupportedLink { path: path.to_path_buf(), linktype, offset });
                    break 'passes;
                };
                engine.process(record.data, record.orig_len, link, Ingress::Unknown, record.ts_nanos);
                done.packets += 1;
                file_records += 1;
                if done.packets.is_multiple_of(drain_every) {
                    on(Event::Progress { offset: reader.offset() }, engine)?;
                }
            }
            if let Some(partial) = reader.partial_header().filter(|_| pass == 0) {
                done.warnings.push(partial_header_note(partial, file_records));
            }
            on(Event::FileEnd { size: reader.offset() }, engine)?;
        }
        engine.flush();
        on(Event::PassEnd, engine)?;
    }
    if done.failure.is_some() {
        engine.flush();
        on(Event::PassEnd, engine)?;
    }
    Ok(done)
}

/// The warning for a capture that ends inside a record header after `records` whole ones.
fn partial_header_note(partial: &CaptureError, records: u64) -> String {
    let plural = if records == 1 { "" } else { "s" };
    match partial {
        CaptureError::Truncated { name, offset, what, needed, available } => format!(
            "{name} ends inside a {what} at byte offset {offset} ({available} of its {needed} bytes), after \
             {records} whole record{plural}: every packet it holds was read, the figures are complete"
        ),
        other => format!("{other} (after {records} whole record{plural}; the figures are complete)"),
    }
}

#[cfg(test)]
mod tests;
