//! Property tests: no input makes the reader panic, every end is `Ok(None)` or an error inside the input, and
//! truncating or corrupting a valid capture only ever loses the records from the damage on.

use proptest::prelude::*;

use crate::reader::fixtures;
use crate::{ByteOrder, CaptureError, CaptureReader, PcapNgWriter, PcapWriter};

/// (offset, data) of a record.
type OwnedRecord = (u64, Vec<u8>);

/// How a read ended: cleanly, inside a record header (its offset), or with an error.
type End = Result<Option<u64>, CaptureError>;

/// Everything a reader yields from `bytes`: the records (offset, data) and how it ended.
fn drain(bytes: &[u8]) -> (Vec<OwnedRecord>, End) {
    let mut records = Vec::new();
    let mut reader = match CaptureReader::new(bytes, "fuzz") {
        Ok(r) => r,
        Err(e) => return (records, Err(e)),
    };
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => records.push((rec.offset, rec.data.to_vec())),
            Ok(None) => return (records, Ok(reader.partial_header().map(CaptureError::offset))),
            Err(e) => return (records, Err(e)),
        }
    }
}

/// The invariants that hold for any input.
fn check_any(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (records, end) = drain(bytes);
    let len = bytes.len() as u64;
    for (offset, data) in &records {
        prop_assert!(offset + data.len() as u64 <= len, "record at {} overruns the input", offset);
    }
    prop_assert!(records.windows(2).all(|w| w[0].0 < w[1].0), "record offsets increase");
    match end {
        Err(e) => {
            prop_assert!(e.offset() <= len, "error offset {} beyond input length {}: {}", e.offset(), len, e);
            prop_assert!(!matches!(e, CaptureError::Io { .. }), "a slice never fails to read: {}", e);
            prop_assert_eq!(e.name(), "fuzz");
        }
        // A partial header starts after every record and within the input.
        Ok(Some(at)) => {
            prop_assert!(at < len, "partial header at {} beyond input length {}", at, len);
            prop_assert!(records.last().is_none_or(|(o, d)| o + d.len() as u64 <= at));
        }
        Ok(None) => {}
    }
    Ok(())
}

/// A valid capture of `n` packets in one of six shapes (pcap LE/BE micro/nano, pcapng LE/BE).
fn valid_capture(shape: u8, sizes: &[u16]) -> Vec<u8> {
    let order = if shape.is_multiple_of(2) { ByteOrder::LittleEndian } else { ByteOrder::BigEndian };
    let packet = |i: usize, size: u16| (i as u64 * 1_000_123, vec![i as u8; usize::from(size)], u32::from(size) + 4);
    if shape < 4 {
        let mut w = PcapWriter::with_byte_order(Vec::new(), 1, shape >= 2, order).unwrap();
        for (i, &size) in sizes.iter().enumerate() {
            let (ts, data, orig) = packet(i, size);
            w.write_packet(ts, &data, orig).unwrap();
        }
        w.into_inner()
    } else {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), 1, order).unwrap();
        let raw = w.interface_for(101).unwrap();
        for (i, &size) in sizes.iter().enumerate() {
            let (ts, data, orig) = packet(i, size);
            w.write_packet_on(if i % 3 == 0 { raw } else { 0 }, ts, &data, orig).unwrap();
            if i % 4 == 1 {
                // Something to skip.
                w.get_mut().extend(fixtures::block(order, 0xBAD, &data));
            }
        }
        w.into_inner()
    }
}

/// Starts of inputs that get past the magic, so the arbitrary tail reaches the record and block parsers.
fn prefixes() -> Vec<Vec<u8>> {
    use ByteOrder::{BigEndian as BE, LittleEndian as LE};
    let mut out = vec![Vec::new()];
    for order in [LE, BE] {
        for magic in [0xA1B2_C3D4, 0xA1B2_3C4D, 0xA1B2_CD34] {
            out.push(fixtures::pcap_header(order, magic, 1500, 1));
        }
        out.push(fixtures::shb(order, None));
        let mut with_idb = fixtures::shb(order, None);
        with_idb.extend(fixtures::idb(order, 1, 0, &[]));
        out.push(with_idb);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_any(&bytes)?;
    }

    #[test]
    fn arbitrary_tails_after_valid_headers_never_panic(
        which in any::<prop::sample::Index>(),
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let prefixes = prefixes();
        let mut bytes = prefixes[which.index(prefixes.len())].clone();
        bytes.extend(tail);
        check_any(&bytes)?;
    }

    #[test]
    fn truncated_valid_files_lose_only_their_tail(
        shape in 0u8..6,
        sizes in proptest::collection::vec(0u16..200, 0..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let full = valid_capture(shape, &sizes);
        let (all, end) = drain(&full);
        prop_assert!(end.is_ok(), "{:?}", end);
        prop_assert_eq!(all.len(), sizes.len());

        let cut = cut.index(full.len() + 1);
        let (records, end) = drain(&full[..cut]);
        check_any(&full[..cut])?;
        // Every record read from the cut file is the record the full file has there.
        prop_assert_eq!(&records[..], &all[..records.len()]);
        // Where the record after the last one read starts.
        let boundary = all.get(records.len()).map_or(full.len() as u64, |(offset, _)| *offset);
        match end {
            // A clean end only where a record ended (or at the end of the headers).
            Ok(None) => prop_assert!(cut as u64 <= boundary),
            // An end inside a header only before the next record's data: no packet byte lost. (pcapng may
            // skip blocks of other kinds first, so the header need not be the next record's own.)
            Ok(Some(at)) => {
                prop_assert!(at < cut as u64 && cut as u64 <= boundary + 28, "partial header at {}, cut {}", at, cut);
            }
            Err(e) => prop_assert!(matches!(e, CaptureError::Truncated { .. }), "{}", e),
        }
    }

    #[test]
    fn corrupted_valid_files_never_panic(
        shape in 0u8..6,
        sizes in proptest::collection::vec(0u16..200, 1..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = valid_capture(shape, &sizes);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        check_any(&bytes)?;
    }
}
