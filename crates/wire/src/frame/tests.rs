//! Tests for `parse_frame`: fixtures, a table of malformed frames, and property tests that build
//! valid frames with the Reprs and check every parsed field, and that arbitrary or mutated bytes
//! never panic.

use core::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::{
    CiscoHdlcRepr, EtherType, EthernetAddress, EthernetRepr, IcmpRepr, Ipv4Repr, Ipv6ExtHeaderRepr, Ipv6FragRepr,
    Ipv6Repr, LoopbackRepr, PppProtocol, PppRepr, Sll2Repr, SllRepr, TcpRepr, UdpRepr, VlanRepr,
};

// ---------------------------------------------------------------------------------------------
// A frame builder on top of the Reprs.

#[derive(Debug, Clone)]
enum L4 {
    Tcp { sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, opt_words: u8 },
    Udp { sport: u16, dport: u16 },
    Icmp { ty: u8, code: u8, rest: u32 },
    Other { proto: u8 },
}

#[derive(Debug, Clone)]
enum Ip {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        dscp: u8,
        ttl: u8,
        opt_words: u8,
    },
    /// `exts`: (kind, len field); hop-by-hop only ever first.
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        tc: u8,
        flow: u32,
        exts: Vec<(IpProtocol, u8)>,
    },
}

#[derive(Debug, Clone)]
struct Frag {
    id: u32,
    units: u16,
    more: bool,
}

#[derive(Debug, Clone)]
struct Spec {
    link: LinkType,
    /// VIDs, outermost first.
    vlans: Vec<u16>,
    /// Outer tag uses 802.1ad (0x88a8) rather than 802.1Q.
    qinq: bool,
    ip: Ip,
    l4: L4,
    payload: Vec<u8>,
    frag: Option<Frag>,
    pad: usize,
}

impl Spec {
    fn addrs(&self) -> (IpAddr, IpAddr) {
        match &self.ip {
            Ip::V4 { src, dst, .. } => ((*src).into(), (*dst).into()),
            Ip::V6 { src, dst, .. } => ((*src).into(), (*dst).into()),
        }
    }

    fn is_v6(&self) -> bool {
        matches!(self.ip, Ip::V6 { .. })
    }

    /// Fragment as the parser reports it (an IPv4 "fragment" at offset 0 without MF is none).
    fn fragment(&self) -> Option<Fragment> {
        let f = self.frag.as_ref()?;
        let id = if self.is_v6() { f.id } else { f.id & 0xffff };
        let frag = Fragment { id, offset: f.units * 8, more: f.more };
        (self.is_v6() || frag.offset != 0 || frag.more).then_some(frag)
    }

    fn first_of_many(&self) -> bool {
        self.frag.as_ref().is_some_and(|f| f.units == 0 && f.more)
    }

    fn protocol(&self) -> IpProtocol {
        match self.l4 {
            L4::Tcp { .. } => IpProtocol::Tcp,
            L4::Udp { .. } => IpProtocol::Udp,
            L4::Icmp { .. } if self.is_v6() => IpProtocol::Icmpv6,
            L4::Icmp { .. } => IpProtocol::Icmp,
            L4::Other { proto } => IpProtocol::from(proto),
        }
    }

    fn l4_bytes(&self) -> Vec<u8> {
        let (src, dst) = self.addrs();
        let payload = &self.payload;
        match self.l4 {
            L4::Tcp { sport, dport, seq, ack, flags, opt_words } => {
                let options = vec![1u8; usize::from(opt_words) * 4];
                let repr = TcpRepr {
                    src_port: sport,
                    dst_port: dport,
                    seq_number: seq,
                    ack_number: ack,
                    flags: TcpFlags(flags),
                    window_len: 8192,
                    urgent_at: 0,
                    options: &options,
                };
                let mut buf = vec![0u8; repr.header_len() + payload.len()];
                let mut p = TcpPacket::new_unchecked(&mut buf[..]);
                repr.emit(&mut p).unwrap();
                p.payload_mut().copy_from_slice(payload);
                p.fill_checksum(&src, &dst);
                buf
            }
            L4::Udp { sport, dport } => {
                let repr = UdpRepr { src_port: sport, dst_port: dport, payload_len: payload.len() };
                let mut buf = vec![0u8; 8 + payload.len()];
                let mut p = UdpPacket::new_unchecked(&mut buf[..]);
                repr.emit(&mut p).unwrap();
                p.payload_mut().copy_from_slice(payload);
                p.fill_checksum(&src, &dst);
                if self.first_of_many() {
                    // The datagram goes on in later fragments.
                    p.set_len(p.len() + 16);
                }
                buf
            }
            L4::Icmp { ty, code, rest } => {
                let mut buf = vec![0u8; 8 + payload.len()];
                let mut p = IcmpPacket::new_unchecked(&mut buf[..]);
                IcmpRepr { msg_type: ty, msg_code: code, rest_of_header: rest }.emit(&mut p).unwrap();
                p.payload_mut().copy_from_slice(payload);
                if self.is_v6() {
                    p.fill_checksum_v6(&src, &dst);
                } else {
                    p.fill_checksum_v4();
                }
                buf
            }
            L4::Other { .. } => payload.clone(),
        }
    }

