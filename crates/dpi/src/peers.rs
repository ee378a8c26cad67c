//! A bounded, ageing cache of peer endpoints, shared by every worker without a lock on reads.
//!
//! Encrypted BitTorrent (MSE) has no plaintext to match, and neither has encrypted Direct Connect
//! search traffic, but their endpoints are usually known from elsewhere: a peer is an
//! (address, port), and a client listens for TCP and uTP (and answers the DHT) on one port. The
//! classifier learns endpoints here only from content that proves the protocol (both ends of uTP
//! and DHT flows, the responder of a peer-wire connection, the listen port a peer announces in its
//! extension handshake, tracker replies, DHT `values`/`nodes`, PEX, local peer discovery, Direct
//! Connect search results) and labels an otherwise unproven flow to or from such an endpoint
//! (`Decision::PeerCache`). A flow labelled by the cache teaches nothing: a wrong entry can
//! neither spread to the endpoints it talks to nor keep itself alive. Endpoints that a message
//! names for other hosts (tracker lists, DHT answers, PEX) are learned only on ports 1024 and up,
//! so no reply can make a web or DNS server's well-known port a "peer".
//!
//! # Shape
//!
//! A fixed array of buckets, each of [`SLOTS`] entries guarded by a sequence counter (a
//! seqlock). Reading never writes shared memory: a reader loads the bucket's counter, the
//! entries, and the counter again, and retries if a writer was inside (after a few tries it
//! answers "not a peer", which at worst leaves one flow unlabelled). Writers take the bucket by
//! making its counter odd with a compare-and-swap, so two writers never interleave and a writer
//! never waits for readers. The hot path of the bridge, a lookup for every pending packet under the
//! flow-table shard lock, therefore costs two atomic loads per entry touched and no lock, and
//! workers do not bounce a lock's cache line between cores.
//!
//! # Ageing and bounds
//!
//! Nothing here reads a clock: `now` (nanoseconds, from the packet or the bridge's batch clock) is
//! passed in. An entry is a peer for `ttl_s` seconds after it was last learned. The cache holds at
//! most its capacity (rounded up to whole buckets); learning into a full bucket replaces an expired
//! entry, else the bucket's oldest, and counts an eviction. Time may run backwards (a capture's
//! records, several captures read in one run): an entry whose time is ahead of `now` counts as
//! fresh while the difference is within the TTL.

use core::net::IpAddr;
use core::sync::atomic::{AtomicU64, Ordering, fence};

use crate::Endpoint;
use crate::registry::ProtocolId;

/// Entries per bucket.
pub(crate) const SLOTS: usize = 5;
/// Default seconds a learned endpoint stays a peer: a session's peers are met again (new
/// connections, DHT traffic) well within it, and an address that changed hands ages out.
pub const DEFAULT_PEER_TTL_S: u32 = 1800;
/// Reads that find a writer inside this many times in a row answer "not a peer".
const READ_TRIES: usize = 8;

/// Which protocol a cached endpoint is a peer of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// A BitTorrent peer (TCP, uTP and DHT share its port).
    BitTorrent,
    /// A Direct Connect client or hub.
    DirectConnect,
}

impl PeerKind {
    fn bit(self) -> u64 {
        match self {
            PeerKind::BitTorrent => 1,
            PeerKind::DirectConnect => 2,
        }
    }

    /// The protocol a flow to such a peer is labelled with.
    pub fn protocol(self) -> ProtocolId {
        match self {
            PeerKind::BitTorrent => ProtocolId::BITTORRENT,
            PeerKind::DirectConnect => ProtocolId::DIRECTCONNECT,
        }
    }

    /// The kind for a protocol whose endpoints the cache keeps.
    pub fn of(p: ProtocolId) -> Option<PeerKind> {
        match p {
            ProtocolId::BITTORRENT => Some(PeerKind::BitTorrent),
            ProtocolId::DIRECTCONNECT => Some(PeerKind::DirectConnect),
            _ => None,
        }
    }
}

// Entry word 2: time (s) << 32 | port << 16 | kinds << 8 | tag.
const TAG_EMPTY: u64 = 0;
const TAG_V4: u64 = 1;
const TAG_V6: u64 = 2;

/// One bucket: its sequence counter and [`SLOTS`] entries of (address high, address low, meta).
/// 8 + 5 * 24 = 128 bytes: two cache lines.
#[repr(C, align(64))]
struct Bucket {
    seq: AtomicU64,
    slots: [[AtomicU64; 3]; SLOTS],
}

impl Bucket {
    fn new() -> Bucket {
        Bucket { seq: AtomicU64::new(0), slots: Default::default() }
    }
}

