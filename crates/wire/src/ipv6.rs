//! IPv6 fixed header (RFC 8200) and the extension headers `parse_frame` walks: hop-by-hop,
//! routing, fragment, destination options (all `(len + 1) × 8` bytes) and AH (`(len + 2) × 4`
//! bytes, RFC 4302).
//!
//! Contract: after [`Packet::new_checked`] no accessor panics and the buffer holds the
//! `40 + payload_len` bytes the header claims; [`Packet::payload`] stops there, so padding is never
//! payload. Extension header views check against the rest of the *IP payload*, so a header that
//! does not fit is malformed ([`WireError::BadExtensionHeader`]), not truncated.

use core::net::Ipv6Addr;

use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};
use crate::ip::{Fragment, IpProtocol};

/// Most extension headers [`walk_extension_headers`] (and so `parse_frame`) accepts in one packet;
/// one more is [`WireError::TooManyExtensionHeaders`].
pub const MAX_EXTENSION_HEADERS: u8 = 8;

mod field {
    use crate::field::Field;
    pub(crate) const VER_TC_FLOW: Field = 0..4;
    pub(crate) const LENGTH: Field = 4..6;
    pub(crate) const NXT_HDR: usize = 6;
    pub(crate) const HOP_LIMIT: usize = 7;
    pub(crate) const SRC_ADDR: Field = 8..24;
    pub(crate) const DST_ADDR: Field = 24..40;

