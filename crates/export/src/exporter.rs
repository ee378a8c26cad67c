//! The exporter thread: records from a bounded queue, encoded once per collector and sent over
//! UDP or TCP.
//!
//! - Workers hand records over with [`ExportHandle::try_send`]: a lock-free push onto a bounded
//!   queue that never blocks (nor makes a system call: the thread polls the queue every 5 ms
//!   instead of sleeping on it); when the queue is full the record is dropped and counted in that
//!   handle's own counter (one writer per counter). `weir classify`, which is no worker, uses
//!   [`ExportHandle::send`] and waits instead, so a capture loses nothing.
//! - The thread packs records into messages (full ones go at once; a partial one waits at most
//!   `linger`), one [`Encoder`] per collector, so each collector's sequence numbers count what
//!   it was sent.
//! - UDP: one connected socket per collector; a template round (templates and application
//!   names) first and again every `template_refresh`. A datagram that cannot be sent is counted
//!   (its records as lost), never retried.
//! - TCP: the stream starts with a template round. Connecting happens on a helper thread, so a
//!   collector that is down never holds up the others; until it is up, and while a slow one
//!   reads, messages wait in a buffer of at most [`TCP_BUFFER`] octets (beyond it, records are
//!   counted as lost). A broken connection loses the unsent messages (counted) and is retried
//!   after 1 s, doubling to 30 s; the new stream starts again at sequence number 0 with a
//!   template round.
//! - [`Exporter::finish`] sends what is queued and waits (a bounded time) for TCP buffers to
//!   drain.

use crate::apps::AppTable;
use crate::encode::{Encoder, EncoderConfig};
use crate::flow::ExportFlow;
use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, bounded};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};
use weir_config::{Collector, Transport};
use weir_stats::Counter;

/// Most octets a TCP collector's send buffer holds (messages waiting while it connects or reads
/// slowly).
pub const TCP_BUFFER: usize = 4 << 20;
/// Records taken off the queue before the thread looks at its timers again.
const BURST: usize = 1024;
/// How often the thread looks at the queue when it found it empty. It polls rather than
/// blocks: a blocked receiver would make every worker's push a futex wake-up (a system call);
/// polled, a push is one compare-and-swap. At 100,000 records per second, 5 ms is 500 records,
/// far inside the queue.
const POLL: Duration = Duration::from_millis(5);
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const TCP_RETRY_FIRST: Duration = Duration::from_secs(1);
const TCP_RETRY_MAX: Duration = Duration::from_secs(30);

/// Settings of an [`Exporter`].
#[derive(Clone, Debug)]
pub struct ExporterConfig {
    /// Where to send.
    pub collectors: Vec<Collector>,
    /// Observation domain, message size and interface numbers. Over TCP, messages may be up
    /// to four times `max_message` (there is no datagram to fit).
    pub encoder: EncoderConfig,
    /// Over UDP, how often the templates and application names are sent again.
    pub template_refresh: Duration,
    /// Records the queue holds.
    pub queue: usize,
    /// Longest a partial message waits for more records.
    pub linger: Duration,
    /// Over UDP, at most this many messages per second to each collector (the thread waits; the
    /// queue fills; [`ExportHandle::try_send`] drops, [`ExportHandle::send`] waits). `None`: no
    /// limit. A capture read at full speed can outrun a collector's socket buffer: pace it.
    pub udp_messages_per_s: Option<u32>,
    /// Pin the exporter thread to this core (the bridge puts it beside its stats thread, off
    /// the workers' cores); `None`: not pinned.
    pub core: Option<usize>,
}

