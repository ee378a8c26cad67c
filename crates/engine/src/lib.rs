//! The per-packet pipeline of weir: wire → flow → dpi → counters.
//!
//! The engine takes frames from anywhere (a pcap file in `weir classify`, AF_XDP rings in the
//! bridge, byte slices in tests and benches) together with a `now` in nanoseconds that the caller
//! reads once per batch. It knows nothing of AF_XDP or files and never reads the clock.
//!
//! Contract:
//! - [`Engine::process`] never panics and never allocates for any input bytes. A frame that does
//!   not parse is counted under its [`WireError`] and reported as [`Outcome::Malformed`]; the
//!   caller decides (by policy) whether to pass or drop it.
//! - A flow is inspected only while its label is pending; then the label is sticky and the flow
//!   costs one lookup per packet.
//! - Packets of a flow seen before its label was known are attributed to its protocol when the
//!   label arrives, so after [`Engine::flush`] the per-protocol totals add up to all IP traffic.
//!   (A UDP flow that opened with STUN and is read on for its media is reported as STUN packet by
//!   packet meanwhile, for the policy, and counted under its final label, STUN or the media's.)
//! - Counters have one writer, the engine that owns them; others read them through an `Arc`.
//! - A tunnelled frame (PPPoE, MPLS, GRE, IP in IP, VXLAN, GTP-U; see `weir_wire::parse_frame`)
//!   belongs to the flow of its innermost IP packet and counts at its whole length on the wire;
//!   [`EngineCounters::encapsulated`] says how many frames each kind of tunnel carried.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod active;
mod counters;
mod fragments;
mod related;
mod top;

pub use active::Reported;
pub use counters::{Direction, EngineCounters, ProtoCounters};
pub use related::{Expectations, RelatedConfig, RelatedCounters};
pub use top::{SAMPLE as TOP_SAMPLE, TopCandidate, top_flows};
pub use weir_dpi::{Classifier, DEFAULT_PEER_TTL_S, Label, PROTOCOL_HEADROOM, PeerCache, ProtocolId};
pub use weir_flow::{EndReason, FlowKey, FlowTable, FlowTableConfig, Timeouts};
pub use weir_stats::hosts::HostTopK;
pub use weir_wire::{Encap, Ingress, LinkType, Sender, WireError};

use active::ActiveTable;
use core::net::IpAddr;
use fragments::FragmentCache;
use ipnet::IpNet;
use parking_lot::Mutex;
use std::sync::Arc;
use top::TopFlows;
use weir_dpi::{Decision, Endpoint, FlowInspect, L4, PacketMeta, Verdict};
use weir_flow::{Flow, FlowDir, Seen};
use weir_wire::{IpProtocol, Network, Transport};

/// How often idle flows are swept, in packet-time nanoseconds.
const EXPIRE_EVERY_NS: u64 = 1_000_000_000;
/// How often the flows due for an interim report are looked at, and at most how many each time:
/// small steps, so a sweep never holds up a batch for long.
const ACTIVE_EVERY_NS: u64 = 10_000_000;
const ACTIVE_PER_SWEEP: usize = 256;
/// How often the engine refreshes the published copy of its host table.
const PUBLISH_EVERY_NS: u64 = 1_000_000_000;

/// The engine's per-flow state, stored in the flow table beside the flow's counters.
///
/// The label is not stored twice: a TCP or UDP flow's final label lives in its inspection state
/// ([`FlowInspect::verdict`]), and a flow of any other IP protocol is labelled by that protocol.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowState {
    inspect: FlowInspect,
    /// [`ORIGINATOR_INSIDE`], [`REPORTED`], [`UNTRACKED`].
    flags: u8,
    /// The epoch of the classifier that started the flow's inspection (see
    /// [`Engine::set_classifier`]); in what was padding, so the entry does not grow.
    epoch: u8,
    /// The outer VLAN id of the flow's first packet; 0 when it had no tag.
    vlan: u16,
}

/// The side that opened the flow is inside (its packets travel outbound).
const ORIGINATOR_INSIDE: u8 = 1;
/// The flow has had an interim report, and has an entry in the active table.
const REPORTED: u8 = 2;
/// The flow passed its active timeout when the active table was full: no interim reports.
const UNTRACKED: u8 = 4;

impl FlowState {
    /// Whether the side that opened the flow is inside.
    #[inline]
    fn originator_inside(&self) -> bool {
        self.flags & ORIGINATOR_INSIDE != 0
    }

    /// The flow's final label, if it has one. `portless` labels flows without ports.
    #[inline]
    fn label(&self, ip_protocol: u8, portless: Label) -> Option<Label> {
        match l4_of(ip_protocol) {
            Some(_) => self.inspect.verdict(),
            None => Some(portless),
        }
    }
}

/// One active flow, as the stats thread reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSnapshot {
    /// IP protocol number.
    pub ip_protocol: u8,
    /// The side that opened the flow.
    pub originator: (IpAddr, u16),
    /// The other side.
    pub responder: (IpAddr, u16),
    /// The label, or `None` while inspection is pending.
    pub protocol: Option<ProtocolId>,
    /// Wire bytes, both directions.
    pub bytes: u64,
    /// Packets, both directions.
    pub packets: u64,
}

/// What the engine made of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The frame did not parse.
    Malformed(WireError),
    /// Not IP (ARP, LLDP, ...): never inspected, always passed by a transparent bridge.
    NonIp,
    /// An IP packet of a flow.
    Ip {
        /// The flow's protocol, or `None` while inspection is still pending. (A UDP flow that
        /// opened with STUN is STUN while it is read on for the DTLS or RTP after the checks; see
        /// [`weir_dpi::FlowInspect::provisional`].)
        protocol: Option<ProtocolId>,
        /// Which way the packet travels.
        direction: Direction,
    },
}

/// A flow that has ended, for `--flows` output, logs and flow export.
///
/// Counts and times cover the whole flow. With active timeouts on, a long flow also had interim
/// [`ActiveRecord`]s; `reported` says what they covered, so this record's own share is
/// `reported.since(packets, bytes)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub ip_protocol: u8,
    /// The side that opened the flow.
    pub originator: (IpAddr, u16),
    /// The other side.
    pub responder: (IpAddr, u16),
    /// Whether the originator is inside.
    pub originator_inside: bool,
    /// What the flow carried and how that was decided.
    pub label: Label,
    /// Packets from the originator and from the responder.
    pub packets: [u64; 2],
    /// Wire bytes from the originator and from the responder.
    pub bytes: [u64; 2],
    /// First and last packet times (ns).
    pub first_seen: u64,
    /// Last packet time (ns).
    pub last_seen: u64,
    /// Why it ended.
    pub end: EndReason,
    /// The outer VLAN id of the flow's first packet; 0 when it had no tag.
    pub vlan: u16,
    /// What earlier interim reports of this flow covered (zero when there were none).
    pub reported: Reported,
}

/// An interim report of a flow still active: it outlived the active timeout (once when it first
/// passes it, then every timeout after, if packets came). Fields as in [`FlowRecord`]: counts and
/// times since the flow began, and what earlier reports covered; this report's share is
/// `reported.since(packets, bytes)`, from `reported.at` (or `first_seen`) to `last_seen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveRecord {
    /// IP protocol number.
    pub ip_protocol: u8,
    /// The side that opened the flow.
    pub originator: (IpAddr, u16),
    /// The other side.
    pub responder: (IpAddr, u16),
    /// Whether the originator is inside.
    pub originator_inside: bool,
    /// The flow's label.
    pub label: Label,
    /// Packets from the originator and from the responder, since the flow began.
    pub packets: [u64; 2],
    /// Wire bytes from the originator and from the responder, since the flow began.
    pub bytes: [u64; 2],
    /// First packet time (ns).
    pub first_seen: u64,
    /// Last packet time (ns).
    pub last_seen: u64,
    /// The outer VLAN id of the flow's first packet; 0 when it had no tag.
    pub vlan: u16,
    /// What earlier reports covered.
    pub reported: Reported,
}

