//! `weir classify`: run the engine over capture files.

use crate::report::{self, Summary};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ipnet::IpNet;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weir_dpi::{Classifier, InspectLimits};
use weir_engine::{Engine, EngineConfig};
use weir_export::{AppTable, Collector, ExportFlow, ExportHandle, Exporter, ExporterConfig, Forwarding};
use weir_replay::{Event, ReplayOptions};
use weir_stats::hosts::{HostSelection, host_stats, merge};

/// Arguments of `weir classify`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Capture files: pcap or pcapng; Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD loopback, PPP or
    /// Cisco HDLC link types.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Also print one line per flow.
    #[arg(long)]
    pub flows: bool,
    /// Print JSON lines instead of a table: one object per flow (with --flows), then a summary.
    #[arg(long)]
    pub json: bool,
    /// Inside networks (comma-separated CIDRs). Without it, the side that opened a flow is inside.
    #[arg(long, value_delimiter = ',', value_name = "CIDR,...")]
    pub inside: Vec<IpNet>,
    /// Signature file to use instead of the built-in configs/signatures.toml.
    #[arg(long, value_name = "FILE")]
    pub signatures: Option<PathBuf>,
    /// Payload packets inspected per direction before a flow's label is final.
    #[arg(long, default_value_t = InspectLimits::default().max_packets)]
    pub max_packets: u8,
    /// Payload bytes inspected per direction before a flow's label is final.
    #[arg(long, default_value_t = InspectLimits::default().max_bytes)]
    pub max_bytes: u16,
    /// Most flows held at once; the oldest idle flow is evicted (and counted) beyond it.
    #[arg(long, default_value_t = 1 << 20)]
    pub flow_capacity: usize,
    /// Read the inputs this many times (for benchmarks); flows are flushed between passes.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub loops: u32,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Also draw the inbound and outbound share of bytes by protocol to this chart (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also print the inside hosts with the most bytes, and those with the most peer-to-peer
    /// bytes, with their protocols (with --json: one "host" object each).
    #[arg(long)]
    pub hosts: bool,
    /// Hosts listed by --hosts: this many by bytes and as many by peer-to-peer bytes.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub top_hosts: usize,
    /// Export every flow as IPFIX to this collector: HOST:PORT (UDP), udp://HOST:PORT or
    /// tcp://HOST:PORT. May be given more than once.
    #[arg(long, value_name = "COLLECTOR")]
    pub ipfix: Vec<Collector>,
    /// With --ipfix: a flow longer than this many seconds (of capture time) is also reported
    /// while it runs, every this many seconds; 0: only when it ends.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub active_timeout: u64,
    /// With --ipfix: the Observation Domain ID of the messages.
    #[arg(long, default_value_t = 1, value_name = "ID")]
    pub observation_domain: u32,
    /// With --ipfix over UDP: at most this many messages per second (a capture is read faster
    /// than a collector's socket buffer drains); 0: no limit.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub ipfix_rate: u32,
}

/// (host, protocol) pairs tracked for --hosts: beyond them the figures carry an error bound.
const HOSTS_TRACKED: usize = 1 << 16;

