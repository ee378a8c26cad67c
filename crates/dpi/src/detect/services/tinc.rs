//! tinc's meta protocol (the VPN daemon's control connection, TCP 655 by default).
//!
//! Each side's first line is an ID request, `0 <name> <major>[.<minor>]\n` (tinc 1.0 sends
//! `0 alpha 17`, 1.1 `0 alpha 17.7`): request number 0, the node's name (letters, digits and `_`,
//! tinc's own check), protocol version 17, and nothing else on the line. The classifier needs the
//! line from both sides (each daemon introduces itself before anything else is sent), so one
//! text line that happens to read like this does not pass, nor does random text (a space-separated
//! "0", a name and "17" ending the line, twice).
//!
//! After the verdict the daemons exchange keys and then carry the VPN's packets in UDP datagrams
//! between the same two hosts, on the listening daemon's port; those are encrypted, so the meta
//! connection announces them (see [`crate::related`]).

/// The protocol major version every tinc since 1.0 speaks.
const MAJOR: &[u8] = b"17";

/// Does `p` (a stream's first segment) start with tinc's ID request line?
pub(crate) fn is_id_request(p: &[u8]) -> bool {
    // The first two bytes decide for nearly every stream, before any scan for the line's end.
    let Some(after) = p.strip_prefix(b"0 ") else { return false };
    let Some(end) = after.iter().take(94).position(|&b| b == b'\n') else { return false };
    let rest = &after[..end];
    let Some(sp) = rest.iter().position(|&b| b == b' ') else { return false };
    let (name, version) = (&rest[..sp], &rest[sp + 1..]);
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_') {
        return false;
    }
    let (major, minor) = match version.iter().position(|&b| b == b'.') {
        Some(dot) => (&version[..dot], Some(&version[dot + 1..])),
        None => (version, None),
    };
    major == MAJOR && minor.is_none_or(|m| !m.is_empty() && m.len() <= 3 && m.iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_requests_of_tinc_1_0_and_1_1() {
        // The first lines of tinc.pcap (nDPI test suite, LGPL-3.0-or-later).
        assert!(is_id_request(b"0 thinkpad 17\n"));
        assert!(is_id_request(b"0 iniz 17\n"));
        assert!(is_id_request(b"0 t 17\n"));
        assert!(is_id_request(b"0 node_2 17.7\n"));
    }

    #[test]
    fn rejects_lookalikes() {
        for p in [
            &b"0 thinkpad 17"[..],  // no end of line
            b"1 thinkpad 17\n",     // another request
            b"0 think pad 17\n",    // a space in the name
            b"0 thinkpad 18\n",     // another version
            b"0 thinkpad 17.\n",    // an empty minor
            b"0 thinkpad 17.7 x\n", // more on the line
            b"0 my-host 17\n",      // not a tinc name
            b"0  17\n",             // no name
            b"PING 0 17\n",
        ] {
            assert!(!is_id_request(p), "{:?}", String::from_utf8_lossy(p));
        }
    }

    proptest::proptest! {
        /// Random bytes, and random printable lines after "0 ", are not ID requests unless they
        /// are one by construction (a name of tinc's characters and version 17).
        #[test]
        fn random_lines(tail in proptest::collection::vec(0x20u8..0x7f, 0..40)) {
            let mut p = b"0 ".to_vec();
            p.extend_from_slice(&tail);
            p.push(b'\n');
            if is_id_request(&p) {
                let s = String::from_utf8_lossy(&tail).into_owned();
                let (name, v) = s.split_once(' ').unwrap_or_default();
                proptest::prop_assert!(!name.is_empty() && (v == "17" || v.starts_with("17.")), "{s}");
            }
        }

        #[test]
        fn random_bytes(p in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if is_id_request(&p) {
                proptest::prop_assert!(p.starts_with(b"0 "));
            }
        }
    }
}
