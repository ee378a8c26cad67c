//! CAPWAP control messages (RFC 5415; wireless access points and their controllers, UDP 5246).
//!
//! The CAPWAP header: preamble 0 (version 0, type 0: a plain header follows), a header length of
//! at least 2 words, a wireless binding of 0 (none), 1 (IEEE 802.11) or 3 (EPCGlobal), the T flag
//! clear (control frames carry no native frames) and the reserved flag bits clear. Then the
//! control header: a message type with IANA enterprise number 0 and a type RFC 5415 defines
//! (1-26), a sequence number, a message element length that counts exactly the bytes after the
//! sequence number, and flags of 0; and message elements (16-bit type, 16-bit length) that end
//! exactly there. Several exact lengths and fixed zeros: random bytes and other protocols do not
//! pass. (The data channel, UDP 5247, and DTLS-protected control, preamble type 1, are not
//! recognised.)

use crate::detect::be16;

/// A whole CAPWAP control message in one datagram.
pub(crate) fn is_control(p: &[u8]) -> bool {
    let Some(h) = p.get(..4) else { return false };
    let bits = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let hlen = ((bits >> 19) & 0x1f) as usize * 4;
    let wbid = (bits >> 9) & 0x1f;
    let t = bits & 0x100 != 0;
    if h[0] != 0 || hlen < 8 || !matches!(wbid, 0 | 1 | 3) || t || bits & 0x7 != 0 {
        return false;
    }
    let c = hlen;
    let (Some(ty), Some(len), Some(&flags)) = (p.get(c..c + 4), be16(p, c + 5), p.get(c + 7)) else { return false };
    let msg_type = u32::from_be_bytes([ty[0], ty[1], ty[2], ty[3]]);
    if !(1..=26).contains(&msg_type) || flags != 0 || c + 5 + usize::from(len) != p.len() {
        return false;
    }
    let mut pos = c + 8;
    while pos < p.len() {
        let Some(l) = be16(p, pos + 2) else { return false };
        pos += 4 + usize::from(l);
    }
    pos == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn control() {
        let mut m = hex("0010020000000000 00000002 00 0000 00");
        m.extend_from_slice(&hex("0001 0004 000003e8"));
        let n = (m.len() - 13) as u16;
        m[13..15].copy_from_slice(&n.to_be_bytes());
        assert!(is_control(&m));
        m.push(0);
        assert!(!is_control(&m));
        assert!(!is_control(&hex("0100000016feff0000000000000000003801")), "DTLS-protected");
    }
}
