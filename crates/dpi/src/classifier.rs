//! The classifier: literal signatures and structural detectors over the first packets of a flow.
//!
//! # How a flow is decided
//!
//! Each payload packet of an undecided flow goes through [`Classifier::inspect`]:
//!
//! 1. TCP: the sequence number is checked against the next expected one. Retransmitted bytes are
//!    skipped; a gap (lost or reordered segment) stops stream matching for that direction. A flow
//!    picked up without its SYN starts its stream at the first payload seen.
//! 2. The bytes run through the one signature automaton, carrying its state across TCP segments (a
//!    match may span segments); UDP datagrams are matched one by one, offsets counted from the
//!    datagram start. A match counts if its transport, direction, offset and `within` constraints
//!    hold. Structural detectors look at the stream start (TCP) or each datagram (UDP).
//! 3. The best match so far (highest priority; the earlier one on ties) is the *candidate*. It
//!    becomes the verdict as soon as nothing of higher priority can still match: in each direction
//!    either the stream has passed the end bound of every higher-priority signature and the stream
//!    detectors are done, or the other side has answered (request/response turn taken), or the
//!    direction hit its limits. A UDP datagram is judged whole, so a UDP candidate is final at once,
//!    with one exception: STUN. ICE (RFC 8445) opens a WebRTC or VoIP media flow with STUN
//!    connectivity checks on the very 5-tuple the media then uses, DTLS-SRTP's handshake (RFC 5764)
//!    or RTP/RTCP multiplexed beside them (RFC 7983). A UDP flow whose candidate is STUN is read on
//!    within the same limits: the first later datagram that proves DTLS, or RTP or RTCP by their
//!    own detectors (two packets of one stream, an exact compound), makes the label that protocol
//!    by [`Decision::AfterStun`]; no other proof replaces STUN (a UDP flow's protocol does not
//!    change otherwise, and a media proof is never peer-to-peer). A direction that reaches its
//!    limits, or the flow's end, leaves it STUN, as a binding with a STUN server is. While it is
//!    read on, [`FlowInspect::provisional`] names STUN: the packets so far are STUN messages.
//!    UDP requests that only their answer can confirm (UDP tracker announce and scrape, eDonkey and
//!    Kad) leave a hint and a 32-bit token in the state; the other side's datagram that answers
//!    them, echoing the token, makes the candidate.
//! 4. Without a candidate: once both directions have sent payload and either endpoint is a known
//!    peer ([`PeerCache`]), the flow is that peer's protocol by [`Decision::PeerCache`]; once a
//!    direction reaches its packet or byte limit, the flow gets the peer cache, a port guess, or
//!    `unknown`. A non-P2P candidate is no proof against the cache when it was matched only in the
//!    responder's reply to originator bytes that matched nothing (an HTTP 400 page answering an
//!    encrypted BitTorrent handshake), or when it is a mid-stream TLS record header.
//! 5. A port never makes a peer-to-peer label: a SYN scan of port 6881 is not BitTorrent, and a
//!    box that drops P2P must have proof. Port guesses name only client-server protocols.
//! 6. After the verdict, flows that name peers (peer wire, trackers, DHT, local peer discovery,
//!    uTP) keep being read, cheaply and for a bounded number of packets, by
//!    [`Classifier::harvest`]: the extension handshake's listen port, PEX, PORT messages, tracker
//!    peer lists, DHT `values`/`nodes`. The verdict itself is not delayed by it.
//!
//! The per-flow state, [`FlowInspect`], is 40 bytes and `Copy`; no allocation happens per packet.

use core::fmt;
use core::net::IpAddr;

use aho_corasick::Anchored;
use aho_corasick::automaton::{Automaton, StateID};

use crate::detect::{self, DetectorId, UdpHint, bittorrent, services, winmx};
use crate::peers::{PeerCache, PeerKind};
use crate::registry::{ProtocolId, Registry};
use crate::signature::{DirFilter, L4Filter, Learn, SignatureError, SignatureId, SignatureSet};

/// Transport of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    /// TCP: payloads form a byte stream per direction.
    Tcp,
    /// UDP: each datagram stands alone.
    Udp,
}

/// Who sent a packet (the originator opened the flow): weir's one [`weir_wire::Sender`].
pub use weir_wire::Sender as Dir;

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
}

/// One packet's view for inspection. `originator` opened the flow (sent its first packet),
/// `responder` is the other side.
#[derive(Clone, Copy, Debug)]
pub struct PacketMeta<'a> {
    /// Transport.
    pub l4: L4,
    /// Who sent this packet.
    pub dir: Dir,
    /// The endpoint that opened the flow.
    pub originator: Endpoint,
    /// The other endpoint.
    pub responder: Endpoint,
    /// TCP sequence number of the first payload byte (or of the SYN); `None` for UDP, or to skip
    /// sequence tracking.
    pub tcp_seq: Option<u32>,
    /// TCP SYN flag.
    pub syn: bool,
    /// Transport payload (as captured).
    pub payload: &'a [u8],
    /// The payload's length on the wire: more than `payload.len()` when a capture's snaplen cut
    /// the packet short (detectors check lengths against it, contents as far as they were
    /// captured), else equal.
    pub payload_len: usize,
    /// When the packet was seen, in nanoseconds (packet time or the bridge's batch clock): ages
    /// the peer cache.
    pub now: u64,
}

/// How much of each flow is inspected: per direction, payload-carrying packets and bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectLimits {
    /// Payload packets inspected per direction (default 10). 0 decides at the first payload.
    pub max_packets: u8,
    /// Payload bytes inspected per direction (default 4096).
    pub max_bytes: u16,
}

impl Default for InspectLimits {
    fn default() -> Self {
        InspectLimits { max_packets: 10, max_bytes: 4096 }
    }
}

/// How a label was decided. Display it with [`Classifier::describe`]: `signature:<name>`,
/// `detector:<name>`, `detector:<name> after stun`, `port guess`, `peer cache`, `no match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A literal signature from the signature file matched.
    Signature(SignatureId),
    /// A structural detector was certain.
    Detector(DetectorId),
    /// Nothing in the content decided; a well-known port did (or broke a tie between protocols a
    /// signature could not tell apart).
    PortGuess,
    /// Nothing in the content proved otherwise; an endpoint is a known peer (BitTorrent or Direct
    /// Connect, the label says which).
    PeerCache,
    /// Nothing matched.
    NoMatch,
    /// Another flow announced this one (an FTP data connection, a TFTP transfer, a SIP media
    /// stream); set by the engine through [`FlowInspect::relate`], never by inspection.
    Related(crate::related::Related),
    /// A UDP flow opened with STUN (ICE connectivity checks), and a later datagram proved this
    /// detector's protocol (DTLS, RTP, RTCP): the media the checks set up. Displayed as
    /// `detector:<name> after stun`.
    AfterStun(DetectorId),
}

