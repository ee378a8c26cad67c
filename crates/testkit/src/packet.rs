//! Packet builders for tests and benches: whole Ethernet frames with valid lengths and checksums.
//!
//! Written byte by byte, independently of `weir-wire`, so that tests of the parser are not checked
//! against the parser's own emitter.

use std::net::IpAddr;

/// TCP flag bits for [`Builder::tcp`].
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// Options shared by the frame builders.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    /// 802.1Q VLAN ids to push, outermost first.
    pub vlans: Vec<u16>,
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

impl Builder {
    /// An Ethernet frame carrying a TCP segment.
    pub fn tcp(
        &self,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut l4 = Vec::with_capacity(20 + payload.len());
        l4.extend_from_slice(&src.1.to_be_bytes());
        l4.extend_from_slice(&dst.1.to_be_bytes());
        l4.extend_from_slice(&seq.to_be_bytes());
        l4.extend_from_slice(&ack.to_be_bytes());
        l4.push(5 << 4);
        l4.push(flags);
        l4.extend_from_slice(&65535u16.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0]);
        l4.extend_from_slice(payload);
        self.ip(src.0, dst.0, 6, l4, 16)
    }

    /// An Ethernet frame carrying a UDP datagram.
    pub fn udp(&self, src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) -> Vec<u8> {
        let len = (8 + payload.len()) as u16;
        let mut l4 = Vec::with_capacity(usize::from(len));
        l4.extend_from_slice(&src.1.to_be_bytes());
        l4.extend_from_slice(&dst.1.to_be_bytes());
        l4.extend_from_slice(&len.to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        l4.extend_from_slice(payload);
        self.ip(src.0, dst.0, 17, l4, 6)
    }

    /// An Ethernet frame carrying an ICMP echo request (v4) or ICMPv6 echo request (v6).
    pub fn ping(&self, src: IpAddr, dst: IpAddr, id: u16, seq: u16) -> Vec<u8> {
        let (proto, ty) = if src.is_ipv4() { (1, 8) } else { (58, 128) };
        let mut l4 = vec![ty, 0, 0, 0];
        l4.extend_from_slice(&id.to_be_bytes());
        l4.extend_from_slice(&seq.to_be_bytes());
        l4.extend_from_slice(b"weir-ping-payload");
        self.ip(src, dst, proto, l4, 2)
    }

    /// An ARP request, to check that non-IP frames pass.
    pub fn arp_request(&self, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
        let mut f = self.ethernet(0x0806);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&SRC_MAC);
        f.extend_from_slice(&sender);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&target);
        f
    }

    fn ethernet(&self, ethertype: u16) -> Vec<u8> {
        let mut f = Vec::with_capacity(1600);
        f.extend_from_slice(&DST_MAC);
        f.extend_from_slice(&SRC_MAC);
        for vid in &self.vlans {
            f.extend_from_slice(&0x8100u16.to_be_bytes());
            f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f
    }

    /// Wrap `l4` (whose checksum field is at `csum_at`) in IPv4 or IPv6 and Ethernet, filling the
    /// transport checksum with the pseudo-header.
    fn ip(&self, src: IpAddr, dst: IpAddr, proto: u8, mut l4: Vec<u8>, csum_at: usize) -> Vec<u8> {
        let len = l4.len();
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                if proto != 1 {
                    let mut acc = sum16(&s.octets(), 0);
                    acc = sum16(&d.octets(), acc);
                    acc += u32::from(proto) + len as u32;
                    let c = fold(sum16(&l4, acc));
                    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
                } else {
                    let c = fold(sum16(&l4, 0));
                    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
                }
                let mut f = self.ethernet(0x0800);
                let mut h = [0u8; 20];
                h[0] = 0x45;
                h[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
                h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
                h[6] = 0x40; // DF
                h[8] = 64;
                h[9] = proto;
                h[12..16].copy_from_slice(&s.octets());
                h[16..20].copy_from_slice(&d.octets());
                let c = fold(sum16(&h, 0));
                h[10..12].copy_from_slice(&c.to_be_bytes());
                f.extend_from_slice(&h);
                f.extend_from_slice(&l4);
                f
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut acc = sum16(&s.octets(), 0);
                acc = sum16(&d.octets(), acc);
                acc += u32::from(proto) + len as u32;
                let c = fold(sum16(&l4, acc));
                l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
                let mut f = self.ethernet(0x86dd);
                let mut h = [0u8; 40];
                h[0] = 0x60;
                h[4..6].copy_from_slice(&(len as u16).to_be_bytes());
                h[6] = proto;
                h[7] = 64;
                h[8..24].copy_from_slice(&s.octets());
                h[24..40].copy_from_slice(&d.octets());
                f.extend_from_slice(&h);
                f.extend_from_slice(&l4);
                f
            }
            // Mixed families cannot form one packet; build an empty IPv4 frame rather than panic.
            _ => self.ethernet(0x0800),
        }
    }
}

/// A tunnel for [`encapsulate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tunnel {
    /// A PPPoE session (EtherType 0x8864) with this session id.
    Pppoe(u16),
    /// One MPLS label (EtherType 0x8847), bottom of stack.
    Mpls(u32),
    /// VXLAN with this VNI, from 198.18.0.250 to 198.18.0.251, UDP port 4789.
    Vxlan(u32),
    /// GRE version 0 with this key, from 198.18.0.250 to 198.18.0.251.
    Gre(u32),
}

/// The outer IPv4 header of the tunnels that need one (198.18.0.250 -> 198.18.0.251).
fn outer_ipv4(proto: u8, payload_len: usize) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&((20 + payload_len) as u16).to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&[198, 18, 0, 250]);
    h[16..20].copy_from_slice(&[198, 18, 0, 251]);
    let c = fold(sum16(&h, 0));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// `frame` (an untagged Ethernet frame carrying IPv4 or IPv6, as [`Builder`] makes them) inside
