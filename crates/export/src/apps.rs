//! Application ids (RFC 6759): which protocol a flow carried, as collectors see it.
//!
//! An `applicationId` (IPFIX IE 95) is a Classification Engine ID (one octet) and a Selector ID.
//! weir uses engine 6, "User Defined" (weir has no Private Enterprise Number for engine 20,
//! PANA-L7-PEN), and a 3-octet selector, so every applicationId weir exports is 4 octets.
//!
//! The selector of a protocol depends on its name only, never on the order of the signature file
//! or on which other protocols exist (bar a hash collision, below), so the ids mean the same in
//! every run and on every bridge of a fleet:
//!
//! - protocols weir ships with (built in, or declared in the shipped `configs/signatures.toml`)
//!   have fixed selectors, 0 to 0x7FFF, listed in [`FIXED`] (`unknown` is 0). The table only
//!   grows: a listed name keeps its number for good;
//! - any other name (a protocol a user declares, or one weir adds later without listing it)
//!   gets `0x800000 | h`, `h` the 32-bit FNV-1a hash of its name folded to 23 bits
//!   (`(x >> 23) ^ (x & 0x7FFFFF)`). If two names land on one selector, the names are sorted and
//!   each later one takes the next free selector (wrapping within 0x800000..=0xFFFFFF); that moves
//!   an id only when the colliding names are both present, which is deterministic for a given
//!   set of names.
//!
//! Collectors learn names from an options template (scope applicationId; applicationName IE 96,
//! applicationCategoryName IE 372, p2pTechnology IE 288) that the exporter sends with its
//! templates ([`crate::encode`]).

use weir_dpi::{Category, Registry};

/// The Classification Engine ID of every applicationId weir exports: 6, User Defined.
pub const ENGINE_USER_DEFINED: u8 = 6;

/// Selectors of the protocols weir ships with. Append only; never renumber.
pub const FIXED: &[(&str, u32)] = &[
    ("unknown", 0),
    ("bittorrent", 1),
    ("directconnect", 2),
    ("edonkey", 3),
    ("fasttrack", 4),
    ("winmx", 5),
    ("gnutella", 6),
    ("http", 7),
    ("tls", 8),
    ("quic", 9),
    ("dns", 10),
    ("ssh", 11),
    ("smtp", 12),
    ("pop3", 13),
    ("imap", 14),
    ("ftp", 15),
    ("sip", 16),
    ("icmp", 17),
    ("ssdp", 18),
    ("dhcp", 19),
    ("netbios", 20),
    ("wsd", 21),
    ("snmp", 22),
    ("irc", 23),
    ("igmp", 24),
    ("gre", 25),
    ("ipsec", 26),
    ("ospf", 27),
    ("pim", 28),
    ("vrrp", 29),
    ("pgm", 30),
    ("sctp", 31),
    ("l2tp", 32),
    ("stun", 33),
    ("rtp", 34),
    ("radius", 35),
    ("kerberos", 36),
    ("slp", 37),
    ("ntp", 38),
    ("syslog", 39),
    ("dtls", 40),
    ("tftp", 41),
    ("dhcpv6", 42),
    ("nfs", 43),
    ("sunrpc", 44),
    ("coap", 45),
    ("bacnet", 46),
    ("discord", 47),
    ("openvpn", 48),
    ("wireguard", 49),
    ("mdns", 50),
    ("llmnr", 51),
    ("mssql", 52),
    ("postgresql", 53),
    ("mysql", 54),
    ("ldap", 55),
    ("dnp3", 56),
    ("modbus", 57),
    ("iec104", 58),
    ("h323", 59),
    ("rdp", 60),
    ("dcerpc", 61),
    ("kafka", 62),
    ("mqtt", 63),
    ("redis", 64),
    ("socks", 65),
    ("collectd", 66),
    ("elasticsearch", 67),
    ("nat-pmp", 68),
    ("teredo", 69),
    ("ethernetip", 70),
    ("cassandra", 71),
    ("skinny", 72),
    ("ubiquiti", 73),
    ("tplink-shp", 74),
    ("qq", 75),
    ("c37118", 76),
    ("fastcgi", 77),
    ("thrift", 78),
    ("capwap", 79),
    ("tinc", 80),
    ("uftp", 81),
    ("smb", 82),
    ("rsync", 83),
    ("git", 84),
    ("dropbox", 85),
    ("vnc", 86),
    ("xmpp", 87),
    ("rtsp", 88),
    ("mgcp", 89),
    ("dnscrypt", 90),
    ("zabbix", 91),
    ("munin", 92),
    ("amqp", 93),
    ("nats", 94),
    ("ceph", 95),
    ("fix", 96),
    ("raknet", 97),
    ("source-engine", 98),
    ("bjnp", 99),
    ("tuya", 100),
    ("mining", 101),
    ("monero", 102),
    ("bgp", 103),
    ("ipmi", 104),
    ("roughtime", 105),
    ("spotify", 106),
    ("telegram", 107),
    ("whatsapp", 108),
    ("zoom", 109),
    ("kcp", 110),
    ("nintendo", 111),
    ("opc-ua", 112),
    ("corba", 113),
    ("megaco", 114),
    ("rtps", 115),
    ("netflow", 116),
    ("hislip", 117),
    ("teamspeak", 118),
    ("iax", 119),
    ("someip", 120),
    ("checkmk", 121),
    ("rx", 122),
    ("fins", 123),
    ("can", 124),
    ("jrmi", 125),
    ("tivoconnect", 126),
    ("ldp", 127),
    ("ripe-atlas", 128),
    ("ptp", 129),
    ("gtp", 130),
    ("rtmp", 131),
    ("oracle", 132),
    ("hart-ip", 133),
];

