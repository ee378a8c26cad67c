//! TCP header (RFC 9293). Options are exposed as raw bytes and otherwise skipped.
//!
//! Contract: after [`Packet::new_checked`] no accessor panics: the data offset is at least 5
//! words and within the buffer. The buffer is the whole segment (IP payload), so
//! [`Packet::payload`] is everything after the header.

use core::net::IpAddr;

use crate::checksum;
use crate::error::WireError;
use crate::field::{be16, be32, put16, put32};
use crate::ip::IpProtocol;

/// TCP flag bits (the low byte of the flags field; the NS/AE bit is not included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
#[repr(transparent)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN-echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any bit of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// True if no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl core::ops::BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

mod field {
    use crate::field::Field;
    pub(crate) const SRC_PORT: Field = 0..2;
    pub(crate) const DST_PORT: Field = 2..4;
    pub(crate) const SEQ_NUM: Field = 4..8;
    pub(crate) const ACK_NUM: Field = 8..12;
    pub(crate) const DATA_OFF: usize = 12;
    pub(crate) const FLAGS: usize = 13;
    pub(crate) const WIN_SIZE: Field = 14..16;
    pub(crate) const CHECKSUM: Field = 16..18;
    pub(crate) const URGENT: Field = 18..20;
}

/// Length of the header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// Longest header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

buffer_view! {
    /// A read/write view of a TCP segment.
    pub struct Packet;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] for fewer than 20 bytes; [`WireError::BadTcpHeaderLength`] for a
    /// data offset below 5 words or beyond the segment.
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN || header_len > len { Err(WireError::BadTcpHeaderLength) } else { Ok(()) }
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::SEQ_NUM])
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::ACK_NUM])
    }

    /// Header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// Flags (CWR ECE URG ACK PSH RST SYN FIN).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window size.
    pub fn window_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::WIN_SIZE])
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::URGENT])
    }

    /// Option bytes (between the fixed header and the data).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Segment length (header and data): the length in the pseudo-header.
    pub fn segment_len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    /// True if the checksum over the pseudo-header and the whole segment is correct.
    pub fn verify_checksum(&self, src: &IpAddr, dst: &IpAddr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else { return false };
        checksum::combine(&[checksum::pseudo_header(src, dst, IpProtocol::Tcp, len), checksum::data(data)]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// Data after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..]
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

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, seq: u32) {
        put32(&mut self.buffer.as_mut()[field::SEQ_NUM], seq);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, ack: u32) {
        put32(&mut self.buffer.as_mut()[field::ACK_NUM], ack);
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4, at most 60); clears the
    /// reserved bits.
    pub fn set_header_len(&mut self, len: u8) {
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) & 0x0f) << 4;
    }

    /// Sets the flags.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the window size.
    pub fn set_window_len(&mut self, win: u16) {
        put16(&mut self.buffer.as_mut()[field::WIN_SIZE], win);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::CHECKSUM], value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        put16(&mut self.buffer.as_mut()[field::URGENT], value);
    }

    /// Mutable option bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Mutable data after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes and stores the checksum over the pseudo-header and the whole buffer, which must
    /// be exactly the segment (header and data).
    pub fn fill_checksum(&mut self, src: &IpAddr, dst: &IpAddr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let sum = !checksum::combine(&[checksum::pseudo_header(src, dst, IpProtocol::Tcp, len), checksum::data(data)]);
        self.set_checksum(sum);
    }
}

