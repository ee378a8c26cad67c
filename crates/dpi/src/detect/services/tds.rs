//! Microsoft SQL Server's TDS (MS-TDS) from the client, at the start of a TCP stream.
//!
//! The 8-byte packet header: a client packet type (SQL batch 1, pre-TDS7 login 2, RPC 3, bulk load
//! 7, transaction manager 14, login7 16, SSPI 17, pre-login 18), a status with only defined bits
//! (end of message, ignore, event notification, reset connection, reset keeping the transaction),
//! a 16-bit length of 8 to 32768, and a window byte of 0. Then the packet's own structure must agree:
//!
//! - pre-login: option tokens 0-8 of 5 bytes each (type, offset, length) up to the terminator
//!   0xFF, each option's data inside the packet;
//! - login7: its own 32-bit little-endian length equals the packet's payload (or exceeds it when
//!   the login spans packets) and the TDS version is one Microsoft has shipped (7.0 to 8.0);
//! - SQL batch, RPC, transaction manager: the ALL_HEADERS block (TDS 7.2+), a total length that
//!   fits the packet and headers of types 1-3 that fill it exactly.
//!
//! The header alone has about 24 fixed bits; the structures behind it add length fields that must
//! agree, so random bytes and other protocols do not pass. Other packet types (bulk load, SSPI,
//! pre-TDS7 login) are not enough on their own.

use crate::detect::{be16, le32};

fn header_ok(p: &[u8]) -> Option<(u8, usize)> {
    let (&t, &status, len, &window) = (p.first()?, p.get(1)?, be16(p, 2)?, p.get(7)?);
    let len = usize::from(len);
    (matches!(t, 1 | 2 | 3 | 7 | 14 | 16 | 17 | 18) && status & 0xe0 == 0 && (8..=32768).contains(&len) && window == 0)
        .then_some((t, len))
}

fn prelogin(body: &[u8], payload_len: usize) -> bool {
    let mut pos = 0;
    let mut n = 0;
    loop {
        let Some(&t) = body.get(pos) else { return false };
        if t == 0xff {
            return n > 0;
        }
        let (Some(off), Some(len)) = (be16(body, pos + 1), be16(body, pos + 3)) else { return false };
        if t > 8 || usize::from(off) + usize::from(len) > payload_len || usize::from(off) < 5 * (n + 1) + 1 {
            return false;
        }
        pos += 5;
        n += 1;
        if n > 16 {
            return false;
        }
    }
}

fn login7(body: &[u8], payload_len: usize, last: bool) -> bool {
    let (Some(len), Some(version)) = (le32(body, 0), le32(body, 4)) else { return false };
    let len_ok = if last { len as usize == payload_len } else { len as usize > payload_len };
    len_ok
        && matches!(
            version,
            0x7000_0000
                | 0x7100_0000
                | 0x7100_0001
                | 0x7209_0002
                | 0x730A_0003
                | 0x730B_0003
                | 0x7400_0004
                | 0x0800_0000
        )
}

fn all_headers(body: &[u8], payload_len: usize) -> bool {
    let Some(total) = le32(body, 0).map(|t| t as usize) else { return false };
    if !(4 + 6..=payload_len).contains(&total) {
        return false;
    }
    let mut pos = 4;
    while pos < total {
        let (Some(hl), Some(ht)) = (le32(body, pos), crate::detect::be16(body, pos + 4).map(u16::swap_bytes)) else {
            return false;
        };
        let hl = hl as usize;
        if hl < 6 || !(1..=3).contains(&ht) {
            return false;
        }
        pos += hl;
    }
    pos == total
}

/// The first bytes of a client's TDS stream.
pub(crate) fn is_client_start(p: &[u8]) -> bool {
    let Some((t, len)) = header_ok(p) else { return false };
    let body = &p[8..];
    let payload_len = len - 8;
    match t {
        18 => prelogin(body, payload_len),
        16 => login7(body, payload_len, p[1] & 1 != 0),
        1 | 3 | 14 => all_headers(body, payload_len),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn client_packets() {
        // A pre-login with VERSION, ENCRYPTION, INSTOPT, THREADID, MARS.
        let pre = hex(
            "1201002f00000100 00001a0006 01002000 01 02002100 01 03002200 04 04002600 01 ff 0900000000000000 00 00000000 00",
        );
        assert!(is_client_start(&pre));
        let mut bad = pre.clone();
        bad[8] = 0x20;
        assert!(!is_client_start(&bad), "option type 32");
        // An SQL batch with a transaction descriptor header (mssql_tds.pcap, nDPI test suite,
        // LGPL-3.0-or-later).
        let batch = hex("010100be00000100 16000000 12000000 0200 0000000000000000 01000000 2000730065007400");
        assert!(is_client_start(&batch));
        let mut wrong_total = batch.clone();
        wrong_total[8] = 0x17;
        assert!(!is_client_start(&wrong_total));
        let mut window = batch.clone();
        window[7] = 1;
        assert!(!is_client_start(&window));
        let mut login = hex("1001009000000100 88000000 04000074 00100000");
        login.resize(0x90, 0);
        assert!(is_client_start(&login));
        login[12] = 0x05;
        assert!(!is_client_start(&login), "no such TDS version");
    }
}
