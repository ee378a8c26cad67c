//! Tunnels: fixtures written out byte by byte, a builder that wraps the parent module's packets
//! in any stack of encapsulations with the Reprs, a table of malformed tunnels, and properties:
//! the innermost packet is the flow, cut captures parse within what was cut, arbitrary and
//! mutated bytes never panic.

use super::*;
use crate::{
    GreRepr, GtpRepr, Ipv4Packet as V4, MplsRepr, PppoeRepr, UdpPacket as Udp, VxlanRepr, gre, gtp, mpls, pppoe, vxlan,
};

// ---------------------------------------------------------------------------------------------
// Fixtures written out byte by byte, independent of the Reprs.

/// Ethernet, PPPoE session 0x0001, PPP IPv4, IPv4 198.18.0.1 -> 198.18.0.2 UDP 5000 -> 53 with
/// "hi", then 2 bytes of Ethernet padding.
static PPPOE_V4_UDP: [u8; 54] = [
    // Ethernet: dst, src, 0x8864
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x64,
    // PPPoE: ver/type 0x11, code 0, session 1, length 32 (2 + 30)
    0x11, 0x00, 0x00, 0x01, 0x00, 0x20, // PPP: IPv4
    0x00, 0x21, // IPv4, total 30, UDP
    0x45, 0x00, 0x00, 0x1e, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 198, 18, 0, 1, 198, 18, 0, 2,
    // UDP 5000 -> 53, length 10
    0x13, 0x88, 0x00, 0x35, 0x00, 0x0a, 0x00, 0x00, b'h', b'i', // padding
    0x00, 0x00,
];

/// Ethernet, IPv4 198.18.0.10 -> 198.18.0.20 UDP 40000 -> 4789, VXLAN VNI 42, inner Ethernet,
/// inner IPv4 198.18.1.1 -> 198.18.1.2 TCP 1234 -> 80 (ACK) with "G".
static VXLAN_V4_TCP: [u8; 105] = [
    // Outer Ethernet
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    // Outer IPv4: total 91, UDP
    0x45, 0x00, 0x00, 0x5b, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 198, 18, 0, 10, 198, 18, 0, 20,
    // UDP 40000 -> 4789, length 71
    0x9c, 0x40, 0x12, 0xb5, 0x00, 0x47, 0x00, 0x00, // VXLAN: I flag, VNI 42
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, // Inner Ethernet
    0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x08, 0x00,
    // Inner IPv4: total 41, TCP
    0x45, 0x00, 0x00, 0x29, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 1, 1, 198, 18, 1, 2,
    // TCP 1234 -> 80, seq 1, ack 2, data offset 5, ACK
    0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x50, 0x10, 0x20, 0x00, 0x00, 0x00, 0x00,
    0x00, b'G',
];

#[test]
fn fixture_pppoe() {
    let f = parse_frame(&PPPOE_V4_UDP, LinkType::Ethernet).unwrap();
    assert_eq!(f.encap.iter().collect::<Vec<_>>(), [Encap::Pppoe]);
    let ip = f.ip().unwrap();
    assert_eq!((ip.src, ip.dst, ip.ip_offset, ip.ip_len), (v4(198, 18, 0, 1), v4(198, 18, 0, 2), 22, 30));
    assert_eq!(ip.transport, Transport::Udp { src_port: 5000, dst_port: 53, payload: b"hi" });
}

#[test]
fn fixture_vxlan() {
    let f = parse_frame(&VXLAN_V4_TCP, LinkType::Ethernet).unwrap();
    assert_eq!(f.encap.iter().collect::<Vec<_>>(), [Encap::Vxlan]);
    assert_eq!(f.encap.depth(), 1);
    let ip = f.ip().unwrap();
    assert_eq!((ip.src, ip.dst, ip.ip_offset, ip.ip_len), (v4(198, 18, 1, 1), v4(198, 18, 1, 2), 64, 41));
    assert_eq!(
        ip.transport,
        Transport::Tcp { src_port: 1234, dst_port: 80, seq: 1, ack: 2, flags: TcpFlags::ACK, payload: b"G" }
    );
    // Without the I flag the datagram is the UDP flow it seems.
    let mut no_i = VXLAN_V4_TCP;
    no_i[42] = 0;
    let f = parse_frame(&no_i, LinkType::Ethernet).unwrap();
    assert!(f.encap.is_empty());
    assert!(matches!(f.ip().unwrap().transport, Transport::Udp { src_port: 40000, dst_port: 4789, .. }));
    // On another port too.
    let mut other = VXLAN_V4_TCP;
    other[36..38].copy_from_slice(&4790u16.to_be_bytes());
    assert!(parse_frame(&other, LinkType::Ethernet).unwrap().encap.is_empty());
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(core::net::Ipv4Addr::new(a, b, c, d))
}

// ---------------------------------------------------------------------------------------------
// A builder: an inner packet, wrapped from the inside out.

