//! weir's user-facing views of the per-interval stats records ([`weir_stats::IntervalRecord`]):
//!
//! - `weir top` ([`run_top`]): a live terminal view that polls a running bridge's `/stats.json`
//!   each second. Drawing is a pure function of the record, the sort key and the screen size
//!   ([`top::draw`]), so it is tested with ratatui's `TestBackend`; only [`run_top`] touches the
//!   terminal and the network.
//! - `weir report` ([`run_report`]): charts from a `--stats-json` JSON-lines file: the inbound and
//!   outbound share of bytes by protocol, and bandwidth per protocol over time, as SVG or PNG;
//!   with shaping classes in the file, each class's achieved rate over time, its totals, and the
//!   policy's generations and reloads.
//!   [`write_share_chart`] draws the share chart alone from any per-protocol totals (`weir classify
//!   --report`).
//!
//! Contract: nothing here panics on what it reads (a record from the network or a file may be
//! anything that parses, including zeros, negative or huge rates and empty maps); failures to read
//! or draw are [`ViewError`]s that name the file and line, or the URL.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod chart;
pub mod fetch;
mod font;
pub mod model;
pub mod stats_file;
pub mod top;

use std::path::PathBuf;

pub use chart::{ProtocolTotals, p2p_hosts_from_records, write_report, write_share_chart};
pub use model::SortKey;
pub use top::View;
pub use top::run_top;

/// Errors of the views. Each names what it could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The stats file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The stats file holds no interval record.
    #[error("{path}: no stats records in the file (is it the --stats-json output of `weir run`?)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A line of the stats file is not a valid record.
    #[error("{path}:{line}: not a valid stats record: {message}")]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The output file's extension names no format we write.
    #[error("{path}: unknown chart format; use a file name ending in .svg or .png")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// Drawing or writing the chart failed.
    #[error("{path}: cannot write the chart: {message}")]
    Draw {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// No TrueType font to draw text with.
    #[error(
        "no TrueType font found for chart labels (looked in {looked}); install Debian's fonts-dejavu-core \
         or set WEIR_FONT to a .ttf file"
    )]
    NoFont {
        /// The paths tried.
        looked: String,
    },
    /// A `--url` that is not `http://host:port[/path]`.
    #[error("{url}: not an http:// URL of the form http://HOST:PORT[/PATH]")]
    BadUrl {
        /// The URL as given.
        url: String,
    },
    /// The terminal could not be driven.
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
}

/// Arguments of `weir top`.
#[derive(clap::Args, Debug, Clone)]
pub struct TopArgs {
    /// The bridge's stats endpoint: `/stats.json` under it is polled each second
    /// (a URL with a path other than `/` is polled as given).
    #[arg(long, default_value = "http://127.0.0.1:9754", value_name = "URL")]
    pub url: String,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = parse_interval)]
    pub interval: f64,
}

/// Arguments of `weir report`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// A JSON-lines stats file, as written by `weir run --stats-json PATH`.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// The chart file to write: `.svg` or `.png`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Protocols drawn by name in the charts; the rest are summed as "other".
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=24))]
    pub top: u16,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.1..=3600.0).contains(&v) => Ok(v),
        Ok(_) => Err("must be between 0.1 and 3600 seconds".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `weir report`: read the stats file and write the share and bandwidth-over-time charts.
/// Returns warnings to show the user (e.g. an unfinished last line that was skipped).
///
/// # Errors
/// [`ViewError`] when the file is missing, empty or holds an invalid line (named by number),
/// when the output format is unknown, or when no font is found.
pub fn run_report(args: &ReportArgs) -> Result<Vec<String>, ViewError> {
    let loaded = stats_file::read(&args.from)?;
    let title = args.from.file_name().map_or_else(|| args.from.display().to_string(), |n| n.to_string_lossy().into());
    write_report(&args.out, &title, &loaded.records, usize::from(args.top))?;
    Ok(loaded.warnings)
}
