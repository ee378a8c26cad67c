//! [`parse_frame`]: the per-packet summary the engine works from.
//!
//! # Contract
//!
//! * Never panics and never allocates, for any input bytes and any [`LinkType`].
//! * Everything returned borrows the input frame; nothing is copied.
//! * Lengths come from the headers, not the buffer: bytes after the IP total length (Ethernet
//!   padding, trailers) are never payload, and a UDP payload stops at the UDP length.
//! * [`parse_frame`] never invents bytes: a buffer shorter than a length its headers claim is
//!   [`WireError::Truncated`]. A frame a capture's snap length cut goes to
//!   [`parse_frame_captured`] with its length on the wire instead: its headers must still be whole,
//!   its lengths may reach past the captured bytes by no more than were cut off, and payloads are
//!   the captured part. Counting those frames is the caller's job.
//! * Fragments: a non-first fragment gets [`Transport::Other`] with the fragment data; a first
//!   fragment is parsed for its transport header, which must fit in it
//!   ([`WireError::TinyFragment`] otherwise), and its UDP length (which describes the whole
//!   datagram) is only checked to be at least the bytes present. Fragments are not reassembled.
//! * Checksums are not verified (captures on hosts with offloads carry unfilled ones).
//!
//! # Encapsulations
//!
//! The summary describes the innermost IP packet: its addresses, protocol and transport are the
//! flow. On the way `parse_frame` unwraps, at most [`MAX_ENCAPSULATIONS`] deep
//! ([`WireError::TooManyEncapsulations`] beyond):
//!
//! * PPPoE sessions (EtherType 0x8864) carrying IPv4, IPv6 or MPLS;
//! * MPLS label stacks (EtherType 0x8847/0x8848) carrying IPv4, IPv6 or an Ethernet pseudowire
//!   (see [`crate::mpls`] for how the payload is told);
//! * GRE (IP protocol 47) carrying IPv4, IPv6, Ethernet (0x6558), MPLS, or PPP (PPTP);
//! * IP in IP: IPv4 or IPv6 (IP protocol 4 or 41) in IPv4 or IPv6;
//! * VXLAN (UDP to port 4789 or 8472, I flag set) carrying Ethernet;
//! * GTP-U G-PDUs (UDP to port 2152, version 1) carrying IPv4 or IPv6.
//!
//! A tunnel that a protocol number names (EtherType, IP protocol, GRE protocol type) is unwrapped
//! whatever follows; one that only a UDP port names is unwrapped only when its header's fixed bits
//! agree (VXLAN's I flag, GTP-U's version and G-PDU message type), and is otherwise the UDP flow
//! it seems. Once a tunnel is unwrapped, a bad header or a bad inner packet is malformed, under
//! its own [`WireError`]. A tunnel whose payload is not IP (ARP over VXLAN, GRE keepalives and
//! PPTP control, encrypted PPP) is the flow of its own IP packet; PPPoE or MPLS frames that carry
//! no IP are non-IP. A fragment of a tunnel packet is not unwrapped (there is nothing to unwrap in
//! later fragments): it counts as the outer packet's flow, as all its fragments do.
//! [`Frame::encap`] lists what was unwrapped.

use core::net::IpAddr;

use crate::error::WireError;
use crate::ethernet::{self, Frame as EthernetFrame};
use crate::gre;
use crate::gtp;
use crate::icmp::Packet as IcmpPacket;
use crate::ip::{Fragment, IpProtocol};
use crate::ipv4::{self, Packet as Ipv4Packet};
use crate::ipv6::{self, Packet as Ipv6Packet};
use crate::loopback;
use crate::mpls;
use crate::ppp::{self, CiscoHdlc};
use crate::pppoe;
use crate::sll::{self, Sll, Sll2};
use crate::tcp::{self, Packet as TcpPacket, TcpFlags};
use crate::udp::{self, Packet as UdpPacket};
use crate::vlan::{self, MAX_VLAN_DEPTH, Tag as VlanTag};
use crate::vxlan;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;