/// Who ends idle flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Expiry {
    /// The engine itself, inside [`Engine::process`], sweeping every shard once per second of
    /// packet time: for one engine over a capture.
    #[default]
    Inline,
    /// Someone else (the bridge's control thread, with an engine of its own, one shard at a time
    /// through [`Engine::expire_shard`]): the data path never sweeps.
    External,
}

/// Settings of one engine.
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    /// Inside networks for [`Ingress::Unknown`] frames; empty: the originator is inside.
    pub inside: Vec<IpNet>,
    /// Keep a [`FlowRecord`] for every flow that ends (drained with [`Engine::drain_records`])
    /// and, with an active timeout, an [`ActiveRecord`] for every interim report
    /// ([`Engine::drain_active`]).
    pub record_flows: bool,
    /// Who ends idle flows, and makes the interim reports of long flows.
    pub expiry: Expiry,
    /// Candidates for the heaviest flows kept on the data path ([`Engine::take_top`]); 0: none.
    pub top_flows: usize,
    /// Active timeout (ns): a labelled flow that lasts longer is reported while it runs, every
    /// this long (to the records and the per-host counts). 0: only when it ends.
    pub active_timeout_ns: u64,
    /// Per-host accounting: most (host, protocol) pairs this engine tracks ([`HostTopK`]);
    /// 0: off.
    pub host_capacity: usize,
    /// Say which flows a kernel fast path may take over ([`Engine::fast_hint`]) and keep the
    /// keys of the flows that end ([`Engine::drain_ended`]), so the bridge keeps its XDP flow
    /// map in step with the table.
    pub fast_hints: bool,
}

/// A flow whose verdict the kernel can carry out from now on: its label is final (not pending,
/// not provisional), it is not read on for peers or announced flows, and its frames parse
/// plainly (no tunnel, no fragment, TCP, UDP, ICMP or ICMPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecidedFlow {
    /// The flow's key.
    pub key: FlowKey,
    /// The outer VLAN id of its frames (0 untagged).
    pub vlan: u16,
    /// Its label's protocol.
    pub protocol: ProtocolId,
    /// Whether frames from the key's lower endpoint to its higher one travel outbound.
    pub lo_outbound: bool,
    /// When the flow began (a later flow on the same key is another flow).
    pub first_seen: u64,
}

/// What the last packet means for a kernel fast path ([`Engine::fast_hint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastHint {
    /// Nothing to do.
    None,
    /// The flow may be installed.
    Decided(DecidedFlow),
}

/// Shared parts that several engines (one per worker) use together.
///
/// The peer cache is shared without a lock: lookups (one or two per pending packet, under the
/// flow-table shard lock) only load from it, and learning takes one of its buckets for a few
/// stores (see [`PeerCache`]). No engine ever waits for another on it.
#[derive(Clone)]
pub struct Shared {
    /// The compiled signatures and detectors.
    pub classifier: Arc<Classifier>,
    /// The flow table.
    pub table: Arc<FlowTable<FlowState>>,
    /// BitTorrent and Direct Connect peers learned from the flows' content.
    pub peers: Arc<PeerCache>,
    /// Flows that control flows announced (FTP data, TFTP transfers, SIP media).
    pub related: Arc<Expectations>,
    /// Flows that have had an interim report (see [`EngineConfig::active_timeout_ns`]).
    active: Arc<Mutex<ActiveTable>>,
}

impl Shared {
    /// Shared parts with a table of the given shape and a peer cache of `peer_capacity`
    /// endpoints, each a peer for [`DEFAULT_PEER_TTL_S`] after it was last learned.
    ///
    /// # Errors
    /// If the flow-table configuration is invalid.
    pub fn new(
        classifier: Arc<Classifier>,
        table: FlowTableConfig,
        peer_capacity: usize,
    ) -> Result<Self, weir_flow::FlowConfigError> {
        Shared::with_peers(classifier, table, PeerCache::new(peer_capacity, DEFAULT_PEER_TTL_S))
    }

    /// Shared parts with a table of the given shape and the given peer cache.
    ///
    /// # Errors
    /// If the flow-table configuration is invalid.
    pub fn with_peers(
        classifier: Arc<Classifier>,
        table: FlowTableConfig,
        peers: PeerCache,
    ) -> Result<Self, weir_flow::FlowConfigError> {
        Ok(Shared {
            classifier,
            table: Arc::new(FlowTable::new(table)?),
            peers: Arc::new(peers),
            related: Arc::new(Expectations::new(RelatedConfig::default())),
            // Long flows are a minority; an eighth of the table is room for plenty of them, and
            // it is only allocated if an engine has an active timeout.
            active: Arc::new(Mutex::new(ActiveTable::new((table.capacity / 8).max(64)))),
        })
    }

    /// The same parts with an expectation table of other bounds (the default: 4096 expectations,
    /// 120 s; capacity 0 turns related-flow labelling off).
    pub fn with_related(mut self, config: RelatedConfig) -> Self {
        self.related = Arc::new(Expectations::new(config));
        self
    }

    /// Flows tracked for interim reports now.
    pub fn active_flows(&self) -> usize {
        self.active.lock().len()
    }
}

/// How many classifiers an engine keeps from before the current one, for the flows whose
/// inspection began under them.
const CLASSIFIER_HISTORY: usize = 3;

/// The classifiers an engine inspects with: the current one, by its epoch, and the last few
/// before it. A flow is inspected to its verdict by the classifier that began its inspection
/// (its [`FlowInspect`] holds automaton states and signature ids of that one); a flow older
/// than all of them starts its inspection afresh under the current one.
struct Classifiers {
    current: Arc<Classifier>,
    epoch: u8,
    older: [(u8, Option<Arc<Classifier>>); CLASSIFIER_HISTORY],
    /// Where the next one retired goes in `older`.
    next: usize,
}

impl Classifiers {
    fn new(current: Arc<Classifier>) -> Classifiers {
        Classifiers { current, epoch: 1, older: Default::default(), next: 0 }
    }

    /// The classifier of `epoch` (0: a flow not yet stamped, the current one), if still kept.
    #[inline]
    fn of(&self, epoch: u8) -> Option<&Classifier> {
        if epoch == self.epoch || epoch == 0 {
            return Some(&self.current);
        }
        self.older.iter().find(|(e, _)| *e == epoch).and_then(|(_, c)| c.as_deref())
    }

    fn set(&mut self, classifier: Arc<Classifier>, epoch: u8) {
        if epoch == self.epoch {
            self.current = classifier;
            return;
        }
        let old = std::mem::replace(&mut self.current, classifier);
        self.older[self.next] = (self.epoch, Some(old));
        self.next = (self.next + 1) % CLASSIFIER_HISTORY;
        self.epoch = epoch;
    }
}

/// One pipeline instance: one per worker thread, or one for a capture file.
pub struct Engine {
    shared: Shared,
    classifiers: Classifiers,
    counters: Arc<EngineCounters>,
    config: EngineConfig,
    fragments: FragmentCache,
    records: Vec<FlowRecord>,
    reports: Vec<ActiveRecord>,
    hosts: HostTopK,
    hosts_published: Arc<Mutex<HostTopK>>,
    next_expire: u64,
    next_active: u64,
    next_publish: u64,
    due: Vec<(u64, FlowKey)>,
    top: TopFlows,
    /// The flow-table hash of the last IP packet's flow (see [`Engine::last_flow_hash`]).
    last_hash: u64,
    /// What the last packet means for a kernel fast path (with `fast_hints`).
    fast: FastHint,
    /// Keys (and VLAN ids) of the flows that ended since the last drain (with `fast_hints`).
    ended: Vec<(FlowKey, u16)>,
}

