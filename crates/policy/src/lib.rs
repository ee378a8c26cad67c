//! Policy: which protocols, in which direction, are forwarded or dropped.
//!
//! The config's ordered rules are compiled once, against the classifier's protocol list, into a
//! table of one action per protocol and direction, so the per-packet decision is an array index.
//! A flow whose label is still pending is forwarded: inspection needs its first bytes to pass.
//! Once labelled, its action is the table's; a dropped flow stays dropped.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use weir_config::Action;
use weir_config::{Match, Policy, RuleDirection};

/// One protocol as the classifier knows it: its name and its category's name.
#[derive(Clone, Copy, Debug)]
pub struct ProtocolInfo<'a> {
    /// e.g. "bittorrent".
    pub name: &'a str,
    /// e.g. "p2p".
    pub category: &'a str,
}

/// A rule that names a protocol or category the classifier does not know.
#[derive(Debug, thiserror::Error)]
#[error("policy key `{key}`: no {kind} named {name:?}; known {kind}s: {known}")]
pub struct PolicyError {
    /// The config key of the rule.
    pub key: String,
    /// "protocol" or "category".
    pub kind: &'static str,
    /// The unknown name.
    pub name: String,
    /// The names that would work.
    pub known: String,
}

/// The compiled policy.
#[derive(Clone, Debug)]
pub struct PolicyTable {
    /// Indexed by protocol id, then direction (0 outbound, 1 inbound).
    actions: Box<[[Action; 2]]>,
    default: Action,
    malformed: Action,
}

impl PolicyTable {
    /// Compile `policy` for the classifier's protocols, indexed by protocol id.
    ///
    /// # Errors
    /// If a rule names a protocol or category that `protocols` does not contain.
    pub fn compile(policy: &Policy, protocols: &[ProtocolInfo<'_>], categories: &[&str]) -> Result<Self, PolicyError> {
        let mut actions: Vec<[Option<Action>; 2]> = vec![[None, None]; protocols.len()];
        for rule in &policy.rules {
            let hits: Vec<usize> = match &rule.matches {
                Match::Protocol(name) => {
                    let id = protocols.iter().position(|p| p.name == name).ok_or_else(|| PolicyError {
                        key: rule.key.clone(),
                        kind: "protocol",
                        name: name.clone(),
                        known: protocols.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
                    })?;
                    vec![id]
                }
                Match::Category(name) => {
                    if !categories.contains(&name.as_str()) {
                        return Err(PolicyError {
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
            for id in hits {
                for &d in dirs {
                    // First matching rule wins.
                    if let Some(slot) = actions.get_mut(id).and_then(|a| a.get_mut(d)) {
                        slot.get_or_insert(rule.action);
                    }
                }
            }
        }
        let actions =
            actions.into_iter().map(|[o, i]| [o.unwrap_or(policy.default), i.unwrap_or(policy.default)]).collect();
        Ok(PolicyTable { actions, default: policy.default, malformed: policy.malformed })
    }

    /// The action for a packet of a flow labelled `protocol` travelling `direction` (0 outbound,
    /// 1 inbound); `None` protocol means the label is pending: forward.
    #[inline]
    pub fn action(&self, protocol: Option<u16>, direction: usize) -> Action {
        match protocol {
            None => Action::Forward,
            Some(p) => self.actions.get(usize::from(p)).and_then(|a| a.get(direction)).copied().unwrap_or(self.default),
        }
    }

    /// The action for frames that do not parse.
    pub fn malformed(&self) -> Action {
        self.malformed
    }

    /// Whether any protocol is dropped in any direction.
    pub fn drops_anything(&self) -> bool {
        self.actions.iter().flatten().any(|a| *a == Action::Drop)
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

    fn table(policy: &str) -> Result<PolicyTable, PolicyError> {
        let text = format!("[interfaces]\ninside = \"a\"\noutside = \"b\"\n{policy}");
        let c = Config::parse(&text, "t.toml").unwrap();
        PolicyTable::compile(&c.policy, PROTOS, CATS)
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
}
