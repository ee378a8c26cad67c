//! [`XskPort`]: one AF_XDP socket with its own UMEM, for a process that only transmits (a
//! traffic generator) or only receives (a sink), plus the two helpers such tools need: the
//! shared clock ([`monotonic_ns`]) and opening a socket in another network namespace
//! ([`in_netns`]).
//!
//! Frames: the UMEM's frames start on a free list; `rx_ring` + `fill_ring`-bounded share of them
//! goes to the fill ring at open (the fill ring is always kept stocked, also for a socket that
//! mostly transmits: a kernel that finds it empty drops what arrives). [`XskPort::send`] takes
//! free frames, lets the caller write each in place (no copy), and puts them on the TX ring;
//! completed frames come back to the free list. [`XskPort::receive`] hands each received frame to the caller and returns it
//! to the fill ring at once. Every frame is always on the free list, the fill ring, the RX ring,
//! the TX ring or the completion ring; `free + outstanding + in_fill` is checked in the tests.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, TxQueue, Umem};

use crate::census::KernelStats;
use crate::config::XdpConfig;
use crate::error::XdpError;
use crate::iface::interface_info;
use crate::pair::{Port, bind_port, new_umem};
use crate::sys;

/// One AF_XDP socket over its own UMEM. `Send`, driven by one thread.
pub struct XskPort {
    tx: TxQueue,
    rx: RxQueue,
    fq: FillQueue,
    cq: CompQueue,
    umem: Umem,
    fd: RawFd,
    free: Vec<FrameDesc>,
    batch: Vec<FrameDesc>,
    outstanding: u32,
    in_fill: u32,
    max_frame: usize,
    name: String,
    queue: u32,
    need_wakeup: bool,
}

impl std::fmt::Debug for XskPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskPort")
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("free", &self.free.len())
            .field("outstanding", &self.outstanding)
            .finish()
    }
}

impl XskPort {
    /// Opens one socket on `name` queue `queue` (in this thread's network namespace) over a
    /// new UMEM sized by `cfg`, binding in the modes `cfg` allows (zero-copy before copy,
    /// native before generic), and stocks the fill ring.
    ///
    /// # Errors
    ///
    /// [`XdpError::Config`] from [`XdpConfig::validate`]; [`XdpError::NoSuchInterface`];
    /// [`XdpError::Busy`] after 2 s of `EBUSY`; [`XdpError::PermissionDenied`],
    /// [`XdpError::NotSupported`] or [`XdpError::Os`] from the kernel.
    pub fn open(name: &str, queue: u32, cfg: &XdpConfig) -> Result<XskPort, XdpError> {
        sys::quiet_libxdp();
        cfg.validate()?;
        let info = interface_info(name)?;
        if queue >= info.rx_queues.max(info.tx_queues) {
            return Err(XdpError::Config {
                key: "queue",
                reason: format!("{queue} is not below the queue count of `{name}`"),
            });
        }
        // The same UMEM set-up and bind (modes tried in order, EBUSY retried) as a queue pair's.
        let (umem, free) = new_umem(cfg)?;
        let Port { tx, rx, fq, cq, fd, .. } = bind_port(name, queue, &umem, cfg, false)?;
        let mut port = XskPort {
            tx,
            rx,
            fq,
            cq,
            umem,
            fd,
            free,
            batch: vec![FrameDesc::default(); cfg.batch.max(1) as usize],
            outstanding: 0,
            in_fill: 0,
            max_frame: cfg.max_frame_len() as usize,
            name: name.to_owned(),
            queue,
            need_wakeup: cfg.need_wakeup,
        };
        port.refill(cfg.fill_ring.min(cfg.frame_count / 2));
        Ok(port)
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue index.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The largest frame one UMEM frame holds.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame
    }

