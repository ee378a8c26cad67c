//! HiSLIP, the High-Speed LAN Instrument Protocol (IVI-6.1, §2; TCP 4880): test and measurement
//! instruments' synchronous and asynchronous channels.
//!
//! Every message is a 16-byte header, the prologue `HS`, a message type (0 Initialize .. 38
//! AuthenticationResult in IVI-6.1 2.0, or 128-255 for vendors), a control code, a 32-bit
//! message parameter and a 64-bit payload length, then that many payload bytes. The bytes in view
//! must be whole messages whose lengths walk the segment exactly; the payload length's upper 32
//! bits must be zero (no message in view is 4 GiB long). The 16-bit prologue, a type out of 39,
//! 32 zero bits and an exact 32-bit length: random bytes pass with about 2^-80.

use super::walks_exactly;
use crate::detect::be32;

/// The start of a HiSLIP stream (either side, either channel): whole messages that walk `p`.
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    walks_exactly(p, |m| {
        let (h, high, len) = (m.get(..3)?, be32(m, 8)?, be32(m, 12)?);
        if &h[..2] != b"HS" || !matches!(h[2], 0..=38 | 128..=255) || high != 0 {
            return None;
        }
        usize::try_from(len).ok()?.checked_add(16)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From hislip.pcap (nDPI test suite, LGPL-3.0-or-later): Initialize with the sub-address
    // "hislip0", its response, and a DataEnd carrying "*IDN?\n".
    #[test]
    fn messages() {
        assert!(is_stream_start(&hex("485300000100525300000000000000076869736c697030")));
        assert!(is_stream_start(&hex("48530100010000010000000000000000")));
        let mut two = hex("48530700ffffff0000000000000000062a49444e3f0a");
        two.extend_from_slice(&hex("48530700ffffff0000000000000000062a49444e3f0a"));
        assert!(is_stream_start(&two));
    }

    #[test]
    fn rejects_lookalikes() {
        let init = hex("485300000100525300000000000000076869736c697030");
        assert!(!is_stream_start(&init[..init.len() - 1]), "the payload length walks the segment");
        let mut extra = init.clone();
        extra.push(b'\n');
        assert!(!is_stream_start(&extra));
        let mut kind = init.clone();
        kind[2] = 39;
        assert!(!is_stream_start(&kind), "message type 39 is not defined");
        let mut high = init.clone();
        high[11] = 1;
        assert!(!is_stream_start(&high), "a 4 GiB payload");
        let mut prologue = init;
        prologue[1] = b'T';
        assert!(!is_stream_start(&prologue));
    }

    proptest::proptest! {
        #[test]
        fn random_headers_after_the_prologue(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut p = b"HS".to_vec();
            p.extend_from_slice(&body);
            if is_stream_start(&p) {
                proptest::prop_assert!(p[8..12] == [0, 0, 0, 0]);
            }
        }
    }
}
