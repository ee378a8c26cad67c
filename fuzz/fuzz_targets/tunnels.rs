//! Arbitrary bytes behind every tunnel and link type weir unwraps. The first bytes choose a stack
//! of up to three tunnels and a link; the rest is the innermost "packet", so the fuzzer's bytes
//! reach the inner parsers with the outer length fields made to agree. Invariants beyond "no
//! panic": whatever parses lies inside the frame, tunnels are at most MAX_ENCAPSULATIONS deep, a
//! cut capture never parses to more than the uncut frame holds, and the engine accounts for the
//! frame exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use weir_dpi::Classifier;
use weir_engine::{Engine, EngineConfig, FlowTableConfig, Ingress, Shared};
use weir_wire::{Frame, LinkType, MAX_ENCAPSULATIONS, parse_frame, parse_frame_captured};

static CLASSIFIER: OnceLock<Arc<Classifier>> = OnceLock::new();

const V4: [u8; 2] = [0x08, 0x00];
const V6: [u8; 2] = [0x86, 0xdd];

/// What the bytes built so far are.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Ip,
    Ethernet,
    /// The payload of this EtherType.
    Ether([u8; 2]),
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()).min(65_535) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len().min(65_535) as u16;
    let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 64];
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(payload);
    h
}

fn udp(dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()).min(65_535) as u16;
    let mut h = vec![0xc0, 0x00];
    h.extend_from_slice(&dport.to_be_bytes());
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

fn ethernet(ethertype: [u8; 2], payload: &[u8]) -> Vec<u8> {
    let mut h = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, ethertype[0], ethertype[1]];
    h.extend_from_slice(payload);
    h
}

/// The inner bytes' EtherType, as a GRE protocol type or Ethernet header names it.
fn ethertype_of(kind: Kind, bytes: &[u8]) -> [u8; 2] {
    match kind {
        Kind::Ip if bytes.first().is_some_and(|b| b >> 4 == 6) => V6,
        Kind::Ip => V4,
        Kind::Ethernet => [0x65, 0x58],
        Kind::Ether(t) => t,
    }
}

/// Wraps `bytes` in tunnel `which` (chosen by a selector value); returns the new bytes and kind.
fn wrap(which: u8, kind: Kind, bytes: Vec<u8>) -> (Kind, Vec<u8>) {
    let inner_v6 = kind == Kind::Ip && bytes.first().is_some_and(|b| b >> 4 == 6);
    match which % 8 {
        0 => (kind, bytes),
        1 => (Kind::Ip, ipv4(if inner_v6 { 41 } else { 4 }, &bytes)),
        2 => {
            let mut g = vec![0x30, 0x00];
            g.extend_from_slice(&ethertype_of(kind, &bytes));
            g.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9]);
            g.extend_from_slice(&bytes);
            (Kind::Ip, ipv6(47, &g))
        }
        3 => {
            let frame = if kind == Kind::Ethernet { bytes } else { ethernet(ethertype_of(kind, &bytes), &bytes) };
            let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
            v.extend_from_slice(&frame);
            (Kind::Ip, ipv4(17, &udp(4789, &v)))
        }
        4 => {
            let len = (bytes.len() + 4).min(65_535) as u16;
            let mut g = vec![0x32, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0];
            g[2..4].copy_from_slice(&len.to_be_bytes());
            g.extend_from_slice(&bytes);
            (Kind::Ip, ipv4(17, &udp(2152, &g)))
        }
        5 => {
            let len = (bytes.len() + 2).min(65_535) as u16;
            let mut p = vec![0x11, 0x00, 0x00, 0x01, 0, 0, 0x00, if inner_v6 { 0x57 } else { 0x21 }];
            p[4..6].copy_from_slice(&len.to_be_bytes());
            p.extend_from_slice(&bytes);
            (Kind::Ether([0x88, 0x64]), p)
        }
        6 => {
            let mut m = vec![0x00, 0x10, 0x01, 0x40];
            if kind == Kind::Ethernet {
                m.extend_from_slice(&[0, 0, 0, 0]);
            }
            m.extend_from_slice(&bytes);
            (Kind::Ether([0x88, 0x47]), m)
        }
        _ => (Kind::Ip, ipv6(if inner_v6 { 41 } else { 4 }, &bytes)),
    }
}

