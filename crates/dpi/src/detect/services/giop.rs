//! CORBA's GIOP (CORBA 3.x, Part 2, §9.4: the General Inter-ORB Protocol, over TCP as IIOP) and
//! MIOP (the Unreliable Multicast Inter-ORB Protocol, GIOP messages carried in UDP datagrams).
//!
//! A GIOP message starts with a 12-byte header: the magic `GIOP`, version 1.0, 1.1 or 1.2, a flags
//! byte (in 1.0 only the byte order, 0 or 1; from 1.1 the byte order and the more-fragments bit,
//! the other six bits zero), a message type (0 Request .. 6 MessageError, and 7 Fragment from
//! 1.1) and a 32-bit message size in the byte order the flags give, counting the bytes after the
//! header. On TCP the bytes in view must be whole messages whose sizes walk the segment exactly.
//! The 32-bit magic, a version and type out of a few, six zero flag bits and an exact 32-bit size:
//! random bytes pass with about 2^-70.
//!
//! A MIOP packet (MIOP 1.0, §29.4.1) starts with the magic `MIOP`, header version 0x10, flags
//! (the byte order and the last-packet bit, the rest zero), a 16-bit packet length, a packet
//! number, the number of packets and a unique id of at most 252 bytes; the GIOP bytes follow,
//! aligned to 8 bytes, and the packet length counts them exactly to the end of the datagram. The
//! first packet of a message (number 0) must begin with a GIOP header as above.

use crate::detect::{be32, le32};

/// The GIOP header at the start of `p`, if valid: the message's whole length (header included).
fn header(p: &[u8]) -> Option<usize> {
    let h = p.get(..12)?;
    if &h[..4] != b"GIOP" || h[4] != 1 || h[5] > 2 {
        return None;
    }
    let (flags, kind) = (h[6], h[7]);
    let flags_ok = if h[5] == 0 { flags <= 1 } else { flags & 0xfc == 0 };
    let kind_ok = if h[5] == 0 { kind <= 6 } else { kind <= 7 };
    if !flags_ok || !kind_ok {
        return None;
    }
    let size = if flags & 1 == 1 { le32(p, 8)? } else { be32(p, 8)? };
    usize::try_from(size).ok()?.checked_add(12)
}

/// The start of a GIOP stream (either side): whole messages that walk `p` exactly.
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    while pos < p.len() {
        let Some(n) = p.get(pos..).and_then(header) else { return false };
        pos = match pos.checked_add(n) {
            Some(end) if end <= p.len() => end,
            _ => return false,
        };
    }
    pos == p.len() && pos > 0
}

/// A whole MIOP packet in one datagram.
pub(crate) fn is_miop(p: &[u8]) -> bool {
    let Some(h) = p.get(..20) else { return false };
    if &h[..4] != b"MIOP" || h[4] != 0x10 || h[5] & 0xfc != 0 {
        return false;
    }
    let little = h[5] & 1 == 1;
    let word = |i: usize| if little { le32(p, i) } else { be32(p, i) };
    let len = if little { u16::from_le_bytes([h[6], h[7]]) } else { u16::from_be_bytes([h[6], h[7]]) };
    let (Some(number), Some(count), Some(id_len)) = (word(8), word(12), word(16)) else { return false };
    if id_len > 252 || count == 0 || number >= count {
        return false;
    }
    let data = (20 + id_len as usize).next_multiple_of(8);
    if data + usize::from(len) != p.len() {
        return false;
    }
    number != 0 || p.get(data..).and_then(header) == Some(usize::from(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From corba.pcap (nDPI test suite, LGPL-3.0-or-later): a GIOP 1.2 Reply's header.
    fn reply() -> Vec<u8> {
        let mut m = hex("47494f5001020001000000510000000000000000000000000000004100020206");
        m.resize(12 + 0x51, 0x07);
        m
    }

    fn miop() -> Vec<u8> {
        let mut p = hex("4d494f501003e40000000000010000000c00000000000000000000000000000047494f5001020100d8000000");
        p.resize(32 + 0xe4, 0x31);
        p
    }

    #[test]
    fn giop_messages() {
        assert!(is_stream_start(&reply()));
        let mut two = reply();
        two.extend_from_slice(&reply());
        assert!(is_stream_start(&two));
        let mut le = hex("47494f50 0100 01 05 00000000");
        assert!(is_stream_start(&le), "a 1.0 CloseConnection");
        le[6] = 2;
        assert!(!is_stream_start(&le), "GIOP 1.0 has no fragment bit");
    }

    #[test]
    fn giop_lookalikes() {
        let r = reply();
        assert!(!is_stream_start(&r[..r.len() - 1]));
        let mut v = r.clone();
        v[5] = 3;
        assert!(!is_stream_start(&v), "no GIOP 1.3");
        let mut t = r.clone();
        t[7] = 8;
        assert!(!is_stream_start(&t), "message type 8");
        let mut f = r.clone();
        f[6] = 0x10;
        assert!(!is_stream_start(&f), "reserved flag bits");
        let mut order = r.clone();
        order[6] = 1;
        assert!(!is_stream_start(&order), "the size read little-endian does not walk the segment");
    }

    #[test]
    fn miop_packets() {
        assert!(is_miop(&miop()));
        let p = miop();
        assert!(!is_miop(&p[..p.len() - 1]), "the packet length must reach the datagram's end");
        let mut inner = miop();
        inner[32] = b'X';
        assert!(!is_miop(&inner), "the first packet carries a GIOP header");
        let mut later = inner.clone();
        later[8] = 1;
        later[12] = 2;
        assert!(is_miop(&later), "packet 1 of 2 continues the message");
        later[12] = 1;
        assert!(!is_miop(&later), "packet number past the count");
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_behind_the_magic(minor in 0u8..4, flags in proptest::num::u8::ANY, kind in 0u8..10,
                                          body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut p = b"GIOP".to_vec();
            p.extend_from_slice(&[1, minor, flags, kind]);
            p.extend_from_slice(&body);
            if is_stream_start(&p) {
                proptest::prop_assert!(minor <= 2 && kind <= 7 && flags & 0xfc == 0);
            }
            let mut m = b"MIOP".to_vec();
            m.extend_from_slice(&body);
            if is_miop(&m) {
                proptest::prop_assert!(m[4] == 0x10);
            }
        }
    }
}
