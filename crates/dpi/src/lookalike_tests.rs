//! Lookalike corpora: generated packets of the common protocols whose binary headers resemble the
//! P2P ones (ONC RPC with random XIDs, DHCP/BOOTP, NTP, SNMP, RADIUS, syslog, STUN/TURN, RTP/RTCP,
//! DTLS, IPsec NAT-T and IKE, CoAP, mDNS/LLMNR, NetBIOS, TFTP, game queries, DNSCrypt, WireGuard,
//! and over TCP SMB, RDP, MySQL, PostgreSQL, Kerberos, TDS, LDAP, BGP, MQTT, Redis), each built as
//! request and answer with the answer tied to the request (same XID, transaction id, message id)
//! the way the real protocol ties them, so the request/answer detectors are tested against their
//! hardest case. One property test per structural detector, and one for the whole classifier:
//! no peer-to-peer verdict, ever.

use core::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use crate::classifier::{Dir, Endpoint, FlowInspect, L4, PacketMeta, Verdict};
use crate::detect::{self, Probe, bittorrent, directconnect, edonkey, gnutella, quic, tls, winmx};
use crate::peers::PeerCache;
use crate::registry::Category;
use crate::{Classifier, Label};

/// A tiny deterministic generator (xorshift64*), so a case is its seed.
struct R(core::cell::Cell<u64>);

impl R {
    fn new(seed: u64) -> R {
        R(core::cell::Cell::new(seed | 1))
    }
    fn u64(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn u32(&self) -> u32 {
        (self.u64() >> 32) as u32
    }
    fn u16(&self) -> u16 {
        (self.u64() >> 48) as u16
    }
    fn u8(&self) -> u8 {
        (self.u64() >> 56) as u8
    }
    fn below(&self, n: usize) -> usize {
        (self.u64() % n.max(1) as u64) as usize
    }
    fn bytes(&self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
    fn pick<T: Copy>(&self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
    fn text(&self, n: usize) -> Vec<u8> {
        (0..n).map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789-."[self.below(38)]).collect()
    }
}

fn be16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn be32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// A DNS-format message (DNS, mDNS, LLMNR): a query, or its answer with the same id.
fn dns_like(r: &R, id: u16, answer: bool, additional: bool) -> Vec<u8> {
    let mut v = Vec::new();
    be16(&mut v, id);
    be16(&mut v, if answer { 0x8180 } else { r.pick(&[0x0100, 0x0000, 0x0120]) });
    be16(&mut v, 1);
    be16(&mut v, u16::from(answer));
    be16(&mut v, 0);
    be16(&mut v, u16::from(additional));
    for _ in 0..1 + r.below(3) {
        let n = 1 + r.below(12);
        v.push(n as u8);
        v.extend(r.text(n));
    }
    v.push(0);
    be16(&mut v, r.pick(&[1, 16, 28, 12, 33, 255]));
    be16(&mut v, r.pick(&[1, 0x8001]));
    if answer {
        v.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        v.extend(r.bytes(4));
    }
    if additional {
        // EDNS OPT, sometimes padded (as DNSCrypt certificate queries are).
        v.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0]);
        let pad = if r.below(2) == 0 { 0 } else { 100 + r.below(400) };
        be16(&mut v, pad as u16);
        v.extend(std::iter::repeat_n(0u8, pad));
        if r.below(3) == 0 {
            v.extend(std::iter::repeat_n(0u8, 64 + r.below(512)));
        }
    }
    v
}

/// An ONC RPC call with a random XID and its reply (NFS, mountd, portmap, NLM, status, random).
fn onc_rpc(r: &R) -> (Vec<u8>, Vec<u8>) {
    let xid = r.u32();
    let mut call = Vec::new();
    be32(&mut call, xid);
    be32(&mut call, 0);
    be32(&mut call, 2);
    be32(&mut call, r.pick(&[100_000, 100_003, 100_005, 100_021, 100_024, r.u32()]));
    be32(&mut call, 1 + r.below(4) as u32);
    be32(&mut call, r.below(23) as u32);
    if r.below(2) == 0 {
        call.extend_from_slice(&[0; 8]);
    } else {
        let body = 4 * (3 + r.below(10));
        be32(&mut call, 1);
        be32(&mut call, body as u32);
        call.extend(r.bytes(body));
    }
    call.extend_from_slice(&[0; 8]);
    call.extend(r.bytes(4 * r.below(60)));
    let mut reply = Vec::new();
    be32(&mut reply, xid);
    be32(&mut reply, 1);
    be32(&mut reply, u32::from(r.below(4) == 0));
    reply.extend_from_slice(&[0; 8]);
    be32(&mut reply, r.pick(&[0, 1, 2, 3]));
    reply.extend(r.bytes(4 * r.below(100)));
    (call, reply)
}

fn dhcp(r: &R) -> (Vec<u8>, Vec<u8>) {
    let xid = r.u32();
    let mk = |r: &R, op: u8, kind: u8| {
        let mut v = vec![op, 1, 6, 0];
        be32(&mut v, xid);
        v.extend_from_slice(&[0; 4]);
        v.extend(if op == 2 { r.bytes(16) } else { vec![0; 16] });
        v.extend(r.bytes(6));
        v.extend_from_slice(&[0; 10 + 64 + 128]);
        v.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, kind, 55, 4, 1, 3, 6, 15, 61, 7, 1]);
        v.extend(r.bytes(6));
        v.push(255);
        if r.below(2) == 0 {
            v.resize(300, 0);
        }
        v
    };
    (mk(r, 1, 1 + r.below(3) as u8), mk(r, 2, 2 + 3 * r.below(2) as u8))
}

