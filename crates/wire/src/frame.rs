//! [`parse_frame`]: the per-packet summary the engine works from.
//!
//! # Contract
//!
//! * Never panics and never allocates, for any input bytes and any [`LinkType`].
//! * Everything returned borrows the input frame; nothing is copied.
//! * Lengths come from the headers, not the buffer: bytes after the IP total length (Ethernet
//!   padding, trailers) are never payload, and a UDP payload stops at the UDP length.
//! * A buffer shorter than the IP total length is [`WireError::Truncated`], including captures cut
//!   by their snap length: a partial packet is reported as missing bytes rather than as a shorter
//!   payload, so a flow never sees bytes out of thin air. Counting those is the caller's job.
//! * Fragments: a non-first fragment gets [`Transport::Other`] with the fragment data; a first
//!   fragment is parsed for its transport header, which must fit in it
//!   ([`WireError::TinyFragment`] otherwise), and its UDP length (which describes the whole
//!   datagram) is only checked to be at least the bytes present. Fragments are not reassembled.
//! * Checksums are not verified (captures on hosts with offloads carry unfilled ones).

use core::net::IpAddr;

use crate::error::WireError;
use crate::ethernet::{self, Frame as EthernetFrame};
use crate::icmp::Packet as IcmpPacket;
use crate::ip::IpProtocol;
use crate::ipv4::Packet as Ipv4Packet;
use crate::ipv6::{self, Packet as Ipv6Packet};
use crate::sll::{self, Sll, Sll2};
use crate::tcp::{self, Packet as TcpPacket, TcpFlags};
use crate::udp::{self, Packet as UdpPacket};
use crate::vlan::{self, MAX_VLAN_DEPTH, Tag as VlanTag};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;

/// Link-layer framing of a captured or received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II (pcap LINKTYPE_ETHERNET, 1; AF_XDP frames).
    Ethernet,
    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113).
    LinuxSll,
    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276).
    LinuxSll2,
    /// Raw IP, version nibble decides (LINKTYPE_RAW 101, IPV4 228, IPV6 229; DLT 12 and 14).
    RawIp,
}

impl LinkType {
    /// Every link type, for tests and tables.
    pub const ALL: [LinkType; 4] = [LinkType::Ethernet, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::RawIp];

    /// From a pcap LINKTYPE_ value: 1 Ethernet, 113 SLL, 276 SLL2, 101 raw IP, 228 raw IPv4,
    /// 229 raw IPv6, (12 and 14 also raw IP on some platforms). None = unsupported.
    pub fn from_pcap(linktype: u32) -> Option<LinkType> {
        match linktype {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            12 | 14 | 101 | 228 | 229 => Some(LinkType::RawIp),
            _ => None,
        }
    }
}

/// Everything the engine needs from one frame; borrows the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Number of 802.1Q/802.1ad tags seen (at most [`MAX_VLAN_DEPTH`]).
    pub vlan_depth: u8,
    /// VID of the outermost tag.
    pub outer_vlan: Option<u16>,
    /// What the link layer carries.
    pub network: Network<'a>,
}

impl<'a> Frame<'a> {
    /// The IP summary, if the frame carries IP.
    pub fn ip(&self) -> Option<&IpInfo<'a>> {
        match &self.network {
            Network::Ip(ip) => Some(ip),
            Network::NonIp { .. } => None,
        }
    }
}

/// The network layer of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network<'a> {
    /// Not IP (ARP, LLDP, anything else): the EtherType (or SLL protocol).
    NonIp {
        /// EtherType after any VLAN tags (for Linux cooked captures, the protocol field).
        ethertype: u16,
    },
    /// IPv4 or IPv6.
    Ip(IpInfo<'a>),
}

/// The IP layer of a frame and what it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpInfo<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The upper-layer protocol after extension headers.
    pub protocol: IpProtocol,
    /// Byte offset of the IP header in the frame (for DSCP rewrite later).
    pub ip_offset: u16,
    /// IP total length as the header says (v6: 40 + payload length, saturating at 65535 for the
    /// largest IPv6 packets).
    pub ip_len: u16,
    /// DSCP (upper 6 bits of the TOS / traffic class byte).
    pub dscp: u8,
    /// Some if this packet is a fragment; first fragment has offset 0 and more_fragments true.
    /// An IPv6 atomic fragment (fragment header, offset 0, no more) is `Some` with `more: false`.
    pub fragment: Option<Fragment>,
    /// The transport layer.
    pub transport: Transport<'a>,
}

