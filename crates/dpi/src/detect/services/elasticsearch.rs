//! Elasticsearch's transport protocol (node-to-node and transport clients, port 9300).
//!
//! Every message starts with "ES" and a 32-bit message length; a ping is exactly "ES" and 0xFFFFFFFF.
//! Otherwise the length counts the bytes after it (at least the 8-byte request id, a status byte
//! and a 4-byte version) and must equal the rest of the segment (or run past a full segment), and
//! the status uses only its defined bits (request/response, error, compressed, handshake). Two
//! fixed bytes and a 32-bit length that must agree: random bytes pass with 2^-40.

use crate::detect::be32;

/// The first bytes of an Elasticsearch transport stream (either side).
pub(crate) fn is_message_start(p: &[u8]) -> bool {
    if !p.starts_with(b"ES") {
        return false;
    }
    let Some(len) = be32(p, 2) else { return false };
    if len == 0xffff_ffff {
        return p.len() == 6;
    }
    let len = len as usize;
    let whole = len + 6 == p.len() || (len + 6 > p.len() && p.len() >= 536);
    (13..=100 << 20).contains(&len) && whole && p.get(14).is_some_and(|&s| s & 0xf0 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut m = b"ES".to_vec();
        m.extend_from_slice(&20u32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0x08, 0, 0x7a, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0]);
        assert!(is_message_start(&m));
        m.push(0);
        assert!(!is_message_start(&m));
        assert!(is_message_start(b"ES\xff\xff\xff\xff"));
        assert!(!is_message_start(b"ESMTP ready"));
    }
}
