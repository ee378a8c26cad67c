//! OPC UA over TCP, the binary UA Connection Protocol and UA Secure Conversation (OPC 10000-6,
//! §7.1.2; TCP 4840 by default).
//!
//! Every message starts with an 8-byte header: a three-letter type (`HEL`, `ACK`, `ERR`, `RHE`,
//! `OPN`, `MSG`, `CLO`), a chunk type (`F` final; `C` intermediate and `A` abort only for `MSG`)
//! and a 32-bit little-endian message size that counts the header. The bytes in view must be whole
//! messages whose sizes walk the segment exactly. The type bodies are checked too: `HEL` and `ACK`
//! carry protocol version 0 and receive and send buffer sizes of at least 8192 (the minimum the
//! specification sets), and a `HEL`'s endpoint URL (a length-prefixed string, at most 4096 bytes)
//! ends exactly at the message's end, as an `ACK`'s five fields and an `ERR`'s reason do; `OPN`
//! carries a security policy URI that fits its message; `MSG` and `CLO` at least their 24-byte
//! sequence header. A 32-bit type and chunk, and a 32-bit size that must equal the bytes in view:
//! random bytes pass with about 2^-60, and no other protocol begins so.

use crate::detect::le32;

/// Smallest buffer size a UA peer may announce (OPC 10000-6 §7.1.2.3).
const MIN_BUFFER: u32 = 8192;

/// Is the message at the start of `m` (exactly `m.len()` bytes by its header) well formed?
fn message_ok(m: &[u8]) -> bool {
    let (Some(kind), Some(&chunk)) = (m.get(..3), m.get(3)) else { return false };
    let final_only = chunk == b'F';
    let field = |i: usize| le32(m, i);
    match kind {
        b"HEL" => {
            final_only
                && field(8) == Some(0)
                && field(12).is_some_and(|r| r >= MIN_BUFFER)
                && field(16).is_some_and(|s| s >= MIN_BUFFER)
                && string_ends(m, 28)
        }
        b"ACK" => {
            final_only
                && m.len() == 28
                && field(8) == Some(0)
                && field(12).is_some_and(|r| r >= MIN_BUFFER)
                && field(16).is_some_and(|s| s >= MIN_BUFFER)
        }
        b"ERR" => final_only && field(8).is_some() && string_ends(m, 12),
        b"RHE" => final_only && string_fits(m, 8).is_some_and(|end| string_ends(m, end)),
        b"OPN" => final_only && string_fits(m, 12).is_some(),
        b"MSG" => matches!(chunk, b'F' | b'C' | b'A') && m.len() >= 24,
        b"CLO" => final_only && m.len() >= 24,
        _ => false,
    }
}

/// The end of the UA String (32-bit length, -1 for null, then the bytes) at `at`, if it fits `m`.
fn string_fits(m: &[u8], at: usize) -> Option<usize> {
    let n = le32(m, at)?;
    let end = if n == u32::MAX {
        at + 4
    } else if n <= 4096 {
        at + 4 + n as usize
    } else {
        return None;
    };
    (end <= m.len()).then_some(end)
}

/// Does the UA String at `at` end exactly at the end of `m`?
fn string_ends(m: &[u8], at: usize) -> bool {
    string_fits(m, at) == Some(m.len())
}

/// The start of an OPC UA binary stream (either side): whole messages that walk `p` exactly.
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    while pos < p.len() {
        let Some(size) = le32(p, pos + 4) else { return false };
        let size = size as usize;
        let Some(m) = pos.checked_add(size).and_then(|end| p.get(pos..end)) else { return false };
        if size < 8 || !message_ok(m) {
            return false;
        }
        pos += size;
    }
    pos == p.len() && pos > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From opc-ua.pcap (nDPI test suite, LGPL-3.0-or-later): the client's HEL, the server's ACK.
    fn hello() -> Vec<u8> {
        hex(
            "48454c46380000000000000000000200000002000000004000800000180000006f70632e7463703a2f2f6c6f63616c686f73743a34383430",
        )
    }

    fn ack() -> Vec<u8> {
        hex("41434b461c0000000000000000000200000002000000004000800000")
    }

    fn msg() -> Vec<u8> {
        let mut m = hex("4d5347465d000000010000000100000002000000020000000100ac01");
        m.resize(0x5d, 0x42);
        m
    }

    #[test]
    fn connection_and_secure_conversation_messages() {
        assert!(is_stream_start(&hello()));
        assert!(is_stream_start(&ack()));
        assert!(is_stream_start(&msg()));
        let mut two = msg();
        two.extend_from_slice(&msg());
        assert!(is_stream_start(&two), "two chunks back to back");
        let mut err = hex("4552524600000000 0d800000 0400 0000 62616421");
        err[4] = err.len() as u8;
        assert!(is_stream_start(&err));
    }

    #[test]
    fn rejects_lookalikes() {
        let h = hello();
        assert!(!is_stream_start(&h[..h.len() - 1]), "a size that does not walk the segment");
        let mut extra = h.clone();
        extra.push(0);
        assert!(!is_stream_start(&extra), "a stray byte after the message");
        let mut v = h.clone();
        v[8] = 1;
        assert!(!is_stream_start(&v), "protocol version 1");
        let mut small = h.clone();
        small[12..16].copy_from_slice(&4096u32.to_le_bytes());
        assert!(!is_stream_start(&small), "a receive buffer under 8192");
        let mut url = h.clone();
        url[28] = 0x17;
        assert!(!is_stream_start(&url), "the endpoint URL does not end the message");
        let mut chunk = h.clone();
        chunk[3] = b'C';
        assert!(!is_stream_start(&chunk), "a HEL is always final");
        let mut kind = msg();
        kind[..3].copy_from_slice(b"MSH");
        assert!(!is_stream_start(&kind));
        let mut a = ack();
        a[4] = 0x20;
        a.resize(0x20, 0);
        assert!(!is_stream_start(&a), "an ACK is 28 bytes");
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_under_a_valid_header(kind in proptest::sample::select(vec![*b"HELF", *b"ACKF", *b"MSGF", *b"OPNF", *b"ERRF"]),
                                              body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut p = kind.to_vec();
            p.extend_from_slice(&((body.len() + 8) as u32).to_le_bytes());
            p.extend_from_slice(&body);
            if is_stream_start(&p) && kind[..3] != *b"MSG" && kind[..3] != *b"OPN" && kind[..3] != *b"ERR" {
                // HEL and ACK pass only with protocol version 0.
                proptest::prop_assert!(body.get(..4) == Some(&[0u8; 4][..]));
            }
            // The same message one byte short of its size never passes.
            p.pop();
            proptest::prop_assert!(!is_stream_start(&p));
        }
    }
}
