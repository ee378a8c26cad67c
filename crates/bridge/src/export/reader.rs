//! Test helper: an IPFIX (RFC 7011) reader written from the RFC, not from `weir_export`'s
//! encoder. It learns the (options) templates a stream of messages carries and decodes each data
//! record with its template, field by field, by Information Element id.

use std::collections::HashMap;

/// Set ids (RFC 7011, section 3.3.2).
const SET_TEMPLATE: u16 = 2;
const SET_OPTIONS_TEMPLATE: u16 = 3;
const FIRST_DATA_SET: u16 = 256;
/// A field length that means variable length (section 7).
const VARIABLE: u16 = 65535;

/// One decoded data record: its template id and its fields in template order, (IE id, value).
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) template: u16,
    pub(crate) fields: Vec<(u16, Vec<u8>)>,
}

impl Record {
    /// The value of element `ie`, if the record has it.
    pub(crate) fn get(&self, ie: u16) -> Option<&[u8]> {
        self.fields.iter().find(|(id, _)| *id == ie).map(|(_, v)| &v[..])
    }

    /// Element `ie` as an unsigned integer (big-endian, any reduced size up to 8 octets).
    pub(crate) fn uint(&self, ie: u16) -> u64 {
        let v = self.get(ie).unwrap_or_else(|| panic!("record of template {} has no element {ie}", self.template));
        assert!(v.len() <= 8, "element {ie} is {} octets", v.len());
        v.iter().fold(0, |n, b| (n << 8) | u64::from(*b))
    }

    /// Element `ie` as a string (fixed-length strings are padded with zero octets).
    pub(crate) fn string(&self, ie: u16) -> String {
        let v = self.get(ie).unwrap_or_else(|| panic!("record of template {} has no element {ie}", self.template));
        String::from_utf8(v.iter().copied().take_while(|b| *b != 0).collect()).unwrap()
    }
}

/// One message's header and data records.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) sequence: u32,
    pub(crate) domain: u32,
    pub(crate) records: Vec<Record>,
    /// Template records (data and options) the message carried.
    pub(crate) templates: usize,
}

/// The templates learned so far: id -> fields (IE id, length).
#[derive(Debug, Default)]
pub(crate) struct Reader {
    templates: HashMap<u16, Vec<(u16, u16)>>,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Reader {
    /// Read one message (one UDP datagram), checking its header and every set's length. A data
    /// set whose template has not been seen yet fails the test.
    pub(crate) fn read(&mut self, m: &[u8]) -> Message {
        assert!(m.len() >= 16, "message of {} octets", m.len());
        assert_eq!(be16(m, 0), 10, "IPFIX version");
        assert_eq!(usize::from(be16(m, 2)), m.len(), "message length field");
        let mut msg = Message { sequence: be32(m, 8), domain: be32(m, 12), records: Vec::new(), templates: 0 };
        let mut at = 16;
        while at < m.len() {
            assert!(at + 4 <= m.len(), "set header at {at} past the end");
            let (id, len) = (be16(m, at), usize::from(be16(m, at + 2)));
            assert!(len >= 4 && at + len <= m.len(), "set {id} at {at}: length {len} of {}", m.len());
            let body = &m[at + 4..at + len];
            match id {
                SET_TEMPLATE | SET_OPTIONS_TEMPLATE => {
                    msg.templates += self.template_set(body, id == SET_OPTIONS_TEMPLATE)
                }
                FIRST_DATA_SET.. => msg.records.extend(self.data_set(id, body)),
                other => panic!("reserved set id {other}"),
            }
            at += len;
        }
        msg
    }

    fn template_set(&mut self, body: &[u8], options: bool) -> usize {
        let head = if options { 6 } else { 4 };
        let (mut at, mut n) = (0, 0);
        // What is left after the last record is padding, shorter than a record header.
        while at + head <= body.len() {
            let (id, count) = (be16(body, at), usize::from(be16(body, at + 2)));
            assert!(id >= FIRST_DATA_SET, "template id {id}");
            if options {
                let scope = usize::from(be16(body, at + 4));
                assert!(scope >= 1 && scope <= count, "options template {id}: scope {scope} of {count}");
            }
            at += head;
            let mut fields = Vec::with_capacity(count);
            for _ in 0..count {
                let (ie, len) = (be16(body, at), be16(body, at + 2));
                at += 4;
                // The enterprise bit: a 4-octet enterprise number follows.
                if ie & 0x8000 != 0 {
                    at += 4;
                }
                fields.push((ie, len));
            }
            assert!(at <= body.len(), "template {id} runs past its set");
            self.templates.insert(id, fields);
            n += 1;
        }
        n
    }

    fn data_set(&self, id: u16, body: &[u8]) -> Vec<Record> {
        let fields = self.templates.get(&id).unwrap_or_else(|| panic!("data set {id} before its template"));
        let min: usize = fields.iter().map(|(_, len)| if *len == VARIABLE { 1 } else { usize::from(*len) }).sum();
        let (mut at, mut out) = (0, Vec::new());
        while at + min <= body.len() {
            let mut r = Record { template: id, fields: Vec::with_capacity(fields.len()) };
            for &(ie, len) in fields {
                let len = if len == VARIABLE {
                    let short = usize::from(body[at]);
                    at += 1;
                    if short == 255 {
                        at += 2;
                        usize::from(be16(body, at - 2))
                    } else {
                        short
                    }
                } else {
                    usize::from(len)
                };
                assert!(at + len <= body.len(), "record of template {id} runs past its set");
                r.fields.push((ie, body[at..at + len].to_vec()));
                at += len;
            }
            out.push(r);
        }
        // Less than a record left: padding.
        out
    }
}
