//! Writers for the traffic generator: classic pcap and single-section pcapng.
//!
//! Both refuse (with [`io::ErrorKind::InvalidInput`], before writing anything for the packet) what the reader
//! would refuse or misread: packets over [`MAX_CAPLEN`], an original length below the captured length, and
//! timestamps a format cannot hold. Writes go straight to the inner writer, a few calls per packet: wrap files
//! in a [`std::io::BufWriter`].

use std::io::{self, Write};

use crate::reader::{
    BYTE_ORDER_MAGIC, EPB_TYPE, IDB_TYPE, OPT_ENDOFOPT, OPT_IF_TSRESOL, PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS,
    PCAP_VERSION_MAJOR, PCAPNG_VERSION_MAJOR, SHB_TYPE,
};
use crate::{ByteOrder, MAX_CAPLEN, pad4};

const NANOS_PER_SEC: u64 = 1_000_000_000;

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Checks a packet against what the reader accepts; returns its captured length.
fn check_packet(data: &[u8], orig_len: u32) -> io::Result<u32> {
    let caplen = u32::try_from(data.len())
        .ok()
        .filter(|&len| len <= MAX_CAPLEN)
        .ok_or_else(|| invalid("packet is longer than 262144 bytes"))?;
    if orig_len < caplen {
        return Err(invalid("original length is less than the captured length"));
    }
    Ok(caplen)
}

/// Two 16-bit fields in one 32-bit word, first field first in the file.
fn pair(order: ByteOrder, first: u16, second: u16) -> [u8; 4] {
    let [a, b] = order.put_u16(first);
    let [c, d] = order.put_u16(second);
    [a, b, c, d]
}

/// Writes a classic pcap file: one header (snapshot length [`MAX_CAPLEN`]), then one record per packet.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    order: ByteOrder,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes a little-endian file header for `linktype` (a pcap `LINKTYPE_` value) with microsecond
    /// (`nanos == false`) or nanosecond timestamps.
    ///
    /// # Errors
    ///
    /// Any error of `w`.
    pub fn new(w: W, linktype: u32, nanos: bool) -> io::Result<Self> {
        Self::with_byte_order(w, linktype, nanos, ByteOrder::LittleEndian)
    }

    /// As [`new`](Self::new), in the given byte order.
    ///
    /// # Errors
    ///
    /// Any error of `w`.
    pub fn with_byte_order(mut w: W, linktype: u32, nanos: bool, order: ByteOrder) -> io::Result<Self> {
        let magic = if nanos { PCAP_MAGIC_NANOS } else { PCAP_MAGIC_MICROS };
        let header = [
            order.put_u32(magic),
            pair(order, PCAP_VERSION_MAJOR, 4),
            [0; 4], // thiszone: UTC
            [0; 4], // sigfigs
            order.put_u32(MAX_CAPLEN),
            order.put_u32(linktype),
        ];
        w.write_all(header.as_flattened())?;
        Ok(Self { w, order, nanos })
    }

    /// Writes one record. With microsecond timestamps the sub-microsecond part of `ts_nanos` is dropped.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `data` is longer than [`MAX_CAPLEN`], `orig_len < data.len()`, or
    /// `ts_nanos` is past the year 2106 (pcap seconds are 32 bits); otherwise any error of the inner writer.
    pub fn write_packet(&mut self, ts_nanos: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        let caplen = check_packet(data, orig_len)?;
        let secs = u32::try_from(ts_nanos / NANOS_PER_SEC)
            .map_err(|_| invalid("timestamp does not fit pcap's 32-bit seconds"))?;
        let sub = ts_nanos % NANOS_PER_SEC;
        // Below 10^9, so it fits.
        let frac = (if self.nanos { sub } else { sub / 1000 }) as u32;
        let order = self.order;
        let header = [order.put_u32(secs), order.put_u32(frac), order.put_u32(caplen), order.put_u32(orig_len)];
        self.w.write_all(header.as_flattened())?;
        self.w.write_all(data)
    }

    /// Flushes the inner writer.
    ///
    /// # Errors
    ///
    /// Any error of the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The inner writer, mutably (writing to it directly corrupts the capture).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    /// Gives back the inner writer, unflushed.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// Writes a pcapng file: one Section Header Block, one Interface Description Block per link type (each with
