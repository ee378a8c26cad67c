//! `weir gen` and `weir sink`: arguments and the I/O loops (AF_XDP through
//! [`weir_xdp::XskPort`], files, signals, the progress line). The logic they drive lives in the
//! other modules.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Queue to bind on each interface (the first one, with --threads).
    #[arg(long, default_value_t = 0)]
    pub queue: u32,
    /// Send from this many threads, each on its own queue (--queue, --queue + 1, ...) of each
    /// interface, each with its own share of the profile's flows and rate (so no two share a
    /// 5-tuple and the ground truth stays exact).
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
    /// Pin sending thread i to the i-th core of this comma-separated list.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub cores: Vec<usize>,
    /// Also receive on the sending sockets what comes back (with --peer-iface: what the bridge
    /// forwarded from the other side) and write the same report as `weir sink --report` here.
    #[arg(long, value_name = "FILE")]
    pub sink_report: Option<PathBuf>,
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
    /// A sending thread failed.
    #[error("{0}")]
    Thread(String),
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
/// After the last frame is sent, a measuring sender keeps receiving until no frame came for
/// this long (frames still crossing the bridge), at most [`LINGER_MAX`].
const LINGER_IDLE: Duration = Duration::from_secs(1);
const LINGER_MAX: Duration = Duration::from_secs(10);

/// What the send loop did.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    packets: u64,
    bytes: u64,
    elapsed_s: f64,
    interrupted: bool,
}

