//! IPFIX message encoding (RFC 7011), without I/O: records in, complete messages out.
//!
//! An [`Encoder`] belongs to one transport session (one collector): it numbers the messages it
//! makes with that session's sequence number, which counts the data records sent before each
//! message in the observation domain (template records do not count; the application options
//! records are data records and do). It packs records into messages of at most
//! `max_message` octets, and hands each complete message to the caller's `out`, which sends it.
//!
//! One [`ExportFlow`] becomes one uniflow data record per direction that has packets, both with
//! the flow's [`ExportFlow::flow_id`] and a biflowDirection (1: this record's source opened the
//! flow; 2: it answered), so the two halves of a conversation can be put together again.
//!
//! Layout: a template round ([`Encoder::templates`]) is a message with a template set (the
//! IPv4 and IPv6 data templates), an options template set (the application names) and the
//! applications' options data records (more messages if they do not fit in one). Flow records
//! follow in data sets of their template. Nothing here reads a clock: the caller passes the
//! export time, in Unix seconds.

use crate::apps::AppTable;
use crate::flow::ExportFlow;
use crate::template::{
    APP_CATEGORY_LEN, APP_NAME_LEN, APP_P2P_LEN, APPS, APPS_SCOPE, DATA_V4, DATA_V6, Field, RECORD_V4, RECORD_V6,
    SET_OPTIONS_TEMPLATE, SET_TEMPLATE, TEMPLATE_APPS, TEMPLATE_V4, TEMPLATE_V6, record_len,
};
use core::net::IpAddr;
use std::sync::Arc;

/// IPFIX version number.
pub const VERSION: u16 = 10;
/// Octets of the message header.
pub const HEADER_LEN: usize = 16;
/// Octets of a set header.
pub const SET_HEADER_LEN: usize = 4;
/// The smallest `max_message` an encoder accepts: room for a template round's templates.
pub const MIN_MESSAGE: usize = 512;
/// The largest: the message length field is 16 bits.
pub const MAX_MESSAGE: usize = 65535;

/// Settings of an [`Encoder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncoderConfig {
    /// The Observation Domain ID in every message header.
    pub domain: u32,
    /// Largest message, octets (clamped to [`MIN_MESSAGE`]..=[`MAX_MESSAGE`]). Over UDP, keep it
    /// under the path MTU less the IP and UDP headers (1400 is safe almost everywhere).
    pub max_message: usize,
    /// ingressInterface/egressInterface values: (inside NIC, outside NIC). A packet from the
    /// inside entered at the first and left at the second.
    pub interfaces: [u32; 2],
}

/// Builds IPFIX messages for one transport session. See the module documentation.
#[derive(Clone, Debug)]
pub struct Encoder {
    config: EncoderConfig,
    apps: Arc<AppTable>,
    sequence: u32,
    buf: Vec<u8>,
    /// The open set: (offset of its header, set id).
    set: Option<(usize, u16)>,
    records: u32,
    messages: u64,
}

fn put_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

/// A string in a field of `len` octets: cut to fit (at a character boundary), padded with
/// zero octets.
fn put_fixed(b: &mut Vec<u8>, s: &str, len: u16) {
    let len = usize::from(len);
    let mut end = s.len().min(len);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    b.extend_from_slice(&s.as_bytes()[..end]);
    b.resize(b.len() + (len - end), 0);
}

