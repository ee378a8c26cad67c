//! [`QueuePair`]: one worker's two AF_XDP sockets over one UMEM, and the XDP program queries.

use std::cell::Cell;
use std::error::Error as _;
use std::io;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use xsk_rs::config::{BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

use crate::census::{FrameAction, FrameCensus, Held, KernelStats, PairCounters, PollResult, ReleaseResult, Side};
use crate::config::{BindMode, XdpConfig, XdpMode};
use crate::engine::{Backend, Engine, EngineConfig};
use crate::error::XdpError;
use crate::fastpath::FastPath;
use crate::iface::{InterfaceInfo, check_pair, interface_info};
use crate::sys::{self, XdpAttachment};

/// How long a bind that fails with `EBUSY` is retried: socket teardown is asynchronous, so
/// re-binding a queue right after closing it can briefly see the old socket.
const BUSY_RETRY: Duration = Duration::from_secs(2);
const BUSY_SLEEP: Duration = Duration::from_millis(20);
/// How long [`QueuePair::close`] waits for frames already on a TX ring to be sent.
const CLOSE_DRAIN: Duration = Duration::from_secs(1);

/// One socket's rings.
pub(crate) struct Port {
    pub(crate) tx: TxQueue,
    pub(crate) rx: RxQueue,
    pub(crate) fq: FillQueue,
    pub(crate) cq: CompQueue,
    pub(crate) tx_size: u32,
    pub(crate) fd: RawFd,
}

/// The real [`Backend`]: xsk-rs rings over one or two UMEMs.
///
/// Field order matters for drop: the ports (sockets) go before the UMEMs. (xsk-rs also keeps
/// each UMEM alive from its sockets, so this is belt and braces.)
struct XskBackend {
    ports: [Port; 2],
    umems: Vec<Umem>,
}

impl XskBackend {
    fn port(&mut self, side: Side) -> &mut Port {
        &mut self.ports[side.index()]
    }
}

impl Backend for XskBackend {
    type Desc = FrameDesc;

    unsafe fn complete(&mut self, side: Side, out: &mut [FrameDesc]) -> usize {
        // SAFETY: the engine hands in slots it does not own; the addresses written are of the
        // UMEM this port transmits from, which is where the engine puts them.
        unsafe { self.port(side).cq.consume(out) }
    }

    fn fill_free(&mut self, side: Side, want: u32) -> u32 {
        self.port(side).fq.nb_free(want)
    }

    unsafe fn fill(&mut self, side: Side, descs: &[FrameDesc]) -> usize {
        // SAFETY: forwarded from the trait contract: the frames are ours and of this UMEM.
        unsafe { self.port(side).fq.produce(descs) }
    }

    fn fill_needs_wakeup(&self, side: Side) -> bool {
        self.ports[side.index()].fq.needs_wakeup()
    }

    fn kick_rx(&mut self, side: Side) -> io::Result<()> {
        sys::kick_rx(self.ports[side.index()].fd)
    }

    unsafe fn receive(&mut self, side: Side, out: &mut [FrameDesc]) -> usize {
        // SAFETY: the engine hands in slots it does not own; received frames are of the UMEM
        // this port fills from.
        unsafe { self.port(side).rx.consume(out) }
    }

    fn tx_free(&mut self, side: Side, want: u32) -> u32 {
        self.port(side).tx.nb_free(want)
    }

    fn tx_size(&self, side: Side) -> u32 {
        self.ports[side.index()].tx_size
    }

    unsafe fn transmit(&mut self, side: Side, descs: &[FrameDesc]) -> usize {
        // SAFETY: forwarded from the trait contract.
        unsafe { self.port(side).tx.produce(descs) }
    }

    fn tx_needs_wakeup(&self, side: Side) -> bool {
        self.ports[side.index()].tx.needs_wakeup()
    }

    fn kick_tx(&mut self, side: Side) -> io::Result<()> {
        self.ports[side.index()].tx.wakeup()
    }

    fn rx_pending(&mut self, side: Side) -> u32 {
        self.port(side).rx.nb_avail_exact()
    }

    fn comp_pending(&mut self, side: Side) -> u32 {
        self.port(side).cq.nb_avail_exact()
    }

    unsafe fn with_frame<R>(&mut self, umem: usize, desc: &mut FrameDesc, f: impl FnOnce(&mut [u8]) -> R) -> R {
        match self.umems.get(umem) {
            Some(u) => {
                // SAFETY: the caller owns `desc` (it is in no ring, so the kernel does not
                // touch the frame) and it belongs to this UMEM.
                let mut data = unsafe { u.data_mut(desc) };
                f(data.contents_mut())
            }
            None => f(&mut []),
        }
    }

    unsafe fn copy_frame(&mut self, from: usize, src: &FrameDesc, to: usize, dst: &mut FrameDesc) -> bool {
        use std::io::Write as _;
        let (Some(a), Some(b)) = (self.umems.get(from), self.umems.get(to)) else {
            return false;
        };
        // SAFETY: the caller owns both frames and names their UMEMs; they are in different
        // UMEMs, so the shared and the mutable view cannot overlap.
        let bytes = unsafe { a.data(src) }.contents();
        // SAFETY: as above.
        let mut data = unsafe { b.data_mut(dst) };
        let mut cur = data.cursor();
        cur.set_pos(0);
        cur.write_all(bytes).is_ok()
    }

    fn prepare_tx(desc: &mut FrameDesc) {
        desc.set_options(0);
    }
}

/// What a worker drives: two sides' rings over one frame pool, polled in passes.
///
/// [`QueuePair`] is the real one; `testing::SimPair` (feature `testing`) runs the same
/// accounting over a simulated kernel, so code above this crate can be tested without sockets.
pub trait FramePair {
    /// One pass: complete TX, refill, receive up to a batch per side, call `f(side, frame)` for
    /// each frame (the bytes are mutable, the length is not), then forward or drop each, and wake
    /// the kernel where it asks. Never blocks, never allocates.
    fn poll<F: FnMut(Side, &mut [u8]) -> FrameAction>(&mut self, f: F) -> PollResult;
    /// As [`poll`](Self::poll), and the closure is also told the [`Held`] handle the frame will
    /// have if it returns [`FrameAction::Hold`]. A held frame stays in the UMEM, owned by the
    /// pair, until [`release`](Self::release) gives it back. (A [`poll`](Self::poll) closure
    /// returning `Hold` holds the frame too, but without its handle only
    /// [`close`](Self::close) releases it.) Buffered releases are flushed first.
    fn poll_hold<F: FnMut(Side, &mut [u8], Held) -> FrameAction>(&mut self, f: F) -> PollResult;
    /// Runs `f` on the bytes of held frame `h` (e.g. to rewrite DSCP/ECN before sending it);
    /// `None` if `h` is not held (never was, or already released).
    fn with_held<R>(&mut self, h: Held, f: impl FnOnce(&mut [u8]) -> R) -> Option<R>;
    /// Gives held frame `h` back: `send` puts it on the TX ring of the side opposite to where
    /// it was received, else it is recycled (counted `dropped`). Sends are buffered until
    /// [`flush_released`](Self::flush_released) or the next poll, whichever comes first, and
    /// counted then (`forwarded`, or `tx_full` without room). Returns false, doing nothing, if
    /// `h` is not held (e.g. a second release).
    fn release(&mut self, h: Held, send: bool) -> bool;
    /// Puts buffered sends on the TX rings (one transmit per side, in release order), refills
    /// the fill rings with released frames, wakes the kernel where it asks; returns what the
    /// releases since the last call came to (including those a poll flushed).
    fn flush_released(&mut self) -> ReleaseResult;
    /// How many more frames fit on `side`'s TX ring now: its free slots less the sends
    /// already buffered for it (the budget for frames going out of `side`). With two UMEMs
    /// each send also needs a free frame of the other UMEM.
    fn tx_room(&mut self, side: Side) -> u32;
    /// Blocks until a frame may be waiting or `timeout` passes; for when a pass found nothing.
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if waiting fails.
    fn wait(&mut self, timeout: Duration) -> Result<(), XdpError>;
    /// Counters of frames received on each side.
    fn counters(&self) -> &PairCounters;
    /// Where every frame is; `sum() == total` always.
    fn census(&self) -> FrameCensus;
    /// The queue index the pair serves.
    fn queue(&self) -> u32;
    /// Flushes buffered sends, releases every frame still held as dropped, drains TX
    /// (bounded), closes, and returns the census taken just before closing (`held` is 0).
    ///
    /// # Errors
    ///
    /// As the implementation's close.
    fn close(self) -> Result<FrameCensus, XdpError>
    where
        Self: Sized;
}

impl FramePair for QueuePair {
    #[inline]
    fn poll<F: FnMut(Side, &mut [u8]) -> FrameAction>(&mut self, f: F) -> PollResult {
        QueuePair::poll(self, f)
    }
    #[inline]
    fn poll_hold<F: FnMut(Side, &mut [u8], Held) -> FrameAction>(&mut self, f: F) -> PollResult {
        QueuePair::poll_hold(self, f)
    }
    fn with_held<R>(&mut self, h: Held, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        QueuePair::with_held(self, h, f)
    }
    fn release(&mut self, h: Held, send: bool) -> bool {
        QueuePair::release(self, h, send)
    }
    fn flush_released(&mut self) -> ReleaseResult {
        QueuePair::flush_released(self)
    }
    fn tx_room(&mut self, side: Side) -> u32 {
        QueuePair::tx_room(self, side)
    }
    fn wait(&mut self, timeout: Duration) -> Result<(), XdpError> {
        QueuePair::wait(self, timeout)
    }
    fn counters(&self) -> &PairCounters {
        QueuePair::counters(self)
    }
    fn census(&self) -> FrameCensus {
        QueuePair::census(self)
    }
    fn queue(&self) -> u32 {
        QueuePair::queue(self)
    }
    fn close(self) -> Result<FrameCensus, XdpError> {
        QueuePair::close(self)
    }
}

/// One worker's sockets: inside queue q and outside queue q over one UMEM.
///
/// `Send` (it moves into its worker thread) but not `Sync`: one thread drives it.
pub struct QueuePair {
    engine: Engine<FrameDesc>,
    backend: XskBackend,
    inside: InterfaceInfo,
    outside: InterfaceInfo,
    queue: u32,
    bind_mode: BindMode,
    xdp_modes: [XdpMode; 2],
    _not_sync: PhantomData<Cell<()>>,
}

impl std::fmt::Debug for QueuePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuePair")
            .field("inside", &self.inside.name)
            .field("outside", &self.outside.name)
            .field("queue", &self.queue)
            .field("bind_mode", &self.bind_mode)
            .field("xdp_modes", &self.xdp_modes)
            .field("zero_copy_forwarding", &self.engine.shared())
            .finish()
    }
}

