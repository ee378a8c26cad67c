//! Modbus/TCP (Modbus Messaging on TCP/IP Implementation Guide v1.0b): the MBAP header.
//!
//! A request or response is a 7-byte MBAP header (transaction id, protocol id 0, a length counting
//! the unit id and the PDU, 2..=254, a unit id) and a PDU whose function code is a public one (1-8,
//! 11-24, 43) or a vendor's (65-72, 90 for Schneider's UMAS, 100-110), or an exception response
//! (0x80 plus such a code, with an exception code of 1-11). The bytes in view must be whole ADUs
//! back to back, the last one possibly cut by the end of the view only if the view is a full
//! segment. A zero protocol id, a length that must tile the segment and a function code: random
//! bytes pass with under 1 in 10^7, and no other TCP protocol starts so.

use crate::detect::be16;

fn function_ok(fc: u8) -> bool {
    matches!(fc, 1..=8 | 11..=24 | 43 | 65..=72 | 90 | 100..=110)
}

/// The start of a Modbus/TCP stream (either side).
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    let mut n = 0;
    while pos < p.len() {
        let (Some(proto), Some(len), Some(&fc)) = (be16(p, pos + 2), be16(p, pos + 4), p.get(pos + 7)) else {
            return false;
        };
        let len = usize::from(len);
        let ok = if fc & 0x80 != 0 {
            function_ok(fc & 0x7f) && len == 3 && p.get(pos + 8).is_some_and(|&e| (1..=11).contains(&e))
        } else {
            function_ok(fc)
        };
        if proto != 0 || !(2..=254).contains(&len) || !ok {
            return false;
        }
        pos += 6 + len;
        n += 1;
    }
    pos == p.len() && n > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn adus() {
        let read = hex("0001 0000 0006 01 03 0000 000a");
        assert!(is_stream_start(&read));
        let mut two = read.clone();
        two.extend_from_slice(&read);
        assert!(is_stream_start(&two));
        assert!(!is_stream_start(&read[..11]), "a cut ADU");
        let mut proto = read.clone();
        proto[3] = 1;
        assert!(!is_stream_start(&proto));
        let exception = hex("0001 0000 0003 01 83 02");
        assert!(is_stream_start(&exception));
        assert!(!is_stream_start(&hex("0001 0000 0003 01 83 0c")));
        assert!(!is_stream_start(&hex("0001 0000 0006 01 7f 0000 000a")));
    }
}
