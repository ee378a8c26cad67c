//! eDonkey / eMule over TCP and UDP, and Kad.
//!
//! TCP messages are `marker (0xE3 eDonkey, 0xC5 eMule, 0xD4 packed) | length u32 LE | opcode | data`,
//! where the length counts the opcode and data. UDP messages have no length: `marker | opcode | data`,
//! so a UDP verdict needs a request and the answer that belongs to it (see [`udp_request`]).
//!
//! # Why lookalikes do not pass
//!
//! Over TCP the 32-bit length must chain exactly from message to message to the end of the bytes
//! in view (or, for a Hello that runs past the view, be a plausible Hello length with the 16-byte
//! hash size right after the opcode), after a marker and an opcode from a short list: about 48
//! bits that random bytes, TLS, SSH, HTTP, SMB or RDP streams do not have. Over UDP no single
//! datagram is enough; a request is remembered (its hash, target or challenge) and the flow is
//! eDonkey only when the other side answers with the opcode and size that answer has, echoing
//! what the request carried: ONC RPC, DHCP, NTP, DNS and the rest never start with 0xE3/0xC5/0xE4
//! twice in a row with the right lengths and the same 32-bit token.

use super::{Probe, UdpHint, le32};

const EDONKEY: u8 = 0xE3;
const EMULE: u8 = 0xC5;
const PACKED: u8 = 0xD4;
const KAD: u8 = 0xE4;

/// eDonkey opcodes that can open a TCP connection's stream (client-server and client-client).
fn known_first_opcode(marker: u8, op: u8) -> bool {
    match marker {
        // Hello, hello answer, server message, server list, server status, id change, server ident,
        // login/offer files, get server list, search, get sources, found sources, callback requests,
        // file request/answer, start upload, accept upload, sending part, request parts, queue rank.
        EDONKEY => matches!(
            op,
            0x01 | 0x4C
                | 0x38
                | 0x32
                | 0x34
                | 0x40
                | 0x41
                | 0x15
                | 0x14
                | 0x16
                | 0x19
                | 0x1C
                | 0x42
                | 0x35
                | 0x58
                | 0x59
                | 0x4F
                | 0x50
                | 0x54
                | 0x55
                | 0x46
                | 0x47
                | 0x5C
                | 0x60
                | 0x61
        ),
        // eMule extended protocol: emule info/answer, compressed part, queue ranking, file desc,
        // source exchange, secure ident, multipacket, hash set, aich.
        EMULE => matches!(op, 0x01 | 0x02 | 0x40 | 0x60 | 0x61 | 0x81 | 0x82 | 0x85 | 0x86 | 0x87 | 0x92 | 0x93 | 0x9B),
        // Packed: the opcode is that of the compressed message.
        PACKED => true,
        _ => false,
    }
}

/// The start of a TCP stream. Certain when the messages in view chain exactly to its end (each
/// with a marker and a sane length, the first with a known opcode), or when the first message is a
/// Hello (opcode 0x01) whose hash-size byte is 16 and whose length is plausible even if it runs
/// past the view. Decides on 6 bytes except for a Hello, which needs its 7th.
pub(crate) fn probe_tcp(p: &[u8]) -> Probe {
    let Some(&marker) = p.first() else { return Probe::NotYet };
    if !matches!(marker, EDONKEY | EMULE | PACKED) {
        return Probe::NotMine;
    }
    let (Some(len), Some(&op)) = (le32(p, 1), p.get(5)) else { return Probe::NotYet };
    if !(1..=2_000_000).contains(&len) || !known_first_opcode(marker, op) {
        return Probe::NotMine;
    }
    // Walk the chain of whole messages in view.
    let mut pos = 0usize;
    let mut len = len as usize;
    loop {
        let end = pos + 5 + len;
        if end == p.len() {
            return Probe::Certain;
        }
        if end > p.len() {
            break;
        }
        pos = end;
        match (p.get(pos), le32(p, pos + 1)) {
            (Some(m), Some(l)) if matches!(*m, EDONKEY | EMULE | PACKED) && (1..=2_000_000).contains(&l) => {
                len = l as usize;
            }
            (Some(m), None) if matches!(*m, EDONKEY | EMULE | PACKED) => return Probe::Certain,
            _ => return Probe::NotMine,
        }
    }
    if pos > 0 {
        // Whole messages agreed; the last one runs past the view.
        return Probe::Certain;
    }
    // The first message runs past the view: only a Hello is plausible.
    if marker == EDONKEY && op == 0x01 {
        return match p.get(6) {
            None => Probe::NotYet,
            Some(16) if (30..=4096).contains(&len) => Probe::Certain,
            Some(_) => Probe::NotMine,
        };
    }
    Probe::NotMine
}