    fn ip_bytes(&self) -> Vec<u8> {
        let l4 = self.l4_bytes();
        match &self.ip {
            Ip::V4 { src, dst, dscp, ttl, opt_words } => {
                let opts = usize::from(*opt_words) * 4;
                let frag = self.frag.clone().unwrap_or(Frag { id: 0, units: 0, more: false });
                let repr = Ipv4Repr {
                    src_addr: *src,
                    dst_addr: *dst,
                    next_header: self.protocol(),
                    payload_len: opts + l4.len(),
                    hop_limit: *ttl,
                    dscp: *dscp,
                    ecn: 0,
                    ident: frag.id as u16,
                    dont_frag: self.frag.is_none(),
                    more_frags: frag.more,
                    frag_offset: frag.units * 8,
                };
                let mut buf = vec![0u8; 20 + opts + l4.len()];
                let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
                repr.emit(&mut p).unwrap();
                p.set_header_len((20 + opts) as u8);
                p.fill_checksum();
                buf[20..20 + opts].fill(1); // NOP options
                let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
                p.fill_checksum();
                buf[20 + opts..].copy_from_slice(&l4);
                buf
            }
            Ip::V6 { src, dst, tc, flow, exts } => {
                // Chain: exts..., [fragment], upper layer.
                let mut kinds: Vec<IpProtocol> = exts.iter().map(|e| e.0).collect();
                if self.frag.is_some() {
                    kinds.push(IpProtocol::Ipv6Frag);
                }
                kinds.push(self.protocol());
                let mut headers = Vec::new();
                for (i, (kind, len)) in exts.iter().enumerate() {
                    let repr = Ipv6ExtHeaderRepr { kind: *kind, next_header: kinds[i + 1], len_field: *len };
                    let mut b = vec![0u8; repr.buffer_len()];
                    repr.emit(&mut b).unwrap();
                    headers.extend_from_slice(&b);
                }
                if let Some(f) = &self.frag {
                    let repr = Ipv6FragRepr {
                        next_header: self.protocol(),
                        frag_offset: f.units * 8,
                        more_frags: f.more,
                        ident: f.id,
                    };
                    let mut b = [0u8; 8];
                    repr.emit(&mut b).unwrap();
                    headers.extend_from_slice(&b);
                }
                let repr = Ipv6Repr {
                    src_addr: *src,
                    dst_addr: *dst,
                    next_header: kinds[0],
                    payload_len: headers.len() + l4.len(),
                    hop_limit: 64,
                    traffic_class: *tc,
                    flow_label: *flow,
                };
                let mut buf = vec![0u8; 40];
                repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
                buf.extend_from_slice(&headers);
                buf.extend_from_slice(&l4);
                buf
            }
        }
    }

    fn ip_ethertype(&self) -> EtherType {
        if self.is_v6() { EtherType::Ipv6 } else { EtherType::Ipv4 }
    }

    /// EtherType of the first thing after the link header, and the tag bytes.
    fn tags(&self) -> (EtherType, Vec<u8>) {
        let mut out = Vec::new();
        for (i, vid) in self.vlans.iter().enumerate() {
            let next = if i + 1 == self.vlans.len() { self.ip_ethertype() } else { EtherType::Vlan };
            let repr = VlanRepr { pcp: (i % 8) as u8, dei: false, vid: *vid, ethertype: next };
            let mut b = [0u8; 4];
            repr.emit(&mut VlanTag::new_unchecked(&mut b[..])).unwrap();
            out.extend_from_slice(&b);
        }
        let first = match self.vlans.len() {
            0 => self.ip_ethertype(),
            _ if self.qinq => EtherType::QinQ,
            _ => EtherType::Vlan,
        };
        (first, out)
    }

    fn link_len(&self) -> usize {
        match self.link {
            LinkType::Ethernet => 14,
            LinkType::LinuxSll => 16,
            LinkType::LinuxSll2 => 20,
            LinkType::RawIp | LinkType::RawIpv4 | LinkType::RawIpv6 => 0,
            LinkType::Loopback | LinkType::CiscoHdlc => 4,
            // v4 frames with address and control bytes, v6 frames without.
            LinkType::Ppp if self.is_v6() => 2,
            LinkType::Ppp => 4,
        }
    }

