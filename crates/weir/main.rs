//! The `weir` command line: classify captures, check configs, run the bridge.

mod bridge;
mod classify;
mod report;
mod service;
mod stats;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    },
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
        Command::CheckConfig { file } => bridge::check_config(&file),
        Command::Gen(args) => weir_gen::cli::run_gen(&args).map_err(anyhow::Error::from),
        Command::Sink(args) => weir_gen::cli::run_sink(&args).map_err(anyhow::Error::from),
        Command::Run { config, summary_json, stats_json } => {
            bridge::run(&config, summary_json.as_deref(), stats_json.as_deref())
        }
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
