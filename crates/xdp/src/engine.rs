//! Frame accounting and the forwarding pass, over an abstract set of rings.
//!
//! [`Engine`] owns the bookkeeping of one queue pair: the free list(s), how many frames each
//! fill and TX ring holds on our behalf, and the per-side counters. It talks to the rings only
//! through [`Backend`], which the real AF_XDP sockets implement in [`crate::pair`] and a
//! simulated kernel implements in the tests below, so the accounting is tested without a
//! kernel.
//!
//! Ownership rule: a descriptor is held by exactly one of a free list, the batch buffer, the
//! hold store, or the kernel (a fill/RX ring pair or a TX/completion ring pair, counted by
//! `fill_out` and `tx_out`). Every move below updates both ends, which is why the census sums
//! to the total.
//!
//! The hold store ([`HoldStore`]) keeps the frames the caller said to hold
//! ([`FrameAction::Hold`]): a slab with one slot per UMEM frame of the pair, allocated with the
//! engine, and a stack of free slot indices, so holding and releasing never allocate. A slot
//! holds the descriptor, the UMEM it belongs to and the side it was received on. A held frame
//! stays in its receive side's UMEM. Releasing it as dropped puts it straight on its free list
//! (the fill rings are refilled at the next flush or poll); releasing it to send queues its slot
//! on the other side's send list, in release order, and the slot stays taken (still counted
//! `held`) until the flush (`flush_released`, or the start of the next poll) puts the list on
//! that TX ring in one transmit: with one UMEM the descriptor itself, with two a copy into a
//! free frame of the other UMEM (as forwarding does), the original going back to its free
//! list. What finds no TX room or no free frame is recycled and counted `tx_full`.

use crate::census::{FrameAction, FrameCensus, Held, PairCounters, PollResult, ReleaseResult, Side, split_refill};

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

/// Where a hold-store slot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    /// On the free-index stack.
    Free,
    /// Held by the caller.
    Held,
    /// Released to send, on its TX side's send list until the next flush.
    Sending,
}

/// One hold-store slot.
#[derive(Clone, Copy, Debug)]
struct Slot<D> {
    desc: D,
    /// The UMEM `desc` belongs to.
    umem: usize,
    /// The side it was received on.
    side: Side,
    state: SlotState,
    /// Bumped each time the slot is freed, so stale handles do not match.
    tag: u32,
}

/// The frames the caller holds. See the module docs.
#[derive(Debug)]
struct HoldStore<D> {
    slots: Vec<Slot<D>>,
    /// Free slot indices; the next hold takes the last.
    free: Vec<u32>,
    /// Bits of a handle that name the slot (the rest carry the tag).
    bits: u32,
    /// Per TX side: slots released to send out of that side, in release order.
    sending: [Vec<u32>; 2],
    /// Per receive side: slots taken (held or sending).
    taken: [u32; 2],
}

impl<D: Copy + Default> HoldStore<D> {
    fn new(capacity: usize) -> HoldStore<D> {
        // Slot numbers stay below `capacity`, and the handle of an empty store (`capacity`
        // itself) must name no slot: hence bits for `capacity`, not `capacity - 1`.
        let capacity = capacity.min(u32::MAX as usize / 2) as u32;
        let bits = u32::BITS - capacity.leading_zeros();
        let slot = Slot { desc: D::default(), umem: 0, side: Side::Inside, state: SlotState::Free, tag: 0 };
        HoldStore {
            slots: vec![slot; capacity as usize],
            free: (0..capacity).rev().collect(),
            bits,
            sending: [Vec::with_capacity(capacity as usize), Vec::with_capacity(capacity as usize)],
            taken: [0; 2],
        }
    }

    fn handle(&self, i: u32) -> Held {
        let tag = self.slots.get(i as usize).map_or(0, |s| s.tag);
        Held(i | tag.checked_shl(self.bits).unwrap_or(0))
    }

    /// The handle the next hold will get (one naming no slot when the store is full).
    fn next(&self) -> Held {
        match self.free.last() {
            Some(&i) => self.handle(i),
            None => Held(self.slots.len() as u32),
        }
    }

    /// The slot `h` names, if it is held now.
    fn lookup(&self, h: Held) -> Option<usize> {
        let mask = 1u32.checked_shl(self.bits).map_or(u32::MAX, |m| m - 1);
        let i = h.0 & mask;
        let s = self.slots.get(i as usize)?;
        (s.state == SlotState::Held && self.handle(i) == h).then_some(i as usize)
    }

    /// Takes a slot for `desc`; `None` (the caller keeps `desc`) if the store is full.
    fn insert(&mut self, desc: D, umem: usize, side: Side) -> Option<Held> {
        let i = self.free.pop()?;
        let h = self.handle(i);
        let s = self.slots.get_mut(i as usize)?;
        *s = Slot { desc, umem, side, state: SlotState::Held, tag: s.tag };
        self.taken[side.index()] += 1;
        Some(h)
    }

