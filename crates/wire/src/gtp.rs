//! GTP-U version 1 (3GPP TS 29.281): the user plane of mobile networks, in UDP to port 2152.
//!
//! Eight bytes: flags (version 1 in the top 3 bits, protocol type 1, a reserved bit, then E, S
//! and PN), message type (255, G-PDU, carries a user packet; echo, error indication and end marker
//! do not), length (of everything after these 8 bytes), tunnel endpoint id. When any of E, S, PN
//! is set, 4 more: sequence number, N-PDU number, next extension header type. Extension headers
//! follow while the next type is not 0, each `4 × n` bytes long where `n` is its first byte,
//! ending with the next type. Then the user packet (IPv4 or IPv6).
//!
//! `parse_frame` takes a datagram to port 2152 for GTP-U when its version and protocol type say
//! so; a G-PDU whose length or extension headers disagree with the datagram is then
//! [`WireError::BadGtp`].
//!
//! Contract: after [`Header::new_checked`] no accessor panics and the buffer holds the `length`
//! bytes the header claims; [`Header::payload`] stops there.

use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};

/// The IANA port of GTP-U.
pub const PORT: u16 = 2152;
/// Length of the mandatory part.
pub const HEADER_LEN: usize = 8;
/// Message type of a G-PDU: a user packet follows.
pub const MSG_G_PDU: u8 = 255;
/// Most extension headers a header may chain; one more is [`WireError::BadGtp`].
pub const MAX_EXTENSION_HEADERS: usize = 16;

const VERSION_PT_MASK: u8 = 0xf0;
const VERSION_1_PT_GTP: u8 = 0x30;
const FLAG_EXTENSION: u8 = 0x04;
const FLAG_SEQUENCE: u8 = 0x02;
const FLAG_NPDU: u8 = 0x01;

buffer_view! {
    /// A read/write view of a GTP-U header and its payload.
    pub struct Header;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// As [`check_header`](Self::check_header); [`WireError::Truncated`] if the buffer is
    /// shorter than `8 + length`.
    pub fn check_len(&self) -> Result<(), WireError> {
        self.check_header()?;
        if self.buffer.as_ref().len() < self.end() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// [`check_len`](Self::check_len) without the payload: the header and its extension headers
    /// are whole and consistent with `length` (for a datagram a capture's snaplen cut). Only the
    /// header accessors may be used after it.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer ends inside the header or its extension headers;
    /// [`WireError::BadGtp`] for a version other than 1, a protocol type other than GTP, a
    /// length too short for the optional fields, or extension headers of length 0, more than
    /// [`MAX_EXTENSION_HEADERS`], or running past `8 + length`.
    pub fn check_header(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if !self.is_version_1() {
            return Err(WireError::BadGtp);
        }
        self.walk().map(|_| ())
    }

    /// Header length with its optional fields and extension headers, or the error
    /// [`check_header`](Self::check_header) gives.
    fn walk(&self) -> Result<usize, WireError> {
        let b = self.buffer.as_ref();
        let end = self.end();
        if !self.has_optional() {
            return Ok(HEADER_LEN);
        }
        if end < HEADER_LEN + 4 {
            return Err(WireError::BadGtp);
        }
        let mut next = *b.get(HEADER_LEN + 3).ok_or(WireError::Truncated)?;
        let mut at = HEADER_LEN + 4;
        let mut count = 0;
        while next != 0 && self.extension_present() {
            if count == MAX_EXTENSION_HEADERS {
                return Err(WireError::BadGtp);
            }
            count += 1;
            let units =
                usize::from(*b.get(at).ok_or(if at < end { WireError::Truncated } else { WireError::BadGtp })?);
            let len = units * 4;
            if len == 0 || at + len > end {
                return Err(WireError::BadGtp);
            }
            next = *b.get(at + len - 1).ok_or(WireError::Truncated)?;
            at += len;
        }
        Ok(at)
    }

    fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// True for version 1 with the GTP protocol type (not GTP').
    pub fn is_version_1(&self) -> bool {
        self.flags() & VERSION_PT_MASK == VERSION_1_PT_GTP
    }

    /// Version (3 bits).
    pub fn version(&self) -> u8 {
        self.flags() >> 5
    }

    /// Extension header flag (E).
    pub fn extension_present(&self) -> bool {
        self.flags() & FLAG_EXTENSION != 0
    }

    /// Sequence number flag (S).
    pub fn sequence_present(&self) -> bool {
        self.flags() & FLAG_SEQUENCE != 0
    }

    /// N-PDU number flag (PN).
    pub fn npdu_present(&self) -> bool {
        self.flags() & FLAG_NPDU != 0
    }

    fn has_optional(&self) -> bool {
        self.flags() & (FLAG_EXTENSION | FLAG_SEQUENCE | FLAG_NPDU) != 0
    }

    /// Message type (255: G-PDU).
    pub fn message_type(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Length of everything after the first 8 bytes.
    pub fn length(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..])
    }

    fn end(&self) -> usize {
        HEADER_LEN + usize::from(self.length())
    }

    /// Tunnel endpoint identifier.
    pub fn teid(&self) -> u32 {
        be32(&self.buffer.as_ref()[4..])
    }

    /// The sequence number, if S is set.
    pub fn sequence(&self) -> Option<u16> {
        self.sequence_present().then(|| be16(&self.buffer.as_ref()[HEADER_LEN..]))
    }

    /// Header length: mandatory part, optional fields and extension headers.
    pub fn header_len(&self) -> usize {
        self.walk().unwrap_or(HEADER_LEN)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The user packet: after the header, up to `8 + length`.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        b.get(self.header_len()..self.end()).unwrap_or_default()
    }
}