    fn build(&self) -> Vec<u8> {
        let (first, tags) = self.tags();
        let mut out = vec![0u8; self.link_len()];
        match self.link {
            LinkType::Ethernet => {
                let repr = EthernetRepr {
                    src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
                    dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
                    ethertype: first,
                };
                repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..])).unwrap();
            }
            LinkType::LinuxSll => {
                let repr = SllRepr {
                    packet_type: 0,
                    arphrd_type: 1,
                    addr_len: 6,
                    addr: [2, 0, 0, 0, 0, 1, 0, 0],
                    protocol: first.into(),
                };
                repr.emit(&mut Sll::new_unchecked(&mut out[..])).unwrap();
            }
            LinkType::LinuxSll2 => {
                let repr = Sll2Repr {
                    protocol: first.into(),
                    interface_index: 2,
                    arphrd_type: 1,
                    packet_type: 4,
                    addr_len: 6,
                    addr: [2, 0, 0, 0, 0, 1, 0, 0],
                };
                repr.emit(&mut Sll2::new_unchecked(&mut out[..])).unwrap();
            }
            LinkType::RawIp | LinkType::RawIpv4 | LinkType::RawIpv6 => {}
            LinkType::Loopback => {
                // IPv4 little-endian, IPv6 as macOS (30) writes it big-endian.
                let repr = if self.is_v6() {
                    LoopbackRepr { family: 30, big_endian: true }
                } else {
                    LoopbackRepr { family: 2, big_endian: false }
                };
                repr.emit(&mut out).unwrap();
            }
            LinkType::Ppp => {
                let repr = if self.is_v6() {
                    PppRepr { address_control: false, protocol: PppProtocol::Ipv6, compress_protocol: false }
                } else {
                    PppRepr { address_control: true, protocol: PppProtocol::Ipv4, compress_protocol: false }
                };
                repr.emit(&mut out).unwrap();
            }
            LinkType::CiscoHdlc => CiscoHdlcRepr { broadcast: false, protocol: first.into() }.emit(&mut out).unwrap(),
        }
        out.extend_from_slice(&tags);
        out.extend_from_slice(&self.ip_bytes());
        out.extend(core::iter::repeat_n(0u8, self.pad));
        out
    }

    /// The summary `parse_frame` must return for `build()`'s bytes.
    fn expected<'a>(&self, frame: &'a [u8]) -> Frame<'a> {
        let ip_offset = self.link_len() + 4 * self.vlans.len();
        Frame {
            vlan_depth: self.vlans.len() as u8,
            outer_vlan: self.vlans.first().copied(),
            encap: Encapsulation::NONE,
            network: Network::Ip(self.expected_ip(frame, ip_offset)),
        }
    }

    /// The IP summary of `ip_bytes()` found at `ip_offset` in `frame`.
    fn expected_ip<'a>(&self, frame: &'a [u8], ip_offset: usize) -> IpInfo<'a> {
        let ip = &frame[ip_offset..];
        let (src, dst) = self.addrs();
        let (ip_len, dscp, l4_start) =
            match &self.ip {
                Ip::V4 { dscp, opt_words, .. } => {
                    let total = u16::from_be_bytes([ip[2], ip[3]]);
                    (total, *dscp & 0x3f, 20 + usize::from(*opt_words) * 4)
                }
                Ip::V6 { tc, exts, .. } => {
                    let total = 40 + u16::from_be_bytes([ip[4], ip[5]]);
                    let ext_len: usize =
                        exts.iter()
                            .map(|(k, l)| {
                                if *k == IpProtocol::Ah { (usize::from(*l) + 2) * 4 } else { (usize::from(*l) + 1) * 8 }
                            })
                            .sum();
                    (total, tc >> 2, 40 + ext_len + if self.frag.is_some() { 8 } else { 0 })
                }
            };
        let l4 = &ip[l4_start..usize::from(ip_len)];
        let fragment = self.fragment();
        let transport = if fragment.is_some_and(|f| f.offset != 0) {
            Transport::Other { payload: l4 }
        } else {
            match self.l4 {
                L4::Tcp { sport, dport, seq, ack, flags, opt_words } => Transport::Tcp {
                    src_port: sport,
                    dst_port: dport,
                    seq,
                    ack,
                    flags: TcpFlags(flags),
                    payload: &l4[20 + usize::from(opt_words) * 4..],
                },
                L4::Udp { sport, dport } => Transport::Udp { src_port: sport, dst_port: dport, payload: &l4[8..] },
                L4::Icmp { ty, code, .. } => Transport::Icmp { icmp_type: ty, code },
                L4::Other { .. } => Transport::Other { payload: l4 },
            }
        };
        IpInfo { src, dst, protocol: self.protocol(), ip_offset: ip_offset as u16, ip_len, dscp, fragment, transport }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

fn v4_tcp() -> Spec {
    Spec {
        link: LinkType::Ethernet,
        vlans: vec![],
        qinq: false,
        ip: Ip::V4 {
            src: Ipv4Addr::new(198, 18, 0, 1),
            dst: Ipv4Addr::new(198, 18, 0, 2),
            dscp: 0,
            ttl: 64,
            opt_words: 0,
        },
        l4: L4::Tcp { sport: 51413, dport: 6881, seq: 1, ack: 2, flags: 0x18, opt_words: 0 },
        payload: b"\x13BitTorrent protocol".to_vec(),
        frag: None,
        pad: 0,
    }
}

fn v6_udp() -> Spec {
    Spec {
        link: LinkType::Ethernet,
        vlans: vec![],
        qinq: false,
        ip: Ip::V6 {
            src: "2001:2::1".parse().unwrap(),
            dst: "2001:2::2".parse().unwrap(),
            tc: 0,
            flow: 0,
            exts: vec![],
        },
        l4: L4::Udp { sport: 5353, dport: 53 },
        payload: vec![0xab; 12],
        frag: None,
        pad: 0,
    }
}

