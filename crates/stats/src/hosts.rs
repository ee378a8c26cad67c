//! Which inside hosts carry the bytes: a bounded table of the heaviest (host, protocol) pairs,
//! with bytes per direction, kept per worker and merged by the stats thread.
//!
//! # Algorithm and error bound
//!
//! [`HostTopK`] is the Space-Saving summary (Metwally, Agrawal and El Abbadi, 2005) with weights:
//! at most `capacity` entries, each a (host, protocol) key with the bytes it was given since it
//! entered the table, per direction, and an `error`. An update of a key in the table adds to it;
//! a key not in the table, when the table is full, replaces the entry with the smallest count and
//! inherits that count as its `error` (its true count may have been that much, unseen). So, with
//! `N` the bytes the table was given in all:
//!
//! - a key's `bytes` are exact lower bounds (bytes it certainly carried), and its true total is at
//!   most `bytes + error`, with `error <= N / capacity`;
//! - every key whose true total is above `N / capacity` is in the table.
//!
//! Merging the tables of several workers ([`merge`]) adds the bytes and errors of a key, and for
//! each full table that does not hold the key, that table's smallest count (the most the key can
//! have carried there unseen); the merged error is at most `N / capacity` again, `N` now summed
//! over the workers.
//!
//! The table is a binary min-heap by count with a hash index into it: an update is one hash
//! lookup and a sift of `O(log capacity)` entries. Its memory is allocated when it is built; it
//! never allocates afterwards. Host addresses come from the network, so the index hashes with a
//! random seed.

use crate::record::{HostProtocolStats, HostStats};
use core::net::IpAddr;
use hashbrown::HashMap;
use std::collections::BTreeMap;

/// One (host, protocol) key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostKey {
    /// The inside host.
    pub host: IpAddr,
    /// The protocol id (an index into the classifier's registry).
    pub protocol: u16,
}

/// One entry of a [`HostTopK`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostEntry {
    /// The key.
    pub key: HostKey,
    /// Bytes counted since the key entered the table: outbound (from the host), inbound (to it).
    pub bytes: [u64; 2],
    /// The count inherited when the key entered a full table: its true total is at most
    /// `bytes[0] + bytes[1] + error`.
    pub error: u64,
}

impl HostEntry {
    /// The Space-Saving count: bytes plus error.
    pub fn count(&self) -> u64 {
        self.bytes[0].saturating_add(self.bytes[1]).saturating_add(self.error)
    }
}

type Index = HashMap<HostKey, u32, foldhash::fast::RandomState>;

/// A bounded table of the heaviest (host, protocol) keys. See the module documentation.
#[derive(Clone, Debug)]
pub struct HostTopK {
    capacity: usize,
    /// A min-heap by [`HostEntry::count`].
    heap: Vec<HostEntry>,
    index: Index,
    accounted: u64,
}

impl Default for HostTopK {
    fn default() -> Self {
        HostTopK::new(0)
    }
}