/// Fragment information from the IPv4 header or the IPv6 fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fragment {
    /// Identification (IPv4's 16 bits widened, or IPv6's 32).
    pub id: u32,
    /// Offset in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// The transport layer of an IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    /// TCP segment.
    Tcp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Flags.
        flags: TcpFlags,
        /// Data after the header and options, up to the IP length.
        payload: &'a [u8],
    },
    /// UDP datagram.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
        /// Data up to the UDP length (for a first fragment: up to the end of the fragment).
        payload: &'a [u8],
    },
    /// ICMPv4 or ICMPv6.
    Icmp {
        /// Message type.
        icmp_type: u8,
        /// Message code.
        code: u8,
    },
    /// Non-first fragment, or a protocol without ports: the bytes after the IP headers.
    Other {
        /// Bytes after the IP header (and IPv6 extension headers).
        payload: &'a [u8],
    },
}

impl<'a> Transport<'a> {
    /// The application bytes: TCP/UDP data, or the bytes after the IP headers; empty for ICMP.
    pub fn payload(&self) -> &'a [u8] {
        match *self {
            Transport::Tcp { payload, .. } | Transport::Udp { payload, .. } | Transport::Other { payload } => payload,
            Transport::Icmp { .. } => &[],
        }
    }

    /// Source and destination ports, for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match *self {
            Transport::Tcp { src_port, dst_port, .. } | Transport::Udp { src_port, dst_port, .. } => {
                Some((src_port, dst_port))
            }
            Transport::Icmp { .. } | Transport::Other { .. } => None,
        }
    }
}

/// Parse one frame. Never panics, never allocates, for ANY input.
///
/// ```
/// use weir_wire::{parse_frame, IpProtocol, LinkType, Transport};
///
/// // Raw IPv4: 198.18.0.1 -> 198.18.0.2, UDP 5000 -> 53 carrying "hi" (checksums not needed).
/// let packet = [
///     0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
///     0x13, 0x88, 0, 53, 0, 10, 0, 0, b'h', b'i',
/// ];
/// let frame = parse_frame(&packet, LinkType::RawIp)?;
/// let ip = frame.ip().expect("an IP frame");
/// assert_eq!(ip.protocol, IpProtocol::Udp);
/// assert_eq!(ip.transport, Transport::Udp { src_port: 5000, dst_port: 53, payload: b"hi" });
/// # Ok::<(), weir_wire::WireError>(())
/// ```
///
/// # Errors
/// One [`WireError`] per reason a frame cannot be summarised; see the module docs for which.
pub fn parse_frame(frame: &[u8], link: LinkType) -> Result<Frame<'_>, WireError> {
    parse(frame, link, 0)
}

/// Parse a frame of which a capture kept only the first `frame.len()` of its `wire_len` bytes
/// (a snaplen). The IP and UDP lengths may then reach past the captured bytes, by no more than
/// were cut off, and payloads are what was captured; headers must still be whole. With
/// `wire_len <= frame.len()` this is [`parse_frame`].
///
/// ```
/// use weir_wire::{parse_frame, parse_frame_captured, LinkType, Transport, WireError};
///
/// // The same datagram as in `parse_frame`'s example, captured with a snaplen of 29 bytes.
/// let packet = [
///     0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
///     0x13, 0x88, 0, 53, 0, 10, 0, 0, b'h', b'i',
/// ];
/// let cut = &packet[..29];
/// assert_eq!(parse_frame(cut, LinkType::RawIp).unwrap_err(), WireError::Truncated);
/// let frame = parse_frame_captured(cut, LinkType::RawIp, 30)?;
/// let ip = frame.ip().expect("an IP frame");
/// assert_eq!(ip.transport, Transport::Udp { src_port: 5000, dst_port: 53, payload: b"h" });
/// # Ok::<(), weir_wire::WireError>(())
/// ```
///
/// # Errors
/// As [`parse_frame`]; [`WireError::Truncated`] also when a header is cut, or a length reaches
/// past even the uncut frame.
pub fn parse_frame_captured(frame: &[u8], link: LinkType, wire_len: usize) -> Result<Frame<'_>, WireError> {
    parse(frame, link, wire_len.saturating_sub(frame.len()))
}

