//! HART-IP (FieldComm Group HCF_SPEC-85; TCP and UDP 5094), HART field-device commands over IP.
//!
//! Every message starts with an 8-byte header: the version (1), the message type (0 request, 1
//! response, 2 publish, 3 error), the message id, a status byte, a 16-bit sequence number and a
//! 16-bit byte count that is the whole message's length, header included. Recognised are the
//! ids whose bodies have a shape to check: Session Initiate (0; a 5-byte body, the master type 0
//! or 1 and the inactivity timer), Session Close (1) and Keep Alive (2) with no body, and the
//! token-passing pass-through (3), whose body is one HART PDU: a delimiter (frame type 1 burst, 2
//! master to slave or 6 slave to master; a 1- or 5-byte address; up to 3 expansion bytes), the
//! command, a byte count, the data and a check byte that is the XOR of every byte before it. A
//! TCP segment must be whole messages walking it exactly, a datagram one message. The version,
//! the type's and id's 10 zero bits, an exact 16-bit length and the body's shape (a pass-through's
//! own length and check byte, or a body's fixed length): random bytes pass with less than 2^-34
//! per message.

use crate::detect::be16;

const HEADER: usize = 8;

/// A HART PDU (token-passing frame) that is all of `b`, its check byte included.
fn is_hart_pdu(b: &[u8]) -> bool {
    let Some(&delimiter) = b.first() else { return false };
    if !matches!(delimiter & 0x07, 1 | 2 | 6) {
        return false;
    }
    let address = if delimiter & 0x80 != 0 { 5 } else { 1 };
    let command_at = 1 + address + usize::from((delimiter >> 5) & 0x03);
    let Some(&count) = b.get(command_at + 1) else { return false };
    let check_at = command_at + 2 + usize::from(count);
    check_at + 1 == b.len() && b.get(check_at) == Some(&b[..check_at].iter().fold(0, |x, &y| x ^ y))
}

/// The length of the whole HART-IP message at the start of `p`, if it is one.
fn message(p: &[u8]) -> Option<usize> {
    let (&version, &kind, &id) = (p.first()?, p.get(1)?, p.get(2)?);
    let len = usize::from(be16(p, 6)?);
    let body = p.get(HEADER..len)?;
    let shaped = match id {
        0 => body.len() == 5 && body[0] <= 1,
        1 | 2 => body.is_empty(),
        3 => is_hart_pdu(body),
        _ => false,
    };
    (version == 1 && kind <= 3 && shaped).then_some(len)
}

/// Is `p` (a TCP segment at a stream's start, or a datagram when `datagram`) whole HART-IP
/// messages, exactly one in a datagram?
pub(crate) fn is_messages(p: &[u8], datagram: bool) -> bool {
    let mut pos = 0;
    let mut n = 0;
    while pos < p.len() {
        match p.get(pos..).and_then(message) {
            Some(len) => pos += len,
            None => return false,
        }
        n += 1;
    }
    n > 0 && (!datagram || n == 1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From hart_ip.pcap (nDPI test suite, LGPL-3.0-or-later).
    pub(crate) const INITIATE: &str = "010000000002000d0100007530";
    const INITIATE_REPLY: &str = "010100000002000d010000ea60";
    const PASS_THROUGH: &str = "010003000004001182264e0000d2010039";
    const PASS_THROUGH_REPLY: &str = "010103000004001886264e0000d2010700d0fb0000000011";
    const KEEP_ALIVE: &str = "01000200000c0008";
    const CLOSE_REPLY: &str = "01010100000d0008";

    #[test]
    fn the_capture_messages() {
        for m in [INITIATE, INITIATE_REPLY, PASS_THROUGH, PASS_THROUGH_REPLY, KEEP_ALIVE, CLOSE_REPLY] {
            assert!(is_messages(&hex(m), true), "{m}");
            assert!(is_messages(&hex(m), false), "{m}");
        }
        let two = hex(&format!("{PASS_THROUGH}{KEEP_ALIVE}"));
        assert!(is_messages(&two, false));
        assert!(!is_messages(&two, true), "a datagram is one message");
    }

    #[test]
    fn rejects_lookalikes() {
        let p = hex(PASS_THROUGH_REPLY);
        assert!(!is_messages(&p[..p.len() - 1], false), "the byte count is the message's");
        let mut c = p.clone();
        c[23] ^= 1;
        assert!(!is_messages(&c, true), "the HART check byte");
        let mut v = p.clone();
        v[0] = 2;
        assert!(!is_messages(&v, true), "version");
        let mut t = p.clone();
        t[1] = 4;
        assert!(!is_messages(&t, true), "message type");
        let mut d = p;
        d[8] = 0x83;
        assert!(!is_messages(&d, true), "frame type 3 is not defined");
        let mut k = hex(KEEP_ALIVE);
        k.push(0);
        k[7] = 9;
        assert!(!is_messages(&k, true), "a keep-alive has no body");
        let mut i = hex(INITIATE);
        i[8] = 2;
        assert!(!is_messages(&i, true), "master type 2");
        assert!(!is_messages(&hex("0100040000010008"), true), "a message id without a checked body");
    }

    proptest::proptest! {
        #[test]
        fn random_pdus(pdu in proptest::collection::vec(proptest::num::u8::ANY, 1..40)) {
            let mut p = hex("0100030000040000");
            p.extend_from_slice(&pdu);
            let n = u16::try_from(p.len()).unwrap_or(0);
            p[6..8].copy_from_slice(&n.to_be_bytes());
            if is_messages(&p, true) {
                let sum = pdu.iter().fold(0u8, |x, &y| x ^ y);
                proptest::prop_assert_eq!(sum, 0, "the check byte makes the PDU's XOR zero");
            }
        }
    }
}