/// A complete frame written out byte by byte, independent of the Reprs: Ethernet, one 802.1Q tag
/// (VID 100), IPv4 with DSCP 10, TCP SYN with an MSS option, 2 data bytes, 4 bytes of padding.
static VLAN_V4_TCP: [u8; 68] = [
    // Ethernet: dst, src, 0x8100
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00,
    // 802.1Q: PCP 0, VID 100, then IPv4
    0x00, 0x64, 0x08, 0x00,
    // IPv4: IHL 5, TOS 0x28 (DSCP 10), total 46, id 7, DF, TTL 64, TCP, checksum 0 (unchecked),
    // 198.18.0.1 -> 198.18.0.2
    0x45, 0x28, 0x00, 0x2e, 0x00, 0x07, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 1, 198, 18, 0, 2,
    // TCP: 40000 -> 80, seq 1000, ack 0, data offset 6, SYN, window 1024, MSS 1460
    0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x02, 0x04, 0x05, 0xb4, // data
    b'G', b'E', // padding
    0, 0, 0, 0,
];

#[test]
fn fixture_vlan_v4_tcp() {
    let f = parse_frame(&VLAN_V4_TCP, LinkType::Ethernet).unwrap();
    assert_eq!((f.vlan_depth, f.outer_vlan), (1, Some(100)));
    let ip = f.ip().unwrap();
    assert_eq!(ip.src, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)));
    assert_eq!(ip.dst, IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)));
    assert_eq!((ip.protocol, ip.ip_offset, ip.ip_len, ip.dscp), (IpProtocol::Tcp, 18, 46, 10));
    assert_eq!(ip.fragment, None);
    assert_eq!(
        ip.transport,
        Transport::Tcp { src_port: 40000, dst_port: 80, seq: 1000, ack: 0, flags: TcpFlags::SYN, payload: b"GE" }
    );
    assert_eq!(ip.transport.ports(), Some((40000, 80)));
}

#[test]
fn snaplen_cut_frames_parse_only_within_the_bytes_cut() {
    // VLAN_V4_TCP without its padding: 64 bytes, the IPv4 datagram ends at 64 (18 + 46).
    let frame = &VLAN_V4_TCP[..64];
    // Cut at 63: one data byte captured, one cut off.
    let f = parse_frame_captured(&frame[..63], LinkType::Ethernet, 64).unwrap();
    assert_eq!(f.ip().unwrap().transport.payload(), b"G");
    // Claiming a wire length the IP length does not reach to is no excuse: the datagram runs two
    // bytes past the capture, but only one byte was cut.
    assert_eq!(parse_frame_captured(&frame[..62], LinkType::Ethernet, 63), Err(WireError::Truncated));
    // Cut inside the TCP options: the header is not whole.
    assert_eq!(parse_frame_captured(&frame[..60], LinkType::Ethernet, 64), Err(WireError::Truncated));
    assert_eq!(parse_frame(&frame[..60], LinkType::Ethernet), Err(WireError::Truncated));
    // Not cut: the strict parse.
    assert_eq!(parse_frame_captured(frame, LinkType::Ethernet, 64), parse_frame(frame, LinkType::Ethernet));
    assert_eq!(parse_frame_captured(&frame[..63], LinkType::Ethernet, 63), Err(WireError::Truncated));
}

#[test]
fn fixture_non_ip() {
    // ARP request in Ethernet.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0; 28]);
    let f = parse_frame(&arp, LinkType::Ethernet).unwrap();
    assert_eq!(f.network, Network::NonIp { ethertype: 0x0806 });
    assert!(f.ip().is_none());
    // LLDP behind a QinQ + 802.1Q stack.
    let mut lldp = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e, 2, 0, 0, 0, 0, 1, 0x88, 0xa8];
    lldp.extend_from_slice(&[0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x88, 0xcc, 0x02, 0x07]);
    let f = parse_frame(&lldp, LinkType::Ethernet).unwrap();
    assert_eq!((f.vlan_depth, f.outer_vlan), (2, Some(10)));
    assert_eq!(f.network, Network::NonIp { ethertype: 0x88cc });
    // 802.3 length field + LLC: not IP.
    let llc = [0x01, 0x80, 0xc2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0x00, 0x26, 0x42, 0x42, 0x03];
    assert_eq!(parse_frame(&llc, LinkType::Ethernet).unwrap().network, Network::NonIp { ethertype: 0x26 });
}

#[test]
fn fixture_round_trips() {
    let mut specs = vec![v4_tcp(), v6_udp()];
    for link in LinkType::ALL {
        let mut s = v4_tcp();
        s.link = link;
        s.pad = 6;
        if link == LinkType::RawIpv6 {
            s.ip = v6_udp().ip;
        }
        if carries_vlans(link) {
            s.vlans = vec![10, 20];
            s.qinq = true;
        }
        specs.push(s);
    }
    let mut icmp6 = v6_udp();
    icmp6.l4 = L4::Icmp { ty: 128, code: 0, rest: 1 };
    icmp6.ip = Ip::V6 {
        src: "2001:2::1".parse().unwrap(),
        dst: "2001:2::2".parse().unwrap(),
        tc: 0xb8,
        flow: 5,
        exts: vec![
            (IpProtocol::HopByHop, 0),
            (IpProtocol::Ipv6Route, 1),
            (IpProtocol::Ah, 4),
            (IpProtocol::Ipv6Opts, 0),
        ],
    };
    specs.push(icmp6);
    let mut icmp4 = v4_tcp();
    icmp4.l4 = L4::Icmp { ty: 8, code: 0, rest: 0x10001 };
    specs.push(icmp4);
    for spec in specs {
        let bytes = spec.build();
        assert_eq!(parse_frame(&bytes, spec.link), Ok(spec.expected(&bytes)), "{spec:?}");
    }
}

