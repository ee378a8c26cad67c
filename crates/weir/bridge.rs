//! `weir run`: the AF_XDP inline bridge, and `weir check-config`.
//!
//! Start-up checks everything it can before attaching anything: the config, the signatures, the
//! policy against the classifier's protocols, the NICs and their queue counts, the cores. Only then
//! are the sockets opened (and with them the XDP programs attached), one queue pair per worker;
//! if any fails, those already open are closed again before exiting non-zero.

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir_config::{Action, Config};
use weir_dpi::{Category, Classifier, InspectLimits};
use weir_engine::{
    Engine, EngineConfig, EngineCounters, FlowTableConfig, Ingress, LinkType, Outcome, Shared, Timeouts,
};
use weir_export::{AppTable, EncoderConfig, ExportFlow, ExportHandle, Exporter, ExporterConfig, Forwarding};
use weir_policy::{PolicyTable, ProtocolInfo};
use weir_stats::{Counter, Gauge};
use weir_xdp::{FrameAction, FrameCensus, QueuePair, Side, XdpConfig};

/// Per-side counters one worker keeps. Every received frame is forwarded, dropped by policy,
/// dropped as malformed (when policy says so), or lost because the other side's TX ring was full.
#[derive(Debug, Default)]
pub(crate) struct SideCounters {
    pub received: Counter,
    pub received_bytes: Counter,
    /// Frames the policy passed (some may then be lost to a full TX ring).
    pub passed: Counter,
    pub dropped_policy: Counter,
    pub dropped_malformed: Counter,
    /// Passed frames the AF_XDP layer could not put on the other side's TX ring (its count).
    pub tx_full: Gauge,
}

/// One worker's counters, read by the stats thread.
#[derive(Debug)]
pub(crate) struct WorkerCounters {
    /// Indexed by side: 0 inside, 1 outside.
    pub sides: [SideCounters; 2],
    /// Packets dropped by policy, per protocol id and direction (0 outbound, 1 inbound).
    pub dropped: Box<[[Counter; 2]]>,
}

impl WorkerCounters {
    fn new(protocols: usize) -> Self {
        WorkerCounters { sides: Default::default(), dropped: (0..protocols).map(|_| Default::default()).collect() }
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Inside => 0,
        Side::Outside => 1,
    }
}

/// Everything built from the config before any interface is touched.
pub(crate) struct Prepared {
    pub config: Config,
    pub classifier: Arc<Classifier>,
    pub policy: PolicyTable,
    pub xdp: XdpConfig,
}

/// Load and check a config file, its signatures and its policy. Touches no interface.
pub(crate) fn prepare(path: &Path) -> Result<Prepared> {
    let config = Config::load(path)?;
    let classifier = match &config.inspect.signatures {
        Some(p) => Classifier::from_file(p)?,
        None => Classifier::builtin().context("the built-in signature file is invalid")?,
    };
    let limits = InspectLimits { max_packets: config.inspect.max_packets, max_bytes: config.inspect.max_bytes };
    let classifier = Arc::new(classifier.with_limits(limits));
    let reg = classifier.registry();
    let protocols: Vec<ProtocolInfo<'_>> =
        reg.iter().map(|id| ProtocolInfo { name: reg.name(id), category: reg.category(id).name() }).collect();
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
    let policy = PolicyTable::compile(&config.policy, &protocols, &categories)
        .with_context(|| format!("{}: invalid policy", path.display()))?;
    let xdp = XdpConfig {
        frame_size: config.rings.frame_size,
        frame_count: config.rings.frames,
        rx_ring: config.rings.rx,
        tx_ring: config.rings.tx,
        fill_ring: config.rings.fill,
        completion_ring: config.rings.completion,
        batch: config.workers.batch,
        xdp_mode: match config.interfaces.xdp_mode {
            weir_config::XdpMode::Native => weir_xdp::XdpMode::Native,
            weir_config::XdpMode::Generic => weir_xdp::XdpMode::Generic,
            weir_config::XdpMode::Auto => weir_xdp::XdpMode::Auto,
        },
        bind_mode: match config.interfaces.bind_mode {
            weir_config::BindMode::ZeroCopy => weir_xdp::BindMode::ZeroCopy,
            weir_config::BindMode::Copy => weir_xdp::BindMode::Copy,
            weir_config::BindMode::Auto => weir_xdp::BindMode::Auto,
        },
        need_wakeup: true,
        busy_poll: config.workers.busy_poll.map(|b| weir_xdp::BusyPoll {
            timeout_us: b.timeout_us,
            budget: b.budget,
            prefer: true,
        }),
    };
    xdp.validate().with_context(|| format!("{}: invalid [rings]/[workers] settings", path.display()))?;
    Ok(Prepared { config, classifier, policy, xdp })
}

