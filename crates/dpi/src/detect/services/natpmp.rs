//! NAT-PMP (RFC 6886): a gateway's responses and announcements.
//!
//! A response is version 0, an opcode of 128 + the request's (128 external address, 129 UDP or
//! 130 TCP mapping), a 16-bit result code of 0..=5 and a 32-bit epoch, in exactly 12 bytes (external
//! address) or 16 bytes (mapping). A request (version 0, opcode 0 in exactly 2 bytes, or opcode 1/2
//! in exactly 12 with a zero reserved field) is too short to be proof alone; the gateway's answer
//! (or the announcement gateways multicast when their address changes) decides. A zero version,
//! an opcode, a result of at most 5 in a 16-bit field and an exact size: about 2^-29 for random
//! bytes of that size.

use crate::detect::be16;

/// A NAT-PMP response or announcement in one datagram.
pub(crate) fn is_response(p: &[u8]) -> bool {
    let size_ok = match p.get(1) {
        Some(128) => p.len() == 12,
        Some(129 | 130) => p.len() == 16,
        _ => false,
    };
    size_ok && p[0] == 0 && be16(p, 2).is_some_and(|r| r <= 5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn responses() {
        // natpmp.pcap and iphone.pcap (nDPI test suite, LGPL-3.0-or-later).
        assert!(is_response(&hex("00800000002b3add0ac9d5ae")));
        assert!(is_response(&hex("0080000000000021c0a8010b")));
        assert!(!is_response(&hex("00800000002b3add0ac9d5")));
        assert!(!is_response(&hex("00800006002b3add0ac9d5ae")), "result 6");
        assert!(!is_response(&hex("0000")), "a request alone");
        assert!(is_response(&hex("008100000000002110001000 00000e10")));
    }
}
