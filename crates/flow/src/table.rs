//! The sharded, bounded flow table.
//!
//! Each shard is a `parking_lot::Mutex` around a [`Shard`]: a `hashbrown::HashTable<u32>` of slot
//! indices into a slab of [`Flow`] entries allocated once, at the shard's capacity. Storing only a
//! 4-byte index in the hash table (instead of key and value) keeps the per-flow cost at the entry
//! plus about 10 bytes of index, which is what holds a flow under 160 bytes at a million flows.
//!
//! Every entry sits on one of four intrusive least-recently-seen lists, one per timeout class
//! (TCP, UDP, other, closed). Each list is ordered by last-seen time, so expiry looks only at list
//! tails, and eviction of the oldest idle flow compares four tails. Nothing here reads a clock:
//! callers pass `now` in nanoseconds, from packets' timestamps or from the bridge's batch clock.
//!
//! The table never grows past its bound: inserting into a full shard evicts that shard's oldest
//! idle flow and reports it with [`EndReason::Evicted`].

use crate::key::{FlowKey, KeyDir};
use core::hash::BuildHasher;
use crossbeam_utils::CachePadded;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

const NIL: u32 = u32::MAX;
const TCP_PROTOCOL: u8 = 6;
const UDP_PROTOCOL: u8 = 17;

/// TCP flag bits the table looks at.
pub mod tcp_flags {
    /// FIN: the sender has finished sending.
    pub const FIN: u8 = 0x01;
    /// SYN: opens a connection.
    pub const SYN: u8 = 0x02;
    /// RST: aborts the connection.
    pub const RST: u8 = 0x04;
    /// ACK: acknowledgement field is valid.
    pub const ACK: u8 = 0x10;
}

/// Idle timeouts per class, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP flows that have not closed. Default 300 s.
    pub tcp_ns: u64,
    /// UDP flows. Default 60 s.
    pub udp_ns: u64,
    /// Other IP protocols (ICMP, GRE, ...). Default 30 s.
    pub other_ns: u64,
    /// TCP flows after RST or a FIN from both sides: how long late packets still belong to them.
    /// Default 10 s.
    pub closed_ns: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        const S: u64 = 1_000_000_000;
        Timeouts { tcp_ns: 300 * S, udp_ns: 60 * S, other_ns: 30 * S, closed_ns: 10 * S }
    }
}

/// Size and timeouts of a [`FlowTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTableConfig {
    /// Number of shards; a power of two, at least the number of workers. Default 64.
    pub shards: usize,
    /// Most flows the table holds in all; split evenly over the shards. Default 1,048,576.
    pub capacity: usize,
    /// Idle timeouts.
    pub timeouts: Timeouts,
}

impl Default for FlowTableConfig {
    fn default() -> Self {
        FlowTableConfig { shards: 64, capacity: 1 << 20, timeouts: Timeouts::default() }
    }
}

impl FlowTableConfig {
    /// Checks the shape: a power-of-two shard count, and a capacity that gives every shard room
    /// for at least one flow and at most what 32-bit slot indices address. The one home of these
    /// rules: [`FlowTable::new`] and weir's config file both check through it.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn validate(&self) -> Result<(), FlowConfigError> {
        if self.shards == 0 || !self.shards.is_power_of_two() {
            return Err(FlowConfigError::ShardsNotPowerOfTwo(self.shards));
        }
        let per_shard = self.capacity / self.shards;
        if per_shard == 0 || per_shard >= NIL as usize {
            return Err(FlowConfigError::CapacityOutOfRange { capacity: self.capacity, shards: self.shards });
        }
        Ok(())
    }
}

/// A flow-table configuration that cannot work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowConfigError {
    /// `shards` is zero or not a power of two.
    ShardsNotPowerOfTwo(usize),
    /// `capacity` is smaller than `shards` (every shard needs room for one flow) or too large
    /// for 32-bit slot indices per shard.
    CapacityOutOfRange {
        /// The capacity asked for.
        capacity: usize,
        /// The shard count it is split over.
        shards: usize,
    },
}

impl core::fmt::Display for FlowConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FlowConfigError::ShardsNotPowerOfTwo(n) => {
                write!(f, "{n} shards: must be a power of two of at least 1 (e.g. 64)")
            }
            FlowConfigError::CapacityOutOfRange { capacity, shards } => write!(
                f,
                "capacity {capacity} with {shards} shards: must be at least the shard count and at most {} per shard",
                u32::MAX - 1
            ),
        }
    }
}

