//! IPv4 header (RFC 791), options and fragmentation fields included.
//!
//! Contract: after [`Packet::new_checked`] no accessor panics: the buffer holds at least the
//! total length the header claims, the header length is at least 20 and at most the total length.
//! [`Packet::payload`] is `header_len..total_len`, so Ethernet padding after the datagram is never
//! payload. Fragment offsets are in bytes (the field is in 8-byte units).

use core::net::Ipv4Addr;

use crate::checksum;
use crate::error::WireError;
use crate::field::{be16, put16};
use crate::ip::IpProtocol;

mod field {
    use crate::field::Field;
    pub(crate) const VER_IHL: usize = 0;
    pub(crate) const DSCP_ECN: usize = 1;
    pub(crate) const LENGTH: Field = 2..4;
    pub(crate) const IDENT: Field = 4..6;
    pub(crate) const FLG_OFF: Field = 6..8;
    pub(crate) const TTL: usize = 8;
    pub(crate) const PROTOCOL: usize = 9;
    pub(crate) const CHECKSUM: Field = 10..12;
    pub(crate) const SRC_ADDR: Field = 12..16;
    pub(crate) const DST_ADDR: Field = 16..20;
}

/// Length of the header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

buffer_view! {
    /// A read/write view of an IPv4 packet.
    pub struct Packet;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Ensures every accessor is in bounds. Checks, in order:
    ///
    /// # Errors
    /// * [`WireError::Truncated`]: fewer than 20 bytes;
    /// * [`WireError::BadIpVersion`]: version is not 4;
    /// * [`WireError::BadIpHeaderLength`]: header length below 20;
    /// * [`WireError::BadIpTotalLength`]: total length below 20;
    /// * [`WireError::BadIpHeaderLength`]: header length above the total length;
    /// * [`WireError::Truncated`]: the buffer is shorter than the total length.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.version() != 4 {
            return Err(WireError::BadIpVersion);
        }
        let header_len = usize::from(self.header_len());
        let total_len = usize::from(self.total_len());
        if header_len < HEADER_LEN {
            Err(WireError::BadIpHeaderLength)
        } else if total_len < HEADER_LEN {
            Err(WireError::BadIpTotalLength)
        } else if header_len > total_len {
            Err(WireError::BadIpHeaderLength)
        } else if len < total_len {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    /// Version field (4 for a valid packet).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point (6 bits).
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification (2 bits).
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length: header plus payload, in bytes.
    pub fn total_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::IDENT])
    }

    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FLG_OFF]) & FLAG_DF != 0
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        be16(&self.buffer.as_ref()[field::FLG_OFF]) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (0..=65528).
    pub fn frag_offset(&self) -> u16 {
        (be16(&self.buffer.as_ref()[field::FLG_OFF]) & OFFSET_MASK) * 8
    }

    /// True if the packet is a fragment (more fragments follow, or the offset is not zero).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol::from(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Option bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// True if the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(&self.buffer.as_ref()[..usize::from(self.header_len())]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Bytes from the end of the header to the total length (padding excluded).
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn data_mut(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the version nibble.
    pub fn set_version(&mut self, version: u8) {
        let b = &mut self.data_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (version << 4);
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.data_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    /// Sets the DSCP (low 6 bits) without touching the checksum; see
    /// [`rewrite_dscp`](Self::rewrite_dscp).
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = &mut self.data_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (dscp << 2);
    }

    /// Sets the ECN bits (low 2 bits).
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = &mut self.data_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (ecn & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, len: u16) {
        put16(&mut self.data_mut()[field::LENGTH], len);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, ident: u16) {
        put16(&mut self.data_mut()[field::IDENT], ident);
    }

    fn set_flg_off(&mut self, mask: u16, value: u16) {
        let range = field::FLG_OFF;
        let old = be16(&self.data_mut()[range.clone()]);
        put16(&mut self.data_mut()[range], (old & !mask) | (value & mask));
    }

    /// Sets the don't-fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flg_off(FLAG_DF, if value { FLAG_DF } else { 0 });
    }

    /// Sets the more-fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flg_off(FLAG_MF, if value { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (rounded down to a multiple of 8).
    pub fn set_frag_offset(&mut self, offset: u16) {
        self.set_flg_off(OFFSET_MASK, offset / 8);
    }

    /// Sets the time to live.
    pub fn set_hop_limit(&mut self, ttl: u8) {
        self.data_mut()[field::TTL] = ttl;
    }

    /// Sets the protocol.
    pub fn set_next_header(&mut self, protocol: IpProtocol) {
        self.data_mut()[field::PROTOCOL] = protocol.into();
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(&mut self.data_mut()[field::CHECKSUM], value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.data_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.data_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Computes and stores the header checksum over `header_len` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = usize::from(self.header_len());
        let sum = checksum::checksum(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(sum);
    }

    /// Rewrites the DSCP in place and patches the checksum incrementally (RFC 1624), touching
    /// only the two bytes that change: the marking action on the forwarding path.
    pub fn rewrite_dscp(&mut self, dscp: u8) {
        let word = 0..2;
        let old = be16(&self.buffer.as_ref()[word.clone()]);
        self.set_dscp(dscp);
        let new = be16(&self.buffer.as_ref()[word]);
        let sum = checksum::update(self.checksum(), old, new);
        self.set_checksum(sum);
    }

    /// Mutable payload (header end to total length).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = usize::from(self.header_len())..usize::from(self.total_len());
        &mut self.data_mut()[range]
    }
}

