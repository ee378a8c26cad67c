//! Structural detectors for what a literal cannot catch: length-prefixed binary headers, bencode,
//! the QUIC long header, the TLS record layer, the DNS message format.
//!
//! Contract: every detector is a pure function of the bytes it is shown (plus, for a few, the sender's
//! role); it never panics, never allocates, and answers a [`Probe`]. A detector answers
//! [`Probe::Certain`] only when enough structure agrees (lengths that add up, versions that exist)
//! that random bytes essentially never pass: the crate's property tests feed it random payloads and
//! require zero peer-to-peer hits.
//!
//! Each detector's module says what it checks and why random bytes and the common binary protocols
//! (ONC RPC, DHCP/BOOTP, NTP, SNMP, RADIUS, syslog, STUN/TURN, RTP/RTCP, DTLS, IPsec NAT-T, CoAP,
//! mDNS/LLMNR, NetBIOS, TFTP, game protocols, DNSCrypt) cannot pass; the crate's lookalike property
//! tests (`lookalike_tests.rs`) generate those protocols' packets and require no peer-to-peer label.
//! A UDP P2P verdict comes from one datagram only where that datagram carries enough fixed
//! structure (a 64-bit magic, a bencoded dictionary that parses to its last byte, a descriptor
//! whose 32-bit length and type-specific payload agree, a text command with its separators); the
//! rest (uTP, UDP tracker announce/scrape, eDonkey and Kad) need a request and the other side's
//! answer tied to it by ids the answer echoes ([`UdpHint`]).
//!
//! TCP detectors look at the start of a direction's byte stream. They decide on the first 6 bytes
//! where they can (the classifier keeps a 6-byte per-direction prefix, so a first segment shorter
//! than that is joined with the next one) and check further fields when the bytes are in view; the
//! DNS-over-TCP detector needs its whole first message in view, Telegram's its 64-byte header and
//! WhatsApp's its first frames (`services`), and these are therefore not split-invariant.
//! UDP detectors look at one datagram.
//!
//! The detectors of the everyday, non-P2P protocols (network services, VPNs, databases, IoT, media)
//! are in [`services`], with their own id range and priorities below the P2P detectors'.

pub(crate) mod bittorrent;
pub(crate) mod directconnect;
pub(crate) mod dns;
pub(crate) mod edonkey;
pub(crate) mod gnutella;
pub(crate) mod quic;
pub(crate) mod services;
pub(crate) mod tls;
pub(crate) mod winmx;

use crate::registry::ProtocolId;
use crate::signature::Learn;

/// A detector's answer, after retina's `ProbeResult`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The bytes are this protocol.
    Certain,
    /// Too few bytes to tell; show me more of the same stream.
    NotYet,
    /// The bytes are not this protocol.
    NotMine,
}

/// Identifies a structural detector; `Classifier::describe` shows it as `detector:<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DetectorId(pub u8);

/// Static facts about one detector.
pub(crate) struct DetectorInfo {
    pub(crate) name: &'static str,
    pub(crate) protocol: ProtocolId,
    pub(crate) priority: u8,
    pub(crate) learn: Learn,
}

