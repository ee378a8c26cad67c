//! BitTorrent's binary faces: uTP headers (BEP 29), DHT KRPC in bencode (BEP 5), the UDP tracker
//! protocol (BEP 15), and compact peer lists (BEP 23, BEP 5 `values`) for the peer cache.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{be16, be32, find};

/// uTP packet types.
pub(crate) const ST_STATE: u8 = 2;
/// uTP SYN.
pub(crate) const ST_SYN: u8 = 4;

/// The fields of a uTP header that the classifier correlates across directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Utp {
    pub(crate) kind: u8,
    pub(crate) conn_id: u16,
    pub(crate) seq: u16,
    pub(crate) ack: u16,
}

/// Parses a uTP header: version 1, type 0..=4, a valid extension chain (selective ack / extension
/// bits, bounded), and for the control types (everything but ST_DATA) no payload after it.
pub(crate) fn utp(p: &[u8]) -> Option<Utp> {
    let first = *p.first()?;
    let kind = first >> 4;
    if first & 0x0f != 1 || kind > 4 || p.len() < 20 {
        return None;
    }
    let mut ext = p[1];
    let mut pos = 20usize;
    let mut hops = 0;
    while ext != 0 {
        hops += 1;
        if hops > 4 || !(ext == 1 || ext == 2) {
            return None;
        }
        let next = *p.get(pos)?;
        let len = usize::from(*p.get(pos + 1)?);
        let ok = match ext {
            1 => len >= 4 && len % 4 == 0 && len <= 32,
            _ => len == 8,
        };
        if !ok {
            return None;
        }
        pos += 2 + len;
        if pos > p.len() {
            return None;
        }
        ext = next;
    }
    if kind != 0 && pos != p.len() {
        return None;
    }
    Some(Utp { kind, conn_id: be16(p, 2)?, seq: be16(p, 16)?, ack: be16(p, 18)? })
}

// ---------------------------------------------------------------------------------------------
// bencode

const MAX_DEPTH: u32 = 12;

/// End of the bencoded value starting at `pos`, or `None` if it is not one.
fn skip(p: &[u8], pos: usize, depth: u32) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    match *p.get(pos)? {
        b'i' => {
            let mut i = pos + 1;
            if p.get(i) == Some(&b'-') {
                i += 1;
            }
            let start = i;
            while p.get(i)?.is_ascii_digit() {
                i += 1;
            }
            if i == start || i - start > 20 || *p.get(i)? != b'e' {
                return None;
            }
            Some(i + 1)
        }
        b'l' => {
            let mut i = pos + 1;
            while *p.get(i)? != b'e' {
                i = skip(p, i, depth + 1)?;
            }
            Some(i + 1)
        }
        b'd' => {
            let mut i = pos + 1;
            while *p.get(i)? != b'e' {
                let (_, after_key) = string(p, i)?;
                i = skip(p, after_key, depth + 1)?;
            }
            Some(i + 1)
        }
        b'0'..=b'9' => string(p, pos).map(|(_, end)| end),
        _ => None,
    }
}

/// A bencoded byte string at `pos`: its bytes and the position after it.
fn string(p: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let mut i = pos;
    let mut len: usize = 0;
    while p.get(i)?.is_ascii_digit() {
        len = len.checked_mul(10)?.checked_add(usize::from(p[i] - b'0'))?;
        i += 1;
        if i - pos > 7 {
            return None;
        }
    }
    if i == pos || *p.get(i)? != b':' {
        return None;
    }
    let start = i + 1;
    let end = start.checked_add(len)?;
    Some((p.get(start..end)?, end))
}

/// Iterates the entries of the bencoded dictionary at `pos` as (key, value start, value end).
struct DictIter<'a> {
    p: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Iterator for DictIter<'a> {
    type Item = (&'a [u8], usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if *self.p.get(self.pos)? == b'e' {
            return None;
        }
        let (key, vstart) = string(self.p, self.pos)?;
        let vend = skip(self.p, vstart, self.depth + 1)?;
        self.pos = vend;
        Some((key, vstart, vend))
    }
}

fn dict(p: &[u8], pos: usize, depth: u32) -> Option<DictIter<'_>> {
    (*p.get(pos)? == b'd').then_some(DictIter { p, pos: pos + 1, depth })
}

/// True if the whole datagram is one KRPC message: a dictionary (nothing after it) with a
/// transaction id `t`, a type `y` of `q`/`r`/`e`, and for queries a method name `q` and an argument
/// dictionary `a` holding a 20-byte node `id`, for responses an `r` dictionary with a 20-byte `id`,
/// for errors an `e` list.
pub(crate) fn is_dht(p: &[u8]) -> bool {
    krpc(p).is_some()
}