fn errno_of(e: &xsk_rs::socket::SocketCreateError) -> Option<i32> {
    e.source().and_then(|s| s.downcast_ref::<io::Error>()).and_then(io::Error::raw_os_error)
}

fn is_hard(e: &XdpError) -> bool {
    matches!(e, XdpError::PermissionDenied { .. } | XdpError::Busy { .. } | XdpError::NoSuchInterface { .. })
}

pub(crate) fn new_umem(cfg: &XdpConfig) -> Result<(Umem, Vec<FrameDesc>), XdpError> {
    let bad = |key: &'static str, e: &dyn std::fmt::Display| XdpError::Config { key, reason: e.to_string() };
    let frame_size = FrameSize::new(cfg.frame_size).map_err(|e| bad("frame_size", &e))?;
    let fill = QueueSize::new(cfg.fill_ring).map_err(|e| bad("fill_ring", &e))?;
    let comp = QueueSize::new(cfg.completion_ring).map_err(|e| bad("completion_ring", &e))?;
    let ucfg = UmemConfig::builder()
        .frame_size(frame_size)
        .fill_queue_size(fill)
        .comp_queue_size(comp)
        .frame_headroom(0)
        .build()
        .map_err(|e| bad("frame_size", &e))?;
    let count =
        NonZeroU32::new(cfg.frame_count).ok_or_else(|| XdpError::Config { key: "frame_count", reason: "0".into() })?;
    Umem::new(ucfg, count, false).map_err(|e| {
        let errno = e.source().and_then(|s| s.downcast_ref::<io::Error>()).and_then(io::Error::raw_os_error);
        let source = errno.map_or_else(|| io::Error::other(e.to_string()), io::Error::from_raw_os_error);
        match errno {
            Some(libc::EAFNOSUPPORT) => {
                XdpError::NotSupported { name: String::new(), queue: 0, what: "AF_XDP socket (creating the UMEM)" }
            }
            Some(libc::EPERM) | Some(libc::EACCES) => {
                XdpError::PermissionDenied { name: String::new(), what: "registering the UMEM" }
            }
            _ => XdpError::Os {
                what: format!("creating a UMEM of {} frames of {} bytes", cfg.frame_count, cfg.frame_size),
                source,
            },
        }
    })
}

