//! Policy: which protocols, in which direction, are forwarded, dropped, or put into a class
//! (shaped, policed or marked), and when.
//!
//! Three layers:
//!
//! - [`Program`]: the config's ordered rules compiled once, against the classifier's protocol
//!   list, into per protocol and direction candidate verdicts, each gated by a schedule or not.
//! - [`PolicyTable`]: an immutable, generation-numbered table of one [`Verdict`] per protocol and
//!   direction, made from a program for one set of active schedules. The per-packet decision is
//!   an array index.
//! - [`live`]: the table behind an atomic pointer (arc-swap). The control thread evaluates the
//!   schedules with the `now` it is given ([`live::Publisher::tick`]) and publishes a new
//!   generation at each boundary or reload; workers `load` once per batch. A flow keeps its
//!   verdict in a [`CachedVerdict`] and recomputes it when the generation differs, without being
//!   classified again.
//!
//! A flow whose label is still pending is forwarded: inspection needs its first bytes to pass.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod live;
pub mod schedule;

use std::sync::Arc;

use schedule::{CompiledSchedule, ScheduleError};
pub use weir_config::Action;
use weir_config::{Class, Match, Policy, RuleDirection, Target};

/// One protocol as the classifier knows it: its name and its category's name.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolInfo<'a> {
    /// e.g. "bittorrent".
    pub name: &'a str,
    /// e.g. "p2p".
    pub category: &'a str,
}

/// A rule that names a protocol or category the classifier does not know, or a schedule whose
/// zone cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// An unknown protocol or category name.
    #[error("policy key `{key}`: no {kind} named {name:?}; known {kind}s: {known}")]
    UnknownName {
        /// The config key of the rule.
        key: String,
        /// "protocol" or "category".
        kind: &'static str,
        /// The unknown name.
        name: String,
        /// The names that would work.
        known: String,
    },
    /// A schedule's zone.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// A class, by its index in the policy's class list (below [`weir_config::MAX_CLASSES`], 62).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassId(pub u8);

/// What happens to a packet. Two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Verdict {
    /// Pass it unchanged.
    #[default]
    Forward,
    /// Drop it.
    Drop,
    /// Pass it through a class: shaped or policed if the class has a rate, marked if it has a
    /// DSCP, or both.
    Class(ClassId),
}

impl Verdict {
    /// The action a forward/drop-only data path takes: a class's packets are forwarded.
    pub fn action(self) -> Action {
        match self {
            Verdict::Drop => Action::Drop,
            Verdict::Forward | Verdict::Class(_) => Action::Forward,
        }
    }

    fn of(target: Target) -> Verdict {
        match target {
            Target::Action(Action::Forward) => Verdict::Forward,
            Target::Action(Action::Drop) => Verdict::Drop,
            // Config validation keeps class indices below MAX_CLASSES (62).
            Target::Class(i) => Verdict::Class(ClassId(u8::try_from(i).unwrap_or(61).min(61))),
        }
    }
}

/// Which schedules are active: bit `i` for schedule `i` (at most 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ScheduleMask(pub u64);

impl ScheduleMask {
    /// Whether schedule `i` is active.
    pub fn contains(self, i: usize) -> bool {
        i < 64 && self.0 & (1 << i) != 0
    }
}

/// One candidate verdict: applies if its schedule (if any) is active.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    schedule: Option<u8>,
    verdict: Verdict,
}

/// The compiled rules: per protocol and direction, the matching rules' verdicts in rule order,
/// up to the first one without a schedule (nothing after it can ever apply).
#[derive(Clone, Debug)]
pub struct Program {
    candidates: Box<[[Box<[Candidate]>; 2]]>,
    default: Verdict,
    malformed: Action,
    classes: Arc<[Class]>,
    schedules: Arc<[CompiledSchedule]>,
}

