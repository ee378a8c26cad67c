//! Frames built with weir-wire's Reprs: Ethernet, optional VLAN, optional tunnel (PPPoE, MPLS,
//! VXLAN), IPv4 or IPv6, TCP or UDP, payload, and the optional trailer after the IP packet.

use std::net::{IpAddr, Ipv4Addr};

use weir_wire::ethernet::Frame as EthFrame;
use weir_wire::{
    EtherType, EthernetAddress, EthernetRepr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, MplsRepr,
    PppProtocol, PppRepr, PppoeRepr, TcpFlags, TcpPacket, TcpRepr, UdpPacket, UdpRepr, VlanRepr, VlanTag, VxlanRepr,
    WireError,
};

use crate::trailer::{TRAILER_LEN, Trailer};

/// Source MAC of frames from inside hosts (locally administered).
pub const INSIDE_MAC: [u8; 6] = [0x02, 0x77, 0x65, 0x69, 0x72, 0x01];
/// Source MAC of frames from outside hosts (locally administered).
pub const OUTSIDE_MAC: [u8; 6] = [0x02, 0x77, 0x65, 0x69, 0x72, 0x02];
/// The TCP options of a SYN or SYN-ACK: MSS 1460, SACK permitted, window scale 7, NOPs.
pub const SYN_OPTIONS: [u8; 12] = [0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x01, 0x03, 0x03, 0x07, 0x01, 0x01];

/// A tunnel a generated flow is carried in, as access and core networks carry user traffic.
/// The trailer stays right after the inner IP packet, inside the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Encap {
    /// A PPPoE session ([`PPPOE_SESSION`]), as on a DSL access link.
    Pppoe,
    /// One MPLS label ([`MPLS_LABEL_INSIDE`] from inside hosts, [`MPLS_LABEL_OUTSIDE`] from
    /// outside ones), as on a provider core link.
    Mpls,
    /// VXLAN over IPv4 UDP to port 4789, VNI [`VXLAN_VNI`], between the tunnel endpoints
    /// [`VTEP_INSIDE`] and [`VTEP_OUTSIDE`], as in a data centre overlay.
    Vxlan,
}

/// The PPPoE session id of [`Encap::Pppoe`] frames.
pub const PPPOE_SESSION: u16 = 0x0001;
/// The MPLS label of [`Encap::Mpls`] frames from inside hosts.
pub const MPLS_LABEL_INSIDE: u32 = 1001;
/// The MPLS label of [`Encap::Mpls`] frames from outside hosts.
pub const MPLS_LABEL_OUTSIDE: u32 = 1002;
/// The VNI of [`Encap::Vxlan`] frames.
pub const VXLAN_VNI: u32 = 4242;
/// The tunnel endpoint on the inside of [`Encap::Vxlan`] frames.
pub const VTEP_INSIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 255, 1);
/// The tunnel endpoint on the outside of [`Encap::Vxlan`] frames.
pub const VTEP_OUTSIDE: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 1);

impl Encap {
    /// Every kind.
    pub const ALL: [Encap; 3] = [Encap::Pppoe, Encap::Mpls, Encap::Vxlan];

    /// The name profiles use: `pppoe`, `mpls`, `vxlan`.
    pub fn name(self) -> &'static str {
        match self {
            Encap::Pppoe => "pppoe",
            Encap::Mpls => "mpls",
            Encap::Vxlan => "vxlan",
        }
    }

    /// From a profile's name.
    pub fn from_name(name: &str) -> Option<Encap> {
        Encap::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Bytes the tunnel adds between the Ethernet header (and VLAN tag) and the IP packet.
    pub const fn overhead(self) -> usize {
        match self {
            // PPPoE header and PPP protocol field.
            Encap::Pppoe => 6 + 2,
            Encap::Mpls => 4,
            // Outer IPv4, UDP, VXLAN, inner Ethernet.
            Encap::Vxlan => 20 + 8 + 8 + 14,
        }
    }
}

/// The transport header of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// A TCP segment.
    Tcp {
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number (sent only with ACK set).
        ack: u32,
        /// Flags.
        flags: TcpFlags,
    },
    /// A UDP datagram.
    Udp,
}

/// Addresses and ports of one packet, as the sender sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Sender's address.
    pub src: IpAddr,
    /// Receiver's address (same family).
    pub dst: IpAddr,
    /// Sender's port.
    pub sport: u16,
    /// Receiver's port.
    pub dport: u16,
    /// True when an outside host sends (picks the source MAC).
    pub from_outside: bool,
    /// VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// The tunnel the packet travels in, if any.
    pub encap: Option<Encap>,
    /// IPv4 identification / IPv6 flow label seed.
    pub ident: u16,
    /// Transport header.
    pub l4: L4,
}