macro_rules! detectors {
    ($( $(#[$doc:meta])* $konst:ident = $id:literal, $name:literal, $proto:ident, $prio:literal, $learn:ident; )*) => {
        impl DetectorId {
            $( $(#[$doc])* pub const $konst: DetectorId = DetectorId($id); )*
        }
        pub(crate) const DETECTORS: &[DetectorInfo] = &[
            $( DetectorInfo { name: $name, protocol: ProtocolId::$proto, priority: $prio, learn: Learn::$learn }, )*
        ];
    };
}

detectors! {
    /// uTP (BEP 29): a SYN and the ST_STATE that answers it (same connection id, ack = SYN's seq).
    UTP = 0, "bittorrent-utp", BITTORRENT, 70, Both;
    /// Mainline DHT (BEP 5): a whole datagram that is a bencoded KRPC dictionary.
    DHT = 1, "bittorrent-dht", BITTORRENT, 70, Both;
    /// UDP tracker protocol (BEP 15): a connect request with the protocol magic, or an announce or
    /// scrape answered with its action and transaction id.
    UDP_TRACKER = 2, "bittorrent-udp-tracker", BITTORRENT, 70, None;
    /// eDonkey/eMule TCP: marker, little-endian length that agrees, known opcode.
    EDONKEY = 3, "edonkey", EDONKEY, 60, None;
    /// eDonkey/eMule UDP: a request and its answer (challenge or file hash echoed).
    EDONKEY_UDP = 4, "edonkey-udp", EDONKEY, 60, None;
    /// Kad (eMule's DHT): a request and its answer, each with its exact length.
    KAD = 5, "kad", EDONKEY, 60, None;
    /// Gnutella descriptor over UDP: 23-byte header whose payload length agrees.
    GNUTELLA_UDP = 6, "gnutella-udp", GNUTELLA, 60, None;
    /// Gnutella2 UDP transport ("GND" header with sane part/count).
    GNUTELLA2_UDP = 7, "gnutella2-udp", GNUTELLA, 60, None;
    /// TLS record carrying a ClientHello (originator) or ServerHello (responder).
    TLS = 8, "tls", TLS, 30, None;
    /// QUIC long header with a known version (or a Google QUIC client hello).
    QUIC = 9, "quic", QUIC, 30, None;
    /// DNS message (UDP, or TCP with its 2-byte length prefix) that parses to its end.
    DNS = 10, "dns", DNS, 20, None;
    /// WinMX: the responder's one-byte "1" greeting and the originator's "SEND"/"GET" login.
    WINMX = 11, "winmx", WINMX, 60, None;
    /// TLS picked up mid-connection: an application-data, alert or change-cipher-spec record header.
    TLS_MIDSTREAM = 12, "tls-midstream", TLS, 25, None;
    /// Direct Connect search results over UDP: NMDC `$SR`, ADC `URES`/`UPSR`.
    DC_UDP = 13, "directconnect-udp", DIRECTCONNECT, 60, Responder;
}

/// A UDP request whose answer can confirm a protocol: what to expect back. Stored in a UDP flow's
/// inspection state with a 32-bit token (transaction id, challenge, target or hash prefix) that
/// the answer must echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UdpHint {
    /// BEP 15 announce: the reply carries action 1 and the transaction id.
    TrackerAnnounce = 1,
    /// BEP 15 scrape: action 2 and the transaction id.
    TrackerScrape = 2,
    /// KADEMLIA2_PING: a PONG.
    KadPing = 3,
    /// KADEMLIA2_BOOTSTRAP_REQ: a BOOTSTRAP_RES.
    KadBootstrap = 4,
    /// KADEMLIA2_REQ: a RES for the same target.
    KadReq = 5,
    /// eMule REASKFILEPING: REASKACK, FILENOTFOUND or QUEUEFULL.
    EmuleReask = 6,
    /// eDonkey GLOBSERVSTATREQ: a GLOBSERVSTATRES with the same challenge.
    ServerStat = 7,
    /// eDonkey GLOBGETSOURCES(2): GLOBFOUNDSOURCES for the first file asked about.
    GetSources = 8,
}

impl UdpHint {
    pub(crate) fn from_u8(v: u8) -> Option<UdpHint> {
        Some(match v {
            1 => UdpHint::TrackerAnnounce,
            2 => UdpHint::TrackerScrape,
            3 => UdpHint::KadPing,
            4 => UdpHint::KadBootstrap,
            5 => UdpHint::KadReq,
            6 => UdpHint::EmuleReask,
            7 => UdpHint::ServerStat,
            8 => UdpHint::GetSources,
            _ => return None,
        })
    }
}

/// A datagram shaped like a request that [`udp_reply`] can confirm.
pub(crate) fn udp_request(p: &[u8]) -> Option<(UdpHint, u32)> {
    bittorrent::tracker_request(p).or_else(|| edonkey::udp_request(p))
}

/// The detector an answer to (`hint`, `token`) confirms, if `p` is that answer.
pub(crate) fn udp_reply(hint: UdpHint, token: u32, p: &[u8]) -> Option<DetectorId> {
    match hint {
        UdpHint::TrackerAnnounce | UdpHint::TrackerScrape => {
            bittorrent::tracker_reply(hint, token, p).then_some(DetectorId::UDP_TRACKER)
        }
        UdpHint::KadPing | UdpHint::KadBootstrap | UdpHint::KadReq => {
            edonkey::udp_reply(hint, token, p).then_some(DetectorId::KAD)
        }
        UdpHint::EmuleReask | UdpHint::ServerStat | UdpHint::GetSources => {
            edonkey::udp_reply(hint, token, p).then_some(DetectorId::EDONKEY_UDP)
        }
    }
}

impl DetectorId {
    pub(crate) fn info(self) -> Option<&'static DetectorInfo> {
        match self.0.checked_sub(services::FIRST) {
            Some(i) => services::DETECTORS.get(usize::from(i)),
            None => DETECTORS.get(usize::from(self.0)),
        }
    }

    /// The detector's name, e.g. `"edonkey"`; `"?"` for an id that does not exist.
    pub fn name(self) -> &'static str {
        self.info().map_or("?", |i| i.name)
    }
}

/// Highest priority of any TCP stream-start detector.
pub(crate) const TCP_DETECTOR_MAX_PRIORITY: u8 = 60;

/// Big-endian u16 at `i`, if in bounds.
pub(crate) fn be16(p: &[u8], i: usize) -> Option<u16> {
    let b = p.get(i..i.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Big-endian u32 at `i`, if in bounds.
pub(crate) fn be32(p: &[u8], i: usize) -> Option<u32> {
    let b = p.get(i..i.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Little-endian u32 at `i`, if in bounds.
pub(crate) fn le32(p: &[u8], i: usize) -> Option<u32> {
    let b = p.get(i..i.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Position of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Runs the TCP stream-start detectors for `from_originator`'s stream over `view` (the stream's
/// first bytes). Returns the best certain detector, and whether any still wants more bytes.
pub(crate) fn tcp_stream_start(view: &[u8], from_originator: bool) -> (Option<DetectorId>, bool) {
    let mut best: Option<DetectorId> = None;
    let mut more = false;
    for (id, probe) in [
        (DetectorId::EDONKEY, edonkey::probe_tcp(view)),
        (DetectorId::TLS, tls::probe(view, from_originator)),
        (DetectorId::TLS_MIDSTREAM, tls::probe_midstream(view)),
        (DetectorId::DNS, dns::probe_tcp(view)),
    ] {
        match probe {
            Probe::Certain => best = better(best, id),
            Probe::NotYet => more = true,
            Probe::NotMine => {}
        }
    }
    let (svc, svc_more) = services::tcp_stream_start(view, from_originator);
    if let Some(s) = svc {
        best = better(best, s);
    }
    (best, more || svc_more)
}

/// Runs the single-datagram UDP detectors (request/answer pairs and uTP's two-packet exchange are
/// handled by the classifier).
/// `n` is the datagram's length on the wire (`p` may be a capture's cut of it).
pub(crate) fn udp_datagram(p: &[u8], n: usize, from_originator: bool) -> Option<DetectorId> {
    let mut best: Option<DetectorId> = None;
    let dns = dns::probe_udp(p) == Probe::Certain;
    for (id, hit) in [
        (DetectorId::DHT, bittorrent::is_dht(p)),
        (DetectorId::UDP_TRACKER, bittorrent::is_udp_tracker_connect(p)),
        (DetectorId::DC_UDP, directconnect::is_nmdc_sr(p) || directconnect::is_adc_udp(p)),
        (DetectorId::GNUTELLA_UDP, gnutella::is_udp_descriptor(p, n)),
        (DetectorId::GNUTELLA2_UDP, gnutella::is_g2_udp(p, n)),
        (DetectorId::QUIC, quic::is_long_header(p, from_originator)),
        (DetectorId::DNS, dns),
    ] {
        if hit {
            best = better(best, id);
        }
    }
    best
}

fn better(cur: Option<DetectorId>, new: DetectorId) -> Option<DetectorId> {
    let prio = |d: DetectorId| d.info().map_or(0, |i| i.priority);
    match cur {
        Some(c) if prio(c) >= prio(new) => Some(c),
        _ => Some(new),
    }
}

#[cfg(test)]
macro_rules! probe_table {
    ($f:expr, { $( $name:ident: $input:expr => $want:expr ),* $(,)? }) => {
        $(
            #[test]
            fn $name() {
                let input: &[u8] = &$input;
                assert_eq!($f(input), $want, "input {:02x?}", input);
            }
        )*
    };
}
#[cfg(test)]
pub(crate) use probe_table;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_table_is_consistent() {
        for (i, d) in DETECTORS.iter().enumerate() {
            assert_eq!(DetectorId(i as u8).name(), d.name);
        }
        assert!(DETECTORS.len() <= usize::from(services::FIRST), "the two tables' ids overlap");
        for (i, d) in services::DETECTORS.iter().enumerate() {
            assert_eq!(DetectorId(services::FIRST + i as u8).name(), d.name);
        }
        assert_eq!(DetectorId(200).name(), "?");
        let max_tcp = [DetectorId::EDONKEY, DetectorId::TLS, DetectorId::DNS, DetectorId::WINMX]
            .iter()
            .filter_map(|d| d.info())
            .map(|i| i.priority)
            .max();
        assert_eq!(max_tcp, Some(TCP_DETECTOR_MAX_PRIORITY));
    }

    #[test]
    fn helpers_do_not_panic_out_of_bounds() {
        assert_eq!(be16(&[1], 0), None);
        assert_eq!(be32(&[1, 2, 3], 0), None);
        assert_eq!(le32(&[1, 2, 3, 4], 1), None);
        assert_eq!(be16(&[1, 2], usize::MAX), None);
        assert_eq!(find(b"abc", b""), None);
        assert_eq!(find(b"abc", b"bc"), Some(1));
    }
}
