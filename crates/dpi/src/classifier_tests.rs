//! Classifier tests: whole flows through `inspect`/`finish`, lookalikes, peer cache, TCP sequence
//! handling, limits, and property tests (no panics, no P2P label from random bytes, split
//! invariance).

use core::net::{IpAddr, Ipv4Addr};
use std::sync::LazyLock;

use proptest::prelude::*;

use super::*;
use crate::peers::PeerKind;
use crate::registry::Category;

static C: LazyLock<Classifier> = LazyLock::new(|| Classifier::builtin().unwrap());

/// Packet time of the test flows (ns).
const NOW: u64 = 1_000_000_000_000;

const O: Dir = Dir::Originator;
const R: Dir = Dir::Responder;

fn ep(last: u8, port: u16) -> Endpoint {
    Endpoint { ip: IpAddr::V4(Ipv4Addr::new(198, 18, 0, last)), port }
}

/// Runs a flow through the classifier: TCP with a handshake and consistent sequence numbers, or
/// UDP datagrams. Returns the label (from `inspect`'s `Done` or from `finish`) and the number of
/// payload packets inspected before the verdict.
fn run(c: &Classifier, l4: L4, port: u16, packets: &[(Dir, &[u8])], peers: &PeerCache) -> (Label, usize) {
    run_between(c, l4, (ep(1, 40000), ep(2, port)), NOW, packets, peers)
}

/// [`run`] between given endpoints at a given time.
fn run_between(
    c: &Classifier,
    l4: L4,
    (orig, resp): (Endpoint, Endpoint),
    now: u64,
    packets: &[(Dir, &[u8])],
    peers: &PeerCache,
) -> (Label, usize) {
    let mut st = FlowInspect::default();
    let mut seq = [1000u32, 5000u32];
    let meta = |dir, seq, syn, payload| PacketMeta {
        l4,
        dir,
        originator: orig,
        responder: resp,
        tcp_seq: seq,
        syn,
        payload,
        payload_len: <[u8]>::len(payload),
        now,
    };
    if l4 == L4::Tcp {
        for d in [O, R] {
            let v = c.inspect(&mut st, &meta(d, Some(seq[idx(d)]), true, &[]), peers);
            assert_eq!(v, Verdict::Pending);
            seq[idx(d)] = seq[idx(d)].wrapping_add(1);
        }
    }
    let mut done = None;
    for (n, (d, p)) in packets.iter().enumerate() {
        let s = (l4 == L4::Tcp).then_some(seq[idx(*d)]);
        seq[idx(*d)] = seq[idx(*d)].wrapping_add(p.len() as u32);
        if done.is_some() {
            // After the verdict the flow is still read for the peers it names.
            c.harvest(&mut st, &meta(*d, s, false, p), peers);
            continue;
        }
        if let Verdict::Done(l) = c.inspect(&mut st, &meta(*d, s, false, p), peers) {
            // Idempotent after Done.
            assert_eq!(c.inspect(&mut st, &meta(*d, s, false, p), peers), Verdict::Done(l));
            done = Some((l, n + 1));
        }
    }
    done.unwrap_or_else(|| (c.finish(&st, l4, orig, resp, peers, now), usize::MAX))
}

fn label(l4: L4, port: u16, packets: &[(Dir, &[u8])]) -> (String, String) {
    let (l, _) = run(&C, l4, port, packets, &PeerCache::new(16, 3600));
    (C.registry().name(l.protocol).to_owned(), C.describe(l.decision).to_string())
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// A uTP header (BEP 29) of `kind` (0 data, 2 state), with `data` after it.
fn utp_hdr(kind: u8, conn: u16, seq: u16, ack: u16, data: &[u8]) -> Vec<u8> {
    let mut v = vec![(kind << 4) | 1, 0];
    v.extend_from_slice(&conn.to_be_bytes());
    v.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 0, 0x10, 0, 0, 0x10, 0, 0]);
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn bt_handshake() -> Vec<u8> {
    let mut v = b"\x13BitTorrent protocol".to_vec();
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 5]);
    v.extend_from_slice(&[0xab; 20]);
    v.extend_from_slice(b"-UT3450-abcdefghijkl");
    v
}

fn edonkey_hello() -> Vec<u8> {
    // Client Hello as in edonkey.pcap (nDPI test suite, LGPL-3.0-or-later), body shortened.
    let mut body = vec![0x01, 0x10];
    body.extend_from_slice(&[0x1b; 16]);
    body.extend_from_slice(&[0xc0, 0xa8, 0x01, 0x02, 0x36, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut v = vec![0xe3];
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(&body);
    v
}

fn client_hello() -> Vec<u8> {
    let mut v = vec![0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0x00, 0x2c, 0x03, 0x03];
    v.extend_from_slice(&[0x42; 32]);
    v.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0, 0, 0]);
    v.truncate(0x30 + 5);
    v
}