fn ntp(r: &R) -> (Vec<u8>, Vec<u8>) {
    let vn = r.pick(&[3u8, 4]);
    let mk = |r: &R, mode: u8| {
        let mut v = vec![(vn << 3) | mode, r.below(16) as u8, 6 + r.below(4) as u8, 0xe9];
        v.extend(r.bytes(44));
        match r.below(4) {
            0 => v.extend(r.bytes(20)),
            1 => v.extend(r.bytes(24)),
            _ => {}
        }
        v
    };
    (mk(r, 3), mk(r, 4))
}

fn snmp(r: &R) -> (Vec<u8>, Vec<u8>) {
    let id = r.u32();
    let mk = |r: &R, pdu: u8| {
        let community = r.text(4 + r.below(8));
        let mut varbind = vec![0x06, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0];
        varbind.extend(if pdu == 0xa2 { vec![0x04, 4, b'l', b'i', b'n', b'x'] } else { vec![0x05, 0] });
        let mut vbs = vec![0x30, varbind.len() as u8];
        vbs.extend(varbind);
        let mut list = vec![0x30, vbs.len() as u8];
        list.extend(vbs);
        let mut p = vec![0x02, 4];
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&[0x02, 1, 0, 0x02, 1, 0]);
        p.extend(list);
        let mut msg = vec![0x02, 1, r.pick(&[0u8, 1]), 0x04, community.len() as u8];
        msg.extend(community);
        msg.push(pdu);
        msg.push(p.len() as u8);
        msg.extend(p);
        let mut v = vec![0x30, msg.len() as u8];
        v.extend(msg);
        v
    };
    (mk(r, r.pick(&[0xa0, 0xa1, 0xa5])), mk(r, 0xa2))
}

fn radius(r: &R) -> (Vec<u8>, Vec<u8>) {
    let id = r.u8();
    let mk = |r: &R, code: u8| {
        let mut attrs = Vec::new();
        for _ in 0..r.below(8) {
            let n = r.below(30);
            attrs.push(r.pick(&[1u8, 2, 4, 5, 6, 26, 31, 32, 61, 80]));
            attrs.push(2 + n as u8);
            attrs.extend(r.bytes(n));
        }
        let mut v = vec![code, id];
        be16(&mut v, (20 + attrs.len()) as u16);
        v.extend(r.bytes(16));
        v.extend(attrs);
        v
    };
    let code = r.pick(&[1u8, 4]);
    (mk(r, code), mk(r, if code == 1 { r.pick(&[2, 3, 11]) } else { 5 }))
}

fn syslog(r: &R) -> (Vec<u8>, Vec<u8>) {
    let mut v = format!("<{}>", r.below(192)).into_bytes();
    v.extend_from_slice(b"Dec  1 12:00:00 host ");
    v.extend(r.text(10 + r.below(200)));
    (v, Vec::new())
}

