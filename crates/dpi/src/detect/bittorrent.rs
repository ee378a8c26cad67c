//! BitTorrent's binary faces: uTP headers (BEP 29), DHT KRPC in bencode (BEP 5), the UDP tracker
//! protocol (BEP 15), and the places peers are named for the peer cache: compact and dictionary
//! peer lists of tracker replies (BEP 3, BEP 23, BEP 7), DHT `values`, `nodes` and `nodes6`,
//! the extension handshake's listen port (BEP 10), PEX (`ut_pex`), the PORT message, local peer
//! discovery (BEP 14).
//!
//! # Why lookalikes do not pass
//!
//! - uTP: a version-1 header with a valid type and extension chain (control packets exactly that
//!   long) from each side, tied across the two directions: a SYN from the originator and an
//!   ST_STATE from the responder that carries the SYN's connection id and acknowledges its
//!   sequence number (32 bits), or, for a connection picked up after its SYN, connection ids that
//!   differ by exactly one and an acknowledgement within 256 of the other side's sequence number
//!   (about 23 bits on top of two valid headers). RTP/RTCP (version 2 in the top two bits, so
//!   never `0x_1` in the first byte), STUN, DTLS and the rest fail on the first byte or the tie.
//! - DHT: the whole datagram must be one bencoded dictionary (every length and nesting exact, no
//!   trailing byte) holding a transaction id, a message type `q`/`r`/`e`, and for queries and
//!   responses a 20-byte node id. No binary protocol starts `d1:` and parses to its last byte.
//! - UDP tracker: the connect request carries the protocol's 64-bit magic `0x41727101980`. An
//!   announce or scrape request is never enough alone (ONC RPC calls put an XID and message type 0
//!   where the connection id is, and version 2 where the action is; a DNS query with one
//!   additional record has action 1): the flow is a tracker's only when the other side answers
//!   with the same action and the request's 32-bit transaction id, in that answer's size.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{UdpHint, be16, be32, find};

/// uTP packet types.
pub(crate) const ST_DATA: u8 = 0;
/// uTP ST_STATE (an acknowledgement).
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

/// The data of a uTP ST_DATA packet: what follows the header and its extensions.
pub(crate) fn utp_data(p: &[u8]) -> Option<&[u8]> {
    let u = utp(p)?;
    if u.kind != ST_DATA {
        return None;
    }
    let mut ext = p[1];
    let mut pos = 20usize;
    while ext != 0 {
        ext = *p.get(pos)?;
        pos += 2 + usize::from(*p.get(pos + 1)?);
    }
    p.get(pos..)
}

/// How far an acknowledgement may trail or lead the other side's last sequence number seen.
const UTP_ACK_WINDOW: u16 = 256;

