//! Ethernet II frame header (IEEE 802.3 clause 3, DIX framing).
//!
//! Contract: after [`Frame::new_checked`] no accessor panics. The payload is everything after the
//! 14-byte header, trailing padding included; the IP layer trims padding by its own length field.

use crate::error::WireError;
use crate::field::{be16, put16};

enum_with_unknown! {
    /// EtherType (IEEE registry). Values below 0x0600 are 802.3 length fields, kept as `Unknown`.
    pub enum EtherType(u16) {
        /// IPv4 (0x0800).
        Ipv4 = 0x0800,
        /// ARP (0x0806).
        Arp = 0x0806,
        /// IEEE 802.1Q customer VLAN tag (0x8100).
        Vlan = 0x8100,
        /// IPv6 (0x86DD).
        Ipv6 = 0x86DD,
        /// IEEE 802.1ad service VLAN tag, "QinQ" (0x88A8).
        QinQ = 0x88A8,
    }
}

impl EtherType {
    /// True for the two tag protocol identifiers that introduce a VLAN tag (0x8100, 0x88A8).
    pub fn is_vlan_tag(self) -> bool {
        matches!(u16::from(self), 0x8100 | 0x88A8)
    }
}

/// A 48-bit MAC address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: Address = Address([0xff; 6]);

    /// The address in the first six bytes of `bytes`, or `None` if there are fewer.
    pub fn from_bytes(bytes: &[u8]) -> Option<Address> {
        let b: [u8; 6] = bytes.get(..6)?.try_into().ok()?;
        Some(Address(b))
    }

    /// The six octets.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// True for the group bit set (multicast and broadcast).
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True for an individual (not group) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl core::fmt::Display for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

mod field {
    use crate::field::{Field, Rest};
    pub(crate) const DESTINATION: Field = 0..6;
    pub(crate) const SOURCE: Field = 6..12;
    pub(crate) const ETHERTYPE: Field = 12..14;
    pub(crate) const PAYLOAD: Rest = 14..;
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

buffer_view! {
    /// A read/write view of an Ethernet II frame.
    pub struct Frame;
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 14 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// Header length in bytes (14).
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// Buffer length for a frame carrying `payload_len` bytes.
    pub const fn buffer_len(payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> Address {
        let d = &self.buffer.as_ref()[field::DESTINATION];
        Address([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> Address {
        let d = &self.buffer.as_ref()[field::SOURCE];
        Address([d[0], d[1], d[2], d[3], d[4], d[5]])
    }

    /// EtherType (or 802.3 length, as `Unknown`).
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(&self.buffer.as_ref()[field::ETHERTYPE]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// Bytes after the header, padding included; borrowed for the buffer's lifetime.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, addr: Address) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, addr: Address) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        put16(&mut self.buffer.as_mut()[field::ETHERTYPE], ethertype.into());
    }

    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The Ethernet II header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source MAC address.
    pub src_addr: Address,
    /// Destination MAC address.
    pub dst_addr: Address,
    /// EtherType of the payload.
    pub ethertype: EtherType,
}

impl Repr {
    /// Reads the header of a frame.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the frame is shorter than its header.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&T>) -> Result<Repr, WireError> {
        frame.check_len()?;
        Ok(Repr { src_addr: frame.src_addr(), dst_addr: frame.dst_addr(), ethertype: frame.ethertype() })
    }

    /// Header length this repr emits (14).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the start of `frame`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<(), WireError> {
        frame.check_len()?;
        frame.set_src_addr(self.src_addr);
        frame.set_dst_addr(self.dst_addr);
        frame.set_ethertype(self.ethertype);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // A broadcast ARP frame header followed by four payload bytes.
    static FRAME_BYTES: [u8; 18] =
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x12, 0x34, 0x56, 0x08, 0x06, 0xaa, 0xbb, 0xcc, 0xdd];

    fn repr() -> Repr {
        Repr {
            src_addr: Address([0x02, 0x00, 0x5e, 0x12, 0x34, 0x56]),
            dst_addr: Address::BROADCAST,
            ethertype: EtherType::Arp,
        }
    }

    #[test]
    fn deconstruct() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(frame.dst_addr(), Address::BROADCAST);
        assert!(frame.dst_addr().is_broadcast() && frame.dst_addr().is_multicast());
        assert!(frame.src_addr().is_unicast());
        assert_eq!(frame.ethertype(), EtherType::Arp);
        assert_eq!(frame.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(Repr::parse(&frame).unwrap(), repr());
        assert_eq!(frame.src_addr().to_string(), "02:00:5e:12:34:56");
    }

    #[test]
    fn construct() {
        let mut bytes = [0u8; 18];
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        repr().emit(&mut frame).unwrap();
        frame.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, FRAME_BYTES);
    }

    #[test]
    fn too_short() {
        for len in 0..HEADER_LEN {
            assert_eq!(Frame::new_checked(&FRAME_BYTES[..len]), Err(WireError::Truncated));
        }
        let mut small = [0u8; 10];
        assert_eq!(repr().emit(&mut Frame::new_unchecked(&mut small[..])), Err(WireError::Truncated));
    }

    #[test]
    fn ethertype_open_enum() {
        assert_eq!(EtherType::from(0x88a8), EtherType::QinQ);
        assert_eq!(u16::from(EtherType::Unknown(0x88cc)), 0x88cc);
        assert!(EtherType::Vlan.is_vlan_tag() && EtherType::QinQ.is_vlan_tag());
        assert!(!EtherType::Ipv4.is_vlan_tag());
        assert_eq!(Address::from_bytes(&[1, 2, 3, 4, 5]), None);
    }
}
