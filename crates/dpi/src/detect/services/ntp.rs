//! NTP (RFC 5905; versions 1 to 4) client/server exchanges.
//!
//! A single NTP datagram has too little fixed structure to be proof (a mode, a version and some
//! small fields: a few random datagrams in ten thousand pass), so the verdict needs the exchange:
//! a client request (mode 3, or a symmetric active mode 1) and the server's answer from the other
//! side (mode 4, or 2) whose origin timestamp echoes the request's transmit timestamp, as RFC 5905
//! requires (the check that defeats off-path spoofing). Both must be exactly 48 bytes, or 48 plus
//! a MAC (key id and a 16- or 20-byte digest), or (NTPv4) extension fields in 4-byte multiples.
//! Clients that send a zero transmit timestamp (Apple's, and SNTP clients) send a request that is
//! all zeros but its first byte; their answer must then echo zero and carry receive and transmit
//! timestamps no more than a few seconds apart. A 64-bit echo, or 47 zero bytes and a consistent
//! answer: random bytes and other protocols do not pass.
//!
//! An NTP-shaped datagram on port 123 without its partner is left to the port guess.

use crate::detect::be32;

fn size_ok(n: usize) -> bool {
    n == 48 || n == 68 || n == 72 || (n > 48 && n <= 1024 && n.is_multiple_of(4))
}

/// (version, mode) of an NTP header of an acceptable size.
fn header(p: &[u8]) -> Option<(u8, u8)> {
    let b = *p.first()?;
    let (version, mode) = ((b >> 3) & 7, b & 7);
    (size_ok(p.len()) && (1..=4).contains(&version) && (1..=4).contains(&mode)).then_some((version, mode))
}

fn ts(p: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(p, at)?) << 32) | u64::from(be32(p, at + 4)?))
}

/// A client (or symmetric active) request: its transmit timestamp (0 for an all-zero SNTP request).
pub(crate) fn request(p: &[u8]) -> Option<u64> {
    let (_, mode) = header(p)?;
    if mode != 3 && mode != 1 {
        return None;
    }
    let t = ts(p, 40)?;
    // A zero transmit timestamp is accepted only from a request that is zero throughout.
    (t != 0 || (p.len() == 48 && p[1..].iter().all(|&b| b == 0))).then_some(t)
}

/// A server (or symmetric passive) answer to a request whose transmit timestamp was `sent`.
pub(crate) fn answers(p: &[u8], sent: u64) -> bool {
    let Some((_, mode)) = header(p) else { return false };
    let (Some(origin), Some(rx), Some(tx)) = (ts(p, 24), be32(p, 32), be32(p, 40)) else { return false };
    if (mode != 4 && mode != 2) || origin != sent {
        return false;
    }
    sent != 0 || (p.get(1).is_some_and(|&s| (1..=15).contains(&s)) && rx != 0 && tx.abs_diff(rx) <= 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn exchanges() {
        // An SNTP exchange (android.pcap, nDPI test suite, LGPL-3.0-or-later).
        let req =
            hex("1b000000000000000000000000000000000000000000000000000000000000000000000000000000e1fcd68ee3126ecc");
        let resp =
            hex("1c0100ec000000000000000c474f4f47e1fcd6d356f0a848e1fcd68ee3126ecce1fcd6d356f0a849e1fcd6d356f0a84b");
        let t = request(&req).unwrap();
        assert!(answers(&resp, t));
        assert!(!answers(&resp, t ^ 1));
        assert_eq!(request(&resp), None, "a server answer is no request");
        // Apple's all-zero request and its answer (tls_certificate_too_long.pcap, same suite).
        let zero =
            hex("230000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000");
        let zresp =
            hex("240103eb000000000000000b53484d00e497d9898c9ba4ed0000000000000000e497d98dd52b1de7e497d98dd52d17c9");
        assert_eq!(request(&zero), Some(0));
        assert!(answers(&zresp, 0));
        let mut not_zero = zero.clone();
        not_zero[20] = 1;
        assert_eq!(request(&not_zero), None, "a zero timestamp needs an otherwise empty request");
        assert_eq!(request(&req[..47]), None);
    }
}
