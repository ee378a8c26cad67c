//! GRE, IP protocol 47: version 0 (RFC 2784, with the key and sequence number of RFC 2890) and
//! PPTP's enhanced GRE, version 1 (RFC 2637).
//!
//! A 4-byte header (flags and version, then the EtherType of the payload), then the optional
//! fields the flags announce, in order: checksum and a reserved word (C), key (K; in version 1 the
//! payload length and call id), sequence number (S), and in version 1 the acknowledgment number
//! (A). The payload follows: IPv4, IPv6, an Ethernet frame (transparent Ethernet bridging,
//! 0x6558), MPLS, or in version 1 a PPP frame.
//!
//! RFC 1701's routing field (R) is obsolete and RFC 2784 receivers discard such packets; this view
//! refuses it too ([`WireError::BadGre`]), as it does versions above 1 and version-1 headers
//! without the key that RFC 2637 requires.
//!
//! Contract: after [`Header::new_checked`] no accessor panics.

use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};

const FLAG_CHECKSUM: u16 = 0x8000;
const FLAG_ROUTING: u16 = 0x4000;
const FLAG_KEY: u16 = 0x2000;
const FLAG_SEQUENCE: u16 = 0x1000;
const FLAG_ACK: u16 = 0x0080;
const VERSION_MASK: u16 = 0x0007;

/// Length of the fixed part.
pub const HEADER_LEN: usize = 4;
/// Protocol type of transparent Ethernet bridging: an Ethernet frame follows.
pub const PROTOCOL_TEB: u16 = 0x6558;
/// Protocol type of PPP, the only one of version 1.
pub const PROTOCOL_PPP: u16 = 0x880b;

