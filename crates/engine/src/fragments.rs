//! A small direct-mapped cache from IP fragment identity to the ports its first fragment carried.
//!
//! Fixed size, allocated once, no allocation per packet: a colliding entry simply replaces the
//! old one (whose later fragments then count as unmatched). Good enough for the rare fragmented
//! datagram on an inline link; a reassembler would cost memory an attacker could claim.

use core::hash::BuildHasher;
use core::net::IpAddr;

const SLOTS: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FragId {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

pub(crate) struct FragmentCache {
    slots: Box<[Option<(FragId, u16, u16)>]>,
    hasher: foldhash::fast::FixedState,
}

impl FragmentCache {
    pub(crate) fn new() -> Self {
        FragmentCache {
            slots: vec![None; SLOTS].into_boxed_slice(),
            hasher: foldhash::fast::FixedState::with_seed(0x66726167),
        }
    }

    fn slot(&self, id: &FragId) -> usize {
        (self.hasher.hash_one(id) as usize) & (SLOTS - 1)
    }

    pub(crate) fn remember(&mut self, src: IpAddr, dst: IpAddr, id: u32, proto: u8, sport: u16, dport: u16) {
        let key = FragId { src, dst, id, proto };
        let i = self.slot(&key);
        if let Some(s) = self.slots.get_mut(i) {
            *s = Some((key, sport, dport));
        }
    }

    pub(crate) fn lookup(&self, src: IpAddr, dst: IpAddr, id: u32, proto: u8) -> Option<(u16, u16)> {
        let key = FragId { src, dst, id, proto };
        match self.slots.get(self.slot(&key)) {
            Some(Some((k, s, d))) if *k == key => Some((*s, *d)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    #[test]
    fn later_fragments_find_the_first_fragments_ports() {
        let mut c = FragmentCache::new();
        let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        c.remember(a, b, 77, 17, 5353, 53);
        assert_eq!(c.lookup(a, b, 77, 17), Some((5353, 53)));
        assert_eq!(c.lookup(a, b, 78, 17), None);
        assert_eq!(c.lookup(b, a, 77, 17), None);
    }
}
