//! eDonkey / eMule over TCP and UDP, and Kad.
//!
//! TCP messages are `marker (0xE3 eDonkey, 0xC5 eMule, 0xD4 packed) | length u32 LE | opcode | data`,
//! where the length counts the opcode and data. UDP messages have no length: `marker | opcode | data`,
//! so a UDP match needs an opcode whose size is fixed or follows from a count in the message.

use super::{Probe, le32};

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

/// An eDonkey/eMule UDP message whose size is fixed by its opcode, or follows from it.
pub(crate) fn is_udp(p: &[u8]) -> bool {
    let (Some(&marker), Some(&op)) = (p.first(), p.get(1)) else { return false };
    let n = p.len();
    // Server challenges are 0x55AA in the high half (little-endian on the wire: .. .. AA 55).
    let challenge = || p.get(4) == Some(&0xAA) && p.get(5) == Some(&0x55);
    match (marker, op) {
        // GLOBGETSOURCES (0x9A, n file hashes) and GLOBGETSOURCES2 (0x94, n hash and size pairs)
        // are not taken alone: two bytes and a multiple of 16 (or 20) random bytes is what about
        // one random datagram in a million looks like. The server's answer settles the flow.
        // GLOBFOUNDSOURCES: one or more (hash, count, count x (IPv4, port)) records, exactly.
        (EDONKEY, 0x9B) => found_sources(p),
        // SERVERSTATREQ / SERVERDESCREQ with challenge.
        (EDONKEY, 0x96 | 0xA2) => n == 6 && challenge(),
        // SERVERSTATRES: challenge, users, files (and optional fields).
        (EDONKEY, 0x97) => (14..=50).contains(&n) && challenge(),
        // eMule REASKFILEPING: file hash (+ optional part status, complete sources).
        (EMULE, 0x90) => n == 18 || n == 20,
        // eMule FILENOTFOUND / QUEUEFULL: opcode only.
        (EMULE, 0x92 | 0x93) => n == 2,
        _ => false,
    }
}

/// GLOBFOUNDSOURCES records (`E3 9B | hash (16) | count (1) | count x (IPv4 4, port 2)`), one
/// after another, filling the datagram exactly; each lists at least one source.
fn found_sources(p: &[u8]) -> bool {
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

/// A Kad (eMule DHT, marker 0xE4) message with an exact length.
pub(crate) fn is_kad(p: &[u8]) -> bool {
    let (Some(&marker), Some(&op)) = (p.first(), p.get(1)) else { return false };
    if marker != KAD {
        return false;
    }
    let n = p.len();
    match op {
        // KADEMLIA2_BOOTSTRAP_REQ, KADEMLIA2_PING: opcode only.
        0x01 | 0x60 => n == 2,
        // KADEMLIA2_PONG: UDP port.
        0x61 => n == 4,
        // KADEMLIA2_REQ: type (1..=0x1f), target, receiver.
        0x21 => n == 35 && (1..=0x1f).contains(&p[2]),
        // KADEMLIA2_RES: target, count, count contacts of 25 bytes.
        0x29 => n >= 19 && n == 19 + 25 * usize::from(p[18]),
        // KADEMLIA2_BOOTSTRAP_RES: id, port, version, count u16 LE, contacts.
        0x09 => {
            n >= 23 && {
                let count = usize::from(u16::from_le_bytes([p[21], p[22]]));
                n == 23 + 25 * count
            }
        }
        _ => false,
    }
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

    probe_table!(is_udp, {
        stat_req: [0xe3, 0x96, 0x12, 0x34, 0xaa, 0x55] => true,
        stat_req_no_challenge: [0xe3, 0x96, 0x12, 0x34, 0x00, 0x55] => false,
        // A request alone is too little structure (see is_udp); its answer is enough.
        get_sources_alone: { let mut v = vec![0xe3, 0x9a]; v.extend([7u8; 32]); v } => false,
        found_sources: { let mut v = vec![0xe3, 0x9b]; v.extend([7u8; 16]); v.push(2); v.extend([9u8; 12]); v } => true,
        found_sources_two_records: {
            let mut v = vec![0xe3, 0x9b]; v.extend([7u8; 16]); v.push(1); v.extend([9u8; 6]);
            v.extend([0xe3, 0x9b]); v.extend([8u8; 16]); v.push(1); v.extend([9u8; 6]); v
        } => true,
        found_sources_count_disagrees: { let mut v = vec![0xe3, 0x9b]; v.extend([7u8; 16]); v.push(3); v.extend([9u8; 12]); v } => false,
        found_sources_none: { let mut v = vec![0xe3, 0x9b]; v.extend([7u8; 16]); v.push(0); v } => false,
        found_sources_trailing_byte: { let mut v = vec![0xe3, 0x9b]; v.extend([7u8; 16]); v.push(1); v.extend([9u8; 7]); v } => false,
        reask: { let mut v = vec![0xc5, 0x90]; v.extend([7u8; 16]); v } => true,
        queue_full: [0xc5, 0x93] => true,
        unknown: [0xe3, 0x01, 0, 0, 0, 0] => false,
    });

    probe_table!(is_kad, {
        ping: [0xe4, 0x60] => true,
        pong: [0xe4, 0x61, 0x12, 0x34] => true,
        req: { let mut v = vec![0xe4, 0x21, 0x0b]; v.extend([9u8; 32]); v } => true,
        req_bad_type: { let mut v = vec![0xe4, 0x21, 0x00]; v.extend([9u8; 32]); v } => false,
        res_count_agrees: { let mut v = vec![0xe4, 0x29]; v.extend([1u8; 16]); v.push(2); v.extend([3u8; 50]); v } => true,
        res_count_disagrees: { let mut v = vec![0xe4, 0x29]; v.extend([1u8; 16]); v.push(3); v.extend([3u8; 50]); v } => false,
        wrong_marker: [0xe3, 0x60] => false,
    });
}