impl std::error::Error for FlowConfigError {}

/// Which side of the flow sent a packet (the originator sent its first packet): weir's one
/// [`weir_wire::Sender`], under the name the flow table has always used.
pub use weir_wire::Sender as FlowDir;

/// Why a flow left the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// No packet for longer than its class's idle timeout.
    Idle,
    /// TCP RST, or FIN from both sides, and then the closed linger time passed (or a new SYN
    /// reused the tuple).
    Closed,
    /// The shard was full and this was its oldest idle flow.
    Evicted,
    /// The table was flushed (end of a capture, shutdown).
    Flushed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
enum Class {
    #[default]
    Tcp = 0,
    Udp = 1,
    Other = 2,
    Closed = 3,
}

const CLASSES: usize = 4;

/// TCP closing state bits kept per flow.
const SEEN_FIN_ORIG: u8 = 1;
const SEEN_FIN_RESP: u8 = 2;
const SEEN_RST: u8 = 4;

/// One flow: key, per-direction counters, times, and the caller's per-flow value `V`.
#[derive(Clone, Debug, Default)]
pub struct Flow<V> {
    /// The symmetric key.
    pub key: FlowKey,
    /// The direction, relative to the key, of the flow's first packet.
    pub originator_dir: KeyDir,
    tcp_close: u8,
    class: Class,
    prev: u32,
    next: u32,
    /// When the first packet was seen (ns).
    pub first_seen: u64,
    /// When the last packet was seen (ns).
    pub last_seen: u64,
    /// Packets per direction, indexed by [`FlowDir::index`].
    pub packets: [u64; 2],
    /// Bytes on the wire per direction, indexed by [`FlowDir::index`].
    pub bytes: [u64; 2],
    /// The caller's per-flow state.
    pub value: V,
}

impl<V> Flow<V> {
    /// The `(address, port)` of the side that opened the flow.
    pub fn originator(&self) -> (core::net::IpAddr, u16) {
        self.key.source(self.originator_dir)
    }

    /// The `(address, port)` of the other side.
    pub fn responder(&self) -> (core::net::IpAddr, u16) {
        self.key.destination(self.originator_dir)
    }

    /// Whether the flow has closed (TCP RST, or FIN from both sides).
    pub fn is_closed(&self) -> bool {
        self.class == Class::Closed
    }
}

/// One packet as the table sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Which way it travels relative to its key.
    pub dir: KeyDir,
    /// When (ns).
    pub now: u64,
    /// Its length on the wire, counted into the flow's bytes.
    pub wire_len: u32,
    /// The TCP flag byte for TCP packets, else 0.
    pub tcp_flags: u8,
}

/// What one packet did to the table.
#[derive(Debug)]
pub struct Touched<'a, V> {
    /// The packet's flow, counters already updated.
    pub flow: &'a mut Flow<V>,
    /// Which side sent the packet.
    pub dir: FlowDir,
    /// Whether this packet created the flow.
    pub is_new: bool,
}

/// Counters one shard keeps about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    /// Flows in the shard now.
    pub active: u64,
    /// Flows created.
    pub created: u64,
    /// Flows ended by idle timeout.
    pub expired: u64,
    /// Flows ended by RST/FIN (after the linger time or a new SYN).
    pub closed: u64,
    /// Flows evicted because the shard was full.
    pub evicted: u64,
}

impl ShardStats {
    fn add(&mut self, o: &ShardStats) {
        self.active += o.active;
        self.created += o.created;
        self.expired += o.expired;
        self.closed += o.closed;
        self.evicted += o.evicted;
    }
}

/// One shard: an index of slot numbers, a slab of flows, and LRU lists per class.
pub struct Shard<V> {
    index: HashTable<u32>,
    slots: Vec<Flow<V>>,
    capacity: usize,
    free_head: u32,
    /// Head (most recent) and tail (least recent) of each class list.
    heads: [u32; CLASSES],
    tails: [u32; CLASSES],
    timeouts: [u64; CLASSES],
    hasher: KeyHasher,
    stats: ShardStats,
}

impl<V: Default> Shard<V> {
    fn new(capacity: usize, t: Timeouts, hasher: KeyHasher) -> Self {
        Shard {
            index: HashTable::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            capacity,
            free_head: NIL,
            heads: [NIL; CLASSES],
            tails: [NIL; CLASSES],
            timeouts: [t.tcp_ns, t.udp_ns, t.other_ns, t.closed_ns],
            hasher,
            stats: ShardStats::default(),
        }
    }

