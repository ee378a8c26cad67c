//! `weir gen` and `weir sink`: arguments and the I/O loops (AF_XDP through
//! [`weir_xdp::XskPort`], files, signals, the progress line). The logic they drive lives in the
//! other modules.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use weir_capture::{CaptureError, CaptureReader};
use weir_xdp::{XdpConfig, XdpError, XskPort, in_netns, monotonic_ns};

use crate::generator::Generator;
use crate::pcap;
use crate::profile::{Profile, ProfileError};
use crate::rate::{Pacer, Schedule};
use crate::sink::SinkStats;
use crate::trailer;

/// Arguments of `weir gen`.
#[derive(clap::Args, Debug, Clone)]
pub struct GenArgs {
    /// The traffic profile (TOML; see configs/profiles/campus-2004.toml for every key).
    #[arg(long, value_name = "FILE", required_unless_present = "replay", conflicts_with = "replay")]
    pub profile: Option<PathBuf>,
    /// Replay this capture (pcap/pcapng, Ethernet) instead of a profile; needs --pps and --iface.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Write the frames to this pcapng file instead of sending them.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["iface", "replay"])]
    pub pcap: Option<PathBuf>,
    /// Send over AF_XDP on this interface (frames of inside hosts, or all frames without --peer-iface).
    #[arg(long, value_name = "IF", required_unless_present = "pcap")]
    pub iface: Option<String>,
    /// Send the frames of outside hosts on this interface instead (the far side of the bridge).
    #[arg(long, value_name = "IF")]
    pub peer_iface: Option<String>,
    /// Network namespace (as in /run/netns) of --peer-iface.
    #[arg(long, value_name = "NAME", requires = "peer_iface")]
    pub peer_netns: Option<String>,
    /// Queue to bind on each interface.
    #[arg(long, default_value_t = 0)]
    pub queue: u32,
    /// Replay rate in packets/s.
    #[arg(long, requires = "replay")]
    pub pps: Option<f64>,
    /// Times to replay the capture.
    #[arg(long, default_value_t = 1, requires = "replay")]
    pub loops: u32,
    /// Override the profile's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the profile's duration (seconds).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Override the profile's total rate (packets/s).
    #[arg(long, value_name = "PPS", conflicts_with = "replay")]
    pub rate_pps: Option<f64>,
    /// Frames without the measurement trailer.
    #[arg(long)]
    pub no_trailer: bool,
    /// At the end, write what was offered and the ground truth per protocol as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `weir sink`.
#[derive(clap::Args, Debug, Clone)]
pub struct SinkArgs {
    /// Receive over AF_XDP on every queue of this interface.
    #[arg(long, value_name = "IF")]
    pub iface: String,
    /// Also receive on this interface (the frames outside hosts sent, on the near side).
    #[arg(long, value_name = "IF")]
    pub peer_iface: Option<String>,
    /// Network namespace (as in /run/netns) of --peer-iface.
    #[arg(long, value_name = "NAME", requires = "peer_iface")]
    pub peer_netns: Option<String>,
    /// Write the JSON report here at the end.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Stop after this many seconds (default: on SIGINT/SIGTERM).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Stop once no frame arrived for this many seconds after the first one.
    #[arg(long, value_name = "S")]
    pub idle_exit: Option<f64>,
    /// Write this file once all sockets are bound (for scripts that wait for the sink).
    #[arg(long, value_name = "FILE")]
    pub ready_file: Option<PathBuf>,
}

/// Why `weir gen` or `weir sink` failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// AF_XDP.
    #[error(transparent)]
    Xdp(#[from] XdpError),
    /// The replayed capture.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A file.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> GenError {
    let what = what.into();
    move |source| GenError::Io { what, source }
}

fn stop_flag() -> Result<Arc<AtomicBool>, GenError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(io_err("installing signal handlers"))?;
    }
    Ok(stop)
}

fn xdp_config() -> XdpConfig {
    let mut c = XdpConfig { frame_size: 2048, ..XdpConfig::default() };
    c.frame_count = c.min_frames();
    c
}

