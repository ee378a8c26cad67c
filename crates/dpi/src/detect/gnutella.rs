//! Gnutella over UDP: 0.6 descriptors (GUESS, LimeWire's Mojito DHT) and the Gnutella2 "GND"
//! transport. The TCP handshakes ("GNUTELLA CONNECT/", "GNUTELLA/0.6") are literal signatures.

use super::le32;

/// A Gnutella descriptor: 16-byte GUID, payload type, TTL, hops, payload length (u32 LE) that
/// equals the rest of the datagram. Known payload types: ping, pong, bye, QRP, vendor messages,
/// push, Mojito DHT, query, query hit.
pub(crate) fn is_udp_descriptor(p: &[u8]) -> bool {
    let (Some(&kind), Some(&ttl), Some(&hops), Some(len)) = (p.get(16), p.get(17), p.get(18), le32(p, 19)) else {
        return false;
    };
    let known = matches!(kind, 0x00 | 0x01 | 0x02 | 0x30 | 0x31 | 0x32 | 0x40 | 0x44 | 0x80 | 0x81);
    known && ttl <= 15 && hops <= 15 && u64::from(len) == (p.len() - 23) as u64
}

/// A Gnutella2 UDP packet: "GND", flags (deflate, ack-me; high bits zero), sequence, part number and
/// part count with 1 <= part <= count and a payload, or count 0 for a payload-less acknowledgement.
pub(crate) fn is_g2_udp(p: &[u8]) -> bool {
    if p.len() < 8 || &p[..3] != b"GND" || p[3] & 0xE0 != 0 {
        return false;
    }
    let (part, count) = (p[6], p[7]);
    (count >= 1 && part >= 1 && part <= count && p.len() > 8) || (count == 0 && p.len() == 8)
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
    const PING: [u8; 28] = [
        0xe3, 0xdd, 0x31, 0x02, 0xdf, 0x1d, 0xd6, 0xfc, 0xff, 0x29, 0xbc, 0x7d, 0x26, 0x97, 0x7b, 0x03, 0x00, 0x01,
        0x00, 0x05, 0x00, 0x00, 0x00, 0xc3, 0x82, 0x51, 0x4b, 0x40,
    ];

    probe_table!(is_udp_descriptor, {
        ping_from_capture: PING => true,
        ping_length_disagrees: PING[..27] => false,
        ping_unknown_type: { let mut v = PING.to_vec(); v[16] = 0x77; v } => false,
        ping_huge_ttl: { let mut v = PING.to_vec(); v[17] = 200; v } => false,
        too_short: [0u8; 22] => false,
        empty_ping: { let mut v = vec![1u8; 16]; v.extend([0, 1, 0, 0, 0, 0, 0]); v } => true,
    });

    probe_table!(is_g2_udp, {
        g2_from_capture: G2 => true,
        g2_ack: [b'G', b'N', b'D', 0x00, 0x12, 0x34, 0x01, 0x00] => true,
        g2_ack_with_payload: [b'G', b'N', b'D', 0x00, 0x12, 0x34, 0x01, 0x00, 0x55] => false,
        g2_part_beyond_count: { let mut v = G2.to_vec(); v[6] = 3; v[7] = 2; v } => false,
        g2_bad_flags: { let mut v = G2.to_vec(); v[3] = 0x80; v } => false,
        gnd_too_short: *b"GND\x02" => false,
    });
}
