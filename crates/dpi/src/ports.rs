//! Well-known ports declared in the signature file (`[[port]]` tables), for the port guess.
//!
//! A port never decides a label that the content can decide: it names a flow nothing matched
//! (a SYN scan, an answer whose request was not seen) or breaks a tie between protocols that share a
//! format (DNS, mDNS, LLMNR), and the label says `port guess`. The built-in table in the classifier
//! is consulted first; these entries extend it, so users can add ports without a rebuild.

use serde::Deserialize;

use crate::classifier::L4;
use crate::registry::{ProtocolId, Registry};
use crate::signature::SignatureError;

/// A `[[port]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPort {
    protocol: String,
    #[serde(default)]
    tcp: Vec<i64>,
    #[serde(default)]
    udp: Vec<i64>,
}

/// Ports to protocols, per transport; sorted for binary search.
#[derive(Clone, Debug, Default)]
pub(crate) struct PortTable {
    tcp: Vec<(u16, ProtocolId)>,
    udp: Vec<(u16, ProtocolId)>,
}

impl PortTable {
    /// Validates the `[[port]]` tables against the protocols the file knows.
    pub(crate) fn build(raw: &[RawPort], registry: &Registry, origin: &str) -> Result<PortTable, SignatureError> {
        let mut t = PortTable::default();
        for (i, r) in raw.iter().enumerate() {
            let err = |key: &'static str, problem: String| SignatureError::Port {
                origin: origin.to_owned(),
                index: i + 1,
                protocol: r.protocol.clone(),
                key,
                problem,
            };
            let id = match registry.lookup(&r.protocol) {
                Some(id) if id != ProtocolId::UNKNOWN => id,
                _ => {
                    return Err(err(
                        "protocol",
                        format!(
                            "unknown protocol {:?}; declare it in a [[protocol]] table or use one of: {}",
                            r.protocol,
                            registry.names_list()
                        ),
                    ));
                }
            };
            if r.tcp.is_empty() && r.udp.is_empty() {
                return Err(err("tcp", "no ports; give tcp = [..] or udp = [..] (or both)".into()));
            }
            for (key, list, out) in [("tcp", &r.tcp, &mut t.tcp), ("udp", &r.udp, &mut t.udp)] {
                for &p in list {
                    let Ok(port) = u16::try_from(p) else {
                        return Err(err(key, format!("{p} is not a port; use 1..=65535")));
                    };
                    if port == 0 {
                        return Err(err(key, "port 0 is not a port; use 1..=65535".into()));
                    }
                    if let Some(&(_, other)) = out.iter().find(|(q, _)| *q == port) {
                        return Err(err(
                            key,
                            format!(
                                "{key} port {port} is already given to {}; a port names one protocol",
                                registry.name(other)
                            ),
                        ));
                    }
                    out.push((port, id));
                }
            }
        }
        t.tcp.sort_unstable();
        t.udp.sort_unstable();
        Ok(t)
    }

    /// The protocol declared for this transport and port.
    pub(crate) fn get(&self, l4: L4, port: u16) -> Option<ProtocolId> {
        let list = match l4 {
            L4::Tcp => &self.tcp,
            L4::Udp => &self.udp,
        };
        list.binary_search_by_key(&port, |&(p, _)| p).ok().map(|i| list[i].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Vec<RawPort> {
        #[derive(Deserialize)]
        struct F {
            port: Vec<RawPort>,
        }
        toml::from_str::<F>(text).map(|f| f.port).unwrap_or_default()
    }

    #[test]
    fn lookups_and_errors() {
        let r = Registry::builtin();
        let t = PortTable::build(&raw("[[port]]\nprotocol = \"ntp\"\nudp = [123]\n"), &r, "f").unwrap();
        assert_eq!(t.get(L4::Udp, 123), Some(ProtocolId::NTP));
        assert_eq!(t.get(L4::Tcp, 123), None);
        let e = |text: &str| PortTable::build(&raw(text), &r, "f").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e("[[port]]\nprotocol = \"ntpd\"\nudp = [123]\n").contains("unknown protocol \"ntpd\""));
        assert!(e("[[port]]\nprotocol = \"ntp\"\nudp = [70000]\n").contains("key \"udp\": 70000 is not a port"));
        assert!(e("[[port]]\nprotocol = \"ntp\"\n").contains("no ports"));
        assert!(
            e("[[port]]\nprotocol = \"ntp\"\nudp = [123]\n[[port]]\nprotocol = \"slp\"\nudp = [123]\n")
                .contains("already given to ntp")
        );
    }
}
