//! VXLAN (RFC 7348): Ethernet frames in UDP, to port 4789 (IANA), or 8472 (what the Linux kernel
//! used before IANA assigned a port, and still flannel's default).
//!
//! An 8-byte header: flags (I, 0x08, says the VNI is valid; the other bits are reserved or used
//! by extensions such as group-based policy), 24 reserved bits, the 24-bit VXLAN network
//! identifier, 8 reserved bits. Then an Ethernet frame.
//!
//! Nothing but the port says a datagram is VXLAN, so `parse_frame` unwraps one only when its I
//! flag is set; a datagram to the port without it is an ordinary UDP flow.
//!
//! Contract: after [`Header::new_checked`] no accessor panics.

use crate::error::WireError;
use crate::field::{be32, put32};

/// The IANA port.
pub const PORT: u16 = 4789;
/// The Linux kernel's default port before IANA's (flannel's default).
pub const PORT_LINUX: u16 = 8472;
/// Length of the header.
pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI is valid.
pub const FLAG_VNI: u8 = 0x08;

buffer_view! {
    /// A read/write view of a VXLAN header and the frame after it.
    pub struct Header;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 8 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// The flags byte.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// True if the I flag is set.
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_VNI != 0
    }

    /// The VXLAN network identifier (24 bits).
    pub fn vni(&self) -> u32 {
        be32(&self.buffer.as_ref()[4..]) >> 8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The Ethernet frame after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// A VXLAN header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The VXLAN network identifier; only the low 24 bits are emitted.
    pub vni: u32,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Header::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &Header<&T>) -> Result<Repr, WireError> {
        h.check_len()?;
        Ok(Repr { vni: h.vni() })
    }

    /// Bytes this repr emits (8).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header, I flag set and reserved bits zero, into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 8 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        put32(out, u32::from(FLAG_VNI) << 24);
        put32(&mut out[4..], (self.vni & 0x00ff_ffff) << 8);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn deconstruct_and_construct() {
        let bytes = [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0, 0xaa];
        let h = Header::new_checked(&bytes[..]).unwrap();
        assert!(h.vni_valid());
        assert_eq!((h.flags(), h.vni(), h.payload()), (0x08, 0x12_3456, &[0xaa][..]));
        let repr = Repr::parse(&h).unwrap();
        let mut out = [0u8; 9];
        repr.emit(&mut out).unwrap();
        out[8] = 0xaa;
        assert_eq!(out, bytes);
        assert!(!Header::new_checked(&[0u8; 8][..]).unwrap().vni_valid());
        for len in 0..HEADER_LEN {
            assert_eq!(Header::new_checked(&bytes[..len]), Err(WireError::Truncated));
        }
        assert_eq!(repr.emit(&mut [0u8; 7]), Err(WireError::Truncated));
    }
}
