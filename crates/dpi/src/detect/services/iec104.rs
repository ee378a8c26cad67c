//! IEC 60870-5-104: the APCI framing of telecontrol over TCP (port 2404).
//!
//! Each APDU starts with 0x68 and a length of 4..=253 counting the 4 control bytes and the ASDU.
//! The control field is an I frame (bit 0 of the first byte clear; then an ASDU with a type id of
//! 1..=127 and a cause of transmission of 1..=47), an S frame (0x01 0x00, no ASDU) or a U frame
//! (exactly one function: STARTDT, STOPDT or TESTFR act or con, then three zero bytes, no ASDU).
//! The bytes in view must be whole APDUs back to back. The start byte, a length that must tile
//! the segment, and fixed control patterns: random bytes pass with under 1 in 10^7.

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
            let (Some(&type_id), Some(&cot)) = (p.get(pos + 6), p.get(pos + 8)) else { return false };
            len >= 10 && (1..=127).contains(&type_id) && (1..=47).contains(&(cot & 0x3f))
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
    }
}
