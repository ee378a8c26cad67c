//! Cisco's Skinny Client Control Protocol (SCCP, TCP 2000) between IP phones and call managers.
//!
//! Each message is a 32-bit little-endian length (counting from the message id), a 32-bit header
//! version (0, or the protocol versions 0x11-0x16 newer phones send), a 32-bit little-endian
//! message id (station to call manager 0x0000-0x00FF, call manager to station 0x0081-0x01FF,
//! and the 0x8000 range for newer messages) and the message. The messages in view must tile the
//! segment exactly. An exact 32-bit length, a version word and an id in a small range: random
//! bytes and other protocols do not pass.

fn message(p: &[u8]) -> Option<usize> {
    let h = p.get(..12)?;
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let version = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let id = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    let ok = (4..=4096).contains(&len)
        && matches!(version, 0 | 0x11..=0x16)
        && (id <= 0x1ff || (0x8000..=0x81ff).contains(&id));
    ok.then_some(8 + len)
}

/// The start of a Skinny stream (either side).
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    while pos < p.len() {
        let Some(n) = p.get(pos..).and_then(message) else { return false };
        pos += n;
    }
    pos == p.len() && pos > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn messages() {
        // skinny.pcap (nDPI test suite, LGPL-3.0-or-later).
        assert!(is_stream_start(&hex("100000001400000026000000010000000000000000000000")));
        assert!(is_stream_start(&hex("14000000140000008500000001000000010000000000000000000000")));
        assert!(!is_stream_start(&hex("1000000014000000260000000100000000000000000000")), "cut");
        assert!(!is_stream_start(&hex("100000002000000026000000010000000000000000000000")), "version");
    }
}
