//! The one error type of the reader: every variant names the file and the byte offset where the problem starts.

/// Why a capture could not be read further.
///
/// Every variant carries `name` (the path given to [`CaptureReader::open`](crate::CaptureReader::open) or the
/// name given to [`CaptureReader::new`](crate::CaptureReader::new)) and the byte offset at which the offending
/// header, record, block or option starts. The `Display` text reads
/// `NAME: WHAT at byte offset N (DETAIL)`.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The underlying reader failed (or the file could not be opened, at offset 0).
    #[error("{name}: I/O error at byte offset {offset}: {source}")]
    Io {
        /// File name.
        name: String,
        /// Bytes consumed before the failing read.
        offset: u64,
        /// The error from the operating system or the underlying reader.
        source: std::io::Error,
    },
    /// The file (offset 0) or a pcapng section header does not start with a magic number we know.
    #[error("{name}: bad magic 0x{magic:08x} at byte offset {offset} (not pcap or pcapng)")]
    BadMagic {
        /// File name.
        name: String,
        /// Where the magic number (or pcapng byte-order magic) starts.
        offset: u64,
        /// The four bytes found, read big-endian (as they appear in a hex dump).
        magic: u32,
    },
    /// A file or section header carries a format version we do not read.
    #[error("{name}: unsupported format version {major}.{minor} at byte offset {offset}")]
    UnsupportedVersion {
        /// File name.
        name: String,
        /// Where the file header or section header block starts.
        offset: u64,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
    /// The input ended inside a header, record or block.
    #[error("{name}: truncated {what} at byte offset {offset} (needs {needed} bytes, {available} left)")]
    Truncated {
        /// File name.
        name: String,
        /// Where the truncated header, record or block starts.
        offset: u64,
        /// What was being read: "file header", "record header", "record", "block header", "block".
        what: &'static str,
        /// Bytes the header, record or block needs in total, counted from `offset` (as far as known).
        needed: u64,
        /// Bytes the input still held from `offset` on.
        available: u64,
    },
    /// A record or block is self-inconsistent or beyond what any real capture holds.
    #[error("{name}: bad record at byte offset {offset}: {reason}")]
    BadRecord {
        /// File name.
        name: String,
        /// Where the record, block or option starts.
        offset: u64,
        /// What is wrong, e.g. "block length is not a multiple of 4".
        reason: &'static str,
    },
    /// A record claims more captured bytes than any capture holds ([`MAX_CAPLEN`](crate::MAX_CAPLEN)), or far
    /// more than its snapshot length: the file is corrupt from this record on.
    #[error(
        "{name}: bad record at byte offset {offset}: captured length {caplen} exceeds {limit_what} ({limit} bytes); \
         the file is corrupt from here"
    )]
    CaptureLength {
        /// File name.
        name: String,
        /// Where the record or block starts.
        offset: u64,
        /// The captured length the record claims.
        caplen: u32,
        /// The limit it exceeds.
        limit: u64,
        /// What the limit is: "the most any capture holds" or "the snapshot length plus 65536".
        limit_what: &'static str,
    },
    /// A pcapng packet block names an interface that its section has not described.
    #[error(
        "{name}: packet block at byte offset {offset} names interface {interface}, which its section does not describe"
    )]
    UnknownInterface {
        /// File name.
        name: String,
        /// Where the packet block starts.
        offset: u64,
        /// The interface id in the block.
        interface: u32,
    },
}

impl CaptureError {
    /// The file name the error names.
    pub fn name(&self) -> &str {
        match self {
            Self::Io { name, .. }
            | Self::BadMagic { name, .. }
            | Self::UnsupportedVersion { name, .. }
            | Self::Truncated { name, .. }
            | Self::BadRecord { name, .. }
            | Self::CaptureLength { name, .. }
            | Self::UnknownInterface { name, .. } => name,
        }
    }

    /// The byte offset at which the problem starts.
    pub fn offset(&self) -> u64 {
        match self {
            Self::Io { offset, .. }
            | Self::BadMagic { offset, .. }
            | Self::UnsupportedVersion { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::BadRecord { offset, .. }
            | Self::CaptureLength { offset, .. }
            | Self::UnknownInterface { offset, .. } => *offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_offset() {
        let e = CaptureError::Truncated {
            name: "capture.pcap".into(),
            offset: 4312,
            what: "record",
            needed: 1530,
            available: 216,
        };
        assert_eq!(e.to_string(), "capture.pcap: truncated record at byte offset 4312 (needs 1530 bytes, 216 left)");
        assert_eq!((e.name(), e.offset()), ("capture.pcap", 4312));

        let e = CaptureError::BadMagic { name: "x.pcap".into(), offset: 0, magic: 0x1234_5678 };
        assert_eq!(e.to_string(), "x.pcap: bad magic 0x12345678 at byte offset 0 (not pcap or pcapng)");

        let e = CaptureError::BadRecord { name: "y".into(), offset: 44, reason: "block length is not a multiple of 4" };
        assert_eq!(e.to_string(), "y: bad record at byte offset 44: block length is not a multiple of 4");

        let e = CaptureError::CaptureLength {
            name: "z".into(),
            offset: 24,
            caplen: 524_501,
            limit: 262_144,
            limit_what: "the most any capture holds",
        };
        assert_eq!(
            e.to_string(),
            "z: bad record at byte offset 24: captured length 524501 exceeds the most any capture holds (262144 bytes); \
             the file is corrupt from here"
        );
    }
}