/// A GTP-U header as plain values (without extension headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Message type.
    pub message_type: u8,
    /// Tunnel endpoint identifier.
    pub teid: u32,
    /// Sequence number: written with the S flag and the 4 optional bytes.
    pub sequence: Option<u16>,
    /// Bytes of payload after the header (the length field adds the optional bytes).
    pub payload_len: u16,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Header::check_len`]; [`WireError::BadGtp`] for a header with extension headers
    /// (this repr has none).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &Header<&T>) -> Result<Repr, WireError> {
        h.check_len()?;
        if h.header_len() > HEADER_LEN + 4 {
            return Err(WireError::BadGtp);
        }
        let payload_len = u16::try_from(h.payload().len()).map_err(|_| WireError::BadGtp)?;
        Ok(Repr { message_type: h.message_type(), teid: h.teid(), sequence: h.sequence(), payload_len })
    }

    /// Bytes this repr emits (8, or 12 with a sequence number).
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + if self.sequence.is_some() { 4 } else { 0 }
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a short buffer; [`WireError::BadGtp`] if the length does not
    /// fit 16 bits.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let opt = self.buffer_len() - HEADER_LEN;
        let length = u16::try_from(usize::from(self.payload_len) + opt).map_err(|_| WireError::BadGtp)?;
        let out = buffer.get_mut(..self.buffer_len()).ok_or(WireError::Truncated)?;
        out[0] = VERSION_1_PT_GTP | if self.sequence.is_some() { FLAG_SEQUENCE } else { 0 };
        out[1] = self.message_type;
        put16(&mut out[2..], length);
        put32(&mut out[4..], self.teid);
        if let Some(seq) = self.sequence {
            put16(&mut out[8..], seq);
            out[10] = 0;
            out[11] = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn g_pdu_round_trips() {
        // G-PDU, TEID 0x11223344, 2 payload bytes.
        let bytes = [0x30, 0xff, 0x00, 0x02, 0x11, 0x22, 0x33, 0x44, 0x45, 0x00];
        let h = Header::new_checked(&bytes[..]).unwrap();
        assert!(h.is_version_1());
        assert_eq!((h.version(), h.message_type(), h.length(), h.teid()), (1, MSG_G_PDU, 2, 0x1122_3344));
        assert_eq!((h.header_len(), h.payload(), h.sequence()), (8, &[0x45, 0][..], None));
        let repr = Repr::parse(&h).unwrap();
        assert_eq!(repr, Repr { message_type: MSG_G_PDU, teid: 0x1122_3344, sequence: None, payload_len: 2 });
        let mut out = [0u8; 10];
        repr.emit(&mut out).unwrap();
        out[8..].copy_from_slice(&[0x45, 0]);
        assert_eq!(out, bytes);
        // With a sequence number.
        let seq = Repr { sequence: Some(9), ..repr };
        let mut out = [0u8; 14];
        seq.emit(&mut out).unwrap();
        assert_eq!(&out[..12], &[0x32, 0xff, 0, 6, 0x11, 0x22, 0x33, 0x44, 0, 9, 0, 0]);
        let h = Header::new_checked(&out[..]).unwrap();
        assert_eq!((h.header_len(), h.sequence(), h.payload().len()), (12, Some(9), 2));
        assert_eq!(Repr::parse(&h).unwrap(), seq);
    }

    #[test]
    fn extension_headers_are_walked() {
        // E set, next type 0x85 (PDU session container), one 4-byte extension ending in 0, then
        // one payload byte.
        let bytes = [0x34, 0xff, 0x00, 0x09, 0, 0, 0, 1, 0, 0, 0, 0x85, 0x01, 0x10, 0x09, 0x00, 0x45];
        let h = Header::new_checked(&bytes[..]).unwrap();
        assert_eq!((h.header_len(), h.payload()), (16, &[0x45][..]));
        assert_eq!(Repr::parse(&h), Err(WireError::BadGtp));
        // An extension of length 0, one that runs past the length, and one past the buffer.
        let mut zero = bytes;
        zero[12] = 0;
        assert_eq!(Header::new_checked(&zero[..]), Err(WireError::BadGtp));
        let mut long = bytes;
        long[12] = 3;
        assert_eq!(Header::new_checked(&long[..]), Err(WireError::BadGtp));
        assert_eq!(Header::new_unchecked(&bytes[..14]).check_header(), Err(WireError::Truncated));
        assert_eq!(Header::new_unchecked(&bytes[..16]).check_header(), Ok(()));
        assert_eq!(Header::new_checked(&bytes[..16]), Err(WireError::Truncated));
        // An endless chain: every extension names another.
        let mut chain = vec![0x34, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85];
        for _ in 0..20 {
            chain.extend_from_slice(&[1, 0, 0, 0x85]);
        }
        let len = (chain.len() - 8) as u16;
        chain[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(Header::new_checked(&chain[..]), Err(WireError::BadGtp));
    }

    #[test]
    fn malformed() {
        let g = [0x30, 0xff, 0x00, 0x02, 0, 0, 0, 1, 0x45, 0x00];
        for len in 0..HEADER_LEN {
            assert_eq!(Header::new_checked(&g[..len]), Err(WireError::Truncated));
        }
        assert_eq!(Header::new_checked(&g[..9]), Err(WireError::Truncated));
        for first in [0x50, 0x20, 0x10, 0x48] {
            let mut b = g;
            b[0] = first;
            assert_eq!(Header::new_checked(&b[..]), Err(WireError::BadGtp), "{first:#x}");
        }
        // S set but the length leaves no room for the optional fields.
        let mut s = g;
        s[0] = 0x32;
        assert_eq!(Header::new_checked(&s[..]), Err(WireError::BadGtp));
        let big = Repr { message_type: MSG_G_PDU, teid: 1, sequence: Some(1), payload_len: u16::MAX };
        assert_eq!(big.emit(&mut [0u8; 12]), Err(WireError::BadGtp));
        assert_eq!(Repr { sequence: None, ..big }.emit(&mut [0u8; 7]), Err(WireError::Truncated));
    }
}
