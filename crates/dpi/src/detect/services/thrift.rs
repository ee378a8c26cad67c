//! Apache Thrift messages: the binary protocol (strict, optionally after a framed transport's
//! 32-bit length) and the compact protocol.
//!
//! Binary: version 0x8001, a zero byte, a message type (call 1, reply 2, exception 3, oneway 4),
//! a 32-bit method name length of 1..=255, the name (letters, digits, '_', '.', ':'), a sequence
//! id. Compact: protocol id 0x82, version 1 with the message type in the top 3 bits, a varint
//! sequence id, a varint name length and the name. A 16- or 8-bit magic, a type, a length that
//! must match a run of identifier characters: random bytes and other protocols do not pass.

use crate::detect::be32;

fn name_ok(n: &[u8]) -> bool {
    !n.is_empty() && n[0].is_ascii_alphabetic() && n.iter().all(|&c| c.is_ascii_alphanumeric() || b"_.:".contains(&c))
}

fn binary(p: &[u8]) -> bool {
    let (Some(len), Some(t)) = (be32(p, 4), p.get(3)) else { return false };
    let len = len as usize;
    p.starts_with(&[0x80, 0x01, 0x00])
        && (1..=4).contains(t)
        && (1..=255).contains(&len)
        && p.get(8..8 + len).is_some_and(name_ok)
}

fn varint(p: &[u8], mut pos: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        let b = *p.get(pos)?;
        pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((v, pos));
        }
    }
    None
}

fn compact(p: &[u8]) -> bool {
    let (Some(&id), Some(&vt)) = (p.first(), p.get(1)) else { return false };
    if id != 0x82 || vt & 0x1f != 1 || !(1..=4).contains(&(vt >> 5)) {
        return false;
    }
    let Some((_, at)) = varint(p, 2) else { return false };
    let Some((len, at)) = varint(p, at) else { return false };
    (1..=255).contains(&len) && p.get(at..at + len as usize).is_some_and(name_ok)
}

/// A Thrift message at the start of a TCP stream (bare or framed) or in a UDP datagram.
pub(crate) fn is_message_start(p: &[u8]) -> bool {
    binary(p)
        || compact(p)
        || p.get(4..).is_some_and(|rest| {
            be32(p, 0).is_some_and(|n| (12..1 << 24).contains(&n)) && (binary(rest) || compact(rest))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn messages() {
        // thrift.pcap (nDPI test suite, LGPL-3.0-or-later): a binary call and a compact oneway
        // (Jaeger's emitBatch).
        assert!(is_message_start(&hex("8001000100000014616e6f6e796d6f75735f636f6d6d616e645f6f6e00000000")));
        assert!(is_message_start(&hex("8281b2810109656d697442617463681c1c18")));
        let mut framed = 40u32.to_be_bytes().to_vec();
        framed.extend_from_slice(&hex("8001000100000014616e6f6e796d6f75735f636f6d6d616e645f6f6e00000000"));
        assert!(is_message_start(&framed));
        assert!(!is_message_start(&hex("8001000500000014616e6f6e796d6f75735f636f6d6d616e645f6f6e")), "type 5");
        assert!(!is_message_start(&hex("8001000100000015616e6f6e796d6f75735f636f6d6d616e645f6f6e")), "length");
        assert!(!is_message_start(&hex("8001000100000003a1b2c3")), "not a name");
    }
}