/// Most tunnels [`parse_frame`] unwraps in one frame; one more is
/// [`WireError::TooManyEncapsulations`]. An MPLS label stack counts once.
pub const MAX_ENCAPSULATIONS: u8 = 8;

/// Link-layer framing of a captured or received frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II (pcap LINKTYPE_ETHERNET, 1; AF_XDP frames).
    Ethernet,
    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113).
    LinuxSll,
    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276).
    LinuxSll2,
    /// Raw IP, the version nibble decides (LINKTYPE_RAW 101; DLT 12 and 14 of some platforms).
    RawIp,
    /// Raw IPv4 (LINKTYPE_IPV4, 228).
    RawIpv4,
    /// Raw IPv6 (LINKTYPE_IPV6, 229).
    RawIpv6,
    /// BSD loopback: a 4-byte address family in either byte order (LINKTYPE_NULL 0,
    /// LINKTYPE_LOOP 108).
    Loopback,
    /// PPP, with or without HDLC-like framing, and Cisco HDLC frames on such links
    /// (LINKTYPE_PPP 9, LINKTYPE_PPP_HDLC 50).
    Ppp,
    /// Cisco HDLC (LINKTYPE_C_HDLC, 104).
    CiscoHdlc,
}

impl LinkType {
    /// Every link type, for tests and tables.
    pub const ALL: [LinkType; 9] = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::RawIp,
        LinkType::RawIpv4,
        LinkType::RawIpv6,
        LinkType::Loopback,
        LinkType::Ppp,
        LinkType::CiscoHdlc,
    ];

    /// The pcap LINKTYPE_ values this crate reads, with their names, for messages.
    pub const PCAP_NAMES: [(u32, &'static str); 11] = [
        (1, "Ethernet"),
        (113, "Linux cooked capture"),
        (276, "Linux cooked capture v2"),
        (101, "raw IP"),
        (228, "raw IPv4"),
        (229, "raw IPv6"),
        (0, "BSD loopback"),
        (108, "OpenBSD loopback"),
        (9, "PPP"),
        (50, "PPP in HDLC-like framing"),
        (104, "Cisco HDLC"),
    ];

    /// From a pcap LINKTYPE_ value: see each variant (12 and 14, raw IP on some platforms, too).
    /// None = unsupported.
    pub fn from_pcap(linktype: u32) -> Option<LinkType> {
        match linktype {
            1 => Some(LinkType::Ethernet),
            113 => Some(LinkType::LinuxSll),
            276 => Some(LinkType::LinuxSll2),
            12 | 14 | 101 => Some(LinkType::RawIp),
            228 => Some(LinkType::RawIpv4),
            229 => Some(LinkType::RawIpv6),
            0 | 108 => Some(LinkType::Loopback),
            9 | 50 => Some(LinkType::Ppp),
            104 => Some(LinkType::CiscoHdlc),
            _ => None,
        }
    }
}

/// A tunnel or encapsulation [`parse_frame`] looked through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encap {
    /// A PPPoE session (EtherType 0x8864).
    Pppoe,
    /// An MPLS label stack.
    Mpls,
    /// GRE (IP protocol 47), versions 0 and 1 (PPTP).
    Gre,
    /// VXLAN (UDP to port 4789 or 8472).
    Vxlan,
    /// A GTP-U G-PDU (UDP to port 2152).
    GtpU,
    /// IPv4 or IPv6 in IPv4 or IPv6 (IP protocol 4 or 41).
    IpInIp,
}

impl Encap {
    /// Every kind, in index order.
    pub const ALL: [Encap; 6] = [Encap::Pppoe, Encap::Mpls, Encap::Gre, Encap::Vxlan, Encap::GtpU, Encap::IpInIp];