/// Creates one socket, retrying `EBUSY` for up to [`BUSY_RETRY`].
fn create_socket(sc: SocketConfig, umem: &Umem, name: &str, queue: u32) -> Result<Port, XdpError> {
    let iface: Interface = name.parse().map_err(|_| XdpError::NoSuchInterface { name: name.to_owned() })?;
    let start = Instant::now();
    loop {
        // SAFETY: each (interface, queue) is bound at most once per UMEM by `QueuePair::open`
        // (inside and outside differ, checked by `check_pair`), so this never joins an
        // existing context and the INHIBIT_PROG_LOAD rule of xsk-rs does not apply.
        match unsafe { Socket::new(sc, umem, &iface, queue) } {
            Ok((tx, rx, Some((fq, cq)))) => {
                let fd = rx.fd().as_raw_fd();
                return Ok(Port { tx, rx, fq, cq, tx_size: sc.tx_queue_size().get(), fd });
            }
            Ok((_, _, None)) => {
                return Err(XdpError::Os {
                    what: format!("binding `{name}` queue {queue}: libxdp reused an existing context"),
                    source: io::Error::from_raw_os_error(libc::EEXIST),
                });
            }
            Err(e) => match errno_of(&e) {
                Some(libc::EBUSY) if start.elapsed() < BUSY_RETRY => std::thread::sleep(BUSY_SLEEP),
                Some(libc::EBUSY) => {
                    return Err(XdpError::Busy {
                        name: name.to_owned(),
                        queue,
                        waited_ms: start.elapsed().as_millis() as u64,
                    });
                }
                Some(n) => {
                    return Err(XdpError::from_os(
                        name,
                        queue,
                        "binding AF_XDP socket",
                        io::Error::from_raw_os_error(n),
                    ));
                }
                None => {
                    return Err(XdpError::Os {
                        what: format!("binding AF_XDP socket on `{name}` queue {queue}"),
                        source: io::Error::other(e.to_string()),
                    });
                }
            },
        }
    }
}