/// `weir check-config FILE`.
pub(crate) fn check_config(path: &Path) -> Result<ExitCode> {
    let p = prepare(path)?;
    let c = &p.config;
    println!(
        "{}: ok: bridge {} <-> {}, queues {}, {} signatures, {} policy rules, default {}, malformed {}",
        path.display(),
        c.interfaces.inside,
        c.interfaces.outside,
        match &c.interfaces.queues {
            None => "all".to_string(),
            Some(q) => format!("{q:?}"),
        },
        p.classifier.signature_count(),
        c.policy.rules.len(),
        c.policy.default.name(),
        c.policy.malformed.name(),
    );
    Ok(ExitCode::SUCCESS)
}

/// `weir run --config FILE`.
pub(crate) fn run(path: &Path, summary_json: Option<&Path>, stats_json: Option<&Path>) -> Result<ExitCode> {
    let p = prepare(path)?;
    let c = &p.config;
    let nqueues = weir_xdp::check_pair(&c.interfaces.inside, &c.interfaces.outside, &p.xdp)?;
    let queues: Vec<u32> = match &c.interfaces.queues {
        None => (0..nqueues).collect(),
        Some(q) => q.clone(),
    };
    if let Some(&bad) = queues.iter().find(|&&q| q >= nqueues) {
        bail!(
            "{}: key `interfaces.queues`: queue {bad} does not exist ({} and {} have {nqueues} queues); \
             use queues 0..{nqueues} or \"all\"",
            path.display(),
            c.interfaces.inside,
            c.interfaces.outside
        );
    }
    let ncores = core_affinity::get_core_ids().map(|v| v.len()).unwrap_or(1).max(1);
    let cores: Vec<usize> = if c.workers.cores.is_empty() {
        (0..queues.len()).map(|i| i % ncores).collect()
    } else {
        c.workers.cores.clone()
    };
    if cores.len() != queues.len() {
        bail!(
            "{}: key `workers.cores`: {} cores for {} queues; give one core per queue or leave it empty",
            path.display(),
            cores.len(),
            queues.len()
        );
    }

    // A weir that was killed leaves libxdp's redirect program attached (it passes traffic to the
    // kernel while no socket is bound, and nothing would ever detach it): remove it first.
    for ifname in [&c.interfaces.inside, &c.interfaces.outside] {
        if weir_xdp::detach_xdp(ifname)? {
            eprintln!("weir: removed a leftover XDP program from {ifname} (left by a weir that was killed?)");
        }
    }

    // Receive VLAN stripping hides tags from XDP: off while weir runs, restored at exit.
    let mut restore_vlan = Vec::new();
    for ifname in [&c.interfaces.inside, &c.interfaces.outside] {
        match weir_xdp::set_rx_vlan_stripping(ifname, false) {
            Ok(true) => restore_vlan.push(ifname.clone()),
            Ok(false) => {}
            Err(e) => eprintln!("weir: warning: {e}; VLAN tags stripped by the NIC will not be forwarded"),
        }
    }
    let result = bridge(&p, queues, cores, path, Outputs { summary_json, stats_json });
    for ifname in restore_vlan {
        if let Err(e) = weir_xdp::set_rx_vlan_stripping(&ifname, true) {
            eprintln!("weir: warning: could not restore VLAN stripping: {e}");
        }
    }
    result
}

/// Where `weir run` writes besides stderr.
struct Outputs<'a> {
    summary_json: Option<&'a Path>,
    stats_json: Option<&'a Path>,
}

