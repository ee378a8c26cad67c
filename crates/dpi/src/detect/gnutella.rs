//! Gnutella over UDP: 0.6 descriptors (GUESS pings and pongs, queries and hits, vendor messages,
//! LimeWire's Mojito DHT) and the Gnutella2 "GND" transport. The TCP handshakes
//! ("GNUTELLA CONNECT/", "GNUTELLA/0.6") are literal signatures.
//!
//! # Why lookalikes do not pass
//!
//! A descriptor needs, all at once: a 16-byte GUID that is not all zeros, one of ten payload
//! types, TTL and hops that a servent would send, a 32-bit little-endian payload length equal to
//! the rest of the datagram, and the payload that type has (GGEP block after a ping or pong, a
//! NUL-terminated query, a vendor code, a Mojito opcode and vendor). The length equality alone is
//! a 32-bit coincidence for random bytes; protocols that put a length at bytes 19..23 (none of
//! RPC, DHCP, NTP, SNMP, RADIUS, STUN, RTP, DTLS, CoAP, DNS do) would still have to match the type,
//! TTL and payload rules. An all-zero datagram (a keepalive or padding) fails on its GUID.
//!
//! A G2 packet needs "GND", a flags byte with its high bits clear, part and count that agree, and
//! a payload that is either a zlib stream header (deflated) or one G2 packet whose control byte,
//! length field and ASCII name add up to exactly the rest of the datagram.

use super::le32;

const GGEP: u8 = 0xC3;

/// A Gnutella descriptor in one datagram (see the module docs). `n` is the datagram's length on
/// the wire, `p` what was captured of it (all of it but for a capture's snaplen): lengths are
/// checked against `n`, contents as far as they are in `p`, so a cut can cost the label but never
/// make one.
pub(crate) fn is_udp_descriptor(p: &[u8], n: usize) -> bool {
    let (Some(guid), Some(&kind), Some(&ttl), Some(&hops), Some(len)) =
        (p.get(..16), p.get(16), p.get(17), p.get(18), le32(p, 19))
    else {
        return false;
    };
    if n < p.len() || u64::from(len) != (n - 23) as u64 || guid.iter().all(|&b| b == 0) {
        return false;
    }
    let (pl, pl_len) = (&p[23..], n - 23);
    let routed = (1..=15).contains(&ttl) && hops <= 15;
    let at = |i: usize| pl.get(i).copied();
    let alnum = |r: core::ops::Range<usize>, nul_ok: bool| {
        pl.get(r).is_some_and(|v| v.iter().all(|b| b.is_ascii_alphanumeric() || (nul_ok && *b == 0)))
    };
    match kind {
        // Ping: nothing, or a GGEP block (e.g. a GUESS query-key request).
        0x00 => routed && (pl_len == 0 || at(0) == Some(GGEP)),
        // Pong: port, address, files, kilobytes; then nothing or GGEP.
        0x01 => routed && pl_len >= 14 && (pl_len == 14 || at(14) == Some(GGEP)),
        // Bye: a 2-byte code, then text.
        0x02 => routed && pl_len >= 2,
        // Query routing: reset (variant 0, 6 bytes) or patch (variant 1, 5-byte header + data).
        0x30 => routed && matches!((at(0), pl_len), (Some(0), 6) | (Some(1), 6..)),
        // Vendor messages: a 4-character vendor code, selector, version.
        0x31 | 0x32 => routed && pl_len >= 8 && alnum(0..4, true),
        // Push: servent id, file index, address, port (GGEP may follow).
        0x40 => routed && (pl_len == 26 || (pl_len > 26 && at(26) == Some(GGEP))),
        // Mojito DHT: the TTL and hops bytes are its version (0.0); an opcode 1..=10 and a vendor.
        0x44 => {
            ttl == 0 && hops == 0 && pl_len >= 5 && at(0).is_some_and(|o| (1..=10).contains(&o)) && alnum(1..5, false)
        }
        // Query: minimum speed, then NUL-terminated search criteria.
        0x80 => routed && pl_len >= 3 && pl.get(2..).is_some_and(|c| c.contains(&0)),
        // Query hit: count >= 1, port, address, speed, results..., 16-byte servent id.
        0x81 => routed && pl_len >= 11 + 16 && at(0).is_some_and(|c| c >= 1),
        _ => false,
    }
}

