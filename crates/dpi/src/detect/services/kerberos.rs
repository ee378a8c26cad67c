//! Kerberos v5 (RFC 4120) messages, over UDP (one message per datagram) and TCP (each message
//! after a 4-byte length).
//!
//! A message is a DER `[APPLICATION n]` (AS-REQ 10, AS-REP 11, TGS-REQ 12, TGS-REP 13, AP-REQ 14,
//! AP-REP 15, KRB-SAFE 20, KRB-PRIV 21, KRB-CRED 22, KRB-ERROR 30) around a SEQUENCE whose first two
//! fields are `pvno` = 5 and `msg-type` = n, each an INTEGER under its own context tag ([1] and [2]
//! in requests, [0] and [1] elsewhere). Over UDP the outer length must end exactly at the datagram's
//! end; over TCP the 4-byte record length must equal the message's length. So a verdict needs a
//! tag, two nested lengths that agree, and the protocol version and message type repeated inside:
//! random bytes and the other BER protocols (LDAP, SNMP: a SEQUENCE at the top, no APPLICATION tag)
//! do not pass.

use super::ber::{small_int, tlv};

/// Checks a message starting at `p[0]`; `whole`: the message must end exactly at `p.len()`.
fn message(p: &[u8], whole: bool) -> Option<usize> {
    let app = tlv(p, 0)?;
    let n = app.tag.checked_sub(0x60)?;
    if !matches!(n, 10..=15 | 20..=22 | 30) {
        return None;
    }
    if whole && app.end() != p.len() {
        return None;
    }
    let seq = tlv(p, app.start)?;
    if seq.tag != 0x30 || seq.end() != app.end() {
        return None;
    }
    let first = if n == 10 || n == 12 { 0xa1 } else { 0xa0 };
    let pvno = tlv(p, seq.start)?;
    if pvno.tag != first {
        return None;
    }
    let (v, after) = small_int(p, pvno.start)?;
    if v != 5 || after != pvno.end() {
        return None;
    }
    let mt = tlv(p, pvno.end())?;
    if mt.tag != first + 1 {
        return None;
    }
    let (t, after) = small_int(p, mt.start)?;
    (t == u32::from(n) && after == mt.end()).then_some(app.end())
}

/// A whole Kerberos message in one UDP datagram.
pub(crate) fn is_udp(p: &[u8]) -> bool {
    message(p, true).is_some()
}

/// The start of a Kerberos-over-TCP stream: the record length, then a message whose header says
/// the same length.
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    let Some(rec) = crate::detect::be32(p, 0) else { return false };
    let Some(body) = p.get(4..) else { return false };
    rec & 0x8000_0000 == 0
        && rec >= 16
        && tlv(body, 0).is_some_and(|t| t.end() as u64 == u64::from(rec))
        && message(body, false).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// A minimal AS-REQ: pvno 5, msg-type 10, an empty req-body.
    pub(crate) fn as_req() -> Vec<u8> {
        hex("6a10300ea103020105a20302010aa4023000")
    }

    #[test]
    fn udp_messages() {
        assert!(is_udp(&as_req()));
        let mut wrong_type = as_req();
        wrong_type[13] = 12; // msg-type 12 under an AS-REQ tag
        assert!(!is_udp(&wrong_type));
        let mut wrong_pvno = as_req();
        wrong_pvno[8] = 4;
        assert!(!is_udp(&wrong_pvno));
        let mut longer = as_req();
        longer.push(0);
        assert!(!is_udp(&longer));
        let mut ldap_like = as_req();
        ldap_like[0] = 0x30;
        assert!(!is_udp(&ldap_like));
        // KRB-ERROR: [0] pvno, [1] msg-type 30.
        let err = hex("7e0c300aa003020105a10302011e");
        assert!(is_udp(&err));
    }

    #[test]
    fn tcp_start() {
        let m = as_req();
        let mut framed = (m.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        assert!(is_tcp_start(&framed));
        assert!(is_tcp_start(&framed[..18]), "the header fields decide");
        framed[3] += 1;
        assert!(!is_tcp_start(&framed), "record length disagrees with the message");
    }
}
