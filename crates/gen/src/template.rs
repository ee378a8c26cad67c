//! Conversation templates: the opening exchange of each protocol, shaped like the real thing.
//!
//! A flow is (for TCP) a three-way handshake, then the messages [`opening`] returns for steps
//! 0, 1, 2, ... until it returns `None`, then bulk data, then FIN. [`bulk_header`] gives the
//! framing a bulk packet starts with (a BitTorrent piece header, a TLS application-data record
//! header, a uTP data header, a QUIC short header); message protocols (DNS, SIP, DHT, UDP
//! tracker) have no bulk stream and repeat request/answer pairs from [`repeat`] instead.
//!
//! Everything random comes from the flow's own [`Rng`], so a flow's bytes depend only on the
//! profile's seed and the flow's number.

use crate::profile::Variant;
use crate::proto::Protocol;
use crate::rng::Rng;

/// One application message: who sends it and its bytes (one TCP segment or UDP datagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// True if the client (the flow's originator) sends it.
    pub from_client: bool,
    /// The payload.
    pub data: Vec<u8>,
}

/// Per-flow values that several messages of one conversation share.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// A 20-byte id: BitTorrent info-hash, eDonkey/QUIC connection material.
    pub hash: [u8; 20],
    /// A short lowercase word for host names and nicks.
    pub word: String,
    /// A second word.
    pub word2: String,
    /// A 16-bit id: DNS id, uTP connection id, UDP tracker transaction.
    pub id16: u16,
    /// A 32-bit id.
    pub id32: u32,
    /// The server's IPv4 address octets (or the low 4 bytes of its IPv6 address).
    pub server_ip: [u8; 4],
    /// The server's port.
    pub server_port: u16,
    /// True for an IPv6 flow.
    pub ipv6: bool,
}

impl Ctx {
    /// Draws the shared values from `rng`.
    pub fn new(rng: &mut Rng, server_ip: [u8; 4], server_port: u16, ipv6: bool) -> Ctx {
        let mut hash = [0u8; 20];
        rng.fill(&mut hash);
        let n = rng.range(4, 9) as usize;
        let word = rng.word(n);
        let word2 = rng.word(6);
        Ctx { hash, word, word2, id16: rng.next_u32() as u16, id32: rng.next_u32(), server_ip, server_port, ipv6 }
    }
}

fn c(data: impl Into<Vec<u8>>) -> Option<Msg> {
    Some(Msg { from_client: true, data: data.into() })
}

fn s(data: impl Into<Vec<u8>>) -> Option<Msg> {
    Some(Msg { from_client: false, data: data.into() })
}

fn be16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn be32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// The 68-byte BitTorrent handshake.
fn bt_handshake(ctx: &Ctx, rng: &mut Rng, client: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(68);
    v.push(19);
    v.extend_from_slice(b"BitTorrent protocol");
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
    v.extend_from_slice(&ctx.hash);
    v.extend_from_slice(client.as_bytes());
    v.extend(rng.word(20 - client.len()).bytes());
    v
}

fn bt_message(id: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + body.len());
    be32(&mut v, 1 + body.len() as u32);
    v.push(id);
    v.extend_from_slice(body);
    v
}

/// A uTP header (BEP 29) of `kind` (0 data, 2 state, 4 syn).
fn utp_header(kind: u8, conn_id: u16, seq: u16, ack: u16, rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(20);
    v.push((kind << 4) | 1);
    v.push(0);
    be16(&mut v, conn_id);
    be32(&mut v, rng.next_u32());
    be32(&mut v, rng.next_u32() & 0x00ff_ffff);
    be32(&mut v, 1 << 20);
    be16(&mut v, seq);
    be16(&mut v, ack);
    v
}

fn bstr(v: &mut Vec<u8>, s: &[u8]) {
    v.extend_from_slice(s.len().to_string().as_bytes());
    v.push(b':');
    v.extend_from_slice(s);
}

