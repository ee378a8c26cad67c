//! Teredo (RFC 4380): IPv6 carried in UDP (port 3544), possibly after an authentication or an
//! origin indication header.
//!
//! The datagram (after those optional headers: authentication 0x0001 with its id and auth lengths,
//! origin indication 0x0000 with 6 bytes) must be an IPv6 packet: version 6, a payload length that
//! plus the 40-byte header is exactly the rest of the datagram, a next header that is ICMPv6, TCP,
//! UDP or "no next header" (the bubbles Teredo sends to punch NAT holes), and at least one address
//! in the Teredo prefix 2001:0000::/32. A version nibble, a 16-bit length that must match exactly
//! and a 32-bit prefix: random bytes and other protocols do not pass.

use crate::detect::be16;

fn ipv6(p: &[u8]) -> bool {
    let (Some(&b0), Some(len), Some(&next)) = (p.first(), be16(p, 4), p.get(6)) else { return false };
    let teredo = |at: usize| p.get(at..at + 4) == Some(&[0x20, 0x01, 0x00, 0x00][..]);
    b0 >> 4 == 6 && usize::from(len) + 40 == p.len() && matches!(next, 6 | 17 | 58 | 59) && (teredo(8) || teredo(24))
}

/// A Teredo datagram.
pub(crate) fn is_packet(p: &[u8]) -> bool {
    let mut at = 0;
    if p.starts_with(&[0x00, 0x01]) {
        let (Some(&id), Some(&auth)) = (p.get(2), p.get(3)) else { return false };
        at = 4 + usize::from(id) + usize::from(auth) + 9;
    }
    if p.get(at..at + 2) == Some(&[0x00, 0x00][..]) {
        at += 8;
    }
    p.get(at..).is_some_and(ipv6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn packets() {
        // A router solicitation to a Teredo server (teredo.pcap, nDPI test suite, LGPL-3.0-or-later).
        let mut p = hex("60000000000c3a1520010000c2881c4c20f3359b46f93f46 2002c2881c4c000000000000c2881c4d");
        p.resize(52, 0);
        assert!(is_packet(&p));
        let mut origin = hex("0000 0d2b 3e8f2a01");
        origin.extend_from_slice(&p);
        assert!(is_packet(&origin));
        p.push(0);
        assert!(!is_packet(&p), "payload length disagrees");
        let mut native = hex("60000000000c3a152a0300000000000000000000000000012a030000000000000000000000000002");
        native.resize(52, 0);
        assert!(!is_packet(&native), "no Teredo address");
    }
}