fn dns_query(first: u8) -> Vec<u8> {
    let mut q = vec![first, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    q
}

fn quic_initial() -> Vec<u8> {
    let mut p = vec![0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0];
    let length = 1250 - p.len() - 2;
    p.extend_from_slice(&(0x4000u16 | length as u16).to_be_bytes());
    p.resize(1250, 0);
    p
}

macro_rules! flows {
    ($( $name:ident: ($l4:expr, $port:expr, [$( ($d:expr, $p:expr) ),* $(,)?]) => ($proto:expr, $how:expr); )*) => {
        $(
            #[test]
            fn $name() {
                let owned: Vec<(Dir, Vec<u8>)> = vec![$( ($d, $p.to_vec()) ),*];
                let packets: Vec<(Dir, &[u8])> = owned.iter().map(|(d, p)| (*d, p.as_slice())).collect();
                let (proto, how) = label($l4, $port, &packets);
                assert_eq!((proto.as_str(), how.as_str()), ($proto, $how));
            }
        )*
    };
}

flows! {
    bittorrent_handshake: (L4::Tcp, 51413, [(O, bt_handshake()), (R, bt_handshake())])
        => ("bittorrent", "signature:bittorrent-handshake");
    http_url_naming_bittorrent_is_http: (L4::Tcp, 80, [
        (O, b"GET /downloads/BitTorrent-7.10.exe HTTP/1.1\r\nHost: example.com\r\n\r\n"),
        (R, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]) => ("http", "signature:http-get");
    http_tracker_announce_is_bittorrent: (L4::Tcp, 6969, [
        (O, b"GET /announce?info_hash=%12%34&peer_id=-UT3450-&port=6881 HTTP/1.1\r\n\r\n"),
        (R, b"HTTP/1.1 200 OK\r\n\r\nd8:intervali1800e5:peers6:\xc6\x12\x00\x07\x1a\xe1e"),
    ]) => ("bittorrent", "signature:bittorrent-tracker-query");
    http_tracker_second_param: (L4::Tcp, 80, [
        (O, b"GET /a/announce?passkey=1&info_hash=%12 HTTP/1.1\r\n\r\n"),
    ]) => ("bittorrent", "signature:bittorrent-tracker-query-param");
    lsd_search: (L4::Udp, 6771, [(O, b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\r\n")])
        => ("bittorrent", "signature:bittorrent-lsd");
    dht_ping: (L4::Udp, 6881, [
        (O, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
        (R, b"d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re"),
    ]) => ("bittorrent", "detector:bittorrent-dht");
    utp_syn_and_state: (L4::Udp, 33333, [
        (O, hex("41004567ed639296000000000010000023c60000")),
        (R, hex("21004567ed6393410000000000100000456723c6")),
    ]) => ("bittorrent", "detector:bittorrent-utp");
    utp_state_not_acking_the_syn: (L4::Udp, 33333, [
        (O, hex("41004567ed639296000000000010000023c60000")),
        (R, hex("21004567ed6393410000000000100000456723c7")),
    ]) => ("unknown", "no match");
    // A uTP connection picked up after its SYN: the initiator sends with id + 1, the other side
    // with the id, each acknowledging the other's sequence numbers.
    utp_picked_up_mid_connection: (L4::Udp, 33333, [
        (O, utp_hdr(0, 0x4568, 0x1000, 0x2000, &[0x55; 300])),
        (R, utp_hdr(2, 0x4567, 0x2000, 0x1000, &[])),
    ]) => ("bittorrent", "detector:bittorrent-utp");
    utp_ids_two_apart: (L4::Udp, 33333, [
        (O, utp_hdr(0, 0x4569, 0x1000, 0x2000, &[0x55; 300])),
        (R, utp_hdr(2, 0x4567, 0x2000, 0x1000, &[])),
    ]) => ("unknown", "no match");
    utp_ack_far_from_the_sequence: (L4::Udp, 33333, [
        (O, utp_hdr(0, 0x4568, 0x1000, 0x2000, &[0x55; 300])),
        (R, utp_hdr(2, 0x4567, 0x2000, 0x9000, &[])),
    ]) => ("unknown", "no match");
    udp_tracker_connect: (L4::Udp, 1337, [
        (O, hex("0000041727101980000000001234abcd")),
    ]) => ("bittorrent", "detector:bittorrent-udp-tracker");
    nmdc_lock: (L4::Tcp, 411, [(R, b"$Lock EXTENDEDPROTOCOL_verlihub Pk=version0.9.8e|")])
        => ("directconnect", "signature:nmdc-lock");
    adc_hub: (L4::Tcp, 1511, [(O, b"HSUP ADBASE ADTIGR\n"), (R, b"ISUP ADBASE ADTIGR\nISID AAAB\n")])
        => ("directconnect", "signature:adc-hub-supports");
    edonkey_client_hello: (L4::Tcp, 4662, [(O, edonkey_hello())]) => ("edonkey", "detector:edonkey");
    edonkey_length_disagrees: (L4::Tcp, 30000, [(O, { let mut h = edonkey_hello(); h[1] += 3; h[5] = 0x4c; h })])
        => ("unknown", "no match");
    kad_ping: (L4::Udp, 30000, [(O, [0xe4, 0x60]), (R, [0xe4, 0x61, 0x12, 0x34])]) => ("edonkey", "detector:kad");
    dns_starting_with_e3_is_dns: (L4::Udp, 53, [(O, dns_query(0xe3))]) => ("dns", "detector:dns");
    dns_over_tcp: (L4::Tcp, 53, [(O, { let q = dns_query(1); let mut v = (q.len() as u16).to_be_bytes().to_vec(); v.extend(q); v })])
        => ("dns", "detector:dns");
    fasttrack_hash: (L4::Tcp, 1214, [(O, b"GET /.hash=0123456789abcdef HTTP/1.1\r\n\r\n")])
        => ("fasttrack", "signature:fasttrack-hash-get");
    fasttrack_header_in_http: (L4::Tcp, 80, [
        (O, b"GET /file HTTP/1.1\r\nHost: x\r\n\r\n"),
        (R, b"HTTP/1.1 200 OK\r\nx-kazaa-username: bob\r\n\r\n"),
    ]) => ("fasttrack", "signature:fasttrack-kazaa-header");
    gnutella_connect: (L4::Tcp, 6346, [(O, b"GNUTELLA CONNECT/0.6\r\nUser-Agent: LimeWire\r\n\r\n")])
        => ("gnutella", "signature:gnutella-connect");
    gnutella_download: (L4::Tcp, 6346, [(O, b"GET /uri-res/N2R?urn:sha1:ABC HTTP/1.1\r\n\r\n")])
        => ("gnutella", "signature:gnutella-uri-res");
    gnutella2_udp: (L4::Udp, 6346, [(O, hex("474e44103e8f0101540b514b525006524e415d2fe2350970"))])
        => ("gnutella", "detector:gnutella2-udp");
    winmx_login: (L4::Tcp, 7000, [(R, b"1"), (O, b"SEND")]) => ("winmx", "detector:winmx");
    // A port never makes a peer-to-peer label: WinMX's port with half its login is unknown.
    winmx_greeting_alone_is_not_winmx_on_its_port: (L4::Tcp, 6699, [(R, b"1"), (O, b"\x00\x00\x00\x01\x02\x03\x04\x05")])
        => ("unknown", "no match");
    tinc_meta: (L4::Tcp, 655, [(O, b"0 thinkpad 17\n"), (R, b"0 iniz 17\n")]) => ("tinc", "detector:tinc-meta");
    // One side's ID request alone is one text line: no proof.
    tinc_one_side_only: (L4::Tcp, 30000, [(O, b"0 thinkpad 17\n"), (R, b"220 ready\r\n")]) => ("unknown", "no match");
    quic_reserved_version: (L4::Udp, 443, [(O, { let mut q = quic_initial(); q[1..5].copy_from_slice(&[0x0a; 4]); q })])
        => ("quic", "detector:quic");
    tls_client_hello: (L4::Tcp, 8443, [(O, client_hello())]) => ("tls", "detector:tls");
    tls_bad_record_length: (L4::Tcp, 8443, [(O, { let mut h = client_hello(); h[3] = 0; h[4] = 0x08; h })])
        => ("unknown", "no match");
    quic_initial_v1: (L4::Udp, 443, [(O, quic_initial())]) => ("quic", "detector:quic");
    ssh_banner: (L4::Tcp, 2222, [(R, b"SSH-2.0-OpenSSH_9.2\r\n"), (O, b"SSH-2.0-OpenSSH_9.2\r\n")])
        => ("ssh", "signature:ssh-2");
    smtp_banner: (L4::Tcp, 2525, [(R, b"220 mx.example.com ESMTP Postfix\r\n"), (O, b"EHLO client\r\n")])
        => ("smtp", "signature:smtp-ehlo");
    smtp_banner_text_alone: (L4::Tcp, 2525, [(R, b"220 mx.example.com ESMTP Postfix\r\n"), (O, b"QUIT\r\n")])
        => ("smtp", "signature:smtp-banner-text");
    ftp_banner: (L4::Tcp, 2121, [(R, b"220 ProFTPD Server ready.\r\n"), (O, b"USER anonymous\r\n")])
        => ("ftp", "signature:ftp-banner-text");
    bare_220_on_ftp_port: (L4::Tcp, 21, [(R, b"220 Welcome\r\n"), (O, b"QUIT\r\n")]) => ("ftp", "port guess");
    bare_220_on_smtp_port: (L4::Tcp, 25, [(R, b"220 Welcome\r\n"), (O, b"QUIT\r\n")]) => ("smtp", "port guess");
    bare_220_elsewhere: (L4::Tcp, 2000, [(R, b"220 Welcome\r\n"), (O, b"QUIT\r\n")]) => ("unknown", "no match");
    pop3_banner: (L4::Tcp, 110, [(R, b"+OK Dovecot ready.\r\n"), (O, b"CAPA\r\n")]) => ("pop3", "signature:pop3-ok");
    imap_banner: (L4::Tcp, 143, [(R, b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"), (O, b"a1 LOGIN u p\r\n")])
        => ("imap", "signature:imap-banner-text");
    sip_over_udp: (L4::Udp, 5060, [(O, b"REGISTER sip:example.com SIP/2.0\r\n"), (R, b"SIP/2.0 200 OK\r\n")])
        => ("sip", "signature:sip-register");
    sip_options_beats_http_options: (L4::Tcp, 5060, [(O, b"OPTIONS sip:bob@example.com SIP/2.0\r\n\r\n")])
        => ("sip", "signature:sip-options");
    megaco_compact: (L4::Udp, 2944, [(O, b"!/1 <iMSS>\nT=555282713{C=-{AV=DS/1/5{AT{M}}}}"),
        (R, b"!/1 [10.23.1.42]:2944 P = 555282713{ C = - {av=ds/1/5 }}")]) => ("megaco", "signature:megaco-compact-1-name");
    megaco_long_on_another_port: (L4::Udp, 7000, [(O, b"MEGACO/3 [198.18.0.1]:55555\nTransaction = 9 {Context = - {}}")])
        => ("megaco", "signature:megaco-long-3-address");
    megaco_token_without_an_id: (L4::Udp, 2944, [(O, b"!/1 T=5{C=-{}}")]) => ("unknown", "no match");
    nintendo_pia: (L4::Udp, 55915, [(O, b"\x32\xab\x98\x64\x02\x00\x00\x00\xef\x9c\x00\x00\x89\x5c\x56\x4c")])
        => ("nintendo", "signature:nintendo-pia-v2");
    nintendo_magic_with_another_version: (L4::Udp, 55915, [(O, b"\x32\xab\x98\x64\x07\x00\x00\x00\xef\x9c\x00\x00")])
        => ("unknown", "no match");
    can_over_ethernet: (L4::Udp, 11898, [(O, b"ISO11898\x01\x01\x6a\x12\xf1\x09\x08\x3b\x20\xd6\x70\x00\x00\xff\x7f\xfd\x10")])
        => ("can", "signature:can-eth");
    stratum_eth_login: (L4::Tcp, 9999, [(O, b"{\"worker\": \"eth1.0\", \"jsonrpc\": \"2.0\", \"params\": [\"0x9c99\", \"x\"], \"id\": 2, \"method\": \"eth_submitLogin\"}\n")])
        => ("mining", "signature:stratum-eth-login");
    stratum_cryptonote_login: (L4::Tcp, 3333, [(O, b"{\"method\":\"login\",\"params\":{\"login\":\"4BCe\",\"pass\":\"x\",\"agent\":\"xmrig/6.0\"},\"id\":1}\n")])
        => ("mining", "signature:stratum-cryptonote-login");
    a_json_rpc_login_elsewhere_is_not_mining: (L4::Tcp, 7070, [(O, b"{\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"user\":\"a\"},\"id\":1}\n")])
        => ("unknown", "no match");
    java_rmi: (L4::Tcp, 1099, [(O, b"JRMI\x00\x02\x4b"), (R, b"\x4e\x00\x09127.0.0.1\x00\x00\x86\x92")])
        => ("jrmi", "signature:jrmi-header-stream");
    java_rmi_other_version: (L4::Tcp, 1099, [(O, b"JRMI\x00\x01\x4b")]) => ("unknown", "no match");
    tivoconnect_beacon: (L4::Udp, 2190, [(O, b"TiVoConnect=1\nswversion=1.0\nmethod=broadcast\n")])
        => ("tivoconnect", "signature:tivoconnect-beacon");
    ripe_atlas: (L4::Udp, 29195, [(O, b"MGLNDD_11.111.11.111_1114")]) => ("ripe-atlas", "signature:ripe-atlas-marker");
    checkmk_agent: (L4::Tcp, 6556, [(R, b"<<<check_mk>>>\nVersion: 1.4.0p9\nAgentOS: linux\n")])
        => ("checkmk", "signature:checkmk-agent");
    checkmk_header_from_the_client_is_not_the_agent: (L4::Tcp, 6556, [(O, b"<<<check_mk>>>\nVersion: 1.4.0p9\n")])
        => ("unknown", "no match");
    random_bytes_on_a_web_port: (L4::Tcp, 80, [(O, [0x8a, 0x11, 0x93, 0x7c, 0x01, 0xee, 0x42, 0x10, 0x55])])
        => ("http", "port guess");
}

#[test]
fn flow_state_is_small() {
    assert!(core::mem::size_of::<FlowInspect>() <= 40, "{}", core::mem::size_of::<FlowInspect>());
}

#[test]
fn classifier_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Classifier>();
}

#[test]
fn builtin_file_loads() {
    assert!(C.signature_count() >= 60);
    assert_eq!(C.limits(), InspectLimits::default());
    assert_eq!(C.registry().lookup("bittorrent"), Some(ProtocolId::BITTORRENT));
    assert_eq!(C.describe(Decision::PeerCache).to_string(), "peer cache");
    assert_eq!(C.describe(Decision::NoMatch).to_string(), "no match");
    assert_eq!(C.describe(Decision::PortGuess).to_string(), "port guess");
    assert_eq!(C.describe(Decision::Detector(DetectorId::EDONKEY)).to_string(), "detector:edonkey");
    assert_eq!(C.describe(Decision::AfterStun(DetectorId::RTCP)).to_string(), "detector:rtcp after stun");
    assert_eq!(C.describe(Decision::Signature(SignatureId(0))).to_string(), "signature:bittorrent-handshake");
    assert_eq!(C.describe(Decision::Signature(SignatureId(9999))).to_string(), "signature:?");
}

#[test]
fn decision_packing_round_trips() {
    for d in [
        Decision::Signature(SignatureId(0)),
        Decision::Signature(SignatureId(7999)),
        Decision::Detector(DetectorId::WINMX),
        Decision::PortGuess,
        Decision::PeerCache,
        Decision::NoMatch,
        Decision::Related(crate::related::Related::FtpControl),
        Decision::Related(crate::related::Related::SipSdp),
        Decision::AfterStun(DetectorId::DTLS),
        Decision::AfterStun(DetectorId::RTP),
    ] {
        assert_eq!(unpack(pack(d)), Some(d));
    }
    assert_eq!(unpack(0), None);
}

#[test]
fn peer_wire_teaches_the_peer_cache_and_mse_is_recognised() {
    let peers = PeerCache::new(16, 3600);
    let hs = bt_handshake();
    let (l, _) = run(&C, L4::Tcp, 51413, &[(O, &hs)], &peers);
    assert_eq!(l.protocol, ProtocolId::BITTORRENT);
    assert!(peers.contains(&ep(2, 51413), NOW), "responder learned");
    assert!(!peers.contains(&ep(1, 40000), NOW), "originator of a peer-wire flow is not learned");
    // An encrypted (MSE) flow to the same peer: random bytes both ways.
    let mse_a: Vec<u8> = (0..96u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mse_b: Vec<u8> = (0..96u32).map(|i| (i.wrapping_mul(40_503) >> 3) as u8 ^ 0x5a).collect();
    let (l, n) = run(&C, L4::Tcp, 51413, &[(O, &mse_a), (R, &mse_b), (O, &mse_a)], &peers);
    assert_eq!(l, Label { protocol: ProtocolId::BITTORRENT, decision: Decision::PeerCache });
    assert_eq!(n, 2, "decided as soon as both directions sent payload");
    // Content that names something else wins over the cache.
    let (l, _) = run(&C, L4::Tcp, 51413, &[(O, b"SSH-2.0-x\r\n"), (R, b"SSH-2.0-y\r\n"), (O, b"abc")], &peers);
    assert_eq!(l.protocol, ProtocolId::SSH);
}

#[test]
fn tracker_reply_and_dht_values_teach_peers() {
    let peers = PeerCache::new(16, 3600);
    run(
        &C,
        L4::Tcp,
        6969,
        &[
            (O, b"GET /announce?info_hash=%12 HTTP/1.1\r\n\r\n"),
            (R, b"HTTP/1.1 200 OK\r\n\r\nd8:intervali1800e5:peers6:\xc6\x12\x00\x07\x1a\xe1e"),
        ],
        &peers,
    );
    assert!(peers.contains(&ep(7, 0x1ae1), NOW));
    assert!(!peers.contains(&ep(2, 6969), NOW), "the tracker is not a peer");
    let reply = b"d1:rd2:id20:abcdefghij01234567896:valuesl6:\xc6\x12\x00\x09\x1a\xe2ee1:t2:aa1:y1:re";
    run(&C, L4::Udp, 6881, &[(O, b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"), (R, reply)], &peers);
    assert!(peers.contains(&ep(9, 0x1ae2), NOW));
    assert!(peers.contains(&ep(2, 6881), NOW) && peers.contains(&ep(1, 40000), NOW), "both DHT ends");
}

#[test]
fn tcp_retransmission_is_skipped_and_gap_stops_matching() {
    let c = &*C;
    let peers = PeerCache::new(4, 3600);
    let (orig, resp) = (ep(1, 40000), ep(2, 30000));
    let m = |seq, payload| PacketMeta {
        l4: L4::Tcp,
        dir: O,
        originator: orig,
        responder: resp,
        tcp_seq: Some(seq),
        syn: false,
        payload,
        payload_len: payload.len(),
        now: NOW,
    };
    // Retransmitted and partially overlapping segments give the same stream.
    let mut st = FlowInspect::default();
    assert_eq!(c.inspect(&mut st, &m(100, b"\x13BitTor"), &peers), Verdict::Pending);
    assert_eq!(c.inspect(&mut st, &m(100, b"\x13BitTor"), &peers), Verdict::Pending);
    assert_eq!(st.packets(), [1, 0], "a retransmission is not counted");
    let v = c.inspect(&mut st, &m(104, b"Torrent protocol"), &peers);
    assert!(matches!(v, Verdict::Done(l) if l.protocol == ProtocolId::BITTORRENT), "{v:?}");
    // A gap: the bytes after it are not matched as a stream.
    let peers = PeerCache::new(4, 3600);
    let mut st = FlowInspect::default();
    c.inspect(&mut st, &m(100, b"\x13BitTor"), &peers);
    let v = c.inspect(&mut st, &m(110, b"rent protocol"), &peers);
    assert_eq!(v, Verdict::Pending);
    assert_ne!(c.finish(&st, L4::Tcp, orig, resp, &peers, NOW).protocol, ProtocolId::BITTORRENT);
}

#[test]
fn limits_end_inspection() {
    let c = Classifier::builtin().unwrap().with_limits(InspectLimits { max_packets: 3, max_bytes: 4096 });
    let junk = [0x8au8, 0x11, 0x93, 0x7c, 0x01, 0xee, 0x42, 0x10];
    let pk: Vec<(Dir, &[u8])> = vec![(O, &junk); 5];
    let (l, n) = run(&c, L4::Udp, 30000, &pk, &PeerCache::new(4, 3600));
    assert_eq!((l, n), (Label::NO_MATCH, 3), "done at the third packet");
    // A byte limit smaller than a signature's offset hides it.
    let c = Classifier::builtin().unwrap().with_limits(InspectLimits { max_packets: 10, max_bytes: 8 });
    let hs = bt_handshake();
    let (l, _) = run(&c, L4::Tcp, 30000, &[(O, &hs)], &PeerCache::new(4, 3600));
    assert_ne!(l.protocol, ProtocolId::BITTORRENT);
}

#[test]
fn foreign_automaton_state_does_not_panic() {
    let mut st = FlowInspect { ac: [u32::MAX, 7], ..FlowInspect::default() };
    let peers = PeerCache::new(4, 3600);
    let pkt = PacketMeta {
        l4: L4::Tcp,
        dir: O,
        originator: ep(1, 1),
        responder: ep(2, 2),
        tcp_seq: None,
        syn: false,
        payload: b"GET / HTTP/1.1\r\n",
        payload_len: 16,
        now: NOW,
    };
    let _ = C.inspect(&mut st, &pkt, &peers);
}

/// Random-looking bytes (an MSE key exchange) of `n` bytes.
fn mse(n: usize, salt: u32) -> Vec<u8> {
    (0..n as u32).map(|i| ((i ^ salt).wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

fn ext_handshake(port: u16) -> Vec<u8> {
    let dict = format!("d1:md6:ut_pexi1ee1:pi{port}e1:v5:weire");
    let mut m = ((dict.len() + 2) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&[20, 0]);
    m.extend_from_slice(dict.as_bytes());
    m
}

fn pex(peers: &[[u8; 6]]) -> Vec<u8> {
    let mut added = Vec::new();
    for p in peers {
        added.extend_from_slice(p);
    }
    let mut d = format!("d5:added{}:", added.len()).into_bytes();
    d.extend(added);
    d.extend_from_slice(b"e");
    let mut m = ((d.len() + 2) as u32).to_be_bytes().to_vec();
    m.extend_from_slice(&[20, 1]);
    m.extend(d);
    m
}

/// A piece message carrying `n` bytes of block data.
fn piece(n: usize) -> Vec<u8> {
    let mut m = ((n + 9) as u32).to_be_bytes().to_vec();
    m.push(7);
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    m.extend(std::iter::repeat_n(0x42, n));
    m
}

const S: u64 = 1_000_000_000;

#[test]
fn a_peer_met_over_utp_or_the_dht_is_the_same_peer_over_tcp() {
    // The missed flows: MSE connections to peers met over uTP or the DHT on the same IP
    // and port.
    let peers = PeerCache::new(64, 3600);
    let utp = [hex("41004567ed639296000000000010000023c60000"), hex("21004567ed6393410000000000100000456723c6")];
    let (l, _) = run_between(&C, L4::Udp, (ep(1, 51413), ep(3, 6881)), NOW, &[(O, &utp[0]), (R, &utp[1])], &peers);
    assert_eq!(l.decision, Decision::Detector(DetectorId::UTP));
    let (a, b) = (mse(96, 1), mse(120, 2));
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40001), ep(3, 6881)), NOW, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l, Label { protocol: ProtocolId::BITTORRENT, decision: Decision::PeerCache }, "to the uTP peer");
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40002), ep(1, 51413)), NOW, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l.decision, Decision::PeerCache, "to the other uTP end, which sends from its listen port");
    let dht = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    run_between(&C, L4::Udp, (ep(4, 7000), ep(5, 7001)), NOW, &[(O, dht)], &peers);
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40003), ep(4, 7000)), NOW, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l.decision, Decision::PeerCache, "a DHT query's sender");
    // Another port of a known peer's address is not that peer.
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40004), ep(4, 7002)), NOW, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l.protocol, ProtocolId::UNKNOWN);
}

#[test]
fn an_http_error_page_from_a_peer_is_no_proof_against_the_cache() {
    let peers = PeerCache::new(64, 3600);
    peers.learn(ep(3, 6881), PeerKind::BitTorrent, NOW);
    let page = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40001), ep(3, 6881)), NOW, &[(O, &mse(96, 3)), (R, page)], &peers);
    assert_eq!(l, Label { protocol: ProtocolId::BITTORRENT, decision: Decision::PeerCache });
    // The same page elsewhere is HTTP; and a real HTTP request to the peer's port is HTTP.
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40001), ep(3, 6882)), NOW, &[(O, &mse(96, 3)), (R, page)], &peers);
    assert_eq!(l.protocol, ProtocolId::HTTP);
    let get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let (l, _) = run_between(&C, L4::Tcp, (ep(9, 40001), ep(3, 6881)), NOW, &[(O, get), (R, page)], &peers);
    assert_eq!(l.protocol, ProtocolId::HTTP);
    // A bare "USER " (POP3 or FTP, only a port could tell) on a peer's port is no proof.
    let (l, _) =
        run_between(&C, L4::Tcp, (ep(9, 40001), ep(3, 6881)), NOW, &[(O, b"USER x\r\n"), (R, &mse(50, 9))], &peers);
    assert_eq!(l.decision, Decision::PeerCache);
    // A server-first protocol (the responder speaks first) is its own proof.
    let (l, _) = run_between(
        &C,
        L4::Tcp,
        (ep(9, 40001), ep(3, 6881)),
        NOW,
        &[(R, b"SSH-2.0-x\r\n"), (O, b"SSH-2.0-y\r\n")],
        &peers,
    );
    assert_eq!(l.protocol, ProtocolId::SSH);
}