impl HostTopK {
    /// A table of at most `capacity` keys (0: a table that keeps nothing).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(u32::MAX as usize);
        HostTopK {
            capacity,
            heap: Vec::with_capacity(capacity),
            index: Index::with_capacity_and_hasher(capacity, foldhash::fast::RandomState::default()),
            accounted: 0,
        }
    }

    /// Most keys held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// All bytes given to the table (`N` of the error bound).
    pub fn accounted(&self) -> u64 {
        self.accounted
    }

    /// The smallest count in a full table (the most a key not in it can have carried here);
    /// 0 while the table has room, since then every key given is in it.
    pub fn min_count(&self) -> u64 {
        if self.heap.len() < self.capacity { 0 } else { self.heap.first().map_or(0, HostEntry::count) }
    }

    /// The bound on every entry's error: `accounted / capacity`.
    pub fn error_bound(&self) -> u64 {
        if self.capacity == 0 { 0 } else { self.accounted / self.capacity as u64 }
    }

    /// The entries, in no particular order.
    pub fn entries(&self) -> &[HostEntry] {
        &self.heap
    }

    /// Forget everything (keeps the memory).
    pub fn clear(&mut self) {
        self.heap.clear();
        self.index.clear();
        self.accounted = 0;
    }

    /// Replace this table's contents with `other`'s, reusing this table's memory when the
    /// capacities agree (how a worker publishes its table to the stats thread).
    pub fn copy_from(&mut self, other: &HostTopK) {
        if self.capacity != other.capacity {
            *self = other.clone();
            return;
        }
        self.heap.clear();
        self.heap.extend_from_slice(&other.heap);
        self.index.clear();
        self.index.extend(other.index.iter().map(|(k, v)| (*k, *v)));
        self.accounted = other.accounted;
    }

    /// Count `bytes` (outbound, inbound) for `host` and `protocol`.
    pub fn add(&mut self, host: IpAddr, protocol: u16, bytes: [u64; 2]) {
        let weight = bytes[0].saturating_add(bytes[1]);
        if weight == 0 || self.capacity == 0 {
            return;
        }
        self.accounted = self.accounted.saturating_add(weight);
        let key = HostKey { host, protocol };
        if let Some(&at) = self.index.get(&key) {
            let at = at as usize;
            if let Some(e) = self.heap.get_mut(at) {
                e.bytes[0] = e.bytes[0].saturating_add(bytes[0]);
                e.bytes[1] = e.bytes[1].saturating_add(bytes[1]);
            }
            self.sift_down(at);
        } else if self.heap.len() < self.capacity {
            let at = self.heap.len();
            self.heap.push(HostEntry { key, bytes, error: 0 });
            self.index.insert(key, at as u32);
            self.sift_up(at);
        } else if let Some(min) = self.heap.first().copied() {
            self.index.remove(&min.key);
            self.heap[0] = HostEntry { key, bytes, error: min.count() };
            self.index.insert(key, 0);
            self.sift_down(0);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        for i in [a, b] {
            if let Some(e) = self.heap.get(i)
                && let Some(slot) = self.index.get_mut(&e.key)
            {
                *slot = i as u32;
            }
        }
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if self.heap[parent].count() <= self.heap[at].count() {
                break;
            }
            self.swap(parent, at);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if l < n && self.heap[l].count() < self.heap[least].count() {
                least = l;
            }
            if r < n && self.heap[r].count() < self.heap[least].count() {
                least = r;
            }
            if least == at {
                return;
            }
            self.swap(at, least);
            at = least;
        }
    }
}

/// The tables of several workers as one list of entries (unordered). For a key, the bytes and
/// errors of the tables that hold it are added, and so is the [`HostTopK::min_count`] of each
/// table that does not.
pub fn merge<'a>(tables: impl IntoIterator<Item = &'a HostTopK>) -> Vec<HostEntry> {
    let tables: Vec<&HostTopK> = tables.into_iter().collect();
    let mut merged: BTreeMap<HostKey, (HostEntry, usize)> = BTreeMap::new();
    for t in &tables {
        for e in t.entries() {
            let m = merged.entry(e.key).or_insert((HostEntry { key: e.key, bytes: [0, 0], error: 0 }, 0));
            m.0.bytes[0] = m.0.bytes[0].saturating_add(e.bytes[0]);
            m.0.bytes[1] = m.0.bytes[1].saturating_add(e.bytes[1]);
            m.0.error = m.0.error.saturating_add(e.error);
            m.1 += 1;
        }
    }
    let missing_total: u64 = tables.iter().map(|t| t.min_count()).fold(0, u64::saturating_add);
    merged
        .into_values()
        .map(|(mut e, _)| {
            // Tables holding the key contributed their own error; the others their min count.
            let held_min: u64 =
                tables.iter().filter(|t| t.index.contains_key(&e.key)).map(|t| t.min_count()).sum::<u64>();
            e.error = e.error.saturating_add(missing_total.saturating_sub(held_min));
            e
        })
        .collect()
}

/// Which hosts a host list keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSelection {
    /// The hosts with the most bytes, both directions, all protocols.
    pub by_bytes: usize,
    /// Also the hosts with the most peer-to-peer bytes (category `p2p`), if not among those.
    pub by_p2p: usize,
}