    /// Stable snake_case name, e.g. `"pppoe"`, `"gtp_u"`, `"ip_in_ip"`.
    pub const fn name(self) -> &'static str {
        match self {
            Encap::Pppoe => "pppoe",
            Encap::Mpls => "mpls",
            Encap::Gre => "gre",
            Encap::Vxlan => "vxlan",
            Encap::GtpU => "gtp_u",
            Encap::IpInIp => "ip_in_ip",
        }
    }

    /// Position in [`Encap::ALL`]: an index into a counter array.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// The tunnels of one frame, outermost first (at most [`MAX_ENCAPSULATIONS`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Encapsulation {
    layers: [Option<Encap>; MAX_ENCAPSULATIONS as usize],
    depth: u8,
}

impl Encapsulation {
    /// No tunnel.
    pub const NONE: Encapsulation = Encapsulation { layers: [None; MAX_ENCAPSULATIONS as usize], depth: 0 };

    /// Number of tunnels.
    pub const fn depth(&self) -> u8 {
        self.depth
    }

    /// True for a frame without tunnels.
    pub const fn is_empty(&self) -> bool {
        self.depth == 0
    }

    /// The tunnels, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = Encap> + '_ {
        self.layers.iter().flatten().copied()
    }

    /// True if `kind` is among them.
    pub fn contains(&self, kind: Encap) -> bool {
        self.iter().any(|e| e == kind)
    }

    /// Adds a tunnel inside the others.
    fn push(&mut self, kind: Encap) -> Result<(), WireError> {
        let slot = self.layers.get_mut(usize::from(self.depth)).ok_or(WireError::TooManyEncapsulations)?;
        *slot = Some(kind);
        self.depth += 1;
        Ok(())
    }
}

/// Everything the engine needs from one frame; borrows the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Number of 802.1Q/802.1ad tags of the outermost Ethernet header (at most
    /// [`MAX_VLAN_DEPTH`]).
    pub vlan_depth: u8,
    /// VID of the outermost tag.
    pub outer_vlan: Option<u16>,
    /// Tunnels unwrapped on the way to `network`.
    pub encap: Encapsulation,
    /// What the link layer carries: the innermost IP packet, or why there is none.
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
    /// Not IP (ARP, LLDP, PPPoE discovery, anything else).
    NonIp {
        /// The EtherType (after VLAN tags; the SLL or Cisco HDLC protocol field) of what is not
        /// IP; for a PPPoE session or MPLS label stack that carries no IP, 0x8864 or 0x8847; on
        /// PPP links the PPP protocol number; on BSD loopback links the address family.
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

/// The bytes of one layer: what was captured of it, where that starts in the frame, and how many
/// of its bytes the capture did not keep.
#[derive(Clone, Copy, Debug)]
struct Region<'a> {
    /// The captured bytes of this layer (and everything inside it).
    buf: &'a [u8],
    /// Offset of `buf` in the frame.
    at: usize,
    /// Bytes of this layer past `buf` that a snaplen cut off (0 for a whole frame).
    missing: usize,
}

impl<'a> Region<'a> {
    /// The region after its first `n` bytes (empty past the end, which the next `new_checked`
    /// reports as truncated).
    #[inline]
    fn skip(self, n: usize) -> Region<'a> {
        Region { buf: self.buf.get(n..).unwrap_or_default(), at: self.at + n, missing: self.missing }
    }

    /// The first `len` bytes, as a length field claims them: `None` if the region has fewer,
    /// counting the bytes a snaplen cut off.
    #[inline]
    fn take(self, len: usize) -> Option<Region<'a>> {
        match self.buf.get(..len) {
            Some(buf) => Some(Region { buf, at: self.at, missing: 0 }),
            None => {
                let short = len - self.buf.len();
                (short <= self.missing).then_some(Region { missing: short, ..self })
            }
        }
    }
}