fn stun(r: &R) -> (Vec<u8>, Vec<u8>) {
    let tid = r.bytes(12);
    let mk = |r: &R, kind: u16| {
        let mut attrs = Vec::new();
        for _ in 0..r.below(5) {
            let n = r.below(20);
            be16(&mut attrs, r.pick(&[0x0001, 0x0006, 0x0008, 0x0020, 0x0024, 0x8022, 0x8028, 0x802a]));
            be16(&mut attrs, n as u16);
            attrs.extend(r.bytes(n));
            attrs.extend(std::iter::repeat_n(0u8, (4 - n % 4) % 4));
        }
        let mut v = Vec::new();
        be16(&mut v, kind);
        be16(&mut v, attrs.len() as u16);
        be32(&mut v, 0x2112_a442);
        v.extend_from_slice(&tid);
        v.extend(attrs);
        v
    };
    if r.below(4) == 0 {
        // TURN ChannelData both ways.
        let ch = 0x4000 | (r.u16() & 0x3fff);
        let mk = |r: &R| {
            let n = r.below(400);
            let mut v = Vec::new();
            be16(&mut v, ch);
            be16(&mut v, n as u16);
            v.extend(r.bytes(n));
            v
        };
        return (mk(r), mk(r));
    }
    (mk(r, r.pick(&[0x0001, 0x0003, 0x0004])), mk(r, r.pick(&[0x0101, 0x0103, 0x0111])))
}

fn rtp(r: &R) -> (Vec<u8>, Vec<u8>) {
    let mk = |r: &R, ssrc: u32| {
        if r.below(3) == 0 {
            // RTCP sender or receiver report.
            let words = 6 + r.below(12);
            let mut v = vec![0x80 | r.below(2) as u8, r.pick(&[200u8, 201, 202, 203, 204])];
            be16(&mut v, words as u16);
            be32(&mut v, ssrc);
            v.extend(r.bytes(4 * words - 4));
            return v;
        }
        let cc = r.below(3);
        let mut v = vec![0x80 | cc as u8, r.pick(&[0u8, 8, 9, 18, 96, 97, 111, 0x80 | 96])];
        be16(&mut v, r.u16());
        be32(&mut v, r.u32());
        be32(&mut v, ssrc);
        v.extend(r.bytes(4 * cc + 20 + r.below(1200)));
        v
    };
    let (a, b) = (r.u32(), r.u32());
    (mk(r, a), mk(r, b))
}

fn dtls(r: &R) -> (Vec<u8>, Vec<u8>) {
    let mk = |r: &R, hs: u8| {
        let body = r.bytes(40 + r.below(200));
        let mut v = vec![22, 0xfe, r.pick(&[0xfdu8, 0xff]), 0, 0];
        v.extend_from_slice(&[0, 0, 0, 0, 0, r.u8()]);
        be16(&mut v, (12 + body.len()) as u16);
        v.push(hs);
        v.push(0);
        be16(&mut v, body.len() as u16);
        v.extend_from_slice(&[0, 0, 0, 0, 0]);
        be16(&mut v, body.len() as u16);
        v.extend(body);
        if r.below(3) == 0 {
            v = vec![23, 0xfe, 0xfd, 0, 1];
            v.extend(r.bytes(6));
            let n = 20 + r.below(1000);
            be16(&mut v, n as u16);
            v.extend(r.bytes(n));
        }
        v
    };
    (mk(r, 1), mk(r, r.pick(&[2, 3, 11])))
}

fn ipsec(r: &R) -> (Vec<u8>, Vec<u8>) {
    let spi_i = r.bytes(8);
    let mk = |r: &R, resp: bool| {
        match r.below(4) {
            // NAT-T keepalive.
            0 => vec![0xff],
            // ESP in UDP: SPI, sequence number, ciphertext.
            1 => {
                let mut v = Vec::new();
                be32(&mut v, r.u32() | 0x100);
                be32(&mut v, r.below(1000) as u32);
                v.extend(r.bytes(16 + r.below(1200)));
                v
            }
            // IKEv2 (behind the non-ESP marker on 4500, or bare on 500).
            _ => {
                let mut v = if r.below(2) == 0 { vec![0, 0, 0, 0] } else { Vec::new() };
                v.extend_from_slice(&spi_i);
                v.extend(if resp { r.bytes(8) } else { vec![0; 8] });
                let payload = r.bytes(40 + r.below(400));
                v.extend_from_slice(&[
                    r.pick(&[33u8, 46, 41]),
                    0x20,
                    r.pick(&[34u8, 35, 36, 37]),
                    if resp { 0x20 } else { 0x08 },
                ]);
                be32(&mut v, r.below(8) as u32);
                be32(&mut v, (28 + payload.len()) as u32);
                v.extend(payload);
                v
            }
        }
    };
    (mk(r, false), mk(r, true))
}