/// Why an exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No collector was given.
    #[error("no IPFIX collector given")]
    NoCollector,
    /// A collector's host did not resolve.
    #[error("IPFIX collector {collector}: cannot resolve {host:?}: {reason}; use an address or a name that resolves")]
    Resolve {
        /// The collector as written.
        collector: String,
        /// Its host.
        host: String,
        /// Why.
        reason: String,
    },
    /// A UDP socket could not be opened or connected.
    #[error("IPFIX collector {collector}: cannot open a UDP socket to {addr}: {source}")]
    Socket {
        /// The collector.
        collector: String,
        /// The address it resolved to.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The exporter thread could not be started.
    #[error("cannot start the IPFIX exporter thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// One collector's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectorStats {
    /// The collector, `udp://host:port` or `tcp://host:port`.
    pub collector: String,
    /// The address it resolved to.
    pub addr: String,
    /// TCP: connected now. UDP: always true.
    pub connected: bool,
    /// Messages sent (TCP: written to the stream).
    pub messages: u64,
    /// Data records sent (flow records and application records).
    pub records: u64,
    /// Octets sent.
    pub bytes: u64,
    /// Template rounds sent.
    pub template_rounds: u64,
    /// Sends that failed (UDP datagrams refused, TCP connections that broke).
    pub send_errors: u64,
    /// Data records that were encoded for this collector but never reached it.
    pub records_lost: u64,
    /// TCP connections made.
    pub connects: u64,
}

/// The exporter's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Records handed to the queue.
    pub queued: u64,
    /// Records dropped because the queue was full (export never blocks a worker).
    pub dropped: u64,
    /// Per collector.
    pub collectors: Vec<CollectorStats>,
}

#[derive(Debug, Default)]
struct HandleCounters {
    queued: Counter,
    dropped: Counter,
}

/// Figures the exporter thread publishes (it is their only writer).
#[derive(Debug, Default)]
struct Published {
    connected: AtomicBool,
    messages: AtomicU64,
    records: AtomicU64,
    bytes: AtomicU64,
    template_rounds: AtomicU64,
    send_errors: AtomicU64,
    records_lost: AtomicU64,
    connects: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    stop: AtomicBool,
    handles: Mutex<Vec<Arc<HandleCounters>>>,
    collectors: Vec<(String, String, Arc<Published>)>,
    /// A new application table for the thread to take ([`Exporter::set_apps`]).
    new_apps: Mutex<Option<Arc<AppTable>>>,
}

/// A running exporter. Dropping it stops the thread without waiting; [`Exporter::finish`]
/// sends everything first.
#[derive(Debug)]
pub struct Exporter {
    tx: Option<Sender<ExportFlow>>,
    thread: Option<JoinHandle<()>>,
    inner: Arc<Inner>,
    finish_wait: Arc<Mutex<Duration>>,
}

/// A worker's way in: one per thread (its counters have one writer).
#[derive(Debug)]
pub struct ExportHandle {
    tx: Sender<ExportFlow>,
    counters: Arc<HandleCounters>,
}

impl ExportHandle {
    /// Queue a record without ever blocking; `false` if the queue was full and it was dropped
    /// (counted). A record that covers no packet is not sent and counts as neither.
    #[inline]
    pub fn try_send(&self, flow: ExportFlow) -> bool {
        if flow.is_empty() {
            return true;
        }
        match self.tx.try_send(flow) {
            Ok(()) => {
                self.counters.queued.inc();
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.inc();
                false
            }
        }
    }

    /// Queue a record, waiting while the queue is full (for a capture, not a worker); `false`
    /// if the exporter has stopped.
    pub fn send(&self, flow: ExportFlow) -> bool {
        if flow.is_empty() {
            return true;
        }
        match self.tx.send(flow) {
            Ok(()) => {
                self.counters.queued.inc();
                true
            }
            Err(_) => {
                self.counters.dropped.inc();
                false
            }
        }
    }
}

enum Link {
    Udp(UdpSocket),
    Tcp(Box<TcpLink>),
}

enum TcpState {
    Down { retry_at: Instant },
    Connecting(Receiver<std::io::Result<TcpStream>>),
    Up(TcpStream),
}

