//! TP-Link's Smart Home protocol (smart plugs and bulbs, UDP and TCP 9999): JSON commands
//! "encrypted" with an autokey XOR that starts from the key 171 (each byte is XORed with the
//! previous ciphertext byte). Over UDP a datagram is one message; over TCP each message follows a
//! 32-bit length.
//!
//! Decrypted, a message must begin `{"` and its first 24 bytes (or all of it, at least 8) must be
//! printable ASCII. Two bytes after a fixed transform and a run of printable text: random bytes
//! pass with about 2^-16 x (95/256)^22, well under 10^-13, and other protocols, which do not use
//! the transform, fail it just as random bytes do.

/// Decrypts the first bytes of a message and checks them.
fn message(p: &[u8]) -> bool {
    let n = p.len().min(24);
    if n < 8 {
        return false;
    }
    let mut key = 171u8;
    let mut ok = true;
    for (i, &c) in p[..n].iter().enumerate() {
        let plain = c ^ key;
        key = c;
        ok &= match i {
            0 => plain == b'{',
            1 => plain == b'"',
            _ => (0x20..0x7f).contains(&plain),
        };
    }
    ok
}

/// A message in one UDP datagram.
pub(crate) fn is_udp(p: &[u8]) -> bool {
    message(p)
}

/// The start of a TCP stream: a 32-bit length (at most 64 KB, at least the bytes in view after it
/// or equal to them) and a message.
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    let Some(len) = crate::detect::be32(p, 0) else { return false };
    let rest = p.len() - 4;
    (8..=65536).contains(&len) && (len as usize == rest || (len as usize > rest && rest >= 512)) && message(&p[4..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    fn encrypt(s: &[u8]) -> Vec<u8> {
        let mut key = 171u8;
        s.iter()
            .map(|&c| {
                key ^= c;
                key
            })
            .collect()
    }

    #[test]
    fn messages() {
        // get_sysinfo (tplink_shp.pcap, nDPI test suite, LGPL-3.0-or-later).
        let q = hex("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6");
        assert!(is_udp(&q));
        assert_eq!(q, encrypt(b"{\"system\":{\"get_sysinfo\":{}}}"));
        let mut framed = (q.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        assert!(is_tcp_start(&framed));
        assert!(!is_udp(b"{\"system\":{}}"), "plain JSON is not the transform");
        assert!(!is_udp(&encrypt(b"{\"a\x01bcdefgh")));
    }
}