fn coap(r: &R) -> (Vec<u8>, Vec<u8>) {
    let mid = r.u16();
    let tkl = r.below(9);
    let token = r.bytes(tkl);
    let mk = |r: &R, code: u8| {
        let mut v = vec![0x40 | (r.below(2) as u8) << 4 | tkl as u8, code];
        be16(&mut v, mid);
        v.extend_from_slice(&token);
        v.extend_from_slice(&[0xb3, b'f', b'o', b'o']);
        if r.below(2) == 0 {
            v.push(0xff);
            v.extend(r.bytes(1 + r.below(200)));
        }
        v
    };
    (mk(r, r.pick(&[1, 2, 3, 4])), mk(r, r.pick(&[0x45, 0x44, 0x84, 0x41])))
}

fn mdns_llmnr(r: &R) -> (Vec<u8>, Vec<u8>) {
    let id = if r.below(2) == 0 { 0 } else { r.u16() };
    (dns_like(r, id, false, r.below(2) == 0), dns_like(r, id, true, false))
}

fn netbios(r: &R) -> (Vec<u8>, Vec<u8>) {
    let id = r.u16();
    let name: Vec<u8> = (0..32).map(|_| b'A' + r.below(16) as u8).collect();
    let mut q = Vec::new();
    be16(&mut q, id);
    q.extend_from_slice(&[0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0x20]);
    q.extend_from_slice(&name);
    q.extend_from_slice(&[0, 0, r.pick(&[0x20, 0x21]), 0, 1]);
    let mut a = q.clone();
    a[2] = 0x85;
    a[3] = 0x00;
    a[5] = 0;
    a[7] = 1;
    a.extend_from_slice(&[0, 0, 0, 0, 0, 6, 0x60, 0]);
    a.extend(r.bytes(4));
    if r.below(3) == 0 {
        // Datagram service carrying SMB.
        let mut d = vec![0x11, 0x02];
        be16(&mut d, r.u16());
        d.extend(r.bytes(4));
        d.extend_from_slice(&[0, 138]);
        d.extend_from_slice(&[0, 0, 0, 0]);
        d.extend_from_slice(&[0x20]);
        d.extend_from_slice(&name);
        d.extend_from_slice(&[0, 0x20]);
        d.extend_from_slice(&name);
        d.push(0);
        d.extend_from_slice(b"\xffSMB");
        d.extend(r.bytes(60 + r.below(100)));
        return (d, Vec::new());
    }
    (q, a)
}

fn tftp(r: &R) -> (Vec<u8>, Vec<u8>) {
    let block = r.u16();
    let req = match r.below(3) {
        0 => {
            let mut v = vec![0, r.pick(&[1u8, 2])];
            v.extend(r.text(5 + r.below(30)));
            v.extend_from_slice(b"\0octet\0");
            if r.below(2) == 0 {
                v.extend_from_slice(b"blksize\x001428\0");
            }
            v
        }
        1 => {
            let mut v = vec![0, 3];
            be16(&mut v, block);
            v.extend(r.bytes(r.pick(&[512usize, 1428, r.below(512)])));
            v
        }
        _ => {
            let mut v = vec![0, 5];
            be16(&mut v, r.below(8) as u16);
            v.extend(r.text(10));
            v.push(0);
            v
        }
    };
    let mut ack = vec![0, 4];
    be16(&mut ack, block);
    (req, ack)
}

