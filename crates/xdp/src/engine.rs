//! Frame accounting and the forwarding pass, over an abstract set of rings.
//!
//! [`Engine`] owns the bookkeeping of one queue pair: the free list(s), how many frames each
//! fill and TX ring holds on our behalf, and the per-side counters. It talks to the rings only
//! through [`Backend`], which the real AF_XDP sockets implement in [`crate::pair`] and a
//! simulated kernel implements in the tests below, so the accounting is tested without a
//! kernel.
//!
//! Ownership rule: a descriptor is held by exactly one of a free list, the batch buffer, or the
//! kernel (a fill/RX ring pair or a TX/completion ring pair, counted by `fill_out` and
//! `tx_out`). Every move below updates both ends, which is why the census sums to the total.

use crate::census::{FrameAction, FrameCensus, PairCounters, PollResult, Side, split_refill};

/// The rings of two AF_XDP sockets and the memory of their UMEM(s).
///
/// Frames are named by `Desc` values. UMEM `u` is 0 when the two sockets share one UMEM, and
/// otherwise the index of the side the UMEM belongs to.
pub(crate) trait Backend {
    /// A frame descriptor.
    type Desc: Copy + Default;

    /// Takes up to `out.len()` completed TX frames of `side` into `out`; returns how many.
    ///
    /// # Safety
    ///
    /// `out` must hold no descriptor the caller still owns (they are overwritten).
    unsafe fn complete(&mut self, side: Side, out: &mut [Self::Desc]) -> usize;
    /// Free slots on `side`'s fill ring, at least as many as `want` when that many are free.
    fn fill_free(&mut self, side: Side, want: u32) -> u32;
    /// Puts `descs` on `side`'s fill ring; returns how many (a prefix of `descs`) were taken.
    ///
    /// # Safety
    ///
    /// Every descriptor must be owned by the caller, in no ring, and belong to the UMEM that
    /// `side` receives into.
    unsafe fn fill(&mut self, side: Side, descs: &[Self::Desc]) -> usize;
    /// Whether the fill ring of `side` has `XDP_RING_NEED_WAKEUP` set.
    fn fill_needs_wakeup(&self, side: Side) -> bool;
    /// Kicks receive processing of `side` (`recvfrom`).
    fn kick_rx(&mut self, side: Side) -> std::io::Result<()>;
    /// Takes up to `out.len()` received frames of `side`; returns how many.
    ///
    /// # Safety
    ///
    /// As [`complete`](Self::complete).
    unsafe fn receive(&mut self, side: Side, out: &mut [Self::Desc]) -> usize;
    /// Free slots on `side`'s TX ring, at least as many as `want` when that many are free.
    fn tx_free(&mut self, side: Side, want: u32) -> u32;
    /// Entries of `side`'s TX ring.
    fn tx_size(&self, side: Side) -> u32;
    /// Puts `descs` on `side`'s TX ring; returns how many (a prefix) were taken.
    ///
    /// # Safety
    ///
    /// As [`fill`](Self::fill), for the UMEM `side` transmits from.
    unsafe fn transmit(&mut self, side: Side, descs: &[Self::Desc]) -> usize;
    /// Whether `side`'s TX ring has `XDP_RING_NEED_WAKEUP` set.
    fn tx_needs_wakeup(&self, side: Side) -> bool;
    /// Kicks transmission on `side` (`sendto`).
    fn kick_tx(&mut self, side: Side) -> std::io::Result<()>;
    /// Entries now waiting on `side`'s RX ring.
    fn rx_pending(&mut self, side: Side) -> u32;
    /// Entries now waiting on `side`'s completion ring.
    fn comp_pending(&mut self, side: Side) -> u32;
    /// Runs `f` on the packet bytes of frame `desc` of UMEM `umem`.
    ///
    /// # Safety
    ///
    /// `desc` must be owned by the caller (in no ring) and belong to UMEM `umem`.
    unsafe fn with_frame<R>(&mut self, umem: usize, desc: &mut Self::Desc, f: impl FnOnce(&mut [u8]) -> R) -> R;
    /// Copies the packet of `src` (UMEM `from`) into `dst` (UMEM `to`) and sets `dst`'s length;
    /// false if it does not fit.
    ///
    /// # Safety
    ///
    /// Both descriptors must be owned by the caller and belong to the UMEMs named.
    unsafe fn copy_frame(&mut self, from: usize, src: &Self::Desc, to: usize, dst: &mut Self::Desc) -> bool;
    /// Clears what a received descriptor carries that must not go back out (option bits).
    fn prepare_tx(desc: &mut Self::Desc);
}