/// A DHT `get_peers` query (`query`) or its answer with two compact peers.
fn dht(ctx: &Ctx, rng: &mut Rng, query: bool, k: u16) -> Vec<u8> {
    let tid = (ctx.id16 ^ k).to_be_bytes();
    let mut id = [0u8; 20];
    rng.fill(&mut id);
    let mut v = Vec::with_capacity(160);
    if query {
        v.extend_from_slice(b"d1:ad2:id");
        bstr(&mut v, &id);
        v.extend_from_slice(b"9:info_hash");
        bstr(&mut v, &ctx.hash);
        v.extend_from_slice(b"e1:q9:get_peers1:t");
        bstr(&mut v, &tid);
        v.extend_from_slice(b"1:y1:qe");
    } else {
        v.extend_from_slice(b"d1:rd2:id");
        bstr(&mut v, &id);
        v.extend_from_slice(b"5:token");
        bstr(&mut v, &rng.bytes(8));
        v.extend_from_slice(b"6:valuesl");
        for _ in 0..2 {
            let peer = [198, 19, rng.range(0, 3) as u8, rng.range(1, 254) as u8, 0x1a, 0xe1];
            bstr(&mut v, &peer);
        }
        v.extend_from_slice(b"ee1:t");
        bstr(&mut v, &tid);
        v.extend_from_slice(b"1:y1:re");
    }
    v
}

const UDP_TRACKER_MAGIC: u64 = 0x0417_2710_1980;

fn tracker(ctx: &Ctx, rng: &mut Rng, step: u32) -> Msg {
    let tx = ctx.id32.wrapping_add(step);
    let conn = u64::from(ctx.id32) << 16 | 0x5a5a;
    let mut v = Vec::with_capacity(98);
    let from_client = step.is_multiple_of(2);
    match step {
        0 => {
            v.extend_from_slice(&UDP_TRACKER_MAGIC.to_be_bytes());
            be32(&mut v, 0);
            be32(&mut v, tx);
        }
        1 => {
            be32(&mut v, 0);
            be32(&mut v, tx.wrapping_sub(1));
            v.extend_from_slice(&conn.to_be_bytes());
        }
        _ if from_client => {
            v.extend_from_slice(&conn.to_be_bytes());
            be32(&mut v, 1);
            be32(&mut v, tx);
            v.extend_from_slice(&ctx.hash);
            v.extend_from_slice(b"-TR2940-");
            v.extend(rng.word(12).bytes());
            v.extend_from_slice(&rng.below(1 << 30).to_be_bytes());
            v.extend_from_slice(&rng.below(1 << 30).to_be_bytes());
            v.extend_from_slice(&rng.below(1 << 30).to_be_bytes());
            be32(&mut v, if step == 2 { 2 } else { 0 });
            be32(&mut v, 0);
            be32(&mut v, rng.next_u32());
            be32(&mut v, 50);
            be16(&mut v, 51413);
        }
        _ => {
            be32(&mut v, 1);
            be32(&mut v, tx.wrapping_sub(1));
            be32(&mut v, 1800);
            be32(&mut v, rng.range(0, 50) as u32);
            be32(&mut v, rng.range(1, 200) as u32);
            for _ in 0..rng.range(1, 8) {
                v.extend_from_slice(&[198, 19, rng.range(0, 3) as u8, rng.range(1, 254) as u8, 0xc8, 0xd5]);
            }
        }
    }
    Msg { from_client, data: v }
}