/// An eDonkey/eMule/Kad UDP request that its answer can confirm: the hint and the token the
/// answer must echo. None of these is taken alone: a marker, an opcode and a length are 16 to 24
/// bits, which random or foreign datagrams of the right size match too often for a box that drops.
pub(crate) fn udp_request(p: &[u8]) -> Option<(UdpHint, u32)> {
    let (&marker, &op) = (p.first()?, p.get(1)?);
    let n = p.len();
    match (marker, op) {
        // KADEMLIA2_BOOTSTRAP_REQ and KADEMLIA2_PING: the opcode alone.
        (KAD, 0x01) if n == 2 => Some((UdpHint::KadBootstrap, 0)),
        (KAD, 0x60) if n == 2 => Some((UdpHint::KadPing, 0)),
        // KADEMLIA2_REQ: type 1..=0x1f, target (16), receiver (16). The answer repeats the target.
        (KAD, 0x21) if n == 35 && (1..=0x1f).contains(&p[2]) => Some((UdpHint::KadReq, le32(p, 3)?)),
        // eMule OP_REASKFILEPING: file hash, then (newer versions) the part status and the
        // number of complete sources.
        (EMULE, 0x90) if reask_size_ok(p) => Some((UdpHint::EmuleReask, 0)),
        // OP_GLOBSERVSTATREQ: a challenge whose high half is 0x55AA; the answer repeats it.
        (EDONKEY, 0x96) if n == 6 && p[4] == 0xAA && p[5] == 0x55 => Some((UdpHint::ServerStat, le32(p, 2)?)),
        // OP_GLOBGETSOURCES (n file hashes) and OP_GLOBGETSOURCES2 (hash and size pairs): the answer
        // names the files it has sources for.
        (EDONKEY, 0x9A) if n >= 18 && (n - 2).is_multiple_of(16) => Some((UdpHint::GetSources, le32(p, 2)?)),
        (EDONKEY, 0x94) if n >= 22 && (n - 2).is_multiple_of(20) => Some((UdpHint::GetSources, le32(p, 2)?)),
        _ => None,
    }
}

fn reask_size_ok(p: &[u8]) -> bool {
    let n = p.len();
    if n == 18 || n == 20 {
        return true;
    }
    // Hash, part count (u16 LE), one bit per part, optionally the complete-sources count.
    let Some(parts) = p.get(18..20).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]]))) else { return false };
    let bits = parts.div_ceil(8);
    parts > 0 && (n == 20 + bits || n == 22 + bits)
}

/// True if `p` answers the request `hint` with `token` (see [`udp_request`]).
pub(crate) fn udp_reply(hint: UdpHint, token: u32, p: &[u8]) -> bool {
    let (Some(&marker), Some(&op)) = (p.first(), p.get(1)) else { return false };
    let n = p.len();
    match hint {
        // KADEMLIA2_PONG: the UDP port the pinger was seen from.
        UdpHint::KadPing => marker == KAD && op == 0x61 && n == 4,
        // KADEMLIA2_BOOTSTRAP_RES: id, TCP port, version, count (u16 LE), count contacts of 25.
        UdpHint::KadBootstrap => {
            marker == KAD && op == 0x09 && n >= 23 && n == 23 + 25 * usize::from(u16::from_le_bytes([p[21], p[22]]))
        }
        // KADEMLIA2_RES: the target asked for, count, count contacts of 25 bytes.
        UdpHint::KadReq => {
            marker == KAD && op == 0x29 && n >= 19 && n == 19 + 25 * usize::from(p[18]) && le32(p, 2) == Some(token)
        }
        // OP_REASKACK (optional part status, queue rank), OP_FILENOTFOUND, OP_QUEUEFULL.
        UdpHint::EmuleReask => marker == EMULE && ((op == 0x91 && n >= 4) || (matches!(op, 0x92 | 0x93) && n == 2)),
        // OP_GLOBSERVSTATRES: the challenge, users, files, and optional limits.
        UdpHint::ServerStat => marker == EDONKEY && op == 0x97 && (14..=50).contains(&n) && le32(p, 2) == Some(token),
        // OP_GLOBFOUNDSOURCES for one of the files asked about.
        UdpHint::GetSources => marker == EDONKEY && op == 0x9B && found_sources(p, token),
        _ => false,
    }
}

