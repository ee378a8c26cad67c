//! A simulated kernel for the frame accounting, and [`SimPair`], a queue pair over it.
//!
//! Built for this crate's own tests and, with the `testing` feature, for crates above it: the
//! bridge's worker runs its real verdict glue over a [`SimPair`] exactly as over a
//! [`crate::QueuePair`], without root, sockets or a kernel. Only the rings are simulated (bounded
//! queues that `step` moves along as a kernel would: wire → fill → RX, TX → completion → wire);
//! the accounting, the forwarding pass and the census are the production code.

use std::collections::VecDeque;
use std::time::Duration;

use crate::census::{FrameAction, FrameCensus, Held, PairCounters, PollResult, ReleaseResult, Side};
use crate::engine::{Backend, Engine, EngineConfig};
use crate::error::XdpError;
use crate::pair::FramePair;

/// Bytes per simulated UMEM frame.
pub(crate) const FS: usize = 256;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct FDesc {
    pub(crate) addr: usize,
    pub(crate) len: usize,
    pub(crate) opts: u32,
}

/// A simulated kernel: rings are bounded queues; `step` moves frames wire → fill → RX and
/// TX → completion (→ `sent`).
pub(crate) struct Fake {
    pub(crate) mem: [Vec<u8>; 2],
    pub(crate) fill: [VecDeque<FDesc>; 2],
    pub(crate) rx: [VecDeque<FDesc>; 2],
    pub(crate) tx: [VecDeque<FDesc>; 2],
    pub(crate) comp: [VecDeque<FDesc>; 2],
    pub(crate) fill_size: usize,
    pub(crate) ring: usize,
    pub(crate) wire: [VecDeque<Vec<u8>>; 2],
    pub(crate) sent: [Vec<Vec<u8>>; 2],
    pub(crate) shared: bool,
    pub(crate) tx_kicks: [u32; 2],
    /// Max TX entries the kernel consumes per step (to fill the TX ring in tests).
    pub(crate) tx_per_step: usize,
    /// Copy mode: TX frames leave only in a kick (32 per kick, at once), never in `step`.
    pub(crate) copy_mode: bool,
}

impl Fake {
    pub(crate) fn new(
        frames: usize,
        shared: bool,
        fill_size: usize,
        ring: usize,
    ) -> (Fake, Vec<FDesc>, Option<Vec<FDesc>>) {
        let pool = |_| (0..frames).map(|i| FDesc { addr: i * FS, len: 0, opts: 0 }).collect::<Vec<_>>();
        let f = Fake {
            mem: [vec![0; frames * FS], vec![0; if shared { 0 } else { frames * FS }]],
            fill: Default::default(),
            rx: Default::default(),
            tx: Default::default(),
            comp: Default::default(),
            fill_size,
            ring,
            wire: Default::default(),
            sent: Default::default(),
            shared,
            tx_kicks: [0; 2],
            tx_per_step: usize::MAX,
            copy_mode: false,
        };
        let p1 = if shared { None } else { Some(pool(1)) };
        (f, pool(0), p1)
    }

    fn u(&self, s: usize) -> usize {
        if self.shared { 0 } else { s }
    }

    pub(crate) fn step(&mut self) {
        for s in 0..2 {
            while self.rx[s].len() < self.ring && !self.wire[s].is_empty() {
                let Some(mut d) = self.fill[s].pop_front() else { break };
                let Some(pkt) = self.wire[s].pop_front() else { break };
                let u = self.u(s);
                self.mem[u][d.addr..d.addr + pkt.len()].copy_from_slice(&pkt);
                d.len = pkt.len();
                d.opts = 0xdead; // must be cleared before TX
                self.rx[s].push_back(d);
            }
            if !self.copy_mode {
                self.send(s, self.tx_per_step);
            }
        }
    }

