//! UDP header (RFC 768).
//!
//! Contract: after [`Packet::new_checked`] no accessor panics: the length field is at least 8 and
//! at most the buffer. [`Packet::payload`] stops at the length field, so bytes the IP layer carries
//! beyond it are not payload.

use core::net::IpAddr;

use crate::checksum;
use crate::error::WireError;
use crate::field::{be16, put16};
use crate::ip::IpProtocol;

mod field {
    use crate::field::Field;
    pub(crate) const SRC_PORT: Field = 0..2;
    pub(crate) const DST_PORT: Field = 2..4;
    pub(crate) const LENGTH: Field = 4..6;
    pub(crate) const CHECKSUM: Field = 6..8;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

buffer_view! {
    /// A read/write view of a UDP datagram.
    pub struct Packet;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 8 bytes; [`WireError::BadUdpLength`] for a length
    /// field below 8 or above the buffer.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let field_len = usize::from(self.len());
        if field_len < HEADER_LEN || field_len > len { Err(WireError::BadUdpLength) } else { Ok(()) }
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// Length field: header plus data.
    pub fn len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// True if the length field says there is no data.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field (0: none, IPv4 only).
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// True if the checksum is correct over the pseudo-header and `len` bytes, or absent (zero)
    /// over IPv4.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        if self.checksum() == 0 && src.is_ipv4() {
            return true;
        }
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        checksum::combine(&[checksum::pseudo_header(src, dst, IpProtocol::Udp, u32::from(len)), checksum::data(data)])
            == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Data: bytes `8..len`.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, port: u16) {
        put16(&mut self.buffer.as_mut()[field::SRC_PORT], port);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, port: u16) {
        put16(&mut self.buffer.as_mut()[field::DST_PORT], port);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, len: u16) {
        put16(&mut self.buffer.as_mut()[field::LENGTH], len);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::CHECKSUM], value);
    }

    /// Mutable data (`8..len`).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes and stores the checksum over the pseudo-header and `len` bytes. A computed zero
    /// is sent as 0xffff (zero means "no checksum").
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let len = self.len();
        let data = &self.buffer.as_ref()[..usize::from(len)];
        let sum = !checksum::combine(&[
            checksum::pseudo_header(src, dst, IpProtocol::Udp, u32::from(len)),
            checksum::data(data),
        ]);
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

/// A UDP header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Data length (the length field minus 8).
    pub payload_len: usize,
}

impl Repr {
    /// Reads the header.
    ///
    /// # Errors
    /// As [`Packet::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, WireError> {
        packet.check_len()?;
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: usize::from(packet.len()) - HEADER_LEN,
        })
    }

    /// Header length this repr emits (8).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum; write the data, then call
    /// [`Packet::fill_checksum`].
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 8 bytes; [`WireError::BadUdpLength`] if
    /// `8 + payload_len` does not fit 16 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), WireError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = u16::try_from(HEADER_LEN + self.payload_len).map_err(|_| WireError::BadUdpLength)?;
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        packet.set_checksum(0);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // 53000 -> 53, length 12, checksum zero, 4 data bytes, then 2 bytes beyond the length.
    static DATAGRAM: [u8; 14] = [0xcf, 0x08, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4, 0xee, 0xee];

    fn repr() -> Repr {
        Repr { src_port: 53000, dst_port: 53, payload_len: 4 }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len(), p.checksum()), (53000, 53, 12, 0));
        assert!(!p.is_empty());
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn construct_and_checksum() {
        let v4: (IpAddr, IpAddr) = (Ipv4Addr::new(198, 18, 0, 1).into(), Ipv4Addr::new(198, 18, 0, 2).into());
        let v6: (IpAddr, IpAddr) =
            ("2001:2::1".parse::<Ipv6Addr>().unwrap().into(), "2001:2::2".parse::<Ipv6Addr>().unwrap().into());
        let mut bytes = [0u8; 12];
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        repr().emit(&mut p).unwrap();
        p.payload_mut().copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(&bytes[..], &DATAGRAM[..12]);
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        // Zero means "no checksum" over IPv4 only.
        assert!(p.verify_checksum(&v4.0, &v4.1));
        assert!(!p.verify_checksum(&v6.0, &v6.1));
        for (s, d) in [v4, v6] {
            p.fill_checksum(&s, &d);
            assert_ne!(p.checksum(), 0);
            assert!(p.verify_checksum(&s, &d));
            p.set_src_port(1);
            assert!(!p.verify_checksum(&s, &d));
            p.set_src_port(53000);
        }
    }

    #[test]
    fn malformed() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&DATAGRAM[..len]), Err(WireError::Truncated));
        }
        let mut short = DATAGRAM;
        short[5] = 7;
        assert_eq!(Packet::new_checked(&short[..]), Err(WireError::BadUdpLength));
        let mut long = DATAGRAM;
        long[5] = 15;
        assert_eq!(Packet::new_checked(&long[..]), Err(WireError::BadUdpLength));
        let mut b = [0u8; 8];
        let big = Repr { payload_len: 65_528, ..repr() };
        assert_eq!(big.emit(&mut Packet::new_unchecked(&mut b[..])), Err(WireError::BadUdpLength));
    }
}
