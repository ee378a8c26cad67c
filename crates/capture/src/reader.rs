//! The streaming reader for pcap and pcapng.
//!
//! One loop reads one record (pcap) or one block (pcapng) at a time from the underlying [`Read`]: fixed headers
//! into stack arrays, packet data and buffered block options into one reused `Vec`. Each length field is checked
//! against [`MAX_CAPLEN`], the block length and the snapshot length *before* anything is read or allocated for it.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use crate::{ByteOrder, CaptureError, Format, MAX_CAPLEN, MAX_META_BLOCK_LEN, SNAPLEN_SLACK, pad4};

/// pcap magic, microsecond timestamps.
pub(crate) const PCAP_MAGIC_MICROS: u32 = 0xA1B2_C3D4;
/// pcap magic, nanosecond timestamps.
pub(crate) const PCAP_MAGIC_NANOS: u32 = 0xA1B2_3C4D;
/// Alexey Kuznetzov's "modified pcap": microsecond timestamps, 24-byte record headers.
pub(crate) const PCAP_MAGIC_MODIFIED: u32 = 0xA1B2_CD34;
/// pcap file header length.
pub(crate) const PCAP_HEADER_LEN: u64 = 24;
/// The only pcap major version there is.
pub(crate) const PCAP_VERSION_MAJOR: u16 = 2;
/// libpcap's `LT_LINKTYPE`: the link type proper, without the FCS-length bits above it.
const PCAP_LINKTYPE_MASK: u32 = 0x03FF_FFFF;

/// pcapng Section Header Block type: a palindrome, the same in both byte orders.
pub(crate) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const SHB_TYPE_BYTES: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
/// pcapng byte-order magic, as a big-endian writer stores it.
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// The only pcapng major version there is.
pub(crate) const PCAPNG_VERSION_MAJOR: u16 = 1;
/// Interface Description Block.
pub(crate) const IDB_TYPE: u32 = 1;
/// Packet Block (obsolete, still written by old tools).
pub(crate) const PB_TYPE: u32 = 2;
/// Simple Packet Block.
pub(crate) const SPB_TYPE: u32 = 3;
/// Enhanced Packet Block.
pub(crate) const EPB_TYPE: u32 = 6;
/// Option codes.
pub(crate) const OPT_ENDOFOPT: u16 = 0;
pub(crate) const OPT_IF_TSRESOL: u16 = 9;
pub(crate) const OPT_IF_TSOFFSET: u16 = 14;

/// Smallest total lengths: type, length, fixed body fields, trailing length.
const SHB_MIN_LEN: u32 = 28;
const IDB_MIN_LEN: u32 = 20;
const EPB_MIN_LEN: u32 = 32;
const PB_MIN_LEN: u32 = 32;
const SPB_MIN_LEN: u32 = 16;
const BLOCK_MIN_LEN: u32 = 12;

/// Default `if_tsresol`: microseconds.
const DEFAULT_TSRESOL: u8 = 6;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// One packet as the capture stores it.
///
/// Borrowed from the reader's buffer: it lives until the next call to [`CaptureReader::next_record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time in nanoseconds since the Unix epoch (0 for pcapng Simple Packet Blocks, which carry none).
    pub ts_nanos: u64,
    /// The pcap `LINKTYPE_` value of the packet's interface (for pcap, of the file), FCS-length bits removed.
    pub linktype: u32,
    /// The pcapng interface id within its section; always 0 for pcap.
    pub interface: u32,
    /// The captured bytes, `data.len()` ≤ [`MAX_CAPLEN`].
    pub data: &'a [u8],
    /// The packet's length on the wire (may exceed `data.len()` when the capture was snapped short).
    pub orig_len: u32,
    /// File offset of the record header (pcap) or block (pcapng).
    pub offset: u64,
}

/// The parts of a record known before the data is borrowed back out of the buffer.
#[derive(Debug, Clone, Copy)]
struct Meta {
    ts_nanos: u64,
    linktype: u32,
    interface: u32,
    caplen: usize,
    orig_len: u32,
    offset: u64,
}

/// What a classic pcap file header said.
#[derive(Debug, Clone, Copy)]
struct PcapHeader {
    linktype: u32,
    snaplen: u32,
    nanos: bool,
    /// "Modified pcap": 8 more bytes per record header.
    modified: bool,
    /// Whether records store the original length before the captured one.
    lengths: Lengths,
}

/// Writers before libpcap 0.4 (file format 2.2 and older) stored a record's original length where
/// the captured length belongs and the other way round; some 2.3 files do. libpcap and Wireshark
/// read such files by swapping the two back, and so does this reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lengths {
    /// Format 2.4 and later: as written.
    InOrder,
    /// Format 2.2 and older: always swapped.
    Swapped,
    /// Format 2.3: swapped when the captured length exceeds the original one.
    MaybeSwapped,
}

impl Lengths {
    fn of_version(minor: u16) -> Lengths {
        match minor {
            0..=2 => Lengths::Swapped,
            3 => Lengths::MaybeSwapped,
            _ => Lengths::InOrder,
        }
    }

    /// (captured, original) as the record means them.
    fn fix(self, caplen: u32, orig_len: u32) -> (u32, u32) {
        match self {
            Lengths::Swapped => (orig_len, caplen),
            Lengths::MaybeSwapped if caplen > orig_len => (orig_len, caplen),
            _ => (caplen, orig_len),
        }
    }
}

/// What an Interface Description Block said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// `if_tsresol`: bit 7 clear, units of 10^-n s; set, units of 2^-n s.
    tsresol: u8,
    /// `if_tsoffset`: seconds to add to every timestamp.
    tsoffset_secs: i64,
}

impl Interface {
    /// Converts a timestamp in this interface's units to nanoseconds since the epoch, saturating at 0 and
    /// `u64::MAX` (a corrupt resolution or offset yields a wrong time, never a panic).
    fn ts_nanos(&self, units: u64) -> u64 {
        const NANOS: i128 = NANOS_PER_SEC as i128;
        let units = i128::from(units);
        let exp = u32::from(self.tsresol & 0x7F);
        let nanos = if self.tsresol & 0x80 != 0 {
            // units < 2^64, so units * 10^9 < 2^94: no overflow; shifting a positive value is exact flooring.
            if exp >= 127 { 0 } else { (units * NANOS) >> exp }
        } else if exp <= 9 {
            units * 10i128.pow(9 - exp)
        } else {
            10i128.checked_pow(exp - 9).map_or(0, |div| units / div)
        };
        let total = nanos.saturating_add(i128::from(self.tsoffset_secs) * NANOS);
        u64::try_from(total.max(0)).unwrap_or(u64::MAX)
    }
}