#[test]
fn peers_age_out_and_cache_labels_teach_nothing() {
    let peers = PeerCache::new(64, 60);
    peers.learn(ep(3, 6881), PeerKind::BitTorrent, NOW);
    let (a, b) = (mse(96, 4), mse(96, 5));
    let (l, _) = run_between(&C, L4::Udp, (ep(3, 6881), ep(8, 9999)), NOW + 30 * S, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l.decision, Decision::PeerCache);
    assert!(!peers.contains(&ep(8, 9999), NOW + 30 * S), "a cache hit does not spread to the other end");
    let (l, _) = run_between(&C, L4::Udp, (ep(3, 6881), ep(8, 9999)), NOW + 61 * S, &[(O, &a), (R, &b)], &peers);
    assert_eq!(l.protocol, ProtocolId::UNKNOWN, "expired, and not kept alive by the cache-labelled flow");
}

#[test]
fn port_guesses_never_name_p2p() {
    let peers = PeerCache::new(4, 3600);
    for (l4, port) in [
        (L4::Tcp, 6881),
        (L4::Tcp, 4662),
        (L4::Tcp, 6346),
        (L4::Tcp, 6699),
        (L4::Tcp, 411),
        (L4::Tcp, 1214),
        (L4::Udp, 6881),
        (L4::Udp, 4672),
        (L4::Udp, 6771),
    ] {
        // A SYN scan (no payload) and junk.
        let (l, _) = run(&C, l4, port, &[], &peers);
        assert_eq!(l, Label::NO_MATCH, "{l4:?} {port}");
        let (l, _) = run(&C, l4, port, &[(O, &mse(40, 6)), (R, &mse(40, 7))], &peers);
        assert_eq!(l, Label::NO_MATCH, "{l4:?} {port}");
    }
}