/// Open the sockets, run the workers and the stats loop until a signal, report.
fn bridge(p: &Prepared, queues: Vec<u32>, cores: Vec<usize>, path: &Path, out: Outputs<'_>) -> Result<ExitCode> {
    let c = &p.config;
    // Outputs that can fail are opened before anything is attached.
    let published = Arc::new(parking_lot::Mutex::new(weir_stats::http::Published::default()));
    let _server = match (c.stats.enabled, c.stats.listen) {
        (true, Some(addr)) => Some(weir_stats::http::Server::start(addr, Arc::clone(&published)).with_context(|| {
            format!(
                "{}: key `stats.listen`: cannot listen on {addr}; pick a free port, or \"\" to turn the endpoint off",
                path.display()
            )
        })?),
        _ => None,
    };
    let mut stats_json = match out.stats_json {
        Some(f) if f == Path::new("-") => Some(Box::new(std::io::stdout()) as Box<dyn std::io::Write>),
        Some(f) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(f).with_context(|| format!("--stats-json {}: cannot create", f.display()))?,
        )) as Box<dyn std::io::Write>),
        None => None,
    };
    let exporter = start_exporter(p, path)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install the SIGINT/SIGTERM handler")?;
    }

    // Open every queue pair before starting any worker, so a failure leaves nothing attached.
    let mut pairs = Vec::new();
    for &q in &queues {
        match QueuePair::open(&c.interfaces.inside, &c.interfaces.outside, q, &p.xdp) {
            Ok(pair) => pairs.push((q, pair)),
            Err(e) => {
                for (_, pair) in pairs {
                    let _ = pair.close();
                }
                return Err(anyhow::Error::new(e).context(format!("cannot open AF_XDP sockets on queue {q}")));
            }
        }
    }
    for (q, pair) in &pairs {
        eprintln!(
            "weir: queue {q}: {} <-> {} bound in {:?} mode, {}",
            c.interfaces.inside,
            c.interfaces.outside,
            pair.bind_mode(),
            if pair.zero_copy_forwarding() {
                "forwarding by descriptor (shared UMEM, no copy)"
            } else {
                "forwarding by copy (the kernel could not share one UMEM across both NICs)"
            }
        );
    }

    let table = FlowTableConfig {
        shards: c.flows.shards,
        capacity: c.flows.capacity,
        timeouts: Timeouts {
            tcp_ns: c.flows.tcp_idle_s * 1_000_000_000,
            udp_ns: c.flows.udp_idle_s * 1_000_000_000,
            other_ns: c.flows.other_idle_s * 1_000_000_000,
            closed_ns: c.flows.closed_linger_s * 1_000_000_000,
        },
    };
    let shared = Shared::new(Arc::clone(&p.classifier), table, c.inspect.peer_cache)
        .map_err(|e| anyhow::anyhow!("{}: [flows]: {e}", path.display()))?;
    let policy = Arc::new(p.policy.clone());
    let epoch = Instant::now();
    // Engine times are nanoseconds since `epoch`; exported records need Unix time.
    let epoch_unix_ns =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let engine_config = EngineConfig {
        record_flows: exporter.is_some(),
        active_timeout_ns: c.flows.active_timeout_s.saturating_mul(1_000_000_000),
        host_capacity: if c.stats.enabled { c.stats.hosts_tracked } else { 0 },
        ..EngineConfig::default()
    };
    let mut host_tables = Vec::new();

    let frames_total: u64 = pairs.iter().map(|(_, pair)| pair.census().total).sum();
    let (mut collector, sides) = weir_stats::histo::exchange(pairs.len())
        .map_err(|e| anyhow::anyhow!("cannot set up the latency histograms: {e}"))?;
    let mut workers = Vec::new();
    let mut views = Vec::new();
    for (((q, pair), core), side) in pairs.into_iter().zip(cores).zip(sides) {
        let engine = Engine::new(shared.clone(), engine_config.clone());
        host_tables.push(engine.published_hosts());
        let export = exporter.as_ref().and_then(Exporter::handle).map(|handle| Export { handle, epoch_unix_ns });
        let wc = Arc::new(WorkerCounters::new(p.classifier.registry().len()));
        views.push((q, Arc::clone(engine.counters()), Arc::clone(&wc)));
        let (stop, policy) = (Arc::clone(&stop), Arc::clone(&policy));
        let hist = c.stats.enabled.then_some(side);
        let handle = std::thread::Builder::new()
            .name(format!("weir-q{q}"))
            .spawn(move || worker(q, core, pair, engine, &policy, &wc, hist, &stop, epoch, export.as_ref()))
            .context("cannot start a worker thread")?;
        workers.push(handle);
    }

    let interval = Duration::from_secs(c.stats.interval_s);
    if let Some(core) = c.workers.stats_core {
        pin(core);
    }
    let mut state = crate::stats::StatsState::new(&p.classifier, c.flows.capacity as u64, frames_total)?;
    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) && !workers.iter().any(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(50).min(interval));
        if c.stats.enabled && Instant::now() >= next {
            next += interval;
            let t = Totals::read(&views, &p.classifier);
            let extra = crate::stats::Extra {
                host_tables: &host_tables,
                hosts_shown: c.stats.hosts,
                ipfix: exporter.as_ref().map(|e| ipfix_stats(&e.stats())),
            };
            let record = state.record(&t, &mut collector, &shared, &p.classifier, epoch, extra);
            eprintln!("{}", crate::stats::line(&record));
            if let Some(w) = stats_json.as_mut() {
                let line = serde_json::to_string(&record).unwrap_or_default();
                if writeln!(w, "{line}").and_then(|()| w.flush()).is_err() {
                    eprintln!("weir: warning: cannot write --stats-json; stopping that output");
                    stats_json = None;
                }
            }
            let metrics = weir_stats::prometheus::render(&record);
            let json = serde_json::to_string(&record).unwrap_or_default();
            *published.lock() = weir_stats::http::Published { metrics, json };
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut failed = false;
    let mut censuses = Vec::new();
    let mut engines = Vec::new();
    for (w, (q, _, _)) in workers.into_iter().zip(&views) {
        match w.join() {
            Ok(Ok((census, engine))) => {
                censuses.push((*q, census));
                engines.push(engine);
            }
            Ok(Err(e)) => {
                eprintln!("weir: error: {e:#}");
                failed = true;
            }
            Err(_) => {
                eprintln!("weir: error: a worker thread panicked");
                failed = true;
            }
        }
    }
    // Every worker has stopped: end the flows still in the table, so those whose inspection was
    // pending get their best label and their packets are counted under a protocol. (One flush
    // covers every shard; its counts go to that engine's counters, which the totals include.)
    if let Some(engine) = engines.first_mut() {
        engine.flush();
        if let Some(h) = exporter.as_ref().and_then(Exporter::handle) {
            Export { handle: h, epoch_unix_ns }.send(engine, &policy, false);
        }
    }
    if let Some(exporter) = exporter {
        for c in exporter.finish(Duration::from_secs(5)).collectors {
            eprintln!(
                "weir: ipfix {}: {} data records in {} messages, {} lost, {} send errors",
                c.collector, c.records, c.messages, c.records_lost, c.send_errors
            );
        }
    }
    let t = Totals::read(&views, &p.classifier);
    eprint!("{}", t.final_report(&p.classifier));
    if let Some(path) = out.summary_json {
        let json = t.to_json(&p.classifier, &censuses, epoch.elapsed());
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Start the IPFIX exporter of `[export]`, if it names collectors.
fn start_exporter(p: &Prepared, path: &Path) -> Result<Option<Exporter>> {
    let c = &p.config;
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
    let apps = Arc::new(AppTable::from_registry(p.classifier.registry()));
    let exporter = Exporter::start(config, apps).with_context(|| format!("{}: key `export.ipfix`", path.display()))?;
    Ok(Some(exporter))
}

fn ipfix_stats(s: &weir_export::ExportStats) -> weir_stats::IpfixStats {
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

/// A worker's way to the exporter.
struct Export {
    handle: ExportHandle,
    epoch_unix_ns: u64,
}

impl Export {
    /// Hand the engine's interim and ended-flow records to the exporter, each direction with
    /// the policy's action for it; `try_send` (a worker) never waits, drops are counted.
    fn send(&self, engine: &mut Engine, policy: &PolicyTable, try_send: bool) {
        let fwd = |protocol: u16, inside: bool| Forwarding::of_flow(protocol, inside, |p, d| policy.action(Some(p), d));
        let put = |f: ExportFlow| if try_send { self.handle.try_send(f) } else { self.handle.send(f) };
        for r in engine.drain_active() {
            put(ExportFlow::active(&r, self.epoch_unix_ns, fwd(r.label.protocol.0, r.originator_inside)));
        }
        for r in engine.drain_records() {
            put(ExportFlow::ended(&r, self.epoch_unix_ns, fwd(r.label.protocol.0, r.originator_inside)));
        }
    }
}

fn pin(core: usize) {
    if let Some(id) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|c| c.id == core))
        && !core_affinity::set_for_current(id)
    {
        eprintln!("weir: warning: could not pin to core {core}");
    }
}

/// Idle sockets are polled at least this often (the kernel's need_wakeup does the rest).
const IDLE_WAIT: Duration = Duration::from_millis(10);

#[allow(clippy::too_many_arguments)]
fn worker(
    queue: u32,
    core: usize,
    mut pair: QueuePair,
    mut engine: Engine,
    policy: &PolicyTable,
    wc: &WorkerCounters,
    mut hist: Option<weir_stats::histo::WorkerSide>,
    stop: &AtomicBool,
    epoch: Instant,
    export: Option<&Export>,
) -> Result<(FrameCensus, Engine)> {
    pin(core);
    while !stop.load(Ordering::Relaxed) {
        // The clock is read at the start and end of a batch, never per packet.
        let started = Instant::now();
        let now = started.duration_since(epoch).as_nanos() as u64;
        let result = pair.poll(|side, frame| {
            let s = &wc.sides[side_index(side)];
            s.received.inc();
            s.received_bytes.add(frame.len() as u64);
            let ingress = match side {
                Side::Inside => Ingress::Inside,
                Side::Outside => Ingress::Outside,
            };
            let action = match engine.process(frame, frame.len() as u32, LinkType::Ethernet, ingress, now) {
                Outcome::Malformed(_) => {
                    let a = policy.malformed();
                    if a == Action::Drop {
                        s.dropped_malformed.inc();
                    }
                    a
                }
                Outcome::NonIp => Action::Forward,
                Outcome::Ip { protocol, direction, .. } => {
                    let a = policy.action(protocol.map(|p| p.0), direction.index());
                    if a == Action::Drop {
                        s.dropped_policy.inc();
                        if let Some(c) = protocol.and_then(|p| wc.dropped.get(usize::from(p.0))) {
                            c[direction.index()].inc();
                        }
                    }
                    a
                }
            };
            match action {
                Action::Forward => {
                    s.passed.inc();
                    FrameAction::Forward
                }
                Action::Drop => FrameAction::Drop,
            }
        });
        // Flows end, and are exported and counted to their hosts, also while the link is quiet.
        engine.tick(now);
        if let Some(x) = export {
            x.send(&mut engine, policy, true);
        }
        if let Some(h) = hist.as_mut() {
            if result.received > 0 {
                h.record_batch(started.elapsed().as_nanos() as u64, result.received);
            }
            if h.wanted() {
                let census = pair.census();
                h.hand_over(census.total - census.free);
            }
        }
        for side in [Side::Inside, Side::Outside] {
            wc.sides[side_index(side)].tx_full.set(pair.counters().side(side).tx_full);
        }
        if result.received == 0 {
            pair.wait(IDLE_WAIT).with_context(|| format!("queue {queue}: poll failed"))?;
        }
    }
    for side in [Side::Inside, Side::Outside] {
        wc.sides[side_index(side)].tx_full.set(pair.counters().side(side).tx_full);
    }
    let census = pair.close().with_context(|| format!("queue {queue}: close failed"))?;
    if census.sum() != census.total {
        bail!("queue {queue}: frame accounting broke: {census:?}");
    }
    Ok((census, engine))
}

/// One side's figures, summed over workers.
#[derive(Clone, Copy, Default)]
pub(crate) struct SideTotals {
    pub(crate) received: u64,
    pub(crate) received_bytes: u64,
    passed: u64,
    pub(crate) dropped_policy: u64,
    pub(crate) dropped_malformed: u64,
    pub(crate) tx_full: u64,
}

impl SideTotals {
    pub(crate) fn forwarded(&self) -> u64 {
        self.passed.saturating_sub(self.tx_full)
    }
}

/// One protocol's figures, summed over workers; arrays by direction (0 outbound, 1 inbound).
#[derive(Clone, Copy, Default)]
pub(crate) struct ProtoTotals {
    pub(crate) flows: u64,
    pub(crate) packets: [u64; 2],
    pub(crate) bytes: [u64; 2],
    pub(crate) dropped: [u64; 2],
}

/// A snapshot of every worker's counters.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) sides: [SideTotals; 2],
    pub(crate) protocols: Vec<ProtoTotals>,
    pub(crate) malformed: u64,
    /// Malformed frames, indexed like `WireError::ALL`.
    pub(crate) malformed_by: Vec<u64>,
    pub(crate) non_ip: u64,
    pub(crate) flows: u64,
}