/// Binds `name`/`queue` on `umem`, trying the allowed bind and XDP modes in order (zero-copy
/// before copy, native before generic). `joining` means the UMEM already has a socket: the
/// kernel then takes the bind mode from the UMEM, so only XDP modes are tried.
pub(crate) fn bind_port(name: &str, queue: u32, umem: &Umem, cfg: &XdpConfig, joining: bool) -> Result<Port, XdpError> {
    bind_port_with(name, queue, umem, cfg, joining, LibxdpFlags::empty())
}

/// As [`bind_port`], with `libxdp` flags (`XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD` where weir's own
/// program is attached and takes the socket into its XSKMAP).
fn bind_port_with(
    name: &str,
    queue: u32,
    umem: &Umem,
    cfg: &XdpConfig,
    joining: bool,
    libxdp: LibxdpFlags,
) -> Result<Port, XdpError> {
    let binds: &[BindFlags] = match (joining, cfg.bind_mode) {
        (true, _) => &[BindFlags::empty()],
        (false, BindMode::ZeroCopy) => &[BindFlags::XDP_ZEROCOPY],
        (false, BindMode::Copy) => &[BindFlags::XDP_COPY],
        (false, BindMode::Auto) => &[BindFlags::XDP_ZEROCOPY, BindFlags::XDP_COPY],
    };
    let xdps: &[XdpFlags] = match cfg.xdp_mode {
        XdpMode::Native => &[XdpFlags::XDP_FLAGS_DRV_MODE],
        XdpMode::Generic => &[XdpFlags::XDP_FLAGS_SKB_MODE],
        XdpMode::Auto => &[XdpFlags::XDP_FLAGS_DRV_MODE, XdpFlags::XDP_FLAGS_SKB_MODE],
    };
    let rx = QueueSize::new(cfg.rx_ring).map_err(|e| XdpError::Config { key: "rx_ring", reason: e.to_string() })?;
    let tx = QueueSize::new(cfg.tx_ring).map_err(|e| XdpError::Config { key: "tx_ring", reason: e.to_string() })?;
    let mut last = None;
    for &bind in binds {
        let bind = if cfg.need_wakeup && !joining { bind | BindFlags::XDP_USE_NEED_WAKEUP } else { bind };
        for &xdp in xdps {
            let sc = SocketConfig::builder()
                .rx_queue_size(rx)
                .tx_queue_size(tx)
                .libxdp_flags(libxdp)
                .xdp_flags(xdp)
                .bind_flags(bind)
                .build();
            match create_socket(sc, umem, name, queue) {
                Ok(p) => return Ok(p),
                Err(e) if is_hard(&e) => return Err(e),
                Err(e) => last = Some(e),
            }
        }
    }
    Err(last.unwrap_or(XdpError::NotSupported { name: name.to_owned(), queue, what: "no bind mode left to try" }))
}

