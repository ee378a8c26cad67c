//! DNP3 (IEEE 1815) link-layer frames, over TCP and UDP (port 20000 by convention).
//!
//! Every frame starts with the 10-byte link header: the start bytes 0x05 0x64, a length of at
//! least 5 (control, addresses and user data, without CRCs), a control byte, 16-bit destination
//! and source addresses, and a CRC-16 (DNP3's polynomial 0x3D65) over the first 8 bytes. The two
//! start bytes and a CRC that must match leave random bytes 2^-32.

/// DNP3's CRC-16 (polynomial 0x3D65, reflected 0xA6BC, final complement).
fn crc(data: &[u8]) -> u16 {
    let mut c: u16 = 0;
    for &b in data {
        c ^= u16::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xA6BC } else { c >> 1 };
        }
    }
    !c
}

/// A DNP3 link header (with its CRC) at the start of `p`.
pub(crate) fn is_frame_start(p: &[u8]) -> bool {
    let Some(h) = p.get(..10) else { return false };
    h[0] == 0x05 && h[1] == 0x64 && h[2] >= 5 && crc(&h[..8]) == u16::from_le_bytes([h[8], h[9]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn frames() {
        // A link-status request (dnp3.pcap, nDPI test suite, LGPL-3.0-or-later).
        let f = hex("05640a44030004007cae c9f28210008a07");
        assert!(is_frame_start(&f));
        let mut bad = f.clone();
        bad[4] = 4;
        assert!(!is_frame_start(&bad), "the CRC no longer matches");
        assert!(!is_frame_start(&f[..9]));
    }
}
