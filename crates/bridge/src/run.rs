//! `weir run` and `weir check-config` as library calls: prepare, open, run, summarise.
//!
//! Start-up checks everything it can before attaching anything: the config, the signatures, the
//! policy against the classifier's protocols, the NICs and their queue counts, the cores, the
//! stats port. Only then are the sockets opened (and with them the XDP programs attached), one
//! queue pair per worker; if any fails, those already open are closed again.
//!
//! The control loop owns the live policy ([`Publisher`]): it evaluates the schedules against the
//! wall clock ([`Lifecycle::now`]) and publishes a new generation at each boundary, and it
//! answers SIGHUP and the control socket (`weir reload`) by re-reading and checking the whole
//! config ([`weir_control::reload`]) and, only if all of it is good, publishing its policy. The
//! workers load the generation once per batch; nothing on the data path waits for this.

use crate::classes::{ClassRates, ClassView};
use crate::control::PolicyControl;
use crate::counters::{WorkerView, totals};
use crate::export::{Export, ipfix_stats, start_exporter};
use crate::fast::Fast;
use crate::sweep::Sweeper;
use crate::verdict::Inspector;
use crate::worker::{Worker, WorkerExit};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weir_config::Config;
use weir_control::{Control, Loaded};
use weir_dpi::{Classifier, ProtocolId};
use weir_engine::{Engine, EngineConfig, Expiry, PeerCache, RelatedConfig, Shared, WireError};
use weir_export::Exporter;
use weir_policy::Program;
use weir_service::log;
use weir_stats::{BridgeSummary, Extra, FlowTableStats, FrameSummary, RecordBuilder, TopFlow};
use weir_xdp::{QueuePair, XdpConfig};

/// Flows listed in `top_flows`.
const TOP_FLOWS: usize = 10;
/// Top-flow candidates each worker keeps (more than listed: candidates of several workers, some
/// of which have ended, are merged).
const TOP_CANDIDATES: usize = 16;
/// How long the IPFIX collectors get at shutdown to take the records still queued.
const EXPORT_LINGER: Duration = Duration::from_secs(5);
/// Hosts listed in the final report's text (by peer-to-peer bytes; the summary JSON has all).
const REPORT_HOSTS: usize = 10;
/// How often the control thread wakes: sweeps, stops, stats intervals.
const CONTROL_TICK: Duration = Duration::from_millis(50);

/// Everything built from the config before any interface is touched.
pub struct Prepared {
    /// The validated config.
    pub config: Config,
    /// Signatures and detectors, with the config's inspection limits.
    pub classifier: Arc<Classifier>,
    /// The compiled policy, with its classes and schedules.
    pub program: Program,
    /// The AF_XDP sizes and modes.
    pub xdp: XdpConfig,
    /// The signature file's text as read (`None`: built in), so a reload can tell a change.
    pub signature_text: Option<String>,
    /// Protocol ids the per-protocol counters have room for (a reload may add protocols up to it).
    pub protocol_capacity: usize,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("config", &self.config).finish()
    }
}

/// Load and check a config file, its signatures and its policy. Touches no interface.
///
/// # Errors
/// Naming the file, the key and the fix.
pub fn prepare(path: &Path) -> Result<Prepared> {
    // The same checked load a reload runs, so start-up and reload accept the same files.
    let Loaded { config, classifier, program, signature_text, protocol_capacity } = weir_control::load(path)?;
    let xdp = config.xdp();
    Ok(Prepared { config, classifier, program, xdp, signature_text, protocol_capacity })
}

