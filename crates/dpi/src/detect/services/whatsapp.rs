//! WhatsApp's chat connection (TCP 443 and 5222): the client's opening bytes.
//!
//! A client opens with an optional edge-routing header (`ED`, 0x00 0x01, a 24-bit length and that
//! many bytes of routing data), then the four-byte prologue `W` `A` major minor, then frames, each
//! behind a three-byte header. In the FunXMPP protocol of version 1 the header is four bits of
//! flags and a 20-bit length, and the first frame is a stanza in WhatsApp's binary XML, which
//! opens with a list token (0xf8 or 0xf9). From version 2 on the connection is a Noise handshake
//! (the protocol of libsignal's and WhatsApp's own clients): the header is a 24-bit length and the
//! first frame is the protobuf `HandshakeMessage` holding its `client_hello` (field 2, wire type
//! 2: tag 0x12), whose varint length fills the frame exactly.
//!
//! The proof: the 16-bit `WA`, a version of 1..=9, a first frame whose opening byte and (from
//! version 2) nested length agree with it, and frame lengths that chain to exactly the end of the
//! client's first bytes, with nothing left over. Random bytes pass with odds far below 2^-40; a
//! text protocol starting `WA` has no binary length chain, and no other binary protocol puts `WA`
//! and a version before such frames. The frames must end where the client's first segment does
//! (clients write the prologue and their first frames at once); a stream split inside a frame is not
//! recognised.

use crate::detect::be16;

/// Big-endian 24-bit value at `i`, if in bounds.
fn be24(p: &[u8], i: usize) -> Option<usize> {
    let b = p.get(i..i.checked_add(3)?)?;
    Some((usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
}

/// A protobuf varint at `i`: (value, bytes it takes), at most three bytes (a frame is under 2^21).
fn varint(p: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for k in 0..3 {
        let b = *p.get(i + k)?;
        v |= usize::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return Some((v, k + 1));
        }
    }
    None
}

/// Is `view`, the first bytes of a client's stream, WhatsApp's opening?
pub(crate) fn is_client_start(view: &[u8]) -> bool {
    let mut at = 0;
    if view.starts_with(b"ED\x00\x01") {
        let Some(n) = be24(view, 4) else { return false };
        at = 7 + n;
    }
    let (Some(wa), Some(&major)) = (be16(view, at), view.get(at + 2)) else { return false };
    if wa != u16::from_be_bytes(*b"WA") || !(1..=9).contains(&major) || view.len() < at + 4 {
        return false;
    }
    at += 4;
    // The first frame's header and body.
    let Some(h) = be24(view, at) else { return false };
    let (len, body) = if major == 1 { (h & 0xf_ffff, h >> 20) } else { (h, 0) };
    if body != 0 || len == 0 {
        return false;
    }
    let start = at + 3;
    let Some(first) = view.get(start..start + len) else { return false };
    let opens = if major == 1 {
        matches!(first[0], 0xf8 | 0xf9)
    } else {
        first[0] == 0x12 && varint(first, 1).is_some_and(|(n, k)| 1 + k + n == len)
    };
    if !opens {
        return false;
    }
    // The frames after it chain to the end of the view.
    at = start + len;
    while at < view.len() {
        let Some(h) = be24(view, at) else { return false };
        let len = if major == 1 { h & 0xf_ffff } else { h };
        if len == 0 {
            return false;
        }
        at += 3 + len;
    }
    at == view.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From whatsapp_login_call.pcap (nDPI test suite, LGPL-3.0-or-later): a client's first
    // segment, `WA` 1.5 and three FunXMPP frames (26, 25 and 102 bytes) in 166 bytes.
    fn funxmpp() -> Vec<u8> {
        hex("5741010500001af80501a59189fc126950686f6e652d322e31322e322d35323232000019f8029cf804f801fc077072697661
             6379f80180f80140f80178000066f8060c56bfb5fc0c333933343733343631373638fc50e77dd4ab3ca33be0018a3cd06b95
             6d537c76d979a5b6c9183ae2d1b257d29df413bd0ec361af01718337164756b60794795bf2ca8ddf43562c2d3464439e2e52
             beec9da3c4d8c9140fba1432893ade90")
    }

    // From wa_voice.pcap: the edge-routing header, `WA` 2.1 and the Noise client hello (238 bytes).
    fn noise() -> Vec<u8> {
        hex("4544000100000408050802574102010000ee12eb010a206cd25373402b2fee665c43683d24ce6e73a45a59d03467ae03ed02
             5c3b08d84012302669592f09ed19298853193198d536f0c24472907938ed1b43f3304d25e53cb70bd04009c083ed44ae0190
             ac50126f321a9401a4b6e4c0c86eeb4b62df1ca8fe6f9735840b4a6bc267e732aef5c15aff06623bb0f2d60380c69c278c95
             67e5fd651de47f6a769bd5e6ad3db368166b05efba10e206d28e8bc92f2a393d141379d633258d25f4dab3a37ceec44fc911
             1a3a4d85cad7cbb4efb8ef5db349094d614b914316b29246c605306558a52a6fef7417647a32070f145e9df5ca1360c8916d
             687417db72e6")
    }

    #[test]
    fn real_openings() {
        assert_eq!(funxmpp().len(), 166);
        assert!(is_client_start(&funxmpp()));
        assert!(is_client_start(&noise()));
        // Without the routing header.
        assert!(is_client_start(&noise()[11..]));
    }

    #[test]
    fn rejects_near_misses() {
        let p = funxmpp();
        assert!(!is_client_start(&p[..165]), "the last frame cut short");
        let mut q = p.clone();
        q.push(0);
        assert!(!is_client_start(&q), "a byte left over");
        let mut q = p.clone();
        q[7] = 0x17;
        assert!(!is_client_start(&q), "the stanza does not open with a list");
        let mut q = p.clone();
        q[1] = b'B';
        assert!(!is_client_start(&q), "not WA");
        let mut q = p.clone();
        q[2] = 0;
        assert!(!is_client_start(&q), "version 0");
        let mut q = noise();
        q[17] = 0xec;
        assert!(!is_client_start(&q), "the hello's length disagrees with its frame");
        let mut q = noise();
        q[18] = 0x0a;
        assert!(!is_client_start(&q), "not the client hello's field");
        let mut q = noise();
        q[6] = 5;
        assert!(!is_client_start(&q), "routing header's length off");
        assert!(!is_client_start(b"WA\x01\x05"), "a prologue alone");
        assert!(!is_client_start(b"WAIT FOR IT\r\n"), "text");
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_after_the_prologue(mut p in proptest::collection::vec(proptest::num::u8::ANY, 8..400),
                                            major in 1u8..=3) {
            p[..4].copy_from_slice(&[b'W', b'A', major, 1]);
            if is_client_start(&p) {
                // Only a first frame of the right shape, and lengths that add up.
                let h = be24(&p, 4).unwrap_or(0);
                let len = if major == 1 { h & 0xf_ffff } else { h };
                proptest::prop_assert!(7 + len <= p.len());
                let opens = if major == 1 { matches!(p[7], 0xf8 | 0xf9) } else { p[7] == 0x12 };
                proptest::prop_assert!(opens, "first frame opens with {:#04x}", p[7]);
            }
        }
    }
}
