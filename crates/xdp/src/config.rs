//! Socket and UMEM sizing, attach and bind modes, and their validation.
//!
//! [`XdpConfig::default`] encodes the rules of thumb (rings of 2048, a fill ring twice that, frames
//! twice what all rings hold, batches of 64); [`XdpConfig::check`] is the only gate between a
//! config and the kernel, so everything the kernel would reject with a bare `EINVAL` (a ring that
//! is not a power of two, a frame size the aligned UMEM cannot use) is refused here first, with the
//! key that is wrong. It is the one home of these rules: weir's config file validates its
//! `[rings]` and `[workers]` keys through it (`weir_config` names the file's keys instead).

use crate::error::XdpError;

/// Where the XDP program that redirects into the sockets runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`): fast, needs driver support.
    Native,
    /// In the generic stack after the skb is built (`XDP_FLAGS_SKB_MODE`): works everywhere.
    Generic,
    /// Try native, fall back to generic; [`crate::QueuePair::xdp_mode`] reports what worked.
    Auto,
}

/// How the AF_XDP socket moves frames between the NIC and the UMEM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindMode {
    /// The NIC DMAs straight into the UMEM (`XDP_ZEROCOPY`); needs driver support.
    ZeroCopy,
    /// The kernel copies between its buffers and the UMEM (`XDP_COPY`); veth only does this.
    Copy,
    /// Try zero-copy, fall back to copy; [`crate::QueuePair::bind_mode`] reports what worked.
    Auto,
}

/// Busy-polling socket options, for when the worker and the NIC's NAPI share a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusyPoll {
    /// `SO_BUSY_POLL`: how long a syscall may busy-poll the device, in microseconds (> 0).
    pub timeout_us: u32,
    /// `SO_BUSY_POLL_BUDGET`: packets per busy-poll round (> 0).
    pub budget: u16,
    /// `SO_PREFER_BUSY_POLL`: keep the device's interrupts masked while the app polls.
    pub prefer: bool,
}

/// Sizes and modes of one worker's UMEM and two sockets.
#[derive(Clone, Debug)]
pub struct XdpConfig {
    /// Bytes per UMEM frame: 2048 or 4096 (the aligned UMEM needs a power of two ≥ 2048, and a
    /// frame must fit in a page). Default 4096.
    pub frame_size: u32,
    /// Frames per UMEM; at least [`XdpConfig::min_frames`]. Default 20480 (80 MiB at 4096 B).
    pub frame_count: u32,
    /// RX ring entries per socket (a power of two in 64..=32768, as every ring). Default 2048.
    pub rx_ring: u32,
    /// TX ring entries per socket (power of two). Default 2048.
    pub tx_ring: u32,
    /// Fill ring entries per device (power of two). Default 4096.
    pub fill_ring: u32,
    /// Completion ring entries per device (power of two). Default 2048.
    pub completion_ring: u32,
    /// Most frames taken from each RX ring per [`crate::QueuePair::poll`]; 1..=rx_ring (at most
    /// 1024). Default 64.
    pub batch: u32,
    /// Where the redirect program runs. Default [`XdpMode::Auto`].
    pub xdp_mode: XdpMode,
    /// How the sockets are bound. Default [`BindMode::Auto`].
    pub bind_mode: BindMode,
    /// Bind with `XDP_USE_NEED_WAKEUP` and make a syscall only when a ring asks for one.
    /// Default true.
    pub need_wakeup: bool,
    /// Busy-polling options; `None` (the default) leaves the sockets interrupt driven.
    pub busy_poll: Option<BusyPoll>,
}

impl Default for XdpConfig {
    /// Batch 64; RX/TX/completion rings 2048; fill 4096; frames 4096 bytes; frame count twice
    /// the sum of one socket's rings; need_wakeup on; auto modes; no busy polling.
    fn default() -> Self {
        let mut cfg = XdpConfig {
            frame_size: 4096,
            frame_count: 0,
            rx_ring: 2048,
            tx_ring: 2048,
            fill_ring: 4096,
            completion_ring: 2048,
            batch: 64,
            xdp_mode: XdpMode::Auto,
            bind_mode: BindMode::Auto,
            need_wakeup: true,
            busy_poll: None,
        };
        cfg.frame_count = cfg.min_frames();
        cfg
    }
}