/// The underlying reader and the count of bytes taken from it.
struct Input<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Input<R> {
    /// Reads until `dst` is full or the input ends; returns how many bytes were read.
    fn read_full(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while let Some(rest) = dst.get_mut(got..).filter(|rest| !rest.is_empty()) {
            match self.inner.read(rest) {
                Ok(0) => break,
                Ok(n) => {
                    // A misbehaving reader may claim more than it was given room for; never count past it.
                    let n = n.min(rest.len());
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }

    /// Reads and discards up to `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.offset += copied;
        Ok(copied)
    }
}

/// A streaming reader of pcap and pcapng captures.
///
/// See the [crate docs](crate) for the formats and the contract. Errors are final: after
/// [`next_record`](Self::next_record) has returned an error, every later call returns `Ok(None)`.
pub struct CaptureReader<R> {
    input: Input<R>,
    name: String,
    format: Format,
    /// Byte order of the pcap file or the current pcapng section.
    order: ByteOrder,
    /// Set for [`Format::Pcap`].
    pcap: PcapHeader,
    /// Interfaces of the current pcapng section, by id.
    interfaces: Vec<Interface>,
    /// Packet data (and pcapng block options while they are parsed); grows to the largest, never shrinks.
    buf: Vec<u8>,
    failed: bool,
    /// The input ended inside a record header, after whole records.
    partial_header: Option<CaptureError>,
}

impl<R> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("order", &self.order)
            .field("offset", &self.input.offset)
            .field("interfaces", &self.interfaces.len())
            .finish_non_exhaustive()
    }
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file and reads its file header (pcap) or first Section Header Block (pcapng).
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] if the file cannot be opened or read; otherwise as [`CaptureReader::new`]. Errors name
    /// the path as given.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Io { name: name.clone(), offset: 0, source })?;
        Self::new(BufReader::with_capacity(64 * 1024, file), &name)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first Section Header Block (pcapng) from `reader`. `name` appears in
    /// every error. The reader does its own buffering of records, but not of reads: wrap unbuffered sources
    /// such as files in a [`BufReader`].
    ///
    /// # Errors
    ///
    /// - [`CaptureError::BadMagic`] if the first four bytes are neither a pcap magic (either byte order) nor a
    ///   pcapng Section Header Block with a valid byte-order magic;
    /// - [`CaptureError::UnsupportedVersion`] for a pcap major version other than 2 or a pcapng one other than 1;
    /// - [`CaptureError::Truncated`] if the input ends inside the header;
    /// - [`CaptureError::BadRecord`] for a malformed Section Header Block;
    /// - [`CaptureError::Io`] if `reader` fails.
    pub fn new(reader: R, name: &str) -> Result<Self, CaptureError> {
        let mut this = Self {
            input: Input { inner: reader, offset: 0 },
            name: name.to_owned(),
            format: Format::Pcap,
            order: ByteOrder::LittleEndian,
            pcap: PcapHeader { linktype: 0, snaplen: 0, nanos: false, modified: false, lengths: Lengths::InOrder },
            interfaces: Vec::new(),
            buf: Vec::new(),
            failed: false,
            partial_header: None,
        };
        let [magic] = this.read_words::<1>(0, "file header", 4)?;
        if magic == SHB_TYPE_BYTES {
            this.format = Format::PcapNg;
            let [len] = this.read_words::<1>(0, "section header block", u64::from(SHB_MIN_LEN))?;
            this.section_header(0, len)?;
        } else {
            this.pcap_header(magic)?;
        }
        Ok(this)
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Byte order of the pcap file, or of the pcapng section read last.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The name errors use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes consumed from the input so far.
    pub fn offset(&self) -> u64 {
        self.input.offset
    }

    /// The next packet, or `Ok(None)` at the end of input: where a record or block would start, or inside the
    /// header of one (a file whose writer stopped mid-header: every whole record has been read, and
    /// [`partial_header`](Self::partial_header) says where it ended). pcapng blocks that carry no packet are read
    /// (section and interface headers) or skipped (anything else) on the way.
    ///
    /// # Errors
    ///
    /// - [`CaptureError::Truncated`] if the input ends inside a record's data or a block past its header;
    /// - [`CaptureError::CaptureLength`] if a captured length exceeds [`MAX_CAPLEN`] or the snapshot length by
    ///   more than [`SNAPLEN_SLACK`];
    /// - [`CaptureError::BadRecord`] if a captured length exceeds its block; if a block length is not a
    ///   multiple of 4, is shorter than the block's fixed fields, or differs from the trailing copy; if an
    ///   Interface Description Block exceeds [`MAX_META_BLOCK_LEN`] or has an option that overruns it;
    /// - [`CaptureError::UnknownInterface`] if a packet block names an interface its section did not describe;
    /// - [`CaptureError::BadMagic`] / [`CaptureError::UnsupportedVersion`] for a bad later Section Header Block;
    /// - [`CaptureError::Io`] if the underlying reader fails.
    ///
    /// An error is final: later calls return `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        if self.failed || self.partial_header.is_some() {
            return Ok(None);
        }
        let next = match self.format {
            Format::Pcap => self.next_pcap(),
            Format::PcapNg => self.next_pcapng(),
        };
        match next {
            Ok(Some(meta)) => Ok(Some(Record {
                ts_nanos: meta.ts_nanos,
                linktype: meta.linktype,
                interface: meta.interface,
                // `fill_buf` made `buf` at least `caplen` long; the fallback is unreachable.
                data: self.buf.get(..meta.caplen).unwrap_or_default(),
                orig_len: meta.orig_len,
                offset: meta.offset,
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }

    /// Where the input ended inside a record header (pcap) or a block header or packet block's fixed fields
    /// (pcapng), after whole records: a [`CaptureError::Truncated`] to report as a warning, since no packet
    /// bytes were lost. `None` while reading, and after a clean end.
    pub fn partial_header(&self) -> Option<&CaptureError> {
        self.partial_header.as_ref()
    }

    /// A read of a header failed: the input ending there is the end of the capture, anything else an error.
    fn ended_in_header<T>(&mut self, e: CaptureError) -> Result<Option<T>, CaptureError> {
        match e {
            CaptureError::Truncated { .. } => {
                self.partial_header = Some(e);
                Ok(None)
            }
            e => Err(e),
        }
    }

    // ---- classic pcap ----

    fn pcap_header(&mut self, magic: [u8; 4]) -> Result<(), CaptureError> {
        let (order, kind) = [ByteOrder::LittleEndian, ByteOrder::BigEndian]
            .into_iter()
            .find_map(|order| {
                let kind = order.u32(magic);
                [PCAP_MAGIC_MICROS, PCAP_MAGIC_NANOS, PCAP_MAGIC_MODIFIED].contains(&kind).then_some((order, kind))
            })
            .ok_or_else(|| CaptureError::BadMagic {
                name: self.name.clone(),
                offset: 0,
                magic: u32::from_be_bytes(magic),
            })?;
        self.order = order;
        let [version, _thiszone, _sigfigs, snaplen, network] =
            self.read_words::<5>(0, "file header", PCAP_HEADER_LEN)?.map(|w| order.u32(w));
        let (major, minor) = order.split16(version);
        if major != PCAP_VERSION_MAJOR {
            return Err(CaptureError::UnsupportedVersion { name: self.name.clone(), offset: 0, major, minor });
        }
        self.pcap = PcapHeader {
            linktype: network & PCAP_LINKTYPE_MASK,
            snaplen,
            nanos: kind == PCAP_MAGIC_NANOS,
            modified: kind == PCAP_MAGIC_MODIFIED,
            lengths: Lengths::of_version(minor),
        };
        Ok(())
    }

    fn next_pcap(&mut self) -> Result<Option<Meta>, CaptureError> {
        let start = self.input.offset;
        let order = self.order;
        let header = self.pcap;
        let header_len: u64 = if header.modified { 24 } else { 16 };
        let words = match self.read_words_or_eof::<4>(start, "record header", header_len) {
            Ok(Some(words)) => words,
            Ok(None) => return Ok(None),
            Err(e) => return self.ended_in_header(e),
        };
        if header.modified {
            // ifindex, protocol, pkt_type, padding: nothing the caller needs.
            if let Err(e) = self.read_words::<2>(start, "record header", header_len) {
                return self.ended_in_header(e);
            }
        }
        let [secs, frac, caplen, orig_len] = words.map(|w| order.u32(w));
        let (caplen, orig_len) = header.lengths.fix(caplen, orig_len);
        self.check_caplen(start, caplen, header.snaplen)?;
        let caplen = caplen as usize;
        self.fill_buf(caplen, start, "record", header_len + caplen as u64)?;
        let frac_nanos = if header.nanos { u64::from(frac) } else { u64::from(frac) * 1000 };
        Ok(Some(Meta {
            ts_nanos: u64::from(secs).saturating_mul(NANOS_PER_SEC).saturating_add(frac_nanos),
            linktype: header.linktype,
            interface: 0,
            caplen,
            orig_len,
            offset: start,
        }))
    }

    // ---- pcapng ----

    fn next_pcapng(&mut self) -> Result<Option<Meta>, CaptureError> {
        loop {
            let start = self.input.offset;
            let [ty, len] = match self.read_words_or_eof::<2>(start, "block header", 8) {
                Ok(Some(words)) => words,
                Ok(None) => return Ok(None),
                Err(e) => return self.ended_in_header(e),
            };
            if ty == SHB_TYPE_BYTES {
                self.section_header(start, len)?;
                continue;
            }
            let (ty, len) = (self.order.u32(ty), self.order.u32(len));
            match ty {
                IDB_TYPE => self.interface_description(start, len)?,
                EPB_TYPE => return self.enhanced_packet(start, len, false),
                PB_TYPE => return self.enhanced_packet(start, len, true),
                SPB_TYPE => return self.simple_packet(start, len),
                _ => {
                    self.check_block_len(start, len, BLOCK_MIN_LEN)?;
                    self.finish_block(start, len, 8)?;
                }
            }
        }
    }

    /// Reads a Section Header Block whose type and length fields (at `start`) have been read: sets the byte
    /// order and forgets the previous section's interfaces.
    fn section_header(&mut self, start: u64, len: [u8; 4]) -> Result<(), CaptureError> {
        let [bom] = self.read_words::<1>(start, "section header block", u64::from(SHB_MIN_LEN))?;
        let order = match bom {
            b if b == BYTE_ORDER_MAGIC.to_be_bytes() => ByteOrder::BigEndian,
            b if b == BYTE_ORDER_MAGIC.to_le_bytes() => ByteOrder::LittleEndian,
            b => {
                return Err(CaptureError::BadMagic {
                    name: self.name.clone(),
                    offset: start + 8,
                    magic: u32::from_be_bytes(b),
                });
            }
        };
        self.order = order;
        let len = order.u32(len);
        self.check_block_len(start, len, SHB_MIN_LEN)?;
        // Version, then the 64-bit section length, which we ignore: we read sections sequentially.
        let [version, _, _] = self.read_words::<3>(start, "section header block", u64::from(len))?;
        let (major, minor) = order.split16(order.u32(version));
        if major != PCAPNG_VERSION_MAJOR {
            return Err(CaptureError::UnsupportedVersion { name: self.name.clone(), offset: start, major, minor });
        }
        self.finish_block(start, len, 24)?;
        self.interfaces.clear();
        Ok(())
    }

    fn interface_description(&mut self, start: u64, len: u32) -> Result<(), CaptureError> {
        self.check_block_len(start, len, IDB_MIN_LEN)?;
        if len > MAX_META_BLOCK_LEN {
            return Err(self.bad_record(start, "interface description block is longer than 1 MiB"));
        }
        let order = self.order;
        let [linktype, snaplen] = self.read_words::<2>(start, "block", u64::from(len))?.map(|w| order.u32(w));
        let (linktype, _reserved) = order.split16(linktype);
        let options_len = (len - IDB_MIN_LEN) as usize;
        self.fill_buf(options_len, start, "block", u64::from(len))?;
        let options = self.buf.get(..options_len).unwrap_or_default();
        let (tsresol, tsoffset_secs) = parse_interface_options(order, options, start + 16)
            .map_err(|(offset, reason)| self.bad_record(offset, reason))?;
        self.finish_block(start, len, 16 + options_len as u64)?;
        self.interfaces.push(Interface { linktype: u32::from(linktype), snaplen, tsresol, tsoffset_secs });
        Ok(())
    }

    /// Enhanced Packet Block, or with `obsolete` the old Packet Block (16-bit interface id and a drop count in
    /// the first word; otherwise the same layout).
    fn enhanced_packet(&mut self, start: u64, len: u32, obsolete: bool) -> Result<Option<Meta>, CaptureError> {
        self.check_block_len(start, len, if obsolete { PB_MIN_LEN } else { EPB_MIN_LEN })?;
        let order = self.order;
        let words = match self.read_words::<5>(start, "packet block header", 28) {
            Ok(words) => words,
            Err(e) => return self.ended_in_header(e),
        };
        let [id, ts_high, ts_low, caplen, orig_len] = words.map(|w| order.u32(w));
        let id = if obsolete { u32::from(order.split16(id).0) } else { id };
        let iface = self.interface(start, id)?;
        self.check_caplen(start, caplen, iface.snaplen)?;
        if 28 + pad4(u64::from(caplen)) + 4 > u64::from(len) {
            return Err(self.bad_record(start, "captured length exceeds the block length"));
        }
        let caplen = caplen as usize;
        self.fill_buf(caplen, start, "block", u64::from(len))?;
        self.finish_block(start, len, 28 + caplen as u64)?;
        Ok(Some(Meta {
            ts_nanos: iface.ts_nanos((u64::from(ts_high) << 32) | u64::from(ts_low)),
            linktype: iface.linktype,
            interface: id,
            caplen,
            orig_len,
            offset: start,
        }))
    }

    /// Simple Packet Block: interface 0, no timestamp; the captured length is the original length cut to the
    /// block and to the interface's snapshot length.
    fn simple_packet(&mut self, start: u64, len: u32) -> Result<Option<Meta>, CaptureError> {
        self.check_block_len(start, len, SPB_MIN_LEN)?;
        let order = self.order;
        let [orig_len] = match self.read_words::<1>(start, "packet block header", 12) {
            Ok(words) => words.map(|w| order.u32(w)),
            Err(e) => return self.ended_in_header(e),
        };
        let iface = self.interface(start, 0)?;
        let mut caplen = orig_len.min(len - SPB_MIN_LEN);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        self.check_caplen(start, caplen, iface.snaplen)?;
        let caplen = caplen as usize;
        self.fill_buf(caplen, start, "block", u64::from(len))?;
        self.finish_block(start, len, 12 + caplen as u64)?;
        Ok(Some(Meta { ts_nanos: 0, linktype: iface.linktype, interface: 0, caplen, orig_len, offset: start }))
    }

    fn interface(&self, start: u64, id: u32) -> Result<Interface, CaptureError> {
        self.interfaces.get(id as usize).copied().ok_or_else(|| CaptureError::UnknownInterface {
            name: self.name.clone(),
            offset: start,
            interface: id,
        })
    }

    /// Skips the rest of a block of which `consumed` bytes have been read and checks the trailing length.
    fn finish_block(&mut self, start: u64, len: u32, consumed: u64) -> Result<(), CaptureError> {
        let needed = u64::from(len);
        let Some(rest) = needed.checked_sub(consumed + 4) else {
            return Err(self.bad_record(start, "block length is smaller than the block's fixed fields"));
        };
        let skipped = self.input.skip(rest).map_err(|e| self.io_error(e))?;
        if skipped < rest {
            return Err(self.truncated(start, "block", needed));
        }
        let [trailer] = self.read_words::<1>(start, "block", needed)?;
        if self.order.u32(trailer) != len {
            return Err(self.bad_record(start, "trailing block length differs from the leading one"));
        }
        Ok(())
    }

    fn check_block_len(&self, start: u64, len: u32, min: u32) -> Result<(), CaptureError> {
        if !len.is_multiple_of(4) {
            Err(self.bad_record(start, "block length is not a multiple of 4"))
        } else if len < min {
            Err(self.bad_record(start, "block length is smaller than the block's fixed fields"))
        } else {
            Ok(())
        }
    }

    fn check_caplen(&self, start: u64, caplen: u32, snaplen: u32) -> Result<(), CaptureError> {
        let too_long = |limit: u32, limit_what| CaptureError::CaptureLength {
            name: self.name.clone(),
            offset: start,
            caplen,
            limit: u64::from(limit),
            limit_what,
        };
        if caplen > MAX_CAPLEN {
            Err(too_long(MAX_CAPLEN, "the most any capture holds"))
        } else if snaplen != 0 && caplen > snaplen.saturating_add(SNAPLEN_SLACK) {
            Err(too_long(snaplen.saturating_add(SNAPLEN_SLACK), "the snapshot length plus 65536"))
        } else {
            Ok(())
        }
    }

    // ---- reading ----

    /// Reads `K` 32-bit words (raw bytes, for the caller to order) of the item at `start`, which needs `needed`
    /// bytes in all.
    fn read_words<const K: usize>(
        &mut self,
        start: u64,
        what: &'static str,
        needed: u64,
    ) -> Result<[[u8; 4]; K], CaptureError> {
        let mut raw = [[0u8; 4]; K];
        let result = self.input.read_full(raw.as_flattened_mut());
        self.check_read(result, 4 * K, start, what, needed)?;
        Ok(raw)
    }

    /// As [`read_words`](Self::read_words), but `Ok(None)` if the input ends before the first byte.
    fn read_words_or_eof<const K: usize>(
        &mut self,
        start: u64,
        what: &'static str,
        needed: u64,
    ) -> Result<Option<[[u8; 4]; K]>, CaptureError> {
        let mut raw = [[0u8; 4]; K];
        match self.input.read_full(raw.as_flattened_mut()) {
            Ok(0) => Ok(None),
            result => self.check_read(result, 4 * K, start, what, needed).map(|()| Some(raw)),
        }
    }

    /// Reads `n` bytes into the front of `buf`, growing it if needed.
    fn fill_buf(&mut self, n: usize, start: u64, what: &'static str, needed: u64) -> Result<(), CaptureError> {
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        let result = match self.buf.get_mut(..n) {
            Some(dst) => self.input.read_full(dst),
            None => Ok(0),
        };
        self.check_read(result, n, start, what, needed)
    }

    fn check_read(
        &self,
        result: io::Result<usize>,
        want: usize,
        start: u64,
        what: &'static str,
        needed: u64,
    ) -> Result<(), CaptureError> {
        match result {
            Ok(got) if got == want => Ok(()),
            Ok(_) => Err(self.truncated(start, what, needed)),
            Err(e) => Err(self.io_error(e)),
        }
    }

    // ---- errors (allocating is fine here: errors end the read) ----

    fn truncated(&self, start: u64, what: &'static str, needed: u64) -> CaptureError {
        CaptureError::Truncated {
            name: self.name.clone(),
            offset: start,
            what,
            needed,
            available: self.input.offset.saturating_sub(start),
        }
    }

    fn bad_record(&self, offset: u64, reason: &'static str) -> CaptureError {
        CaptureError::BadRecord { name: self.name.clone(), offset, reason }
    }

    fn io_error(&self, source: io::Error) -> CaptureError {
        CaptureError::Io { name: self.name.clone(), offset: self.input.offset, source }
    }
}

/// Reads `if_tsresol` and `if_tsoffset` from an Interface Description Block's options, which start at file
/// offset `base`. Returns the offset and reason of the first malformed option.
fn parse_interface_options(order: ByteOrder, options: &[u8], base: u64) -> Result<(u8, i64), (u64, &'static str)> {
    let mut tsresol = DEFAULT_TSRESOL;
    let mut tsoffset = 0i64;
    let mut pos = 0usize;
    while let Some((header, rest)) = options.get(pos..).and_then(<[u8]>::split_first_chunk::<4>) {
        let at = base + pos as u64;
        let (code, len) = order.split16(order.u32(*header));
        if code == OPT_ENDOFOPT {
            break;
        }
        let len = usize::from(len);
        let Some(value) = rest.get(..len) else {
            return Err((at, "option runs past the end of its block"));
        };
        match code {
            OPT_IF_TSRESOL => match value {
                [v] => tsresol = *v,
                _ => return Err((at, "if_tsresol option is not 1 byte long")),
            },
            OPT_IF_TSOFFSET => match <[u8; 8]>::try_from(value) {
                Ok(v) => tsoffset = order.u64(v) as i64,
                Err(_) => return Err((at, "if_tsoffset option is not 8 bytes long")),
            },
            _ => {}
        }
        pos += 4 + pad4(len as u64) as usize;
    }
    Ok((tsresol, tsoffset))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-made capture bytes for the tests.
    use super::*;

    /// A pcap file header.
    pub(crate) fn pcap_header(order: ByteOrder, magic: u32, snaplen: u32, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(order.put_u32(magic));
        v.extend(order.put_u16(2));
        v.extend(order.put_u16(4));
        v.extend([0; 8]);
        v.extend(order.put_u32(snaplen));
        v.extend(order.put_u32(linktype));
        v
    }

    /// A pcap record (16-byte header).
    pub(crate) fn pcap_record(order: ByteOrder, secs: u32, frac: u32, data: &[u8], orig_len: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(order.put_u32(secs));
        v.extend(order.put_u32(frac));
        v.extend(order.put_u32(data.len() as u32));
        v.extend(order.put_u32(orig_len));
        v.extend(data);
        v
    }

    /// A pcapng block: the body is padded to 4 bytes and framed by the two lengths.
    pub(crate) fn block(order: ByteOrder, ty: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + pad4(body.len() as u64) as u32;
        let mut v = Vec::new();
        v.extend(order.put_u32(ty));
        v.extend(order.put_u32(len));
        v.extend(body);
        v.resize(len as usize - 4, 0);
        v.extend(order.put_u32(len));
        v
    }

    /// A Section Header Block with unknown section length and, optionally, a comment option.
    pub(crate) fn shb(order: ByteOrder, comment: Option<&[u8]>) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(order.put_u32(BYTE_ORDER_MAGIC));
        body.extend(order.put_u16(1));
        body.extend(order.put_u16(0));
        body.extend(order.put_u64(u64::MAX));
        if let Some(c) = comment {
            body.extend(option(order, 1, c));
            body.extend(option(order, 0, &[]));
        }
        block(order, SHB_TYPE, &body)
    }

    /// One option, padded.
    pub(crate) fn option(order: ByteOrder, code: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(order.put_u16(code));
        v.extend(order.put_u16(value.len() as u16));
        v.extend(value);
        v.resize(4 + pad4(value.len() as u64) as usize, 0);
        v
    }

    /// An Interface Description Block with the given (already encoded) options.
    pub(crate) fn idb(order: ByteOrder, linktype: u16, snaplen: u32, options: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(order.put_u16(linktype));
        body.extend(order.put_u16(0));
        body.extend(order.put_u32(snaplen));
        body.extend(options);
        block(order, IDB_TYPE, &body)
    }

    /// An Enhanced Packet Block.
    pub(crate) fn epb(order: ByteOrder, interface: u32, ts: u64, data: &[u8], orig_len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(order.put_u32(interface));
        body.extend(order.put_u32((ts >> 32) as u32));
        body.extend(order.put_u32(ts as u32));
        body.extend(order.put_u32(data.len() as u32));
        body.extend(order.put_u32(orig_len));
        body.extend(data);
        block(order, EPB_TYPE, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use ByteOrder::{BigEndian as BE, LittleEndian as LE};

    const ETHERNET: u32 = 1;
    const RAW: u32 = 101;

    fn reader(bytes: &[u8]) -> CaptureReader<&[u8]> {
        CaptureReader::new(bytes, "test.cap").unwrap()
    }

    /// A record as a tuple: (ts_nanos, linktype, interface, data, orig_len, offset).
    type Owned = (u64, u32, u32, Vec<u8>, u32, u64);

    fn read_all(bytes: &[u8]) -> Result<Vec<Owned>, CaptureError> {
        let mut r = CaptureReader::new(bytes, "test.cap")?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push((rec.ts_nanos, rec.linktype, rec.interface, rec.data.to_vec(), rec.orig_len, rec.offset));
        }
        Ok(out)
    }

    fn err(bytes: &[u8]) -> CaptureError {
        read_all(bytes).unwrap_err()
    }

    fn bad_record(e: &CaptureError) -> (u64, &'static str) {
        match e {
            CaptureError::BadRecord { offset, reason, .. } => (*offset, reason),
            other => panic!("expected BadRecord, got {other}"),
        }
    }

    fn capture_length(e: &CaptureError) -> (u64, u32, u64) {
        match e {
            CaptureError::CaptureLength { offset, caplen, limit, .. } => (*offset, *caplen, *limit),
            other => panic!("expected CaptureLength, got {other}"),
        }
    }

    fn truncated(e: &CaptureError) -> (u64, &'static str, u64, u64) {
        match e {
            CaptureError::Truncated { offset, what, needed, available, .. } => (*offset, what, *needed, *available),
            other => panic!("expected Truncated, got {other}"),
        }
    }

    // ---- pcap ----

    #[test]
    fn pcap_both_orders_and_resolutions() {
        for order in [LE, BE] {
            for (magic, frac, nanos) in [(PCAP_MAGIC_MICROS, 250_000, 250_000_000), (PCAP_MAGIC_NANOS, 7, 7)] {
                let mut f = pcap_header(order, magic, 65535, ETHERNET);
                f.extend(pcap_record(order, 1_700_000_000, frac, b"abc", 60));
                f.extend(pcap_record(order, 1, 0, b"", 0));
                let r = reader(&f);
                assert_eq!((r.format(), r.byte_order()), (Format::Pcap, order));
                let recs = read_all(&f).unwrap();
                assert_eq!(recs.len(), 2);
                assert_eq!(recs[0], (1_700_000_000 * NANOS_PER_SEC + nanos, ETHERNET, 0, b"abc".to_vec(), 60, 24));
                assert_eq!(recs[1], (NANOS_PER_SEC, ETHERNET, 0, vec![], 0, 24 + 16 + 3));
            }
        }
    }

    #[test]
    fn pcap_offset_counts_consumed_bytes() {
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, RAW);
        f.extend(pcap_record(LE, 1, 2, &[0x45; 20], 20));
        let mut r = reader(&f);
        assert_eq!(r.offset(), 24);
        assert!(r.next_record().unwrap().is_some());
        assert_eq!(r.offset(), f.len() as u64);
        assert!(r.next_record().unwrap().is_none());
        assert!(r.next_record().unwrap().is_none(), "end of input stays the end");
    }

    #[test]
    fn pcap_linktype_drops_fcs_bits() {
        let f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, (1 << 28) | (2 << 26) | ETHERNET);
        let mut with_record = f.clone();
        with_record.extend(pcap_record(LE, 0, 0, b"x", 1));
        assert_eq!(read_all(&with_record).unwrap()[0].1, ETHERNET);
    }

    #[test]
    fn pcap_modified_magic_has_longer_record_headers() {
        let mut f = pcap_header(LE, PCAP_MAGIC_MODIFIED, 65535, ETHERNET);
        let rec = pcap_record(LE, 3, 4, b"hello", 5);
        f.extend(&rec[..16]);
        f.extend([9u8; 8]); // ifindex, protocol, pkt_type, pad
        f.extend(&rec[16..]);
        f.extend(pcap_record(LE, 0, 0, b"", 0)[..16].iter().chain(&[0u8; 8]));
        let recs = read_all(&f).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0], (3 * NANOS_PER_SEC + 4000, ETHERNET, 0, b"hello".to_vec(), 5, 24));
        assert_eq!(recs[1].5, 24 + 24 + 5);
    }

    #[test]
    fn bad_magic_names_the_bytes() {
        let e = CaptureReader::new(&b"GET / HTTP/1.1\r\n\r\n"[..], "notes.txt").unwrap_err();
        assert!(matches!(e, CaptureError::BadMagic { offset: 0, magic: 0x4745_5420, .. }), "{e}");
        assert_eq!(e.to_string(), "notes.txt: bad magic 0x47455420 at byte offset 0 (not pcap or pcapng)");
    }

    #[test]
    fn empty_and_short_files_are_truncated_headers() {
        for len in [0, 3] {
            let f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, 1);
            assert_eq!(truncated(&err(&f[..len])), (0, "file header", 4, len as u64));
        }
        let f = pcap_header(BE, PCAP_MAGIC_NANOS, 0, 1);
        assert_eq!(truncated(&err(&f[..10])), (0, "file header", 24, 10));
    }

    #[test]
    fn pcap_unsupported_version() {
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, 1);
        f[4] = 1;
        assert!(matches!(err(&f), CaptureError::UnsupportedVersion { offset: 0, major: 1, minor: 4, .. }));
    }

    /// A writer that stopped inside a record header lost no packet bytes: the end of the capture, with a note.
    #[test]
    fn pcap_partial_record_header_ends_the_capture() {
        for modified in [false, true] {
            let magic = if modified { PCAP_MAGIC_MODIFIED } else { PCAP_MAGIC_MICROS };
            let header_len = if modified { 24 } else { 16 };
            let mut record = pcap_record(LE, 0, 0, b"abcd", 4);
            if modified {
                record.splice(16..16, [0; 8]);
            }
            for keep in 1..header_len {
                let mut f = pcap_header(LE, magic, 0, 1);
                f.extend(&record);
                f.extend(&record[..keep]);
                let mut r = reader(&f);
                assert!(r.next_record().unwrap().is_some());
                assert!(r.partial_header().is_none());
                assert!(r.next_record().unwrap().is_none(), "modified {modified}, {keep} bytes");
                let e = r.partial_header().expect("a note on the partial header");
                let at = 24 + record.len() as u64;
                assert_eq!(truncated(e), (at, "record header", header_len as u64, keep as u64));
                assert!(r.next_record().unwrap().is_none(), "the end is final");
            }
        }
        // A clean end leaves no note.
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, 1);
        f.extend(pcap_record(LE, 0, 0, b"abcd", 4));
        let mut r = reader(&f);
        while r.next_record().unwrap().is_some() {}
        assert!(r.partial_header().is_none());
    }

    /// Format 2.2 and older store the original length first (libpcap swaps them back); 2.3 files may.
    #[test]
    fn pcap_old_versions_swap_the_lengths() {
        for (minor, written, read) in [
            (0u16, (60u32, 1514u32), (1514u32, 60u32)),
            (2, (60, 60), (60, 60)),
            (3, (1514, 60), (60, 1514)),
            (3, (60, 1514), (60, 1514)),
            (4, (60, 1514), (60, 1514)),
        ] {
            let mut f = pcap_header(BE, PCAP_MAGIC_MICROS, 0, 1);
            f[6..8].copy_from_slice(&minor.to_be_bytes());
            let mut rec = pcap_record(BE, 0, 0, &vec![5; read.0 as usize], 0);
            rec[8..12].copy_from_slice(&written.0.to_be_bytes());
            rec[12..16].copy_from_slice(&written.1.to_be_bytes());
            f.extend(&rec);
            let mut r = reader(&f);
            let got = r.next_record().unwrap().map(|rec| (rec.data.len() as u32, rec.orig_len));
            assert_eq!(got, Some(read), "2.{minor} written {written:?}");
            assert!(r.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn pcap_truncated_record_body() {
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 65535, 1);
        f.extend(pcap_record(LE, 0, 0, &[0; 1514], 1514));
        f.truncate(24 + 16 + 200);
        let e = err(&f);
        assert_eq!(truncated(&e), (24, "record", 1530, 216));
        assert_eq!(e.to_string(), "test.cap: truncated record at byte offset 24 (needs 1530 bytes, 216 left)");
    }

    #[test]
    fn pcap_caplen_limits() {
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 0, 1);
        let mut rec = pcap_record(LE, 0, 0, b"", 0);
        rec[8..12].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
        f.extend(&rec);
        assert_eq!(capture_length(&err(&f)), (24, MAX_CAPLEN + 1, u64::from(MAX_CAPLEN)));
        assert!(err(&f).to_string().contains("captured length 262145 exceeds the most any capture holds"));

        // Exactly MAX_CAPLEN is fine.
        let mut f = pcap_header(BE, PCAP_MAGIC_MICROS, 0, 1);
        f.extend(pcap_record(BE, 0, 0, &vec![7; MAX_CAPLEN as usize], MAX_CAPLEN));
        assert_eq!(read_all(&f).unwrap()[0].3.len(), MAX_CAPLEN as usize);

        // A record far beyond the header's snapshot length is corrupt; a little beyond is tolerated.
        let mut f = pcap_header(LE, PCAP_MAGIC_MICROS, 64, 1);
        f.extend(pcap_record(LE, 0, 0, &[1; 1514], 1514));
        assert_eq!(read_all(&f).unwrap().len(), 1);
        let mut rec = pcap_record(LE, 0, 0, b"", 0);
        rec[8..12].copy_from_slice(&(64 + SNAPLEN_SLACK + 1).to_le_bytes());
        f.extend(&rec);
        assert_eq!(capture_length(&err(&f)), (24 + 16 + 1514, 64 + SNAPLEN_SLACK + 1, u64::from(64 + SNAPLEN_SLACK)));
    }

    // ---- pcapng ----

    fn ng(order: ByteOrder, blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut f = shb(order, None);
        for b in blocks {
            f.extend(b);
        }
        f
    }

    #[test]
    fn pcapng_both_orders() {
        for order in [LE, BE] {
            let f = ng(
                order,
                &[idb(order, 1, 0, &[]), epb(order, 0, 1_700_000_000_123_456, b"hello", 99), epb(order, 0, 0, b"", 0)],
            );
            let r = reader(&f);
            assert_eq!((r.format(), r.byte_order()), (Format::PcapNg, order));
            let recs = read_all(&f).unwrap();
            assert_eq!(recs.len(), 2);
            assert_eq!(recs[0], (1_700_000_000_123_456_000, ETHERNET, 0, b"hello".to_vec(), 99, 28 + 20));
            assert_eq!(recs[1].3, b"");
        }
    }

    #[test]
    fn two_interfaces_with_different_link_types() {
        let f = ng(
            BE,
            &[
                idb(BE, 1, 0, &[]),
                idb(BE, RAW as u16, 0, &[]),
                epb(BE, 1, 5, &[0x45, 0, 0, 20], 20),
                epb(BE, 0, 6, &[0xff; 14], 60),
            ],
        );
        let recs = read_all(&f).unwrap();
        assert_eq!((recs[0].1, recs[0].2, recs[0].3.as_slice()), (RAW, 1, &[0x45, 0, 0, 20][..]));
        assert_eq!((recs[1].1, recs[1].2, recs[1].3.len()), (ETHERNET, 0, 14));
    }

    #[test]
    fn unknown_blocks_are_skipped() {
        let order = LE;
        let f = ng(
            order,
            &[
                block(order, 0x0000_0BAD, b"some vendor thing"),
                idb(order, 1, 0, &[]),
                block(order, 4, &[0; 12]), // Name Resolution Block
                epb(order, 0, 1, b"a", 1),
                block(order, 5, &[0; 20]),      // Interface Statistics Block
                block(order, 0x4000_0BAD, &[]), // empty custom block
                epb(order, 0, 2, b"b", 1),
            ],
        );
        let recs = read_all(&f).unwrap();
        assert_eq!(recs.iter().map(|r| r.3.clone()).collect::<Vec<_>>(), [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn shb_options_are_skipped() {
        let mut f = shb(BE, Some(b"captured on the lab bridge"));
        f.extend(idb(BE, 1, 0, &option(BE, 2, b"veth0")));
        f.extend(epb(BE, 0, 1, b"x", 1));
        assert_eq!(read_all(&f).unwrap().len(), 1);
    }

    #[test]
    fn sections_reset_interfaces_and_may_switch_byte_order() {
        let mut f = ng(LE, &[idb(LE, 1, 0, &[]), idb(LE, 101, 0, &[]), epb(LE, 1, 1, b"first", 5)]);
        let second_start = f.len() as u64;
        f.extend(ng(BE, &[idb(BE, 113, 0, &[]), epb(BE, 0, 2, b"second", 6)]));
        let recs = read_all(&f).unwrap();
        assert_eq!((recs[0].1, recs[1].1), (101, 113));
        assert_eq!(recs[1].5, second_start + 28 + 20);

        // Interface 1 belonged to the first section only.
        let mut f = ng(LE, &[idb(LE, 1, 0, &[]), idb(LE, 101, 0, &[])]);
        let second_start = f.len() as u64;
        f.extend(ng(BE, &[idb(BE, 113, 0, &[]), epb(BE, 1, 2, b"second", 6)]));
        match err(&f) {
            CaptureError::UnknownInterface { offset, interface: 1, .. } => assert_eq!(offset, second_start + 28 + 20),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn packet_before_any_interface() {
        let f = ng(LE, &[epb(LE, 0, 1, b"a", 1)]);
        assert!(matches!(err(&f), CaptureError::UnknownInterface { offset: 28, interface: 0, .. }));
        let f = ng(LE, &[block(LE, SPB_TYPE, &[1, 0, 0, 0, 9, 0, 0, 0])]);
        assert!(matches!(err(&f), CaptureError::UnknownInterface { offset: 28, interface: 0, .. }));
    }

    #[test]
    fn bad_block_lengths() {
        // Not a multiple of 4.
        let mut f = ng(LE, &[idb(LE, 1, 0, &[])]);
        let mut e = epb(LE, 0, 0, b"abcd", 4);
        e[4] = 33;
        f.extend(&e);
        assert_eq!(bad_record(&err(&f)), (48, "block length is not a multiple of 4"));

        // Trailing length disagrees.
        let mut f = ng(LE, &[idb(LE, 1, 0, &[])]);
        let mut e = epb(LE, 0, 0, b"abcd", 4);
        let n = e.len();
        e[n - 4] = 0;
        f.extend(&e);
        assert_eq!(bad_record(&err(&f)), (48, "trailing block length differs from the leading one"));

        // Shorter than the block type's fixed fields.
        let f = ng(LE, &[block(LE, EPB_TYPE, &[0; 8])]);
        assert_eq!(bad_record(&err(&f)), (28, "block length is smaller than the block's fixed fields"));
        let mut f = ng(LE, &[]);
        f.extend(LE.put_u32(0xBAD));
        f.extend(LE.put_u32(8));
        assert_eq!(bad_record(&err(&f)), (28, "block length is smaller than the block's fixed fields"));

        // The captured length claims more than the block holds.
        let mut f = ng(LE, &[idb(LE, 1, 0, &[])]);
        let mut e = epb(LE, 0, 0, b"abcd", 4);
        e[20] = 8;
        f.extend(&e);
        assert_eq!(bad_record(&err(&f)), (48, "captured length exceeds the block length"));

        // Captured length over the limit, checked before anything is read.
        let mut f = ng(LE, &[idb(LE, 1, 0, &[])]);
        let mut e = epb(LE, 0, 0, b"abcd", 4);
        e[20..24].copy_from_slice(&(MAX_CAPLEN + 4).to_le_bytes());
        f.extend(&e);
        assert_eq!(capture_length(&err(&f)), (48, MAX_CAPLEN + 4, u64::from(MAX_CAPLEN)));
    }

    #[test]
    fn bad_section_header() {
        let mut f = shb(LE, None);
        f[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert!(matches!(err(&f), CaptureError::BadMagic { offset: 8, magic: 0x0102_0304, .. }));

        let mut f = shb(BE, None);
        f[12..14].copy_from_slice(&2u16.to_be_bytes());
        assert!(matches!(err(&f), CaptureError::UnsupportedVersion { offset: 0, major: 2, minor: 0, .. }));

        let f = shb(LE, None);
        assert_eq!(truncated(&err(&f[..20])), (0, "section header block", 28, 20));
        assert_eq!(truncated(&err(&f[..27])), (0, "block", 28, 27));
    }

    #[test]
    fn pcapng_truncations() {
        let full = ng(LE, &[idb(LE, 1, 0, &[]), epb(LE, 0, 0, &[0; 100], 100)]);
        // Inside the block header or the packet block's fixed fields: the end, with a note.
        for (keep, what, needed) in [(5, "block header", 8), (20, "packet block header", 28)] {
            let mut r = reader(&full[..48 + keep]);
            assert!(r.next_record().unwrap().is_none());
            assert_eq!(truncated(r.partial_header().unwrap()), (48, what, needed, keep as u64));
        }
        // Past them, packet bytes are lost: an error.
        assert_eq!(truncated(&err(&full[..48 + 30])), (48, "block", 132, 30));
        assert_eq!(truncated(&err(&full[..full.len() - 1])), (48, "block", 132, 131));
        // A skipped block cut short.
        let mut f = ng(LE, &[block(LE, 0xBAD, &[0; 40])]);
        f.truncate(f.len() - 10);
        assert_eq!(truncated(&err(&f)), (28, "block", 52, 42));
    }

    #[test]
    fn interface_timestamp_options() {
        let order = BE;
        let ts = 1_700_000_000_123u64;
        let f = ng(
            order,
            &[
                idb(order, 1, 0, &[option(order, OPT_IF_TSRESOL, &[3]), option(order, 0, &[])].concat()),
                idb(order, 1, 0, &option(order, OPT_IF_TSRESOL, &[0x80 | 10])),
                idb(order, 1, 0, &option(order, OPT_IF_TSRESOL, &[9])),
                idb(order, 1, 0, &option(order, OPT_IF_TSOFFSET, &order.put_u64(100))),
                epb(order, 0, ts, b"", 0),
                epb(order, 1, 3 * 1024 + 512, b"", 0),
                epb(order, 2, ts, b"", 0),
                epb(order, 3, 5, b"", 0),
            ],
        );
        let recs = read_all(&f).unwrap();
        assert_eq!(recs[0].0, ts * 1_000_000);
        assert_eq!(recs[1].0, 3_500_000_000);
        assert_eq!(recs[2].0, ts);
        assert_eq!(recs[3].0, 100 * NANOS_PER_SEC + 5000);
    }

    #[test]
    fn timestamp_conversion_saturates() {
        let iface = |tsresol, tsoffset_secs| Interface { linktype: 1, snaplen: 0, tsresol, tsoffset_secs };
        assert_eq!(iface(0, 0).ts_nanos(u64::MAX), u64::MAX);
        assert_eq!(iface(12, 0).ts_nanos(5_000), 5);
        assert_eq!(iface(127, 0).ts_nanos(u64::MAX), 0);
        assert_eq!(iface(0xFF, 0).ts_nanos(u64::MAX), 0);
        assert_eq!(iface(0x80, 0).ts_nanos(2), 2 * NANOS_PER_SEC);
        assert_eq!(iface(6, -10).ts_nanos(5), 0);
        assert_eq!(iface(6, i64::MAX).ts_nanos(0), u64::MAX);
    }

    #[test]
    fn malformed_interface_options() {
        let order = LE;
        let f = ng(order, &[idb(order, 1, 0, &option(order, OPT_IF_TSRESOL, &[6, 6]))]);
        assert_eq!(bad_record(&err(&f)), (28 + 16, "if_tsresol option is not 1 byte long"));
        let f = ng(order, &[idb(order, 1, 0, &option(order, OPT_IF_TSOFFSET, &[0; 4]))]);
        assert_eq!(bad_record(&err(&f)), (28 + 16, "if_tsoffset option is not 8 bytes long"));
        let mut opts = option(order, 2, b"eth0");
        opts.extend(order.put_u16(3));
        opts.extend(order.put_u16(200));
        let f = ng(order, &[idb(order, 1, 0, &opts)]);
        assert_eq!(bad_record(&err(&f)), (28 + 16 + 8, "option runs past the end of its block"));

        let mut f = ng(order, &[]);
        f.extend(order.put_u32(IDB_TYPE));
        f.extend(order.put_u32(MAX_META_BLOCK_LEN + 4));
        assert_eq!(bad_record(&err(&f)), (28, "interface description block is longer than 1 MiB"));
    }

    #[test]
    fn simple_packet_block() {
        let order = LE;
        let mut body = order.put_u32(1500).to_vec();
        body.extend([0xAB; 100]);
        let f = ng(order, &[idb(order, 1, 64, &[]), block(order, SPB_TYPE, &body)]);
        let recs = read_all(&f).unwrap();
        assert_eq!((recs[0].0, recs[0].3.len(), recs[0].4), (0, 64, 1500));

        // Without a snapshot length the block bounds the data; a short packet is not padded.
        let mut body = order.put_u32(5).to_vec();
        body.extend(b"hello");
        let f = ng(order, &[idb(order, 1, 0, &[]), block(order, SPB_TYPE, &body)]);
        assert_eq!(read_all(&f).unwrap()[0].3, b"hello");
    }

    #[test]
    fn obsolete_packet_block() {
        let order = BE;
        let mut body = Vec::new();
        body.extend(order.put_u16(1));
        body.extend(order.put_u16(7)); // drops
        body.extend(order.put_u32(0));
        body.extend(order.put_u32(2_000_000));
        body.extend(order.put_u32(3));
        body.extend(order.put_u32(40));
        body.extend(b"xyz");
        let f = ng(order, &[idb(order, 1, 0, &[]), idb(order, 101, 0, &[]), block(order, PB_TYPE, &body)]);
        let recs = read_all(&f).unwrap();
        assert_eq!(recs[0], (2 * NANOS_PER_SEC, 101, 1, b"xyz".to_vec(), 40, 28 + 40));
    }

    /// A reader that hands out one byte at a time and is interrupted in between, like a slow pipe.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            match (self.data.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(dst)) => {
                    *dst = *b;
                    self.data = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn short_reads_and_interrupts_are_retried() {
        let mut f = ng(LE, &[idb(LE, 1, 0, &[]), block(LE, 0xBAD, &[1; 33]), epb(LE, 0, 1, b"abcdef", 6)]);
        f.extend(epb(LE, 0, 2, b"g", 1));
        let mut r = CaptureReader::new(Trickle { data: &f, interrupt: false }, "pipe").unwrap();
        assert_eq!(r.next_record().unwrap().unwrap().data, b"abcdef");
        assert_eq!(r.next_record().unwrap().unwrap().data, b"g");
        assert!(r.next_record().unwrap().is_none());
        assert_eq!(r.offset(), f.len() as u64);
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn io_errors_name_the_file() {
        let e = CaptureReader::new(Failing, "broken.pcap").unwrap_err();
        assert!(matches!(&e, CaptureError::Io { name, offset: 0, .. } if name == "broken.pcap"));
        assert_eq!(e.to_string(), "broken.pcap: I/O error at byte offset 0: disk on fire");

        let e = CaptureReader::open(Path::new("/nonexistent/weir/x.pcap")).unwrap_err();
        assert!(matches!(&e, CaptureError::Io { name, .. } if name == "/nonexistent/weir/x.pcap"), "{e}");
    }

    #[test]
    fn buffer_stops_growing_at_the_largest_record() {
        let mut f = pcap_header(LE, PCAP_MAGIC_NANOS, 0, 1);
        for len in [1500, 60, 1500, 900, 1500, 0] {
            f.extend(pcap_record(LE, 0, 0, &vec![1; len], len as u32));
        }
        let mut r = reader(&f);
        assert!(r.next_record().unwrap().is_some());
        let (ptr, cap) = (r.buf.as_ptr(), r.buf.capacity());
        while r.next_record().unwrap().is_some() {}
        assert_eq!((r.buf.as_ptr(), r.buf.capacity()), (ptr, cap));
    }
}
