//! RADIUS (RFC 2865 authentication, RFC 2866 accounting, RFC 5176 dynamic authorization).
//!
//! One datagram is one packet: a code RADIUS defines (1-5, 11-13, 40-45), an identifier, a 16-bit
//! length that must equal the datagram's length (20..=4096), a 16-byte authenticator, then
//! attributes (type >= 1, length >= 2 counting the 2-byte header) that must end exactly at the
//! length. Random bytes pass the code (14 of 256), the length (1 in 65536 for a given size) and
//! the attribute walk (which must land exactly on the end) with well under 1 in 10^8; the binary
//! lookalikes (ONC RPC, DNS, NTP, BitTorrent's UDP tracker) disagree on the code or the length.

use crate::detect::be16;

/// Codes RADIUS defines: Access-Request/Accept/Reject, Accounting-Request/Response,
/// Access-Challenge, Status-Server/Client, Disconnect and CoA requests and answers.
fn known_code(c: u8) -> bool {
    matches!(c, 1..=5 | 11..=13 | 40..=45)
}

/// A whole RADIUS packet in one datagram.
pub(crate) fn is_packet(p: &[u8]) -> bool {
    let (Some(&code), Some(len)) = (p.first(), be16(p, 2)) else { return false };
    let len = usize::from(len);
    if !known_code(code) || !(20..=4096).contains(&len) || len != p.len() {
        return false;
    }
    let mut pos = 20;
    while pos < len {
        let (Some(&t), Some(&l)) = (p.get(pos), p.get(pos + 1)) else { return false };
        if t == 0 || l < 2 {
            return false;
        }
        pos += usize::from(l);
    }
    pos == len
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Access-Request with User-Name "weir" and NAS-Port 0.
    pub(crate) fn access_request() -> Vec<u8> {
        let mut p = vec![1, 0x2a, 0, 0];
        p.extend_from_slice(&[0x11; 16]);
        p.extend_from_slice(&[1, 6]);
        p.extend_from_slice(b"weir");
        p.extend_from_slice(&[5, 6, 0, 0, 0, 0]);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p
    }

    #[test]
    fn packets() {
        assert!(is_packet(&access_request()));
        let mut acct = access_request();
        acct[0] = 4;
        assert!(is_packet(&acct));
        let mut bad_code = access_request();
        bad_code[0] = 6;
        assert!(!is_packet(&bad_code));
        let mut padded = access_request();
        padded.push(0);
        assert!(!is_packet(&padded));
        let mut zero_type = access_request();
        zero_type[20] = 0;
        assert!(!is_packet(&zero_type));
        let mut overrun = access_request();
        overrun[27] = 9;
        assert!(!is_packet(&overrun));
        assert!(!is_packet(&access_request()[..19]));
        // A bare header with no attributes is a valid (if useless) packet.
        let mut bare = access_request()[..20].to_vec();
        bare[3] = 20;
        assert!(is_packet(&bare));
    }
}
