//! SOME/IP, the automotive service middleware (AUTOSAR PRS SOME/IP Protocol, §4.1.2; and its
//! service discovery, SOME/IP-SD, service 0xFFFF method 0x8100), over UDP.
//!
//! A message is a 16-byte header: a message id (service, method), a 32-bit length counting the
//! bytes from the request id on (so at least 8), a request id (client, session), protocol
//! version 1, an interface version, a message type (REQUEST 0x00, REQUEST_NO_RETURN 0x01,
//! NOTIFICATION 0x02, RESPONSE 0x80, ERROR 0x81, each also with the SOME/IP-TP flag 0x20) and a
//! return code (0x00-0x5E: generic codes below 0x20, service-specific ones above), which
//! requests and notifications leave at E_OK (0). A datagram holds one or more messages whose
//! lengths walk it exactly. An exact 32-bit length, the version byte, a message type out of ten
//! and the return code: random bytes pass with about 2^-45.

use super::walks_exactly;
use crate::detect::be32;

/// Whole SOME/IP messages that walk the datagram `p`.
pub(crate) fn is_messages(p: &[u8]) -> bool {
    walks_exactly(p, |m| {
        let (len, h) = (be32(m, 4)?, m.get(12..16)?);
        let (version, kind, code) = (h[0], h[2], h[3]);
        let request = matches!(kind & !0x20, 0x00..=0x02);
        let response = matches!(kind & !0x20, 0x80 | 0x81);
        if version != 1 || !(request || response) || code > 0x5e || (request && code != 0) || len < 8 {
            return None;
        }
        usize::try_from(len).ok()?.checked_add(8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From someip_sd_sample.pcap and someip-tp.pcap (nDPI test suite, LGPL-3.0-or-later): a
    // service discovery message's header, a SOME/IP-TP request's header (bodies filled here).
    fn sd() -> Vec<u8> {
        let mut p = hex("ffff8100000000300000000301010200");
        p.resize(8 + 0x30, 0);
        p
    }

    fn tp() -> Vec<u8> {
        let mut p = hex("010100090000057c0000000501012000");
        p.resize(8 + 0x57c, 0x42);
        p
    }

    #[test]
    fn messages() {
        assert!(is_messages(&sd()));
        assert!(is_messages(&tp()));
        let mut two = sd();
        two.extend_from_slice(&hex("1234 8001 00000008 0001 0002 01 03 81 02"));
        assert!(is_messages(&two), "a notification and an error response in one datagram");
    }

    #[test]
    fn rejects_lookalikes() {
        let p = sd();
        assert!(!is_messages(&p[..p.len() - 1]), "the length walks the datagram");
        let mut v = sd();
        v[12] = 2;
        assert!(!is_messages(&v), "protocol version 2");
        let mut kind = sd();
        kind[14] = 0x03;
        assert!(!is_messages(&kind), "message type 3");
        let mut code = sd();
        code[15] = 1;
        assert!(!is_messages(&code), "a notification carries E_OK");
        let mut short = hex("1234 8001 00000004 0001 0002");
        assert!(!is_messages(&short), "a length under 8");
        short.clear();
        assert!(!is_messages(&short));
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_behind_a_length(head in proptest::collection::vec(proptest::num::u8::ANY, 4),
                                         rest in proptest::collection::vec(proptest::num::u8::ANY, 8..600)) {
            let mut p = head;
            p.extend_from_slice(&(rest.len() as u32).to_be_bytes());
            p.extend_from_slice(&rest);
            if is_messages(&p) {
                proptest::prop_assert!(p[12] == 1 && p[15] <= 0x5e);
            }
        }
    }
}