/// The cache. `Send + Sync`; share it in an `Arc` and call [`PeerCache::learn`] and
/// [`PeerCache::lookup`] from any thread. See the module docs.
pub struct PeerCache {
    buckets: Box<[Bucket]>,
    ttl_s: u32,
    evictions: AtomicU64,
}

impl core::fmt::Debug for PeerCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PeerCache")
            .field("capacity", &self.capacity())
            .field("ttl_s", &self.ttl_s)
            .field("evictions", &self.evictions())
            .finish()
    }
}

/// (address high word, address low word, tag | port << 16) of an endpoint.
fn encode(e: &Endpoint) -> (u64, u64, u64) {
    let port = u64::from(e.port) << 16;
    match e.ip {
        IpAddr::V4(a) => (0, u64::from(u32::from(a)), TAG_V4 | port),
        IpAddr::V6(a) => {
            let v = u128::from(a);
            ((v >> 64) as u64, v as u64, TAG_V6 | port)
        }
    }
}

/// A fixed mix of the endpoint (the same run gives the same buckets, so `weir classify` output is
/// reproducible).
fn hash(w: (u64, u64, u64)) -> u64 {
    let mut h = w.0 ^ w.1.rotate_left(23) ^ w.2.rotate_left(47) ^ 0x9e37_79b9_7f4a_7c15;
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn seconds(now_ns: u64) -> u32 {
    (now_ns / 1_000_000_000) as u32
}

impl PeerCache {
    /// A cache of at least `capacity` endpoints (rounded up to whole buckets of [`SLOTS`]; 0
    /// disables it), each a peer for `ttl_s` seconds after it was last learned.
    pub fn new(capacity: usize, ttl_s: u32) -> Self {
        let buckets = capacity.div_ceil(SLOTS);
        PeerCache { buckets: (0..buckets).map(|_| Bucket::new()).collect(), ttl_s, evictions: AtomicU64::new(0) }
    }

    /// Most endpoints held.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * SLOTS
    }

    /// Seconds an entry stays a peer after it was last learned.
    pub fn ttl_s(&self) -> u32 {
        self.ttl_s
    }

    fn bucket(&self, w: (u64, u64, u64)) -> Option<&Bucket> {
        let n = self.buckets.len() as u64;
        // Multiply-shift maps the hash onto 0..n without a division.
        let i = ((u128::from(hash(w)) * u128::from(n)) >> 64) as usize;
        self.buckets.get(i)
    }

    fn fresh(&self, meta: u64, now_s: u32) -> bool {
        let t = (meta >> 32) as u32;
        let age = now_s.wrapping_sub(t);
        age <= self.ttl_s || age.wrapping_neg() <= self.ttl_s
    }

    /// The kind of peer `e` is at `now_ns`, if it is one. BitTorrent wins if an endpoint was
    /// learned as both. Never blocks.
    pub fn lookup(&self, e: &Endpoint, now_ns: u64) -> Option<PeerKind> {
        let w = encode(e);
        let b = self.bucket(w)?;
        let now_s = seconds(now_ns);
        for _ in 0..READ_TRIES {
            let s1 = b.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                core::hint::spin_loop();
                continue;
            }
            let mut found = 0u64;
            for slot in &b.slots {
                let meta = slot[2].load(Ordering::Relaxed);
                if meta & 0xffff_00ff == w.2
                    && slot[0].load(Ordering::Relaxed) == w.0
                    && slot[1].load(Ordering::Relaxed) == w.1
                {
                    found = meta;
                }
            }
            fence(Ordering::Acquire);
            if b.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            if found == 0 || !self.fresh(found, now_s) {
                return None;
            }
            let kinds = (found >> 8) & 0xff;
            return if kinds & PeerKind::BitTorrent.bit() != 0 {
                Some(PeerKind::BitTorrent)
            } else if kinds & PeerKind::DirectConnect.bit() != 0 {
                Some(PeerKind::DirectConnect)
            } else {
                None
            };
        }
        None
    }

    /// True if `e` is a peer of any kind at `now_ns`.
    pub fn contains(&self, e: &Endpoint, now_ns: u64) -> bool {
        self.lookup(e, now_ns).is_some()
    }

    /// Remembers `e` as a `kind` peer at `now_ns` (refreshing it if known). Port 0 is never a
    /// peer. Takes only `e`'s bucket, for a handful of stores.
    pub fn learn(&self, e: Endpoint, kind: PeerKind, now_ns: u64) {
        if e.port == 0 || e.ip.is_unspecified() {
            return;
        }
        let w = encode(&e);
        let Some(b) = self.bucket(w) else { return };
        let now_s = seconds(now_ns);
        let mut spins = 0u32;
        let s = loop {
            let s = b.seq.load(Ordering::Relaxed);
            if s & 1 == 0 && b.seq.compare_exchange_weak(s, s + 1, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                break s;
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        };
        fence(Ordering::Release);
        // The same endpoint, else an empty or expired slot, else the oldest.
        let mut target = None;
        let mut kinds = kind.bit();
        let mut oldest: Option<(usize, u32)> = None;
        let mut free = None;
        for (i, slot) in b.slots.iter().enumerate() {
            let meta = slot[2].load(Ordering::Relaxed);
            if meta & 0xff == TAG_EMPTY || !self.fresh(meta, now_s) {
                free.get_or_insert(i);
                continue;
            }
            if meta & 0xffff_00ff == w.2
                && slot[0].load(Ordering::Relaxed) == w.0
                && slot[1].load(Ordering::Relaxed) == w.1
            {
                target = Some(i);
                kinds |= (meta >> 8) & 0xff;
                break;
            }
            let age = now_s.wrapping_sub((meta >> 32) as u32);
            if oldest.is_none_or(|(_, a)| age > a) {
                oldest = Some((i, age));
            }
        }
        let i = match (target, free, oldest) {
            (Some(i), _, _) | (None, Some(i), _) => i,
            (None, None, Some((i, _))) => {
                self.evictions.fetch_add(1, Ordering::Relaxed);
                i
            }
            (None, None, None) => 0,
        };
        if let Some(slot) = b.slots.get(i) {
            slot[0].store(w.0, Ordering::Relaxed);
            slot[1].store(w.1, Ordering::Relaxed);
            slot[2].store((u64::from(now_s) << 32) | (kinds << 8) | w.2, Ordering::Relaxed);
        }
        b.seq.store(s + 2, Ordering::Release);
    }

    /// Entries held that are peers at `now_ns`. Walks the whole cache: for tests and reports.
    pub fn len_at(&self, now_ns: u64) -> usize {
        let now_s = seconds(now_ns);
        self.buckets
            .iter()
            .flat_map(|b| b.slots.iter())
            .filter(|s| {
                let meta = s[2].load(Ordering::Relaxed);
                meta & 0xff != TAG_EMPTY && self.fresh(meta, now_s)
            })
            .count()
    }

    /// How many live entries were replaced to make room since the cache was created.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use std::sync::Arc;

    const S: u64 = 1_000_000_000;

    fn ep(n: u32, port: u16) -> Endpoint {
        Endpoint { ip: IpAddr::V4(Ipv4Addr::from(0xc612_0000 | n)), port }
    }

    #[test]
    fn learns_and_finds_by_address_and_port() {
        let c = PeerCache::new(64, 60);
        c.learn(ep(1, 6881), PeerKind::BitTorrent, 10 * S);
        assert_eq!(c.lookup(&ep(1, 6881), 10 * S), Some(PeerKind::BitTorrent));
        assert_eq!(c.lookup(&ep(1, 6882), 10 * S), None, "another port is another endpoint");
        assert_eq!(c.lookup(&ep(2, 6881), 10 * S), None);
        let v6 = Endpoint { ip: IpAddr::V6("2001:2::1".parse::<Ipv6Addr>().unwrap()), port: 6881 };
        let mapped = Endpoint { ip: IpAddr::V6(Ipv4Addr::from(0xc612_0001).to_ipv6_mapped()), port: 6881 };
        c.learn(v6, PeerKind::DirectConnect, 10 * S);
        assert_eq!(c.lookup(&v6, 11 * S), Some(PeerKind::DirectConnect));
        assert_eq!(c.lookup(&mapped, 11 * S), None, "an IPv4-mapped address is not the IPv4 one");
        assert_eq!(c.len_at(11 * S), 2);
    }

    #[test]
    fn entries_age_out_and_relearning_refreshes() {
        let c = PeerCache::new(64, 60);
        c.learn(ep(1, 1), PeerKind::BitTorrent, 100 * S);
        assert!(c.contains(&ep(1, 1), 160 * S));
        assert!(!c.contains(&ep(1, 1), 161 * S), "expired after the TTL");
        c.learn(ep(1, 1), PeerKind::BitTorrent, 150 * S);
        assert!(c.contains(&ep(1, 1), 200 * S), "refreshed");
        // Time running backwards (another capture) within the TTL still finds it; far back not.
        assert!(c.contains(&ep(1, 1), 100 * S));
        assert!(!c.contains(&ep(1, 1), 10 * S));
        assert_eq!(c.len_at(1000 * S), 0);
    }

    #[test]
    fn kinds_merge_and_bittorrent_wins() {
        let c = PeerCache::new(8, 60);
        c.learn(ep(3, 412), PeerKind::DirectConnect, S);
        assert_eq!(c.lookup(&ep(3, 412), S), Some(PeerKind::DirectConnect));
        c.learn(ep(3, 412), PeerKind::BitTorrent, S);
        assert_eq!(c.lookup(&ep(3, 412), S), Some(PeerKind::BitTorrent));
        assert_eq!(c.len_at(S), 1);
    }

    #[test]
    fn stays_bounded_and_evicts_the_oldest_of_a_bucket() {
        let c = PeerCache::new(16, 3600);
        assert_eq!(c.capacity(), 20);
        for i in 0..10_000u32 {
            c.learn(ep(i, 6881), PeerKind::BitTorrent, u64::from(i) * S);
            assert!(c.len_at(u64::from(i) * S) <= 20);
        }
        assert!(c.evictions() > 0);
        // The newest entry always survives its own insertion.
        assert!(c.contains(&ep(9_999, 6881), 9_999 * S));
        // Expired slots are reused before live ones are evicted.
        let c = PeerCache::new(SLOTS, 10);
        for i in 0..SLOTS as u32 {
            c.learn(ep(i, 1), PeerKind::BitTorrent, 0);
        }
        let before = c.evictions();
        c.learn(ep(99, 1), PeerKind::BitTorrent, 100 * S);
        assert_eq!(c.evictions(), before, "an expired entry made room");
        c.learn(ep(98, 1), PeerKind::BitTorrent, 100 * S);
        assert!(c.contains(&ep(99, 1), 100 * S) && c.contains(&ep(98, 1), 100 * S));
    }

    #[test]
    fn zero_capacity_and_port_zero_learn_nothing() {
        let c = PeerCache::new(0, 60);
        c.learn(ep(1, 1), PeerKind::BitTorrent, 0);
        assert!(!c.contains(&ep(1, 1), 0));
        let c = PeerCache::new(8, 60);
        c.learn(ep(1, 0), PeerKind::BitTorrent, 0);
        c.learn(Endpoint { ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED), port: 6881 }, PeerKind::BitTorrent, 0);
        assert_eq!(c.len_at(0), 0);
    }

    #[test]
    fn concurrent_readers_and_writers_agree() {
        // Writers learn BitTorrent endpoints while readers look up Direct Connect endpoints that
        // are always present (the cache is large enough that nothing is evicted): a torn read
        // would show up as a wrong kind or a miss.
        let c = Arc::new(PeerCache::new(1 << 16, 3600));
        for i in 0..64u32 {
            c.learn(ep(i, 7000), PeerKind::DirectConnect, S);
        }
        let mut handles = Vec::new();
        for t in 0..2u32 {
            let c = Arc::clone(&c);
            handles.push(std::thread::spawn(move || {
                for i in 0..20_000u32 {
                    c.learn(ep(1000 + (i % 600) + t * 600, 6881), PeerKind::BitTorrent, S);
                }
                (0, 0)
            }));
        }
        for _ in 0..2 {
            let c = Arc::clone(&c);
            handles.push(std::thread::spawn(move || {
                let (mut wrong, mut missed) = (0, 0);
                for i in 0..50_000u32 {
                    match c.lookup(&ep(i % 64, 7000), S) {
                        Some(PeerKind::DirectConnect) => {}
                        Some(_) => wrong += 1,
                        None => missed += 1,
                    }
                    if c.lookup(&ep(1000 + i % 1200, 6881), S) == Some(PeerKind::DirectConnect) {
                        wrong += 1;
                    }
                }
                (wrong, missed)
            }));
        }
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(c.evictions(), 0);
        for (wrong, missed) in &results[2..] {
            assert_eq!(*wrong, 0);
            // A reader gives up only if a writer of the same bucket is preempted mid-write.
            assert!(*missed < 500, "{missed} lookups gave up");
        }
    }

    #[test]
    fn a_reader_never_waits_for_a_stuck_writer() {
        let c = PeerCache::new(SLOTS, 60);
        c.learn(ep(1, 1), PeerKind::BitTorrent, 0);
        c.buckets[0].seq.fetch_add(1, Ordering::Relaxed); // a writer inside, forever
        assert_eq!(c.lookup(&ep(1, 1), 0), None, "gives up instead of spinning");
        c.buckets[0].seq.fetch_add(1, Ordering::Relaxed);
        assert_eq!(c.lookup(&ep(1, 1), 0), Some(PeerKind::BitTorrent));
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<PeerCache>();
    }
}