impl Prepared {
    /// What `weir check-config` prints for a good file.
    pub fn describe(&self, path: &Path) -> String {
        let c = &self.config;
        let f = &c.fastpath;
        let fastpath = if f.enabled {
            format!(
                "fastpath on (map {} flows, sweep {} s, fail {}, watchdog {})",
                f.map_size,
                f.sweep_interval_s,
                f.fail.name(),
                if f.watchdog_ms == 0 { "off".to_string() } else { format!("{} ms", f.watchdog_ms) }
            )
        } else {
            "fastpath off".to_string()
        };
        format!(
            "{}: ok: bridge {} <-> {}, queues {}, {} signatures, {} policy rules, default {}, malformed {}, {fastpath}",
            path.display(),
            c.interfaces.inside,
            c.interfaces.outside,
            match &c.interfaces.queues {
                None => "all".to_string(),
                Some(q) => format!("{q:?}"),
            },
            self.classifier.signature_count(),
            c.policy.rules.len(),
            c.policy.default.name(),
            c.policy.malformed.name(),
        )
    }

    /// (name, category) of each protocol id.
    fn protocol_names(&self) -> Vec<(String, String)> {
        protocol_names(&self.classifier)
    }
}

/// (name, category) of each protocol id of `classifier`.
pub(crate) fn protocol_names(classifier: &Classifier) -> Vec<(String, String)> {
    let reg = classifier.registry();
    reg.iter().map(|id| (reg.name(id).to_string(), reg.category(id).name().to_string())).collect()
}

/// Where the bridge writes its per-interval records besides stderr and the endpoint.
pub type StatsSink = Box<dyn Write + Send>;

/// What a run ended with.
#[derive(Debug)]
pub struct RunOutcome {
    /// The final counters.
    pub summary: BridgeSummary,
    /// Whether a worker failed (its error was printed).
    pub failed: bool,
}

/// The steps of the process around the bridge, for `weir run` as a service (the per-NIC lock is
/// taken before [`run`]; privileges drop once the sockets are bound; readiness goes to systemd).
/// Every method has a default that does nothing, so `()` is a bridge with no service around it.
pub trait Lifecycle: Sync {
    /// Run first by the stats endpoint's thread (e.g. wait for privileges to drop, then clear
    /// its own capabilities).
    fn http_thread_init(&self) -> Option<weir_stats::http::ThreadInit> {
        None
    }
    /// The sockets are bound and the programs attached; no worker has started. An error stops
    /// the run (everything is closed again).
    ///
    /// # Errors
    /// Whatever the implementation refuses to run without (e.g. privileges that cannot drop).
    fn bound(&self) -> Result<()> {
        Ok(())
    }
    /// The workers run.
    fn ready(&self, _queues: usize) {}
    /// Called from the control loop every few tens of milliseconds.
    fn tick(&self) {}
    /// The stats line of an interval.
    fn interval(&self, line: &str) {
        eprintln!("{line}");
    }
    /// The wall clock the schedules are evaluated by (tests inject one: the engine and the
    /// workers never read it).
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    /// The bridge is stopping (a signal, or a worker ended).
    fn stopping(&self) {}
    /// Start-up failed after the stats endpoint's thread started (release anything that thread
    /// waits for, so it can be joined).
    fn start_failed(&self) {}
}

impl Lifecycle for () {}

/// Turns receive VLAN stripping back on, at drop, where weir turned it off.
struct VlanGuard(Vec<String>);

impl Drop for VlanGuard {
    fn drop(&mut self) {
        for ifname in &self.0 {
            if let Err(e) = weir_xdp::set_rx_vlan_stripping(ifname, true) {
                log::warn(
                    "vlan-stripping",
                    &[("nic", ifname), ("error", &e), ("msg", &"could not restore VLAN stripping")],
                );
            }
        }
    }
}

