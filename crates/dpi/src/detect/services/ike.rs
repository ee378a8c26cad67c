//! IKE, the key exchange of IPsec (ISAKMP/IKEv1, RFC 2408/2409; IKEv2, RFC 7296), over UDP 500 and,
//! after NAT traversal (RFC 3948), over UDP 4500 behind a 4-byte zero "non-ESP marker".
//!
//! The 28-byte header: a non-zero initiator SPI, a responder SPI, the first payload type, the
//! version (0x10 for IKEv1, 0x20 for IKEv2), an exchange type that version defines (IKEv1 1-5,
//! 32, 33; IKEv2 34-43), flags with only that version's defined bits, a message id, and a 32-bit
//! length that must equal the datagram's length (after the marker). The first payload type must be
//! one the version defines (IKEv1 1-13, 20, 21, 130-132; IKEv2 33-48, 53, 54; or 0 for an empty
//! message). A 32-bit length that must match exactly, the version byte, the exchange and payload
//! types: random bytes pass with well under 1 in 10^12, and ESP's own packets (SPI, sequence
//! number, ciphertext) fail the length.

use crate::detect::be32;

fn header(p: &[u8]) -> bool {
    let Some(h) = p.get(..28) else { return false };
    let Some(len) = be32(h, 24) else { return false };
    let (next, version, exchange, flags) = (h[16], h[17], h[18], h[19]);
    let spi_i_set = h[..8].iter().any(|&b| b != 0);
    let known = match version {
        0x10 => {
            matches!(exchange, 1..=5 | 32 | 33) && flags & 0xf8 == 0 && matches!(next, 0..=13 | 20 | 21 | 130..=132)
        }
        0x20 => matches!(exchange, 34..=43) && flags & 0xc7 == 0 && matches!(next, 0 | 33..=48 | 53 | 54),
        _ => false,
    };
    spi_i_set && known && len as usize == p.len()
}

/// An IKE message in one datagram: bare (UDP 500) or after the non-ESP marker (UDP 4500).
pub(crate) fn is_message(p: &[u8]) -> bool {
    header(p) || (p.len() > 4 && p[..4] == [0, 0, 0, 0] && header(&p[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IKEv2 IKE_SA_INIT request header with an empty SA payload.
    pub(crate) fn sa_init() -> Vec<u8> {
        let mut m = vec![0x1c, 0x18, 0x69, 0xf6, 0xd2, 0x9b, 0xa0, 0xcc, 0, 0, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[33, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&[0, 0, 0, 4]); // SA payload: no next payload, length 4
        let len = m.len() as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    #[test]
    fn messages() {
        let m = sa_init();
        assert!(is_message(&m));
        let mut natt = vec![0, 0, 0, 0];
        natt.extend_from_slice(&m);
        assert!(is_message(&natt));
        let mut longer = m.clone();
        longer.push(0);
        assert!(!is_message(&longer));
        let mut zero_spi = m.clone();
        zero_spi[..8].fill(0);
        assert!(!is_message(&zero_spi));
        let mut v1_exchange = m.clone();
        v1_exchange[18] = 2;
        assert!(!is_message(&v1_exchange), "IKEv1 exchange type under version 2");
        let mut v1 = m.clone();
        v1[17] = 0x10;
        v1[18] = 2;
        v1[16] = 1;
        v1[19] = 0;
        assert!(is_message(&v1));
    }
}