/// First selector of names not in [`FIXED`].
pub const DERIVED_BASE: u32 = 0x80_0000;
const DERIVED_MASK: u32 = 0x7F_FFFF;

/// 32-bit FNV-1a.
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The selector a name not in [`FIXED`] starts from, before collisions.
pub fn derived_selector(name: &str) -> u32 {
    let h = fnv1a32(name.as_bytes());
    DERIVED_BASE | ((h >> 23) ^ (h & DERIVED_MASK))
}

/// One application as exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// The 3-octet selector.
    pub selector: u32,
    /// The protocol's name (applicationName).
    pub name: String,
    /// Its category's name (applicationCategoryName).
    pub category: String,
    /// Whether it is peer-to-peer (p2pTechnology "yes"/"no").
    pub p2p: bool,
}

impl App {
    /// The 4-octet applicationId: engine 6, then the selector.
    pub fn id(&self) -> [u8; 4] {
        let s = self.selector.to_be_bytes();
        [ENGINE_USER_DEFINED, s[1], s[2], s[3]]
    }
}

/// The applications of a classifier, indexed by protocol id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppTable {
    apps: Vec<App>,
}

impl AppTable {
    /// Applications for protocols given as (name, category name) in protocol-id order.
    pub fn new<'a>(protocols: impl IntoIterator<Item = (&'a str, &'a str)>) -> AppTable {
        let mut apps: Vec<App> = protocols
            .into_iter()
            .map(|(name, category)| App {
                selector: u32::MAX,
                name: name.to_string(),
                category: category.to_string(),
                p2p: category == Category::P2p.name(),
            })
            .collect();
        let mut used = std::collections::BTreeSet::new();
        for app in apps.iter_mut() {
            if let Some(&(_, sel)) = FIXED.iter().find(|(n, _)| *n == app.name) {
                app.selector = sel;
                used.insert(sel);
            }
        }
        // Derived selectors, assigned in name order so the result does not depend on the order
        // the protocols were declared in.
        let mut derived: Vec<usize> = (0..apps.len()).filter(|&i| apps[i].selector == u32::MAX).collect();
        derived.sort_by(|&a, &b| apps[a].name.cmp(&apps[b].name));
        for i in derived {
            let mut sel = derived_selector(&apps[i].name);
            while used.contains(&sel) {
                sel = DERIVED_BASE | ((sel + 1) & DERIVED_MASK);
            }
            used.insert(sel);
            apps[i].selector = sel;
        }
        AppTable { apps }
    }

    /// Applications for a classifier's registry.
    pub fn from_registry(registry: &Registry) -> AppTable {
        let names: Vec<(String, &'static str)> =
            registry.iter().map(|id| (registry.name(id).to_string(), registry.category(id).name())).collect();
        AppTable::new(names.iter().map(|(n, c)| (n.as_str(), *c)))
    }

    /// All applications, in protocol-id order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The application of protocol id `id`; `unknown`'s (id 0) for an id out of range.
    pub fn get(&self, id: u16) -> Option<&App> {
        self.apps.get(usize::from(id)).or_else(|| self.apps.first())
    }

    /// The applicationId of protocol id `id` (`unknown`'s, engine 6 selector 0, when out of range).
    pub fn id(&self, id: u16) -> [u8; 4] {
        self.get(id).map_or([ENGINE_USER_DEFINED, 0, 0, 0], App::id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_selectors_are_unique_and_below_the_derived_range() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, sel) in FIXED {
            assert!(*sel < 0x8000, "{name}");
            assert!(seen.insert(*sel), "{name} reuses {sel}");
        }
        assert_eq!(FIXED[0], ("unknown", 0));
    }

    #[test]
    fn every_protocol_weir_ships_with_has_a_fixed_selector() {
        let c = weir_dpi::Classifier::builtin().unwrap();
        let table = AppTable::from_registry(c.registry());
        let missing: Vec<&str> =
            table.apps().iter().filter(|a| a.selector >= DERIVED_BASE).map(|a| a.name.as_str()).collect();
        assert!(missing.is_empty(), "no entry in FIXED for {missing:?}: append them");
        let bt = &table.apps()[usize::from(weir_dpi::ProtocolId::BITTORRENT.0)];
        assert_eq!((bt.id(), bt.p2p, bt.category.as_str()), ([6, 0, 0, 1], true, "p2p"));
    }

    #[test]
    fn derived_selectors_do_not_depend_on_declaration_order() {
        let a = AppTable::new([("unknown", "unknown"), ("zeta", "other"), ("alpha", "p2p"), ("http", "web")]);
        let b = AppTable::new([("unknown", "unknown"), ("http", "web"), ("alpha", "p2p"), ("zeta", "other")]);
        let sel = |t: &AppTable, n: &str| t.apps().iter().find(|a| a.name == n).unwrap().selector;
        for n in ["alpha", "zeta", "http", "unknown"] {
            assert_eq!(sel(&a, n), sel(&b, n), "{n}");
        }
        assert_eq!(sel(&a, "http"), 7);
        assert_eq!(sel(&a, "alpha"), derived_selector("alpha"));
        assert!(sel(&a, "zeta") >= DERIVED_BASE && sel(&a, "zeta") <= 0xFF_FFFF);
        // FNV-1a's published test vectors, and the fold.
        assert_eq!((fnv1a32(b""), fnv1a32(b"a"), fnv1a32(b"foobar")), (0x811c_9dc5, 0xe40c_292c, 0xbf9c_f968));
        assert_eq!(derived_selector("foobar"), 0x80_0000 | ((0xbf9c_f968 >> 23) ^ (0xbf9c_f968 & 0x7f_ffff)));
    }

    #[test]
    fn colliding_names_probe_in_name_order() {
        // Find two names that collide, by brute force over a small space.
        let mut by_sel = std::collections::HashMap::new();
        let mut pair = None;
        for i in 0..200_000u32 {
            let name = format!("p{i}");
            if let Some(other) = by_sel.insert(derived_selector(&name), name.clone()) {
                pair = Some((other, name));
                break;
            }
        }
        let (x, y) = pair.expect("a collision among 200k names in 2^23 slots");
        let (first, second) = if x < y { (x, y) } else { (y, x) };
        for order in [[first.as_str(), second.as_str()], [second.as_str(), first.as_str()]] {
            let t = AppTable::new([("unknown", "unknown"), (order[0], "other"), (order[1], "other")]);
            let sel = |n: &str| t.apps().iter().find(|a| a.name == n).unwrap().selector;
            assert_eq!(sel(&first), derived_selector(&first));
            assert_eq!(sel(&second), DERIVED_BASE | ((derived_selector(&first) + 1) & DERIVED_MASK));
        }
    }

    #[test]
    fn out_of_range_ids_are_unknown() {
        let t = AppTable::new([("unknown", "unknown"), ("http", "web")]);
        assert_eq!(t.id(1), [6, 0, 0, 7]);
        assert_eq!(t.id(999), [6, 0, 0, 0]);
    }
}