fn dns_name(v: &mut Vec<u8>, labels: &[&str]) {
    for l in labels {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
}

fn dns(ctx: &Ctx, rng: &mut Rng, k: u16, answer: bool) -> Vec<u8> {
    let id = ctx.id16.wrapping_add(k);
    let host = if k == 0 { ctx.word.clone() } else { format!("{}{k}", ctx.word2) };
    let qtype: u16 = if ctx.ipv6 { 28 } else { 1 };
    let mut v = Vec::with_capacity(64);
    be16(&mut v, id);
    be16(&mut v, if answer { 0x8180 } else { 0x0100 });
    be16(&mut v, 1);
    be16(&mut v, u16::from(answer));
    be16(&mut v, 0);
    be16(&mut v, 0);
    dns_name(&mut v, &["www", &host, "example"]);
    be16(&mut v, qtype);
    be16(&mut v, 1);
    if answer {
        be16(&mut v, 0xc00c);
        be16(&mut v, qtype);
        be16(&mut v, 1);
        be32(&mut v, rng.range(60, 86_400) as u32);
        if ctx.ipv6 {
            be16(&mut v, 16);
            v.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            v.push(rng.range(1, 254) as u8);
        } else {
            be16(&mut v, 4);
            v.extend_from_slice(&[198, 19, 0, rng.range(1, 254) as u8]);
        }
    }
    v
}

fn quic_long(first: u8, dcid: &[u8], scid: &[u8], token: bool, total: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(total);
    v.push(first);
    be32(&mut v, 1);
    v.push(dcid.len() as u8);
    v.extend_from_slice(dcid);
    v.push(scid.len() as u8);
    v.extend_from_slice(scid);
    if token {
        v.push(0);
    }
    let rest = total.saturating_sub(v.len() + 2).max(24);
    be16(&mut v, 0x4000 | rest as u16);
    let start = v.len();
    v.resize(start + rest, 0);
    rng.fill(&mut v[start..]);
    v
}

fn tls_client_hello(ctx: &Ctx, rng: &mut Rng) -> Vec<u8> {
    let sni = format!("www.{}.example", ctx.word);
    let mut ext = Vec::with_capacity(256);
    // server_name
    be16(&mut ext, 0x0000);
    be16(&mut ext, sni.len() as u16 + 5);
    be16(&mut ext, sni.len() as u16 + 3);
    ext.push(0);
    be16(&mut ext, sni.len() as u16);
    ext.extend_from_slice(sni.as_bytes());
    // supported_groups: x25519, secp256r1
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // signature_algorithms
    ext.extend_from_slice(&[0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
    // ALPN h2, http/1.1
    ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, b'h', b'2', 0x08]);
    ext.extend_from_slice(b"http/1.1");
    // supported_versions: TLS 1.3, 1.2
    ext.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    // key_share x25519
    ext.extend_from_slice(&[0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20]);
    ext.extend(rng.bytes(32));
    let mut hs = Vec::with_capacity(512);
    hs.extend_from_slice(&[0x03, 0x03]);
    hs.extend(rng.bytes(32));
    hs.push(32);
    hs.extend(rng.bytes(32));
    hs.extend_from_slice(&[0x00, 0x08, 0x13, 0x01, 0x13, 0x02, 0x13, 0x03, 0xc0, 0x2f]);
    hs.extend_from_slice(&[0x01, 0x00]);
    be16(&mut hs, ext.len() as u16);
    hs.extend(ext);
    tls_handshake(0x01, 0x01, &hs)
}

fn tls_server_hello(rng: &mut Rng) -> Vec<u8> {
    let mut hs = Vec::with_capacity(128);
    hs.extend_from_slice(&[0x03, 0x03]);
    hs.extend(rng.bytes(32));
    hs.push(32);
    hs.extend(rng.bytes(32));
    hs.extend_from_slice(&[0x13, 0x01, 0x00]);
    let mut ext = vec![0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20];
    ext.extend(rng.bytes(32));
    be16(&mut hs, ext.len() as u16);
    hs.extend(ext);
    let mut v = tls_handshake(0x03, 0x02, &hs);
    v.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    let n = rng.range(900, 1200) as usize;
    v.extend(tls_app_header(n));
    v.extend(rng.bytes(n));
    v
}

fn tls_handshake(record_minor: u8, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 9);
    v.extend_from_slice(&[0x16, 0x03, record_minor]);
    be16(&mut v, body.len() as u16 + 4);
    v.push(kind);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn tls_app_header(len: usize) -> [u8; 5] {
    let l = (len.min(16_384 + 256) as u16).to_be_bytes();
    [0x17, 0x03, 0x03, l[0], l[1]]
}

fn edonkey_hello(ctx: &Ctx, rng: &mut Rng, answer: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    body.push(if answer { 0x4c } else { 0x01 });
    if !answer {
        body.push(16);
    }
    body.extend(rng.bytes(16));
    body.extend_from_slice(&rng.next_u32().to_le_bytes());
    body.extend_from_slice(&4662u16.to_le_bytes());
    body.extend_from_slice(&2u32.to_le_bytes());
    let nick = format!("http://www.{}.example", ctx.word);
    body.extend_from_slice(&[0x02, 0x01, 0x00, 0x01]);
    body.extend_from_slice(&(nick.len() as u16).to_le_bytes());
    body.extend_from_slice(nick.as_bytes());
    body.extend_from_slice(&[0x03, 0x01, 0x00, 0x11, 0x3c, 0x00, 0x00, 0x00]);
    body.extend_from_slice(&ctx.server_ip);
    body.extend_from_slice(&4661u16.to_le_bytes());
    let mut v = Vec::with_capacity(body.len() + 5);
    v.push(0xe3);
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend(body);
    v
}

fn lines(ls: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in ls {
        v.extend_from_slice(l.as_bytes());
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn sip(ctx: &Ctx, rng: &mut Rng, method: &str, response: Option<&str>, cseq: u32) -> Vec<u8> {
    let host = format!("{}.example", ctx.word);
    let branch = rng.hex(16);
    let call = format!("{}@{}", ctx.id32, host);
    let body = "v=0\r\no=alice 2890844526 2890844526 IN IP4 198.18.0.10\r\ns=-\r\nc=IN IP4 198.18.0.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 97\r\na=rtpmap:0 PCMU/8000\r\n";
    let with_body = method == "INVITE" && matches!(response, None | Some("200 OK"));
    let first = match response {
        None => format!("{method} sip:bob@{host} SIP/2.0"),
        Some(r) => format!("SIP/2.0 {r}"),
    };
    let mut v = lines(&[
        &first,
        &format!("Via: SIP/2.0/UDP pc33.{host};branch=z9hG4bK{branch}"),
        "Max-Forwards: 70",
        &format!("To: Bob <sip:bob@{host}>"),
        &format!("From: Alice <sip:alice@{host}>;tag={}", ctx.id16),
        &format!("Call-ID: {call}"),
        &format!("CSeq: {cseq} {method}"),
        &format!("Contact: <sip:alice@pc33.{host}>"),
        "User-Agent: Linphone/3.6.1",
    ]);
    if with_body {
        v.extend(lines(&["Content-Type: application/sdp", &format!("Content-Length: {}", body.len()), ""]));
        v.extend_from_slice(body.as_bytes());
    } else {
        v.extend(lines(&["Content-Length: 0", ""]));
    }
    v
}

/// The opening message number `step` of a `protocol`/`variant` conversation, or `None` when
/// the opening exchange is over and bulk data follows.
pub fn opening(protocol: Protocol, variant: Variant, step: u32, ctx: &Ctx, rng: &mut Rng) -> Option<Msg> {
    match (protocol, variant) {
        (Protocol::Bittorrent, Variant::Utp) => {
            let syn_seq = ctx.id16 ^ 0x5555;
            let srv_seq = ctx.id16 ^ 0x1234;
            match step {
                0 => c(utp_header(4, ctx.id16, syn_seq, 0, rng)),
                1 => s(utp_header(2, ctx.id16, srv_seq, syn_seq, rng)),
                2 => {
                    let mut v = utp_header(0, ctx.id16.wrapping_add(1), syn_seq.wrapping_add(1), srv_seq, rng);
                    v.extend(bt_handshake(ctx, rng, "-TR2940-"));
                    c(v)
                }
                3 => {
                    let mut v = utp_header(0, ctx.id16, srv_seq.wrapping_add(1), syn_seq.wrapping_add(1), rng);
                    v.extend(bt_handshake(ctx, rng, "-lt0D80-"));
                    s(v)
                }
                _ => None,
            }
        }
        (Protocol::Bittorrent, Variant::Dht) => match step {
            0 => c(dht(ctx, rng, true, 0)),
            1 => s(dht(ctx, rng, false, 0)),
            _ => None,
        },
        (Protocol::Bittorrent, Variant::UdpTracker) => (step < 4).then(|| tracker(ctx, rng, step)),
        (Protocol::Bittorrent, _) => match step {
            0 => c(bt_handshake(ctx, rng, "-TR2940-")),
            1 => {
                let mut v = bt_handshake(ctx, rng, "-UT1850-");
                v.extend(bt_message(5, &[0xff; 40]));
                s(v)
            }
            2 => {
                let mut bits = rng.bytes(40);
                if let Some(b) = bits.last_mut() {
                    *b &= 0xf0;
                }
                let mut v = bt_message(5, &bits);
                v.extend(bt_message(2, &[]));
                c(v)
            }
            3 => s(bt_message(1, &[])),
            4 => {
                let mut body = Vec::with_capacity(12);
                be32(&mut body, rng.below(320) as u32);
                be32(&mut body, 0);
                be32(&mut body, 16_384);
                c(bt_message(6, &body))
            }
            _ => None,
        },
        (Protocol::Directconnect, Variant::Adc) => match step {
            0 => c(b"HSUP ADBASE ADTIGR\n".to_vec()),
            1 => s(format!(
                "ISUP ADBASE ADTIGR ADPING\nISID AAAB\nIINF CT32 VEuhub/0.4.1 NI{}-hub DEweir\\slab\\shub\n",
                ctx.word
            )),
            2 => c(format!(
                "BINF AAAB ID{} PD{} NI{} SL3 SS{} SF{} VEncdc\\s1.23 HN1 HR0 HO0 SUTCP4,ADC0\n",
                rng.hex(39),
                rng.hex(39),
                ctx.word2,
                rng.range(1 << 30, 1 << 40),
                rng.range(10, 5000)
            )),
            3 => s(format!("IMSG Welcome\\sto\\s{}\n", ctx.word)),
            _ => None,
        },
        (Protocol::Directconnect, _) => match step {
            0 => s(format!(
                "$Lock EXTENDEDPROTOCOL_verlihub_{} Pk=version0.9.8e-r2|$HubName {} hub|",
                rng.word(12),
                ctx.word
            )),
            1 => c(format!(
                "$Supports UserCommand NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 |$Key {}|$ValidateNick {}|",
                rng.word(32),
                ctx.word2
            )),
            2 => s(format!("$Supports OpPlus NoGetINFO NoHello UserIP2 |$Hello {}|", ctx.word2)),
            3 => c(format!(
                "$Version 1,0091|$GetNickList|$MyINFO $ALL {} <DC++ V:0.674,M:A,H:1/0/0,S:3>$ $LAN(T3)\x01${}@example.org${}$|",
                ctx.word2,
                ctx.word,
                rng.range(1 << 30, 1 << 40)
            )),
            _ => None,
        },
        (Protocol::Edonkey, _) => match step {
            0 => c(edonkey_hello(ctx, rng, false)),
            1 => s(edonkey_hello(ctx, rng, true)),
            _ => None,
        },
        (Protocol::Fasttrack, _) => match step {
            0 => c(lines(&[
                &format!("GET /.hash={} HTTP/1.1", rng.hex(40).to_lowercase()),
                &format!("Host: 198.19.0.{}:1214", ctx.server_ip[3]),
                "UserAgent: KazaaClient Jan 18 2004 11:57:05",
                &format!("X-Kazaa-Username: {}", ctx.word),
                "X-Kazaa-Network: KaZaA",
                &format!("X-Kazaa-IP: 198.19.0.{}:1214", ctx.server_ip[3]),
                &format!("X-Kazaa-SupernodeIP: 198.19.1.{}:1214", ctx.id16 % 250 + 1),
                "Connection: close",
                "",
            ])),
            1 => s(lines(&[
                "HTTP/1.1 200 OK",
                &format!("Content-Length: {}", rng.range(1 << 20, 1 << 28)),
                "Accept-Ranges: bytes",
                "Server: KazaaClient Jan 18 2004 11:57:05",
                &format!("X-Kazaa-Username: {}", ctx.word2),
                "X-Kazaa-Network: KaZaA",
                &format!("X-KazaaTag: 5=[{}]", rng.range(100, 9999)),
                "Content-Type: audio/mpeg",
                "",
            ])),
            _ => None,
        },
        (Protocol::Winmx, _) => match step {
            0 => s(b"1".to_vec()),
            1 => c(b"SEND".to_vec()),
            2 => c(format!("{}_{} \"\\music\\{}.mp3\" 0", ctx.word, ctx.id16 % 1000, ctx.word2)),
            _ => None,
        },
        (Protocol::Gnutella, _) => match step {
            0 => c(lines(&[
                "GNUTELLA CONNECT/0.6",
                "User-Agent: LimeWire/4.0.6",
                "X-Ultrapeer: False",
                "X-Query-Routing: 0.1",
                &format!("Listen-IP: 198.18.0.{}:6346", ctx.id16 % 240 + 10),
                "",
            ])),
            1 => s(lines(&[
                "GNUTELLA/0.6 200 OK",
                "User-Agent: BearShare 4.3.5",
                "X-Ultrapeer: True",
                "X-Ultrapeer-Needed: false",
                &format!("X-Try-Ultrapeers: 198.19.1.{}:6346", ctx.id16 % 250 + 1),
                "",
            ])),
            2 => c(lines(&["GNUTELLA/0.6 200 OK", ""])),
            _ => None,
        },
        (Protocol::Http, _) => match step {
            0 => c(lines(&[
                &format!("GET /{}/{}.html HTTP/1.1", ctx.word2, rng.word(8)),
                &format!("Host: www.{}.example", ctx.word),
                "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
                "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                "Accept-Encoding: gzip, deflate",
                "Connection: keep-alive",
                "",
            ])),
            1 => s(lines(&[
                "HTTP/1.1 200 OK",
                "Server: nginx/1.22.1",
                "Content-Type: application/octet-stream",
                &format!("Content-Length: {}", rng.range(1 << 16, 1 << 26)),
                "Connection: keep-alive",
                "",
            ])),
            _ => None,
        },
        (Protocol::Tls, _) => match step {
            0 => c(tls_client_hello(ctx, rng)),
            1 => s(tls_server_hello(rng)),
            2 => {
                let mut v = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01];
                v.extend(tls_app_header(53));
                v.extend(rng.bytes(53));
                c(v)
            }
            _ => None,
        },
        (Protocol::Quic, _) => {
            let dcid = &ctx.hash[..8];
            let scid = &ctx.hash[8..16];
            match step {
                0 => c(quic_long(0xc3, dcid, scid, true, 1200, rng)),
                1 => s(quic_long(0xc3, scid, &ctx.hash[12..20], true, 1200, rng)),
                2 => s(quic_long(0xe3, scid, &ctx.hash[12..20], false, 1100, rng)),
                3 => c(quic_long(0xe3, &ctx.hash[12..20], scid, false, 90, rng)),
                _ => None,
            }
        }
        (Protocol::Dns, _) => match step {
            0 => c(dns(ctx, rng, 0, false)),
            1 => s(dns(ctx, rng, 0, true)),
            _ => None,
        },
        (Protocol::Ssh, _) => match step {
            0 => s(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()),
            1 => c(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n".to_vec()),
            2 | 3 => {
                let n = rng.range(900, 1400) as usize;
                let mut v = Vec::with_capacity(n + 6);
                be32(&mut v, n as u32 + 2);
                v.extend_from_slice(&[0x04, 20]);
                v.extend(rng.bytes(16));
                v.extend_from_slice(b"curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256");
                v.resize(n + 6, 0);
                Some(Msg { from_client: step == 2, data: v })
            }
            _ => None,
        },
        (Protocol::Smtp, _) => {
            let host = format!("mx.{}.example", ctx.word);
            match step {
                0 => s(lines(&[&format!("220 {host} ESMTP Postfix (Debian/GNU)")])),
                1 => c(lines(&[&format!("EHLO client.{}.example", ctx.word2)])),
                2 => s(lines(&[&format!("250-{host}"), "250-PIPELINING", "250-SIZE 10240000", "250 8BITMIME"])),
                3 => c(lines(&[&format!("MAIL FROM:<{}@{}.example>", ctx.word2, ctx.word2)])),
                4 => s(lines(&["250 2.1.0 Ok"])),
                5 => c(lines(&[&format!("RCPT TO:<postmaster@{}.example>", ctx.word)])),
                6 => s(lines(&["250 2.1.5 Ok"])),
                7 => c(lines(&["DATA"])),
                8 => s(lines(&["354 End data with <CR><LF>.<CR><LF>"])),
                _ => None,
            }
        }
        (Protocol::Pop3, _) => match step {
            0 => s(lines(&["+OK Dovecot (Debian) ready."])),
            1 => c(lines(&["CAPA"])),
            2 => s(lines(&["+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "USER", "SASL PLAIN", "."])),
            3 => c(lines(&[&format!("USER {}", ctx.word2)])),
            4 => s(lines(&["+OK"])),
            5 => c(lines(&[&format!("PASS {}", rng.word(10))])),
            6 => s(lines(&["+OK Logged in."])),
            7 => c(lines(&["RETR 1"])),
            _ => None,
        },
        (Protocol::Imap, _) => match step {
            0 => s(lines(&[
                "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.",
            ])),
            1 => c(lines(&["a001 CAPABILITY"])),
            2 => s(lines(&[
                "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN",
                "a001 OK Pre-login capabilities listed, post-login capabilities have more.",
            ])),
            3 => c(lines(&[&format!("a002 LOGIN {} {}", ctx.word2, rng.word(10))])),
            4 => s(lines(&["a002 OK Logged in"])),
            5 => c(lines(&["a003 FETCH 1:* (FLAGS BODY[])"])),
            _ => None,
        },
        (Protocol::Ftp, _) => match step {
            0 => s(lines(&[&format!("220 ProFTPD Server (ftp.{}.example) [198.19.0.{}]", ctx.word, ctx.server_ip[3])])),
            1 => c(lines(&["USER anonymous"])),
            2 => s(lines(&["331 Anonymous login ok, send your complete email address as your password"])),
            3 => c(lines(&[&format!("PASS {}@", ctx.word2)])),
            4 => s(lines(&["230 Anonymous access granted, restrictions apply"])),
            5 => c(lines(&["TYPE I"])),
            6 => s(lines(&["200 Type set to I"])),
            _ => None,
        },
        (Protocol::Sip, _) => match step {
            0 => c(sip(ctx, rng, "INVITE", None, 1)),
            1 => s(sip(ctx, rng, "INVITE", Some("100 Trying"), 1)),
            2 => s(sip(ctx, rng, "INVITE", Some("180 Ringing"), 1)),
            3 => s(sip(ctx, rng, "INVITE", Some("200 OK"), 1)),
            4 => c(sip(ctx, rng, "ACK", None, 1)),
            _ => None,
        },
    }
}

/// True for protocols whose flows are request/answer messages with no bulk stream: their bulk
/// phase is [`repeat`], and the profile's size distribution does not apply.
pub fn is_message_protocol(protocol: Protocol, variant: Variant) -> bool {
    matches!(protocol, Protocol::Dns | Protocol::Sip) || matches!(variant, Variant::Dht | Variant::UdpTracker)
}

/// Bulk message `k` (0, 1, ...) of a message protocol (see [`is_message_protocol`]): requests
/// from the client on even `k`, answers on odd `k`.
pub fn repeat(protocol: Protocol, variant: Variant, k: u32, ctx: &Ctx, rng: &mut Rng) -> Msg {
    let query = k.is_multiple_of(2);
    let n = (k / 2 + 1) as u16;
    let data = match (protocol, variant) {
        (_, Variant::Dht) => dht(ctx, rng, query, n),
        (_, Variant::UdpTracker) => return tracker(ctx, rng, 2 + (k % 2) + 2 * (k / 2 + 1)),
        (Protocol::Sip, _) if query => sip(ctx, rng, "OPTIONS", None, n.into()),
        (Protocol::Sip, _) => sip(ctx, rng, "OPTIONS", Some("200 OK"), n.into()),
        _ => dns(ctx, rng, n, !query),
    };
    Msg { from_client: query, data }
}

/// Framing state of one direction's bulk stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkState {
    /// Bytes of the current application message still to come.
    pub left: u32,
    /// Number of messages started.
    pub count: u32,
}

/// Writes the framing a bulk payload of `len` bytes starts with into `out` (which is `len`
/// bytes) and fills the rest with random bytes; `st` carries the message boundaries across
/// packets (BitTorrent pieces span segments).
pub fn bulk_payload(
    protocol: Protocol,
    variant: Variant,
    st: &mut BulkState,
    ctx: &Ctx,
    rng: &mut Rng,
    out: &mut [u8],
) {
    rng.fill(out);
    match (protocol, variant) {
        (Protocol::Bittorrent, Variant::Utp) if out.len() >= 20 => {
            let h = utp_header(0, ctx.id16, st.count as u16, st.count as u16, rng);
            out[..20].copy_from_slice(&h);
            st.count = st.count.wrapping_add(1);
        }
        (Protocol::Bittorrent, Variant::Standard) => {
            let mut pos = 0usize;
            while pos < out.len() {
                if st.left == 0 {
                    // A piece message: length, id 7, index, begin, 16 KiB block.
                    let mut h = Vec::with_capacity(13);
                    be32(&mut h, 9 + 16_384);
                    h.push(7);
                    be32(&mut h, st.count / 16);
                    be32(&mut h, (st.count % 16) * 16_384);
                    let n = h.len().min(out.len() - pos);
                    out[pos..pos + n].copy_from_slice(&h[..n]);
                    st.left = 16_384 + 13 - n as u32;
                    st.count = st.count.wrapping_add(1);
                    pos += n;
                } else {
                    let n = (st.left as usize).min(out.len() - pos);
                    st.left -= n as u32;
                    pos += n;
                }
            }
        }
        (Protocol::Tls, _) if out.len() > 5 => {
            let h = tls_app_header(out.len() - 5);
            out[..5].copy_from_slice(&h);
        }
        (Protocol::Quic, _) => {
            if let Some(b) = out.first_mut() {
                *b = 0x40 | (*b & 0x3f);
            }
            if out.len() >= 9 {
                out[1..9].copy_from_slice(&ctx.hash[8..16]);
            }
        }
        _ => {}
    }
}