/// `cut`: bytes of the frame the capture did not keep (0: the frame is whole).
#[inline]
fn parse(frame: &[u8], link: LinkType, cut: usize) -> Result<Frame<'_>, WireError> {
    let r = Region { buf: frame, at: 0, missing: cut };
    let mut encap = Encapsulation::NONE;
    let (vlan_depth, outer_vlan, network) = match link {
        LinkType::Ethernet => ethernet(r, &mut encap)?,
        LinkType::LinuxSll => tagged(Sll::new_checked(frame)?.protocol(), r.skip(sll::HEADER_LEN), &mut encap)?,
        LinkType::LinuxSll2 => tagged(Sll2::new_checked(frame)?.protocol(), r.skip(sll::HEADER_LEN_V2), &mut encap)?,
        LinkType::RawIp => (0, None, raw_ip(r, &mut encap)?),
        LinkType::RawIpv4 => (0, None, Network::Ip(ipv4(r, &mut encap)?)),
        LinkType::RawIpv6 => (0, None, Network::Ip(ipv6(r, &mut encap)?)),
        LinkType::Loopback => (0, None, bsd_loopback(r, &mut encap)?),
        LinkType::Ppp => (0, None, ppp_link(r, &mut encap)?),
        LinkType::CiscoHdlc => (0, None, cisco_hdlc(r, &mut encap)?),
    };
    Ok(Frame { vlan_depth, outer_vlan, encap, network })
}

/// An Ethernet frame: header, VLAN tags, payload.
#[inline]
fn ethernet<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<(u8, Option<u16>, Network<'a>), WireError> {
    let eth = EthernetFrame::new_checked(r.buf)?;
    tagged(u16::from(eth.ethertype()), r.skip(ethernet::HEADER_LEN), encap)
}

/// What follows an EtherType, through any VLAN tags: (tags, outer VID, network).
#[inline]
fn tagged<'a>(
    mut ethertype: u16,
    mut r: Region<'a>,
    encap: &mut Encapsulation,
) -> Result<(u8, Option<u16>, Network<'a>), WireError> {
    let mut depth = 0u8;
    let mut outer = None;
    while ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        if depth >= MAX_VLAN_DEPTH {
            return Err(WireError::TooManyVlanTags);
        }
        let tag = VlanTag::new_checked(r.buf)?;
        if depth == 0 {
            outer = Some(tag.vid());
        }
        depth += 1;
        ethertype = u16::from(tag.ethertype());
        r = r.skip(vlan::HEADER_LEN);
    }
    Ok((depth, outer, after_ethertype(ethertype, r, encap)?))
}

/// What an EtherType names (after any VLAN tags).
#[inline]
fn after_ethertype<'a>(ethertype: u16, r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(r, encap).map(Network::Ip),
        ETHERTYPE_IPV6 => ipv6(r, encap).map(Network::Ip),
        pppoe::ETHERTYPE_SESSION => pppoe_session(r, encap),
        mpls::ETHERTYPE_UNICAST | mpls::ETHERTYPE_MULTICAST => mpls_stack(r, encap),
        other => Ok(Network::NonIp { ethertype: other }),
    }
}

/// Raw IP: the version nibble decides.
fn raw_ip<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let first = r.buf.first().ok_or(WireError::Truncated)?;
    match first >> 4 {
        4 => ipv4(r, encap).map(Network::Ip),
        6 => ipv6(r, encap).map(Network::Ip),
        _ => Err(WireError::BadIpVersion),
    }
}

fn bsd_loopback<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let h = loopback::Header::new_checked(r.buf)?;
    let r = r.skip(loopback::HEADER_LEN);
    if h.is_ipv4() {
        ipv4(r, encap).map(Network::Ip)
    } else if h.is_ipv6() {
        ipv6(r, encap).map(Network::Ip)
    } else {
        // `family` fits 16 bits by construction.
        Ok(Network::NonIp { ethertype: u16::try_from(h.family()).unwrap_or(u16::MAX) })
    }
}

/// A PPP link: Cisco HDLC if the first byte is its address, PPP otherwise.
fn ppp_link<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    match r.buf.first() {
        Some(&(ppp::CHDLC_UNICAST | ppp::CHDLC_BROADCAST)) => cisco_hdlc(r, encap),
        _ => ppp_frame(r, encap),
    }
}

fn cisco_hdlc<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let h = CiscoHdlc::new_checked(r.buf)?;
    after_ethertype(h.protocol(), r.skip(ppp::CHDLC_HEADER_LEN), encap)
}

