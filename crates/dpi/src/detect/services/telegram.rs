//! Telegram's MTProto over TCP with the obfuscated transport ("obfuscated2"; Telegram's MTProto
//! documentation, "Transport obfuscation"), which the official apps use to reach Telegram's data
//! centres on ports 443, 80 and 5222.
//!
//! The client opens the connection with 64 bytes that look random: it draws them, reads an
//! AES-256-CTR key from bytes 8..40 and its IV from bytes 40..56, writes the transport's tag
//! (`0xefefefef` abridged, `0xeeeeeeee` intermediate, `0xdddddddd` padded intermediate) and the
//! data centre into bytes 56..64, and sends bytes 56..64 encrypted with that key, the first 56 as
//! drawn. So the 64 bytes decrypted under the key and IV they carry give one of the three tags at
//! 56..60. The client also redraws until the first byte is not `0xef` (the plain abridged
//! transport), the first four bytes are not `HEAD`, `POST`, `GET `, `OPTI`, a TLS handshake
//! record's start `16 03 01 02`, `0xeeeeeeee` or `0xdddddddd` (the plain intermediate transports),
//! and bytes 4..8 are not zero; a header that breaks those rules is not one a client sent.
//!
//! The proof: a 32-bit tag, one of three, after a decryption nobody matches by chance — random
//! bytes pass with odds of 3 in 2^32, and no other protocol's first 64 bytes decrypt to it under
//! keys drawn from themselves. MTProxy connections with a secret mix the secret into the key
//! (SHA-256 of key and secret) and are not recognised; nor are the plain abridged and intermediate
//! transports, whose one-byte or four-byte marker alone proves nothing.
//!
//! AES-256-CTR comes from RustCrypto's `aes` and `ctr` crates: pure Rust, no allocation, with
//! AES-NI picked at run time where the CPU has it. Only a client's first 64 bytes are decrypted,
//! once per undecided TCP flow. The 64 bytes must be in the first segment (clients write the
//! header and their first message at once); a stream split before them is not recognised.

use aes::Aes256;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

/// The transports' tags, as they stand decrypted at bytes 56..60.
const TAGS: [[u8; 4]; 3] = [[0xef; 4], [0xee; 4], [0xdd; 4]];

/// The first four bytes a client never sends (it draws again).
const FORBIDDEN_STARTS: [[u8; 4]; 7] =
    [*b"HEAD", *b"POST", *b"GET ", *b"OPTI", [0x16, 0x03, 0x01, 0x02], [0xee; 4], [0xdd; 4]];

/// The transport a valid obfuscated header names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Abridged (`0xef`): one-byte lengths in 32-bit words.
    Abridged,
    /// Intermediate (`0xeeeeeeee`): 32-bit little-endian lengths.
    Intermediate,
    /// Padded intermediate (`0xdddddddd`): the same with random padding.
    PaddedIntermediate,
}

/// Is `head`, the first bytes of a client's stream, the obfuscated transport's 64-byte header?
/// Returns the transport it names.
pub(crate) fn obfuscated_header(head: &[u8]) -> Option<Transport> {
    let h: &[u8; 64] = head.get(..64)?.try_into().ok()?;
    if h[0] == 0xef || FORBIDDEN_STARTS.iter().any(|s| h[..4] == *s) || h[4..8] == [0; 4] {
        return None;
    }
    let key: &[u8; 32] = h[8..40].try_into().ok()?;
    let iv: &[u8; 16] = h[40..56].try_into().ok()?;
    // Only the tag is read: one block of keystream, at its offset, not four.
    let mut cipher = Ctr128BE::<Aes256>::new(key.into(), iv.into());
    cipher.try_seek(56u64).ok()?;
    let mut tag = [h[56], h[57], h[58], h[59]];
    cipher.apply_keystream(&mut tag);
    match TAGS.iter().position(|t| tag == *t)? {
        0 => Some(Transport::Abridged),
        1 => Some(Transport::Intermediate),
        _ => Some(Transport::PaddedIntermediate),
    }
}