    fn send(&mut self, s: usize, most: usize) {
        let mut n = 0;
        while self.comp[s].len() < self.ring && n < most {
            let Some(d) = self.tx[s].pop_front() else { break };
            assert_eq!(d.opts, 0, "rx options leaked into tx");
            let u = self.u(s);
            self.sent[s].push(self.mem[u][d.addr..d.addr + d.len].to_vec());
            self.comp[s].push_back(d);
            n += 1;
        }
    }

    /// Every descriptor address held by the fake kernel, per UMEM.
    #[cfg(test)]
    pub(crate) fn held(&self) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for s in 0..2 {
            let u = self.u(s);
            for q in [&self.fill[s], &self.rx[s], &self.tx[s], &self.comp[s]] {
                v.extend(q.iter().map(|d| (u, d.addr)));
            }
        }
        v
    }
}

impl Backend for Fake {
    type Desc = FDesc;
    unsafe fn complete(&mut self, side: Side, out: &mut [FDesc]) -> usize {
        let q = &mut self.comp[side.index()];
        let n = out.len().min(q.len());
        for o in out.iter_mut().take(n) {
            *o = q.pop_front().unwrap_or_default();
        }
        n
    }
    fn fill_free(&mut self, side: Side, _want: u32) -> u32 {
        (self.fill_size - self.fill[side.index()].len()) as u32
    }
    unsafe fn fill(&mut self, side: Side, descs: &[FDesc]) -> usize {
        let room = self.fill_size - self.fill[side.index()].len();
        if descs.len() > room {
            return 0; // all or nothing, like libxdp
        }
        self.fill[side.index()].extend(descs.iter().copied());
        descs.len()
    }
    fn fill_needs_wakeup(&self, _side: Side) -> bool {
        false
    }
    fn kick_rx(&mut self, _side: Side) -> std::io::Result<()> {
        Ok(())
    }
    unsafe fn receive(&mut self, side: Side, out: &mut [FDesc]) -> usize {
        let q = &mut self.rx[side.index()];
        let n = out.len().min(q.len());
        for o in out.iter_mut().take(n) {
            *o = q.pop_front().unwrap_or_default();
        }
        n
    }
    fn tx_free(&mut self, side: Side, _want: u32) -> u32 {
        (self.ring - self.tx[side.index()].len()) as u32
    }
    fn tx_size(&self, _side: Side) -> u32 {
        self.ring as u32
    }
    unsafe fn transmit(&mut self, side: Side, descs: &[FDesc]) -> usize {
        if descs.len() > self.ring - self.tx[side.index()].len() {
            return 0;
        }
        self.tx[side.index()].extend(descs.iter().copied());
        descs.len()
    }
    fn tx_needs_wakeup(&self, _side: Side) -> bool {
        true
    }
    fn kick_tx(&mut self, side: Side) -> std::io::Result<()> {
        self.tx_kicks[side.index()] += 1;
        if self.copy_mode {
            // The kernel's TX_BATCH_SIZE: one copy-mode sendto sends at most 32 frames.
            self.send(side.index(), 32);
        }
        Ok(())
    }
    fn rx_pending(&mut self, side: Side) -> u32 {
        self.rx[side.index()].len() as u32
    }
    fn comp_pending(&mut self, side: Side) -> u32 {
        self.comp[side.index()].len() as u32
    }
    unsafe fn with_frame<R>(&mut self, umem: usize, d: &mut FDesc, f: impl FnOnce(&mut [u8]) -> R) -> R {
        f(&mut self.mem[umem][d.addr..d.addr + d.len])
    }
    unsafe fn copy_frame(&mut self, from: usize, src: &FDesc, to: usize, dst: &mut FDesc) -> bool {
        assert_ne!(from, to);
        let bytes = self.mem[from][src.addr..src.addr + src.len].to_vec();
        self.mem[to][dst.addr..dst.addr + bytes.len()].copy_from_slice(&bytes);
        dst.len = bytes.len();
        true
    }
    fn prepare_tx(d: &mut FDesc) {
        d.opts = 0;
    }
}