/// A PPP frame (with or without address and control bytes); non-IP gives the PPP protocol.
fn ppp_frame<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let f = ppp::Frame::new_checked(r.buf)?;
    let r = r.skip(f.header_len());
    match f.protocol() {
        ppp::Protocol::Ipv4 => ipv4(r, encap).map(Network::Ip),
        ppp::Protocol::Ipv6 => ipv6(r, encap).map(Network::Ip),
        ppp::Protocol::MplsUnicast | ppp::Protocol::MplsMulticast => mpls_stack(r, encap),
        other => Ok(Network::NonIp { ethertype: u16::from(other) }),
    }
}

#[inline(never)]
fn pppoe_session<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let h = pppoe::Header::new_unchecked(r.buf);
    h.check_header()?;
    let body = r.skip(pppoe::HEADER_LEN).take(usize::from(h.length())).ok_or(WireError::Truncated)?;
    encap.push(Encap::Pppoe)?;
    Ok(match ppp_frame(body, encap)? {
        Network::NonIp { .. } => Network::NonIp { ethertype: pppoe::ETHERTYPE_SESSION },
        ip => ip,
    })
}

#[inline(never)]
fn mpls_stack<'a>(mut r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    encap.push(Encap::Mpls)?;
    let mut entries = 0;
    let bottom = loop {
        if entries == mpls::MAX_LABELS {
            return Err(WireError::BadMpls);
        }
        let e = mpls::Entry::new_checked(r.buf)?;
        entries += 1;
        r = r.skip(mpls::HEADER_LEN);
        if e.bottom() {
            break e.label();
        }
    };
    let not_ip = Network::NonIp { ethertype: mpls::ETHERTYPE_UNICAST };
    match bottom {
        mpls::LABEL_IPV4_EXPLICIT_NULL => return ipv4(r, encap).map(Network::Ip),
        mpls::LABEL_IPV6_EXPLICIT_NULL => return ipv6(r, encap).map(Network::Ip),
        mpls::LABEL_GAL => return Ok(not_ip),
        _ => {}
    }
    let first = *r.buf.first().ok_or(WireError::Truncated)?;
    match first >> 4 {
        // An IPv4 header is at least 5 words long.
        4 if first & 0x0f >= 5 => ipv4(r, encap).map(Network::Ip),
        6 => ipv6(r, encap).map(Network::Ip),
        // An associated channel: OAM, not user traffic.
        1 => Ok(not_ip),
        // An Ethernet pseudowire. A first nibble of 0 starts a control word (RFC 4385), unless
        // the frame reads as Ethernet without one and not with one: a destination MAC may start
        // with a 0 nibble too.
        nibble => {
            let ethertype_at = |at: usize| r.buf.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
            let plain = ethertype_at(12).is_some_and(is_common_ethertype);
            let after_word = ethertype_at(16).is_some_and(is_common_ethertype);
            let control_word = nibble == 0 && (after_word || !plain);
            ethernet(if control_word { r.skip(4) } else { r }, encap).map(|(_, _, n)| n)
        }
    }
}

/// EtherTypes an Ethernet pseudowire's frames commonly carry, to tell where such a frame starts.
fn is_common_ethertype(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ETHERTYPE_IPV4
            | ETHERTYPE_IPV6
            | ETHERTYPE_VLAN
            | ETHERTYPE_QINQ
            | 0x0806
            | mpls::ETHERTYPE_UNICAST
            | mpls::ETHERTYPE_MULTICAST
            | pppoe::ETHERTYPE_DISCOVERY
            | pppoe::ETHERTYPE_SESSION
    )
}

