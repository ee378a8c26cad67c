//! Service Location Protocol, version 2 (RFC 2608) and version 1 (RFC 2165).
//!
//! Version 2: version 2, a function id 1..=11, a 24-bit length equal to the datagram's length, flags
//! with only the three defined bits (overflow, fresh, request multicast) set, a next-extension
//! offset that is 0 or inside the message, an XID, and a language tag of 1 to 35 letters, digits
//! and hyphens (RFC 5646 tags such as "en" or "en-US") inside the message.
//!
//! Version 1: version 1, function 1..=10, a 16-bit length equal to the datagram's length, the
//! three reserved flag bits clear, dialect 0, a two-letter language code, a character encoding
//! from the IANA MIBenum values SLPv1 agents use (ASCII 3, Latin-1 4, UTF-8 106, UCS-2 1000, UCS-4
//! 1001, UTF-7 1012, UTF-16BE/LE 1013-1015).
//!
//! A version byte, a function byte, a length of 16 or 24 bits that must match exactly, zero bits
//! and ASCII fields: random bytes pass with well under 1 in 10^9, and no other UDP protocol's
//! first bytes are arranged so.
//!
//! Over TCP (SLPv2 replies too long for UDP) the same header starts the stream; the length then
//! covers the whole message, which may be longer than the first segment.

use crate::detect::be16;

fn lang_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn v2(p: &[u8], exact: bool) -> bool {
    let Some(h) = p.get(..14) else { return false };
    let len = (usize::from(h[2]) << 16) | (usize::from(h[3]) << 8) | usize::from(h[4]);
    let next_ext = (usize::from(h[7]) << 16) | (usize::from(h[8]) << 8) | usize::from(h[9]);
    let Some(lang_len) = be16(p, 12).map(usize::from) else { return false };
    let len_ok = if exact { len == p.len() } else { len >= p.len().min(14 + lang_len) && len >= 14 };
    h[0] == 2
        && (1..=11).contains(&h[1])
        && len_ok
        && h[5] & 0x1f == 0
        && h[6] == 0
        && (next_ext == 0 || (next_ext >= 14 && next_ext < len))
        && (1..=35).contains(&lang_len)
        && 14 + lang_len <= len
        && p.get(14..14 + lang_len).is_some_and(|l| l.iter().all(|&c| lang_char(c)) && l[0].is_ascii_alphabetic())
}

fn v1(p: &[u8], exact: bool) -> bool {
    let Some(h) = p.get(..12) else { return false };
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let encoding = u16::from_be_bytes([h[8], h[9]]);
    let len_ok = if exact { len == p.len() } else { len >= 12 };
    h[0] == 1
        && (1..=10).contains(&h[1])
        && len_ok
        && h[4] & 0x07 == 0
        && h[5] == 0
        && h[6].is_ascii_alphabetic()
        && h[7].is_ascii_alphabetic()
        && matches!(encoding, 3 | 4 | 106 | 1000 | 1001 | 1012..=1015)
}

/// A whole SLP message in one datagram.
pub(crate) fn is_udp(p: &[u8]) -> bool {
    v2(p, true) || v1(p, true)
}

/// The start of an SLP message on a TCP stream.
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    v2(p, false) || v1(p, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    /// Real SLPv2 service request (srvloc.pcap, nDPI test suite, LGPL-3.0-or-later).
    pub(crate) fn v2_request() -> Vec<u8> {
        hex(
            "0201000036200000000000010002656e00000015736572766963653a736572766963652d6167656e74000764656661756c7400000000",
        )
    }

    #[test]
    fn version_2() {
        let r = v2_request();
        assert_eq!(r.len(), 0x36);
        assert!(is_udp(&r));
        let mut longer = r.clone();
        longer.push(0);
        assert!(!is_udp(&longer));
        let mut bad_flags = r.clone();
        bad_flags[5] = 0x21;
        assert!(!is_udp(&bad_flags));
        let mut bad_lang = r.clone();
        bad_lang[14] = 0;
        assert!(!is_udp(&bad_lang));
        let mut bad_function = r.clone();
        bad_function[1] = 12;
        assert!(!is_udp(&bad_function));
        assert!(is_tcp_start(&r[..20]));
    }

    #[test]
    fn version_1() {
        // SLPv1 service request from srvloc-v1.pcapng (nDPI test suite, LGPL-3.0-or-later).
        let r = hex("0106002c0000656e00031ef700000018736572766963653a782d68706e702d646973636f7665723a00000000");
        assert!(is_udp(&r));
        let mut bad_encoding = r.clone();
        bad_encoding[9] = 5;
        assert!(!is_udp(&bad_encoding));
        let mut bad_dialect = r.clone();
        bad_dialect[5] = 1;
        assert!(!is_udp(&bad_dialect));
    }
}