/// Most `sendto` kicks per side per pass (see `kick`): enough for two full batches at 32 frames
/// per kick.
const MAX_TX_KICKS: usize = 5;

/// Sizing the engine needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EngineConfig {
    pub(crate) batch: u32,
    pub(crate) fill_ring: u32,
    pub(crate) completion_ring: u32,
    pub(crate) need_wakeup: bool,
    pub(crate) busy_poll: bool,
}

/// Bookkeeping of one queue pair. See the module docs.
#[derive(Debug)]
pub(crate) struct Engine<D> {
    cfg: EngineConfig,
    /// One UMEM for both sides (zero-copy forwarding) or one per side (copying).
    shared: bool,
    /// Free lists, per UMEM; capacity reserved for every frame so pushes never allocate.
    pools: [Vec<D>; 2],
    /// Frames per UMEM.
    totals: [u32; 2],
    /// Per side: frames given via the fill ring and not yet taken back from the RX ring.
    fill_out: [u32; 2],
    /// Per side: frames put on the TX ring and not yet taken back from the completion ring.
    tx_out: [u32; 2],
    /// Per side: RX ring occupancy at the end of the last poll (≤ `fill_out`).
    rx_seen: [u32; 2],
    /// Per side: completion ring occupancy at the end of the last poll (≤ `tx_out`).
    comp_seen: [u32; 2],
    /// Frames taken from an RX ring and not yet placed (nonzero only inside a poll).
    in_batch: u32,
    rx_buf: Vec<D>,
    fwd_buf: Vec<D>,
    counters: PairCounters,
}

impl<D: Copy + Default> Engine<D> {
    /// An engine owning `pools` (frames of UMEM 0, and of UMEM 1 when not shared).
    pub(crate) fn new(cfg: EngineConfig, pool0: Vec<D>, pool1: Option<Vec<D>>) -> Engine<D> {
        let shared = pool1.is_none();
        // A full pool's capacity is at least its length, so the free list holds every frame
        // of its UMEM without reallocating.
        let pools = [pool0, pool1.unwrap_or_default()];
        let totals = pools.each_ref().map(|p| u32::try_from(p.len()).unwrap_or(u32::MAX));
        let batch = cfg.batch.max(1) as usize;
        Engine {
            cfg,
            shared,
            pools,
            totals,
            fill_out: [0; 2],
            tx_out: [0; 2],
            rx_seen: [0; 2],
            comp_seen: [0; 2],
            in_batch: 0,
            rx_buf: vec![D::default(); batch],
            fwd_buf: vec![D::default(); batch],
            counters: PairCounters::default(),
        }
    }

    fn umem_of(&self, side: Side) -> usize {
        if self.shared { 0 } else { side.index() }
    }

    pub(crate) fn shared(&self) -> bool {
        self.shared
    }

    pub(crate) fn counters(&self) -> &PairCounters {
        &self.counters
    }

    /// Frames in flight on TX (on a TX or completion ring), both sides.
    pub(crate) fn tx_outstanding(&self) -> u32 {
        self.tx_out[0] + self.tx_out[1]
    }

    pub(crate) fn census(&self) -> FrameCensus {
        let mut c = FrameCensus {
            in_batch: u64::from(self.in_batch),
            free: (self.pools[0].len() + self.pools[1].len()) as u64,
            total: u64::from(self.totals[0]) + u64::from(self.totals[1]),
            ..FrameCensus::default()
        };
        for i in 0..2 {
            c.fill += u64::from(self.fill_out[i] - self.rx_seen[i]);
            c.rx += u64::from(self.rx_seen[i]);
            c.tx += u64::from(self.tx_out[i] - self.comp_seen[i]);
            c.completion += u64::from(self.comp_seen[i]);
        }
        c
    }

    /// Takes completed TX frames of `side` back onto the free list of their UMEM.
    fn complete<B: Backend<Desc = D>>(&mut self, b: &mut B, side: Side) {
        let s = side.index();
        let want = self.tx_out[s].min(self.cfg.completion_ring) as usize;
        if want == 0 {
            return;
        }
        let u = self.umem_of(side);
        let pool = &mut self.pools[u];
        let len = pool.len();
        // No reallocation: the pool's capacity is its UMEM's frame count, and the frames on
        // this TX ring are of this UMEM but not on its free list.
        pool.resize(len + want, D::default());
        // SAFETY: the slots past `len` are fresh defaults the caller does not own.
        let got = unsafe { b.complete(side, &mut pool[len..]) }.min(want);
        pool.truncate(len + got);
        self.tx_out[s] -= got as u32;
    }

