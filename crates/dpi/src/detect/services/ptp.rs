//! PTP version 2 (IEEE 1588-2008 Precision Time Protocol, and 1588-2019 which keeps its header)
//! over UDP (ports 319 for event messages, 320 for general messages; the ports are not used).
//!
//! Every message starts with the 34-byte common header (1588-2008 clause 13.3): transportSpecific
//! and messageType (one nibble each), a reserved nibble (2019's minorVersionPTP: 0 or 1) and
//! versionPTP (2), messageLength (16 bits, big-endian: the whole message), domainNumber, a reserved
//! byte (2019's minorSdoId, 0 in the default profiles), flags, correctionField, four reserved
//! bytes, the sourcePortIdentity, sequenceId, controlField and logMessageInterval. Checked: the
//! messageType is one the standard defines (Sync 0, Delay_Req 1, Pdelay_Req 2, Pdelay_Resp 3,
//! Follow_Up 8, Delay_Resp 9, Pdelay_Resp_Follow_Up 0xa, Announce 0xb, Signaling 0xc, Management
//! 0xd), the version is 2 with minor version 0 or 1, the reserved byte is zero, messageLength is
//! at least the type's fixed body (Sync, Delay_Req, Follow_Up 44; Delay_Resp and the Pdelay
//! messages 54; Announce 64; Signaling 44; Management 48) and is the datagram's length, or two less
//! (Annex E: over IPv6 two octets are appended so a UDP checksum can be corrected), and the
//! controlField holds the value table 23 gives the type (0 to 4 for the first five kinds, 5 for
//! the rest). Random bytes pass with about 2^-36 (the version byte, the 16-bit length, the
//! reserved byte, the controlField and the type). PTP version 1 (a different header) is not
//! recognised.

/// The common header's length.
const HEADER: usize = 34;

/// The fixed length of a message of type `t` (header and body before any TLV) and the
/// controlField it carries, for the types 1588-2008 defines.
fn shape(t: u8) -> Option<(usize, u8)> {
    Some(match t {
        0x0 => (44, 0),
        0x1 => (44, 1),
        0x8 => (44, 2),
        0x9 => (54, 3),
        0xd => (48, 4),
        0x2 | 0x3 | 0xa => (54, 5),
        0xb => (64, 5),
        0xc => (44, 5),
        _ => return None,
    })
}

/// Is `p` a whole PTPv2 message (with Annex E's two octets of padding, if any)?
pub(crate) fn is_message(p: &[u8]) -> bool {
    let Some(h) = p.get(..HEADER) else { return false };
    let Some((min, control)) = shape(h[0] & 0x0f) else { return false };
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    (h[1] == 0x02 || h[1] == 0x12)
        && h[5] == 0
        && h[32] == control
        && len >= min
        && (len == p.len() || len + 2 == p.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From ptpv2.pcap (nDPI test suite, LGPL-3.0-or-later), over IPv6 with Annex E's two octets:
    // a Sync (event port 319), an Announce and a Signaling message (general port 320).
    fn sync() -> Vec<u8> {
        hex("0002002c0000040000000000000000000000000000b0aefffe01f92000010001007f000041bf41700b2d17820000")
    }

    fn announce() -> Vec<u8> {
        hex(
            "0b0200400000040000000000000000000000000000b0aefffe01f920000100010500000041bf417003b9bb2200220080f8fe64008000b0aefffe01f9200000600000",
        )
    }

    fn signaling() -> Vec<u8> {
        hex(
            "0c02003600000400000000000000000000000000002094fffe00000d0001000105ffffffffffffffffffffff00040006b0000000012c0000",
        )
    }

    #[test]
    fn messages_from_the_capture() {
        assert!(is_message(&sync()));
        assert!(is_message(&announce()));
        assert!(is_message(&signaling()));
        assert!(is_message(&sync()[..44]), "without the IPv6 padding");
    }

    #[test]
    fn a_delay_req_built_from_the_standard() {
        let mut p = sync();
        p.truncate(44);
        p[0] = 0x01;
        p[32] = 1;
        assert!(is_message(&p));
        p[32] = 0;
        assert!(!is_message(&p), "a Delay_Req with Sync's controlField");
    }

    #[test]
    fn rejects_lookalikes() {
        let mut p = sync();
        p[1] = 0x01;
        assert!(!is_message(&p), "PTP version 1");
        let mut p = sync();
        p[0] = 0x04;
        assert!(!is_message(&p), "a message type 1588 does not define");
        let mut p = sync();
        p[5] = 1;
        assert!(!is_message(&p), "the reserved byte set");
        let mut p = sync();
        p.push(0);
        assert!(!is_message(&p), "three bytes past messageLength");
        assert!(!is_message(&sync()[..43]), "shorter than messageLength");
        let mut p = announce();
        p.truncate(46);
        p[3] = 44;
        assert!(!is_message(&p), "an Announce shorter than its body");
        assert!(!is_message(&[0u8; 44]), "zeros");
        assert!(!is_message(&[]));
    }
}
