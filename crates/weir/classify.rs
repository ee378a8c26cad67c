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
use weir_capture::CaptureReader;
use weir_dpi::{Classifier, InspectLimits};
use weir_engine::{Engine, EngineConfig, FlowTableConfig, Ingress, LinkType, Shared};

/// Arguments of `weir classify`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Capture files: pcap or pcapng; Ethernet, Linux cooked (SLL, SLL2) or raw IP link types.
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
}

/// Drain ended-flow records to the output every this many packets.
const DRAIN_EVERY: u64 = 4096;

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let classifier = match &args.signatures {
        Some(path) => Classifier::from_file(path)?,
        None => Classifier::builtin().context("the built-in signature file is invalid")?,
    };
    let limits = InspectLimits { max_packets: args.max_packets, max_bytes: args.max_bytes };
    let classifier = Arc::new(classifier.with_limits(limits));
    let table = FlowTableConfig { capacity: args.flow_capacity, ..FlowTableConfig::default() };
    let shards = table.shards.min(args.flow_capacity.next_power_of_two() / 2).max(1);
    let table = FlowTableConfig { shards, ..table };
    let shared = Shared::new(Arc::clone(&classifier), table, 65_536)
        .map_err(|e| anyhow::anyhow!("--flow-capacity {}: {e}", args.flow_capacity))?;
    let config = EngineConfig { inside: args.inside.clone(), record_flows: args.flows, ..EngineConfig::default() };
    let mut engine = Engine::new(shared, config);

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let progress = Progress::new(args)?;
    let started = Instant::now();
    let mut failure = None;
    let mut packets: u64 = 0;
    'passes: for _ in 0..args.loops {
        for path in &args.files {
            let mut reader = CaptureReader::open(path)?;
            loop {
                let record = match reader.next_record() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        failure = Some(anyhow::Error::new(e));
                        break 'passes;
                    }
                };
                let Some(link) = LinkType::from_pcap(record.linktype) else {
                    failure = Some(anyhow::anyhow!(
                        "{}: unsupported link type {} in the record at byte offset {}; weir reads Ethernet (1), \
                         Linux cooked capture SLL (113) and SLL2 (276), and raw IP (101, 228, 229)",
                        path.display(),
                        record.linktype,
                        record.offset
                    ));
                    break 'passes;
                };
                engine.process(record.data, record.orig_len, link, Ingress::Unknown, record.ts_nanos);
                packets += 1;
                if packets.is_multiple_of(DRAIN_EVERY) {
                    progress.advance(reader.offset());
                    if args.flows {
                        write_records(&mut out, &mut engine, args.json)?;
                    }
                }
            }
            progress.finish_file(reader.offset());
        }
        engine.flush();
        if args.flows {
            write_records(&mut out, &mut engine, args.json)?;
        }
    }
    if failure.is_some() {
        engine.flush();
        if args.flows {
            write_records(&mut out, &mut engine, args.json)?;
        }
    }
    let elapsed = started.elapsed();
    progress.clear();
    let summary = Summary::collect(&engine, elapsed, &args.files, failure.is_some());
    if args.json {
        writeln!(out, "{}", summary.to_json())?;
    } else {
        report::write_table(&mut out, &summary)?;
    }
    out.flush()?;
    if let Some(chart) = &args.report {
        write_share_chart(chart, &summary)?;
    }
    match failure {
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

fn write_records(out: &mut impl Write, engine: &mut Engine, json: bool) -> Result<()> {
    let records: Vec<_> = engine.drain_records().collect();
    for r in &records {
        if json {
            writeln!(out, "{}", report::flow_json(engine.classifier(), r))?;
        } else {
            writeln!(out, "{}", report::flow_line(engine.classifier(), r))?;
        }
    }
    Ok(())
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