/// A Gnutella2 UDP packet (see the module docs); `n` and `p` as for [`is_udp_descriptor`].
pub(crate) fn is_g2_udp(p: &[u8], n: usize) -> bool {
    if p.len() < 8 || n < p.len() || &p[..3] != b"GND" || p[3] & 0xE0 != 0 {
        return false;
    }
    let (deflate, part, count) = (p[3] & 0x01 != 0, p[6], p[7]);
    let (body, body_len) = (&p[8..], n - 8);
    if count == 0 {
        // A payload-less acknowledgement.
        return body_len == 0 && !deflate && part >= 1;
    }
    if part == 0 || part > count || body_len == 0 {
        return false;
    }
    if part > 1 {
        // A continuation: nothing of its own to check.
        return false;
    }
    if deflate {
        // A zlib stream header: method 8 and the check bits (RFC 1950).
        return body.len() >= 2 && body[0] & 0x0f == 8 && (u16::from(body[0]) << 8 | u16::from(body[1])) % 31 == 0;
    }
    g2_packet(body).is_some_and(|len| if count == 1 { len == body_len } else { len >= body_len })
}

/// The total length of the G2 packet at the start of `b` (control byte, length, name, payload),
/// if its header is sane: reserved bit clear, a length that fits its length field, a name of
/// ASCII capitals and digits.
fn g2_packet(b: &[u8]) -> Option<usize> {
    let control = *b.first()?;
    if control & 0x01 != 0 {
        return None;
    }
    let len_len = usize::from(control >> 6);
    let name_len = usize::from((control >> 3) & 0x07) + 1;
    let big_endian = control & 0x02 != 0;
    let len_bytes = b.get(1..1 + len_len)?;
    let mut len = 0usize;
    for (i, &x) in len_bytes.iter().enumerate() {
        let shift = if big_endian { 8 * (len_len - 1 - i) } else { 8 * i };
        len |= usize::from(x) << shift;
    }
    let name = b.get(1 + len_len..1 + len_len + name_len)?;
    if !name.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) || !name[0].is_ascii_uppercase() {
        return None;
    }
    Some(1 + len_len + name_len + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::probe_table;

    // From gnutella.pcap (nDPI test suite, LGPL-3.0-or-later).
    const G2: [u8; 24] = [
        0x47, 0x4e, 0x44, 0x10, 0x3e, 0x8f, 0x01, 0x01, 0x54, 0x0b, 0x51, 0x4b, 0x52, 0x50, 0x06, 0x52, 0x4e, 0x41,
        0x5d, 0x2f, 0xe2, 0x35, 0x09, 0x70,
    ];
    // A GUESS ping with a GGEP "QK" (query key) request.
    const PING: [u8; 28] = [
        0xe3, 0xdd, 0x31, 0x02, 0xdf, 0x1d, 0xd6, 0xfc, 0xff, 0x29, 0xbc, 0x7d, 0x26, 0x97, 0x7b, 0x03, 0x00, 0x01,
        0x00, 0x05, 0x00, 0x00, 0x00, 0xc3, 0x82, 0x51, 0x4b, 0x40,
    ];
    // Start of a Mojito FIND_NODE request from gtk-gnutella (same capture).
    const MOJITO: &str = "22c53102 59d8cba2 98090533 dcd83ea6 44 00 00 3a000000 05 47544b47";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn mojito() -> Vec<u8> {
        let mut v = hex(MOJITO);
        v.resize(23 + 0x3a, 0x11);
        v
    }

    fn descriptor(p: &[u8]) -> bool {
        is_udp_descriptor(p, p.len())
    }

    fn g2(p: &[u8]) -> bool {
        is_g2_udp(p, p.len())
    }

    #[test]
    fn cut_datagrams_are_judged_by_their_wire_length() {
        let m = mojito();
        assert!(is_udp_descriptor(&m[..40], m.len()), "a snaplen cut keeps the label");
        assert!(!is_udp_descriptor(&m[..40], 40), "the cut bytes alone are not a descriptor");
        assert!(!is_udp_descriptor(&m[..20], m.len()), "the header must be in view");
        assert!(is_g2_udp(&G2[..14], G2.len()));
        assert!(!is_g2_udp(&G2[..14], G2.len() + 1));
        assert!(!is_g2_udp(&G2, 10), "a wire length shorter than the bytes is nonsense");
    }

    probe_table!(descriptor, {
        ping_from_capture: PING => true,
        ping_length_disagrees: PING[..27] => false,
        ping_unknown_type: { let mut v = PING.to_vec(); v[16] = 0x77; v } => false,
        ping_huge_ttl: { let mut v = PING.to_vec(); v[17] = 200; v } => false,
        ping_ttl_zero: { let mut v = PING.to_vec(); v[17] = 0; v } => false,
        ping_payload_not_ggep: { let mut v = PING.to_vec(); v[23] = 0x41; v } => false,
        too_short: [0u8; 22] => false,
        all_zero_is_not_a_ping: [0u8; 23] => false,
        empty_ping: { let mut v = vec![1u8; 16]; v.extend([0, 1, 0, 0, 0, 0, 0]); v } => true,
        mojito_find_node: mojito() => true,
        mojito_bad_opcode: { let mut v = mojito(); v[23] = 0x40; v } => false,
        mojito_with_ttl: { let mut v = mojito(); v[17] = 1; v } => false,
        pong_too_short: { let mut v = vec![9u8; 16]; v.extend([1, 1, 0, 4, 0, 0, 0, 1, 2, 3, 4]); v } => false,
        query: { let mut v = vec![9u8; 16]; v.extend([0x80, 1, 0, 6, 0, 0, 0, 0, 0]); v.extend(b"abc\0"); v } => true,
        query_without_nul: { let mut v = vec![9u8; 16]; v.extend([0x80, 1, 0, 6, 0, 0, 0, 0, 0]); v.extend(b"abcd"); v } => false,
        vendor: { let mut v = vec![9u8; 16]; v.extend([0x31, 1, 0, 8, 0, 0, 0]); v.extend(b"GTKG\x09\x00\x01\x00"); v } => true,
    });

    probe_table!(g2, {
        g2_from_capture: G2 => true,
        g2_ack: [b'G', b'N', b'D', 0x00, 0x12, 0x34, 0x01, 0x00] => true,
        g2_ack_with_payload: [b'G', b'N', b'D', 0x00, 0x12, 0x34, 0x01, 0x00, 0x55] => false,
        g2_part_beyond_count: { let mut v = G2.to_vec(); v[6] = 3; v[7] = 2; v } => false,
        g2_bad_flags: { let mut v = G2.to_vec(); v[3] = 0x80; v } => false,
        g2_tree_longer_than_datagram: { let mut v = G2.to_vec(); v[9] = 0x0c; v } => false,
        g2_tree_shorter_than_datagram: { let mut v = G2.to_vec(); v.push(0); v } => false,
        g2_lower_case_name: { let mut v = G2.to_vec(); v[10] = b'q'; v } => false,
        g2_deflated: *b"GND\x01\x00\x01\x01\x01\x78\x9c\x63\x60" => true,
        g2_deflated_bad_header: *b"GND\x01\x00\x01\x01\x01\x78\x9d\x63\x60" => false,
        gnd_too_short: *b"GND\x02" => false,
    });
}