    /// Moves free frames onto the fill rings, sharing fairly when there are not enough.
    fn refill<B: Backend<Desc = D>>(&mut self, b: &mut B) {
        let want_in = b.fill_free(Side::Inside, self.cfg.fill_ring).min(self.cfg.fill_ring);
        let want_out = b.fill_free(Side::Outside, self.cfg.fill_ring).min(self.cfg.fill_ring);
        let (g_in, g_out) = if self.shared {
            split_refill(self.pools[0].len() as u32, want_in, want_out)
        } else {
            (want_in.min(self.pools[0].len() as u32), want_out.min(self.pools[1].len() as u32))
        };
        self.fill_from_pool(b, Side::Inside, g_in as usize);
        self.fill_from_pool(b, Side::Outside, g_out as usize);
    }

    fn fill_from_pool<B: Backend<Desc = D>>(&mut self, b: &mut B, side: Side, n: usize) {
        if n == 0 {
            return;
        }
        let u = self.umem_of(side);
        let pool = &mut self.pools[u];
        let start = pool.len() - n.min(pool.len());
        // SAFETY: the tail of the free list is ours, in no ring, and of the UMEM `side`
        // receives into (`umem_of`).
        let took = unsafe { b.fill(side, &pool[start..]) }.min(pool.len() - start);
        pool.drain(start..start + took);
        self.fill_out[side.index()] += took as u32;
    }

    /// Receives one batch on `side`, asks `f`, and forwards or drops each frame.
    fn receive<B, F>(&mut self, b: &mut B, side: Side, f: &mut F, res: &mut PollResult)
    where
        B: Backend<Desc = D>,
        F: FnMut(Side, &mut [u8]) -> FrameAction,
    {
        let s = side.index();
        let other = side.other();
        // SAFETY: the batch buffer holds no frame between passes (everything was placed).
        let n = unsafe { b.receive(side, &mut self.rx_buf) }.min(self.rx_buf.len());
        if n == 0 {
            return;
        }
        self.fill_out[s] -= n as u32;
        self.in_batch = n as u32;
        let (u_rx, u_tx) = (self.umem_of(side), self.umem_of(other));
        let mut nfwd = 0usize;
        for i in 0..n {
            let mut d = self.rx_buf[i];
            // SAFETY: `d` just came off this side's RX ring: ours, of UMEM `u_rx`.
            let (action, len) = unsafe {
                b.with_frame(u_rx, &mut d, |bytes| {
                    let len = bytes.len();
                    (f(side, bytes), len)
                })
            };
            let c = self.counters.side_mut(side);
            c.rx_frames += 1;
            c.rx_bytes += len as u64;
            res.received += 1;
            match action {
                FrameAction::Drop => {
                    c.dropped += 1;
                    res.dropped += 1;
                    self.pools[u_rx].push(d);
                }
                FrameAction::Forward if self.shared => {
                    B::prepare_tx(&mut d);
                    self.fwd_buf[nfwd] = d;
                    nfwd += 1;
                }
                FrameAction::Forward => {
                    match self.pools[u_tx].pop() {
                        Some(mut nd) => {
                            // SAFETY: `d` is ours (just received, UMEM `u_rx`); `nd` came off
                            // the free list of UMEM `u_tx`.
                            if unsafe { b.copy_frame(u_rx, &d, u_tx, &mut nd) } {
                                // A free frame may carry options from when it was received.
                                B::prepare_tx(&mut nd);
                                self.fwd_buf[nfwd] = nd;
                                nfwd += 1;
                            } else {
                                self.pools[u_tx].push(nd);
                                c.tx_full += 1;
                                res.dropped += 1;
                            }
                        }
                        None => {
                            c.tx_full += 1;
                            res.dropped += 1;
                        }
                    }
                    self.pools[u_rx].push(d);
                }
            }
        }
        let room = b.tx_free(other, nfwd as u32).min(nfwd as u32) as usize;
        // SAFETY: the first `room` forward slots are ours and of UMEM `u_tx`, the UMEM the
        // other side transmits from (the same as `u_rx` when shared, a copy otherwise).
        let sent = unsafe { b.transmit(other, &self.fwd_buf[..room]) }.min(room);
        self.tx_out[other.index()] += sent as u32;
        let c = self.counters.side_mut(side);
        c.forwarded += sent as u64;
        if !self.shared {
            c.copied += sent as u64;
        }
        res.forwarded += sent as u32;
        for d in &self.fwd_buf[sent..nfwd] {
            c.tx_full += 1;
            res.dropped += 1;
            self.pools[u_tx].push(*d);
        }
        self.in_batch = 0;
    }

