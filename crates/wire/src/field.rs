//! Byte-range types and big-endian helpers shared by the per-module `mod field` tables.
//!
//! The helpers index their slice directly: callers only use them on ranges that `check_len` has
//! proven to be inside the buffer.

/// A fixed field: `start..end` bytes.
pub(crate) type Field = core::ops::Range<usize>;
/// Everything from an offset to the end of the buffer.
pub(crate) type Rest = core::ops::RangeFrom<usize>;

/// Big-endian u16 from the first two bytes of `b`.
#[inline]
pub(crate) fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Big-endian u32 from the first four bytes of `b`.
#[inline]
pub(crate) fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Writes `v` big-endian into the first two bytes of `b`.
#[inline]
pub(crate) fn put16(b: &mut [u8], v: u16) {
    b[..2].copy_from_slice(&v.to_be_bytes());
}

/// Writes `v` big-endian into the first four bytes of `b`.
#[inline]
pub(crate) fn put32(b: &mut [u8], v: u32) {
    b[..4].copy_from_slice(&v.to_be_bytes());
}