/// `cut`: bytes of the frame the capture did not keep (0: the frame is whole).
#[inline]
fn parse(frame: &[u8], link: LinkType, cut: usize) -> Result<Frame<'_>, WireError> {
    let (mut ethertype, mut offset) = match link {
        LinkType::Ethernet => {
            let eth = EthernetFrame::new_checked(frame)?;
            (u16::from(eth.ethertype()), ethernet::HEADER_LEN)
        }
        LinkType::LinuxSll => (Sll::new_checked(frame)?.protocol(), sll::HEADER_LEN),
        LinkType::LinuxSll2 => (Sll2::new_checked(frame)?.protocol(), sll::HEADER_LEN_V2),
        LinkType::RawIp => {
            let first = frame.first().ok_or(WireError::Truncated)?;
            let ip = match first >> 4 {
                4 => parse_ipv4(frame, 0, cut)?,
                6 => parse_ipv6(frame, 0, cut)?,
                _ => return Err(WireError::BadIpVersion),
            };
            return Ok(Frame { vlan_depth: 0, outer_vlan: None, network: Network::Ip(ip) });
        }
    };

    let mut vlan_depth = 0u8;
    let mut outer_vlan = None;
    while ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        if vlan_depth >= MAX_VLAN_DEPTH {
            return Err(WireError::TooManyVlanTags);
        }
        let tag = VlanTag::new_checked(rest(frame, offset))?;
        if vlan_depth == 0 {
            outer_vlan = Some(tag.vid());
        }
        vlan_depth += 1;
        ethertype = u16::from(tag.ethertype());
        offset += vlan::HEADER_LEN;
    }

    let network = match ethertype {
        ETHERTYPE_IPV4 => Network::Ip(parse_ipv4(frame, offset, cut)?),
        ETHERTYPE_IPV6 => Network::Ip(parse_ipv6(frame, offset, cut)?),
        other => Network::NonIp { ethertype: other },
    };
    Ok(Frame { vlan_depth, outer_vlan, network })
}

/// `frame[offset..]`, or empty past the end (which the next `new_checked` reports as truncated).
#[inline]
fn rest(frame: &[u8], offset: usize) -> &[u8] {
    frame.get(offset..).unwrap_or_default()
}

/// The IP header offset as `u16`. Link header plus tags is at most 20 + 4 × 4 bytes.
#[inline]
fn offset16(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

/// The captured part of an IP packet's payload when the capture cut it: the header must be
/// whole and the missing part of the packet (`total_len` is header plus payload) at most `cut`.
fn cut_payload(buf: &[u8], header_len: usize, total_len: usize, cut: usize) -> Result<&[u8], WireError> {
    if cut == 0 || buf.len() < header_len || total_len.saturating_sub(buf.len()) > cut {
        return Err(WireError::Truncated);
    }
    Ok(buf.get(header_len..).unwrap_or_default())
}

fn parse_ipv4(frame: &[u8], offset: usize, cut: usize) -> Result<IpInfo<'_>, WireError> {
    let buf = rest(frame, offset);
    let (ip, payload) = match Ipv4Packet::new_checked(buf) {
        Ok(ip) => (ip, ip.payload()),
        // Truncated with 20 bytes or more: every other check passed and the datagram runs past
        // the buffer.
        Err(WireError::Truncated) if cut > 0 && buf.len() >= crate::ipv4::HEADER_LEN => {
            let ip = Ipv4Packet::new_unchecked(buf);
            (ip, cut_payload(buf, usize::from(ip.header_len()), usize::from(ip.total_len()), cut)?)
        }
        Err(e) => return Err(e),
    };
    let fragment = ip.is_fragment().then(|| Fragment {
        id: u32::from(ip.ident()),
        offset: ip.frag_offset(),
        more: ip.more_frags(),
    });
    check_fragment_end(fragment, payload.len())?;
    let protocol = ip.next_header();
    Ok(IpInfo {
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        protocol,
        ip_offset: offset16(offset),
        ip_len: ip.total_len(),
        dscp: ip.dscp(),
        fragment,
        transport: parse_transport(protocol, payload, fragment, IpProtocol::Icmp, cut)?,
    })
}

