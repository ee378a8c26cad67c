//! TFTP (RFC 1350, options RFC 2347-2349, 7440).
//!
//! A request (RRQ 1, WRQ 2): the opcode, a file name of 1 to 255 printable bytes and a NUL, a
//! transfer mode of "netascii", "octet" or "mail" (any case) and a NUL, then option name/value
//! pairs, each printable and NUL-terminated, ending exactly at the datagram's end. Two
//! NUL-terminated strings, one of them from a list of three, and nothing left over: random bytes
//! and other protocols do not pass.
//!
//! A transfer (on the ports the request opened) is judged by a DATA block and its ACK from the
//! other side: DATA is opcode 3, a block number and up to 65464 bytes; its ACK is exactly 4 bytes,
//! opcode 4 and the same block number (or the reverse, an ACK and the next DATA block, for a
//! write). Alone either is too weak; the pair (a 16-bit opcode and a 16-bit block echoed in an
//! exactly 4-byte datagram) is the proof. The classifier keeps the block between the two.

use crate::detect::be16;

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&c| (0x20..0x7f).contains(&c))
}

/// Splits a NUL-terminated string at `pos`: (string, position after the NUL).
fn cstr(p: &[u8], pos: usize, max: usize) -> Option<(&[u8], usize)> {
    let rest = p.get(pos..)?;
    let n = rest.iter().take(max + 1).position(|&c| c == 0)?;
    Some((&rest[..n], pos + n + 1))
}

/// A whole read or write request in one datagram.
pub(crate) fn is_request(p: &[u8]) -> bool {
    if !matches!(be16(p, 0), Some(1 | 2)) {
        return false;
    }
    let Some((name, pos)) = cstr(p, 2, 255) else { return false };
    let Some((mode, mut pos)) = cstr(p, pos, 8) else { return false };
    let mode_ok = ["netascii", "octet", "mail"].iter().any(|m| m.as_bytes().eq_ignore_ascii_case(mode));
    if name.is_empty() || !printable(name) || !mode_ok {
        return false;
    }
    while pos < p.len() {
        let Some((opt, after)) = cstr(p, pos, 64) else { return false };
        let Some((val, after)) = cstr(p, after, 64) else { return false };
        if opt.is_empty() || !printable(opt) || !printable(val) {
            return false;
        }
        pos = after;
    }
    pos == p.len()
}

/// A DATA packet: its block number.
pub(crate) fn data_block(p: &[u8]) -> Option<u16> {
    (be16(p, 0)? == 3 && p.len() <= 4 + 65464).then(|| be16(p, 2)).flatten()
}

/// An ACK packet (exactly 4 bytes): its block number.
pub(crate) fn ack_block(p: &[u8]) -> Option<u16> {
    (p.len() == 4 && be16(p, 0)? == 4).then(|| be16(p, 2)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert!(is_request(b"\x00\x01pxelinux.0\x00octet\x00"));
        assert!(is_request(b"\x00\x02config.txt\x00NETASCII\x00"));
        assert!(is_request(b"\x00\x01f\x00octet\x00blksize\x001428\x00tsize\x000\x00"));
        assert!(!is_request(b"\x00\x01f\x00octet\x00blksize\x001428"), "option value not terminated");
        assert!(!is_request(b"\x00\x01f\x00binary\x00"), "unknown mode");
        assert!(!is_request(b"\x00\x01\x00octet\x00"), "empty file name");
        assert!(!is_request(b"\x00\x03f\x00octet\x00"), "DATA is no request");
        assert!(!is_request(b"\x00\x01f\x00octet\x00\x00"), "a stray NUL");
    }

    #[test]
    fn transfer() {
        assert_eq!(data_block(&[0, 3, 0, 1, b'x']), Some(1));
        assert_eq!(ack_block(&[0, 4, 0, 1]), Some(1));
        assert_eq!(ack_block(&[0, 4, 0, 1, 0]), None);
        assert_eq!(data_block(&[0, 4, 0, 1]), None);
    }
}