/// A TCP header as plain values; options borrowed as raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgment number.
    pub ack_number: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Window size.
    pub window_len: u16,
    /// Urgent pointer.
    pub urgent_at: u16,
    /// Raw option bytes: a multiple of 4, at most 40.
    pub options: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Reads the header of a segment.
    ///
    /// # Errors
    /// As [`Packet::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>, WireError> {
        packet.check_len()?;
        let data: &'a [u8] = packet.buffer.as_ref();
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            flags: packet.flags(),
            window_len: packet.window_len(),
            urgent_at: packet.urgent_at(),
            options: &data[HEADER_LEN..usize::from(packet.header_len())],
        })
    }

    /// Header length this repr emits: 20 plus the options.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Same as [`header_len`](Self::header_len): the bytes [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the header, options included, with a zero checksum; write the data, then call
    /// [`Packet::fill_checksum`].
    ///
    /// # Errors
    /// [`WireError::BadTcpHeaderLength`] if the options are not a multiple of 4 or longer than
    /// 40; [`WireError::Truncated`] if the buffer is shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), WireError> {
        let header_len = self.header_len();
        if !self.options.len().is_multiple_of(4) || header_len > MAX_HEADER_LEN {
            return Err(WireError::BadTcpHeaderLength);
        }
        if packet.buffer.as_ref().len() < header_len {
            return Err(WireError::Truncated);
        }
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        // header_len <= 60 was checked above.
        packet.set_header_len(header_len as u8);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window_len);
        packet.set_checksum(0);
        packet.set_urgent_at(self.urgent_at);
        packet.options_mut().copy_from_slice(self.options);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    // 49152 -> 443, seq 0x01020304, ack 0x05060708, data offset 6 (MSS 1460 option), SYN|ACK,
    // window 65535, urgent 0, then 3 data bytes. Checksum for 198.18.0.1 -> 198.18.0.2.
    static SEGMENT: [u8; 27] = [
        0xc0, 0x00, 0x01, 0xbb, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x60, 0x12, 0xff, 0xff, 0x00, 0x00,
        0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, b'a', b'b', b'c',
    ];
    const OPTIONS: [u8; 4] = [0x02, 0x04, 0x05, 0xb4];

    fn v4() -> (IpAddr, IpAddr) {
        (Ipv4Addr::new(198, 18, 0, 1).into(), Ipv4Addr::new(198, 18, 0, 2).into())
    }

    fn repr() -> Repr<'static> {
        Repr {
            src_port: 49152,
            dst_port: 443,
            seq_number: 0x0102_0304,
            ack_number: 0x0506_0708,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window_len: 0xffff,
            urgent_at: 0,
            options: &OPTIONS,
        }
    }

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (49152, 443));
        assert_eq!((p.seq_number(), p.ack_number()), (0x0102_0304, 0x0506_0708));
        assert_eq!(p.header_len(), 24);
        assert!(p.flags().contains(TcpFlags::SYN | TcpFlags::ACK));
        assert!(!p.flags().intersects(TcpFlags::FIN | TcpFlags::RST));
        assert_eq!(p.flags().bits(), 0x12);
        assert_eq!(p.window_len(), 0xffff);
        assert_eq!(p.options(), &OPTIONS);
        assert_eq!(p.payload(), b"abc");
        assert_eq!(p.segment_len(), 27);
        assert_eq!(Repr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn construct_and_checksum_v4_v6() {
        let v6: (IpAddr, IpAddr) =
            ("2001:2::1".parse::<Ipv6Addr>().unwrap().into(), "2001:2::2".parse::<Ipv6Addr>().unwrap().into());
        for (src, dst) in [v4(), v6] {
            let mut bytes = [0xeeu8; 27];
            let mut p = Packet::new_unchecked(&mut bytes[..]);
            repr().emit(&mut p).unwrap();
            p.payload_mut().copy_from_slice(b"abc");
            p.fill_checksum(&src, &dst);
            assert!(p.verify_checksum(&src, &dst));
            assert!(!p.verify_checksum(&dst, &IpAddr::V4(Ipv4Addr::new(198, 18, 0, 9))));
            let mut expected = SEGMENT;
            expected[16..18].copy_from_slice(&bytes[16..18]);
            assert_eq!(bytes, expected);
        }
    }

    #[test]
    fn checksum_by_hand_v4() {
        // Pseudo-header + segment, summed as one buffer, must give the same checksum.
        let (src, dst) = v4();
        let mut bytes = SEGMENT;
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.fill_checksum(&src, &dst);
        let mut all = vec![198, 18, 0, 1, 198, 18, 0, 2, 0, 6, 0, 27];
        all.extend_from_slice(&SEGMENT);
        assert_eq!(u16::from_be_bytes([bytes[16], bytes[17]]), checksum::checksum(&all));
    }

    #[test]
    fn malformed() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&SEGMENT[..len]), Err(WireError::Truncated));
        }
        let mut short_off = SEGMENT;
        short_off[12] = 0x40;
        assert_eq!(Packet::new_checked(&short_off[..]), Err(WireError::BadTcpHeaderLength));
        let mut long_off = SEGMENT;
        long_off[12] = 0x70; // 28 bytes of header in a 27-byte segment
        assert_eq!(Packet::new_checked(&long_off[..]), Err(WireError::BadTcpHeaderLength));
        let mut b = [0u8; 64];
        let odd = Repr { options: &[1, 1, 1], ..repr() };
        assert_eq!(odd.emit(&mut Packet::new_unchecked(&mut b[..])), Err(WireError::BadTcpHeaderLength));
        let long = Repr { options: &[1; 44], ..repr() };
        assert_eq!(long.emit(&mut Packet::new_unchecked(&mut b[..])), Err(WireError::BadTcpHeaderLength));
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut b[..23])), Err(WireError::Truncated));
    }

    #[test]
    fn flags_default_empty() {
        assert!(TcpFlags::default().is_empty());
        let mut f = TcpFlags::FIN;
        f |= TcpFlags::CWR;
        assert_eq!(f.bits(), 0x81);
        assert_eq!((f & TcpFlags::FIN), TcpFlags::FIN);
    }
}
