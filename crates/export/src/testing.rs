//! Test helpers: an IPFIX message reader written from RFC 7011, independent of the encoder.

use crate::encode::{HEADER_LEN, SET_HEADER_LEN};
use crate::template::{
    RECORD_V4, RECORD_V6, SET_OPTIONS_TEMPLATE, SET_TEMPLATE, TEMPLATE_APPS, TEMPLATE_V4, TEMPLATE_V6,
};

/// What a message holds, read back with a parser written from RFC 7011.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub(crate) sequence: u32,
    /// (set id, records) in order; template sets count template records.
    pub(crate) sets: Vec<(u16, u32)>,
    pub(crate) data_records: u32,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn walk(m: &[u8]) -> Walked {
    assert!(m.len() >= HEADER_LEN);
    assert_eq!(be16(m, 0), 10, "version");
    assert_eq!(usize::from(be16(m, 2)), m.len(), "message length");
    assert_eq!(&m[12..16], &7u32.to_be_bytes(), "domain");
    let mut w = Walked { sequence: u32::from_be_bytes([m[8], m[9], m[10], m[11]]), ..Walked::default() };
    let mut at = HEADER_LEN;
    while at < m.len() {
        let (id, len) = (be16(m, at), usize::from(be16(m, at + 2)));
        assert!(len >= SET_HEADER_LEN && at + len <= m.len(), "set at {at}: length {len}");
        let body = &m[at + 4..at + len];
        let records = match id {
            TEMPLATE_V4 => {
                assert_eq!(body.len() % RECORD_V4, 0);
                (body.len() / RECORD_V4) as u32
            }
            TEMPLATE_V6 => {
                assert_eq!(body.len() % RECORD_V6, 0);
                (body.len() / RECORD_V6) as u32
            }
            TEMPLATE_APPS => {
                assert_eq!(body.len() % 87, 0);
                (body.len() / 87) as u32
            }
            SET_TEMPLATE | SET_OPTIONS_TEMPLATE => 1,
            other => panic!("unexpected set {other}"),
        };
        if id >= 256 {
            w.data_records += records;
        }
        w.sets.push((id, records));
        at += len;
    }
    w
}

/// Split a TCP stream (or an IPFIX file) into its messages.
pub(crate) fn split(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= stream.len() {
        let len = usize::from(be16(stream, at + 2));
        assert!(len >= HEADER_LEN && at + len <= stream.len(), "message at {at}: length {len} of {}", stream.len());
        out.push(&stream[at..at + len]);
        at += len;
    }
    assert_eq!(at, stream.len(), "trailing octets");
    out
}