/// `weir run`: open everything, bridge until `stop` is set, then stop, drain and summarise.
///
/// # Errors
/// A start-up failure (nothing is left attached), or a stats output that cannot be written at
/// start.
pub fn run(
    p: &Prepared,
    path: &Path,
    stats_json: Option<StatsSink>,
    stop: &Arc<AtomicBool>,
    life: &dyn Lifecycle,
) -> Result<RunOutcome> {
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
    // Outputs that can fail are opened before anything is attached; the stats endpoint last, since
    // its thread waits for the privileges to drop (after binding) and would hold up an early exit.
    let exporter = start_exporter(c, &p.classifier, path)?;
    let control = Control::start(c.control.socket.as_deref()).with_context(|| {
        format!(
            "{}: key `control.socket`: cannot open the control socket; pick another path, or \"\" to turn it off",
            path.display()
        )
    })?;
    let published = Arc::new(parking_lot::Mutex::new(weir_stats::http::Published::default()));
    let server = match (c.stats.enabled, c.stats.listen) {
        (true, Some(addr)) => Some(
            weir_stats::http::Server::start_with(
                addr,
                Arc::clone(&published),
                Default::default(),
                life.http_thread_init(),
            )
            .with_context(|| {
                format!(
                    "{}: key `stats.listen`: cannot listen on {addr}; pick a free port, or \"\" to turn the endpoint off",
                    path.display()
                )
            })?,
        ),
        _ => None,
    };

    let out = Outputs { stats_json, published, exporter, control };
    let outcome = attach_and_bridge(p, &queues, cores, path, out, stop, life);
    if outcome.is_err() {
        // Before the endpoint's thread is joined: it may be waiting for a start that failed.
        life.start_failed();
    }
    drop(server);
    outcome
}

/// Remove what a killed weir left, open every queue pair, and bridge until `stop`.
fn attach_and_bridge(
    p: &Prepared,
    queues: &[u32],
    cores: Vec<usize>,
    path: &Path,
    out: Outputs,
    stop: &Arc<AtomicBool>,
    life: &dyn Lifecycle,
) -> Result<RunOutcome> {
    let c = &p.config;
    // A weir that was killed leaves libxdp's redirect program attached (it passes traffic to the
    // kernel while no socket is bound, and nothing would ever detach it): remove it first.
    for ifname in [&c.interfaces.inside, &c.interfaces.outside] {
        if weir_xdp::detach_xdp(ifname)? {
            log::info(
                "leftover-removed",
                &[("nic", ifname), ("msg", &"removed a leftover XDP program (left by a weir that was killed?)")],
            );
        }
    }
    // Receive VLAN stripping hides tags from XDP: off while weir runs, restored at exit.
    let mut vlan = VlanGuard(Vec::new());
    for ifname in [&c.interfaces.inside, &c.interfaces.outside] {
        match weir_xdp::set_rx_vlan_stripping(ifname, false) {
            Ok(true) => vlan.0.push(ifname.clone()),
            Ok(false) => {}
            Err(e) => log::warn(
                "vlan-stripping",
                &[("nic", ifname), ("error", &e), ("msg", &"VLAN tags stripped by the NIC will not be forwarded")],
            ),
        }
    }
    let fast = load_fastpath(p, queues);
    let pairs = match open_pairs(p, queues, fast.as_deref()) {
        Ok(pairs) => pairs,
        Err(e) => {
            if let Some(f) = &fast {
                f.path().detach();
            }
            return Err(e);
        }
    };
    if let Err(e) = life.bound() {
        for pair in pairs {
            let _ = pair.close();
        }
        if let Some(f) = &fast {
            f.path().detach();
        }
        return Err(e);
    }
    let outcome = bridge(p, pairs, cores, path, out, stop, life, fast);
    drop(vlan);
    outcome
}

