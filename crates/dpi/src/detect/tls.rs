//! The TLS record layer at the start of a TCP stream: a handshake record (0x16), version 3.0..=3.4,
//! a sane record length, and a ClientHello (from the originator) or ServerHello (from the responder)
//! whose handshake length agrees with the record.
//!
//! Split behaviour: the record header and handshake type (6 bytes) decide; the handshake length
//! (bytes 6..9) and the hello's own version (bytes 9..11) are checked when they are in view. So a
//! valid hello gives the same answer however the stream is split; a record whose later lengths
//! disagree is rejected only if those bytes arrive in the detector's view.
//!
//! # Why lookalikes do not pass
//!
//! Five fixed or bounded bytes (0x16, 0x03, a minor version 0..=4, a record length 38..=18432)
//! and the handshake type the sender's role implies, then a handshake length that agrees with the
//! record and a hello version 3.x: SMB, RDP (TPKT starts 0x03 0x00), MySQL, PostgreSQL and the
//! other binary openings fail on the first two bytes. The mid-stream variant (an application-data,
//! alert or change-cipher-spec header) is weaker, so it has a lower priority and is no proof
//! against the peer cache.

use super::{Probe, be16};

/// Largest record payload: 2^14 plus the expansion TLS 1.2 allows for compressed/encrypted records.
const MAX_RECORD: u16 = 16384 + 2048;

/// Probes the first bytes of a stream sent by the originator (`true`) or the responder.
pub(crate) fn probe(p: &[u8], from_originator: bool) -> Probe {
    for (i, &b) in p.iter().take(3).enumerate() {
        let ok = match i {
            0 => b == 0x16,
            1 => b == 0x03,
            _ => b <= 0x04,
        };
        if !ok {
            return Probe::NotMine;
        }
    }
    let (Some(rec_len), Some(&hs_type)) = (be16(p, 3), p.get(5)) else { return Probe::NotYet };
    let want_type = if from_originator { 1 } else { 2 };
    // A hello has at least a version (2) and a random (32) after its 4-byte header.
    if !(38..=MAX_RECORD).contains(&rec_len) || hs_type != want_type {
        return Probe::NotMine;
    }
    if let Some(h) = p.get(6..9) {
        let hs_len = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        let rec = u32::from(rec_len);
        let agrees = hs_len >= 34 && (hs_len + 4 <= rec || (from_originator && rec >= 512 && hs_len < 65536));
        if !agrees {
            return Probe::NotMine;
        }
    }
    if let Some(v) = p.get(9..11)
        && (v[0] != 0x03 || v[1] > 0x04)
    {
        return Probe::NotMine;
    }
    Probe::Certain
}

/// A stream picked up mid-connection: a change-cipher-spec (20), alert (21) or application-data
/// (23) record header with version 3.1..=3.4 and a length of 1..=18432. Five bytes decide; a
/// weaker, lower-priority label than a hello.
pub(crate) fn probe_midstream(p: &[u8]) -> Probe {
    for (i, &b) in p.iter().take(3).enumerate() {
        let ok = match i {
            0 => matches!(b, 20 | 21 | 23),
            1 => b == 0x03,
            _ => (1..=4).contains(&b),
        };
        if !ok {
            return Probe::NotMine;
        }
    }
    match be16(p, 3) {
        None => Probe::NotYet,
        Some(len) if (1..=MAX_RECORD).contains(&len) => Probe::Certain,
        Some(_) => Probe::NotMine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Start of a real ClientHello (443-curl.pcap, nDPI test suite, LGPL-3.0-or-later):
    // record 0x16 0x0301 len 0x0200, handshake 1 len 0x0001fc, client version 0x0303.
    const CH: [u8; 11] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    // ServerHello record of 0x5a bytes holding a 0x56-byte ServerHello.
    const SH: [u8; 11] = [0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03];

    fn client(p: &[u8]) -> Probe {
        probe(p, true)
    }

    crate::detect::probe_table!(client, {
        client_hello: CH => Probe::Certain,
        client_hello_decides_on_six: CH[..6] => Probe::Certain,
        client_hello_short: CH[..5] => Probe::NotYet,
        empty: [] => Probe::NotYet,
        record_length_zero: [0x16, 0x03, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00] => Probe::NotMine,
        record_length_huge: [0x16, 0x03, 0x01, 0xff, 0xff, 0x01] => Probe::NotMine,
        handshake_longer_than_small_record: [0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x01, 0xfc] => Probe::NotMine,
        handshake_too_short: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x00, 0x05] => Probe::NotMine,
        bad_version: [0x16, 0x03, 0x07, 0x02, 0x00, 0x01] => Probe::NotMine,
        bad_client_version: { let mut v = CH; v[10] = 9; v } => Probe::NotMine,
        server_hello_from_client: SH => Probe::NotMine,
        alert: [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28] => Probe::NotMine,
        http: *b"GET / HTTP/1.1" => Probe::NotMine,
    });

    crate::detect::probe_table!(probe_midstream, {
        app_data: [0x17, 0x03, 0x03, 0x05, 0xbb, 0x0f] => Probe::Certain,
        midstream_alert: [0x15, 0x03, 0x03, 0x00, 0x02] => Probe::Certain,
        app_data_short: [0x17, 0x03, 0x03] => Probe::NotYet,
        app_data_zero_length: [0x17, 0x03, 0x03, 0x00, 0x00] => Probe::NotMine,
        app_data_huge: [0x17, 0x03, 0x03, 0xff, 0x00] => Probe::NotMine,
        handshake_is_not_midstream: [0x16, 0x03, 0x01, 0x02, 0x00] => Probe::NotMine,
        ssl3_is_not_midstream: [0x17, 0x03, 0x00, 0x00, 0x20] => Probe::NotMine,
    });

    #[test]
    fn server_hello_from_responder() {
        assert_eq!(probe(&SH, false), Probe::Certain);
        assert_eq!(probe(&CH, false), Probe::NotMine);
    }
}