impl Program {
    /// Compile `policy` for the classifier's protocols, indexed by protocol id, resolving each
    /// schedule's zone in the tz database.
    ///
    /// # Errors
    /// If a rule names a protocol or category that `protocols` does not contain, or a zone
    /// cannot be loaded.
    pub fn compile(
        policy: &Policy,
        protocols: &[ProtocolInfo<'_>],
        categories: &[&str],
    ) -> Result<Program, PolicyError> {
        let schedules = policy.schedules.iter().map(CompiledSchedule::compile).collect::<Result<Vec<_>, _>>()?;
        Program::with_schedules(policy, protocols, categories, schedules)
    }

    /// As [`Program::compile`], with the schedules already compiled (tests give them a zone).
    ///
    /// # Errors
    /// As [`Program::compile`].
    pub fn with_schedules(
        policy: &Policy,
        protocols: &[ProtocolInfo<'_>],
        categories: &[&str],
        schedules: Vec<CompiledSchedule>,
    ) -> Result<Program, PolicyError> {
        let mut candidates: Vec<[Vec<Candidate>; 2]> = vec![[Vec::new(), Vec::new()]; protocols.len()];
        // Whether a protocol-direction already has an unconditional verdict (later rules cannot
        // apply to it).
        let mut closed: Vec<[bool; 2]> = vec![[false, false]; protocols.len()];
        for rule in &policy.rules {
            let hits: Vec<usize> = match &rule.matches {
                Match::Protocol(name) => {
                    let id = protocols.iter().position(|p| p.name == name).ok_or_else(|| PolicyError::UnknownName {
                        key: rule.key.clone(),
                        kind: "protocol",
                        name: name.clone(),
                        known: protocols.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                    })?;
                    vec![id]
                }
                Match::Category(name) => {
                    if !categories.contains(&name.as_str()) {
                        return Err(PolicyError::UnknownName {
                            key: rule.key.clone(),
                            kind: "category",
                            name: name.clone(),
                            known: categories.join(", "),
                        });
                    }
                    protocols.iter().enumerate().filter(|(_, p)| p.category == name).map(|(i, _)| i).collect()
                }
            };
            let dirs: &[usize] = match rule.direction {
                RuleDirection::Outbound => &[0],
                RuleDirection::Inbound => &[1],
                RuleDirection::Both => &[0, 1],
            };
            let candidate = Candidate { schedule: rule.schedule.map(|s| s as u8), verdict: Verdict::of(rule.target) };
            for id in hits {
                for &d in dirs {
                    if let (Some(list), Some(done)) = (
                        candidates.get_mut(id).and_then(|c| c.get_mut(d)),
                        closed.get_mut(id).and_then(|c| c.get_mut(d)),
                    ) && !*done
                    {
                        list.push(candidate);
                        *done = candidate.schedule.is_none();
                    }
                }
            }
        }
        let default = Verdict::of(Target::Action(policy.default));
        Ok(Program {
            candidates: candidates.into_iter().map(|[o, i]| [o.into_boxed_slice(), i.into_boxed_slice()]).collect(),
            default,
            malformed: policy.malformed,
            classes: policy.classes.clone().into(),
            schedules: schedules.into(),
        })
    }

    /// The table for the schedules in `active`, numbered `generation`.
    pub fn table(&self, active: ScheduleMask, generation: u64) -> PolicyTable {
        let pick = |list: &[Candidate]| {
            list.iter()
                .find(|c| c.schedule.is_none_or(|s| active.contains(usize::from(s))))
                .map_or(self.default, |c| c.verdict)
        };
        PolicyTable {
            generation,
            verdicts: self.candidates.iter().map(|[o, i]| [pick(o), pick(i)]).collect(),
            default: self.default,
            malformed: self.malformed,
            classes: Arc::clone(&self.classes),
            active,
            schedule_names: self.schedules.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Which schedules are active at `now`, and the next instant at which any of them changes.
    pub fn schedules_at(&self, now: jiff::Timestamp) -> (ScheduleMask, Option<jiff::Timestamp>) {
        let mut mask = 0u64;
        let mut next: Option<jiff::Timestamp> = None;
        for (i, s) in self.schedules.iter().enumerate() {
            let (on, change) = s.state_at(now);
            if on {
                mask |= 1 << i;
            }
            next = match (next, change) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        (ScheduleMask(mask), next)
    }

    /// The classes, indexed by [`ClassId`].
    pub fn classes(&self) -> &Arc<[Class]> {
        &self.classes
    }

    /// Whether any rule puts traffic into a class.
    pub fn uses_classes(&self) -> bool {
        self.candidates.iter().flatten().flatten().any(|c| matches!(c.verdict, Verdict::Class(_)))
    }

    /// Whether any rule applies only inside a schedule.
    pub fn uses_schedules(&self) -> bool {
        self.candidates.iter().flatten().flatten().any(|c| c.schedule.is_some())
    }
}

/// The compiled policy of one generation: immutable, shared by every worker.
#[derive(Clone, Debug)]
pub struct PolicyTable {
    generation: u64,
    /// Indexed by protocol id, then direction (0 outbound, 1 inbound).
    verdicts: Box<[[Verdict; 2]]>,
    default: Verdict,
    malformed: Action,
    classes: Arc<[Class]>,
    active: ScheduleMask,
    schedule_names: Arc<[String]>,
}

impl PolicyTable {
    /// Compile `policy` for the classifier's protocols as generation 1 with no schedule active
    /// (the table of a data path that does not evaluate schedules; see [`live`] for one that does).
    ///
    /// # Errors
    /// As [`Program::compile`].
    pub fn compile(policy: &Policy, protocols: &[ProtocolInfo<'_>], categories: &[&str]) -> Result<Self, PolicyError> {
        Ok(Program::compile(policy, protocols, categories)?.table(ScheduleMask::default(), 1))
    }

    /// The verdict for a packet of a flow labelled `protocol` travelling `direction` (0 outbound,
    /// 1 inbound); `None` protocol means the label is pending: forward.
    #[inline]
    pub fn verdict(&self, protocol: Option<u16>, direction: usize) -> Verdict {
        match protocol {
            None => Verdict::Forward,
            Some(p) => {
                self.verdicts.get(usize::from(p)).and_then(|a| a.get(direction)).copied().unwrap_or(self.default)
            }
        }
    }

    /// The forward/drop action for a packet (a class's packets are forwarded).
    #[inline]
    pub fn action(&self, protocol: Option<u16>, direction: usize) -> Action {
        self.verdict(protocol, direction).action()
    }

    /// The action for frames that do not parse.
    pub fn malformed(&self) -> Action {
        self.malformed
    }

    /// Whether any protocol is dropped in any direction.
    pub fn drops_anything(&self) -> bool {
        self.verdicts.iter().flatten().any(|a| *a == Verdict::Drop)
    }

    /// This table's generation: 1 for the first, one more for each table published after it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The classes, indexed by [`ClassId`].
    pub fn classes(&self) -> &Arc<[Class]> {
        &self.classes
    }

    /// One class.
    pub fn class(&self, id: ClassId) -> Option<&Class> {
        self.classes.get(usize::from(id.0))
    }

    /// The names of the schedules active in this generation.
    pub fn active_schedules(&self) -> impl Iterator<Item = &str> {
        self.schedule_names.iter().enumerate().filter(|(i, _)| self.active.contains(*i)).map(|(_, n)| n.as_str())
    }

    /// The active schedules as a mask.
    pub fn active_mask(&self) -> ScheduleMask {
        self.active
    }
}

/// Low bits of the generation a [`CachedVerdict`] keeps.
pub const CACHED_GENERATION_BITS: u32 = 12;
const GEN_MASK: u32 = (1 << CACHED_GENERATION_BITS) - 1;

/// A flow's verdicts for both directions, as of one policy generation: **three bytes**, so it
/// fits in the padding of the engine's per-flow state (a `bool` beside a 4-byte-aligned
/// inspection state) and the flow entry stays within its 144-byte budget.
///
/// [`CachedVerdict::get`] returns the cached verdict while the generation matches and
/// recomputes both directions from the table (an index, no classification) when it does not. A
/// pending label is never cached, so the first packet after the label is decided computes it.
///
/// Layout: the low 12 bits of the generation, then 6 bits per direction (0 forward, 1 drop,
/// 2 + id for class `id`, hence at most 62 classes). Generation numbers whose low 12 bits are 0
/// are never published ([`live::Publisher`] skips them), so 0 means "nothing cached". A stale
/// match would need a flow to see no packet while a multiple of 4095 generations are published;
/// generations come only from schedule boundaries and reloads (a few a day), while an idle flow
/// leaves the table after its idle timeout (minutes), so it cannot happen in practice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedVerdict([u8; 3]);

impl CachedVerdict {
    fn unpack(self) -> (u32, [u8; 2]) {
        let w = u32::from(self.0[0]) | (u32::from(self.0[1]) << 8) | (u32::from(self.0[2]) << 16);
        (w & GEN_MASK, [((w >> 12) & 0x3f) as u8, ((w >> 18) & 0x3f) as u8])
    }

    fn pack(generation: u32, codes: [u8; 2]) -> CachedVerdict {
        let w = (generation & GEN_MASK) | (u32::from(codes[0] & 0x3f) << 12) | (u32::from(codes[1] & 0x3f) << 18);
        CachedVerdict([w as u8, (w >> 8) as u8, (w >> 16) as u8])
    }

    fn code(v: Verdict) -> u8 {
        match v {
            Verdict::Forward => 0,
            Verdict::Drop => 1,
            Verdict::Class(ClassId(id)) => 2 + id.min(61),
        }
    }

    fn verdict(code: u8) -> Verdict {
        match code {
            0 => Verdict::Forward,
            1 => Verdict::Drop,
            c => Verdict::Class(ClassId(c - 2)),
        }
    }

    /// The verdict for a packet of this flow travelling `direction`, recomputed if `table` is a
    /// different generation from the cached one.
    #[inline]
    pub fn get(&mut self, table: &PolicyTable, protocol: Option<u16>, direction: usize) -> Verdict {
        let generation = (table.generation as u32) & GEN_MASK;
        let (cached, mut codes) = self.unpack();
        if cached != generation || generation == 0 {
            if protocol.is_none() {
                return Verdict::Forward;
            }
            self.recompute(table, protocol);
            codes = self.unpack().1;
        }
        Self::verdict(codes.get(direction).copied().unwrap_or(0))
    }

    /// Recompute both directions' verdicts from `table` for a flow labelled `protocol`.
    pub fn recompute(&mut self, table: &PolicyTable, protocol: Option<u16>) {
        let codes = [Self::code(table.verdict(protocol, 0)), Self::code(table.verdict(protocol, 1))];
        *self = Self::pack(table.generation as u32, codes);
    }

    /// The generation (low 12 bits) cached, 0 for none.
    pub fn generation(&self) -> u32 {
        self.unpack().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_config::Config;

    const PROTOS: &[ProtocolInfo<'static>] = &[
        ProtocolInfo { name: "unknown", category: "unknown" },
        ProtocolInfo { name: "bittorrent", category: "p2p" },
        ProtocolInfo { name: "http", category: "web" },
        ProtocolInfo { name: "edonkey", category: "p2p" },
    ];
    const CATS: &[&str] = &["p2p", "web", "unknown"];

    fn config(policy: &str) -> Config {
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        Config::parse(&text, "t.toml").unwrap()
    }

    fn table(policy: &str) -> Result<PolicyTable, PolicyError> {
        PolicyTable::compile(&config(policy).policy, PROTOS, CATS)
    }

    #[test]
    fn protocol_and_category_rules_apply_and_first_rule_wins() {
        let t = table(
            "[[policy.rule]]\nprotocol = \"edonkey\"\ndirection = \"inbound\"\naction = \"forward\"\n\
             [policy.categories]\np2p = \"drop\"\n",
        )
        .unwrap();
        assert_eq!(t.action(Some(1), 0), Action::Drop);
        assert_eq!(t.action(Some(1), 1), Action::Drop);
        assert_eq!(t.action(Some(3), 0), Action::Drop);
        assert_eq!(t.action(Some(3), 1), Action::Forward);
        assert_eq!(t.action(Some(2), 0), Action::Forward);
        assert!(t.drops_anything());
    }

    #[test]
    fn pending_flows_are_forwarded_and_default_covers_unknown() {
        let t = table("[policy]\ndefault = \"drop\"\n[policy.protocols]\nhttp = \"forward\"\n").unwrap();
        assert_eq!(t.action(None, 0), Action::Forward);
        assert_eq!(t.action(Some(0), 0), Action::Drop);
        assert_eq!(t.action(Some(2), 1), Action::Forward);
        assert_eq!(t.action(Some(99), 1), Action::Drop);
    }

    #[test]
    fn unknown_names_are_errors_that_list_the_known_ones() {
        let e = table("[policy.protocols]\nbittorent = \"drop\"\n").unwrap_err().to_string();
        assert!(e.contains("policy.protocols.bittorent") && e.contains("bittorrent, http"), "{e}");
        let e = table("[policy.categories]\npeer = \"drop\"\n").unwrap_err().to_string();
        assert!(e.contains("policy.categories.peer") && e.contains("p2p"), "{e}");
    }

    const CLASSES: &str = "[policy.classes.slow]\nrate = \"8 Mbit/s\"\n[policy.classes.mark]\ndscp = \"CS1\"\n\
        [policy.schedules.day]\ntime = \"08:00-17:00\"\ntimezone = \"UTC\"\n\
        [[policy.rule]]\ncategory = \"p2p\"\nschedule = \"day\"\naction = \"drop\"\n\
        [[policy.rule]]\nprotocol = \"bittorrent\"\nclass = \"slow\"\n\
        [[policy.rule]]\nprotocol = \"http\"\ndirection = \"outbound\"\nclass = \"mark\"\n";

    #[test]
    fn classes_and_schedules_compile_to_verdicts_per_generation() {
        let c = config(CLASSES);
        let p = Program::compile(&c.policy, PROTOS, CATS).unwrap();
        assert!(p.uses_classes() && p.uses_schedules());
        // Classes sorted by name: mark = 0, slow = 1.
        let night = p.table(ScheduleMask(0), 1);
        assert_eq!(night.verdict(Some(1), 0), Verdict::Class(ClassId(1)), "bittorrent shaped outside the schedule");
        assert_eq!(night.verdict(Some(3), 1), Verdict::Forward, "edonkey: only the scheduled drop names it");
        assert_eq!(night.verdict(Some(2), 0), Verdict::Class(ClassId(0)));
        assert_eq!(night.verdict(Some(2), 1), Verdict::Forward);
        assert_eq!(night.action(Some(1), 0), Action::Forward, "a class's packets pass a forward/drop path");
        let day = p.table(ScheduleMask(1), 2);
        assert_eq!(day.verdict(Some(1), 0), Verdict::Drop, "the scheduled drop comes first");
        assert_eq!(day.verdict(Some(3), 1), Verdict::Drop);
        assert_eq!(day.generation(), 2);
        assert_eq!(day.active_schedules().collect::<Vec<_>>(), ["day"]);
        assert_eq!(night.active_schedules().count(), 0);
        assert_eq!(day.class(ClassId(1)).map(|c| c.name.as_str()), Some("slow"));
        let (mask, next) = p.schedules_at("2026-06-03T09:00:00Z".parse().unwrap());
        assert_eq!(mask, ScheduleMask(1));
        assert_eq!(next, Some("2026-06-03T17:00:00Z".parse().unwrap()));
    }

    #[test]
    fn a_flow_recomputes_its_cached_verdict_when_the_generation_changes() {
        let c = config(CLASSES);
        let p = Program::compile(&c.policy, PROTOS, CATS).unwrap();
        let (g1, g2) = (p.table(ScheduleMask(0), 1), p.table(ScheduleMask(1), 2));
        let mut v = CachedVerdict::default();
        assert_eq!(v.get(&g1, None, 0), Verdict::Forward, "pending: forwarded");
        assert_eq!(v.generation(), 0, "a pending label is not cached");
        assert_eq!(v.get(&g1, Some(1), 0), Verdict::Class(ClassId(1)));
        assert_eq!(v.generation(), 1);
        assert_eq!(v.get(&g1, Some(1), 1), Verdict::Class(ClassId(1)));
        assert_eq!(v.get(&g2, Some(1), 1), Verdict::Drop, "new generation: recomputed");
        assert_eq!(v.generation(), 2);
        assert_eq!(v.get(&g1, Some(1), 0), Verdict::Class(ClassId(1)), "any mismatch recomputes");
    }

    #[test]
    fn the_cached_verdict_fits_in_the_flow_states_padding() {
        assert_eq!(core::mem::size_of::<Verdict>(), 2);
        assert_eq!(core::mem::size_of::<CachedVerdict>(), 3);
        assert_eq!(core::mem::align_of::<CachedVerdict>(), 1);
        // The engine's FlowState: a 40-byte, 4-aligned inspection state and a bool (44 bytes
        // with padding). The cache takes the padding: still 44.
        #[allow(dead_code)]
        struct FlowStateShape([u32; 10], bool, CachedVerdict);
        assert_eq!(core::mem::size_of::<FlowStateShape>(), 44);
    }

    #[test]
    fn every_verdict_round_trips_through_the_cache() {
        for generation in [1u32, 2, 4095, 4097, 123_456] {
            for a in 0..64u8 {
                for b in [0u8, 1, 2, 63] {
                    let c = CachedVerdict::pack(generation, [a, b]);
                    assert_eq!(c.unpack(), (generation & GEN_MASK, [a, b]));
                }
            }
        }
        for v in [Verdict::Forward, Verdict::Drop, Verdict::Class(ClassId(0)), Verdict::Class(ClassId(61))] {
            assert_eq!(CachedVerdict::verdict(CachedVerdict::code(v)), v);
        }
    }
}
