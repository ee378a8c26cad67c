//! What the exporter sends: one [`ExportFlow`] per ended flow and per interim report, built from
//! the engine's records on the worker's side (a copy of about 120 bytes, no allocation).

use core::net::IpAddr;
use weir_engine::{ActiveRecord, EndReason, FlowRecord, Reported};

/// Why a record was made: IPFIX flowEndReason (IE 136).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FlowEnd {
    /// 1: no packet for the idle timeout.
    IdleTimeout = 1,
    /// 2: the flow is still active; its active timeout passed.
    ActiveTimeout = 2,
    /// 3: the flow ended (TCP FIN from both sides, or RST).
    EndOfFlow = 3,
    /// 4: forced end (end of a capture, shutdown).
    ForcedEnd = 4,
    /// 5: lack of resources (evicted from a full flow table).
    LackOfResources = 5,
}

impl From<EndReason> for FlowEnd {
    fn from(e: EndReason) -> FlowEnd {
        match e {
            EndReason::Idle => FlowEnd::IdleTimeout,
            EndReason::Closed => FlowEnd::EndOfFlow,
            EndReason::Evicted => FlowEnd::LackOfResources,
            EndReason::Flushed => FlowEnd::ForcedEnd,
        }
    }
}

/// What the policy did with a direction of a flow: IPFIX forwardingStatus (IE 89, RFC 7270).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Forwarding {
    /// 64: forwarded (reason unknown).
    #[default]
    Forwarded = 64,
    /// 129: dropped, "ACL deny": the policy dropped it.
    Dropped = 129,
}

impl Forwarding {
    /// The status of a policy action.
    pub fn of(action: weir_config::Action) -> Forwarding {
        match action {
            weir_config::Action::Forward => Forwarding::Forwarded,
            weir_config::Action::Drop => Forwarding::Dropped,
        }
    }

    /// The statuses of a flow's two directions (the originator's packets, the responder's)
    /// under a policy: `action(protocol, direction)` with direction 0 outbound and 1 inbound,
    /// as `weir_policy::PolicyTable::action` answers.
    pub fn of_flow(
        protocol: u16,
        originator_inside: bool,
        action: impl Fn(u16, usize) -> weir_config::Action,
    ) -> [Forwarding; 2] {
        let dir = |outbound: bool| Forwarding::of(action(protocol, if outbound { 0 } else { 1 }));
        [dir(originator_inside), dir(!originator_inside)]
    }
}

/// One record's worth of a flow: its share of packets and bytes since the previous report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportFlow {
    /// The same for every record of one flow, and for both of its directions (a hash of the
    /// 5-tuple and the first packet time), so a collector can put them together.
    pub flow_id: u64,
    /// IP protocol number.
    pub ip_protocol: u8,
    /// The side that opened the flow.
    pub originator: (IpAddr, u16),
    /// The other side.
    pub responder: (IpAddr, u16),
    /// Whether the originator is inside (its packets went outbound).
    pub originator_inside: bool,
    /// Outer VLAN id; 0 untagged.
    pub vlan: u16,
    /// The protocol id of the flow's label.
    pub protocol: u16,
    /// Packets from the originator and from the responder in this record.
    pub packets: [u64; 2],
    /// Wire bytes from the originator and from the responder in this record.
    pub bytes: [u64; 2],
    /// Start of what this record covers, Unix milliseconds.
    pub start_ms: u64,
    /// Its last packet, Unix milliseconds.
    pub end_ms: u64,
    /// Why the record was made.
    pub end: FlowEnd,
    /// What the policy did with the originator's packets and with the responder's.
    pub forwarding: [Forwarding; 2],
}

/// A flow id: 64-bit FNV-1a over the protocol, both endpoints and the first packet time.
pub fn flow_id(ip_protocol: u8, originator: (IpAddr, u16), responder: (IpAddr, u16), first_seen_ns: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&[ip_protocol]);
    for (addr, port) in [originator, responder] {
        match addr {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
        eat(&port.to_be_bytes());
    }
    eat(&first_seen_ns.to_be_bytes());
    h
}

#[allow(clippy::too_many_arguments)]
fn build(
    ip_protocol: u8,
    originator: (IpAddr, u16),
    responder: (IpAddr, u16),
    originator_inside: bool,
    vlan: u16,
    protocol: u16,
    totals: ([u64; 2], [u64; 2]),
    times: (u64, u64),
    reported: &Reported,
    end: FlowEnd,
    time_base_ns: u64,
    forwarding: [Forwarding; 2],
) -> ExportFlow {
    let (first_seen, last_seen) = times;
    let (packets, bytes) = reported.since(totals.0, totals.1);
    let start = if reported.at > 0 { reported.at } else { first_seen };
    let ms = |ns: u64| ns.saturating_add(time_base_ns) / 1_000_000;
    ExportFlow {
        flow_id: flow_id(ip_protocol, originator, responder, first_seen),
        ip_protocol,
        originator,
        responder,
        originator_inside,
        vlan,
        protocol,
        packets,
        bytes,
        start_ms: ms(start.min(last_seen)),
        end_ms: ms(last_seen),
        end,
        forwarding,
    }
}

