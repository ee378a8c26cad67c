//! Counters and the frame census: what a [`crate::QueuePair`] reports.

/// One of the two sockets of a [`crate::QueuePair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The inside NIC's queue.
    Inside,
    /// The outside NIC's queue.
    Outside,
}

impl Side {
    /// Both sides, inside first.
    pub const BOTH: [Side; 2] = [Side::Inside, Side::Outside];

    /// The side frames received here are forwarded to.
    pub fn other(self) -> Side {
        match self {
            Side::Inside => Side::Outside,
            Side::Outside => Side::Inside,
        }
    }

    /// 0 for inside, 1 for outside: the index of per-side arrays, here and in the bridge.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Side::Inside => 0,
            Side::Outside => 1,
        }
    }

    /// "inside" or "outside", as the stats and the summary name the interfaces.
    pub fn name(self) -> &'static str {
        match self {
            Side::Inside => "inside",
            Side::Outside => "outside",
        }
    }
}

/// What the caller's closure decides for one received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameAction {
    /// Put it on the other side's TX ring.
    Forward,
    /// Give its frame back to be received into again.
    Drop,
    /// Keep it: the frame stays in the UMEM, owned by the pair's hold store, until the caller
    /// gives it back with `release` (to send it on the other side's TX ring, or to drop it).
    /// Only [`crate::FramePair::poll_hold`] tells the closure the frame's [`Held`] handle.
    Hold,
}

/// The handle of a frame in a pair's hold store (see [`FrameAction::Hold`]).
///
/// Opaque: it names one slot of the store and carries a reuse tag, so a handle kept after its
/// frame was released does not name the next frame held in the same slot (releasing it again
/// returns false). Valid only for the pair that handed it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Held(pub(crate) u32);

impl Held {
    /// The handle's raw value (slot and reuse tag), for tests and debug output. Unique among
    /// the frames a pair holds at the same time; not a dense slot number.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// What one [`crate::QueuePair::poll`] did with the frames it received:
/// `received == forwarded + dropped + held`. (Held frames released during the pass are
/// reported by [`crate::FramePair::flush_released`], not here.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollResult {
    /// Frames taken from both RX rings.
    pub received: u32,
    /// Frames put on a TX ring.
    pub forwarded: u32,
    /// Frames not forwarded: by the closure's verdict, or because the peer TX ring (or, when
    /// copying, the peer UMEM) had no room.
    pub dropped: u32,
    /// Frames the closure said to hold (now in the hold store).
    pub held: u32,
}

/// What the releases of held frames came to, since the last
/// [`crate::FramePair::flush_released`] (a poll flushes buffered releases too; their outcome
/// is reported by the next `flush_released`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReleaseResult {
    /// Released to send, and put on the other side's TX ring.
    pub sent: u32,
    /// Released as dropped (recycled to be received into again).
    pub dropped: u32,
    /// Released to send, but dropped: the TX ring had no room (or, when copying, the other
    /// UMEM had no free frame). Counted in [`SideCounters::tx_full`].
    pub lost_tx_full: u32,
}

/// Counters of frames *received* on one side (one writer: the worker owning the pair).
///
/// Every received frame is in exactly one of the four outcomes, always:
/// `rx_frames == forwarded + dropped + tx_full + held`. A held frame leaves `held` when it is
/// released: released to send and put on the TX ring, it counts in `forwarded` (and `copied`
/// with two UMEMs); released as dropped, in `dropped`; released to send without TX room (or a
/// free frame in the other UMEM), in `tx_full`. A frame released to send stays in `held`
/// until the release is flushed ([`crate::FramePair::flush_released`] or the next poll).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideCounters {
    /// Frames taken from this side's RX ring.
    pub rx_frames: u64,
    /// Bytes of those frames (Ethernet header included, no FCS).
    pub rx_bytes: u64,
    /// Of those, frames put on the other side's TX ring.
    pub forwarded: u64,
    /// Of those, frames the closure said to drop (for any reason of the caller's), and held
    /// frames released as dropped (also those still held at close).
    pub dropped: u64,
    /// Of those, frames to forward that were dropped because the other side's TX ring was full
    /// (or, in the two-UMEM fallback, its UMEM had no free frame).
    pub tx_full: u64,
    /// Of the forwarded ones, frames copied into the other UMEM (two-UMEM fallback only).
    pub copied: u64,
    /// Of those, frames in the hold store now (a gauge, not a running total).
    pub held: u64,
    /// Wakeup syscalls (`sendto`/`recvfrom` kicks) on this side's socket that failed with a
    /// non-transient error.
    pub wakeup_errors: u64,
}

/// Counters for both sides of a pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairCounters {
    /// Frames received on the inside NIC.
    pub inside: SideCounters,
    /// Frames received on the outside NIC.
    pub outside: SideCounters,
}

