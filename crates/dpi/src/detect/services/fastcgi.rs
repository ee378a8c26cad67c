//! FastCGI (the FastCGI specification, 1996): a web server's first record to an application.
//!
//! A connection to a FastCGI application starts with FCGI_BEGIN_REQUEST: version 1, type 1, a
//! request id of at least 1, a content length of exactly 8, a padding length, a reserved 0, then the
//! body: a role of 1 (responder), 2 (authorizer) or 3 (filter), flags with only FCGI_KEEP_CONN, and
//! five reserved zero bytes. About 80 fixed bits: random bytes and other protocols do not pass.

/// The first record of a FastCGI stream.
pub(crate) fn is_begin_request(p: &[u8]) -> bool {
    let Some(r) = p.get(..16) else { return false };
    let id = u16::from_be_bytes([r[2], r[3]]);
    let role = u16::from_be_bytes([r[8], r[9]]);
    r[0] == 1
        && r[1] == 1
        && id >= 1
        && r[4..6] == [0, 8]
        && r[7] == 0
        && (1..=3).contains(&role)
        && r[10] <= 1
        && r[11..16] == [0, 0, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn begin_request() {
        // fastcgi.pcap (nDPI test suite, LGPL-3.0-or-later).
        assert!(is_begin_request(&hex("01010001000800000001010000000000")));
        assert!(!is_begin_request(&hex("01010001000900000001010000000000")));
        assert!(!is_begin_request(&hex("01010001000800000004010000000000")), "role 4");
        assert!(!is_begin_request(&hex("010100010008000000010100000000")));
    }
}