/// A flow's protocol and how it was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    /// The protocol (`ProtocolId::UNKNOWN` with `Decision::NoMatch`).
    pub protocol: ProtocolId,
    /// How it was decided.
    pub decision: Decision,
}

impl Label {
    const NO_MATCH: Label = Label { protocol: ProtocolId::UNKNOWN, decision: Decision::NoMatch };
}

/// The answer to one inspected packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep inspecting this flow's packets.
    Pending,
    /// Final: stop inspecting.
    Done(Label),
}

/// Bytes of each direction's stream start kept for the TCP detectors when a first segment is short.
const PREFIX: usize = 6;

// Per-direction flag bits.
const SEQ_KNOWN: u8 = 1;
/// A sequence gap: no more stream matching in this direction (after the verdict: no more
/// harvesting in this direction).
const BROKEN: u8 = 2;
/// The stream-start detectors have answered for good.
const DET_DONE: u8 = 4;
/// The other side has sent payload after this side did.
const TURN_DONE: u8 = 8;
/// WinMX greeting (responder) / login (originator) seen.
const WINMX: u8 = 16;
/// UDP: this direction sent a uTP header; the last one's connection id and sequence number are
/// in `prefix[d][..4]`. (TCP flows use the bit for [`WINMX`].)
const UTP_HDR: u8 = 16;
/// `flags[0]`, UDP: the originator's last uTP header was a SYN.
const UTP_SYN: u8 = 32;
/// `flags[1]`: the candidate was matched in the responder's bytes after the originator had sent
/// bytes that matched nothing: no proof against the peer cache.
const CAND_WEAK: u8 = 32;
/// UDP: this direction sent a request that awaits its answer; the hint is in `ac[0]`, its token
/// in `next_seq[0]`.
const HINT: u8 = 64;
/// TCP: this direction's first segment was a tinc ID request. (UDP flows use the bit for
/// [`HINT`].)
const TINC_ID: u8 = 64;
/// `flags[1]`, UDP: the candidate is STUN and the flow is read on for the media after it (see the
/// module docs, step 3). (TCP flows use the bit for [`SEQ_KNOWN`].)
const STUN_LEAD: u8 = 1;
/// `flags[0]` only: the verdict is final and stored in `cand`/`cand_proto`.
const DONE: u8 = 128;
/// `flags[1]` only, after the verdict: [`Classifier::harvest`] still reads this flow for peers.
const HARVEST: u8 = 128;

/// Payload packets per direction (counted from the flow's start) read for peers after the
/// verdict.
const HARVEST_PACKETS: u8 = 250;
/// Lowest port learned from an endpoint list that names other hosts (see `harvest_packet`).
const HEARSAY_MIN_PORT: u16 = 1024;
/// A peer-wire stream's messages start after the 68-byte handshake.
const HANDSHAKE_LEN: usize = 68;

/// What a flow is read for after its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Harvest {
    /// TCP peer wire: extension handshake, PEX, PORT.
    PeerWire,
    /// HTTP tracker: peer lists in the responder's bytes.
    TrackerReply,
    /// DHT: values, nodes, nodes6, announce_peer ports.
    Dht,
    /// UDP tracker: announce replies.
    UdpTracker,
    /// uTP: peer-wire messages in data packets.
    Utp,
    /// Local peer discovery: the announced port.
    Lsd,
}

// Packed decision kinds (top 3 bits of `cand`).
const K_SIG: u16 = 1;
const K_DET: u16 = 2;
const K_PORT: u16 = 3;
const K_PEER: u16 = 4;
const K_NOMATCH: u16 = 5;
const K_RELATED: u16 = 6;
const K_AFTER_STUN: u16 = 7;

fn pack(d: Decision) -> u16 {
    match d {
        Decision::Signature(s) => (K_SIG << 13) | (s.0 & 0x1fff),
        Decision::Detector(x) => (K_DET << 13) | u16::from(x.0),
        Decision::PortGuess => K_PORT << 13,
        Decision::PeerCache => K_PEER << 13,
        Decision::NoMatch => K_NOMATCH << 13,
        Decision::Related(r) => {
            (K_RELATED << 13) | crate::related::Related::ALL.iter().position(|&k| k == r).map_or(0, |i| i as u16)
        }
        Decision::AfterStun(x) => (K_AFTER_STUN << 13) | u16::from(x.0),
    }
}

fn unpack(v: u16) -> Option<Decision> {
    let id = v & 0x1fff;
    match v >> 13 {
        K_SIG => Some(Decision::Signature(SignatureId(id))),
        K_DET => u8::try_from(id).ok().map(|i| Decision::Detector(DetectorId(i))),
        K_PORT => Some(Decision::PortGuess),
        K_PEER => Some(Decision::PeerCache),
        K_NOMATCH => Some(Decision::NoMatch),
        K_RELATED => crate::related::Related::ALL.get(usize::from(id)).map(|&r| Decision::Related(r)),
        K_AFTER_STUN => u8::try_from(id).ok().map(|i| Decision::AfterStun(DetectorId(i))),
        _ => None,
    }
}

/// Per-flow inspection state: `Copy`, `Default` (a fresh flow), 40 bytes. Holds per direction the
/// packets and bytes inspected, the automaton state, the next expected TCP sequence number, flags,
/// and a 6-byte stream prefix; plus the best candidate so far.
///
/// A `FlowInspect` must be fed to the [`Classifier`] that started it: with another one the answers
/// are meaningless (but nothing panics).
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowInspect {
    ac: [u32; 2],
    next_seq: [u32; 2],
    offset: [u16; 2],
    packets: [u8; 2],
    flags: [u8; 2],
    cand_proto: u16,
    cand: u16,
    prefix: [[u8; PREFIX]; 2],
}

