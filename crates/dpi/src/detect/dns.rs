//! The DNS message format (RFC 1035 §4), over UDP and over TCP with its 2-byte length prefix.
//!
//! Certain when the 12-byte header is sane (opcode 0..=5 but not 3, Z bit clear, section counts
//! plausible for a query or a response) and the sections parse: question names with labels of at
//! most 63 bytes and at most 255 in total, compression pointers only backwards, known classes, and
//! resource records whose lengths land exactly on the end of the message. Over TCP the whole first
//! message is needed unless it is longer than the view, in which case header and questions decide;
//! this detector is therefore not split-invariant.
//!
//! # Why lookalikes do not pass
//!
//! The counts must be those of a query or a response, every name must be labels that end inside
//! the message with backward pointers only, every class known, and the records must end exactly at
//! the datagram's end: no trailing byte, no padding (a DNSCrypt certificate query padded with
//! zeros is not taken). mDNS, LLMNR and the NetBIOS name service use this message format and are
//! named by it (NetBIOS by a higher-priority signature); none of these is a P2P label.

use super::{Probe, be16};

/// Most resource records walked; a message with more is judged on those.
const MAX_RECORDS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fail {
    /// Ran out of bytes.
    Short,
    /// Not DNS.
    Bad,
}

fn get(p: &[u8], i: usize) -> Result<u8, Fail> {
    p.get(i).copied().ok_or(Fail::Short)
}

fn get16(p: &[u8], i: usize) -> Result<u16, Fail> {
    be16(p, i).ok_or(Fail::Short)
}

/// Walks a (possibly compressed) name starting at `pos`; returns the position after it.
fn name(p: &[u8], mut pos: usize) -> Result<usize, Fail> {
    let start = pos;
    let mut total = 0usize;
    loop {
        let l = get(p, pos)?;
        match l & 0xC0 {
            0x00 if l == 0 => return Ok(pos + 1),
            0x00 => {
                total += usize::from(l) + 1;
                if total > 255 {
                    return Err(Fail::Bad);
                }
                pos += 1 + usize::from(l);
            }
            0xC0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3f, get(p, pos + 1)?]));
                return if (12..start).contains(&target) { Ok(pos + 2) } else { Err(Fail::Bad) };
            }
            _ => return Err(Fail::Bad),
        }
    }
}

/// Parses a DNS message. With `whole`, every record must parse and end exactly at `p.len()`;
/// without, the header and questions decide (for a message longer than the bytes in view).
fn parse(p: &[u8], whole: bool) -> Result<(), Fail> {
    let flags = get16(p, 2)?;
    let (qd, an, ns, ar) = (get16(p, 4)?, get16(p, 6)?, get16(p, 8)?, get16(p, 10)?);
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0x0f;
    let rcode = flags & 0x0f;
    if opcode > 5 || opcode == 3 || flags & 0x0040 != 0 {
        return Err(Fail::Bad);
    }
    let counts_ok = if response {
        qd <= 4
            && an <= 256
            && ns <= 256
            && ar <= 256
            && u32::from(qd) + u32::from(an) + u32::from(ns) > 0
            && rcode <= 11
    } else {
        (1..=4).contains(&qd) && an <= 16 && ns <= 16 && ar <= 4 && rcode == 0
    };
    if !counts_ok {
        return Err(Fail::Bad);
    }
    let truncated = flags & 0x0200 != 0;
    let mut pos = 12;
    for _ in 0..qd {
        pos = name(p, pos)?;
        let (qtype, qclass) = (get16(p, pos)?, get16(p, pos + 2)?);
        // Class IN, CH, HS, NONE, ANY; mDNS sets the top bit to ask for a unicast reply.
        if qtype == 0 || !matches!(qclass & 0x7fff, 1 | 3 | 4 | 254 | 255) {
            return Err(Fail::Bad);
        }
        pos += 4;
    }
    if !whole {
        return Ok(());
    }
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    for _ in 0..records.min(MAX_RECORDS) {
        let r = (|| {
            let at = name(p, pos)?;
            let rdlen = usize::from(get16(p, at + 8)?);
            let end = at + 10 + rdlen;
            if end > p.len() {
                return Err(Fail::Short);
            }
            Ok(end)
        })();
        match r {
            Ok(end) => pos = end,
            Err(Fail::Short) if truncated => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    if records > MAX_RECORDS || pos == p.len() { Ok(()) } else { Err(Fail::Bad) }
}

/// A whole DNS message in one UDP datagram.
pub(crate) fn probe_udp(p: &[u8]) -> Probe {
    if p.len() >= 17 && parse(p, true).is_ok() { Probe::Certain } else { Probe::NotMine }
}

/// The start of a DNS-over-TCP stream: a 2-byte length, then the message.
pub(crate) fn probe_tcp(view: &[u8]) -> Probe {
    let Some(len) = be16(view, 0) else { return Probe::NotYet };
    let len = usize::from(len);
    if len < 17 {
        return Probe::NotMine;
    }
    let body = &view[2..];
    let result = if body.len() >= len { parse(&body[..len], true) } else { parse(body, false) };
    match result {
        Ok(()) => Probe::Certain,
        Err(Fail::Short) => Probe::NotYet,
        Err(Fail::Bad) => Probe::NotMine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for example.com A, optionally with another first byte.
    fn query(first: u8) -> Vec<u8> {
        let mut q = vec![first, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
        q
    }

    fn response() -> Vec<u8> {
        let mut r = query(0x12);
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1; // ancount
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 18, 0, 1]);
        r
    }

    fn udp(p: &[u8]) -> Probe {
        probe_udp(p)
    }

    crate::detect::probe_table!(udp, {
        plain_query: query(0x12) => Probe::Certain,
        query_first_byte_e3: query(0xe3) => Probe::Certain,
        answer: response() => Probe::Certain,
        answer_with_trailing_byte: { let mut r = response(); r.push(0); r } => Probe::NotMine,
        answer_cut_short: { let mut r = response(); r.pop(); r } => Probe::NotMine,
        query_without_question: { let mut q = query(1); q[5] = 0; q } => Probe::NotMine,
        query_bad_opcode: { let mut q = query(1); q[2] = 0x30; q } => Probe::NotMine,
        query_label_too_long: { let mut q = query(1); q[12] = 64; q } => Probe::NotMine,
        query_forward_pointer: { let mut q = query(1); q[12] = 0xc0; q[13] = 0x20; q } => Probe::NotMine,
        query_bad_class: { let mut q = query(1); q[28] = 9; q } => Probe::NotMine,
        too_short: [0u8; 12] => Probe::NotMine,
    });

    #[test]
    fn tcp_with_length_prefix() {
        let q = query(0x55);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        assert_eq!(probe_tcp(&framed), Probe::Certain);
        assert_eq!(probe_tcp(&framed[..1]), Probe::NotYet);
        assert_eq!(probe_tcp(&framed[..10]), Probe::NotYet);
        let mut wrong = framed.clone();
        wrong[1] = 5;
        assert_eq!(probe_tcp(&wrong), Probe::NotMine);
        // A long response whose header and question are in view is enough.
        let r = response();
        let mut long = 900u16.to_be_bytes().to_vec();
        long.extend_from_slice(&r);
        assert_eq!(probe_tcp(&long), Probe::Certain);
    }
}
