//! IEC 60870-5-104: the APCI framing of telecontrol over TCP (port 2404).
//!
//! Each APDU starts with 0x68 and a length of 4..=253 counting the 4 control bytes and the ASDU.
//! The control field is an I frame (bit 0 of the first byte clear), an S frame (0x01 0x00, no ASDU)
//! or a U frame (exactly one function: STARTDT, STOPDT or TESTFR act or con, then three zero bytes,
//! no ASDU). An I frame's ASDU (IEC 60870-5-101/104) has a type id the standard defines, a
//! variable structure qualifier with at least one object, a cause of transmission of 1..=47, a
//! common address, and then exactly as many bytes as its objects take: a 3-byte information object
//! address and the type's fixed element size per object (or one address and the elements in
//! sequence when SQ is set). The bytes in view must be whole APDUs back to back. The start byte, a
//! length that must tile the segment and agree with the ASDU's own count and element size, and
//! fixed control patterns: random bytes pass with under 1 in 10^9.

/// The element size of each ASDU type IEC 60870-5-101/104 defines (file transfer excluded).
fn element_size(type_id: u8) -> Option<usize> {
    Some(match type_id {
        1 | 3 | 45 | 46 | 47 | 70 | 100 | 101 | 105 | 113 => 1,
        5 | 21 | 104 | 106 => 2,
        9 | 11 | 48 | 49 | 110 | 111 => 3,
        51 => 4,
        7 | 13 | 15 | 20 | 50 | 112 => 5,
        103 => 7,
        30 | 31 | 58 | 59 | 60 => 8,
        32 | 107 => 9,
        34 | 35 | 38 | 40 | 61 | 62 => 10,
        39 | 64 => 11,
        33 | 36 | 37 | 63 => 12,
        102 => 0,
        _ => return None,
    })
}

/// An ASDU of `len` bytes at `p[0..]` (in view as far as needed) whose size agrees with its header.
fn asdu_ok(p: &[u8], len: usize) -> bool {
    let (Some(&type_id), Some(&vsq), Some(&cot)) = (p.first(), p.get(1), p.get(2)) else { return false };
    let Some(size) = element_size(type_id) else { return false };
    let n = usize::from(vsq & 0x7f);
    let objects = if vsq & 0x80 != 0 { 3 + n * size } else { n * (3 + size) };
    n >= 1 && (1..=47).contains(&(cot & 0x3f)) && len == 6 + objects
}

/// The start of an IEC 104 stream (either side).
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    while pos < p.len() {
        let (Some(&start), Some(&len)) = (p.get(pos), p.get(pos + 1)) else { return false };
        let Some(c) = p.get(pos + 2..pos + 6) else { return false };
        let len = usize::from(len);
        if start != 0x68 || !(4..=253).contains(&len) {
            return false;
        }
        let ok = if c[0] & 1 == 0 {
            len >= 10 && asdu_ok(&p[pos + 6..], len - 4)
        } else if c[0] & 3 == 1 {
            len == 4 && c[0] == 1 && c[1] == 0
        } else {
            len == 4 && matches!(c[0], 0x07 | 0x0b | 0x13 | 0x23 | 0x43 | 0x83) && c[1..] == [0, 0, 0]
        };
        if !ok {
            return false;
        }
        pos += 2 + len;
    }
    pos == p.len() && pos > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn apdus() {
        // STARTDT act; an S frame; an I frame (IEC104.pcap, nDPI test suite, LGPL-3.0-or-later).
        assert!(is_stream_start(&hex("680407000000")));
        assert!(is_stream_start(&hex("6804010042b9")));
        assert!(is_stream_start(&hex("68192c7e42b9240103001429cbb202cdcc2c3e0094dc028a230a0b")));
        assert!(!is_stream_start(&hex("680408000000")), "no such U function");
        assert!(!is_stream_start(&hex("68040700000000")), "a trailing byte");
        assert!(!is_stream_start(&hex("690407000000")));
        let mut wrong_count = hex("68192c7e42b9240103001429cbb202cdcc2c3e0094dc028a230a0b");
        wrong_count[7] = 2;
        assert!(!is_stream_start(&wrong_count), "two objects do not fit");
    }
}