/// Per-host figures from merged entries: each host with its protocols, its totals and its
/// peer-to-peer totals; `protocol` gives a protocol id's (name, category). Keeps the hosts
/// `select` asks for, ordered by bytes (both directions), largest first; ties by address.
pub fn host_stats(
    entries: &[HostEntry],
    protocol: &dyn Fn(u16) -> (String, String),
    select: HostSelection,
) -> Vec<HostStats> {
    let mut by_host: BTreeMap<IpAddr, HostStats> = BTreeMap::new();
    for e in entries {
        let (name, category) = protocol(e.key.protocol);
        let h = by_host
            .entry(e.key.host)
            .or_insert_with(|| HostStats { host: e.key.host.to_string(), ..Default::default() });
        h.bytes_out = h.bytes_out.saturating_add(e.bytes[0]);
        h.bytes_in = h.bytes_in.saturating_add(e.bytes[1]);
        if category == "p2p" {
            h.p2p_bytes_out = h.p2p_bytes_out.saturating_add(e.bytes[0]);
            h.p2p_bytes_in = h.p2p_bytes_in.saturating_add(e.bytes[1]);
        }
        h.error_bytes = h.error_bytes.saturating_add(e.error);
        let p = h.protocols.entry(name).or_insert_with(|| HostProtocolStats { category, ..Default::default() });
        p.bytes_out = p.bytes_out.saturating_add(e.bytes[0]);
        p.bytes_in = p.bytes_in.saturating_add(e.bytes[1]);
        p.error_bytes = p.error_bytes.saturating_add(e.error);
    }
    let mut hosts: Vec<(IpAddr, HostStats)> = by_host.into_iter().collect();
    let total = |h: &HostStats| h.bytes_out.saturating_add(h.bytes_in);
    let p2p = |h: &HostStats| h.p2p_bytes_out.saturating_add(h.p2p_bytes_in);
    hosts.sort_by(|a, b| p2p(&b.1).cmp(&p2p(&a.1)).then(a.0.cmp(&b.0)));
    let mut keep: std::collections::BTreeSet<IpAddr> =
        hosts.iter().filter(|(_, h)| p2p(h) > 0).take(select.by_p2p).map(|(a, _)| *a).collect();
    hosts.sort_by(|a, b| total(&b.1).cmp(&total(&a.1)).then(a.0.cmp(&b.0)));
    keep.extend(hosts.iter().take(select.by_bytes).map(|(a, _)| *a));
    hosts.into_iter().filter(|(a, _)| keep.contains(a)).map(|(_, h)| h).collect()
}

