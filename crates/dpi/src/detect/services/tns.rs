//! Oracle Net's TNS CONNECT, the client's first packet to a listener (TCP 1521).
//!
//! Oracle does not publish TNS; the layout is the one Wireshark's dissector (packet-tns.c) and the
//! Net8 write-ups document. Every packet starts with an 8-byte header: the packet's length (16-bit
//! big-endian, the first packet's before any larger SDU is negotiated), a packet checksum (0), the
//! type (1, CONNECT), a reserved byte (0) and a header checksum (0). The CONNECT then gives the
//! client's version and the oldest it can talk (TNS versions 300 and up; the compatible one no
//! newer than the version), service options, SDU and TDU sizes, protocol characteristics, line
//! turnaround, the value 1 as the client's hardware writes it (`00 01` or `01 00`), and the
//! connect data's length and offset. Recognised only when the packet is the whole segment and the
//! connect data lies inside it, ending at its end, and is a connect descriptor, which Oracle's Net
//! Services Reference spells `(DESCRIPTION=...)`. An exact 16-bit length, 40 zero bits in the
//! header, the hardware's 1, an offset and length that add up exactly, and 13 bytes of
//! descriptor: nothing random passes. (A CONNECT whose data follows in a separate packet is not
//! recognised alone.)

use crate::detect::be16;

/// CONNECT's fixed fields end at the connect flags (offsets 32 and 33).
const FIXED: usize = 34;

/// Is `view`, the client's first segment, a whole TNS CONNECT carrying its connect descriptor?
pub(crate) fn is_connect(view: &[u8]) -> bool {
    let (Some(len), Some(version), Some(compatible), Some(one), Some(data_len), Some(data_off)) =
        (be16(view, 0), be16(view, 8), be16(view, 10), be16(view, 22), be16(view, 24), be16(view, 26))
    else {
        return false;
    };
    let (data_len, data_off) = (usize::from(data_len), usize::from(data_off));
    usize::from(len) == view.len()
        && view.get(2..8) == Some(&[0, 0, 1, 0, 0, 0][..])
        && (300..400).contains(&version)
        && (300..=version).contains(&compatible)
        && matches!(one, 0x0001 | 0x0100)
        && data_off >= FIXED
        && data_len >= 13
        && data_off + data_len == view.len()
        && view.get(data_off..data_off + 13).is_some_and(|d| d.eq_ignore_ascii_case(b"(DESCRIPTION="))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::services::hex;

    // oracle12.pcapng's CONNECT (nDPI test suite, LGPL-3.0-or-later): version 315, compatible
    // 300, 142 bytes of connect data at 70.
    pub(crate) fn connect() -> Vec<u8> {
        let mut p = hex(
            "00d4000001000000013b012c0c412000ffff7f0800000100008e0046000008004141000000000000000000000000000000000000000000000000000020000020000000000000",
        );
        p.extend_from_slice(
            b"(DESCRIPTION=(CONNECT_DATA=(SID=igor)(CID=(PROGRAM=sqlplus@kali)(HOST=kali)(USER=root)))\
(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.72.139)(PORT=1521)))",
        );
        p
    }

    #[test]
    fn the_capture_connect() {
        let p = connect();
        assert_eq!(p.len(), 212);
        assert!(is_connect(&p));
        let mut be = p.clone();
        be[22..24].copy_from_slice(&[0, 1]);
        assert!(is_connect(&be), "a big-endian client's 1");
    }

    #[test]
    fn rejects_lookalikes() {
        let p = connect();
        assert!(!is_connect(&p[..p.len() - 1]), "the length is the segment's");
        let mut t = p.clone();
        t[4] = 2;
        assert!(!is_connect(&t), "an ACCEPT is the server's");
        let mut c = p.clone();
        c[3] = 1;
        assert!(!is_connect(&c), "a packet checksum");
        let mut v = p.clone();
        v[10..12].copy_from_slice(&316u16.to_be_bytes());
        assert!(!is_connect(&v), "compatible newer than the version");
        let mut o = p.clone();
        o[22..24].copy_from_slice(&[1, 1]);
        assert!(!is_connect(&o), "the hardware's 1");
        let mut d = p.clone();
        d[27] = 0x47;
        assert!(!is_connect(&d), "the connect data's offset");
        let mut s = p;
        s[70] = b'[';
        assert!(!is_connect(&s), "no descriptor");
        // The listener's RESEND (type 11), an 8-byte packet.
        assert!(!is_connect(&hex("000800000b000000")));
    }

    proptest::proptest! {
        #[test]
        fn random_fields_in_a_connect(fields in proptest::collection::vec(proptest::num::u8::ANY, 26)) {
            let mut p = connect();
            p[8..34].copy_from_slice(&fields);
            if is_connect(&p) {
                proptest::prop_assert!(be16(&p, 26) == Some(70) && be16(&p, 24) == Some(142));
            }
        }
    }
}