#[test]
fn the_extension_handshake_teaches_the_originators_listen_port() {
    let peers = PeerCache::new(64, 3600);
    // Handshake and extension handshake in one segment, the reply's in two (its length split).
    let mut first = bt_handshake();
    first.extend(ext_handshake(51413));
    let mut reply = bt_handshake();
    let eh = ext_handshake(6889);
    reply.extend_from_slice(&eh[..2]);
    let (l, _) =
        run_between(&C, L4::Tcp, (ep(1, 40000), ep(2, 6881)), NOW, &[(O, &first), (R, &reply), (R, &eh[2..])], &peers);
    assert_eq!(l.decision, Decision::Signature(SignatureId(0)));
    assert!(peers.contains(&ep(1, 51413), NOW), "the originator's announced listen port");
    assert!(peers.contains(&ep(2, 6881), NOW), "the responder");
    assert!(peers.contains(&ep(2, 6889), NOW), "the responder's announced port");
    assert!(!peers.contains(&ep(1, 40000), NOW), "not the originator's ephemeral port");
}

#[test]
fn pex_and_port_messages_are_read_after_the_verdict() {
    let peers = PeerCache::new(64, 3600);
    let hs = bt_handshake();
    // Pieces, then a PEX message that starts in the middle of a segment and ends in the next,
    // then a PORT message.
    let mut stream = piece(3000);
    stream.extend(pex(&[[198, 18, 0, 21, 0x1a, 0xe1], [198, 18, 0, 22, 0x1a, 0xe2]]));
    stream.extend_from_slice(&[0, 0, 0, 3, 9, 0x1b, 0x39]);
    let segs: Vec<&[u8]> = stream.chunks(1400).collect();
    let mut packets: Vec<(Dir, &[u8])> = vec![(O, &hs), (R, &hs)];
    packets.extend(segs.iter().map(|s| (R, *s)));
    let (l, _) = run_between(&C, L4::Tcp, (ep(1, 40000), ep(2, 6881)), NOW, &packets, &peers);
    assert_eq!(l.protocol, ProtocolId::BITTORRENT);
    assert!(peers.contains(&ep(21, 0x1ae1), NOW) && peers.contains(&ep(22, 0x1ae2), NOW), "PEX added");
    assert!(peers.contains(&ep(2, 0x1b39), NOW), "the responder's DHT port");
    // A stream that is not framed as peer wire stops the reading at the first absurd length.
    let peers = PeerCache::new(64, 3600);
    let junk = [0xffu8; 1400];
    let mut st = FlowInspect::default();
    let m = |dir, seq, payload: &'static [u8]| PacketMeta {
        l4: L4::Tcp,
        dir,
        originator: ep(1, 40000),
        responder: ep(2, 6881),
        tcp_seq: Some(seq),
        syn: false,
        payload,
        payload_len: payload.len(),
        now: NOW,
    };
    let hs: &'static [u8] = Box::leak(bt_handshake().into_boxed_slice());
    let junk: &'static [u8] = Box::leak(Box::new(junk));
    assert!(matches!(C.inspect(&mut st, &m(O, 1, hs), &peers), Verdict::Done(_)));
    assert!(st.harvesting());
    C.harvest(&mut st, &m(R, 100, hs), &peers);
    C.harvest(&mut st, &m(R, 168, junk), &peers);
    assert_eq!(st.flags[1] & BROKEN, BROKEN, "the responder's framing is lost");
    // Harvesting ends by itself.
    for i in 0..300u32 {
        C.harvest(&mut st, &m(O, 69 + 1400 * i, junk), &peers);
        C.harvest(&mut st, &m(R, 1568 + 1400 * i, junk), &peers);
    }
    assert!(!st.harvesting());
}