impl Engine {
    /// A new engine over `shared` parts.
    pub fn new(shared: Shared, config: EngineConfig) -> Self {
        // Room for the protocols a reload's signatures may add.
        let counters = Arc::new(EngineCounters::new(shared.classifier.registry().len() + PROTOCOL_HEADROOM));
        let classifiers = Classifiers::new(Arc::clone(&shared.classifier));
        // An engine whose flows someone else sweeps leaves the interim reports to it too.
        let (next_expire, next_active) = match config.expiry {
            Expiry::Inline => (0, 0),
            Expiry::External => (u64::MAX, u64::MAX),
        };
        let top = TopFlows::new(config.top_flows);
        let hosts = HostTopK::new(config.host_capacity);
        let hosts_published = Arc::new(Mutex::new(HostTopK::new(config.host_capacity)));
        Engine {
            shared,
            classifiers,
            counters,
            config,
            fragments: FragmentCache::new(),
            records: Vec::new(),
            reports: Vec::new(),
            hosts,
            hosts_published,
            next_expire,
            next_active,
            next_publish: 0,
            last_hash: 0,
            fast: FastHint::None,
            ended: Vec::new(),
            due: Vec::with_capacity(ACTIVE_PER_SWEEP),
            top,
        }
    }

    /// Append the heaviest flows offered since the last call to `into`, and start afresh. Look
    /// them up with [`top_flows`].
    pub fn take_top(&mut self, into: &mut Vec<TopCandidate>) {
        self.top.take(into);
    }

    /// The settings it was made with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The flow-table hash of the flow of the last packet [`Engine::process`] returned
    /// [`Outcome::Ip`] for (the shaper's fair queueing picks a flow's queue by it).
    #[inline]
    pub fn last_flow_hash(&self) -> u64 {
        self.last_hash
    }

    /// What the last packet [`Engine::process`] saw means for a kernel fast path: whether its
    /// flow may be installed. Always [`FastHint::None`] without `fast_hints`.
    #[inline]
    pub fn fast_hint(&self) -> FastHint {
        self.fast
    }

