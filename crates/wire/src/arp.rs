//! ARP packet view (RFC 826), read-only: weir forwards ARP, it never answers it.
//!
//! Addresses are variable length (hardware and protocol address lengths are fields), so they are
//! returned as slices. Contract: after [`Packet::new_checked`] no accessor panics.

use crate::error::WireError;
use crate::ethernet::EtherType;
use crate::field::be16;

enum_with_unknown! {
    /// ARP hardware type.
    pub enum Hardware(u16) {
        /// Ethernet (1).
        Ethernet = 1,
    }
}

enum_with_unknown! {
    /// ARP operation.
    pub enum Operation(u16) {
        /// Request (1).
        Request = 1,
        /// Reply (2).
        Reply = 2,
    }
}

mod field {
    use crate::field::Field;
    pub(crate) const HTYPE: Field = 0..2;
    pub(crate) const PTYPE: Field = 2..4;
    pub(crate) const HLEN: usize = 4;
    pub(crate) const PLEN: usize = 5;
    pub(crate) const OPER: Field = 6..8;
    pub(crate) const ADDRESSES: usize = 8;
}

/// Length of the fixed part before the addresses.
pub const FIXED_LEN: usize = field::ADDRESSES;

buffer_view! {
    /// A read-only view of an ARP packet.
    pub struct Packet;
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Ensures every accessor is in bounds: the fixed part and `2 * (hlen + plen)` address bytes.
    ///
    /// # Errors
    /// [`WireError::Truncated`] if the buffer is shorter.
    pub fn check_len(&self) -> Result<(), WireError> {
        let data = self.buffer.as_ref();
        if data.len() < FIXED_LEN || data.len() < self.packet_len() { Err(WireError::Truncated) } else { Ok(()) }
    }

    /// Bytes the packet occupies, by its address lengths.
    pub fn packet_len(&self) -> usize {
        FIXED_LEN + 2 * (usize::from(self.hardware_len()) + usize::from(self.protocol_len()))
    }

    /// Hardware type.
    pub fn hardware_type(&self) -> Hardware {
        Hardware::from(be16(&self.buffer.as_ref()[field::HTYPE]))
    }

    /// Protocol type (an EtherType).
    pub fn protocol_type(&self) -> EtherType {
        EtherType::from(be16(&self.buffer.as_ref()[field::PTYPE]))
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation.
    pub fn operation(&self) -> Operation {
        Operation::from(be16(&self.buffer.as_ref()[field::OPER]))
    }

    fn addr(&self, index: usize) -> &[u8] {
        let h = usize::from(self.hardware_len());
        let p = usize::from(self.protocol_len());
        // Order: sender hardware, sender protocol, target hardware, target protocol.
        let (start, len) = match index {
            0 => (0, h),
            1 => (h, p),
            2 => (h + p, h),
            _ => (2 * h + p, p),
        };
        &self.buffer.as_ref()[FIXED_LEN + start..FIXED_LEN + start + len]
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> &[u8] {
        self.addr(0)
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> &[u8] {
        self.addr(1)
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> &[u8] {
        self.addr(2)
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> &[u8] {
        self.addr(3)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    // Who has 198.18.0.2? Tell 198.18.0.1 (Ethernet/IPv4).
    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 198, 18, 0, 1, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 198, 18, 0, 2,
    ];

    #[test]
    fn deconstruct() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), Hardware::Ethernet);
        assert_eq!(p.protocol_type(), EtherType::Ipv4);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(p.operation(), Operation::Request);
        assert_eq!(p.source_hardware_addr(), &[2, 0, 0, 0, 0, 1]);
        assert_eq!(p.source_protocol_addr(), &[198, 18, 0, 1]);
        assert_eq!(p.target_hardware_addr(), &[0; 6]);
        assert_eq!(p.target_protocol_addr(), &[198, 18, 0, 2]);
        assert_eq!(p.packet_len(), 28);
    }

    #[test]
    fn truncated() {
        for len in 0..REQUEST.len() {
            assert_eq!(Packet::new_checked(&REQUEST[..len]), Err(WireError::Truncated), "len {len}");
        }
        // Huge address lengths must be caught by check_len, not by a panic in an accessor.
        let mut odd = REQUEST;
        odd[4] = 0xff;
        assert_eq!(Packet::new_checked(&odd[..]), Err(WireError::Truncated));
    }
}