/// Prometheus text for the hosts of a record: `weir_host_bytes_total{host, protocol, category,
/// direction}`. Only the hosts the record holds (the top few, by bytes and by peer-to-peer bytes)
/// appear, so the number of series stays bounded. A host that leaves the tracked set and comes
/// back starts again from zero, which Prometheus reads as a counter reset.
pub fn prometheus(hosts: &[HostStats]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    if hosts.is_empty() {
        return o;
    }
    let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let name = "weir_host_bytes_total";
    let _ = writeln!(
        o,
        "# HELP {name} Wire bytes of the inside hosts with the most traffic, per protocol and direction (top hosts only).\n# TYPE {name} counter"
    );
    for h in hosts {
        for (proto, p) in &h.protocols {
            for (dir, v) in [("outbound", p.bytes_out), ("inbound", p.bytes_in)] {
                let _ = writeln!(
                    o,
                    "{name}{{host=\"{}\",protocol=\"{}\",category=\"{}\",direction=\"{dir}\"}} {v}",
                    esc(&h.host),
                    esc(proto),
                    esc(&p.category)
                );
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use proptest::prelude::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 + n))
    }

    fn check_heap(t: &HostTopK) {
        for (i, e) in t.heap.iter().enumerate() {
            assert_eq!(t.index.get(&e.key), Some(&(i as u32)), "index of {:?}", e.key);
            if i > 0 {
                assert!(t.heap[(i - 1) / 2].count() <= e.count(), "heap order at {i}");
            }
        }
        assert_eq!(t.index.len(), t.heap.len());
    }

    #[test]
    fn exact_while_there_is_room() {
        let mut t = HostTopK::new(8);
        t.add(ip(1), 1, [100, 10]);
        t.add(ip(1), 1, [5, 5]);
        t.add(ip(1), 7, [0, 30]);
        t.add(ip(2), 1, [1, 0]);
        t.add(ip(3), 1, [0, 0]);
        check_heap(&t);
        assert_eq!(t.len(), 3);
        assert_eq!(t.accounted(), 151);
        assert_eq!(t.min_count(), 0);
        let e = t.entries().iter().find(|e| e.key == HostKey { host: ip(1), protocol: 1 }).unwrap();
        assert_eq!((e.bytes, e.error), ([105, 15], 0));
    }

    #[test]
    fn a_full_table_replaces_its_smallest_entry_and_inherits_its_count() {
        let mut t = HostTopK::new(2);
        t.add(ip(1), 0, [1000, 0]);
        t.add(ip(2), 0, [10, 0]);
        t.add(ip(3), 0, [0, 5]);
        check_heap(&t);
        assert_eq!(t.len(), 2);
        let new = t.entries().iter().find(|e| e.key.host == ip(3)).unwrap();
        assert_eq!((new.bytes, new.error, new.count()), ([0, 5], 10, 15));
        assert!(t.entries().iter().all(|e| e.key.host != ip(2)));
        assert_eq!(t.min_count(), 15);
        // The heavy key stays.
        assert!(t.entries().iter().any(|e| e.key.host == ip(1) && e.bytes == [1000, 0]));
    }

    #[test]
    fn a_table_of_capacity_zero_keeps_nothing() {
        let mut t = HostTopK::new(0);
        t.add(ip(1), 0, [1, 1]);
        assert!(t.is_empty());
        assert_eq!((t.accounted(), t.error_bound(), t.min_count()), (0, 0, 0));
    }

    #[test]
    fn copy_from_reuses_memory_and_equals_the_source() {
        let mut a = HostTopK::new(4);
        for i in 0..10 {
            a.add(ip(i), 0, [u64::from(i) * 10, 1]);
        }
        let mut b = HostTopK::new(4);
        b.add(ip(99), 0, [5, 5]);
        b.copy_from(&a);
        check_heap(&b);
        assert_eq!(b.entries(), a.entries());
        assert_eq!(b.accounted(), a.accounted());
        let mut c = HostTopK::new(1);
        c.copy_from(&a);
        assert_eq!(c.capacity(), 4);
        assert_eq!(c.entries(), a.entries());
    }

    #[test]
    fn merging_adds_bytes_and_charges_absent_tables_their_minimum() {
        let mut a = HostTopK::new(2);
        a.add(ip(1), 0, [100, 0]);
        a.add(ip(2), 0, [50, 0]);
        a.add(ip(3), 0, [10, 0]); // replaces ip(2): error 50, count 60
        let mut b = HostTopK::new(4);
        b.add(ip(1), 0, [0, 7]);
        let merged = merge([&a, &b]);
        let get = |h| merged.iter().find(|e| e.key.host == ip(h)).copied().unwrap();
        assert_eq!((get(1).bytes, get(1).error), ([100, 7], 0));
        // ip(3): held by a (error 50); b is not full, so it adds nothing.
        assert_eq!((get(3).bytes, get(3).error), ([10, 0], 50));
        // A key only in b would be charged a's minimum (60).
        b.add(ip(4), 0, [1, 0]);
        let merged = merge([&a, &b]);
        let e = merged.iter().find(|e| e.key.host == ip(4)).unwrap();
        assert_eq!(e.error, a.min_count());
        assert_eq!(a.min_count(), 60);
    }

    #[test]
    fn host_stats_group_by_host_and_pick_the_heaviest_and_the_p2p_hosts() {
        let mut t = HostTopK::new(16);
        t.add(ip(1), 1, [500, 100]); // bittorrent
        t.add(ip(1), 7, [10, 900]); // http
        t.add(ip(2), 7, [0, 5000]);
        t.add(ip(3), 3, [20, 0]); // edonkey, small
        t.add(ip(4), 7, [1, 1]);
        let names = |id: u16| match id {
            1 => ("bittorrent".to_string(), "p2p".to_string()),
            3 => ("edonkey".to_string(), "p2p".to_string()),
            _ => ("http".to_string(), "web".to_string()),
        };
        let hosts = host_stats(&merge([&t]), &names, HostSelection { by_bytes: 2, by_p2p: 2 });
        let order: Vec<&str> = hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(order, ["198.18.0.2", "198.18.0.1", "198.18.0.3"]);
        let h1 = &hosts[1];
        assert_eq!((h1.bytes_out, h1.bytes_in, h1.p2p_bytes_out, h1.p2p_bytes_in), (510, 1000, 500, 100));
        assert_eq!(h1.protocols["bittorrent"].bytes_out, 500);
        assert_eq!(h1.protocols["http"].category, "web");
        assert_eq!(hosts[2].p2p_bytes_out, 20);
    }

    #[test]
    fn prometheus_lists_each_host_protocol_and_direction() {
        let mut h = HostStats { host: "198.18.0.1".into(), ..Default::default() };
        h.protocols.insert(
            "bittorrent".into(),
            HostProtocolStats { category: "p2p".into(), bytes_out: 5, bytes_in: 7, error_bytes: 0 },
        );
        let text = prometheus(&[h]);
        assert!(text.starts_with("# HELP weir_host_bytes_total "), "{text}");
        assert!(text.contains("# TYPE weir_host_bytes_total counter\n"));
        assert!(text.contains(
            "weir_host_bytes_total{host=\"198.18.0.1\",protocol=\"bittorrent\",category=\"p2p\",direction=\"outbound\"} 5\n"
        ));
        assert!(text.contains("direction=\"inbound\"} 7\n"));
        assert_eq!(prometheus(&[]), "");
    }

    proptest! {
        /// The Space-Saving guarantees, against exact counts: every reported figure is a lower
        /// bound, `bytes + error` an upper bound, the error at most N/k, and every key heavier
        /// than N/k is held.
        #[test]
        fn space_saving_bounds_hold(updates in proptest::collection::vec((0u32..40, 0u16..3, 0u64..2000, 0u64..2000), 1..400),
                                   capacity in 1usize..24) {
            let mut t = HostTopK::new(capacity);
            let mut exact: BTreeMap<HostKey, u64> = BTreeMap::new();
            for &(h, p, o, i) in &updates {
                t.add(ip(h), p, [o, i]);
                *exact.entry(HostKey { host: ip(h), protocol: p }).or_default() += o + i;
            }
            check_heap(&t);
            let n: u64 = exact.values().sum();
            prop_assert_eq!(t.accounted(), n);
            let bound = n / capacity as u64;
            for e in t.entries() {
                let truth = exact[&e.key];
                prop_assert!(e.bytes[0] + e.bytes[1] <= truth);
                prop_assert!(truth <= e.count());
                prop_assert!(e.error <= bound);
            }
            for (k, &truth) in &exact {
                if truth > bound {
                    prop_assert!(t.entries().iter().any(|e| e.key == *k), "{:?} ({} > {}) missing", k, truth, bound);
                }
            }
        }

        /// Merged tables keep the same guarantees over the summed stream.
        #[test]
        fn merged_bounds_hold(updates in proptest::collection::vec((0u8..3, 0u32..30, 0u64..1000), 1..300), capacity in 1usize..12) {
            let mut tables = [HostTopK::new(capacity), HostTopK::new(capacity), HostTopK::new(capacity)];
            let mut exact: BTreeMap<HostKey, u64> = BTreeMap::new();
            for &(w, h, b) in &updates {
                tables[usize::from(w)].add(ip(h), 0, [b, 0]);
                *exact.entry(HostKey { host: ip(h), protocol: 0 }).or_default() += b;
            }
            let n: u64 = exact.values().sum();
            for e in merge(tables.iter()) {
                let truth = exact[&e.key];
                prop_assert!(e.bytes[0] <= truth);
                prop_assert!(truth <= e.count(), "{:?}: truth {} > count {}", e.key, truth, e.count());
                prop_assert!(e.error <= n / capacity as u64 + 1);
            }
        }
    }
}
