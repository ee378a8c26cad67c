//! LDP, the MPLS Label Distribution Protocol (RFC 5036): discovery Hellos over UDP 646 and the
//! session over TCP 646.
//!
//! Every PDU is a 10-byte header (version 1, a 16-bit PDU length counting what follows it, the
//! 6-byte LDP identifier) and then messages: a type RFC 5036 defines (notification, hello,
//! initialization, keepalive, address, address withdraw, label mapping, request, withdraw,
//! release, abort request; the U bit may be set), a 16-bit length counting the rest, and a 32-bit
//! message id. The messages must walk the PDU exactly and the PDUs the datagram or segment. A
//! 16-bit version, an exact PDU length and message types and lengths that land on its end: well
//! under 2^-40 for random bytes. On TCP the last PDU may run past the bytes seen when they fill a
//! full-sized segment; the first must be whole.

/// RFC 5036's message types (without the U bit).
fn known_message(t: u16) -> bool {
    matches!(t & 0x7fff, 0x0001 | 0x0100 | 0x0200 | 0x0201 | 0x0300 | 0x0301 | 0x0400..=0x0404)
}

/// A full-sized first segment: a PDU may continue past it.
const FULL_SEGMENT: usize = 536;

/// Whether `pdu` (a PDU's bytes after its 4-byte version and length) holds whole messages.
fn messages_walk(pdu: &[u8]) -> bool {
    let Some(mut rest) = pdu.get(6..) else { return false };
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let Some(h) = rest.get(0..4) else { return false };
        let (kind, len) = (u16::from_be_bytes([h[0], h[1]]), usize::from(u16::from_be_bytes([h[2], h[3]])));
        if !known_message(kind) || len < 4 {
            return false;
        }
        let Some(next) = rest.get(4 + len..) else { return false };
        rest = next;
    }
    true
}

/// Is `p` (a datagram, or the first bytes of a TCP stream when `stream`) a run of LDP PDUs?
pub(crate) fn is_pdus(p: &[u8], stream: bool) -> bool {
    if p.is_empty() {
        return false;
    }
    let mut rest = p;
    let mut first = true;
    while !rest.is_empty() {
        let Some(h) = rest.get(0..4) else { return false };
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if h[0..2] != [0, 1] || len < 10 {
            return false;
        }
        match rest.get(4..4 + len) {
            Some(pdu) => {
                if !messages_walk(pdu) {
                    return false;
                }
                rest = &rest[4 + len..];
            }
            // Cut by the view: only a later PDU of a full-sized TCP segment.
            None => return stream && !first && p.len() >= FULL_SEGMENT,
        }
        first = false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From ldp.pcap (nDPI test suite, LGPL-3.0-or-later): a Hello datagram, an Initialization
    // PDU on the session.
    fn hello() -> Vec<u8> {
        hex("0001001e 0a000006 0000 0100 0014 00000000 0400 0004 000f 0000 0401 0004 0a000006")
    }

    fn init() -> Vec<u8> {
        hex("00010020 0a000101 0000 0200 0016 00000002 0500 000e 0001 00b4 00 00 0000 0a000006 0000")
    }

    #[test]
    fn hellos_and_sessions() {
        assert!(is_pdus(&hello(), false));
        assert!(is_pdus(&init(), true));
        let mut two = init();
        two.extend_from_slice(&hex("0001000e 0a000101 0000 0201 0004 00000003"));
        assert!(is_pdus(&two, true), "initialization and keepalive in one segment");
    }

    #[test]
    fn rejects_lookalikes() {
        let mut p = hello();
        p[1] = 2;
        assert!(!is_pdus(&p, false), "version 2");
        let mut p = hello();
        p.push(0);
        assert!(!is_pdus(&p, false), "a byte past the PDU");
        let mut p = hello();
        p[10] = 0x09;
        assert!(!is_pdus(&p, false), "a message type LDP does not define");
        let mut p = hello();
        p[13] = 0x13;
        assert!(!is_pdus(&p, false), "a message running past its PDU");
        assert!(!is_pdus(&hello()[..20], true), "a first PDU cut short");
        assert!(!is_pdus(&[0, 1, 0, 0], false));
        assert!(!is_pdus(&[], false));
    }
}
