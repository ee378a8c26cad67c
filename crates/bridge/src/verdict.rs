//! The verdict glue, sans I/O: frame bytes and a time in, a [`Verdict`] out.
//!
//! [`Inspector`] owns what decides a frame's fate (the engine and the live policy, or one fixed
//! verdict for the bare forwarder) and the per-protocol drop counts. It never touches a ring or
//! reads a clock, so it is tested with plain byte slices, and the [`crate::Worker`] that drives
//! it over real or simulated rings adds the I/O: marking, shaping, sending.
//!
//! The policy is live: the control thread publishes a new generation at each schedule boundary
//! and each reload. [`Inspector::begin_batch`] loads the current one (one atomic load per
//! batch); every packet's verdict is then looked up afresh from its flow's label in that
//! generation, so a flow follows a new policy from its next packet without being classified
//! again. The generation carries the classifier too: a reload's new signatures reach the engine
//! in the same load as the policy written for them ([`weir_engine::Engine::set_classifier`]).

use std::sync::Arc;
use weir_config::Action;
use weir_engine::{Classifier, Engine, EngineCounters, HostTopK, Ingress, LinkType, Outcome, TopCandidate};
use weir_policy::PolicyTable;
use weir_policy::live::{Generation, LivePolicy};
use weir_xdp::{FrameAction, Side};

/// What the bridge does with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Put it on the other side's TX ring.
    Forward,
    /// Through a class of the policy: rewrite its DSCP if the class marks, queue or police it if
    /// the class has a rate, then forward it (carried out by the worker).
    Class {
        /// The class id (its index in the policy's classes).
        class: u8,
        /// 0 outbound, 1 inbound.
        direction: u8,
        /// The class's DSCP mark, if any.
        dscp: Option<u8>,
        /// Whether the class has a rate (shape or police): the frame goes through the shaper.
        rated: bool,
        /// The flow's hash, which picks its fair queue.
        flow_hash: u64,
    },
    /// Drop it: policy says so for its protocol and direction (or a fixed drop-all inspector).
    DropPolicy,
    /// Drop it: it does not parse and `policy.malformed` is "drop".
    DropMalformed,
}

impl Verdict {
    /// What the rings do with the frame when nothing shapes it (a class's frames are
    /// forwarded).
    #[inline]
    pub fn frame_action(self) -> FrameAction {
        match self {
            Verdict::Forward | Verdict::Class { .. } => FrameAction::Forward,
            Verdict::DropPolicy | Verdict::DropMalformed => FrameAction::Drop,
        }
    }
}

/// Where a frame received on `side` entered the box, as the engine names it.
#[inline]
pub fn ingress(side: Side) -> Ingress {
    match side {
        Side::Inside => Ingress::Inside,
        Side::Outside => Ingress::Outside,
    }
}

enum Mode {
    /// Classify every frame and apply the policy: `table` is the generation of `live` loaded at
    /// the start of the batch (its policy, and the classifier the engine inspects with).
    Classify { engine: Box<Engine>, live: Arc<LivePolicy<Classifier>>, table: Arc<Generation<Classifier>> },
    /// The same verdict for every frame, nothing parsed: the bare forwarder, and tests.
    Fixed(Verdict),
}

/// Decides each frame's verdict and counts per-protocol drops (one writer: its worker).
pub struct Inspector {
    mode: Mode,
    /// Packets dropped by policy, per protocol id and direction (0 outbound, 1 inbound).
    dropped: Box<[[u64; 2]]>,
    /// Whether `dropped` changed since [`Inspector::drops_changed`] last said so.
    dropped_dirty: bool,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Classify { .. } => "classify",
            Mode::Fixed(Verdict::Forward) => "forward all",
            Mode::Fixed(_) => "drop all",
        };
        f.debug_struct("Inspector").field("mode", &mode).finish()
    }
}