    /// The keys and VLAN ids of the flows that ended (any reason) since the last call; empty
    /// without `fast_hints`.
    pub fn drain_ended(&mut self) -> std::vec::Drain<'_, (FlowKey, u16)> {
        self.ended.drain(..)
    }

    /// Adds what a kernel fast path counted for the flow of `key` to it in the table: packets
    /// and bytes per key direction (lower to higher endpoint first) and its last sight, so its
    /// idle expiry, its record and its hosts see them. A labelled flow that has now lasted past
    /// the active timeout gets its first interim report here (its packets no longer reach the
    /// packet path that would make it; the later ones are the sweeper's as always). False if
    /// the table does not hold it.
    pub fn credit(&mut self, key: &FlowKey, packets: [u64; 2], bytes: [u64; 2], last_seen: u64, now: u64) -> bool {
        let active_ns = self.config.active_timeout_ns;
        let Engine { shared, classifiers, config, records, reports, hosts, counters, ended, .. } = self;
        let table = &*shared.table;
        let hash = table.hash(key);
        let mut shard = table.lock(table.shard_of(hash));
        if !shard.credit(key, hash, packets, bytes, last_seen) {
            return false;
        }
        if active_ns != 0
            && let Some(flow) = shard.get_mut(key, hash)
            && flow.value.flags & (REPORTED | UNTRACKED) == 0
            && now.saturating_sub(flow.first_seen) >= active_ns
        {
            let proto = flow.key.protocol();
            if let Some(label) = flow.value.label(proto, portless_label(proto)) {
                let ended = config.fast_hints.then_some(ended);
                let mut sink =
                    Sink { shared, classifiers, counters, record: config.record_flows, records, reports, hosts, ended };
                sink.first_report(flow, label, now, active_ns);
            }
        }
        true
    }

    /// Whether the table holds the flow of `key` and it began at `first_seen` (`None`: any).
    pub fn holds(&self, key: &FlowKey) -> Option<u64> {
        let table = &*self.shared.table;
        let hash = table.hash(key);
        table.lock(table.shard_of(hash)).get(key, hash).map(|f| f.first_seen)
    }

    /// This engine's counters (for a stats reader).
    pub fn counters(&self) -> &Arc<EngineCounters> {
        &self.counters
    }

    /// The classifier new flows are inspected with.
    pub fn classifier(&self) -> &Classifier {
        &self.classifiers.current
    }

    /// The epoch of [`Engine::classifier`] (1 for the one it was made with).
    pub fn classifier_epoch(&self) -> u8 {
        self.classifiers.epoch
    }

    /// Inspect with `classifier` from now on, as epoch `epoch` (a live reload's new signatures
    /// or inspection limits; the bridge passes the policy generation's companion and its epoch,
    /// so the same epoch is the same classifier in every engine). Decided flows keep their
    /// labels. A flow whose inspection is pending goes on to its verdict under the classifier
    /// that began it while the engine keeps that one (the last few epochs); an older one starts
    /// its inspection afresh under this one from its next packet (its packets so far still
    /// count to the label it then gets). Protocol ids beyond the counters' room (see
    /// [`PROTOCOL_HEADROOM`]) count to a spare row: the control plane refuses such signatures.
    pub fn set_classifier(&mut self, classifier: Arc<Classifier>, epoch: u8) {
        self.classifiers.set(classifier, epoch);
    }

    /// The flow table.
    pub fn table(&self) -> &FlowTable<FlowState> {
        &self.shared.table
    }

    /// Take the records of flows that ended since the last call.
    pub fn drain_records(&mut self) -> std::vec::Drain<'_, FlowRecord> {
        self.records.drain(..)
    }

    /// Take the interim reports made since the last call.
    pub fn drain_active(&mut self) -> std::vec::Drain<'_, ActiveRecord> {
        self.reports.drain(..)
    }

    /// This engine's per-host table, up to date (for a capture, after [`Engine::flush`]).
    pub fn hosts(&self) -> &HostTopK {
        &self.hosts
    }

    /// A copy of this engine's per-host table that the engine refreshes every second of packet
    /// time and at [`Engine::flush`], for a stats thread to merge ([`weir_stats::hosts::merge`]).
    pub fn published_hosts(&self) -> Arc<Mutex<HostTopK>> {
        Arc::clone(&self.hosts_published)
    }

    /// Run one frame through the pipeline. `wire_len` is the frame's length on the wire (a
    /// capture may hold fewer bytes); `now` is in nanoseconds.
    pub fn process(&mut self, frame: &[u8], wire_len: u32, link: LinkType, ingress: Ingress, now: u64) -> Outcome {
        self.fast = FastHint::None;
        let c = &*self.counters;
        c.packets.inc();
        c.bytes.add(u64::from(wire_len));
        // A capture's snaplen may have cut the frame: its headers still tell the flow, and the
        // captured start of the payload is what the DPI gets (on the wire, wire_len == len).
        let parsed = match weir_wire::parse_frame_captured(frame, link, wire_len as usize) {
            Ok(f) => {
                if wire_len as usize > frame.len() {
                    c.snaplen_cut.inc();
                }
                if !f.encap.is_empty() {
                    c.count_encapsulation(&f.encap, wire_len);
                }
                f
            }
            Err(e) => {
                c.count_malformed(e, wire_len);
                return Outcome::Malformed(e);
            }
        };
        let vlan = parsed.outer_vlan.unwrap_or(0);
        let ip = match parsed.network {
            Network::NonIp { .. } => {
                c.non_ip_packets.inc();
                c.non_ip_bytes.add(u64::from(wire_len));
                return Outcome::NonIp;
            }
            Network::Ip(ip) => ip,
        };
        let proto = u8::from(ip.protocol);
        let (sport, dport, tcp_flags, tcp_seq, payload, l4) = match ip.transport {
            Transport::Tcp { src_port, dst_port, seq, flags, payload, .. } => {
                (src_port, dst_port, flags.0, Some(seq), payload, Some(L4::Tcp))
            }
            Transport::Udp { src_port, dst_port, payload } => (src_port, dst_port, 0, None, payload, Some(L4::Udp)),
            Transport::Icmp { .. } => (0, 0, 0, None, &[][..], None),
            Transport::Other { .. } => (0, 0, 0, None, &[][..], None),
        };
        // Fragments: the first carries the ports; later ones borrow them from the cache so the
        // whole datagram counts to its flow. Only the first fragment's payload is inspected.
        let (sport, dport, l4, payload) = match ip.fragment {
            Some(f) if f.offset == 0 => {
                c.fragments.inc();
                self.fragments.remember(ip.src, ip.dst, f.id, proto, sport, dport);
                (sport, dport, l4, payload)
            }
            Some(f) => {
                c.fragments.inc();
                match self.fragments.lookup(ip.src, ip.dst, f.id, proto) {
                    Some((s, d)) => (s, d, l4_of(proto), &[][..]),
                    None => {
                        c.fragments_unmatched.inc();
                        (0, 0, l4_of(proto), &[][..])
                    }
                }
            }
            None => (sport, dport, l4, payload),
        };
        // A capture's snaplen shortens the payload, not the packet: the IP length says how long
        // it was (the payload is a subslice of `frame`, so its offset there is a pointer
        // difference). Detectors check lengths against it and contents as far as captured.
        let payload_len = match (l4, ip.fragment) {
            (Some(_), None) if wire_len as usize > frame.len() => {
                let offset = (payload.as_ptr() as usize).wrapping_sub(frame.as_ptr() as usize);
                let ip_end = usize::from(ip.ip_offset) + usize::from(ip.ip_len);
                if offset <= frame.len() { ip_end.saturating_sub(offset).max(payload.len()) } else { payload.len() }
            }
            _ => payload.len(),
        };

        let (key, key_dir) = FlowKey::new(ip.src, sport, ip.dst, dport, proto);
        let portless = portless_label(proto);
        let active_ns = self.config.active_timeout_ns;
        let hash = self.shared.table.hash(&key);
        self.last_hash = hash;
        // Whether the kernel could take this flow's frames (see [`DecidedFlow`]).
        let plain = self.config.fast_hints
            && parsed.encap.is_empty()
            && ip.fragment.is_none()
            && matches!(proto, 1 | 6 | 17 | 58)
            && parsed.vlan_depth <= 2;
        let ending = plain && proto == 6 && tcp_flags & (weir_flow::tcp_flags::FIN | weir_flow::tcp_flags::RST) != 0;
        let Engine { shared, classifiers, config, records, reports, hosts, top, fast, ended, .. } = self;
        let classifiers = &*classifiers;
        let table = &*shared.table;
        let mut shard = table.lock(table.shard_of(hash));
        let seen = Seen { dir: key_dir, now, wire_len, tcp_flags };
        let ended = config.fast_hints.then_some(ended);
        let mut sink =
            Sink { shared, classifiers, counters: c, record: config.record_flows, records, reports, hosts, ended };
        let touched = shard.touch(&key, hash, seen, &mut |flow, why| sink.end_flow(flow, why));
        let flow = touched.flow;
        top.offer(&key, hash, flow.bytes[0] + flow.bytes[1], flow.packets[0] + flow.packets[1]);
        if touched.is_new {
            c.flows_created.inc();
            let inside = originator_inside(ingress, touched.dir, &config.inside, ip.src, ip.dst);
            flow.value.flags = if inside { ORIGINATOR_INSIDE } else { 0 };
            flow.value.vlan = vlan;
            flow.value.epoch = classifiers.epoch;
        }
        let outbound = (touched.dir == FlowDir::Originator) == flow.value.originator_inside();
        let direction = if outbound { Direction::Outbound } else { Direction::Inbound };

        // A flow another flow announced is labelled at its first packet (shard, then related lock).
        if touched.is_new
            && l4.is_some()
            && shared.related.is_active()
            && let Some((protocol, why)) = shared.related.claim(
                proto,
                flow.originator(),
                flow.responder(),
                l4 == Some(L4::Udp) && weir_dpi::related::looks_like_media(payload),
                now,
            )
        {
            flow.value.inspect.relate(protocol, why);
            attribute_backlog(c, flow, Label { protocol, decision: Decision::Related(why) });
            drop(shard);
            self.maybe_expire(now);
            return Outcome::Ip { protocol: Some(protocol), direction };
        }

        // A known label costs one lookup: count the packet and go. (A port-less flow's first
        // packet still takes the path below, which attributes it.) A flow that names peers is
        // still read for them for a while after its verdict.
        if let Some(label) = flow.value.label(proto, portless).filter(|_| !(touched.is_new && l4.is_none())) {
            // Harvesting reads the verdict's signature: only under the classifier that gave it.
            if let Some(l4) = l4
                && flow.value.inspect.harvesting()
                && let Some(classifier) = classifiers.of(flow.value.epoch)
            {
                let meta = packet_meta(flow, l4, touched.dir, tcp_seq, tcp_flags, payload, payload_len, now);
                classifier.harvest(&mut flow.value.inspect, &meta, &shared.peers);
            }
            c.protocol(label.protocol).count_packet(direction, wire_len);
            // (A FIN or RST is no reason to install: the kernel sends those here.)
            if plain && !ending && !flow.value.inspect.harvesting() && !announces(label.protocol) && !flow.is_closed() {
                *fast = FastHint::Decided(decided(flow, key, vlan, label.protocol));
            }
            // The flow's ends only for a flow that announces others (rare): two address
            // conversions on every packet of every decided flow otherwise.
            let ends = (announces(label.protocol) && !payload.is_empty())
                .then(|| (flow.originator(), flow.responder(), touched.dir));
            if active_ns != 0
                && flow.value.flags & (REPORTED | UNTRACKED) == 0
                && now.saturating_sub(flow.first_seen) >= active_ns
            {
                sink.first_report(flow, label, now, active_ns);
            }
            drop(shard);
            if let Some(ends) = ends {
                follow(&shared.related, label.protocol, ends, payload, now);
            }
            self.maybe_expire(now);
            return Outcome::Ip { protocol: Some(label.protocol), direction };
        }

        let verdict = match l4 {
            Some(l4) => {
                let classifier = match classifiers.of(flow.value.epoch) {
                    Some(classifier) => classifier,
                    None => {
                        // Begun under a classifier no longer kept: start afresh under this one.
                        flow.value.inspect = FlowInspect::default();
                        flow.value.epoch = classifiers.epoch;
                        &*classifiers.current
                    }
                };
                let meta = packet_meta(flow, l4, touched.dir, tcp_seq, tcp_flags, payload, payload_len, now);
                classifier.inspect(&mut flow.value.inspect, &meta, &shared.peers)
            }
            None => Verdict::Done(portless),
        };
        let done = match verdict {
            Verdict::Pending => None,
            Verdict::Done(label) => {
                attribute_backlog(c, flow, label);
                Some(label.protocol)
            }
        };
        if let Some(p) = done
            && plain
            && !ending
            && !flow.value.inspect.harvesting()
            && !announces(p)
            && !flow.is_closed()
        {
            *fast = FastHint::Decided(decided(flow, key, vlan, p));
        }
        // A UDP flow that opened with STUN and is read on for its media: its packets so far are
        // STUN messages, and the policy treats them so (they are counted at the verdict).
        let protocol = done.or_else(|| flow.value.inspect.provisional());
        let outcome = Outcome::Ip { protocol, direction };
        // The flow's ends, read under the shard lock, only at a verdict that needs them.
        let follows =
            done.filter(|&p| (announces(p) && !payload.is_empty()) || (p == ProtocolId::TINC && l4 == Some(L4::Tcp)));
        let ends = follows.map(|p| (p, (flow.originator(), flow.responder(), touched.dir)));
        drop(shard);
        if let Some((p, ends)) = ends {
            if announces(p) && !payload.is_empty() {
                follow(&shared.related, p, ends, payload, now);
            } else {
                // A tinc meta connection, at its verdict (once): the tunnel's datagrams go
                // between the same hosts, to or from the listening daemon's port.
                let (orig, resp, _) = ends;
                shared.related.expect(17, resp, Some(orig.0), ProtocolId::TINC, weir_dpi::Related::TincMeta, now);
            }
        }
        self.maybe_expire(now);
        outcome
    }

    /// Run the engine's timers at `now` without a packet: idle expiry (every second), interim
    /// reports (every 10 ms) and the host table's publication (every second), each only when it
    /// is due. [`Engine::process`] runs them itself; a caller whose traffic may stop (a bridge
    /// worker on a quiet link) also calls this each round, so flows still end and are reported.
    pub fn tick(&mut self, now: u64) {
        self.maybe_expire(now);
    }

    /// Sweep idle flows if a second of packet time has passed since the last sweep, and make
    /// the interim reports that are due.
    fn maybe_expire(&mut self, now: u64) {
        if now >= self.next_active && self.config.active_timeout_ns != 0 {
            self.next_active = now.saturating_add(ACTIVE_EVERY_NS);
            self.report_due(now);
        }
        if now >= self.next_expire {
            self.next_expire = now.saturating_add(EXPIRE_EVERY_NS);
            self.expire(now);
            self.shared.related.expire(now);
        }
        if now >= self.next_publish && self.config.host_capacity != 0 {
            self.next_publish = now.saturating_add(PUBLISH_EVERY_NS);
            self.publish_hosts();
        }
    }

    /// Make the interim reports of tracked flows that are due at `now` (at most a few hundred
    /// per call; the rest wait for the next).
    fn report_due(&mut self, now: u64) {
        let active_ns = self.config.active_timeout_ns;
        let Engine { shared, classifiers, config, records, reports, hosts, counters, due, ended, .. } = self;
        due.clear();
        shared.active.lock().take_due(now, ACTIVE_PER_SWEEP, due);
        let ended = config.fast_hints.then_some(ended);
        let mut sink =
            Sink { shared, classifiers, counters, record: config.record_flows, records, reports, hosts, ended };
        for &(at, key) in due.iter() {
            let table = &*sink.shared.table;
            let hash = table.hash(&key);
            let shard = table.lock(table.shard_of(hash));
            // A flow that ended took its entry with it; a flow with the same key since is not
            // this one (its first packet time differs).
            let Some(flow) = shard.get(&key, hash).filter(|f| f.value.flags & REPORTED != 0) else { continue };
            let proto = flow.key.protocol();
            let Some(label) = flow.value.label(proto, portless_label(proto)) else { continue };
            let mut active = sink.shared.active.lock();
            let Some(entry) = active.current(&key, at, flow.first_seen) else { continue };
            let before = entry.reported;
            if flow.packets != before.packets {
                entry.reported = Reported { packets: flow.packets, bytes: flow.bytes, at: now };
            }
            if !active.reschedule(key, now.saturating_add(active_ns)) {
                sink.counters.active_untracked.inc();
            }
            drop(active);
            if flow.packets != before.packets {
                sink.report(flow, label, before);
            }
        }
    }

    /// End the flows of shard `shard` (modulo the shard count) idle past their timeout at `now`.
    pub fn expire_shard(&mut self, shard: usize, now: u64) -> usize {
        let Engine { shared, classifiers, config, records, reports, hosts, counters, ended, .. } = self;
        let ended = config.fast_hints.then_some(ended);
        let mut sink =
            Sink { shared, classifiers, counters, record: config.record_flows, records, reports, hosts, ended };
        sink.shared.table.expire_shard(shard, now, &mut |flow, why| sink.end_flow(flow, why))
    }

    /// Make the interim reports of long flows that are due at `now`, at most a few hundred (the
    /// rest wait for the next call): for the engine that sweeps for others ([`Expiry::External`]),
    /// whose data-path engines leave them to it. An [`Expiry::Inline`] engine makes its own
    /// every 10 ms of packet time. Returns whether some were still due (call again soon).
    pub fn report_active(&mut self, now: u64) -> bool {
        if self.config.active_timeout_ns == 0 {
            return false;
        }
        self.report_due(now);
        self.due.len() == ACTIVE_PER_SWEEP
    }

    /// End every flow idle past its timeout at `now`.
    pub fn expire(&mut self, now: u64) -> usize {
        let Engine { shared, classifiers, config, records, reports, hosts, counters, ended, .. } = self;
        let ended = config.fast_hints.then_some(ended);
        let mut sink =
            Sink { shared, classifiers, counters, record: config.record_flows, records, reports, hosts, ended };
        sink.shared.table.expire_all(now, &mut |flow, why| sink.end_flow(flow, why))
    }

    /// End every flow (end of input or shutdown), labelling those still pending from what was
    /// seen, so the per-protocol totals account for every IP packet. Publishes the host table.
    pub fn flush(&mut self) {
        let Engine { shared, classifiers, config, records, reports, hosts, counters, ended, .. } = self;
        let ended = config.fast_hints.then_some(ended);
        let mut sink =
            Sink { shared, classifiers, counters, record: config.record_flows, records, reports, hosts, ended };
        sink.shared.table.flush(&mut |flow, why| sink.end_flow(flow, why));
        self.publish_hosts();
    }

    /// Refresh the published copy of the host table ([`Engine::published_hosts`]). The engine
    /// does so itself every second of packet time and at [`Engine::flush`]; an engine that ends
    /// flows without seeing packets (one that only sweeps idle flows) calls it after sweeping.
    pub fn publish_hosts(&mut self) {
        if self.config.host_capacity != 0 {
            self.hosts_published.lock().copy_from(&self.hosts);
        }
    }
}

