//! RTP and RTCP (RFC 3550; RTP/RTCP multiplexing, RFC 5761).
//!
//! An RTP packet: version 2, a header of 12 bytes plus 4 per CSRC and the extension if flagged,
//! padding no longer than the payload, and a payload type outside 64..=95 (which RFC 5761 leaves
//! to RTCP). One such packet is weak evidence (2 bits of version), so the verdict needs a stream:
//! a second packet from the same side with the same 32-bit SSRC and a sequence number 1 to 16
//! ahead. A random datagram repeats another's SSRC with 2^-32.
//!
//! An RTCP compound packet starts with a sender report (200: length of 6 + 6 words per report
//! block) or a receiver report (201: 1 + 6 per block), exact for its report count; what follows
//! must be further RTCP packets (version 2, types 192..=223) ending exactly at the datagram's end,
//! or an SRTCP trailer (a 4-byte index and a 4-, 10- or 16-byte tag). The version, the type and
//! a length that must agree with the report count: random bytes pass with under 1 in 10^7.

use crate::detect::be16;

/// An RTP header that could start a stream: (SSRC, sequence number).
pub(crate) fn rtp(p: &[u8]) -> Option<(u32, u16)> {
    let (b0, b1) = (*p.first()?, *p.get(1)?);
    if b0 >> 6 != 2 || (64..=95).contains(&(b1 & 0x7f)) {
        return None;
    }
    let mut header = 12 + 4 * usize::from(b0 & 0x0f);
    if b0 & 0x10 != 0 {
        header += 4 + 4 * usize::from(be16(p, header + 2)?);
    }
    let padding = if b0 & 0x20 != 0 { usize::from(*p.last()?) } else { 0 };
    if p.len() <= header || (b0 & 0x20 != 0 && (padding == 0 || header + padding > p.len())) {
        return None;
    }
    Some((crate::detect::be32(p, 8)?, be16(p, 2)?))
}

/// A second RTP packet continues the stream of (`ssrc`, `seq`).
pub(crate) fn continues(p: &[u8], ssrc: u32, seq: u16) -> bool {
    rtp(p).is_some_and(|(s, q)| s == ssrc && (1..=16).contains(&q.wrapping_sub(seq)))
}

/// A whole RTCP compound packet (or SRTCP) in one datagram.
pub(crate) fn is_rtcp(p: &[u8]) -> bool {
    let (Some(&b0), Some(&pt), Some(words)) = (p.first(), p.get(1), be16(p, 2)) else { return false };
    let rc = u16::from(b0 & 0x1f);
    let exact = match pt {
        200 => words == 6 + 6 * rc,
        201 => words == 1 + 6 * rc,
        _ => false,
    };
    if b0 >> 6 != 2 || b0 & 0x20 != 0 || !exact {
        return false;
    }
    let mut pos = 4 * (usize::from(words) + 1);
    loop {
        let left = p.len().saturating_sub(pos);
        if pos > p.len() {
            return false;
        }
        if left == 0 || matches!(left, 8 | 14 | 20) {
            return true;
        }
        let (Some(&b), Some(&t), Some(w)) = (p.get(pos), p.get(pos + 1), be16(p, pos + 2)) else { return false };
        if b >> 6 != 2 || !(192..=223).contains(&t) {
            return false;
        }
        pos += 4 * (usize::from(w) + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn rtp_stream() {
        // G.711 packets (sip.pcap, nDPI test suite, LGPL-3.0-or-later), payload shortened.
        let a = hex("80086fae000004d83796cb71d5d5d5d5d5d5d5d5");
        let b = hex("80086faf000005783796cb716e6815146a141415");
        let (ssrc, seq) = rtp(&a).unwrap();
        assert!(continues(&b, ssrc, seq));
        assert!(!continues(&a, ssrc, seq), "the same sequence number again");
        let mut other = b.clone();
        other[11] ^= 1;
        assert!(!continues(&other, ssrc, seq));
        assert_eq!(rtp(&hex("40086fae000004d83796cb71d5")), None, "version 1");
        assert_eq!(rtp(&hex("80c86fae000004d83796cb71d5")), None, "RTCP's type range");
        assert_eq!(rtp(&hex("80086fae000004d83796cb71")), None, "no payload");
    }

    #[test]
    fn rtcp() {
        // A receiver report with one block, then an SDES chunk.
        let mut rr = hex("81c90007 11223344 55667788 00000000 00000000 00000000 00000000 00000000");
        assert!(is_rtcp(&rr));
        rr.extend_from_slice(&hex("81ca0002 11223344 01000000"));
        assert!(is_rtcp(&rr));
        rr.push(0);
        assert!(!is_rtcp(&rr));
        let sr_wrong = hex("80c80007 11223344 0000000000000000000000000000000000000000");
        assert!(!is_rtcp(&sr_wrong), "a sender report with no blocks is 6 words");
    }
}