/// GLOBFOUNDSOURCES records (`E3 9B | hash (16) | count (1) | count x (IPv4 4, port 2)`), one
/// after another, filling the datagram exactly; each lists at least one source; the first file
/// hash starts with `token` (its first four bytes, little-endian).
fn found_sources(p: &[u8], token: u32) -> bool {
    if le32(p, 2) != Some(token) {
        return false;
    }
    let mut rest = p;
    let mut records = 0;
    while !rest.is_empty() {
        if rest.get(..2) != Some(&[EDONKEY, 0x9B][..]) {
            return false;
        }
        let Some(&count) = rest.get(18) else { return false };
        let len = 19 + 6 * usize::from(count);
        if count == 0 || rest.len() < len {
            return false;
        }
        rest = &rest[len..];
        records += 1;
    }
    records > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::probe_table;

    // First client Hello of edonkey.pcap (nDPI test suite, LGPL-3.0-or-later), first 40 bytes.
    const HELLO_HEAD: [u8; 12] = [0xe3, 0x77, 0, 0, 0, 0x01, 0x10, 0x1b, 0x42, 0xcd, 0x5b, 0x94];

    fn whole(marker: u8, op: u8, data: usize) -> Vec<u8> {
        let mut v = vec![marker];
        v.extend_from_slice(&(data as u32 + 1).to_le_bytes());
        v.push(op);
        v.extend(std::iter::repeat_n(0x41, data));
        v
    }

    probe_table!(probe_tcp, {
        hello_head_is_plausible: HELLO_HEAD => Probe::Certain,
        hello_needs_hash_size: HELLO_HEAD[..6] => Probe::NotYet,
        hello_bad_hash_size: [0xe3, 0x77, 0, 0, 0, 0x01, 0x11, 0] => Probe::NotMine,
        marker_only: [0xe3] => Probe::NotYet,
        answer_exact: whole(0xe3, 0x4c, 126) => Probe::Certain,
        emule_info_exact: whole(0xc5, 0x01, 40) => Probe::Certain,
        length_disagrees_short: { let mut v = whole(0xe3, 0x4c, 126); v.truncate(60); v } => Probe::NotMine,
        length_disagrees_long: { let mut v = whole(0xe3, 0x4c, 126); v.push(7); v } => Probe::NotMine,
        unknown_opcode: whole(0xe3, 0xee, 20) => Probe::NotMine,
        zero_length: [0xe3, 0, 0, 0, 0, 0x01, 0x10] => Probe::NotMine,
        two_messages: { let mut v = whole(0xe3, 0x4c, 20); v.extend(whole(0xc5, 0x01, 9)); v } => Probe::Certain,
        not_a_marker: *b"GET / HTTP/1.1\r\n" => Probe::NotMine,
    });

    fn pair(req: &[u8], reply: &[u8]) -> bool {
        udp_request(req).is_some_and(|(h, t)| udp_reply(h, t, reply))
    }

    fn kad_req() -> Vec<u8> {
        let mut v = vec![0xe4, 0x21, 0x0b];
        v.extend([9u8; 16]);
        v.extend([5u8; 16]);
        v
    }

    fn kad_res(target: u8, count: u8) -> Vec<u8> {
        let mut v = vec![0xe4, 0x29];
        v.extend([target; 16]);
        v.push(count);
        v.extend(std::iter::repeat_n(3u8, 25 * usize::from(count)));
        v
    }

    #[test]
    fn requests_and_their_answers() {
        assert!(pair(&[0xe4, 0x60], &[0xe4, 0x61, 0x12, 0x34]), "Kad ping, pong");
        assert!(!pair(&[0xe4, 0x60], &[0xe4, 0x61, 0x12]), "pong of the wrong size");
        assert!(!pair(&[0xe4, 0x60, 0], &[0xe4, 0x61, 0x12, 0x34]), "ping with a payload");
        assert!(pair(&kad_req(), &kad_res(9, 2)), "Kad request, response for its target");
        assert!(!pair(&kad_req(), &kad_res(8, 2)), "response for another target");
        assert!(
            !pair(&kad_req(), &{
                let mut v = kad_res(9, 2);
                v.pop();
                v
            }),
            "count disagrees"
        );
        let mut boot = vec![0xe4, 0x09];
        boot.extend([1u8; 19]);
        boot.extend(1u16.to_le_bytes());
        boot.extend([2u8; 25]);
        assert!(pair(&[0xe4, 0x01], &boot));
        let mut reask = vec![0xc5, 0x90];
        reask.extend([7u8; 16]);
        assert!(pair(&reask, &[0xc5, 0x93]), "reask, queue full");
        assert!(pair(&reask, &[0xc5, 0x91, 0x00, 0x05]), "reask, rank");
        assert!(!pair(&reask, &[0xc5, 0x92, 0x00]));
        let stat = [0xe3, 0x96, 0x12, 0x34, 0xaa, 0x55];
        let mut res = vec![0xe3, 0x97, 0x12, 0x34, 0xaa, 0x55];
        res.extend([0u8; 8]);
        assert!(pair(&stat, &res), "server status, challenge echoed");
        res[2] = 0x13;
        assert!(!pair(&stat, &res), "another challenge");
        assert_eq!(udp_request(&[0xe3, 0x96, 0x12, 0x34, 0x00, 0x55]), None, "no 0x55AA challenge");
        let mut get = vec![0xe3, 0x9a];
        get.extend([7u8; 32]);
        let mut found = vec![0xe3, 0x9b];
        found.extend([7u8; 16]);
        found.push(2);
        found.extend([9u8; 12]);
        assert!(pair(&get, &found));
        found.push(0);
        assert!(!pair(&get, &found), "a trailing byte");
    }

    #[test]
    fn lone_requests_and_answers_are_not_enough() {
        for p in [&[0xe4u8, 0x61, 0x12, 0x34][..], &[0xc5, 0x93], &kad_res(9, 1)] {
            assert_eq!(udp_request(p), None);
        }
        assert!(!udp_reply(UdpHint::KadPing, 0, &[0xe4, 0x60]));
        assert!(!udp_reply(UdpHint::TrackerAnnounce, 0, &[0xe4, 0x61, 0, 0]));
    }
}