fn parse_ipv6(frame: &[u8], offset: usize, cut: usize) -> Result<IpInfo<'_>, WireError> {
    let buf = rest(frame, offset);
    let (ip, payload) = match Ipv6Packet::new_checked(buf) {
        Ok(ip) => (ip, ip.payload()),
        Err(WireError::Truncated) if cut > 0 && buf.len() >= crate::ipv6::HEADER_LEN => {
            let ip = Ipv6Packet::new_unchecked(buf);
            (ip, cut_payload(buf, crate::ipv6::HEADER_LEN, ip.total_len(), cut)?)
        }
        Err(e) => return Err(e),
    };
    let chain = ipv6::walk_extension_headers(ip.next_header(), payload)?;
    check_fragment_end(chain.fragment, chain.payload.len())?;
    Ok(IpInfo {
        src: IpAddr::V6(ip.src_addr()),
        dst: IpAddr::V6(ip.dst_addr()),
        protocol: chain.protocol,
        ip_offset: offset16(offset),
        ip_len: u16::try_from(ip.total_len()).unwrap_or(u16::MAX),
        dscp: ip.dscp(),
        fragment: chain.fragment,
        transport: parse_transport(chain.protocol, chain.payload, chain.fragment, IpProtocol::Icmpv6, cut)?,
    })
}

/// True if the TCP data offset (in a segment of at least 13 bytes) is at least 5 words.
fn data_offset_valid(segment: &[u8]) -> bool {
    segment.get(12).is_some_and(|b| usize::from(b >> 4) * 4 >= tcp::HEADER_LEN)
}

/// A fragment may not reach past the 65535-byte datagram limit ("ping of death").
#[inline]
fn check_fragment_end(fragment: Option<Fragment>, data_len: usize) -> Result<(), WireError> {
    match fragment {
        Some(f) if usize::from(f.offset) + data_len > usize::from(u16::MAX) => Err(WireError::BadFragment),
        _ => Ok(()),
    }
}

fn parse_transport<'a>(
    protocol: IpProtocol,
    payload: &'a [u8],
    fragment: Option<Fragment>,
    icmp: IpProtocol,
    cut: usize,
) -> Result<Transport<'a>, WireError> {
    if fragment.is_some_and(|f| f.offset != 0) {
        return Ok(Transport::Other { payload });
    }
    // The first of several fragments: transport lengths describe the whole datagram.
    let first_of_many = fragment.is_some_and(|f| f.more);
    match protocol {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(payload).map_err(|e| match e {
                // In a first fragment, a header cut short by the fragment end (not by a bad data
                // offset) is the tiny-fragment evasion, not a broken TCP header.
                WireError::Truncated if first_of_many => WireError::TinyFragment,
                WireError::BadTcpHeaderLength if first_of_many && data_offset_valid(payload) => WireError::TinyFragment,
                // Options cut off by a capture's snaplen: the header is incomplete, not bad.
                WireError::BadTcpHeaderLength if cut > 0 && data_offset_valid(payload) => WireError::Truncated,
                other => other,
            })?;
            Ok(Transport::Tcp {
                src_port: tcp.src_port(),
                dst_port: tcp.dst_port(),
                seq: tcp.seq_number(),
                ack: tcp.ack_number(),
                flags: tcp.flags(),
                payload: tcp.payload(),
            })
        }
        IpProtocol::Udp if first_of_many => {
            if payload.len() < udp::HEADER_LEN {
                return Err(WireError::TinyFragment);
            }
            let udp = UdpPacket::new_unchecked(payload);
            let len = usize::from(udp.len());
            if len < udp::HEADER_LEN || len < payload.len() {
                return Err(WireError::BadUdpLength);
            }
            Ok(Transport::Udp {
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                payload: payload.get(udp::HEADER_LEN..).unwrap_or_default(),
            })
        }
        IpProtocol::Udp => {
            let udp = match UdpPacket::new_checked(payload) {
                Ok(udp) => udp,
                // A capture cut the datagram: its length may run past the captured payload by
                // no more than was cut.
                Err(WireError::BadUdpLength)
                    if cut > 0 && {
                        let len = usize::from(UdpPacket::new_unchecked(payload).len());
                        len > payload.len() && len - payload.len() <= cut
                    } =>
                {
                    let udp = UdpPacket::new_unchecked(payload);
                    return Ok(Transport::Udp {
                        src_port: udp.src_port(),
                        dst_port: udp.dst_port(),
                        payload: payload.get(udp::HEADER_LEN..).unwrap_or_default(),
                    });
                }
                Err(e) => return Err(e),
            };
            Ok(Transport::Udp { src_port: udp.src_port(), dst_port: udp.dst_port(), payload: udp.payload() })
        }
        p if p == icmp => {
            let msg = IcmpPacket::new_checked(payload)
                .map_err(|e| if first_of_many { WireError::TinyFragment } else { e })?;
            Ok(Transport::Icmp { icmp_type: msg.msg_type(), code: msg.msg_code() })
        }
        _ => Ok(Transport::Other { payload }),
    }
}

#[cfg(test)]
mod tests;