#[test]
fn udp_tracker_flows_need_the_magic_or_a_tied_answer_and_teach_their_peers() {
    let peers = PeerCache::new(64, 3600);
    let mut announce = vec![0x5au8; 98];
    announce[8..12].copy_from_slice(&1u32.to_be_bytes());
    announce[12..16].copy_from_slice(&0xfeed_beefu32.to_be_bytes());
    announce[80..84].copy_from_slice(&2u32.to_be_bytes());
    let mut reply = 1u32.to_be_bytes().to_vec();
    reply.extend_from_slice(&0xfeed_beefu32.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0, 3, 0, 0, 0, 9, 198, 18, 0, 31, 0x1a, 0xe1]);
    let alone = label(L4::Udp, 6969, &[(O, &announce)]);
    assert_eq!(alone, ("unknown".into(), "no match".into()), "an announce alone");
    let (l, n) = run(&C, L4::Udp, 6969, &[(O, &announce), (R, &reply)], &peers);
    assert_eq!((l.decision, n), (Decision::Detector(DetectorId::UDP_TRACKER), 2));
    assert!(peers.contains(&ep(31, 0x1ae1), NOW), "the answer's peers");
    assert!(!peers.contains(&ep(2, 6969), NOW), "the tracker is not a peer");
    let mut other = reply.clone();
    other[7] ^= 1;
    let (l, _) = run(&C, L4::Udp, 6969, &[(O, &announce), (R, &other)], &peers);
    assert_eq!(l.protocol, ProtocolId::UNKNOWN, "an answer to another transaction");
    // After a connect (magic) the announce replies that follow teach their peers too.
    let peers = PeerCache::new(64, 3600);
    let connect = hex("0000041727101980000000001234abcd");
    let cr = hex("000000001234abcd0102030405060708");
    let (l, _) = run(&C, L4::Udp, 6969, &[(O, &connect), (R, &cr), (O, &announce), (R, &reply)], &peers);
    assert_eq!(l.decision, Decision::Detector(DetectorId::UDP_TRACKER));
    assert!(peers.contains(&ep(31, 0x1ae1), NOW));
}