/// One wrapping, applied to what is built so far.
#[derive(Debug, Clone)]
enum Wrap {
    /// IP in IPv4 or IPv6 (protocol 4 or 41).
    IpInIp { v6: bool },
    /// GRE version 0 over IPv4 or IPv6, carrying whatever is inside by its EtherType (Ethernet
    /// as transparent bridging).
    Gre { v6: bool, checksum: Option<u16>, key: Option<u32>, sequence: Option<u32> },
    /// PPTP: GRE version 1 over IPv4 carrying PPP (with or without address and control).
    Pptp { address_control: bool, sequence: Option<u32>, ack: Option<u32> },
    /// VXLAN over IPv4 or IPv6 UDP; wraps an Ethernet frame.
    Vxlan { v6: bool, vni: u32, linux_port: bool },
    /// GTP-U G-PDU over IPv4 UDP; wraps an IP packet.
    Gtp { teid: u32, sequence: Option<u16> },
    /// A PPPoE session; makes an EtherType payload.
    Pppoe { session: u16 },
    /// An MPLS stack of `labels` (bottom last); a control word before an Ethernet payload.
    Mpls { labels: Vec<u32>, control_word: bool },
    /// An Ethernet header with VLAN tags.
    Ethernet { vlans: Vec<u16> },
}

/// What has been built: its bytes and what they are.
#[derive(Debug, Clone)]
struct Built {
    bytes: Vec<u8>,
    kind: Kind,
    /// Offset of the innermost IP packet.
    inner_at: usize,
    /// The tunnels so far, outermost first.
    encap: Vec<Encap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An IP packet of this version.
    Ip { v6: bool },
    /// The payload of an EtherType.
    EtherPayload(u16),
    /// A whole Ethernet frame.
    Ethernet,
}

impl Built {
    fn ethertype(&self) -> u16 {
        match self.kind {
            Kind::Ip { v6: false } => 0x0800,
            Kind::Ip { v6: true } => 0x86dd,
            Kind::EtherPayload(t) => t,
            Kind::Ethernet => gre::PROTOCOL_TEB,
        }
    }

    fn prepend(mut self, header: Vec<u8>, kind: Kind, tunnel: Option<Encap>) -> Built {
        self.inner_at += header.len();
        let mut bytes = header;
        bytes.extend_from_slice(&self.bytes);
        self.bytes = bytes;
        self.kind = kind;
        if let Some(t) = tunnel {
            self.encap.insert(0, t);
        }
        self
    }

