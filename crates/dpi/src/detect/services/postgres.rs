//! PostgreSQL's frontend/backend protocol: the client's first message (PostgreSQL documentation,
//! "Message Formats": StartupMessage, SSLRequest, GSSENCRequest, CancelRequest).
//!
//! A 32-bit length, then a 32-bit code: protocol 3.0 (196608) or 2.0 (131072) for a startup, or the
//! request codes 80877103 (SSL), 80877104 (GSS encryption), 80877102 (cancel). The requests have
//! fixed lengths (8, 8, 16). A startup message is parameter names and values, each a NUL-terminated
//! printable string, ending with one more NUL exactly at the length; the first name is one the
//! protocol defines ("user", "database", "options", "replication", "application_name", ...; any
//! printable name is accepted, "user" is required somewhere in view). 64 fixed or exact bits and
//! the string structure: random bytes and other protocols do not pass.

use crate::detect::be32;

/// The first bytes of a PostgreSQL client's stream.
pub(crate) fn is_client_start(p: &[u8]) -> bool {
    let (Some(len), Some(code)) = (be32(p, 0), be32(p, 4)) else { return false };
    let len = len as usize;
    match code {
        80_877_103 | 80_877_104 => len == 8 && p.len() == 8,
        80_877_102 => len == 16 && p.len() == 16,
        196_608 | 131_072 => {
            if !(9..=10_000).contains(&len) || p.len() > len {
                return false;
            }
            let body = &p[8..];
            let mut user = false;
            let mut pos = 0;
            let mut strings = 0;
            while pos < body.len() {
                if body[pos] == 0 {
                    // The terminator: exactly at the end of the message, after an even count.
                    return pos + 1 + 8 == len && strings % 2 == 0 && user;
                }
                let n = body[pos..].iter().position(|&c| c == 0);
                let s = &body[pos..pos + n.unwrap_or(body.len() - pos)];
                if !s.iter().all(|&c| (0x20..0x7f).contains(&c) || c >= 0x80) {
                    return false;
                }
                let Some(n) = n else { break };
                user |= strings % 2 == 0 && s == b"user";
                strings += 1;
                pos += n + 1;
            }
            // The message continues past this segment: what is in view decides.
            strings >= 2 && user && p.len() < len
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn startup() {
        // pgsql.pcap (nDPI test suite, LGPL-3.0-or-later).
        let s = hex("000000260003000075736572006f727978006461746162617365006d61696c73746f72650000");
        assert!(is_client_start(&s));
        let mut cut = s.clone();
        cut.truncate(14);
        assert!(!is_client_start(&cut), "no complete parameter pair yet");
        let mut wrong_len = s.clone();
        wrong_len[3] = 0x27;
        assert!(!is_client_start(&wrong_len));
        assert!(is_client_start(&hex("0000000804d21630")), "SSLRequest");
        assert!(!is_client_start(&hex("0000000904d21630")));
        assert!(!is_client_start(&hex("0000000804d2163000")), "SSLRequest is a packet of its own");
    }
}