    // Extension headers.
    pub(crate) const EXT_NXT_HDR: usize = 0;
    pub(crate) const EXT_LEN: usize = 1;
    // Fragment header.
    pub(crate) const FRAG_OFF_M: Field = 2..4;
    pub(crate) const FRAG_IDENT: Field = 4..8;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Length of the fragment header.
pub const FRAG_HEADER_LEN: usize = 8;

/// A read/write view of an IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn octets16(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    ///
    /// # Errors
    /// As [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, WireError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 40 bytes or fewer than `40 + payload_len`;
    /// [`WireError::BadIpVersion`] if the version is not 6.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            Err(WireError::Truncated)
        } else if self.version() != 6 {
            Err(WireError::BadIpVersion)
        } else if len < self.total_len() {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::VER_TC_FLOW])
    }

    /// Version field (6 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// DSCP (upper 6 bits of the traffic class).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// ECN (lower 2 bits of the traffic class).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000f_ffff
    }

    /// Payload length (everything after the fixed header, extension headers included).
    pub fn payload_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// `40 + payload_len`: the bytes the packet occupies.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + usize::from(self.payload_len())
    }

    /// Next header after the fixed header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        octets16(&self.buffer.as_ref()[field::SRC_ADDR])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        octets16(&self.buffer.as_ref()[field::DST_ADDR])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Bytes `40..40 + payload_len` (extension headers included, padding excluded).
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_ver_tc_flow(&mut self, value: u32) {
        put32(&mut self.buffer.as_mut()[field::VER_TC_FLOW], value);
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let v = self.ver_tc_flow();
        self.set_ver_tc_flow((v & 0x0fff_ffff) | (u32::from(version & 0x0f) << 28));
    }

    /// Sets the traffic class. IPv6 has no header checksum, so this is the whole DSCP rewrite.
    pub fn set_traffic_class(&mut self, tc: u8) {
        let v = self.ver_tc_flow();
        self.set_ver_tc_flow((v & 0xf00f_ffff) | (u32::from(tc) << 20));
    }

    /// Sets the DSCP, keeping the ECN bits.
    pub fn set_dscp(&mut self, dscp: u8) {
        let tc = (self.traffic_class() & 0x03) | (dscp << 2);
        self.set_traffic_class(tc);
    }

    /// Sets the flow label (low 20 bits).
    pub fn set_flow_label(&mut self, label: u32) {
        let v = self.ver_tc_flow();
        self.set_ver_tc_flow((v & 0xfff0_0000) | (label & 0x000f_ffff));
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, len: u16) {
        put16(&mut self.buffer.as_mut()[field::LENGTH], len);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, next: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = next.into();
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Mutable payload (`40..40 + payload_len`).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The IPv6 fixed header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// Next header after the fixed header.
    pub next_header: IpProtocol,
    /// Payload length (extension headers included).
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class (DSCP << 2 | ECN).
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Repr {
    /// Reads the fixed header.
    ///
    /// # Errors
    /// As [`Packet::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, WireError> {
        packet.check_len()?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Header length this repr emits (40).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header into the start of `packet`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 40 bytes; [`WireError::BadIpTotalLength`] for
    /// a payload length above 65535 (jumbograms are not supported).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), WireError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = u16::try_from(self.payload_len).map_err(|_| WireError::BadIpTotalLength)?;
        packet.set_ver_tc_flow((6 << 28) | (u32::from(self.traffic_class) << 20) | (self.flow_label & 0x000f_ffff));
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

/// Length in bytes of a generic extension header of `kind` whose length field is `len_field`.
fn ext_header_len(kind: IpProtocol, len_field: u8) -> usize {
    if kind == IpProtocol::Ah {
        (usize::from(len_field) + 2) * 4
    } else if kind == IpProtocol::Ipv6Frag {
        FRAG_HEADER_LEN
    } else {
        (usize::from(len_field) + 1) * 8
    }
}

/// A view of one generic IPv6 extension header (hop-by-hop, routing, destination options, AH):
/// next header, length, and opaque data. The kind is needed to read the length (AH counts 4-byte
/// words minus 2, the others 8-byte words minus 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
    kind: IpProtocol,
}

impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Wraps a buffer holding a header of `kind` without checks.
    pub const fn new_unchecked(buffer: T, kind: IpProtocol) -> ExtHeader<T> {
        ExtHeader { buffer, kind }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    ///
    /// # Errors
    /// As [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T, kind: IpProtocol) -> Result<ExtHeader<T>, WireError> {
        let h = Self::new_unchecked(buffer, kind);
        h.check_len()?;
        Ok(h)
    }

    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::BadExtensionHeader`] if the buffer (the rest of the IP payload) is shorter than
    /// 8 bytes or than the header's own length.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < 8 || len < self.header_len() { Err(WireError::BadExtensionHeader) } else { Ok(()) }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Which extension header this is.
    pub fn kind(&self) -> IpProtocol {
        self.kind
    }

    /// Next header.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::EXT_NXT_HDR])
    }

    /// Raw length field.
    pub fn len_field(&self) -> u8 {
        self.buffer.as_ref()[field::EXT_LEN]
    }

    /// Header length in bytes, by its kind's rule.
    pub fn header_len(&self) -> usize {
        ext_header_len(self.kind, self.len_field())
    }

    /// Bytes after the next-header and length fields, up to the header's end (options, routing
    /// data, or AH's SPI/sequence/ICV).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[2..self.header_len()]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtHeader<&'a T> {
    /// Bytes after this header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

/// A generic extension header as plain values, for building packets. Its data bytes are emitted
/// as zeros: for hop-by-hop and destination options that is a run of Pad1 options, for routing a
/// type-0 header with no segments left, for AH an all-zero SPI, sequence and ICV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeaderRepr {
    /// Which header: HopByHop, Ipv6Route, Ipv6Opts or Ah.
    pub kind: IpProtocol,
    /// Next header after this one.
    pub next_header: IpProtocol,
    /// Raw length field (see [`ExtHeader::header_len`]).
    pub len_field: u8,
}

impl ExtHeaderRepr {
    /// Reads a generic extension header.
    ///
    /// # Errors
    /// As [`ExtHeader::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &ExtHeader<&T>) -> Result<ExtHeaderRepr, WireError> {
        h.check_len()?;
        Ok(ExtHeaderRepr { kind: h.kind(), next_header: h.next_header(), len_field: h.len_field() })
    }

    /// Bytes this repr emits.
    pub fn buffer_len(&self) -> usize {
        ext_header_len(self.kind, self.len_field)
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::BadExtensionHeader`] if `kind` is not a generic extension header (use
    /// [`FragRepr`] for fragments) or the buffer is too short.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let generic = [IpProtocol::HopByHop, IpProtocol::Ipv6Route, IpProtocol::Ipv6Opts, IpProtocol::Ah];
        if !generic.contains(&self.kind) {
            return Err(WireError::BadExtensionHeader);
        }
        let out = buffer.get_mut(..self.buffer_len()).ok_or(WireError::BadExtensionHeader)?;
        out.fill(0);
        out[field::EXT_NXT_HDR] = self.next_header.into();
        out[field::EXT_LEN] = self.len_field;
        Ok(())
    }
}

/// A view of the IPv6 fragment header (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FragHeader<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> FragHeader<T> {
        FragHeader { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len).
    ///
    /// # Errors
    /// As [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<FragHeader<T>, WireError> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::BadExtensionHeader`] if fewer than 8 bytes remain in the IP payload.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < FRAG_HEADER_LEN { Err(WireError::BadExtensionHeader) } else { Ok(()) }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Next header (of the fragmentable part).
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::EXT_NXT_HDR])
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FRAG_OFF_M]) & 0xfff8
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FRAG_OFF_M]) & 0x0001 != 0
    }

    /// Identification.
    pub fn ident(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::FRAG_IDENT])
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> FragHeader<&'a T> {
    /// Bytes after the fragment header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[FRAG_HEADER_LEN..]
    }
}