type View = (u32, Arc<EngineCounters>, Arc<WorkerCounters>);

impl Totals {
    fn read(views: &[View], classifier: &Classifier) -> Totals {
        let mut t =
            Totals { protocols: vec![ProtoTotals::default(); classifier.registry().len()], ..Totals::default() };
        for (_, ec, wc) in views {
            for (sum, s) in t.sides.iter_mut().zip(&wc.sides) {
                sum.received += s.received.get();
                sum.received_bytes += s.received_bytes.get();
                sum.passed += s.passed.get();
                sum.dropped_policy += s.dropped_policy.get();
                sum.dropped_malformed += s.dropped_malformed.get();
                sum.tx_full += s.tx_full.get();
            }
            for ((row, p), d) in t.protocols.iter_mut().zip(ec.protocols.iter()).zip(wc.dropped.iter()) {
                row.flows += p.flows.get();
                for (i, dropped) in d.iter().enumerate() {
                    row.packets[i] += p.packets[i].get();
                    row.bytes[i] += p.bytes[i].get();
                    row.dropped[i] += dropped.get();
                }
            }
            t.malformed += ec.malformed_total();
            t.malformed_by.resize(ec.malformed.len(), 0);
            for (sum, c) in t.malformed_by.iter_mut().zip(ec.malformed.iter()) {
                *sum += c.get();
            }
            t.non_ip += ec.non_ip_packets.get();
            t.flows += ec.flows_created.get();
        }
        t
    }