impl Header {
    /// Bytes before the payload: Ethernet, VLAN, tunnel, IP and transport headers.
    pub fn header_len(&self) -> usize {
        let l2 = 14 + if self.vlan.is_some() { 4 } else { 0 } + self.encap.map_or(0, Encap::overhead);
        let l3 = if self.src.is_ipv4() { 20 } else { 40 };
        let l4 = match self.l4 {
            L4::Tcp { flags, .. } if flags.contains(TcpFlags::SYN) => 20 + SYN_OPTIONS.len(),
            L4::Tcp { .. } => 20,
            L4::Udp => 8,
        };
        l2 + l3 + l4
    }
}

/// Writes one frame into `buf`: headers, then `payload_len` bytes that `fill` writes, then the
/// trailer if given. Returns the frame length and the trailer's offset.
///
/// # Errors
///
/// [`WireError::Truncated`] if `buf` is too short; [`WireError::BadIpTotalLength`] for a payload
/// that does not fit an IP packet; mixed address families give [`WireError::BadIpVersion`].
pub fn build(
    buf: &mut [u8],
    h: &Header,
    payload_len: usize,
    trailer: Option<&Trailer>,
    fill: impl FnOnce(&mut [u8]),
) -> Result<(usize, Option<usize>), WireError> {
    let hlen = h.header_len();
    let ip_end = hlen + payload_len;
    let total = ip_end + if trailer.is_some() { TRAILER_LEN } else { 0 };
    if buf.len() < total {
        return Err(WireError::Truncated);
    }
    let buf = &mut buf[..total];
    let src_mac = if h.from_outside { OUTSIDE_MAC } else { INSIDE_MAC };
    let dst_mac = if h.from_outside { INSIDE_MAC } else { OUTSIDE_MAC };
    let ip_type = if h.src.is_ipv4() { EtherType::Ipv4 } else { EtherType::Ipv6 };
    let link_type = match h.encap {
        None => ip_type,
        Some(Encap::Pppoe) => EtherType::from(weir_wire::pppoe::ETHERTYPE_SESSION),
        Some(Encap::Mpls) => EtherType::from(weir_wire::mpls::ETHERTYPE_UNICAST),
        Some(Encap::Vxlan) => EtherType::Ipv4,
    };
    let mut off = 14;
    let eth = EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: if h.vlan.is_some() { EtherType::Vlan } else { link_type },
    };
    eth.emit(&mut EthFrame::new_unchecked(&mut buf[..]))?;
    if let Some(vid) = h.vlan {
        VlanRepr { pcp: 0, dei: false, vid, ethertype: link_type }.emit(&mut VlanTag::new_unchecked(&mut buf[14..]))?;
        off += 4;
    }
    if let Some(e) = h.encap {
        // The tunnel's length fields cover the inner IP packet and the trailer after it.
        let inner_len = total - off - e.overhead();
        emit_encap(&mut buf[off..off + e.overhead()], e, h, ip_type, inner_len)?;
        off += e.overhead();
    }
    let (proto, l4_len) = match h.l4 {
        L4::Tcp { flags, .. } if flags.contains(TcpFlags::SYN) => (IpProtocol::Tcp, 20 + SYN_OPTIONS.len()),
        L4::Tcp { .. } => (IpProtocol::Tcp, 20),
        L4::Udp => (IpProtocol::Udp, 8),
    };
    let seg_len = l4_len + payload_len;
    let l4_at = match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let r = Ipv4Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: seg_len,
                hop_limit: 64,
                dscp: 0,
                ecn: 0,
                ident: h.ident,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            r.emit(&mut Ipv4Packet::new_unchecked(&mut buf[off..ip_end]))?;
            off + 20
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let r = Ipv6Repr {
                src_addr: s,
                dst_addr: d,
                next_header: proto,
                payload_len: seg_len,
                hop_limit: 64,
                traffic_class: 0,
                flow_label: u32::from(h.ident),
            };
            r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[off..ip_end]))?;
            off + 40
        }
        _ => return Err(WireError::BadIpVersion),
    };
    fill(&mut buf[l4_at + l4_len..ip_end]);
    let seg = &mut buf[l4_at..ip_end];
    match h.l4 {
        L4::Tcp { seq, ack, flags } => {
            let options: &[u8] = if flags.contains(TcpFlags::SYN) { &SYN_OPTIONS } else { &[] };
            let r = TcpRepr {
                src_port: h.sport,
                dst_port: h.dport,
                seq_number: seq,
                ack_number: if flags.contains(TcpFlags::ACK) { ack } else { 0 },
                flags,
                window_len: 64_240,
                urgent_at: 0,
                options,
            };
            let mut p = TcpPacket::new_unchecked(&mut seg[..]);
            r.emit(&mut p)?;
            p.fill_checksum(&h.src, &h.dst);
        }
        L4::Udp => {
            let r = UdpRepr { src_port: h.sport, dst_port: h.dport, payload_len };
            let mut p = UdpPacket::new_unchecked(&mut seg[..]);
            r.emit(&mut p)?;
            p.fill_checksum(&h.src, &h.dst);
        }
    }
    let at = match trailer {
        Some(t) => {
            t.write(&mut buf[ip_end..]);
            Some(ip_end)
        }
        None => None,
    };
    Ok((total, at))
}