impl Inspector {
    /// Classify every frame with `engine` and apply the policy `live` holds (re-read at each
    /// [`Inspector::begin_batch`], with the classifier published beside it).
    pub fn classify(mut engine: Engine, live: Arc<LivePolicy<Classifier>>) -> Inspector {
        // As many as the engine counts: the protocols at start and room for a reload's.
        let protocols = engine.counters().protocols.len();
        let table = live.load_full();
        engine.set_classifier(Arc::clone(table.companion()), table.epoch());
        Inspector {
            mode: Mode::Classify { engine: Box::new(engine), live, table },
            dropped: vec![[0; 2]; protocols].into_boxed_slice(),
            dropped_dirty: false,
        }
    }

    /// Give every frame `verdict` without looking at it (the bare AF_XDP forwarder is
    /// `fixed(Verdict::Forward)`).
    pub fn fixed(verdict: Verdict) -> Inspector {
        Inspector { mode: Mode::Fixed(verdict), dropped: Box::new([]), dropped_dirty: false }
    }

    /// At the start of a batch: load the policy generation in force (one atomic load; the
    /// batch keeps it), and with it the classifier published beside the policy: a reload's new
    /// signatures and new policy arrive together. Returns the new table if the generation
    /// changed since the last batch.
    #[inline]
    pub fn begin_batch(&mut self) -> Option<&PolicyTable> {
        let Mode::Classify { live, table, engine } = &mut self.mode else { return None };
        let current = live.load();
        if Arc::ptr_eq(&current, table) {
            return None;
        }
        if current.epoch() != table.epoch() {
            engine.set_classifier(Arc::clone(current.companion()), current.epoch());
        }
        *table = Arc::clone(&current);
        Some(table.table())
    }

    /// The policy generation the current batch runs with; `None` for a fixed inspector.
    pub fn policy(&self) -> Option<&PolicyTable> {
        match &self.mode {
            Mode::Classify { table, .. } => Some(table.table()),
            Mode::Fixed(_) => None,
        }
    }

    /// The verdict for `frame`, received on `side` at `now` (ns, read once per batch).
    #[inline]
    pub fn verdict(&mut self, side: Side, frame: &[u8], now: u64) -> Verdict {
        let (engine, policy) = match &mut self.mode {
            Mode::Fixed(v) => return *v,
            Mode::Classify { engine, table, .. } => (engine, &**table),
        };
        match engine.process(frame, frame.len() as u32, LinkType::Ethernet, ingress(side), now) {
            Outcome::Malformed(_) => match policy.malformed() {
                Action::Drop => Verdict::DropMalformed,
                Action::Forward => Verdict::Forward,
            },
            Outcome::NonIp => Verdict::Forward,
            Outcome::Ip { protocol, direction } => {
                match policy.verdict(protocol.map(|p| p.0), direction.index()) {
                    weir_policy::Verdict::Forward => Verdict::Forward,
                    weir_policy::Verdict::Drop => {
                        if let Some(d) = protocol.and_then(|p| self.dropped.get_mut(usize::from(p.0))) {
                            d[direction.index()] += 1;
                            self.dropped_dirty = true;
                        }
                        Verdict::DropPolicy
                    }
                    weir_policy::Verdict::Class(id) => match policy.class(id) {
                        Some(c) => Verdict::Class {
                            class: id.0,
                            direction: direction.index() as u8,
                            dscp: c.dscp.map(|d| d.0),
                            rated: c.limit.is_some(),
                            flow_hash: engine.last_flow_hash(),
                        },
                        // A table's class ids index its own class list: cannot happen.
                        None => Verdict::Forward,
                    },
                }
            }
        }
    }

    /// What the last frame's verdict means for the XDP fast path (see
    /// [`weir_engine::Engine::fast_hint`]); nothing for a fixed inspector.
    #[inline]
    pub fn fast_hint(&self) -> weir_engine::FastHint {
        match &self.mode {
            Mode::Classify { engine, .. } => engine.fast_hint(),
            Mode::Fixed(_) => weir_engine::FastHint::None,
        }
    }

    /// The low 32 bits of the batch's policy generation (what fast-path entries carry); 0 for a
    /// fixed inspector.
    pub fn generation(&self) -> u32 {
        self.policy().map_or(0, |t| t.generation() as u32)
    }

