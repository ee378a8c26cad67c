//! Protocol ids, categories and the registry that names them.
//!
//! Built-in protocols have fixed ids (the `ProtocolId::*` consts), so the engine, the policy and the
//! counters can refer to them without a lookup. Protocols that a user declares in the signature file
//! get the ids after the built-in ones, in declaration order.

use core::fmt;

/// Newtype id into the [`Registry`]. Built-in ids are consts; user-declared protocols get ids after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ProtocolId(pub u16);

macro_rules! builtin_protocols {
    ($( $(#[$doc:meta])* $konst:ident = $id:literal, $name:literal, $cat:ident; )*) => {
        impl ProtocolId {
            $( $(#[$doc])* pub const $konst: ProtocolId = ProtocolId($id); )*
        }
        /// Built-in protocols in id order: (name, category).
        pub(crate) const BUILTIN: &[(&str, Category)] = &[ $( ($name, Category::$cat), )* ];
    };
}

builtin_protocols! {
    /// Nothing recognised.
    UNKNOWN = 0, "unknown", Unknown;
    /// BitTorrent: peer wire, uTP, DHT, trackers, local peer discovery.
    BITTORRENT = 1, "bittorrent", P2p;
    /// Direct Connect: NMDC and ADC.
    DIRECTCONNECT = 2, "directconnect", P2p;
    /// eDonkey / eMule, including Kad.
    EDONKEY = 3, "edonkey", P2p;
    /// FastTrack (Kazaa).
    FASTTRACK = 4, "fasttrack", P2p;
    /// WinMX.
    WINMX = 5, "winmx", P2p;
    /// Gnutella and Gnutella2.
    GNUTELLA = 6, "gnutella", P2p;
    /// HTTP/1.x.
    HTTP = 7, "http", Web;
    /// TLS over TCP.
    TLS = 8, "tls", Web;
    /// QUIC.
    QUIC = 9, "quic", Web;
    /// DNS over UDP or TCP.
    DNS = 10, "dns", Naming;
    /// SSH.
    SSH = 11, "ssh", RemoteAccess;
    /// SMTP.
    SMTP = 12, "smtp", Mail;
    /// POP3.
    POP3 = 13, "pop3", Mail;
    /// IMAP.
    IMAP = 14, "imap", Mail;
    /// FTP control connection.
    FTP = 15, "ftp", FileTransfer;
    /// SIP.
    SIP = 16, "sip", Voip;
    /// ICMP and ICMPv6 (decided from the IP header; never inspected).
    ICMP = 17, "icmp", Other;
}

impl ProtocolId {
    /// Number of built-in protocols (including `UNKNOWN`); user protocols start at this id.
    pub const BUILTIN_COUNT: u16 = BUILTIN.len() as u16;
}

/// What kind of traffic a protocol carries; policies can match a whole category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Peer-to-peer file sharing.
    P2p,
    /// Web: HTTP, TLS, QUIC.
    Web,
    /// Mail: SMTP, POP3, IMAP.
    Mail,
    /// File transfer (FTP).
    FileTransfer,
    /// Remote access (SSH).
    RemoteAccess,
    /// Name resolution (DNS).
    Naming,
    /// Voice over IP (SIP).
    Voip,
    /// Audio and video streaming.
    Streaming,
    /// Anything else that is known.
    Other,
    /// Not recognised.
    Unknown,
}

impl Category {
    /// All categories, in declaration order.
    pub const ALL: &[Category] = &[
        Category::P2p,
        Category::Web,
        Category::Mail,
        Category::FileTransfer,
        Category::RemoteAccess,
        Category::Naming,
        Category::Voip,
        Category::Streaming,
        Category::Other,
        Category::Unknown,
    ];

    /// The lower-case name used in config files and metrics (`p2p`, `file-transfer`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Category::P2p => "p2p",
            Category::Web => "web",
            Category::Mail => "mail",
            Category::FileTransfer => "file-transfer",
            Category::RemoteAccess => "remote-access",
            Category::Naming => "naming",
            Category::Voip => "voip",
            Category::Streaming => "streaming",
            Category::Other => "other",
            Category::Unknown => "unknown",
        }
    }

    /// The inverse of [`Category::name`]; `None` for anything else (exact, lower-case match).
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.name() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Names and categories of all protocols a classifier can answer: the built-in ones, then the
/// user-declared ones. Immutable once built.
#[derive(Clone, Debug)]
pub struct Registry {
    entries: Vec<(String, Category)>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::builtin()
    }
}

impl Registry {
    /// The registry of built-in protocols only.
    pub fn builtin() -> Registry {
        Registry { entries: BUILTIN.iter().map(|&(n, c)| (n.to_owned(), c)).collect() }
    }

    /// Adds a user protocol and returns its id; `None` if the name is taken or ids ran out.
    pub(crate) fn add(&mut self, name: &str, category: Category) -> Option<ProtocolId> {
        if self.lookup(name).is_some() {
            return None;
        }
        let id = u16::try_from(self.entries.len()).ok()?;
        self.entries.push((name.to_owned(), category));
        Some(ProtocolId(id))
    }

    /// Number of protocols, `unknown` included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: `unknown` is always present. Provided for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The protocol's lower-case name; `"unknown"` for an id this registry does not hold.
    pub fn name(&self, id: ProtocolId) -> &str {
        self.entries.get(usize::from(id.0)).map_or("unknown", |(n, _)| n.as_str())
    }

    /// The protocol's category; `Category::Unknown` for an id this registry does not hold.
    pub fn category(&self, id: ProtocolId) -> Category {
        self.entries.get(usize::from(id.0)).map_or(Category::Unknown, |&(_, c)| c)
    }

    /// The id of the protocol with this exact (lower-case) name.
    pub fn lookup(&self, name: &str) -> Option<ProtocolId> {
        let i = self.entries.iter().position(|(n, _)| n == name)?;
        u16::try_from(i).ok().map(ProtocolId)
    }

    /// All ids in order, `UNKNOWN` first.
    pub fn iter(&self) -> impl Iterator<Item = ProtocolId> + '_ {
        (0..self.entries.len()).filter_map(|i| u16::try_from(i).ok().map(ProtocolId))
    }

    /// Comma-separated names of all protocols except `unknown`, for error messages.
    pub(crate) fn names_list(&self) -> String {
        let names: Vec<&str> = self.entries.iter().skip(1).map(|(n, _)| n.as_str()).collect();
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_and_ids_agree() {
        let r = Registry::builtin();
        assert_eq!(r.len(), usize::from(ProtocolId::BUILTIN_COUNT));
        for (id, name) in [
            (ProtocolId::UNKNOWN, "unknown"),
            (ProtocolId::BITTORRENT, "bittorrent"),
            (ProtocolId::DIRECTCONNECT, "directconnect"),
            (ProtocolId::EDONKEY, "edonkey"),
            (ProtocolId::FASTTRACK, "fasttrack"),
            (ProtocolId::WINMX, "winmx"),
            (ProtocolId::GNUTELLA, "gnutella"),
            (ProtocolId::HTTP, "http"),
            (ProtocolId::TLS, "tls"),
            (ProtocolId::QUIC, "quic"),
            (ProtocolId::DNS, "dns"),
            (ProtocolId::SSH, "ssh"),
            (ProtocolId::SMTP, "smtp"),
            (ProtocolId::POP3, "pop3"),
            (ProtocolId::IMAP, "imap"),
            (ProtocolId::FTP, "ftp"),
            (ProtocolId::SIP, "sip"),
        ] {
            assert_eq!(r.name(id), name);
            assert_eq!(r.lookup(name), Some(id));
        }
        assert_eq!(r.category(ProtocolId::BITTORRENT), Category::P2p);
        assert_eq!(r.category(ProtocolId::UNKNOWN), Category::Unknown);
        assert_eq!(r.name(ProtocolId(999)), "unknown");
        assert_eq!(r.category(ProtocolId(999)), Category::Unknown);
        assert_eq!(r.iter().count(), r.len());
    }

    #[test]
    fn category_names_round_trip() {
        for &c in Category::ALL {
            assert_eq!(Category::parse(c.name()), Some(c));
        }
        assert_eq!(Category::parse("P2P"), None);
        assert_eq!(Category::parse("bogus"), None);
    }

    #[test]
    fn user_protocols_follow_builtins() {
        let mut r = Registry::builtin();
        let id = r.add("myproto", Category::Other);
        assert_eq!(id, Some(ProtocolId(ProtocolId::BUILTIN_COUNT)));
        assert_eq!(r.add("myproto", Category::Other), None);
        assert_eq!(r.add("http", Category::Web), None);
        assert_eq!(r.lookup("myproto"), id);
    }
}