impl XdpConfig {
    /// The least frame count [`validate`](Self::validate) accepts: twice the sum of one socket's
    /// rings (RX + TX + fill + completion).
    ///
    /// Why that number: it is exactly what the rings of *both* sockets of a shared UMEM hold when
    /// all of them are full (a received frame is on the fill ring *or* the RX ring, a sent one on
    /// the TX ring *or* the completion ring), so ring occupancy alone can never empty the free
    /// list. In the two-UMEM fallback each UMEM serves one socket and keeps a 2x margin.
    /// Saturates at `u32::MAX` rather than wrapping.
    pub fn min_frames(&self) -> u32 {
        let sum = u64::from(self.rx_ring)
            + u64::from(self.tx_ring)
            + u64::from(self.fill_ring)
            + u64::from(self.completion_ring);
        u32::try_from(sum.saturating_mul(2)).unwrap_or(u32::MAX)
    }

    /// Bytes of one UMEM: `frame_size * frame_count`.
    pub fn umem_bytes(&self) -> u64 {
        u64::from(self.frame_size) * u64::from(self.frame_count)
    }

    /// The largest frame (Ethernet header included) one UMEM frame can carry: the frame size
    /// less the kernel's `XDP_PACKET_HEADROOM` (256 bytes).
    pub fn max_frame_len(&self) -> u32 {
        self.frame_size.saturating_sub(XDP_PACKET_HEADROOM)
    }

    /// Checks every rule the kernel or the frame accounting relies on.
    ///
    /// # Errors
    ///
    /// [`XdpError::Config`] naming the first offending key, what is wrong and what would be
    /// accepted (as [`check`](Self::check)).
    pub fn validate(&self) -> Result<(), XdpError> {
        self.check().map_err(|p| XdpError::Config { key: p.key, reason: format!("{}; {}", p.problem, p.fix) })
    }

    /// The rules of [`validate`](Self::validate), with the problem and the fix apart, for callers
    /// that name the keys their own way.
    ///
    /// # Errors
    ///
    /// The first rule broken.
    pub fn check(&self) -> Result<(), ConfigProblem> {
        if self.frame_size != 2048 && self.frame_size != 4096 {
            return Err(problem("frame_size", format!("{} is not supported", self.frame_size), "use 2048 or 4096"));
        }
        for (key, v) in [
            ("rx_ring", self.rx_ring),
            ("tx_ring", self.tx_ring),
            ("fill_ring", self.fill_ring),
            ("completion_ring", self.completion_ring),
        ] {
            if !v.is_power_of_two() || !(MIN_RING..=MAX_RING).contains(&v) {
                return Err(problem(
                    key,
                    format!("{v} is not a power of two in {MIN_RING}..={MAX_RING}"),
                    "use e.g. 2048",
                ));
            }
        }
        if self.batch == 0 || self.batch > self.rx_ring.min(MAX_BATCH) {
            return Err(problem(
                "batch",
                format!("{} is out of range", self.batch),
                format!("use 1..={} (64 is usual; at most the RX ring)", self.rx_ring.min(MAX_BATCH)),
            ));
        }
        let min = self.min_frames();
        if self.frame_count < min {
            return Err(problem(
                "frame_count",
                format!("{} frames cannot cover the rings of both sockets ({min} entries)", self.frame_count),
                format!("use at least {min}, or shrink the rings"),
            ));
        }
        // Frame offsets are 64-bit in the kernel but the UMEM must be mappable and its
        // registration length fit the kernel's u64 arithmetic on 32-bit page counts.
        if self.umem_bytes() > MAX_UMEM_BYTES {
            return Err(problem(
                "frame_count",
                format!(
                    "{} frames of {} bytes is {} bytes, above the {MAX_UMEM_BYTES}-byte limit",
                    self.frame_count,
                    self.frame_size,
                    self.umem_bytes()
                ),
                "use fewer frames",
            ));
        }
        if let Some(bp) = self.busy_poll {
            if bp.timeout_us == 0 || bp.timeout_us > i32::MAX as u32 {
                return Err(problem(
                    "busy_poll.timeout_us",
                    format!("{} is out of range", bp.timeout_us),
                    format!("use 1..={} microseconds (e.g. 20)", i32::MAX),
                ));
            }
            if bp.budget == 0 {
                return Err(problem("busy_poll.budget", "is 0".into(), "use a budget like 64"));
            }
        }
        Ok(())
    }
}

/// A broken rule of [`XdpConfig::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The field of [`XdpConfig`], e.g. `rx_ring` or `busy_poll.budget`.
    pub key: &'static str,
    /// What is wrong with its value.
    pub problem: String,
    /// What would be accepted.
    pub fix: String,
}

fn problem(key: &'static str, problem: String, fix: impl Into<String>) -> ConfigProblem {
    ConfigProblem { key, problem, fix: fix.into() }
}

