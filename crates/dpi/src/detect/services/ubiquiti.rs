//! Ubiquiti's device discovery (UDP 10001), as its tools and devices send it.
//!
//! Version 1: a request is exactly the 4 bytes 01 00 00 00; an answer is version 1, command 0, a
//! 16-bit length of the rest, then TLVs (type, 16-bit length, value) that end exactly at the
//! datagram's end. Version 2: version 2, a command (0x06, 0x08, 0x09, 0x0b), the same length and
//! TLVs. A fixed version and command, a 16-bit length that must match and a TLV chain that must
//! end exactly: random bytes and other protocols do not pass (the bare v1 request is 32 fixed
//! bits in an exact size).

use crate::detect::be16;

/// A Ubiquiti discovery datagram.
pub(crate) fn is_packet(p: &[u8]) -> bool {
    if p == [1, 0, 0, 0] {
        return true;
    }
    let (Some(&v), Some(&cmd), Some(len)) = (p.first(), p.get(1), be16(p, 2)) else { return false };
    let header_ok = match v {
        1 => cmd == 0,
        2 => matches!(cmd, 0x06 | 0x08 | 0x09 | 0x0b),
        _ => false,
    };
    if !header_ok || usize::from(len) + 4 != p.len() || len < 3 {
        return false;
    }
    let mut pos = 4;
    while pos < p.len() {
        let Some(l) = be16(p, pos + 1) else { return false };
        pos += 3 + usize::from(l);
    }
    pos == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        assert!(is_packet(&[1, 0, 0, 0]));
        let mut a = vec![2, 6, 0, 0];
        a.extend_from_slice(&[2, 0, 10, 0x80, 0x2a, 0xa8, 0x8d, 0x69, 0x2b, 192, 168, 2, 21]);
        a.extend_from_slice(&[1, 0, 6, 0x80, 0x2a, 0xa8, 0x8d, 0x69, 0x2b]);
        a[3] = (a.len() - 4) as u8;
        assert!(is_packet(&a));
        a.push(0);
        assert!(!is_packet(&a));
        assert!(!is_packet(&[1, 0, 0, 0, 0]));
    }
}
