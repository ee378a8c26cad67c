//! AMQP 0-9-1 frames (AMQP 0-9-1 specification, §2.3.5 and §4.2.3; TCP 5672), for a connection
//! picked up after its protocol header (which the signature `amqp-header` names).
//!
//! A frame is a type (1 method, 2 content header, 3 content body, 8 heartbeat), a 16-bit channel,
//! a 32-bit payload size, the payload and the frame-end octet 0xCE. The bytes in view must be
//! whole frames whose sizes walk the segment exactly, each ending in 0xCE; a heartbeat is on
//! channel 0 and empty. At least one frame must be a method whose class and method ids the
//! specification defines (connection, channel, access, exchange, queue, basic, confirm, tx), or a
//! content header of such a class with weight 0. A 32-bit size that must land on the segment's
//! end, the 0xCE there, and 32 bits of class and method out of about 70 pairs: random bytes pass
//! with about 2^-60, as strong as the protocol header's 64 bits.

use crate::detect::{be16, be32};

/// Does AMQP 0-9-1 define `method` in `class`?
fn method_ok(class: u16, method: u16) -> bool {
    match class {
        10 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 41 | 50 | 51 | 60 | 61),
        20 => matches!(method, 10 | 11 | 20 | 21 | 40 | 41),
        30 | 85 => matches!(method, 10 | 11),
        40 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 41),
        50 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31 | 40 | 41 | 50 | 51),
        60 => matches!(
            method,
            10 | 11 | 20 | 21 | 30 | 31 | 40 | 50 | 60 | 70 | 71 | 72 | 80 | 90 | 100 | 110 | 111 | 120
        ),
        90 => matches!(method, 10 | 11 | 20 | 21 | 30 | 31),
        _ => false,
    }
}

/// Whole AMQP 0-9-1 frames that walk `p`, at least one a defined method or content header.
pub(crate) fn is_frames(p: &[u8]) -> bool {
    let mut pos = 0;
    let mut proved = false;
    while pos < p.len() {
        let (Some(&kind), Some(channel), Some(size)) = (p.get(pos), be16(p, pos + 1), be32(p, pos + 3)) else {
            return false;
        };
        let body = pos + 7;
        let Some(end) = usize::try_from(size).ok().and_then(|n| body.checked_add(n)) else { return false };
        if p.get(end) != Some(&0xce) {
            return false;
        }
        let ok = match kind {
            1 => {
                let m = be16(p, body).zip(be16(p, body + 2));
                let hit = size >= 4 && m.is_some_and(|(c, m)| method_ok(c, m));
                proved |= hit;
                hit
            }
            2 => {
                let class = be16(p, body);
                let hit = size >= 14 && class.is_some_and(|c| method_ok(c, 10)) && be16(p, body + 2) == Some(0);
                proved |= hit;
                hit
            }
            3 => true,
            8 => channel == 0 && size == 0,
            _ => false,
        };
        if !ok {
            return false;
        }
        pos = end + 1;
    }
    pos == p.len() && proved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From amqp.pcap (nDPI test suite, LGPL-3.0-or-later): Celery's basic.publish, mid-connection.
    fn publish() -> Vec<u8> {
        hex("01000100000021003c002800000863656c657279657610776f726b65722e68656172746265617400ce")
    }

    fn header() -> Vec<u8> {
        hex("020001 0000000e 003c 0000 0000000000000127 0000 ce")
    }

    #[test]
    fn frames() {
        assert!(is_frames(&publish()));
        let mut three = publish();
        three.extend_from_slice(&header());
        three.extend_from_slice(&hex("030001 00000002 7b7d ce"));
        three.extend_from_slice(&hex("080000 00000000 ce"));
        assert!(is_frames(&three), "method, header, body and heartbeat back to back");
        assert!(is_frames(&header()));
    }

    #[test]
    fn rejects_lookalikes() {
        let p = publish();
        assert!(!is_frames(&p[..p.len() - 1]), "a frame without its end");
        let mut end = publish();
        let n = end.len();
        end[n - 1] = 0xcd;
        assert!(!is_frames(&end), "the frame-end octet is 0xCE");
        let mut method = publish();
        method[10] = 41;
        assert!(!is_frames(&method), "basic method 41 is not defined");
        assert!(!is_frames(&hex("030001 00000002 7b7d ce")), "a body alone proves nothing");
        assert!(!is_frames(&hex("080001 00000000 ce")), "a heartbeat is on channel 0");
        let mut extra = publish();
        extra.push(0);
        assert!(!is_frames(&extra));
        let mut weight = header();
        weight[10] = 1;
        assert!(!is_frames(&weight), "a content header's weight is 0");
    }

    proptest::proptest! {
        #[test]
        fn random_payloads_in_frames(kind in 0u8..10, payload in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut p = vec![kind, 0, 1];
            p.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            p.extend_from_slice(&payload);
            p.push(0xce);
            if is_frames(&p) {
                proptest::prop_assert!(kind == 1 || kind == 2);
            }
        }
    }
}
