//! Zero-copy, bounds-checked header views: Ethernet, VLAN, Linux cooked capture, BSD loopback,
//! PPP and Cisco HDLC, PPPoE, MPLS, ARP, IPv4, IPv6, GRE, TCP, UDP, VXLAN, GTP-U, ICMP, plus
//! Internet checksum helpers.
//!
//! # Two layers
//!
//! * **Views** (`Packet<T: AsRef<[u8]>>` per module, re-exported with a prefix such as
//!   [`Ipv4Packet`]) borrow a byte buffer and read fields in place. A view is built with
//!   `new_unchecked` (no checks, accessors may panic on a short buffer) or `new_checked`, which runs
//!   `check_len` first. **Contract: after `new_checked` succeeds, no accessor of that view panics**,
//!   whatever the bytes are. Setters exist where `T: AsMut<[u8]>`. **Reprs** (`Ipv4Repr`, ...) are
//!   plain values with `parse` and `emit`, used to build packets in tests and the traffic generator.
//! * **[`parse_frame`]**: the one call the engine makes per packet. It walks link layer, VLAN tags,
//!   IP (with IPv6 extension headers), the tunnels it unwraps (PPPoE, MPLS, GRE, IP in IP, VXLAN,
//!   GTP-U) and the transport header, and returns a [`Frame`] that borrows the input. It never panics and never allocates, for any input; every way a frame can be
//!   rejected is one [`WireError`] variant, so each can have its own drop counter.
//!
//! Registry numbers (EtherType, IP protocol, ICMP types, ...) are open enums: a value this crate does
//! not name round-trips as `Unknown(n)`, and `Unknown(n)` compares equal to the named variant of the
//! same number.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod macros;

pub mod arp;
pub mod checksum;
pub mod direction;
mod error;
pub mod ethernet;
mod field;
mod frame;
pub mod gre;
pub mod gtp;
pub mod icmp;
mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod loopback;
pub mod mark;
pub mod mpls;
pub mod ppp;
pub mod pppoe;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use arp::Packet as ArpPacket;
pub use direction::{Direction, Ingress, Sender};
pub use error::WireError;
pub use ethernet::{Address as EthernetAddress, EtherType, Frame as EthernetFrame, Repr as EthernetRepr};
pub use frame::{
    Encap, Encapsulation, Frame, IpInfo, LinkType, MAX_ENCAPSULATIONS, Network, Transport, parse_frame,
    parse_frame_captured,
};
pub use gre::{Header as GreHeader, Repr as GreRepr};
pub use gtp::{Header as GtpHeader, Repr as GtpRepr};
pub use icmp::{Icmpv4Type, Icmpv6Type, Packet as IcmpPacket, Repr as IcmpRepr};
pub use ip::{Fragment, IpProtocol};
pub use ipv4::{Packet as Ipv4Packet, Repr as Ipv4Repr};
pub use ipv6::{
    ExtHeader as Ipv6ExtHeader, ExtHeaderRepr as Ipv6ExtHeaderRepr, FragHeader as Ipv6FragHeader,
    FragRepr as Ipv6FragRepr, MAX_EXTENSION_HEADERS, Packet as Ipv6Packet, Repr as Ipv6Repr,
};
pub use loopback::{Header as LoopbackHeader, Repr as LoopbackRepr};
pub use mpls::{Entry as MplsEntry, MAX_LABELS as MAX_MPLS_LABELS, Repr as MplsRepr};
pub use ppp::{CiscoHdlc, CiscoHdlcRepr, Frame as PppFrame, Protocol as PppProtocol, Repr as PppRepr};
pub use pppoe::{Header as PppoeHeader, Repr as PppoeRepr};
pub use sll::{Repr as SllRepr, Repr2 as Sll2Repr, Sll, Sll2};
pub use tcp::{Packet as TcpPacket, Repr as TcpRepr, TcpFlags};
pub use udp::{Packet as UdpPacket, Repr as UdpRepr};
pub use vlan::{MAX_VLAN_DEPTH, Repr as VlanRepr, Tag as VlanTag};
pub use vxlan::{Header as VxlanHeader, Repr as VxlanRepr};