/// The fast path's view of a decided flow.
#[inline]
fn decided(flow: &Flow<FlowState>, key: FlowKey, vlan: u16, protocol: ProtocolId) -> DecidedFlow {
    let lo_is_originator = flow.originator_dir == weir_flow::KeyDir::LoToHi;
    DecidedFlow {
        key,
        vlan,
        protocol,
        lo_outbound: lo_is_originator == flow.value.originator_inside(),
        first_seen: flow.first_seen,
    }
}

/// Protocols whose flows announce other flows (read on after their verdict, cheaply).
#[inline]
fn announces(p: ProtocolId) -> bool {
    p == ProtocolId::FTP || p == ProtocolId::TFTP || p == ProtocolId::SIP
}

/// Reads a packet of a control flow (FTP, TFTP, SIP) for the flows it announces, and expects
/// them. `ends`: the control flow's originator and responder, and who sent this packet.
fn follow(
    related: &Expectations,
    p: ProtocolId,
    ends: ((IpAddr, u16), (IpAddr, u16), FlowDir),
    payload: &[u8],
    now: u64,
) {
    let (orig, resp, dir) = ends;
    let from_orig = dir == FlowDir::Originator;
    if p == ProtocolId::FTP {
        let Some(a) = weir_dpi::related::ftp_data(payload, from_orig) else { return };
        let why = weir_dpi::Related::FtpControl;
        if a.client_connects {
            // Passive mode: the client connects to the server's announced port. Clients connect to
            // the control connection's address (the announced one may be a NATed server's private
            // address), so expect both.
            related.expect(6, (resp.0, a.port), Some(orig.0), ProtocolId::FTP, why, now);
            if let Some(ip) = a.ip.filter(|&ip| ip != resp.0) {
                related.expect(6, (ip, a.port), Some(orig.0), ProtocolId::FTP, why, now);
            }
        } else if let Some(ip) = a.ip {
            // Active mode: the server connects to the client's announced address and port.
            related.expect(6, (ip, a.port), Some(resp.0), ProtocolId::FTP, why, now);
        }
    } else if p == ProtocolId::TFTP {
        // The server answers a request from a new port, to the requesting port.
        if from_orig && weir_dpi::related::tftp_request(payload) {
            related.expect(17, orig, Some(resp.0), ProtocolId::TFTP, weir_dpi::Related::TftpRequest, now);
        }
    } else if p == ProtocolId::SIP {
        let mut ports = [0u16; 4];
        let (ip, n) = weir_dpi::related::sdp_media(payload, &mut ports);
        let sender = if from_orig { orig.0 } else { resp.0 };
        let at = ip.unwrap_or(sender);
        for &port in &ports[..n] {
            for q in [Some(port), port.checked_add(1)].into_iter().flatten() {
                related.expect(17, (at, q), None, ProtocolId::RTP, weir_dpi::Related::SipSdp, now);
            }
        }
    }
}

