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
    ICMP = 17, "icmp", Network;
    /// IGMP (IP protocol 2; from the IP header).
    IGMP = 18, "igmp", Network;
    /// GRE not decapsulated (IP protocol 47; from the IP header), e.g. PPTP's enhanced GRE.
    GRE = 19, "gre", Vpn;
    /// IPsec: ESP and AH (IP protocols 50, 51; from the IP header), and IKE over UDP.
    IPSEC = 20, "ipsec", Vpn;
    /// OSPF (IP protocol 89; from the IP header).
    OSPF = 21, "ospf", Network;
    /// PIM (IP protocol 103; from the IP header).
    PIM = 22, "pim", Network;
    /// VRRP (IP protocol 112; from the IP header).
    VRRP = 23, "vrrp", Network;
    /// PGM reliable multicast (IP protocol 113; from the IP header).
    PGM = 24, "pgm", Network;
    /// SCTP (IP protocol 132; from the IP header).
    SCTP = 25, "sctp", Network;
    /// L2TPv3 over IP (IP protocol 115; from the IP header).
    L2TP = 26, "l2tp", Vpn;
    /// STUN and TURN (RFC 5389/8489, and the classic RFC 3489).
    STUN = 27, "stun", Voip;
    /// RTP and RTCP media streams.
    RTP = 28, "rtp", Voip;
    /// RADIUS authentication and accounting.
    RADIUS = 29, "radius", Network;
    /// Kerberos v5.
    KERBEROS = 30, "kerberos", Network;
    /// Service Location Protocol (v1 and v2).
    SLP = 31, "slp", Network;
    /// NTP.
    NTP = 32, "ntp", Network;
    /// Syslog (RFC 3164 and RFC 5424).
    SYSLOG = 33, "syslog", Network;
    /// DTLS.
    DTLS = 34, "dtls", Web;
    /// TFTP: requests, and the transfers they start (related flows).
    TFTP = 35, "tftp", FileTransfer;
    /// DHCPv6.
    DHCPV6 = 36, "dhcpv6", Network;
    /// NFS and its helpers (mount, lock manager, status monitor, ACLs) over ONC RPC.
    NFS = 37, "nfs", FileTransfer;
    /// ONC RPC (Sun RPC) calls to other programs (portmapper, NIS, ...).
    SUNRPC = 38, "sunrpc", Network;
    /// CoAP.
    COAP = 39, "coap", Iot;
    /// BACnet/IP.
    BACNET = 40, "bacnet", Iot;
    /// Discord voice: the IP-discovery exchange that opens a voice connection.
    DISCORD = 41, "discord", Voip;
    /// OpenVPN.
    OPENVPN = 42, "openvpn", Vpn;
    /// WireGuard.
    WIREGUARD = 43, "wireguard", Vpn;
    /// Multicast DNS (RFC 6762: DNS messages on port 5353).
    MDNS = 44, "mdns", Naming;
    /// LLMNR (RFC 4795: DNS messages on port 5355).
    LLMNR = 45, "llmnr", Naming;
    /// Microsoft SQL Server (TDS).
    MSSQL = 46, "mssql", Database;
    /// PostgreSQL.
    POSTGRESQL = 47, "postgresql", Database;
    /// MySQL and MariaDB.
    MYSQL = 48, "mysql", Database;
    /// LDAP.
    LDAP = 49, "ldap", Network;
    /// DNP3 (IEEE 1815) over TCP or UDP.
    DNP3 = 50, "dnp3", Iot;
    /// Modbus/TCP.
    MODBUS = 51, "modbus", Iot;
    /// IEC 60870-5-104.
    IEC104 = 52, "iec104", Iot;
    /// H.323 call signalling (H.225.0 over TPKT).
    H323 = 53, "h323", Voip;
    /// RDP (TPKT and X.224 connection request).
    RDP = 54, "rdp", RemoteAccess;
    /// DCE/RPC (MS-RPC) connection-oriented.
    DCERPC = 55, "dcerpc", Network;
    /// Apache Kafka.
    KAFKA = 56, "kafka", Database;
    /// MQTT.
    MQTT = 57, "mqtt", Iot;
    /// Redis (RESP).
    REDIS = 58, "redis", Database;
    /// SOCKS 4 and 5 proxies.
    SOCKS = 59, "socks", Vpn;
    /// collectd's binary network protocol.
    COLLECTD = 60, "collectd", Network;
    /// Elasticsearch's binary transport protocol.
    ELASTICSEARCH = 61, "elasticsearch", Database;
    /// NAT-PMP.
    NATPMP = 62, "nat-pmp", Network;
    /// Teredo (IPv6 over UDP).
    TEREDO = 63, "teredo", Vpn;
    /// EtherNet/IP (CIP).
    ETHERNETIP = 64, "ethernetip", Iot;
    /// Apache Cassandra's native protocol.
    CASSANDRA = 65, "cassandra", Database;
    /// Cisco Skinny (SCCP).
    SKINNY = 66, "skinny", Voip;
    /// Ubiquiti device discovery.
    UBIQUITI = 67, "ubiquiti", Network;
    /// TP-Link Smart Home protocol.
    TPLINK_SHP = 68, "tplink-shp", Iot;
    /// Tencent QQ's classic UDP protocol (OICQ).
    QQ = 69, "qq", Messaging;
    /// IEEE C37.118 synchrophasor frames.
    C37118 = 70, "c37118", Iot;
    /// FastCGI.
    FASTCGI = 71, "fastcgi", Web;
    /// Apache Thrift RPC.
    THRIFT = 72, "thrift", Other;
    /// CAPWAP (wireless access point control).
    CAPWAP = 73, "capwap", Network;
    /// tinc (the VPN daemon's meta connection and the tunnel's datagrams).
    TINC = 74, "tinc", Vpn;
    /// UFTP (multicast file transfer).
    UFTP = 75, "uftp", FileTransfer;
    /// Telegram (MTProto over TCP with the obfuscated transport).
    TELEGRAM = 76, "telegram", Messaging;
    /// WhatsApp's chat connection (FunXMPP or Noise after the `WA` prologue).
    WHATSAPP = 77, "whatsapp", Messaging;
    /// Zoom's media connections to its servers (the SFU encapsulation over UDP).
    ZOOM = 78, "zoom", Voip;
    /// KCP (the ARQ transport over UDP) in the clear.
    KCP = 79, "kcp", Network;
    /// OPC UA binary (industrial automation client and server).
    OPCUA = 80, "opc-ua", Iot;
    /// CORBA: GIOP over TCP (IIOP) and MIOP datagrams.
    CORBA = 81, "corba", Other;
    /// RTPS, the wire protocol of DDS (data distribution middleware).
    RTPS = 82, "rtps", Iot;
    /// NetFlow v5 and v9 and IPFIX flow export.
    NETFLOW = 83, "netflow", Network;
    /// HiSLIP (test and measurement instruments over TCP).
    HISLIP = 84, "hislip", Iot;
    /// TeamSpeak 3 voice (its handshake).
    TEAMSPEAK = 85, "teamspeak", Voip;
    /// AMQP (message queueing: RabbitMQ, Qpid; formerly declared in the signature file).
    AMQP = 86, "amqp", Other;
    /// IAX2 (Asterisk's Inter-Asterisk eXchange).
    IAX = 87, "iax", Voip;
    /// SOME/IP (automotive service middleware) and its service discovery.
    SOMEIP = 88, "someip", Iot;
    /// Rx, the RPC transport of AFS.
    RX = 89, "rx", FileTransfer;
    /// Omron FINS over TCP (PLC commands).
    FINS = 90, "fins", Iot;
    /// LDP (MPLS label distribution: discovery and sessions).
    LDP = 91, "ldp", Network;
    /// PTP version 2 (IEEE 1588 Precision Time Protocol over UDP).
    PTP = 92, "ptp", Network;
    /// GTP (3GPP GPRS Tunnelling Protocol) control and path messages; G-PDUs are unwrapped.
    GTP = 93, "gtp", Network;
    /// RTMP (Adobe's Real-Time Messaging Protocol) in the clear.
    RTMP = 94, "rtmp", Streaming;
    /// Oracle Net (TNS), the Oracle database's connections.
    ORACLE = 95, "oracle", Database;
    /// HART-IP (HART field-device commands over IP).
    HARTIP = 96, "hart-ip", Iot;
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
    /// VPNs, tunnels and proxies (IPsec, OpenVPN, WireGuard, GRE, SOCKS).
    Vpn,
    /// Databases and data stores (SQL servers, Redis, Kafka, Elasticsearch).
    Database,
    /// IoT and industrial control (MQTT, CoAP, Modbus, DNP3, BACnet, IEC 104).
    Iot,
    /// Online games.
    Gaming,
    /// Network infrastructure: addressing, discovery, routing, time, authentication, monitoring
    /// (DHCP, NTP, SNMP, RADIUS, Kerberos, LDAP, syslog, ICMP, ...).
    Network,
    /// Chat and instant messaging (XMPP, IRC, Telegram, WhatsApp).
    Messaging,
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
        Category::Vpn,
        Category::Database,
        Category::Iot,
        Category::Gaming,
        Category::Network,
        Category::Messaging,
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
            Category::Vpn => "vpn",
            Category::Database => "database",
            Category::Iot => "iot",
            Category::Gaming => "gaming",
            Category::Network => "network",
            Category::Messaging => "messaging",
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
