//! RTMP's handshake in the clear (Adobe, "Real-Time Messaging Protocol (RTMP) specification" 1.0,
//! section 5.2; TCP 1935).
//!
//! The client opens with C0 and C1, the server answers S0, S1 and S2. C0/S0 is one byte, the
//! version: 3 ("values 0-2 are deprecated ... 4-31 are reserved ... 32-255 are not allowed").
//! C1/S1 is 1536 bytes: a 4-byte time, a 4-byte field that "MUST be all 0s", and 1528 random
//! bytes; S2 (1536 bytes) echoes C1. The client "MUST wait until S1 has been received before
//! sending C2", so its stream starts with exactly the 1537 bytes of C0 and C1; the server's with
//! S0 and S1 (1537 bytes), or with S2 as well (3073). The view is the stream's first segment: it
//! must be the whole of that first flight, or a piece of it of at least 536 bytes (TCP's default
//! MSS: a sender cuts a flight no shorter unless the path says so) that cannot be longer than the
//! flight. The version byte and 32 zero bits: 2^-40 for random bytes; a TPKT header (also 3 first)
//! has a non-zero X.224 code at byte 5. Not recognised: Flash Player's "complex" handshake, which
//! writes a player version where the spec wants zeros (its digest needs all of C1, which one
//! segment need not hold), and RTMPE (version 6, encrypted).

/// C0/S0 and C1/S1's length.
const FLIGHT: usize = 1 + 1536;
/// The server's first flight with S2.
const SERVER_FLIGHT: usize = FLIGHT + 1536;
/// The shortest first segment accepted as a piece of a flight (RFC 1122's default MSS).
const MIN_PIECE: usize = 536;

/// Does `view`, the first segment of the client's (`client`) or server's stream, start an RTMP
/// handshake in the clear?
pub(crate) fn is_handshake_start(view: &[u8], client: bool) -> bool {
    let length_fits = if client {
        view.len() == FLIGHT || (MIN_PIECE..FLIGHT).contains(&view.len())
    } else {
        matches!(view.len(), FLIGHT | SERVER_FLIGHT) || (MIN_PIECE..SERVER_FLIGHT).contains(&view.len())
    };
    length_fits && view.first() == Some(&3) && view.get(5..9) == Some(&[0, 0, 0, 0][..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // The first bytes of rtmp.pcap's handshake (nDPI test suite, LGPL-3.0-or-later): C0, C1's
    // time 0x0007aa57, the zeros, the start of the random bytes; the rest is filled.
    fn c0c1(len: usize) -> Vec<u8> {
        let mut p = hex("030007aa5700000000c4ff95ff1affe3ffc000c1003600af00fc002d0092ffbbff7807d97c2e");
        p.resize(len, 0x5a);
        p
    }

    #[test]
    fn client_and_server_flights() {
        assert!(is_handshake_start(&c0c1(1537), true));
        assert!(is_handshake_start(&c0c1(1460), true), "the capture's first segment");
        assert!(is_handshake_start(&c0c1(1537), false));
        assert!(is_handshake_start(&c0c1(3073), false), "S0, S1 and S2 at once");
        assert!(is_handshake_start(&c0c1(1260), false), "the capture's server segment");
    }

    #[test]
    fn rejects_lookalikes() {
        assert!(!is_handshake_start(&c0c1(1538), true), "the client sends nothing more before S1");
        assert!(!is_handshake_start(&c0c1(3074), false));
        assert!(!is_handshake_start(&c0c1(300), true), "a short segment proves no flight");
        let mut p = c0c1(1537);
        p[0] = 6;
        assert!(!is_handshake_start(&p, true), "RTMPE");
        let mut p = c0c1(1537);
        p[5..9].copy_from_slice(&[0x80, 0, 7, 2]);
        assert!(!is_handshake_start(&p, true), "a player version in the zero field");
        let mut tpkt = hex("0300000b06e00000000000");
        tpkt.resize(1537, 0);
        tpkt[2..4].copy_from_slice(&1537u16.to_be_bytes());
        assert!(!is_handshake_start(&tpkt, true), "TPKT and an X.224 CR");
    }

    proptest::proptest! {
        #[test]
        fn random_segments(mut p in proptest::collection::vec(proptest::num::u8::ANY, 536..1600)) {
            p[0] = 3;
            if is_handshake_start(&p, true) {
                proptest::prop_assert!(p[5..9] == [0, 0, 0, 0] && p.len() <= FLIGHT);
            }
        }
    }
}
