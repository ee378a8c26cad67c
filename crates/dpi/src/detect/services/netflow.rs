//! Flow export datagrams: Cisco NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011).
//!
//! - **v5**: a 24-byte header (version 5, a record count of 1..=30, uptime, seconds,
//!   nanoseconds below 10^9, sequence, engine, sampling) and `count` records of 48 bytes: the
//!   datagram is exactly `24 + 48 * count` bytes. The version, a count that must give the length
//!   exactly and the nanoseconds: about 2^-34 for random bytes.
//! - **v9**: a 20-byte header (version 9, a record count of at least 1, uptime, seconds,
//!   sequence, source id), then FlowSets: a 16-bit id (0 templates, 1 option templates, 256 and up
//!   data; 2-255 are reserved) and a 16-bit length of at least 4 counting the set's header; the
//!   lengths must walk the datagram exactly. Each template in a template FlowSet (id of 256 or
//!   more, a field count of at least 1, four bytes per field) must fit its set, with less than a
//!   record of padding after the last, and the templates seen may not outnumber the header's count.
//! - **IPFIX** (version 10): a 16-byte header whose message length equals the datagram's length,
//!   then Sets (2 templates, 3 option templates, 256 and up data; 0, 1 and 4-255 are not used)
//!   whose lengths walk the message exactly; templates are checked as for v9, with the enterprise
//!   bit's extra four bytes per field.
//!
//! A 16-bit version and one or two exact lengths of 16 bits: random bytes pass with about 2^-32,
//! and a datagram of another protocol starting with 0x0005, 0x0009 or 0x000a would need its own
//! lengths to walk the same way.

use crate::detect::{be16, be32};

/// A whole flow export datagram (NetFlow v5, v9 or IPFIX).
pub(crate) fn is_export(p: &[u8]) -> bool {
    match be16(p, 0) {
        Some(5) => is_v5(p),
        Some(9) => is_v9(p),
        Some(10) => is_ipfix(p),
        _ => false,
    }
}

fn is_v5(p: &[u8]) -> bool {
    let (Some(count), Some(nsecs)) = (be16(p, 2), be32(p, 12)) else { return false };
    (1..=30).contains(&count) && nsecs < 1_000_000_000 && p.len() == 24 + 48 * usize::from(count)
}

fn is_v9(p: &[u8]) -> bool {
    let Some(count) = be16(p, 2) else { return false };
    if count == 0 || p.len() < 24 {
        return false;
    }
    walk(p, 20, count, false)
}

fn is_ipfix(p: &[u8]) -> bool {
    be16(p, 2).is_some_and(|n| usize::from(n) == p.len()) && p.len() >= 20 && walk(p, 16, u16::MAX, true)
}

/// Do the sets from `at` walk `p` exactly, with templates well formed and at most `count` of them?
fn walk(p: &[u8], mut at: usize, count: u16, ipfix: bool) -> bool {
    let (template, options) = if ipfix { (2, 3) } else { (0, 1) };
    let mut templates = 0usize;
    while at < p.len() {
        let (Some(id), Some(len)) = (be16(p, at), be16(p, at + 2)) else { return false };
        let len = usize::from(len);
        let Some(set) = p.get(at..at + len) else { return false };
        if len < 4 || (id < 256 && id != template && id != options) {
            return false;
        }
        if id == template {
            match templates_in(&set[4..], ipfix) {
                Some(n) => templates += n,
                None => return false,
            }
        }
        at += len;
    }
    at == p.len() && templates <= usize::from(count)
}

/// The number of template records in a template set's body, if they fit it (padding under 4 bytes).
fn templates_in(body: &[u8], ipfix: bool) -> Option<usize> {
    let mut pos = 0;
    let mut n = 0;
    while body.len() - pos >= 4 {
        let (id, fields) = (be16(body, pos)?, be16(body, pos + 2)?);
        if id < 256 || fields == 0 {
            return None;
        }
        pos += 4;
        for _ in 0..fields {
            let element = be16(body, pos)?;
            pos += if ipfix && element & 0x8000 != 0 { 8 } else { 4 };
        }
        if pos > body.len() {
            return None;
        }
        n += 1;
    }
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From netflow-fritz.pcap (nDPI test suite, LGPL-3.0-or-later): an IPFIX message of two
    // template sets from a FRITZ!Box.
    fn ipfix() -> Vec<u8> {
        hex("000a00b4594ac59d025965c4000401000002007001cd00160001000480cf0004000068f280ccffff000068f280cdffff000068f2\
             00070002000b00020006000200b1000100b0000100b4000200b500020002000400cd000200b9000400b8000400080004000c0004\
             00360004005800020004000100c000018001ffff000068f20003003401d200070001008f000400290008002a0008002800080130\
             0002013100040132000401d300020001008e00040052ffff")
    }

    fn v5(count: u16) -> Vec<u8> {
        let mut p = hex("0005 0000 0001e240 5f000000 00000100 00000007 00 00 0000");
        p[2..4].copy_from_slice(&count.to_be_bytes());
        p.resize(24 + 48 * usize::from(count), 0x0a);
        p
    }

    fn v9() -> Vec<u8> {
        // A template (id 256: two fields) and a data set of two 8-byte records under it.
        let mut p = hex("0009 0003 244e08ee 5d67a80c 166fa688 00000001 0000 0010 0100 0002 0008 0004 000c 0004");
        p.extend_from_slice(&hex("0100 0014 c0a80001 c0a80002 c0a80003 c0a80004"));
        p
    }

    #[test]
    fn export_datagrams() {
        assert!(is_export(&ipfix()));
        assert!(is_export(&v5(1)));
        assert!(is_export(&v5(30)));
        assert!(is_export(&v9()));
    }

    #[test]
    fn rejects_lookalikes() {
        let mut short = ipfix();
        short.pop();
        assert!(!is_export(&short), "the message length is the datagram's");
        let mut set = ipfix();
        set[17] = 4;
        assert!(!is_export(&set), "set id 4 is not used");
        let mut tmpl = ipfix();
        tmpl[20] = 0;
        tmpl[21] = 1;
        assert!(!is_export(&tmpl), "a template id under 256");
        let mut p = v5(2);
        p.pop();
        assert!(!is_export(&p), "two v5 records are 120 bytes");
        assert!(!is_export(&v5(31)), "a v5 datagram has at most 30 records");
        let mut ns = v5(1);
        ns[12] = 0xff;
        assert!(!is_export(&ns), "nanoseconds past a second");
        let mut walk = v9();
        walk[23] = 0x40;
        assert!(!is_export(&walk), "a flowset past the datagram");
        let mut reserved = v9();
        reserved[37] = 0x80;
        reserved[36] = 0;
        assert!(!is_export(&reserved), "flowset id 128 is reserved");
        let mut count = v9();
        count[3] = 0;
        assert!(!is_export(&count), "a zero record count");
        let mut fields = v9();
        fields[27] = 9;
        assert!(!is_export(&fields), "a template's fields past its set");
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_behind_a_version(version in proptest::sample::select(vec![5u16, 9, 10]),
                                          body in proptest::collection::vec(proptest::num::u8::ANY, 0..1400)) {
            let mut p = version.to_be_bytes().to_vec();
            p.extend_from_slice(&body);
            if is_export(&p) && version == 10 {
                proptest::prop_assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
            }
            if is_export(&p) && version == 5 {
                proptest::prop_assert_eq!((p.len() - 24) % 48, 0);
            }
        }
    }
}
