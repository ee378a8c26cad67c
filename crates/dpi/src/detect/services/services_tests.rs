//! Property and cross tests for the everyday-protocol detectors: random bytes match none of them;
//! the peer-to-peer protocols' own packets (with random fields) match none of them; each real
//! sample matches its own detector and no other, and no peer-to-peer detector.

use super::*;
use proptest::prelude::*;

/// Real or spec-built positive samples: (expected detector, bytes, from the originator).
fn udp_samples() -> Vec<(DetectorId, Vec<u8>, bool)> {
    let mut stun = hex("000100002112a4424133516369344e75724f4b41");
    stun.extend_from_slice(&hex("80220004 77656972"));
    stun[3] = 8;
    vec![
        (DetectorId::STUN, stun, true),
        (DetectorId::STUN_CLASSIC, hex("000100089429ef88294dd52632c72931cb8dbb4c0003000400000000"), true),
        (DetectorId::RADIUS, hex("01 2a 001a 11111111111111111111111111111111 0106 77656972"), true),
        (DetectorId::KERBEROS, hex("6a10300ea103020105a20302010aa4023000"), true),
        (
            DetectorId::SLP,
            hex(
                "0201000036200000000000010002656e00000015736572766963653a736572766963652d6167656e74000764656661756c7400000000",
            ),
            true,
        ),
        (DetectorId::IKE, ike_sa_init(), true),
        (
            DetectorId::DTLS,
            hex("16fefd000000000000000000200100001400000000000000 14 fefd 555555555555555555555555555555555555"),
            true,
        ),
        (DetectorId::SYSLOG, b"<134>854 08/20/2013-19:05:23 CONFIG QLA2xxx".to_vec(), true),
        (DetectorId::NFS_UDP, nfs_call(), true),
        (DetectorId::DHCPV6, hex("01a1b2c3 0001000a00030001020000000001 000800020000"), true),
        (DetectorId::TFTP, b"\x00\x01pxelinux.0\x00octet\x00".to_vec(), true),
        (DetectorId::BACNET, hex("810b000c0120ffff00ff1008"), true),
        (DetectorId::DISCORD, discord(), true),
        (DetectorId::WIREGUARD, wg_init(), true),
        (DetectorId::RTCP, hex("81c90007 11223344 55667788 00000000 00000000 00000000 00000000 00000000"), true),
        (DetectorId::OPENVPN, hex("3839fded2daa10a4370000000000"), true),
        (DetectorId::LDAP, hex("300c02010161070a010004000400"), false),
        (DetectorId::DNP3, hex("05640a44030004007caec9f28210008a07"), true),
        (DetectorId::COLLECTD, collectd(), true),
        (DetectorId::DCERPC, dcerpc_cl(), true),
        (DetectorId::NATPMP, hex("00800000002b3add0ac9d5ae"), false),
        (DetectorId::TEREDO, teredo(), true),
        (DetectorId::ETHERNETIP, hex("6300 0000 00000000 00000000 0000000000000000 00000000"), true),
        (DetectorId::UBIQUITI, vec![1, 0, 0, 0], true),
        (DetectorId::TPLINK_SHP, hex("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6"), true),
        (DetectorId::QQ, qq(), true),
        (DetectorId::C37118, hex("aa41001200f100000000000000000005d7d0"), true),
        (DetectorId::THRIFT, hex("8281b2810109656d697442617463681c1c18"), true),
        (DetectorId::CAPWAP, capwap(), true),
        (
            DetectorId::UFTP,
            hex("50010000c0a801ba0211a8c5009d000001060014020005140005a3f6b8393fbee6040401e6050558"),
            true,
        ),
        (DetectorId::KCP, hex("0a000000 52 00 8000 28000000 01000000 03000000 00000000"), false),
        (
            DetectorId::LDP,
            hex("0001001e 0a000006 0000 0100 0014 00000000 0400 0004 000f 0000 0401 0004 0a000006"),
            true,
        ),
        (DetectorId::MIOP, miop(), true),
        (DetectorId::RTPS, rtps(), true),
        (DetectorId::NETFLOW, netflow_v5(), true),
        (DetectorId::TEAMSPEAK, hex("545333494e49543100650000880dd05766005f5916e0ade76b610000000000000000"), true),
        (DetectorId::CAPWAP_DTLS, capwap_dtls(), true),
        (DetectorId::IAX, hex("800400000000000100000601 0b020002 010c343432303838323035313535 0a02656e"), true),
        (DetectorId::SOMEIP, someip_sd(), true),
        (DetectorId::GTP, hex("48250013355292044b5462000200020010000300010001"), true),
        (
            DetectorId::PTP,
            hex("0002002c0000040000000000000000000000000000b0aefffe01f92000010001007f000041bf41700b2d17820000"),
            true,
        ),
        (DetectorId::HARTIP, hex("010003000004001182264e0000d2010039"), true),
    ]
}