impl PairCounters {
    /// The counters of frames received on `side`.
    #[inline]
    pub fn side(&self, side: Side) -> &SideCounters {
        match side {
            Side::Inside => &self.inside,
            Side::Outside => &self.outside,
        }
    }

    pub(crate) fn side_mut(&mut self, side: Side) -> &mut SideCounters {
        match side {
            Side::Inside => &mut self.inside,
            Side::Outside => &mut self.outside,
        }
    }
}

/// Where every UMEM frame of a pair is. Each frame is in exactly one place, so
/// [`sum`](Self::sum) equals [`total`](Self::total) always; the split between `fill` and `rx`
/// and between `tx` and `completion` is as measured at the end of the last poll (the kernel
/// only moves frames fill → rx and tx → completion in between, so the sum stays exact).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCensus {
    /// Handed to the kernel to receive into (on a fill ring, or held by the driver).
    pub fill: u64,
    /// Received, waiting on an RX ring.
    pub rx: u64,
    /// In the worker's hands inside a poll (always 0 between polls).
    pub in_batch: u64,
    /// On a TX ring, or being sent.
    pub tx: u64,
    /// Sent, waiting on a completion ring.
    pub completion: u64,
    /// On the worker's free list.
    pub free: u64,
    /// In the hold store: held by the caller ([`FrameAction::Hold`]), or released to send and
    /// not yet put on a TX ring.
    pub held: u64,
    /// Frames in the pair's UMEM(s).
    pub total: u64,
}

impl FrameCensus {
    /// fill + rx + in_batch + tx + completion + free + held.
    pub fn sum(&self) -> u64 {
        self.fill + self.rx + self.in_batch + self.tx + self.completion + self.free + self.held
    }
}

/// The socket's `XDP_STATISTICS` (kernel-side drop counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Received frames dropped for other reasons (e.g. larger than a UMEM frame).
    pub rx_dropped: u64,
    /// Received frames dropped because of an invalid descriptor.
    pub rx_invalid_descs: u64,
    /// TX descriptors the kernel refused as invalid.
    pub tx_invalid_descs: u64,
    /// Received frames dropped because the RX ring was full (the worker is too slow).
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty.
    pub fill_ring_empty: u64,
    /// Times the kernel found the TX ring empty when woken.
    pub tx_ring_empty: u64,
}

/// How `free` frames are shared between two fill rings wanting `a` and `b`: everyone gets all
/// they want if there is enough; otherwise each gets up to half, and what one side leaves of
/// its half goes to the other. Never hands out more than `free` nor more than asked.
pub(crate) fn split_refill(free: u32, a: u32, b: u32) -> (u32, u32) {
    if u64::from(a) + u64::from(b) <= u64::from(free) {
        return (a, b);
    }
    let half = free / 2;
    let ga = a.min(half);
    let gb = b.min(free - ga);
    let ga = a.min(free - gb);
    (ga, gb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn census_sum() {
        let c = FrameCensus { fill: 1, rx: 2, in_batch: 3, tx: 4, completion: 5, free: 6, held: 7, total: 28 };
        assert_eq!(c.sum(), 28);
        assert_eq!(FrameCensus::default().sum(), 0);
    }

    #[test]
    fn split_refill_is_fair_and_bounded() {
        assert_eq!(split_refill(100, 10, 20), (10, 20));
        assert_eq!(split_refill(10, 10, 10), (5, 5));
        assert_eq!(split_refill(10, 2, 10), (2, 8));
        assert_eq!(split_refill(10, 10, 2), (8, 2));
        assert_eq!(split_refill(11, 10, 10), (5, 6));
        assert_eq!(split_refill(0, 10, 10), (0, 0));
        assert_eq!(split_refill(u32::MAX, u32::MAX, u32::MAX), (u32::MAX / 2, u32::MAX - u32::MAX / 2));
        for free in 0..40 {
            for a in 0..25 {
                for b in 0..25 {
                    let (x, y) = split_refill(free, a, b);
                    assert!(x <= a && y <= b && x + y <= free, "{free} {a} {b}");
                    // Nothing is held back while someone still wants frames.
                    assert_eq!(x + y, free.min(a + b), "{free} {a} {b}");
                    // Neither side is starved below its fair share.
                    assert!(x >= a.min(free / 2) && y >= b.min(free / 2), "{free} {a} {b}");
                }
            }
        }
    }

    #[test]
    fn sides() {
        assert_eq!(Side::Inside.other(), Side::Outside);
        assert_eq!(Side::Outside.other(), Side::Inside);
        let mut c = PairCounters::default();
        c.side_mut(Side::Outside).rx_frames = 3;
        assert_eq!(c.side(Side::Outside).rx_frames, 3);
        assert_eq!(c.inside.rx_frames, 0);
    }
}
