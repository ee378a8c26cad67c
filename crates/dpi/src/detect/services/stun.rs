//! STUN and TURN (RFC 5389, RFC 8489, RFC 8656) and classic STUN (RFC 3489).
//!
//! A STUN message is a 20-byte header (message type with its two top bits clear, a message length
//! that is a multiple of 4, the magic cookie 0x2112A442, a 96-bit transaction id) and attributes
//! (type, length, value padded to 4 bytes). Over UDP the whole datagram is the message: the length
//! must equal the datagram's length minus 20 and the attributes must end exactly there. The 32-bit
//! cookie at a fixed offset already leaves random bytes a chance of 2^-32; the exact length and the
//! attribute walk make a lookalike (RTP, DTLS, QUIC, game traffic) fail on several fields at once.
//!
//! Classic STUN (RFC 3489) has no cookie: its 16-byte transaction id follows the length. It is
//! accepted only for the six message types RFC 3489 defines, with the exact length and an attribute
//! walk that ends exactly at the datagram's end using only the attribute types RFC 3489 defines
//! (0x0001..=0x000b) or comprehension-optional ones (0x8000 and up): about 2^-35 for random
//! bytes before the walk.
//!
//! Over TCP (TURN over TCP, ICE-TCP) messages follow each other with no framing; the first
//! message's header (with the cookie) and its attributes as far as they are in view decide.

use crate::detect::be16;

/// The RFC 5389 magic cookie.
pub(crate) const COOKIE: u32 = 0x2112_A442;

/// Walks STUN attributes in `p[20..20 + len]`; `classic` applies RFC 3489's type rule and no
/// padding. `partial`: the message may continue past the bytes in view.
fn attributes_ok(p: &[u8], len: usize, classic: bool, partial: bool) -> bool {
    let end = 20 + len;
    let mut pos = 20;
    while pos < end {
        let (Some(t), Some(l)) = (be16(p, pos), be16(p, pos + 2)) else { return partial };
        if classic && !((0x0001..=0x000b).contains(&t) || t >= 0x8000) {
            return false;
        }
        let l = usize::from(l);
        let padded = if classic { l } else { (l + 3) & !3 };
        pos += 4 + padded;
        if pos > end {
            return false;
        }
    }
    pos == end
}

/// A whole STUN message (RFC 5389/8489, with the cookie) in one datagram.
pub(crate) fn is_message(p: &[u8]) -> bool {
    if p.len() < 20 || p.len() > 65535 + 20 {
        return false;
    }
    let (Some(t), Some(len), Some(cookie)) = (be16(p, 0), be16(p, 2), crate::detect::be32(p, 4)) else { return false };
    let len = usize::from(len);
    t & 0xC000 == 0 && cookie == COOKIE && len % 4 == 0 && len + 20 == p.len() && attributes_ok(p, len, false, false)
}

/// A whole classic (RFC 3489) STUN message in one datagram.
pub(crate) fn is_classic(p: &[u8]) -> bool {
    let (Some(t), Some(len)) = (be16(p, 0), be16(p, 2)) else { return false };
    let len = usize::from(len);
    matches!(t, 0x0001 | 0x0101 | 0x0111 | 0x0002 | 0x0102 | 0x0112)
        && p.len() >= 20
        && len + 20 == p.len()
        && crate::detect::be32(p, 4) != Some(COOKIE)
        && attributes_ok(p, len, true, false)
}

/// The start of a TCP stream carrying STUN: a header with the cookie and a plausible length, and
/// the attributes in view well-formed.
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    let (Some(t), Some(len), Some(cookie)) = (be16(p, 0), be16(p, 2), crate::detect::be32(p, 4)) else { return false };
    let len = usize::from(len);
    if t & 0xC000 != 0 || cookie != COOKIE || len % 4 != 0 || len > 8192 || p.len() < 20 {
        return false;
    }
    let view = &p[..p.len().min(20 + len)];
    attributes_ok(view, len, false, view.len() < 20 + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding request with a SOFTWARE attribute ("weir", padded) and a FINGERPRINT.
    pub(crate) fn binding_request() -> Vec<u8> {
        let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&[7u8; 12]);
        m.extend_from_slice(&[0x80, 0x22, 0x00, 0x04]);
        m.extend_from_slice(b"weir");
        m.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4]);
        let len = (m.len() - 20) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        m
    }

    /// Real classic binding request (stun_classic.pcap, nDPI test suite, LGPL-3.0-or-later).
    const CLASSIC: &str = "000100089429ef88294dd52632c72931cb8dbb4c0003000400000000";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn messages() {
        assert!(is_message(&binding_request()));
        let mut odd = binding_request();
        odd[25] = 3; // SOFTWARE length 3: padded to 4, still fine
        assert!(is_message(&odd));
        let mut longer = binding_request();
        longer.push(0);
        assert!(!is_message(&longer), "a trailing byte breaks the exact length");
        let mut no_cookie = binding_request();
        no_cookie[4] = 0x22;
        assert!(!is_message(&no_cookie));
        let mut bad_attr = binding_request();
        bad_attr[23] = 0x08; // SOFTWARE says 8 bytes: runs past the end
        assert!(!is_message(&bad_attr));
        let mut top_bits = binding_request();
        top_bits[0] = 0x40;
        assert!(!is_message(&top_bits), "ChannelData and RTP have the top bits set");
        assert!(!is_message(&binding_request()[..19]));
    }

    #[test]
    fn classic() {
        assert!(is_classic(&hex(CLASSIC)));
        assert!(!is_message(&hex(CLASSIC)));
        assert!(!is_classic(&binding_request()), "a message with the cookie is not classic");
        let mut bad_type = hex(CLASSIC);
        bad_type[1] = 0x03;
        assert!(!is_classic(&bad_type));
        let mut bad_attr_type = hex(CLASSIC);
        bad_attr_type[21] = 0x30;
        assert!(!is_classic(&bad_attr_type));
    }

    #[test]
    fn tcp_start() {
        let m = binding_request();
        assert!(is_tcp_start(&m));
        assert!(is_tcp_start(&m[..24]), "attributes may continue in the next segment");
        let mut two = m.clone();
        two.extend_from_slice(&m);
        assert!(is_tcp_start(&two), "back-to-back messages");
        assert!(!is_tcp_start(&m[..19]));
    }
}
