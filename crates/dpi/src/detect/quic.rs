//! The QUIC long header (RFC 9000 §17.2, RFC 9369): form and fixed bits set, a version that exists
//! (v1, v2, drafts 27..=34), connection ids of at most 20 bytes, and a length that fits. A client's
//! Initial is padded to at least 1200 bytes (RFC 9000 §14.1), so the originator's datagram must be
//! an Initial of that size.
//!
//! # Why lookalikes do not pass
//!
//! The version must be one of a handful of exact 32-bit values, after a first byte with both top
//! bits set (RTP/RTCP set only the top one, STUN and DTLS neither), and the connection-id lengths
//! and the packet's own length field must fit the datagram; a client's datagram must be padded to
//! 1200 bytes. Random bytes match a version one time in about 2^27.

use super::be32;

const V1: u32 = 0x0000_0001;
const V2: u32 = 0x6b33_43cf;

fn known_version(v: u32) -> bool {
    v == V1 || v == V2 || (0xff00_001b..=0xff00_0022).contains(&v) || is_google_version(v)
}

/// Google QUIC versions: "Q" or "T" and three decimal digits ("Q046", "T051").
fn is_google_version(v: u32) -> bool {
    let b = v.to_be_bytes();
    (b[0] == b'Q' || b[0] == b'T') && b[1..].iter().all(u8::is_ascii_digit)
}

/// A client packet of Google QUIC's own header (versions up to Q043): public flags with the
/// version bit and an 8-byte connection id and no reserved bits, the connection id, then a "Q0nn"
/// version; padded to a full-size datagram (at least 1200 bytes) like an IETF Initial.
pub(crate) fn is_gquic_client(p: &[u8]) -> bool {
    let Some(&flags) = p.first() else { return false };
    flags & 0x09 == 0x09 && flags & 0xC0 == 0 && p.len() >= 1200 && be32(p, 9).is_some_and(is_google_version)
}

/// QUIC variable-length integer at `pos`: (value, position after it).
fn varint(p: &[u8], pos: usize) -> Option<(u64, usize)> {
    let first = *p.get(pos)?;
    let len = 1usize << (first >> 6);
    let bytes = p.get(pos..pos + len)?;
    let mut v = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        v = (v << 8) | u64::from(b);
    }
    Some((v, pos + len))
}

/// True if `p` starts with a plausible QUIC long-header packet (see the module docs).
pub(crate) fn is_long_header(p: &[u8], from_originator: bool) -> bool {
    check(p, from_originator).is_some() || (from_originator && is_gquic_client(p))
}

fn check(p: &[u8], from_originator: bool) -> Option<()> {
    let first = *p.first()?;
    if first & 0xC0 != 0xC0 {
        return None;
    }
    let version = be32(p, 1)?;
    if !known_version(version) {
        return None;
    }
    let dcid_len = usize::from(*p.get(5)?);
    if dcid_len > 20 {
        return None;
    }
    let scid_at = 6 + dcid_len;
    let scid_len = usize::from(*p.get(scid_at)?);
    if scid_len > 20 {
        return None;
    }
    let mut pos = scid_at + 1 + scid_len;
    let raw_type = (first >> 4) & 0x03;
    // v2 rotates the type codes: Initial 1, 0-RTT 2, Handshake 3, Retry 0.
    let kind = if version == V2 { (raw_type + 3) % 4 } else { raw_type };
    match kind {
        // Initial: token length and token precede the length.
        0 => {
            if from_originator && p.len() < 1200 {
                return None;
            }
            let (token_len, after) = varint(p, pos)?;
            pos = after.checked_add(usize::try_from(token_len).ok()?)?;
        }
        // Handshake, from the server only: a client's first datagram is always an Initial.
        2 if !from_originator => {}
        // Retry, from the server only: a token and a 16-byte integrity tag.
        3 if !from_originator => return (p.len() >= pos + 17).then_some(()),
        // 0-RTT never comes first; anything else from the client is not its first flight.
        _ => return None,
    }
    let (length, after) = varint(p, pos)?;
    let length = usize::try_from(length).ok()?;
    // Packet number (1..=4 bytes) and at least a 16-byte AEAD tag.
    (length >= 20 && after.checked_add(length)? <= p.len()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initial(version: u32, first: u8, size: usize) -> Vec<u8> {
        let mut p = vec![first];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(8);
        p.extend_from_slice(&[0xaa; 8]);
        p.push(0); // no scid
        p.push(0); // no token
        let length = size - p.len() - 2;
        p.extend_from_slice(&(0x4000u16 | length as u16).to_be_bytes());
        p.resize(size, 0x5c);
        p
    }

    #[test]
    fn client_initials_of_known_versions() {
        assert!(is_long_header(&initial(V1, 0xc3, 1250), true));
        assert!(is_long_header(&initial(0xff00_001d, 0xc0, 1350), true));
        assert!(is_long_header(&initial(V2, 0xd0, 1200), true));
    }

    #[test]
    fn rejects_lookalikes() {
        assert!(!is_long_header(&initial(V1, 0xc3, 1199), true), "client initial under 1200");
        assert!(!is_long_header(&initial(0x0000_0002, 0xc3, 1250), true), "unknown version");
        assert!(!is_long_header(&initial(V1, 0x43, 1250), true), "short header");
        assert!(!is_long_header(&initial(V2, 0xc0, 1250), true), "v2 type 0 is Retry, not Initial");
        let mut long_cid = initial(V1, 0xc3, 1250);
        long_cid[5] = 21;
        assert!(!is_long_header(&long_cid, true), "dcid over 20");
        let mut overlong = initial(V1, 0xc3, 1250);
        overlong.truncate(1220);
        assert!(!is_long_header(&overlong, false), "length past the datagram");
        assert!(!is_long_header(&[0xc3, 0, 0, 0], true));
    }

    #[test]
    fn google_quic_client_hello() {
        // Start of a Q024 client hello from quic.pcap (nDPI test suite, LGPL-3.0-or-later).
        let mut p = vec![0x0d, 0xb2, 0xde, 0x5d, 0xf1, 0x4f, 0x55, 0x45, 0xeb, b'Q', b'0', b'2', b'4', 0x01];
        p.resize(1350, 0);
        assert!(is_long_header(&p, true));
        assert!(!is_long_header(&p, false), "only a client's first packet");
        p[12] = b'x';
        assert!(!is_long_header(&p, true), "not a version");
        p[12] = b'4';
        p.truncate(600);
        assert!(!is_long_header(&p, true), "not padded");
        let mut ietf_q046 = initial(u32::from_be_bytes(*b"Q046"), 0xc3, 1250);
        assert!(is_long_header(&ietf_q046, true));
        ietf_q046[4] = b'/';
        assert!(!is_long_header(&ietf_q046, true));
    }

    #[test]
    fn server_packets_need_no_padding() {
        assert!(is_long_header(&initial(V1, 0xc3, 300), false));
        let mut hs = initial(V1, 0xe3, 300); // Handshake
        hs[15] = 0x41; // length 0x41xx still fits? make it small
        hs[16] = 0x00;
        assert!(is_long_header(&hs, false));
    }
}
