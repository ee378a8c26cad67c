//! PPPoE session stage (RFC 2516), EtherType 0x8864: the access links of many ISPs.
//!
//! A 6-byte header: version and type (4 bits each, both 1), code (0 for session data), session
//! id, and the length of what follows (the PPP protocol field and the packet). Then a PPP frame
//! without address and control bytes (see [`crate::ppp`]). The discovery stage (EtherType
//! 0x8863: PADI, PADO, PADR, PADS, PADT) carries no user traffic; `parse_frame` reports it as
//! non-IP.
//!
//! Contract: after [`Header::new_checked`] no accessor panics and the buffer holds the `length`
//! bytes the header claims; [`Header::payload`] stops there, so Ethernet padding is never payload.

use crate::error::WireError;
use crate::field::{be16, put16};

/// EtherType of the discovery stage.
pub const ETHERTYPE_DISCOVERY: u16 = 0x8863;
/// EtherType of the session stage.
pub const ETHERTYPE_SESSION: u16 = 0x8864;
/// Length of the header.
pub const HEADER_LEN: usize = 6;
/// Version and type, 1 and 1.
pub const VERSION_TYPE: u8 = 0x11;
/// Code of a session-data packet.
pub const CODE_SESSION: u8 = 0x00;

buffer_view! {
    /// A read/write view of a PPPoE session header and its payload.
    pub struct Header;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 6 bytes, or fewer than `6 + length`;
    /// [`WireError::BadPppoe`] for a version or type other than 1, a code other than 0, or a
    /// length below the 2 bytes of the PPP protocol field.
    pub fn check_len(&self) -> Result<(), WireError> {
        self.check_header()?;
        if self.buffer.as_ref().len() < HEADER_LEN + usize::from(self.length()) {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// [`check_len`](Self::check_len) without the payload: the fixed fields are whole and valid
    /// (for a frame a capture's snaplen cut). Only the header accessors may be used after it.
    ///
    /// # Errors
    /// As [`check_len`](Self::check_len), except for a short payload.
    pub fn check_header(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else if b[0] != VERSION_TYPE || b[1] != CODE_SESSION || self.length() < 2 {
            Err(WireError::BadPppoe)
        } else {
            Ok(())
        }
    }

    /// Version (1).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Type (1).
    pub fn ty(&self) -> u8 {
        self.buffer.as_ref()[0] & 0x0f
    }

    /// Code (0 for session data).
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// Session id.
    pub fn session_id(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..])
    }

    /// Length of the payload (PPP protocol field and packet).
    pub fn length(&self) -> u16 {
        be16(&self.buffer.as_ref()[4..])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The PPP frame: `length` bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.length())]
    }
}

/// A PPPoE session header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Session id.
    pub session_id: u16,
    /// Length of the payload (PPP protocol field and packet).
    pub length: u16,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Header::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &Header<&T>) -> Result<Repr, WireError> {
        h.check_len()?;
        Ok(Repr { session_id: h.session_id(), length: h.length() })
    }

    /// Bytes this repr emits (6).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 6 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        out[0] = VERSION_TYPE;
        out[1] = CODE_SESSION;
        put16(&mut out[2..], self.session_id);
        put16(&mut out[4..], self.length);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Session 0x1234 carrying PPP IPv4 (0x0021) and one byte of packet, then 2 bytes of padding.
    static BYTES: [u8; 11] = [0x11, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x21, 0x45, 0xee, 0xee];

    #[test]
    fn deconstruct_and_construct() {
        let h = Header::new_checked(&BYTES[..]).unwrap();
        assert_eq!((h.version(), h.ty(), h.code(), h.session_id(), h.length()), (1, 1, 0, 0x1234, 3));
        assert_eq!(h.payload(), &[0x00, 0x21, 0x45]);
        let repr = Repr::parse(&h).unwrap();
        assert_eq!(repr, Repr { session_id: 0x1234, length: 3 });
        let mut out = BYTES;
        out[..6].fill(0);
        repr.emit(&mut out).unwrap();
        assert_eq!(out, BYTES);
        assert_eq!(repr.emit(&mut [0u8; 5]), Err(WireError::Truncated));
    }

    #[test]
    fn malformed() {
        for len in 0..HEADER_LEN {
            assert_eq!(Header::new_checked(&BYTES[..len]), Err(WireError::Truncated));
        }
        // The length runs past the frame: missing bytes, but the header itself is fine.
        assert_eq!(Header::new_checked(&BYTES[..8]), Err(WireError::Truncated));
        assert_eq!(Header::new_unchecked(&BYTES[..8]).check_header(), Ok(()));
        for (at, value) in [(0, 0x21), (0, 0x12), (1, 0x09), (1, 0xa7), (5, 1)] {
            let mut b = BYTES;
            b[at] = value;
            assert_eq!(Header::new_checked(&b[..]), Err(WireError::BadPppoe), "byte {at} = {value:#x}");
        }
    }
}
