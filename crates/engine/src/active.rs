//! Active timeouts: interim reports of flows that last long.
//!
//! A flow is reported when it ends ([`crate::FlowRecord`]); one that outlives the active timeout
//! is also reported while it runs ([`crate::ActiveRecord`]), once when it first passes the timeout
//! and again each timeout after, so collectors and the per-host counts see a long transfer as it
//! goes, not hours later. Every record carries the flow's totals and what earlier reports already
//! covered ([`Reported`]); the difference is the record's share, so the records of a flow add up
//! to its totals exactly.
//!
//! Cost: the flow entry (144 bytes, the memory budget) does not grow. The first report is
//! triggered on the packet path by one comparison, `now - first_seen >= timeout`, guarded by a
//! bit in the flow's state. The flow then gets an entry here, in a table shared by the engines
//! (what was reported, and when the next report is due), and its later reports come from a sweep
//! over the entries that are due; only flows that outlive the timeout cost memory here. The table
//! is bounded: a flow that finds it full is not reported until it ends (counted in
//! [`crate::EngineCounters::active_untracked`]), which delays its figures but loses none.
//!
//! Locking: this table's mutex is only ever taken while holding at most one flow-table shard
//! lock, never the other way round.

use core::cmp::Reverse;
use std::collections::BinaryHeap;
use weir_flow::FlowKey;

/// What earlier interim reports of a flow covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reported {
    /// Packets from the originator and from the responder.
    pub packets: [u64; 2],
    /// Wire bytes from the originator and from the responder.
    pub bytes: [u64; 2],
    /// When the last of them was made (ns); 0 if there was none.
    pub at: u64,
}

impl Reported {
    /// `totals` less what was reported, per direction (never below zero).
    pub fn since(&self, packets: [u64; 2], bytes: [u64; 2]) -> ([u64; 2], [u64; 2]) {
        (
            [packets[0].saturating_sub(self.packets[0]), packets[1].saturating_sub(self.packets[1])],
            [bytes[0].saturating_sub(self.bytes[0]), bytes[1].saturating_sub(self.bytes[1])],
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// The flow's first packet time, to tell it from a later flow with the same key.
    pub(crate) first_seen: u64,
    /// When the next report is due (ns).
    pub(crate) due: u64,
    pub(crate) reported: Reported,
}

/// Flows that have had an interim report: bounded, allocated in full the first time it is used.
#[derive(Debug)]
pub(crate) struct ActiveTable {
    capacity: usize,
    entries: hashbrown::HashMap<FlowKey, Entry, foldhash::fast::RandomState>,
    /// (due, key); may hold stale pairs of flows that ended or were rescheduled, which a sweep
    /// recognises and drops.
    due: BinaryHeap<Reverse<(u64, FlowKey)>>,
}

impl ActiveTable {
    pub(crate) fn new(capacity: usize) -> Self {
        ActiveTable {
            capacity,
            entries: hashbrown::HashMap::with_hasher(foldhash::fast::RandomState::default()),
            due: BinaryHeap::new(),
        }
    }

    fn reserve(&mut self) {
        if self.entries.capacity() < self.capacity {
            self.entries.reserve(self.capacity - self.entries.len());
            // Rescheduling leaves a stale pair behind until it comes due: room for one per entry.
            self.due.reserve((2 * self.capacity).saturating_sub(self.due.len()));
        }
    }

    /// Start tracking a flow; `false` if the table is full.
    pub(crate) fn insert(&mut self, key: FlowKey, entry: Entry) -> bool {
        if self.entries.len() >= self.capacity || self.due.len() >= 2 * self.capacity {
            return false;
        }
        self.reserve();
        self.due.push(Reverse((entry.due, key)));
        self.entries.insert(key, entry);
        true
    }

    /// Stop tracking the flow of `key` that began at `first_seen`; what had been reported.
    pub(crate) fn remove(&mut self, key: &FlowKey, first_seen: u64) -> Option<Reported> {
        match self.entries.get(key) {
            Some(e) if e.first_seen == first_seen => self.entries.remove(key).map(|e| e.reported),
            _ => None,
        }
    }

    /// Move up to `max` pairs due by `now` into `out`.
    pub(crate) fn take_due(&mut self, now: u64, max: usize, out: &mut Vec<(u64, FlowKey)>) {
        while out.len() < max {
            match self.due.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => return,
            }
            if let Some(Reverse(pair)) = self.due.pop() {
                out.push(pair);
            }
        }
    }

    /// The entry of `key`, if it is still the one scheduled at `due` for the flow that began at
    /// `first_seen`.
    pub(crate) fn current(&mut self, key: &FlowKey, due: u64, first_seen: u64) -> Option<&mut Entry> {
        self.entries.get_mut(key).filter(|e| e.due == due && e.first_seen == first_seen)
    }

    /// Schedule the entry of `key` again at `due`; `false` if there is no room (the flow is then
    /// not reported again until it ends).
    pub(crate) fn reschedule(&mut self, key: FlowKey, due: u64) -> bool {
        if self.due.len() >= 2 * self.capacity {
            return false;
        }
        match self.entries.get_mut(&key) {
            Some(e) => {
                e.due = due;
                self.due.push(Reverse((due, key)));
                true
            }
            None => false,
        }
    }

    /// Flows tracked now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    fn key(port: u16) -> FlowKey {
        let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        FlowKey::new(a, port, b, 80, 6).0
    }

    fn entry(first_seen: u64, due: u64) -> Entry {
        Entry { first_seen, due, reported: Reported::default() }
    }

    #[test]
    fn due_entries_come_out_in_time_order_up_to_the_limit() {
        let mut t = ActiveTable::new(8);
        assert!(t.insert(key(3), entry(0, 30)));
        assert!(t.insert(key(1), entry(0, 10)));
        assert!(t.insert(key(2), entry(0, 20)));
        let mut out = Vec::new();
        t.take_due(25, 1, &mut out);
        assert_eq!(out, [(10, key(1))]);
        t.take_due(25, 8, &mut out);
        assert_eq!(out, [(10, key(1)), (20, key(2))]);
        out.clear();
        t.take_due(29, 8, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_full_table_refuses_and_a_stale_pair_is_recognised() {
        let mut t = ActiveTable::new(1);
        assert!(t.insert(key(1), entry(5, 10)));
        assert!(!t.insert(key(2), entry(5, 10)));
        assert_eq!(t.len(), 1);
        // A later flow with the same key is not this entry.
        assert!(t.current(&key(1), 10, 6).is_none());
        assert!(t.remove(&key(1), 6).is_none());
        assert!(t.current(&key(1), 10, 5).is_some());
        assert!(t.reschedule(key(1), 20));
        // The old pair at 10 is now stale.
        assert!(t.current(&key(1), 10, 5).is_none());
        assert_eq!(t.remove(&key(1), 5), Some(Reported::default()));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn since_subtracts_per_direction() {
        let r = Reported { packets: [3, 1], bytes: [300, 60], at: 9 };
        assert_eq!(r.since([5, 1], [500, 60]), ([2, 0], [200, 0]));
        assert_eq!(r.since([0, 0], [0, 0]), ([0, 0], [0, 0]));
    }
}
