//! The signature file (`configs/signatures.toml`): raw serde structs, validation, and the one
//! aho-corasick automaton all literal patterns compile into.
//!
//! Everything that can go wrong goes wrong here, at build time, as a [`SignatureError`] that names
//! the file, the signature (by name and 1-based index) and the key. Scanning never fails.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};
use serde::Deserialize;

use crate::registry::{Category, ProtocolId, Registry};

/// Index of a signature in its classifier, in file order. Shown by name via `Classifier::describe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignatureId(pub u16);

/// Most signatures one file may hold (ids are packed into 13 bits of the per-flow state).
pub const MAX_SIGNATURES: usize = 8000;
/// Most ASCII letters a `case_insensitive` pattern may have (it compiles into 2^letters variants).
pub const MAX_CASE_INSENSITIVE_LETTERS: usize = 10;
/// Patterns, offsets and `within` are checked against this many bytes: the default per-direction
/// inspection limit. A classifier later given a smaller limit simply never reaches such matches.
pub(crate) const BUILD_BYTE_LIMIT: usize = 4096;

/// A signature file could not be turned into a classifier.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The file could not be read.
    #[error("{origin}: cannot read the signature file: {source}")]
    Io {
        /// Path of the file.
        origin: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax error, unknown key or wrong value type; the message keeps toml's line and column.
    #[error("{origin}: {source}")]
    Toml {
        /// File name or other origin label.
        origin: String,
        /// toml's error, with line/column and the offending key.
        #[source]
        source: toml::de::Error,
    },
    /// A `[[protocol]]` table is invalid.
    #[error("{origin}: protocol {name:?} (#{index}): key \"{key}\": {problem}")]
    Protocol {
        /// File name or other origin label.
        origin: String,
        /// 1-based position among the `[[protocol]]` tables.
        index: usize,
        /// The declared name (as written).
        name: String,
        /// The offending key.
        key: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A `[[signature]]` table is invalid.
    #[error("{origin}: signature {name:?} (#{index}): key \"{key}\": {problem}")]
    Signature {
        /// File name or other origin label.
        origin: String,
        /// 1-based position among the `[[signature]]` tables.
        index: usize,
        /// The signature's name (as written).
        name: String,
        /// The offending key.
        key: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A `[[port]]` table is invalid.
    #[error("{origin}: port table for {protocol:?} (#{index}): key \"{key}\": {problem}")]
    Port {
        /// File name or other origin label.
        origin: String,
        /// 1-based position among the `[[port]]` tables.
        index: usize,
        /// The protocol it names (as written).
        protocol: String,
        /// The offending key.
        key: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The file as a whole is invalid (too many signatures, automaton too large).
    #[error("{origin}: {problem}")]
    File {
        /// File name or other origin label.
        origin: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    protocol: Vec<RawProtocol>,
    #[serde(default)]
    signature: Vec<RawSignature>,
    #[serde(default)]
    port: Vec<crate::ports::RawPort>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtocol {
    name: String,
    category: String,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a protocol name or a list of protocol names")]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    name: String,
    protocol: OneOrMany,
    pattern: String,
    #[serde(default)]
    l4: Option<String>,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    offset: Option<i64>,
    #[serde(default)]
    within: Option<i64>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    case_insensitive: Option<bool>,
    #[serde(default)]
    learn: Option<String>,
}

/// Which transport a signature applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4Filter {
    Any,
    Tcp,
    Udp,
}

/// Who must have sent the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirFilter {
    Any,
    Originator,
    Responder,
}

/// What a BitTorrent or Direct Connect match teaches the peer cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Learn {
    /// Nothing.
    None,
    /// The responder (it accepted the connection, so it listens there).
    Responder,
    /// Both ends (uTP, DHT: both sides send from their listening socket).
    Both,
    /// Neither end, but the peer lists in the responder's reply (HTTP tracker).
    TrackerReply,
    /// The responder, and (reading on after the verdict) the listen port of the extension
    /// handshake, PEX peers and the DHT port of either side's peer-wire messages.
    PeerWire,
    /// The sender's announced listen port (BitTorrent local peer discovery).
    Lsd,
}

/// One validated signature.
#[derive(Clone, Debug)]
pub(crate) struct Signature {
    pub(crate) name: String,
    /// One protocol, or several that only a port can tell apart (the label then says "port guess").
    pub(crate) protocols: Vec<ProtocolId>,
    pub(crate) l4: L4Filter,
    pub(crate) dir: DirFilter,
    /// Required start offset of the match in the direction's stream (TCP) or datagram (UDP).
    pub(crate) offset: Option<u16>,
    /// The match must end within this many bytes of the stream (or datagram) start.
    pub(crate) within: Option<u16>,
    pub(crate) priority: u8,
    pub(crate) learn: Learn,
    pub(crate) pattern_len: u16,
}

impl Signature {
    /// The first stream position after which this signature can no longer match (`None`: any).
    pub(crate) fn end_bound(&self) -> Option<u16> {
        match (self.offset, self.within) {
            (Some(o), _) => Some(o.saturating_add(self.pattern_len)),
            (None, Some(w)) => Some(w),
            (None, None) => None,
        }
    }
}

/// All signatures of one file, compiled.
#[derive(Clone, Debug)]
pub(crate) struct SignatureSet {
    pub(crate) registry: Registry,
    pub(crate) sigs: Vec<Signature>,
    /// Pattern id (automaton) -> signature index; case-insensitive signatures own several patterns.
    pub(crate) pattern_sig: Vec<u16>,
    pub(crate) dfa: DFA,
    pub(crate) start: StateID,
    /// Largest state id reachable from `start`: stored states above it are foreign and reset.
    pub(crate) max_state: u32,
    /// Well-known ports from the `[[port]]` tables.
    pub(crate) ports: crate::ports::PortTable,
}

struct Ctx<'a> {
    origin: &'a str,
    index: usize,
    name: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &'static str, problem: impl Into<String>) -> SignatureError {
        SignatureError::Signature {
            origin: self.origin.to_owned(),
            index: self.index,
            name: self.name.to_owned(),
            key,
            problem: problem.into(),
        }
    }
}

