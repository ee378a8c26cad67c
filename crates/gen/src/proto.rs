//! The protocols the generator can make conversations of (the ones weir classifies).

use std::fmt;

/// One application protocol; names as weir's classifier prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// BitTorrent: peer wire over TCP; uTP, DHT and UDP tracker over UDP.
    Bittorrent,
    /// Direct Connect: NMDC (`$Lock`/`$Key`) or ADC (`HSUP`).
    Directconnect,
    /// eDonkey/eMule: the hello exchange over TCP.
    Edonkey,
    /// FastTrack (Kazaa): HTTP-like transfers with `X-Kazaa-` headers.
    Fasttrack,
    /// WinMX: the `1` greeting and `SEND`/`GET` login.
    Winmx,
    /// Gnutella: `GNUTELLA CONNECT/0.6` handshake.
    Gnutella,
    /// HTTP/1.1 request and response.
    Http,
    /// TLS: ClientHello with SNI, ServerHello, application data.
    Tls,
    /// QUIC: long-header Initial packets, then short-header data.
    Quic,
    /// DNS over UDP: query and answer.
    Dns,
    /// SSH: version banners, then binary packets.
    Ssh,
    /// SMTP: 220 banner, EHLO.
    Smtp,
    /// POP3: +OK banner, CAPA.
    Pop3,
    /// IMAP: * OK banner, CAPABILITY.
    Imap,
    /// FTP: 220 banner, USER.
    Ftp,
    /// SIP over UDP: INVITE and responses.
    Sip,
}

impl Protocol {
    /// Every protocol, in a fixed order.
    pub const ALL: [Protocol; 16] = [
        Protocol::Bittorrent,
        Protocol::Directconnect,
        Protocol::Edonkey,
        Protocol::Fasttrack,
        Protocol::Winmx,
        Protocol::Gnutella,
        Protocol::Http,
        Protocol::Tls,
        Protocol::Quic,
        Protocol::Dns,
        Protocol::Ssh,
        Protocol::Smtp,
        Protocol::Pop3,
        Protocol::Imap,
        Protocol::Ftp,
        Protocol::Sip,
    ];

    /// The name weir prints (`bittorrent`, `directconnect`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Bittorrent => "bittorrent",
            Protocol::Directconnect => "directconnect",
            Protocol::Edonkey => "edonkey",
            Protocol::Fasttrack => "fasttrack",
            Protocol::Winmx => "winmx",
            Protocol::Gnutella => "gnutella",
            Protocol::Http => "http",
            Protocol::Tls => "tls",
            Protocol::Quic => "quic",
            Protocol::Dns => "dns",
            Protocol::Ssh => "ssh",
            Protocol::Smtp => "smtp",
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
            Protocol::Ftp => "ftp",
            Protocol::Sip => "sip",
        }
    }

    /// The protocol of a name, if it is one of [`Protocol::ALL`].
    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A small stable number (its index in [`Protocol::ALL`]), carried in the trailer.
    pub fn id(self) -> u8 {
        Protocol::ALL.iter().position(|&p| p == self).unwrap_or(0) as u8
    }

    /// The protocol of [`Protocol::id`].
    pub fn from_id(id: u8) -> Option<Protocol> {
        Protocol::ALL.get(usize::from(id)).copied()
    }

    /// Peer-to-peer file sharing (weir's `p2p` category).
    pub fn is_p2p(self) -> bool {
        matches!(
            self,
            Protocol::Bittorrent
                | Protocol::Directconnect
                | Protocol::Edonkey
                | Protocol::Fasttrack
                | Protocol::Winmx
                | Protocol::Gnutella
        )
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::from_name(p.name()), Some(p));
            assert_eq!(Protocol::from_id(p.id()), Some(p));
        }
        assert_eq!(Protocol::from_name("unknown"), None);
        assert_eq!(Protocol::from_id(16), None);
        assert_eq!(Protocol::ALL.iter().filter(|p| p.is_p2p()).count(), 6);
    }
}