struct TcpLink {
    addr: SocketAddr,
    state: TcpState,
    backoff: Duration,
    /// Messages waiting; `written` octets of it already went out on this connection.
    out: Vec<u8>,
    written: usize,
    /// (end offset in `out`, data records) of each waiting message.
    msgs: VecDeque<(usize, u32)>,
}

struct Session {
    encoder: Encoder,
    link: Link,
    stats: Arc<Published>,
    pending_since: Option<Instant>,
    last_templates: Instant,
    /// UDP pacing: earliest time of the next datagram.
    next_send: Instant,
    gap: Option<Duration>,
}

fn unix_s() -> u32 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

fn resolve(c: &Collector) -> Result<SocketAddr, ExportError> {
    let fail = |reason: String| ExportError::Resolve { collector: c.to_string(), host: c.host.clone(), reason };
    let mut addrs = (c.host.as_str(), c.port).to_socket_addrs().map_err(|e| fail(e.to_string()))?;
    addrs.next().ok_or_else(|| fail("no address".into()))
}

fn add(a: &AtomicU64, n: u64) {
    a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Session {
    /// Hand a complete message to the link.
    fn send(link: &mut Link, stats: &Published, pace: &mut (Instant, Option<Duration>), msg: &[u8], records: u32) {
        match link {
            Link::Udp(socket) => {
                if let (at, Some(gap)) = *pace {
                    let now = Instant::now();
                    if at > now {
                        std::thread::sleep(at - now);
                    }
                    pace.0 = at.max(now) + gap;
                }
                match socket.send(msg) {
                    Ok(_) => {
                        add(&stats.messages, 1);
                        add(&stats.records, u64::from(records));
                        add(&stats.bytes, msg.len() as u64);
                    }
                    Err(_) => {
                        add(&stats.send_errors, 1);
                        add(&stats.records_lost, u64::from(records));
                    }
                }
            }
            Link::Tcp(t) => {
                if t.out.len() - t.written + msg.len() > TCP_BUFFER {
                    add(&stats.records_lost, u64::from(records));
                    return;
                }
                t.out.extend_from_slice(msg);
                t.msgs.push_back((t.out.len(), records));
            }
        }
    }

    fn push(&mut self, flow: &ExportFlow, now_s: u32) {
        let Session { encoder, link, stats, next_send, gap, .. } = self;
        let mut pace = (*next_send, *gap);
        encoder.push(flow, now_s, &mut |m, n| Session::send(link, stats, &mut pace, m, n));
        *next_send = pace.0;
        if encoder.pending() && self.pending_since.is_none() {
            self.pending_since = Some(Instant::now());
        }
    }

    fn flush(&mut self, now_s: u32) {
        let Session { encoder, link, stats, next_send, gap, .. } = self;
        let mut pace = (*next_send, *gap);
        encoder.flush(now_s, &mut |m, n| Session::send(link, stats, &mut pace, m, n));
        *next_send = pace.0;
        self.pending_since = None;
    }

    /// A reload's application table: announced at once (UDP: a template round; TCP, whose
    /// templates went once on connecting: the application records alone).
    fn new_apps(&mut self, apps: Arc<AppTable>, now_s: u32) {
        self.encoder.set_apps(apps);
        if matches!(self.link, Link::Udp(_)) {
            self.templates(now_s);
            return;
        }
        let Session { encoder, link, stats, next_send, gap, .. } = self;
        let mut pace = (*next_send, *gap);
        encoder.app_records(now_s, &mut |m, n| Session::send(link, stats, &mut pace, m, n));
        *next_send = pace.0;
    }

    fn templates(&mut self, now_s: u32) {
        let Session { encoder, link, stats, next_send, gap, .. } = self;
        let mut pace = (*next_send, *gap);
        encoder.templates(now_s, &mut |m, n| Session::send(link, stats, &mut pace, m, n));
        *next_send = pace.0;
        add(&stats.template_rounds, 1);
        self.pending_since = None;
        self.last_templates = Instant::now();
    }

    /// Timers and TCP progress; returns whether TCP octets are still waiting.
    fn tick(&mut self, config: &ExporterConfig, now: Instant) -> bool {
        if self.pending_since.is_some_and(|t| now.duration_since(t) >= config.linger) {
            self.flush(unix_s());
        }
        match &mut self.link {
            Link::Udp(_) => {
                if now.duration_since(self.last_templates) >= config.template_refresh {
                    self.templates(unix_s());
                }
                false
            }
            Link::Tcp(_) => self.tick_tcp(now),
        }
    }

    /// Lose the connection: the unsent messages are lost; the next stream starts afresh with a
    /// template round waiting in the buffer.
    fn tcp_down(&mut self, now: Instant) {
        let Link::Tcp(t) = &mut self.link else { return };
        let lost: u64 = t.msgs.iter().map(|(_, n)| u64::from(*n)).sum();
        add(&self.stats.records_lost, lost);
        add(&self.stats.send_errors, 1);
        self.stats.connected.store(false, Ordering::Relaxed);
        t.out.clear();
        t.written = 0;
        t.msgs.clear();
        t.state = TcpState::Down { retry_at: now + t.backoff };
        t.backoff = (t.backoff * 2).min(TCP_RETRY_MAX);
        let dropped = self.encoder.restart();
        add(&self.stats.records_lost, u64::from(dropped));
        self.templates(unix_s());
    }

    fn tick_tcp(&mut self, now: Instant) -> bool {
        let Link::Tcp(t) = &mut self.link else { return false };
        match &mut t.state {
            TcpState::Down { retry_at } => {
                if now >= *retry_at {
                    let (tx, rx) = bounded(1);
                    let addr = t.addr;
                    let started = std::thread::Builder::new().name("weir-ipfix-connect".into()).spawn(move || {
                        let _ = tx.send(TcpStream::connect_timeout(&addr, TCP_CONNECT_TIMEOUT));
                    });
                    t.state = match started {
                        Ok(_) => TcpState::Connecting(rx),
                        Err(_) => TcpState::Down { retry_at: now + t.backoff },
                    };
                }
            }
            TcpState::Connecting(rx) => match rx.try_recv() {
                Ok(Ok(stream)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        let _ = stream.set_nodelay(true);
                        t.state = TcpState::Up(stream);
                        t.backoff = TCP_RETRY_FIRST;
                        add(&self.stats.connects, 1);
                        self.stats.connected.store(true, Ordering::Relaxed);
                    } else {
                        t.state = TcpState::Down { retry_at: now + t.backoff };
                    }
                }
                Ok(Err(_)) | Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    add(&self.stats.send_errors, 1);
                    t.state = TcpState::Down { retry_at: now + t.backoff };
                    t.backoff = (t.backoff * 2).min(TCP_RETRY_MAX);
                }
                Err(crossbeam_channel::TryRecvError::Empty) => {}
            },
            TcpState::Up(stream) => {
                let mut broken = false;
                while t.written < t.out.len() {
                    match stream.write(&t.out[t.written..]) {
                        Ok(0) => {
                            broken = true;
                            break;
                        }
                        Ok(n) => t.written += n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => {
                            broken = true;
                            break;
                        }
                    }
                }
                // A collector never sends: end of stream or an error means it went away.
                let mut probe = [0u8; 64];
                match stream.read(&mut probe) {
                    Ok(0) => broken = true,
                    Err(e) if e.kind() != ErrorKind::WouldBlock && e.kind() != ErrorKind::Interrupted => broken = true,
                    _ => {}
                }
                while let Some(&(end, n)) = t.msgs.front() {
                    if end > t.written {
                        break;
                    }
                    t.msgs.pop_front();
                    add(&self.stats.messages, 1);
                    add(&self.stats.records, u64::from(n));
                }
                if t.written == t.out.len() {
                    add(&self.stats.bytes, t.written as u64);
                    t.out.clear();
                    t.written = 0;
                    t.msgs.clear();
                } else if t.written > TCP_BUFFER / 2 {
                    add(&self.stats.bytes, t.written as u64);
                    t.out.drain(..t.written);
                    for m in t.msgs.iter_mut() {
                        m.0 -= t.written;
                    }
                    t.written = 0;
                }
                if broken {
                    add(&self.stats.bytes, t.written as u64);
                    self.tcp_down(now);
                    return true;
                }
            }
        }
        let Link::Tcp(t) = &self.link else { return false };
        !t.out.is_empty()
    }
}