    fn kick<B: Backend<Desc = D>>(&mut self, b: &mut B, side: Side, sent_now: bool) {
        let s = side.index();
        // TX: frames on the ring need a sendto in copy mode (and whenever the ring asks). In copy
        // mode one sendto sends at most 32 frames (the kernel's TX_BATCH_SIZE) while a pass can
        // queue a whole batch from each side: kick again while frames are still queued, so the
        // ring drains at the rate it fills instead of overflowing (bounded: the kernel may be
        // busy, and the next pass kicks again).
        if self.tx_out[s] > 0 {
            let size = b.tx_size(side);
            for i in 0..MAX_TX_KICKS {
                let queued = b.tx_free(side, size) < size;
                let ask = if self.cfg.need_wakeup { b.tx_needs_wakeup(side) } else { true };
                // Frames sent this pass earn one kick even if the ring already looks empty (a
                // zero-copy driver may have taken them); more kicks only while frames are still
                // queued. (Kicking an empty ring again was a wasted syscall on every pass.)
                if !((queued || (sent_now && i == 0)) && ask) {
                    break;
                }
                if b.kick_tx(side).is_err() {
                    self.counters.side_mut(side).wakeup_errors += 1;
                    break;
                }
                if !queued {
                    break;
                }
            }
        }
        // RX: the fill ring asks (need_wakeup) or busy polling drives receive from here.
        let ask = self.cfg.busy_poll || (self.cfg.need_wakeup && b.fill_needs_wakeup(side));
        if ask && b.kick_rx(side).is_err() {
            self.counters.side_mut(side).wakeup_errors += 1;
        }
    }

    /// One pass. See [`crate::QueuePair::poll`].
    pub(crate) fn poll<B, F>(&mut self, b: &mut B, mut f: F) -> PollResult
    where
        B: Backend<Desc = D>,
        F: FnMut(Side, &mut [u8]) -> FrameAction,
    {
        let mut res = PollResult::default();
        for side in Side::BOTH {
            self.complete(b, side);
        }
        self.refill(b);
        let before = self.tx_out;
        for side in Side::BOTH {
            self.receive(b, side, &mut f, &mut res);
        }
        // Dropped frames are free again: give them straight back so receiving never waits a
        // pass for frames it just let go of.
        self.refill(b);
        for side in Side::BOTH {
            let sent_now = self.tx_out[side.index()] > before[side.index()];
            self.kick(b, side, sent_now);
        }
        self.measure(b);
        res
    }

    /// Records ring occupancy for the census.
    pub(crate) fn measure<B: Backend<Desc = D>>(&mut self, b: &mut B) {
        for side in Side::BOTH {
            let s = side.index();
            self.rx_seen[s] = b.rx_pending(side).min(self.fill_out[s]);
            self.comp_seen[s] = b.comp_pending(side).min(self.tx_out[s]);
        }
    }