    /// This shard's counters.
    pub fn stats(&self) -> ShardStats {
        self.stats
    }

    /// Number of flows in the shard.
    pub fn len(&self) -> usize {
        self.stats.active as usize
    }

    /// Whether the shard holds no flow.
    pub fn is_empty(&self) -> bool {
        self.stats.active == 0
    }

    /// Account one packet `seen` on `key` (whose hash is `hash`, from [`FlowTable::hash`]),
    /// creating the flow if needed. Flows that end because of this packet (a full shard's
    /// evicted flow, or a closed flow whose tuple a new SYN reuses) are handed to `ended` first.
    pub fn touch(
        &mut self,
        key: &FlowKey,
        hash: u64,
        seen: Seen,
        ended: &mut impl FnMut(Flow<V>, EndReason),
    ) -> Touched<'_, V> {
        let Seen { dir, now, wire_len, tcp_flags } = seen;
        let slots = &self.slots;
        let found = self.index.find(hash, |&i| slots.get(i as usize).is_some_and(|f| f.key == *key)).copied();
        // A SYN or a SYN-ACK opens a connection. The originator is the SYN's sender even when the
        // SYN-ACK is seen first: the two directions can reach weir on different NICs, queues and
        // workers, and a flow that took the server for its originator would turn every
        // direction-aware detector (WinMX, the greeting protocols) the wrong way round.
        let opening = key.protocol() == TCP_PROTOCOL && tcp_flags & tcp_flags::SYN != 0;
        let originator = if opening && tcp_flags & tcp_flags::ACK != 0 { dir.reverse() } else { dir };
        let (slot, is_new) = match found {
            Some(i) if !(opening && self.slots[i as usize].class == Class::Closed) => (i, false),
            Some(i) => {
                // A new connection reuses the tuple of a closed one: end the old flow first.
                let old = self.remove_slot(i, hash);
                self.stats.closed += 1;
                ended(old, EndReason::Closed);
                (self.insert(key, hash, originator, now, ended), true)
            }
            None => (self.insert(key, hash, originator, now, ended), true),
        };
        let flow_dir = {
            let flow = &mut self.slots[slot as usize];
            let fd = if dir == flow.originator_dir { FlowDir::Originator } else { FlowDir::Responder };
            flow.last_seen = flow.last_seen.max(now);
            flow.packets[fd.index()] += 1;
            flow.bytes[fd.index()] += u64::from(wire_len);
            if flow.key.protocol() == TCP_PROTOCOL {
                if tcp_flags & tcp_flags::RST != 0 {
                    flow.tcp_close |= SEEN_RST;
                }
                if tcp_flags & tcp_flags::FIN != 0 {
                    flow.tcp_close |= if fd == FlowDir::Originator { SEEN_FIN_ORIG } else { SEEN_FIN_RESP };
                }
            }
            fd
        };
        self.refresh(slot);
        Touched { flow: &mut self.slots[slot as usize], dir: flow_dir, is_new }
    }

    /// Adds packets and bytes seen elsewhere (a kernel fast path) to the flow of `key`, per key
    /// direction (lower to higher endpoint first), and moves its last sight up to `last_seen`
    /// (so it expires by it). False if the shard does not hold the flow.
    pub fn credit(&mut self, key: &FlowKey, hash: u64, packets: [u64; 2], bytes: [u64; 2], last_seen: u64) -> bool {
        let slots = &self.slots;
        let Some(slot) = self.index.find(hash, |&i| slots.get(i as usize).is_some_and(|f| f.key == *key)).copied()
        else {
            return false;
        };
        let Some(flow) = self.slots.get_mut(slot as usize) else { return false };
        // Key direction 0 (lower to higher) is the originator's when it opened lower to higher.
        let orig = usize::from(flow.originator_dir != crate::KeyDir::LoToHi);
        for (kdir, fd) in [(0, orig), (1, 1 - orig)] {
            flow.packets[fd] += packets[kdir];
            flow.bytes[fd] += bytes[kdir];
        }
        if last_seen > flow.last_seen {
            flow.last_seen = last_seen;
            self.refresh(slot);
        }
        true
    }

    /// The flow of `key` (whose hash is `hash`), if the shard holds it, to change its value.
    pub fn get_mut(&mut self, key: &FlowKey, hash: u64) -> Option<&mut Flow<V>> {
        let slots = &self.slots;
        let i = *self.index.find(hash, |&i| slots.get(i as usize).is_some_and(|f| f.key == *key))?;
        self.slots.get_mut(i as usize)
    }

    /// The flow of `key` (whose hash is `hash`), if the shard holds it.
    pub fn get(&self, key: &FlowKey, hash: u64) -> Option<&Flow<V>> {
        let slots = &self.slots;
        let i = *self.index.find(hash, |&i| slots.get(i as usize).is_some_and(|f| f.key == *key))?;
        self.slots.get(i as usize)
    }

    /// End every flow idle past its class's timeout at `now`, handing each to `ended`.
    /// Returns how many ended.
    pub fn expire(&mut self, now: u64, ended: &mut impl FnMut(Flow<V>, EndReason)) -> usize {
        let mut n = 0;
        for class in 0..CLASSES {
            loop {
                let tail = self.tails[class];
                let Some(flow) = self.slots.get(tail as usize) else { break };
                if flow.last_seen.saturating_add(self.timeouts[class]) > now {
                    break;
                }
                let reason = if class == Class::Closed as usize { EndReason::Closed } else { EndReason::Idle };
                let hash = self.rehash_of(tail);
                let old = self.remove_slot(tail, hash);
                match reason {
                    EndReason::Closed => self.stats.closed += 1,
                    _ => self.stats.expired += 1,
                }
                ended(old, reason);
                n += 1;
            }
        }
        n
    }

    /// End every flow (end of input, shutdown).
    pub fn flush(&mut self, ended: &mut impl FnMut(Flow<V>, EndReason)) {
        for class in 0..CLASSES {
            while self.tails[class] != NIL {
                let tail = self.tails[class];
                let hash = self.rehash_of(tail);
                let old = self.remove_slot(tail, hash);
                ended(old, EndReason::Flushed);
            }
        }
    }

    /// Visit every flow in the shard.
    pub fn for_each(&self, mut f: impl FnMut(&Flow<V>)) {
        for class in 0..CLASSES {
            let mut i = self.heads[class];
            while let Some(flow) = self.slots.get(i as usize) {
                f(flow);
                i = flow.next;
            }
        }
    }

    /// Bytes this shard has allocated (index and slab), for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.index.allocation_size() + self.slots.capacity() * core::mem::size_of::<Flow<V>>()
    }

    // The index needs each entry's hash when it rehashes and on removal; it is recomputed from
    // the key, so no hash is stored per flow.
    fn rehash_of(&self, slot: u32) -> u64 {
        self.slots.get(slot as usize).map_or(0, |f| self.hasher.hash_one(f.key))
    }

    fn insert(
        &mut self,
        key: &FlowKey,
        hash: u64,
        dir: KeyDir,
        now: u64,
        ended: &mut impl FnMut(Flow<V>, EndReason),
    ) -> u32 {
        if self.len() >= self.capacity {
            self.evict_oldest(ended);
        }
        let class = match key.protocol() {
            TCP_PROTOCOL => Class::Tcp,
            UDP_PROTOCOL => Class::Udp,
            _ => Class::Other,
        };
        let flow = Flow {
            key: *key,
            originator_dir: dir,
            tcp_close: 0,
            class,
            prev: NIL,
            next: NIL,
            first_seen: now,
            last_seen: now,
            packets: [0; 2],
            bytes: [0; 2],
            value: V::default(),
        };
        let slot = if self.free_head != NIL {
            let slot = self.free_head;
            let s = &mut self.slots[slot as usize];
            self.free_head = s.next;
            *s = flow;
            slot
        } else {
            // The slab was allocated at capacity and never holds more than `capacity` flows, so
            // this push never reallocates.
            self.slots.push(flow);
            (self.slots.len() - 1) as u32
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, slot, |&i| slots.get(i as usize).map_or(0, |f| hasher.hash_one(f.key)));
        self.link_front(slot);
        self.stats.active += 1;
        self.stats.created += 1;
        slot
    }

    fn evict_oldest(&mut self, ended: &mut impl FnMut(Flow<V>, EndReason)) {
        let victim = self
            .tails
            .iter()
            .filter_map(|&t| self.slots.get(t as usize).map(|f| (f.last_seen, t)))
            .min()
            .map(|(_, t)| t);
        if let Some(slot) = victim {
            let hash = self.rehash_of(slot);
            let old = self.remove_slot(slot, hash);
            self.stats.evicted += 1;
            ended(old, EndReason::Evicted);
        }
    }

    /// Unlink `slot` from the index and its list, return its flow, and put the slot on the free list.
    fn remove_slot(&mut self, slot: u32, hash: u64) -> Flow<V> {
        if let Ok(entry) = self.index.find_entry(hash, |&i| i == slot) {
            entry.remove();
        }
        self.unlink(slot);
        let free_head = self.free_head;
        let old =
            core::mem::replace(&mut self.slots[slot as usize], Flow { prev: NIL, next: free_head, ..Flow::default() });
        self.free_head = slot;
        self.stats.active -= 1;
        old
    }

    /// Move `slot` to the front of its class list, re-classing a TCP flow that has closed.
    fn refresh(&mut self, slot: u32) {
        let f = &self.slots[slot as usize];
        let closed = f.tcp_close & SEEN_RST != 0
            || f.tcp_close & (SEEN_FIN_ORIG | SEEN_FIN_RESP) == (SEEN_FIN_ORIG | SEEN_FIN_RESP);
        let class = if closed { Class::Closed } else { f.class };
        if self.heads[f.class as usize] == slot && class == f.class {
            return;
        }
        self.unlink(slot);
        self.slots[slot as usize].class = class;
        self.link_front(slot);
    }

    fn link_front(&mut self, slot: u32) {
        let class = self.slots[slot as usize].class as usize;
        let old_head = self.heads[class];
        {
            let f = &mut self.slots[slot as usize];
            f.prev = NIL;
            f.next = old_head;
        }
        if let Some(h) = self.slots.get_mut(old_head as usize) {
            h.prev = slot;
        } else {
            self.tails[class] = slot;
        }
        self.heads[class] = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next, class) = {
            let f = &self.slots[slot as usize];
            (f.prev, f.next, f.class as usize)
        };
        match self.slots.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.heads[class] = next,
        }
        match self.slots.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tails[class] = prev,
        }
        let f = &mut self.slots[slot as usize];
        f.prev = NIL;
        f.next = NIL;
    }
}

