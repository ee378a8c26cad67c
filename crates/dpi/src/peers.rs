//! A bounded cache of BitTorrent peer endpoints.
//!
//! Encrypted BitTorrent (MSE) has no plaintext to match, but its endpoints are usually known from
//! elsewhere: the responder of a peer-wire handshake, both ends of uTP and DHT flows, compact peer
//! lists in tracker replies and DHT `get_peers` answers. The classifier learns them here and labels
//! an otherwise unrecognised flow to or from such an endpoint as BitTorrent (`Decision::PeerCache`).
//!
//! No clock: entries age by insertion order, and the oldest is evicted when the cache is full.
//! Re-learning an endpoint makes it the newest again.

use std::collections::VecDeque;

use crate::Endpoint;

/// Bounded cache of BitTorrent peer endpoints (ip, port). See the module docs.
#[derive(Clone, Debug)]
pub struct PeerCache {
    capacity: usize,
    /// Endpoint -> generation of its newest insertion.
    map: hashbrown::HashMap<Endpoint, u64>,
    /// Insertion order; entries whose generation no longer matches the map are stale.
    order: VecDeque<(Endpoint, u64)>,
    generation: u64,
    evictions: u64,
}

impl PeerCache {
    /// An empty cache holding at most `capacity` endpoints (0 disables learning).
    pub fn new(capacity: usize) -> Self {
        PeerCache {
            capacity,
            map: hashbrown::HashMap::with_capacity(capacity.min(1 << 20)),
            order: VecDeque::with_capacity((2 * capacity.max(8) + 1).min(1 << 21)),
            generation: 0,
            evictions: 0,
        }
    }

    /// Remembers `e` as a BitTorrent peer, evicting the oldest entry if the cache is full.
    pub fn learn(&mut self, e: Endpoint) {
        if self.capacity == 0 || e.port == 0 {
            return;
        }
        self.generation += 1;
        let generation = self.generation;
        if let Some(g) = self.map.get_mut(&e) {
            *g = generation;
        } else {
            while self.map.len() >= self.capacity {
                let Some((old, g)) = self.order.pop_front() else { break };
                if self.map.get(&old) == Some(&g) {
                    self.map.remove(&old);
                    self.evictions += 1;
                }
            }
            self.map.insert(e, generation);
        }
        self.order.push_back((e, generation));
        // Re-learning leaves stale entries behind; drop them before they outnumber live ones.
        if self.order.len() > 2 * self.capacity.max(8) {
            let map = &self.map;
            self.order.retain(|(ep, g)| map.get(ep) == Some(g));
        }
    }

    /// True if `e` is a known peer.
    pub fn contains(&self, e: &Endpoint) -> bool {
        self.map.contains_key(e)
    }

    /// Number of endpoints held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no endpoint is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many endpoints were evicted to make room since the cache was created.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    fn ep(n: u8) -> Endpoint {
        Endpoint { ip: IpAddr::V4(Ipv4Addr::new(198, 18, 0, n)), port: 6881 }
    }

    #[test]
    fn evicts_oldest_first() {
        let mut c = PeerCache::new(2);
        c.learn(ep(1));
        c.learn(ep(2));
        c.learn(ep(3));
        assert!(!c.contains(&ep(1)));
        assert!(c.contains(&ep(2)) && c.contains(&ep(3)));
        assert_eq!(c.len(), 2);
        assert_eq!(c.evictions(), 1);
    }

    #[test]
    fn relearning_refreshes_age() {
        let mut c = PeerCache::new(2);
        c.learn(ep(1));
        c.learn(ep(2));
        c.learn(ep(1));
        c.learn(ep(3));
        assert!(c.contains(&ep(1)), "refreshed entry survives");
        assert!(!c.contains(&ep(2)));
        assert_eq!(c.evictions(), 1);
    }

    #[test]
    fn stays_bounded_under_churn() {
        let mut c = PeerCache::new(16);
        for i in 0..10_000u32 {
            c.learn(ep((i % 40) as u8));
            assert!(c.len() <= 16);
            assert!(c.order.len() <= 2 * 16 + 1);
        }
        assert!(c.evictions() > 0);
    }

    #[test]
    fn zero_capacity_learns_nothing() {
        let mut c = PeerCache::new(0);
        c.learn(ep(1));
        assert!(c.is_empty());
    }
}
