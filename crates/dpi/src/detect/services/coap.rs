//! CoAP (RFC 7252) over UDP.
//!
//! A message: version 1, a type (CON 0, NON 1, ACK 2, RST 3), a token length of at most 8, a code
//! of a defined class (0.00 empty, 0.01-0.07 methods, 2.01-2.05 and 2.31, 4.00-4.15, 5.00-5.05), a
//! 16-bit message id, the token, then options (4-bit delta and length nibbles, 15 reserved except
//! for the payload marker 0xFF, extended values for 13 and 14) that end exactly at the datagram's
//! end or at the marker, after which a payload must follow. An empty message (0.00) is exactly 4
//! bytes with no token.
//!
//! That structure alone still passes for a few random datagrams in ten thousand, so a message is
//! only a candidate: the verdict needs a request (a method code) and the other side's answer to it,
//! an ACK or RST with the same message id, or a response carrying the same token (NON requests
//! are answered by token). The classifier keeps the message id and the token's first 4 bytes.

use crate::detect::be16;

/// A parsed CoAP header: (type, code, message id, token's first 4 bytes, token length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) kind: u8,
    pub(crate) code: u8,
    pub(crate) id: u16,
    pub(crate) token: u32,
    pub(crate) tkl: u8,
}

impl Message {
    /// A request (method code 0.01-0.07) sent confirmable or not.
    pub(crate) fn is_request(&self) -> bool {
        (1..=7).contains(&self.code) && self.kind <= 1
    }

    /// A response code (class 2, 4 or 5), or an empty ACK/RST.
    pub(crate) fn answers(&self, req: &Message) -> bool {
        let response = self.code >> 5 >= 2;
        let by_id = matches!(self.kind, 2 | 3) && self.id == req.id && (response || self.code == 0);
        let by_token = response && self.tkl == req.tkl && self.tkl > 0 && self.token == req.token;
        by_id || by_token
    }
}

fn code_ok(code: u8) -> bool {
    let (class, detail) = (code >> 5, code & 0x1f);
    match class {
        0 => detail <= 7,
        2 => (1..=5).contains(&detail) || detail == 31,
        4 => detail <= 15,
        5 => detail <= 5,
        _ => false,
    }
}

/// Reads an option's extended nibble value at `pos`: (value, position after it).
fn ext(p: &[u8], nibble: u8, pos: usize) -> Option<(usize, usize)> {
    match nibble {
        0..=12 => Some((usize::from(nibble), pos)),
        13 => Some((usize::from(*p.get(pos)?) + 13, pos + 1)),
        14 => Some((usize::from(be16(p, pos)?) + 269, pos + 2)),
        _ => None,
    }
}

/// A whole CoAP message in one datagram.
pub(crate) fn parse(p: &[u8]) -> Option<Message> {
    let (b0, code) = (*p.first()?, *p.get(1)?);
    let (version, kind, tkl) = (b0 >> 6, (b0 >> 4) & 3, b0 & 0x0f);
    if version != 1 || tkl > 8 || !code_ok(code) {
        return None;
    }
    let id = be16(p, 2)?;
    if code == 0 {
        return (p.len() == 4 && tkl == 0).then_some(Message { kind, code, id, token: 0, tkl });
    }
    let tok = p.get(4..4 + usize::from(tkl))?;
    let token = tok.iter().take(4).fold(0u32, |v, &b| (v << 8) | u32::from(b));
    let mut pos = 4 + usize::from(tkl);
    while pos < p.len() {
        let b = p[pos];
        if b == 0xff {
            if pos + 1 >= p.len() {
                return None;
            }
            break;
        }
        let (_, after) = ext(p, b >> 4, pos + 1)?;
        let (len, after) = ext(p, b & 0x0f, after)?;
        pos = after + len;
        if pos > p.len() {
            return None;
        }
    }
    Some(Message { kind, code, id, token, tkl })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn messages() {
        // A CON POST with Uri-Path options and a payload (coap_mqtt.pcap, nDPI test suite,
        // LGPL-3.0-or-later), and its piggybacked 2.04 answer.
        let req = parse(&hex("40039522b773746f726167650a6d797265736f75726365ff6d7964617461")).unwrap();
        assert!(req.is_request());
        let ack = parse(&hex("60449522")).unwrap();
        assert!(ack.answers(&req));
        let other = parse(&hex("60449523")).unwrap();
        assert!(!other.answers(&req), "another message id");
        assert_eq!(parse(&hex("40039522b7")), None, "option runs past the end");
        assert_eq!(parse(&hex("40039522ff")), None, "a marker with no payload");
        assert_eq!(parse(&hex("80039522")), None, "version 2");
        assert_eq!(parse(&hex("40e09522")), None, "class 7");
        assert_eq!(parse(&hex("4000952200")), None, "an empty message has no bytes after the header");
    }
}