fn capwap() -> Vec<u8> {
    let mut m = hex("0010020000000000 00000002 00 000b 00 0001 0004 000003e8");
    m.truncate(24);
    m
}

fn teredo() -> Vec<u8> {
    let mut p = hex("60000000000c3a1520010000c2881c4c20f3359b46f93f46 2002c2881c4c000000000000c2881c4d");
    p.resize(52, 0);
    p
}

fn qq() -> Vec<u8> {
    let mut p = hex("023b0b00010017561f0c7b00");
    p.extend_from_slice(&[0x55; 30]);
    p.push(0x03);
    p
}

fn ike_sa_init() -> Vec<u8> {
    let mut m = hex("1c1869f6d29ba0cc0000000000000000 21 20 22 08 00000000 00000000 00000004");
    let len = m.len() as u32;
    m[24..28].copy_from_slice(&len.to_be_bytes());
    m
}

fn nfs_call() -> Vec<u8> {
    let mut c = hex("5e1d0b940000000000000002000186a30000000200000001");
    c.extend_from_slice(&hex("00000001000000143847 75d0 00000000 00000000 00000000 00000000 0000000000000000"));
    c.extend_from_slice(&[0x11; 32]);
    c
}

fn discord() -> Vec<u8> {
    let mut p = hex("00010046 00024b18");
    p.resize(74, 0);
    p
}

fn wg_init() -> Vec<u8> {
    let mut p = vec![1, 0, 0, 0];
    p.resize(148, 0x5a);
    p
}

fn collectd() -> Vec<u8> {
    hex("0000000b 646576 6c 617000 0008000c 0000000000000000 0002 0008 63707500")
}

fn dcerpc_cl() -> Vec<u8> {
    let mut p = vec![4, 0, 0x20, 0, 0x10, 0, 0, 0];
    p.resize(80, 0);
    p[74] = 8;
    p.extend_from_slice(&[0u8; 8]);
    p
}

/// RTMP's C0 and C1 (rtmp.pcap's first bytes, the random part filled) as one segment.
fn rtmp_c0c1() -> Vec<u8> {
    let mut p = hex("030007aa5700000000c4ff95ff1affe3ffc000c1003600af00fc002d0092ffbbff7807d97c2e");
    p.resize(1537, 0x5a);
    p
}

