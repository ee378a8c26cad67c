//! Internet checksum helpers: the RFC 1071 one's-complement sum, TCP/UDP/ICMPv6 pseudo-headers,
//! and the RFC 1624 incremental update used when rewriting one field (DSCP, a port) in place.
//!
//! Sums are kept folded to 16 bits and *not* complemented; [`checksum`] complements. A header
//! whose checksum field is correct sums (with [`data`]) to `0xffff`.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ip::IpProtocol;

/// Folds a wide one's-complement accumulator down to 16 bits (end-around carry).
#[inline]
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop ends with sum <= 0xffff.
    sum as u16
}

/// One's-complement sum of `data` read as big-endian 16-bit words, folded, not complemented.
/// An odd trailing byte is padded with a zero byte (RFC 1071). Works for any length.
pub fn data(data: &[u8]) -> u16 {
    // Summing 32-bit words into a 64-bit accumulator gives the same folded result as 16-bit
    // words (one's-complement addition is associative under end-around carry) with half the adds.
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        sum += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold(sum)
}

/// One's-complement sum of several partial sums (each from [`data`] or a pseudo-header).
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The Internet checksum of `bytes`: the complement of [`data`]. Write this into a checksum field
/// that was zero while summing.
pub fn checksum(bytes: &[u8]) -> u16 {
    !data(bytes)
}

/// Sum of the IPv4 pseudo-header (RFC 793, RFC 768): source, destination, zero, protocol and
/// upper-layer length.
pub fn pseudo_header_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: IpProtocol, length: u16) -> u16 {
    let mut sum = u64::from(u32::from(src)) + u64::from(u32::from(dst));
    sum += u64::from(u8::from(protocol)) + u64::from(length);
    fold(sum)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer length,
/// zeros and next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: IpProtocol, length: u32) -> u16 {
    combine(&[data(&src.octets()), data(&dst.octets()), fold(u64::from(length)), u16::from(u8::from(next_header))])
}

/// Pseudo-header sum for either family. Mixed families (one v4, one v6 address) never occur on
/// the wire; they are summed byte for byte rather than rejected, so this cannot fail.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: IpProtocol, length: u32) -> u16 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) if length <= 0xffff => pseudo_header_v4(*s, *d, protocol, length as u16),
        _ => {
            let addr_sum = |a: &IpAddr| match a {
                IpAddr::V4(a) => data(&a.octets()),
                IpAddr::V6(a) => data(&a.octets()),
            };
            combine(&[addr_sum(src), addr_sum(dst), fold(u64::from(length)), u16::from(u8::from(protocol))])
        }
    }
}

/// RFC 1624 incremental update (eqn. 3, `HC' = ~(~HC + ~m + m')`): the new checksum after one
/// 16-bit word covered by `checksum` changes from `old` to `new`. Gives the same value as a full
/// recomputation, without touching the rest of the packet.
pub fn update(checksum: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!checksum) + u64::from(!old) + u64::from(new))
}

#[cfg(test)]
mod test {
    use super::*;
    use proptest::prelude::*;

    /// Reference RFC 1071 sum, 16 bits at a time, to check the 32-bit-word implementation.
    fn reference(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for chunk in bytes.chunks(2) {
            let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2.
        assert_eq!(data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xab]), 0xab00);
        assert_eq!(checksum(&[0xff, 0xff]), 0);
    }

    #[test]
    fn known_ipv4_header_checksum() {
        // Classic example header; its checksum field (b861) is filled in.
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(data(&header), 0xffff);
        let mut zeroed = header;
        zeroed[10] = 0;
        zeroed[11] = 0;
        assert_eq!(checksum(&zeroed), 0xb861);
    }

    #[test]
    fn pseudo_header_families_agree_with_generic() {
        let s4 = Ipv4Addr::new(198, 18, 0, 1);
        let d4 = Ipv4Addr::new(198, 18, 0, 2);
        assert_eq!(
            pseudo_header(&s4.into(), &d4.into(), IpProtocol::Tcp, 40),
            pseudo_header_v4(s4, d4, IpProtocol::Tcp, 40)
        );
        // Byte-level definition of the v4 pseudo-header.
        let mut ph = [0u8; 12];
        ph[..4].copy_from_slice(&s4.octets());
        ph[4..8].copy_from_slice(&d4.octets());
        ph[9] = 6;
        ph[10..].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(pseudo_header_v4(s4, d4, IpProtocol::Tcp, 40), data(&ph));

        let s6: Ipv6Addr = "2001:2::1".parse().unwrap();
        let d6: Ipv6Addr = "2001:2::2".parse().unwrap();
        let mut ph6 = [0u8; 40];
        ph6[..16].copy_from_slice(&s6.octets());
        ph6[16..32].copy_from_slice(&d6.octets());
        ph6[32..36].copy_from_slice(&70_000u32.to_be_bytes());
        ph6[39] = 17;
        assert_eq!(pseudo_header_v6(&s6, &d6, IpProtocol::Udp, 70_000), data(&ph6));
        assert_eq!(pseudo_header(&s6.into(), &d6.into(), IpProtocol::Udp, 70_000), data(&ph6));
        // Mixed families do not panic.
        let _ = pseudo_header(&s4.into(), &d6.into(), IpProtocol::Udp, 8);
    }

    proptest! {
        #[test]
        fn sum_matches_reference(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(data(&bytes), reference(&bytes));
        }

        #[test]
        fn combine_of_split_sums_equals_whole(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            at in 0usize..150,
        ) {
            // Splitting at an even offset keeps the word alignment.
            let at = (at * 2).min(bytes.len() & !1);
            prop_assert_eq!(combine(&[data(&bytes[..at]), data(&bytes[at..])]), data(&bytes));
        }

        #[test]
        fn incremental_update_equals_recompute(
            mut words in proptest::collection::vec(any::<u16>(), 2..40),
            idx in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            // Word 0 is the checksum field; the data must not be all zero (as no real header is),
            // where one's-complement has two zeros and a recompute may differ by representation.
            words[1] |= 1;
            let bytes = |w: &[u16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
            words[0] = 0;
            words[0] = checksum(&bytes(&words));
            let i = 1 + idx.index(words.len() - 1);
            let old = words[i];
            words[i] = new;
            if words[1..].iter().all(|&w| w == 0) { return Ok(()); }
            let incremental = update(words[0], old, new);
            words[0] = 0;
            prop_assert_eq!(incremental, checksum(&bytes(&words)));
        }
    }
}
