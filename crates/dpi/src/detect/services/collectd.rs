//! collectd's binary network protocol (collectd's `network` plugin).
//!
//! A datagram is a sequence of parts, each a 16-bit type, a 16-bit length (counting the 4-byte
//! header, at least 4) and a value, that must end exactly at the datagram's end. Every part type
//! must be one collectd defines (host 0x0000, time 0x0001/0x0008, plugin 0x0002, plugin instance
//! 0x0003, type 0x0004, type instance 0x0005, values 0x0006, interval 0x0007/0x0009, message
//! 0x0100, severity 0x0101, signature 0x0200, encryption 0x0210), string parts must end with NUL,
//! numeric parts must be 12 bytes, and a values part must hold exactly 1 + 9 bytes per value after
//! its 16-bit count; a packet has at least two parts, or is one encryption part covering the whole
//! datagram. A chain of 16-bit lengths with typed contents that must end exactly: random bytes and
//! other protocols do not pass (a lone encryption part: a 16-bit type and a 16-bit length that must
//! equal the datagram's, 2^-32).

use crate::detect::be16;

/// A whole collectd packet in one datagram.
pub(crate) fn is_packet(p: &[u8]) -> bool {
    let mut pos = 0;
    let mut parts = 0;
    while pos < p.len() {
        let (Some(t), Some(len)) = (be16(p, pos), be16(p, pos + 2)) else { return false };
        let len = usize::from(len);
        let Some(value) = p.get(pos + 4..pos + len.max(4)) else { return false };
        let ok = match t {
            0x0000 | 0x0002..=0x0005 | 0x0100 => len > 4 && value.last() == Some(&0),
            0x0001 | 0x0007..=0x0009 | 0x0101 => len == 12,
            0x0006 => be16(value, 0).is_some_and(|n| len == 4 + 2 + 9 * usize::from(n) && n > 0),
            0x0200 | 0x0210 => len > 4,
            _ => false,
        };
        if !ok {
            return false;
        }
        pos += len;
        parts += 1;
    }
    // Encrypted packets are one encryption part (user name, IV, ciphertext) covering the whole
    // datagram; anything else carries at least a host and a value.
    pos == p.len() && (parts >= 2 || (be16(p, 0) == Some(0x0210) && p.len() >= 4 + 2 + 1 + 16 + 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(t: u16, v: &[u8]) -> Vec<u8> {
        let mut p = t.to_be_bytes().to_vec();
        p.extend_from_slice(&((v.len() + 4) as u16).to_be_bytes());
        p.extend_from_slice(v);
        p
    }

    #[test]
    fn packets() {
        let mut p = part(0x0000, b"devlap\0");
        p.extend(part(0x0008, &[0; 8]));
        p.extend(part(0x0002, b"cpu\0"));
        p.extend(part(0x0006, &[0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7]));
        assert!(is_packet(&p));
        let mut cut = p.clone();
        cut.pop();
        assert!(!is_packet(&cut));
        let mut unknown = p.clone();
        unknown[1] = 0x0a;
        assert!(!is_packet(&unknown));
        assert!(!is_packet(&part(0x0000, b"devlap\0")), "a single part");
        let mut enc = vec![0x02, 0x10, 0, 0, 0, 4];
        enc.extend_from_slice(b"user");
        enc.extend_from_slice(&[0x5a; 60]);
        let n = enc.len() as u16;
        enc[2..4].copy_from_slice(&n.to_be_bytes());
        assert!(is_packet(&enc), "an encrypted packet is one part");
    }
}
