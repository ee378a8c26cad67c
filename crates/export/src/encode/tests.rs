//! Byte-for-byte checks of the encoder against messages written out by hand from RFC 7011's
//! layouts, and a walk over arbitrary record streams that checks every message is well formed.

use super::*;
use crate::flow::{FlowEnd, Forwarding};
use crate::testing::walk;
use proptest::prelude::*;

/// Hex with spaces, `|` and newlines ignored, to bytes.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// `s` in a field of `len` octets, zero padded.
fn text(s: &str, len: usize) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.resize(len, 0);
    v
}

fn apps() -> Arc<AppTable> {
    Arc::new(AppTable::new([("unknown", "unknown"), ("bittorrent", "p2p")]))
}

fn encoder(max: usize) -> Encoder {
    Encoder::new(EncoderConfig { domain: 7, max_message: max, interfaces: [3, 4] }, apps())
}

fn collect(e: &mut Encoder, f: impl FnOnce(&mut Encoder, &mut dyn FnMut(&[u8], u32))) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    f(e, &mut |m: &[u8], n| {
        assert_eq!(walk(m).data_records, n);
        out.push(m.to_vec())
    });
    out
}

const FLOW_FIELDS_HEX: &str = "0007 0002 000b 0002 0004 0001 003a 0002 0002 0008 0001 0008 0098 0008 0099 0008
     0088 0001 000a 0004 000e 0004 00ef 0001 0059 0001 005f 0004 0094 0008";

#[test]
fn a_template_round_is_exactly_the_rfc_layout() {
    let mut e = encoder(1400);
    let msgs = collect(&mut e, |e, out| e.templates(0x6553_f100, out));
    assert_eq!(msgs.len(), 1);
    let mut want = hex("000a 0170 6553f100 00000000 00000007");
    // Template set: IPv4 template 256 and IPv6 template 257, 17 fields each.
    want.extend(hex("0002 0094"));
    want.extend(hex("0100 0011 0008 0004 000c 0004"));
    want.extend(hex(FLOW_FIELDS_HEX));
    want.extend(hex("0101 0011 001b 0010 001c 0010"));
    want.extend(hex(FLOW_FIELDS_HEX));
    // Options template set: template 258, 4 fields, 1 scope (applicationId, 4 octets), then
    // applicationName (64), applicationCategoryName (16), p2pTechnology (3).
    want.extend(hex("0003 001a 0102 0004 0001 005f 0004 0060 0040 0174 0010 0120 0003"));
    // Options data set: one record (87 octets) per application.
    want.extend(hex("0102 00b2"));
    want.extend(hex("06000000"));
    want.extend(text("unknown", 64));
    want.extend(text("unknown", 16));
    want.extend(text("no", 3));
    want.extend(hex("06000001"));
    want.extend(text("bittorrent", 64));
    want.extend(text("p2p", 16));
    want.extend(text("yes", 3));
    assert_eq!(msgs[0], want);
    // The two options records are data records: the next message's sequence number is 2.
    assert_eq!(e.sequence(), 2);
}

fn v4_flow() -> ExportFlow {
    ExportFlow {
        flow_id: 0x0102_0304_0506_0708,
        ip_protocol: 6,
        originator: ("198.18.0.1".parse().unwrap(), 40000),
        responder: ("198.19.0.9".parse().unwrap(), 6881),
        originator_inside: true,
        vlan: 7,
        protocol: 1,
        packets: [10, 8],
        bytes: [5000, 400],
        start_ms: 0x0000_018b_cfe5_6800,
        end_ms: 0x0000_018b_cfe5_6c00,
        end: FlowEnd::EndOfFlow,
        forwarding: [Forwarding::Forwarded, Forwarding::Dropped],
    }
}