/// Drain ended-flow records to the output every this many packets.
const DRAIN_EVERY: u64 = 4096;

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let classifier = match &args.signatures {
        Some(path) => Classifier::from_file(path)?,
        None => Classifier::builtin().context("the built-in signature file is invalid")?,
    };
    let limits = InspectLimits { max_packets: args.max_packets, max_bytes: args.max_bytes };
    let classifier = Arc::new(classifier.with_limits(limits));
    let exporting = !args.ipfix.is_empty();
    let config = EngineConfig {
        inside: args.inside.clone(),
        record_flows: args.flows || exporting,
        active_timeout_ns: if exporting { args.active_timeout.saturating_mul(1_000_000_000) } else { 0 },
        host_capacity: if args.hosts { HOSTS_TRACKED } else { 0 },
        ..EngineConfig::default()
    };
    let mut engine = weir_replay::offline_engine(Arc::clone(&classifier), args.flow_capacity, config)?;
    let exporter = if exporting {
        let config = ExporterConfig {
            collectors: args.ipfix.clone(),
            // Interfaces 1 (inside) and 2 (outside): a capture has no NICs, but the numbers still
            // tell a collector which way each record went.
            encoder: weir_export::EncoderConfig {
                domain: args.observation_domain,
                max_message: 1400,
                interfaces: [1, 2],
            },
            template_refresh: Duration::from_secs(60),
            queue: 65536,
            linger: Duration::from_millis(100),
            udp_messages_per_s: (args.ipfix_rate > 0).then_some(args.ipfix_rate),
            core: None,
        };
        Some(Exporter::start(config, Arc::new(AppTable::from_registry(classifier.registry())))?)
    } else {
        None
    };
    let export = exporter.as_ref().and_then(Exporter::handle);
    let mut out_records = Records { flows: args.flows, json: args.json, export: export.as_ref() };

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let progress = Progress::new(args)?;
    let started = Instant::now();
    let options = ReplayOptions { loops: args.loops, drain_every: DRAIN_EVERY };
    let replayed = weir_replay::replay::<anyhow::Error>(&mut engine, &args.files, options, |event, engine| {
        match event {
            Event::Progress { offset } => progress.advance(offset),
            Event::FileEnd { size } => progress.finish_file(size),
            Event::PassEnd => {}
        }
        // Ended flows go out as they end, not all at the end: the memory stays bounded.
        if !matches!(event, Event::FileEnd { .. }) {
            out_records.write(&mut out, engine)?;
        }
        Ok(())
    })?;
    let elapsed = started.elapsed();
    progress.clear();
    drop(export);
    if let Some(exporter) = exporter {
        report_export(&exporter.finish(Duration::from_secs(10)));
    }
    if args.hosts {
        let reg = classifier.registry();
        let name = |id: u16| {
            let id = weir_dpi::ProtocolId(id);
            (reg.name(id).to_string(), reg.category(id).name().to_string())
        };
        let select = HostSelection { by_bytes: args.top_hosts, by_p2p: args.top_hosts };
        let hosts = host_stats(&merge([engine.hosts()]), &name, select);
        if args.json {
            for h in &hosts {
                writeln!(out, "{}", report::host_json(h))?;
            }
        } else {
            report::write_hosts_table(&mut out, &hosts)?;
            writeln!(out)?;
        }
    }
    let mut summary = Summary::collect(&engine, elapsed, &args.files, replayed.failure.is_some());
    summary.warnings = replayed.warnings;
    if args.json {
        writeln!(out, "{}", summary.to_json())?;
    } else {
        report::write_table(&mut out, &summary)?;
    }
    out.flush()?;
    for w in &summary.warnings {
        eprintln!("weir: warning: {w}");
    }
    if let Some(chart) = &args.report {
        write_share_chart(chart, &summary)?;
    }
    match replayed.failure {
        Some(e) => {
            eprintln!("weir: error: {e:#}");
            eprintln!("weir: the figures above cover the packets before the error");
            Ok(ExitCode::from(1))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Draw the summary's per-protocol outbound/inbound bytes as the share chart.
fn write_share_chart(chart: &std::path::Path, summary: &Summary) -> Result<()> {
    let (out, inb) = (weir_engine::Direction::Outbound.index(), weir_engine::Direction::Inbound.index());
    let totals: Vec<weir_view::ProtocolTotals> = summary
        .rows
        .iter()
        .map(|r| weir_view::ProtocolTotals {
            name: r.protocol.clone(),
            category: r.category.to_string(),
            bytes_out: r.bytes[out],
            bytes_in: r.bytes[inb],
        })
        .collect();
    let names: Vec<String> = summary
        .files
        .iter()
        .map(|f| std::path::Path::new(f).file_name().map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned()))
        .collect();
    let source = if names.len() > 3 { format!("{} captures", names.len()) } else { names.join(", ") };
    weir_view::write_share_chart(chart, &source, &totals)?;
    Ok(())
}

/// Where ended flows (and, when exporting, interim reports) go.
struct Records<'a> {
    flows: bool,
    json: bool,
    export: Option<&'a ExportHandle>,
}

impl Records<'_> {
    fn write(&mut self, out: &mut impl Write, engine: &mut Engine) -> Result<()> {
        // A capture is not policed: every record says forwarded, as the default policy would.
        let fwd = [Forwarding::Forwarded; 2];
        if let Some(h) = self.export {
            let active: Vec<_> = engine.drain_active().collect();
            for r in &active {
                h.send(ExportFlow::active(r, 0, fwd));
            }
        }
        let records: Vec<_> = engine.drain_records().collect();
        for r in &records {
            if let Some(h) = self.export {
                h.send(ExportFlow::ended(r, 0, fwd));
            }
            if !self.flows {
                continue;
            }
            if self.json {
                writeln!(out, "{}", report::flow_json(engine.classifier(), r))?;
            } else {
                writeln!(out, "{}", report::flow_line(engine.classifier(), r))?;
            }
        }
        Ok(())
    }
}

/// One stderr line per collector: what was sent, and what was lost.
fn report_export(stats: &weir_export::ExportStats) {
    for c in &stats.collectors {
        eprintln!(
            "weir: ipfix {} ({}): {} data records in {} messages ({} bytes), {} template rounds; {} records lost, {} send errors{}",
            c.collector,
            c.addr,
            c.records,
            c.messages,
            c.bytes,
            c.template_rounds,
            c.records_lost,
            c.send_errors,
            if c.connected { "" } else { "; not connected" }
        );
    }
    if stats.dropped > 0 {
        eprintln!("weir: ipfix: {} flow records dropped (queue full)", stats.dropped);
    }
}

/// A byte-based progress bar that appears only on a terminal and only after a second.
struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    done_before: std::cell::Cell<u64>,
}

impl Progress {
    fn new(args: &Args) -> Result<Self> {
        let show = !args.no_progress && std::io::stderr().is_terminal();
        if !show {
            return Ok(Progress { bar: None, started: Instant::now(), done_before: 0.into() });
        }
        let mut total = 0;
        for f in &args.files {
            let meta = std::fs::metadata(f).with_context(|| format!("{}: cannot read", f.display()))?;
            total += meta.len();
        }
        let bar = ProgressBar::with_draw_target(Some(total * u64::from(args.loops)), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}");
        if let Ok(style) = style {
            bar.set_style(style);
        }
        Ok(Progress { bar: Some(bar), started: Instant::now(), done_before: 0.into() })
    }

    fn advance(&self, offset_in_file: u64) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.started.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(ProgressDrawTarget::stderr());
            }
            bar.set_position(self.done_before.get() + offset_in_file);
        }
    }

    fn finish_file(&self, size: u64) {
        self.done_before.set(self.done_before.get() + size);
        self.advance(0);
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
