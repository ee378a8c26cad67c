//! Protocols framed by TPKT (RFC 1006: version 3, a reserved 0, a 16-bit length of the whole
//! packet) at the start of a TCP stream: RDP's connection request and H.323's call signalling.
//!
//! RDP (MS-RDPBCGR 2.2.1.1): the TPKT carries an X.224 Connection Request TPDU whose length
//! indicator is the TPKT length minus 5, code 0xE0, destination reference 0 and class 0, followed
//! by RDP's own data: a routing token or cookie ("Cookie: mstshash=..." ending in CR LF) and/or an
//! RDP negotiation request (type 1, length 8). The other ISO transport users on TPKT (S7comm,
//! ISO-on-TCP) send parameters (0xC0, 0xC1, 0xC2) instead, so they do not pass. The server's answer
//! is an X.224 Connection Confirm (0xD0) with an optional negotiation response (type 2 or 3,
//! length 8).
//!
//! H.323 (H.225.0 over TPKT): a Q.931 message: protocol discriminator 0x08, a call reference of 2
//! bytes (H.225.0 fixes its length), a message type Q.931 defines, then information elements that
//! must end exactly at the TPKT length (single-byte elements with the top bit set; the user-user
//! element 0x7E with a 16-bit length; the rest with an 8-bit length).
//!
//! Both need the TPKT length to agree with the segment (the packet ends at the segment's end) or
//! to run past a full segment, plus the inner structure: random bytes and other protocols do not
//! pass.

use crate::detect::be16;

/// The TPKT at the start of `p`: its length, if it agrees with the bytes in view.
fn tpkt(p: &[u8]) -> Option<usize> {
    let len = usize::from(be16(p, 2)?);
    (p[0] == 3 && p[1] == 0 && len >= 7 && (len == p.len() || (len > p.len() && p.len() >= 536))).then_some(len)
}

/// RDP's X.224 connection request or confirm at the start of a stream.
pub(crate) fn is_rdp(p: &[u8]) -> bool {
    let Some(len) = tpkt(p) else { return false };
    let (Some(&li), Some(&code), Some(dst), Some(&class)) = (p.get(4), p.get(5), be16(p, 6), p.get(10)) else {
        return false;
    };
    if usize::from(li) + 5 != len || class != 0 {
        return false;
    }
    let data = &p[11..p.len().min(len)];
    let neg = |d: &[u8], types: &[u8]| d.len() == 8 && types.contains(&d[0]) && d[2] == 8 && d[3] == 0;
    match code {
        0xE0 if dst == 0 => {
            if data.starts_with(b"Cookie: ") {
                let Some(end) = data.windows(2).position(|w| w == b"\r\n") else { return false };
                let rest = &data[end + 2..];
                rest.is_empty() || neg(rest, &[1])
            } else {
                neg(data, &[1])
            }
        }
        0xD0 => data.is_empty() || neg(data, &[2, 3]),
        _ => false,
    }
}

/// An H.225.0 (Q.931) message at the start of a stream.
pub(crate) fn is_h225(p: &[u8]) -> bool {
    let Some(len) = tpkt(p) else { return false };
    if p.get(4) != Some(&0x08) || p.get(5) != Some(&2) {
        return false;
    }
    let Some(&mt) = p.get(8) else { return false };
    if !matches!(
        mt,
        0x01 | 0x02
            | 0x03
            | 0x05
            | 0x07
            | 0x0d
            | 0x0f
            | 0x20
            | 0x45
            | 0x46
            | 0x4d
            | 0x5a
            | 0x62
            | 0x6e
            | 0x75
            | 0x7b
            | 0x7d
    ) {
        return false;
    }
    let mut pos = 9;
    while pos < len {
        let Some(&ie) = p.get(pos) else { return true }; // runs past the view: a full segment
        pos += if ie & 0x80 != 0 {
            1
        } else if ie == 0x7e {
            let Some(l) = be16(p, pos + 1) else { return true };
            3 + usize::from(l)
        } else {
            let Some(&l) = p.get(pos + 1) else { return true };
            2 + usize::from(l)
        };
    }
    pos == len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn rdp() {
        let mut cr = hex("0300002a25e00000000000");
        cr.extend_from_slice(b"Cookie: mstshash=weir\r\n");
        cr.extend_from_slice(&hex("0100080003000000"));
        cr[3] = cr.len() as u8;
        cr[4] = (cr.len() - 5) as u8;
        assert!(is_rdp(&cr));
        let neg_only = hex("030000130ee000000000000100080003000000");
        assert!(is_rdp(&neg_only));
        let cc = hex("030000130ed000001234000200080001000000");
        assert!(is_rdp(&cc));
        // S7comm's connection request carries TSAP parameters instead.
        let s7 = hex("0300001611e00000000100c0010ac1020100c2020102");
        assert!(!is_rdp(&s7));
        let mut li = neg_only.clone();
        li[4] = 0x0f;
        assert!(!is_rdp(&li));
    }

    #[test]
    fn h225() {
        // A SETUP with bearer capability, display and user-user elements.
        let mut m = hex("03000000 08 02 77f4 05 04038090a5 28 05 7765697200");
        m.extend_from_slice(&hex("7e 0004 05 20 a8 06"));
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
        assert!(is_h225(&m));
        let mut bad = m.clone();
        bad[10] = 0x04; // bearer capability length one too long
        assert!(!is_h225(&bad));
        let mut crv = m.clone();
        crv[5] = 1;
        assert!(!is_h225(&crv));
    }
}