impl FlowInspect {
    /// The final label, if `inspect` returned `Done`.
    pub fn verdict(&self) -> Option<Label> {
        if self.flags[0] & DONE == 0 {
            return None;
        }
        unpack(self.cand).map(|decision| Label { protocol: ProtocolId(self.cand_proto), decision })
    }

    /// Payload packets inspected from the originator and the responder (read for peers after the
    /// verdict included), saturating at 255.
    pub fn packets(&self) -> [u8; 2] {
        self.packets
    }

    /// Labels a flow that another flow announced (see [`crate::related`]): the verdict is final at
    /// once, and the flow is never inspected.
    pub fn relate(&mut self, protocol: ProtocolId, why: crate::related::Related) {
        self.cand = pack(Decision::Related(why));
        self.cand_proto = protocol.0;
        self.flags[0] |= DONE;
    }

    /// STUN, while a UDP flow that opened with STUN is read on for the media its checks set up
    /// (see the module docs, step 3): its packets so far are STUN messages, so a policy can treat
    /// them as STUN until the verdict, which may still be DTLS or RTP. `None` otherwise (no
    /// verdict yet, or a final one: see [`FlowInspect::verdict`]).
    #[inline]
    pub fn provisional(&self) -> Option<ProtocolId> {
        if self.flags[0] & DONE != 0 || self.flags[1] & STUN_LEAD == 0 {
            return None;
        }
        unpack(self.cand).filter(|&c| leads_on(c)).map(|_| ProtocolId(self.cand_proto))
    }

    /// True while the verdict is final but [`Classifier::harvest`] still wants this flow's packets.
    #[inline]
    pub fn harvesting(&self) -> bool {
        self.flags[0] & DONE != 0 && self.flags[1] & HARVEST != 0
    }
}

fn idx(d: Dir) -> usize {
    match d {
        Dir::Originator => 0,
        Dir::Responder => 1,
    }
}

/// (priority, end bound of the signatures with that priority; `None` = unbounded).
type Bounds = Vec<(u8, Option<u16>)>;

/// Built once, shared read-only across threads (`Send + Sync`), e.g. in an `Arc`.
#[derive(Clone, Debug)]
pub struct Classifier {
    set: SignatureSet,
    limits: InspectLimits,
    /// [tcp, udp][originator, responder]: (priority, end bound; `None` = unbounded) of applicable
    /// signatures, one entry per distinct priority with the largest bound.
    bounds: [[Bounds; 2]; 2],
}

/// The built-in signature file.
const BUILTIN_SIGNATURES: &str = include_str!("../../../configs/signatures.toml");

impl Classifier {
    /// The classifier for the built-in `configs/signatures.toml` (compiled in).
    ///
    /// # Errors
    /// Only if the built-in file is broken, which the crate's tests rule out.
    pub fn builtin() -> Result<Classifier, SignatureError> {
        Classifier::from_toml(BUILTIN_SIGNATURES, "configs/signatures.toml (built in)")
    }

    /// Parses a signature file's text; `origin` names it in error messages.
    ///
    /// # Errors
    /// A [`SignatureError`] naming the file, the signature and the key for any invalid entry; TOML
    /// syntax errors keep toml's line and column.
    pub fn from_toml(text: &str, origin: &str) -> Result<Classifier, SignatureError> {
        let set = SignatureSet::parse(text, origin)?;
        let mut bounds: [[Bounds; 2]; 2] = Default::default();
        for s in &set.sigs {
            for (l, l4) in [(0, L4Filter::Tcp), (1, L4Filter::Udp)] {
                if s.l4 != L4Filter::Any && s.l4 != l4 {
                    continue;
                }
                for (d, dir) in [(0, DirFilter::Originator), (1, DirFilter::Responder)] {
                    if s.dir != DirFilter::Any && s.dir != dir {
                        continue;
                    }
                    let list = &mut bounds[l][d];
                    let b = s.end_bound();
                    match list.iter_mut().find(|(p, _)| *p == s.priority) {
                        Some(e) => {
                            e.1 = match (e.1, b) {
                                (Some(x), Some(y)) => Some(x.max(y)),
                                _ => None,
                            }
                        }
                        None => list.push((s.priority, b)),
                    }
                }
            }
        }
        Ok(Classifier { set, limits: InspectLimits::default(), bounds })
    }