fn games(r: &R) -> (Vec<u8>, Vec<u8>) {
    match r.below(4) {
        0 => {
            let mut q = b"\xff\xff\xff\xffTSource Engine Query\0".to_vec();
            if r.below(2) == 0 {
                q.extend(r.bytes(4));
            }
            let mut a = b"\xff\xff\xff\xffI\x11".to_vec();
            a.extend(r.text(40));
            a.extend(r.bytes(20));
            (q, a)
        }
        1 => {
            let q = b"\xff\xff\xff\xffgetstatus\n".to_vec();
            let mut a = b"\xff\xff\xff\xffstatusResponse\n\\sv_hostname\\".to_vec();
            a.extend(r.text(60));
            (q, a)
        }
        2 => {
            // RakNet unconnected ping and pong (Minecraft Bedrock and others).
            let magic =
                [0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78];
            let mut q = vec![0x01];
            q.extend(r.bytes(8));
            q.extend_from_slice(&magic);
            q.extend(r.bytes(8));
            let mut a = vec![0x1c];
            a.extend(r.bytes(16));
            a.extend_from_slice(&magic);
            let motd = r.text(40);
            be16(&mut a, motd.len() as u16);
            a.extend(motd);
            (q, a)
        }
        _ => {
            // A generic binary game protocol: small header, sequence numbers, random state.
            let mut q = vec![r.u8(), r.u8()];
            be16(&mut q, r.u16());
            q.extend(r.bytes(r.below(200)));
            let mut a = vec![q[0], r.u8()];
            be16(&mut a, r.u16());
            a.extend(r.bytes(r.below(600)));
            (q, a)
        }
    }
}

fn dnscrypt(r: &R) -> (Vec<u8>, Vec<u8>) {
    if r.below(2) == 0 {
        // The certificate query: plain DNS (TXT), an OPT record, zero padding.
        let id = r.u16();
        return (dns_like(r, id, false, true), dns_like(r, id, true, false));
    }
    let mut q = r.bytes(8); // client magic
    q.extend(r.bytes(32 + 12));
    q.extend(r.bytes(256 + 64 * r.below(8)));
    let mut a = b"r6fnvWj8".to_vec();
    a.extend(r.bytes(24 + 64 + r.below(400)));
    (q, a)
}

fn wireguard(r: &R) -> (Vec<u8>, Vec<u8>) {
    let mut init = vec![1, 0, 0, 0];
    init.extend(r.bytes(144));
    let mut resp = vec![2, 0, 0, 0];
    resp.extend(r.bytes(88));
    if r.below(2) == 0 {
        let mut data = vec![4, 0, 0, 0];
        data.extend(r.bytes(12 + 16 * (1 + r.below(80))));
        return (data.clone(), data);
    }
    (init, resp)
}

fn random_datagrams(r: &R) -> (Vec<u8>, Vec<u8>) {
    let (a, b) = (r.below(1500), r.below(1500));
    (r.bytes(a), r.bytes(b))
}

/// Request and answer of one lookalike UDP protocol, chosen by `kind`.
fn udp_lookalike(kind: usize, seed: u64) -> (&'static str, Vec<u8>, Vec<u8>) {
    let r = &R::new(seed);
    let (name, (a, b)) = match kind % 19 {
        0 => ("onc-rpc", onc_rpc(r)),
        1 => ("dhcp", dhcp(r)),
        2 => ("ntp", ntp(r)),
        3 => ("snmp", snmp(r)),
        4 => ("radius", radius(r)),
        5 => ("syslog", syslog(r)),
        6 => ("stun-turn", stun(r)),
        7 => ("rtp-rtcp", rtp(r)),
        8 => ("dtls", dtls(r)),
        9 => ("ipsec-nat-t", ipsec(r)),
        10 => ("coap", coap(r)),
        11 => ("mdns-llmnr", mdns_llmnr(r)),
        12 => ("netbios", netbios(r)),
        13 => ("tftp", tftp(r)),
        14 => ("games", games(r)),
        15 => ("dnscrypt", dnscrypt(r)),
        16 => ("wireguard", wireguard(r)),
        17 => {
            let id = r.u16();
            ("dns", (dns_like(r, id, false, r.below(2) == 0), dns_like(r, id, true, r.below(2) == 0)))
        }
        _ => ("random", random_datagrams(r)),
    };
    (name, a, b)
}