impl Exporter {
    /// Resolve the collectors, open the UDP sockets and start the thread; TCP collectors are
    /// connected in the background.
    ///
    /// # Errors
    /// [`ExportError`] naming the collector.
    pub fn start(config: ExporterConfig, apps: Arc<AppTable>) -> Result<Exporter, ExportError> {
        if config.collectors.is_empty() {
            return Err(ExportError::NoCollector);
        }
        let now = Instant::now();
        let mut sessions = Vec::new();
        let mut published = Vec::new();
        for c in &config.collectors {
            let addr = resolve(c)?;
            let stats = Arc::new(Published::default());
            let (link, max) = match c.transport {
                Transport::Udp => {
                    let local: SocketAddr = if addr.is_ipv4() {
                        SocketAddr::from(([0, 0, 0, 0], 0))
                    } else {
                        SocketAddr::from(([0u16; 8], 0))
                    };
                    let fail = |source| ExportError::Socket { collector: c.to_string(), addr, source };
                    let socket = UdpSocket::bind(local).map_err(fail)?;
                    socket.connect(addr).map_err(fail)?;
                    stats.connected.store(true, Ordering::Relaxed);
                    (Link::Udp(socket), config.encoder.max_message)
                }
                Transport::Tcp => (
                    Link::Tcp(Box::new(TcpLink {
                        addr,
                        state: TcpState::Down { retry_at: now },
                        backoff: TCP_RETRY_FIRST,
                        out: Vec::new(),
                        written: 0,
                        msgs: VecDeque::new(),
                    })),
                    config.encoder.max_message.saturating_mul(4),
                ),
            };
            let gap = match (c.transport, config.udp_messages_per_s) {
                (Transport::Udp, Some(r)) if r > 0 => Some(Duration::from_secs(1) / r),
                _ => None,
            };
            let encoder = Encoder::new(EncoderConfig { max_message: max, ..config.encoder }, Arc::clone(&apps));
            let mut s = Session {
                encoder,
                link,
                stats: Arc::clone(&stats),
                pending_since: None,
                last_templates: now,
                next_send: now,
                gap,
            };
            // Both transports start with a template round (over TCP it waits in the buffer).
            s.templates(unix_s());
            sessions.push(s);
            published.push((c.to_string(), addr.to_string(), stats));
        }
        let (tx, rx) = bounded(config.queue.max(1));
        let inner = Arc::new(Inner {
            stop: AtomicBool::new(false),
            handles: Mutex::new(Vec::new()),
            collectors: published,
            new_apps: Mutex::new(None),
        });
        let finish_wait = Arc::new(Mutex::new(Duration::ZERO));
        let (thread_inner, thread_wait) = (Arc::clone(&inner), Arc::clone(&finish_wait));
        let thread = std::thread::Builder::new()
            .name("weir-ipfix".into())
            .spawn(move || {
                if let Some(core) = config.core {
                    pin(core);
                }
                run(&config, &rx, sessions, &thread_inner, &thread_wait)
            })
            .map_err(ExportError::Thread)?;
        Ok(Exporter { tx: Some(tx), thread: Some(thread), inner, finish_wait })
    }

