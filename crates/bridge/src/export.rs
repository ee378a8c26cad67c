//! Flow export from the bridge: the IPFIX exporter of `[export]`, and the way flow records get
//! to it from the engines that end flows (each worker, for flows its packets end; the
//! [`crate::Sweeper`], for idle flows, interim reports of long flows, and the flows still in the
//! table at shutdown).
//!
//! The data path only moves records into the exporter's bounded queue with
//! [`ExportHandle::try_send`]: never a system call, never a wait; a full queue drops the record
//! and counts it. Encoding and sending happen on the exporter's own thread.

use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use weir_config::Config;
use weir_dpi::Classifier;
use weir_engine::Engine;
use weir_export::{
    AppTable, EncoderConfig, ExportFlow, ExportHandle, ExportStats, Exporter, ExporterConfig, Forwarding,
};
use weir_policy::live::LivePolicy;

#[cfg(test)]
pub(crate) mod reader;

/// Start the IPFIX exporter of `[export]`, if it names collectors. Its thread runs beside the
/// control thread (`workers.stats_core`), off the workers' cores.
///
/// # Errors
/// A collector that does not resolve, or a thread that cannot start, naming `export.ipfix`.
pub fn start_exporter(c: &Config, classifier: &Classifier, path: &Path) -> Result<Option<Exporter>> {
    if c.export.ipfix.is_empty() {
        return Ok(None);
    }
    // The NICs' interface indexes, as the host's SNMP agent numbers them.
    let ifindex = |name: &str| {
        std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex")).ok().and_then(|s| s.trim().parse().ok())
    };
    let config = ExporterConfig {
        collectors: c.export.ipfix.clone(),
        encoder: EncoderConfig {
            domain: c.export.observation_domain,
            max_message: c.export.max_message,
            interfaces: [ifindex(&c.interfaces.inside).unwrap_or(1), ifindex(&c.interfaces.outside).unwrap_or(2)],
        },
        template_refresh: Duration::from_secs(c.export.template_refresh_s),
        queue: c.export.queue,
        linger: Duration::from_millis(100),
        udp_messages_per_s: None,
        core: c.workers.stats_core,
    };
    let apps = Arc::new(AppTable::from_registry(classifier.registry()));
    let exporter = Exporter::start(config, apps).with_context(|| format!("{}: key `export.ipfix`", path.display()))?;
    Ok(Some(exporter))
}

/// The exporter's figures as the interval record and the summary carry them.
pub fn ipfix_stats(s: &ExportStats) -> weir_stats::IpfixStats {
    weir_stats::IpfixStats {
        queued: s.queued,
        dropped: s.dropped,
        collectors: s
            .collectors
            .iter()
            .map(|c| weir_stats::IpfixCollectorStats {
                collector: c.collector.clone(),
                connected: c.connected,
                messages: c.messages,
                records: c.records,
                bytes: c.bytes,
                records_lost: c.records_lost,
                send_errors: c.send_errors,
            })
            .collect(),
    }
}

/// One engine's way to the exporter: its queue handle, the clock base, the live policy (each
/// direction's record says what the generation in force when it is sent does with its packets).
pub struct Export {
    handle: ExportHandle,
    /// Unix time of the bridge's epoch, ns: engine times are ns since the epoch.
    epoch_unix_ns: u64,
    policy: Arc<LivePolicy<Classifier>>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export").field("epoch_unix_ns", &self.epoch_unix_ns).finish()
    }
}

impl Export {
    /// A way to `exporter` for one engine, whose times count from the Unix time `epoch_unix_ns`.
    /// `None` once the exporter is finishing.
    pub fn new(exporter: &Exporter, epoch_unix_ns: u64, policy: Arc<LivePolicy<Classifier>>) -> Option<Export> {
        Some(Export { handle: exporter.handle()?, epoch_unix_ns, policy })
    }

    /// Hand the engine's interim and ended-flow records to the exporter, each direction with the
    /// policy's action for it. `wait` false (the data path, the control loop): a full queue
    /// drops the record and counts it; true (shutdown): wait for room.
    pub fn send(&self, engine: &mut Engine, wait: bool) {
        let policy = self.policy.load();
        let fwd = |protocol: u16, inside: bool| Forwarding::of_flow(protocol, inside, |p, d| policy.action(Some(p), d));
        let put = |f: ExportFlow| if wait { self.handle.send(f) } else { self.handle.try_send(f) };
        for r in engine.drain_active() {
            put(ExportFlow::active(&r, self.epoch_unix_ns, fwd(r.label.protocol.0, r.originator_inside)));
        }
        for r in engine.drain_records() {
            put(ExportFlow::ended(&r, self.epoch_unix_ns, fwd(r.label.protocol.0, r.originator_inside)));
        }
    }
}
