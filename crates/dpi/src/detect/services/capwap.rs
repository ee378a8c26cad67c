//! CAPWAP control messages (RFC 5415; wireless access points and their controllers, UDP 5246).
//!
//! The CAPWAP header: preamble 0 (version 0, type 0: a plain header follows), a header length of
//! at least 2 words, a wireless binding of 0 (none), 1 (IEEE 802.11) or 3 (EPCGlobal), the T flag
//! clear (control frames carry no native frames) and the reserved flag bits clear. Then the
//! control header: a message type with IANA enterprise number 0 and a type RFC 5415 defines
//! (1-26), a sequence number, a message element length that counts exactly the bytes after the
//! sequence number, and flags of 0; and message elements (16-bit type, 16-bit length) that end
//! exactly there. Several exact lengths and fixed zeros: random bytes and other protocols do not
//! pass.
//!
//! A DTLS-protected control or data packet (§4.2) is the CAPWAP DTLS header, preamble 1 (version
//! 0, type 1) and 24 reserved zero bits, followed by DTLS records that must pass
//! [`dtls::is_records`] on their own (a content type, a DTLS version, record lengths that end
//! exactly at the datagram's end, and a handshake or a later epoch): the 32 fixed bits come on
//! top of the DTLS proof. (The data channel in the clear, UDP 5247, carries native 802.11 frames
//! after a short header and is not recognised.)

use super::dtls;
use crate::detect::be16;

/// A DTLS-protected CAPWAP packet: the CAPWAP DTLS header, then whole DTLS records.
pub(crate) fn is_dtls(p: &[u8]) -> bool {
    p.get(..4) == Some(&[1, 0, 0, 0][..]) && p.get(4..).is_some_and(dtls::is_records)
}

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

    /// A DTLS 1.0 ClientHello record of 0x20 bytes.
    fn client_hello() -> Vec<u8> {
        let mut r = hex("16 feff 0000 000000000000 0020 01 000014 0000 000000 000014 feff");
        r.extend_from_slice(&[0x55; 18]);
        r
    }

    #[test]
    fn dtls_protected() {
        let mut p = vec![1, 0, 0, 0];
        p.extend_from_slice(&client_hello());
        assert!(is_dtls(&p));
        assert!(!is_control(&p));
        p[3] = 1;
        assert!(!is_dtls(&p), "reserved bits set");
        p[3] = 0;
        p.push(0);
        assert!(!is_dtls(&p), "the records must end with the datagram");
        assert!(!is_dtls(&client_hello()), "bare DTLS has no CAPWAP header");
    }
}
