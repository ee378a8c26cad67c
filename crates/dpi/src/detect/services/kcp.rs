//! KCP (the ARQ protocol over UDP of skywind3000/kcp, used by games, remote desktops and
//! tunnels), in the clear.
//!
//! A datagram is one or more segments, each a 24-byte header and its data: the conversation id
//! (32 bits, little-endian), the command (81 push, 82 ack, 83 window probe, 84 window answer), the
//! fragment count, the window, the timestamp, the sequence number, the next unacknowledged number
//! and the data length (32 bits, little-endian). Only a push carries data. Every segment of a
//! datagram has the same conversation id, a command KCP defines, a length that is zero unless it
//! pushes, and the lengths walk the datagram to its last byte exactly. One segment gives about
//! 2^-38 for random bytes (the command, the 32-bit length); each further one adds as much again
//! and must repeat the conversation id. KCP run inside an encrypting tunnel (kcptun's default)
//! has no clear header and is not recognised.

/// Commands of KCP segments: push, ack, window probe, window size.
const PUSH: u8 = 81;
const WINS: u8 = 84;

/// Is `p` a whole datagram of KCP segments?
pub(crate) fn is_datagram(p: &[u8]) -> bool {
    let Some(conv) = p.get(0..4) else { return false };
    let mut rest = p;
    while !rest.is_empty() {
        let Some(h) = rest.get(0..24) else { return false };
        let cmd = h[4];
        let len = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
        if h[0..4] != *conv || !(PUSH..=WINS).contains(&cmd) || (cmd != PUSH && len != 0) {
            return false;
        }
        let Some(next) = usize::try_from(len).ok().and_then(|l| rest.get(24 + l..)) else { return false };
        rest = next;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From kcp.pcap (nDPI test suite, LGPL-3.0-or-later): a push of 1,448 bytes (the first 12
    // data bytes kept) and the ack of two pushes in one datagram.
    fn push() -> Vec<u8> {
        let mut p = hex("0a00000051028000140000000000000000000000a8050000");
        p.extend_from_slice(&hex("000102030405060708090a0b"));
        p.resize(24 + 1448, 0x5c);
        p
    }

    fn acks() -> Vec<u8> {
        hex(
            "0a000000 52 00 8000 28000000 01000000 03000000 00000000 0a000000 52 00 8000 28000000 02000000 03000000 00000000",
        )
    }

    #[test]
    fn pushes_and_acks() {
        assert!(is_datagram(&push()));
        assert!(is_datagram(&acks()));
        assert!(is_datagram(&acks()[..24]));
    }

    #[test]
    fn rejects_lookalikes() {
        let mut p = push();
        p.push(0);
        assert!(!is_datagram(&p), "a byte past the last segment");
        assert!(!is_datagram(&push()[..100]), "a push cut short");
        let mut p = acks();
        p[28] = 1;
        assert!(!is_datagram(&p), "two conversations in one datagram");
        let mut p = acks();
        p[4] = 85;
        assert!(!is_datagram(&p), "a command KCP does not define");
        let mut p = acks()[..24].to_vec();
        p[20] = 4;
        p.extend_from_slice(&[1, 2, 3, 4]);
        assert!(!is_datagram(&p), "an ack carrying data");
        assert!(!is_datagram(&[0u8; 24]), "zeros");
        assert!(!is_datagram(&[]));
        assert!(!is_datagram(&acks()[..23]));
    }
}
