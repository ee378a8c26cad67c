//! Expected flows: what control flows announce (FTP data connections, TFTP transfers, SIP media),
//! kept until the announced flow appears or the expectation times out.
//!
//! The table is shared by every engine of a bridge (the control and the data connection may land
//! on different workers' queues) behind one mutex, which is taken only when a control flow
//! announces something and when a new flow is created while the table is not empty (an atomic
//! count is checked first), so ordinary traffic never touches it. Lock order: a flow-table shard,
//! then this table; never the other way round.
//!
//! Bounded in number (`capacity`; the oldest expectation makes room for a new one, counted) and in
//! time (`timeout_ns`, measured in the `now` the caller passes; the table never reads a clock).
//! An expectation is used once: the first flow that meets it takes it.

use core::net::IpAddr;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hashbrown::HashMap;
use parking_lot::Mutex;
use weir_dpi::{ProtocolId, Related};

/// Bounds of the expectation table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelatedConfig {
    /// Most expectations held at once; 0 turns related-flow labelling off. Default 4096.
    pub capacity: usize,
    /// How long an announced flow is waited for, in nanoseconds. Default 120 s.
    pub timeout_ns: u64,
}

impl Default for RelatedConfig {
    fn default() -> Self {
        RelatedConfig { capacity: 4096, timeout_ns: 120_000_000_000 }
    }
}

/// The endpoint an announced flow goes to, and its transport (6 TCP, 17 UDP).
type Key = (u8, IpAddr, u16);

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The address the flow must come from, if the announcement says.
    peer: Option<IpAddr>,
    protocol: ProtocolId,
    why: Related,
    expires: u64,
}

/// What the table has done, for stats.
#[derive(Debug, Default)]
pub struct RelatedCounters {
    /// Expectations added.
    pub announced: AtomicU64,
    /// Flows labelled by an expectation.
    pub matched: AtomicU64,
    /// Expectations dropped unused: timed out, or pushed out by newer ones when full.
    pub dropped: AtomicU64,
}

/// The shared table of expected flows.
#[derive(Debug)]
pub struct Expectations {
    map: Mutex<HashMap<Key, Entry>>,
    len: AtomicUsize,
    config: RelatedConfig,
    /// Counters.
    pub counters: RelatedCounters,
}

impl Expectations {
    /// An empty table with these bounds.
    pub fn new(config: RelatedConfig) -> Expectations {
        Expectations {
            map: Mutex::new(HashMap::with_capacity(config.capacity.min(4096))),
            len: AtomicUsize::new(0),
            config,
            counters: RelatedCounters::default(),
        }
    }

    /// The table's bounds.
    pub fn config(&self) -> RelatedConfig {
        self.config
    }