fn attach_mode(info: &InterfaceInfo) -> XdpMode {
    match sys::xdp_query(info.ifindex) {
        Ok(a) if a.native_prog_id != 0 => XdpMode::Native,
        Ok(a) if a.generic_prog_id != 0 => XdpMode::Generic,
        _ => XdpMode::Auto,
    }
}

impl QueuePair {
    /// Opens inside queue `queue` and outside queue `queue` over one UMEM and stocks both fill
    /// rings. Runs [`check_pair`] first, so nothing is attached if the interfaces are unfit.
    ///
    /// The first socket loads libxdp's redirect program on each interface (or joins the one
    /// already there, e.g. from the worker of another queue). If the outside socket cannot
    /// share the inside socket's UMEM, a second UMEM is made and frames are copied
    /// ([`zero_copy_forwarding`](Self::zero_copy_forwarding) then says false).
    ///
    /// Must run in the network namespace of the interfaces (for a thread, after `setns`).
    ///
    /// # Errors
    ///
    /// Everything [`check_pair`] returns; [`XdpError::Config`] with key `queue` if `queue` is
    /// not below the queue count; [`XdpError::Busy`] if the queue stayed busy for 2 s;
    /// [`XdpError::PermissionDenied`], [`XdpError::NotSupported`] or [`XdpError::Os`] from
    /// the kernel.
    pub fn open(inside: &str, outside: &str, queue: u32, cfg: &XdpConfig) -> Result<QueuePair, XdpError> {
        QueuePair::open_fast(inside, outside, queue, cfg, None)
    }

    /// As [`open`](Self::open); with `fast`, weir's own program ([`FastPath`], already attached
    /// to both NICs) takes the sockets: libxdp loads no program, and each socket is put in the
    /// program's XSKMAP once bound.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); [`XdpError::Os`] if a socket cannot be put in the XSKMAP.
    pub fn open_fast(
        inside: &str,
        outside: &str,
        queue: u32,
        cfg: &XdpConfig,
        fast: Option<&FastPath>,
    ) -> Result<QueuePair, XdpError> {
        sys::quiet_libxdp();
        let libxdp =
            if fast.is_some() { LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD } else { LibxdpFlags::empty() };
        let queues = check_pair(inside, outside, cfg)?;
        if queue >= queues {
            return Err(XdpError::Config {
                key: "queue",
                reason: format!("{queue} is not below the {queues} queues of `{inside}` and `{outside}`"),
            });
        }
        let inside_info = interface_info(inside)?;
        let outside_info = interface_info(outside)?;
        let (umem_a, pool_a) = new_umem(cfg)?;
        let port_in = bind_port_with(inside, queue, &umem_a, cfg, false, libxdp)?;
        let zero_copy =
            sys::xdp_zero_copy(port_in.fd).map_err(|e| XdpError::from_os(inside, queue, "reading XDP_OPTIONS", e))?;
        let (port_out, umem_b, pool_b) = match bind_port_with(outside, queue, &umem_a, cfg, true, libxdp) {
            Ok(p) => (p, None, None),
            Err(e) if is_hard(&e) => return Err(e),
            Err(_) => {
                let (umem_b, pool_b) = new_umem(cfg)?;
                let p = bind_port_with(outside, queue, &umem_b, cfg, false, libxdp)?;
                (p, Some(umem_b), Some(pool_b))
            }
        };
        if let Some(bp) = &cfg.busy_poll {
            for (p, name) in [(&port_in, inside), (&port_out, outside)] {
                sys::set_busy_poll(p.fd, bp)
                    .map_err(|e| XdpError::from_os(name, queue, "setting busy-poll options", e))?;
            }
        }
        if let Some(fp) = fast {
            fp.register(Side::Inside, queue, port_in.fd)?;
            fp.register(Side::Outside, queue, port_out.fd)?;
        }
        let mut umems = vec![umem_a];
        umems.extend(umem_b);
        let mut backend = XskBackend { ports: [port_in, port_out], umems };
        let ecfg = EngineConfig {
            batch: cfg.batch,
            fill_ring: cfg.fill_ring,
            completion_ring: cfg.completion_ring,
            need_wakeup: cfg.need_wakeup,
            busy_poll: cfg.busy_poll.is_some(),
        };
        let mut engine = Engine::new(ecfg, pool_a, pool_b);
        engine.prime(&mut backend);
        let xdp_modes = [attach_mode(&inside_info), attach_mode(&outside_info)];
        Ok(QueuePair {
            engine,
            backend,
            inside: inside_info,
            outside: outside_info,
            queue,
            bind_mode: if zero_copy { BindMode::ZeroCopy } else { BindMode::Copy },
            xdp_modes,
            _not_sync: PhantomData,
        })
    }