    /// Completes TX and kicks until nothing is in flight on TX or `deadline` passes; returns
    /// whether everything completed.
    pub(crate) fn drain_tx<B: Backend<Desc = D>>(&mut self, b: &mut B, deadline: std::time::Instant) -> bool {
        loop {
            for side in Side::BOTH {
                self.complete(b, side);
                if self.tx_out[side.index()] > 0 && b.kick_tx(side).is_err() {
                    self.counters.side_mut(side).wakeup_errors += 1;
                }
            }
            self.measure(b);
            if self.tx_outstanding() == 0 {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Fills both fill rings before the first poll.
    pub(crate) fn prime<B: Backend<Desc = D>>(&mut self, b: &mut B) {
        self.refill(b);
        for side in Side::BOTH {
            self.kick(b, side, false);
        }
        self.measure(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FDesc, Fake};
    use std::collections::HashSet;

    fn cfg(batch: u32, fill: u32, ring: u32) -> EngineConfig {
        EngineConfig { batch, fill_ring: fill, completion_ring: ring, need_wakeup: true, busy_poll: false }
    }

    /// Every frame is in exactly one place: no duplicates, none lost.
    fn assert_each_frame_once(e: &Engine<FDesc>, k: &Fake) {
        let mut seen = HashSet::new();
        for (u, pool) in e.pools.iter().enumerate() {
            for d in pool {
                assert!(seen.insert((u, d.addr)), "duplicate free frame {u}/{}", d.addr);
            }
        }
        for h in k.held() {
            assert!(seen.insert(h), "frame {h:?} both free and in a ring");
        }
        let c = e.census();
        assert_eq!(seen.len() as u64, c.total, "frames lost");
        assert_eq!(c.sum(), c.total);
        assert_eq!(c.in_batch, 0);
    }

    fn pkt(i: usize) -> Vec<u8> {
        let len = 60 + i % 150;
        (0..len).map(|j| (i * 7 + j) as u8).collect()
    }

    #[test]
    fn forwards_everything_zero_copy_and_keeps_the_census() {
        let (mut k, p0, p1) = Fake::new(64, true, 16, 8);
        let mut e = Engine::new(cfg(4, 16, 8), p0, p1);
        e.prime(&mut k);
        assert_eq!(k.fill[0].len() + k.fill[1].len(), 32, "both fill rings stocked");
        assert_each_frame_once(&e, &k);
        let want_in: Vec<_> = (0..500).map(pkt).collect();
        let want_out: Vec<_> = (1000..1300).map(pkt).collect();
        k.wire[0].extend(want_in.iter().cloned());
        k.wire[1].extend(want_out.iter().cloned());
        for _ in 0..2000 {
            k.step();
            e.poll(&mut k, |_, _| FrameAction::Forward);
            assert_each_frame_once(&e, &k);
        }
        // Inside's frames leave on outside and vice versa, in order and byte-identical.
        assert_eq!(k.sent[1], want_in);
        assert_eq!(k.sent[0], want_out);
        let c = e.counters();
        assert_eq!((c.inside.rx_frames, c.inside.forwarded, c.inside.tx_full), (500, 500, 0));
        assert_eq!((c.outside.rx_frames, c.outside.forwarded), (300, 300));
        assert_eq!(c.inside.copied, 0);
        assert_eq!(c.inside.rx_bytes, want_in.iter().map(|p| p.len() as u64).sum::<u64>());
        let census = e.census();
        assert_eq!((census.tx, census.completion, census.rx), (0, 0, 0));
        assert!(k.tx_kicks[1] > 0, "copy-mode TX needs a kick");
    }

    #[test]
    fn drop_returns_frames_and_counts() {
        let (mut k, p0, p1) = Fake::new(64, true, 16, 8);
        let mut e = Engine::new(cfg(8, 16, 8), p0, p1);
        e.prime(&mut k);
        k.wire[0].extend((0..100).map(pkt));
        let mut total = PollResult::default();
        for _ in 0..200 {
            k.step();
            let r = e.poll(&mut k, |_, _| FrameAction::Drop);
            total.received += r.received;
            total.dropped += r.dropped;
            total.forwarded += r.forwarded;
            assert_each_frame_once(&e, &k);
        }
        assert_eq!((total.received, total.dropped, total.forwarded), (100, 100, 0));
        assert_eq!(e.counters().inside.dropped, 100);
        assert!(k.sent[1].is_empty());
    }

    #[test]
    fn closure_can_rewrite_bytes_in_place() {
        let (mut k, p0, p1) = Fake::new(32, true, 8, 8);
        let mut e = Engine::new(cfg(4, 8, 8), p0, p1);
        e.prime(&mut k);
        k.wire[1].push_back(vec![1; 64]);
        for _ in 0..4 {
            k.step();
            e.poll(&mut k, |side, b| {
                assert_eq!(side, Side::Outside);
                b[15] = 0xb8; // e.g. a DSCP byte
                FrameAction::Forward
            });
        }
        let mut want = vec![1; 64];
        want[15] = 0xb8;
        assert_eq!(k.sent[0], vec![want]);
    }

    #[test]
    fn full_peer_tx_ring_drops_and_counts() {
        let (mut k, p0, p1) = Fake::new(64, true, 16, 4);
        k.tx_per_step = 0; // the "NIC" never sends
        let mut e = Engine::new(cfg(4, 16, 4), p0, p1);
        e.prime(&mut k);
        k.wire[0].extend((0..20).map(pkt));
        for _ in 0..50 {
            k.step();
            e.poll(&mut k, |_, _| FrameAction::Forward);
            assert_each_frame_once(&e, &k);
        }
        let c = e.counters().inside;
        assert_eq!(c.rx_frames, 20);
        assert_eq!(c.forwarded, 4, "TX ring of 4 holds 4");
        assert_eq!(c.tx_full, 16);
        assert_eq!(e.census().tx, 4);
        // Once the NIC sends again, drain_tx gets everything back.
        k.tx_per_step = usize::MAX;
        k.step();
        assert!(e.drain_tx(&mut k, std::time::Instant::now() + std::time::Duration::from_secs(1)));
        assert_each_frame_once(&e, &k);
        assert_eq!(e.census().tx + e.census().completion, 0);
    }

    /// Copy mode: a pass that queues n frames kicks ceil(n / 32) times (each sendto sends 32),
    /// not once more on an already empty ring.
    #[test]
    fn copy_mode_kicks_once_per_32_frames_and_no_more() {
        let (mut k, p0, p1) = Fake::new(512, true, 128, 128);
        k.copy_mode = true;
        let mut e = Engine::new(cfg(64, 128, 128), p0, p1);
        e.prime(&mut k);
        for (n, kicks) in [(1, 1), (31, 1), (32, 1), (33, 2), (64, 2)] {
            k.wire[0].extend((0..n).map(pkt));
            k.step();
            let before = k.tx_kicks[1];
            let r = e.poll(&mut k, |_, _| FrameAction::Forward);
            assert_eq!(r.forwarded, n as u32);
            assert_eq!(k.tx_kicks[1] - before, kicks, "{n} frames");
            assert!(k.tx[1].is_empty(), "{n} frames: all sent");
            assert_each_frame_once(&e, &k);
        }
        // An idle pass kicks nothing.
        let before = k.tx_kicks;
        e.poll(&mut k, |_, _| FrameAction::Forward);
        assert_eq!(k.tx_kicks, before);
    }

    #[test]
    fn two_umems_copy_and_keep_both_censuses() {
        let (mut k, p0, p1) = Fake::new(32, false, 8, 8);
        let mut e = Engine::new(cfg(4, 8, 8), p0, p1);
        assert!(!e.shared());
        e.prime(&mut k);
        assert_eq!(e.census().total, 64);
        let want: Vec<_> = (0..200).map(pkt).collect();
        k.wire[0].extend(want.iter().cloned());
        k.wire[1].extend(want.iter().cloned());
        for _ in 0..500 {
            k.step();
            e.poll(&mut k, |_, _| FrameAction::Forward);
            assert_each_frame_once(&e, &k);
        }
        assert_eq!(k.sent[1], want);
        assert_eq!(k.sent[0], want);
        let c = e.counters();
        assert_eq!((c.inside.copied, c.outside.copied), (200, 200));
    }

    #[test]
    fn scarce_frames_are_shared_between_fill_rings() {
        // 10 frames, two fill rings of 8: neither side may be left with nothing.
        let (mut k, p0, p1) = Fake::new(10, true, 8, 8);
        let mut e = Engine::new(cfg(4, 8, 8), p0, p1);
        e.prime(&mut k);
        assert_eq!((k.fill[0].len(), k.fill[1].len()), (5, 5));
        assert_each_frame_once(&e, &k);
    }

    #[test]
    fn mixed_verdicts_random_traffic() {
        let (mut k, p0, p1) = Fake::new(48, true, 16, 8);
        let mut e = Engine::new(cfg(8, 16, 8), p0, p1);
        e.prime(&mut k);
        let mut x: u32 = 12345;
        let mut fwd = 0u64;
        for round in 0..3000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if x.is_multiple_of(3) {
                k.wire[(x as usize >> 8) % 2].push_back(pkt(round));
            }
            if !x.is_multiple_of(5) {
                k.step();
            }
            k.tx_per_step = (x as usize >> 4) % 4;
            let r = e.poll(&mut k, |_, b| if b[0] % 2 == 0 { FrameAction::Forward } else { FrameAction::Drop });
            fwd += u64::from(r.forwarded);
            assert_each_frame_once(&e, &k);
        }
        let c = e.counters();
        let rx = c.inside.rx_frames + c.outside.rx_frames;
        let accounted = c.inside.forwarded
            + c.outside.forwarded
            + c.inside.dropped
            + c.outside.dropped
            + c.inside.tx_full
            + c.outside.tx_full;
        assert_eq!(rx, accounted);
        assert_eq!(fwd, c.inside.forwarded + c.outside.forwarded);
    }
}