    /// Packets dropped by policy so far, per protocol id and direction.
    pub fn dropped(&self) -> &[[u64; 2]] {
        &self.dropped
    }

    /// Whether the drop counts changed since the last call (so they need publishing).
    pub(crate) fn drops_changed(&mut self) -> bool {
        std::mem::take(&mut self.dropped_dirty)
    }

    /// The engine's counters, for the stats reader; `None` for a fixed inspector.
    pub fn engine_counters(&self) -> Option<Arc<EngineCounters>> {
        match &self.mode {
            Mode::Classify { engine, .. } => Some(Arc::clone(engine.counters())),
            Mode::Fixed(_) => None,
        }
    }

    /// How many top-flow candidates the engine keeps (0 for a fixed inspector).
    pub fn top_flows(&self) -> usize {
        match &self.mode {
            Mode::Classify { engine, .. } => engine.config().top_flows,
            Mode::Fixed(_) => 0,
        }
    }

    /// The engine, for the worker's flow-end work (records to export, the host table); `None`
    /// for a fixed inspector.
    pub(crate) fn engine_mut(&mut self) -> Option<&mut Engine> {
        match &mut self.mode {
            Mode::Classify { engine, .. } => Some(engine),
            Mode::Fixed(_) => None,
        }
    }

    /// The engine's published host table, for the stats thread to merge; `None` for a fixed
    /// inspector.
    pub fn published_hosts(&self) -> Option<Arc<parking_lot::Mutex<HostTopK>>> {
        match &self.mode {
            Mode::Classify { engine, .. } => Some(engine.published_hosts()),
            Mode::Fixed(_) => None,
        }
    }