fn open_port(iface: &str, netns: Option<&str>, queue: u32) -> Result<XskPort, GenError> {
    let cfg = xdp_config();
    Ok(match netns {
        Some(ns) => in_netns(ns, || XskPort::open(iface, queue, &cfg))??,
        None => XskPort::open(iface, queue, &cfg)?,
    })
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<(), GenError> {
    std::fs::write(path, format!("{v:#}\n")).map_err(io_err(format!("writing {}", path.display())))
}

/// A frame source for the send loop.
trait Source {
    /// Writes the next frame; (len, goes out the peer port, trailer offset, rate units).
    fn next(&mut self, buf: &mut [u8]) -> Option<(usize, bool, Option<usize>, f64)>;
}

impl Source for Generator {
    fn next(&mut self, buf: &mut [u8]) -> Option<(usize, bool, Option<usize>, f64)> {
        let p = self.next_packet(buf)?;
        Some((p.len, p.from_outside, p.trailer_at, self.units_of(p.len)))
    }
}

struct Replay {
    frames: Vec<Vec<u8>>,
    at: usize,
    loops_left: u32,
}

impl Source for Replay {
    fn next(&mut self, buf: &mut [u8]) -> Option<(usize, bool, Option<usize>, f64)> {
        if self.at == self.frames.len() {
            if self.loops_left <= 1 || self.frames.is_empty() {
                return None;
            }
            self.loops_left -= 1;
            self.at = 0;
        }
        let f = &self.frames[self.at];
        self.at += 1;
        let n = f.len().min(buf.len());
        buf[..n].copy_from_slice(&f[..n]);
        Some((n, false, None, 1.0))
    }
}

const BATCH: usize = 64;
const SLOT: usize = 2048;

/// What the send loop did.
struct Sent {
    packets: u64,
    bytes: u64,
    elapsed_s: f64,
    interrupted: bool,
}

/// Paces `src` over one or two ports. Every frame taken from the source is sent (waiting for
/// ring room if need be), so the source's ground truth is what went on the wire.
fn send_loop(src: &mut dyn Source, schedule: Schedule, ports: &mut [XskPort], stop: &AtomicBool, quiet: bool) -> Sent {
    let mut pacer = Pacer::new(schedule);
    let mut scratch = vec![0u8; BATCH * SLOT];
    let mut meta: Vec<(usize, usize, Option<usize>)> = Vec::with_capacity(BATCH);
    // Indices of one port's frames in the batch; reused, so the loop never allocates.
    let mut mine: Vec<usize> = Vec::with_capacity(BATCH);
    let (mut packets, mut bytes) = (0u64, 0u64);
    let start = monotonic_ns();
    let mut next_progress = start + 1_000_000_000;
    let mut last = (start, 0u64, 0u64);
    let mut exhausted = false;
    let mut interrupted = false;
    let peer = ports.len() > 1;
    while !exhausted {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let now = monotonic_ns();
        let allow = pacer.allowance(now - start);
        if allow < 1.0 {
            let due = start + pacer.next_due(1.0);
            let wait = due.saturating_sub(now);
            if wait > 200_000 {
                std::thread::sleep(Duration::from_nanos(wait - 100_000));
            } else {
                std::hint::spin_loop();
            }
            for p in ports.iter_mut() {
                p.complete();
            }
            continue;
        }
        // Fill a batch from the source within the allowance.
        meta.clear();
        let mut units = 0.0;
        while meta.len() < BATCH && units < allow {
            let slot = &mut scratch[meta.len() * SLOT..(meta.len() + 1) * SLOT];
            match src.next(slot) {
                Some((len, to_peer, tr, u)) => {
                    units += u;
                    meta.push((len, usize::from(peer && to_peer), tr));
                }
                None => {
                    exhausted = true;
                    break;
                }
            }
        }
        pacer.sent(units);
        // Send each port's frames, in order, waiting for room if a ring is full.
        let stamp = monotonic_ns();
        for (pi, port) in ports.iter_mut().enumerate() {
            mine.clear();
            mine.extend((0..meta.len()).filter(|&i| meta[i].1 == pi));
            let mut k = 0;
            while k < mine.len() {
                let n = port.send(mine.len() - k, |buf| {
                    let i = mine[k];
                    let (len, _, tr) = meta[i];
                    let frame = &scratch[i * SLOT..i * SLOT + len];
                    let out = buf.get_mut(..len)?;
                    out.copy_from_slice(frame);
                    if let Some(at) = tr {
                        trailer::stamp(out, at, stamp);
                    }
                    k += 1;
                    Some(len)
                });
                if n == 0 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    port.wait_tx(Duration::from_micros(50));
                }
            }
        }
        for &(len, _, _) in &meta {
            packets += 1;
            bytes += len as u64;
        }
        if !quiet && stamp >= next_progress {
            let dt = (stamp - last.0) as f64 * 1e-9;
            let pps = (packets - last.1) as f64 / dt;
            let bps = ((bytes - last.2) + 4 * (packets - last.1)) as f64 * 8.0 / dt;
            eprint!(
                "\rweir gen: {:>10.0} pps {:>9.1} Mb/s  sent {:>11}  elapsed {:>6.1} s ",
                pps,
                bps / 1e6,
                packets,
                (stamp - start) as f64 * 1e-9
            );
            last = (stamp, packets, bytes);
            next_progress += 1_000_000_000;
        }
    }
    for p in ports.iter_mut() {
        p.drain_tx(Duration::from_secs(1));
    }
    let elapsed_s = (monotonic_ns() - start) as f64 * 1e-9;
    if !quiet {
        eprintln!();
    }
    Sent { packets, bytes, elapsed_s, interrupted }
}

