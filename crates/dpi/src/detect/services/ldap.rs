//! LDAP (RFC 4511) messages over TCP, and connectionless LDAP over UDP (RFC 1798; Active
//! Directory's "LDAP ping").
//!
//! An LDAPMessage is a BER SEQUENCE holding a message id (an INTEGER of 1 to 4 bytes), a protocol
//! operation under its APPLICATION tag (bind, unbind, search, modify, add, delete, modify DN,
//! compare, abandon, extended, and their responses) and optionally controls (`[0]`). The lengths
//! must nest: the operation ends inside the sequence and, if it ends before it, the controls fill
//! the rest exactly. The operation's first field is checked too: a bind request's version (1-3), a
//! search request's base object (an OCTET STRING), every response's result code (an ENUMERATED).
//! Over UDP the sequence fills the datagram exactly; over TCP, the message must end at the end of
//! the bytes in view or be followed by the next message's SEQUENCE tag. Nested lengths that agree
//! and fixed tags: random bytes pass with under 1 in 10^9; Kerberos (APPLICATION tags at the top)
//! and SNMP (a version INTEGER and an OCTET STRING community, then a PDU tag in the context class)
//! do not.

use super::ber::{small_int, tlv};

fn op_ok(p: &[u8], tag: u8, start: usize, end: usize) -> bool {
    match tag {
        0x60 => small_int(p, start).is_some_and(|(v, _)| (1..=3).contains(&v)),
        0x63 => tlv(p, start).is_some_and(|t| t.tag == 0x04 && t.end() <= end),
        0x61 | 0x65 | 0x67 | 0x69 | 0x6b | 0x6d | 0x6f | 0x78 => {
            tlv(p, start).is_some_and(|t| t.tag == 0x0a && t.len == 1 && t.end() <= end)
        }
        0x42 => start == end,
        0x4a | 0x50 | 0x64 | 0x66 | 0x68 | 0x6c | 0x6e | 0x73 | 0x77 | 0x79 => true,
        _ => false,
    }
}

/// Checks a message at the start of `p`; returns its end.
fn message(p: &[u8]) -> Option<usize> {
    let seq = tlv(p, 0)?;
    if seq.tag != 0x30 || seq.len < 5 {
        return None;
    }
    let (id, after) = small_int(p, seq.start)?;
    if id > 0x7fff_ffff {
        return None;
    }
    let op = tlv(p, after)?;
    if op.end() > seq.end() || !op_ok(p, op.tag, op.start, op.end()) {
        return None;
    }
    if op.end() < seq.end() {
        let controls = tlv(p, op.end())?;
        if controls.tag != 0xa0 || controls.end() != seq.end() {
            return None;
        }
    }
    Some(seq.end())
}

/// A whole LDAP message in one UDP datagram.
pub(crate) fn is_udp(p: &[u8]) -> bool {
    message(p) == Some(p.len())
}

/// The start of an LDAP TCP stream (either side).
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    match message(p) {
        Some(end) if end < p.len() => p[end] == 0x30,
        Some(_) => true,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn messages() {
        // A simple bind and its answer (log4j-webapp-exploit.pcap, nDPI test suite,
        // LGPL-3.0-or-later).
        let bind = hex("300c020101600702010304008000");
        let ok = hex("300c02010161070a010004000400");
        assert!(is_tcp_start(&bind));
        assert!(is_tcp_start(&ok));
        assert!(is_udp(&ok));
        let mut two = bind.clone();
        two.extend_from_slice(&ok);
        assert!(is_tcp_start(&two));
        let mut junk = bind.clone();
        junk.push(0x01);
        assert!(!is_tcp_start(&junk));
        let mut bad_version = bind.clone();
        bad_version[9] = 4;
        assert!(!is_tcp_start(&bad_version));
        // An Active Directory bind response with 4-byte lengths (kerberos.pcap, same suite).
        let ad = hex("3084000000100201136184000000070a010004000400");
        assert!(is_tcp_start(&ad));
        let snmp = hex("302602010104067075626c6963a0190204");
        assert!(!is_tcp_start(&snmp));
    }
}