fn tcp_samples() -> Vec<(DetectorId, Vec<u8>, bool)> {
    let mut stun = hex("000300082112a4424d7a4a354c76737264656c630019000411000000");
    stun.truncate(28);
    let krb = {
        let m = hex("6a10300ea103020105a20302010aa4023000");
        let mut f = (m.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&m);
        f
    };
    let rpc = {
        let c = nfs_call();
        let mut f = (0x8000_0000u32 | c.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(&c);
        f
    };
    let mut mysql = vec![10];
    mysql.extend_from_slice(b"8.0.36\0\x01\0\0\0abcdefgh\0\xff\xf7\x21\x02\x00");
    mysql.extend_from_slice(&[0u8; 13]);
    let mut mysql_pkt = vec![mysql.len() as u8, 0, 0, 0];
    mysql_pkt.extend_from_slice(&mysql);
    let mut kafka = hex("00000000001200030000000300 10 636f6e736f6c652d70726f6475636572 00");
    let n = (kafka.len() - 4) as u32;
    kafka[..4].copy_from_slice(&n.to_be_bytes());
    let mut login = hex("1001009000000100 88000000 04000074 00100000");
    login.resize(0x90, 0);
    let mut es = b"ES".to_vec();
    es.extend_from_slice(&20u32.to_be_bytes());
    es.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0x08, 0, 0x7a, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0]);
    let mut enip = hex("6f00 1000 00010210 00000000 1a392f0000000000 00000000");
    enip.extend_from_slice(&[0u8; 16]);
    let shp = hex("d0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6");
    let mut tplink = (shp.len() as u32).to_be_bytes().to_vec();
    tplink.extend_from_slice(&shp);
    // A client's obfuscated MTProto header and the start of its first message (telegram_videocall.pcapng).
    let telegram = hex(
        "f8b9357d01ff6ae4f2e43a80667449b134255576f7b465c944bab1bca416e9cac7d620cf78dffc06dc39da584c9b422bdd5a6a121cd2a4d68d3e5af7a35c2ecc c89a0be35ebce5507f",
    );
    let mut dce = hex("05000b0310000000 4800 0000 01000000 b810b810 00000000 01000000");
    dce.resize(0x48, 0);
    vec![
        (DetectorId::STUN, stun, true),
        (DetectorId::KERBEROS, krb, true),
        (DetectorId::NFS, rpc, true),
        (DetectorId::SYSLOG, b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47".to_vec(), true),
        (DetectorId::OPENVPN, hex("000e38507a28a78275788d0000000000"), true),
        (DetectorId::LDAP, hex("300c020101600702010304008000"), true),
        (DetectorId::DNP3, hex("05640a44030004007caec9f28210008a07"), false),
        (DetectorId::DCERPC, dce, true),
        (DetectorId::MSSQL, login, true),
        (
            DetectorId::POSTGRESQL,
            hex("000000260003000075736572006f727978006461746162617365006d61696c73746f72650000"),
            true,
        ),
        (DetectorId::MYSQL, mysql_pkt, false),
        (DetectorId::MODBUS, hex("0001 0000 0006 01 03 0000 000a"), true),
        (DetectorId::IEC104, hex("680407000000"), true),
        (DetectorId::RDP, hex("030000130ee000000000000100080003000000"), true),
        (DetectorId::H323, hex("0300001c 08 02 77f4 05 04038090a5 28 05 7765697200 7e 0004 0520a806"), true),
        (DetectorId::KAFKA, kafka, true),
        (DetectorId::MQTT, b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04weir".to_vec(), true),
        (DetectorId::REDIS, b"*1\r\n$4\r\nPING\r\n".to_vec(), true),
        (DetectorId::SOCKS, b"\x04\x01\x00\x50\xc6\x12\x00\x01weir\x00".to_vec(), true),
        (DetectorId::ELASTICSEARCH, es, true),
        (DetectorId::ETHERNETIP, enip, true),
        (DetectorId::CASSANDRA, hex("050000000500000000"), true),
        (DetectorId::SKINNY, hex("100000001400000026000000010000000000000000000000"), true),
        (DetectorId::TPLINK_SHP, tplink, true),
        (DetectorId::C37118, hex("aa41001200f100000000000000000005d7d0"), true),
        (DetectorId::FASTCGI, hex("01010001000800000001010000000000"), true),
        (DetectorId::THRIFT, hex("8001000100000014616e6f6e796d6f75735f636f6d6d616e645f6f6e00000000"), true),
        (DetectorId::TELEGRAM, telegram, true),
        (DetectorId::WHATSAPP, hex("57410105 000005 f80301a591 000003 f80101"), true),
        (DetectorId::OPCUA, hex("41434b461c0000000000000000000200000002000000004000800000"), false),
        (DetectorId::GIOP, hex("47494f50 0102 00 05 00000000"), true),
        (DetectorId::HISLIP, hex("485300000100525300000000000000076869736c697030"), true),
        (
            DetectorId::AMQP,
            hex("01000100000021003c002800000863656c657279657610776f726b65722e68656172746265617400ce"),
            true,
        ),
        (DetectorId::FINS, hex("46494e530000000c000000000000000000000000"), true),
        (DetectorId::LDP, hex("0001000e 0a000101 0000 0201 0004 00000003"), true),
        (DetectorId::RTMP, rtmp_c0c1(), true),
        (DetectorId::ORACLE, super::tns::tests::connect(), true),
        (DetectorId::HARTIP, hex(super::hartip::tests::INITIATE), true),
    ]
}

#[test]
fn priorities_stay_below_the_p2p_detectors() {
    for (i, d) in DETECTORS.iter().enumerate() {
        let id = DetectorId(FIRST + i as u8);
        let udp_only = [DetectorId::NFS_UDP, DetectorId::SUNRPC_UDP].contains(&id);
        assert!(d.priority < 60 || udp_only, "{}: below the P2P detectors and the TCP maximum", d.name);
    }
}

#[test]
fn each_udp_sample_is_its_own_detector_only() {
    for (want, p, orig) in udp_samples() {
        let mut pair = Pair::default();
        assert_eq!(udp(&mut pair, orig, &p), Some(want), "{}: {:02x?}", want.name(), p);
        let p2p = crate::detect::udp_datagram(&p, p.len(), orig);
        assert!(
            p2p.is_none_or(|d| d.info().is_none_or(|i| i.protocol.0 > ProtocolId::GNUTELLA.0)),
            "{} sample taken by {:?}",
            want.name(),
            p2p.map(DetectorId::name)
        );
    }
}

#[test]
fn each_tcp_sample_is_its_own_detector_only() {
    for (want, p, orig) in tcp_samples() {
        let (got, _) = tcp_stream_start(&p, orig);
        assert_eq!(got, Some(want), "{}: {:02x?}", want.name(), p);
        let (all, _) = crate::detect::tcp_stream_start(&p, orig);
        assert_eq!(all, Some(want), "{}: the whole TCP detector set agrees", want.name());
    }
}

/// A capture that starts at the server's SYN-ACK makes the server the flow's originator: the
/// client's CONNECT, whose proof does not depend on the direction, still names the flow.
#[test]
fn mqtt_connect_from_the_side_seen_second() {
    let connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04weir";
    assert_eq!(tcp_stream_start(connect, false).0, Some(DetectorId::MQTT));
    assert_eq!(tcp_stream_start(&connect[..17], false).0, None, "a cut CONNECT");
}

/// Rx: a client-initiated packet, then the server's answer under the same epoch and connection id.
#[test]
fn rx_call_and_answer() {
    let call = hex("570fb5605c3fc9880000000100000001000000010105000000000049000001f8");
    let reply = hex("570fb5605c3fc98800000001000000010000000101040000000000490000000100002711");
    let mut pair = Pair::default();
    assert_eq!(udp(&mut pair, true, &call), None);
    assert_eq!(udp(&mut pair, true, &reply), None, "an answer comes from the other side");
    let mut pair = Pair::default();
    udp(&mut pair, true, &call);
    assert_eq!(udp(&mut pair, false, &call), None, "the client's packet is no answer");
    assert_eq!(udp(&mut pair, false, &reply), Some(DetectorId::RX));
}

#[test]
fn pairs() {
    // RTP: two packets of one stream from one side.
    let a = hex("80086fae000004d83796cb71d5d5d5d5d5d5d5d5");
    let b = hex("80086faf000005783796cb716e6815146a141415");
    let mut pair = Pair::default();
    assert_eq!(udp(&mut pair, true, &a), None);
    let stored = pair.store();
    assert_eq!(Pair::load(stored.0, stored.1, stored.2), pair, "the state survives packing");
    assert_eq!(udp(&mut pair, false, &b), None, "the other side's packet is another stream");
    assert_eq!(udp(&mut pair, true, &b), Some(DetectorId::RTP));
    // NTP: a request and the answer that echoes its transmit timestamp.
    let req = hex("1b000000000000000000000000000000000000000000000000000000000000000000000000000000e1fcd68ee3126ecc");
    let resp = hex("1c0100ec000000000000000c474f4f47e1fcd6d356f0a848e1fcd68ee3126ecce1fcd6d356f0a849e1fcd6d356f0a84b");
    let mut pair = Pair::default();
    assert_eq!(udp(&mut pair, true, &req), None);
    assert_eq!(udp(&mut pair, true, &resp), None, "an answer comes from the other side");
    let mut pair = Pair::default();
    udp(&mut pair, true, &req);
    assert_eq!(udp(&mut pair, false, &resp), Some(DetectorId::NTP));
    // CoAP: request, ACK with the same message id.
    let mut pair = Pair::default();
    udp(&mut pair, true, &hex("40039522b773746f726167650a6d797265736f75726365ff6d7964617461"));
    assert_eq!(udp(&mut pair, false, &hex("60449522")), Some(DetectorId::COAP));
    // TFTP: DATA 1 and its ACK.
    let mut pair = Pair::default();
    let mut data = vec![0, 3, 0, 1];
    data.resize(516, b'x');
    udp(&mut pair, false, &data);
    assert_eq!(udp(&mut pair, true, &[0, 4, 0, 1]), Some(DetectorId::TFTP_TRANSFER));
    // Discord: a ping and its echo.
    let mut pair = Pair::default();
    let ping = [0x13, 0x37, 0xca, 0xfe, 9, 0, 0, 0];
    assert_eq!(udp(&mut pair, true, &ping), None);
    assert_eq!(udp(&mut pair, false, &[0x13, 0x37, 0xca, 0xfe, 8, 0, 0, 0]), None, "another counter");
    let mut pair = Pair::default();
    udp(&mut pair, true, &ping);
    assert_eq!(udp(&mut pair, false, &ping), Some(DetectorId::DISCORD_PING));
    // WireGuard data: two messages under one receiver index.
    let mut pair = Pair::default();
    let mut d1 = vec![4, 0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0];
    d1.resize(48, 0x33);
    let mut d2 = d1.clone();
    d2[8] = 8;
    udp(&mut pair, true, &d1);
    assert_eq!(udp(&mut pair, true, &d2), Some(DetectorId::WIREGUARD_DATA));
    // Zoom: the client's type 1 packet and the server's type 2 answer echoing its token
    // (zoom2.pcap, cut).
    let hello = hex("010003c84ac4528718cda2b8477a1b899f33830000000000000002006f613f006f613f00000040e6d766f5");
    let answer = hex("020003c84ac4528718cda2b8477a1b899f3383004f8378006f613f0000000000000000004000400003e00300");
    let mut pair = Pair::default();
    assert_eq!(udp(&mut pair, true, &hello), None);
    assert_eq!(udp(&mut pair, true, &answer), None, "an answer comes from the other side");
    let mut pair = Pair::default();
    udp(&mut pair, true, &hello);
    let mut other = answer.clone();
    other[10] ^= 0x40;
    assert_eq!(udp(&mut pair, false, &other), None, "another token");
    let mut pair = Pair::default();
    udp(&mut pair, true, &hello);
    assert_eq!(udp(&mut pair, false, &answer), Some(DetectorId::ZOOM));
}

/// Datagrams of the peer-to-peer protocols, with random fields where the protocols have them.
fn p2p_datagram() -> impl Strategy<Value = Vec<u8>> {
    fn bytes(n: impl Into<proptest::collection::SizeRange>) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), n)
    }
    prop_oneof![
        // Mainline DHT query.
        bytes(20).prop_map(|id| {
            let mut p = b"d1:ad2:id20:".to_vec();
            p.extend_from_slice(&id);
            p.extend_from_slice(b"e1:q4:ping1:t2:aa1:y1:qe");
            p
        }),
        // uTP: SYN, STATE, DATA with random ids and payloads.
        (prop_oneof![Just(0x41u8), Just(0x21), Just(0x01)], bytes(19), bytes(0..1200)).prop_map(|(t, h, d)| {
            let mut p = vec![t];
            p.extend_from_slice(&h);
            p.extend_from_slice(&d);
            p
        }),
        // BEP 15 connect request, and announce/scrape with random connection ids.
        (bytes(4), any::<u32>(), bytes(0..90)).prop_map(|(t, action, rest)| {
            let mut p = if action % 2 == 0 { 0x0417_2710_1980u64.to_be_bytes().to_vec() } else { rest.clone() };
            p.truncate(8);
            p.resize(8, 0);
            p.extend_from_slice(&(action % 4).to_be_bytes());
            p.extend_from_slice(&t);
            p.extend_from_slice(&rest);
            p
        }),
        // eDonkey/eMule and Kad: a protocol byte, an opcode, random fields.
        (prop_oneof![Just(0xe3u8), Just(0xc5), Just(0xd4), Just(0xe4), Just(0xe5)], any::<u8>(), bytes(0..200))
            .prop_map(|(m, op, rest)| {
                let mut p = vec![m, op];
                p.extend_from_slice(&rest);
                p
            }),
        // Gnutella descriptor: GUID, type, TTL, hops, length that agrees.
        (bytes(16), prop_oneof![Just(0u8), Just(1), Just(0x80), Just(0x81), Just(0x31)], bytes(0..300)).prop_map(
            |(guid, t, payload)| {
                let mut p = guid;
                p.extend_from_slice(&[t, 4, 1]);
                p.extend_from_slice(&(payload.len() as u32).to_le_bytes());
                p.extend_from_slice(&payload);
                p
            }
        ),
        // Gnutella2 UDP.
        (any::<u8>(), bytes(0..300)).prop_map(|(seq, payload)| {
            let mut p = b"GND".to_vec();
            p.extend_from_slice(&[0x02, 0, seq, 1, 1]);
            p.extend_from_slice(&payload);
            p
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]

    /// Random datagrams, alone or as a flow of several, match no detector of this table.
    #[test]
    fn random_datagrams_match_nothing(pkts in proptest::collection::vec(
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 1..1500)), 1..6)) {
        let mut pair = Pair::default();
        for (orig, p) in &pkts {
            let got = udp(&mut pair, *orig, p);
            prop_assert!(got.is_none(), "{:?} on {:02x?}", got.map(DetectorId::name), p);
        }
    }

    /// After a Zoom opening packet, answers of the right type with random tokens complete nothing.
    #[test]
    fn zoom_answers_with_other_tokens(mut p in proptest::collection::vec(any::<u8>(), 24..200)) {
        let hello = hex("010003c84ac4528718cda2b8477a1b899f33830000000000000002006f613f006f613f00000040e6d766f5");
        let mut pair = Pair::default();
        udp(&mut pair, true, &hello);
        p[0] = 2;
        p[1] = 0;
        if p[3..11] != hello[3..11] {
            prop_assert_ne!(udp(&mut pair, false, &p), Some(DetectorId::ZOOM));
        }
    }

    /// Random stream starts match no detector of this table.
    #[test]
    fn random_streams_match_nothing(orig in any::<bool>(), p in proptest::collection::vec(any::<u8>(), 1..1500)) {
        let (got, _) = tcp_stream_start(&p, orig);
        prop_assert!(got.is_none(), "{:?} on {:02x?}", got.map(DetectorId::name), p);
    }

    /// The P2P protocols' datagrams, alone or in flows, match no detector of this table.
    #[test]
    fn p2p_datagrams_match_nothing(pkts in proptest::collection::vec((any::<bool>(), p2p_datagram()), 1..6)) {
        let mut pair = Pair::default();
        for (orig, p) in &pkts {
            let got = udp(&mut pair, *orig, p);
            prop_assert!(got.is_none(), "{:?} on {:02x?}", got.map(DetectorId::name), p);
        }
    }

    /// The P2P protocols' TCP openings (handshakes with random hashes and peer ids, eDonkey
    /// hellos, Gnutella and Direct Connect handshakes) match no detector of this table.
    #[test]
    fn p2p_streams_match_nothing(orig in any::<bool>(), kind in 0usize..5, rnd in proptest::collection::vec(any::<u8>(), 48..200)) {
        let p = match kind {
            0 => {
                let mut p = b"\x13BitTorrent protocol".to_vec();
                p.extend_from_slice(&rnd);
                p
            }
            1 => {
                let mut p = vec![0xe3];
                p.extend_from_slice(&((rnd.len() + 1) as u32).to_le_bytes());
                p.push(0x01);
                p.extend_from_slice(&rnd);
                p
            }
            2 => b"GNUTELLA CONNECT/0.6\r\nUser-Agent: LimeWire\r\n\r\n".to_vec(),
            3 => {
                let mut p = b"$Lock EXTENDEDPROTOCOL".to_vec();
                p.extend(rnd.iter().map(|b| b'A' + b % 26));
                p.push(b'|');
                p
            }
            _ => rnd.clone(),
        };
        let (got, _) = tcp_stream_start(&p, orig);
        prop_assert!(got.is_none(), "{:?} on {:02x?}", got.map(DetectorId::name), p);
    }
}

fn miop() -> Vec<u8> {
    let mut p = hex("4d494f501003e40000000000010000000c00000000000000000000000000000047494f5001020100d8000000");
    p.resize(32 + 0xe4, 0x31);
    p
}

fn rtps() -> Vec<u8> {
    let mut p = hex("5254505302010101c0a87a0100003a4c00000001 09010800 8f0b4a59470af3a6 1505e802");
    p.resize(p.len() + 744, 0x11);
    p
}

fn netflow_v5() -> Vec<u8> {
    let mut p = hex("0005 0001 0001e240 5f000000 00000100 00000007 00 00 0000");
    p.extend_from_slice(&hex("c0a80001 c0a80002 00000000 0001 0002 00000003 00000100 0001e000 0001e240 04d2 0050 00 06 11 00 0000 0000 00 00 0000"));
    p
}

fn capwap_dtls() -> Vec<u8> {
    let mut p = hex("01000000 16 feff 0000 000000000000 0020 01 000014 0000 000000 000014 feff");
    p.extend_from_slice(&[0x55; 18]);
    p
}

fn someip_sd() -> Vec<u8> {
    let mut p = hex("ffff8100000000300000000301010200");
    p.resize(8 + 0x30, 0);
    p
}
