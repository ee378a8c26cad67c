//! PPP frames (RFC 1661) as captures and tunnels carry them, and Cisco HDLC.
//!
//! **PPP** comes in pcap `LINKTYPE_PPP` (9) and `LINKTYPE_PPP_HDLC` (50) captures, inside PPPoE
//! sessions and inside PPTP's GRE. A frame may start with the HDLC-like address and control bytes
//! `0xff 0x03` (RFC 1662), which address-and-control-field compression leaves out; then the
//! protocol field, one byte when protocol-field compression drops a zero high octet (RFC 1661
//! §6.5: a protocol number is odd and its high octet even, so the first byte tells which). Then
//! the packet.
//!
//! **Cisco HDLC** (`LINKTYPE_C_HDLC`, 104; also what Cisco routers write on `LINKTYPE_PPP` and
//! `LINKTYPE_PPP_HDLC` links, told apart by its first byte 0x0f or 0x8f): address, control, and
//! an EtherType.
//!
//! Contract: after `new_checked` no accessor of either view panics.

use crate::error::WireError;
use crate::field::{be16, put16};

enum_with_unknown! {
    /// PPP protocol numbers (IANA "PPP DLL Protocol Numbers"), those weir names.
    pub enum Protocol(u16) {
        /// IPv4 (0x0021).
        Ipv4 = 0x0021,
        /// IPv6 (0x0057).
        Ipv6 = 0x0057,
        /// Compressed datagram, e.g. MPPE-encrypted PPTP (0x00fd).
        Compressed = 0x00fd,
        /// MPLS unicast (0x0281).
        MplsUnicast = 0x0281,
        /// MPLS multicast (0x0283).
        MplsMulticast = 0x0283,
        /// IP Control Protocol (0x8021).
        Ipcp = 0x8021,
        /// IPv6 Control Protocol (0x8057).
        Ipv6cp = 0x8057,
        /// Compression Control Protocol (0x80fd).
        Ccp = 0x80fd,
        /// Link Control Protocol (0xc021).
        Lcp = 0xc021,
        /// Password Authentication Protocol (0xc023).
        Pap = 0xc023,
        /// Challenge Handshake Authentication Protocol (0xc223).
        Chap = 0xc223,
    }
}

impl Protocol {
    /// True for a value RFC 1661 allows: odd, with an even high octet.
    pub fn is_valid(self) -> bool {
        let n = u16::from(self);
        n & 0x0001 == 1 && n & 0x0100 == 0
    }
}

/// The HDLC-like address and control bytes (RFC 1662).
pub const ADDRESS_CONTROL: [u8; 2] = [0xff, 0x03];
/// Cisco HDLC address of a unicast frame.
pub const CHDLC_UNICAST: u8 = 0x0f;
/// Cisco HDLC address of a broadcast frame.
pub const CHDLC_BROADCAST: u8 = 0x8f;
/// Length of the Cisco HDLC header.
pub const CHDLC_HEADER_LEN: usize = 4;