/// Decodes the pattern escapes `\xNN`, `\\`, `\r`, `\n`, `\t`, `\0` into bytes.
pub(crate) fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            return Err("the pattern ends with a lone backslash; write \\\\ for a backslash".into());
        };
        match e {
            b'\\' => out.push(b'\\'),
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'x' => {
                let hex = b.get(i + 2..i + 4).and_then(|h| core::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                    _ => {
                        return Err(format!(
                            "bad escape at byte {i}: \\x must be followed by exactly two hex digits (e.g. \\x13)"
                        ));
                    }
                }
            }
            other => {
                return Err(format!(
                    "unknown escape \\{} at byte {i}; use \\xNN, \\\\, \\r, \\n, \\t or \\0",
                    char::from(other).escape_default()
                ));
            }
        }
        i += 2;
    }
    Ok(out)
}

/// All ASCII-case variants of `p`.
fn case_variants(p: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::with_capacity(p.len())];
    for &c in p {
        if c.is_ascii_alphabetic() {
            let mut next = Vec::with_capacity(out.len() * 2);
            for v in &out {
                let mut lo = v.clone();
                lo.push(c.to_ascii_lowercase());
                let mut up = v.clone();
                up.push(c.to_ascii_uppercase());
                next.push(lo);
                next.push(up);
            }
            out = next;
        } else {
            for v in &mut out {
                v.push(c);
            }
        }
    }
    out
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

fn bounded(ctx: &Ctx<'_>, key: &'static str, v: i64, min: i64, max: i64) -> Result<i64, SignatureError> {
    if v < min || v > max {
        return Err(ctx.err(key, format!("{v} is out of range; use {min}..={max}")));
    }
    Ok(v)
}