    /// Outer IP header (addresses from the test ranges) around `payload_len` bytes.
    fn ip_header(v6: bool, protocol: IpProtocol, payload_len: usize) -> Vec<u8> {
        if v6 {
            let repr = Ipv6Repr {
                src_addr: "2001:2::a".parse().unwrap(),
                dst_addr: "2001:2::b".parse().unwrap(),
                next_header: protocol,
                payload_len,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: 0,
            };
            let mut b = vec![0u8; 40];
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut b[..])).unwrap();
            b
        } else {
            let repr = Ipv4Repr {
                src_addr: "198.18.0.10".parse().unwrap(),
                dst_addr: "198.18.0.20".parse().unwrap(),
                next_header: protocol,
                payload_len,
                hop_limit: 64,
                dscp: 0,
                ecn: 0,
                ident: 7,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            let mut b = vec![0u8; 20];
            let mut p = V4::new_unchecked(&mut b[..]);
            repr.emit(&mut p).unwrap();
            p.fill_checksum();
            b
        }
    }

    fn udp_header(dport: u16, payload_len: usize) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        UdpRepr { src_port: 49_152, dst_port: dport, payload_len }.emit(&mut Udp::new_unchecked(&mut b[..])).unwrap();
        b
    }

    fn wrap(self, w: &Wrap) -> Built {
        let len = self.bytes.len();
        match w {
            Wrap::IpInIp { v6 } => {
                let proto = if self.kind == (Kind::Ip { v6: true }) { IpProtocol::Ipv6 } else { IpProtocol::Ipv4 };
                self.prepend(Self::ip_header(*v6, proto, len), Kind::Ip { v6: *v6 }, Some(Encap::IpInIp))
            }
            Wrap::Gre { v6, checksum, key, sequence } => {
                let g = GreRepr {
                    version: 0,
                    protocol_type: self.ethertype(),
                    checksum: *checksum,
                    key: *key,
                    sequence: *sequence,
                    ack: None,
                };
                let mut h = Self::ip_header(*v6, IpProtocol::Gre, g.buffer_len() + len);
                let at = h.len();
                h.resize(at + g.buffer_len(), 0);
                g.emit(&mut h[at..]).unwrap();
                self.prepend(h, Kind::Ip { v6: *v6 }, Some(Encap::Gre))
            }
            Wrap::Pptp { address_control, sequence, ack } => {
                let v6 = self.kind == (Kind::Ip { v6: true });
                let ppp = PppRepr {
                    address_control: *address_control,
                    protocol: if v6 { PppProtocol::Ipv6 } else { PppProtocol::Ipv4 },
                    compress_protocol: true,
                };
                let ppp_len = ppp.buffer_len() + len;
                let g = GreRepr {
                    version: 1,
                    protocol_type: gre::PROTOCOL_PPP,
                    checksum: None,
                    key: Some(((ppp_len as u32) << 16) | 0x4242),
                    sequence: *sequence,
                    ack: *ack,
                };
                let mut h = Self::ip_header(false, IpProtocol::Gre, g.buffer_len() + ppp_len);
                let at = h.len();
                h.resize(at + g.buffer_len() + ppp.buffer_len(), 0);
                g.emit(&mut h[at..]).unwrap();
                ppp.emit(&mut h[at + g.buffer_len()..]).unwrap();
                self.prepend(h, Kind::Ip { v6: false }, Some(Encap::Gre))
            }
            Wrap::Vxlan { v6, vni, linux_port } => {
                assert_eq!(self.kind, Kind::Ethernet, "VXLAN carries Ethernet");
                let port = if *linux_port { vxlan::PORT_LINUX } else { vxlan::PORT };
                let mut h = Self::ip_header(*v6, IpProtocol::Udp, 8 + 8 + len);
                h.extend(Self::udp_header(port, 8 + len));
                let at = h.len();
                h.resize(at + 8, 0);
                VxlanRepr { vni: *vni }.emit(&mut h[at..]).unwrap();
                self.prepend(h, Kind::Ip { v6: *v6 }, Some(Encap::Vxlan))
            }
            Wrap::Gtp { teid, sequence } => {
                let g =
                    GtpRepr { message_type: gtp::MSG_G_PDU, teid: *teid, sequence: *sequence, payload_len: len as u16 };
                let mut h = Self::ip_header(false, IpProtocol::Udp, 8 + g.buffer_len() + len);
                h.extend(Self::udp_header(gtp::PORT, g.buffer_len() + len));
                let at = h.len();
                h.resize(at + g.buffer_len(), 0);
                g.emit(&mut h[at..]).unwrap();
                self.prepend(h, Kind::Ip { v6: false }, Some(Encap::GtpU))
            }
            Wrap::Pppoe { session } => {
                let v6 = self.kind == (Kind::Ip { v6: true });
                let ppp = PppRepr {
                    address_control: false,
                    protocol: if v6 { PppProtocol::Ipv6 } else { PppProtocol::Ipv4 },
                    compress_protocol: false,
                };
                let mut h = vec![0u8; 6 + 2];
                PppoeRepr { session_id: *session, length: (2 + len) as u16 }.emit(&mut h).unwrap();
                ppp.emit(&mut h[6..]).unwrap();
                self.prepend(h, Kind::EtherPayload(pppoe::ETHERTYPE_SESSION), Some(Encap::Pppoe))
            }
            Wrap::Mpls { labels, control_word } => {
                let mut h = Vec::new();
                for (i, label) in labels.iter().enumerate() {
                    let mut e = [0u8; 4];
                    MplsRepr { label: *label, traffic_class: 0, bottom: i + 1 == labels.len(), ttl: 64 }
                        .emit(&mut e)
                        .unwrap();
                    h.extend_from_slice(&e);
                }
                if *control_word {
                    h.extend_from_slice(&[0, 0, 0, 0]);
                }
                self.prepend(h, Kind::EtherPayload(mpls::ETHERTYPE_UNICAST), Some(Encap::Mpls))
            }
            Wrap::Ethernet { vlans } => {
                let ethertype = self.ethertype();
                let first = if vlans.is_empty() { ethertype } else { 0x8100 };
                let mut h = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
                h.extend_from_slice(&first.to_be_bytes());
                for (i, vid) in vlans.iter().enumerate() {
                    let next = if i + 1 == vlans.len() { ethertype } else { 0x8100 };
                    h.extend_from_slice(&vid.to_be_bytes());
                    h.extend_from_slice(&next.to_be_bytes());
                }
                self.prepend(h, Kind::Ethernet, None)
            }
        }
    }
}

/// `spec`'s IP packet wrapped in `wraps` (innermost first), as an Ethernet frame, padded.
fn build(spec: &Spec, wraps: &[Wrap], pad: usize) -> Built {
    let mut b = Built { bytes: spec.ip_bytes(), kind: Kind::Ip { v6: spec.is_v6() }, inner_at: 0, encap: vec![] };
    for w in wraps {
        b = b.wrap(w);
    }
    if b.kind != Kind::Ethernet {
        b = b.wrap(&Wrap::Ethernet { vlans: vec![] });
    }
    b.bytes.extend(core::iter::repeat_n(0u8, pad));
    b
}

fn expected<'a>(spec: &Spec, built: &'a Built) -> Frame<'a> {
    let parsed_outer_vlans = {
        let et = u16::from_be_bytes([built.bytes[12], built.bytes[13]]);
        if et == 0x8100 { 1 } else { 0 }
    };
    let mut encap = Encapsulation::NONE;
    for e in &built.encap {
        encap.push(*e).unwrap();
    }
    let outer_vlan = (parsed_outer_vlans > 0).then(|| u16::from_be_bytes([built.bytes[14], built.bytes[15]]) & 0xfff);
    // Only a single outermost tag is ever built in these tests; count the rest of the stack.
    let vlan_depth = if parsed_outer_vlans == 0 {
        0
    } else {
        let mut n = 0;
        let mut at = 12;
        while u16::from_be_bytes([built.bytes[at], built.bytes[at + 1]]) == 0x8100 {
            n += 1;
            at += 4;
        }
        n
    };
    Frame { vlan_depth, outer_vlan, encap, network: Network::Ip(spec.expected_ip(&built.bytes, built.inner_at)) }
}

