//! Flows that other flows announce: FTP data connections, TFTP transfers, SIP's media streams.
//!
//! nDPI leaves these unknown: their own bytes are file contents or media, with nothing to match.
//! Their control flow says where they will go. These functions read a control flow's packet and
//! return what it announces; the engine keeps a bounded, timed table of such expectations and
//! labels a new flow that meets one with the control flow's protocol and [`Related`] as the
//! decision (`related: ftp control`).
//!
//! - FTP (RFC 959, RFC 2428): the server's `227` (PASV) and `229` (EPSV) replies give the address
//!   and port the client will connect to; the client's `PORT` and `EPRT` commands give the address
//!   and port the server will connect to.
//! - TFTP (RFC 1350): a read or write request to port 69 is answered from a new port of the server
//!   to the client's port: the transfer is the flow between the server's address and the
//!   requesting port.
//! - SIP (RFC 3261, SDP RFC 4566): an offer or answer's `c=` address and `m=` ports receive the
//!   media (RTP on the port, RTCP on the next one); the media flow's first datagram must carry an
//!   RTP or RTCP header ([`looks_like_media`]).
//!
//! Parsing never allocates and never panics; malformed announcements are ignored.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a flow was labelled by another flow's announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Related {
    /// An FTP data connection announced on the control connection.
    FtpControl,
    /// A TFTP transfer started by a read or write request.
    TftpRequest,
    /// A media stream announced in SIP's SDP.
    SipSdp,
    /// A tinc tunnel's datagrams, between the hosts of a tinc meta connection and on the
    /// listening daemon's port.
    TincMeta,
}

impl Related {
    /// All kinds, in a fixed order (their packed values).
    pub const ALL: [Related; 4] = [Related::FtpControl, Related::TftpRequest, Related::SipSdp, Related::TincMeta];

    /// How the decision reads: `related: ftp control`.
    pub fn describe(self) -> &'static str {
        match self {
            Related::FtpControl => "related: ftp control",
            Related::TftpRequest => "related: tftp request",
            Related::SipSdp => "related: sip sdp",
            Related::TincMeta => "related: tinc meta",
        }
    }
}

/// What an FTP control packet announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FtpData {
    /// The address the data connection goes to; `None`: the announcing side's own (EPSV).
    pub ip: Option<IpAddr>,
    /// The port it goes to.
    pub port: u16,
    /// Who will connect: the client (passive mode) or the server (active mode).
    pub client_connects: bool,
}

/// Reads up to `n` comma-separated decimal numbers 0..=255 starting at `p[0]`.
fn numbers(p: &[u8], out: &mut [u8]) -> bool {
    let mut i = 0;
    let n = out.len();
    for (k, slot) in out.iter_mut().enumerate() {
        let digits = p.get(i..).unwrap_or(&[]).iter().take(4).take_while(|c| c.is_ascii_digit()).count();
        if !(1..=3).contains(&digits) {
            return false;
        }
        let v = p[i..i + digits].iter().fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'));
        let Ok(v) = u8::try_from(v) else { return false };
        *slot = v;
        i += digits;
        if k + 1 < n {
            if p.get(i) != Some(&b',') {
                return false;
            }
            i += 1;
        }
    }
    true
}

/// `h1,h2,h3,h4,p1,p2` somewhere in the first 80 bytes of `p` (after the first digit run that
/// starts a valid sextet).
fn sextet(p: &[u8]) -> Option<(IpAddr, u16)> {
    let window = &p[..p.len().min(80)];
    let mut v = [0u8; 6];
    for start in 0..window.len() {
        if window[start].is_ascii_digit()
            && (start == 0 || !window[start - 1].is_ascii_digit())
            && numbers(&window[start..], &mut v)
        {
            let port = u16::from_be_bytes([v[4], v[5]]);
            return (port != 0).then(|| (IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])), port));
        }
    }
    None
}

fn parse_port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    u16::try_from(v).ok().filter(|&p| p != 0)
}