#[test]
fn a_flow_becomes_two_uniflow_records_byte_for_byte() {
    let mut e = encoder(1400);
    collect(&mut e, |e, out| e.templates(1, out));
    let msgs = collect(&mut e, |e, out| {
        e.push(&v4_flow(), 2, out);
        e.flush(0x6553_f101, out);
    });
    assert_eq!(msgs.len(), 1);
    let mut want = hex("000a 00a0 6553f101 00000002 00000007 0100 0090");
    // Originator to responder: inside (3) to outside (4), initiator, forwarded, bittorrent.
    want.extend(hex("c6120001 c6130009 9c40 1ae1 06 0007 000000000000000a 0000000000001388
         0000018bcfe56800 0000018bcfe56c00 03 00000003 00000004 01 40 06000001 0102030405060708"));
    // And back: outside to inside, reverse initiator, dropped by policy.
    want.extend(hex("c6130009 c6120001 1ae1 9c40 06 0007 0000000000000008 0000000000000190
         0000018bcfe56800 0000018bcfe56c00 03 00000004 00000003 02 81 06000001 0102030405060708"));
    assert_eq!(msgs[0], want);
    assert_eq!(e.sequence(), 4);
}

#[test]
fn an_ipv6_flow_with_one_direction_is_one_record() {
    let mut e = encoder(1400);
    let mut f = v4_flow();
    f.originator = ("2001:2::5".parse().unwrap(), 5353);
    f.responder = ("2001:2:0:1::9".parse().unwrap(), 53);
    f.originator_inside = false;
    f.packets = [1, 0];
    f.bytes = [90, 0];
    f.ip_protocol = 17;
    f.vlan = 0;
    f.protocol = 0;
    f.end = FlowEnd::ActiveTimeout;
    f.forwarding = [Forwarding::Forwarded; 2];
    let msgs = collect(&mut e, |e, out| {
        e.push(&f, 2, out);
        e.flush(9, out);
    });
    let mut want = hex("000a 0072 00000009 00000000 00000007 0101 0062");
    want.extend(hex("20010002000000000000000000000005 20010002000000010000000000000009 14e9 0035 11 0000
         0000000000000001 000000000000005a 0000018bcfe56800 0000018bcfe56c00 02
         00000004 00000003 01 40 06000000 0102030405060708"));
    assert_eq!(msgs[0], want);
}

#[test]
fn mixed_families_go_into_their_own_sets_of_one_message() {
    let mut e = encoder(1400);
    let mut v6 = v4_flow();
    v6.originator.0 = "2001:2::1".parse().unwrap();
    v6.responder.0 = "2001:2::2".parse().unwrap();
    let msgs = collect(&mut e, |e, out| {
        e.push(&v4_flow(), 0, out);
        e.push(&v6, 0, out);
        e.push(&v4_flow(), 0, out);
        e.flush(0, out);
    });
    assert_eq!(msgs.len(), 1);
    let sets = walk(&msgs[0]).sets;
    assert_eq!(sets, [(TEMPLATE_V4, 2), (TEMPLATE_V6, 2), (TEMPLATE_V4, 2)]);
}

#[test]
fn a_restart_drops_the_partial_message_and_numbers_from_zero() {
    let mut e = encoder(1400);
    collect(&mut e, |e, out| {
        e.push(&v4_flow(), 0, out);
        e.flush(0, out);
    });
    assert_eq!(e.sequence(), 2);
    collect(&mut e, |e, out| e.push(&v4_flow(), 0, out));
    assert_eq!((e.pending(), e.pending_records()), (true, 2));
    assert_eq!(e.restart(), 2);
    assert_eq!((e.sequence(), e.pending()), (0, false));
}

proptest! {
    /// Whatever the mix of records and however small the messages, every message is well
    /// formed and within its size, each message's sequence number is the data records sent
    /// before it, and every direction with packets is one record.
    #[test]
    fn streams_of_records_make_well_formed_numbered_messages(
        flows in proptest::collection::vec((any::<bool>(), 0u64..3, 0u64..3, any::<u16>()), 0..200),
        max in MIN_MESSAGE..2000,
        rounds in 0usize..3,
    ) {
        let mut e = encoder(max);
        let mut msgs = Vec::new();
        let mut expected = 0u32;
        for (i, &(v6, p0, p1, port)) in flows.iter().enumerate() {
            let mut f = v4_flow();
            if v6 {
                f.originator.0 = "2001:2::1".parse().unwrap();
                f.responder.0 = "2001:2::2".parse().unwrap();
            }
            f.packets = [p0, p1];
            f.originator.1 = port;
            expected += u32::from(p0 > 0) + u32::from(p1 > 0);
            if rounds > 0 && i % (flows.len() / rounds + 1) == 0 {
                e.templates(0, &mut |m: &[u8], _| msgs.push(m.to_vec()));
                expected += 2;
            }
            e.push(&f, 0, &mut |m: &[u8], _| msgs.push(m.to_vec()));
        }
        e.flush(0, &mut |m: &[u8], _| msgs.push(m.to_vec()));
        let mut seq = 0u32;
        for m in &msgs {
            prop_assert!(m.len() <= max);
            let w = walk(m);
            prop_assert_eq!(w.sequence, seq);
            prop_assert!(w.data_records > 0 || w.sets.iter().any(|(id, _)| *id < 256));
            seq += w.data_records;
        }
        prop_assert_eq!(seq, expected);
        prop_assert_eq!(e.sequence(), expected);
    }
}