    /// Frames on the TX or completion ring (sent but not yet reclaimed).
    pub fn tx_outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Frames on the free list.
    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// Moves up to `want` free frames to the fill ring.
    fn refill(&mut self, want: u32) {
        let n = self.fq.nb_free(want).min(want).min(self.free.len() as u32) as usize;
        if n == 0 {
            return;
        }
        let at = self.free.len() - n;
        // SAFETY: the frames come off our free list (no ring holds them) and belong to this
        // UMEM, whose fill ring this is.
        let done = unsafe { self.fq.produce(&self.free[at..]) };
        self.free.truncate(self.free.len() - done);
        self.in_fill += done as u32;
        if self.need_wakeup && self.fq.needs_wakeup() {
            // Transient errors are not errors here; a hard one shows as a stalled ring.
            let _ = sys::kick_rx(self.fd);
        }
    }

    /// Takes sent frames back from the completion ring; returns how many.
    pub fn complete(&mut self) -> u32 {
        let mut total = 0;
        loop {
            let want = self.batch.len().min(self.outstanding as usize);
            if want == 0 {
                break;
            }
            // SAFETY: the slots are scratch descriptors we own; the kernel writes addresses of
            // frames of this UMEM that it has finished sending.
            let n = unsafe { self.cq.consume(&mut self.batch[..want]) };
            if n == 0 {
                break;
            }
            self.free.extend_from_slice(&self.batch[..n]);
            self.outstanding -= n as u32;
            total += n as u32;
        }
        total
    }

    /// Sends up to `max` frames: for each, `write(buf)` gets a whole UMEM frame and returns the
    /// frame length it wrote, or `None` to stop early. Reclaims completions first; wakes the
    /// kernel if the TX ring asks. Returns the number of frames put on the TX ring (fewer than
    /// asked when the ring or the free list is short: try again after
    /// [`wait_tx`](Self::wait_tx)).
    pub fn send<F: FnMut(&mut [u8]) -> Option<usize>>(&mut self, max: usize, mut write: F) -> usize {
        self.complete();
        let want = max.min(self.batch.len()).min(self.free.len());
        let room = self.tx.nb_free(want as u32) as usize;
        let want = want.min(room);
        let mut n = 0;
        while n < want {
            let Some(mut desc) = self.free.pop() else { break };
            let len = {
                // SAFETY: `desc` came off our free list: no ring holds it, so the kernel does
                // not touch the frame while we write it.
                let mut data = unsafe { self.umem.data_mut(&mut desc) };
                let mut cur = data.cursor();
                cur.set_pos(self.max_frame);
                let len = write(data.contents_mut());
                let mut cur = data.cursor();
                cur.set_pos(len.unwrap_or(0).min(self.max_frame));
                len
            };
            if len.is_none() {
                self.free.push(desc);
                break;
            }
            desc.set_options(0);
            self.batch[n] = desc;
            n += 1;
        }
        if n == 0 {
            return 0;
        }
        // SAFETY: the frames were taken off the free list above and written; they belong to
        // this UMEM and no ring holds them. `nb_free` reserved room for `want >= n` entries.
        let done = unsafe { self.tx.produce(&self.batch[..n]) };
        // Anything the ring refused (never, given nb_free) goes back to the free list.
        self.free.extend_from_slice(&self.batch[done..n]);
        self.outstanding += done as u32;
        if !self.need_wakeup || self.tx.needs_wakeup() {
            let _ = self.tx.wakeup();
        }
        done
    }

    /// Waits up to `timeout` for completions when the TX ring or free list is exhausted (kicks
    /// the kernel, then sleeps briefly; completions raise no poll event).
    pub fn wait_tx(&mut self, timeout: Duration) {
        let _ = self.tx.wakeup();
        if self.complete() == 0 {
            std::thread::sleep(timeout.min(Duration::from_micros(50)));
        }
    }

    /// Waits up to `timeout` for every sent frame to complete; returns how many did not.
    pub fn drain_tx(&mut self, timeout: Duration) -> u32 {
        let deadline = Instant::now() + timeout;
        while self.outstanding > 0 && Instant::now() < deadline {
            self.wait_tx(Duration::from_millis(1));
        }
        self.outstanding
    }

