//! EtherNet/IP (ODVA, CIP over TCP 44818 and UDP 44818/2222): the 24-byte encapsulation header.
//!
//! A command the specification defines (NOP 0x0000, ListServices 0x0004, ListIdentity 0x0063,
//! ListInterfaces 0x0064, RegisterSession 0x0065, UnRegisterSession 0x0066, SendRRData 0x006F,
//! SendUnitData 0x0070, IndicateStatus 0x0072, Cancel 0x0073), a little-endian length of the data
//! after the header, a session handle, a status, an 8-byte sender context and 32-bit options that
//! are zero. The length must tile the bytes in view (TCP) or equal the rest of the datagram (UDP).
//! Requests carry status 0; a reply may carry an error status (0x01-0x69). A 16-bit command, an
//! exact length and 32 bits of zero options: random bytes and other protocols do not pass.

fn header(p: &[u8]) -> Option<usize> {
    let h = p.get(..24)?;
    let cmd = u16::from_le_bytes([h[0], h[1]]);
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let status = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    let options = &h[20..24];
    let known = matches!(cmd, 0x0000 | 0x0004 | 0x0063..=0x0066 | 0x006f | 0x0070 | 0x0072 | 0x0073);
    (known && status <= 0x69 && options == [0, 0, 0, 0]).then_some(24 + len)
}

/// The start of an EtherNet/IP TCP stream: whole encapsulation packets back to back.
pub(crate) fn is_stream_start(p: &[u8]) -> bool {
    let mut pos = 0;
    while pos < p.len() {
        let Some(n) = p.get(pos..).and_then(header) else { return false };
        pos += n;
    }
    pos == p.len() && pos > 0
}

/// One encapsulation packet filling a UDP datagram.
pub(crate) fn is_datagram(p: &[u8]) -> bool {
    header(p) == Some(p.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn packets() {
        let mut rr = hex("6f00 1000 00010210 00000000 1a392f0000000000 00000000");
        rr.extend_from_slice(&[0u8; 16]);
        assert!(is_stream_start(&rr));
        assert!(is_datagram(&rr));
        let mut two = rr.clone();
        two.extend_from_slice(&rr);
        assert!(is_stream_start(&two));
        assert!(!is_datagram(&two));
        let mut options = rr.clone();
        options[20] = 1;
        assert!(!is_stream_start(&options));
        let mut cmd = rr.clone();
        cmd[0] = 0x71;
        assert!(!is_stream_start(&cmd));
        let list_identity = hex("6300 0000 00000000 00000000 0000000000000000 00000000");
        assert!(is_datagram(&list_identity));
    }
}
