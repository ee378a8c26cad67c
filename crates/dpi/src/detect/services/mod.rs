//! Structural detectors for the everyday protocols an operator wants to see by name: network
//! services (STUN, RADIUS, Kerberos, LDAP, SLP, NTP, syslog, DHCPv6, ONC RPC/NFS, DCE/RPC, CORBA's
//! GIOP and MIOP, AFS Rx, NetFlow and IPFIX export, CAPWAP),
//! VPNs and tunnels (IKE, OpenVPN, WireGuard, SOCKS, Teredo), databases (MS SQL, PostgreSQL,
//! MySQL, Redis, Kafka, Elasticsearch, Cassandra), IoT and industrial control (MQTT, CoAP, Modbus,
//! DNP3, IEC 104, BACnet, EtherNet/IP, OPC UA, RTPS/DDS, SOME/IP, HiSLIP, TP-Link and Ubiquiti
//! devices), media and calls (RTP/RTCP, H.323, Skinny, Discord voice, TeamSpeak 3, IAX2, Zoom),
//! messaging (Telegram's MTProto, WhatsApp's chat), and more (NAT-PMP, collectd, QQ, AMQP, KCP).
//! Each detector's module says what it checks and why random bytes and lookalikes cannot pass.
//!
//! Their ids start at [`FIRST`] so that this table and the peer-to-peer one in `detect/mod.rs` grow
//! independently. Priorities: 55 for proofs of 32 bits or more (magic numbers, exact lengths,
//! nested lengths that agree, echoed ids), 50 for structures a little weaker or proved by a pair of
//! datagrams, 40-45 for text protocols and weaker binary ones. These are below the peer-to-peer
//! detectors (60, 70), whose proofs are as strong, so a P2P flow keeps its label; all TCP ones stay
//! under the TCP detectors' maximum the classifier settles on (60). One exception: an ONC RPC
//! datagram (64 bits of fixed call or reply fields, bounded authentication blocks) ranks above the
//! P2P detectors (75), because a BitTorrent UDP tracker request is built the same way (a 64-bit id,
//! a 32-bit action, a 32-bit transaction id) and an RPC call to a file server must never be taken
//! for one; no tracker datagram has an RPC call's or reply's fixed fields (the tracker's protocol
//! magic, or a connection id whose low 32 bits are zero followed by action 2, and then an info hash
//! whose first 32 bits are a program version of 1..=64: about 2^-58).
//!
//! Some UDP protocols are proved by two datagrams (an NTP request and the answer that echoes its
//! timestamp; a CoAP request and its answer; a TFTP DATA block and its ACK; two RTP packets of one
//! stream; two WireGuard data packets under one receiver index; Discord's ping and its echo; Zoom's
//! opening packet and the answer echoing its token; an Rx client packet and the server's answer on
//! its connection). The classifier keeps one pending first half per flow in a [`Pair`].

mod amqp;
mod bacnet;
mod ber;
mod capwap;
mod cassandra;
mod coap;
mod collectd;
mod dcerpc;
mod dhcpv6;
mod discord;
mod dnp3;
mod dtls;
mod elasticsearch;
mod ethernetip;
mod fastcgi;
mod fins;
mod giop;
mod gtp;
mod hartip;
mod hislip;
mod iax;
mod iec104;
mod ike;
mod kafka;
mod kcp;
mod kerberos;
mod ldap;
mod ldp;
mod modbus;
mod mqtt;
mod mysql;
mod natpmp;
mod netflow;
mod ntp;
mod opcua;
mod openvpn;
mod postgres;
mod ptp;
mod qq;
mod radius;
mod redis;
mod rpc;
mod rtmp;
mod rtp;
mod rtps;
mod rx;
mod skinny;
mod slp;
mod socks;
mod someip;
mod stun;
mod synchrophasor;
mod syslog;
mod tds;
mod teamspeak;
mod telegram;
mod teredo;
pub(crate) mod tftp;
mod thrift;
pub(crate) mod tinc;
mod tns;
mod tpkt;
mod tplink;
mod ubiquiti;
mod uftp;
mod whatsapp;
mod wireguard;
mod zoom;