/// Load weir's XDP program on both NICs, unless `[fastpath] enabled = false` or the
/// environment says `WEIR_FASTPATH=off`; if it cannot load, say why and run without it (as
/// with it off: libxdp's redirect program, every frame through user space). Logs the state
/// either way.
fn load_fastpath(p: &Prepared, queues: &[u32]) -> Option<Arc<Fast>> {
    let c = &p.config;
    let f = &c.fastpath;
    let env_off = std::env::var("WEIR_FASTPATH").is_ok_and(|v| v.trim().eq_ignore_ascii_case("off"));
    let off = |reason: &str| {
        log::info(
            "fastpath",
            &[("state", &"off"), ("reason", &reason), ("msg", &"every frame goes through user space")],
        );
        None
    };
    if !f.enabled {
        return off("[fastpath] enabled = false");
    }
    if env_off {
        return off("WEIR_FASTPATH=off");
    }
    if let Some(&q) = queues.iter().find(|&&q| q >= weir_xdp::MAX_QUEUES) {
        return off(&format!("queue {q} is beyond the {} queues the program serves", weir_xdp::MAX_QUEUES));
    }
    match weir_xdp::FastPath::load(&c.interfaces.inside, &c.interfaces.outside, p.xdp.xdp_mode, &c.fastpath()) {
        Ok(path) => {
            let fast = Fast::new(path, f.sweep_interval_s);
            log::info(
                "fastpath",
                &[
                    ("state", &"on"),
                    ("mode", &fast.mode()),
                    ("map_size", &f.map_size),
                    ("sweep_interval_s", &f.sweep_interval_s),
                    ("fail", &f.fail.name()),
                    ("watchdog_ms", &f.watchdog_ms),
                    ("maps", &"rebuilt at start (not pinned)"),
                ],
            );
            Some(Arc::new(fast))
        }
        Err(e) => {
            log::warn(
                "fastpath",
                &[
                    ("state", &"off"),
                    ("error", &e),
                    ("msg", &"weir's XDP program did not load; running without it (every frame through user space)"),
                ],
            );
            None
        }
    }
}

/// Open every queue pair before starting any worker, so a failure leaves nothing attached.
fn open_pairs(p: &Prepared, queues: &[u32], fast: Option<&Fast>) -> Result<Vec<QueuePair>> {
    let c = &p.config;
    let mut pairs = Vec::new();
    for &q in queues {
        match QueuePair::open_fast(&c.interfaces.inside, &c.interfaces.outside, q, &p.xdp, fast.map(Fast::path)) {
            Ok(pair) => pairs.push(pair),
            Err(e) => {
                for pair in pairs {
                    let _ = pair.close();
                }
                return Err(anyhow::Error::new(e).context(format!("cannot open AF_XDP sockets on queue {q}")));
            }
        }
    }
    for pair in &pairs {
        log::info(
            "queue-bound",
            &[
                ("queue", &pair.queue()),
                ("inside", &c.interfaces.inside),
                ("outside", &c.interfaces.outside),
                ("bind_mode", &format!("{:?}", pair.bind_mode())),
                ("forwarding", &if pair.zero_copy_forwarding() { "descriptor" } else { "copy" }),
                (
                    "msg",
                    &if pair.zero_copy_forwarding() {
                        "forwarding by descriptor (shared UMEM, no copy)"
                    } else {
                        "forwarding by copy (the kernel could not share one UMEM across both NICs)"
                    },
                ),
            ],
        );
    }
    Ok(pairs)
}

/// Where each interval's record goes besides stderr.
struct Outputs {
    stats_json: Option<StatsSink>,
    /// What the HTTP endpoint serves.
    published: Arc<parking_lot::Mutex<weir_stats::http::Published>>,
    /// The IPFIX exporter, with `[export] ipfix` set.
    exporter: Option<Exporter>,
    /// SIGHUP and the control socket.
    control: Control,
}