/// Client and server first bytes of one lookalike TCP protocol, chosen by `kind`.
fn tcp_lookalike(kind: usize, seed: u64) -> (&'static str, Vec<u8>, Vec<u8>) {
    let r = &R::new(seed);
    let (name, a, b) = match kind % 11 {
        0 => {
            // SMB over the NetBIOS session service (SMB1 or SMB2 negotiate).
            let body = r.bytes(60 + r.below(200));
            let mk = |smb: &[u8]| {
                let mut v = vec![0];
                v.extend_from_slice(&((smb.len() + body.len()) as u32).to_be_bytes()[1..]);
                v.extend_from_slice(smb);
                v.extend_from_slice(&body);
                v
            };
            let magic: &[u8] = if r.below(2) == 0 { b"\xffSMB" } else { b"\xfeSMB" };
            ("smb", mk(magic), mk(magic))
        }
        1 => {
            // RDP: TPKT + X.224 connection request and confirm.
            let mut a = vec![3, 0, 0, 43, 38, 0xe0, 0, 0, 0, 0, 0];
            a.extend_from_slice(b"Cookie: mstshash=");
            a.extend(r.text(14));
            a.extend_from_slice(b"\r\n");
            let b = vec![3, 0, 0, 19, 14, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 2, 0, 0, 0];
            ("rdp", a, b)
        }
        2 => {
            // MySQL: the server's greeting (protocol 10) and the client's login.
            let mut g = vec![10];
            g.extend_from_slice(b"8.0.36\0");
            g.extend(r.bytes(40));
            let mut b = (g.len() as u32).to_le_bytes()[..3].to_vec();
            b.push(0);
            b.extend(g);
            let login = r.bytes(32 + r.below(60));
            let mut a = (login.len() as u32).to_le_bytes()[..3].to_vec();
            a.push(1);
            a.extend(login);
            ("mysql", a, b)
        }
        3 => {
            // PostgreSQL startup message and authentication request.
            let mut p = vec![0, 3, 0, 0];
            p.extend_from_slice(b"user\0postgres\0database\0");
            p.extend(r.text(8));
            p.extend_from_slice(b"\0\0");
            let mut a = ((p.len() + 4) as u32).to_be_bytes().to_vec();
            a.extend(p);
            let b = vec![b'R', 0, 0, 0, 12, 0, 0, 0, 5, r.u8(), r.u8(), r.u8(), r.u8()];
            ("postgresql", a, b)
        }
        4 => {
            // Kerberos over TCP: a 4-byte length, then an AS-REQ / AS-REP (ASN.1).
            let mk = |r: &R, tag: u8| {
                let body = r.bytes(100 + r.below(400));
                let mut m = vec![tag, 0x82];
                m.extend_from_slice(&(body.len() as u16).to_be_bytes());
                m.extend(body);
                let mut v = (m.len() as u32).to_be_bytes().to_vec();
                v.extend(m);
                v
            };
            ("kerberos", mk(r, 0x6a), mk(r, 0x6b))
        }
        5 => {
            // SQL Server TDS pre-login both ways.
            let mk = |r: &R, t: u8| {
                let body = r.bytes(20 + r.below(60));
                let mut v = vec![t, 1];
                v.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
                v.extend_from_slice(&[0, 0, 1, 0]);
                v.extend(body);
                v
            };
            ("tds", mk(r, 0x12), mk(r, 0x04))
        }
        6 => {
            // LDAP bind request and response.
            let dn = r.text(20);
            let mut bind = vec![0x02, 1, 3, 0x04, dn.len() as u8];
            bind.extend(dn);
            bind.extend_from_slice(&[0x80, 0]);
            let mut op = vec![0x60, bind.len() as u8];
            op.extend(bind);
            let mut a = vec![0x30, (op.len() + 3) as u8, 0x02, 1, 1];
            a.extend(op);
            let b = vec![0x30, 0x0c, 0x02, 1, 1, 0x61, 0x07, 0x0a, 1, 0, 0x04, 0, 0x04, 0];
            ("ldap", a, b)
        }
        7 => {
            // BGP OPEN both ways.
            let mk = |r: &R| {
                let mut v = vec![0xff; 16];
                v.extend_from_slice(&29u16.to_be_bytes());
                v.extend_from_slice(&[1, 4]);
                v.extend(r.bytes(2));
                v.extend_from_slice(&[0, 180]);
                v.extend(r.bytes(4));
                v.push(0);
                v
            };
            ("bgp", mk(r), mk(r))
        }
        8 => {
            // MQTT CONNECT and CONNACK.
            let id = r.text(8 + r.below(10));
            let mut p = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, id.len() as u8];
            p.extend(id);
            let mut a = vec![0x10, p.len() as u8];
            a.extend(p);
            ("mqtt", a, vec![0x20, 2, 0, 0])
        }
        9 => ("redis", b"*1\r\n$4\r\nPING\r\n".to_vec(), b"+PONG\r\n".to_vec()),
        _ => {
            // Random streams, some opening with an eDonkey marker byte.
            let mut a = r.bytes(1 + r.below(1400));
            if r.below(2) == 0 {
                a[0] = r.pick(&[0xe3, 0xc5, 0xd4]);
            }
            let mut b = r.bytes(1 + r.below(1400));
            if r.below(2) == 0 {
                b[0] = r.pick(&[0xe3, 0xc5, 0xd4, b'1']);
            }
            ("random", a, b)
        }
    };
    (name, a, b)
}

