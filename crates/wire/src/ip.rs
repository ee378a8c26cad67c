//! IP protocol numbers (IANA "Assigned Internet Protocol Numbers") and fragment information,
//! shared by IPv4 and IPv6.

enum_with_unknown! {
    /// IPv4 protocol / IPv6 next-header number.
    pub enum IpProtocol(u8) {
        /// IPv6 hop-by-hop options (0).
        HopByHop = 0,
        /// ICMP for IPv4 (1).
        Icmp = 1,
        /// IPv4 encapsulated in IP, "IP-in-IP" (4, RFC 2003).
        Ipv4 = 4,
        /// TCP (6).
        Tcp = 6,
        /// UDP (17).
        Udp = 17,
        /// IPv6 encapsulated in IP: 6in4 and 6in6 (41, RFC 4213, RFC 2473).
        Ipv6 = 41,
        /// IPv6 routing header (43).
        Ipv6Route = 43,
        /// IPv6 fragment header (44).
        Ipv6Frag = 44,
        /// Encapsulating security payload (50).
        Esp = 50,
        /// Generic Routing Encapsulation (47, RFC 2784).
        Gre = 47,
        /// Authentication header (51).
        Ah = 51,
        /// ICMP for IPv6 (58).
        Icmpv6 = 58,
        /// IPv6 "no next header" (59).
        Ipv6NoNxt = 59,
        /// IPv6 destination options (60).
        Ipv6Opts = 60,
    }
}

/// Fragment information from the IPv4 header or the IPv6 fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Identification (IPv4's 16 bits widened, or IPv6's 32).
    pub id: u32,
    /// Offset in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

impl Fragment {
    /// True for a fragment that is the whole datagram: offset 0 and no more to come (an IPv6
    /// atomic fragment).
    pub const fn is_whole(&self) -> bool {
        self.offset == 0 && !self.more
    }
}

impl IpProtocol {
    /// True for the IPv6 extension headers that `parse_frame` walks: hop-by-hop, routing,
    /// fragment, destination options and AH.
    pub fn is_ipv6_extension_header(self) -> bool {
        // Normalise first: a hand-built `Unknown(44)` must behave like `Ipv6Frag`.
        matches!(
            IpProtocol::from(u8::from(self)),
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Frag | IpProtocol::Ipv6Opts | IpProtocol::Ah
        )
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn round_trips_every_number() {
        for n in 0..=u8::MAX {
            assert_eq!(u8::from(IpProtocol::from(n)), n);
        }
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
        assert_eq!(IpProtocol::from(200), IpProtocol::Unknown(200));
    }

    #[test]
    fn unknown_equals_named_variant_of_same_number() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        assert_eq!(IpProtocol::Unknown(17), IpProtocol::Udp);
        let h = |p: IpProtocol| {
            let mut s = DefaultHasher::new();
            p.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(IpProtocol::Unknown(17)), h(IpProtocol::Udp));
        assert!(IpProtocol::Tcp < IpProtocol::Udp);
    }

    #[test]
    fn extension_headers() {
        assert!(IpProtocol::Ipv6Frag.is_ipv6_extension_header());
        assert!(IpProtocol::Unknown(60).is_ipv6_extension_header());
        assert!(!IpProtocol::Tcp.is_ipv6_extension_header());
        assert!(!IpProtocol::Esp.is_ipv6_extension_header());
    }
}