/// True if `u` (from one side) answers the other side's last uTP header (`conn`, `seq`; `syn` if
/// it was a SYN): the ST_STATE answering a SYN carries the SYN's connection id and acknowledges
/// its sequence number exactly; on an established connection the initiator sends with its
/// receive id plus one and the other side with the receive id, so the ids differ by exactly one,
/// and the acknowledgement lies within [`UTP_ACK_WINDOW`] of the other side's sequence number.
pub(crate) fn utp_tied(conn: u16, seq: u16, syn: bool, u: &Utp) -> bool {
    if syn {
        return u.kind == ST_STATE && u.conn_id == conn && u.ack == seq;
    }
    if u.kind == ST_SYN {
        return false;
    }
    let ids = u.conn_id.wrapping_sub(conn) == 1 || conn.wrapping_sub(u.conn_id) == 1;
    let near = u.ack.wrapping_sub(seq) <= UTP_ACK_WINDOW || seq.wrapping_sub(u.ack) <= UTP_ACK_WINDOW;
    ids && near
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

/// A bencoded integer at `pos`: its value (if it fits an i64) and the position after it.
fn int(p: &[u8], pos: usize) -> Option<(i64, usize)> {
    if *p.get(pos)? != b'i' {
        return None;
    }
    let end = skip(p, pos, 0)?;
    let text = core::str::from_utf8(p.get(pos + 1..end - 1)?).ok()?;
    Some((text.parse().ok()?, end))
}

/// A port from a bencoded integer, if it is 1..=65535.
fn port_of(p: &[u8], pos: usize) -> Option<u16> {
    int(p, pos).and_then(|(v, _)| u16::try_from(v).ok()).filter(|&v| v != 0)
}

/// Calls `learn` for every peer a KRPC message names: a response's `values` (compact peers),
/// `nodes` (26-byte compact IPv4 node infos) and `nodes6` (38-byte IPv6 ones), and the port an
/// `announce_peer` query announces for its sender (`sender`; with `implied_port` the sender's
/// source port, which the caller learns anyway). Does nothing for anything that is not KRPC.
pub(crate) fn dht_peers(p: &[u8], sender: IpAddr, mut learn: impl FnMut(IpAddr, u16)) {
    let Some(y) = krpc(p) else { return };
    let Some(top) = dict(p, 0, 0) else { return };
    for (key, vs, _) in top {
        match (key, y) {
            (b"r", b'r') => {
                let Some(r) = dict(p, vs, 1) else { return };
                for (k, ls, le) in r {
                    match k {
                        b"values" if p.get(ls) == Some(&b'l') => {
                            let mut i = ls + 1;
                            while i < le && p.get(i) != Some(&b'e') {
                                let Some((s, end)) = string(p, i) else { break };
                                compact(s, &mut learn);
                                i = end;
                            }
                        }
                        b"nodes" | b"nodes6" => {
                            let (Some((s, _)), size) = (string(p, ls), if k == b"nodes" { 26 } else { 38 }) else {
                                continue;
                            };
                            if s.len().is_multiple_of(size) {
                                for node in s.chunks_exact(size) {
                                    compact(&node[20..], &mut learn);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            (b"a", b'q') => {
                let Some(a) = dict(p, vs, 1) else { return };
                let (mut port, mut implied) = (None, false);
                for (k, is, _) in a {
                    match k {
                        b"port" => port = port_of(p, is),
                        b"implied_port" => implied = int(p, is).is_some_and(|(v, _)| v == 1),
                        _ => {}
                    }
                }
                if let (Some(port), false) = (port, implied) {
                    learn(sender, port);
                }
            }
            _ => {}
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

/// Calls `learn` for each peer of an HTTP tracker reply body (or the part of it in `p`): every
/// compact `5:peers<len>:` (IPv4) and `6:peers6<len>:` (IPv6) string, and the `ip`/`port` of every
/// dictionary in a `5:peersl` list (the original, non-compact model). Entries cut off by the end
/// of `p` are skipped. Returns true if a peers key was seen.
pub(crate) fn tracker_peers(p: &[u8], mut learn: impl FnMut(IpAddr, u16)) -> bool {
    let mut seen = false;
    for (key, entry) in [(&b"5:peers"[..], 6usize), (&b"6:peers6"[..], 18)] {
        let mut from = 0;
        while let Some(at) = p.get(from..).and_then(|rest| find(rest, key)) {
            let pos = from + at + key.len();
            from = pos;
            seen = true;
            if entry == 6 && p.get(pos) == Some(&b'l') {
                dictionary_peers(p, pos, &mut learn);
                continue;
            }
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

/// The `l d2:ip..4:port..e ... e` list at `pos`: each dictionary's textual address and port.
fn dictionary_peers(p: &[u8], pos: usize, learn: &mut impl FnMut(IpAddr, u16)) {
    let mut i = pos + 1;
    while p.get(i) == Some(&b'd') {
        let (mut ip, mut port) = (None, None);
        for (k, vs, _) in dict(p, i, 1).into_iter().flatten() {
            match k {
                b"ip" => ip = string(p, vs).and_then(|(s, _)| core::str::from_utf8(s).ok()?.parse::<IpAddr>().ok()),
                b"port" => port = port_of(p, vs),
                _ => {}
            }
        }
        if let (Some(ip), Some(port)) = (ip, port) {
            learn(ip, port);
        }
        match skip(p, i, 1) {
            Some(end) => i = end,
            None => return,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Peer wire (inside TCP streams and uTP payloads)

/// Most bytes a peer-wire message may claim before the stream is taken as out of step (a piece is
/// 16 KiB plus 9, a bitfield of a huge torrent some 100 KiB).
pub(crate) const MAX_MESSAGE: u32 = 1 << 21;

/// Calls `learn` for the peers one peer-wire message names, given its body (id byte first) as far
/// as it is in view; `sender` sent it. The extension handshake's `p` is the sender's listen port;
/// a `ut_pex` message (an extended message whose dictionary has `added`/`added6`) lists peers;
/// a PORT message gives the sender's DHT port.
pub(crate) fn message_peers(body: &[u8], sender: IpAddr, mut learn: impl FnMut(IpAddr, u16)) {
    match body.first() {
        Some(9) if body.len() == 3 => {
            let port = u16::from_be_bytes([body[1], body[2]]);
            if port != 0 {
                learn(sender, port);
            }
        }
        Some(20) => {
            let (Some(&ext), Some(d)) = (body.get(1), body.get(2..)) else { return };
            let Some(entries) = dict(d, 0, 0) else { return };
            for (k, vs, _) in entries {
                match (ext, k) {
                    (0, b"p") => {
                        if let Some(port) = port_of(d, vs) {
                            learn(sender, port);
                        }
                    }
                    (1.., b"added") | (1.., b"added6") => {
                        let size = if k == b"added" { 6 } else { 18 };
                        if let Some((s, _)) = string(d, vs)
                            && s.len().is_multiple_of(size)
                        {
                            for c in s.chunks_exact(size) {
                                compact(c, &mut learn);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Walks the whole peer-wire messages at the start of `b` (a uTP data payload, which has no
/// stream state): skips a handshake if `b` starts with one, then calls [`message_peers`] for each
/// message while the lengths stay sane.
pub(crate) fn walk_messages(b: &[u8], sender: IpAddr, mut learn: impl FnMut(IpAddr, u16)) {
    let mut i = if b.starts_with(b"\x13BitTorrent protocol") { 68 } else { 0 };
    while let Some(len) = be32(b, i) {
        if len > MAX_MESSAGE {
            return;
        }
        let start = i + 4;
        let end = start + len as usize;
        message_peers(&b[start..end.min(b.len())], sender, &mut learn);
        i = end;
    }
}

/// The listen port of a local peer discovery announcement (`Port: <n>` header).
pub(crate) fn lsd_port(p: &[u8]) -> Option<u16> {
    let at = find(p, b"\r\nPort: ")? + 8;
    let digits = p.get(at..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    let text = core::str::from_utf8(p.get(at..at + digits)?).ok()?;
    text.parse::<u16>().ok().filter(|&v| v != 0)
}

// ---------------------------------------------------------------------------------------------
// UDP tracker

const UDP_TRACKER_MAGIC: u64 = 0x0417_2710_1980;

fn action_and_tid(p: &[u8]) -> Option<(u64, u32, u32)> {
    let (hi, lo, action, tid) = (be32(p, 0)?, be32(p, 4)?, be32(p, 8)?, be32(p, 12)?);
    Some(((u64::from(hi) << 32) | u64::from(lo), action, tid))
}

/// A BEP 15 connect request: the protocol magic, action 0, a transaction id; 16 bytes.
pub(crate) fn is_udp_tracker_connect(p: &[u8]) -> bool {
    p.len() == 16 && action_and_tid(p).is_some_and(|(conn, action, _)| conn == UDP_TRACKER_MAGIC && action == 0)
}

/// A BEP 15 announce (action 1, 98 bytes or more with BEP 41 options, event 0..=3) or scrape
/// (action 2, 16 + 20 n bytes) request: the hint and the transaction id its answer must echo.
pub(crate) fn tracker_request(p: &[u8]) -> Option<(UdpHint, u32)> {
    let (conn, action, tid) = action_and_tid(p)?;
    if conn == UDP_TRACKER_MAGIC {
        return None;
    }
    match action {
        1 => {
            let event_ok = be32(p, 80).is_some_and(|e| e <= 3);
            let opts_ok = p.len() == 98 || p.get(98).is_some_and(|&t| t <= 2);
            (p.len() >= 98 && event_ok && opts_ok).then_some((UdpHint::TrackerAnnounce, tid))
        }
        2 => (p.len() >= 36 && (p.len() - 16).is_multiple_of(20) && p.len() <= 16 + 20 * 74)
            .then_some((UdpHint::TrackerScrape, tid)),
        _ => None,
    }
}

/// True if `p` is the tracker's answer to the request `hint` with transaction id `tid`: an
/// announce reply (action 1, interval, leechers, seeders, 6- or 18-byte peers), a scrape reply
/// (action 2, 12 bytes per torrent) or an error (action 3, a text message).
pub(crate) fn tracker_reply(hint: UdpHint, tid: u32, p: &[u8]) -> bool {
    let (Some(action), Some(t)) = (be32(p, 0), be32(p, 4)) else { return false };
    if t != tid {
        return false;
    }
    let n = p.len();
    match (hint, action) {
        (UdpHint::TrackerAnnounce, 1) => n >= 20 && (n - 20).is_multiple_of(6),
        (UdpHint::TrackerScrape, 2) => n >= 20 && (n - 8).is_multiple_of(12),
        (UdpHint::TrackerAnnounce | UdpHint::TrackerScrape, 3) => {
            n > 8
                && p[8..].iter().all(|&b| {
                    b == b'\t' || b == b'\n' || b == b'\r' || (0x20..0x7f).contains(&b) || b >= 0x80 || b == 0
                })
                && p[8] != 0
        }
        _ => false,
    }
}

/// The transaction id of an announce request (for matching its reply while harvesting).
pub(crate) fn announce_tid(p: &[u8]) -> Option<u32> {
    tracker_request(p).filter(|(h, _)| *h == UdpHint::TrackerAnnounce).map(|(_, t)| t)
}

/// Calls `learn` for the peers of an announce reply with transaction id `tid`: 6-byte entries
/// after the 20-byte header when the tracker speaks IPv4, 18-byte ones over IPv6.
pub(crate) fn announce_peers(p: &[u8], tid: u32, v6: bool, mut learn: impl FnMut(IpAddr, u16)) {
    if be32(p, 0) != Some(1) || be32(p, 4) != Some(tid) || p.len() < 20 {
        return;
    }
    let size = if v6 { 18 } else { 6 };
    let peers = &p[20..];
    if peers.len().is_multiple_of(size) {
        for c in peers.chunks_exact(size) {
            compact(c, &mut learn);
        }
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

    const SENDER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 99));

    fn peers_of(f: impl FnOnce(&mut dyn FnMut(IpAddr, u16))) -> Vec<(IpAddr, u16)> {
        let mut got = Vec::new();
        f(&mut |ip, port| got.push((ip, port)));
        got
    }

    fn v4(d: u8, port: u16) -> (IpAddr, u16) {
        (IpAddr::V4(Ipv4Addr::new(198, 18, 0, d)), port)
    }

    #[test]
    fn dht_values_and_nodes_are_learned() {
        let msg = b"d1:rd2:id20:abcdefghij01234567895:token2:xx6:valuesl6:\xc6\x12\x00\x01\x1a\xe16:\xc6\x12\x00\x02\x1a\xe2ee1:t2:aa1:y1:re";
        assert!(is_dht(msg));
        assert_eq!(peers_of(|l| dht_peers(msg, SENDER, l)), [v4(1, 0x1ae1), v4(2, 0x1ae2)]);
        let mut nodes = b"d1:rd2:id20:abcdefghij01234567895:nodes52:".to_vec();
        nodes.extend_from_slice(&[b'n'; 20]);
        nodes.extend_from_slice(&[198, 18, 0, 3, 0x1a, 0xe3]);
        nodes.extend_from_slice(&[b'm'; 20]);
        nodes.extend_from_slice(&[198, 18, 0, 4, 0x1a, 0xe4]);
        nodes.extend_from_slice(b"6:nodes638:");
        nodes.extend_from_slice(&[b'o'; 20]);
        nodes.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x1a, 0xe5]);
        nodes.extend_from_slice(b"e1:t2:aa1:y1:re");
        assert!(is_dht(&nodes));
        let got = peers_of(|l| dht_peers(&nodes, SENDER, l));
        assert_eq!(got, [v4(3, 0x1ae3), v4(4, 0x1ae4), ("2001:2::5".parse().unwrap(), 0x1ae5)]);
        assert!(
            peers_of(|l| dht_peers(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", SENDER, l)).is_empty()
        );
        let announce = b"d1:ad2:id20:abcdefghij01234567894:porti6881e5:token2:xxe1:q13:announce_peer1:t2:aa1:y1:qe";
        assert!(is_dht(announce));
        assert_eq!(peers_of(|l| dht_peers(announce, SENDER, l)), [(SENDER, 6881)]);
        let implied =
            b"d1:ad2:id20:abcdefghij012345678912:implied_porti1e4:porti6881ee1:q13:announce_peer1:t2:aa1:y1:qe";
        assert!(peers_of(|l| dht_peers(implied, SENDER, l)).is_empty(), "the source port is the port");
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
        // The dictionary model.
        let dicts = b"d8:intervali1800e5:peersld2:ip10:198.18.0.77:peer id20:-TR3000-abcdefghijkl4:porti51413eed2:ip9:2001:2::94:porti6881eeee";
        let got = peers_of(|l| {
            tracker_peers(dicts, l);
        });
        assert_eq!(got, [v4(7, 51413), ("2001:2::9".parse().unwrap(), 6881)]);
        let cut = &dicts[..dicts.len() - 20];
        assert_eq!(
            peers_of(|l| {
                tracker_peers(cut, l);
            }),
            [v4(7, 51413)]
        );
    }

    fn ext_handshake(port: u16) -> Vec<u8> {
        let dict = format!("d1:md11:ut_metadatai2e6:ut_pexi1ee1:pi{port}e1:v13:Transmission4e");
        let mut m = ((dict.len() + 2) as u32).to_be_bytes().to_vec();
        m.extend_from_slice(&[20, 0]);
        m.extend_from_slice(dict.as_bytes());
        m
    }

    #[test]
    fn peer_wire_messages_name_peers() {
        let hs = ext_handshake(51413);
        assert_eq!(peers_of(|l| message_peers(&hs[4..], SENDER, l)), [(SENDER, 51413)]);
        let mut pex =
            b"d5:added12:\xc6\x12\x00\x01\x1a\xe1\xc6\x12\x00\x02\x1a\xe27:added.f2:\x00\x006:added618:".to_vec();
        pex.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0x1a, 0xe3]);
        pex.extend_from_slice(b"e");
        let mut msg = vec![20, 1];
        msg.extend_from_slice(&pex);
        let got = peers_of(|l| message_peers(&msg, SENDER, l));
        assert_eq!(got, [v4(1, 0x1ae1), v4(2, 0x1ae2), ("2001:2::3".parse().unwrap(), 0x1ae3)]);
        assert_eq!(peers_of(|l| message_peers(&[9, 0x1a, 0xe9], SENDER, l)), [(SENDER, 0x1ae9)]);
        assert!(peers_of(|l| message_peers(&[9, 0, 0], SENDER, l)).is_empty());
        // A handshake then messages, as the first uTP data packet carries them.
        let mut b = b"\x13BitTorrent protocol".to_vec();
        b.extend_from_slice(&[0u8; 48]);
        b.extend_from_slice(&[0, 0, 0, 0]); // keep-alive
        b.extend_from_slice(&hs);
        b.extend_from_slice(&[0, 0, 0, 3, 9, 0x1a, 0xe9]);
        assert_eq!(peers_of(|l| walk_messages(&b, SENDER, l)), [(SENDER, 51413), (SENDER, 0x1ae9)]);
        assert!(peers_of(|l| walk_messages(&[0xff; 40], SENDER, l)).is_empty());
    }

    #[test]
    fn lsd_announces_a_port() {
        let m = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: abc\r\n\r\n\r\n";
        assert_eq!(lsd_port(m), Some(51413));
        assert_eq!(lsd_port(b"BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\n"), None);
        assert_eq!(lsd_port(b"BT-SEARCH * HTTP/1.1\r\n\r\n"), None);
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
        p[12..16].copy_from_slice(&0xfeed_beefu32.to_be_bytes());
        p[80..84].copy_from_slice(&2u32.to_be_bytes());
        p
    }

    fn announce_reply(tid: u32, peers: &[[u8; 6]]) -> Vec<u8> {
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&tid.to_be_bytes());
        p.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0, 3, 0, 0, 0, 9]);
        for c in peers {
            p.extend_from_slice(c);
        }
        p
    }

    #[test]
    fn udp_tracker_connect_needs_the_magic() {
        assert!(is_udp_tracker_connect(&connect_request()));
        let mut bad = connect_request();
        bad[7] ^= 1; // wrong protocol id
        assert!(!is_udp_tracker_connect(&bad));
        let mut long = connect_request();
        long.push(0); // connect is exactly 16 bytes
        assert!(!is_udp_tracker_connect(&long));
        assert_eq!(tracker_request(&connect_request()), None);
    }

    #[test]
    fn udp_tracker_requests_are_confirmed_by_their_replies() {
        let (h, tid) = tracker_request(&announce_request()).unwrap();
        assert_eq!((h, tid), (UdpHint::TrackerAnnounce, 0xfeed_beef));
        let reply = announce_reply(tid, &[[198, 18, 0, 1, 0x1a, 0xe1], [198, 18, 0, 2, 0x1a, 0xe2]]);
        assert!(tracker_reply(h, tid, &reply));
        assert!(!tracker_reply(h, tid ^ 1, &reply), "another transaction");
        assert!(!tracker_reply(UdpHint::TrackerScrape, tid, &reply), "another action");
        assert!(!tracker_reply(h, tid, &reply[..25]), "peers cut");
        assert_eq!(peers_of(|l| announce_peers(&reply, tid, false, l)), [v4(1, 0x1ae1), v4(2, 0x1ae2)]);
        assert!(peers_of(|l| announce_peers(&reply, tid + 1, false, l)).is_empty());
        let mut err = 3u32.to_be_bytes().to_vec();
        err.extend_from_slice(&tid.to_be_bytes());
        err.extend_from_slice(b"unregistered torrent");
        assert!(tracker_reply(h, tid, &err));
        let mut ev = announce_request();
        ev[83] = 9; // no such event
        assert_eq!(tracker_request(&ev), None);
        assert_eq!(tracker_request(&announce_request()[..97]), None);
        let mut scrape = vec![0x33u8; 56];
        scrape[8..12].copy_from_slice(&2u32.to_be_bytes());
        let (h, tid) = tracker_request(&scrape).unwrap();
        let mut sreply = 2u32.to_be_bytes().to_vec();
        sreply.extend_from_slice(&tid.to_be_bytes());
        sreply.extend_from_slice(&[0u8; 24]);
        assert!(tracker_reply(h, tid, &sreply));
        assert!(!tracker_reply(h, tid, &sreply[..30]));
        assert_eq!(tracker_request(&scrape[..55]), None);
    }

    #[test]
    fn onc_rpc_and_dns_are_not_tracker_traffic() {
        // An NFS call (XID, CALL, RPC version 2, program 100003) looks like a scrape request;
        // its reply (XID, REPLY, MSG_ACCEPTED) does not answer it.
        let mut call = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0x86, 0xa3];
        call.extend_from_slice(&[0u8; 20]);
        let hint = tracker_request(&call);
        assert!(hint.is_some(), "the call alone is shaped like a scrape");
        let (h, tid) = hint.unwrap();
        let mut reply = vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0, 0, 0, 0];
        reply.extend_from_slice(&[0u8; 12]);
        assert!(!tracker_reply(h, tid, &reply));
        // A DNS query with one additional record: bytes 8..12 are 0x00000001.
        let mut q = vec![0x7f, 0x42, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01];
        q.resize(120, 0);
        let (h, tid) = tracker_request(&q).unwrap();
        let mut answer = q.clone();
        answer[2] = 0x81;
        assert!(!tracker_reply(h, tid, &answer));
    }
}