fn ep(last: u8, port: u16) -> Endpoint {
    Endpoint { ip: IpAddr::V4(Ipv4Addr::new(198, 18, 0, last)), port }
}

/// The classifier's label for a two-packet flow (UDP datagrams, or TCP segments after a
/// handshake with consistent sequence numbers), plus its second exchange, on `port`.
fn classify(l4: L4, port: u16, a: &[u8], b: &[u8]) -> Label {
    static C: std::sync::LazyLock<Classifier> = std::sync::LazyLock::new(|| Classifier::builtin().unwrap());
    let peers = PeerCache::new(64, 3600);
    let (orig, resp) = (ep(1, 40000), ep(2, port));
    let mut st = FlowInspect::default();
    let mut seq = [100u32, 9000u32];
    let mut packets: Vec<(Dir, &[u8], bool)> = Vec::new();
    if l4 == L4::Tcp {
        packets.push((Dir::Originator, &[], true));
        packets.push((Dir::Responder, &[], true));
    }
    for (d, p) in [(Dir::Originator, a), (Dir::Responder, b), (Dir::Originator, a), (Dir::Responder, b)] {
        if !p.is_empty() {
            packets.push((d, p, false));
        }
    }
    for (d, p, syn) in packets {
        let i = usize::from(d == Dir::Responder);
        let tcp_seq = (l4 == L4::Tcp).then_some(seq[i]);
        seq[i] = seq[i].wrapping_add(p.len() as u32 + u32::from(syn));
        let pkt = PacketMeta {
            l4,
            dir: d,
            originator: orig,
            responder: resp,
            tcp_seq,
            syn,
            payload: p,
            payload_len: p.len(),
            now: 5_000_000_000,
        };
        if let Verdict::Done(l) = C.inspect(&mut st, &pkt, &peers) {
            return l;
        }
    }
    C.finish(&st, l4, orig, resp, &peers, 5_000_000_000)
}

fn is_p2p(l: Label) -> bool {
    crate::registry::Registry::builtin().category(l.protocol) == Category::P2p
}

const UDP_KINDS: usize = 19;
const TCP_KINDS: usize = 11;