buffer_view! {
    /// A read/write view of a GRE header and its payload.
    pub struct Header;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer ends inside the header or its optional fields;
    /// [`WireError::BadGre`] for a version above 1, the routing flag, or a version-1 header with
    /// a checksum, without a key, or of a protocol other than PPP.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let flags = self.flags();
        let bad = match self.version() {
            0 => flags & FLAG_ROUTING != 0,
            1 => {
                flags & (FLAG_CHECKSUM | FLAG_ROUTING) != 0
                    || flags & FLAG_KEY == 0
                    || self.protocol_type() != PROTOCOL_PPP
            }
            _ => true,
        };
        if bad {
            Err(WireError::BadGre)
        } else if self.buffer.as_ref().len() < self.header_len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    fn flags(&self) -> u16 {
        be16(self.buffer.as_ref())
    }

    /// Version: 0 (RFC 2784), 1 (PPTP).
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION_MASK) as u8
    }

    /// Checksum present (C).
    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_CHECKSUM != 0
    }

    /// Routing present (R, RFC 1701; refused by `check_len`).
    pub fn routing_present(&self) -> bool {
        self.flags() & FLAG_ROUTING != 0
    }

    /// Key present (K).
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_KEY != 0
    }

    /// Sequence number present (S).
    pub fn sequence_present(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    /// Acknowledgment number present (A; version 1 only).
    pub fn ack_present(&self) -> bool {
        self.version() == 1 && self.flags() & FLAG_ACK != 0
    }

    /// EtherType of the payload.
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..])
    }

    fn key_at(&self) -> usize {
        HEADER_LEN + if self.checksum_present() { 4 } else { 0 }
    }

    fn sequence_at(&self) -> usize {
        self.key_at() + if self.key_present() { 4 } else { 0 }
    }

    fn ack_at(&self) -> usize {
        self.sequence_at() + if self.sequence_present() { 4 } else { 0 }
    }

    /// Header length with its optional fields.
    pub fn header_len(&self) -> usize {
        self.ack_at() + if self.ack_present() { 4 } else { 0 }
    }

    /// The checksum, if present.
    pub fn checksum(&self) -> Option<u16> {
        self.checksum_present().then(|| be16(&self.buffer.as_ref()[HEADER_LEN..]))
    }

    /// The key, if present (in version 1: payload length, then call id).
    pub fn key(&self) -> Option<u32> {
        self.key_present().then(|| be32(&self.buffer.as_ref()[self.key_at()..]))
    }

    /// The sequence number, if present.
    pub fn sequence(&self) -> Option<u32> {
        self.sequence_present().then(|| be32(&self.buffer.as_ref()[self.sequence_at()..]))
    }

    /// The acknowledgment number, if present (version 1).
    pub fn ack(&self) -> Option<u32> {
        self.ack_present().then(|| be32(&self.buffer.as_ref()[self.ack_at()..]))
    }

    /// Version 1: bytes of PPP frame after the header (0 for a bare acknowledgment).
    pub fn payload_length(&self) -> Option<u16> {
        (self.version() == 1).then(|| self.key().map_or(0, |k| (k >> 16) as u16))
    }

    /// Version 1: the call id.
    pub fn call_id(&self) -> Option<u16> {
        (self.version() == 1).then(|| self.key().map_or(0, |k| k as u16))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// Bytes after the header and its optional fields.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A GRE header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// 0 or 1.
    pub version: u8,
    /// EtherType of the payload.
    pub protocol_type: u16,
    /// Checksum field (written as given), if present.
    pub checksum: Option<u16>,
    /// Key, if present (version 1: payload length << 16 | call id).
    pub key: Option<u32>,
    /// Sequence number, if present.
    pub sequence: Option<u32>,
    /// Acknowledgment number (version 1 only), if present.
    pub ack: Option<u32>,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Header::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &Header<&T>) -> Result<Repr, WireError> {
        h.check_len()?;
        Ok(Repr {
            version: h.version(),
            protocol_type: h.protocol_type(),
            checksum: h.checksum(),
            key: h.key(),
            sequence: h.sequence(),
            ack: h.ack(),
        })
    }

    /// Bytes this repr emits.
    pub fn buffer_len(&self) -> usize {
        let opt = |present: bool| if present { 4 } else { 0 };
        HEADER_LEN
            + opt(self.checksum.is_some())
            + opt(self.key.is_some())
            + opt(self.sequence.is_some())
            + opt(self.ack.is_some())
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::BadGre`] for a header `check_len` would refuse, or an acknowledgment in
    /// version 0; [`WireError::Truncated`] for a short buffer.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let v1_ok = self.checksum.is_none() && self.key.is_some() && self.protocol_type == PROTOCOL_PPP;
        let valid = match self.version {
            0 => self.ack.is_none(),
            1 => v1_ok,
            _ => false,
        };
        if !valid {
            return Err(WireError::BadGre);
        }
        let out = buffer.get_mut(..self.buffer_len()).ok_or(WireError::Truncated)?;
        let mut flags = u16::from(self.version);
        let mut at = HEADER_LEN;
        if let Some(c) = self.checksum {
            flags |= FLAG_CHECKSUM;
            put16(&mut out[at..], c);
            put16(&mut out[at + 2..], 0);
            at += 4;
        }
        for (field, flag) in [(self.key, FLAG_KEY), (self.sequence, FLAG_SEQUENCE), (self.ack, FLAG_ACK)] {
            if let Some(v) = field {
                flags |= flag;
                put32(&mut out[at..], v);
                at += 4;
            }
        }
        put16(out, flags);
        put16(&mut out[2..], self.protocol_type);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn plain_ipv4() {
        let bytes = [0x00, 0x00, 0x08, 0x00, 0x45];
        let h = Header::new_checked(&bytes[..]).unwrap();
        assert_eq!((h.version(), h.protocol_type(), h.header_len()), (0, 0x0800, 4));
        assert_eq!((h.checksum(), h.key(), h.sequence(), h.ack()), (None, None, None, None));
        assert_eq!((h.payload_length(), h.call_id()), (None, None));
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn key_and_sequence_round_trip() {
        // Checksum 0xbeef, key 0x01020304, sequence 7, carrying Ethernet (TEB).
        let bytes =
            [0xb0, 0x00, 0x65, 0x58, 0xbe, 0xef, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x07, 0xaa];
        let h = Header::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&h).unwrap();
        assert_eq!(
            repr,
            Repr {
                version: 0,
                protocol_type: PROTOCOL_TEB,
                checksum: Some(0xbeef),
                key: Some(0x0102_0304),
                sequence: Some(7),
                ack: None
            }
        );
        assert_eq!((h.header_len(), h.payload()), (16, &[0xaa][..]));
        let mut out = [0u8; 17];
        repr.emit(&mut out).unwrap();
        out[16] = 0xaa;
        assert_eq!(out, bytes);
    }

    #[test]
    fn pptp_enhanced_gre() {
        // Version 1, K S A: payload length 330, call id 38992, sequence 106, ack 140 (as in the
        // nDPI capture gre.pcapng).
        let repr = Repr {
            version: 1,
            protocol_type: PROTOCOL_PPP,
            checksum: None,
            key: Some((330 << 16) | 38992),
            sequence: Some(106),
            ack: Some(140),
        };
        let mut out = [0u8; 16];
        repr.emit(&mut out).unwrap();
        assert_eq!(&out[..4], &[0x30, 0x81, 0x88, 0x0b]);
        let h = Header::new_checked(&out[..]).unwrap();
        assert_eq!(
            (h.payload_length(), h.call_id(), h.sequence(), h.ack()),
            (Some(330), Some(38992), Some(106), Some(140))
        );
        assert_eq!(Repr::parse(&h).unwrap(), repr);
        // An ack-only packet: no sequence, no payload.
        let ack_only = Repr { sequence: None, key: Some(38992), ..repr };
        let mut b = [0u8; 12];
        ack_only.emit(&mut b).unwrap();
        assert_eq!(Header::new_checked(&b[..]).unwrap().payload_length(), Some(0));
    }

    #[test]
    fn malformed() {
        assert_eq!(Header::new_checked(&[0u8; 3][..]), Err(WireError::Truncated));
        // Key announced, not there.
        assert_eq!(Header::new_checked(&[0x20, 0x00, 0x08, 0x00, 0, 0][..]), Err(WireError::Truncated));
        // Routing; version 2; version 1 without key, with checksum, or not PPP.
        for bytes in [[0x40, 0x00, 0x08, 0x00], [0x00, 0x02, 0x08, 0x00], [0x00, 0x01, 0x88, 0x0b]] {
            assert_eq!(Header::new_checked(&bytes[..]), Err(WireError::BadGre), "{bytes:02x?}");
        }
        let mut v1 = [0u8; 12];
        v1[..4].copy_from_slice(&[0xa0, 0x01, 0x88, 0x0b]);
        assert_eq!(Header::new_checked(&v1[..]), Err(WireError::BadGre));
        v1[..4].copy_from_slice(&[0x20, 0x01, 0x08, 0x00]);
        assert_eq!(Header::new_checked(&v1[..]), Err(WireError::BadGre));
        v1[..4].copy_from_slice(&[0x20, 0x01, 0x88, 0x0b]);
        assert!(Header::new_checked(&v1[..]).is_ok());
        // The A bit means nothing in version 0.
        let v0_a = [0x00, 0x80, 0x86, 0xdd];
        assert_eq!(Header::new_checked(&v0_a[..]).unwrap().header_len(), 4);
        let base = Repr { version: 0, protocol_type: 0x0800, checksum: None, key: None, sequence: None, ack: None };
        assert_eq!(Repr { ack: Some(1), ..base }.emit(&mut [0u8; 8]), Err(WireError::BadGre));
        assert_eq!(Repr { version: 2, ..base }.emit(&mut [0u8; 8]), Err(WireError::BadGre));
        assert_eq!(Repr { version: 1, ..base }.emit(&mut [0u8; 8]), Err(WireError::BadGre));
        assert_eq!(Repr { key: Some(1), ..base }.emit(&mut [0u8; 7]), Err(WireError::Truncated));
    }
}