/// The fragment header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragRepr {
    /// Next header of the fragmentable part.
    pub next_header: IpProtocol,
    /// Offset in bytes; must be a multiple of 8 to emit.
    pub frag_offset: u16,
    /// More-fragments flag.
    pub more_frags: bool,
    /// Identification.
    pub ident: u32,
}

impl FragRepr {
    /// Reads a fragment header.
    ///
    /// # Errors
    /// As [`FragHeader::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &FragHeader<&T>) -> Result<FragRepr, WireError> {
        h.check_len()?;
        Ok(FragRepr {
            next_header: h.next_header(),
            frag_offset: h.frag_offset(),
            more_frags: h.more_frags(),
            ident: h.ident(),
        })
    }

    /// Bytes this repr emits (8).
    pub const fn buffer_len(&self) -> usize {
        FRAG_HEADER_LEN
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::BadExtensionHeader`] for a buffer under 8 bytes; [`WireError::BadFragment`]
    /// for an offset that is not a multiple of 8.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..FRAG_HEADER_LEN).ok_or(WireError::BadExtensionHeader)?;
        if !self.frag_offset.is_multiple_of(8) {
            return Err(WireError::BadFragment);
        }
        out[field::EXT_NXT_HDR] = self.next_header.into();
        out[1] = 0;
        put16(&mut out[field::FRAG_OFF_M], self.frag_offset | u16::from(self.more_frags));
        put32(&mut out[field::FRAG_IDENT], self.ident);
        Ok(())
    }
}

/// What [`walk_extension_headers`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderChain<'a> {
    /// The upper-layer protocol: the first next-header value that is not a walked extension
    /// header (ESP and "no next header" end the walk too), or, for a non-first fragment, the
    /// fragment header's next header.
    pub protocol: IpProtocol,
    /// Fragment header information, if there was one.
    pub fragment: Option<Fragment>,
    /// Number of extension headers walked.
    pub count: u8,
    /// Bytes of extension headers walked.
    pub headers_len: usize,
    /// Bytes after the last walked header (for a non-first fragment: the fragment data).
    pub payload: &'a [u8],
}

/// Walks the extension headers of an IPv6 payload, starting with `next_header` from the fixed
/// header. Stops at the first protocol that is not an extension header, after a fragment header
/// with a non-zero offset (what follows is fragment data), or at ESP / no-next-header.
///
/// # Errors
/// [`WireError::TooManyExtensionHeaders`] past [`MAX_EXTENSION_HEADERS`];
/// [`WireError::BadExtensionHeader`] for a header that overruns the payload, a hop-by-hop header
/// that is not first, or a second fragment header.
pub fn walk_extension_headers(next_header: IpProtocol, payload: &[u8]) -> Result<HeaderChain<'_>, WireError> {
    // Normalise so a hand-built `Unknown(0)` is walked as hop-by-hop.
    let mut protocol = IpProtocol::from(u8::from(next_header));
    let mut rest = payload;
    let mut count: u8 = 0;
    let mut fragment = None;
    loop {
        match protocol {
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts | IpProtocol::Ah => {
                if protocol == IpProtocol::HopByHop && count != 0 {
                    return Err(WireError::BadExtensionHeader);
                }
                if count >= MAX_EXTENSION_HEADERS {
                    return Err(WireError::TooManyExtensionHeaders);
                }
                count += 1;
                let h = ExtHeader::new_checked(rest, protocol)?;
                protocol = h.next_header();
                rest = h.payload();
            }
            IpProtocol::Ipv6Frag => {
                if count >= MAX_EXTENSION_HEADERS {
                    return Err(WireError::TooManyExtensionHeaders);
                }
                if fragment.is_some() {
                    return Err(WireError::BadExtensionHeader);
                }
                count += 1;
                let h = FragHeader::new_checked(rest)?;
                let info = Fragment { id: h.ident(), offset: h.frag_offset(), more: h.more_frags() };
                fragment = Some(info);
                protocol = h.next_header();
                rest = h.payload();
                if info.offset != 0 {
                    break;
                }
            }
            _ => break,
        }
    }
    Ok(HeaderChain { protocol, fragment, count, headers_len: payload.len() - rest.len(), payload: rest })
}

#[cfg(test)]
mod test {
    use super::*;

    fn src() -> Ipv6Addr {
        "2001:2::1".parse().unwrap()
    }
    fn dst() -> Ipv6Addr {
        "2001:2::2".parse().unwrap()
    }

    // 2001:2::1 -> 2001:2::2, TC 0xb8 (DSCP 46), flow 0x12345, hop-by-hop (8 bytes of Pad1) then
    // UDP, 4 bytes of UDP after it, hop limit 64.
    static PACKET_BYTES: [u8; 52] = [
        0x6b, 0x81, 0x23, 0x45, 0x00, 0x0c, 0x00, 0x40, 0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    fn repr() -> Repr {
        Repr {
            src_addr: src(),
            dst_addr: dst(),
            next_header: IpProtocol::HopByHop,
            payload_len: 12,
            hop_limit: 64,
            traffic_class: 0xb8,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!((p.traffic_class(), p.dscp(), p.ecn()), (0xb8, 46, 0));
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!((p.payload_len(), p.total_len()), (12, 52));
        assert_eq!(p.next_header(), IpProtocol::HopByHop);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!((p.src_addr(), p.dst_addr()), (src(), dst()));
        assert_eq!(Repr::parse(&p).unwrap(), repr());
        let chain = walk_extension_headers(p.next_header(), p.payload()).unwrap();
        assert_eq!(chain.protocol, IpProtocol::Udp);
        assert_eq!((chain.count, chain.headers_len), (1, 8));
        assert_eq!(chain.fragment, None);
        assert_eq!(chain.payload, &[0xaa, 0xbb, 0xcc, 0xdd]);
        let h = ExtHeader::new_checked(p.payload(), IpProtocol::HopByHop).unwrap();
        assert_eq!(h.data(), &[0; 6]);
        assert_eq!(
            ExtHeaderRepr::parse(&h).unwrap(),
            ExtHeaderRepr { kind: IpProtocol::HopByHop, next_header: IpProtocol::Udp, len_field: 0 }
        );
    }

    #[test]
    fn construct() {
        let mut bytes = [0xffu8; 52];
        repr().emit(&mut Packet::new_unchecked(&mut bytes[..])).unwrap();
        let ext = ExtHeaderRepr { kind: IpProtocol::HopByHop, next_header: IpProtocol::Udp, len_field: 0 };
        ext.emit(&mut bytes[40..]).unwrap();
        bytes[48..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn setters() {
        let mut bytes = PACKET_BYTES;
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.set_dscp(10);
        assert_eq!((p.dscp(), p.ecn(), p.flow_label(), p.version()), (10, 0, 0x12345, 6));
        p.set_flow_label(0xfffff);
        p.set_traffic_class(0x03);
        assert_eq!((p.dscp(), p.ecn(), p.flow_label(), p.version()), (0, 3, 0xfffff, 6));
        p.payload_mut()[8] = 1;
        assert_eq!(bytes[48], 1);
    }

    #[test]
    fn fragment_header_round_trip() {
        let repr = FragRepr { next_header: IpProtocol::Udp, frag_offset: 1448, more_frags: true, ident: 0xdeadbeef };
        let mut b = [0u8; 8];
        repr.emit(&mut b).unwrap();
        assert_eq!(b, [17, 0, 0x05, 0xa9, 0xde, 0xad, 0xbe, 0xef]);
        let h = FragHeader::new_checked(&b[..]).unwrap();
        assert_eq!(FragRepr::parse(&h).unwrap(), repr);
        assert_eq!(FragRepr { frag_offset: 3, ..repr }.emit(&mut b), Err(WireError::BadFragment));
        assert_eq!(repr.emit(&mut b[..7]), Err(WireError::BadExtensionHeader));
    }

    #[test]
    fn ah_length_rule() {
        // AH with len 4: (4 + 2) * 4 = 24 bytes.
        let mut b = [0u8; 30];
        ExtHeaderRepr { kind: IpProtocol::Ah, next_header: IpProtocol::Tcp, len_field: 4 }.emit(&mut b).unwrap();
        let chain = walk_extension_headers(IpProtocol::Ah, &b).unwrap();
        assert_eq!((chain.protocol, chain.headers_len, chain.payload.len()), (IpProtocol::Tcp, 24, 6));
        assert_eq!(
            ExtHeaderRepr { kind: IpProtocol::Tcp, next_header: IpProtocol::Tcp, len_field: 0 }.emit(&mut b),
            Err(WireError::BadExtensionHeader)
        );
    }

    #[test]
    fn non_first_fragment_stops_the_walk() {
        let mut b = [0u8; 24];
        FragRepr { next_header: IpProtocol::Ipv6Opts, frag_offset: 8, more_frags: false, ident: 7 }
            .emit(&mut b)
            .unwrap();
        // What follows looks like garbage options: it is fragment data and must not be walked.
        b[9] = 0xff;
        let chain = walk_extension_headers(IpProtocol::Ipv6Frag, &b).unwrap();
        assert_eq!(chain.protocol, IpProtocol::Ipv6Opts);
        assert_eq!(chain.fragment, Some(Fragment { id: 7, offset: 8, more: false }));
        assert_eq!(chain.payload.len(), 16);
    }

    /// Chains of `n` destination-options headers ending in TCP.
    fn opts_chain(n: usize) -> Vec<u8> {
        let mut b = vec![0u8; n * 8];
        for i in 0..n {
            let next = if i + 1 == n { IpProtocol::Tcp } else { IpProtocol::Ipv6Opts };
            ExtHeaderRepr { kind: IpProtocol::Ipv6Opts, next_header: next, len_field: 0 }
                .emit(&mut b[i * 8..])
                .unwrap();
        }
        b
    }

    #[test]
    fn malformed_chains() {
        let eight = opts_chain(8);
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Opts, &eight).unwrap().count, 8);
        let nine = opts_chain(9);
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Opts, &nine), Err(WireError::TooManyExtensionHeaders));
        // Overrun: the header claims 16 bytes, 8 remain.
        let mut over = opts_chain(1);
        over[1] = 1;
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Opts, &over), Err(WireError::BadExtensionHeader));
        // Fewer than 8 bytes.
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Route, &[6, 0, 0]), Err(WireError::BadExtensionHeader));
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Frag, &[6, 0, 0]), Err(WireError::BadExtensionHeader));
        // Hop-by-hop after another header.
        let mut late = opts_chain(2);
        late[0] = 0;
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Opts, &late), Err(WireError::BadExtensionHeader));
        // Two fragment headers.
        let mut two = [0u8; 16];
        FragRepr { next_header: IpProtocol::Ipv6Frag, frag_offset: 0, more_frags: true, ident: 1 }
            .emit(&mut two)
            .unwrap();
        FragRepr { next_header: IpProtocol::Udp, frag_offset: 0, more_frags: true, ident: 1 }
            .emit(&mut two[8..])
            .unwrap();
        assert_eq!(walk_extension_headers(IpProtocol::Ipv6Frag, &two), Err(WireError::BadExtensionHeader));
        // ESP and no-next-header end the walk with their bytes as payload.
        let esp = walk_extension_headers(IpProtocol::Esp, &[1, 2, 3]).unwrap();
        assert_eq!((esp.protocol, esp.count, esp.payload.len()), (IpProtocol::Esp, 0, 3));
    }

    #[test]
    fn check_len_errors() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&PACKET_BYTES[..len]), Err(WireError::Truncated));
        }
        assert_eq!(Packet::new_checked(&PACKET_BYTES[..51]), Err(WireError::Truncated));
        let mut v4 = PACKET_BYTES;
        v4[0] = 0x4b;
        assert_eq!(Packet::new_checked(&v4[..]), Err(WireError::BadIpVersion));
        let mut padded = PACKET_BYTES.to_vec();
        padded.extend_from_slice(&[0xee; 6]);
        assert_eq!(Packet::new_checked(&padded[..]).unwrap().payload().len(), 12);
        let big = Repr { payload_len: 65_536, ..repr() };
        let mut b = [0u8; 40];
        assert_eq!(big.emit(&mut Packet::new_unchecked(&mut b[..])), Err(WireError::BadIpTotalLength));
    }
}
