//! IEEE 802.1Q / 802.1ad VLAN tag: the 4 bytes after a 0x8100 or 0x88A8 tag protocol identifier
//! (TCI, then the EtherType of what follows). Tags stack (QinQ); `parse_frame` accepts at most
//! [`MAX_VLAN_DEPTH`] of them.
//!
//! Contract: after [`Tag::new_checked`] no accessor panics.

use crate::error::WireError;
use crate::ethernet::EtherType;
use crate::field::{be16, put16};

/// Most stacked VLAN tags `parse_frame` walks; one more is [`WireError::TooManyVlanTags`].
pub const MAX_VLAN_DEPTH: u8 = 4;

mod field {
    use crate::field::{Field, Rest};
    pub(crate) const TCI: Field = 0..2;
    pub(crate) const ETHERTYPE: Field = 2..4;
    pub(crate) const PAYLOAD: Rest = 4..;
}

/// Length of one tag (after its tag protocol identifier).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

buffer_view! {
    /// A read/write view of one VLAN tag and what follows it.
    pub struct Tag;
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    pub fn tci(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::TCI])
    }

    /// Priority code point (0..=7).
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier (0..=4095).
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// EtherType of what follows the tag (possibly another tag).
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(&self.buffer.as_ref()[field::ETHERTYPE]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Tag<&'a T> {
    /// Bytes after the tag.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Sets the whole TCI.
    pub fn set_tci(&mut self, tci: u16) {
        put16(&mut self.buffer.as_mut()[field::TCI], tci);
    }

    /// Sets the EtherType that follows the tag.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        put16(&mut self.buffer.as_mut()[field::ETHERTYPE], ethertype.into());
    }

    /// Mutable bytes after the tag.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// One VLAN tag as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Priority code point; only the low 3 bits are emitted.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier; only the low 12 bits are emitted.
    pub vid: u16,
    /// EtherType after this tag.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads a tag.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(tag: &Tag<&T>) -> Result<Repr, WireError> {
        tag.check_len()?;
        Ok(Repr { pcp: tag.pcp(), dei: tag.dei(), vid: tag.vid(), ethertype: tag.ethertype() })
    }

    /// Bytes this repr emits (4).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the tag into the start of `tag`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, tag: &mut Tag<T>) -> Result<(), WireError> {
        tag.check_len()?;
        let tci = (u16::from(self.pcp & 0x7) << 13) | (u16::from(self.dei) << 12) | (self.vid & 0x0fff);
        tag.set_tci(tci);
        tag.set_ethertype(self.ethertype);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // PCP 5, DEI 1, VID 0x123, then IPv4, then one payload byte.
    static TAG_BYTES: [u8; 5] = [0xb1, 0x23, 0x08, 0x00, 0x45];

    #[test]
    fn deconstruct() {
        let tag = Tag::new_checked(&TAG_BYTES[..]).unwrap();
        assert_eq!(tag.pcp(), 5);
        assert!(tag.dei());
        assert_eq!(tag.vid(), 0x123);
        assert_eq!(tag.ethertype(), EtherType::Ipv4);
        assert_eq!(tag.payload(), &[0x45]);
    }

    #[test]
    fn round_trip() {
        let repr = Repr { pcp: 5, dei: true, vid: 0x123, ethertype: EtherType::Ipv4 };
        let mut bytes = [0u8; 5];
        bytes[4] = 0x45;
        repr.emit(&mut Tag::new_unchecked(&mut bytes[..])).unwrap();
        assert_eq!(bytes, TAG_BYTES);
        assert_eq!(Repr::parse(&Tag::new_checked(&bytes[..]).unwrap()).unwrap(), repr);
    }

    #[test]
    fn too_short() {
        for len in 0..HEADER_LEN {
            assert_eq!(Tag::new_checked(&TAG_BYTES[..len]), Err(WireError::Truncated));
        }
    }
}
