//! MySQL and MariaDB: the server's initial handshake (MySQL client/server protocol,
//! "Protocol::HandshakeV10"), which opens every connection.
//!
//! A 3-byte little-endian payload length and sequence id 0, then protocol version 10, a server
//! version string of printable bytes starting with a digit and ending with NUL, a 32-bit connection
//! id, 8 bytes of scramble, a filler byte of 0, and (in view) the capability flags with
//! CLIENT_PROTOCOL_41 set. The payload length must cover all that and, when the packet is in view,
//! end exactly at the segment's end. A refusal ("Host ... is not allowed to connect") is an error
//! packet: sequence 0, 0xFF, a 16-bit error code of 1000..=9999 and a printable message filling
//! the packet exactly. Fixed bytes, a version string and an exact length: random bytes and other
//! protocols do not pass.

/// The first bytes of a MySQL server's stream.
pub(crate) fn is_server_start(p: &[u8]) -> bool {
    let Some(h) = p.get(..5) else { return false };
    let len = usize::from(h[0]) | (usize::from(h[1]) << 8) | (usize::from(h[2]) << 16);
    if h[3] != 0 || len < 4 || (p.len() >= 4 + len && p.len() != 4 + len) {
        return false;
    }
    let body = &p[4..];
    match h[4] {
        10 => {
            let Some(n) = body.iter().skip(1).take(64).position(|&c| c == 0) else { return false };
            let version = &body[1..1 + n];
            let filler = 1 + n + 1 + 4 + 8;
            let caps = body.get(filler + 1..filler + 3).map(|c| u16::from_le_bytes([c[0], c[1]]));
            version.first().is_some_and(u8::is_ascii_digit)
                && version.iter().all(|&c| (0x20..0x7f).contains(&c))
                && len > filler + 2
                && body.get(filler) == Some(&0)
                && caps.is_some_and(|c| c & 0x0200 != 0)
        }
        0xff => {
            let code = body.get(1..3).map(|c| u16::from_le_bytes([c[0], c[1]]));
            p.len() == 4 + len
                && len > 3
                && code.is_some_and(|c| (1000..=9999).contains(&c))
                && body[3..].iter().all(|&c| (0x20..0x7f).contains(&c))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn greeting() -> Vec<u8> {
        let mut body = vec![10];
        body.extend_from_slice(b"8.0.36\0");
        body.extend_from_slice(&[1, 0, 0, 0]);
        body.extend_from_slice(b"abcdefgh");
        body.push(0);
        body.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00]);
        body.extend_from_slice(&[0u8; 13]);
        let mut p = vec![body.len() as u8, 0, 0, 0];
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn handshake() {
        assert!(is_server_start(&greeting()));
        let mut seq = greeting();
        seq[3] = 1;
        assert!(!is_server_start(&seq));
        let mut longer = greeting();
        longer.push(0);
        assert!(!is_server_start(&longer));
        let mut text_version = greeting();
        text_version[5] = b'x';
        assert!(!is_server_start(&text_version));
        let mut refusal = vec![0, 0, 0, 0, 0xff, 0x6a, 0x04];
        refusal.extend_from_slice(b"Host '198.18.0.1' is not allowed to connect to this MySQL server");
        refusal[0] = (refusal.len() - 4) as u8;
        assert!(is_server_start(&refusal));
    }
}