    /// Name the applications of `apps` from now on (a live reload added protocols): the
    /// exporter's thread takes it at its next poll and sends every collector a template round
    /// with the new application names at once.
    pub fn set_apps(&self, apps: Arc<AppTable>) {
        *self.inner.new_apps.lock() = Some(apps);
    }

    /// A handle for one worker (or one capture reader).
    pub fn handle(&self) -> Option<ExportHandle> {
        let tx = self.tx.as_ref()?.clone();
        let counters = Arc::new(HandleCounters::default());
        self.inner.handles.lock().push(Arc::clone(&counters));
        Some(ExportHandle { tx, counters })
    }

    /// The figures so far.
    pub fn stats(&self) -> ExportStats {
        let (mut queued, mut dropped) = (0, 0);
        for c in self.inner.handles.lock().iter() {
            queued += c.queued.get();
            dropped += c.dropped.get();
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let collectors = self
            .inner
            .collectors
            .iter()
            .map(|(name, addr, p)| CollectorStats {
                collector: name.clone(),
                addr: addr.clone(),
                connected: p.connected.load(Ordering::Relaxed),
                messages: load(&p.messages),
                records: load(&p.records),
                bytes: load(&p.bytes),
                template_rounds: load(&p.template_rounds),
                send_errors: load(&p.send_errors),
                records_lost: load(&p.records_lost),
                connects: load(&p.connects),
            })
            .collect();
        ExportStats { queued, dropped, collectors }
    }

    /// Send everything queued, wait up to `wait` for TCP collectors to take their buffers
    /// (connecting first, if need be), stop the thread and return the figures. Handles still
    /// held elsewhere keep working until then, and are refused after.
    pub fn finish(mut self, wait: Duration) -> ExportStats {
        *self.finish_wait.lock() = wait;
        self.inner.stop.store(true, Ordering::Release);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats()
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
    }
}

fn pin(core: usize) {
    if let Some(id) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().find(|c| c.id == core)) {
        // Unpinned if the core is gone: export still works, on whichever core the OS picks.
        let _ = core_affinity::set_for_current(id);
    }
}