    fn final_report(&self, classifier: &Classifier) -> String {
        let mut s = String::from("weir: final counters\n");
        for (side, name) in self.sides.iter().zip(["inside", "outside"]) {
            s.push_str(&format!(
                "  {name:<8} received {} ({} bytes) = forwarded {} + dropped by policy {} + dropped malformed {} + lost to a full TX ring {}\n",
                side.received,
                side.received_bytes,
                side.forwarded(),
                side.dropped_policy,
                side.dropped_malformed,
                side.tx_full,
            ));
        }
        s.push_str(&format!(
            "  {:<14} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10}\n",
            "protocol", "flows", "pkts out", "pkts in", "bytes out", "bytes in", "drop out", "drop in"
        ));
        let reg = classifier.registry();
        for (id, p) in self.protocols.iter().enumerate() {
            if p.flows > 0 || p.packets.iter().any(|v| *v > 0) {
                let name = reg.name(weir_dpi::ProtocolId(id as u16));
                s.push_str(&format!(
                    "  {name:<14} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10}\n",
                    p.flows, p.packets[0], p.packets[1], p.bytes[0], p.bytes[1], p.dropped[0], p.dropped[1]
                ));
            }
        }
        s.push_str(&format!("  non-ip frames {}, malformed frames {}\n", self.non_ip, self.malformed));
        s
    }

