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
//!   fits the packet and headers of types 1-3 that fill it exactly;
//! - without ALL_HEADERS (TDS 7.0/7.1, and a connection picked up after its login): an RPC whose
//!   procedure name is 1-128 UCS-2 characters of printable ASCII (every second byte zero) or one of
//!   the 15 well-known procedure ids, or an SQL batch whose text starts with at least 8 such
//!   characters; and the packet must end exactly where the segment does (or where another TDS
//!   header starts), or, unfinished, be at least the smallest packet size (512).
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

/// A printable ASCII character (or tab, CR, LF) in UCS-2 little-endian at `body[2 * i..]`.
fn ucs2_ascii(body: &[u8], i: usize) -> bool {
    body.get(2 * i..2 * i + 2).is_some_and(|c| c[1] == 0 && (c[0].is_ascii_graphic() || b" \t\r\n".contains(&c[0])))
}

/// An RPC request without ALL_HEADERS: a procedure name or a well-known procedure id.
fn rpc_name(body: &[u8], payload_len: usize) -> bool {
    let Some(n) = be16(body, 0).map(u16::swap_bytes) else { return false };
    if n == 0xffff {
        return be16(body, 2).map(u16::swap_bytes).is_some_and(|id| (1..=15).contains(&id));
    }
    let n = usize::from(n);
    (1..=128).contains(&n) && 2 + 2 * n + 2 <= payload_len && (0..n.min(32)).all(|i| ucs2_ascii(&body[2..], i))
}

/// Does the packet of length `len` end where the segment `p` does, or where another TDS header
/// starts? An unfinished message's packet (no end-of-message bit) is at least 512 bytes long.
fn packet_fits(p: &[u8], len: usize) -> bool {
    if p[1] & 1 == 0 {
        return len >= 512;
    }
    p.len() == len || p.get(len..).is_some_and(|rest| header_ok(rest).is_some())
}

/// The first bytes of a client's TDS stream.
pub(crate) fn is_client_start(p: &[u8]) -> bool {
    let Some((t, len)) = header_ok(p) else { return false };
    let body = &p[8..];
    let payload_len = len - 8;
    match t {
        18 => prelogin(body, payload_len),
        16 => login7(body, payload_len, p[1] & 1 != 0),
        1 | 3 | 14 if all_headers(body, payload_len) => true,
        3 => rpc_name(body, payload_len) && packet_fits(p, len),
        1 => payload_len >= 16 && (0..8).all(|i| ucs2_ascii(body, i)) && packet_fits(p, len),
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

    /// A TDS packet of `kind` and `status` around `body`.
    fn packet(kind: u8, status: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() + 8;
        let mut p = vec![kind, status, (len >> 8) as u8, len as u8, 0, 0, 1, 0];
        p.extend_from_slice(body);
        p
    }

    fn ucs2(s: &str) -> Vec<u8> {
        s.bytes().flat_map(|b| [b, 0]).collect()
    }

    #[test]
    fn requests_without_all_headers() {
        // As in mssql_tds.pcap (nDPI test suite, LGPL-3.0-or-later): COMMIT TRANSACTION as an SQL
        // batch, and an RPC call of sp_executesql.
        let commit = packet(1, 1, &ucs2("COMMIT TRANSACTION"));
        assert!(is_client_start(&commit));
        let mut call = vec![13, 0];
        call.extend(ucs2("sp_executesql"));
        call.extend_from_slice(&[0, 0, 0, 0, 0xe7, 0x40, 0x1f]);
        let rpc = packet(3, 9, &call);
        assert!(is_client_start(&rpc));
        assert!(is_client_start(&packet(3, 1, &[0xff, 0xff, 10, 0, 0, 0, 0, 0])), "sp_executesql by id");
        assert!(!is_client_start(&packet(3, 1, &[0xff, 0xff, 99, 0, 0, 0, 0, 0])), "no such id");
        let mut longer = rpc.clone();
        longer.push(0);
        assert!(!is_client_start(&longer), "the packet ends before the segment");
        let mut binary = rpc.clone();
        binary[11] = 0x12;
        assert!(!is_client_start(&binary), "not a UCS-2 name");
        let mut unfinished = rpc.clone();
        unfinished[1] = 0x08;
        assert!(!is_client_start(&unfinished), "an unfinished message's packet is 512 bytes or more");
        assert!(!is_client_start(&packet(1, 1, &ucs2("COMMIT"))), "too short to tell");
    }

    proptest::proptest! {
        /// A TDS header with random bytes behind it: an RPC passes only with a UCS-2 name or a
        /// well-known id, a batch only with UCS-2 text.
        #[test]
        fn random_bodies(kind in proptest::sample::select(vec![1u8, 3]),
                         body in proptest::collection::vec(proptest::num::u8::ANY, 16..400)) {
            let len = body.len() + 8;
            let mut p = vec![kind, 1, (len >> 8) as u8, len as u8, 0, 0, 1, 0];
            p.extend_from_slice(&body);
            if is_client_start(&p) {
                let zero_high = (0..8).all(|i| body.get(2 * i + 1) == Some(&0));
                let id = kind == 3 && body[0] == 0xff && body[1] == 0xff;
                let named = kind == 3 && body[3] == 0;
                proptest::prop_assert!(zero_high || id || named || all_headers(&body, body.len()));
            }
        }
    }
}