/// An IPv4 header as plain values. Emits a 20-byte header (no options); parsing skips options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub next_header: IpProtocol,
    /// Payload length in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub hop_limit: u8,
    /// DSCP (6 bits).
    pub dscp: u8,
    /// ECN (2 bits).
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't-fragment flag.
    pub dont_frag: bool,
    /// More-fragments flag.
    pub more_frags: bool,
    /// Fragment offset in bytes; must be a multiple of 8 to emit.
    pub frag_offset: u16,
}

impl Repr {
    /// Reads the header of a packet.
    ///
    /// # Errors
    /// As [`Packet::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, WireError> {
        packet.check_len()?;
        Ok(Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            hop_limit: packet.hop_limit(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// Header length this repr emits (20).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (checksum filled) into the start of `packet`. The payload is the
    /// caller's to write.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for a buffer under 20 bytes, [`WireError::BadIpTotalLength`] if
    /// the payload does not fit a 16-bit total length, [`WireError::BadFragment`] for an offset
    /// that is not a multiple of 8.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), WireError> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let total = u16::try_from(HEADER_LEN + self.payload_len).map_err(|_| WireError::BadIpTotalLength)?;
        if !self.frag_offset.is_multiple_of(8) {
            return Err(WireError::BadFragment);
        }
        let data = packet.data_mut();
        data[field::VER_IHL] = 0x45;
        data[field::DSCP_ECN] = (self.dscp << 2) | (self.ecn & 0x03);
        put16(&mut data[field::FLG_OFF], 0);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_dont_frag(self.dont_frag);
        packet.set_more_frags(self.more_frags);
        packet.set_frag_offset(self.frag_offset);
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // 198.18.0.1 -> 198.18.0.2, UDP, TTL 64, DSCP 46 (EF), ECN 1, id 0x1234, DF, 4 payload bytes.
    static PACKET_BYTES: [u8; 24] = [
        0x45, 0xb9, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 198, 18, 0, 1, 198, 18, 0, 2, 0xaa,
        0xbb, 0xcc, 0xdd,
    ];

    fn packet_bytes() -> [u8; 24] {
        let mut b = PACKET_BYTES;
        let sum = checksum::checksum(&b[..20]);
        b[10..12].copy_from_slice(&sum.to_be_bytes());
        b
    }

    fn repr() -> Repr {
        Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 1),
            dst_addr: Ipv4Addr::new(198, 18, 0, 2),
            next_header: IpProtocol::Udp,
            payload_len: 4,
            hop_limit: 64,
            dscp: 46,
            ecn: 1,
            ident: 0x1234,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let bytes = packet_bytes();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!((p.version(), p.header_len(), p.total_len()), (4, 20, 24));
        assert_eq!((p.dscp(), p.ecn()), (46, 1));
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.next_header(), IpProtocol::Udp);
        assert!(p.verify_checksum());
        assert_eq!(p.options(), &[] as &[u8]);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn construct() {
        let mut bytes = [0xffu8; 24];
        bytes[20..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        repr().emit(&mut Packet::new_unchecked(&mut bytes[..])).unwrap();
        assert_eq!(bytes, packet_bytes());
    }

    #[test]
    fn padding_is_not_payload() {
        let mut bytes = packet_bytes().to_vec();
        bytes.extend_from_slice(&[0; 18]);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn options_and_fragments() {
        // IHL 6 (one NOP,NOP,NOP,EOL option word), MF set, offset 1480 bytes.
        let mut bytes = [0u8; 28];
        bytes[..20].copy_from_slice(&packet_bytes()[..20]);
        bytes[0] = 0x46;
        bytes[2..4].copy_from_slice(&28u16.to_be_bytes());
        bytes[6..8].copy_from_slice(&(0x2000u16 | 185).to_be_bytes());
        bytes[20..24].copy_from_slice(&[1, 1, 1, 0]);
        bytes[24..].copy_from_slice(&[9, 8, 7, 6]);
        let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
        p.fill_checksum();
        assert!(p.verify_checksum());
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!(p.payload(), &[9, 8, 7, 6]);
        let r = Repr::parse(&p).unwrap();
        assert_eq!((r.payload_len, r.frag_offset, r.more_frags), (4, 1480, true));
    }

    #[test]
    fn rewrite_dscp_keeps_checksum_valid() {
        let mut bytes = packet_bytes();
        for dscp in 0..64 {
            let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
            p.rewrite_dscp(dscp);
            assert_eq!(p.dscp(), dscp);
            assert_eq!(p.ecn(), 1, "ECN must survive a DSCP rewrite");
            assert!(p.verify_checksum(), "dscp {dscp}");
            let incremental = p.checksum();
            p.fill_checksum();
            assert_eq!(p.checksum(), incremental);
        }
    }

    macro_rules! malformed {
        ($($name:ident: $edit:expr, $len:expr => $err:expr;)*) => {$(
            #[test]
            fn $name() {
                let mut bytes = packet_bytes();
                ($edit)(&mut bytes);
                assert_eq!(Packet::new_checked(&bytes[..$len]), Err($err));
            }
        )*};
    }

    malformed! {
        short_header: |_b: &mut [u8; 24]| {}, 19 => WireError::Truncated;
        short_of_total_len: |_b: &mut [u8; 24]| {}, 23 => WireError::Truncated;
        version_6: |b: &mut [u8; 24]| b[0] = 0x65, 24 => WireError::BadIpVersion;
        ihl_4: |b: &mut [u8; 24]| b[0] = 0x44, 24 => WireError::BadIpHeaderLength;
        ihl_0: |b: &mut [u8; 24]| b[0] = 0x40, 24 => WireError::BadIpHeaderLength;
        ihl_above_total: |b: &mut [u8; 24]| b[0] = 0x47, 24 => WireError::BadIpHeaderLength;
        total_below_20: |b: &mut [u8; 24]| b[3] = 19, 24 => WireError::BadIpTotalLength;
        total_zero: |b: &mut [u8; 24]| b[3] = 0, 24 => WireError::BadIpTotalLength;
        total_above_buffer: |b: &mut [u8; 24]| b[3] = 25, 24 => WireError::Truncated;
    }

    #[test]
    fn emit_errors() {
        let mut small = [0u8; 19];
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut small[..])), Err(WireError::Truncated));
        let mut bytes = [0u8; 20];
        let big = Repr { payload_len: 65_516, ..repr() };
        assert_eq!(big.emit(&mut Packet::new_unchecked(&mut bytes[..])), Err(WireError::BadIpTotalLength));
        let odd = Repr { frag_offset: 12, ..repr() };
        assert_eq!(odd.emit(&mut Packet::new_unchecked(&mut bytes[..])), Err(WireError::BadFragment));
    }
}