/// nanosecond `if_tsresol`, written when the link type is first asked for), and one Enhanced Packet Block per
/// packet.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    order: ByteOrder,
    /// Link type of each interface written, by interface id.
    linktypes: Vec<u32>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Writes a little-endian section header and interface 0 for `linktype`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `linktype` does not fit pcapng's 16 bits; otherwise any error of `w`.
    pub fn new(w: W, linktype: u32) -> io::Result<Self> {
        Self::with_byte_order(w, linktype, ByteOrder::LittleEndian)
    }

    /// As [`new`](Self::new), in the given byte order.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_byte_order(mut w: W, linktype: u32, order: ByteOrder) -> io::Result<Self> {
        let linktype16 = u16::try_from(linktype).map_err(|_| invalid("pcapng link types are 16 bits"))?;
        let [section_len_a, section_len_b] = {
            let [a, b, c, d, e, f, g, h] = order.put_u64(u64::MAX); // unknown section length
            [[a, b, c, d], [e, f, g, h]]
        };
        let shb = [
            order.put_u32(SHB_TYPE),
            order.put_u32(28),
            order.put_u32(BYTE_ORDER_MAGIC),
            pair(order, PCAPNG_VERSION_MAJOR, 0),
            section_len_a,
            section_len_b,
            order.put_u32(28),
        ];
        w.write_all(shb.as_flattened())?;
        let mut this = Self { w, order, linktypes: Vec::new() };
        this.write_interface(linktype16)?;
        Ok(this)
    }

    /// The interface id for `linktype`, writing an Interface Description Block for it the first time.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `linktype` does not fit pcapng's 16 bits; otherwise any error of the
    /// inner writer.
    pub fn interface_for(&mut self, linktype: u32) -> io::Result<u32> {
        if let Some(id) = self.linktypes.iter().position(|&lt| lt == linktype) {
            return u32::try_from(id).map_err(|_| invalid("too many interfaces"));
        }
        let linktype16 = u16::try_from(linktype).map_err(|_| invalid("pcapng link types are 16 bits"))?;
        self.write_interface(linktype16)
    }

    fn write_interface(&mut self, linktype: u16) -> io::Result<u32> {
        let id = u32::try_from(self.linktypes.len()).map_err(|_| invalid("too many interfaces"))?;
        let order = self.order;
        let idb = [
            order.put_u32(IDB_TYPE),
            order.put_u32(32),
            pair(order, linktype, 0),
            order.put_u32(MAX_CAPLEN),
            pair(order, OPT_IF_TSRESOL, 1),
            [9, 0, 0, 0], // 10^-9 s, padded
            pair(order, OPT_ENDOFOPT, 0),
            order.put_u32(32),
        ];
        self.w.write_all(idb.as_flattened())?;
        self.linktypes.push(u32::from(linktype));
        Ok(id)
    }

    /// Writes one packet on interface 0 (the link type given to [`new`](Self::new)).
    ///
    /// # Errors
    ///
    /// As [`write_packet_on`](Self::write_packet_on).
    pub fn write_packet(&mut self, ts_nanos: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        self.write_packet_on(0, ts_nanos, data, orig_len)
    }

    /// Writes one packet on `interface` (from [`interface_for`](Self::interface_for)).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `interface` was never written, `data` is longer than [`MAX_CAPLEN`] or
    /// `orig_len < data.len()`; otherwise any error of the inner writer.
    pub fn write_packet_on(&mut self, interface: u32, ts_nanos: u64, data: &[u8], orig_len: u32) -> io::Result<()> {
        if interface as usize >= self.linktypes.len() {
            return Err(invalid("no such interface"));
        }
        let caplen = check_packet(data, orig_len)?;
        let padded = pad4(u64::from(caplen));
        // caplen ≤ MAX_CAPLEN, so this fits comfortably.
        let len = (32 + padded) as u32;
        let order = self.order;
        let header = [
            order.put_u32(EPB_TYPE),
            order.put_u32(len),
            order.put_u32(interface),
            order.put_u32((ts_nanos >> 32) as u32),
            order.put_u32(ts_nanos as u32),
            order.put_u32(caplen),
            order.put_u32(orig_len),
        ];
        self.w.write_all(header.as_flattened())?;
        self.w.write_all(data)?;
        let padding = [0u8; 3];
        self.w.write_all(padding.get(..(padded - u64::from(caplen)) as usize).unwrap_or_default())?;
        self.w.write_all(&order.put_u32(len))
    }

    /// Flushes the inner writer.
    ///
    /// # Errors
    ///
    /// Any error of the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The inner writer, mutably (writing to it directly corrupts the capture).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    /// Gives back the inner writer, unflushed.
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::fixtures;
    use crate::{CaptureReader, Format};
    use ByteOrder::{BigEndian as BE, LittleEndian as LE};
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Packet {
        ts_nanos: u64,
        linktype: u32,
        data: Vec<u8>,
        orig_len: u32,
    }

    fn read_back(bytes: &[u8]) -> (Format, ByteOrder, Vec<Packet>) {
        let mut r = CaptureReader::new(bytes, "mem").unwrap();
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            out.push(Packet {
                ts_nanos: rec.ts_nanos,
                linktype: rec.linktype,
                data: rec.data.to_vec(),
                orig_len: rec.orig_len,
            });
        }
        assert_eq!(r.offset(), bytes.len() as u64);
        (r.format(), r.byte_order(), out)
    }

    fn sample() -> Vec<(u64, Vec<u8>, u32)> {
        vec![
            (1_700_000_000_123_456_789, vec![0xAA; 60], 60),
            (1_700_000_001_000_000_001, vec![], 0),
            (0, vec![1, 2, 3], 1500),
            (u64::from(u32::MAX) * NANOS_PER_SEC + 999_999_999, vec![0x55; MAX_CAPLEN as usize], MAX_CAPLEN),
        ]
    }

    #[test]
    fn pcap_round_trip_both_orders_and_resolutions() {
        for order in [LE, BE] {
            for nanos in [false, true] {
                let mut w = PcapWriter::with_byte_order(Vec::new(), 1, nanos, order).unwrap();
                for (ts, data, orig) in sample() {
                    w.write_packet(ts, &data, orig).unwrap();
                }
                let (format, got_order, got) = read_back(&w.into_inner());
                assert_eq!((format, got_order), (Format::Pcap, order));
                let want: Vec<_> = sample()
                    .into_iter()
                    .map(|(ts, data, orig_len)| Packet {
                        ts_nanos: if nanos { ts } else { ts / 1000 * 1000 },
                        linktype: 1,
                        data,
                        orig_len,
                    })
                    .collect();
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn pcap_header_bytes_are_the_classic_ones() {
        let w = PcapWriter::new(Vec::new(), 1, false).unwrap();
        assert_eq!(
            w.into_inner(),
            [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]
        );
        let w = PcapWriter::with_byte_order(Vec::new(), 101, true, BE).unwrap();
        assert_eq!(&w.into_inner()[..4], [0xa1, 0xb2, 0x3c, 0x4d]);
    }

    #[test]
    fn pcapng_round_trip_both_orders_and_two_link_types() {
        for order in [LE, BE] {
            let mut w = PcapNgWriter::with_byte_order(Vec::new(), 1, order).unwrap();
            assert_eq!(w.interface_for(1).unwrap(), 0);
            let raw = w.interface_for(101).unwrap();
            assert_eq!(raw, 1);
            assert_eq!(w.interface_for(101).unwrap(), 1, "one interface per link type");
            let mut want = Vec::new();
            for (i, (ts, data, orig_len)) in sample().into_iter().enumerate() {
                let (iface, linktype) = if i % 2 == 0 { (0, 1) } else { (raw, 101) };
                w.write_packet_on(iface, ts, &data, orig_len).unwrap();
                want.push(Packet { ts_nanos: ts, linktype, data, orig_len });
            }
            w.write_packet(u64::MAX, b"last", 4).unwrap();
            want.push(Packet { ts_nanos: u64::MAX, linktype: 1, data: b"last".to_vec(), orig_len: 4 });
            let (format, got_order, got) = read_back(&w.into_inner());
            assert_eq!((format, got_order), (Format::PcapNg, order));
            assert_eq!(got, want);
        }
    }

    #[test]
    fn pcapng_writer_matches_hand_made_blocks() {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), 1, BE).unwrap();
        w.write_packet(0x0102_0304_0506_0708, b"hello", 5).unwrap();
        let mut want = fixtures::shb(BE, None);
        want.extend(fixtures::idb(
            BE,
            1,
            MAX_CAPLEN,
            &[fixtures::option(BE, OPT_IF_TSRESOL, &[9]), fixtures::option(BE, 0, &[])].concat(),
        ));
        want.extend(fixtures::epb(BE, 0, 0x0102_0304_0506_0708, b"hello", 5));
        assert_eq!(w.into_inner(), want);
    }

    #[test]
    fn writers_refuse_what_the_reader_would() {
        let mut w = PcapWriter::new(Vec::new(), 1, true).unwrap();
        let kind = |r: io::Result<()>| r.unwrap_err().kind();
        assert_eq!(kind(w.write_packet(0, &vec![0; MAX_CAPLEN as usize + 1], u32::MAX)), io::ErrorKind::InvalidInput);
        assert_eq!(kind(w.write_packet(0, b"abc", 2)), io::ErrorKind::InvalidInput);
        assert_eq!(
            kind(w.write_packet((u64::from(u32::MAX) + 1) * NANOS_PER_SEC, b"", 0)),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(w.get_ref().len(), 24, "nothing written for refused packets");

        assert_eq!(PcapNgWriter::new(Vec::new(), 0x1_0000).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        let mut w = PcapNgWriter::new(Vec::new(), 1).unwrap();
        assert_eq!(w.interface_for(70_000).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(kind(w.write_packet_on(1, 0, b"", 0)), io::ErrorKind::InvalidInput);
        assert_eq!(kind(w.write_packet(0, b"abc", 2)), io::ErrorKind::InvalidInput);
        assert_eq!(w.get_ref().len(), 28 + 32);
    }

    fn packets() -> impl Strategy<Value = Vec<(u64, Vec<u8>, u32)>> {
        proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300), any::<u32>()).prop_map(
                |(ts, data, extra)| {
                    let orig = (data.len() as u32).saturating_add(extra % 2000);
                    (ts, data, orig)
                },
            ),
            0..20,
        )
    }

    proptest! {
        #[test]
        fn any_packets_round_trip(pkts in packets(), big in any::<bool>(), nanos in any::<bool>()) {
            let order = if big { BE } else { LE };

            let mut ng = PcapNgWriter::with_byte_order(Vec::new(), 113, order).unwrap();
            let mut pcap = PcapWriter::with_byte_order(Vec::new(), 113, nanos, order).unwrap();
            for (ts, data, orig) in &pkts {
                ng.write_packet(*ts, data, *orig).unwrap();
                // pcap holds 32-bit seconds only.
                pcap.write_packet(ts % (u64::from(u32::MAX) * NANOS_PER_SEC), data, *orig).unwrap();
            }
            let (_, _, got) = read_back(&ng.into_inner());
            prop_assert_eq!(got.len(), pkts.len());
            for (g, (ts, data, orig)) in got.iter().zip(&pkts) {
                prop_assert_eq!((g.ts_nanos, g.linktype, &g.data, g.orig_len), (*ts, 113, data, *orig));
            }
            let (_, _, got) = read_back(&pcap.into_inner());
            for (g, (ts, data, orig)) in got.iter().zip(&pkts) {
                let ts = ts % (u64::from(u32::MAX) * NANOS_PER_SEC);
                let ts = if nanos { ts } else { ts / 1000 * 1000 };
                prop_assert_eq!((g.ts_nanos, &g.data, g.orig_len), (ts, data, *orig));
            }
        }
    }
}
