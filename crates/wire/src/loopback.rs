//! BSD loopback encapsulation, pcap `LINKTYPE_NULL` (0) and `LINKTYPE_LOOP` (108): a 4-byte
//! address family, then the packet.
//!
//! `LINKTYPE_NULL` stores the family in the byte order of the host that captured (little-endian
//! from x86 and ARM Macs, big-endian from old PowerPC and SPARC ones), `LINKTYPE_LOOP` in network
//! byte order; files of both are found written either way. Every address family fits in 16 bits,
//! so the order is the one that makes the value small: the header is read little-endian, and a
//! value above 0xFFFF is read again big-endian (as Wireshark does).
//!
//! IPv4 is family 2 everywhere; IPv6 has three values, one per BSD family ([`AF_INET6`]).
//!
//! Contract: after [`Header::new_checked`] no accessor panics.

use crate::error::WireError;

/// Length of the header.
pub const HEADER_LEN: usize = 4;
/// `AF_INET` on every BSD.
pub const AF_INET: u32 = 2;
/// `AF_INET6`: 24 on NetBSD, OpenBSD and BSD/OS, 28 on FreeBSD and DragonFly, 30 on macOS.
pub const AF_INET6: [u32; 3] = [24, 28, 30];

buffer_view! {
    /// A read/write view of the loopback header and the packet after it.
    pub struct Header;
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Ensures every accessor is in bounds.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn check_len(&self) -> Result<(), WireError> {
        if self.buffer.as_ref().len() < HEADER_LEN { Err(WireError::Truncated) } else { Ok(()) }
    }

    fn le(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// True if the family is stored big-endian (its little-endian reading is above 0xFFFF).
    pub fn is_big_endian(&self) -> bool {
        self.le() > 0xFFFF
    }

    /// The address family, in whichever byte order makes it fit 16 bits.
    pub fn family(&self) -> u32 {
        let le = self.le();
        if le > 0xFFFF { le.swap_bytes() } else { le }
    }

    /// True for `AF_INET`.
    pub fn is_ipv4(&self) -> bool {
        self.family() == AF_INET
    }

    /// True for any of the BSDs' `AF_INET6` values.
    pub fn is_ipv6(&self) -> bool {
        AF_INET6.contains(&self.family())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The packet after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

/// The loopback header as plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Address family.
    pub family: u32,
    /// Write the family big-endian (`LINKTYPE_LOOP`, or a big-endian host's `LINKTYPE_NULL`).
    pub big_endian: bool,
}

impl Repr {
    /// Reads a header.
    ///
    /// # Errors
    /// As [`Header::check_len`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(h: &Header<&T>) -> Result<Repr, WireError> {
        h.check_len()?;
        Ok(Repr { family: h.family(), big_endian: h.is_big_endian() })
    }

    /// Bytes this repr emits (4).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the start of `buffer`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter than 4 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), WireError> {
        let out = buffer.get_mut(..HEADER_LEN).ok_or(WireError::Truncated)?;
        let bytes = if self.big_endian { self.family.to_be_bytes() } else { self.family.to_le_bytes() };
        out.copy_from_slice(&bytes);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn both_byte_orders_and_every_ipv6_value() {
        // Little-endian AF_INET (a capture on an x86 Mac), then one payload byte.
        let le = [2, 0, 0, 0, 0x45];
        let h = Header::new_checked(&le[..]).unwrap();
        assert_eq!((h.family(), h.is_ipv4(), h.is_ipv6(), h.is_big_endian()), (2, true, false, false));
        assert_eq!(h.payload(), &[0x45]);
        assert_eq!(Repr::parse(&h).unwrap(), Repr { family: 2, big_endian: false });
        // Big-endian, as LINKTYPE_LOOP (OpenBSD) writes it.
        let be = [0, 0, 0, 2];
        let h = Header::new_checked(&be[..]).unwrap();
        assert_eq!((h.family(), h.is_big_endian()), (2, true));
        for af6 in AF_INET6 {
            for big_endian in [false, true] {
                let repr = Repr { family: af6, big_endian };
                let mut b = [0u8; 4];
                repr.emit(&mut b).unwrap();
                let h = Header::new_checked(&b[..]).unwrap();
                assert!(h.is_ipv6() && !h.is_ipv4(), "{repr:?}");
                assert_eq!(Repr::parse(&h).unwrap(), repr);
            }
        }
        // Linux's AF_INET6 (10) is not a BSD value and is not IPv6 here.
        assert!(!Header::new_checked(&[10u8, 0, 0, 0][..]).unwrap().is_ipv6());
    }

    #[test]
    fn construct_matches_the_bytes() {
        let mut b = [0xffu8; 4];
        Repr { family: 30, big_endian: false }.emit(&mut b).unwrap();
        assert_eq!(b, [30, 0, 0, 0]);
        Repr { family: 24, big_endian: true }.emit(&mut b).unwrap();
        assert_eq!(b, [0, 0, 0, 24]);
        assert_eq!(Repr { family: 2, big_endian: true }.emit(&mut [0u8; 3]), Err(WireError::Truncated));
    }

    #[test]
    fn too_short() {
        for len in 0..HEADER_LEN {
            assert_eq!(Header::new_checked(&[2u8, 0, 0, 0][..len]), Err(WireError::Truncated));
        }
    }
}