fn put_fields(b: &mut Vec<u8>, fields: &[Field]) {
    for f in fields {
        put_u16(b, f.id);
        put_u16(b, f.len);
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

impl Encoder {
    /// An encoder for a new transport session (sequence number 0).
    pub fn new(config: EncoderConfig, apps: Arc<AppTable>) -> Encoder {
        let config = EncoderConfig { max_message: config.max_message.clamp(MIN_MESSAGE, MAX_MESSAGE), ..config };
        Encoder {
            config,
            apps,
            sequence: 0,
            buf: Vec::with_capacity(config.max_message),
            set: None,
            records: 0,
            messages: 0,
        }
    }

    /// The settings in use (`max_message` clamped).
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The sequence number the next message will carry: data records sent before it.
    pub fn sequence(&self) -> u32 {
        self.sequence
    }

    /// Messages made so far.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Whether a partial message holds records not yet handed out.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Data records in the partial message.
    pub fn pending_records(&self) -> u32 {
        self.records
    }

    /// Start over for a new transport session (a TCP reconnect): sequence 0, and the partial
    /// message, if any, is dropped. Returns the data records dropped with it.
    pub fn restart(&mut self) -> u32 {
        let dropped = self.records;
        self.buf.clear();
        self.set = None;
        self.records = 0;
        self.sequence = 0;
        dropped
    }

    fn begin(&mut self) {
        if self.buf.is_empty() {
            self.buf.resize(HEADER_LEN, 0);
        }
    }

    fn close_set(&mut self) {
        if let Some((at, _)) = self.set.take() {
            let len = (self.buf.len() - at) as u16;
            self.buf[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Make room for `need` octets of a record in set `id`, handing out the message if it is
    /// full, and open the set if it is not the open one.
    fn room(&mut self, id: u16, need: usize, now_s: u32, out: &mut dyn FnMut(&[u8], u32)) {
        let opening = !matches!(self.set, Some((_, open)) if open == id);
        let extra = if opening { SET_HEADER_LEN } else { 0 };
        if !self.buf.is_empty() && self.buf.len() + extra + need > self.config.max_message {
            self.flush(now_s, out);
        }
        self.begin();
        if !matches!(self.set, Some((_, open)) if open == id) {
            self.close_set();
            self.set = Some((self.buf.len(), id));
            put_u16(&mut self.buf, id);
            put_u16(&mut self.buf, 0);
        }
    }

    /// Hand out the partial message, if any, with export time `now_s`.
    pub fn flush(&mut self, now_s: u32, out: &mut dyn FnMut(&[u8], u32)) {
        if self.buf.is_empty() {
            return;
        }
        self.close_set();
        let len = self.buf.len() as u16;
        let header = &mut self.buf[..HEADER_LEN];
        header[0..2].copy_from_slice(&VERSION.to_be_bytes());
        header[2..4].copy_from_slice(&len.to_be_bytes());
        header[4..8].copy_from_slice(&now_s.to_be_bytes());
        header[8..12].copy_from_slice(&self.sequence.to_be_bytes());
        header[12..16].copy_from_slice(&self.config.domain.to_be_bytes());
        out(&self.buf, self.records);
        self.sequence = self.sequence.wrapping_add(self.records);
        self.messages += 1;
        self.buf.clear();
        self.records = 0;
    }

    /// A template round: the data templates, the options template and every application's
    /// options record, starting a new message (the partial one is handed out first). Over UDP,
    /// repeat it periodically; over TCP, once per connection.
    pub fn templates(&mut self, now_s: u32, out: &mut dyn FnMut(&[u8], u32)) {
        self.flush(now_s, out);
        self.room(SET_TEMPLATE, 2 * (4 + 4 * DATA_V4.len()), now_s, out);
        for (id, fields) in [(TEMPLATE_V4, &DATA_V4[..]), (TEMPLATE_V6, &DATA_V6[..])] {
            put_u16(&mut self.buf, id);
            put_u16(&mut self.buf, fields.len() as u16);
            put_fields(&mut self.buf, fields);
        }
        self.room(SET_OPTIONS_TEMPLATE, 6 + 4 * APPS.len(), now_s, out);
        put_u16(&mut self.buf, TEMPLATE_APPS);
        put_u16(&mut self.buf, APPS.len() as u16);
        put_u16(&mut self.buf, APPS_SCOPE);
        put_fields(&mut self.buf, &APPS);
        self.app_records(now_s, out);
    }

    /// The application table now in use.
    pub fn apps(&self) -> &Arc<AppTable> {
        &self.apps
    }

    /// Use `apps` from now on (a live reload's new signatures named new protocols): records
    /// carry their ids, and the next template round announces their names. Announce them soon:
    /// [`Encoder::templates`] over UDP, [`Encoder::app_records`] over TCP (whose templates are
    /// sent once per connection).
    pub fn set_apps(&mut self, apps: Arc<AppTable>) {
        self.apps = apps;
    }

    /// Every application's options record (name, category, p2p), without the templates, added to
    /// the message being built (in a set of their own), which is then handed out.
    pub fn app_records(&mut self, now_s: u32, out: &mut dyn FnMut(&[u8], u32)) {
        let apps = Arc::clone(&self.apps);
        for app in apps.apps() {
            let p2p = if app.p2p { "yes" } else { "no" };
            self.room(TEMPLATE_APPS, record_len(&APPS), now_s, out);
            self.buf.extend_from_slice(&app.id());
            put_fixed(&mut self.buf, &app.name, APP_NAME_LEN);
            put_fixed(&mut self.buf, &app.category, APP_CATEGORY_LEN);
            put_fixed(&mut self.buf, p2p, APP_P2P_LEN);
            self.records += 1;
        }
        self.flush(now_s, out);
    }

    /// Add a flow's records (one per direction with packets), handing out each message that
    /// fills up.
    pub fn push(&mut self, flow: &ExportFlow, now_s: u32, out: &mut dyn FnMut(&[u8], u32)) {
        let v4 = flow.originator.0.is_ipv4() && flow.responder.0.is_ipv4();
        let (id, len) = if v4 { (TEMPLATE_V4, RECORD_V4) } else { (TEMPLATE_V6, RECORD_V6) };
        for dir in 0..2 {
            if flow.packets[dir] == 0 {
                continue;
            }
            self.room(id, len, now_s, out);
            self.record(flow, dir, v4);
            self.records += 1;
        }
    }

    /// One uniflow record: `dir` 0 for the originator's packets, 1 for the responder's.
    fn record(&mut self, f: &ExportFlow, dir: usize, v4: bool) {
        let (src, dst) = if dir == 0 { (f.originator, f.responder) } else { (f.responder, f.originator) };
        let b = &mut self.buf;
        match (v4, src.0, dst.0) {
            (true, IpAddr::V4(s), IpAddr::V4(d)) => {
                b.extend_from_slice(&s.octets());
                b.extend_from_slice(&d.octets());
            }
            _ => {
                b.extend_from_slice(&v6_octets(src.0));
                b.extend_from_slice(&v6_octets(dst.0));
            }
        }
        put_u16(b, src.1);
        put_u16(b, dst.1);
        b.push(f.ip_protocol);
        put_u16(b, f.vlan);
        put_u64(b, f.packets[dir]);
        put_u64(b, f.bytes[dir]);
        put_u64(b, f.start_ms);
        put_u64(b, f.end_ms);
        b.push(f.end as u8);
        let from_inside = (dir == 0) == f.originator_inside;
        let [inside, outside] = self.config.interfaces;
        let (ingress, egress) = if from_inside { (inside, outside) } else { (outside, inside) };
        put_u32(b, ingress);
        put_u32(b, egress);
        b.push(if dir == 0 { 1 } else { 2 });
        b.push(f.forwarding[dir] as u8);
        b.extend_from_slice(&self.apps.id(f.protocol));
        put_u64(b, f.flow_id);
    }
}

#[cfg(test)]
mod tests;