#[test]
fn padding_is_trimmed_from_payload() {
    let mut s = v4_tcp();
    s.payload = vec![];
    s.pad = 6; // a 54-byte frame padded to the 60-byte Ethernet minimum
    let bytes = s.build();
    assert_eq!(bytes.len(), 60);
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.ip().unwrap().transport.payload(), &[] as &[u8]);
    assert_eq!(f.ip().unwrap().ip_len, 40);
}

#[test]
fn fragments() {
    // First fragment of a UDP datagram (DNS over fragments): UDP length covers later fragments.
    let mut first = v4_tcp();
    first.l4 = L4::Udp { sport: 53, dport: 33000 };
    first.frag = Some(Frag { id: 0x4242, units: 0, more: true });
    let bytes = first.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    let ip = f.ip().unwrap();
    assert_eq!(ip.fragment, Some(Fragment { id: 0x4242, offset: 0, more: true }));
    assert!(matches!(ip.transport, Transport::Udp { src_port: 53, dst_port: 33000, .. }));
    assert_eq!(f, first.expected(&bytes));

    // A later fragment: no transport header, just data.
    let mut later = first.clone();
    later.frag = Some(Frag { id: 0x4242, units: 185, more: false });
    let bytes = later.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    let ip = f.ip().unwrap();
    assert_eq!(ip.fragment, Some(Fragment { id: 0x4242, offset: 1480, more: false }));
    assert!(matches!(ip.transport, Transport::Other { payload } if payload.len() == 8 + 20));

    // IPv6: the same, with the fragment header.
    let mut v6 = v6_udp();
    v6.frag = Some(Frag { id: 0xdead_beef, units: 0, more: true });
    let bytes = v6.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.ip().unwrap().fragment, Some(Fragment { id: 0xdead_beef, offset: 0, more: true }));
    assert_eq!(f, v6.expected(&bytes));
    v6.frag = Some(Frag { id: 1, units: 3, more: true });
    let bytes = v6.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.ip().unwrap().protocol, IpProtocol::Udp);
    assert!(matches!(f.ip().unwrap().transport, Transport::Other { .. }));
    // Atomic fragment: reported, and parsed as a whole datagram.
    v6.frag = Some(Frag { id: 9, units: 0, more: false });
    let bytes = v6.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.ip().unwrap().fragment, Some(Fragment { id: 9, offset: 0, more: false }));
    assert!(matches!(f.ip().unwrap().transport, Transport::Udp { .. }));
}

/// The link types whose protocol field may announce VLAN tags.
fn carries_vlans(link: LinkType) -> bool {
    matches!(link, LinkType::Ethernet | LinkType::LinuxSll | LinkType::LinuxSll2)
}

