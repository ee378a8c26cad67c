//! MPLS label stack entries (RFC 3032), after EtherType 0x8847 (unicast) or 0x8848
//! (multicast), PPP protocol 0x0281/0x0283, or GRE protocol type 0x8847.
//!
//! Each entry is 4 bytes: label (20 bits), traffic class (3), bottom of stack (1), TTL (8). The
//! stack says nothing of what follows it; `parse_frame` decides as routers and Wireshark do:
//! IPv4 after an IPv4 explicit-null bottom label (0), IPv6 after an IPv6 explicit-null one (2),
//! nothing IP after the Generic Associated Channel label (13); otherwise by the first nibble of
//! the payload: 4 (with a header length of at least 5 words) is IPv4, 6 is IPv6, 1 an associated
//! channel (not IP), anything else an Ethernet pseudowire (RFC 4448). A first nibble of 0 starts
//! a pseudowire control word (RFC 4385) before the frame, unless the bytes read as an Ethernet
//! header with a common EtherType only without one. An Ethernet pseudowire without control word
//! whose destination MAC starts with 0x45..0x4f or a 6 nibble is taken for IP (RFC 4928 explains
//! why control words exist).
//!
//! Contract: after [`Entry::new_checked`] no accessor panics.

use crate::error::WireError;
use crate::field::{be32, put32};

/// EtherType of MPLS unicast.
pub const ETHERTYPE_UNICAST: u16 = 0x8847;
/// EtherType of MPLS multicast.
pub const ETHERTYPE_MULTICAST: u16 = 0x8848;
/// Length of one label stack entry.
pub const HEADER_LEN: usize = 4;
/// Most label stack entries `parse_frame` walks; a stack with no bottom within them is
/// [`WireError::BadMpls`].
pub const MAX_LABELS: usize = 8;
/// IPv4 explicit null: an IPv4 packet follows.
pub const LABEL_IPV4_EXPLICIT_NULL: u32 = 0;
/// Router alert.
pub const LABEL_ROUTER_ALERT: u32 = 1;
/// IPv6 explicit null: an IPv6 packet follows.
pub const LABEL_IPV6_EXPLICIT_NULL: u32 = 2;
/// Generic Associated Channel (RFC 5586): OAM, not user traffic.
pub const LABEL_GAL: u32 = 13;

buffer_view! {
    /// A read/write view of one label stack entry and what follows it.
    pub struct Entry;
}

impl<T: AsRef<[u8]>> Entry<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    fn word(&self) -> u32 {
        be32(self.buffer.as_ref())
    }

    /// Label (20 bits).
    pub fn label(&self) -> u32 {
        self.word() >> 12
    }

    /// Traffic class (3 bits, formerly EXP).
    pub fn traffic_class(&self) -> u8 {
        ((self.word() >> 9) & 0x7) as u8
    }

    /// Bottom of stack: the last entry.
    pub fn bottom(&self) -> bool {
        self.word() & 0x100 != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.word() as u8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Entry<&'a T> {
    /// Bytes after this entry.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// A label stack entry as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Label; only the low 20 bits are emitted.
    pub label: u32,
    /// Traffic class; only the low 3 bits are emitted.
    pub traffic_class: u8,
    /// Bottom of stack.
    pub bottom: bool,
    /// Time to live.
    pub ttl: u8,
}

impl Repr {
    /// Reads an entry.
    ///
    /// # Errors
    /// As [`Entry::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(e: &Entry<&T>) -> Result<Repr, WireError> {
        e.check_len()?;
        Ok(Repr { label: e.label(), traffic_class: e.traffic_class(), bottom: e.bottom(), ttl: e.ttl() })
    }

    /// Bytes this repr emits (4).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the entry into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let word = ((self.label & 0xf_ffff) << 12)
            | (u32::from(self.traffic_class & 0x7) << 9)
            | (u32::from(self.bottom) << 8)
            | u32::from(self.ttl);
        put32(out, word);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn deconstruct_and_construct() {
        // Label 0x12345, TC 5, bottom, TTL 64; then a payload byte.
        let bytes = [0x12, 0x34, 0x5b, 0x40, 0x45];
        let e = Entry::new_checked(&bytes[..]).unwrap();
        assert_eq!((e.label(), e.traffic_class(), e.bottom(), e.ttl()), (0x12345, 5, true, 64));
        assert_eq!(e.payload(), &[0x45]);
        let repr = Repr::parse(&e).unwrap();
        let mut out = [0u8; 5];
        repr.emit(&mut out).unwrap();
        out[4] = 0x45;
        assert_eq!(out, bytes);
        // IPv4 explicit null, not bottom, TTL 255.
        let null = Repr { label: LABEL_IPV4_EXPLICIT_NULL, traffic_class: 0, bottom: false, ttl: 255 };
        null.emit(&mut out).unwrap();
        assert_eq!(&out[..4], &[0, 0, 0, 0xff]);
        for len in 0..HEADER_LEN {
            assert_eq!(Entry::new_checked(&bytes[..len]), Err(WireError::Truncated));
        }
        assert_eq!(null.emit(&mut [0u8; 3]), Err(WireError::Truncated));
    }
}
