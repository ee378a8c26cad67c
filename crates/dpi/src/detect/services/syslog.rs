//! Syslog messages (RFC 3164 BSD syslog, RFC 5424), over UDP (one message per datagram) and TCP
//! (RFC 6587: optionally after an octet count and a space).
//!
//! A message starts with `<PRI>`: 1 to 3 digits without a leading zero (except "0" itself) and a
//! value of at most 191 (facility 23, severity 7). After it comes the RFC 5424 version ("1 "), a
//! month name (RFC 3164's "Mmm dd"), or a digit (ISO timestamps, sequence numbers that many
//! devices put first). Then the message must be text: its first 64 bytes (or all of it, if
//! shorter, but at least 12 bytes) printable ASCII or UTF-8 with no control bytes but tab and a
//! final line end. Random bytes fail at "<" and the digits, and binary protocols fail the text
//! rule; other text protocols do not open with `<digits>`.

/// Months as RFC 3164 spells them.
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Position after a valid `<PRI>` at the start of `p`.
fn pri(p: &[u8]) -> Option<usize> {
    if *p.first()? != b'<' {
        return None;
    }
    let digits = p.iter().skip(1).take(4).take_while(|c| c.is_ascii_digit()).count();
    if !(1..=3).contains(&digits) || p.get(1 + digits) != Some(&b'>') || (digits > 1 && p[1] == b'0') {
        return None;
    }
    let v = p[1..1 + digits].iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0'));
    (v <= 191).then_some(2 + digits)
}

fn text(p: &[u8]) -> bool {
    let n = p.len().min(64);
    n >= 12
        && p[..n]
            .iter()
            .enumerate()
            .all(|(i, &c)| c >= 0x20 && c != 0x7f || c == b'\t' || ((c == b'\n' || c == b'\r') && i + 2 >= p.len()))
}

/// A syslog message at the start of `p` (the whole datagram, or a stream's first bytes).
pub(crate) fn is_message(p: &[u8]) -> bool {
    let Some(at) = pri(p) else { return false };
    let rest = &p[at..];
    let head_ok = rest.starts_with(b"1 ")
        || rest.first().is_some_and(u8::is_ascii_digit)
        || MONTHS.iter().any(|m| rest.starts_with(&m[..]) && rest.get(3) == Some(&b' '));
    head_ok && text(p)
}

/// The start of a syslog TCP stream: a message, possibly after an RFC 6587 octet count.
pub(crate) fn is_tcp_start(p: &[u8]) -> bool {
    if is_message(p) {
        return true;
    }
    let digits = p.iter().take(6).take_while(|c| c.is_ascii_digit()).count();
    (1..=5).contains(&digits) && p[0] != b'0' && p.get(digits) == Some(&b' ') && is_message(&p[digits + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert!(is_message(b"<134>854 08/20/2013-19:05:23 CONFIG QLA2xxx"));
        assert!(is_message(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed\n"));
        assert!(is_message(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 -"));
        assert!(is_message(b"<0>1 - - - - - - hello syslog"));
        assert!(!is_message(b"<192>1 2003-10-11T22:14:15.003Z host app"), "PRI above 191");
        assert!(!is_message(b"<013>1 2003-10-11T22:14:15.003Z host app"), "leading zero");
        assert!(!is_message(b"<13>"), "too short");
        assert!(!is_message(b"<13>Hello there, this is no syslog"), "no version, date or digit");
        assert!(!is_message(b"<13>1 2003\x00\x01binary data follows here"));
        assert!(!is_message(b"<html><body>"));
    }

    #[test]
    fn tcp_octet_counting() {
        assert!(is_tcp_start(b"71 <165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47"));
        assert!(!is_tcp_start(b"071 <165>1 2003-10-11T22:14:15.003Z mymachine.example.com"));
    }
}