    /// The final counters as one JSON object (`weir run --summary-json`); names documented in
    /// the README.
    fn to_json(
        &self,
        classifier: &Classifier,
        censuses: &[(u32, FrameCensus)],
        elapsed: Duration,
    ) -> serde_json::Value {
        use serde_json::json;
        let side = |s: &SideTotals| {
            json!({
                "received": s.received,
                "received_bytes": s.received_bytes,
                "forwarded": s.forwarded(),
                "dropped_policy": s.dropped_policy,
                "dropped_malformed": s.dropped_malformed,
                "lost_tx_full": s.tx_full,
            })
        };
        let reg = classifier.registry();
        let protocols: Vec<_> = self
            .protocols
            .iter()
            .enumerate()
            .filter(|(_, p)| p.flows > 0 || p.packets.iter().any(|v| *v > 0))
            .map(|(id, p)| {
                let id = weir_dpi::ProtocolId(id as u16);
                json!({
                    "protocol": reg.name(id),
                    "category": reg.category(id).name(),
                    "flows": p.flows,
                    "packets_out": p.packets[0],
                    "packets_in": p.packets[1],
                    "bytes_out": p.bytes[0],
                    "bytes_in": p.bytes[1],
                    "dropped_out": p.dropped[0],
                    "dropped_in": p.dropped[1],
                })
            })
            .collect();
        let frames: Vec<_> = censuses
            .iter()
            .map(|(q, c)| {
                json!({
                    "queue": q, "total": c.total, "free": c.free, "fill": c.fill, "rx": c.rx,
                    "in_batch": c.in_batch, "tx": c.tx, "completion": c.completion, "accounted": c.sum() == c.total,
                })
            })
            .collect();
        json!({
            "type": "bridge-summary",
            "elapsed_s": elapsed.as_secs_f64(),
            "interfaces": {"inside": side(&self.sides[0]), "outside": side(&self.sides[1])},
            "flows": self.flows,
            "protocols": protocols,
            "non_ip": self.non_ip,
            "malformed": self.malformed,
            "frames": frames,
        })
    }
}