#[test]
fn link_types_from_pcap() {
    assert_eq!(LinkType::from_pcap(1), Some(LinkType::Ethernet));
    assert_eq!(LinkType::from_pcap(113), Some(LinkType::LinuxSll));
    assert_eq!(LinkType::from_pcap(276), Some(LinkType::LinuxSll2));
    for raw in [12, 14, 101] {
        assert_eq!(LinkType::from_pcap(raw), Some(LinkType::RawIp));
    }
    assert_eq!(LinkType::from_pcap(228), Some(LinkType::RawIpv4));
    assert_eq!(LinkType::from_pcap(229), Some(LinkType::RawIpv6));
    assert_eq!(LinkType::from_pcap(0), Some(LinkType::Loopback));
    assert_eq!(LinkType::from_pcap(108), Some(LinkType::Loopback));
    assert_eq!(LinkType::from_pcap(9), Some(LinkType::Ppp));
    assert_eq!(LinkType::from_pcap(50), Some(LinkType::Ppp));
    assert_eq!(LinkType::from_pcap(104), Some(LinkType::CiscoHdlc));
    for unsupported in [105, 127, 147, 192, 0xffff_ffff] {
        assert_eq!(LinkType::from_pcap(unsupported), None);
    }
    for (n, name) in LinkType::PCAP_NAMES {
        assert!(LinkType::from_pcap(n).is_some() && !name.is_empty(), "{n}");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed frames, one row per error path.

/// Offsets into `v4_tcp().build()` (Ethernet, no tags).
const IP: usize = 14;
const TCP: usize = 34;

fn edit(spec: Spec, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = spec.build();
    f(&mut b);
    b
}

fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

macro_rules! malformed {
    ($($name:ident: $link:expr, $bytes:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let bytes: Vec<u8> = $bytes;
            assert_eq!(parse_frame(&bytes, $link), Err($err));
        }
    )*};
}

malformed! {
    ethernet_empty: LinkType::Ethernet, vec![] => WireError::Truncated;
    ethernet_13_bytes: LinkType::Ethernet, vec![0; 13] => WireError::Truncated;
    ethernet_ipv4_without_header: LinkType::Ethernet, edit(v4_tcp(), |b| b.truncate(IP + 19)) => WireError::Truncated;
    snaplen_cut: LinkType::Ethernet, edit(v4_tcp(), |b| b.truncate(b.len() - 1)) => WireError::Truncated;
    sll_short: LinkType::LinuxSll, vec![0; 15] => WireError::Truncated;
    sll2_short: LinkType::LinuxSll2, vec![0; 19] => WireError::Truncated;
    sll_address_too_long: LinkType::LinuxSll, edit(Spec { link: LinkType::LinuxSll, ..v4_tcp() }, |b| set16(b, 4, 9)) => WireError::BadLinkHeader;
    sll2_address_too_long: LinkType::LinuxSll2, edit(Spec { link: LinkType::LinuxSll2, ..v4_tcp() }, |b| b[11] = 9) => WireError::BadLinkHeader;
    raw_empty: LinkType::RawIp, vec![] => WireError::Truncated;
    raw_version_5: LinkType::RawIp, edit(Spec { link: LinkType::RawIp, ..v4_tcp() }, |b| b[0] = 0x55) => WireError::BadIpVersion;
    ethertype_v4_carrying_v6: LinkType::Ethernet, edit(v6_udp(), |b| set16(b, 12, 0x0800)) => WireError::BadIpVersion;
    ethertype_v6_carrying_v4: LinkType::Ethernet, edit(v4_tcp(), |b| { set16(b, 12, 0x86dd); b.extend_from_slice(&[0; 40]) }) => WireError::BadIpVersion;
    vlan_tag_cut: LinkType::Ethernet, edit(Spec { vlans: vec![1], ..v4_tcp() }, |b| b.truncate(16)) => WireError::Truncated;
    five_vlan_tags: LinkType::Ethernet, Spec { vlans: vec![1, 2, 3, 4, 5], ..v4_tcp() }.build() => WireError::TooManyVlanTags;
    endless_vlan_tags: LinkType::Ethernet, [&[0u8; 12][..], &[0x81, 0x00, 0x00, 0x01].repeat(100)].concat() => WireError::TooManyVlanTags;
    ipv4_ihl_below_5: LinkType::Ethernet, edit(v4_tcp(), |b| b[IP] = 0x44) => WireError::BadIpHeaderLength;
    ipv4_ihl_above_total: LinkType::Ethernet, edit(v4_tcp(), |b| { b[IP] = 0x46; set16(b, IP + 2, 20) }) => WireError::BadIpHeaderLength;
    ipv4_total_below_20: LinkType::Ethernet, edit(v4_tcp(), |b| set16(b, IP + 2, 0)) => WireError::BadIpTotalLength;
    ipv4_total_beyond_frame: LinkType::Ethernet, edit(v4_tcp(), |b| set16(b, IP + 2, 1500)) => WireError::Truncated;
    ipv4_fragment_past_64k: LinkType::Ethernet, edit(Spec { frag: Some(Frag { id: 1, units: 8190, more: false }), ..v4_tcp() }, |_| {}) => WireError::BadFragment;
    tcp_offset_below_5: LinkType::Ethernet, edit(v4_tcp(), |b| b[TCP + 12] = 0x40) => WireError::BadTcpHeaderLength;
    tcp_offset_beyond_segment: LinkType::Ethernet, edit(v4_tcp(), |b| b[TCP + 12] = 0xf0) => WireError::BadTcpHeaderLength;
    tcp_shorter_than_header: LinkType::Ethernet, edit(v4_tcp(), |b| set16(b, IP + 2, 20 + 19)) => WireError::Truncated;
    tcp_first_fragment_tiny: LinkType::Ethernet, edit(Spec { frag: Some(Frag { id: 1, units: 0, more: true }), payload: vec![], ..v4_tcp() }, |b| { set16(b, IP + 2, 20 + 16); b.truncate(IP + 36); }) => WireError::TinyFragment;
    tcp_first_fragment_options_cut: LinkType::Ethernet, edit(Spec { frag: Some(Frag { id: 1, units: 0, more: true }), payload: vec![], ..v4_tcp() }, |b| b[TCP + 12] = 0x60) => WireError::TinyFragment;
    udp_shorter_than_header: LinkType::Ethernet, edit(Spec { l4: L4::Udp { sport: 1, dport: 2 }, payload: vec![], ..v4_tcp() }, |b| { set16(b, IP + 2, 27); b.truncate(IP + 27); }) => WireError::Truncated;
    udp_length_below_8: LinkType::Ethernet, edit(Spec { l4: L4::Udp { sport: 1, dport: 2 }, ..v4_tcp() }, |b| set16(b, TCP + 4, 7)) => WireError::BadUdpLength;
    udp_length_beyond_ip: LinkType::Ethernet, edit(Spec { l4: L4::Udp { sport: 1, dport: 2 }, ..v4_tcp() }, |b| { let l = (b.len() - TCP + 1) as u16; set16(b, TCP + 4, l) }) => WireError::BadUdpLength;
    udp_first_fragment_tiny: LinkType::Ethernet, edit(Spec { l4: L4::Udp { sport: 1, dport: 2 }, frag: Some(Frag { id: 1, units: 0, more: true }), payload: vec![], ..v4_tcp() }, |b| { set16(b, IP + 2, 24); b.truncate(IP + 24); }) => WireError::TinyFragment;
    udp_first_fragment_short_length: LinkType::Ethernet, edit(Spec { l4: L4::Udp { sport: 1, dport: 2 }, frag: Some(Frag { id: 1, units: 0, more: true }), ..v4_tcp() }, |b| set16(b, TCP + 4, 9)) => WireError::BadUdpLength;
    icmp_shorter_than_header: LinkType::Ethernet, edit(Spec { l4: L4::Icmp { ty: 8, code: 0, rest: 0 }, payload: vec![], ..v4_tcp() }, |b| { set16(b, IP + 2, 24); b.truncate(IP + 24); }) => WireError::Truncated;
    ipv6_header_cut: LinkType::Ethernet, edit(v6_udp(), |b| b.truncate(IP + 39)) => WireError::Truncated;
    ipv6_payload_beyond_frame: LinkType::Ethernet, edit(v6_udp(), |b| set16(b, IP + 4, 100)) => WireError::Truncated;
    ipv6_nine_extension_headers: LinkType::Ethernet, Spec { ip: Ip::V6 { src: Ipv6Addr::LOCALHOST, dst: Ipv6Addr::LOCALHOST, tc: 0, flow: 0, exts: vec![(IpProtocol::Ipv6Opts, 0); 9] }, ..v6_udp() }.build() => WireError::TooManyExtensionHeaders;
    ipv6_extension_header_overrun: LinkType::Ethernet, edit(Spec { ip: Ip::V6 { src: Ipv6Addr::LOCALHOST, dst: Ipv6Addr::LOCALHOST, tc: 0, flow: 0, exts: vec![(IpProtocol::Ipv6Route, 0)] }, ..v6_udp() }, |b| b[IP + 41] = 200) => WireError::BadExtensionHeader;
    ipv6_late_hop_by_hop: LinkType::Ethernet, Spec { ip: Ip::V6 { src: Ipv6Addr::LOCALHOST, dst: Ipv6Addr::LOCALHOST, tc: 0, flow: 0, exts: vec![(IpProtocol::Ipv6Opts, 0), (IpProtocol::HopByHop, 0)] }, ..v6_udp() }.build() => WireError::BadExtensionHeader;
    ipv6_fragment_past_64k: LinkType::Ethernet, Spec { frag: Some(Frag { id: 1, units: 8191, more: false }), ..v6_udp() }.build() => WireError::BadFragment;
}

#[test]
fn eight_extension_headers_are_accepted() {
    let spec = Spec {
        ip: Ip::V6 {
            src: Ipv6Addr::LOCALHOST,
            dst: Ipv6Addr::LOCALHOST,
            tc: 0,
            flow: 0,
            exts: vec![(IpProtocol::Ipv6Opts, 0); 7],
        },
        frag: Some(Frag { id: 1, units: 0, more: false }),
        ..v6_udp()
    };
    let bytes = spec.build();
    assert_eq!(parse_frame(&bytes, LinkType::Ethernet), Ok(spec.expected(&bytes)));
}

#[test]
fn four_vlan_tags_are_accepted() {
    let spec = Spec { vlans: vec![4095, 2, 3, 0], qinq: true, ..v4_tcp() };
    let bytes = spec.build();
    let f = parse_frame(&bytes, LinkType::Ethernet).unwrap();
    assert_eq!((f.vlan_depth, f.outer_vlan), (4, Some(4095)));
    assert_eq!(f, spec.expected(&bytes));
}

// ---------------------------------------------------------------------------------------------
// Properties.

fn arb_l4(v6: bool) -> impl Strategy<Value = L4> {
    let other: &'static [u8] = if v6 { &[89, 50, 59, 132, 1, 253] } else { &[89, 50, 132, 58, 44, 0, 253] };
    prop_oneof![
        (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>(), any::<u8>(), 0u8..=10).prop_map(
            |(sport, dport, seq, ack, flags, opt_words)| L4::Tcp { sport, dport, seq, ack, flags, opt_words }
        ),
        (any::<u16>(), any::<u16>()).prop_map(|(sport, dport)| L4::Udp { sport, dport }),
        (any::<u8>(), any::<u8>(), any::<u32>()).prop_map(|(ty, code, rest)| L4::Icmp { ty, code, rest }),
        prop::sample::select(other).prop_map(|proto| L4::Other { proto }),
    ]
}

fn arb_ext() -> impl Strategy<Value = (IpProtocol, u8)> {
    (prop::sample::select(&[IpProtocol::Ipv6Route, IpProtocol::Ipv6Opts, IpProtocol::Ah][..]), 0u8..4)
}

fn arb_ip() -> impl Strategy<Value = Ip> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<[u8; 4]>(), 0u8..64, any::<u8>(), 0u8..=10)
            .prop_map(|(s, d, dscp, ttl, opt_words)| { Ip::V4 { src: s.into(), dst: d.into(), dscp, ttl, opt_words } }),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            0u32..0x10_0000,
            any::<bool>(),
            prop::collection::vec(arb_ext(), 0..5),
        )
            .prop_map(|(s, d, tc, flow, hbh, mut exts)| {
                if hbh {
                    exts.insert(0, (IpProtocol::HopByHop, 0));
                }
                Ip::V6 { src: s.into(), dst: d.into(), tc, flow, exts }
            }),
    ]
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(&LinkType::ALL[..]),
        prop::collection::vec(0u16..4096, 0..=4),
        any::<bool>(),
        arb_ip(),
        prop::collection::vec(any::<u8>(), 0..120),
        prop::option::of((any::<u32>(), 0u16..2000, any::<bool>())),
        0usize..24,
    )
        .prop_flat_map(|(link, vlans, qinq, ip, payload, frag, pad)| {
            let v6 = matches!(ip, Ip::V6 { .. });
            // The raw links of one IP version carry that version.
            let link = match link {
                LinkType::RawIpv4 | LinkType::RawIpv6 if v6 => LinkType::RawIpv6,
                LinkType::RawIpv4 | LinkType::RawIpv6 => LinkType::RawIpv4,
                other => other,
            };
            arb_l4(v6).prop_map(move |l4| Spec {
                link,
                vlans: if carries_vlans(link) { vlans.clone() } else { vec![] },
                qinq,
                ip: ip.clone(),
                l4,
                payload: payload.clone(),
                frag: frag.map(|(id, units, more)| Frag { id, units, more }),
                pad,
            })
        })
}