/// The frame on the chosen link.
fn link(which: u8, kind: Kind, bytes: Vec<u8>) -> (LinkType, Vec<u8>) {
    let et = ethertype_of(kind, &bytes);
    let frame_on_ethernet = |b: Vec<u8>| if kind == Kind::Ethernet { b } else { ethernet(et, &b) };
    match (which % 5, kind) {
        (1, Kind::Ip) => {
            let family: u32 = if et == V6 { 30 } else { 2 };
            let mut f = family.to_le_bytes().to_vec();
            f.extend_from_slice(&bytes);
            (LinkType::Loopback, f)
        }
        (2, Kind::Ip) => {
            let mut f = vec![0xff, 0x03, 0x00, if et == V6 { 0x57 } else { 0x21 }];
            f.extend_from_slice(&bytes);
            (LinkType::Ppp, f)
        }
        (3, Kind::Ip | Kind::Ether(_)) => {
            let mut f = vec![0x0f, 0x00, et[0], et[1]];
            f.extend_from_slice(&bytes);
            (LinkType::CiscoHdlc, f)
        }
        (4, Kind::Ip) => (LinkType::RawIp, bytes),
        _ => (LinkType::Ethernet, frame_on_ethernet(bytes)),
    }
}

/// Everything a parse returns lies inside the frame (or, cut, inside what was captured).
fn check(frame: &[u8], wire_len: usize, parsed: &Frame<'_>) {
    assert!(parsed.encap.depth() <= MAX_ENCAPSULATIONS);
    if let Some(ip) = parsed.ip() {
        let range = frame.as_ptr_range();
        let payload = ip.transport.payload();
        let p = payload.as_ptr_range();
        assert!(payload.is_empty() || (range.start <= p.start && p.end <= range.end));
        assert!(usize::from(ip.ip_offset) + usize::from(ip.ip_len) <= wire_len.max(frame.len()));
        assert!(payload.len() <= usize::from(ip.ip_len));
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, c, l, cut, rest @ ..] = data else { return };
    let mut kind = Kind::Ip;
    let mut bytes = rest.to_vec();
    for which in [*a, *b, *c] {
        let (k, b) = wrap(which, kind, bytes);
        kind = k;
        bytes = b;
    }
    let (link, frame) = link(*l, kind, bytes);
    if let Ok(parsed) = parse_frame(&frame, link) {
        check(&frame, frame.len(), &parsed);
    }
    let keep = frame.len() * usize::from(*cut) / 255;
    if let Ok(parsed) = parse_frame_captured(&frame[..keep], link, frame.len()) {
        check(&frame[..keep], frame.len(), &parsed);
    }
    // The whole pipeline: one frame, counted exactly once.
    let classifier = Arc::clone(CLASSIFIER.get_or_init(|| Arc::new(Classifier::builtin().expect("built-in signatures"))));
    let table = FlowTableConfig { shards: 2, capacity: 16, ..FlowTableConfig::default() };
    let Ok(shared) = Shared::new(classifier, table, 8) else { return };
    let mut engine = Engine::new(shared, EngineConfig::default());
    engine.process(&frame[..keep], frame.len() as u32, link, Ingress::Inside, 0);
    engine.flush();
    let c = engine.counters();
    let in_protocols: u64 = c.protocols.iter().map(|p| p.packets[0].get() + p.packets[1].get()).sum();
    assert_eq!(in_protocols + c.non_ip_packets.get() + c.malformed_total(), 1);
});