#[test]
fn every_tunnel_round_trips() {
    let stacks: Vec<Vec<Wrap>> = vec![
        vec![Wrap::Pppoe { session: 7 }],
        vec![Wrap::Mpls { labels: vec![16, 17], control_word: false }],
        vec![Wrap::Ethernet { vlans: vec![5] }, Wrap::Mpls { labels: vec![300], control_word: true }],
        vec![Wrap::Ethernet { vlans: vec![] }, Wrap::Mpls { labels: vec![300, 301], control_word: false }],
        vec![Wrap::IpInIp { v6: false }],
        vec![Wrap::IpInIp { v6: true }],
        vec![Wrap::Gre { v6: false, checksum: None, key: None, sequence: None }],
        vec![Wrap::Gre { v6: true, checksum: Some(1), key: Some(0xdead_beef), sequence: Some(3) }],
        vec![
            Wrap::Ethernet { vlans: vec![9, 10] },
            Wrap::Gre { v6: false, checksum: None, key: Some(5), sequence: None },
        ],
        vec![
            Wrap::Mpls { labels: vec![40], control_word: false },
            Wrap::Gre { v6: false, checksum: None, key: None, sequence: None },
        ],
        vec![Wrap::Pptp { address_control: true, sequence: Some(106), ack: Some(140) }],
        vec![Wrap::Pptp { address_control: false, sequence: Some(1), ack: None }],
        vec![Wrap::Ethernet { vlans: vec![] }, Wrap::Vxlan { v6: false, vni: 42, linux_port: false }],
        vec![Wrap::Ethernet { vlans: vec![100] }, Wrap::Vxlan { v6: true, vni: 1, linux_port: true }],
        vec![Wrap::Gtp { teid: 0x1234, sequence: None }],
        vec![Wrap::Gtp { teid: 9, sequence: Some(77) }],
        // Stacks: GTP over MPLS over PPPoE, VXLAN in GRE, 6in4 over PPPoE.
        vec![Wrap::Gtp { teid: 1, sequence: None }, Wrap::Mpls { labels: vec![20], control_word: false }],
        vec![
            Wrap::Ethernet { vlans: vec![] },
            Wrap::Vxlan { v6: false, vni: 3, linux_port: false },
            Wrap::Gre { v6: false, checksum: None, key: Some(1), sequence: None },
        ],
        vec![Wrap::IpInIp { v6: false }, Wrap::Pppoe { session: 1 }],
    ];
    for inner in [v4_tcp(), v6_udp()] {
        let null = if inner.is_v6() { mpls::LABEL_IPV6_EXPLICIT_NULL } else { mpls::LABEL_IPV4_EXPLICIT_NULL };
        let explicit_null = vec![Wrap::Mpls { labels: vec![16, null], control_word: false }];
        for wraps in stacks.iter().chain([&explicit_null]) {
            let built = build(&inner, wraps, 4);
            let parsed = parse_frame(&built.bytes, LinkType::Ethernet);
            assert_eq!(parsed, Ok(expected(&inner, &built)), "{wraps:?} around {inner:?}");
        }
    }
}

#[test]
fn ipv6_explicit_null_and_mpls_on_ppp() {
    let inner = v6_udp();
    let built = build(&inner, &[Wrap::Mpls { labels: vec![mpls::LABEL_IPV6_EXPLICIT_NULL], control_word: false }], 0);
    assert_eq!(parse_frame(&built.bytes, LinkType::Ethernet), Ok(expected(&inner, &built)));
    // The same label stack on a PPP link (protocol 0x0281).
    let mut ppp = vec![0xff, 0x03, 0x02, 0x81];
    ppp.extend_from_slice(&built.bytes[14..]);
    let f = parse_frame(&ppp, LinkType::Ppp).unwrap();
    assert_eq!(f.encap.iter().collect::<Vec<_>>(), [Encap::Mpls]);
    assert_eq!(f.ip().unwrap().transport, Transport::Udp { src_port: 5353, dst_port: 53, payload: &[0xab; 12] });
}

