//! Reading and writing packet captures: classic pcap and pcapng, with errors that name the byte offset.
//!
//! weir reads captures in `weir classify`, in tests and in benches, and its traffic generator writes them.
//! We read and write both formats ourselves so that every error can say *where* in the file the problem
//! starts, e.g. `capture.pcap: truncated record at byte offset 4312 (needs 1514 bytes, 200 left)`.
//!
//! # Reading
//!
//! [`CaptureReader`] streams records from any [`std::io::Read`]. It tells the format by the first four bytes:
//!
//! - classic pcap in either byte order, with microsecond (`0xA1B2C3D4`) or nanosecond (`0xA1B23C4D`)
//!   timestamps, and the old "modified pcap" (`0xA1B2CD34`, 24-byte record headers);
//! - pcapng: Section Header Blocks in either byte order (each section may differ), Interface Description
//!   Blocks with per-interface link type, `if_tsresol` and `if_tsoffset`, Enhanced, Simple and the obsolete
//!   Packet Blocks; several sections; every other block type is skipped after its length is checked.
//!
//! Contract:
//!
//! - No input bytes make the reader panic. Every call to [`CaptureReader::next_record`] ends in a record,
//!   `Ok(None)` at the end of input, or a [`CaptureError`] whose [`offset`](CaptureError::offset) is
//!   the start of the offending header, record, block or option and never beyond the bytes read.
//! - A file that ends inside a record header, after whole records (a writer killed mid-write), has lost no
//!   packet bytes: the reader ends there with `Ok(None)` and [`CaptureReader::partial_header`] describes
//!   where, for the caller to warn. A file that ends inside a record's data is an error.
//! - Classic pcap files of format 2.2 and older, which store the original length before the captured one,
//!   are read as libpcap reads them: with the two swapped back (and 2.3 files when the captured length
//!   exceeds the original).
//! - Memory is bounded by the input's claims, and those are bounded: a record's captured length may not
//!   exceed [`MAX_CAPLEN`], and buffered pcapng metadata blocks may not exceed [`MAX_META_BLOCK_LEN`].
//!   Blocks the reader skips are streamed, never buffered.
//! - After the reader has grown its one internal buffer to the largest record, reading allocates nothing.
//! - Link types are reported, not judged: the caller decides what it can parse.
//!
//! # Writing
//!
//! [`PcapWriter`] writes classic pcap (microsecond or nanosecond timestamps); [`PcapNgWriter`] writes one
//! section with one Interface Description Block per link type, nanosecond timestamps, and Enhanced Packet
//! Blocks. Both write what the reader reads back byte for byte.
//!
//! ```
//! use weir_capture::{CaptureReader, Format, PcapNgWriter};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut w = PcapNgWriter::new(Vec::new(), 1)?; // LINKTYPE_ETHERNET is interface 0
//! let raw = w.interface_for(101)?; // LINKTYPE_RAW gets interface 1
//! w.write_packet(1_700_000_000_000_000_000, &[0xff; 60], 60)?;
//! w.write_packet_on(raw, 1_700_000_000_000_000_001, &[0x45; 20], 20)?;
//! let bytes = w.into_inner();
//!
//! let mut r = CaptureReader::new(&bytes[..], "in-memory")?;
//! assert_eq!(r.format(), Format::PcapNg);
//! let mut linktypes = Vec::new();
//! while let Some(rec) = r.next_record()? {
//!     linktypes.push((rec.linktype, rec.data.len()));
//! }
//! assert_eq!(linktypes, [(1, 60), (101, 20)]);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod reader;
mod writer;

pub use error::CaptureError;
pub use reader::{CaptureReader, Record};
pub use writer::{PcapNgWriter, PcapWriter};

/// Largest captured length of one record that the reader accepts and the writers write: 256 KiB, the
/// largest snapshot length libpcap uses for any link type. A larger claim means a corrupt file.
pub const MAX_CAPLEN: u32 = 262_144;