/// Writes the tunnel headers of `e` (exactly [`Encap::overhead`] bytes) before an IP packet of
/// `ip_type` that, with its trailer, is `inner_len` bytes long.
fn emit_encap(out: &mut [u8], e: Encap, h: &Header, ip_type: EtherType, inner_len: usize) -> Result<(), WireError> {
    let too_long = |_| WireError::BadIpTotalLength;
    let v6 = ip_type == EtherType::Ipv6;
    match e {
        Encap::Pppoe => {
            let length = u16::try_from(2 + inner_len).map_err(too_long)?;
            PppoeRepr { session_id: PPPOE_SESSION, length }.emit(out)?;
            let protocol = if v6 { PppProtocol::Ipv6 } else { PppProtocol::Ipv4 };
            PppRepr { address_control: false, protocol, compress_protocol: false }.emit(&mut out[6..])
        }
        Encap::Mpls => {
            let label = if h.from_outside { MPLS_LABEL_OUTSIDE } else { MPLS_LABEL_INSIDE };
            MplsRepr { label, traffic_class: 0, bottom: true, ttl: 64 }.emit(out)
        }
        Encap::Vxlan => {
            let (src, dst) = if h.from_outside { (VTEP_OUTSIDE, VTEP_INSIDE) } else { (VTEP_INSIDE, VTEP_OUTSIDE) };
            let udp_len = 8 + 8 + 14 + inner_len;
            let ip = Ipv4Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Udp,
                payload_len: udp_len,
                hop_limit: 64,
                dscp: 0,
                ecn: 0,
                ident: h.ident,
                dont_frag: true,
                more_frags: false,
                frag_offset: 0,
            };
            let mut p = Ipv4Packet::new_unchecked(&mut out[..20]);
            ip.emit(&mut p)?;
            p.fill_checksum();
            // The source port spreads flows over ECMP paths, as VTEPs do: from the inner ports.
            // The UDP checksum is 0, as RFC 7348 recommends over IPv4.
            let sport = 49_152 | ((h.sport ^ h.dport) & 0x3fff);
            let udp = UdpRepr { src_port: sport, dst_port: weir_wire::vxlan::PORT, payload_len: udp_len - 8 };
            let mut u = UdpPacket::new_unchecked(&mut out[20..28]);
            udp.emit(&mut u)?;
            u.set_checksum(0);
            VxlanRepr { vni: VXLAN_VNI }.emit(&mut out[28..36])?;
            let (src_mac, dst_mac) = if h.from_outside { (OUTSIDE_MAC, INSIDE_MAC) } else { (INSIDE_MAC, OUTSIDE_MAC) };
            let inner = EthernetRepr {
                src_addr: EthernetAddress(src_mac),
                dst_addr: EthernetAddress(dst_mac),
                ethertype: ip_type,
            };
            inner.emit(&mut EthFrame::new_unchecked(&mut out[36..50]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trailer;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use weir_wire::{LinkType, Network, Transport, parse_frame};

    fn header(v6: bool, vlan: Option<u16>, l4: L4) -> Header {
        let (src, dst): (IpAddr, IpAddr) = if v6 {
            (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 1, 0, 10).into(), Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 5).into())
        } else {
            (Ipv4Addr::new(198, 18, 0, 10).into(), Ipv4Addr::new(198, 19, 0, 5).into())
        };
        Header { src, dst, sport: 40000, dport: 80, from_outside: false, vlan, encap: None, ident: 9, l4 }
    }

    #[test]
    fn frames_parse_back_with_and_without_trailer() {
        let tcp = L4::Tcp { seq: 1, ack: 2, flags: TcpFlags::PSH | TcpFlags::ACK };
        for (v6, vlan, l4) in
            [(false, None, tcp), (true, Some(42), tcp), (false, Some(7), L4::Udp), (true, None, L4::Udp)]
        {
            for with in [false, true] {
                let h = header(v6, vlan, l4);
                let t = Trailer { stream: 5, seq: 6, send_ns: 7, protocol: 8, from_outside: false };
                let mut buf = [0u8; 2048];
                let (len, at) = build(&mut buf, &h, 11, with.then_some(&t), |p| p.fill(b'x')).unwrap();
                assert_eq!(len, h.header_len() + 11 + if with { TRAILER_LEN } else { 0 });
                let f = parse_frame(&buf[..len], LinkType::Ethernet).unwrap();
                assert_eq!(f.outer_vlan, vlan);
                let Network::Ip(ip) = f.network else { panic!("not ip") };
                assert_eq!((ip.src, ip.dst), (h.src, h.dst));
                assert!(matches!(ip.transport, Transport::Tcp { .. } | Transport::Udp { .. }));
                assert_eq!(ip.transport.payload(), b"xxxxxxxxxxx");
                assert_eq!(trailer::find(&buf[..len]), with.then_some(t));
                assert_eq!(at, with.then_some(len - TRAILER_LEN));
            }
        }
    }

    /// In every tunnel, with and without VLAN and trailer: weir's parser finds the tunnel and the
    /// same inner packet, the frame is as long as its headers say, and the trailer is found
    /// right after the inner IP packet.
    #[test]
    fn tunnelled_frames_parse_back_to_their_inner_packet() {
        let tcp = L4::Tcp { seq: 1, ack: 2, flags: TcpFlags::PSH | TcpFlags::ACK };
        for encap in Encap::ALL {
            for (v6, vlan, l4, from_outside) in [
                (false, None, tcp, false),
                (true, Some(42), tcp, true),
                (false, Some(7), L4::Udp, true),
                (true, None, L4::Udp, false),
            ] {
                for with in [false, true] {
                    let h = Header { encap: Some(encap), from_outside, ..header(v6, vlan, l4) };
                    let plain = header(v6, vlan, l4);
                    assert_eq!(h.header_len(), plain.header_len() + encap.overhead());
                    let t = Trailer { stream: 5, seq: 6, send_ns: 7, protocol: 8, from_outside };
                    let mut buf = [0u8; 2048];
                    let (len, at) = build(&mut buf, &h, 11, with.then_some(&t), |p| p.fill(b'x')).unwrap();
                    assert_eq!(len, h.header_len() + 11 + if with { TRAILER_LEN } else { 0 });
                    let f = parse_frame(&buf[..len], LinkType::Ethernet).unwrap();
                    assert_eq!((f.outer_vlan, f.encap.iter().collect::<Vec<_>>()), (vlan, vec![wire_kind(encap)]));
                    let Network::Ip(ip) = f.network else { panic!("not ip") };
                    assert_eq!((ip.src, ip.dst), (h.src, h.dst), "{encap:?}");
                    assert_eq!(ip.transport.ports(), Some((h.sport, h.dport)));
                    assert_eq!(ip.transport.payload(), b"xxxxxxxxxxx");
                    assert_eq!(trailer::find(&buf[..len]), with.then_some(t), "{encap:?}");
                    assert_eq!(at, with.then_some(len - TRAILER_LEN));
                }
            }
        }
        assert_eq!(Encap::from_name("vxlan"), Some(Encap::Vxlan));
        assert_eq!(Encap::from_name("gre"), None);
    }

    fn wire_kind(e: Encap) -> weir_wire::Encap {
        match e {
            Encap::Pppoe => weir_wire::Encap::Pppoe,
            Encap::Mpls => weir_wire::Encap::Mpls,
            Encap::Vxlan => weir_wire::Encap::Vxlan,
        }
    }

    #[test]
    fn short_buffer_and_mixed_families_are_errors() {
        let h = header(false, None, L4::Udp);
        assert_eq!(build(&mut [0u8; 40], &h, 20, None, |_| {}), Err(WireError::Truncated));
        let mut mixed = h;
        mixed.dst = Ipv6Addr::LOCALHOST.into();
        assert_eq!(build(&mut [0u8; 200], &mixed, 1, None, |_| {}), Err(WireError::BadIpVersion));
    }
}