/// A tunnel whose payload is not IP is the flow of its own IP packet; PPPoE and MPLS without IP
/// are non-IP; a fragment of a tunnel packet is not unwrapped.
#[test]
fn tunnels_without_ip_inside_count_as_their_outer_flow() {
    fn outer_gre(b: &[u8]) -> IpInfo<'_> {
        let f = parse_frame(b, LinkType::Ethernet).unwrap();
        assert!(f.encap.is_empty(), "{:?}", f.encap);
        let ip = *f.ip().unwrap();
        assert_eq!((ip.protocol, ip.src), (IpProtocol::Gre, v4(198, 18, 0, 10)));
        ip
    }
    // A Cisco GRE keepalive: GRE carrying IPv4 whose payload is GRE of protocol 0. The inner
    // packet is the flow (it is IP); its own GRE has nothing inside.
    let mut keepalive_inner = Built::ip_header(false, IpProtocol::Gre, 4);
    keepalive_inner.extend_from_slice(&[0, 0, 0, 0]);
    let inner = Built { bytes: keepalive_inner, kind: Kind::Ip { v6: false }, inner_at: 0, encap: vec![] };
    let b = inner
        .wrap(&Wrap::Gre { v6: false, checksum: None, key: None, sequence: None })
        .wrap(&Wrap::Ethernet { vlans: vec![] });
    let f = parse_frame(&b.bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.encap.iter().collect::<Vec<_>>(), [Encap::Gre]);
    assert_eq!((f.ip().unwrap().protocol, f.ip().unwrap().ip_offset), (IpProtocol::Gre, 14 + 24));
    // GRE carrying ARP over transparent bridging; VXLAN carrying ARP.
    let arp = {
        let mut a = vec![0xffu8; 6];
        a.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        a.extend_from_slice(&[0; 28]);
        Built { bytes: a, kind: Kind::Ethernet, inner_at: 0, encap: vec![] }
    };
    let b = arp.clone().wrap(&Wrap::Gre { v6: false, checksum: None, key: None, sequence: None });
    let b = b.wrap(&Wrap::Ethernet { vlans: vec![] });
    assert!(matches!(outer_gre(&b.bytes).transport, Transport::Other { payload } if payload.len() == 4 + 42));
    let b = arp.wrap(&Wrap::Vxlan { v6: false, vni: 1, linux_port: false }).wrap(&Wrap::Ethernet { vlans: vec![] });
    let f = parse_frame(&b.bytes, LinkType::Ethernet).unwrap();
    assert!(f.encap.is_empty());
    assert!(matches!(f.ip().unwrap().transport, Transport::Udp { dst_port: 4789, .. }));
    // PPTP carrying encrypted PPP (0x00fd), and a bare acknowledgment.
    let mut pptp = build(&v4_tcp(), &[Wrap::Pptp { address_control: true, sequence: Some(1), ack: None }], 0).bytes;
    pptp[14 + 20 + 12 + 2] = 0xfd;
    outer_gre(&pptp);
    let ack = GreRepr {
        version: 1,
        protocol_type: gre::PROTOCOL_PPP,
        checksum: None,
        key: Some(7),
        sequence: None,
        ack: Some(3),
    };
    let mut h = Built::ip_header(false, IpProtocol::Gre, 12);
    h.extend_from_slice(&[0; 12]);
    ack.emit(&mut h[20..]).unwrap();
    let b = Built { bytes: h, kind: Kind::Ip { v6: false }, inner_at: 0, encap: vec![] }
        .wrap(&Wrap::Ethernet { vlans: vec![] });
    outer_gre(&b.bytes);
    // GTP-U echo request on port 2152: signalling, the UDP flow.
    let mut echo = build(&v4_tcp(), &[Wrap::Gtp { teid: 0, sequence: None }], 0).bytes;
    echo[14 + 20 + 8 + 1] = 1;
    let f = parse_frame(&echo, LinkType::Ethernet).unwrap();
    assert!(f.encap.is_empty() && matches!(f.ip().unwrap().transport, Transport::Udp { dst_port: 2152, .. }));
    // PPPoE carrying LCP; MPLS carrying an associated channel and the GAL.
    let mut lcp = PPPOE_V4_UDP;
    lcp[20..22].copy_from_slice(&[0xc0, 0x21]);
    let f = parse_frame(&lcp, LinkType::Ethernet).unwrap();
    assert_eq!((f.network, f.encap.depth()), (Network::NonIp { ethertype: 0x8864 }, 1));
    let mut ach = build(&v4_tcp(), &[Wrap::Mpls { labels: vec![20], control_word: false }], 0).bytes;
    ach[18] = 0x10;
    assert_eq!(parse_frame(&ach, LinkType::Ethernet).unwrap().network, Network::NonIp { ethertype: 0x8847 });
    let gal = build(&v4_tcp(), &[Wrap::Mpls { labels: vec![20, mpls::LABEL_GAL], control_word: false }], 0);
    assert_eq!(parse_frame(&gal.bytes, LinkType::Ethernet).unwrap().network, Network::NonIp { ethertype: 0x8847 });
    // PPPoE discovery is not IP.
    let mut padi = PPPOE_V4_UDP;
    padi[13] = 0x63;
    assert_eq!(parse_frame(&padi, LinkType::Ethernet).unwrap().network, Network::NonIp { ethertype: 0x8863 });
    // The first fragment of a GRE packet is the GRE flow.
    let mut frag = build(&v4_tcp(), &[Wrap::Gre { v6: false, checksum: None, key: None, sequence: None }], 0).bytes;
    frag[14 + 6] = 0x20; // MF, offset 0
    let f = parse_frame(&frag, LinkType::Ethernet).unwrap();
    assert!(f.encap.is_empty());
    assert_eq!(f.ip().unwrap().protocol, IpProtocol::Gre);
    assert!(f.ip().unwrap().fragment.is_some());
}

