//! Apache Cassandra's native protocol (CQL binary protocol v3-v5): the client's first frame.
//!
//! A request frame: a version byte of 3, 4 or 5 (the direction bit clear), flags with only the
//! defined bits (compression, tracing, custom payload, warning, beta), a 16-bit stream id, an
//! opcode a client sends first (STARTUP 0x01, OPTIONS 0x05; or QUERY 0x07, PREPARE 0x09, EXECUTE
//! 0x0A, REGISTER 0x0B, BATCH 0x0D, AUTH_RESPONSE 0x0F on a stream picked up later), and a 32-bit
//! body length that must equal the rest of the segment (or run past a full segment). A version
//! byte, an opcode and an exact 32-bit length: random bytes and other protocols do not pass.

use crate::detect::be32;

/// The first bytes of a CQL client's stream.
pub(crate) fn is_request_start(p: &[u8]) -> bool {
    let (Some(&v), Some(&flags), Some(&op), Some(len)) = (p.first(), p.get(1), p.get(4), be32(p, 5)) else {
        return false;
    };
    let len = len as usize;
    matches!(v, 3..=5)
        && flags & 0xe0 == 0
        && matches!(op, 0x01 | 0x05 | 0x07 | 0x09 | 0x0a | 0x0b | 0x0d | 0x0f)
        && len <= 256 << 20
        && (len + 9 == p.len() || (len + 9 > p.len() && p.len() >= 536))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn frames() {
        // OPTIONS (cassandra.pcap, nDPI test suite, LGPL-3.0-or-later).
        assert!(is_request_start(&hex("050000000500000000")));
        assert!(!is_request_start(&hex("05000000050000000000")));
        assert!(!is_request_start(&hex("850000000500000000")), "a response");
        let mut startup = hex("0400000001 00000016 0001 000b 43514c5f56455253494f4e 0005 332e302e30");
        startup.truncate(9 + 0x16);
        assert!(is_request_start(&startup));
    }
}