fn krpc(p: &[u8]) -> Option<u8> {
    if p.len() < 12 || p[0] != b'd' || skip(p, 0, 0)? != p.len() {
        return None;
    }
    let (mut t, mut y, mut q, mut body_ok, mut e) = (false, None, false, false, false);
    for (key, vs, ve) in dict(p, 0, 0)? {
        match key {
            b"t" => t = string(p, vs).is_some_and(|(_, end)| end == ve),
            b"y" => y = string(p, vs).filter(|&(s, end)| s.len() == 1 && end == ve).map(|(s, _)| s[0]),
            b"q" => q = string(p, vs).is_some_and(|(s, end)| end == ve && (1..=32).contains(&s.len())),
            b"a" | b"r" => {
                body_ok = dict(p, vs, 1)?
                    .any(|(k, is, ie)| k == b"id" && string(p, is).is_some_and(|(s, end)| s.len() == 20 && end == ie));
            }
            b"e" => e = p.get(vs) == Some(&b'l'),
            _ => {}
        }
    }
    let y = y?;
    let ok = t
        && match y {
            b'q' => q && body_ok,
            b'r' => body_ok,
            b'e' => e,
            _ => false,
        };
    ok.then_some(y)
}

/// Calls `learn` for each peer in a KRPC response's `r.values` list (6-byte IPv4 or 18-byte IPv6
/// compact entries). Does nothing for anything that is not a well-formed KRPC response.
pub(crate) fn dht_values(p: &[u8], mut learn: impl FnMut(IpAddr, u16)) {
    if krpc(p) != Some(b'r') {
        return;
    }
    let Some(top) = dict(p, 0, 0) else { return };
    for (key, vs, _) in top {
        if key != b"r" {
            continue;
        }
        let Some(r) = dict(p, vs, 1) else { return };
        for (k, ls, le) in r {
            if k != b"values" || p.get(ls) != Some(&b'l') {
                continue;
            }
            let mut i = ls + 1;
            while i < le && p.get(i) != Some(&b'e') {
                let Some((s, end)) = string(p, i) else { return };
                compact(s, &mut learn);
                i = end;
            }
        }
    }
}

/// Decodes one compact peer: 6 bytes (IPv4 address, port) or 18 bytes (IPv6 address, port).
fn compact(c: &[u8], learn: &mut impl FnMut(IpAddr, u16)) {
    match c.len() {
        6 => learn(IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])), u16::from_be_bytes([c[4], c[5]])),
        18 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&c[..16]);
            learn(IpAddr::V6(Ipv6Addr::from(a)), u16::from_be_bytes([c[16], c[17]]));
        }
        _ => {}
    }
}