    /// Receives up to `max` frames, calling `read(frame)` for each, and returns them to the fill
    /// ring. Returns the number received.
    pub fn receive<F: FnMut(&[u8])>(&mut self, max: usize, mut read: F) -> usize {
        let want = max.min(self.batch.len());
        // SAFETY: the slots are scratch descriptors we own; received frames are of this UMEM.
        let n = unsafe { self.rx.consume(&mut self.batch[..want]) };
        for d in &self.batch[..n] {
            // SAFETY: a frame just taken from the RX ring is ours until we put it back on the
            // fill ring below; the kernel does not write it meanwhile.
            let data = unsafe { self.umem.data(d) };
            read(data.contents());
        }
        self.in_fill -= n as u32;
        self.free.extend_from_slice(&self.batch[..n]);
        let fill = self.free.len() as u32;
        self.refill(fill);
        n
    }

    /// Blocks until the socket is readable or `timeout` passes.
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if poll(2) fails (other than `EINTR`).
    pub fn wait_rx(&mut self, timeout: Duration) -> Result<(), XdpError> {
        if self.rx.nb_avail(1) > 0 {
            return Ok(());
        }
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        sys::poll_readable(&[self.fd, self.fd], ms)
            .map(|_| ())
            .map_err(|source| XdpError::Os { what: format!("poll(2) on `{}` queue {}", self.name, self.queue), source })
    }

    /// The kernel's `XDP_STATISTICS` for this socket.
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if the getsockopt fails.
    pub fn kernel_stats(&self) -> Result<KernelStats, XdpError> {
        let s = self
            .rx
            .fd()
            .xdp_statistics()
            .map_err(|e| XdpError::from_os(&self.name, self.queue, "reading XDP_STATISTICS", e))?;
        Ok(KernelStats {
            rx_dropped: s.rx_dropped(),
            rx_invalid_descs: s.rx_invalid_descs(),
            tx_invalid_descs: s.tx_invalid_descs(),
            rx_ring_full: s.rx_ring_full(),
            fill_ring_empty: s.rx_fill_ring_empty_descs(),
            tx_ring_empty: s.tx_ring_empty_descs(),
        })
    }
}

/// Nanoseconds of `CLOCK_MONOTONIC`: one clock for every process on the machine, so a sender
/// and a receiver on one host can measure one-way latency.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a live timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

/// Runs `f` in the network namespace `/run/netns/NAME` (as `ip netns` names them) on this
/// thread, then returns the thread to the namespace it was in. Sockets made inside `f` stay
/// bound to that namespace's interfaces afterwards.
///
/// # Errors
///
/// [`XdpError::Os`] if either namespace cannot be opened or entered (entering needs
/// CAP_SYS_ADMIN).
pub fn in_netns<R>(name: &str, f: impl FnOnce() -> R) -> Result<R, XdpError> {
    let err = |what: String| move |source: io::Error| XdpError::Os { what, source };
    if name.is_empty() || name.contains('/') {
        return Err(XdpError::Os {
            what: format!("network namespace name `{name}`"),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    let here = std::fs::File::open("/proc/thread-self/ns/net").map_err(err("opening this thread's netns".into()))?;
    let there = std::fs::File::open(format!("/run/netns/{name}")).map_err(err(format!("opening netns `{name}`")))?;
    setns(there.as_raw_fd()).map_err(err(format!("entering netns `{name}`")))?;
    let r = f();
    setns(here.as_raw_fd()).map_err(err("returning to the original netns".into()))?;
    Ok(r)
}

fn setns(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain setns(2) on a namespace descriptor we hold open; it affects this thread.
    let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<XskPort>();
    }

    #[test]
    fn clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn open_checks_before_binding() {
        let bad = XdpConfig { rx_ring: 3, ..XdpConfig::default() };
        assert!(matches!(XskPort::open("lo", 0, &bad), Err(XdpError::Config { key: "rx_ring", .. })));
        assert!(matches!(XskPort::open("weir-none0", 0, &XdpConfig::default()), Err(XdpError::NoSuchInterface { .. })));
        assert!(matches!(in_netns("a/b", || ()), Err(XdpError::Os { .. })));
        assert!(matches!(in_netns("weir-no-such-ns", || ()), Err(XdpError::Os { .. })));
    }
}