fn load_replay(path: &Path) -> Result<Vec<Vec<u8>>, GenError> {
    let mut r = CaptureReader::open(path)?;
    let mut frames = Vec::new();
    while let Some(rec) = r.next_record()? {
        if rec.linktype != 1 {
            return Err(GenError::Usage(format!(
                "{}: record at byte offset {} has link type {}; --replay sends Ethernet (1) captures only",
                path.display(),
                rec.offset,
                rec.linktype
            )));
        }
        frames.push(rec.data.to_vec());
    }
    if frames.is_empty() {
        return Err(GenError::Usage(format!("{}: no packets to replay", path.display())));
    }
    Ok(frames)
}

/// `weir gen`.
///
/// # Errors
///
/// A bad profile or arguments, a capture that cannot be read, an interface that cannot be
/// bound, or an output file that cannot be written.
pub fn run_gen(args: &GenArgs) -> Result<ExitCode, GenError> {
    if let Some(path) = &args.replay {
        let pps = args.pps.ok_or_else(|| GenError::Usage("--replay needs --pps N".into()))?;
        if !(pps.is_finite() && pps > 0.0) {
            return Err(GenError::Usage(format!("--pps {pps}: must be above 0")));
        }
        let iface = args.iface.as_deref().ok_or_else(|| GenError::Usage("--replay needs --iface IF".into()))?;
        let frames = load_replay(path)?;
        let mut src = Replay { frames, at: 0, loops_left: args.loops.max(1) };
        let mut ports = vec![open_port(iface, None, args.queue)?];
        let stop = stop_flag()?;
        let sent = send_loop(&mut src, Schedule { rate: pps, ramp_ns: 0 }, &mut ports, &stop, args.quiet);
        report_sent(args, &sent, None)?;
        return Ok(if sent.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS });
    }
    let path = args.profile.as_deref().ok_or_else(|| GenError::Usage("give --profile FILE or --replay FILE".into()))?;
    let mut profile = Profile::load(path)?;
    if let Some(s) = args.seed {
        profile.seed = s;
    }
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            return Err(GenError::Usage(format!("--duration {d}: must be above 0")));
        }
        profile.stop.duration_ns = Some((d * 1e9) as u64);
    }
    if let Some(r) = args.rate_pps {
        if !(r.is_finite() && r > 0.0) {
            return Err(GenError::Usage(format!("--rate-pps {r}: must be above 0")));
        }
        profile.rate = crate::profile::Rate::Pps(r);
    }
    if args.no_trailer {
        profile.trailer = false;
    }
    let mut generator = Generator::new(profile);
    if let Some(out) = &args.pcap {
        let started = Instant::now();
        let n = pcap::write_file(&mut generator, out).map_err(io_err(format!("writing {}", out.display())))?;
        if !args.quiet {
            eprintln!(
                "weir gen: wrote {n} frames of {} flows to {} in {:.1} s",
                generator.flows(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
        }
        let sent = Sent { packets: n, bytes: 0, elapsed_s: 0.0, interrupted: false };
        report_sent(args, &sent, Some(&generator))?;
        return Ok(ExitCode::SUCCESS);
    }
    let iface = args.iface.as_deref().ok_or_else(|| GenError::Usage("give --iface IF or --pcap FILE".into()))?;
    let mut ports = vec![open_port(iface, None, args.queue)?];
    if let Some(peer) = &args.peer_iface {
        ports.push(open_port(peer, args.peer_netns.as_deref(), args.queue)?);
    }
    let stop = stop_flag()?;
    let schedule = generator.schedule();
    let sent = send_loop(&mut generator, schedule, &mut ports, &stop, args.quiet);
    report_sent(args, &sent, Some(&generator))?;
    if !args.quiet {
        eprintln!(
            "weir gen: sent {} frames ({} flows) in {:.2} s = {:.0} pps",
            sent.packets,
            generator.flows(),
            sent.elapsed_s,
            sent.packets as f64 / sent.elapsed_s.max(1e-9)
        );
    }
    Ok(if sent.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

fn report_sent(args: &GenArgs, sent: &Sent, g: Option<&Generator>) -> Result<(), GenError> {
    let Some(path) = &args.report else { return Ok(()) };
    let protocols: Vec<_> = g
        .map(|g| {
            g.truth()
                .iter()
                .map(|(p, t)| {
                    json!({"protocol": p.name(), "flows": t.flows, "packets_out": t.packets_out, "packets_in": t.packets_in,
                        "bytes_out": t.bytes_out, "bytes_in": t.bytes_in})
                })
                .collect()
        })
        .unwrap_or_default();
    let secs = sent.elapsed_s.max(1e-9);
    let v = json!({
        "type": "gen",
        "packets": sent.packets,
        "bytes": sent.bytes,
        "elapsed_s": sent.elapsed_s,
        "pps": sent.packets as f64 / secs,
        "bps": (sent.bytes + 4 * sent.packets) as f64 * 8.0 / secs,
        "interrupted": sent.interrupted,
        "flows": g.map_or(0, Generator::flows),
        "protocols": protocols,
    });
    write_json(path, &v)
}

/// `weir sink`.
///
/// # Errors
///
/// An interface that cannot be bound, or a report that cannot be written.
pub fn run_sink(args: &SinkArgs) -> Result<ExitCode, GenError> {
    let queues = weir_xdp::interface_info(&args.iface)?.rx_queues.max(1);
    let mut ports = Vec::new();
    for q in 0..queues {
        ports.push(open_port(&args.iface, None, q)?);
    }
    if let Some(peer) = &args.peer_iface {
        let pq = match args.peer_netns.as_deref() {
            Some(ns) => in_netns(ns, || weir_xdp::interface_info(peer))??,
            None => weir_xdp::interface_info(peer)?,
        }
        .rx_queues
        .max(1);
        for q in 0..pq {
            ports.push(open_port(peer, args.peer_netns.as_deref(), q)?);
        }
    }
    if let Some(f) = &args.ready_file {
        std::fs::write(f, b"ready\n").map_err(io_err(format!("writing {}", f.display())))?;
    }
    let stop = stop_flag()?;
    let mut stats = SinkStats::new();
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + Duration::from_secs_f64(d.max(0.0)));
    let idle = args.idle_exit.map(|s| Duration::from_secs_f64(s.max(0.0)));
    let mut last_rx = None;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if let (Some(idle), Some(last)) = (idle, last_rx)
            && now.duration_since(last) >= idle
        {
            break;
        }
        let mut got = 0;
        let t = monotonic_ns();
        for p in &mut ports {
            got += p.receive(BATCH, |f| stats.record(f, t));
        }
        if got > 0 {
            last_rx = Some(now);
        } else {
            let ms = if ports.len() > 1 { 1 } else { 10 };
            if let Some(p) = ports.first_mut() {
                p.wait_rx(Duration::from_millis(ms))?;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut report = stats.report(elapsed);
    let mut kernel = Vec::new();
    for p in &ports {
        if let Ok(k) = p.kernel_stats() {
            kernel.push(json!({"iface": p.name(), "queue": p.queue(), "rx_dropped": k.rx_dropped,
                "rx_ring_full": k.rx_ring_full, "fill_ring_empty": k.fill_ring_empty}));
        }
    }
    report["kernel"] = json!(kernel);
    let lat = &report["latency_ns"];
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "weir sink: {} frames ({} flows) in {:.1} s; lost in stream {}, reordered {}; latency p50 {} µs p99 {} µs p99.9 {} µs max {} µs",
        stats.received,
        report["flows"],
        elapsed,
        stats.lost(),
        stats.reordered(),
        lat["p50"].as_u64().unwrap_or(0) / 1000,
        lat["p99"].as_u64().unwrap_or(0) / 1000,
        lat["p99_9"].as_u64().unwrap_or(0) / 1000,
        lat["max"].as_u64().unwrap_or(0) / 1000,
    );
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}