/// The kernel's `XDP_PACKET_HEADROOM`: bytes reserved at the start of each frame.
pub(crate) const XDP_PACKET_HEADROOM: u32 = 256;
/// Smallest ring accepted: below it, a batch no longer fits a ring several times over.
const MIN_RING: u32 = 64;
/// Largest ring accepted: above every driver's maximum (8192 to 32768).
const MAX_RING: u32 = 32768;
/// Largest batch: past it a batch no longer fits the cache, and latency grows for nothing.
const MAX_BATCH: u32 = 1024;
/// 16 GiB: larger UMEMs are certainly a typo on a per-worker basis.
const MAX_UMEM_BYTES: u64 = 16 << 30;

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(r: Result<(), XdpError>) -> &'static str {
        match r {
            Err(XdpError::Config { key, .. }) => key,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn default_follows_the_rules_of_thumb_and_validates() {
        let c = XdpConfig::default();
        assert_eq!(
            (c.frame_size, c.rx_ring, c.tx_ring, c.fill_ring, c.completion_ring, c.batch),
            (4096, 2048, 2048, 4096, 2048, 64)
        );
        assert_eq!(c.frame_count, 2 * (2048 + 2048 + 4096 + 2048));
        assert!(c.need_wakeup);
        assert_eq!(c.busy_poll, None);
        c.validate().unwrap();
    }

    #[test]
    fn rejects_bad_frame_sizes() {
        for fs in [0, 1024, 3000, 8192] {
            let c = XdpConfig { frame_size: fs, ..XdpConfig::default() };
            assert_eq!(key_of(c.validate()), "frame_size", "{fs}");
        }
        let c = XdpConfig { frame_size: 2048, ..XdpConfig::default() };
        c.validate().unwrap();
        assert_eq!(c.max_frame_len(), 1792);
    }

    #[test]
    fn rejects_rings_that_are_not_powers_of_two() {
        let c = XdpConfig { rx_ring: 1000, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "rx_ring");
        let c = XdpConfig { tx_ring: 0, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "tx_ring");
        let c = XdpConfig { fill_ring: 4095, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "fill_ring");
        let c = XdpConfig { completion_ring: 3, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "completion_ring");
        let c = XdpConfig { completion_ring: 1 << 21, frame_count: u32::MAX, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "completion_ring");
    }

    #[test]
    fn frame_count_must_be_twice_the_rings() {
        let mut c = XdpConfig::default();
        c.frame_count = c.min_frames() - 1;
        assert_eq!(key_of(c.validate()), "frame_count");
        c.frame_count = c.min_frames();
        c.validate().unwrap();
        // Shrinking the rings lowers the bound.
        let small = XdpConfig {
            rx_ring: 64,
            tx_ring: 64,
            fill_ring: 128,
            completion_ring: 64,
            frame_count: 640,
            batch: 64,
            ..XdpConfig::default()
        };
        small.validate().unwrap();
        assert_eq!(small.min_frames(), 640);
    }

    #[test]
    fn rings_stay_within_what_drivers_take() {
        let c = XdpConfig { rx_ring: 32, batch: 32, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "rx_ring");
        let c = XdpConfig { fill_ring: 65536, frame_count: 1 << 20, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "fill_ring");
        let p = XdpConfig { tx_ring: 100, ..XdpConfig::default() }.check().unwrap_err();
        assert_eq!(p.key, "tx_ring");
        assert!(p.problem.contains("power of two") && p.fix.contains("2048"), "{p:?}");
        let p = XdpConfig { frame_count: 100, ..XdpConfig::default() }.check().unwrap_err();
        assert!(p.fix.contains("at least 20480"), "{p:?}");
    }

    #[test]
    fn umem_size_is_bounded() {
        let c = XdpConfig { frame_count: u32::MAX, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "frame_count");
    }

    #[test]
    fn batch_must_fit_the_rx_ring() {
        let c = XdpConfig { batch: 0, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "batch");
        let c = XdpConfig { batch: 4096, ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "batch");
    }

    #[test]
    fn busy_poll_values_are_checked() {
        let bp = BusyPoll { timeout_us: 20, budget: 64, prefer: true };
        let c = XdpConfig { busy_poll: Some(bp), ..XdpConfig::default() };
        c.validate().unwrap();
        let c = XdpConfig { busy_poll: Some(BusyPoll { timeout_us: 0, ..bp }), ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "busy_poll.timeout_us");
        let c = XdpConfig { busy_poll: Some(BusyPoll { budget: 0, ..bp }), ..XdpConfig::default() };
        assert_eq!(key_of(c.validate()), "busy_poll.budget");
    }

    #[test]
    fn min_frames_saturates() {
        let c = XdpConfig {
            rx_ring: u32::MAX,
            tx_ring: u32::MAX,
            fill_ring: u32::MAX,
            completion_ring: u32::MAX,
            ..XdpConfig::default()
        };
        assert_eq!(c.min_frames(), u32::MAX);
    }
}