/// The DPI's view of one packet of `flow`.
#[allow(clippy::too_many_arguments)]
fn packet_meta<'p>(
    flow: &Flow<FlowState>,
    l4: L4,
    dir: FlowDir,
    tcp_seq: Option<u32>,
    tcp_flags: u8,
    payload: &'p [u8],
    payload_len: usize,
    now: u64,
) -> PacketMeta<'p> {
    let (o, r) = (flow.originator(), flow.responder());
    PacketMeta {
        l4,
        dir,
        originator: Endpoint { ip: o.0, port: o.1 },
        responder: Endpoint { ip: r.0, port: r.1 },
        tcp_seq,
        syn: tcp_flags & weir_flow::tcp_flags::SYN != 0,
        payload,
        payload_len,
        now,
    }
}

/// The label of a flow of an IP protocol without ports: decided from the IP header alone (ICMP,
/// IGMP, GRE, ESP and AH, OSPF, PIM, VRRP, PGM, L2TPv3, SCTP; anything else is unknown).
fn portless_label(ip_protocol: u8) -> Label {
    let protocol = match IpProtocol::from(ip_protocol) {
        IpProtocol::Icmp | IpProtocol::Icmpv6 => ProtocolId::ICMP,
        _ => match ip_protocol {
            2 => ProtocolId::IGMP,
            47 => ProtocolId::GRE,
            50 | 51 => ProtocolId::IPSEC,
            89 => ProtocolId::OSPF,
            103 => ProtocolId::PIM,
            112 => ProtocolId::VRRP,
            113 => ProtocolId::PGM,
            115 => ProtocolId::L2TP,
            132 => ProtocolId::SCTP,
            _ => ProtocolId::UNKNOWN,
        },
    };
    Label { protocol, decision: Decision::NoMatch }
}

fn l4_of(proto: u8) -> Option<L4> {
    match proto {
        6 => Some(L4::Tcp),
        17 => Some(L4::Udp),
        _ => None,
    }
}

fn originator_inside(ingress: Ingress, first: FlowDir, inside: &[IpNet], src: IpAddr, dst: IpAddr) -> bool {
    // The packet that created the flow came from its originator unless the table says otherwise.
    let from_originator = first == FlowDir::Originator;
    match ingress {
        Ingress::Inside => from_originator,
        Ingress::Outside => !from_originator,
        Ingress::Unknown => {
            let is_in = |a: IpAddr| inside.iter().any(|n| n.contains(&a));
            match (is_in(src), is_in(dst)) {
                (true, false) => true,
                (false, true) => false,
                _ => true,
            }
        }
    }
}

/// Add what a flow carried before its label was known to its protocol's counters.
fn attribute_backlog(c: &EngineCounters, flow: &Flow<FlowState>, label: Label) {
    let p = c.protocol(label.protocol);
    p.flows.inc();
    let (orig, resp) = if flow.value.originator_inside() {
        (Direction::Outbound, Direction::Inbound)
    } else {
        (Direction::Inbound, Direction::Outbound)
    };
    p.count(orig, flow.packets[0], flow.bytes[0]);
    p.count(resp, flow.packets[1], flow.bytes[1]);
}

/// Where ended flows and interim reports go: the counters, the records, the host table.
struct Sink<'a> {
    shared: &'a Shared,
    classifiers: &'a Classifiers,
    counters: &'a EngineCounters,
    record: bool,
    records: &'a mut Vec<FlowRecord>,
    reports: &'a mut Vec<ActiveRecord>,
    hosts: &'a mut HostTopK,
    /// Where ended flows' keys go, with `fast_hints`.
    ended: Option<&'a mut Vec<(FlowKey, u16)>>,
}

impl Sink<'_> {
    /// Count `bytes` (originator's, responder's) of a flow to its inside host.
    fn account_host(&mut self, flow: &Flow<FlowState>, label: Label, bytes: [u64; 2]) {
        if self.hosts.capacity() == 0 {
            return;
        }
        let (host, bytes) = if flow.value.originator_inside() {
            (flow.originator().0, bytes)
        } else {
            (flow.responder().0, [bytes[1], bytes[0]])
        };
        self.hosts.add(host, label.protocol.0, bytes);
    }

    /// The first interim report of a labelled flow that has just passed its active timeout.
    #[cold]
    fn first_report(&mut self, flow: &mut Flow<FlowState>, label: Label, now: u64, active_ns: u64) {
        let entry = active::Entry {
            first_seen: flow.first_seen,
            due: now.saturating_add(active_ns),
            reported: Reported { packets: flow.packets, bytes: flow.bytes, at: now },
        };
        if !self.shared.active.lock().insert(flow.key, entry) {
            flow.value.flags |= UNTRACKED;
            self.counters.active_untracked.inc();
            return;
        }
        flow.value.flags |= REPORTED;
        self.report(flow, label, Reported::default());
    }

    /// An interim report of `flow`, whose earlier reports covered `before`.
    fn report(&mut self, flow: &Flow<FlowState>, label: Label, before: Reported) {
        self.counters.active_reports.inc();
        let (_, bytes) = before.since(flow.packets, flow.bytes);
        self.account_host(flow, label, bytes);
        if self.record {
            self.reports.push(ActiveRecord {
                ip_protocol: flow.key.protocol(),
                originator: flow.originator(),
                responder: flow.responder(),
                originator_inside: flow.value.originator_inside(),
                label,
                packets: flow.packets,
                bytes: flow.bytes,
                first_seen: flow.first_seen,
                last_seen: flow.last_seen,
                vlan: flow.value.vlan,
                reported: before,
            });
        }
    }

    fn end_flow(&mut self, flow: Flow<FlowState>, why: EndReason) {
        let c = self.counters;
        c.flows_ended(why).inc();
        if let Some(ended) = self.ended.as_deref_mut() {
            ended.push((flow.key, flow.value.vlan));
        }
        let (o, r) = (flow.originator(), flow.responder());
        let label = match (l4_of(flow.key.protocol()), flow.value.inspect.verdict()) {
            (Some(_), Some(label)) => label,
            (Some(l4), None) => {
                let ends = (Endpoint { ip: o.0, port: o.1 }, Endpoint { ip: r.0, port: r.1 });
                // Under the classifier that began its inspection, else from the ends alone.
                let fresh = FlowInspect::default();
                let (classifier, inspect) = match self.classifiers.of(flow.value.epoch) {
                    Some(c) => (c, &flow.value.inspect),
                    None => (&*self.classifiers.current, &fresh),
                };
                let label = classifier.finish(inspect, l4, ends.0, ends.1, &self.shared.peers, flow.last_seen);
                attribute_backlog(c, &flow, label);
                label
            }
            // Port-less flows were labelled, and attributed, at their first packet.
            (None, _) => portless_label(flow.key.protocol()),
        };
        let reported = if flow.value.flags & REPORTED != 0 {
            self.shared.active.lock().remove(&flow.key, flow.first_seen).unwrap_or_default()
        } else {
            Reported::default()
        };
        let (_, bytes) = reported.since(flow.packets, flow.bytes);
        self.account_host(&flow, label, bytes);
        if self.record {
            self.records.push(FlowRecord {
                ip_protocol: flow.key.protocol(),
                originator: o,
                responder: r,
                originator_inside: flow.value.originator_inside(),
                label,
                packets: flow.packets,
                bytes: flow.bytes,
                first_seen: flow.first_seen,
                last_seen: flow.last_seen,
                end: why,
                vlan: flow.value.vlan,
                reported,
            });
        }
    }
}