fn run(
    config: &ExporterConfig,
    rx: &Receiver<ExportFlow>,
    mut sessions: Vec<Session>,
    inner: &Inner,
    finish_wait: &Mutex<Duration>,
) {
    for s in sessions.iter_mut() {
        s.tick(config, Instant::now());
    }
    loop {
        let stopping = inner.stop.load(Ordering::Acquire);
        let (mut n, mut closed) = (0, false);
        let now_s = unix_s();
        if let Some(apps) = inner.new_apps.lock().take() {
            for s in sessions.iter_mut() {
                s.new_apps(Arc::clone(&apps), now_s);
            }
        }
        while n < BURST {
            match rx.try_recv() {
                Ok(f) => {
                    for s in sessions.iter_mut() {
                        s.push(&f, now_s);
                    }
                    n += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let now = Instant::now();
        for s in sessions.iter_mut() {
            s.tick(config, now);
        }
        if (stopping && rx.is_empty()) || closed {
            break;
        }
        if n < BURST && !stopping {
            std::thread::sleep(POLL);
        }
    }
    // Drain: flush every partial message, then give TCP collectors their time.
    let now_s = unix_s();
    for s in sessions.iter_mut() {
        s.flush(now_s);
    }
    let wait = *finish_wait.lock();
    let deadline = Instant::now() + wait;
    loop {
        let mut waiting = false;
        for s in sessions.iter_mut() {
            waiting |= s.tick(config, Instant::now());
        }
        if !waiting || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    for s in sessions.iter_mut() {
        if let Link::Tcp(t) = &mut s.link {
            let lost: u64 = t.msgs.iter().map(|(_, n)| u64::from(*n)).sum();
            add(&s.stats.records_lost, lost);
            if let TcpState::Up(stream) = &t.state {
                let _ = stream.shutdown(std::net::Shutdown::Write);
            }
        }
    }
}

#[cfg(test)]
mod tests;