/// A queue pair over the simulated kernel: one shared UMEM of 256-byte frames, both sides.
///
/// The "kernel" runs at the start of every [`poll`](FramePair::poll) and in
/// [`wait`](FramePair::wait): frames pushed with [`push`](Self::push) arrive on the RX rings, and
/// what the pair transmitted leaves for [`sent`](Self::sent).
pub struct SimPair {
    engine: Engine<FDesc>,
    kernel: Fake,
    queue: u32,
}

impl std::fmt::Debug for SimPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPair").field("queue", &self.queue).field("census", &self.engine.census()).finish()
    }
}

impl SimPair {
    /// A pair with `frames` UMEM frames, fill rings of `fill` and other rings of `ring` entries,
    /// taking up to `batch` frames per side and pass; its fill rings are stocked.
    pub fn new(frames: usize, fill: usize, ring: usize, batch: u32) -> SimPair {
        let (mut kernel, pool, _) = Fake::new(frames, true, fill, ring);
        let cfg = EngineConfig {
            batch,
            fill_ring: fill as u32,
            completion_ring: ring as u32,
            need_wakeup: true,
            busy_poll: false,
        };
        let mut engine = Engine::new(cfg, pool, None);
        engine.prime(&mut kernel);
        SimPair { engine, kernel, queue: 0 }
    }

    /// The largest frame one simulated UMEM frame holds.
    pub const MAX_FRAME: usize = FS;

    /// Puts `frame` on the wire into `side`'s NIC; it arrives at the next kernel step. Frames
    /// longer than [`SimPair::MAX_FRAME`] are cut to it, as a NIC drops what does not fit.
    pub fn push(&mut self, side: Side, mut frame: Vec<u8>) {
        frame.truncate(FS);
        self.kernel.wire[side.index()].push_back(frame);
    }

    /// Frames still on the wire into `side`, not yet received.
    pub fn pending(&self, side: Side) -> usize {
        self.kernel.wire[side.index()].len()
    }

    /// Everything transmitted out of `side`'s NIC so far, in order.
    pub fn sent(&self, side: Side) -> &[Vec<u8>] {
        &self.kernel.sent[side.index()]
    }

    /// How many frames the simulated kernel sends per step (default: all it can); 0 makes its
    /// TX rings fill up, as a stalled NIC would.
    pub fn set_tx_per_step(&mut self, n: usize) {
        self.kernel.tx_per_step = n;
    }
}

impl FramePair for SimPair {
    fn poll<F: FnMut(Side, &mut [u8]) -> FrameAction>(&mut self, mut f: F) -> PollResult {
        self.kernel.step();
        self.engine.poll(&mut self.kernel, |side, bytes, _| f(side, bytes))
    }

    fn poll_hold<F: FnMut(Side, &mut [u8], Held) -> FrameAction>(&mut self, f: F) -> PollResult {
        self.kernel.step();
        self.engine.poll(&mut self.kernel, f)
    }

    fn with_held<R>(&mut self, h: Held, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        self.engine.with_held(&mut self.kernel, h, f)
    }

    fn release(&mut self, h: Held, send: bool) -> bool {
        self.engine.release(h, send)
    }

    fn flush_released(&mut self) -> ReleaseResult {
        self.engine.flush_released(&mut self.kernel)
    }

    fn tx_room(&mut self, side: Side) -> u32 {
        self.engine.tx_room(&mut self.kernel, side)
    }

    fn wait(&mut self, _timeout: Duration) -> Result<(), XdpError> {
        self.kernel.step();
        self.engine.measure(&mut self.kernel);
        Ok(())
    }

    fn counters(&self) -> &PairCounters {
        self.engine.counters()
    }

    fn census(&self) -> FrameCensus {
        self.engine.census()
    }

    fn queue(&self) -> u32 {
        self.queue
    }

