//! Related flows through the whole engine: FTP data connections (passive and active), a TFTP
//! transfer, SIP media and a tinc tunnel are labelled by their control flow's announcement, and the policy's
//! drop of that protocol then applies from the data flow's first packet.

use super::*;
use weir_testkit::packet::{Builder, tcp_conversation};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(core::net::Ipv4Addr::new(198, 18, 0, last))
}

fn engine() -> Engine {
    let classifier = Arc::new(Classifier::builtin().unwrap_or_else(|e| panic!("{e}")));
    let shared = Shared::new(classifier, FlowTableConfig::default(), 1024).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(shared, EngineConfig { inside: vec![], record_flows: true, ..EngineConfig::default() })
}

/// Runs frames through the engine 1 ms apart from `t`; returns the records of all flows.
fn run(e: &mut Engine, frames: &[Vec<u8>], t: &mut u64) -> Vec<FlowRecord> {
    for f in frames {
        *t += 1_000_000;
        e.process(f, f.len() as u32, LinkType::Ethernet, Ingress::Unknown, *t);
    }
    e.drain_records().collect()
}

fn frames(conv: Vec<(Vec<u8>, bool)>) -> Vec<Vec<u8>> {
    conv.into_iter().map(|(f, _)| f).collect()
}

fn find(records: &[FlowRecord], port: u16) -> &FlowRecord {
    records.iter().find(|r| r.responder.1 == port).unwrap_or_else(|| panic!("no flow to port {port}: {records:?}"))
}

fn describe(e: &Engine, r: &FlowRecord) -> (String, String) {
    let c = e.classifier();
    (c.registry().name(r.label.protocol).to_owned(), c.describe(r.label.decision).to_string())
}

#[test]
fn ftp_passive_and_active_data_connections() {
    let b = Builder::default();
    let (client, server) = ((ip(1), 40000), (ip(2), 21));
    let mut e = engine();
    let mut t = 0;
    let control = tcp_conversation(
        &b,
        client,
        server,
        &[
            (false, b"220 (vsFTPd 3.0.3)\r\n"),
            (true, b"USER anonymous\r\n"),
            (false, b"331 Please specify the password.\r\n"),
            (true, b"PASS x\r\n"),
            (false, b"230 Login successful.\r\n"),
            (true, b"PASV\r\n"),
            (false, b"227 Entering Passive Mode (198,18,0,2,117,48).\r\n"),
            (true, b"PORT 198,18,0,1,156,64\r\n"),
            (false, b"200 PORT command successful.\r\n"),
            (true, b"EPSV\r\n"),
            (false, b"229 Entering Extended Passive Mode (|||30001|)\r\n"),
        ],
    );
    let mut all = frames(control);
    all.truncate(all.len() - 2); // keep the control connection open
    run(&mut e, &all, &mut t);
    assert_eq!(e.shared.related.len(), 3, "PASV, PORT and EPSV each announce one connection");
    // Passive: the client connects to 117*256+48; active: the server connects from port 20.
    let pasv = frames(tcp_conversation(&b, (ip(1), 40001), (ip(2), 117 * 256 + 48), &[(false, &[7u8; 900])]));
    let port = frames(tcp_conversation(&b, (ip(2), 20), (ip(1), 156 * 256 + 64), &[(true, &[8u8; 900])]));
    let epsv = frames(tcp_conversation(&b, (ip(1), 40002), (ip(2), 30001), &[(true, &[9u8; 300])]));
    // The data connection's SYN already carries the label, so a policy that drops ftp drops it.
    let syn = &pasv[0];
    t += 1_000_000;
    let first = e.process(syn, syn.len() as u32, LinkType::Ethernet, Ingress::Unknown, t);
    assert!(matches!(first, Outcome::Ip { protocol: Some(ProtocolId::FTP), .. }), "{first:?}");
    // Another host to the announced port is not the client's data connection.
    let stranger = frames(tcp_conversation(&b, (ip(9), 40003), (ip(2), 30001), &[(true, &[9u8; 300])]));
    let mut records = run(&mut e, &[stranger, pasv[1..].to_vec(), port, epsv].concat(), &mut t);
    e.flush();
    records.extend(e.drain_records());
    for p in [117 * 256 + 48, 156 * 256 + 64] {
        assert_eq!(describe(&e, find(&records, p)), ("ftp".into(), "related: ftp control".into()));
    }
    let epsv_flows: Vec<_> = records.iter().filter(|r| r.responder.1 == 30001).collect();
    assert_eq!(epsv_flows.len(), 2);
    for r in epsv_flows {
        let want = if r.originator.0 == ip(1) { "ftp" } else { "unknown" };
        assert_eq!(e.classifier().registry().name(r.label.protocol), want, "{r:?}");
    }
    assert_eq!(describe(&e, find(&records, 21)).0, "ftp");
    let ftp = e.counters().protocol(ProtocolId::FTP);
    assert_eq!(ftp.flows.get(), 4, "control and three data connections");
    assert!(ftp.bytes[0].get() + ftp.bytes[1].get() > 2000, "the data connections' bytes count as ftp");
}