buffer_view! {
    /// A view of a PPP frame from its first byte (the address field, or the protocol field when the
    /// address and control bytes are compressed away).
    pub struct Frame;
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Ensures every accessor is in bounds and the protocol field holds a protocol number.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer ends inside the header; [`WireError::BadPpp`] for a
    /// protocol field that is no protocol number, or an address byte 0xff without the control
    /// byte 0x03.
    pub fn check_len(&self) -> Result<(), WireError> {
        let b = self.buffer.as_ref();
        // 0xff is the all-stations address, always followed by the control byte (0x00ff is no
        // protocol anyone compresses).
        match b {
            [0xff] => return Err(WireError::Truncated),
            [0xff, control, ..] if *control != ADDRESS_CONTROL[1] => return Err(WireError::BadPpp),
            _ => {}
        }
        let at = usize::from(b.starts_with(&ADDRESS_CONTROL)) * 2;
        let first = *b.get(at).ok_or(WireError::Truncated)?;
        let len = if first & 1 == 1 { 1 } else { 2 };
        if b.len() < at + len {
            return Err(WireError::Truncated);
        }
        if self.protocol().is_valid() { Ok(()) } else { Err(WireError::BadPpp) }
    }

    /// True if the frame starts with the address and control bytes.
    pub fn has_address_control(&self) -> bool {
        self.buffer.as_ref().starts_with(&ADDRESS_CONTROL)
    }

    fn protocol_at(&self) -> usize {
        if self.has_address_control() { 2 } else { 0 }
    }

    /// True if the protocol field is one byte (protocol-field compression).
    pub fn is_protocol_compressed(&self) -> bool {
        self.buffer.as_ref()[self.protocol_at()] & 1 == 1
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> Protocol {
        let b = self.buffer.as_ref();
        let at = self.protocol_at();
        if self.is_protocol_compressed() { Protocol::from(u16::from(b[at])) } else { Protocol::from(be16(&b[at..])) }
    }

    /// Bytes before the payload: address and control (if present) and the protocol field.
    pub fn header_len(&self) -> usize {
        self.protocol_at() + if self.is_protocol_compressed() { 1 } else { 2 }
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The packet after the protocol field.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A PPP header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Write the address and control bytes.
    pub address_control: bool,
    /// Protocol of the payload.
    pub protocol: Protocol,
    /// Write a protocol whose high octet is zero as one byte.
    pub compress_protocol: bool,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Frame::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(f: &Frame<&T>) -> Result<Repr, WireError> {
        f.check_len()?;
        Ok(Repr {
            address_control: f.has_address_control(),
            protocol: f.protocol(),
            compress_protocol: f.is_protocol_compressed(),
        })
    }

    fn compressed(&self) -> bool {
        self.compress_protocol && u16::from(self.protocol) <= 0xff
    }

    /// Bytes this repr emits.
    pub fn buffer_len(&self) -> usize {
        usize::from(self.address_control) * 2 + if self.compressed() { 1 } else { 2 }
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a short buffer; [`WireError::BadPpp`] for a protocol number
    /// RFC 1661 does not allow.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        if !self.protocol.is_valid() {
            return Err(WireError::BadPpp);
        }
        let out = buffer.get_mut(..self.buffer_len()).ok_or(WireError::Truncated)?;
        let at = if self.address_control {
            out[..2].copy_from_slice(&ADDRESS_CONTROL);
            2
        } else {
            0
        };
        let n = u16::from(self.protocol);
        if self.compressed() {
            out[at] = n as u8;
        } else {
            put16(&mut out[at..], n);
        }
        Ok(())
    }
}

buffer_view! {
    /// A view of a Cisco HDLC frame.
    pub struct CiscoHdlc;
}

impl<T: AsRef<[u8]>> CiscoHdlc<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < CHDLC_HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// Address: 0x0f unicast, 0x8f broadcast.
    pub fn address(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Control (0).
    pub fn control(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// EtherType of the payload (0x8035 for Cisco's SLARP keepalives).
    pub fn protocol(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> CiscoHdlc<&'a T> {
    /// The packet after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[CHDLC_HEADER_LEN..]
    }
}

/// A Cisco HDLC header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CiscoHdlcRepr {
    /// Broadcast (address 0x8f) rather than unicast (0x0f).
    pub broadcast: bool,
    /// EtherType of the payload.
    pub protocol: u16,
}

impl CiscoHdlcRepr {
    /// Reads a header (any address and control values).
    ///
    /// # Errors
    /// As [`CiscoHdlc::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(f: &CiscoHdlc<&T>) -> Result<CiscoHdlcRepr, WireError> {
        f.check_len()?;
        Ok(CiscoHdlcRepr { broadcast: f.address() == CHDLC_BROADCAST, protocol: f.protocol() })
    }

    /// Bytes this repr emits (4).
    pub const fn buffer_len(&self) -> usize {
        CHDLC_HEADER_LEN
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..CHDLC_HEADER_LEN).ok_or(WireError::Truncated)?;
        out[0] = if self.broadcast { CHDLC_BROADCAST } else { CHDLC_UNICAST };
        out[1] = 0;
        put16(&mut out[2..], self.protocol);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn the_four_framings_of_ipv4() {
        // With and without address/control, with and without protocol-field compression; the
        // payload byte 0x45 follows.
        let cases: [(&[u8], bool, bool, usize); 4] = [
            (&[0xff, 0x03, 0x00, 0x21, 0x45], true, false, 4),
            (&[0x00, 0x21, 0x45], false, false, 2),
            (&[0xff, 0x03, 0x21, 0x45], true, true, 3),
            (&[0x21, 0x45], false, true, 1),
        ];
        for (bytes, ac, compressed, hlen) in cases {
            let f = Frame::new_checked(bytes).unwrap();
            assert_eq!(f.protocol(), Protocol::Ipv4, "{bytes:02x?}");
            assert_eq!((f.has_address_control(), f.is_protocol_compressed(), f.header_len()), (ac, compressed, hlen));
            assert_eq!(f.payload(), &[0x45]);
            let repr = Repr::parse(&f).unwrap();
            assert_eq!(repr, Repr { address_control: ac, protocol: Protocol::Ipv4, compress_protocol: compressed });
            let mut out = vec![0u8; repr.buffer_len() + 1];
            repr.emit(&mut out).unwrap();
            out[hlen] = 0x45;
            assert_eq!(out, bytes);
        }
    }

    #[test]
    fn a_protocol_with_a_high_octet_is_never_compressed() {
        let repr = Repr { address_control: false, protocol: Protocol::Lcp, compress_protocol: true };
        let mut out = [0u8; 2];
        repr.emit(&mut out).unwrap();
        assert_eq!(out, [0xc0, 0x21]);
        assert_eq!(Frame::new_checked(&out[..]).unwrap().protocol(), Protocol::Lcp);
    }

    #[test]
    fn malformed() {
        assert_eq!(Frame::new_checked(&[][..]), Err(WireError::Truncated));
        assert_eq!(Frame::new_checked(&[0xff, 0x03][..]), Err(WireError::Truncated));
        assert_eq!(Frame::new_checked(&[0x00][..]), Err(WireError::Truncated));
        assert_eq!(Frame::new_checked(&[0xff][..]), Err(WireError::Truncated));
        assert_eq!(Frame::new_checked(&[0xff, 0x21][..]), Err(WireError::BadPpp));
        // Even protocol numbers, and odd high octets, are no protocols.
        assert_eq!(Frame::new_checked(&[0x00, 0x20][..]), Err(WireError::BadPpp));
        assert_eq!(Frame::new_checked(&[0x01, 0x21][..]).map(|f| f.protocol()), Ok(Protocol::from(0x01)));
        assert_eq!(Frame::new_checked(&[0x02, 0x21][..]).map(|f| f.protocol()), Ok(Protocol::from(0x0221)));
        assert_eq!(Frame::new_checked(&[0x03, 0x21][..]).map(|f| f.protocol()), Ok(Protocol::from(0x03)));
        assert_eq!(Frame::new_checked(&[0x00, 0x21][..]).map(|f| f.protocol()), Ok(Protocol::Ipv4));
        assert_eq!(Frame::new_checked(&[0x01, 0x00][..]).map(|f| f.protocol()), Ok(Protocol::from(1)));
        let bad = Repr { address_control: false, protocol: Protocol::from(0x0100), compress_protocol: false };
        assert_eq!(bad.emit(&mut [0u8; 4]), Err(WireError::BadPpp));
        let ok = Repr { address_control: true, protocol: Protocol::Ipv6, compress_protocol: false };
        assert_eq!(ok.emit(&mut [0u8; 3]), Err(WireError::Truncated));
        assert!(!Protocol::from(0x0121).is_valid() && Protocol::from(0x0221).is_valid());
    }

    #[test]
    fn cisco_hdlc() {
        // Unicast IPv4, as in a router's serial-link capture, then one payload byte.
        let bytes = [0x0f, 0x00, 0x08, 0x00, 0x45];
        let f = CiscoHdlc::new_checked(&bytes[..]).unwrap();
        assert_eq!((f.address(), f.control(), f.protocol()), (0x0f, 0, 0x0800));
        assert_eq!(f.payload(), &[0x45]);
        let repr = CiscoHdlcRepr::parse(&f).unwrap();
        assert_eq!(repr, CiscoHdlcRepr { broadcast: false, protocol: 0x0800 });
        let mut out = [0u8; 5];
        repr.emit(&mut out).unwrap();
        out[4] = 0x45;
        assert_eq!(out, bytes);
        let slarp = CiscoHdlcRepr { broadcast: true, protocol: 0x8035 };
        slarp.emit(&mut out).unwrap();
        assert_eq!(&out[..4], &[0x8f, 0x00, 0x80, 0x35]);
        for len in 0..CHDLC_HEADER_LEN {
            assert_eq!(CiscoHdlc::new_checked(&bytes[..len]), Err(WireError::Truncated));
        }
        assert_eq!(slarp.emit(&mut [0u8; 3]), Err(WireError::Truncated));
    }
}