    /// Reads and parses a signature file.
    ///
    /// # Errors
    /// [`SignatureError::Io`] if it cannot be read, else as [`Classifier::from_toml`].
    pub fn from_file(path: &std::path::Path) -> Result<Classifier, SignatureError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| SignatureError::Io { origin: origin.clone(), source })?;
        Classifier::from_toml(&text, &origin)
    }

    /// The same classifier with other inspection limits. Signatures whose match would end beyond
    /// `max_bytes` can then never match.
    pub fn with_limits(mut self, limits: InspectLimits) -> Classifier {
        self.limits = limits;
        self
    }

    /// The inspection limits.
    pub fn limits(&self) -> InspectLimits {
        self.limits
    }

    /// Protocol names and categories (built-in and declared in the signature file).
    pub fn registry(&self) -> &Registry {
        &self.set.registry
    }

    /// Number of signatures.
    pub fn signature_count(&self) -> usize {
        self.set.sigs.len()
    }

    /// A signature's name, if the id exists.
    pub fn signature_name(&self, id: SignatureId) -> Option<&str> {
        self.set.sigs.get(usize::from(id.0)).map(|s| s.name.as_str())
    }

    /// Displays a decision: `signature:<name>`, `detector:<name>`, `detector:<name> after stun`,
    /// `port guess`, `peer cache`, `no match`, `related: ...`.
    pub fn describe(&self, d: Decision) -> impl fmt::Display + '_ {
        Describe { c: self, d }
    }

    fn priority(&self, d: Decision) -> u8 {
        match d {
            Decision::Signature(s) => self.set.sigs.get(usize::from(s.0)).map_or(0, |s| s.priority),
            Decision::Detector(x) | Decision::AfterStun(x) => x.info().map_or(0, |i| i.priority),
            _ => 0,
        }
    }

    fn learn_of(&self, d: Decision) -> Learn {
        match d {
            Decision::Signature(s) => self.set.sigs.get(usize::from(s.0)).map_or(Learn::None, |s| s.learn),
            Decision::Detector(x) | Decision::AfterStun(x) => x.info().map_or(Learn::None, |i| i.learn),
            _ => Learn::None,
        }
    }

    /// Largest end bound of signatures with priority above `p` applicable to (l4, d); `None` if
    /// there are none, `Some(u16::MAX)` if one is unbounded.
    fn horizon(&self, l4: L4, d: usize, p: u8) -> Option<u16> {
        let l = usize::from(l4 == L4::Udp);
        self.bounds[l][d].iter().filter(|(prio, _)| *prio > p).map(|(_, b)| b.unwrap_or(u16::MAX)).max()
    }

    fn load_state(&self, raw: u32) -> StateID {
        if raw == 0 || raw > self.set.max_state { self.set.start } else { StateID::from_u32_unchecked(raw) }
    }

    /// Considers the matches at automaton state `sid`, whose last byte is at stream position
    /// `end` (exclusive), for a packet from `d`; raises `best` if one wins.
    fn on_matches(&self, sid: StateID, end: usize, l4: L4, d: usize, best: &mut Option<Decision>) {
        let dfa = &self.set.dfa;
        for k in 0..dfa.match_len(sid) {
            let pid = dfa.match_pattern(sid, k);
            let Some(&si) = self.set.pattern_sig.get(pid.as_usize()) else { continue };
            let Some(sig) = self.set.sigs.get(usize::from(si)) else { continue };
            let l4_ok = match sig.l4 {
                L4Filter::Any => true,
                L4Filter::Tcp => l4 == L4::Tcp,
                L4Filter::Udp => l4 == L4::Udp,
            };
            let dir_ok = match sig.dir {
                DirFilter::Any => true,
                DirFilter::Originator => d == 0,
                DirFilter::Responder => d == 1,
            };
            let start = end.wrapping_sub(usize::from(sig.pattern_len));
            let pos_ok = match (sig.offset, sig.within) {
                (Some(o), _) => start == usize::from(o),
                (None, Some(w)) => end <= usize::from(w),
                (None, None) => true,
            };
            if l4_ok && dir_ok && pos_ok {
                raise(best, Decision::Signature(SignatureId(si)), |x| self.priority(x));
            }
        }
    }

    /// Runs the automaton over `bytes` from `sid`, positions starting at `base`.
    fn scan(
        &self,
        mut sid: StateID,
        bytes: &[u8],
        base: usize,
        l4: L4,
        d: usize,
        best: &mut Option<Decision>,
    ) -> StateID {
        let dfa = &self.set.dfa;
        for (i, &b) in bytes.iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) && dfa.is_match(sid) {
                self.on_matches(sid, base + i + 1, l4, d, best);
            }
        }
        sid
    }

    /// Accepts a TCP packet's sequence number; returns the new bytes of the stream, or `None` if
    /// there are none (pure ACK, SYN, retransmission).
    fn tcp_payload<'p>(st: &mut FlowInspect, d: usize, pkt: &PacketMeta<'p>) -> Option<&'p [u8]> {
        let mut payload = pkt.payload;
        let Some(seq) = pkt.tcp_seq else {
            return (!payload.is_empty()).then_some(payload);
        };
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        if pkt.syn {
            st.next_seq[d] = seq.wrapping_add(1).wrapping_add(len);
            st.flags[d] |= SEQ_KNOWN;
            return None;
        }
        if payload.is_empty() {
            return None;
        }
        if st.flags[d] & SEQ_KNOWN == 0 {
            st.flags[d] |= SEQ_KNOWN;
            st.next_seq[d] = seq.wrapping_add(len);
            return Some(payload);
        }
        let diff = seq.wrapping_sub(st.next_seq[d]) as i32;
        if diff < 0 {
            let old = diff.unsigned_abs() as usize;
            if old >= payload.len() {
                return None; // retransmission
            }
            payload = &payload[old..];
        } else if diff > 0 {
            st.flags[d] |= BROKEN;
        }
        st.next_seq[d] = seq.wrapping_add(len);
        Some(payload)
    }

    /// Feed one packet of a flow that is still undecided. Returns `Done` once the label is certain
    /// or the limits are reached (then: peer cache, else a client-server port guess, else unknown
    /// with `NoMatch`). Packets without payload (pure ACKs, SYN) only update TCP sequence tracking.
    /// Learns peers into `peers`. Calling it again after `Done` returns the same `Done` (reading
    /// for peers after the verdict is [`Classifier::harvest`]'s job). Never panics.
    pub fn inspect(&self, st: &mut FlowInspect, pkt: &PacketMeta<'_>, peers: &PeerCache) -> Verdict {
        if let Some(l) = st.verdict() {
            return Verdict::Done(l);
        }
        let d = idx(pkt.dir);
        let o = 1 - d;
        let payload = match pkt.l4 {
            L4::Tcp => match Self::tcp_payload(st, d, pkt) {
                Some(p) => p,
                None => return Verdict::Pending,
            },
            L4::Udp if pkt.payload.is_empty() => return Verdict::Pending,
            L4::Udp => pkt.payload,
        };
        if self.exhausted(st, d) {
            return self.decide(st, pkt, payload, usize::from(st.offset[d]), peers);
        }
        st.packets[d] = st.packets[d].saturating_add(1);
        if st.packets[o] > 0 {
            st.flags[o] |= TURN_DONE;
        }
        let before = unpack(st.cand).filter(|x| is_content(*x));
        let mut best = before;
        // The new candidate keeps the old one's weakness (a STUN lead's media proof).
        let mut weak_kept = false;
        let base = usize::from(st.offset[d]);
        let budget = usize::from(self.limits.max_bytes).saturating_sub(base);
        let feed = &payload[..payload.len().min(budget)];

        match pkt.l4 {
            L4::Tcp => {
                if st.flags[d] & BROKEN == 0 {
                    let sid = self.load_state(st.ac[d]);
                    st.ac[d] = self.scan(sid, feed, base, L4::Tcp, d, &mut best).as_u32();
                    if st.flags[d] & DET_DONE == 0 {
                        self.stream_start(st, d, base, feed, &mut best);
                    }
                } else {
                    st.flags[d] |= DET_DONE;
                }
                if st.packets[d] == 1 {
                    let hit = if d == 1 { winmx::is_greeting(payload) } else { winmx::is_login(payload) };
                    if hit {
                        st.flags[d] |= WINMX;
                    }
                    if st.flags[0] & st.flags[1] & WINMX != 0 {
                        raise(&mut best, Decision::Detector(DetectorId::WINMX), |x| self.priority(x));
                    }
                    // tinc: both daemons open with an ID request.
                    if services::tinc::is_id_request(payload) {
                        st.flags[d] |= TINC_ID;
                    }
                    if st.flags[0] & st.flags[1] & TINC_ID != 0 {
                        raise(&mut best, Decision::Detector(DetectorId::TINC), |x| self.priority(x));
                    }
                }
            }
            L4::Udp => {
                // This datagram's own proof first, then what it makes of the candidate.
                let mut fresh = None;
                self.services_udp(st, d, payload, &mut fresh);
                let start = self.set.start;
                self.scan(start, feed, 0, L4::Udp, d, &mut fresh);
                let n = pkt.payload_len.max(payload.len());
                if let Some(det) = detect::udp_datagram(payload, n, d == 0) {
                    raise(&mut fresh, Decision::Detector(det), |x| self.priority(x));
                }
                self.utp_exchange(st, d, payload, &mut fresh);
                self.udp_answer(st, d, payload, &mut fresh);
                match (before, fresh) {
                    // Only media ends a STUN lead.
                    (Some(b), Some(Decision::Detector(x))) if leads_on(b) && is_media(x) => {
                        best = Some(Decision::AfterStun(x));
                        weak_kept = true;
                    }
                    (Some(b), _) if leads_on(b) => {}
                    (_, Some(f)) => raise(&mut best, f, |x| self.priority(x)),
                    (_, None) => {}
                }
            }
        }
        st.offset[d] = u16::try_from(base + feed.len()).unwrap_or(u16::MAX);
        if let Some(b) = best
            && best != before
        {
            st.cand = pack(b);
            st.cand_proto = self.protocol_of(b).0;
            // Matched only in a reply to bytes that matched nothing: weak against the cache. (A
            // STUN lead's media keeps the lead's strength.)
            if !weak_kept {
                if d == 1 && st.packets[0] > 0 {
                    st.flags[1] |= CAND_WEAK;
                } else {
                    st.flags[1] &= !CAND_WEAK;
                }
            }
        }
        self.decide(st, pkt, payload, base, peers)
    }

    /// Reads a flow whose verdict is final for the peers it names (see the module docs, step 6).
    /// Cheap: a flag test for flows with nothing to read; for peer-wire streams, a length field per
    /// message. Stops by itself after a bounded number of packets. Never panics.
    pub fn harvest(&self, st: &mut FlowInspect, pkt: &PacketMeta<'_>, peers: &PeerCache) {
        if !st.harvesting() {
            return;
        }
        let Some(kind) = unpack(st.cand).and_then(|c| self.harvest_of(c)) else {
            st.flags[1] &= !HARVEST;
            return;
        };
        let d = idx(pkt.dir);
        let payload = match pkt.l4 {
            L4::Tcp => match Self::tcp_payload(st, d, pkt) {
                Some(p) => p,
                None => return,
            },
            L4::Udp if pkt.payload.is_empty() => return,
            L4::Udp => pkt.payload,
        };
        st.packets[d] = st.packets[d].saturating_add(1);
        if st.packets[0] >= HARVEST_PACKETS && st.packets[1] >= HARVEST_PACKETS {
            st.flags[1] &= !HARVEST;
        }
        if st.packets[d] > HARVEST_PACKETS {
            return;
        }
        self.harvest_packet(st, kind, pkt, d, payload, None, peers);
    }

    /// Harvests one packet. `from` is where the peer-wire messages start in `payload` when this
    /// packet gave the verdict (`None`: continue the direction's framing).
    #[allow(clippy::too_many_arguments)]
    fn harvest_packet(
        &self,
        st: &mut FlowInspect,
        kind: Harvest,
        pkt: &PacketMeta<'_>,
        d: usize,
        payload: &[u8],
        from: Option<usize>,
        peers: &PeerCache,
    ) {
        let sender = if d == 0 { pkt.originator } else { pkt.responder };
        let now = pkt.now;
        // What a sender says of its own address (its listen or DHT port) is taken as said; what it
        // says of others (tracker lists, DHT values and nodes, PEX) only on ports 1024 and up:
        // clients listen on high ports, and no reply may make a web or DNS server a "peer".
        let mut learn = |ip: IpAddr, port: u16| {
            if ip == sender.ip || port >= HEARSAY_MIN_PORT {
                peers.learn(Endpoint { ip, port }, PeerKind::BitTorrent, now);
            }
        };
        match kind {
            Harvest::PeerWire => {
                if st.flags[d] & BROKEN == 0 {
                    let bytes = payload.get(from.unwrap_or(0)..).unwrap_or(&[]);
                    walk_stream(st, d, bytes, sender.ip, &mut learn);
                }
            }
            Harvest::TrackerReply => {
                if d == 1 {
                    bittorrent::tracker_peers(payload, &mut learn);
                }
            }
            Harvest::Dht => bittorrent::dht_peers(payload, sender.ip, &mut learn),
            Harvest::UdpTracker => {
                if d == 0 {
                    if let Some(tid) = bittorrent::announce_tid(payload) {
                        st.next_seq[0] = tid;
                    }
                } else {
                    let v6 = pkt.responder.ip.is_ipv6();
                    bittorrent::announce_peers(payload, st.next_seq[0], v6, &mut learn);
                }
            }
            Harvest::Utp => {
                if let Some(data) = bittorrent::utp_data(payload) {
                    bittorrent::walk_messages(data, sender.ip, &mut learn);
                }
            }
            Harvest::Lsd => {
                if let Some(port) = bittorrent::lsd_port(payload) {
                    learn(sender.ip, port);
                }
            }
        }
    }

    /// What a content decision's flow is read for after the verdict.
    fn harvest_of(&self, c: Decision) -> Option<Harvest> {
        match c {
            Decision::Signature(_) => match self.learn_of(c) {
                Learn::PeerWire => Some(Harvest::PeerWire),
                Learn::TrackerReply => Some(Harvest::TrackerReply),
                Learn::Lsd => Some(Harvest::Lsd),
                Learn::Both if self.protocol_of(c) == ProtocolId::BITTORRENT => Some(Harvest::Utp),
                _ => None,
            },
            Decision::Detector(DetectorId::DHT) => Some(Harvest::Dht),
            Decision::Detector(DetectorId::UDP_TRACKER) => Some(Harvest::UdpTracker),
            Decision::Detector(DetectorId::UTP) => Some(Harvest::Utp),
            _ => None,
        }
    }

    /// Runs the TCP stream-start detectors on the stream's first bytes (kept prefix + this packet).
    fn stream_start(&self, st: &mut FlowInspect, d: usize, base: usize, feed: &[u8], best: &mut Option<Decision>) {
        if base > PREFIX {
            st.flags[d] |= DET_DONE;
            return;
        }
        let mut buf = [0u8; 256];
        let view: &[u8] = if base == 0 {
            feed
        } else {
            buf[..base].copy_from_slice(&st.prefix[d][..base]);
            let take = feed.len().min(buf.len() - base);
            buf[base..base + take].copy_from_slice(&feed[..take]);
            &buf[..base + take]
        };
        let (certain, more) = detect::tcp_stream_start(view, d == 0);
        if let Some(det) = certain {
            raise(best, Decision::Detector(det), |x| self.priority(x));
        }
        if more && view.len() <= PREFIX {
            st.prefix[d][..view.len()].copy_from_slice(view);
        } else {
            st.flags[d] |= DET_DONE;
        }
    }

    /// The everyday-protocol UDP detectors ([`detect::services`]). Their two-datagram proofs keep
    /// their pending half in fields a UDP flow does not otherwise use: `ac[1]`, `next_seq[1]` and
    /// `prefix[1][4..]` (uTP keeps its headers in `prefix[d][..4]`, a reply's hint `ac[0]` and
    /// `next_seq[0]`).
    fn services_udp(&self, st: &mut FlowInspect, d: usize, payload: &[u8], best: &mut Option<Decision>) {
        let b = u16::from_be_bytes([st.prefix[1][4], st.prefix[1][5]]);
        let mut pair = services::Pair::load(st.ac[1], st.next_seq[1], b);
        if let Some(det) = services::udp(&mut pair, d == 0, payload) {
            raise(best, Decision::Detector(det), |x| self.priority(x));
        }
        let (head, a, b) = pair.store();
        (st.ac[1], st.next_seq[1]) = (head, a);
        st.prefix[1][4..6].copy_from_slice(&b.to_be_bytes());
    }

    /// uTP: a header from one side tied to the last one from the other ([`bittorrent::utp_tied`]):
    /// the originator's SYN and the ST_STATE acknowledging it, or, for a connection picked up
    /// after its SYN, packets whose connection ids differ by one and whose acknowledgement is
    /// near the other side's sequence number.
    fn utp_exchange(&self, st: &mut FlowInspect, d: usize, payload: &[u8], best: &mut Option<Decision>) {
        let Some(u) = bittorrent::utp(payload) else { return };
        let o = 1 - d;
        if st.flags[o] & UTP_HDR != 0 {
            let p = &st.prefix[o];
            let (conn, seq) = (u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]]));
            let syn = o == 0 && st.flags[0] & UTP_SYN != 0;
            if bittorrent::utp_tied(conn, seq, syn, &u) {
                raise(best, Decision::Detector(DetectorId::UTP), |x| self.priority(x));
            }
        }
        st.prefix[d][..2].copy_from_slice(&u.conn_id.to_be_bytes());
        st.prefix[d][2..4].copy_from_slice(&u.seq.to_be_bytes());
        st.flags[d] |= UTP_HDR;
        if d == 0 {
            if u.kind == bittorrent::ST_SYN {
                st.flags[0] |= UTP_SYN;
            } else {
                st.flags[0] &= !UTP_SYN;
            }
        }
    }

    /// UDP requests that only their answer can confirm: an answer from the other side to a
    /// remembered request raises its detector; a request-shaped datagram is remembered.
    fn udp_answer(&self, st: &mut FlowInspect, d: usize, payload: &[u8], best: &mut Option<Decision>) {
        let o = 1 - d;
        if st.flags[o] & HINT != 0
            && let Some(hint) = u8::try_from(st.ac[0]).ok().and_then(UdpHint::from_u8)
            && let Some(det) = detect::udp_reply(hint, st.next_seq[0], payload)
        {
            raise(best, Decision::Detector(det), |x| self.priority(x));
            return;
        }
        if let Some((hint, token)) = detect::udp_request(payload) {
            st.ac[0] = hint as u32;
            st.next_seq[0] = token;
            st.flags[d] |= HINT;
            st.flags[o] &= !HINT;
        }
    }

    fn protocol_of(&self, d: Decision) -> ProtocolId {
        match d {
            Decision::Signature(s) => self
                .set
                .sigs
                .get(usize::from(s.0))
                .and_then(|s| if s.protocols.len() == 1 { s.protocols.first().copied() } else { None })
                .unwrap_or(ProtocolId::UNKNOWN),
            Decision::Detector(x) | Decision::AfterStun(x) => x.info().map_or(ProtocolId::UNKNOWN, |i| i.protocol),
            Decision::PeerCache | Decision::PortGuess | Decision::NoMatch | Decision::Related(_) => ProtocolId::UNKNOWN,
        }
    }

    fn exhausted(&self, st: &FlowInspect, d: usize) -> bool {
        st.packets[d] >= self.limits.max_packets || st.offset[d] >= self.limits.max_bytes
    }

    /// True if nothing better than priority `p` can still match in direction `d`.
    fn settled(&self, st: &FlowInspect, l4: L4, d: usize, p: u8) -> bool {
        if self.exhausted(st, d) {
            return true;
        }
        let f = st.flags[d];
        match l4 {
            L4::Tcp => {
                if f & (BROKEN | TURN_DONE) != 0 {
                    return true;
                }
                let sigs_done = self.horizon(L4::Tcp, d, p).is_none_or(|h| st.offset[d] >= h);
                let dets_done = f & DET_DONE != 0 || p >= detect::TCP_DETECTOR_MAX_PRIORITY;
                sigs_done && dets_done
            }
            // Each datagram is judged whole, and a UDP flow's datagrams do not change protocol:
            // the first certain answer stands (a STUN lead is held back in `decide`).
            L4::Udp => true,
        }
    }

    /// The known peer at either end, originator first.
    fn cached(peers: &PeerCache, orig: &Endpoint, resp: &Endpoint, now: u64) -> Option<PeerKind> {
        peers.lookup(resp, now).or_else(|| peers.lookup(orig, now))
    }

    /// The label for candidate `c`, unless `c` is no proof against a cached peer at either end.
    fn with_cache(&self, st: &FlowInspect, c: Decision, f: Ends, peers: &PeerCache) -> Label {
        let Ends { l4, orig, resp, now } = f;
        let label = self.resolve(c, l4, orig, resp);
        let p2p = self.set.registry.category(label.protocol) == crate::registry::Category::P2p;
        // A signature naming several protocols that no port settled proves nothing either.
        let weak = st.flags[1] & CAND_WEAK != 0
            || c == Decision::Detector(DetectorId::TLS_MIDSTREAM)
            || label.protocol == ProtocolId::UNKNOWN;
        if !p2p
            && weak
            && let Some(k) = Self::cached(peers, &orig, &resp, now)
        {
            return Label { protocol: k.protocol(), decision: Decision::PeerCache };
        }
        label
    }

    fn decide(
        &self,
        st: &mut FlowInspect,
        pkt: &PacketMeta<'_>,
        payload: &[u8],
        base: usize,
        peers: &PeerCache,
    ) -> Verdict {
        let (l4, orig, resp, now) = (pkt.l4, pkt.originator, pkt.responder, pkt.now);
        let any_exhausted = self.exhausted(st, 0) || self.exhausted(st, 1);
        let cand = unpack(st.cand).filter(|x| is_content(*x));
        let label = match cand {
            Some(c) => {
                let p = self.priority(c);
                // A UDP STUN candidate is read on for the media after it (module docs, step 3).
                let lead = l4 == L4::Udp && leads_on(c);
                let ready = !lead && self.settled(st, l4, 0, p) && self.settled(st, l4, 1, p);
                if !(ready || any_exhausted) {
                    if lead {
                        st.flags[1] |= STUN_LEAD;
                    }
                    return Verdict::Pending;
                }
                self.with_cache(st, c, Ends { l4, orig, resp, now }, peers)
            }
            None => {
                let both_spoke = st.packets[0] > 0 && st.packets[1] > 0;
                let dets_done = l4 == L4::Udp || st.flags[0] & st.flags[1] & DET_DONE != 0;
                let known = if both_spoke && dets_done { Self::cached(peers, &orig, &resp, now) } else { None };
                match known {
                    Some(k) => Label { protocol: k.protocol(), decision: Decision::PeerCache },
                    None if any_exhausted => self.fallback(l4, orig, resp, peers, now),
                    None => return Verdict::Pending,
                }
            }
        };
        st.cand = pack(label.decision);
        st.cand_proto = label.protocol.0;
        st.flags[0] |= DONE;
        if let Some(c) = cand.filter(|&c| c == label.decision) {
            self.learn_at_verdict(st, c, pkt, payload, base, peers);
        }
        Verdict::Done(label)
    }

    /// A content verdict for a protocol the cache keeps: learn the endpoints its learn mode names,
    /// and set up reading on after the verdict (harvesting this packet's rest at once).
    fn learn_at_verdict(
        &self,
        st: &mut FlowInspect,
        c: Decision,
        pkt: &PacketMeta<'_>,
        payload: &[u8],
        base: usize,
        peers: &PeerCache,
    ) {
        let Some(kind) = PeerKind::of(self.protocol_of(c)) else { return };
        let now = pkt.now;
        match self.learn_of(c) {
            Learn::Responder | Learn::PeerWire => peers.learn(pkt.responder, kind, now),
            Learn::Both => {
                peers.learn(pkt.originator, kind, now);
                peers.learn(pkt.responder, kind, now);
            }
            Learn::None | Learn::TrackerReply | Learn::Lsd => {}
        }
        let Some(h) = self.harvest_of(c) else { return };
        let d = idx(pkt.dir);
        st.flags[1] |= HARVEST;
        let mut from = None;
        if h == Harvest::PeerWire {
            // Message framing: after each direction's 68-byte handshake. The harvest state reuses
            // the automaton state (bytes to skip) and the stream offset (header bytes held).
            for e in 0..2 {
                let seen = if e == d { base } else { usize::from(st.offset[e]) };
                if seen > HANDSHAKE_LEN || (e != d && st.flags[e] & BROKEN != 0) {
                    st.flags[e] |= BROKEN;
                }
                st.ac[e] = HANDSHAKE_LEN.saturating_sub(seen) as u32;
                st.offset[e] = 0;
            }
            if st.flags[d] & BROKEN == 0 {
                from = Some(0);
            }
        }
        if h == Harvest::UdpTracker && (st.flags[0] | st.flags[1]) & HINT == 0 {
            // The verdict came from a connect request: no announce seen yet.
            st.next_seq[0] = 0;
        }
        if from.is_some() || h != Harvest::PeerWire {
            self.harvest_packet(st, h, pkt, d, payload, from, peers);
        }
    }

    /// The label for a content decision; signatures naming several protocols are settled by port.
    fn resolve(&self, c: Decision, l4: L4, orig: Endpoint, resp: Endpoint) -> Label {
        if let Decision::Signature(s) = c
            && let Some(sig) = self.set.sigs.get(usize::from(s.0))
            && sig.protocols.len() > 1
        {
            return match self.port_guess(l4, orig, resp).filter(|p| sig.protocols.contains(p)) {
                Some(p) => Label { protocol: p, decision: Decision::PortGuess },
                None => Label::NO_MATCH,
            };
        }
        let protocol = self.protocol_of(c);
        // mDNS and LLMNR are DNS messages on their own ports (RFC 6762, RFC 4795): the port breaks
        // the tie, and the label says so.
        if protocol == ProtocolId::DNS
            && l4 == L4::Udp
            && let Some(p) =
                self.port_guess(l4, orig, resp).filter(|p| matches!(*p, ProtocolId::MDNS | ProtocolId::LLMNR))
        {
            return Label { protocol: p, decision: Decision::PortGuess };
        }
        Label { protocol, decision: c }
    }

    fn fallback(&self, l4: L4, orig: Endpoint, resp: Endpoint, peers: &PeerCache, now: u64) -> Label {
        if let Some(k) = Self::cached(peers, &orig, &resp, now) {
            return Label { protocol: k.protocol(), decision: Decision::PeerCache };
        }
        match self.port_guess(l4, orig, resp) {
            Some(p) => Label { protocol: p, decision: Decision::PortGuess },
            None => Label::NO_MATCH,
        }
    }

    /// The well-known port's protocol: the built-in table (the responder's port first), then the
    /// signature file's `[[port]]` tables (likewise).
    fn port_guess(&self, l4: L4, orig: Endpoint, resp: Endpoint) -> Option<ProtocolId> {
        let ports = &self.set.ports;
        port_guess(l4, orig, resp).or_else(|| ports.get(l4, resp.port)).or_else(|| ports.get(l4, orig.port))
    }

    /// The flow ends (FIN/RST, idle timeout, eviction, end of capture) while still pending: the
    /// best label from what was seen (a candidate, the peer cache, a port guess, else unknown).
    /// `now` is the time of the end (for the cache's ageing).
    pub fn finish(
        &self,
        state: &FlowInspect,
        l4: L4,
        originator: Endpoint,
        responder: Endpoint,
        peers: &PeerCache,
        now: u64,
    ) -> Label {
        if let Some(l) = state.verdict() {
            return l;
        }
        match unpack(state.cand).filter(|x| is_content(*x)) {
            Some(c) => self.with_cache(state, c, Ends { l4, orig: originator, resp: responder, now }, peers),
            None => self.fallback(l4, originator, responder, peers, now),
        }
    }
}