impl SignatureSet {
    /// Parses and compiles a signature file. `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<SignatureSet, SignatureError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|source| SignatureError::Toml { origin: origin.to_owned(), source })?;
        let mut registry = Registry::builtin();
        for (i, p) in raw.protocol.iter().enumerate() {
            let perr = |key: &'static str, problem: String| SignatureError::Protocol {
                origin: origin.to_owned(),
                index: i + 1,
                name: p.name.clone(),
                key,
                problem,
            };
            if !valid_name(&p.name) {
                return Err(perr("name", "a protocol name is 1 to 64 characters of [a-z0-9_-]".into()));
            }
            let Some(cat) = Category::parse(&p.category) else {
                let all: Vec<&str> = Category::ALL.iter().map(|c| c.name()).collect();
                return Err(perr(
                    "category",
                    format!("unknown category {:?}; use one of: {}", p.category, all.join(", ")),
                ));
            };
            // A protocol an earlier weir took from the signature file and now knows itself
            // (e.g. amqp): a file written for that weir keeps working if it agrees on the
            // category.
            if let Some(id) = registry.lookup(&p.name).filter(|id| id.0 < ProtocolId::BUILTIN_COUNT) {
                let builtin = registry.category(id);
                if builtin == cat {
                    continue;
                }
                return Err(perr(
                    "category",
                    format!(
                        "protocol {:?} is built in, with category {:?}; remove this declaration or make it {:?}",
                        p.name,
                        builtin.name(),
                        builtin.name()
                    ),
                ));
            }
            if registry.add(&p.name, cat).is_none() {
                return Err(perr(
                    "name",
                    format!("protocol {:?} already exists (built-in or declared twice); pick another name", p.name),
                ));
            }
        }
        if raw.signature.len() > MAX_SIGNATURES {
            return Err(SignatureError::File {
                origin: origin.to_owned(),
                problem: format!("{} signatures; at most {MAX_SIGNATURES} are supported", raw.signature.len()),
            });
        }
        let mut sigs: Vec<Signature> = Vec::with_capacity(raw.signature.len());
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_sig: Vec<u16> = Vec::new();
        for (i, r) in raw.signature.iter().enumerate() {
            let ctx = Ctx { origin, index: i + 1, name: &r.name };
            let sig_index = u16::try_from(i).map_err(|_| ctx.err("name", "too many signatures"))?;
            if !valid_name(&r.name) {
                return Err(ctx.err("name", "a signature name is 1 to 64 characters of [a-z0-9_-]"));
            }
            if let Some(first) = sigs.iter().position(|s| s.name == r.name) {
                return Err(ctx.err(
                    "name",
                    format!("duplicate name: signature #{} already uses it; names must be unique", first + 1),
                ));
            }
            let names: Vec<&str> = match &r.protocol {
                OneOrMany::One(s) => vec![s.as_str()],
                OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
            };
            if names.is_empty() {
                return Err(ctx.err("protocol", "empty list; name at least one protocol"));
            }
            let mut protocols = Vec::with_capacity(names.len());
            for n in names {
                match registry.lookup(n) {
                    Some(id) if id != ProtocolId::UNKNOWN => {
                        if !protocols.contains(&id) {
                            protocols.push(id);
                        }
                    }
                    _ => {
                        return Err(ctx.err(
                            "protocol",
                            format!(
                                "unknown protocol {n:?}; declare it in a [[protocol]] table or use one of: {}",
                                registry.names_list()
                            ),
                        ));
                    }
                }
            }
            let l4 = match r.l4.as_deref() {
                None | Some("any") => L4Filter::Any,
                Some("tcp") => L4Filter::Tcp,
                Some("udp") => L4Filter::Udp,
                Some(other) => return Err(ctx.err("l4", format!("unknown value {other:?}; use tcp, udp or any"))),
            };
            let dir = match r.direction.as_deref() {
                None | Some("any") => DirFilter::Any,
                Some("originator") => DirFilter::Originator,
                Some("responder") => DirFilter::Responder,
                Some(other) => {
                    return Err(
                        ctx.err("direction", format!("unknown value {other:?}; use originator, responder or any"))
                    );
                }
            };
            let pattern = unescape(&r.pattern).map_err(|p| ctx.err("pattern", p))?;
            if pattern.is_empty() {
                return Err(ctx.err("pattern", "empty pattern; a signature needs at least one byte"));
            }
            if pattern.len() > BUILD_BYTE_LIMIT {
                return Err(ctx.err(
                    "pattern",
                    format!(
                        "pattern is {} bytes, longer than the inspection limit of {BUILD_BYTE_LIMIT} bytes",
                        pattern.len()
                    ),
                ));
            }
            let limit = BUILD_BYTE_LIMIT as i64;
            let plen = pattern.len() as i64;
            let offset = match r.offset {
                None => None,
                Some(o) => Some(bounded(&ctx, "offset", o, 0, limit - plen)?),
            };
            let within = match r.within {
                None => None,
                Some(_) if offset.is_some() => {
                    return Err(ctx.err("within", "give either offset (anchored) or within (floating), not both"));
                }
                Some(w) => Some(bounded(&ctx, "within", w, plen, limit)?),
            };
            let priority = bounded(&ctx, "priority", r.priority.unwrap_or(10), 0, 255)?;
            let learn = match r.learn.as_deref() {
                None | Some("none") => Learn::None,
                Some("responder") => Learn::Responder,
                Some("both") => Learn::Both,
                Some("tracker-reply") => Learn::TrackerReply,
                Some("peer-wire") => Learn::PeerWire,
                Some("lsd") => Learn::Lsd,
                Some(other) => {
                    return Err(ctx.err(
                        "learn",
                        format!("unknown value {other:?}; use none, responder, both, tracker-reply, peer-wire or lsd"),
                    ));
                }
            };
            let endpoints = matches!(learn, Learn::Responder | Learn::Both);
            let cached = protocols == [ProtocolId::BITTORRENT] || protocols == [ProtocolId::DIRECTCONNECT];
            if learn != Learn::None && !(protocols == [ProtocolId::BITTORRENT] || (endpoints && cached)) {
                return Err(ctx.err(
                    "learn",
                    "only bittorrent signatures (any value) and directconnect ones (responder, both) can teach the peer \
                     cache; remove the key",
                ));
            }
            let variants = if r.case_insensitive.unwrap_or(false) {
                let letters = pattern.iter().filter(|c| c.is_ascii_alphabetic()).count();
                if letters > MAX_CASE_INSENSITIVE_LETTERS {
                    return Err(ctx.err(
                        "case_insensitive",
                        format!(
                            "the pattern has {letters} letters; case-insensitive patterns may have at most \
                             {MAX_CASE_INSENSITIVE_LETTERS} (shorten it or match one spelling)"
                        ),
                    ));
                }
                case_variants(&pattern)
            } else {
                vec![pattern.clone()]
            };
            for v in variants {
                patterns.push(v);
                pattern_sig.push(sig_index);
            }
            sigs.push(Signature {
                name: r.name.clone(),
                protocols,
                l4,
                dir,
                offset: offset.and_then(|o| u16::try_from(o).ok()),
                within: within.and_then(|w| u16::try_from(w).ok()),
                priority: u8::try_from(priority).unwrap_or(u8::MAX),
                learn,
                pattern_len: u16::try_from(pattern.len()).unwrap_or(u16::MAX),
            });
        }
        let dfa = DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(StartKind::Unanchored)
            .byte_classes(true)
            .build(&patterns)
            .map_err(|e| SignatureError::File {
                origin: origin.to_owned(),
                problem: format!("cannot build the automaton ({e}); use fewer or shorter patterns"),
            })?;
        let start = dfa.start_state(Anchored::No).map_err(|e| SignatureError::File {
            origin: origin.to_owned(),
            problem: format!("the automaton has no unanchored start state ({e})"),
        })?;
        let max_state = reachable_max(&dfa, start);
        let ports = crate::ports::PortTable::build(&raw.port, &registry, origin)?;
        Ok(SignatureSet { registry, sigs, pattern_sig, dfa, start, max_state, ports })
    }
}