/// `(|||port|)`: EPSV's reply, with any delimiter character.
fn epsv(p: &[u8]) -> Option<u16> {
    let window = &p[..p.len().min(80)];
    let open = window.iter().position(|&c| c == b'(')?;
    let d = *window.get(open + 1)?;
    if window.get(open + 2) != Some(&d) || window.get(open + 3) != Some(&d) {
        return None;
    }
    let rest = &window[open + 4..];
    let end = rest.iter().position(|&c| c == d)?;
    parse_port(&rest[..end])
}

/// `EPRT |af|addr|port|` (RFC 2428).
fn eprt(p: &[u8]) -> Option<(IpAddr, u16)> {
    let args = p.get(5..)?;
    let args = &args[..args.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(args.len())];
    let d = *args.first()?;
    let mut parts = args[1..].split(|&c| c == d);
    let af = parts.next()?;
    let addr = core::str::from_utf8(parts.next()?).ok()?;
    let port = parse_port(parts.next()?)?;
    let ip = match af {
        b"1" => IpAddr::V4(addr.parse::<Ipv4Addr>().ok()?),
        b"2" => IpAddr::V6(addr.parse::<Ipv6Addr>().ok()?),
        _ => return None,
    };
    Some((ip, port))
}

/// What an FTP control packet from the server (`from_client` false) or the client announces.
/// Replies and commands start a packet in practice; only a packet's start is read.
pub fn ftp_data(payload: &[u8], from_client: bool) -> Option<FtpData> {
    if from_client {
        if payload.len() > 5 && payload[..5].eq_ignore_ascii_case(b"PORT ") {
            let (ip, port) = sextet(&payload[5..])?;
            return Some(FtpData { ip: Some(ip), port, client_connects: false });
        }
        if payload.len() > 5 && payload[..5].eq_ignore_ascii_case(b"EPRT ") {
            let (ip, port) = eprt(payload)?;
            return Some(FtpData { ip: Some(ip), port, client_connects: false });
        }
        return None;
    }
    if payload.starts_with(b"227 ") || payload.starts_with(b"227-") {
        let (ip, port) = sextet(&payload[4..])?;
        return Some(FtpData { ip: Some(ip), port, client_connects: true });
    }
    if payload.starts_with(b"229 ") {
        let port = epsv(&payload[4..])?;
        return Some(FtpData { ip: None, port, client_connects: true });
    }
    None
}

/// Could this datagram open an announced media stream: an RTP header (version 2, a payload type
/// outside RTCP's range, room for the header) or an RTCP packet (version 2, types 200-207)? SIP
/// media expectations are met only by such a first datagram, so a flow that merely happens to use
/// an announced port (another application's, a P2P client's random one) keeps its own label.
pub fn looks_like_media(payload: &[u8]) -> bool {
    match (payload.first(), payload.get(1)) {
        (Some(&b0), Some(&b1)) if b0 >> 6 == 2 => {
            payload.len() >= 12 || (200..=207).contains(&b1) && payload.len() >= 8
        }
        _ => false,
    }
}

/// A TFTP read or write request (see `detect/services/tftp.rs`).
pub fn tftp_request(payload: &[u8]) -> bool {
    crate::detect::services::tftp::is_request(payload)
}