#[test]
fn link_level_captures_of_real_routers() {
    // Cisco HDLC (LINKTYPE_C_HDLC) carrying MPLS with one label then IPv4, as in BGP_redist.pcap.
    let inner = v4_tcp();
    let built = build(&inner, &[Wrap::Mpls { labels: vec![18], control_word: false }], 0);
    let mut hdlc = vec![0x0f, 0x00, 0x88, 0x47];
    hdlc.extend_from_slice(&built.bytes[14..]);
    let f = parse_frame(&hdlc, LinkType::CiscoHdlc).unwrap();
    assert_eq!(f.encap.iter().collect::<Vec<_>>(), [Encap::Mpls]);
    assert_eq!(f.ip().unwrap().ip_offset, 8);
    // The same frame on a PPP link (Cisco routers write Cisco HDLC there), and SLARP, which is not
    // IP.
    assert_eq!(parse_frame(&hdlc, LinkType::Ppp), parse_frame(&hdlc, LinkType::CiscoHdlc));
    let slarp = [0x8f, 0x00, 0x80, 0x35, 0, 0, 0, 2];
    assert_eq!(parse_frame(&slarp, LinkType::Ppp).unwrap().network, Network::NonIp { ethertype: 0x8035 });
    // PPP without address and control (dlt_ppp.pcap), and an LCP frame.
    let mut ppp = vec![0x00, 0x21];
    ppp.extend_from_slice(&inner.ip_bytes());
    let f = parse_frame(&ppp, LinkType::Ppp).unwrap();
    assert_eq!(f.ip().unwrap().ip_offset, 2);
    assert_eq!(
        parse_frame(&[0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4], LinkType::Ppp).unwrap().network,
        Network::NonIp { ethertype: 0xc021 }
    );
    assert_eq!(parse_frame(&[0xff, 0x03, 0x00, 0x20], LinkType::Ppp), Err(WireError::BadPpp));
    // BSD loopback in every byte order and IPv6 value; an unknown family is not IP.
    for (family, v6) in [
        ([2u8, 0, 0, 0], false),
        ([0, 0, 0, 2], false),
        ([24, 0, 0, 0], true),
        ([0, 0, 0, 28], true),
        ([30, 0, 0, 0], true),
    ] {
        let spec = if v6 { v6_udp() } else { inner.clone() };
        let mut b = family.to_vec();
        b.extend_from_slice(&spec.ip_bytes());
        let f = parse_frame(&b, LinkType::Loopback).unwrap();
        assert_eq!(f.network, Network::Ip(spec.expected_ip(&b, 4)), "{family:?}");
    }
    let mut odd = vec![197, 0, 0, 0];
    odd.extend_from_slice(&inner.ip_bytes());
    assert_eq!(parse_frame(&odd, LinkType::Loopback).unwrap().network, Network::NonIp { ethertype: 197 });
    // Raw IPv4 and IPv6 links hold their own version only.
    assert_eq!(parse_frame(&v6_udp().ip_bytes(), LinkType::RawIpv4), Err(WireError::BadIpVersion));
    assert_eq!(parse_frame(&inner.ip_bytes(), LinkType::RawIpv6), Err(WireError::BadIpVersion));
}

// ---------------------------------------------------------------------------------------------
// Malformed tunnels, one row per error path.

/// Offsets into frames built from `v4_tcp()`.
const OUTER_IP: usize = 14;
const GRE: usize = 34;
const UDP: usize = 34;

fn wrapped(wraps: &[Wrap]) -> Vec<u8> {
    build(&v4_tcp(), wraps, 0).bytes
}

fn gre0() -> Wrap {
    Wrap::Gre { v6: false, checksum: None, key: None, sequence: None }
}

fn deep(n: usize) -> Vec<u8> {
    wrapped(&vec![Wrap::IpInIp { v6: false }; n])
}

macro_rules! malformed_tunnel {
    ($($name:ident: $bytes:expr => $err:expr;)*) => {$(
        #[test]
        fn $name() {
            let bytes: Vec<u8> = $bytes;
            assert_eq!(parse_frame(&bytes, LinkType::Ethernet), Err($err));
        }
    )*};
}