/// Run the workers and the control loop (sweeps, stats) until `stop`, then summarise.
#[allow(clippy::too_many_arguments)]
fn bridge(
    p: &Prepared,
    pairs: Vec<QueuePair>,
    cores: Vec<usize>,
    path: &Path,
    out: Outputs,
    stop: &Arc<AtomicBool>,
    life: &dyn Lifecycle,
    fast: Option<Arc<Fast>>,
) -> Result<RunOutcome> {
    let Outputs { mut stats_json, published, exporter, control } = out;
    let c = &p.config;
    let peers = PeerCache::new(c.inspect.peer_cache, c.inspect.peer_cache_ttl_s);
    let related = RelatedConfig {
        capacity: c.inspect.related,
        timeout_ns: c.inspect.related_timeout_s.saturating_mul(1_000_000_000),
    };
    let shared = Shared::with_peers(Arc::clone(&p.classifier), c.flow_table(), peers)
        .map_err(|e| anyhow::anyhow!("{}: [flows]: {e}", path.display()))?
        .with_related(related);
    let mut policy = PolicyControl::new(p, life.now());
    let live = Arc::clone(policy.publisher.live());
    let epoch = Instant::now();
    if let Some(f) = &fast {
        f.set_epoch(epoch);
        // Before any worker installs a flow under this generation.
        f.tick(live.load().table().generation() as u32);
    }
    // Engine times are nanoseconds since `epoch`; exported records need Unix time.
    let epoch_unix_ns =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let export =
        |exporter: &Option<Exporter>| exporter.as_ref().and_then(|x| Export::new(x, epoch_unix_ns, Arc::clone(&live)));
    let mut names = p.protocol_names();
    // What flows leave behind besides the per-protocol counters: records for the exporter,
    // interim reports of long flows, per-host bytes. Workers keep them for the flows their
    // packets end; the sweeper for the rest.
    let flow_ends = EngineConfig {
        record_flows: exporter.is_some(),
        active_timeout_ns: c.flows.active_timeout_s.saturating_mul(1_000_000_000),
        host_capacity: if c.stats.enabled { c.stats.hosts_tracked } else { 0 },
        fast_hints: fast.is_some(),
        ..EngineConfig::default()
    };
    let mut host_tables = Vec::new();
    let classes = Arc::clone(live.load().classes());
    let shaper_config = weir_shaper::ShaperConfig::from_classes(&classes, shaper_memory(c), c.rings.frame_size);
    let mut class_views = Vec::new();

    let (mut collector, sides) = weir_stats::histo::exchange(pairs.len())
        .map_err(|e| anyhow::anyhow!("cannot set up the latency histograms: {e}"))?;
    let top = if c.stats.enabled { TOP_CANDIDATES } else { 0 };
    let mut handles = Vec::new();
    let mut views = Vec::new();
    for ((pair, core), side) in pairs.into_iter().zip(cores).zip(sides) {
        let config = EngineConfig { expiry: Expiry::External, top_flows: top, ..flow_ends.clone() };
        let inspector = Inspector::classify(Engine::new(shared.clone(), config), Arc::clone(&live));
        host_tables.extend(inspector.published_hosts());
        let mut worker = Worker::new(pair, inspector, epoch).pinned(core);
        let mut shaper = weir_shaper::Shaper::new(&shaper_config, epoch.elapsed().as_nanos() as u64)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        class_views.push(ClassView::of(&mut shaper));
        worker = worker.with_shaper(shaper, shaper_config.clone(), Arc::clone(&classes), c.workers.batch as usize);
        if c.stats.enabled {
            worker = worker.with_histograms(side);
        }
        if let Some(x) = export(&exporter) {
            worker = worker.with_export(x);
        }
        if let Some(f) = &fast {
            worker = worker.with_fastpath(Arc::clone(f));
        }
        views.push(worker.view());
        let q = worker.pair().queue();
        let stop = Arc::clone(stop);
        let handle = std::thread::Builder::new()
            .name(format!("weir-q{q}"))
            .spawn(move || worker.run(&stop))
            .context("cannot start a worker thread")?;
        handles.push(handle);
    }

    life.ready(handles.len());
    let mut sweeper = Sweeper::with_config(shared.clone(), flow_ends);
    host_tables.push(sweeper.published_hosts());
    if let Some(x) = export(&exporter) {
        sweeper = sweeper.with_export(x);
    }
    if let Some(f) = &fast {
        sweeper = sweeper.with_fastpath(Arc::clone(f));
    }
    let interval = Duration::from_secs(c.stats.interval_s);
    if let Some(core) = c.workers.stats_core {
        crate::pin(core);
    }
    let malformed_names: Vec<&'static str> = WireError::ALL.iter().map(|e| e.name()).collect();
    let mut builder = RecordBuilder::new(names.clone(), malformed_names, c.flows.capacity as u64)
        .map_err(|e| anyhow::anyhow!("histograms: {e}"))?;
    let mut tracker = TopTracker::default();
    let mut classes_now = ClassRates::default();
    let mut next = Instant::now() + interval;
    while !stop.load(Ordering::Relaxed) && !handles.iter().any(|w| w.is_finished()) {
        std::thread::sleep(CONTROL_TICK.min(interval));
        sweeper.tick(epoch.elapsed().as_nanos() as u64);
        life.tick();
        policy.tick(life.now());
        while let Some(trigger) = control.poll() {
            policy.answer(trigger, path, life.now());
        }
        // The heartbeat (the program's watchdog) and the policy generation in force.
        if let Some(f) = &fast {
            f.tick(live.load().table().generation() as u32);
        }
        // New signatures: the sweeper inspects with them too, and the stats, the report and the
        // exporter's application table name the protocols they add.
        if let Some(classifier) = policy.take_new_classifier() {
            sweeper.set_classifier(Arc::clone(&classifier), live.load().epoch());
            names = protocol_names(&classifier);
            builder.set_protocol_names(names.clone());
            if let Some(x) = &exporter {
                x.set_apps(Arc::new(weir_export::apps::AppTable::from_registry(classifier.registry())));
            }
        }
        if c.stats.enabled && Instant::now() >= next {
            next += interval;
            let mut t = totals(&views, &[sweeper.counters()], names.len());
            if let Some(f) = &fast {
                f.add_to(&mut t);
            }
            let table = shared.table.stats();
            let flow_table = FlowTableStats {
                active: table.active,
                created: table.created,
                evicted: table.evicted,
                expired: table.expired,
                closed: table.closed,
                ..FlowTableStats::default()
            };
            let extra = Extra {
                host_tables: &host_tables,
                hosts_shown: c.stats.hosts,
                ipfix: exporter.as_ref().map(|x| ipfix_stats(&x.stats())),
            };
            let mut record = builder.record(&t, &mut collector, flow_table, epoch, extra);
            // Collecting the histograms brought the workers' fresh top-flow candidates.
            record.top_flows = tracker.update(&views, &shared, &names);
            record.classes = classes_now.record(&class_views, record.interval_s);
            record.policy = policy.status_record();
            record.fastpath = fast.as_ref().map(|f| f.stats());
            life.interval(&weir_stats::stderr_line(&record));
            let json = serde_json::to_string(&record).unwrap_or_default();
            if let Some(w) = stats_json.as_mut()
                && writeln!(w, "{json}").and_then(|()| w.flush()).is_err()
            {
                log::warn("stats-json", &[("msg", &"cannot write --stats-json; stopping that output")]);
                stats_json = None;
            }
            let metrics = weir_stats::prometheus::render(&record);
            *published.lock() = weir_stats::http::Published { metrics, json };
        }
    }
    stop.store(true, Ordering::Relaxed);
    life.stopping();
    let mut failed = false;
    let mut exits: Vec<WorkerExit> = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(exit)) => exits.push(exit),
            Ok(Err(e)) => {
                log::error("worker", &[("error", &format!("{e:#}"))]);
                failed = true;
            }
            Err(_) => {
                log::error("worker", &[("error", &"a worker thread panicked")]);
                failed = true;
            }
        }
    }
    // Every worker has stopped: end the flows still in the table, so those whose inspection was
    // pending get their best label and their packets are counted under a protocol (and are
    // exported, as forced ends). The collectors get up to 5 s to take what is queued.
    sweeper.flush();
    let ipfix = exporter.map(|x| ipfix_stats(&x.finish(EXPORT_LINGER)));
    let mut t = totals(&views, &[sweeper.counters()], names.len());
    if let Some(f) = &fast {
        f.add_to(&mut t);
    }
    let frames = exits.iter().map(frame_summary).collect();
    let mut summary = BridgeSummary::new(&t, &names, frames, epoch.elapsed().as_secs_f64());
    summary.hosts = weir_stats::merged_hosts(&host_tables, &names, c.stats.hosts);
    summary.ipfix = ipfix;
    summary.classes = classes_now.record(&class_views, 0.0);
    summary.policy = policy.status_record();
    summary.fastpath = fast.as_ref().map(|f| f.stats());
    // A clean stop leaves no program behind (a killed weir leaves it, failing open or closed).
    if let Some(f) = &fast {
        f.path().detach();
    }
    Ok(RunOutcome { summary, failed })
}

