//! IAX2, the Inter-Asterisk eXchange protocol version 2 (RFC 5456; UDP 4569): the NEW message
//! that opens a call.
//!
//! A full frame is the F bit and a 15-bit source call number, the R bit and a 15-bit destination
//! call number, a 32-bit timestamp, the outbound and inbound sequence numbers, a frame type and
//! the C bit with a subclass (§8.1.1). A NEW (frame type 6, IAX; subclass 1, §6.1.1) is the
//! first message of a call: its destination call number, R bit and both sequence numbers are 0,
//! its source call number is not, and it carries information elements (a type, a length, that
//! many bytes; §8.6) that end exactly at the datagram's end, among them the protocol VERSION (IE
//! 11) of length 2 and value 2, which §8.6.10 makes mandatory. The F bit, 32 zero bits, the type
//! and subclass, an IE walk that lands on the last byte and a version IE: random bytes pass with
//! far less than 2^-50.

use crate::detect::be16;

const IE_VERSION: u8 = 11;

/// An IAX2 NEW message in one datagram.
pub(crate) fn is_new(p: &[u8]) -> bool {
    let (Some(src), Some(h)) = (be16(p, 0), p.get(2..12)) else { return false };
    if src & 0x8000 == 0 || src & 0x7fff == 0 || h[..2] != [0, 0] || h[6..10] != [0, 0, 6, 1] {
        return false;
    }
    let mut pos = 12;
    let mut version = false;
    while pos < p.len() {
        let (Some(&ie), Some(&len)) = (p.get(pos), p.get(pos + 1)) else { return false };
        let end = pos + 2 + usize::from(len);
        let Some(data) = p.get(pos + 2..end) else { return false };
        if ie == IE_VERSION {
            if data != [0, 2] {
                return false;
            }
            version = true;
        }
        pos = end;
    }
    pos == p.len() && version
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From iax.pcap (nDPI test suite, LGPL-3.0-or-later): a NEW's header and first IEs (version 2,
    // called number, calling number, language), ended here after the language.
    fn new() -> Vec<u8> {
        hex("800400000000000100000601 0b020002 010c343432303838323035313535 020c343437373832323637393439 0a02656e")
    }

    #[test]
    fn new_messages() {
        assert!(is_new(&new()));
    }

    #[test]
    fn rejects_lookalikes() {
        let p = new();
        assert!(!is_new(&p[..p.len() - 1]), "the IEs must end with the datagram");
        let mut v = new();
        v[15] = 1;
        assert!(!is_new(&v), "protocol version 1");
        let mut no_version = new();
        no_version[12] = 0x0c;
        assert!(!is_new(&no_version), "no VERSION IE");
        let mut dst = new();
        dst[3] = 9;
        assert!(!is_new(&dst), "a NEW has no destination call yet");
        let mut ack = new();
        ack[11] = 4;
        assert!(!is_new(&ack), "subclass 4 is an ACK");
        assert!(!is_new(&hex("801700040000000100010604")), "an ACK");
        let mut mini = new();
        mini[0] = 0;
        assert!(!is_new(&mini), "a mini frame");
    }

    proptest::proptest! {
        #[test]
        fn random_ies_behind_a_new_header(ies in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut p = hex("800400000000000100000601");
            p.extend_from_slice(&ies);
            if is_new(&p) {
                proptest::prop_assert!(crate::detect::find(&p[12..], &[IE_VERSION, 2, 0, 2]).is_some());
            }
        }
    }
}
