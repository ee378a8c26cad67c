//! IPFIX export (RFC 7011) for weir: flow records with application ids and names (RFC 6759),
//! for the collectors operators already run (nfdump, pmacct, and the pipelines behind them).
//!
//! - [`apps`]: a stable applicationId per protocol (engine 6, a selector that depends only on
//!   the protocol's name).
//! - [`template`]: the templates: two data templates (IPv4, IPv6) and an options template
//!   mapping applicationIds to names, categories and whether they are peer-to-peer.
//! - [`flow`]: [`ExportFlow`], one record's worth of a flow, built from the engine's records.
//! - [`encode`]: [`Encoder`], pure encoding: records in, complete, numbered messages out. No
//!   I/O, no clock; unit tested byte for byte.
//! - [`exporter`]: [`Exporter`], the I/O: one thread that takes records from a bounded queue
//!   and sends them to every collector over UDP (templates resent periodically) or TCP
//!   (templates once per connection, reconnecting with backoff). Workers hand records over with
//!   [`ExportHandle::try_send`], which never blocks: a full queue drops the record and counts it.
//!
//! Each flow direction is its own (uniflow) record rather than one RFC 5103 biflow record: every
//! collector counts uniflows, while biflow reverse elements (enterprise 29305) are skipped by
//! many of them, nfdump among them, which would lose the reverse direction's packets. The two
//! records of a flow share a flowId and say which side opened it (biflowDirection), so a
//! biflow-aware consumer can join them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apps;
pub mod encode;
pub mod exporter;
pub mod flow;
pub mod template;
#[cfg(test)]
mod testing;

pub use apps::{App, AppTable};
pub use encode::{Encoder, EncoderConfig};
pub use exporter::{CollectorStats, ExportError, ExportHandle, ExportStats, Exporter, ExporterConfig};
pub use flow::{ExportFlow, FlowEnd, Forwarding};
pub use weir_config::{Collector, Transport};