/// One sending thread's running totals, read by the progress line. One writer each.
#[derive(Debug, Default)]
struct Progress {
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// One sending thread: its frame source, its sockets (one per interface, all on its queue)
/// and, when it measures, what came back on them.
struct Sender<S> {
    src: S,
    ports: Vec<XskPort>,
    sink: Option<SinkStats>,
    sent: Sent,
}

/// Receives what is waiting on `ports` into `sink`; returns the frame count.
fn receive_all(ports: &mut [XskPort], sink: &mut SinkStats) -> usize {
    let t = monotonic_ns();
    ports.iter_mut().map(|p| p.receive(BATCH, |f| sink.record(f, t))).sum()
}

/// Paces `src` over one or two ports. Every frame taken from the source is sent (waiting for
/// ring room if need be), so the source's ground truth is what went on the wire. With `sink`,
/// frames arriving on the ports are measured between batches.
fn send_loop(
    src: &mut dyn Source,
    schedule: Schedule,
    ports: &mut [XskPort],
    mut sink: Option<&mut SinkStats>,
    stop: &AtomicBool,
    progress: &Progress,
) -> Sent {
    let mut pacer = Pacer::new(schedule);
    let mut scratch = vec![0u8; BATCH * SLOT];
    let mut meta: Vec<(usize, usize, Option<usize>)> = Vec::with_capacity(BATCH);
    // Indices of one port's frames in the batch; reused, so the loop never allocates.
    let mut mine: Vec<usize> = Vec::with_capacity(BATCH);
    let (mut packets, mut bytes) = (0u64, 0u64);
    let start = monotonic_ns();
    let mut exhausted = false;
    let mut interrupted = false;
    let peer = ports.len() > 1;
    while !exhausted {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if let Some(s) = sink.as_deref_mut() {
            receive_all(ports, s);
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
        for pi in 0..ports.len() {
            mine.clear();
            mine.extend((0..meta.len()).filter(|&i| meta[i].1 == pi));
            let mut k = 0;
            while k < mine.len() {
                let n = ports[pi].send(mine.len() - k, |buf| {
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
                    // Keep receiving while waiting: on a bridge, a full RX ring behind us
                    // could be what holds our TX back.
                    if let Some(s) = sink.as_deref_mut() {
                        receive_all(ports, s);
                    }
                    ports[pi].wait_tx(Duration::from_micros(50));
                }
            }
        }
        for &(len, _, _) in &meta {
            packets += 1;
            bytes += len as u64;
        }
        progress.packets.store(packets, Ordering::Relaxed);
        progress.bytes.store(bytes, Ordering::Relaxed);
    }
    for p in ports.iter_mut() {
        p.drain_tx(Duration::from_secs(1));
    }
    let elapsed_s = (monotonic_ns() - start) as f64 * 1e-9;
    if let Some(s) = sink {
        let (t0, mut last) = (Instant::now(), Instant::now());
        while !stop.load(Ordering::Relaxed) && last.elapsed() < LINGER_IDLE && t0.elapsed() < LINGER_MAX {
            if receive_all(ports, s) > 0 {
                last = Instant::now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    Sent { packets, bytes, elapsed_s, interrupted }
}

/// Runs each sender on its own thread (pinned to `cores[i]` if given) and prints one progress
/// line a second for all of them together until they are done.
fn run_senders<S: Source + Send>(
    senders: &mut [Sender<S>],
    schedules: &[Schedule],
    cores: &[usize],
    stop: &AtomicBool,
    quiet: bool,
) -> Result<(), GenError> {
    let progress: Vec<Progress> = senders.iter().map(|_| Progress::default()).collect();
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(senders.len());
        for (i, snd) in senders.iter_mut().enumerate() {
            let (progress, schedule, core) = (&progress[i], schedules[i], cores.get(i).copied());
            let thread = std::thread::Builder::new().name(format!("weir-gen-{i}"));
            let h = thread
                .spawn_scoped(scope, move || {
                    if let Some(core) = core {
                        core_affinity::set_for_current(core_affinity::CoreId { id: core });
                    }
                    snd.sent = send_loop(&mut snd.src, schedule, &mut snd.ports, snd.sink.as_mut(), stop, progress);
                })
                .map_err(|e| {
                    // Stop the senders already running before reporting the failure.
                    stop.store(true, Ordering::Relaxed);
                    io_err("starting a sending thread")(e)
                })?;
            handles.push(h);
        }
        let start = Instant::now();
        let mut last = (start, 0u64, 0u64);
        while !handles.iter().all(std::thread::ScopedJoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(50));
            let now = Instant::now();
            if quiet || now.duration_since(last.0) < Duration::from_secs(1) {
                continue;
            }
            let packets: u64 = progress.iter().map(|p| p.packets.load(Ordering::Relaxed)).sum();
            let bytes: u64 = progress.iter().map(|p| p.bytes.load(Ordering::Relaxed)).sum();
            let dt = now.duration_since(last.0).as_secs_f64();
            let pps = (packets - last.1) as f64 / dt;
            let bps = ((bytes - last.2) + 4 * (packets - last.1)) as f64 * 8.0 / dt;
            eprint!(
                "\rweir gen: {pps:>10.0} pps {:>9.1} Mb/s  sent {packets:>11}  elapsed {:>6.1} s ",
                bps / 1e6,
                now.duration_since(start).as_secs_f64()
            );
            last = (now, packets, bytes);
        }
        if !quiet && last.1 > 0 {
            eprintln!();
        }
        for h in handles {
            h.join().map_err(|_| GenError::Thread("a sending thread panicked".into()))?;
        }
        Ok(())
    })
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

/// Checks `--threads`, `--queue`, `--cores` and `--sink-report` against the interfaces and
/// the machine before anything is bound.
fn check_senders(args: &GenArgs, iface: &str) -> Result<(), GenError> {
    let (q, n) = (args.queue, args.threads);
    let mut ifaces = vec![(iface, None)];
    if let Some(peer) = &args.peer_iface {
        ifaces.push((peer.as_str(), args.peer_netns.as_deref()));
    }
    for (name, ns) in ifaces {
        let info = match ns {
            Some(ns) => in_netns(ns, || weir_xdp::interface_info(name))??,
            None => weir_xdp::interface_info(name)?,
        };
        let queues = info.tx_queues.max(1);
        if q.saturating_add(n) > queues {
            return Err(GenError::Usage(format!(
                "--queue {q} --threads {n} needs queues {q}..{} on `{name}`, which has {queues}; use fewer threads, \
                 or add queues (`ethtool -L {name} combined {}`; a veth takes numtxqueues/numrxqueues when created)",
                q + n - 1,
                q + n
            )));
        }
        if args.sink_report.is_some() && (q != 0 || n < info.rx_queues) {
            return Err(GenError::Usage(format!(
                "--sink-report receives on the queues it sends from, and `{name}` has {} receive queues: \
                 give --queue 0 --threads {} so that every queue is read",
                info.rx_queues, info.rx_queues
            )));
        }
    }
    if !args.cores.is_empty() {
        if args.cores.len() != n as usize {
            return Err(GenError::Usage(format!(
                "--cores lists {} cores for {n} sending threads: give one core per thread",
                args.cores.len()
            )));
        }
        let have: Vec<usize> = core_affinity::get_core_ids().unwrap_or_default().iter().map(|c| c.id).collect();
        if let Some(c) = args.cores.iter().find(|c| !have.contains(c)) {
            return Err(GenError::Usage(format!("--cores: core {c} is not one of this machine's cores {have:?}")));
        }
    }
    Ok(())
}

/// Opens sender `i`'s sockets: queue `--queue + i` of `--iface` (and of `--peer-iface`).
fn open_sender_ports(args: &GenArgs, iface: &str, i: u32) -> Result<Vec<XskPort>, GenError> {
    let q = args.queue + i;
    let mut ports = vec![open_port(iface, None, q)?];
    if let Some(peer) = &args.peer_iface {
        ports.push(open_port(peer, args.peer_netns.as_deref(), q)?);
    }
    Ok(ports)
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
        if args.threads > 1 {
            return Err(GenError::Usage(
                "--replay sends from one thread (the capture's order is kept): drop --threads".into(),
            ));
        }
        let iface = args.iface.as_deref().ok_or_else(|| GenError::Usage("--replay needs --iface IF".into()))?;
        let frames = load_replay(path)?;
        check_senders(args, iface)?;
        let src = Replay { frames, at: 0, loops_left: args.loops.max(1) };
        let ports = vec![open_port(iface, None, args.queue)?];
        let mut senders =
            [Sender { src, ports, sink: args.sink_report.as_ref().map(|_| SinkStats::new()), sent: Sent::default() }];
        let stop = stop_flag()?;
        run_senders(&mut senders, &[Schedule { rate: pps, ramp_ns: 0 }], &args.cores, &stop, args.quiet)?;
        let sent = senders[0].sent;
        report_sent::<Generator>(args, &sent, &[])?;
        write_sink_report(args, &mut senders)?;
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
    if let Some(out) = &args.pcap {
        if args.threads > 1 || args.sink_report.is_some() {
            return Err(GenError::Usage(
                "--pcap writes one file from one thread: drop --threads and --sink-report".into(),
            ));
        }
        let mut generator = Generator::new(profile);
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
        let sent = Sent { packets: n, ..Sent::default() };
        report_sent(args, &sent, std::slice::from_ref(&generator))?;
        return Ok(ExitCode::SUCCESS);
    }
    let iface = args.iface.as_deref().ok_or_else(|| GenError::Usage("give --iface IF or --pcap FILE".into()))?;
    check_senders(args, iface)?;
    let n = args.threads;
    let mut senders = Vec::with_capacity(n as usize);
    for i in 0..n {
        let generator = Generator::new(profile.share(i, n)).with_flow_ids(u64::from(i), u64::from(n));
        let ports = open_sender_ports(args, iface, i)?;
        let sink = args.sink_report.as_ref().map(|_| SinkStats::new());
        senders.push(Sender { src: generator, ports, sink, sent: Sent::default() });
    }
    let stop = stop_flag()?;
    let schedules: Vec<Schedule> = senders.iter().map(|s| s.src.schedule()).collect();
    run_senders(&mut senders, &schedules, &args.cores, &stop, args.quiet)?;
    let sent = senders.iter().fold(Sent::default(), |a, s| Sent {
        packets: a.packets + s.sent.packets,
        bytes: a.bytes + s.sent.bytes,
        elapsed_s: a.elapsed_s.max(s.sent.elapsed_s),
        interrupted: a.interrupted || s.sent.interrupted,
    });
    let generators: Vec<&Generator> = senders.iter().map(|s| &s.src).collect();
    report_sent(args, &sent, &generators)?;
    if !args.quiet {
        eprintln!(
            "weir gen: sent {} frames ({} flows) in {:.2} s = {:.0} pps{}",
            sent.packets,
            generators.iter().map(|g| g.flows()).sum::<u64>(),
            sent.elapsed_s,
            sent.packets as f64 / sent.elapsed_s.max(1e-9),
            if n > 1 { format!(" from {n} threads") } else { String::new() }
        );
    }
    write_sink_report(args, &mut senders)?;
    Ok(if sent.interrupted { ExitCode::from(130) } else { ExitCode::SUCCESS })
}

/// Writes `--report`: what was offered, and the ground truth summed over the generators.
fn report_sent<G: std::borrow::Borrow<Generator>>(args: &GenArgs, sent: &Sent, gens: &[G]) -> Result<(), GenError> {
    let Some(path) = &args.report else { return Ok(()) };
    let mut truth: std::collections::BTreeMap<crate::Protocol, crate::ProtoTruth> = std::collections::BTreeMap::new();
    for g in gens {
        for (p, t) in g.borrow().truth() {
            let s = truth.entry(*p).or_default();
            s.flows += t.flows;
            s.packets_out += t.packets_out;
            s.packets_in += t.packets_in;
            s.bytes_out += t.bytes_out;
            s.bytes_in += t.bytes_in;
        }
    }
    let protocols: Vec<_> = truth
        .iter()
        .map(|(p, t)| {
            json!({"protocol": p.name(), "flows": t.flows, "packets_out": t.packets_out, "packets_in": t.packets_in,
                "bytes_out": t.bytes_out, "bytes_in": t.bytes_in})
        })
        .collect();
    let secs = sent.elapsed_s.max(1e-9);
    let v = json!({
        "type": "gen",
        "packets": sent.packets,
        "bytes": sent.bytes,
        "elapsed_s": sent.elapsed_s,
        "pps": sent.packets as f64 / secs,
        "bps": (sent.bytes + 4 * sent.packets) as f64 * 8.0 / secs,
        "interrupted": sent.interrupted,
        "threads": gens.len().max(1),
        "flows": gens.iter().map(|g| g.borrow().flows()).sum::<u64>(),
        "protocols": protocols,
    });
    write_json(path, &v)
}

/// With `--sink-report`: merges what the senders received, prints the sink's line and writes
/// the report.
fn write_sink_report<S>(args: &GenArgs, senders: &mut [Sender<S>]) -> Result<(), GenError> {
    let Some(path) = &args.sink_report else { return Ok(()) };
    let mut stats = SinkStats::new();
    let mut elapsed = 0.0f64;
    for s in senders.iter_mut() {
        if let Some(k) = s.sink.take() {
            stats.merge(k);
        }
        elapsed = elapsed.max(s.sent.elapsed_s);
    }
    let ports: Vec<&XskPort> = senders.iter().flat_map(|s| &s.ports).collect();
    let report = sink_report(&stats, &ports, elapsed);
    print_sink_line(&stats, &report, elapsed);
    write_json(path, &report)
}

/// The sink's JSON report: what `stats` measured, and the kernel's drop counters of `ports`.
fn sink_report(stats: &SinkStats, ports: &[&XskPort], elapsed: f64) -> serde_json::Value {
    let mut report = stats.report(elapsed);
    let mut kernel = Vec::new();
    for p in ports {
        if let Ok(k) = p.kernel_stats() {
            kernel.push(json!({"iface": p.name(), "queue": p.queue(), "rx_dropped": k.rx_dropped,
                "rx_ring_full": k.rx_ring_full, "fill_ring_empty": k.fill_ring_empty}));
        }
    }
    report["kernel"] = json!(kernel);
    report
}

fn print_sink_line(stats: &SinkStats, report: &serde_json::Value, elapsed: f64) {
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
        if receive_all(&mut ports, &mut stats) > 0 {
            last_rx = Some(now);
        } else {
            let ms = if ports.len() > 1 { 1 } else { 10 };
            if let Some(p) = ports.first_mut() {
                p.wait_rx(Duration::from_millis(ms))?;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let refs: Vec<&XskPort> = ports.iter().collect();
    let report = sink_report(&stats, &refs, elapsed);
    print_sink_line(&stats, &report, elapsed);
    if let Some(path) = &args.report {
        write_json(path, &report)?;
    }
    Ok(ExitCode::SUCCESS)
}
