//! The measurement trailer: stream id, sequence number and send time, carried in each frame
//! **after the IP packet**.
//!
//! Why there: weir (like any IP stack) reads an IP packet only up to its total length (IPv4) or
//! payload length (IPv6); bytes beyond it are Ethernet padding. The DPI therefore never sees the
//! trailer and cannot classify differently because of it, and TCP/UDP checksums do not cover
//! it. AF_XDP forwarding moves whole frames, so the trailer reaches the sink intact. The
//! alternative (a trailer inside the UDP/TCP payload) would change what the classifier reads.
//!
//! Layout (24 bytes, big endian): magic `wGt1` (4), stream (4), sequence (4), send time in ns of
//! `CLOCK_MONOTONIC` (8), protocol id (1), flags (1: bit 0 set when sent by the outside host),
//! check (2: the ones'-complement sum of the first 22 bytes, so stray padding that happens to
//! start with the magic is not taken for a trailer).

use weir_wire::{LinkType, Network, checksum, parse_frame};

/// Bytes of one trailer.
pub const TRAILER_LEN: usize = 24;
/// The first four bytes.
pub const MAGIC: [u8; 4] = *b"wGt1";

/// What one trailer says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// The flow's number (low 32 bits).
    pub stream: u32,
    /// Packet number within (stream, direction), from 0.
    pub seq: u32,
    /// Send time, ns of `CLOCK_MONOTONIC` (in a pcap: scheduled time since the start).
    pub send_ns: u64,
    /// [`crate::Protocol::id`] of the flow's protocol.
    pub protocol: u8,
    /// True when the outside host sent the packet.
    pub from_outside: bool,
}

impl Trailer {
    /// Writes the trailer into the first [`TRAILER_LEN`] bytes of `out`; returns false (and
    /// writes nothing) if `out` is shorter.
    pub fn write(&self, out: &mut [u8]) -> bool {
        let Some(t) = out.get_mut(..TRAILER_LEN) else { return false };
        t[0..4].copy_from_slice(&MAGIC);
        t[4..8].copy_from_slice(&self.stream.to_be_bytes());
        t[8..12].copy_from_slice(&self.seq.to_be_bytes());
        t[12..20].copy_from_slice(&self.send_ns.to_be_bytes());
        t[20] = self.protocol;
        t[21] = u8::from(self.from_outside);
        let sum = checksum::checksum(&t[..22]);
        t[22..24].copy_from_slice(&sum.to_be_bytes());
        true
    }

    /// Reads a trailer from the first [`TRAILER_LEN`] bytes of `b`, if magic and check agree.
    pub fn read(b: &[u8]) -> Option<Trailer> {
        let t = b.get(..TRAILER_LEN)?;
        if t[0..4] != MAGIC || checksum::checksum(&t[..22]).to_be_bytes() != [t[22], t[23]] {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
        let mut ns = [0u8; 8];
        ns.copy_from_slice(&t[12..20]);
        Some(Trailer {
            stream: u32_at(4),
            seq: u32_at(8),
            send_ns: u64::from_be_bytes(ns),
            protocol: t[20],
            from_outside: t[21] & 1 != 0,
        })
    }
}

/// Rewrites the send time of the trailer at byte `at` of `frame` (and its check). Returns false
/// if there is no valid trailer there.
pub fn stamp(frame: &mut [u8], at: usize, send_ns: u64) -> bool {
    let Some(t) = frame.get(at..).and_then(Trailer::read) else { return false };
    Trailer { send_ns, ..t }.write(&mut frame[at..])
}

/// Where the trailer of an Ethernet frame would start: right after its IP packet. `None` for
/// frames that do not parse or carry no IP.
pub fn trailer_offset(frame: &[u8]) -> Option<usize> {
    let f = parse_frame(frame, LinkType::Ethernet).ok()?;
    match f.network {
        Network::Ip(ip) => Some(usize::from(ip.ip_offset) + usize::from(ip.ip_len)),
        _ => None,
    }
}

/// The trailer of an Ethernet frame, if it has one.
pub fn find(frame: &[u8]) -> Option<Trailer> {
    Trailer::read(frame.get(trailer_offset(frame)?..)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_stamp() {
        let t = Trailer { stream: 0xdead_beef, seq: 7, send_ns: 123_456_789_012, protocol: 3, from_outside: true };
        let mut b = [0u8; 30];
        assert!(t.write(&mut b[3..]));
        assert_eq!(Trailer::read(&b[3..]), Some(t));
        assert!(stamp(&mut b, 3, 42));
        assert_eq!(Trailer::read(&b[3..]), Some(Trailer { send_ns: 42, ..t }));
        assert!(!t.write(&mut [0u8; 23]));
        assert_eq!(Trailer::read(&b[..20]), None);
        assert!(!stamp(&mut b, 0, 1));
    }

    #[test]
    fn corrupt_or_absent_trailers_are_refused() {
        let t = Trailer { stream: 1, seq: 2, send_ns: 3, protocol: 4, from_outside: false };
        let mut b = [0u8; TRAILER_LEN];
        t.write(&mut b);
        for i in 0..TRAILER_LEN {
            let mut c = b;
            c[i] ^= 0x10;
            assert_eq!(Trailer::read(&c), None, "flip in byte {i}");
        }
        assert_eq!(Trailer::read(&[0u8; TRAILER_LEN]), None);
        assert_eq!(find(&[0u8; 10]), None);
    }
}