    fn close(mut self) -> Result<FrameCensus, XdpError> {
        self.engine.release_all(&mut self.kernel);
        self.kernel.step();
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        self.engine.drain_tx(&mut self.kernel, deadline);
        Ok(self.engine.census())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sim_pair_forwards_both_ways_and_keeps_its_census() {
        let mut p = SimPair::new(64, 16, 8, 4);
        for i in 0..20u8 {
            p.push(Side::Inside, vec![i; 60]);
            p.push(Side::Outside, vec![i; 70]);
        }
        for _ in 0..50 {
            p.poll(|_, b| if b[0] == 7 { FrameAction::Drop } else { FrameAction::Forward });
            assert_eq!(p.census().sum(), p.census().total);
        }
        assert_eq!(p.sent(Side::Outside).len(), 19);
        assert_eq!(p.sent(Side::Inside).len(), 19);
        assert!(p.sent(Side::Inside).iter().all(|f| f.len() == 70));
        let c = *p.counters();
        assert_eq!((c.inside.rx_frames, c.inside.forwarded, c.inside.dropped), (20, 19, 1));
        let census = p.close().unwrap();
        assert_eq!(census.sum(), census.total);
        assert_eq!(census.tx + census.completion, 0);
    }

    #[test]
    fn a_sim_pair_holds_and_releases_within_the_tx_budget() {
        let mut p = SimPair::new(64, 16, 8, 8);
        p.set_tx_per_step(0); // a stalled NIC: the TX ring of 8 fills up
        for i in 0..6u8 {
            p.push(Side::Inside, vec![i; 60]);
        }
        p.push(Side::Outside, vec![0xaa; 80]);
        let mut held = Vec::new();
        let r = p.poll_hold(|side, b, h| {
            if side == Side::Outside {
                return FrameAction::Forward;
            }
            held.push((h, b[0]));
            FrameAction::Hold
        });
        assert_eq!((r.received, r.held, r.forwarded), (7, 6, 1));
        assert_eq!(p.census().held, 6);
        assert_eq!(p.census().sum(), p.census().total);
        assert_eq!(p.tx_room(Side::Outside), 8);
        assert_eq!(p.tx_room(Side::Inside), 7, "the forwarded frame waits on inside's TX ring");
        // Mark frame 4, then send 4, 2, 0 and drop 1; 3 and 5 stay held.
        let h = |n: u8| held.iter().find(|x| x.1 == n).map(|x| x.0).unwrap();
        assert_eq!(p.with_held(h(4), |b| b[1] = 0x2e), Some(()));
        for n in [4, 2, 0] {
            assert!(p.release(h(n), true));
        }
        assert!(p.release(h(1), false));
        assert!(!p.release(h(1), false), "double release");
        assert!(!p.release(h(4), true), "already released to send");
        assert_eq!(p.tx_room(Side::Outside), 5);
        assert_eq!(p.flush_released(), ReleaseResult { sent: 3, dropped: 1, lost_tx_full: 0 });
        assert_eq!(p.tx_room(Side::Outside), 5);
        let c = p.counters().inside;
        assert_eq!((c.rx_frames, c.forwarded, c.dropped, c.held), (6, 3, 1, 2));
        assert_eq!(c.rx_frames, c.forwarded + c.dropped + c.tx_full + c.held);
        assert_eq!(p.census().held, 2);
        assert_eq!(p.census().sum(), p.census().total);
        // The NIC sends again.
        p.set_tx_per_step(usize::MAX);
        p.poll_hold(|_, _, _| FrameAction::Forward);
        let mut four = vec![4; 60];
        four[1] = 0x2e;
        assert_eq!(p.sent(Side::Outside), &[four, vec![2; 60], vec![0; 60]]);
        assert_eq!(p.sent(Side::Inside), &[vec![0xaa; 80]]);
        assert_eq!(p.tx_room(Side::Outside), 8);
        // Closing drops the two still held, and the census adds up with nothing held.
        let census = p.close().unwrap();
        assert_eq!(census.held, 0);
        assert_eq!(census.sum(), census.total);
    }
}
