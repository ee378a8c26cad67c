//! Linux "cooked" capture headers: SLL (LINKTYPE_LINUX_SLL, 113; 16 bytes) and SLL2
//! (LINKTYPE_LINUX_SLL2, 276; 20 bytes). Captures on `any` use them instead of Ethernet.
//!
//! The protocol field is an EtherType for the usual link types (a few small values such as 0x0004
//! mean 802.2 LLC; `parse_frame` reports those as non-IP). Contract: after `new_checked` no
//! accessor panics; an address length above 8 is [`WireError::BadLinkHeader`].

use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};

/// Room for the link-layer address in both headers.
pub const MAX_ADDR_LEN: usize = 8;

mod field {
    use crate::field::{Field, Rest};
    pub(crate) const PACKET_TYPE: Field = 0..2;
    pub(crate) const ARPHRD: Field = 2..4;
    pub(crate) const ADDR_LEN: Field = 4..6;
    pub(crate) const ADDR: Field = 6..14;
    pub(crate) const PROTOCOL: Field = 14..16;
    pub(crate) const PAYLOAD: Rest = 16..;

    pub(crate) const V2_PROTOCOL: Field = 0..2;
    pub(crate) const V2_RESERVED: Field = 2..4;
    pub(crate) const V2_IFINDEX: Field = 4..8;
    pub(crate) const V2_ARPHRD: Field = 8..10;
    pub(crate) const V2_PACKET_TYPE: usize = 10;
    pub(crate) const V2_ADDR_LEN: usize = 11;
    pub(crate) const V2_ADDR: Field = 12..20;
    pub(crate) const V2_PAYLOAD: Rest = 20..;
}

/// Length of the SLL header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Length of the SLL2 header.
pub const HEADER_LEN_V2: usize = field::V2_PAYLOAD.start;

buffer_view! {
    /// A read/write view of a Linux cooked capture (v1) header.
    pub struct Sll;
}

impl<T: AsRef<[u8]>> Sll<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] below 16 bytes; [`WireError::BadLinkHeader`] for an address length
    /// above 8.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else if usize::from(self.addr_len()) > MAX_ADDR_LEN {
            Err(WireError::BadLinkHeader)
        } else {
            Ok(())
        }
    }

    /// Packet type (0 to us, 1 broadcast, 2 multicast, 3 to someone else, 4 sent by us).
    pub fn packet_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PACKET_TYPE])
    }

    /// ARPHRD_ device type (1 Ethernet, 772 loopback, ...).
    pub fn arphrd_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ARPHRD])
    }

    /// Link-layer address length.
    pub fn addr_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ADDR_LEN])
    }

    /// The link-layer address (its first `addr_len` bytes).
    pub fn addr(&self) -> &[u8] {
        let len = usize::from(self.addr_len()).min(MAX_ADDR_LEN);
        &self.buffer.as_ref()[field::ADDR][..len]
    }

    /// Protocol of the payload (an EtherType for most device types).
    pub fn protocol(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PROTOCOL])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Sll<&'a T> {
    /// Bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Sll<T> {
    /// Sets the packet type.
    pub fn set_packet_type(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::PACKET_TYPE], value);
    }

    /// Sets the ARPHRD_ device type.
    pub fn set_arphrd_type(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::ARPHRD], value);
    }

    /// Sets the address length and the 8-byte address field (unused bytes zero).
    pub fn set_addr(&mut self, addr_len: u16, addr: [u8; MAX_ADDR_LEN]) {
        put16(&mut self.buffer.as_mut()[field::ADDR_LEN], addr_len);
        self.buffer.as_mut()[field::ADDR].copy_from_slice(&addr);
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::PROTOCOL], value);
    }
}

buffer_view! {
    /// A read/write view of a Linux cooked capture v2 header.
    pub struct Sll2;
}