/// Is `view` the start of a client's obfuscated MTProto stream?
pub(crate) fn is_client_start(view: &[u8]) -> bool {
    obfuscated_header(view).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    /// A client's first 64 bytes from telegram_videocall.pcapng (nDPI test suite,
    /// LGPL-3.0-or-later), to 149.154.167.91:443: abridged transport.
    fn captured() -> Vec<u8> {
        hex("f8b9357d01ff6ae4f2e43a80667449b134255576f7b465c944bab1bca416e9ca
             c7d620cf78dffc06dc39da584c9b422bdd5a6a121cd2a4d68d3e5af7a35c2ecc")
    }

    /// Builds a header as a client does: `random` drawn, the tag and `dc` encrypted into 56..64.
    fn build(random: &[u8; 64], tag: [u8; 4], dc: i16) -> Vec<u8> {
        let mut plain = *random;
        plain[56..60].copy_from_slice(&tag);
        plain[60..62].copy_from_slice(&dc.to_le_bytes());
        let key: [u8; 32] = random[8..40].try_into().unwrap();
        let iv: [u8; 16] = random[40..56].try_into().unwrap();
        let mut enc = plain;
        Ctr128BE::<Aes256>::new(&key.into(), &iv.into()).apply_keystream(&mut enc);
        let mut out = random[..56].to_vec();
        out.extend_from_slice(&enc[56..]);
        out
    }

    fn random() -> [u8; 64] {
        core::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11))
    }

    #[test]
    fn captured_header_is_abridged() {
        let mut p = captured();
        assert_eq!(obfuscated_header(&p), Some(Transport::Abridged));
        // The first message follows in the same segment: still the header.
        p.extend_from_slice(&[0x5a; 217]);
        assert!(is_client_start(&p));
    }

    #[test]
    fn built_headers_of_each_transport() {
        let r = random();
        assert_eq!(obfuscated_header(&build(&r, [0xef; 4], 2)), Some(Transport::Abridged));
        assert_eq!(obfuscated_header(&build(&r, [0xee; 4], -4)), Some(Transport::Intermediate));
        assert_eq!(obfuscated_header(&build(&r, [0xdd; 4], 5)), Some(Transport::PaddedIntermediate));
    }

    #[test]
    fn rejects_near_misses() {
        let r = random();
        assert_eq!(obfuscated_header(&build(&r, [0xef, 0xef, 0xef, 0xee], 2)), None, "a tag no transport has");
        assert_eq!(obfuscated_header(&captured()[..63]), None, "short of 64 bytes");
        // Any bit of the key or IV changed: the tag decrypts to something else.
        for i in [8, 39, 40, 55] {
            let mut p = captured();
            p[i] ^= 1;
            assert_eq!(obfuscated_header(&p), None, "byte {i} flipped");
        }
        // The tag itself damaged.
        let mut p = captured();
        p[57] ^= 0x80;
        assert_eq!(obfuscated_header(&p), None);
        // Starts a client never sends, with a tag that would otherwise decrypt right (bytes 0..8 are
        // neither key nor IV, so changing them leaves the tag alone).
        for start in
            [&b"HEAD"[..], b"POST", b"GET ", b"OPTI", &[0x16, 3, 1, 2], &[0xee; 4], &[0xdd; 4], &[0xef, 1, 2, 3]]
        {
            let mut p = captured();
            p[..4].copy_from_slice(start);
            assert_eq!(obfuscated_header(&p), None, "start {start:02x?}");
        }
        let mut p = captured();
        p[4..8].fill(0);
        assert_eq!(obfuscated_header(&p), None, "bytes 4..8 zero");
        let mut p = captured();
        p[0] = 0x17;
        assert_eq!(obfuscated_header(&p), Some(Transport::Abridged), "the control: another first byte is fine");
    }

    #[test]
    fn lookalike_streams() {
        // A TLS ClientHello, an HTTP request and the plain abridged transport.
        let mut tls = hex("160301020001fc0303");
        tls.resize(300, 0x41);
        assert!(!is_client_start(&tls));
        let mut http = b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: weir-test\r\n\r\n".to_vec();
        http.resize(80, b' ');
        assert!(!is_client_start(&http));
        let mut plain = vec![0xef, 0x0a];
        plain.resize(80, 0);
        assert!(!is_client_start(&plain));
    }

    proptest::proptest! {
        #[test]
        fn random_headers_fail_and_built_ones_pass(r in proptest::collection::vec(proptest::num::u8::ANY, 64..=64),
                                                   tag in proptest::sample::select(vec![0xefu8, 0xee, 0xdd])) {
            let r: [u8; 64] = r.try_into().unwrap();
            // Random bytes name no transport (3 in 2^32; a failure here is a bug, not luck).
            proptest::prop_assert!(obfuscated_header(&r).is_none());
            let ok = r[0] != 0xef && !FORBIDDEN_STARTS.iter().any(|s| r[..4] == *s) && r[4..8] != [0; 4];
            let built = build(&r, [tag; 4], 1);
            proptest::prop_assert_eq!(obfuscated_header(&built).is_some(), ok);
        }
    }
}