/// `tunnel`: PPPoE, MPLS and GRE carry its IP packet, VXLAN the whole frame; the result is an
/// Ethernet frame. Written byte by byte, independently of `weir-wire`.
///
/// # Panics
/// If `frame` is shorter than an Ethernet header or is not IP.
pub fn encapsulate(frame: &[u8], tunnel: Tunnel) -> Vec<u8> {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let v6 = match ethertype {
        0x0800 => false,
        0x86dd => true,
        other => panic!("encapsulate wants an untagged IP frame, got EtherType {other:#06x}"),
    };
    let ip = &frame[14..];
    let mut out = frame[..12].to_vec();
    match tunnel {
        Tunnel::Pppoe(session) => {
            out.extend_from_slice(&[0x88, 0x64, 0x11, 0x00]);
            out.extend_from_slice(&session.to_be_bytes());
            out.extend_from_slice(&((2 + ip.len()) as u16).to_be_bytes());
            out.extend_from_slice(if v6 { &[0x00, 0x57] } else { &[0x00, 0x21] });
            out.extend_from_slice(ip);
        }
        Tunnel::Mpls(label) => {
            out.extend_from_slice(&[0x88, 0x47]);
            out.extend_from_slice(&(((label & 0xf_ffff) << 12) | 0x100 | 64).to_be_bytes());
            out.extend_from_slice(ip);
        }
        Tunnel::Vxlan(vni) => {
            let udp_len = 8 + 8 + frame.len();
            out.extend_from_slice(&[0x08, 0x00]);
            out.extend_from_slice(&outer_ipv4(17, udp_len));
            out.extend_from_slice(&49_152u16.to_be_bytes());
            out.extend_from_slice(&4789u16.to_be_bytes());
            out.extend_from_slice(&(udp_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0x08, 0, 0, 0]);
            out.extend_from_slice(&((vni & 0xff_ffff) << 8).to_be_bytes());
            out.extend_from_slice(frame);
        }
        Tunnel::Gre(key) => {
            out.extend_from_slice(&[0x08, 0x00]);
            out.extend_from_slice(&outer_ipv4(47, 8 + ip.len()));
            out.extend_from_slice(&[0x20, 0x00]);
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&key.to_be_bytes());
            out.extend_from_slice(ip);
        }
    }
    out
}

/// A TCP conversation: handshake, then payloads alternating as given, then FIN both ways.
/// Returns (frame, sent by client?) pairs with consistent sequence numbers.
pub fn tcp_conversation(
    b: &Builder,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    exchanges: &[(bool, &[u8])],
) -> Vec<(Vec<u8>, bool)> {
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut out = vec![
        (b.tcp(client, server, cseq, 0, flags::SYN, &[]), true),
        (b.tcp(server, client, sseq, cseq + 1, flags::SYN | flags::ACK, &[]), false),
        (b.tcp(client, server, cseq + 1, sseq + 1, flags::ACK, &[]), true),
    ];
    cseq += 1;
    sseq += 1;
    for (from_client, data) in exchanges {
        if *from_client {
            out.push((b.tcp(client, server, cseq, sseq, flags::ACK | flags::PSH, data), true));
            cseq = cseq.wrapping_add(data.len() as u32);
        } else {
            out.push((b.tcp(server, client, sseq, cseq, flags::ACK | flags::PSH, data), false));
            sseq = sseq.wrapping_add(data.len() as u32);
        }
    }
    out.push((b.tcp(client, server, cseq, sseq, flags::FIN | flags::ACK, &[]), true));
    out.push((b.tcp(server, client, sseq, cseq + 1, flags::FIN | flags::ACK, &[]), false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let f = Builder::default().udp(("198.18.0.1".parse().unwrap(), 1), ("198.18.0.2".parse().unwrap(), 2), b"x");
        assert_eq!(fold(sum16(&f[14..34], 0)), 0);
        assert_eq!(f.len(), 14 + 20 + 8 + 1);
    }

    #[test]
    fn tunnels_wrap_the_ip_packet() {
        let f = Builder::default().udp(("198.18.0.1".parse().unwrap(), 1), ("198.18.0.2".parse().unwrap(), 2), b"x");
        let p = encapsulate(&f, Tunnel::Pppoe(7));
        assert_eq!(
            (&p[12..14], &p[18..20], &p[20..22], &p[22..]),
            (&[0x88, 0x64][..], &[0, 31][..], &[0, 0x21][..], &f[14..])
        );
        let m = encapsulate(&f, Tunnel::Mpls(16));
        assert_eq!((&m[14..18], &m[18..]), (&[0x00, 0x01, 0x01, 0x40][..], &f[14..]));
        let v = encapsulate(&f, Tunnel::Vxlan(42));
        assert_eq!((v.len(), &v[v.len() - f.len()..]), (f.len() + 50, &f[..]));
        assert_eq!(fold(sum16(&v[14..34], 0)), 0);
        let g = encapsulate(&f, Tunnel::Gre(5));
        assert_eq!((g.len(), &g[34..42]), (f.len() + 28, &[0x20, 0, 0x08, 0, 0, 0, 0, 5][..]));
    }

    #[test]
    fn vlan_tags_are_pushed() {
        let b = Builder { vlans: vec![10, 20] };
        let f = b.arp_request([198, 18, 0, 1], [198, 18, 0, 2]);
        assert_eq!(&f[12..14], &[0x81, 0x00]);
        assert_eq!(&f[16..18], &[0x81, 0x00]);
        assert_eq!(&f[20..22], &[0x08, 0x06]);
    }
}