/// Calls `learn` for each peer of every compact `5:peers<len>:` (IPv4) and `6:peers6<len>:` (IPv6)
/// string in `p` (an HTTP tracker reply body, or part of one). Entries cut off by the end of `p`
/// are skipped. Returns true if a peers key was seen.
pub(crate) fn tracker_peers(p: &[u8], mut learn: impl FnMut(IpAddr, u16)) -> bool {
    let mut seen = false;
    for (key, entry) in [(&b"5:peers"[..], 6usize), (&b"6:peers6"[..], 18)] {
        let mut from = 0;
        while let Some(at) = p.get(from..).and_then(|rest| find(rest, key)) {
            let pos = from + at + key.len();
            from = pos;
            seen = true;
            let mut i = pos;
            let mut len: usize = 0;
            while let Some(d) = p.get(i).filter(|d| d.is_ascii_digit()) {
                len = len.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                i += 1;
            }
            if i == pos || p.get(i) != Some(&b':') || !len.is_multiple_of(entry) {
                continue;
            }
            let start = i + 1;
            let avail = p.len().saturating_sub(start).min(len);
            let whole = avail - avail % entry;
            if let Some(s) = p.get(start..start + whole) {
                for c in s.chunks_exact(entry) {
                    compact(c, &mut learn);
                }
            }
        }
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// UDP tracker

const UDP_TRACKER_MAGIC: u64 = 0x0417_2710_1980;

/// A BEP 15 request: connect (magic protocol id, action 0, 16 bytes), announce (action 1, 98 bytes
/// or more with BEP 41 options, event 0..=3), or scrape (action 2, 16 + 20·n bytes).
pub(crate) fn is_udp_tracker_request(p: &[u8]) -> bool {
    let (Some(hi), Some(lo), Some(action)) = (be32(p, 0), be32(p, 4), be32(p, 8)) else {
        return false;
    };
    let conn = (u64::from(hi) << 32) | u64::from(lo);
    match action {
        0 => p.len() == 16 && conn == UDP_TRACKER_MAGIC,
        1 => {
            let event_ok = be32(p, 80).is_some_and(|e| e <= 3);
            let opts_ok = p.len() == 98 || p.get(98).is_some_and(|&t| t <= 2);
            p.len() >= 98 && event_ok && opts_ok && conn != UDP_TRACKER_MAGIC
        }
        2 => p.len() >= 36 && (p.len() - 16).is_multiple_of(20) && p.len() <= 16 + 20 * 74 && conn != UDP_TRACKER_MAGIC,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::probe_table;

    // From bittorrent_utp.pcap (nDPI test suite, LGPL-3.0-or-later): a uTP SYN and its ST_STATE.
    const UTP_SYN: &str = "41004567ed639296000000000010000023c60000";
    const UTP_STATE: &str = "21004567ed6393410000000000100000456723c6";
    // Same capture: ST_STATE with a selective-ack extension.
    const UTP_STATE_SACK: &str = "2102530206ff3f5f7fffffff0000f00049c7e7f500080000000000000000";

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn utp_headers_parse() {
        let syn = utp(&hex(UTP_SYN)).unwrap();
        let st = utp(&hex(UTP_STATE)).unwrap();
        assert_eq!(syn.kind, ST_SYN);
        assert_eq!(st.kind, ST_STATE);
        assert_eq!(syn.conn_id, st.conn_id);
        assert_eq!(syn.seq, st.ack);
        assert_eq!(utp(&hex(UTP_STATE_SACK)).map(|u| u.kind), Some(ST_STATE));
    }

    #[test]
    fn utp_rejects_bad_headers() {
        let mut b = hex(UTP_SYN);
        b[0] = 0x42; // version 2
        assert_eq!(utp(&b), None);
        let mut b = hex(UTP_SYN);
        b[0] = 0x51; // type 5
        assert_eq!(utp(&b), None);
        let mut b = hex(UTP_SYN);
        b.push(0); // control packet with payload
        assert_eq!(utp(&b), None);
        let mut b = hex(UTP_STATE_SACK);
        b[21] = 9; // extension length that overruns
        assert_eq!(utp(&b), None);
        let mut b = hex(UTP_SYN);
        b[1] = 7; // unknown extension
        assert_eq!(utp(&b), None);
        assert_eq!(utp(&hex(UTP_SYN)[..19]), None);
    }

    probe_table!(is_dht, {
        dht_ping_query: *b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe" => true,
        dht_response: *b"d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re" => true,
        dht_error: *b"d1:eli201e5:Errore1:t2:aa1:y1:ee" => true,
        dht_short_id: *b"d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe" => false,
        dht_trailing_garbage: *b"d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:rexx" => false,
        dht_no_type: *b"d1:rd2:id20:abcdefghij0123456789e1:t2:aae" => false,
        dht_query_without_method: *b"d1:ad2:id20:abcdefghij0123456789e1:t2:aa1:y1:qe" => false,
        dht_truncated: *b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q" => false,
        bencode_but_not_krpc: *b"d3:cow3:moo4:spam4:eggse" => false,
        not_bencode: *b"GET / HTTP/1.1\r\n\r\n" => false,
    });

    #[test]
    fn dht_values_are_learned() {
        let msg = b"d1:rd2:id20:abcdefghij01234567895:token2:xx6:valuesl6:\xc6\x12\x00\x01\x1a\xe16:\xc6\x12\x00\x02\x1a\xe2ee1:t2:aa1:y1:re";
        assert!(is_dht(msg));
        let mut got = Vec::new();
        dht_values(msg, |ip, port| got.push((ip, port)));
        assert_eq!(
            got,
            [(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 0x1ae1), (IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 0x1ae2)]
        );
        let mut none = 0;
        dht_values(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", |_, _| none += 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn tracker_peers_are_learned() {
        let body = b"d8:intervali1800e5:peers12:\xc6\x12\x00\x01\x1a\xe1\xc6\x12\x00\x02\x1a\xe26:peers618:\x20\x01\x00\x02\0\0\0\0\0\0\0\0\0\0\0\x01\x1a\xe3e";
        let mut got = Vec::new();
        assert!(tracker_peers(body, |ip, port| got.push((ip, port))));
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], ("2001:2::1".parse().unwrap(), 0x1ae3));
        // A list cut short by the end of the packet yields only whole entries.
        let mut n = 0;
        assert!(tracker_peers(&body[..35], |_, _| n += 1));
        assert_eq!(n, 1);
        assert!(!tracker_peers(b"HTTP/1.1 200 OK\r\n", |_, _| n += 1));
    }

    fn connect_request() -> Vec<u8> {
        let mut p = UDP_TRACKER_MAGIC.to_be_bytes().to_vec();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p
    }

    fn announce_request() -> Vec<u8> {
        let mut p = vec![0x5au8; 98];
        p[8..12].copy_from_slice(&1u32.to_be_bytes());
        p[80..84].copy_from_slice(&2u32.to_be_bytes());
        p
    }

    #[test]
    fn udp_tracker_requests() {
        assert!(is_udp_tracker_request(&connect_request()));
        assert!(is_udp_tracker_request(&announce_request()));
        let mut scrape = vec![0x33u8; 56];
        scrape[8..12].copy_from_slice(&2u32.to_be_bytes());
        assert!(is_udp_tracker_request(&scrape));

        let mut bad = connect_request();
        bad[7] ^= 1; // wrong protocol id
        assert!(!is_udp_tracker_request(&bad));
        let mut long = connect_request();
        long.push(0); // connect is exactly 16 bytes
        assert!(!is_udp_tracker_request(&long));
        let mut ev = announce_request();
        ev[83] = 9; // no such event
        assert!(!is_udp_tracker_request(&ev));
        assert!(!is_udp_tracker_request(&announce_request()[..97]));
        assert!(!is_udp_tracker_request(&scrape[..55]));
    }
}
