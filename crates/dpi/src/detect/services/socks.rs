//! SOCKS 4/4a (the NEC protocol description) and SOCKS 5 (RFC 1928, RFC 1929): the client's
//! opening at the start of a TCP stream.
//!
//! SOCKS 4: version 4, command 1 (connect) or 2 (bind), a port, an IPv4 address, a printable user
//! id and NUL; for 4a (address 0.0.0.x, x != 0) a printable host name and NUL after it. The request
//! must end exactly at the end of the segment.
//!
//! SOCKS 5: the greeting (version 5, 1 to 9 methods from the registered ones: 0-9, or private
//! 0x80-0xFE) is 3 to 11 bytes, too weak alone; clients send the next message (the request, or a
//! RFC 1929 username/password) in a segment of their own once the server has chosen a method, so
//! the detector asks for more and judges the greeting and the following message together: a
//! request is version 5, command 1-3, a zero byte, an address type (IPv4, a length-prefixed
//! name, IPv6) and a port that end exactly; a password login is version 1 and two
//! length-prefixed fields that end exactly.

use crate::detect::Probe;

fn printable(s: &[u8]) -> bool {
    s.iter().all(|&c| (0x20..0x7f).contains(&c))
}

fn socks4(p: &[u8]) -> bool {
    if p.len() < 9 || p[0] != 4 || !matches!(p[1], 1 | 2) {
        return false;
    }
    let rest = &p[8..];
    let Some(n) = rest.iter().position(|&c| c == 0) else { return false };
    if !printable(&rest[..n]) {
        return false;
    }
    let after = &rest[n + 1..];
    let socks4a = p[4..7] == [0, 0, 0] && p[7] != 0;
    if !socks4a {
        return after.is_empty();
    }
    after.len() >= 2 && after.last() == Some(&0) && printable(&after[..after.len() - 1])
}

fn request5(p: &[u8]) -> bool {
    if p.len() < 7 || p[0] != 5 || !(1..=3).contains(&p[1]) || p[2] != 0 {
        return false;
    }
    let want = match p[3] {
        1 => 4 + 4 + 2,
        3 => 4 + 1 + usize::from(p[4]) + 2,
        4 => 4 + 16 + 2,
        _ => return false,
    };
    p.len() == want && (p[3] != 3 || (p[4] > 0 && printable(&p[5..5 + usize::from(p[4])])))
}

fn login(p: &[u8]) -> bool {
    let Some(&ulen) = p.get(1) else { return false };
    let u = usize::from(ulen);
    let Some(&plen) = p.get(2 + u) else { return false };
    p[0] == 1 && u > 0 && p.len() == 3 + u + usize::from(plen)
}

/// Probes the first bytes of a client's stream (see the module docs).
pub(crate) fn probe(p: &[u8]) -> Probe {
    match p.first() {
        Some(4) => {
            if socks4(p) {
                Probe::Certain
            } else {
                Probe::NotMine
            }
        }
        Some(5) => {
            let Some(&n) = p.get(1) else { return Probe::NotYet };
            let n = usize::from(n);
            if !(1..=9).contains(&n) {
                return Probe::NotMine;
            }
            let Some(methods) = p.get(2..2 + n) else { return Probe::NotYet };
            if !methods.iter().all(|&m| m <= 9 || (0x80..=0xfe).contains(&m)) {
                return Probe::NotMine;
            }
            let next = &p[2 + n..];
            if next.is_empty() {
                Probe::NotYet
            } else if request5(next) || login(next) {
                Probe::Certain
            } else {
                Probe::NotMine
            }
        }
        _ => Probe::NotMine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings() {
        assert_eq!(probe(b"\x04\x01\x00\x50\xc6\x12\x00\x01weir\x00"), Probe::Certain);
        assert_eq!(probe(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00"), Probe::Certain);
        assert_eq!(probe(b"\x04\x01\x00\x50\xc6\x12\x00\x01weir\x00x"), Probe::NotMine);
        assert_eq!(probe(b"\x05\x02\x00\x01"), Probe::NotYet);
        assert_eq!(probe(b"\x05\x02\x00\x01\x05\x01\x00\x03\x0bexample.com\x00\x50"), Probe::Certain);
        assert_eq!(probe(b"\x05\x01\x00\x05\x01\x00\x01\xc6\x12\x00\x01\x00\x50"), Probe::Certain);
        assert_eq!(probe(b"\x05\x01\x02\x01\x04user\x04pass"), Probe::Certain);
        assert_eq!(probe(b"\x05\x02\x00\x01\x05\x01\x00\x03\x0bexample.com\x00"), Probe::NotMine);
        assert_eq!(probe(b"\x05\x00"), Probe::NotMine);
        assert_eq!(probe(b"\x05\x01\x55"), Probe::NotMine);
    }
}