proptest! {
    #![proptest_config(ProptestConfig { cases: 4_000, ..ProptestConfig::default() })]

    #[test]
    fn udp_tracker_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        for (req, reply) in [(&a, &b), (&b, &a)] {
            prop_assert!(!bittorrent::is_udp_tracker_connect(req), "{name}: connect {req:02x?}");
            if let Some((h, tid)) = bittorrent::tracker_request(req) {
                prop_assert!(!bittorrent::tracker_reply(h, tid, reply), "{name}: {req:02x?} answered by {reply:02x?}");
            }
        }
    }

    #[test]
    fn dht_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        prop_assert!(!bittorrent::is_dht(&a) && !bittorrent::is_dht(&b), "{name}");
    }

    #[test]
    fn utp_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        // The verdict needs a SYN from one side and the ST_STATE acknowledging it from the other.
        let (name, a, b) = udp_lookalike(kind, seed);
        for (x, y) in [(&a, &b), (&b, &a)] {
            if let (Some(first), Some(then)) = (bittorrent::utp(x), bittorrent::utp(y)) {
                let syn = first.kind == bittorrent::ST_SYN;
                prop_assert!(!bittorrent::utp_tied(first.conn_id, first.seq, syn, &then), "{name}");
            }
        }
    }

    #[test]
    fn edonkey_and_kad_accept_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        for (req, reply) in [(&a, &b), (&b, &a)] {
            if let Some((h, token)) = edonkey::udp_request(req) {
                prop_assert!(!edonkey::udp_reply(h, token, reply), "{name}: {req:02x?} / {reply:02x?}");
            }
        }
    }

    #[test]
    fn gnutella_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        for p in [&a, &b] {
            prop_assert!(!gnutella::is_udp_descriptor(p, p.len()), "{name}: {p:02x?}");
            prop_assert!(!gnutella::is_g2_udp(p, p.len()), "{name}: {p:02x?}");
        }
    }

    #[test]
    fn directconnect_udp_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        for p in [&a, &b] {
            prop_assert!(!directconnect::is_nmdc_sr(p) && !directconnect::is_adc_udp(p), "{name}");
        }
    }

    #[test]
    fn quic_accepts_no_lookalike(kind in 0..UDP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = udp_lookalike(kind, seed);
        prop_assert!(!quic::is_long_header(&a, true) && !quic::is_long_header(&b, false), "{name}");
    }

    #[test]
    fn edonkey_tcp_accepts_no_lookalike(kind in 0..TCP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = tcp_lookalike(kind, seed);
        prop_assert_ne!(edonkey::probe_tcp(&a), Probe::Certain, "{}", name);
        prop_assert_ne!(edonkey::probe_tcp(&b), Probe::Certain, "{}", name);
        prop_assert!(!(winmx::is_greeting(&b) && winmx::is_login(&a)), "{name}");
    }

    #[test]
    fn tls_and_dns_tcp_accept_no_lookalike(kind in 0..TCP_KINDS, seed in any::<u64>()) {
        let (name, a, b) = tcp_lookalike(kind, seed);
        if name != "random" {
            prop_assert_ne!(tls::probe(&a, true), Probe::Certain, "{}", name);
            prop_assert_ne!(tls::probe(&b, false), Probe::Certain, "{}", name);
            prop_assert_ne!(detect::dns::probe_tcp(&a), Probe::Certain, "{}", name);
        }
    }

    /// The whole classifier, both transports, on the protocols' own ports and on P2P ports.
    #[test]
    fn classifier_gives_no_lookalike_a_p2p_label(kind in 0..UDP_KINDS, tkind in 0..TCP_KINDS, seed in any::<u64>(),
                                                 port in prop::sample::select(vec![53u16, 67, 123, 161, 500, 1812, 3478, 4500, 5353, 6881, 4672, 6346, 6699, 411, 30000])) {
        let (name, a, b) = udp_lookalike(kind, seed);
        let l = classify(L4::Udp, port, &a, &b);
        prop_assert!(!is_p2p(l), "UDP {name} on {port}: {l:?}");
        let (name, a, b) = tcp_lookalike(tkind, seed);
        let l = classify(L4::Tcp, port, &a, &b);
        prop_assert!(!is_p2p(l), "TCP {name} on {port}: {l:?}");
    }
}

#[test]
fn every_lookalike_kind_is_built() {
    // Each generator yields well-formed, non-empty packets (a broken generator would make the
    // properties above vacuous).
    for k in 0..UDP_KINDS {
        for seed in 0..50 {
            let (name, a, _) = udp_lookalike(k, seed);
            assert!(!a.is_empty(), "{name}");
        }
    }
    for k in 0..TCP_KINDS {
        let (name, a, b) = tcp_lookalike(k, 7);
        assert!(!a.is_empty() && !b.is_empty(), "{name}");
    }
    // The generators build the real thing: weir's own signatures and detectors name those it
    // knows.
    let c = Classifier::builtin().unwrap();
    for (kind, port, want) in [(1usize, 67u16, "dhcp"), (3, 161, "snmp"), (17, 53, "dns"), (11, 5353, "dns")] {
        for seed in 0..20 {
            let (name, a, b) = udp_lookalike(kind, seed);
            let l = classify(L4::Udp, port, &a, &b);
            assert_eq!(c.registry().name(l.protocol), want, "{name} seed {seed}: {l:?}");
        }
    }
    // The lookalikes that used to pass reach the request/answer check: some ONC RPC calls are
    // shaped like scrape requests, DNS queries with an additional record like announces.
    let rpc = (0..2000).filter(|&s| bittorrent::tracker_request(&udp_lookalike(0, s).1).is_some()).count();
    assert!(rpc > 0, "no RPC call shaped like a scrape request");
    let dns = (0..2000).filter(|&s| bittorrent::tracker_request(&udp_lookalike(15, s).1).is_some()).count();
    assert!(dns > 0, "no DNSCrypt certificate query shaped like an announce");
}
