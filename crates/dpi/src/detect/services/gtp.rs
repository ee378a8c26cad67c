//! GTP (the 3GPP GPRS Tunnelling Protocol): GTPv1 control and path messages (TS 29.060, UDP 2123,
//! and GTP-U's own signalling on 2152) and GTPv2-C (TS 29.274, UDP 2123). GTP-U G-PDUs (type 255)
//! are unwrapped as a tunnel before inspection and never reach this check. Ports are not used.
//!
//! GTPv1: the first byte holds the version (1), the protocol type (1: GTP, not GTP'), a spare bit
//! (0) and the E, S and PN flags; then the message type and the length of everything after the
//! 8-byte mandatory header (which includes the 4 optional bytes present when any flag is set).
//! Checked: version, PT and spare; a message type TS 29.060 defines (table 1); the length is the
//! datagram less 8 and covers the optional bytes when a flag asks for them; the S flag is set
//! (sequence numbers are mandatory on every GTPv1-C and GTP-U signalling message; only an End
//! Marker may go without). About 2^-26 for random bytes.
//!
//! GTPv2-C: the first byte holds the version (2), the piggyback flag P, the TEID flag T, the
//! message-priority flag MP and two spare bits (0); then the message type and the length
//! of everything after the first 4 bytes. Checked: version and spare; a message type TS 29.274
//! defines (table 6.1-1); T is clear exactly for the messages without a TEID (Echo Request and
//! Response, Version Not Supported Indication) and set for the rest; the length ends the message
//! at the datagram's end, or, with P set, where one piggybacked message (itself with P clear)
//! begins and ends the datagram; and the information elements (type, 16-bit length, instance
//! byte) walk each message body exactly, none of type 0 (reserved). The IE walk leaves random
//! bytes far below 2^-30.

/// Message types of GTPv1 (TS 29.060 table 1, with GTP-U's Error Indication, Supported Extension
/// Headers Notification and End Marker; G-PDU 255 is the tunnel).
fn v1_type(t: u8) -> bool {
    matches!(t, 1..=7 | 16..=23 | 26..=37 | 48..=62 | 70 | 96..=105 | 112..=121 | 128..=129 | 254)
}

/// Message types of GTPv2-C (TS 29.274 table 6.1-1).
fn v2_type(t: u8) -> bool {
    matches!(
        t,
        1..=3 | 32..=41 | 64..=73 | 95..=104 | 128..=141 | 149..=171 | 176..=177 | 179..=180 | 200..=201 | 211..=212
            | 231..=236
    )
}

/// Is `p` a whole GTPv1 signalling message or GTPv2-C message (with its piggybacked one, if any)?
pub(crate) fn is_message(p: &[u8]) -> bool {
    match p.first().map(|b| b >> 5) {
        Some(1) => is_v1(p),
        Some(2) => is_v2(p, true),
        _ => false,
    }
}

fn is_v1(p: &[u8]) -> bool {
    let Some(h) = p.get(..8) else { return false };
    let flags = h[0];
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    flags & 0x18 == 0x10
        && v1_type(h[1])
        && len + 8 == p.len()
        && (flags & 0x07 == 0 || len >= 4)
        && (flags & 0x02 != 0 || h[1] == 254)
}

fn is_v2(p: &[u8], first: bool) -> bool {
    let Some(h) = p.get(..4) else { return false };
    let (flags, t) = (h[0], h[1]);
    let piggyback = flags & 0x10 != 0;
    let teid = flags & 0x08 != 0;
    let end = 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
    let header = if teid { 12 } else { 8 };
    if flags >> 5 != 2 || flags & 0x03 != 0 || !v2_type(t) || teid == matches!(t, 1..=3) || end < header {
        return false;
    }
    let (Some(body), Some(rest)) = (p.get(header..end), p.get(end..)) else { return false };
    if !ies_walk(body) {
        return false;
    }
    match (piggyback, rest.is_empty()) {
        (false, true) => true,
        (true, false) if first => is_v2(rest, false),
        _ => false,
    }
}