/// The largest state id reachable from `start`, by breadth-first search over all bytes.
fn reachable_max(dfa: &DFA, start: StateID) -> u32 {
    let mut seen = hashbrown::HashSet::new();
    let mut queue = vec![start];
    seen.insert(start.as_u32());
    let mut max = start.as_u32();
    while let Some(s) = queue.pop() {
        for b in 0..=255u8 {
            let n = dfa.next_state(Anchored::No, s, b);
            if seen.insert(n.as_u32()) {
                max = max.max(n.as_u32());
                queue.push(n);
            }
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_accepts_documented_escapes() {
        assert_eq!(unescape(r"\x13Bit\\\r\n\t\0").unwrap(), b"\x13Bit\\\r\n\t\0");
        assert_eq!(unescape("plain").unwrap(), b"plain");
        assert_eq!(unescape(r"\xfF").unwrap(), [0xff]);
    }

    #[test]
    fn unescape_rejects_bad_escapes() {
        for bad in [r"\x1", r"\xZZ", r"\q", "end\\", r"\x+1"] {
            assert!(unescape(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn case_variants_cover_all_spellings() {
        let v = case_variants(b"a-b");
        assert_eq!(v.len(), 4);
        assert!(v.contains(&b"A-b".to_vec()));
        assert!(v.contains(&b"a-B".to_vec()));
    }

    fn sig(extra: &str) -> String {
        format!("[[signature]]\nname = \"bt-hs\"\nprotocol = \"bittorrent\"\npattern = 'abc'\n{extra}\n")
    }

    /// Each case: file text, then substrings the error message must contain.
    macro_rules! error_cases {
        ($( $name:ident: $text:expr => [$( $want:expr ),+]; )*) => {
            $(
                #[test]
                fn $name() {
                    let text: String = $text;
                    let msg = match SignatureSet::parse(&text, "sigs.toml") {
                        Ok(_) => panic!("accepted:\n{text}"),
                        Err(e) => e.to_string(),
                    };
                    assert!(msg.starts_with("sigs.toml"), "{msg}");
                    $( assert!(msg.contains($want), "{msg:?} lacks {:?}", $want); )+
                }
            )*
        };
    }

    error_cases! {
        err_unknown_protocol: sig("").replace("\"bittorrent\"", "\"bittorent\"")
            => ["signature \"bt-hs\" (#1)", "key \"protocol\"", "unknown protocol \"bittorent\"", "[[protocol]]", "bittorrent, directconnect"];
        err_bad_escape: sig("").replace("'abc'", r"'\x1g'") => ["key \"pattern\"", "hex digits"];
        err_unknown_escape: sig("").replace("'abc'", r"'\q'") => ["key \"pattern\"", "unknown escape"];
        err_empty_pattern: sig("").replace("'abc'", "''") => ["key \"pattern\"", "empty"];
        err_pattern_too_long: sig("").replace("'abc'", &format!("'{}'", "a".repeat(5000))) => ["key \"pattern\"", "inspection limit"];
        err_duplicate_name: format!("{}{}", sig(""), sig("")) => ["(#2)", "key \"name\"", "duplicate", "#1"];
        err_bad_name: sig("").replace("bt-hs", "BT HS") => ["key \"name\"", "[a-z0-9_-]"];
        err_unknown_key: sig("patern = 'x'") => ["unknown field", "patern"];
        err_toml_syntax: sig("offset = = 3") => ["line"];
        err_missing_pattern: "[[signature]]\nname = \"x\"\nprotocol = \"http\"\n".to_string() => ["pattern"];
        err_bad_l4: sig("l4 = \"sctp\"") => ["key \"l4\"", "tcp, udp or any"];
        err_bad_direction: sig("direction = \"up\"") => ["key \"direction\"", "originator"];
        err_priority_range: sig("priority = 300") => ["key \"priority\"", "0..=255"];
        err_offset_range: sig("offset = 4095") => ["key \"offset\""];
        err_negative_within: sig("within = -1") => ["key \"within\""];
        err_within_shorter_than_pattern: sig("within = 2") => ["key \"within\""];
        err_offset_and_within: sig("offset = 0\nwithin = 10") => ["key \"within\"", "not both"];
        err_learn_not_bittorrent: sig("learn = \"both\"").replace("\"bittorrent\"", "\"http\"") => ["key \"learn\"", "bittorrent"];
        err_bad_learn: sig("learn = \"all\"") => ["key \"learn\""];
        err_too_many_letters: sig("case_insensitive = true").replace("'abc'", "'abcdefghijk'") => ["key \"case_insensitive\"", "at most 10"];
        err_empty_protocol_list: sig("").replace("\"bittorrent\"", "[]") => ["key \"protocol\"", "empty"];
        err_unknown_category: "[[protocol]]\nname = \"mine\"\ncategory = \"games\"\n".to_string()
            => ["protocol \"mine\" (#1)", "key \"category\"", "p2p, web"];
        err_protocol_clash: "[[protocol]]\nname = \"mine\"\ncategory = \"web\"\n[[protocol]]\nname = \"mine\"\ncategory = \"web\"\n".to_string()
            => ["protocol \"mine\" (#2)", "key \"name\"", "already exists"];
        err_builtin_other_category: "[[protocol]]\nname = \"http\"\ncategory = \"p2p\"\n".to_string()
            => ["key \"category\"", "built in", "\"web\""];
        err_unknown_protocol_key: "[[protocol]]\nname = \"m\"\ncategory = \"other\"\ncolour = 1\n".to_string() => ["unknown field", "colour"];
    }

    /// A file written for a weir that took a protocol from the signature file (amqp was) still
    /// loads once weir knows the protocol itself: the declaration agrees and changes nothing.
    #[test]
    fn a_builtin_declared_again_with_its_category_is_accepted() {
        let text = format!("[[protocol]]\nname = \"amqp\"\ncategory = \"other\"\n{}", sig(""));
        let set = SignatureSet::parse(&text, "x").unwrap();
        assert_eq!(set.registry.lookup("amqp"), Some(ProtocolId::AMQP));
        assert_eq!(set.registry.len(), usize::from(ProtocolId::BUILTIN_COUNT));
    }

    #[test]
    fn user_protocols_and_lists_are_accepted() {
        let text = format!(
            "[[protocol]]\nname = \"myproto\"\ncategory = \"other\"\n{}",
            sig("").replace("\"bittorrent\"", "[\"myproto\", \"ftp\"]")
        );
        let set = SignatureSet::parse(&text, "x").unwrap();
        assert_eq!(set.sigs[0].protocols, [ProtocolId(ProtocolId::BUILTIN_COUNT), ProtocolId::FTP]);
        assert_eq!(set.registry.name(set.sigs[0].protocols[0]), "myproto");
        assert_eq!(set.sigs[0].priority, 10);
        assert_eq!(set.sigs[0].end_bound(), None);
    }

    #[test]
    fn case_insensitive_signature_owns_its_variants() {
        let set = SignatureSet::parse(&sig("case_insensitive = true"), "x").unwrap();
        assert_eq!(set.pattern_sig, vec![0u16; 8]);
    }

    #[test]
    fn empty_file_is_valid() {
        let set = SignatureSet::parse("", "x").unwrap();
        assert!(set.sigs.is_empty());
    }
}