    /// False if it fell back to copying between two UMEMs.
    pub fn zero_copy_forwarding(&self) -> bool {
        self.engine.shared()
    }

    /// What was actually bound on the inside socket ([`BindMode::ZeroCopy`] or
    /// [`BindMode::Copy`], read back with `XDP_OPTIONS`). With a shared UMEM the outside socket
    /// has the same mode.
    pub fn bind_mode(&self) -> BindMode {
        self.bind_mode
    }

    /// Where the redirect program on `side`'s interface runs ([`XdpMode::Native`] or
    /// [`XdpMode::Generic`], queried after attaching; [`XdpMode::Auto`] if the query failed).
    pub fn xdp_mode(&self, side: Side) -> XdpMode {
        self.xdp_modes[side.index()]
    }

    /// Facts of `side`'s interface as checked at open.
    pub fn interface(&self, side: Side) -> &InterfaceInfo {
        match side {
            Side::Inside => &self.inside,
            Side::Outside => &self.outside,
        }
    }

    /// The queue index both sockets are bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// One pass: complete TX, refill, receive up to `batch` frames per side, call
    /// `f(side, frame_bytes)` for each (the bytes are mutable, so a caller may rewrite e.g. a
    /// DSCP field in place, but cannot change the length), then forward or drop each, and wake
    /// the kernel where need_wakeup says so. Never blocks, never allocates; failures are counted
    /// (`tx_full`, `wakeup_errors`), not returned.
    pub fn poll<F: FnMut(Side, &mut [u8]) -> FrameAction>(&mut self, mut f: F) -> PollResult {
        self.engine.poll(&mut self.backend, |side, bytes, _| f(side, bytes))
    }

    /// As [`poll`](Self::poll), telling `f` the handle a frame gets if `f` holds it. See
    /// [`FramePair::poll_hold`].
    pub fn poll_hold<F: FnMut(Side, &mut [u8], Held) -> FrameAction>(&mut self, f: F) -> PollResult {
        self.engine.poll(&mut self.backend, f)
    }

    /// The bytes of held frame `h`. See [`FramePair::with_held`].
    pub fn with_held<R>(&mut self, h: Held, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        self.engine.with_held(&mut self.backend, h, f)
    }

    /// Gives held frame `h` back, to send or to recycle. See [`FramePair::release`].
    pub fn release(&mut self, h: Held, send: bool) -> bool {
        self.engine.release(h, send)
    }

    /// Puts buffered releases on the rings. See [`FramePair::flush_released`].
    pub fn flush_released(&mut self) -> ReleaseResult {
        self.engine.flush_released(&mut self.backend)
    }

    /// Room for more frames on `side`'s TX ring. See [`FramePair::tx_room`].
    pub fn tx_room(&mut self, side: Side) -> u32 {
        self.engine.tx_room(&mut self.backend, side)
    }

    /// Blocks until either socket is readable or `timeout` passes (poll(2)); used when
    /// [`poll`](Self::poll) found nothing. Returns at once if frames wait on an RX ring, and
    /// waits at most 1 ms while sent frames are still to complete (their completions raise no
    /// event). Returns at once, too, while released frames wait to be sent (the next poll
    /// sends them).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if poll(2) fails (other than `EINTR`, which is a timeout).
    pub fn wait(&mut self, timeout: Duration) -> Result<(), XdpError> {
        let c = self.engine.census();
        if c.rx > 0 || c.completion > 0 || self.engine.sends_buffered() {
            return Ok(());
        }
        let timeout = if self.engine.tx_outstanding() > 0 { timeout.min(Duration::from_millis(1)) } else { timeout };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        let fds = [self.backend.ports[0].fd, self.backend.ports[1].fd];
        sys::poll_readable(&fds, ms)
            .map(|_| ())
            .map_err(|source| XdpError::Os { what: format!("poll(2) on queue {}", self.queue), source })
    }

