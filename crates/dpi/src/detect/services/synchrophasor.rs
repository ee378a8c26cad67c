//! IEEE C37.118 synchrophasor frames (phasor measurement units, TCP and UDP 4712/4713).
//!
//! Every frame starts with the sync byte 0xAA, a frame type (data, header, configuration 1, 2 or
//! 3, command) and version (1 for C37.118-2005, 2 for -2011), a 16-bit frame size, and ends with a
//! CRC-CCITT over everything before it. The frame must be in view whole (UDP: the datagram; TCP:
//! the stream's first frame) and its CRC must match: a fixed byte, a size that must agree and a
//! 16-bit CRC leave random bytes about 2^-29.

use crate::detect::be16;

/// CRC-CCITT (polynomial 0x1021, initial 0xFFFF), as C37.118 computes its CHK field.
fn crc_ccitt(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// A whole frame at the start of `p`.
pub(crate) fn is_frame_start(p: &[u8]) -> bool {
    let (Some(&sync), Some(&kind), Some(size)) = (p.first(), p.get(1), be16(p, 2)) else { return false };
    let size = usize::from(size);
    let (frame_type, version) = ((kind >> 4) & 0x07, kind & 0x0f);
    if sync != 0xaa || kind & 0x80 != 0 || frame_type > 5 || !(1..=2).contains(&version) || size < 16 {
        return false;
    }
    let Some(frame) = p.get(..size) else { return false };
    be16(frame, size - 2) == Some(crc_ccitt(&frame[..size - 2]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn frames() {
        // A command frame (ieee_c37118.pcap, nDPI test suite, LGPL-3.0-or-later).
        let cmd = hex("aa41001200f100000000000000000005d7d0");
        assert!(is_frame_start(&cmd));
        let mut bad = cmd.clone();
        bad[5] ^= 1;
        assert!(!is_frame_start(&bad), "the CRC no longer matches");
        assert!(!is_frame_start(&cmd[..17]));
    }
}
