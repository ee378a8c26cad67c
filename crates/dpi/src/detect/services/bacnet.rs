//! BACnet/IP (ASHRAE 135 Annex J): the BACnet Virtual Link Control header.
//!
//! A datagram starts with type 0x81, a BVLC function 0x00..=0x0c and a 16-bit length equal to the
//! datagram's length. The functions that carry an NPDU (Original-Unicast 0x0a, Original-Broadcast
//! 0x0b, Distribute-Broadcast 0x09, Forwarded 0x04 after a 6-byte B/IP address) must be followed by
//! an NPDU of version 1 whose control octet has its two reserved bits clear. A fixed byte, a
//! 16-bit length that must match exactly and, for NPDUs, a version byte: random bytes pass with
//! under 1 in 10^9.

use crate::detect::be16;

/// A whole BACnet/IP BVLC message in one datagram.
pub(crate) fn is_bvlc(p: &[u8]) -> bool {
    let (Some(&kind), Some(&function), Some(len)) = (p.first(), p.get(1), be16(p, 2)) else { return false };
    if kind != 0x81 || function > 0x0c || usize::from(len) != p.len() {
        return false;
    }
    let npdu = match function {
        0x09..=0x0b => 4,
        0x04 => 10,
        _ => return p.len() >= 4,
    };
    matches!((p.get(npdu), p.get(npdu + 1)), (Some(1), Some(&c)) if c & 0x50 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn bvlc() {
        // A broadcast Who-Is (bacnet.pcap, nDPI test suite, LGPL-3.0-or-later).
        assert!(is_bvlc(&hex("810b000c0120ffff00ff1008")));
        assert!(!is_bvlc(&hex("810b000d0120ffff00ff1008")), "length disagrees");
        assert!(!is_bvlc(&hex("810b000c0220ffff00ff1008")), "NPDU version 2");
        assert!(!is_bvlc(&hex("820b000c0120ffff00ff1008")));
        assert!(is_bvlc(&hex("81000006 0000")), "a BVLC result");
    }
}