/// Bytes each worker's shaper may hold in queued frames: `workers.queue_memory`, but no more
/// than the UMEM frames both sockets' rings leave spare (a config with a shaping class is
/// checked to fit; without one, this keeps a class added by a reload from starving the fill
/// rings), and at least the 16 frames a shaper needs (police and mark classes hold none).
fn shaper_memory(c: &Config) -> u64 {
    let r = &c.rings;
    let frame = u64::from(r.frame_size);
    let spare = u64::from(r.frames).saturating_sub(2 * u64::from(r.rx + r.tx + r.fill + r.completion));
    c.workers.queue_memory.min(spare * frame).max(16 * frame)
}

fn frame_summary(e: &WorkerExit) -> FrameSummary {
    let c = &e.census;
    FrameSummary {
        queue: e.queue,
        total: c.total,
        free: c.free,
        fill: c.fill,
        rx: c.rx,
        in_batch: c.in_batch,
        tx: c.tx,
        completion: c.completion,
        accounted: c.sum() == c.total,
    }
}

/// The top flows over time: the flows listed last interval that are still in the table, and the
/// workers' fresh candidates, looked up again. So a heavy flow that pauses stays listed while it
/// is active (in the table), and one that ended drops out.
#[derive(Debug, Default)]
struct TopTracker {
    /// The flows kept from the last interval (more than listed, for headroom).
    kept: Vec<weir_engine::TopCandidate>,
}