    /// Append the heaviest flows seen since the last call (see [`Engine::take_top`]).
    pub(crate) fn take_top(&mut self, into: &mut Vec<TopCandidate>) {
        if let Mode::Classify { engine, .. } = &mut self.mode {
            engine.take_top(into);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::IpAddr;
    use weir_config::Config;
    use weir_dpi::{Category, Classifier};
    use weir_engine::{EngineConfig, FlowTableConfig, Shared};
    use weir_policy::ProtocolInfo;
    use weir_testkit::packet::{Builder, tcp_conversation};

    pub(crate) fn inspector(policy: &str) -> Inspector {
        inspector_with(policy, EngineConfig::default())
    }

    /// As [`inspector`], with the engine made with `config`.
    pub(crate) fn inspector_with(policy: &str, engine: EngineConfig) -> Inspector {
        let classifier = Arc::new(Classifier::builtin().unwrap());
        let reg = classifier.registry();
        let protocols: Vec<ProtocolInfo<'_>> =
            reg.iter().map(|id| ProtocolInfo { name: reg.name(id), category: reg.category(id).name() }).collect();
        let categories: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        let config = Config::parse(&text, "t.toml").unwrap();
        let policy = PolicyTable::compile(&config.policy, &protocols, &categories).unwrap();
        let table = FlowTableConfig { shards: 4, capacity: 4096, ..FlowTableConfig::default() };
        let shared = Shared::new(Arc::clone(&classifier), table, 64).unwrap();
        Inspector::classify(Engine::new(shared, engine), Arc::new(LivePolicy::with(policy, classifier)))
    }

    /// The protocol id of bittorrent, as an index.
    pub(crate) fn bittorrent() -> usize {
        let c = Classifier::builtin().unwrap();
        let reg = c.registry();
        reg.iter().find(|id| reg.name(*id) == "bittorrent").map(|id| usize::from(id.0)).unwrap()
    }

    /// A BitTorrent peer handshake payload.
    pub(crate) fn bt_handshake() -> Vec<u8> {
        let mut hs = vec![19u8];
        hs.extend_from_slice(b"BitTorrent protocol");
        hs.extend_from_slice(&[0; 8]);
        hs.extend_from_slice(&[7; 40]);
        hs
    }

    pub(crate) fn ip(n: u8) -> IpAddr {
        IpAddr::from([198, 18, 0, n])
    }

    #[test]
    fn a_dropped_protocol_is_dropped_both_ways_after_its_label_and_counted() {
        let mut i = inspector("[policy.protocols]\nbittorrent = \"drop\"\n");
        let hs = bt_handshake();
        let conv = tcp_conversation(
            &Builder::default(),
            (ip(1), 40000),
            (ip(2), 6881),
            &[(true, &hs), (false, &hs), (true, &[1; 100])],
        );
        let verdicts: Vec<Verdict> = conv
            .iter()
            .map(|(f, from_client)| i.verdict(if *from_client { Side::Inside } else { Side::Outside }, f, 1))
            .collect();
        // Handshake forwarded while pending; from the first BitTorrent handshake on, dropped.
        assert_eq!(&verdicts[..3], &[Verdict::Forward; 3]);
        assert!(verdicts[3..].iter().all(|v| *v == Verdict::DropPolicy), "{verdicts:?}");
        let d = i.dropped()[bittorrent()];
        assert_eq!(d[0] + d[1], (conv.len() - 3) as u64);
        assert!(d[0] > 0 && d[1] > 0, "{d:?}");
        assert!(i.drops_changed());
        assert!(!i.drops_changed(), "reported once");
    }

    /// ICE checks and the DTLS-SRTP handshake after them on one 5-tuple: a `stun` rule holds for
    /// the checks from the first one (the flow is STUN while it is read on), a `dtls` rule for
    /// the media from the datagram that proves it.
    #[test]
    fn ice_checks_follow_the_stun_rule_and_their_media_its_own() {
        let mut req = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42];
        req.extend_from_slice(&[7; 12]);
        req.extend_from_slice(&[0x80, 0x28, 0x00, 0x04, 1, 2, 3, 4]);
        let mut resp = req.clone();
        resp[..2].copy_from_slice(&[0x01, 0x01]);
        let mut hello = vec![22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];
        hello.extend_from_slice(&[1, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0x14, 0xfe, 0xfd]);
        hello.extend_from_slice(&[0x55; 18]);
        let b = Builder::default();
        let (client, server) = ((ip(1), 40000), (ip(2), 19305));
        let flow = [
            (Side::Inside, b.udp(client, server, &req)),
            (Side::Outside, b.udp(server, client, &resp)),
            (Side::Inside, b.udp(client, server, &hello)),
        ];
        let run = |policy: &str| {
            let mut i = inspector(policy);
            flow.iter().map(|(side, f)| i.verdict(*side, f, 1)).collect::<Vec<_>>()
        };
        let (f, d) = (Verdict::Forward, Verdict::DropPolicy);
        assert_eq!(run("[policy.protocols]\nstun = \"drop\"\n"), [d, d, f]);
        assert_eq!(run("[policy.protocols]\ndtls = \"drop\"\n"), [f, f, d]);
        assert_eq!(run("[policy]\ndefault = \"drop\"\n[policy.protocols]\nstun = \"forward\"\n"), [f, f, d]);
    }

    #[test]
    fn malformed_frames_follow_policy_malformed_and_non_ip_always_passes() {
        let arp = Builder::default().arp_request([198, 18, 0, 1], [198, 18, 0, 2]);
        let mut runt = Builder::default().udp((ip(1), 1), (ip(2), 2), b"x");
        runt.truncate(20);
        let mut pass = inspector("");
        assert_eq!(pass.verdict(Side::Inside, &runt, 0), Verdict::Forward);
        let mut drop = inspector("[policy]\nmalformed = \"drop\"\ndefault = \"drop\"\n");
        assert_eq!(drop.verdict(Side::Inside, &runt, 0), Verdict::DropMalformed);
        assert_eq!(drop.verdict(Side::Outside, &arp, 0), Verdict::Forward);
        assert_eq!(Inspector::fixed(Verdict::DropPolicy).verdict(Side::Inside, &arp, 0), Verdict::DropPolicy);
    }
}