/// Media an SDP body announces: the connection address (if any `c=` line is in view) and up to
/// four `m=` ports, written into `ports`; returns (address, number of ports).
pub fn sdp_media(payload: &[u8], ports: &mut [u16; 4]) -> (Option<IpAddr>, usize) {
    let mut ip = None;
    let mut n = 0;
    for line in payload.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"c=IN IP4 ").or_else(|| line.strip_prefix(b"c=IN IP6 ")) {
            let end = rest.iter().position(|&c| c == b'/' || c == b' ').unwrap_or(rest.len());
            if ip.is_none()
                && let Some(a) = core::str::from_utf8(&rest[..end]).ok().and_then(|s| s.parse::<IpAddr>().ok())
            {
                ip = Some(a);
            }
        } else if let Some(rest) = line.strip_prefix(b"m=") {
            let Some(sp) = rest.iter().position(|&c| c == b' ') else { continue };
            let after = &rest[sp + 1..];
            let end = after.iter().position(|&c| c == b' ' || c == b'/').unwrap_or(after.len());
            let is_rtp = after.windows(3).any(|w| w == b"RTP") || after.windows(5).any(|w| w == b"udptl");
            if let Some(port) = parse_port(&after[..end]).filter(|_| is_rtp)
                && n < ports.len()
            {
                ports[n] = port;
                n += 1;
            }
        }
    }
    (ip, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }

    #[test]
    fn ftp_passive_and_active() {
        let pasv = ftp_data(b"227 Entering Passive Mode (198,18,0,2,195,80).\r\n", false).unwrap();
        assert_eq!(pasv, FtpData { ip: v4(198, 18, 0, 2), port: 195 * 256 + 80, client_connects: true });
        let bare = ftp_data(b"227 =198,18,0,2,4,1\r\n", false).unwrap();
        assert_eq!(bare.port, 1025);
        let epsv = ftp_data(b"229 Entering Extended Passive Mode (|||6446|)\r\n", false).unwrap();
        assert_eq!(epsv, FtpData { ip: None, port: 6446, client_connects: true });
        let port = ftp_data(b"PORT 198,18,0,1,7,138\r\n", true).unwrap();
        assert_eq!(port, FtpData { ip: v4(198, 18, 0, 1), port: 7 * 256 + 138, client_connects: false });
        let eprt4 = ftp_data(b"EPRT |1|198.18.0.1|6275|\r\n", true).unwrap();
        assert_eq!(eprt4.port, 6275);
        let eprt6 = ftp_data(b"EPRT |2|2001:2::1|5282|\r\n", true).unwrap();
        assert_eq!(eprt6.ip, Some("2001:2::1".parse().unwrap()));
        assert_eq!(ftp_data(b"227 Entering Passive Mode (198,18,0,2,300,80)\r\n", false), None);
        assert_eq!(ftp_data(b"227 Entering Passive Mode (198,18,0,2,0,0)\r\n", false), None);
        assert_eq!(ftp_data(b"PORT 198,18,0,1,7,138\r\n", false), None, "a command from the server");
        assert_eq!(ftp_data(b"229 Entering Extended Passive Mode (|||99999|)\r\n", false), None);
        assert_eq!(ftp_data(b"EPRT |3|x|1|\r\n", true), None);
        assert_eq!(ftp_data(b"230 Login successful.\r\n", false), None);
    }

    #[test]
    fn media_headers() {
        assert!(looks_like_media(&[0x80, 0x08, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0xd5]));
        assert!(looks_like_media(&[0x81, 0xc9, 0, 7, 1, 2, 3, 4]));
        assert!(!looks_like_media(&[0x41, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5]), "a uTP SYN");
        assert!(!looks_like_media(b"d1:ad2:id20:"));
        assert!(!looks_like_media(&[0x80, 0x08]));
    }

    #[test]
    fn sdp() {
        let body = b"v=0\r\no=- 1 1 IN IP4 198.18.0.1\r\ns=-\r\nc=IN IP4 198.18.0.1\r\nt=0 0\r\n\
                     m=audio 49170 RTP/AVP 0 8\r\nm=video 51372 RTP/AVP 31\r\nm=application 9 TCP/BFCP *\r\n";
        let mut ports = [0u16; 4];
        let (ip, n) = sdp_media(body, &mut ports);
        assert_eq!(ip, v4(198, 18, 0, 1));
        assert_eq!(&ports[..n], &[49170, 51372]);
        let (ip, n) = sdp_media(b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n", &mut ports);
        assert_eq!((ip, n), (None, 0));
    }
}