/// A flow's transport and ends, and the time.
#[derive(Clone, Copy)]
struct Ends {
    l4: L4,
    orig: Endpoint,
    resp: Endpoint,
    now: u64,
}

/// The stateful peer-wire walk over a direction's new stream bytes after the verdict: `ac[d]`
/// bytes to skip before the next message header, `offset[d]` header bytes already held in
/// `prefix[d]`. A length past [`bittorrent::MAX_MESSAGE`] means the stream is not framed as
/// thought: harvesting that direction stops.
fn walk_stream(st: &mut FlowInspect, d: usize, mut b: &[u8], sender: IpAddr, learn: &mut impl FnMut(IpAddr, u16)) {
    loop {
        let skip = st.ac[d] as usize;
        if skip >= b.len() {
            st.ac[d] = (skip - b.len()) as u32;
            return;
        }
        b = &b[skip..];
        st.ac[d] = 0;
        let held = usize::from(st.offset[d]).min(4);
        let take = (4 - held).min(b.len());
        let mut hdr = [0u8; 4];
        hdr[..held].copy_from_slice(&st.prefix[d][..held]);
        hdr[held..held + take].copy_from_slice(&b[..take]);
        if held + take < 4 {
            st.prefix[d][..held + take].copy_from_slice(&hdr[..held + take]);
            st.offset[d] = (held + take) as u16;
            return;
        }
        st.offset[d] = 0;
        b = &b[take..];
        let len = u32::from_be_bytes(hdr);
        if len > bittorrent::MAX_MESSAGE {
            st.flags[d] |= BROKEN;
            return;
        }
        bittorrent::message_peers(&b[..(len as usize).min(b.len())], sender, &mut *learn);
        st.ac[d] = len;
    }
}