#[test]
fn tftp_transfer_from_a_new_port() {
    let b = Builder::default();
    let (client, server) = ((ip(1), 3445), (ip(2), 69));
    let mut e = engine();
    let mut t = 0;
    let mut data = vec![0, 3, 0, 1];
    data.extend_from_slice(&[b'x'; 512]);
    let frames = vec![
        b.udp(client, server, b"\x00\x01boot.img\x00octet\x00"),
        b.udp((ip(2), 50618), client, &data),
        b.udp(client, (ip(2), 50618), &[0, 4, 0, 1]),
    ];
    run(&mut e, &frames, &mut t);
    e.flush();
    let records: Vec<_> = e.drain_records().collect();
    assert_eq!(describe(&e, find(&records, 69)), ("tftp".into(), "detector:tftp".into()));
    let transfer = records.iter().find(|r| r.originator.1 == 50618).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(describe(&e, transfer), ("tftp".into(), "related: tftp request".into()));
}

#[test]
fn sip_media_and_expiry() {
    let b = Builder::default();
    let mut e = engine();
    let mut t = 0;
    let invite = b"INVITE sip:bob@198.18.0.2 SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n\
                   v=0\r\no=- 1 1 IN IP4 198.18.0.1\r\ns=-\r\nc=IN IP4 198.18.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";
    run(&mut e, &[b.udp((ip(1), 5060), (ip(2), 5060), invite)], &mut t);
    assert_eq!(e.shared.related.len(), 2, "RTP and RTCP ports");
    // Another application's datagram to the announced port is not the call's media.
    let mut records = run(&mut e, &[b.udp((ip(3), 30000), (ip(1), 49170), &[0x55; 160])], &mut t);
    // The callee's media to the announced port: one RTP packet (two would prove RTP by content).
    let mut rtp = vec![0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
    rtp.extend_from_slice(&[0xff; 160]);
    records.extend(run(&mut e, &[b.udp((ip(2), 30000), (ip(1), 49170), &rtp)], &mut t));
    // RTCP's expectation times out unused.
    t += 200_000_000_000;
    records.extend(run(&mut e, &[b.udp((ip(2), 30001), (ip(1), 49171), &[0x81, 0xc9, 0, 1, 0, 0, 0, 1])], &mut t));
    e.flush();
    records.extend(e.drain_records());
    let media: Vec<_> = records.iter().filter(|r| r.responder.1 == 49170).collect();
    assert_eq!(media.len(), 2);
    for r in media {
        let want = if r.originator.0 == ip(2) { ("rtp", "related: sip sdp") } else { ("unknown", "no match") };
        assert_eq!(describe(&e, r), (want.0.into(), want.1.into()), "{r:?}");
    }
    assert_eq!(describe(&e, find(&records, 49171)).0, "unknown");
    assert!(e.shared.related.is_empty());
}

#[test]
fn tinc_tunnel_datagrams_follow_the_meta_connection() {
    let b = Builder::default();
    let (client, server) = ((ip(1), 59244), (ip(2), 655));
    let mut e = engine();
    let mut t = 0;
    // ID requests, then each side's METAKEY line (a 1024-digit hex key), as tinc 1.0 sends them.
    let key = [b"1 94 64 0 0 ".as_slice(), &[b'A'; 1024], b"\n"].concat();
    let meta = tcp_conversation(
        &b,
        client,
        server,
        &[(true, b"0 alpha 17\n"), (false, b"0 beta 17\n"), (true, &key), (false, &key)],
    );
    let mut meta = frames(meta);
    meta.truncate(meta.len() - 2); // the meta connection stays open
    run(&mut e, &meta, &mut t);
    assert_eq!(e.shared.related.len(), 1, "the listening daemon's port, once");
    // Encrypted datagrams: from a third host to the port they are nothing; between the two
    // daemons (the listener sending first here) they are the tunnel.
    let mut records = run(&mut e, &[b.udp((ip(3), 655), (ip(2), 655), &[0x5a; 300])], &mut t);
    records.extend(run(&mut e, &[b.udp((ip(2), 655), (ip(1), 655), &[0xa5; 300])], &mut t));
    e.flush();
    records.extend(e.drain_records());
    let tunnel = records.iter().find(|r| r.originator == (ip(2), 655)).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(describe(&e, tunnel), ("tinc".into(), "related: tinc meta".into()));
    let stranger = records.iter().find(|r| r.originator.0 == ip(3)).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(describe(&e, stranger).0, "unknown");
    let meta = records.iter().find(|r| r.originator == client).unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(describe(&e, meta), ("tinc".into(), "detector:tinc-meta".into()));
}
