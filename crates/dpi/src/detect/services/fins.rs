//! Omron FINS over TCP (Omron W421/W342, "FINS/TCP method"; TCP 9600), the PLCs' command
//! protocol.
//!
//! Every frame on a FINS/TCP connection is a 16-byte header, the magic `FINS`, a 32-bit length
//! counting the bytes after itself (so at least 8), a command (0 node address data send from the
//! client, 1 from the server, 2 FINS frame send, 3 FINS frame send error notification, 6
//! connection confirmation) and a 32-bit error code (0 or one of the codes up to 0x21, so its
//! upper 24 bits are zero), then the rest of the frame. The bytes in view must be whole frames
//! whose lengths walk the segment exactly. A 32-bit magic, 53 zero bits in the command and error
//! code, and an exact 32-bit length: random bytes pass with far less than 2^-64. (FINS over UDP
//! has no such header and is not recognised.)

use super::walks_exactly;
use crate::detect::be32;

/// The start of a FINS/TCP stream (either side): whole frames that walk `p` exactly.
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    walks_exactly(p, |f| {
        let (magic, len, command, error) = (f.get(..4)?, be32(f, 4)?, be32(f, 8)?, be32(f, 12)?);
        if magic != b"FINS" || len < 8 || !matches!(command, 0..=3 | 6) || error > 0x21 {
            return None;
        }
        usize::try_from(len).ok()?.checked_add(8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From fins.pcap (nDPI test suite, LGPL-3.0-or-later): the client's node address request, the
    // server's answer, and a FINS frame (controller data read).
    #[test]
    fn frames() {
        assert!(is_stream_start(&hex("46494e530000000c000000000000000000000000")));
        assert!(is_stream_start(&hex("46494e53000000100000000100000000000000fb000000c8")));
        assert!(is_stream_start(&hex("46494e5300000015000000020000000080000200c8000000ef05050100")));
        let mut two = hex("46494e530000000c000000000000000000000000");
        two.extend_from_slice(&hex("46494e5300000015000000020000000080000200c8000000ef05050100"));
        assert!(is_stream_start(&two));
    }

    #[test]
    fn rejects_lookalikes() {
        let p = hex("46494e5300000015000000020000000080000200c8000000ef05050100");
        assert!(!is_stream_start(&p[..p.len() - 1]), "the length walks the segment");
        let mut c = p.clone();
        c[11] = 4;
        assert!(!is_stream_start(&c), "command 4 is not defined");
        let mut e = p.clone();
        e[14] = 1;
        assert!(!is_stream_start(&e), "an error code past 0x21");
        let mut m = p;
        m[3] = b'T';
        assert!(!is_stream_start(&m));
        assert!(!is_stream_start(&hex("800002000000006300ef050100")), "FINS over UDP has no header");
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_behind_the_magic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut p = b"FINS".to_vec();
            p.extend_from_slice(&body);
            if is_stream_start(&p) {
                proptest::prop_assert!(p[8..11] == [0, 0, 0] && p[12..15] == [0, 0, 0]);
            }
        }
    }
}
