//! The one direction vocabulary of weir, shared by wire, flow, dpi, engine and the bridge.
//!
//! Three questions, one type each:
//!
//! - [`Ingress`]: *where did a frame enter the box?* The inside NIC, the outside NIC, or unknown
//!   (a capture file, where the inside networks decide).
//! - [`Direction`]: *which way does a packet travel through the box?* Outbound (inside to
//!   outside) or inbound. Bandwidth is counted per direction; policy rules match it.
//! - [`Sender`]: *who sent this packet, relative to its flow?* The originator (sent the flow's
//!   first packet) or the responder. Inspection and the flow table's per-side counters use it.
//!
//! Two more are deliberately private to the code that needs them: the flow key's canonical
//! order (`weir_flow::KeyDir`, an implementation detail of hashing both directions to one key)
//! and an AF_XDP socket's NIC (`weir_xdp::Side`, an I/O handle), which `weir_bridge::ingress`
//! turns into an [`Ingress`] in one place.

/// Where a frame entered the box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ingress {
    /// From the inside NIC: it travels outbound.
    Inside,
    /// From the outside NIC: it travels inbound.
    Outside,
    /// Unknown (a capture file): decided per flow from the inside networks, else the side that
    /// opened the flow counts as inside.
    Unknown,
}

/// Which way a packet travels through the box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the inside network to the outside.
    Outbound = 0,
    /// From the outside network to the inside.
    Inbound = 1,
}

impl Direction {
    /// Both directions, in index order.
    pub const ALL: [Direction; 2] = [Direction::Outbound, Direction::Inbound];

    /// The interface name: "outbound" or "inbound".
    pub fn name(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }

    /// 0 for outbound, 1 for inbound.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Who sent a packet, relative to its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sender {
    /// The side that opened the flow (sent its first packet).
    Originator,
    /// The other side.
    Responder,
}

impl Sender {
    /// 0 for the originator, 1 for the responder: the index into per-side arrays.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Sender::Originator => 0,
            Sender::Responder => 1,
        }
    }

    /// The other side.
    #[inline]
    pub fn other(self) -> Sender {
        match self {
            Sender::Originator => Sender::Responder,
            Sender::Responder => Sender::Originator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_and_names() {
        assert_eq!(Direction::ALL.map(Direction::index), [0, 1]);
        assert_eq!(Direction::ALL.map(Direction::name), ["outbound", "inbound"]);
        assert_eq!([Sender::Originator.index(), Sender::Responder.index()], [0, 1]);
        assert_eq!(Sender::Originator.other(), Sender::Responder);
        assert_eq!(Sender::Responder.other().other(), Sender::Responder);
    }
}