impl<T: AsRef<[u8]>> Sll2<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] below 20 bytes; [`WireError::BadLinkHeader`] for an address length
    /// above 8.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN_V2 {
            Err(WireError::Truncated)
        } else if usize::from(self.addr_len()) > MAX_ADDR_LEN {
            Err(WireError::BadLinkHeader)
        } else {
            Ok(())
        }
    }

    /// Protocol of the payload (an EtherType for most device types).
    pub fn protocol(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::V2_PROTOCOL])
    }

    /// Reserved field (zero on the wire).
    pub fn reserved(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::V2_RESERVED])
    }

    /// Interface index the packet was captured on.
    pub fn interface_index(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::V2_IFINDEX])
    }

    /// ARPHRD_ device type.
    pub fn arphrd_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::V2_ARPHRD])
    }

    /// Packet type (as in SLL v1, one byte).
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[field::V2_PACKET_TYPE]
    }

    /// Link-layer address length.
    pub fn addr_len(&self) -> u8 {
        self.buffer.as_ref()[field::V2_ADDR_LEN]
    }

    /// The link-layer address (its first `addr_len` bytes).
    pub fn addr(&self) -> &[u8] {
        let len = usize::from(self.addr_len()).min(MAX_ADDR_LEN);
        &self.buffer.as_ref()[field::V2_ADDR][..len]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Sll2<&'a T> {
    /// Bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::V2_PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Sll2<T> {
    /// Sets the protocol and clears the reserved field.
    pub fn set_protocol(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::V2_PROTOCOL], value);
        put16(&mut self.buffer.as_mut()[field::V2_RESERVED], 0);
    }

    /// Sets the interface index.
    pub fn set_interface_index(&mut self, value: u32) {
        put32(&mut self.buffer.as_mut()[field::V2_IFINDEX], value);
    }

    /// Sets the ARPHRD_ device type.
    pub fn set_arphrd_type(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::V2_ARPHRD], value);
    }

    /// Sets the packet type.
    pub fn set_packet_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::V2_PACKET_TYPE] = value;
    }

    /// Sets the address length and the 8-byte address field (unused bytes zero).
    pub fn set_addr(&mut self, addr_len: u8, addr: [u8; MAX_ADDR_LEN]) {
        self.buffer.as_mut()[field::V2_ADDR_LEN] = addr_len;
        self.buffer.as_mut()[field::V2_ADDR].copy_from_slice(&addr);
    }
}

/// An SLL (v1) header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Packet type.
    pub packet_type: u16,
    /// ARPHRD_ device type.
    pub arphrd_type: u16,
    /// Address length (at most 8).
    pub addr_len: u16,
    /// Address bytes; those past `addr_len` are zero.
    pub addr: [u8; MAX_ADDR_LEN],
    /// Payload protocol.
    pub protocol: u16,
}

impl Repr {
    /// Reads an SLL header.
    ///
    /// # Errors
    /// As [`Sll::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(sll: &Sll<&T>) -> Result<Repr, WireError> {
        sll.check_len()?;
        let mut addr = [0u8; MAX_ADDR_LEN];
        addr[..sll.addr().len()].copy_from_slice(sll.addr());
        Ok(Repr {
            packet_type: sll.packet_type(),
            arphrd_type: sll.arphrd_type(),
            addr_len: sll.addr_len(),
            addr,
            protocol: sll.protocol(),
        })
    }

    /// Bytes this repr emits (16).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 16 bytes, [`WireError::BadLinkHeader`] for an
    /// address length above 8.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, sll: &mut Sll<T>) -> Result<(), WireError> {
        if sll.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if usize::from(self.addr_len) > MAX_ADDR_LEN {
            return Err(WireError::BadLinkHeader);
        }
        sll.set_packet_type(self.packet_type);
        sll.set_arphrd_type(self.arphrd_type);
        sll.set_addr(self.addr_len, self.addr);
        sll.set_protocol(self.protocol);
        Ok(())
    }
}

/// An SLL2 header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr2 {
    /// Payload protocol.
    pub protocol: u16,
    /// Interface index.
    pub interface_index: u32,
    /// ARPHRD_ device type.
    pub arphrd_type: u16,
    /// Packet type.
    pub packet_type: u8,
    /// Address length (at most 8).
    pub addr_len: u8,
    /// Address bytes; those past `addr_len` are zero.
    pub addr: [u8; MAX_ADDR_LEN],
}

