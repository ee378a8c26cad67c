//! WinMX's TCP login: the listening side greets with the single byte "1"; the connecting side then
//! sends "SEND" (upload request) or "GET" (download request) as a packet of its own.
//!
//! Each half alone is too weak (a lone "1" or "GET" byte string means little); the classifier
//! remembers the greeting per flow and is certain only when both halves were seen. The checks are
//! on whole packets, so they are not split-invariant (WinMX sends these as packets of their own).
//!
//! # Why lookalikes do not pass
//!
//! The responder's whole first packet must be the single byte `1` and the originator's whole
//! first packet exactly `SEND`, `GET` or `GET` plus one byte that is not a space (so an HTTP
//! request line never passes). Binary protocols send more than one byte in a first packet, and
//! the text protocols that greet first (SMTP, FTP, POP3, IMAP, SSH) greet with a line.

/// The responder's greeting packet.
pub(crate) fn is_greeting(packet: &[u8]) -> bool {
    packet == b"1"
}

/// The originator's login packet.
pub(crate) fn is_login(packet: &[u8]) -> bool {
    packet == b"SEND" || packet == b"GET" || (packet.len() == 4 && packet.starts_with(b"GET") && packet[3] != b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_and_login() {
        assert!(is_greeting(b"1"));
        assert!(!is_greeting(b"12"));
        assert!(is_login(b"SEND"));
        assert!(is_login(b"GET"));
        assert!(!is_login(b"GET "), "an HTTP request start is not a WinMX login");
        assert!(!is_login(b"SENDX"));
    }
}