/// A decision made by content (a signature or a detector), which can be a candidate.
fn is_content(d: Decision) -> bool {
    matches!(d, Decision::Signature(_) | Decision::Detector(_) | Decision::AfterStun(_))
}

/// A STUN candidate, which a UDP flow reads on from (see the module docs, step 3).
fn leads_on(d: Decision) -> bool {
    matches!(d, Decision::Detector(DetectorId::STUN | DetectorId::STUN_CLASSIC))
}

/// The media an ICE check sets up, multiplexed with STUN on one 5-tuple (RFC 7983): DTLS (the
/// DTLS-SRTP handshake, RFC 5764), RTP and RTCP (SRTP and SRTCP keep their headers in the clear).
fn is_media(x: DetectorId) -> bool {
    matches!(x, DetectorId::DTLS | DetectorId::RTP | DetectorId::RTCP)
}

/// Replaces `best` with `new` if `new` has a strictly higher priority.
fn raise(best: &mut Option<Decision>, new: Decision, prio: impl Fn(Decision) -> u8) {
    match best {
        Some(b) if prio(*b) >= prio(new) => {}
        _ => *best = Some(new),
    }
}

/// Well-known ports of client-server protocols; the responder's port first, then the
/// originator's. Never a peer-to-peer protocol: a port is whatever the sender chose (a scan, a
/// NAT mapping, an ephemeral port), and an inline box that drops P2P must have proof.
fn port_guess(l4: L4, orig: Endpoint, resp: Endpoint) -> Option<ProtocolId> {
    let tcp = |port: u16| match port {
        80 | 8080 => Some(ProtocolId::HTTP),
        443 => Some(ProtocolId::TLS),
        22 => Some(ProtocolId::SSH),
        25 | 465 | 587 => Some(ProtocolId::SMTP),
        110 | 995 => Some(ProtocolId::POP3),
        143 | 993 => Some(ProtocolId::IMAP),
        21 => Some(ProtocolId::FTP),
        53 => Some(ProtocolId::DNS),
        5060 | 5061 => Some(ProtocolId::SIP),
        _ => None,
    };
    let udp = |port: u16| match port {
        53 => Some(ProtocolId::DNS),
        443 => Some(ProtocolId::QUIC),
        5060 => Some(ProtocolId::SIP),
        _ => None,
    };
    let f = |port| match l4 {
        L4::Tcp => tcp(port),
        L4::Udp => udp(port),
    };
    f(resp.port).or_else(|| f(orig.port))
}

struct Describe<'a> {
    c: &'a Classifier,
    d: Decision,
}

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.d {
            Decision::Signature(s) => write!(f, "signature:{}", self.c.signature_name(s).unwrap_or("?")),
            Decision::Detector(x) => write!(f, "detector:{}", x.name()),
            Decision::AfterStun(x) => write!(f, "detector:{} after stun", x.name()),
            Decision::PortGuess => f.write_str("port guess"),
            Decision::PeerCache => f.write_str("peer cache"),
            Decision::NoMatch => f.write_str("no match"),
            Decision::Related(r) => f.write_str(r.describe()),
        }
    }
}

#[cfg(test)]
#[path = "classifier_tests.rs"]
mod tests;