malformed_tunnel! {
    pppoe_bad_version: { let mut b = wrapped(&[Wrap::Pppoe { session: 1 }]); b[14] = 0x21; b } => WireError::BadPppoe;
    pppoe_discovery_code_in_session: { let mut b = wrapped(&[Wrap::Pppoe { session: 1 }]); b[15] = 0x09; b } => WireError::BadPppoe;
    pppoe_length_past_frame: { let mut b = wrapped(&[Wrap::Pppoe { session: 1 }]); b[18] = 0x40; b } => WireError::Truncated;
    pppoe_header_cut: wrapped(&[Wrap::Pppoe { session: 1 }])[..17].to_vec() => WireError::Truncated;
    pppoe_bad_ppp_protocol: { let mut b = wrapped(&[Wrap::Pppoe { session: 1 }]); b[21] = 0x20; b } => WireError::BadPpp;
    mpls_no_bottom: { let mut b = wrapped(&[Wrap::Mpls { labels: vec![16; 9], control_word: false }]); b[14 + 4 * 8 + 2] &= !1; b } => WireError::BadMpls;
    mpls_stack_cut: wrapped(&[Wrap::Mpls { labels: vec![16, 17], control_word: false }])[..20].to_vec() => WireError::Truncated;
    mpls_empty_payload: wrapped(&[Wrap::Mpls { labels: vec![16], control_word: false }])[..18].to_vec() => WireError::Truncated;
    gre_version_2: { let mut b = wrapped(&[gre0()]); b[GRE + 1] = 2; b } => WireError::BadGre;
    gre_routing: { let mut b = wrapped(&[gre0()]); b[GRE] = 0x40; b } => WireError::BadGre;
    gre_key_past_packet: { let mut b = wrapped(&[gre0()]); b[GRE] = 0x20; b.truncate(GRE + 6); let l = (b.len() - OUTER_IP) as u16; b[OUTER_IP + 2..OUTER_IP + 4].copy_from_slice(&l.to_be_bytes()); b } => WireError::Truncated;
    pptp_payload_length_past_packet: { let mut b = wrapped(&[Wrap::Pptp { address_control: true, sequence: None, ack: None }]); b[GRE + 4] = 0x7f; b } => WireError::BadGre;
    gre_inner_ip_broken: { let mut b = wrapped(&[gre0()]); b[GRE + 4] = 0x44; b } => WireError::BadIpHeaderLength;
    ip_in_ip_version_mismatch: { let mut b = wrapped(&[Wrap::IpInIp { v6: false }]); b[OUTER_IP + 20] = 0x65; b } => WireError::BadIpVersion;
    gtp_length_past_datagram: { let mut b = wrapped(&[Wrap::Gtp { teid: 1, sequence: None }]); b[UDP + 8 + 2] = 0x7f; b } => WireError::BadGtp;
    gtp_optional_fields_without_room: { let mut b = wrapped(&[Wrap::Gtp { teid: 1, sequence: None }]); b[UDP + 8] = 0x32; b[UDP + 8 + 2..UDP + 8 + 4].copy_from_slice(&[0, 2]); b } => WireError::BadGtp;
    gtp_inner_ip_broken: { let mut b = wrapped(&[Wrap::Gtp { teid: 1, sequence: None }]); b[UDP + 16 + 2..UDP + 16 + 4].copy_from_slice(&[0, 10]); b } => WireError::BadIpTotalLength;
    vxlan_inner_ethernet_cut: { let mut b = wrapped(&[Wrap::Ethernet { vlans: vec![] }, Wrap::Vxlan { v6: false, vni: 1, linux_port: false }]); b.truncate(UDP + 16 + 10); let l = (b.len() - UDP) as u16; b[UDP + 4..UDP + 6].copy_from_slice(&l.to_be_bytes()); let t = (b.len() - OUTER_IP) as u16; b[OUTER_IP + 2..OUTER_IP + 4].copy_from_slice(&t.to_be_bytes()); b } => WireError::Truncated;
    eight_tunnels_are_the_limit: deep(9) => WireError::TooManyEncapsulations;
}

#[test]
fn eight_tunnels_parse() {
    let inner = v4_tcp();
    let built = build(&inner, &vec![Wrap::IpInIp { v6: false }; 8], 0);
    let f = parse_frame(&built.bytes, LinkType::Ethernet).unwrap();
    assert_eq!(f.encap.depth(), MAX_ENCAPSULATIONS);
    assert_eq!(f, expected(&inner, &built));
}

// ---------------------------------------------------------------------------------------------
// Properties.

fn arb_labels() -> impl Strategy<Value = Vec<u32>> {
    // Labels 16 and up are ordinary; the special ones are tested above.
    prop::collection::vec(16u32..0x10_0000, 1..=4)
}

/// One wrap that fits what `kind` is, and the kind it makes.
fn arb_wrap(kind: Kind) -> BoxedStrategy<Wrap> {
    let ip_over_ip = prop_oneof![
        any::<bool>().prop_map(|v6| Wrap::IpInIp { v6 }),
        (any::<bool>(), prop::option::of(any::<u16>()), prop::option::of(any::<u32>()), prop::option::of(any::<u32>()))
            .prop_map(|(v6, checksum, key, sequence)| Wrap::Gre { v6, checksum, key, sequence }),
        (any::<bool>(), prop::option::of(any::<u32>()), prop::option::of(any::<u32>()))
            .prop_map(|(address_control, sequence, ack)| Wrap::Pptp { address_control, sequence, ack }),
        (any::<u32>(), prop::option::of(any::<u16>())).prop_map(|(teid, sequence)| Wrap::Gtp { teid, sequence }),
        any::<u16>().prop_map(|session| Wrap::Pppoe { session }),
        arb_labels().prop_map(|labels| Wrap::Mpls { labels, control_word: false }),
        prop::collection::vec(0u16..4096, 0..=2).prop_map(|vlans| Wrap::Ethernet { vlans }),
    ];
    match kind {
        Kind::Ip { .. } => ip_over_ip.boxed(),
        Kind::EtherPayload(_) => prop_oneof![
            prop::collection::vec(0u16..4096, 0..=2).prop_map(|vlans| Wrap::Ethernet { vlans }),
            (any::<bool>(), any::<u32>(), any::<u32>()).prop_map(|(v6, key, _)| Wrap::Gre {
                v6,
                checksum: None,
                key: Some(key),
                sequence: None
            }),
        ]
        .boxed(),
        Kind::Ethernet => prop_oneof![
            (any::<bool>(), 0u32..0x100_0000, any::<bool>()).prop_map(|(v6, vni, linux_port)| Wrap::Vxlan {
                v6,
                vni,
                linux_port
            }),
            (any::<bool>(), prop::option::of(any::<u32>())).prop_map(|(v6, key)| Wrap::Gre {
                v6,
                checksum: None,
                key,
                sequence: None
            }),
            (arb_labels(), any::<bool>()).prop_map(|(labels, control_word)| Wrap::Mpls { labels, control_word }),
        ]
        .boxed(),
    }
}