impl ExportFlow {
    /// The last record of an ended flow: what its interim reports did not cover. Engine times
    /// plus `time_base_ns` are Unix nanoseconds (0 for a capture, whose times already are).
    pub fn ended(r: &FlowRecord, time_base_ns: u64, forwarding: [Forwarding; 2]) -> ExportFlow {
        build(
            r.ip_protocol,
            r.originator,
            r.responder,
            r.originator_inside,
            r.vlan,
            r.label.protocol.0,
            (r.packets, r.bytes),
            (r.first_seen, r.last_seen),
            &r.reported,
            r.end.into(),
            time_base_ns,
            forwarding,
        )
    }

    /// An interim record of a flow still active.
    pub fn active(r: &ActiveRecord, time_base_ns: u64, forwarding: [Forwarding; 2]) -> ExportFlow {
        build(
            r.ip_protocol,
            r.originator,
            r.responder,
            r.originator_inside,
            r.vlan,
            r.label.protocol.0,
            (r.packets, r.bytes),
            (r.first_seen, r.last_seen),
            &r.reported,
            FlowEnd::ActiveTimeout,
            time_base_ns,
            forwarding,
        )
    }

    /// Whether the record covers no packet (nothing to send).
    pub fn is_empty(&self) -> bool {
        self.packets == [0, 0]
    }

    /// Data records it makes: one per direction that has packets.
    pub fn data_records(&self) -> u32 {
        u32::from(self.packets[0] > 0) + u32::from(self.packets[1] > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_dpi::{Decision, Label, ProtocolId};

    fn record() -> FlowRecord {
        FlowRecord {
            ip_protocol: 6,
            originator: ("198.18.0.1".parse().unwrap(), 40000),
            responder: ("198.18.1.1".parse().unwrap(), 6881),
            originator_inside: true,
            label: Label { protocol: ProtocolId::BITTORRENT, decision: Decision::NoMatch },
            packets: [10, 8],
            bytes: [5000, 400],
            first_seen: 1_700_000_000_123_456_789,
            last_seen: 1_700_000_090_000_000_000,
            end: EndReason::Closed,
            vlan: 7,
            reported: Reported { packets: [6, 8], bytes: [3000, 400], at: 1_700_000_060_000_000_000 },
        }
    }

    #[test]
    fn an_ended_flow_exports_what_its_interim_reports_did_not_cover() {
        let f = ExportFlow::ended(&record(), 0, [Forwarding::Forwarded, Forwarding::Dropped]);
        assert_eq!((f.packets, f.bytes), ([4, 0], [2000, 0]));
        assert_eq!((f.start_ms, f.end_ms), (1_700_000_060_000, 1_700_000_090_000));
        assert_eq!(f.end, FlowEnd::EndOfFlow);
        assert_eq!(f.data_records(), 1);
        assert_eq!(f.protocol, 1);
        let mut whole = record();
        whole.reported = Reported::default();
        let w = ExportFlow::ended(&whole, 0, [Forwarding::Forwarded; 2]);
        assert_eq!((w.packets, w.start_ms, w.data_records()), ([10, 8], 1_700_000_000_123, 2));
        // One flow, one id, whatever the record.
        assert_eq!(w.flow_id, f.flow_id);
        let mut other = whole;
        other.first_seen += 1;
        assert_ne!(ExportFlow::ended(&other, 0, [Forwarding::Forwarded; 2]).flow_id, w.flow_id);
    }

    #[test]
    fn bridge_times_get_the_time_base() {
        let mut r = record();
        r.first_seen = 5_000_000;
        r.last_seen = 9_000_000;
        r.reported = Reported::default();
        let f = ExportFlow::ended(&r, 1_000_000_000_000, [Forwarding::Forwarded; 2]);
        assert_eq!((f.start_ms, f.end_ms), (1_000_005, 1_000_009));
    }

    #[test]
    fn each_direction_gets_its_policys_status() {
        use weir_config::Action;
        // Drop only the outbound direction of protocol 1.
        let policy = |p: u16, d: usize| if p == 1 && d == 0 { Action::Drop } else { Action::Forward };
        assert_eq!(Forwarding::of_flow(1, true, policy), [Forwarding::Dropped, Forwarding::Forwarded]);
        assert_eq!(Forwarding::of_flow(1, false, policy), [Forwarding::Forwarded, Forwarding::Dropped]);
        assert_eq!(Forwarding::of_flow(2, true, policy), [Forwarding::Forwarded; 2]);
    }

    #[test]
    fn end_reasons_map_to_rfc_values() {
        assert_eq!(FlowEnd::from(EndReason::Idle) as u8, 1);
        assert_eq!(FlowEnd::ActiveTimeout as u8, 2);
        assert_eq!(FlowEnd::from(EndReason::Closed) as u8, 3);
        assert_eq!(FlowEnd::from(EndReason::Flushed) as u8, 4);
        assert_eq!(FlowEnd::from(EndReason::Evicted) as u8, 5);
        assert_eq!((Forwarding::Forwarded as u8, Forwarding::Dropped as u8), (64, 129));
    }
}
