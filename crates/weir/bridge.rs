//! `weir run`: the AF_XDP inline bridge, and `weir check-config`.
//!
//! Start-up checks everything it can before attaching anything: the config, the signatures, the
//! policy against the classifier's protocols, the NICs and their queue counts, the cores. Only then
//! are the sockets opened (and with them the XDP programs attached), one queue pair per worker;
//! if any fails, those already open are closed again before exiting non-zero.

use anyhow::{Context, Result, bail};
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
use weir_policy::{PolicyTable, ProtocolInfo};
use weir_stats::Counter;
use weir_xdp::{FrameAction, QueuePair, Side, XdpConfig};

/// Per-side counters one worker keeps: received = forwarded + dropped (policy, malformed, tx full).
#[derive(Debug, Default)]
pub(crate) struct SideCounters {
    pub received: Counter,
    pub received_bytes: Counter,
    pub forwarded: Counter,
    pub dropped_policy: Counter,
    pub dropped_malformed: Counter,
}

/// One worker's counters, read by the stats thread.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    /// Indexed by side: 0 inside, 1 outside.
    pub sides: [SideCounters; 2],
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
pub(crate) fn run(path: &Path) -> Result<ExitCode> {
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
    let policy = Arc::new(p.policy);
    let epoch = Instant::now();

    let mut workers = Vec::new();
    let mut views = Vec::new();
    for ((q, pair), core) in pairs.into_iter().zip(cores) {
        let engine = Engine::new(shared.clone(), EngineConfig::default());
        let wc = Arc::new(WorkerCounters::default());
        views.push((q, Arc::clone(engine.counters()), Arc::clone(&wc)));
        let (stop, policy) = (Arc::clone(&stop), Arc::clone(&policy));
        let handle = std::thread::Builder::new()
            .name(format!("weir-q{q}"))
            .spawn(move || worker(q, core, pair, engine, &policy, &wc, &stop, epoch))
            .context("cannot start a worker thread")?;
        workers.push(handle);
    }

    let interval = Duration::from_secs(c.stats.interval_s);
    let stats_core = c.workers.stats_core;
    if let Some(core) = stats_core {
        pin(core);
    }
    let mut last = Totals::default();
    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) && !workers.iter().any(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(50).min(interval));
        if Instant::now() >= next {
            next += interval;
            let t = Totals::read(&views, &p.classifier);
            eprintln!("{}", t.line(&last, interval, &p.classifier));
            last = t;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut failed = false;
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
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
    let t = Totals::read(&views, &p.classifier);
    eprint!("{}", t.final_report(&p.classifier));
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn pin(core: usize) {
    if let Some(id) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|c| c.id == core)) {
        if !core_affinity::set_for_current(id) {
            eprintln!("weir: warning: could not pin to core {core}");
        }
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
    stop: &AtomicBool,
    epoch: Instant,
) -> Result<()> {
    pin(core);
    while !stop.load(Ordering::Relaxed) {
        // One clock read per batch, not per packet.
        let now = epoch.elapsed().as_nanos() as u64;
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
                    }
                    a
                }
            };
            match action {
                Action::Forward => {
                    s.forwarded.inc();
                    FrameAction::Forward
                }
                Action::Drop => FrameAction::Drop,
            }
        });
        if result.received == 0 {
            pair.wait(IDLE_WAIT).with_context(|| format!("queue {queue}: poll failed"))?;
        }
    }
    let census = pair.close().with_context(|| format!("queue {queue}: close failed"))?;
    if census.sum() != census.total {
        bail!("queue {queue}: frame accounting broke: {census:?}");
    }
    Ok(())
}

/// A snapshot of every worker's counters.
#[derive(Default)]
struct Totals {
    sides: [[u64; 5]; 2],
    protocols: Vec<[u64; 4]>,
    malformed: u64,
}

impl Totals {
    fn read(views: &[(u32, Arc<EngineCounters>, Arc<WorkerCounters>)], classifier: &Classifier) -> Totals {
        let mut t = Totals { protocols: vec![[0; 4]; classifier.registry().len()], ..Totals::default() };
        for (_, ec, wc) in views {
            for (i, s) in wc.sides.iter().enumerate() {
                let v = [
                    s.received.get(),
                    s.received_bytes.get(),
                    s.forwarded.get(),
                    s.dropped_policy.get(),
                    s.dropped_malformed.get(),
                ];
                for (a, b) in t.sides[i].iter_mut().zip(v) {
                    *a += b;
                }
            }
            for (id, p) in ec.protocols.iter().enumerate() {
                if let Some(row) = t.protocols.get_mut(id) {
                    row[0] += p.packets[0].get();
                    row[1] += p.packets[1].get();
                    row[2] += p.bytes[0].get();
                    row[3] += p.bytes[1].get();
                }
            }
            t.malformed += ec.malformed_total();
        }
        t
    }

    fn line(&self, last: &Totals, interval: Duration, classifier: &Classifier) -> String {
        let secs = interval.as_secs_f64();
        let mut s = String::new();
        for (i, name) in ["inside", "outside"].iter().enumerate() {
            let d = |k: usize| self.sides[i][k] - last.sides[i][k];
            s.push_str(&format!(
                "{name}: rx {:.0} pps {:.1} Mbit/s fwd {} drop {}  ",
                d(0) as f64 / secs,
                d(1) as f64 * 8.0 / secs / 1e6,
                d(2),
                d(3) + d(4)
            ));
        }
        let reg = classifier.registry();
        let mut top: Vec<(u64, String)> = self
            .protocols
            .iter()
            .enumerate()
            .zip(last.protocols.iter().chain(std::iter::repeat(&[0; 4])))
            .map(|((id, now), before)| {
                let bytes = now[2] + now[3] - before[2] - before[3];
                (bytes, reg.name(weir_dpi::ProtocolId(id as u16)).to_string())
            })
            .filter(|(b, _)| *b > 0)
            .collect();
        top.sort_by(|a, b| b.cmp(a));
        let top: Vec<String> =
            top.iter().take(4).map(|(b, n)| format!("{n} {:.1} Mbit/s", *b as f64 * 8.0 / secs / 1e6)).collect();
        s.push_str(&format!("| {}", if top.is_empty() { "-".to_string() } else { top.join(", ") }));
        s
    }

    fn final_report(&self, classifier: &Classifier) -> String {
        let mut s = String::from("weir: final counters\n");
        for (i, name) in ["inside", "outside"].iter().enumerate() {
            let v = self.sides[i];
            s.push_str(&format!(
                "  {name:<8} received {} ({} bytes) = forwarded {} + dropped by policy {} + dropped malformed {} + lost {}\n",
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[0].saturating_sub(v[2] + v[3] + v[4])
            ));
        }
        s.push_str(&format!(
            "  {:<14} {:>10} {:>10} {:>12} {:>12}\n",
            "protocol", "pkts out", "pkts in", "bytes out", "bytes in"
        ));
        let reg = classifier.registry();
        for (id, p) in self.protocols.iter().enumerate() {
            if p.iter().any(|v| *v > 0) {
                let name = reg.name(weir_dpi::ProtocolId(id as u16));
                s.push_str(&format!("  {name:<14} {:>10} {:>10} {:>12} {:>12}\n", p[0], p[1], p[2], p[3]));
            }
        }
        if self.malformed > 0 {
            s.push_str(&format!("  malformed frames: {}\n", self.malformed));
        }
        s
    }
}