/// The kind a wrap makes.
fn kind_after(w: &Wrap) -> Kind {
    match w {
        Wrap::IpInIp { v6 } | Wrap::Gre { v6, .. } | Wrap::Vxlan { v6, .. } => Kind::Ip { v6: *v6 },
        Wrap::Pptp { .. } | Wrap::Gtp { .. } => Kind::Ip { v6: false },
        Wrap::Pppoe { .. } => Kind::EtherPayload(pppoe::ETHERTYPE_SESSION),
        Wrap::Mpls { .. } => Kind::EtherPayload(mpls::ETHERTYPE_UNICAST),
        Wrap::Ethernet { .. } => Kind::Ethernet,
    }
}

/// Whether a wrap may go around `before`: PPTP, GTP, PPPoE and IP in IP carry IP only, VXLAN
/// Ethernet only; MPLS names no payload (a stack in a stack is one deeper stack), GRE carries
/// MPLS but not PPPoE.
fn fits(w: &Wrap, before: Kind) -> bool {
    match (w, before) {
        (Wrap::Pptp { .. } | Wrap::Gtp { .. } | Wrap::Pppoe { .. } | Wrap::IpInIp { .. }, k) => {
            matches!(k, Kind::Ip { .. })
        }
        (Wrap::Vxlan { .. }, k) => k == Kind::Ethernet,
        (Wrap::Mpls { .. }, Kind::EtherPayload(_)) => false,
        (Wrap::Gre { .. }, Kind::EtherPayload(t)) => t == mpls::ETHERTYPE_UNICAST,
        (Wrap::Ethernet { .. }, Kind::Ethernet) => false,
        _ => true,
    }
}

/// An inner packet and up to four wraps around it that make sense together.
fn arb_stack() -> impl Strategy<Value = (Spec, Vec<Wrap>)> {
    (arb_spec(), 0usize..=4).prop_flat_map(|(spec, n)| {
        let mut wraps: BoxedStrategy<(Kind, Vec<Wrap>)> = Just((Kind::Ip { v6: spec.is_v6() }, Vec::new())).boxed();
        for _ in 0..n {
            wraps = wraps
                .prop_flat_map(|(kind, wraps)| {
                    arb_wrap(kind).prop_map(move |w| {
                        let mut wraps = wraps.clone();
                        let mut kind = kind;
                        if fits(&w, kind) {
                            kind = kind_after(&w);
                            wraps.push(w);
                        }
                        (kind, wraps)
                    })
                })
                .boxed();
        }
        (Just(spec), wraps.prop_map(|(_, w)| w))
    })
}

/// Cleans an inner spec for tunnelling: the builder handles the link itself.
fn inner(mut spec: Spec) -> Spec {
    spec.link = LinkType::Ethernet;
    spec.vlans.clear();
    spec.pad = 0;
    spec
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_innermost_packet_is_the_flow((spec, wraps) in arb_stack(), pad in 0usize..8) {
        let spec = inner(spec);
        let built = build(&spec, &wraps, pad);
        let parsed = parse_frame(&built.bytes, LinkType::Ethernet);
        prop_assert_eq!(parsed, Ok(expected(&spec, &built)), "{:?}", wraps);
        if let Ok(frame) = parsed {
            check_invariants(&built.bytes, &frame);
        }
    }

    /// A capture cut anywhere after the inner headers parses with the captured part of the inner
    /// payload; cut inside any header, it is an error.
    #[test]
    fn cut_tunnels_parse_within_the_bytes_cut((spec, wraps) in arb_stack(), at in any::<prop::sample::Index>()) {
        let spec = inner(spec);
        let built = build(&spec, &wraps, 0);
        let full = expected(&spec, &built);
        let Some(ip) = full.ip() else { return Ok(()) };
        if matches!(ip.transport, Transport::Icmp { .. }) {
            return Ok(());
        }
        let payload = ip.transport.payload();
        let start = payload.as_ptr() as usize - built.bytes.as_ptr() as usize;
        let cut = at.index(built.bytes.len() + 1);
        let parsed = parse_frame_captured(&built.bytes[..cut], LinkType::Ethernet, built.bytes.len());
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
        if let Ok(frame) = parsed {
            check_invariants_cut(&built.bytes[..cut], built.bytes.len(), &frame);
        }
    }

    #[test]
    fn mutated_tunnels_never_panic(
        (spec, wraps) in arb_stack(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        extra in 0usize..100,
    ) {
        let mut bytes = build(&inner(spec), &wraps, 0).bytes;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        for link in LinkType::ALL {
            if let Ok(frame) = parse_frame(&bytes, link) {
                check_invariants(&bytes, &frame);
            }
            if let Ok(frame) = parse_frame_captured(&bytes[..keep], link, bytes.len() + extra) {
                check_invariants_cut(&bytes[..keep], bytes.len() + extra, &frame);
            }
        }
    }
}