/// Do GTPv2 information elements (type, length, instance, value) cover `body` exactly?
fn ies_walk(mut body: &[u8]) -> bool {
    while !body.is_empty() {
        let Some(ie) = body.get(..4) else { return false };
        let len = usize::from(u16::from_be_bytes([ie[1], ie[2]]));
        let Some(next) = body.get(4 + len..) else { return false };
        if ie[0] == 0 {
            return false;
        }
        body = next;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From gtp_c.pcap (nDPI test suite, LGPL-3.0-or-later): GTPv2-C Delete Session Request and
    // Response (TEID set, IEs: EPS bearer id, user location, cause...).
    fn delete_session_request() -> Vec<u8> {
        hex("4824001e355292064b546200490001000556000d0018987654123498765412345678")
    }

    fn delete_session_response() -> Vec<u8> {
        hex("48250013355292044b5462000200020010000300010001")
    }

    /// A GTPv2 Echo Request (no TEID) with its Recovery IE, built from TS 29.274 7.1.1.
    fn echo_v2() -> Vec<u8> {
        hex("40010009 00abcd00 0300010007")
    }

    /// A GTPv1-C Echo Request (S set, sequence 0x1234) as TS 29.060 7.2.1 gives it.
    fn echo_v1() -> Vec<u8> {
        hex("32010004 00000000 12340000")
    }

    #[test]
    fn messages() {
        assert!(is_message(&delete_session_request()));
        assert!(is_message(&delete_session_response()));
        assert!(is_message(&echo_v2()));
        assert!(is_message(&echo_v1()));
        // A GTPv1-C Create PDP Context Request header with a TEID and two IEs' worth of body.
        assert!(is_message(&hex("32100008 00000000 00010000 0e05 0f01")));
    }

    #[test]
    fn piggybacked_messages() {
        let mut p = delete_session_response();
        p[0] |= 0x10;
        p.extend_from_slice(&delete_session_request());
        assert!(is_message(&p));
        let mut q = p.clone();
        q[23] |= 0x10;
        assert!(!is_message(&q), "a piggybacked message that itself piggybacks");
        let mut q = delete_session_response();
        q[0] |= 0x10;
        assert!(!is_message(&q), "piggyback flag and nothing after");
    }

    #[test]
    fn rejects_lookalikes() {
        let mut p = delete_session_request();
        p.push(0);
        assert!(!is_message(&p), "a byte past the length");
        let mut p = delete_session_request();
        p[14] = 0x7f;
        assert!(!is_message(&p), "a body the IEs do not walk");
        let mut p = delete_session_request();
        p[1] = 0x2a;
        assert!(!is_message(&p), "a message type 29.274 does not define");
        let mut p = delete_session_request();
        p[0] = 0x40;
        assert!(!is_message(&p), "a session message without its TEID");
        let mut p = echo_v2();
        p[0] = 0x48;
        assert!(!is_message(&p), "an echo with a TEID");
        let mut p = echo_v2();
        p[0] = 0x41;
        assert!(!is_message(&p), "spare bits set");
        let mut p = echo_v1();
        p[0] = 0x30;
        assert!(!is_message(&p), "GTPv1 without a sequence number");
        let mut p = echo_v1();
        p[0] = 0x22;
        assert!(!is_message(&p), "GTP' (protocol type 0)");
        let mut p = echo_v1();
        p[1] = 0xff;
        assert!(!is_message(&p), "a G-PDU");
        let mut p = echo_v1();
        p[3] = 5;
        assert!(!is_message(&p), "a length that is not the datagram's");
        // From gtp_false_positive.pcapng (which nDPI names GTP): UDP to port 2123 that is not GTP.
        assert!(!is_message(&hex("3703000042000000")), "flags asking for optional bytes that are not there");
        assert!(!is_message(&hex("4601000002790300c800c58bbda67337")), "spare bits set and a wrong length");
        assert!(!is_message(&[0u8; 12]));
        assert!(!is_message(&[]));
    }
}