use crate::detect::{DetectorId, DetectorInfo, Probe};
use crate::registry::ProtocolId;
use crate::signature::Learn;

/// The first id of this table.
pub(crate) const FIRST: u8 = 64;

macro_rules! service_detectors {
    ($( $(#[$doc:meta])* $konst:ident = $id:literal, $name:literal, $proto:ident, $prio:literal; )*) => {
        impl DetectorId {
            $( $(#[$doc])* pub const $konst: DetectorId = DetectorId($id); )*
        }
        pub(crate) const DETECTORS: &[DetectorInfo] = &[
            $( DetectorInfo { name: $name, protocol: ProtocolId::$proto, priority: $prio, learn: Learn::None }, )*
        ];
    };
}

service_detectors! {
    /// STUN/TURN message with the RFC 5389 magic cookie (UDP, TCP).
    STUN = 64, "stun", STUN, 55;
    /// Classic STUN (RFC 3489) message.
    STUN_CLASSIC = 65, "stun-classic", STUN, 50;
    /// RADIUS packet.
    RADIUS = 66, "radius", RADIUS, 55;
    /// Kerberos v5 message (UDP, TCP).
    KERBEROS = 67, "kerberos", KERBEROS, 55;
    /// Service Location Protocol v1/v2 message (UDP, TCP).
    SLP = 68, "slp", SLP, 55;
    /// IKE (ISAKMP) message, bare or after the NAT-T marker.
    IKE = 69, "ipsec-ike", IPSEC, 55;
    /// DTLS records.
    DTLS = 70, "dtls", DTLS, 45;
    /// Syslog message (UDP, TCP).
    SYSLOG = 71, "syslog", SYSLOG, 40;
    /// ONC RPC call to an NFS program (UDP, TCP).
    NFS = 72, "nfs", NFS, 55;
    /// ONC RPC call to another program, or a reply (UDP, TCP).
    SUNRPC = 73, "sunrpc", SUNRPC, 55;
    /// DHCPv6 message.
    DHCPV6 = 74, "dhcpv6", DHCPV6, 55;
    /// TFTP read or write request.
    TFTP = 75, "tftp", TFTP, 55;
    /// TFTP transfer: a DATA block and its ACK.
    TFTP_TRANSFER = 76, "tftp-transfer", TFTP, 50;
    /// CoAP request and its answer.
    COAP = 77, "coap", COAP, 50;
    /// BACnet/IP virtual link control message.
    BACNET = 78, "bacnet", BACNET, 55;
    /// Discord voice IP discovery.
    DISCORD = 79, "discord", DISCORD, 55;
    /// WireGuard handshake message.
    WIREGUARD = 80, "wireguard", WIREGUARD, 55;
    /// Two WireGuard data messages under one receiver index.
    WIREGUARD_DATA = 81, "wireguard-data", WIREGUARD, 45;
    /// NTP request and the answer echoing its timestamp.
    NTP = 82, "ntp", NTP, 50;
    /// Two RTP packets of one stream.
    RTP = 83, "rtp", RTP, 45;
    /// RTCP compound packet.
    RTCP = 84, "rtcp", RTP, 45;
    /// OpenVPN hard-reset packet (UDP, TCP).
    OPENVPN = 85, "openvpn", OPENVPN, 55;
    /// LDAP message (UDP, TCP).
    LDAP = 86, "ldap", LDAP, 50;
    /// DNP3 link header with a valid CRC (UDP, TCP).
    DNP3 = 87, "dnp3", DNP3, 55;
    /// collectd packet.
    COLLECTD = 88, "collectd", COLLECTD, 55;
    /// DCE/RPC PDU header (TCP connection-oriented, UDP connectionless).
    DCERPC = 89, "dcerpc", DCERPC, 55;
    /// TDS (MS SQL) client packet.
    MSSQL = 90, "mssql", MSSQL, 55;
    /// PostgreSQL startup or request message.
    POSTGRESQL = 91, "postgresql", POSTGRESQL, 55;
    /// MySQL server handshake.
    MYSQL = 92, "mysql", MYSQL, 55;
    /// Modbus/TCP ADUs.
    MODBUS = 93, "modbus", MODBUS, 50;
    /// IEC 60870-5-104 APDUs.
    IEC104 = 94, "iec104", IEC104, 50;
    /// RDP X.224 connection request or confirm.
    RDP = 95, "rdp", RDP, 55;
    /// H.225.0 call signalling (Q.931 over TPKT).
    H323 = 96, "h323", H323, 55;
    /// Kafka request.
    KAFKA = 97, "kafka", KAFKA, 50;
    /// MQTT CONNECT.
    MQTT = 98, "mqtt", MQTT, 55;
    /// Redis RESP command.
    REDIS = 99, "redis", REDIS, 45;
    /// SOCKS 4 request, or SOCKS 5 greeting and request.
    SOCKS = 100, "socks", SOCKS, 45;
    /// Elasticsearch transport message.
    ELASTICSEARCH = 101, "elasticsearch", ELASTICSEARCH, 50;
    /// ONC RPC call to an NFS program in one datagram (above the P2P detectors, see below).
    NFS_UDP = 102, "nfs", NFS, 75;
    /// ONC RPC call to another program, or a reply, in one datagram.
    SUNRPC_UDP = 103, "sunrpc", SUNRPC, 75;
    /// Discord voice's keep-alive: an 8-byte ping echoed by the server.
    DISCORD_PING = 104, "discord-ping", DISCORD, 50;
    /// NAT-PMP response or announcement.
    NATPMP = 105, "nat-pmp", NATPMP, 45;
    /// Teredo: IPv6 in UDP with a Teredo address.
    TEREDO = 106, "teredo", TEREDO, 55;
    /// EtherNet/IP encapsulation (TCP, UDP).
    ETHERNETIP = 107, "ethernetip", ETHERNETIP, 55;
    /// Cassandra CQL request frame.
    CASSANDRA = 108, "cassandra", CASSANDRA, 50;
    /// Cisco Skinny messages.
    SKINNY = 109, "skinny", SKINNY, 50;
    /// Ubiquiti discovery.
    UBIQUITI = 110, "ubiquiti", UBIQUITI, 50;
    /// TP-Link Smart Home message (UDP, TCP).
    TPLINK_SHP = 111, "tplink-shp", TPLINK_SHP, 50;
    /// QQ (OICQ) packet.
    QQ = 112, "qq", QQ, 40;
    /// IEEE C37.118 frame with a valid CRC (UDP, TCP).
    C37118 = 113, "c37118", C37118, 55;
    /// FastCGI begin-request record.
    FASTCGI = 114, "fastcgi", FASTCGI, 55;
    /// Thrift message (binary or compact; UDP, TCP).
    THRIFT = 115, "thrift", THRIFT, 45;
    /// CAPWAP control message.
    CAPWAP = 116, "capwap", CAPWAP, 50;
    /// tinc's ID request from both sides of a meta connection.
    TINC = 117, "tinc-meta", TINC, 50;
    /// UFTP message in the clear (versions 4, 5).
    UFTP = 118, "uftp", UFTP, 50;
    /// Telegram MTProto's obfuscated transport header (TCP).
    TELEGRAM = 119, "telegram", TELEGRAM, 55;
    /// WhatsApp's chat connection: the `WA` prologue and its first frames (TCP).
    WHATSAPP = 120, "whatsapp", WHATSAPP, 55;
    /// Zoom's media connection opening: a type 1 packet and the type 2 answer echoing its token.
    ZOOM = 121, "zoom", ZOOM, 50;
    /// A datagram of KCP segments in the clear.
    KCP = 122, "kcp", KCP, 50;
    /// OPC UA binary messages whose sizes walk the segment.
    OPCUA = 123, "opc-ua", OPCUA, 55;
    /// GIOP messages whose sizes walk the segment (CORBA over TCP).
    GIOP = 124, "giop", CORBA, 55;
    /// MIOP packet carrying GIOP (CORBA over UDP multicast).
    MIOP = 125, "miop", CORBA, 55;
    /// RTPS message whose submessages walk the datagram (DDS).
    RTPS = 126, "rtps", RTPS, 55;
    /// NetFlow v5/v9 or IPFIX export datagram.
    NETFLOW = 127, "netflow", NETFLOW, 50;
    /// HiSLIP messages whose payload lengths walk the segment.
    HISLIP = 128, "hislip", HISLIP, 55;
    /// TeamSpeak 3 Init1 handshake packet.
    TEAMSPEAK = 129, "teamspeak", TEAMSPEAK, 55;
    /// CAPWAP DTLS header and whole DTLS records.
    CAPWAP_DTLS = 130, "capwap-dtls", CAPWAP, 50;
    /// AMQP 0-9-1 frames whose sizes walk the segment, with a defined method or content header.
    AMQP = 131, "amqp-frames", AMQP, 50;
    /// IAX2 NEW message (a call's first).
    IAX = 132, "iax", IAX, 55;
    /// SOME/IP messages whose lengths walk the datagram.
    SOMEIP = 133, "someip", SOMEIP, 50;
    /// Rx (AFS) client packet and the server's answer on its connection.
    RX = 134, "rx", RX, 50;
    /// Omron FINS/TCP frames whose lengths walk the segment.
    FINS = 135, "fins", FINS, 55;
    /// LDP PDUs whose messages walk them (UDP, TCP).
    LDP = 136, "ldp", LDP, 55;
    /// PTPv2 message (IEEE 1588 common header, the type's length and controlField).
    PTP = 137, "ptp", PTP, 50;
    /// GTPv1 signalling or GTPv2-C message (length, defined type, TEID flag, IEs walk the body).
    GTP = 138, "gtp", GTP, 50;
    /// RTMP handshake in the clear: C0 and C1, or S0 and S1 (version 3, the zero field).
    RTMP = 139, "rtmp", RTMP, 50;
    /// Oracle TNS CONNECT carrying its connect descriptor.
    ORACLE = 140, "oracle", ORACLE, 55;
    /// HART-IP messages whose byte counts walk the segment or fill the datagram (TCP, UDP).
    HARTIP = 141, "hart-ip", HARTIP, 55;
}

/// The pending first half of a two-datagram proof, kept in a UDP flow's inspection state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pair {
    kind: u8,
    from_originator: bool,
    small: u16,
    a: u32,
    b: u16,
}

const NONE: u8 = 0;
const RTP: u8 = 1;
const NTP: u8 = 2;
const COAP: u8 = 3;
const TFTP_DATA: u8 = 4;
const TFTP_ACK: u8 = 5;
const WG: u8 = 6;
const DISCORD_PING: u8 = 7;
const ZOOM: u8 = 8;
const RX: u8 = 9;

impl Pair {
    /// Unpacks the state stored by [`Pair::store`].
    pub(crate) fn load(head: u32, a: u32, b: u16) -> Pair {
        Pair { kind: head as u8, from_originator: head & 0x100 != 0, small: (head >> 16) as u16, a, b }
    }

    /// Packs into a 32-bit head and a 32-bit and a 16-bit value.
    pub(crate) fn store(&self) -> (u32, u32, u16) {
        let head = u32::from(self.kind) | (u32::from(self.from_originator) << 8) | (u32::from(self.small) << 16);
        (head, self.a, self.b)
    }

    /// The 32-bit second value of NTP and WireGuard halves: `small` then `b`.
    fn b32(&self) -> u32 {
        (u32::from(self.small) << 16) | u32::from(self.b)
    }

    fn set_b32(&mut self, v: u32) {
        self.small = (v >> 16) as u16;
        self.b = v as u16;
    }

    /// Does `p`, from `from_originator`, complete the pending first half?
    fn completes(&self, p: &[u8], from_originator: bool) -> Option<DetectorId> {
        let same = from_originator == self.from_originator;
        let hit = match self.kind {
            RTP => same && rtp::continues(p, self.a, self.small),
            NTP => !same && ntp::answers(p, (u64::from(self.a) << 32) | u64::from(self.b32())),
            COAP => {
                let req = coap::Message { kind: 0, code: 1, id: self.small, token: self.a, tkl: self.b as u8 };
                !same && coap::parse(p).is_some_and(|m| m.answers(&req))
            }
            TFTP_DATA => !same && tftp::ack_block(p) == Some(self.small),
            TFTP_ACK => !same && tftp::data_block(p) == Some(self.small.wrapping_add(1)),
            WG => {
                same && wireguard::data(p)
                    .is_some_and(|(r, c)| r == self.a && (1..=4096).contains(&c.wrapping_sub(self.b32())))
            }
            DISCORD_PING => !same && discord::ping(p) == Some(self.a),
            ZOOM => !same && zoom::answer(p) == Some((u64::from(self.a) << 32) | u64::from(self.b32())),
            RX => !same && rx::answers(p, self.a, self.b32()),
            _ => false,
        };
        if !hit {
            return None;
        }
        Some(match self.kind {
            RTP => DetectorId::RTP,
            NTP => DetectorId::NTP,
            COAP => DetectorId::COAP,
            TFTP_DATA | TFTP_ACK => DetectorId::TFTP_TRANSFER,
            DISCORD_PING => DetectorId::DISCORD_PING,
            ZOOM => DetectorId::ZOOM,
            RX => DetectorId::RX,
            _ => DetectorId::WIREGUARD_DATA,
        })
    }

    /// The first half `p` would be, if any.
    fn first_half(p: &[u8], from_originator: bool) -> Option<Pair> {
        let mut pair = Pair { from_originator, ..Pair::default() };
        if let Some(t) = ntp::request(p) {
            pair.kind = NTP;
            pair.a = (t >> 32) as u32;
            pair.set_b32(t as u32);
        } else if let Some(m) = coap::parse(p).filter(coap::Message::is_request) {
            pair.kind = COAP;
            pair.small = m.id;
            pair.a = m.token;
            pair.b = u16::from(m.tkl);
        } else if let Some(b) = tftp::data_block(p) {
            pair.kind = TFTP_DATA;
            pair.small = b;
        } else if let Some(b) = tftp::ack_block(p) {
            pair.kind = TFTP_ACK;
            pair.small = b;
        } else if let Some(t) = zoom::hello(p) {
            pair.kind = ZOOM;
            pair.a = (t >> 32) as u32;
            pair.set_b32(t as u32);
        } else if let Some(n) = discord::ping(p) {
            pair.kind = DISCORD_PING;
            pair.a = n;
        } else if let Some((r, c)) = wireguard::data(p) {
            pair.kind = WG;
            pair.a = r;
            pair.set_b32(c);
        } else if let Some((ssrc, seq)) = rtp::rtp(p) {
            pair.kind = RTP;
            pair.a = ssrc;
            pair.small = seq;
        } else if let Some((epoch, cid)) = rx::client_packet(p) {
            pair.kind = RX;
            pair.a = epoch;
            pair.set_b32(cid);
        } else {
            return None;
        }
        Some(pair)
    }
}

/// Whether `p` is one or more records laid end to end up to its last byte. `record_len` reads the
/// record at the start of the bytes it is given and returns its whole length, header included, or
/// `None` if they do not start a record. The framing most binary detectors here prove.
pub(crate) fn walks_exactly(p: &[u8], mut record_len: impl FnMut(&[u8]) -> Option<usize>) -> bool {
    let mut rest = p;
    while !rest.is_empty() {
        let Some(next) = record_len(rest).filter(|&n| n > 0).and_then(|n| rest.get(n..)) else { return false };
        rest = next;
    }
    !p.is_empty()
}

fn better(cur: Option<DetectorId>, new: DetectorId) -> Option<DetectorId> {
    let prio = |d: DetectorId| d.info().map_or(0, |i| i.priority);
    match cur {
        Some(c) if prio(c) >= prio(new) => Some(c),
        _ => Some(new),
    }
}

/// Runs this table's UDP detectors over one datagram from `from_originator`, and the two-datagram
/// proofs with `pair` (updated: a datagram that completes nothing may become the pending half).
pub(crate) fn udp(pair: &mut Pair, from_originator: bool, p: &[u8]) -> Option<DetectorId> {
    let mut best = None;
    if pair.kind != NONE
        && let Some(d) = pair.completes(p, from_originator)
    {
        best = better(best, d);
    }
    let rpc = rpc::udp(p);
    for (id, hit) in [
        (DetectorId::STUN, stun::is_message(p)),
        (DetectorId::STUN_CLASSIC, stun::is_classic(p)),
        (DetectorId::RADIUS, radius::is_packet(p)),
        (DetectorId::KERBEROS, kerberos::is_udp(p)),
        (DetectorId::SLP, slp::is_udp(p)),
        (DetectorId::IKE, ike::is_message(p)),
        (DetectorId::DTLS, dtls::is_records(p)),
        (DetectorId::SYSLOG, syslog::is_message(p)),
        (DetectorId::NFS_UDP, rpc == Some(rpc::Rpc::NfsCall)),
        (DetectorId::SUNRPC_UDP, matches!(rpc, Some(rpc::Rpc::OtherCall | rpc::Rpc::Reply))),
        (DetectorId::DHCPV6, dhcpv6::is_message(p)),
        (DetectorId::TFTP, tftp::is_request(p)),
        (DetectorId::BACNET, bacnet::is_bvlc(p)),
        (DetectorId::DISCORD, discord::is_ip_discovery(p)),
        (DetectorId::WIREGUARD, wireguard::is_handshake(p)),
        (DetectorId::RTCP, rtp::is_rtcp(p)),
        (DetectorId::OPENVPN, openvpn::is_udp_reset(p)),
        (DetectorId::LDAP, ldap::is_udp(p)),
        (DetectorId::DNP3, dnp3::is_frame_start(p)),
        (DetectorId::COLLECTD, collectd::is_packet(p)),
        (DetectorId::DCERPC, dcerpc::is_cl(p)),
        (DetectorId::NATPMP, natpmp::is_response(p)),
        (DetectorId::TEREDO, teredo::is_packet(p)),
        (DetectorId::ETHERNETIP, ethernetip::is_datagram(p)),
        (DetectorId::UBIQUITI, ubiquiti::is_packet(p)),
        (DetectorId::TPLINK_SHP, tplink::is_udp(p)),
        (DetectorId::QQ, qq::is_packet(p)),
        (
            DetectorId::C37118,
            synchrophasor::is_frame_start(p)
                && p.get(2..4).is_some_and(|n| usize::from(u16::from_be_bytes([n[0], n[1]])) == p.len()),
        ),
        (DetectorId::THRIFT, thrift::is_message_start(p)),
        (DetectorId::CAPWAP, capwap::is_control(p)),
        (DetectorId::UFTP, uftp::is_message(p)),
        (DetectorId::KCP, kcp::is_datagram(p)),
        (DetectorId::LDP, ldp::is_pdus(p, false)),
        (DetectorId::MIOP, giop::is_miop(p)),
        (DetectorId::RTPS, rtps::is_message(p)),
        (DetectorId::NETFLOW, netflow::is_export(p)),
        (DetectorId::TEAMSPEAK, teamspeak::is_init(p)),
        (DetectorId::CAPWAP_DTLS, capwap::is_dtls(p)),
        (DetectorId::IAX, iax::is_new(p)),
        (DetectorId::SOMEIP, someip::is_messages(p)),
        (DetectorId::PTP, ptp::is_message(p)),
        (DetectorId::GTP, gtp::is_message(p)),
        (DetectorId::HARTIP, hartip::is_messages(p, true)),
    ] {
        if hit {
            best = better(best, id);
        }
    }
    if best.is_none()
        && (pair.kind == NONE || pair.from_originator == from_originator)
        && let Some(first) = Pair::first_half(p, from_originator)
    {
        *pair = first;
    }
    best
}

/// Runs this table's TCP stream-start detectors over the first bytes of `from_originator`'s stream.
/// Returns the best certain detector, and whether one wants more bytes.
pub(crate) fn tcp_stream_start(view: &[u8], from_originator: bool) -> (Option<DetectorId>, bool) {
    let client = from_originator;
    let rpc = rpc::tcp_start(view);
    let socks = if client { socks::probe(view) } else { Probe::NotMine };
    let mut best = None;
    for (id, hit) in [
        (DetectorId::STUN, stun::is_tcp_start(view)),
        (DetectorId::KERBEROS, kerberos::is_tcp_start(view)),
        (DetectorId::SLP, slp::is_tcp_start(view)),
        (DetectorId::SYSLOG, client && syslog::is_tcp_start(view)),
        (DetectorId::NFS, rpc == Some(rpc::Rpc::NfsCall)),
        (DetectorId::SUNRPC, matches!(rpc, Some(rpc::Rpc::OtherCall | rpc::Rpc::Reply))),
        (DetectorId::OPENVPN, openvpn::is_tcp_reset(view)),
        (DetectorId::LDAP, ldap::is_tcp_start(view)),
        (DetectorId::DNP3, dnp3::is_frame_start(view)),
        (DetectorId::DCERPC, dcerpc::is_co_start(view)),
        (DetectorId::MSSQL, client && tds::is_client_start(view)),
        (DetectorId::POSTGRESQL, client && postgres::is_client_start(view)),
        (DetectorId::MYSQL, !client && mysql::is_server_start(view)),
        (DetectorId::MODBUS, modbus::is_stream_start(view)),
        (DetectorId::IEC104, iec104::is_stream_start(view)),
        (DetectorId::RDP, tpkt::is_rdp(view)),
        (DetectorId::H323, tpkt::is_h225(view)),
        (DetectorId::KAFKA, client && kafka::is_request_start(view)),
        (DetectorId::MQTT, mqtt::is_connect_start(view)),
        (DetectorId::REDIS, client && redis::is_command_start(view)),
        (DetectorId::SOCKS, socks == Probe::Certain),
        (DetectorId::ELASTICSEARCH, elasticsearch::is_message_start(view)),
        (DetectorId::ETHERNETIP, ethernetip::is_stream_start(view)),
        (DetectorId::CASSANDRA, client && cassandra::is_request_start(view)),
        (DetectorId::SKINNY, skinny::is_stream_start(view)),
        (DetectorId::TPLINK_SHP, tplink::is_tcp_start(view)),
        (DetectorId::C37118, synchrophasor::is_frame_start(view)),
        (DetectorId::FASTCGI, client && fastcgi::is_begin_request(view)),
        (DetectorId::THRIFT, thrift::is_message_start(view)),
        (DetectorId::TELEGRAM, client && telegram::is_client_start(view)),
        (DetectorId::WHATSAPP, client && whatsapp::is_client_start(view)),
        (DetectorId::OPCUA, opcua::is_stream_start(view)),
        (DetectorId::GIOP, giop::is_stream_start(view)),
        (DetectorId::HISLIP, hislip::is_stream_start(view)),
        (DetectorId::AMQP, amqp::is_frames(view)),
        (DetectorId::FINS, fins::is_stream_start(view)),
        (DetectorId::LDP, ldp::is_pdus(view, true)),
        (DetectorId::RTMP, rtmp::is_handshake_start(view, client)),
        (DetectorId::ORACLE, client && tns::is_connect(view)),
        (DetectorId::HARTIP, hartip::is_messages(view, false)),
    ] {
        if hit {
            best = better(best, id);
        }
    }
    (best, socks == Probe::NotYet)
}

/// Decodes hex (whitespace ignored) for the detectors' tests.
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|c| {
            u8::from_str_radix(core::str::from_utf8(c).unwrap_or("zz"), 16).unwrap_or_else(|_| panic!("bad hex {s:?}"))
        })
        .collect()
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