/// The hasher for flow keys: foldhash (hashbrown's own default) with one seed per table, drawn
/// at random when the table is built, so every shard and thread agrees on a key's hash while an
/// outsider cannot aim packets at one bucket.
type KeyHasher = foldhash::fast::FixedState;

/// A fixed number of shards, each a mutex around a [`Shard`], each on its own cache lines
/// (`CachePadded`) so workers locking different shards do not share a line.
pub struct FlowTable<V> {
    shards: Box<[CachePadded<Mutex<Shard<V>>>]>,
    shard_shift: u32,
    hasher: KeyHasher,
    config: FlowTableConfig,
}

impl<V: Default> FlowTable<V> {
    /// A table with `config.capacity` flows split over `config.shards` shards.
    ///
    /// # Errors
    /// If the shard count is not a power of two, or the capacity is out of range.
    pub fn new(config: FlowTableConfig) -> Result<Self, FlowConfigError> {
        config.validate()?;
        let per_shard = config.capacity / config.shards;
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x7765_6972_u64);
        let hasher = KeyHasher::with_seed(seed);
        let shards = (0..config.shards)
            .map(|_| CachePadded::new(Mutex::new(Shard::new(per_shard, config.timeouts, hasher.clone()))))
            .collect();
        // Shard by the hash's high bits; hashbrown uses the low bits for the bucket and the top
        // 7 for its control byte, so take the bits just below those.
        let shard_shift = 57 - config.shards.trailing_zeros();
        Ok(FlowTable { shards, shard_shift, hasher, config })
    }

    /// The configuration the table was built with.
    pub fn config(&self) -> &FlowTableConfig {
        &self.config
    }

    /// The hash of a key; compute once per packet and pass it to [`FlowTable::shard_of`] and
    /// [`Shard::touch`].
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The shard index for a hash.
    #[inline]
    pub fn shard_of(&self, hash: u64) -> usize {
        ((hash >> self.shard_shift) as usize) & (self.shards.len() - 1)
    }

    /// Number of shards.
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Lock one shard.
    #[inline]
    pub fn lock(&self, shard: usize) -> MutexGuard<'_, Shard<V>> {
        self.shards[shard & (self.shards.len() - 1)].lock()
    }

    /// Sum of every shard's counters.
    pub fn stats(&self) -> ShardStats {
        let mut total = ShardStats::default();
        for s in self.shards.iter() {
            total.add(&s.lock().stats());
        }
        total
    }

    /// Expire idle flows in shard `shard` (modulo the shard count) only: a sweeper that visits
    /// one shard at a time holds one lock at a time, briefly.
    pub fn expire_shard(&self, shard: usize, now: u64, ended: &mut impl FnMut(Flow<V>, EndReason)) -> usize {
        self.lock(shard).expire(now, ended)
    }

    /// Expire idle flows in every shard.
    pub fn expire_all(&self, now: u64, ended: &mut impl FnMut(Flow<V>, EndReason)) -> usize {
        self.shards.iter().map(|s| s.lock().expire(now, ended)).sum()
    }

    /// End every flow in every shard.
    pub fn flush(&self, ended: &mut impl FnMut(Flow<V>, EndReason)) {
        for s in self.shards.iter() {
            s.lock().flush(ended);
        }
    }

    /// Bytes allocated by all shards (index and slabs).
    pub fn allocated_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().allocated_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    const S: u64 = 1_000_000_000;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, n))
    }

    fn table(capacity: usize) -> FlowTable<u32> {
        FlowTable::new(FlowTableConfig { shards: 1, capacity, timeouts: Timeouts::default() }).unwrap()
    }

    fn touch(
        t: &FlowTable<u32>,
        sport: u16,
        dport: u16,
        proto: u8,
        now: u64,
        flags: u8,
        ended: &mut Vec<(Flow<u32>, EndReason)>,
    ) -> (FlowDir, bool) {
        let (src, dst) = if sport < dport { (ip(1), ip(2)) } else { (ip(2), ip(1)) };
        let (key, dir) = FlowKey::new(src, sport, dst, dport, proto);
        let h = t.hash(&key);
        let mut shard = t.lock(t.shard_of(h));
        let seen = Seen { dir, now, wire_len: 100, tcp_flags: flags };
        let r = shard.touch(&key, h, seen, &mut |f, why| ended.push((f, why)));
        r.flow.value += 1;
        (r.dir, r.is_new)
    }

    #[test]
    fn credit_adds_counts_by_key_direction_and_moves_the_last_sight() {
        let t = table(16);
        let mut ended = Vec::new();
        // Opened by 198.18.0.2:2000, the higher endpoint: key direction 1 is the originator's.
        touch(&t, 2000, 1000, 17, 0, 0, &mut ended);
        let (key, _) = FlowKey::new(ip(2), 2000, ip(1), 1000, 17);
        let h = t.hash(&key);
        assert!(t.lock(0).credit(&key, h, [3, 5], [300, 500], 7 * S));
        let shard = t.lock(0);
        let f = shard.get(&key, h).unwrap();
        assert_eq!(f.packets, [1 + 5, 3], "originator first");
        assert_eq!(f.bytes, [100 + 500, 300]);
        assert_eq!(f.last_seen, 7 * S);
        drop(shard);
        // A stale sight never moves it back; an unknown flow is not credited.
        assert!(t.lock(0).credit(&key, h, [0, 0], [0, 0], S));
        assert_eq!(t.lock(0).get(&key, h).unwrap().last_seen, 7 * S);
        let (other, _) = FlowKey::new(ip(1), 1, ip(2), 2, 17);
        assert!(!t.lock(0).credit(&other, t.hash(&other), [1, 1], [1, 1], S));
        // Credited to 7 s, it outlives the UDP timeout counted from its packet at 0.
        let udp = Timeouts::default().udp_ns;
        assert_eq!(t.expire_all(udp + S, &mut |_, _| {}), 0);
        assert_eq!(t.expire_all(7 * S + udp + 1, &mut |_, _| {}), 1);
    }

    #[test]
    fn counts_both_directions_in_one_flow() {
        let t = table(16);
        let mut ended = Vec::new();
        assert_eq!(touch(&t, 1000, 2000, 17, 0, 0, &mut ended), (FlowDir::Originator, true));
        assert_eq!(touch(&t, 2000, 1000, 17, 1, 0, &mut ended), (FlowDir::Responder, false));
        assert_eq!(touch(&t, 1000, 2000, 17, 2, 0, &mut ended), (FlowDir::Originator, false));
        let mut n = 0;
        t.lock(0).for_each(|f| {
            n += 1;
            assert_eq!(f.packets, [2, 1]);
            assert_eq!(f.bytes, [200, 100]);
            assert_eq!(f.value, 3);
            assert_eq!(f.originator(), (ip(1), 1000));
        });
        assert_eq!(n, 1);
        assert!(ended.is_empty());
    }

    #[test]
    fn full_table_evicts_the_oldest_idle_flow_and_never_grows() {
        let t = table(4);
        let mut ended = Vec::new();
        for p in 0..4u16 {
            touch(&t, 1000 + p, 80, 6, u64::from(p), tcp_flags::SYN, &mut ended);
        }
        // Refresh the first flow so the second is now the oldest.
        touch(&t, 1000, 80, 6, 10, tcp_flags::ACK, &mut ended);
        touch(&t, 2000, 80, 17, 11, 0, &mut ended);
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Evicted);
        assert_eq!(ended[0].0.originator().1, 1001);
        let st = t.stats();
        assert_eq!((st.active, st.created, st.evicted), (4, 5, 1));
        assert_eq!(t.lock(0).slots.capacity(), 4);
    }

    #[test]
    fn idle_flows_expire_per_class() {
        let t = table(16);
        let mut ended = Vec::new();
        touch(&t, 1000, 53, 17, 0, 0, &mut ended);
        touch(&t, 1001, 80, 6, 0, tcp_flags::SYN, &mut ended);
        assert_eq!(t.expire_all(59 * S, &mut |f, r| ended.push((f, r))), 0);
        assert_eq!(t.expire_all(60 * S, &mut |f, r| ended.push((f, r))), 1);
        assert_eq!(ended[0].0.key.protocol(), 17);
        assert_eq!(t.expire_all(300 * S, &mut |f, r| ended.push((f, r))), 1);
        assert!(ended.iter().all(|(_, r)| *r == EndReason::Idle));
        assert_eq!(t.stats().expired, 2);
        assert_eq!(t.stats().active, 0);
    }

    #[test]
    fn rst_closes_and_a_new_syn_starts_a_new_flow() {
        let t = table(16);
        let mut ended = Vec::new();
        touch(&t, 1000, 80, 6, 0, tcp_flags::SYN, &mut ended);
        touch(&t, 80, 1000, 6, 1, tcp_flags::RST | tcp_flags::ACK, &mut ended);
        // A late ACK still belongs to the closed flow.
        assert_eq!(touch(&t, 1000, 80, 6, 2, tcp_flags::ACK, &mut ended), (FlowDir::Originator, false));
        // A new SYN on the same tuple ends the old flow and starts another.
        assert_eq!(touch(&t, 1000, 80, 6, 3, tcp_flags::SYN, &mut ended), (FlowDir::Originator, true));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].1, EndReason::Closed);
        assert_eq!(ended[0].0.packets, [2, 1]);
    }

    #[test]
    fn a_syn_ack_seen_before_its_syn_makes_the_other_end_the_originator() {
        let t = table(16);
        let mut ended = Vec::new();
        // The server's SYN-ACK overtakes the client's SYN (another NIC, queue or worker).
        assert_eq!(touch(&t, 80, 1000, 6, 0, tcp_flags::SYN | tcp_flags::ACK, &mut ended), (FlowDir::Responder, true));
        assert_eq!(touch(&t, 1000, 80, 6, 1, tcp_flags::SYN, &mut ended), (FlowDir::Originator, false));
        assert_eq!(touch(&t, 80, 1000, 6, 2, tcp_flags::ACK, &mut ended), (FlowDir::Responder, false));
        t.lock(0).for_each(|f| assert_eq!(f.originator().1, 1000, "the SYN's sender opened the flow"));
        // A UDP flow (no flags) and a mid-stream TCP pickup keep the first packet's sender.
        assert_eq!(touch(&t, 80, 1001, 6, 3, tcp_flags::ACK, &mut ended), (FlowDir::Originator, true));
        assert_eq!(touch(&t, 53, 1002, 17, 4, 0, &mut ended), (FlowDir::Originator, true));
        assert!(ended.is_empty());
    }

    #[test]
    fn a_syn_ack_on_a_closed_tuple_starts_a_new_flow() {
        let t = table(16);
        let mut ended = Vec::new();
        touch(&t, 1000, 80, 6, 0, tcp_flags::SYN, &mut ended);
        touch(&t, 80, 1000, 6, 1, tcp_flags::RST | tcp_flags::ACK, &mut ended);
        // The next connection's SYN-ACK arrives before its SYN.
        assert_eq!(touch(&t, 80, 1000, 6, 2, tcp_flags::SYN | tcp_flags::ACK, &mut ended), (FlowDir::Responder, true));
        assert_eq!(ended.len(), 1);
        assert_eq!(touch(&t, 1000, 80, 6, 3, tcp_flags::SYN, &mut ended), (FlowDir::Originator, false));
    }

    #[test]
    fn fin_from_both_sides_lingers_then_closes() {
        let t = table(16);
        let mut ended = Vec::new();
        touch(&t, 1000, 80, 6, 0, tcp_flags::SYN, &mut ended);
        touch(&t, 1000, 80, 6, S, tcp_flags::FIN | tcp_flags::ACK, &mut ended);
        touch(&t, 80, 1000, 6, S, tcp_flags::FIN | tcp_flags::ACK, &mut ended);
        t.lock(0).for_each(|f| assert!(f.is_closed()));
        assert_eq!(t.expire_all(10 * S, &mut |f, r| ended.push((f, r))), 0);
        assert_eq!(t.expire_all(11 * S, &mut |f, r| ended.push((f, r))), 1);
        assert_eq!(ended[0].1, EndReason::Closed);
        assert_eq!(t.stats().closed, 1);
    }

    #[test]
    fn one_shard_expires_alone_and_flows_are_found_by_key() {
        let t =
            FlowTable::<u32>::new(FlowTableConfig { shards: 4, capacity: 64, timeouts: Timeouts::default() }).unwrap();
        let mut ended = Vec::new();
        let mut keys = Vec::new();
        for p in 0..32u16 {
            let (key, dir) = FlowKey::new(ip(1), 1000 + p, ip(2), 53, 17);
            let h = t.hash(&key);
            t.lock(t.shard_of(h))
                .touch(&key, h, Seen { dir, now: 0, wire_len: 10, tcp_flags: 0 }, &mut |f, r| ended.push((f, r)));
            keys.push((key, h));
        }
        let (key, h) = keys[0];
        let shard = t.shard_of(h);
        assert_eq!(t.lock(shard).get(&key, h).map(|f| f.bytes), Some([10, 0]));
        let in_shard = keys.iter().filter(|(_, h)| t.shard_of(*h) == shard).count();
        assert_eq!(t.expire_shard(shard, 60 * S, &mut |f, r| ended.push((f, r))), in_shard);
        assert!(t.lock(shard).get(&key, h).is_none());
        assert_eq!(t.stats().active as usize, 32 - in_shard, "the other shards are untouched");
    }

    #[test]
    fn slots_are_reused_after_removal() {
        let t = table(2);
        let mut ended = Vec::new();
        for round in 0..100u64 {
            touch(&t, 1000 + (round % 7) as u16, 80, 17, round * 100 * S, 0, &mut ended);
            t.expire_all(round * 100 * S + 61 * S, &mut |f, r| ended.push((f, r)));
        }
        assert_eq!(ended.len(), 100);
        assert!(t.lock(0).slots.len() <= 2);
    }

    #[test]
    fn bad_configs_are_rejected() {
        let cfg = |shards, capacity| FlowTableConfig { shards, capacity, timeouts: Timeouts::default() };
        assert!(matches!(FlowTable::<u8>::new(cfg(3, 100)), Err(FlowConfigError::ShardsNotPowerOfTwo(3))));
        assert!(matches!(FlowTable::<u8>::new(cfg(0, 100)), Err(FlowConfigError::ShardsNotPowerOfTwo(0))));
        assert!(matches!(FlowTable::<u8>::new(cfg(8, 4)), Err(FlowConfigError::CapacityOutOfRange { .. })));
    }

    #[test]
    fn get_finds_a_flow_by_key_without_touching_it() {
        let t = table(16);
        let mut ended = Vec::new();
        touch(&t, 1000, 53, 17, 5, 0, &mut ended);
        let (key, _) = FlowKey::new(ip(2), 1000, ip(1), 53, 17);
        let shard = t.lock(t.shard_of(t.hash(&key)));
        let f = shard.get(&key, t.hash(&key)).unwrap();
        assert_eq!((f.packets, f.last_seen), ([1, 0], 5));
        let (other, _) = FlowKey::new(ip(2), 1001, ip(1), 53, 17);
        assert!(shard.get(&other, t.hash(&other)).is_none());
    }

    #[test]
    fn flush_ends_everything() {
        let t = table(16);
        let mut ended = Vec::new();
        for p in 0..5 {
            touch(&t, 1000 + p, 80, 6, 0, tcp_flags::SYN, &mut ended);
        }
        t.flush(&mut |f, r| ended.push((f, r)));
        assert_eq!(ended.len(), 5);
        assert!(ended.iter().all(|(_, r)| *r == EndReason::Flushed));
        assert_eq!(t.stats().active, 0);
    }
}