/// Largest pcapng block the reader buffers whole to read its options (Section Header and Interface
/// Description Blocks): 1 MiB. Packet data is bounded by [`MAX_CAPLEN`] instead; blocks of other types are
/// skipped without buffering and may be any length.
pub const MAX_META_BLOCK_LEN: u32 = 1 << 20;

/// How far a record's captured length may exceed the snapshot length its header (pcap) or interface
/// (pcapng) declares before the record counts as corrupt. Some writers put a stale snapshot length in
/// the header and libpcap reads such records anyway, so a small excess is tolerated.
pub const SNAPLEN_SLACK: u32 = 65_536;

/// The container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Classic libpcap format: one file header, then records.
    Pcap,
    /// pcapng: blocks, grouped in sections, packets tied to interfaces.
    PcapNg,
}

/// Byte order of a capture file (pcap) or of the current section (pcapng).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first (what x86 and most ARM writers produce).
    LittleEndian,
    /// Most significant byte first.
    BigEndian,
}

impl ByteOrder {
    pub(crate) fn u32(self, b: [u8; 4]) -> u32 {
        match self {
            Self::LittleEndian => u32::from_le_bytes(b),
            Self::BigEndian => u32::from_be_bytes(b),
        }
    }

    pub(crate) fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Self::LittleEndian => u64::from_le_bytes(b),
            Self::BigEndian => u64::from_be_bytes(b),
        }
    }

    /// Splits a 32-bit word read in this byte order into the two 16-bit fields stored in its bytes,
    /// first field first.
    pub(crate) fn split16(self, word: u32) -> (u16, u16) {
        let (hi, lo) = ((word >> 16) as u16, word as u16);
        match self {
            Self::LittleEndian => (lo, hi),
            Self::BigEndian => (hi, lo),
        }
    }

    pub(crate) fn put_u16(self, v: u16) -> [u8; 2] {
        match self {
            Self::LittleEndian => v.to_le_bytes(),
            Self::BigEndian => v.to_be_bytes(),
        }
    }

    pub(crate) fn put_u32(self, v: u32) -> [u8; 4] {
        match self {
            Self::LittleEndian => v.to_le_bytes(),
            Self::BigEndian => v.to_be_bytes(),
        }
    }

    pub(crate) fn put_u64(self, v: u64) -> [u8; 8] {
        match self {
            Self::LittleEndian => v.to_le_bytes(),
            Self::BigEndian => v.to_be_bytes(),
        }
    }
}

/// Rounds a pcapng body length up to the next multiple of 4 (blocks and options are 32-bit aligned).
pub(crate) fn pad4(len: u64) -> u64 {
    len.div_ceil(4) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split16_takes_fields_in_file_order() {
        let bytes = [0x00, 0x01, 0x00, 0x02];
        let le = ByteOrder::LittleEndian;
        let be = ByteOrder::BigEndian;
        assert_eq!(be.split16(be.u32(bytes)), (1, 2));
        assert_eq!(le.split16(le.u32(bytes)), (0x0100, 0x0200));
    }

    #[test]
    fn put_and_get_agree() {
        for order in [ByteOrder::LittleEndian, ByteOrder::BigEndian] {
            assert_eq!(
                order.split16(order.u32([order.put_u16(0xBEEF), order.put_u16(7)].concat().try_into().unwrap())),
                (0xBEEF, 7)
            );
            assert_eq!(order.u32(order.put_u32(0xDEAD_BEEF)), 0xDEAD_BEEF);
            assert_eq!(order.u64(order.put_u64(0x0123_4567_89AB_CDEF)), 0x0123_4567_89AB_CDEF);
        }
    }

    #[test]
    fn pad4_rounds_up() {
        assert_eq!([0, 1, 2, 3, 4, 5, 8].map(pad4), [0, 4, 4, 4, 4, 8, 8]);
    }
}

#[cfg(test)]
mod fuzz_tests;