impl TopTracker {
    fn update(&mut self, views: &[WorkerView], shared: &Shared, names: &[(String, String)]) -> Vec<TopFlow> {
        let mut candidates = std::mem::take(&mut self.kept);
        for v in views {
            candidates.extend_from_slice(&v.counters.top.lock());
        }
        let found = weir_engine::top_flows(&shared.table, &candidates, TOP_CANDIDATES);
        self.kept = found.iter().map(|(c, _)| *c).collect();
        found.into_iter().take(TOP_FLOWS).map(|(_, f)| top_flow(f, names)).collect()
    }
}

fn top_flow(f: weir_engine::FlowSnapshot, names: &[(String, String)]) -> TopFlow {
    TopFlow {
        l4: weir_stats::l4_name(f.ip_protocol),
        src: std::net::SocketAddr::from(f.originator).to_string(),
        dst: std::net::SocketAddr::from(f.responder).to_string(),
        protocol: f.protocol.map_or_else(
            || "pending".to_string(),
            |p: ProtocolId| names.get(usize::from(p.0)).map(|n| n.0.clone()).unwrap_or_default(),
        ),
        bytes: f.bytes,
        packets: f.packets,
    }
}

/// The final counters as text, for stderr at exit.
pub fn final_report(s: &BridgeSummary) -> String {
    let mut out = String::from("weir: final counters\n");
    for (name, side) in [("inside", &s.interfaces.inside), ("outside", &s.interfaces.outside)] {
        out.push_str(&format!(
            "  {name:<8} received {} ({} bytes) = forwarded {} + dropped by policy {} + dropped malformed {} + lost to a full TX ring {} + dropped by the shaper {} + queued {}\n",
            side.received,
            side.received_bytes,
            side.forwarded,
            side.dropped_policy,
            side.dropped_malformed,
            side.lost_tx_full,
            side.dropped_shaper,
            side.queued,
        ));
    }
    out.push_str(&format!(
        "  {:<14} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10}\n",
        "protocol", "flows", "pkts out", "pkts in", "bytes out", "bytes in", "drop out", "drop in"
    ));
    for p in &s.protocols {
        out.push_str(&format!(
            "  {:<14} {:>6} {:>10} {:>10} {:>12} {:>12} {:>10} {:>10}\n",
            p.protocol, p.flows, p.packets_out, p.packets_in, p.bytes_out, p.bytes_in, p.dropped_out, p.dropped_in
        ));
    }
    out.push_str(&format!("  non-ip frames {}, malformed frames {}\n", s.non_ip, s.malformed));
    for c in &s.classes {
        for (dir, d) in [("out", &c.out), ("in", &c.inb)] {
            if d.packets_in == 0 {
                continue;
            }
            out.push_str(&format!(
                "  class {:<12} {:<6} {dir:<3} in {} pkts, sent {} ({} bytes), dropped police {} codel {} queue-full {} flushed {}, ecn marks {}, dscp marks {}\n",
                c.name, c.kind, d.packets_in, d.packets_out, d.bytes_out, d.dropped_police, d.dropped_codel,
                d.dropped_queue_full, d.dropped_flushed, d.ecn_marked, d.dscp_marked
            ));
        }
    }
    if s.policy.generation > 1 || s.policy.last_reload_result.is_some() {
        out.push_str(&format!(
            "  policy generation {}, active schedules: {}, last reload: {}\n",
            s.policy.generation,
            if s.policy.active_schedules.is_empty() {
                "none".to_string()
            } else {
                s.policy.active_schedules.join(", ")
            },
            s.policy.last_reload_result.as_deref().unwrap_or("none")
        ));
    }
    report_hosts(&mut out, &s.hosts);
    if let Some(x) = &s.ipfix {
        out.push_str(&format!("  ipfix: {} records queued, {} dropped (queue full)\n", x.queued, x.dropped));
        for c in &x.collectors {
            out.push_str(&format!(
                "  ipfix {}: {} data records in {} messages ({} bytes), {} lost, {} send errors\n",
                c.collector, c.records, c.messages, c.bytes, c.records_lost, c.send_errors
            ));
        }
    }
    out
}