/// Invariants of any successful parse: every slice lies inside the frame, lengths agree.
fn check_invariants(bytes: &[u8], frame: &Frame<'_>) {
    check_invariants_cut(bytes, bytes.len(), frame);
}

/// The same for a frame of `wire_len` bytes of which `bytes` were captured: the IP datagram
/// ends within the wire length, every slice within the captured bytes.
fn check_invariants_cut(bytes: &[u8], wire_len: usize, frame: &Frame<'_>) {
    assert!(frame.vlan_depth <= MAX_VLAN_DEPTH);
    assert_eq!(frame.outer_vlan.is_some(), frame.vlan_depth > 0);
    if let Some(ip) = frame.ip() {
        let range = bytes.as_ptr_range();
        let payload = ip.transport.payload();
        let p = payload.as_ptr_range();
        assert!(payload.is_empty() || (range.start <= p.start && p.end <= range.end));
        let ip_end = usize::from(ip.ip_offset) + usize::from(ip.ip_len);
        assert!(ip_end <= wire_len.max(bytes.len()));
        assert!(payload.len() <= usize::from(ip.ip_len));
        if !payload.is_empty() {
            // The payload ends inside the IP datagram (padding is never payload).
            let payload_end = p.end as usize - range.start as usize;
            assert!(payload_end <= ip_end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn valid_frames_parse_to_what_was_emitted(spec in arb_spec()) {
        let bytes = spec.build();
        let parsed = parse_frame(&bytes, spec.link);
        prop_assert_eq!(parsed, Ok(spec.expected(&bytes)));
        if let Ok(frame) = parsed {
            check_invariants(&bytes, &frame);
        }
    }

    /// A capture cut anywhere after the headers parses as the whole frame with the captured part
    /// of the payload; cut inside the headers, it is an error, never a guess.
    #[test]
    fn captured_prefixes_parse_with_the_captured_payload(spec in arb_spec(), at in any::<prop::sample::Index>()) {
        let bytes = spec.build();
        let full = spec.expected(&bytes);
        let Some(ip) = full.ip() else { return Ok(()) };
        if matches!(ip.transport, Transport::Icmp { .. }) {
            return Ok(());
        }
        let payload = ip.transport.payload();
        let start = payload.as_ptr() as usize - bytes.as_ptr() as usize;
        let cut = at.index(bytes.len() + 1);
        let parsed = parse_frame_captured(&bytes[..cut], spec.link, bytes.len());
        if cut < start {
            prop_assert!(parsed.is_err(), "cut at {} inside the headers (payload at {}) parsed: {:?}", cut, start, parsed);
            return Ok(());
        }
        let kept = &payload[..(cut - start).min(payload.len())];
        let mut want = full;
        if let Network::Ip(ref mut w) = want.network {
            w.transport = match w.transport {
                Transport::Tcp { src_port, dst_port, seq, ack, flags, .. } => {
                    Transport::Tcp { src_port, dst_port, seq, ack, flags, payload: kept }
                }
                Transport::Udp { src_port, dst_port, .. } => Transport::Udp { src_port, dst_port, payload: kept },
                Transport::Other { .. } => Transport::Other { payload: kept },
                t @ Transport::Icmp { .. } => t,
            };
        }
        prop_assert_eq!(parsed, Ok(want));
        // An uncut frame, or a wire length that is not longer, parses exactly as parse_frame.
        prop_assert_eq!(parse_frame_captured(&bytes, spec.link, bytes.len()), parse_frame(&bytes, spec.link));
        prop_assert_eq!(
            parse_frame_captured(&bytes[..cut], spec.link, cut),
            parse_frame(&bytes[..cut], spec.link)
        );
    }

    #[test]
    fn captured_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), extra in 0usize..3000) {
        for link in LinkType::ALL {
            if let Ok(frame) = parse_frame_captured(&bytes, link, bytes.len() + extra) {
                check_invariants_cut(&bytes, bytes.len() + extra, &frame);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for link in LinkType::ALL {
            if let Ok(frame) = parse_frame(&bytes, link) {
                check_invariants(&bytes, &frame);
            }
        }
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        spec in arb_spec(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        do_cut in any::<bool>(),
    ) {
        let mut bytes = spec.build();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if do_cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        for link in LinkType::ALL {
            if let Ok(frame) = parse_frame(&bytes, link) {
                check_invariants(&bytes, &frame);
            }
        }
    }
}

mod encap;