    /// Counters of frames received on each side.
    pub fn counters(&self) -> &PairCounters {
        self.engine.counters()
    }

    /// Where every frame is; `sum() == total` always. See [`FrameCensus`].
    pub fn census(&self) -> FrameCensus {
        self.engine.census()
    }

    /// The kernel's `XDP_STATISTICS` for `side`'s socket.
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if the getsockopt fails.
    pub fn kernel_stats(&self, side: Side) -> Result<KernelStats, XdpError> {
        let s = self.backend.ports[side.index()]
            .rx
            .fd()
            .xdp_statistics()
            .map_err(|e| XdpError::from_os(&self.interface(side).name, self.queue, "reading XDP_STATISTICS", e))?;
        Ok(KernelStats {
            rx_dropped: s.rx_dropped(),
            rx_invalid_descs: s.rx_invalid_descs(),
            tx_invalid_descs: s.tx_invalid_descs(),
            rx_ring_full: s.rx_ring_full(),
            fill_ring_empty: s.rx_fill_ring_empty_descs(),
            tx_ring_empty: s.tx_ring_empty_descs(),
        })
    }

    /// Stops: sends what was released to send, releases every frame still held as dropped,
    /// waits up to 1 s for frames on the TX rings to be sent, takes the census, then
    /// closes both sockets. libxdp removes each socket from its XSKMAP and, when it was the last
    /// user of the redirect program on an interface, detaches the program; frames still on
    /// fill/RX rings go back to the kernel with the UMEM. Returns the census taken just before
    /// the sockets closed (`tx` and `completion` are 0 unless the drain timed out).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for teardown failures the kernel may report.
    pub fn close(mut self) -> Result<FrameCensus, XdpError> {
        self.engine.release_all(&mut self.backend);
        let deadline = Instant::now() + CLOSE_DRAIN;
        self.engine.drain_tx(&mut self.backend, deadline);
        let census = self.engine.census();
        drop(self.backend);
        Ok(census)
    }
}

/// The XDP programs attached to `ifname` (in this thread's namespace), or `None` if none.
///
/// # Errors
///
/// [`XdpError::NoSuchInterface`], or [`XdpError::Os`] if the query fails.
pub fn xdp_program(ifname: &str) -> Result<Option<XdpAttachment>, XdpError> {
    let info = interface_info(ifname)?;
    let a = sys::xdp_query(info.ifindex).map_err(|e| XdpError::from_os(ifname, 0, "querying XDP program", e))?;
    Ok((a.native_prog_id != 0 || a.generic_prog_id != 0).then_some(a))
}

/// Detaches every XDP program from `ifname`; returns whether one was attached.
///
/// For start-up and recovery only: a process killed while its sockets were open leaves
/// libxdp's redirect program attached (see the crate docs), and its reference count then
/// never reaches zero, so later clean runs would not detach it either. Call this before
/// opening any [`QueuePair`] on interfaces weir owns; never while pairs are open.
///
/// # Errors
///
/// [`XdpError::NoSuchInterface`], [`XdpError::PermissionDenied`], or [`XdpError::Os`].
pub fn detach_xdp(ifname: &str) -> Result<bool, XdpError> {
    let info = interface_info(ifname)?;
    sys::xdp_detach_all(info.ifindex).map_err(|e| XdpError::from_os(ifname, 0, "detaching XDP program", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>() {}

    #[test]
    fn queue_pair_is_send() {
        assert_send::<QueuePair>();
    }

    #[test]
    fn open_checks_before_attaching() {
        let cfg = XdpConfig::default();
        assert!(matches!(QueuePair::open("lo", "lo", 0, &cfg), Err(XdpError::SameInterface { .. })));
        assert!(matches!(QueuePair::open("weir-none0", "lo", 0, &cfg), Err(XdpError::NoSuchInterface { .. })));
        let bad = XdpConfig { rx_ring: 3, ..XdpConfig::default() };
        assert!(matches!(QueuePair::open("a", "b", 0, &bad), Err(XdpError::Config { key: "rx_ring", .. })));
    }
}