#[test]
fn dht_nodes_and_lsd_ports_teach_peers() {
    let peers = PeerCache::new(64, 3600);
    let mut nodes = b"d1:rd2:id20:abcdefghij01234567895:nodes26:".to_vec();
    nodes.extend_from_slice(&[b'n'; 20]);
    nodes.extend_from_slice(&[198, 18, 0, 41, 0x1a, 0xe1]);
    nodes.extend_from_slice(b"e1:t2:aa1:y1:re");
    let q = b"d1:ad2:id20:abcdefghij01234567896:target20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe";
    run(&C, L4::Udp, 6881, &[(O, q), (R, &nodes)], &peers);
    assert!(peers.contains(&ep(41, 0x1ae1), NOW), "a node of the answer");
    // A list naming another host's well-known port is not believed.
    let mut nodes = b"d1:rd2:id20:abcdefghij01234567895:nodes26:".to_vec();
    nodes.extend_from_slice(&[b'n'; 20]);
    nodes.extend_from_slice(&[198, 18, 0, 43, 1, 187]);
    nodes.extend_from_slice(b"e1:t2:aa1:y1:re");
    run(&C, L4::Udp, 6881, &[(O, q), (R, &nodes)], &peers);
    assert!(!peers.contains(&ep(43, 443), NOW), "a DHT answer cannot make port 443 a peer");
    let lsd = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: 0123\r\n\r\n\r\n";
    run_between(&C, L4::Udp, (ep(42, 6771), ep(250, 6771)), NOW, &[(O, lsd)], &peers);
    assert!(peers.contains(&ep(42, 51413), NOW), "the announced listen port");
    assert!(!peers.contains(&ep(250, 6771), NOW), "not the multicast group");
}

#[test]
fn direct_connect_search_results_over_udp_and_their_cache() {
    let peers = PeerCache::new(64, 3600);
    let sr =
        b"$SR alice music\\song.mp3\x05123456 2/5\x05TTH:WZHRLXYZ5DGRSSAJR3KVDUUTE26C3CSS7QPNRVQ (198.18.0.1:411)|";
    let (l, n) = run_between(&C, L4::Udp, (ep(51, 1412), ep(52, 1412)), NOW, &[(O, sr)], &peers);
    assert_eq!((C.registry().name(l.protocol), n), ("directconnect", 1));
    assert_eq!(l.decision, Decision::Detector(DetectorId::DC_UDP));
    assert_eq!(peers.lookup(&ep(52, 1412), NOW), Some(PeerKind::DirectConnect), "the searcher's UDP port");
    // Encrypted (SUDP) results to that port: Direct Connect by the cache.
    let (l, _) =
        run_between(&C, L4::Udp, (ep(53, 1412), ep(52, 1412)), NOW, &[(O, &mse(200, 8)), (R, &mse(40, 9))], &peers);
    assert_eq!(l, Label { protocol: ProtocolId::DIRECTCONNECT, decision: Decision::PeerCache });
    let ures = format!("URES {} FNshare/a\\sb.txt SI10 SL1 TOtok\n", "HXWQ3KTSLIH7ZGBGXEPWGULQ2W3DLBTLOYMHXSY");
    let (proto, how) = label(L4::Udp, 3000, &[(O, ures.as_bytes())]);
    assert_eq!((proto.as_str(), how.as_str()), ("directconnect", "detector:directconnect-udp"));
}

