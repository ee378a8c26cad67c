//! RTPS, the wire protocol of DDS (OMG DDSI-RTPS 2.0-2.5, §8.3 and §9.4; UDP 7400 and up).
//!
//! A message is a 20-byte header, the magic `RTPS`, protocol version 2.0-2.5, a vendor id (0.0
//! for unknown, or one the OMG assigns, 1.x) and a 12-byte GUID prefix; then one or more
//! submessages, each a submessage id, a flags byte whose bit 0 gives the byte order, and a 16-bit
//! `octetsToNextHeader` in that order. The ids must be ones the specification defines (PAD,
//! ACKNACK, HEARTBEAT, GAP, INFO_TS, INFO_SRC, INFO_REPLY_IP4, INFO_DST, INFO_REPLY, NACK_FRAG,
//! HEARTBEAT_FRAG, DATA, DATA_FRAG, and 0x80-0xff for vendors) and their lengths must walk the
//! datagram exactly; only the last one may give 0, meaning "to the end of the message", and only
//! if it is not PAD or INFO_TS (§9.4.5.1.3). The 32-bit magic, the version and vendor bytes and a
//! walk that ends on the datagram's last byte: random bytes pass with less than 2^-50. (RTI's
//! 16-byte `NDDSPING` probe has no submessage and is not recognised alone.)

/// Is `id` a submessage id of RTPS 2.x?
fn known_submessage(id: u8) -> bool {
    matches!(id, 0x01 | 0x06..=0x09 | 0x0c..=0x0f | 0x12 | 0x13 | 0x15 | 0x16 | 0x80..=0xff)
}

/// A whole RTPS message in one datagram.
pub(crate) fn is_message(p: &[u8]) -> bool {
    let Some(h) = p.get(..20) else { return false };
    if &h[..4] != b"RTPS" || h[4] != 2 || h[5] > 5 || !matches!(h[6], 0 | 1) || (h[6] == 0 && h[7] != 0) {
        return false;
    }
    let mut pos = 20;
    let mut n = 0;
    while pos < p.len() {
        let Some(sm) = p.get(pos..pos + 4) else { return false };
        let (id, flags) = (sm[0], sm[1]);
        let len = if flags & 1 == 1 { u16::from_le_bytes([sm[2], sm[3]]) } else { u16::from_be_bytes([sm[2], sm[3]]) };
        if !known_submessage(id) {
            return false;
        }
        pos += 4;
        if len == 0 && !matches!(id, 0x01 | 0x09) {
            pos = p.len();
        } else {
            pos += usize::from(len);
        }
        n += 1;
    }
    pos == p.len() && n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From rtps.pcap (nDPI test suite, LGPL-3.0-or-later): RTI Connext's header, INFO_TS, and a
    // DATA submessage of 744 bytes (its body filled here).
    fn data() -> Vec<u8> {
        let mut p = hex("5254505302010101c0a87a0100003a4c00000001 09010800 8f0b4a59470af3a6 1505e802");
        p.resize(p.len() + 744, 0x11);
        p
    }

    #[test]
    fn messages() {
        assert!(is_message(&data()));
        let mut to_end = data();
        to_end[34] = 0;
        to_end[35] = 0;
        assert!(is_message(&to_end), "a last DATA of length 0 runs to the end");
        let mut be = hex("5254505302030000 000000000000000000000000 0700001c");
        be.resize(be.len() + 28, 0);
        assert!(is_message(&be), "a big-endian HEARTBEAT from an unknown vendor");
    }

    #[test]
    fn rejects_lookalikes() {
        let p = data();
        assert!(!is_message(&p[..p.len() - 1]), "the walk must end on the last byte");
        let mut extra = data();
        extra.push(0);
        assert!(!is_message(&extra));
        let mut v = data();
        v[4] = 1;
        assert!(!is_message(&v), "RTPS 1.x has another header");
        let mut id = data();
        id[20] = 0x02;
        assert!(!is_message(&id), "submessage id 2 is not defined");
        let mut order = data();
        order[21] = 0;
        assert!(!is_message(&order), "INFO_TS's length read big-endian does not walk the datagram");
        let mut ts = data();
        ts[22] = 0;
        assert!(!is_message(&ts), "INFO_TS of length 0 does not run to the end");
        assert!(!is_message(&hex("5254505302010101 4e44445350494e47")), "the NDDSPING probe alone");
        let mut vendor = data();
        vendor[6] = 2;
        assert!(!is_message(&vendor));
    }

    proptest::proptest! {
        #[test]
        fn random_submessages_behind_a_header(body in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut p = hex("5254505302010101c0a87a0100003a4c00000001");
            p.extend_from_slice(&body);
            if is_message(&p) {
                proptest::prop_assert!(known_submessage(p[20]));
            }
            let mut q = body.clone();
            q.truncate(4);
            proptest::prop_assert!(!is_message(&q));
        }
    }
}