#[cfg(test)]
#[path = "related_tests.rs"]
mod related_tests;

#[cfg(test)]
mod reload_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use weir_testkit::packet::Builder;

    fn shared() -> Shared {
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let table = FlowTableConfig { shards: 4, capacity: 1024, ..FlowTableConfig::default() };
        Shared::new(classifier, table, 64).unwrap()
    }

    fn udp(port: u16, len: usize) -> Vec<u8> {
        let ip = |n| IpAddr::from([198, 18, 0, n]);
        Builder::default().udp((ip(1), port), (ip(2), 9), &vec![0x5a; len])
    }

    #[test]
    fn external_expiry_leaves_idle_flows_to_the_sweeper_one_shard_at_a_time() {
        let sh = shared();
        let config = EngineConfig { expiry: Expiry::External, ..EngineConfig::default() };
        let mut worker = Engine::new(sh.clone(), config.clone());
        let mut sweeper = Engine::new(sh.clone(), config);
        for p in 0..40 {
            worker.process(&udp(1000 + p, 10), 52, LinkType::Ethernet, Ingress::Inside, 0);
        }
        // Far past the UDP timeout, the worker's packets sweep nothing.
        worker.process(&udp(5000, 10), 52, LinkType::Ethernet, Ingress::Inside, 3_600_000_000_000);
        assert_eq!(sh.table.stats().active, 41);
        let now = 3_600_000_000_000;
        let mut ended = 0;
        for shard in 0..sh.table.shard_count() {
            let before = sh.table.stats().active;
            let n = sweeper.expire_shard(shard, now);
            assert_eq!(before - sh.table.stats().active, n as u64);
            ended += n;
        }
        assert_eq!(ended, 40, "all but the one just seen");
        assert_eq!(sweeper.counters().flows_ended(EndReason::Idle).get(), 40);
        assert_eq!(worker.counters().flows_ended(EndReason::Idle).get(), 0);
    }

    #[test]
    fn fast_hints_name_decided_plain_flows_and_the_flows_that_end() {
        let sh = shared();
        let config = EngineConfig { fast_hints: true, expiry: Expiry::External, ..EngineConfig::default() };
        let mut e = Engine::new(sh.clone(), config);
        let ip = |n| IpAddr::from([198, 18, 0, n]);
        let b = Builder::default();
        // A DNS query is labelled at its first packet: decided, with its direction.
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7];
        q.extend_from_slice(b"example\x03com\x00\x00\x01\x00\x01");
        let f = b.udp((ip(1), 40000), (ip(2), 53), &q);
        e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, 1);
        let FastHint::Decided(d) = e.fast_hint() else { panic!("{:?}", e.fast_hint()) };
        assert_eq!(e.classifier().registry().name(d.protocol), "dns");
        assert_eq!(d.vlan, 0);
        // 198.18.0.1 is the lower endpoint and opened the flow from inside: lower to higher is outbound.
        assert!(d.lo_outbound);
        assert_eq!(d.key.parts().2, 40000);
        // Pending flows are not decided; neither is a tunnelled or tagged-thrice frame.
        let f = udp(7000, 10);
        e.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, 1);
        assert_eq!(e.fast_hint(), FastHint::None);
        let tagged = Builder { vlans: vec![5] }.udp((ip(1), 40001), (ip(2), 53), &q);
        e.process(&tagged, tagged.len() as u32, LinkType::Ethernet, Ingress::Inside, 1);
        let FastHint::Decided(d) = e.fast_hint() else { panic!("tagged: {:?}", e.fast_hint()) };
        assert_eq!(d.vlan, 5);
        // A TCP FIN is no reason to install (the kernel sends those to user space).
        let fin = b.tcp((ip(1), 5000), (ip(2), 80), 1, 0, weir_flow::tcp_flags::FIN | weir_flow::tcp_flags::ACK, &[]);
        e.process(&fin, fin.len() as u32, LinkType::Ethernet, Ingress::Inside, 1);
        assert_eq!(e.fast_hint(), FastHint::None);
        // Every flow that ends is named, with its VLAN.
        let mut sweeper = Engine::new(sh.clone(), EngineConfig { fast_hints: true, ..EngineConfig::default() });
        sweeper.expire(3_600_000_000_000);
        let ended: Vec<(FlowKey, u16)> = sweeper.drain_ended().collect();
        assert_eq!(ended.len(), 4, "{ended:?}");
        assert!(ended.iter().any(|(_, v)| *v == 5));
        // Without fast hints nothing is kept.
        let mut plain = Engine::new(sh, EngineConfig::default());
        plain.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, 1);
        plain.expire(3_600_000_000_000);
        assert_eq!(plain.drain_ended().count(), 0);
    }

    #[test]
    fn credited_kernel_counts_reach_the_flow_and_its_first_interim_report() {
        let sh = shared();
        const S: u64 = 1_000_000_000;
        let config = EngineConfig {
            fast_hints: true,
            expiry: Expiry::External,
            record_flows: true,
            active_timeout_ns: 10 * S,
            ..EngineConfig::default()
        };
        let mut worker = Engine::new(sh.clone(), config.clone());
        let mut sweeper = Engine::new(sh.clone(), config);
        let ip = |n| IpAddr::from([198, 18, 0, n]);
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7];
        q.extend_from_slice(b"example\x03com\x00\x00\x01\x00\x01");
        let f = Builder::default().udp((ip(1), 40000), (ip(2), 53), &q);
        worker.process(&f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, S);
        let FastHint::Decided(d) = worker.fast_hint() else { panic!() };
        // Before the active timeout: counted, no report.
        assert!(sweeper.credit(&d.key, [10, 5], [710, 355], 5 * S, 5 * S));
        assert_eq!(sweeper.drain_active().count(), 0);
        // Past it: the first interim report, with what the kernel carried.
        assert!(sweeper.credit(&d.key, [1, 0], [71, 0], 12 * S, 12 * S));
        let reports: Vec<ActiveRecord> = sweeper.drain_active().collect();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].packets, [12, 5], "originator (the lower endpoint) first");
        assert_eq!(reports[0].last_seen, 12 * S);
        // Reported once; an unknown flow is not credited.
        assert!(sweeper.credit(&d.key, [1, 0], [71, 0], 13 * S, 13 * S));
        assert_eq!(sweeper.drain_active().count(), 0);
        let (other, _) = FlowKey::new(ip(3), 1, ip(4), 2, 17);
        assert!(!sweeper.credit(&other, [1, 1], [1, 1], S, S));
    }

    #[test]
    fn the_heaviest_flows_come_from_the_data_path() {
        let sh = shared();
        let mut e = Engine::new(sh.clone(), EngineConfig { top_flows: 4, ..EngineConfig::default() });
        // Flow p sends 8 * p packets of 100 bytes; flows 1..=6, so 3..=6 are the top four.
        for p in 1..=6u16 {
            for _ in 0..8 * p {
                e.process(&udp(1000 + p, 100), 142, LinkType::Ethernet, Ingress::Inside, 1);
            }
        }
        let mut cands = Vec::new();
        e.take_top(&mut cands);
        assert_eq!(cands.len(), 4);
        let top = top_flows(&sh.table, &cands, 3);
        let ports: Vec<u16> = top.iter().map(|(_, f)| f.originator.1).collect();
        assert_eq!(ports, [1006, 1005, 1004]);
        assert_eq!(top[0].1.packets, 48);
        assert_eq!((top[0].1.bytes, top[0].0.bytes), (48 * 142, 48 * 142));
        // Taken: the next interval starts empty.
        let mut again = Vec::new();
        e.take_top(&mut again);
        assert!(again.is_empty());
        // A flow that has ended is not listed even if it was a candidate.
        e.flush();
        assert!(top_flows(&sh.table, &cands, 3).is_empty());
    }
    use weir_stats::Counter;

    /// The flow-state budget is 160 bytes per flow at 1M flows, table index included (about 10
    /// bytes): keep the entry itself at 144. `cargo run --release -p weir-engine --example
    /// flow_memory` measures the whole.
    /// A BitTorrent handshake, plain and inside each tunnel the test kit builds: one flow, the
    /// inner one, labelled the same, counted at the wrapped frames' lengths, its frames counted
    /// under their tunnel.
    #[test]
    fn tunnelled_flows_are_their_inner_flow_counted_whole() {
        use weir_testkit::packet::{Builder, Tunnel, encapsulate, tcp_conversation};
        let client = ("198.18.0.10".parse().unwrap(), 40_000);
        let server = ("198.19.0.5".parse().unwrap(), 51_413);
        let mut hs = b"\x13BitTorrent protocol".to_vec();
        hs.extend_from_slice(&[0; 8]);
        hs.extend_from_slice(&[0xab; 20]);
        hs.extend_from_slice(b"-TR3000-abcdefghijkl");
        let conv = tcp_conversation(&Builder::default(), client, server, &[(true, &hs[..]), (false, &hs[..])]);
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let bittorrent = classifier.registry().lookup("bittorrent").unwrap();
        let run = |tunnel: Option<Tunnel>| {
            let shared = Shared::new(Arc::clone(&classifier), FlowTableConfig::default(), 1024).unwrap();
            let mut engine =
                Engine::new(shared, EngineConfig { inside: vec![], record_flows: true, ..EngineConfig::default() });
            let mut bytes = 0u64;
            for (i, (frame, from_client)) in conv.iter().enumerate() {
                let frame = tunnel.map_or_else(|| frame.clone(), |t| encapsulate(frame, t));
                bytes += frame.len() as u64;
                let ingress = if *from_client { Ingress::Inside } else { Ingress::Outside };
                engine.process(&frame, frame.len() as u32, LinkType::Ethernet, ingress, i as u64 * 1000);
            }
            engine.flush();
            let records: Vec<FlowRecord> = engine.drain_records().collect();
            (records, bytes, Arc::clone(engine.counters()))
        };
        let (plain, plain_bytes, _) = run(None);
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].label.protocol, bittorrent);
        for (tunnel, kind) in [
            (Tunnel::Pppoe(1), Encap::Pppoe),
            (Tunnel::Mpls(16), Encap::Mpls),
            (Tunnel::Vxlan(42), Encap::Vxlan),
            (Tunnel::Gre(7), Encap::Gre),
        ] {
            let (records, bytes, c) = run(Some(tunnel));
            assert!(bytes > plain_bytes);
            assert_eq!(records.len(), 1, "{tunnel:?}: {records:?}");
            let r = records[0];
            assert_eq!((r.originator, r.responder, r.label), (plain[0].originator, plain[0].responder, plain[0].label));
            assert_eq!((r.packets, r.bytes[0] + r.bytes[1]), (plain[0].packets, bytes), "{tunnel:?}");
            let p = c.protocol(bittorrent);
            assert_eq!(p.bytes[0].get() + p.bytes[1].get(), bytes);
            assert_eq!(c.encapsulated[kind.index()].get(), conv.len() as u64, "{tunnel:?}");
            assert_eq!(c.encapsulated_bytes[kind.index()].get(), bytes);
            assert_eq!(c.encapsulated.iter().map(Counter::get).sum::<u64>(), conv.len() as u64);
        }
    }

    /// ICE checks, then the DTLS-SRTP handshake on the same 5-tuple: STUN packet by packet while
    /// the flow is read on, then DTLS; the whole flow counted under DTLS. A plain binding stays
    /// STUN and is counted so at its end.
    #[test]
    fn a_flow_opened_by_ice_checks_is_its_media() {
        let ip = |n| IpAddr::from([198, 18, 0, n]);
        let (client, server) = ((ip(1), 40_000), (ip(2), 19_305));
        let mut req = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42];
        req.extend_from_slice(&[7; 12]);
        req.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4]);
        let mut resp = req.clone();
        resp[0] = 0x01;
        resp[1] = 0x01;
        let mut hello = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];
        hello.extend_from_slice(&[1, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x14, 0xfe, 0xfd]);
        hello.extend_from_slice(&[0x55; 18]);
        let b = Builder::default();
        let frames = [
            (b.udp(client, server, &req), Ingress::Inside),
            (b.udp(server, client, &resp), Ingress::Outside),
            (b.udp(client, server, &hello), Ingress::Inside),
            (b.udp(server, client, &resp), Ingress::Outside),
        ];
        let mut e = Engine::new(shared(), EngineConfig { record_flows: true, ..EngineConfig::default() });
        let mut seen = Vec::new();
        for (i, (f, ingress)) in frames.iter().enumerate() {
            match e.process(f, f.len() as u32, LinkType::Ethernet, *ingress, i as u64) {
                Outcome::Ip { protocol, .. } => seen.push(protocol),
                o => panic!("{o:?}"),
            }
        }
        let (stun, dtls) = (Some(ProtocolId::STUN), Some(ProtocolId::DTLS));
        assert_eq!(seen, [stun, stun, dtls, dtls]);
        let total: u64 = frames.iter().map(|(f, _)| f.len() as u64).sum();
        let c = Arc::clone(e.counters());
        let bytes = |p| {
            let p = c.protocol(p);
            p.bytes[0].get() + p.bytes[1].get()
        };
        assert_eq!((bytes(ProtocolId::DTLS), bytes(ProtocolId::STUN)), (total, 0));
        // A binding with a STUN server: STUN throughout, counted at the flow's end.
        let other = (ip(3), 3478);
        for (i, f) in [b.udp(client, other, &req), b.udp(other, client, &resp)].iter().enumerate() {
            let o = e.process(f, f.len() as u32, LinkType::Ethernet, Ingress::Inside, 10 + i as u64);
            assert!(matches!(o, Outcome::Ip { protocol: Some(ProtocolId::STUN), .. }), "{o:?}");
        }
        assert_eq!(bytes(ProtocolId::STUN), 0, "pending");
        e.flush();
        assert!(bytes(ProtocolId::STUN) > 0);
        let records: Vec<FlowRecord> = e.drain_records().collect();
        let decisions: Vec<String> =
            records.iter().map(|r| e.classifier().describe(r.label.decision).to_string()).collect();
        assert!(decisions.contains(&"detector:dtls after stun".to_owned()), "{decisions:?}");
        assert!(decisions.contains(&"detector:stun".to_owned()), "{decisions:?}");
    }

    #[test]
    fn flow_entry_fits_the_memory_budget() {
        assert!(core::mem::size_of::<Flow<FlowState>>() <= 144, "{}", core::mem::size_of::<Flow<FlowState>>());
    }
}

#[cfg(test)]
mod active_tests;