fn p2p(l: Label) -> bool {
    C.registry().category(l.protocol) == Category::P2p
}

/// Literal-signature and prefix-detector flows whose label must not depend on segmentation.
fn split_corpus() -> Vec<(u16, Vec<u8>, Vec<u8>)> {
    vec![
        (51413, bt_handshake(), bt_handshake()),
        (
            6969,
            b"GET /scrape?info_hash=%aa%bb HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\n\r\n".to_vec(),
        ),
        (80, b"GET /BitTorrent/announce HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(), b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        (6346, b"GNUTELLA CONNECT/0.6\r\nX-Ultrapeer: False\r\n\r\n".to_vec(), b"GNUTELLA/0.6 200 OK\r\n\r\n".to_vec()),
        (80, b"GET /x HTTP/1.1\r\nX-Kazaa-Username: a\r\n\r\n".to_vec(), b"HTTP/1.1 200 OK\r\n\r\n".to_vec()),
        (411, b"$MyNick bob|$Lock EXTENDEDPROTOCOLABC Pk=x|".to_vec(), b"$MyNick alice|".to_vec()),
        (25, b"EHLO me\r\n".to_vec(), b"250 ok\r\n".to_vec()),
        (5060, b"OPTIONS sip:a@b SIP/2.0\r\n\r\n".to_vec(), b"SIP/2.0 200 OK\r\n\r\n".to_vec()),
        (22, b"SSH-2.0-OpenSSH_9\r\n".to_vec(), b"SSH-2.0-OpenSSH_9\r\n".to_vec()),
        (4662, edonkey_hello(), vec![]),
        (443, client_hello(), vec![]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Random payloads (8 bytes or more) never get a peer-to-peer label, over TCP or UDP.
    #[test]
    fn random_payloads_are_not_p2p(a in proptest::collection::vec(any::<u8>(), 8..1500),
                                   b in proptest::collection::vec(any::<u8>(), 8..600)) {
        let peers = PeerCache::new(4, 3600);
        for l4 in [L4::Tcp, L4::Udp] {
            let (l, _) = run(&C, l4, 30000, &[(O, &a), (R, &b)], &peers);
            prop_assert!(!p2p(l), "{:?} from {:02x?}", l, &a[..16.min(a.len())]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// tinc lookalikes: random text lines from both sides (some starting "0 ") are tinc only when
    /// both are ID requests by construction.
    #[test]
    fn tinc_needs_an_id_request_from_both_sides(
        a in "(0 )?[a-z_ 0-9.]{0,12}( 17)?\n", b in "(0 )?[a-z_ 0-9.]{0,12}( 17)?\n",
    ) {
        let peers = PeerCache::new(4, 3600);
        let (l, _) = run(&C, L4::Tcp, 30000, &[(O, a.as_bytes()), (R, b.as_bytes())], &peers);
        let id = |s: &str| crate::detect::services::tinc::is_id_request(s.as_bytes());
        prop_assert_eq!(l.protocol == ProtocolId::TINC, id(&a) && id(&b), "{:?} {:?}: {:?}", a, b, l);
        prop_assert!(!p2p(l));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Arbitrary packets in arbitrary order, sequence numbers and directions never panic, and a
    /// verdict, once given, sticks.
    #[test]
    fn random_flows_never_panic(pkts in proptest::collection::vec(
        (any::<bool>(), any::<bool>(), any::<u32>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)), 1..30)) {
        let peers = PeerCache::new(8, 3600);
        let mut st = FlowInspect::default();
        let mut done = None;
        for (tcp, resp, seq, syn, payload) in &pkts {
            let l4 = if *tcp { L4::Tcp } else { L4::Udp };
            let pkt = PacketMeta { l4, dir: if *resp { R } else { O }, originator: ep(1, 6881), responder: ep(2, 53),
                tcp_seq: tcp.then_some(*seq), syn: *syn, payload, payload_len: payload.len(), now: NOW };
            match (C.inspect(&mut st, &pkt, &peers), done) {
                (Verdict::Done(l), None) => done = Some(l),
                (Verdict::Done(l), Some(d)) => prop_assert_eq!(l, d),
                (Verdict::Pending, Some(_)) => prop_assert!(false, "pending after done"),
                (Verdict::Pending, None) => {}
            }
            let _ = C.finish(&st, l4, ep(1, 6881), ep(2, 53), &peers, NOW);
        }
    }

    /// Feeding a message whole or split at any points (consistent sequence numbers) gives the
    /// same label.
    #[test]
    fn split_invariance(which in 0usize..11, cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..8)) {
        let corpus = split_corpus();
        let (port, req, reply) = &corpus[which % corpus.len()];
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(req.len())).filter(|&p| p > 0).collect();
        points.sort_unstable();
        points.dedup();
        let mut segs: Vec<(Dir, &[u8])> = Vec::new();
        let mut last = 0;
        for p in points.iter().copied().chain([req.len()]) {
            segs.push((O, &req[last..p]));
            last = p;
        }
        let mut whole: Vec<(Dir, &[u8])> = vec![(O, req)];
        if !reply.is_empty() {
            segs.push((R, reply));
            whole.push((R, reply));
        }
        let (a, _) = run(&C, L4::Tcp, *port, &whole, &PeerCache::new(4, 3600));
        let (b, _) = run(&C, L4::Tcp, *port, &segs, &PeerCache::new(4, 3600));
        prop_assert_eq!(a, b, "split at {:?}", points);
        prop_assert_ne!(a.decision, Decision::NoMatch);
    }
}

/// A STUN binding request (RFC 8489) with a USERNAME, as ICE sends, and a FINGERPRINT.
fn stun_request(txid: u8) -> Vec<u8> {
    let mut m = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[txid; 12]);
    m.extend_from_slice(&[0x00, 0x06, 0x00, 0x09]);
    m.extend_from_slice(b"abcd:efgh\0\0\0");
    m.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4]);
    let len = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&len.to_be_bytes());
    m
}

/// The binding success response to [`stun_request`], with an XOR-MAPPED-ADDRESS.
fn stun_response(txid: u8) -> Vec<u8> {
    let mut m = vec![0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xA4, 0x42];
    m.extend_from_slice(&[txid; 12]);
    m.extend_from_slice(&[0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xb1, 0x2e, 0xe1, 0x12, 0xa4, 0x40]);
    m
}

/// A DTLS 1.2 ClientHello fragment record, as DTLS-SRTP opens with.
fn dtls_client_hello() -> Vec<u8> {
    let mut r = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];
    r.extend_from_slice(&[1, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x14]);
    r.extend_from_slice(&[0xfe, 0xfd]);
    r.extend_from_slice(&[0x55; 18]);
    r
}

/// An (S)RTP packet of SSRC 0x3796cb71, sequence number `seq` (header as in sip.pcap, nDPI test
/// suite, LGPL-3.0-or-later).
fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = hex("80086fae000004d83796cb71d5d5d5d5d5d5d5d5");
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p
}

