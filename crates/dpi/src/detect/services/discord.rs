//! Discord voice: the IP discovery exchange that opens every voice connection (Discord's developer
//! documentation, "Voice Connections: IP Discovery"), and the keep-alive pings of its voice servers.
//!
//! Both packets are exactly 74 bytes: a 16-bit type (1 request, 2 response), a 16-bit length of 70,
//! the 32-bit SSRC, a 64-byte address field and a 16-bit port. The request's address field is all
//! zeros; the response's holds the client's public address as text (an IPv4 or IPv6 address),
//! padded with zeros. An exact size, two fixed 16-bit fields and 64 bytes of zeros or of an address
//! and zeros: random bytes and other protocols do not pass.

use crate::detect::be16;

/// A voice keep-alive ping: exactly 8 bytes, the 32-bit magic 0x1337CAFE and a 32-bit counter. The
/// server echoes it byte for byte, and only that echo (the magic and the counter from the other
/// side) is proof: the classifier keeps the counter.
pub(crate) fn ping(p: &[u8]) -> Option<u32> {
    (p.len() == 8 && p.starts_with(&[0x13, 0x37, 0xca, 0xfe])).then(|| crate::detect::le32(p, 4)).flatten()
}

/// A Discord IP discovery request or response.
pub(crate) fn is_ip_discovery(p: &[u8]) -> bool {
    if p.len() != 74 || be16(p, 2) != Some(70) {
        return false;
    }
    let addr = &p[8..72];
    match be16(p, 0) {
        Some(1) => addr.iter().all(|&b| b == 0),
        Some(2) => {
            let n = addr.iter().position(|&b| b == 0).unwrap_or(addr.len());
            (2..=45).contains(&n)
                && addr[..n].iter().all(|&c| c.is_ascii_hexdigit() || c == b'.' || c == b':')
                && addr[n..].iter().all(|&b| b == 0)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(kind: u16, addr: &[u8]) -> Vec<u8> {
        let mut p = kind.to_be_bytes().to_vec();
        p.extend_from_slice(&70u16.to_be_bytes());
        p.extend_from_slice(&[0, 2, 0x4b, 0x18]);
        let mut a = addr.to_vec();
        a.resize(64, 0);
        p.extend_from_slice(&a);
        p.extend_from_slice(&50004u16.to_be_bytes());
        p
    }

    #[test]
    fn pings() {
        assert_eq!(ping(&[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0]), Some(5));
        assert_eq!(ping(&[0x13, 0x37, 0xca, 0xfe, 5, 0, 0, 0, 0]), None);
        assert_eq!(ping(&[0x13, 0x37, 0xca, 0xff, 5, 0, 0, 0]), None);
    }

    #[test]
    fn discovery() {
        assert!(is_ip_discovery(&packet(1, b"")));
        assert!(is_ip_discovery(&packet(2, b"198.51.100.7")));
        assert!(is_ip_discovery(&packet(2, b"2001:db8::1")));
        assert!(!is_ip_discovery(&packet(1, b"x")), "a request carries no address");
        assert!(!is_ip_discovery(&packet(2, b"")), "a response carries one");
        assert!(!is_ip_discovery(&packet(2, b"example.com")));
        assert!(!is_ip_discovery(&packet(3, b"")));
        let mut long = packet(1, b"");
        long.push(0);
        assert!(!is_ip_discovery(&long));
    }
}
