//! DCE/RPC (The Open Group C706, and Microsoft's MS-RPCE): the connection-oriented PDU header at
//! the start of a TCP stream, and the connectionless header in a UDP datagram.
//!
//! Connection-oriented: version 5, minor version 0 or 1, a PDU type C706 defines (request 0,
//! response 2, fault 3, bind 11, bind_ack 12, bind_nak 13, alter_context 14 and its response 15,
//! auth3 16, shutdown 17, co_cancel 18, orphaned 19), a data representation with a known integer
//! and character order (0x10 or 0x00), a known float format (0-3) and two zero bytes, a fragment
//! length (in that byte order) of 16 to 65535 that the segment must hold exactly or run past, and
//! an authentication length that fits in it.
//!
//! Connectionless: version 4, PDU types 0-10, a data representation as above, and a fragment
//! length that fills the 80-byte header's datagram exactly.
//!
//! About 40 bits fixed by the header and a length that must agree: random bytes and other
//! protocols do not pass.

fn drep_ok(d: &[u8]) -> Option<bool> {
    let le = match d.first()? {
        0x10 => true,
        0x00 => false,
        _ => return None,
    };
    (*d.get(1)? <= 3 && d.get(2..4)? == [0, 0]).then_some(le)
}

fn u16_in(p: &[u8], at: usize, le: bool) -> Option<u16> {
    let b = p.get(at..at + 2)?;
    Some(if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
}

/// A connection-oriented PDU at the start of a TCP stream.
pub(crate) fn is_co_start(p: &[u8]) -> bool {
    let (Some(&v), Some(&minor), Some(&ptype)) = (p.first(), p.get(1), p.get(2)) else { return false };
    if v != 5 || minor > 1 || !matches!(ptype, 0 | 2 | 3 | 11..=19) {
        return false;
    }
    let Some(le) = p.get(4..8).and_then(drep_ok) else { return false };
    let (Some(frag), Some(auth)) = (u16_in(p, 8, le), u16_in(p, 10, le)) else { return false };
    let frag = usize::from(frag);
    frag >= 16 && usize::from(auth) + 16 <= frag && (frag == p.len() || frag > p.len() || p.get(frag) == Some(&5))
}

/// A connectionless PDU filling one UDP datagram.
pub(crate) fn is_cl(p: &[u8]) -> bool {
    if p.len() < 80 || p[0] != 4 || p[1] > 10 {
        return false;
    }
    let Some(le) = drep_ok(&p[4..8]) else { return false };
    u16_in(p, 74, le).is_some_and(|len| usize::from(len) + 80 == p.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn connection_oriented() {
        let bind = hex("05000b0310000000 4800 0000 01000000 b810b810 00000000 01000000");
        let mut b = bind.clone();
        b.resize(0x48, 0);
        assert!(is_co_start(&b));
        assert!(is_co_start(&bind), "the first segment may hold less");
        let mut drep = b.clone();
        drep[6] = 1;
        assert!(!is_co_start(&drep));
        let mut ver = b.clone();
        ver[1] = 2;
        assert!(!is_co_start(&ver));
        let mut trailing = b.clone();
        trailing.push(0x01);
        assert!(!is_co_start(&trailing));
    }

    #[test]
    fn connectionless() {
        let mut p = vec![4, 0, 0x20, 0, 0x10, 0, 0, 0];
        p.resize(80, 0);
        p[74] = 8;
        p.extend_from_slice(&[0u8; 8]);
        assert!(is_cl(&p));
        p.push(0);
        assert!(!is_cl(&p));
    }
}
