//! The `weir` command line: classify captures, check configs, run the bridge.
//!
//! Glue only: arguments, output files and exit codes around library calls (`weir_bridge` for
//! the bridge, `weir_gen`, `weir_view`, and the engine for `classify`).
#![forbid(unsafe_code)]

mod classify;
mod control;
mod report;
mod service;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// weir: an inline deep-packet-inspection bridge that tells protocols apart by their bytes.
#[derive(Parser, Debug)]
#[command(name = "weir", version, about, propagate_version = true)]
struct Cli {
    /// Log lines (start-up, errors, reloads) as `key=value` text or one JSON object each.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Classify the flows in pcap/pcapng captures and print per-protocol bandwidth.
    Classify(classify::Args),
    /// Validate a bridge config file (and its signatures and policy) without touching any interface.
    CheckConfig {
        /// The config file, e.g. configs/weir.toml.
        file: std::path::PathBuf,
    },
    /// Bridge two NICs over AF_XDP until SIGINT/SIGTERM, classifying and policing each flow.
    Run {
        /// The config file.
        #[arg(long, short)]
        config: std::path::PathBuf,
        /// At exit, write the final counters as one JSON object to this file.
        #[arg(long, value_name = "FILE")]
        summary_json: Option<std::path::PathBuf>,
        /// Write one JSON stats record per interval to this file ("-": stdout).
        #[arg(long, value_name = "FILE")]
        stats_json: Option<std::path::PathBuf>,
        /// For testing schedules: evaluate them as if the wall clock read this RFC 3339 time
        /// (e.g. 2026-03-29T02:59:50+03:00) at start, running on from there.
        #[arg(long, value_name = "TIME", hide = true)]
        clock_start: Option<jiff::Timestamp>,
    },
    /// Tell a running bridge to re-read its config and signatures (over its control socket).
    Reload(control::ReloadArgs),
    /// Live terminal view of a running bridge: per-protocol bandwidth, top flows, drops, latency.
    Top(weir_view::TopArgs),
    /// Charts from a --stats-json file: share of bytes by protocol, and bandwidth over time (SVG or PNG).
    Report(weir_view::ReportArgs),
    /// Generate traffic from a profile (or replay a capture): send over AF_XDP or write a pcapng.
    Gen(weir_gen::cli::GenArgs),
    /// Receive generated traffic over AF_XDP and report loss, reordering and latency per protocol.
    Sink(weir_gen::cli::SinkArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    weir_service::log::set_format(match cli.log_format {
        LogFormat::Text => weir_service::log::Format::Text,
        LogFormat::Json => weir_service::log::Format::Json,
    });
    let is_run = matches!(cli.command, Command::Run { .. });
    let result = match cli.command {
        Command::Classify(args) => classify::run(&args),
        Command::CheckConfig { file } => check_config(&file),
        Command::Gen(args) => weir_gen::cli::run_gen(&args).map_err(anyhow::Error::from),
        Command::Sink(args) => weir_gen::cli::run_sink(&args).map_err(anyhow::Error::from),
        Command::Run { config, summary_json, stats_json, clock_start } => {
            run(&config, summary_json.as_deref(), stats_json.as_deref(), clock_start)
        }
        Command::Reload(args) => control::reload(&args),
        Command::Top(args) => weir_view::run_top(&args).map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from),
        Command::Report(args) => weir_view::run_report(&args)
            .map(|warnings| {
                warnings.iter().for_each(|w| eprintln!("weir: warning: {w}"));
                ExitCode::SUCCESS
            })
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_run => {
            weir_service::log::error("exit", &[("error", &format!("{e:#}"))]);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("weir: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `weir check-config FILE`.
fn check_config(path: &Path) -> anyhow::Result<ExitCode> {
    let p = weir_bridge::prepare(path)?;
    println!("{}", p.describe(path));
    control::describe_classes_and_schedules(&p.config);
    Ok(ExitCode::SUCCESS)
}

/// `weir run --config FILE [--summary-json FILE] [--stats-json FILE|-]`.
fn run(
    path: &Path,
    summary_json: Option<&Path>,
    stats_json: Option<&Path>,
    clock_start: Option<jiff::Timestamp>,
) -> anyhow::Result<ExitCode> {
    let prepared = weir_bridge::prepare(path)?;
    // Outputs that can fail are opened before anything is attached.
    let sink: Option<weir_bridge::StatsSink> = match stats_json {
        Some(f) if f == Path::new("-") => Some(Box::new(std::io::stdout())),
        Some(f) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(f).with_context(|| format!("--stats-json {}: cannot create", f.display()))?,
        ))),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install the SIGINT/SIGTERM handler")?;
    }
    // Before any interface is touched: the per-NIC lock (a second weir on these NICs stops here).
    let mut svc = service::Service::start(&prepared.config, path)?;
    if let Some(t) = clock_start {
        svc = svc.with_clock_start(t);
    }
    let outcome = weir_bridge::run(&prepared, path, sink, &stop, &svc);
    svc.finish(&prepared.config);
    let outcome = outcome?;
    eprint!("{}", weir_bridge::final_report(&outcome.summary));
    if let Some(file) = summary_json {
        let json = serde_json::to_string(&outcome.summary)?;
        std::fs::File::create(file)
            .and_then(|mut f| writeln!(f, "{json}"))
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    Ok(if outcome.failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