/// The inside hosts with the most peer-to-peer bytes (at most [`REPORT_HOSTS`]), each with its
/// bytes each way and its heaviest protocols.
fn report_hosts(out: &mut String, hosts: &[weir_stats::HostStats]) {
    let mut p2p: Vec<&weir_stats::HostStats> = hosts.iter().filter(|h| h.p2p_bytes_out + h.p2p_bytes_in > 0).collect();
    if p2p.is_empty() {
        return;
    }
    p2p.sort_by(|a, b| {
        (b.p2p_bytes_out + b.p2p_bytes_in).cmp(&(a.p2p_bytes_out + a.p2p_bytes_in)).then(a.host.cmp(&b.host))
    });
    out.push_str(&format!(
        "  {:<39} {:>12} {:>12} {:>12} {:>12}  protocols\n",
        "inside host (top by p2p bytes)", "bytes out", "bytes in", "p2p out", "p2p in"
    ));
    for h in p2p.iter().take(REPORT_HOSTS) {
        let mut protos: Vec<(&String, u64)> =
            h.protocols.iter().map(|(n, p)| (n, p.bytes_out + p.bytes_in)).filter(|(_, b)| *b > 0).collect();
        protos.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let list: Vec<&str> = protos.iter().take(3).map(|(n, _)| n.as_str()).collect();
        out.push_str(&format!(
            "  {:<39} {:>12} {:>12} {:>12} {:>12}  {}\n",
            h.host,
            h.bytes_out,
            h.bytes_in,
            h.p2p_bytes_out,
            h.p2p_bytes_in,
            list.join(", ")
        ));
    }
}