fn ipv4<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<IpInfo<'a>, WireError> {
    let (ip, payload) = match Ipv4Packet::new_checked(r.buf) {
        Ok(ip) => {
            let header = usize::from(ip.header_len());
            (ip, Region { buf: ip.payload(), at: r.at + header, missing: 0 })
        }
        // Truncated with 20 bytes or more: every other check passed and the datagram runs past
        // the buffer; a capture may have cut it, if its header is whole.
        Err(WireError::Truncated) if r.missing > 0 && r.buf.len() >= ipv4::HEADER_LEN => {
            let ip = Ipv4Packet::new_unchecked(r.buf);
            let header = usize::from(ip.header_len());
            let whole = r.take(usize::from(ip.total_len())).filter(|w| w.buf.len() >= header);
            (ip, whole.ok_or(WireError::Truncated)?.skip(header))
        }
        Err(e) => return Err(e),
    };
    let fragment = ip.is_fragment().then(|| Fragment {
        id: u32::from(ip.ident()),
        offset: ip.frag_offset(),
        more: ip.more_frags(),
    });
    check_fragment_end(fragment, payload.buf.len())?;
    let info = IpInfo {
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        protocol: ip.next_header(),
        ip_offset: offset16(r.at),
        ip_len: ip.total_len(),
        dscp: ip.dscp(),
        fragment,
        transport: Transport::Other { payload: payload.buf },
    };
    upper_layer(info, payload, IpProtocol::Icmp, encap)
}

fn ipv6<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<IpInfo<'a>, WireError> {
    let (ip, payload) = match Ipv6Packet::new_checked(r.buf) {
        Ok(ip) => (ip, Region { buf: ip.payload(), at: r.at + ipv6::HEADER_LEN, missing: 0 }),
        Err(WireError::Truncated) if r.missing > 0 && r.buf.len() >= ipv6::HEADER_LEN => {
            let ip = Ipv6Packet::new_unchecked(r.buf);
            (ip, r.take(ip.total_len()).ok_or(WireError::Truncated)?.skip(ipv6::HEADER_LEN))
        }
        Err(e) => return Err(e),
    };
    let chain = ipv6::walk_extension_headers(ip.next_header(), payload.buf)?;
    check_fragment_end(chain.fragment, chain.payload.len())?;
    let info = IpInfo {
        src: IpAddr::V6(ip.src_addr()),
        dst: IpAddr::V6(ip.dst_addr()),
        protocol: chain.protocol,
        ip_offset: offset16(r.at),
        ip_len: u16::try_from(ip.total_len()).unwrap_or(u16::MAX),
        dscp: ip.dscp(),
        fragment: chain.fragment,
        transport: Transport::Other { payload: chain.payload },
    };
    upper_layer(info, payload.skip(chain.headers_len), IpProtocol::Icmpv6, encap)
}

/// The transport layer of `ip`, or the packet a tunnel in it carries.
#[inline]
fn upper_layer<'a>(
    mut ip: IpInfo<'a>,
    payload: Region<'a>,
    icmp: IpProtocol,
    encap: &mut Encapsulation,
) -> Result<IpInfo<'a>, WireError> {
    let whole = ip.fragment.is_none_or(|f| f.is_whole());
    if whole && matches!(ip.protocol, IpProtocol::Ipv4 | IpProtocol::Ipv6 | IpProtocol::Gre) {
        return ip_tunnel(ip, payload, encap);
    }
    ip.transport = parse_transport(ip.protocol, payload, ip.fragment, icmp)?;
    match ip.transport {
        Transport::Udp { dst_port: vxlan::PORT | vxlan::PORT_LINUX | gtp::PORT, .. } if whole => {
            udp_tunnel(ip, payload, encap)
        }
        _ => Ok(ip),
    }
}

/// IP in IP and GRE. `outer.transport` holds the tunnel bytes, for when they carry no IP.
#[inline(never)]
fn ip_tunnel<'a>(outer: IpInfo<'a>, payload: Region<'a>, encap: &mut Encapsulation) -> Result<IpInfo<'a>, WireError> {
    let before = *encap;
    match outer.protocol {
        IpProtocol::Ipv4 => {
            encap.push(Encap::IpInIp)?;
            ipv4(payload, encap)
        }
        IpProtocol::Ipv6 => {
            encap.push(Encap::IpInIp)?;
            ipv6(payload, encap)
        }
        _ => {
            encap.push(Encap::Gre)?;
            match gre_payload(payload, encap)? {
                Network::Ip(inner) => Ok(inner),
                Network::NonIp { .. } => {
                    *encap = before;
                    Ok(outer)
                }
            }
        }
    }
}

