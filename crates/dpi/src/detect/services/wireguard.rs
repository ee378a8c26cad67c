//! WireGuard (the protocol paper, section 5.4): four message types, each a type byte and three
//! zero bytes, with fixed sizes for the handshake.
//!
//! A handshake initiation is exactly 148 bytes (type 1), a handshake response exactly 92 (type 2),
//! a cookie reply exactly 64 (type 3). A transport data message (type 4) is at least 32 bytes and
//! its length minus the 16-byte header is a multiple of 16 (padding to 16 and a 16-byte tag); it is
//! too weak alone, so data needs two messages from one side under the same receiver index with
//! growing counters. 32 fixed bits and an exact size for the handshake: random bytes pass with
//! 2^-32 at a single size.

use crate::detect::le32;

/// A handshake message (initiation, response or cookie reply).
pub(crate) fn is_handshake(p: &[u8]) -> bool {
    let fixed = |t: u8| p.first() == Some(&t) && p.get(1..4) == Some(&[0, 0, 0][..]);
    (p.len() == 148 && fixed(1)) || (p.len() == 92 && fixed(2)) || (p.len() == 64 && fixed(3))
}

/// A transport data message: (receiver index, counter's low 32 bits).
pub(crate) fn data(p: &[u8]) -> Option<(u32, u32)> {
    let ok = p.len() >= 32
        && (p.len() - 16).is_multiple_of(16)
        && p.first() == Some(&4)
        && p.get(1..4) == Some(&[0, 0, 0][..]);
    if !ok {
        return None;
    }
    Some((le32(p, 4)?, le32(p, 8)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let mut init = vec![1, 0, 0, 0];
        init.resize(148, 0x5a);
        assert!(is_handshake(&init));
        init.push(0);
        assert!(!is_handshake(&init));
        let mut resp = vec![2, 0, 0, 0];
        resp.resize(92, 0x5a);
        assert!(is_handshake(&resp));
        resp[2] = 1;
        assert!(!is_handshake(&resp));
        let mut d = vec![4, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
        d.resize(48, 0x33);
        assert_eq!(data(&d), Some((9, 7)));
        d.push(0);
        assert_eq!(data(&d), None);
    }
}