    /// Frees slot `i`, returning what it held.
    fn remove(&mut self, i: usize) -> Slot<D> {
        let s = self.slots[i];
        self.slots[i].state = SlotState::Free;
        self.slots[i].tag = s.tag.wrapping_add(1);
        self.free.push(i as u32);
        self.taken[s.side.index()] -= 1;
        s
    }

    fn len(&self) -> u32 {
        self.taken[0] + self.taken[1]
    }
}

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
    /// What a flush puts on one TX ring (capacity for every frame: never reallocates).
    stage: Vec<D>,
    hold: HoldStore<D>,
    /// Outcome of releases since the last `flush_released`.
    released: ReleaseResult,
    counters: PairCounters,
}

impl<D: Copy + Default> Engine<D> {
    /// An engine owning `pools` (frames of UMEM 0, and of UMEM 1 when not shared).
    pub(crate) fn new(cfg: EngineConfig, pool0: Vec<D>, pool1: Option<Vec<D>>) -> Engine<D> {
        let frames = pool0.len() + pool1.as_ref().map_or(0, Vec::len);
        Engine::with_hold_capacity(cfg, pool0, pool1, frames)
    }

    /// As [`new`](Self::new), with a hold store of `hold` slots (tests make it small).
    fn with_hold_capacity(cfg: EngineConfig, pool0: Vec<D>, pool1: Option<Vec<D>>, hold: usize) -> Engine<D> {
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
            stage: Vec::with_capacity(hold),
            hold: HoldStore::new(hold),
            released: ReleaseResult::default(),
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
            held: u64::from(self.hold.len()),
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

    /// Receives one batch on `side`, asks `f`, and forwards, drops or holds each frame.
    fn receive<B, F>(&mut self, b: &mut B, side: Side, f: &mut F, res: &mut PollResult)
    where
        B: Backend<Desc = D>,
        F: FnMut(Side, &mut [u8], Held) -> FrameAction,
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
            // The handle `insert` below gives the frame if it is held (nothing else touches
            // the store in between).
            let h = self.hold.next();
            // SAFETY: `d` just came off this side's RX ring: ours, of UMEM `u_rx`.
            let (action, len) = unsafe {
                b.with_frame(u_rx, &mut d, |bytes| {
                    let len = bytes.len();
                    (f(side, bytes, h), len)
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
                FrameAction::Hold => match self.hold.insert(d, u_rx, side) {
                    Some(_) => {
                        c.held += 1;
                        res.held += 1;
                    }
                    // No slot left (the store has one per frame, so only if it was made
                    // smaller): the frame is dropped instead.
                    None => {
                        c.dropped += 1;
                        res.dropped += 1;
                        self.pools[u_rx].push(d);
                    }
                },
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

    /// One pass. See [`crate::QueuePair::poll_hold`].
    pub(crate) fn poll<B, F>(&mut self, b: &mut B, mut f: F) -> PollResult
    where
        B: Backend<Desc = D>,
        F: FnMut(Side, &mut [u8], Held) -> FrameAction,
    {
        let mut res = PollResult::default();
        for side in Side::BOTH {
            self.complete(b, side);
        }
        let before = self.tx_out;
        // Releases buffered since the last flush go out before this pass's frames.
        for side in Side::BOTH {
            self.send_released(b, side);
        }
        self.refill(b);
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

    /// The bytes of held frame `h`; `None` if `h` is not held.
    pub(crate) fn with_held<B, R>(&mut self, b: &mut B, h: Held, f: impl FnOnce(&mut [u8]) -> R) -> Option<R>
    where
        B: Backend<Desc = D>,
    {
        let i = self.hold.lookup(h)?;
        let slot = &mut self.hold.slots[i];
        // SAFETY: a held frame is in no ring and on no free list: the store owns it, and
        // `slot.umem` is the UMEM it was received into.
        Some(unsafe { b.with_frame(slot.umem, &mut slot.desc, f) })
    }

    /// Gives held frame `h` back: to send on the side opposite to where it was received
    /// (buffered until the next flush), or to recycle. False if `h` is not held.
    pub(crate) fn release(&mut self, h: Held, send: bool) -> bool {
        let Some(i) = self.hold.lookup(h) else { return false };
        if send {
            let tx = self.hold.slots[i].side.other();
            self.hold.slots[i].state = SlotState::Sending;
            // Never reallocates: each list has room for every slot.
            self.hold.sending[tx.index()].push(i as u32);
        } else {
            let s = self.hold.remove(i);
            self.pools[s.umem].push(s.desc);
            let c = self.counters.side_mut(s.side);
            c.held -= 1;
            c.dropped += 1;
            self.released.dropped = self.released.dropped.saturating_add(1);
        }
        true
    }

    /// Whether releases to send wait for a flush.
    pub(crate) fn sends_buffered(&self) -> bool {
        !(self.hold.sending[0].is_empty() && self.hold.sending[1].is_empty())
    }

    /// Free slots on `side`'s TX ring less the sends already buffered for it.
    pub(crate) fn tx_room<B: Backend<Desc = D>>(&mut self, b: &mut B, side: Side) -> u32 {
        let size = b.tx_size(side);
        let free = b.tx_free(side, size).min(size);
        free.saturating_sub(self.hold.sending[side.index()].len() as u32)
    }

    /// Puts the frames released to send out of `side` on its TX ring, in release order, in one
    /// transmit; what finds no room (or, copying, no free frame) is recycled as `tx_full`.
    fn send_released<B: Backend<Desc = D>>(&mut self, b: &mut B, side: Side) {
        let n = self.hold.sending[side.index()].len();
        if n == 0 {
            return;
        }
        let rx_side = side.other();
        let u_tx = self.umem_of(side);
        let room = (b.tx_free(side, n as u32) as usize).min(n);
        let mut lost = 0u32;
        self.stage.clear();
        for k in 0..n {
            let i = self.hold.sending[side.index()][k] as usize;
            let s = self.hold.remove(i);
            if k >= room {
                self.pools[s.umem].push(s.desc);
                lost += 1;
            } else if self.shared {
                let mut d = s.desc;
                B::prepare_tx(&mut d);
                // Never reallocates: the stage has room for every frame.
                self.stage.push(d);
            } else {
                match self.pools[u_tx].pop() {
                    Some(mut nd) => {
                        // SAFETY: `s.desc` was the store's (UMEM `s.umem`); `nd` came off the
                        // free list of UMEM `u_tx`.
                        if unsafe { b.copy_frame(s.umem, &s.desc, u_tx, &mut nd) } {
                            // A free frame may carry options from when it was received.
                            B::prepare_tx(&mut nd);
                            self.stage.push(nd);
                        } else {
                            self.pools[u_tx].push(nd);
                            lost += 1;
                        }
                    }
                    None => lost += 1,
                }
                self.pools[s.umem].push(s.desc);
            }
        }
        self.hold.sending[side.index()].clear();
        let staged = self.stage.len();
        // SAFETY: the staged frames are ours (taken out of the store, or copies in frames taken
        // off the free list) and of UMEM `u_tx`, the one `side` transmits from.
        let sent = unsafe { b.transmit(side, &self.stage) }.min(staged);
        for d in &self.stage[sent..] {
            self.pools[u_tx].push(*d);
        }
        lost += (staged - sent) as u32;
        self.tx_out[side.index()] += sent as u32;
        let c = self.counters.side_mut(rx_side);
        c.held -= n as u64;
        c.forwarded += sent as u64;
        if !self.shared {
            c.copied += sent as u64;
        }
        c.tx_full += u64::from(lost);
        self.released.sent = self.released.sent.saturating_add(sent as u32);
        self.released.lost_tx_full = self.released.lost_tx_full.saturating_add(lost);
    }

    /// Flushes buffered releases: completes TX, puts buffered sends on the TX rings, refills
    /// the fill rings with what was recycled, kicks; returns what releases came to since the
    /// last call.
    pub(crate) fn flush_released<B: Backend<Desc = D>>(&mut self, b: &mut B) -> ReleaseResult {
        for side in Side::BOTH {
            self.complete(b, side);
        }
        let before = self.tx_out;
        for side in Side::BOTH {
            self.send_released(b, side);
        }
        self.refill(b);
        for side in Side::BOTH {
            let sent_now = self.tx_out[side.index()] > before[side.index()];
            self.kick(b, side, sent_now);
        }
        self.measure(b);
        std::mem::take(&mut self.released)
    }

    /// Before closing: flushes buffered sends, then releases every frame still held as
    /// dropped, so nothing is left in the store.
    pub(crate) fn release_all<B: Backend<Desc = D>>(&mut self, b: &mut B) {
        for side in Side::BOTH {
            self.send_released(b, side);
        }
        for i in 0..self.hold.slots.len() {
            if self.hold.slots[i].state == SlotState::Held {
                let s = self.hold.remove(i);
                self.pools[s.umem].push(s.desc);
                let c = self.counters.side_mut(s.side);
                c.held -= 1;
                c.dropped += 1;
                self.released.dropped = self.released.dropped.saturating_add(1);
            }
        }
        self.flush_released(b);
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
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn cfg(batch: u32, fill: u32, ring: u32) -> EngineConfig {
        EngineConfig { batch, fill_ring: fill, completion_ring: ring, need_wakeup: true, busy_poll: false }
    }

    /// Every frame is in exactly one place (a free list, the hold store, or a ring of the
    /// kernel): no duplicates, none lost. And every received frame has exactly one outcome.
    fn assert_each_frame_once(e: &Engine<FDesc>, k: &Fake) {
        let mut seen = HashSet::new();
        for (u, pool) in e.pools.iter().enumerate() {
            for d in pool {
                assert!(seen.insert((u, d.addr)), "duplicate free frame {u}/{}", d.addr);
            }
        }
        let mut taken = [0u64; 2];
        let mut free_slots = HashSet::new();
        for (i, slot) in e.hold.slots.iter().enumerate() {
            if slot.state == SlotState::Free {
                assert!(free_slots.insert(i as u32), "slot {i} free twice");
                continue;
            }
            taken[slot.side.index()] += 1;
            assert_eq!(slot.umem, e.umem_of(slot.side), "held frame not in its receive side's UMEM");
            assert!(
                seen.insert((slot.umem, slot.desc.addr)),
                "held frame {}/{} also elsewhere",
                slot.umem,
                slot.desc.addr
            );
        }
        let stack: HashSet<u32> = e.hold.free.iter().copied().collect();
        assert_eq!(stack.len(), e.hold.free.len(), "slot on the free stack twice");
        assert_eq!(stack, free_slots, "free stack and free slots differ");
        for side in Side::BOTH {
            for &i in &e.hold.sending[side.index()] {
                let slot = e.hold.slots[i as usize];
                assert_eq!(slot.state, SlotState::Sending);
                assert_eq!(slot.side, side.other(), "a send goes out of the side opposite to receive");
            }
        }
        let sending = e.hold.slots.iter().filter(|s| s.state == SlotState::Sending).count();
        assert_eq!(sending, e.hold.sending[0].len() + e.hold.sending[1].len());
        for h in k.held() {
            assert!(seen.insert(h), "frame {h:?} both free and in a ring");
        }
        let c = e.census();
        assert_eq!(seen.len() as u64, c.total, "frames lost");
        assert_eq!(c.sum(), c.total);
        assert_eq!(c.in_batch, 0);
        assert_eq!(c.held, taken[0] + taken[1]);
        for side in Side::BOTH {
            let s = e.counters().side(side);
            assert_eq!(s.held, taken[side.index()], "{side:?} held gauge");
            assert_eq!(s.rx_frames, s.forwarded + s.dropped + s.tx_full + s.held, "{side:?}: {s:?}");
        }
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
            e.poll(&mut k, |_, _, _| FrameAction::Forward);
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
            let r = e.poll(&mut k, |_, _, _| FrameAction::Drop);
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
            e.poll(&mut k, |side, b, _| {
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
            e.poll(&mut k, |_, _, _| FrameAction::Forward);
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
            let r = e.poll(&mut k, |_, _, _| FrameAction::Forward);
            assert_eq!(r.forwarded, n as u32);
            assert_eq!(k.tx_kicks[1] - before, kicks, "{n} frames");
            assert!(k.tx[1].is_empty(), "{n} frames: all sent");
            assert_each_frame_once(&e, &k);
        }
        // An idle pass kicks nothing.
        let before = k.tx_kicks;
        e.poll(&mut k, |_, _, _| FrameAction::Forward);
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
            e.poll(&mut k, |_, _, _| FrameAction::Forward);
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
            let r = e.poll(&mut k, |_, b, _| if b[0] % 2 == 0 { FrameAction::Forward } else { FrameAction::Drop });
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

    /// Polls, holding every frame; returns the handles in arrival order per side.
    fn hold_all(e: &mut Engine<FDesc>, k: &mut Fake) -> [Vec<Held>; 2] {
        let mut got: [Vec<Held>; 2] = Default::default();
        e.poll(k, |side, _, h| {
            got[side.index()].push(h);
            FrameAction::Hold
        });
        got
    }

    /// Steps and polls (forwarding anything new) until nothing moves.
    fn settle(e: &mut Engine<FDesc>, k: &mut Fake) {
        for _ in 0..8 {
            k.step();
            e.poll(k, |_, _, _| FrameAction::Forward);
            assert_each_frame_once(e, k);
        }
    }

    #[test]
    fn held_frames_sent_on_release_arrive_in_release_order() {
        let (mut k, p0, p1) = Fake::new(64, true, 16, 8);
        let mut e = Engine::new(cfg(8, 16, 8), p0, p1);
        e.prime(&mut k);
        let want: Vec<_> = (0..6).map(pkt).collect();
        k.wire[0].extend(want.iter().cloned());
        k.step();
        let [hs, none] = hold_all(&mut e, &mut k);
        assert!(none.is_empty());
        assert_eq!(hs.len(), 6);
        let distinct: HashSet<_> = hs.iter().collect();
        assert_eq!(distinct.len(), 6, "handles are distinct");
        assert_each_frame_once(&e, &k);
        assert_eq!(e.census().held, 6);
        assert_eq!(e.counters().inside.held, 6);
        // Several passes later the frames are still held, nothing was sent.
        for _ in 0..3 {
            k.step();
            e.poll(&mut k, |_, _, _| FrameAction::Forward);
        }
        assert!(k.sent[1].is_empty());
        assert_eq!(e.census().held, 6);
        // Release in a different order than received: 5, 3, 1, then 0, 2, 4.
        let order = [5, 3, 1, 0, 2, 4];
        for &i in &order[..3] {
            assert!(e.release(hs[i], true));
        }
        // Buffered until the flush: still counted held, and no longer a valid handle.
        assert_eq!(e.census().held, 6);
        assert_eq!(e.counters().inside.held, 6);
        assert_eq!(e.with_held(&mut k, hs[5], |b| b.len()), None);
        assert_each_frame_once(&e, &k);
        let r = e.flush_released(&mut k);
        assert_eq!(r, ReleaseResult { sent: 3, dropped: 0, lost_tx_full: 0 });
        assert_each_frame_once(&e, &k);
        for &i in &order[3..] {
            assert!(e.release(hs[i], true));
        }
        // The next poll flushes what is buffered.
        k.step();
        let pr = e.poll(&mut k, |_, _, _| FrameAction::Forward);
        assert_eq!(pr, PollResult::default(), "the poll reports only what it received");
        settle(&mut e, &mut k);
        let got: Vec<_> = order.iter().map(|&i| want[i].clone()).collect();
        assert_eq!(k.sent[1], got, "byte-identical, in release order");
        assert!(k.sent[0].is_empty());
        let c = e.counters().inside;
        assert_eq!((c.rx_frames, c.forwarded, c.dropped, c.tx_full, c.held), (6, 6, 0, 0, 0));
        assert_eq!(e.flush_released(&mut k), ReleaseResult { sent: 3, dropped: 0, lost_tx_full: 0 });
        assert_eq!(e.flush_released(&mut k), ReleaseResult::default());
    }

    #[test]
    fn release_to_drop_recycles_and_double_release_is_refused() {
        let (mut k, p0, p1) = Fake::new(16, true, 8, 8);
        let mut e = Engine::new(cfg(8, 8, 8), p0, p1);
        e.prime(&mut k);
        k.wire[1].extend((0..4).map(pkt));
        k.step();
        let [none, hs] = hold_all(&mut e, &mut k);
        assert!(none.is_empty());
        assert_eq!(hs.len(), 4);
        let free_before = e.census().free;
        assert!(e.release(hs[2], false));
        assert!(!e.release(hs[2], false), "double release");
        assert!(!e.release(hs[2], true), "double release, to send");
        assert_eq!(e.with_held(&mut k, hs[2], |_| ()), None);
        // Dropped at once: back on the free list, counted dropped.
        assert_eq!(e.census().free, free_before + 1);
        assert_eq!(e.counters().outside.dropped, 1);
        assert_each_frame_once(&e, &k);
        // The freed slot is reused by the next hold; the stale handle still names nothing.
        k.wire[1].push_back(pkt(99));
        k.step();
        let [_, again] = hold_all(&mut e, &mut k);
        assert_eq!(again.len(), 1);
        assert_ne!(again[0], hs[2], "a reused slot gets a new handle");
        assert!(!e.release(hs[2], true), "stale handle");
        assert_eq!(e.with_held(&mut k, again[0], |b| b.to_vec()), Some(pkt(99)));
        assert_each_frame_once(&e, &k);
        for h in [hs[0], hs[1], hs[3], again[0]] {
            assert!(e.release(h, false));
        }
        let r = e.flush_released(&mut k);
        assert_eq!(r, ReleaseResult { sent: 0, dropped: 5, lost_tx_full: 0 });
        assert_each_frame_once(&e, &k);
        let c = e.counters().outside;
        assert_eq!((c.rx_frames, c.dropped, c.forwarded, c.held), (5, 5, 0, 0));
        assert!(k.sent[0].is_empty());
        // A handle never handed out is not held either.
        assert!(!e.release(Held(12345), true));
        // Recycled frames are received into again.
        k.wire[1].extend((0..12).map(pkt));
        settle(&mut e, &mut k);
        assert_eq!(k.sent[0].len(), 12);
    }

    #[test]
    fn with_held_rewrites_what_is_sent() {
        let (mut k, p0, p1) = Fake::new(32, true, 8, 8);
        let mut e = Engine::new(cfg(4, 8, 8), p0, p1);
        e.prime(&mut k);
        k.wire[1].push_back(vec![1; 64]);
        k.step();
        let [_, hs] = hold_all(&mut e, &mut k);
        assert_eq!(e.with_held(&mut k, hs[0], |b| b.len()), Some(64));
        assert_eq!(e.with_held(&mut k, hs[0], |b| b[15] = 0xb8), Some(()));
        assert!(e.release(hs[0], true));
        e.flush_released(&mut k);
        settle(&mut e, &mut k);
        let mut want = vec![1; 64];
        want[15] = 0xb8;
        assert_eq!(k.sent[0], vec![want]);
    }

    #[test]
    fn releases_beyond_tx_room_count_as_tx_full() {
        let (mut k, p0, p1) = Fake::new(64, true, 16, 4);
        k.tx_per_step = 0; // the "NIC" never sends
        let mut e = Engine::new(cfg(16, 16, 4), p0, p1);
        e.prime(&mut k);
        k.wire[0].extend((0..10).map(pkt));
        k.step();
        let [hs, _] = hold_all(&mut e, &mut k);
        assert_eq!(hs.len(), 4, "the RX ring of 4 delivered 4");
        k.step();
        let [more, _] = hold_all(&mut e, &mut k);
        let hs: Vec<_> = hs.into_iter().chain(more).collect();
        assert_eq!(hs.len(), 8);
        assert_eq!(e.tx_room(&mut k, Side::Outside), 4);
        assert_eq!(e.tx_room(&mut k, Side::Inside), 4);
        assert!(e.release(hs[0], true));
        assert!(e.release(hs[1], true));
        assert_eq!(e.tx_room(&mut k, Side::Outside), 2, "buffered sends use up room");
        assert_eq!(e.tx_room(&mut k, Side::Inside), 4);
        for &h in &hs[2..7] {
            assert!(e.release(h, true));
        }
        assert_eq!(e.tx_room(&mut k, Side::Outside), 0);
        let r = e.flush_released(&mut k);
        assert_eq!(r, ReleaseResult { sent: 4, dropped: 0, lost_tx_full: 3 });
        assert_each_frame_once(&e, &k);
        let c = e.counters().inside;
        assert_eq!((c.rx_frames, c.forwarded, c.tx_full, c.held), (8, 4, 3, 1));
        assert_eq!(e.census().tx, 4);
        assert_eq!(e.tx_room(&mut k, Side::Outside), 0);
        // Close: the last held frame is dropped, the census has nothing held.
        e.release_all(&mut k);
        k.tx_per_step = usize::MAX;
        k.step();
        assert!(e.drain_tx(&mut k, std::time::Instant::now() + std::time::Duration::from_secs(1)));
        assert_each_frame_once(&e, &k);
        assert_eq!(e.census().held, 0);
        let c = e.counters().inside;
        assert_eq!((c.rx_frames, c.forwarded, c.tx_full, c.dropped, c.held), (8, 4, 3, 1, 0));
        assert_eq!(k.sent[1], (0..4).map(pkt).collect::<Vec<_>>());
    }

    #[test]
    fn two_umems_hold_in_the_receive_umem_and_copy_at_send() {
        let (mut k, p0, p1) = Fake::new(16, false, 8, 8);
        let mut e = Engine::new(cfg(8, 8, 8), p0, p1);
        e.prime(&mut k);
        assert_eq!(e.census().total, 32);
        let a: Vec<_> = (0..5).map(pkt).collect();
        let b: Vec<_> = (100..103).map(pkt).collect();
        k.wire[0].extend(a.iter().cloned());
        k.wire[1].extend(b.iter().cloned());
        k.step();
        let [ha, hb] = hold_all(&mut e, &mut k);
        assert_eq!((ha.len(), hb.len()), (5, 3));
        assert_each_frame_once(&e, &k);
        assert_eq!(e.with_held(&mut k, hb[1], |x| x[0] = 0xee), Some(()));
        for &i in &[4, 0, 2] {
            assert!(e.release(ha[i], true));
        }
        assert!(e.release(ha[1], false));
        for &h in hb.iter().rev() {
            assert!(e.release(h, true));
        }
        assert_each_frame_once(&e, &k);
        let r = e.flush_released(&mut k);
        assert_eq!(r, ReleaseResult { sent: 6, dropped: 1, lost_tx_full: 0 });
        assert_each_frame_once(&e, &k);
        settle(&mut e, &mut k);
        assert_eq!(k.sent[1], vec![a[4].clone(), a[0].clone(), a[2].clone()]);
        let mut b1 = b[1].clone();
        b1[0] = 0xee;
        assert_eq!(k.sent[0], vec![b[2].clone(), b1, b[0].clone()]);
        let c = e.counters();
        assert_eq!((c.inside.forwarded, c.inside.copied, c.inside.dropped, c.inside.held), (3, 3, 1, 1));
        assert_eq!((c.outside.forwarded, c.outside.copied, c.outside.held), (3, 3, 0));
    }

    #[test]
    fn two_umems_send_without_a_free_frame_is_tx_full() {
        // 8 frames per UMEM, fill rings of 8: every outside frame is on its fill ring, none free.
        let (mut k, p0, p1) = Fake::new(8, false, 8, 8);
        let mut e = Engine::new(cfg(8, 8, 8), p0, p1);
        e.prime(&mut k);
        k.wire[0].extend((0..3).map(pkt));
        k.step();
        let [ha, _] = hold_all(&mut e, &mut k);
        assert_eq!(e.pools[1].len(), 0);
        for &h in &ha {
            assert!(e.release(h, true));
        }
        let r = e.flush_released(&mut k);
        assert_eq!(r, ReleaseResult { sent: 0, dropped: 0, lost_tx_full: 3 });
        assert_each_frame_once(&e, &k);
        let c = e.counters().inside;
        assert_eq!((c.rx_frames, c.tx_full, c.held, c.forwarded), (3, 3, 0, 0));
    }

    #[test]
    fn hold_degrades_to_drop_when_the_store_is_full() {
        let (mut k, p0, p1) = Fake::new(32, true, 8, 8);
        let mut e = Engine::with_hold_capacity(cfg(8, 8, 8), p0, p1, 2);
        e.prime(&mut k);
        k.wire[0].extend((0..5).map(pkt));
        k.step();
        let mut told = Vec::new();
        let r = e.poll(&mut k, |_, _, h| {
            told.push(h);
            FrameAction::Hold
        });
        assert_eq!((r.received, r.held, r.dropped), (5, 2, 3));
        let c = e.counters().inside;
        assert_eq!((c.held, c.dropped), (2, 3));
        assert_each_frame_once(&e, &k);
        // The handles told for frames that could not be held name nothing.
        assert_eq!(e.with_held(&mut k, told[2], |_| ()), None);
        assert!(!e.release(told[3], true));
        assert!(e.release(told[0], true));
        assert!(e.release(told[1], false));
        e.flush_released(&mut k);
        assert_each_frame_once(&e, &k);
    }

    #[test]
    fn a_plain_poll_hold_verdict_is_held_until_close() {
        let (mut k, p0, p1) = Fake::new(16, true, 8, 8);
        let mut e = Engine::new(cfg(8, 8, 8), p0, p1);
        e.prime(&mut k);
        k.wire[0].extend((0..3).map(pkt));
        k.step();
        let r = e.poll(&mut k, |_, _, _| FrameAction::Hold);
        assert_eq!(r.held, 3);
        assert_each_frame_once(&e, &k);
        e.release_all(&mut k);
        assert_each_frame_once(&e, &k);
        assert_eq!(e.census().held, 0);
        assert_eq!(e.counters().inside.dropped, 3);
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// A frame onto the wire into a side.
        Push(bool, u8),
        Step,
        TxPerStep(u8),
        /// A poll deciding each frame by the next of these (0 forward, 1 drop, else hold).
        Poll(Vec<u8>),
        /// Release the held frame at this position (mod count); to send or not.
        Release(usize, bool),
        /// Release a handle already released.
        Again(usize, bool),
        /// Rewrite a held frame's byte 1.
        Rewrite(usize, u8),
        Flush,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<bool>(), any::<u8>()).prop_map(|(s, l)| Op::Push(s, l)),
            2 => Just(Op::Step),
            1 => (0u8..5).prop_map(Op::TxPerStep),
            3 => proptest::collection::vec(0u8..4, 1..8).prop_map(Op::Poll),
            3 => (any::<usize>(), any::<bool>()).prop_map(|(i, s)| Op::Release(i, s)),
            1 => (any::<usize>(), any::<bool>()).prop_map(|(i, s)| Op::Again(i, s)),
            1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Op::Rewrite(i, b)),
            1 => Just(Op::Flush),
        ]
    }

    /// A unique frame: its id in bytes 2..6 (byte 0 tells the side it entered on).
    fn tagged(id: u32, side: usize, len: u8) -> Vec<u8> {
        let mut v = vec![side as u8, 0];
        v.extend_from_slice(&id.to_be_bytes());
        v.resize(6 + usize::from(len) % 120, 0x5a);
        v
    }

    fn id_of(f: &[u8]) -> u32 {
        u32::from_be_bytes([f[2], f[3], f[4], f[5]])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random interleavings of receiving with Forward/Drop/Hold verdicts, releases, rewrites,
        /// flushes and a NIC that sends at random speeds: every frame is in one place after
        /// every step, per side `rx_frames == forwarded + dropped + tx_full + held`, every
        /// frame leaves at most once and only if forwarded or released to send, with the bytes
        /// it had then, and closing leaves nothing held.
        #[test]
        fn random_holds_and_releases_keep_every_frame_accounted(
            shared in any::<bool>(),
            copy_mode in any::<bool>(),
            frames in 8usize..40,
            ops in proptest::collection::vec(op(), 1..120),
        ) {
            let (mut k, p0, p1) = Fake::new(frames, shared, 8, 4);
            k.copy_mode = copy_mode;
            let mut e = Engine::new(cfg(4, 8, 4), p0, p1);
            e.prime(&mut k);
            assert_each_frame_once(&e, &k);
            let mut next_id = 0u32;
            // Held handles with the frame's id, side and current bytes.
            let mut held: Vec<(Held, Side, Vec<u8>)> = Vec::new();
            let mut gone: Vec<Held> = Vec::new();
            // id -> the bytes the frame may leave with, and the side it leaves by.
            let mut may_send: std::collections::HashMap<u32, (Side, Vec<u8>)> = Default::default();
            let mut sends_released = [0u64; 2];
            for op in ops {
                match op {
                    Op::Push(s, len) => {
                        k.wire[usize::from(s)].push_back(tagged(next_id, usize::from(s), len));
                        next_id += 1;
                    }
                    Op::Step => k.step(),
                    Op::TxPerStep(n) => k.tx_per_step = usize::from(n),
                    Op::Poll(verdicts) => {
                        let mut i = 0;
                        let mut told = Vec::new();
                        let r = e.poll(&mut k, |side, bytes, h| {
                            let v = verdicts[i % verdicts.len()];
                            i += 1;
                            assert_eq!(usize::from(bytes[0]), side.index(), "received on the side it entered");
                            let id = id_of(bytes);
                            match v {
                                0 => {
                                    may_send.insert(id, (side.other(), bytes.to_vec()));
                                    FrameAction::Forward
                                }
                                1 => FrameAction::Drop,
                                _ => {
                                    told.push((h, side, bytes.to_vec()));
                                    FrameAction::Hold
                                }
                            }
                        });
                        prop_assert_eq!(r.received, r.forwarded + r.dropped + r.held);
                        prop_assert_eq!(r.held as usize, told.len(), "the store has a slot per frame");
                        for t in &told {
                            prop_assert!(held.iter().all(|x| x.0 != t.0), "handle already in use");
                        }
                        held.extend(told);
                    }
                    Op::Release(i, send) if !held.is_empty() => {
                        let (h, side, bytes) = held.swap_remove(i % held.len());
                        prop_assert!(e.release(h, send));
                        if send {
                            may_send.insert(id_of(&bytes), (side.other(), bytes));
                            sends_released[side.index()] += 1;
                        }
                        gone.push(h);
                    }
                    Op::Again(i, send) if !gone.is_empty() => {
                        prop_assert!(!e.release(gone[i % gone.len()], send));
                        prop_assert_eq!(e.with_held(&mut k, gone[i % gone.len()], |_| ()), None);
                    }
                    Op::Rewrite(i, byte) if !held.is_empty() => {
                        let n = held.len();
                        let (h, _, bytes) = &mut held[i % n];
                        bytes[1] = byte;
                        prop_assert_eq!(e.with_held(&mut k, *h, |b| { b[1] = byte; b.to_vec() }), Some(bytes.clone()));
                    }
                    Op::Flush => {
                        e.flush_released(&mut k);
                    }
                    Op::Release(..) | Op::Again(..) | Op::Rewrite(..) => {}
                }
                assert_each_frame_once(&e, &k);
                for (h, _, bytes) in &held {
                    prop_assert_eq!(e.with_held(&mut k, *h, |b| b.to_vec()), Some(bytes.clone()));
                }
                let c = e.census();
                prop_assert_eq!(c.held as usize, held.len() + e.hold.sending[0].len() + e.hold.sending[1].len());
            }
            // Close.
            e.release_all(&mut k);
            k.tx_per_step = usize::MAX;
            k.step();
            prop_assert!(e.drain_tx(&mut k, std::time::Instant::now() + std::time::Duration::from_secs(1)));
            assert_each_frame_once(&e, &k);
            let c = e.census();
            prop_assert_eq!(c.held, 0);
            prop_assert_eq!(c.tx + c.completion, 0);
            let mut out_ids = HashSet::new();
            for side in Side::BOTH {
                for f in &k.sent[side.index()] {
                    let id = id_of(f);
                    prop_assert!(out_ids.insert(id), "frame {} sent twice", id);
                    let Some((to, bytes)) = may_send.get(&id) else {
                        return Err(TestCaseError::fail(format!("frame {id} sent, never forwarded or released to send")));
                    };
                    prop_assert_eq!(*to, side);
                    prop_assert_eq!(f, bytes);
                }
                let s = e.counters().side(side);
                prop_assert_eq!(s.held, 0);
                prop_assert_eq!(s.rx_frames, s.forwarded + s.dropped + s.tx_full);
                // What was sent out of the other side is what this side forwarded.
                prop_assert_eq!(k.sent[side.other().index()].len() as u64, s.forwarded);
                prop_assert!(s.forwarded + s.tx_full >= sends_released[side.index()]);
            }
        }
    }
}