fn gre_payload<'a>(r: Region<'a>, encap: &mut Encapsulation) -> Result<Network<'a>, WireError> {
    let h = gre::Header::new_checked(r.buf)?;
    let inner = r.skip(h.header_len());
    match h.protocol_type() {
        ETHERTYPE_IPV4 => ipv4(inner, encap).map(Network::Ip),
        ETHERTYPE_IPV6 => ipv6(inner, encap).map(Network::Ip),
        gre::PROTOCOL_TEB => ethernet(inner, encap).map(|(_, _, n)| n),
        mpls::ETHERTYPE_UNICAST | mpls::ETHERTYPE_MULTICAST => mpls_stack(inner, encap),
        gre::PROTOCOL_PPP => match h.payload_length() {
            // A bare PPTP acknowledgment.
            Some(0) => Ok(Network::NonIp { ethertype: gre::PROTOCOL_PPP }),
            Some(len) => ppp_frame(inner.take(usize::from(len)).ok_or(WireError::BadGre)?, encap),
            None => ppp_frame(inner, encap),
        },
        other => Ok(Network::NonIp { ethertype: other }),
    }
}

/// VXLAN and GTP-U, told by the destination port and then by their headers.
#[inline(never)]
fn udp_tunnel<'a>(
    outer: IpInfo<'a>,
    ip_payload: Region<'a>,
    encap: &mut Encapsulation,
) -> Result<IpInfo<'a>, WireError> {
    let Transport::Udp { dst_port, .. } = outer.transport else { return Ok(outer) };
    let udp_len = ip_payload.buf.get(4..6).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let Some(datagram) = ip_payload.take(udp_len).map(|d| d.skip(udp::HEADER_LEN)) else { return Ok(outer) };
    // A capture that cut the datagram inside the tunnel header leaves it unknowable: an error,
    // never a guess.
    let fixed = if dst_port == gtp::PORT { gtp::HEADER_LEN } else { vxlan::HEADER_LEN };
    if datagram.buf.len() < fixed && datagram.missing > 0 {
        return Err(WireError::Truncated);
    }
    let before = *encap;
    let inner = if dst_port == gtp::PORT {
        let h = gtp::Header::new_unchecked(datagram.buf);
        if datagram.buf.len() < gtp::HEADER_LEN || !h.is_version_1() || h.message_type() != gtp::MSG_G_PDU {
            return Ok(outer);
        }
        encap.push(Encap::GtpU)?;
        h.check_header()?;
        let pdu = datagram.take(gtp::HEADER_LEN + usize::from(h.length())).ok_or(WireError::BadGtp)?;
        let user = pdu.skip(h.header_len());
        match user.buf.first().map(|b| b >> 4) {
            Some(4) => Network::Ip(ipv4(user, encap)?),
            Some(6) => Network::Ip(ipv6(user, encap)?),
            _ => Network::NonIp { ethertype: 0 },
        }
    } else {
        match vxlan::Header::new_checked(datagram.buf) {
            Ok(h) if h.vni_valid() => {}
            _ => return Ok(outer),
        }
        encap.push(Encap::Vxlan)?;
        ethernet(datagram.skip(vxlan::HEADER_LEN), encap)?.2
    };
    match inner {
        Network::Ip(ip) => Ok(ip),
        Network::NonIp { .. } => {
            *encap = before;
            Ok(outer)
        }
    }
}

/// The IP header offset as `u16` (frames are at most 256 KiB; a larger offset saturates).
#[inline]
fn offset16(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
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
    region: Region<'a>,
    fragment: Option<Fragment>,
    icmp: IpProtocol,
) -> Result<Transport<'a>, WireError> {
    let payload = region.buf;
    let cut = region.missing;
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