/// Runs UDP datagrams and returns the label, how it is described, and the packet that decided
/// (`usize::MAX`: decided by `finish`).
fn udp_label(packets: &[(Dir, Vec<u8>)]) -> (String, String, usize) {
    let pk: Vec<(Dir, &[u8])> = packets.iter().map(|(d, p)| (*d, p.as_slice())).collect();
    let (l, n) = run(&C, L4::Udp, 19305, &pk, &PeerCache::new(16, 3600));
    (C.registry().name(l.protocol).to_owned(), C.describe(l.decision).to_string(), n)
}

#[test]
fn ice_checks_then_dtls_are_dtls() {
    let flow = vec![
        (O, stun_request(1)),
        (R, stun_response(1)),
        (O, dtls_client_hello()),
        (R, stun_request(2)),
        (O, stun_response(2)),
    ];
    let (proto, how, n) = udp_label(&flow);
    assert_eq!((proto.as_str(), how.as_str(), n), ("dtls", "detector:dtls after stun", 3));
    // The server's flight first (a flow seen from the other side) is the same.
    let flow = vec![(O, stun_request(1)), (R, stun_response(1)), (R, dtls_client_hello())];
    assert_eq!(udp_label(&flow), ("dtls".into(), "detector:dtls after stun".into(), 3));
}

#[test]
fn ice_checks_then_rtp_are_rtp() {
    // Two packets of one stream, a consent check between them.
    let flow = vec![
        (O, stun_request(1)),
        (R, stun_response(1)),
        (O, rtp_packet(100)),
        (O, stun_request(2)),
        (O, rtp_packet(101)),
    ];
    assert_eq!(udp_label(&flow), ("rtp".into(), "detector:rtp after stun".into(), 5));
    // One RTP-shaped datagram proves nothing: the flow stays STUN at its end.
    let flow = vec![(O, stun_request(1)), (R, stun_response(1)), (O, rtp_packet(100))];
    assert_eq!(udp_label(&flow), ("stun".into(), "detector:stun".into(), usize::MAX));
    // Nor do two of different streams.
    let mut other = rtp_packet(101);
    other[11] ^= 1;
    let flow = vec![(O, stun_request(1)), (O, rtp_packet(100)), (O, other)];
    assert_eq!(udp_label(&flow).0, "stun");
}

#[test]
fn stun_alone_stays_stun() {
    // A binding with a STUN server: pending until the flow ends, then STUN.
    let flow = vec![(O, stun_request(1)), (R, stun_response(1))];
    assert_eq!(udp_label(&flow), ("stun".into(), "detector:stun".into(), usize::MAX));
    // Checks only, past the per-direction limit: STUN at the limit.
    let max = usize::from(InspectLimits::default().max_packets);
    let flow: Vec<(Dir, Vec<u8>)> = (0..2 * max as u8 + 4).map(|i| (O, stun_request(i))).collect();
    let (proto, how, n) = udp_label(&flow);
    assert_eq!((proto.as_str(), how.as_str(), n), ("stun", "detector:stun", max));
    // Media after the limit is not looked at.
    let mut late: Vec<(Dir, Vec<u8>)> = (0..max as u8).map(|i| (O, stun_request(i))).collect();
    late.push((O, dtls_client_hello()));
    assert_eq!(udp_label(&late).0, "stun");
    // Over TCP (TURN, ICE-TCP) nothing changes.
    let req = stun_request(1);
    let (l, _) = run(&C, L4::Tcp, 3478, &[(O, &req), (R, &dtls_client_hello())], &PeerCache::new(4, 3600));
    assert_eq!(C.describe(l.decision).to_string(), "detector:stun");
}

#[test]
fn only_media_ends_a_stun_lead() {
    // A DHT query after STUN: proof of a P2P protocol in any other flow, but a UDP flow's
    // protocol does not change: STUN it stays (and never P2P).
    let dht = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe".to_vec();
    let flow = vec![(O, stun_request(1)), (R, stun_response(1)), (O, dht.clone()), (O, dtls_client_hello())];
    assert_eq!(udp_label(&flow), ("dtls".into(), "detector:dtls after stun".into(), 4));
    let flow = vec![(O, stun_request(1)), (O, dht.clone()), (R, dht)];
    assert_eq!(udp_label(&flow), ("stun".into(), "detector:stun".into(), usize::MAX));
    // A DNS query after STUN: still STUN.
    let flow = vec![(O, stun_request(1)), (O, dns_query(0x12))];
    assert_eq!(udp_label(&flow).0, "stun");
    // DTLS first, then STUN: DTLS at once, as before.
    let flow = vec![(O, dtls_client_hello()), (O, stun_request(1))];
    assert_eq!(udp_label(&flow), ("dtls".into(), "detector:dtls".into(), 1));
}

#[test]
fn a_stun_lead_is_provisionally_stun() {
    let peers = PeerCache::new(4, 3600);
    let mut st = FlowInspect::default();
    let pkt = |dir, payload| PacketMeta {
        l4: L4::Udp,
        dir,
        originator: ep(1, 40000),
        responder: ep(2, 19305),
        tcp_seq: None,
        syn: false,
        payload,
        payload_len: <[u8]>::len(payload),
        now: NOW,
    };
    assert_eq!(st.provisional(), None);
    let (req, hello) = (stun_request(1), dtls_client_hello());
    assert_eq!(C.inspect(&mut st, &pkt(O, &req), &peers), Verdict::Pending);
    assert_eq!(st.provisional(), Some(ProtocolId::STUN));
    assert_eq!(st.verdict(), None);
    let Verdict::Done(l) = C.inspect(&mut st, &pkt(O, &hello), &peers) else { panic!("dtls decides") };
    assert_eq!((l.protocol, l.decision), (ProtocolId::DTLS, Decision::AfterStun(DetectorId::DTLS)));
    assert_eq!(st.provisional(), None);
    assert_eq!(st.verdict(), Some(l));
    // A TCP flow pending with a STUN candidate is not provisionally anything.
    let mut st = FlowInspect::default();
    let tcp = PacketMeta { l4: L4::Tcp, tcp_seq: Some(1), ..pkt(O, &req) };
    let _ = C.inspect(&mut st, &tcp, &peers);
    assert_eq!(st.provisional(), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// Random datagrams after ICE checks leave the flow STUN (or media, which random bytes prove
    /// only by chance), never peer-to-peer.
    #[test]
    fn random_datagrams_after_stun_are_never_p2p(
        pkts in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 1..300)), 1..12)
    ) {
        let mut flow = vec![(O, stun_request(1))];
        flow.extend(pkts.into_iter().map(|(r, p)| (if r { R } else { O }, p)));
        let pk: Vec<(Dir, &[u8])> = flow.iter().map(|(d, p)| (*d, p.as_slice())).collect();
        let (l, _) = run(&C, L4::Udp, 30000, &pk, &PeerCache::new(4, 3600));
        prop_assert!(!p2p(l), "{:?}", l);
        prop_assert!(matches!(l.protocol, ProtocolId::STUN | ProtocolId::DTLS | ProtocolId::RTP), "{:?}", l);
    }
}
