//! DTLS 1.0, 1.2 and 1.3 records (RFC 4347, 6347, 9147) in a UDP datagram.
//!
//! A datagram holds one or more records, each a 13-byte header (content type 20-25, version
//! 0xfeff for DTLS 1.0, 0xfefd for 1.2 and 1.3's legacy field, 0xfefc, or 0x0100, the pre-standard
//! version OpenSSL and Cisco AnyConnect still send; a 16-bit epoch; a 48-bit sequence number; a
//! 16-bit length) and that many bytes: the records must end exactly at the datagram's end. The
//! first record also has to be one of:
//!
//! - a handshake record of epoch 0 whose handshake header agrees with it: a message type DTLS
//!   defines, a fragment offset and fragment length inside the message length, and the fragment
//!   filling the record exactly (12-byte handshake header + fragment);
//! - any record of epoch 1 to 255 (a session picked up after its handshake): the exact record
//!   lengths and the version then carry the proof.
//!
//! Versions (1 in 2^14 for random bytes), a content type, a 16-bit length that must land exactly
//! on the datagram's end and, for a handshake, three more lengths that must agree: random bytes
//! and the UDP protocols DTLS shares ports with (STUN, RTP/RTCP: first byte 0-3 and 128-191 per
//! RFC 7983; QUIC: first byte with its top bit set) fail at once.

use crate::detect::be16;

fn version_ok(v: u16) -> bool {
    matches!(v, 0xfeff | 0xfefd | 0xfefc | 0x0100)
}

fn be24(p: &[u8], i: usize) -> Option<u32> {
    let b = p.get(i..i + 3)?;
    Some((u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]))
}

/// The first record's handshake header agrees with the record.
fn handshake_ok(p: &[u8], rec_len: usize) -> bool {
    let body = 13;
    let (Some(&t), Some(len), Some(off), Some(frag)) =
        (p.get(body), be24(p, body + 1), be24(p, body + 6), be24(p, body + 9))
    else {
        return false;
    };
    matches!(t, 0..=4 | 11..=16 | 20 | 21 | 24)
        && frag as usize + 12 == rec_len
        && u64::from(off) + u64::from(frag) <= u64::from(len)
}

/// One or more whole DTLS records in a datagram (see the module docs).
pub(crate) fn is_records(p: &[u8]) -> bool {
    let mut pos = 0;
    let mut first = true;
    while pos < p.len() {
        let (Some(&ct), Some(v), Some(epoch), Some(len)) =
            (p.get(pos), be16(p, pos + 1), be16(p, pos + 3), be16(p, pos + 11))
        else {
            return false;
        };
        let len = usize::from(len);
        if !(20..=25).contains(&ct) || !version_ok(v) {
            return false;
        }
        if first {
            let ok = match epoch {
                0 => ct == 22 && handshake_ok(p, len),
                1..=255 => len >= 1,
                _ => false,
            };
            if !ok {
                return false;
            }
            first = false;
        }
        pos += 13 + len;
    }
    pos == p.len() && !first
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello fragment record of 0x20 bytes (DTLS 1.2).
    pub(crate) fn client_hello() -> Vec<u8> {
        let mut r = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];
        r.extend_from_slice(&[1, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x14]);
        r.extend_from_slice(&[0xfe, 0xfd]);
        r.extend_from_slice(&[0x55; 18]);
        r
    }

    #[test]
    fn records() {
        let ch = client_hello();
        assert!(is_records(&ch));
        let mut two = ch.clone();
        two.extend_from_slice(&[20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]);
        assert!(is_records(&two), "a flight of two records");
        let mut cut = ch.clone();
        cut.pop();
        assert!(!is_records(&cut));
        let mut bad_frag = ch.clone();
        bad_frag[24] = 0x13;
        assert!(!is_records(&bad_frag));
        let mut bad_version = ch.clone();
        bad_version[2] = 0xfe;
        assert!(!is_records(&bad_version));
        // Application data of epoch 1, as a session picked up mid-way sends it.
        let mut app = vec![23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 5];
        app.extend_from_slice(&[1, 2, 3, 4, 5]);
        assert!(is_records(&app));
        app[4] = 0;
        assert!(!is_records(&app), "epoch 0 application data is not a record anyone sends");
        assert!(!is_records(&[]));
    }
}
