//! The symmetric flow key.
//!
//! Both directions of a conversation give the same [`FlowKey`]: the two endpoints are stored in a
//! canonical order (the lower `(address, port)` first), and the direction of one packet is a bit
//! beside the key ([`KeyDir`]), not part of it. Hashing the key is therefore symmetric by
//! construction, which is what lets both directions land in the same shard.

use core::net::IpAddr;

/// A flow's identity: IP version, transport protocol and the two endpoints in canonical order.
///
/// IPv4 addresses are stored as IPv4-mapped IPv6 addresses so one fixed-size key serves both
/// families; `v6` keeps a v4 flow and a v4-mapped v6 flow apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct FlowKey {
    lo_addr: [u8; 16],
    hi_addr: [u8; 16],
    lo_port: u16,
    hi_port: u16,
    protocol: u8,
    v6: bool,
}

/// Which way one packet travels relative to its key's canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyDir {
    /// From the lower endpoint to the higher one.
    #[default]
    LoToHi,
    /// From the higher endpoint to the lower one.
    HiToLo,
}

fn octets(ip: IpAddr) -> ([u8; 16], bool) {
    match ip {
        IpAddr::V4(v4) => (v4.to_ipv6_mapped().octets(), false),
        IpAddr::V6(v6) => (v6.octets(), true),
    }
}

#[inline]
fn addr(octets: [u8; 16], v6: bool) -> IpAddr {
    // An IPv4 key holds its address v4-mapped (`octets`): the last four bytes, no IPv6 value
    // built and taken apart again. (A default key, all zeros, stays `::` as before.)
    match octets {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] if !v6 => {
            IpAddr::V4(core::net::Ipv4Addr::new(a, b, c, d))
        }
        _ => IpAddr::V6(core::net::Ipv6Addr::from(octets)),
    }
}

impl FlowKey {
    /// The key of a packet from `src:src_port` to `dst:dst_port` over IP protocol `protocol`,
    /// and which way the packet goes relative to it. Ports are 0 for protocols without ports.
    #[inline]
    pub fn new(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16, protocol: u8) -> (Self, KeyDir) {
        let (s, v6) = octets(src);
        let (d, _) = octets(dst);
        if (s, src_port) <= (d, dst_port) {
            let key = FlowKey { lo_addr: s, hi_addr: d, lo_port: src_port, hi_port: dst_port, protocol, v6 };
            (key, KeyDir::LoToHi)
        } else {
            let key = FlowKey { lo_addr: d, hi_addr: s, lo_port: dst_port, hi_port: src_port, protocol, v6 };
            (key, KeyDir::HiToLo)
        }
    }

    /// The key's fields: (lower address, higher address, lower port, higher port, protocol,
    /// IPv6), addresses as IPv6 (IPv4-mapped for IPv4). For a kernel fast path that keys
    /// flows the same way.
    pub fn parts(&self) -> ([u8; 16], [u8; 16], u16, u16, u8, bool) {
        (self.lo_addr, self.hi_addr, self.lo_port, self.hi_port, self.protocol, self.v6)
    }

    /// The key of [`FlowKey::parts`]; `None` if the endpoints are not in canonical order.
    pub fn from_parts(
        lo_addr: [u8; 16],
        hi_addr: [u8; 16],
        lo_port: u16,
        hi_port: u16,
        protocol: u8,
        v6: bool,
    ) -> Option<Self> {
        ((lo_addr, lo_port) <= (hi_addr, hi_port)).then_some(FlowKey {
            lo_addr,
            hi_addr,
            lo_port,
            hi_port,
            protocol,
            v6,
        })
    }

    /// The IP protocol number (6 TCP, 17 UDP, ...).
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The sending endpoint of a packet travelling `dir`.
    #[inline]
    pub fn source(&self, dir: KeyDir) -> (IpAddr, u16) {
        match dir {
            KeyDir::LoToHi => (addr(self.lo_addr, self.v6), self.lo_port),
            KeyDir::HiToLo => (addr(self.hi_addr, self.v6), self.hi_port),
        }
    }

    /// The receiving endpoint of a packet travelling `dir`.
    pub fn destination(&self, dir: KeyDir) -> (IpAddr, u16) {
        self.source(dir.reverse())
    }
}

impl KeyDir {
    /// The other direction.
    pub fn reverse(self) -> KeyDir {
        match self {
            KeyDir::LoToHi => KeyDir::HiToLo,
            KeyDir::HiToLo => KeyDir::LoToHi,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn both_directions_give_one_key() {
        let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        let (k1, d1) = FlowKey::new(a, 40000, b, 80, 6);
        let (k2, d2) = FlowKey::new(b, 80, a, 40000, 6);
        assert_eq!(k1, k2);
        assert_eq!(d1, d2.reverse());
        assert_eq!(k1.source(d1), (a, 40000));
        assert_eq!(k1.destination(d1), (b, 80));
        use core::hash::BuildHasher;
        let bh = hashbrown::DefaultHashBuilder::default();
        assert_eq!(bh.hash_one(k1), bh.hash_one(k2));
    }

    #[test]
    fn same_address_different_ports_is_ordered_by_port() {
        let a = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let (k1, d1) = FlowKey::new(a, 9000, a, 80, 17);
        let (k2, _) = FlowKey::new(a, 80, a, 9000, 17);
        assert_eq!(k1, k2);
        assert_eq!(d1, KeyDir::HiToLo);
        assert_eq!(k1.source(d1), (a, 9000));
    }

    #[test]
    fn v4_and_v4_mapped_v6_stay_apart() {
        let v4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(198, 18, 0, 1).to_ipv6_mapped());
        let (k4, _) = FlowKey::new(v4, 1, v4, 2, 17);
        let (k6, _) = FlowKey::new(mapped, 1, mapped, 2, 17);
        assert_ne!(k4, k6);
        assert_eq!(k4.source(KeyDir::LoToHi).0, v4);
        assert_eq!(k6.source(KeyDir::LoToHi).0, mapped);
    }
}
