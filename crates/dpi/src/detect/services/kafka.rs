//! Apache Kafka's wire protocol: a client's request at the start of a TCP stream.
//!
//! A request is a 32-bit size, then the header: a 16-bit API key (0..=74, the keys Kafka has
//! defined), a 16-bit API version (0..=17), a 32-bit correlation id and a client id (a 16-bit
//! length, -1 for null, and that many printable bytes). The size must equal the rest of the
//! segment (one request) or run past a full segment. About 25 bits fixed by the key and version,
//! a 32-bit size that must agree and a length-prefixed text field: random bytes and other
//! protocols do not pass.

use crate::detect::{be16, be32};

/// The first bytes of a Kafka client's stream.
pub(crate) fn is_request_start(p: &[u8]) -> bool {
    let (Some(size), Some(key), Some(version), Some(id_len)) = (be32(p, 0), be16(p, 4), be16(p, 6), be16(p, 12)) else {
        return false;
    };
    let size = size as usize;
    if key > 74 || version > 17 || size < 10 || !(size + 4 == p.len() || (size + 4 > p.len() && p.len() >= 536)) {
        return false;
    }
    if id_len == 0xffff {
        return true;
    }
    let n = usize::from(id_len);
    n + 10 <= size && p.get(14..14 + n).is_some_and(|s| s.iter().all(|&c| (0x20..0x7f).contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn requests() {
        // An ApiVersions request (kafka.pcapng, nDPI test suite, LGPL-3.0-or-later), its tagged
        // fields shortened; the size is set to match.
        let mut r = hex("00000000001200030000000300 10 636f6e736f6c652d70726f6475636572 00");
        let n = (r.len() - 4) as u32;
        r[..4].copy_from_slice(&n.to_be_bytes());
        assert!(is_request_start(&r));
        let mut key = r.clone();
        key[4] = 1;
        assert!(!is_request_start(&key));
        let mut text = r.clone();
        text[15] = 0;
        assert!(!is_request_start(&text));
        r.push(0);
        assert!(!is_request_start(&r), "size disagrees with the segment");
    }
}