impl Repr2 {
    /// Reads an SLL2 header.
    ///
    /// # Errors
    /// As [`Sll2::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(sll: &Sll2<&T>) -> Result<Repr2, WireError> {
        sll.check_len()?;
        let mut addr = [0u8; MAX_ADDR_LEN];
        addr[..sll.addr().len()].copy_from_slice(sll.addr());
        Ok(Repr2 {
            protocol: sll.protocol(),
            interface_index: sll.interface_index(),
            arphrd_type: sll.arphrd_type(),
            packet_type: sll.packet_type(),
            addr_len: sll.addr_len(),
            addr,
        })
    }

    /// Bytes this repr emits (20).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN_V2
    }

    /// Writes the header.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 20 bytes, [`WireError::BadLinkHeader`] for an
    /// address length above 8.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, sll: &mut Sll2<T>) -> Result<(), WireError> {
        if sll.buffer.as_ref().len() < HEADER_LEN_V2 {
            return Err(WireError::Truncated);
        }
        if usize::from(self.addr_len) > MAX_ADDR_LEN {
            return Err(WireError::BadLinkHeader);
        }
        sll.set_protocol(self.protocol);
        sll.set_interface_index(self.interface_index);
        sll.set_arphrd_type(self.arphrd_type);
        sll.set_packet_type(self.packet_type);
        sll.set_addr(self.addr_len, self.addr);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Outgoing IPv4 on an Ethernet device, MAC 02:00:00:00:00:01, then one payload byte.
    static SLL_BYTES: [u8; 17] =
        [0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08, 0x00, 0x45];
    // The same as SLL2 on interface 3.
    static SLL2_BYTES: [u8; 21] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x04, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x45,
    ];
    const MAC: [u8; 8] = [2, 0, 0, 0, 0, 1, 0, 0];

    #[test]
    fn sll_round_trip() {
        let s = Sll::new_checked(&SLL_BYTES[..]).unwrap();
        assert_eq!((s.packet_type(), s.arphrd_type(), s.protocol()), (4, 1, 0x0800));
        assert_eq!(s.addr(), &MAC[..6]);
        assert_eq!(s.payload(), &[0x45]);
        let repr = Repr::parse(&s).unwrap();
        assert_eq!(repr, Repr { packet_type: 4, arphrd_type: 1, addr_len: 6, addr: MAC, protocol: 0x0800 });
        let mut out = [0u8; 17];
        out[16] = 0x45;
        repr.emit(&mut Sll::new_unchecked(&mut out[..])).unwrap();
        assert_eq!(out, SLL_BYTES);
    }

    #[test]
    fn sll2_round_trip() {
        let s = Sll2::new_checked(&SLL2_BYTES[..]).unwrap();
        assert_eq!((s.protocol(), s.reserved(), s.interface_index()), (0x0800, 0, 3));
        assert_eq!((s.arphrd_type(), s.packet_type()), (1, 4));
        assert_eq!(s.addr(), &MAC[..6]);
        assert_eq!(s.payload(), &[0x45]);
        let repr = Repr2::parse(&s).unwrap();
        let mut out = [0u8; 21];
        out[20] = 0x45;
        repr.emit(&mut Sll2::new_unchecked(&mut out[..])).unwrap();
        assert_eq!(out, SLL2_BYTES);
    }

    #[test]
    fn malformed() {
        for len in 0..HEADER_LEN {
            assert_eq!(Sll::new_checked(&SLL_BYTES[..len]), Err(WireError::Truncated));
        }
        for len in 0..HEADER_LEN_V2 {
            assert_eq!(Sll2::new_checked(&SLL2_BYTES[..len]), Err(WireError::Truncated));
        }
        let mut bad = SLL_BYTES;
        bad[5] = 9;
        assert_eq!(Sll::new_checked(&bad[..]), Err(WireError::BadLinkHeader));
        let mut bad2 = SLL2_BYTES;
        bad2[11] = 200;
        assert_eq!(Sll2::new_checked(&bad2[..]), Err(WireError::BadLinkHeader));
        let repr = Repr { packet_type: 0, arphrd_type: 1, addr_len: 9, addr: MAC, protocol: 0 };
        let mut out = [0u8; 16];
        assert_eq!(repr.emit(&mut Sll::new_unchecked(&mut out[..])), Err(WireError::BadLinkHeader));
    }
}