    /// Whether any expectation is pending (one relaxed load).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.len.load(Ordering::Relaxed) != 0
    }

    /// Expectations pending.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether none is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Expects a flow of transport `l4` to `to` (from `peer`, if given) until `now` plus the
    /// timeout, to be labelled `protocol` because of `why`.
    pub fn expect(
        &self,
        l4: u8,
        to: (IpAddr, u16),
        peer: Option<IpAddr>,
        protocol: ProtocolId,
        why: Related,
        now: u64,
    ) {
        if self.config.capacity == 0 {
            return;
        }
        let mut map = self.map.lock();
        let key = (l4, to.0, to.1);
        if !map.contains_key(&key) && map.len() >= self.config.capacity {
            let before = map.len();
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.config.capacity
                && let Some(oldest) = map.iter().min_by_key(|(_, e)| e.expires).map(|(k, _)| *k)
            {
                map.remove(&oldest);
            }
            self.counters.dropped.fetch_add((before - map.len()) as u64, Ordering::Relaxed);
        }
        map.insert(key, Entry { peer, protocol, why, expires: now.saturating_add(self.config.timeout_ns) });
        self.counters.announced.fetch_add(1, Ordering::Relaxed);
        self.len.store(map.len(), Ordering::Relaxed);
    }

    /// A new flow from `orig` to `resp`: the label an expectation gives it, if one is met (then
    /// used up). An expectation of the responder's endpoint is tried first, then of the
    /// originator's (a media stream may be opened by the side that announced it). `media`: the
    /// flow's first packet looks like RTP/RTCP; SIP media expectations need it.
    pub fn claim(
        &self,
        l4: u8,
        orig: (IpAddr, u16),
        resp: (IpAddr, u16),
        media: bool,
        now: u64,
    ) -> Option<(ProtocolId, Related)> {
        let mut map = self.map.lock();
        let mut hit = None;
        for (to, from) in [(resp, orig.0), (orig, resp.0)] {
            let key = (l4, to.0, to.1);
            match map.get(&key).copied() {
                Some(e) if e.expires <= now => {
                    map.remove(&key);
                    self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Some(e) if e.peer.is_none_or(|p| p == from) && (media || e.why != Related::SipSdp) => {
                    map.remove(&key);
                    self.counters.matched.fetch_add(1, Ordering::Relaxed);
                    hit = Some((e.protocol, e.why));
                    break;
                }
                _ => {}
            }
        }
        self.len.store(map.len(), Ordering::Relaxed);
        hit
    }

    /// Drops every expectation that has timed out at `now`.
    pub fn expire(&self, now: u64) {
        if !self.is_active() {
            return;
        }
        let mut map = self.map.lock();
        let before = map.len();
        map.retain(|_, e| e.expires > now);
        self.counters.dropped.fetch_add((before - map.len()) as u64, Ordering::Relaxed);
        self.len.store(map.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, last))
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn met_once_from_the_right_peer() {
        let t = Expectations::new(RelatedConfig::default());
        assert!(!t.is_active());
        t.expect(6, (ip(2), 5000), Some(ip(1)), ProtocolId::FTP, Related::FtpControl, 0);
        assert!(t.is_active());
        assert_eq!(t.claim(6, (ip(3), 40000), (ip(2), 5000), false, S), None, "another client");
        assert_eq!(t.claim(17, (ip(1), 40000), (ip(2), 5000), false, S), None, "another transport");
        assert_eq!(t.claim(6, (ip(1), 40000), (ip(2), 5000), false, S), Some((ProtocolId::FTP, Related::FtpControl)));
        assert_eq!(t.claim(6, (ip(1), 40001), (ip(2), 5000), false, S), None, "used up");
        assert!(!t.is_active());
        assert_eq!(t.counters.matched.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn either_end_and_timeouts() {
        let t = Expectations::new(RelatedConfig { capacity: 8, timeout_ns: 10 * S });
        t.expect(17, (ip(1), 49170), None, ProtocolId::RTP, Related::SipSdp, 0);
        assert_eq!(t.claim(17, (ip(1), 49170), (ip(9), 3000), false, S), None, "media must look like RTP");
        assert_eq!(t.claim(17, (ip(1), 49170), (ip(9), 3000), true, S), Some((ProtocolId::RTP, Related::SipSdp)));
        t.expect(17, (ip(1), 49172), None, ProtocolId::RTP, Related::SipSdp, 0);
        assert_eq!(t.claim(17, (ip(9), 3000), (ip(1), 49172), true, 10 * S), None, "timed out");
        t.expect(17, (ip(1), 49174), None, ProtocolId::RTP, Related::SipSdp, 0);
        t.expire(20 * S);
        assert!(t.is_empty());
        assert_eq!(t.counters.dropped.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn bounded() {
        let t = Expectations::new(RelatedConfig { capacity: 3, timeout_ns: 100 * S });
        for p in 0..10u16 {
            t.expect(6, (ip(2), 6000 + p), None, ProtocolId::FTP, Related::FtpControl, u64::from(p) * S);
            assert!(t.len() <= 3);
        }
        assert_eq!(t.claim(6, (ip(1), 1), (ip(2), 6009), false, 11 * S).map(|l| l.0), Some(ProtocolId::FTP));
        assert_eq!(t.claim(6, (ip(1), 1), (ip(2), 6000), false, 11 * S), None, "the oldest made room");
        assert_eq!(t.counters.dropped.load(Ordering::Relaxed), 7);
        let off = Expectations::new(RelatedConfig { capacity: 0, timeout_ns: S });
        off.expect(6, (ip(2), 1), None, ProtocolId::FTP, Related::FtpControl, 0);
        assert!(!off.is_active());
    }
}
