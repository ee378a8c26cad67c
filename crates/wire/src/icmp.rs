//! ICMP (RFC 792) and ICMPv6 (RFC 4443) message header: type, code, checksum and the 4-byte
//! "rest of header" every message of both families has.
//!
//! Contract: after [`Packet::new_checked`] (8 bytes) no accessor panics. The same view serves both
//! families; they differ in the type registry and in the checksum (ICMPv6 covers a pseudo-header).

use core::net::IpAddr;

use crate::checksum;
use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};
use crate::ip::IpProtocol;

enum_with_unknown! {
    /// ICMPv4 message type.
    pub enum Icmpv4Type(u8) {
        /// Echo reply (0).
        EchoReply = 0,
        /// Destination unreachable (3).
        DstUnreachable = 3,
        /// Redirect (5).
        Redirect = 5,
        /// Echo request (8).
        EchoRequest = 8,
        /// Router advertisement (9).
        RouterAdvert = 9,
        /// Router solicitation (10).
        RouterSolicit = 10,
        /// Time exceeded (11).
        TimeExceeded = 11,
        /// Parameter problem (12).
        ParamProblem = 12,
        /// Timestamp (13).
        Timestamp = 13,
        /// Timestamp reply (14).
        TimestampReply = 14,
    }
}

enum_with_unknown! {
    /// ICMPv6 message type.
    pub enum Icmpv6Type(u8) {
        /// Destination unreachable (1).
        DstUnreachable = 1,
        /// Packet too big (2).
        PacketTooBig = 2,
        /// Time exceeded (3).
        TimeExceeded = 3,
        /// Parameter problem (4).
        ParamProblem = 4,
        /// Echo request (128).
        EchoRequest = 128,
        /// Echo reply (129).
        EchoReply = 129,
        /// Router solicitation (133).
        RouterSolicit = 133,
        /// Router advertisement (134).
        RouterAdvert = 134,
        /// Neighbor solicitation (135).
        NeighborSolicit = 135,
        /// Neighbor advertisement (136).
        NeighborAdvert = 136,
        /// Redirect (137).
        Redirect = 137,
    }
}

mod field {
    use crate::field::{Field, Rest};
    pub(crate) const TYPE: usize = 0;
    pub(crate) const CODE: usize = 1;
    pub(crate) const CHECKSUM: Field = 2..4;
    pub(crate) const REST_OF_HEADER: Field = 4..8;
    pub(crate) const PAYLOAD: Rest = 8..;
}

/// Length of the header (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

buffer_view! {
    /// A read/write view of an ICMP or ICMPv6 message.
    pub struct Packet;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 8 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// Raw message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message type read as ICMPv4.
    pub fn icmpv4_type(&self) -> Icmpv4Type {
        Icmpv4Type::from(self.msg_type())
    }

    /// Message type read as ICMPv6.
    pub fn icmpv6_type(&self) -> Icmpv6Type {
        Icmpv6Type::from(self.msg_type())
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// The 4 type-specific bytes after the checksum (echo identifier and sequence, MTU, pointer).
    pub fn rest_of_header(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::REST_OF_HEADER])
    }

    /// True if the ICMPv4 checksum (over the message only) is correct.
    pub fn verify_checksum_v4(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }

    /// True if the ICMPv6 checksum (pseudo-header and message) is correct.
    pub fn verify_checksum_v6(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        checksum::combine(&[checksum::pseudo_header(src, dst, IpProtocol::Icmpv6, len), checksum::data(data)]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Bytes after the 8-byte header (echo data, or the offending packet's headers).
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::CHECKSUM], value);
    }

    /// Sets the rest of header.
    pub fn set_rest_of_header(&mut self, value: u32) {
        put32(&mut self.buffer.as_mut()[field::REST_OF_HEADER], value);
    }

    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }

    /// Computes and stores the ICMPv4 checksum over the whole buffer (the message).
    pub fn fill_checksum_v4(&mut self) {
        self.set_checksum(0);
        let sum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }

    /// Computes and stores the ICMPv6 checksum over the pseudo-header and the whole buffer.
    pub fn fill_checksum_v6(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let sum =
            !checksum::combine(&[checksum::pseudo_header(src, dst, IpProtocol::Icmpv6, len), checksum::data(data)]);
        self.set_checksum(sum);
    }
}

/// An ICMP/ICMPv6 header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Message type.
    pub msg_type: u8,
    /// Message code.
    pub msg_code: u8,
    /// The 4 type-specific bytes.
    pub rest_of_header: u32,
}

impl Repr {
    /// Reads the header.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 8 bytes.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, WireError> {
        packet.check_len()?;
        Ok(Repr { msg_type: packet.msg_type(), msg_code: packet.msg_code(), rest_of_header: packet.rest_of_header() })
    }

    /// Header length this repr emits (8).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum; write the payload, then fill the checksum.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 8 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), WireError> {
        packet.check_len()?;
        packet.set_msg_type(self.msg_type);
        packet.set_msg_code(self.msg_code);
        packet.set_checksum(0);
        packet.set_rest_of_header(self.rest_of_header);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::Ipv6Addr;

    // Echo request, id 0x0001 seq 0x0002, data "hi", checksum filled in.
    static ECHO: [u8; 10] = [0x08, 0x00, 0x8f, 0x93, 0x00, 0x01, 0x00, 0x02, b'h', b'i'];

    #[test]
    fn v4_round_trip() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.icmpv4_type(), Icmpv4Type::EchoRequest);
        assert_eq!((p.msg_code(), p.rest_of_header()), (0, 0x0001_0002));
        assert_eq!(p.payload(), b"hi");
        assert!(p.verify_checksum_v4());
        let repr = Repr::parse(&p).unwrap();
        assert_eq!(repr, Repr { msg_type: 8, msg_code: 0, rest_of_header: 0x0001_0002 });
        let mut out = [0u8; 10];
        let mut q = Packet::new_unchecked(&mut out[..]);
        repr.emit(&mut q).unwrap();
        q.payload_mut().copy_from_slice(b"hi");
        q.fill_checksum_v4();
        assert_eq!(out, ECHO);
    }

    #[test]
    fn v6_checksum() {
        let src: IpAddr = "2001:2::1".parse::<Ipv6Addr>().unwrap().into();
        let dst: IpAddr = "2001:2::2".parse::<Ipv6Addr>().unwrap().into();
        let mut out = [0u8; 8];
        let mut q = Packet::new_unchecked(&mut out[..]);
        Repr { msg_type: 128, msg_code: 0, rest_of_header: 7 }.emit(&mut q).unwrap();
        q.fill_checksum_v6(&src, &dst);
        assert!(q.verify_checksum_v6(&src, &dst));
        assert!(!q.verify_checksum_v6(&dst, &dst));
        assert_eq!(q.icmpv6_type(), Icmpv6Type::EchoRequest);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ECHO[..len]), Err(WireError::Truncated));
        }
    }
}
