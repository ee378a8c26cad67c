//! The templates weir exports: which Information Elements, in which order, at which lengths.
//!
//! Two data templates (IPv4 and IPv6 flows) carry one uniflow record per direction of a flow;
//! an options template maps applicationIds to names (RFC 6759). Element numbers are IANA's
//! (<https://www.iana.org/assignments/ipfix>); no enterprise-specific element is used, so any
//! collector decodes every field.

/// An Information Element number and the length it is encoded at (65535: variable length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// IANA element id.
    pub id: u16,
    /// Encoded length in octets; [`VARIABLE`] for variable length.
    pub len: u16,
}

/// The field length that marks a variable-length element (RFC 7011, section 7).
pub const VARIABLE: u16 = 65535;

/// IANA Information Element ids used here.
pub mod ie {
    /// octetDeltaCount (unsigned64).
    pub const OCTET_DELTA_COUNT: u16 = 1;
    /// packetDeltaCount (unsigned64).
    pub const PACKET_DELTA_COUNT: u16 = 2;
    /// protocolIdentifier (unsigned8).
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    /// sourceTransportPort (unsigned16).
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    /// sourceIPv4Address.
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    /// ingressInterface (unsigned32).
    pub const INGRESS_INTERFACE: u16 = 10;
    /// destinationTransportPort (unsigned16).
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    /// destinationIPv4Address.
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    /// egressInterface (unsigned32).
    pub const EGRESS_INTERFACE: u16 = 14;
    /// sourceIPv6Address.
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    /// destinationIPv6Address.
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    /// vlanId (unsigned16).
    pub const VLAN_ID: u16 = 58;
    /// forwardingStatus (unsigned32 in the registry, sent in its reduced size of 1 octet, as
    /// RFC 7270 allows).
    pub const FORWARDING_STATUS: u16 = 89;
    /// applicationId (octetArray: engine id and selector).
    pub const APPLICATION_ID: u16 = 95;
    /// applicationName (string).
    pub const APPLICATION_NAME: u16 = 96;
    /// flowEndReason (unsigned8).
    pub const FLOW_END_REASON: u16 = 136;
    /// flowId (unsigned64).
    pub const FLOW_ID: u16 = 148;
    /// flowStartMilliseconds (dateTimeMilliseconds).
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    /// flowEndMilliseconds (dateTimeMilliseconds).
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    /// biflowDirection (unsigned8): 1 initiator, 2 reverseInitiator.
    pub const BIFLOW_DIRECTION: u16 = 239;
    /// p2pTechnology (string: "yes", "no").
    pub const P2P_TECHNOLOGY: u16 = 288;
    /// applicationCategoryName (string).
    pub const APPLICATION_CATEGORY_NAME: u16 = 372;
}

/// Template id of IPv4 flow records.
pub const TEMPLATE_V4: u16 = 256;
/// Template id of IPv6 flow records.
pub const TEMPLATE_V6: u16 = 257;
/// Template id of the application options records.
pub const TEMPLATE_APPS: u16 = 258;
/// Set id of template sets.
pub const SET_TEMPLATE: u16 = 2;
/// Set id of options template sets.
pub const SET_OPTIONS_TEMPLATE: u16 = 3;

const fn f(id: u16, len: u16) -> Field {
    Field { id, len }
}

/// The fields after the addresses, shared by both data templates.
const FLOW_FIELDS: [Field; 15] = [
    f(ie::SOURCE_TRANSPORT_PORT, 2),
    f(ie::DESTINATION_TRANSPORT_PORT, 2),
    f(ie::PROTOCOL_IDENTIFIER, 1),
    f(ie::VLAN_ID, 2),
    f(ie::PACKET_DELTA_COUNT, 8),
    f(ie::OCTET_DELTA_COUNT, 8),
    f(ie::FLOW_START_MILLISECONDS, 8),
    f(ie::FLOW_END_MILLISECONDS, 8),
    f(ie::FLOW_END_REASON, 1),
    f(ie::INGRESS_INTERFACE, 4),
    f(ie::EGRESS_INTERFACE, 4),
    f(ie::BIFLOW_DIRECTION, 1),
    f(ie::FORWARDING_STATUS, 1),
    f(ie::APPLICATION_ID, 4),
    f(ie::FLOW_ID, 8),
];

const fn with_addresses(src: Field, dst: Field) -> [Field; 17] {
    let mut out = [src; 17];
    out[1] = dst;
    let mut i = 0;
    while i < FLOW_FIELDS.len() {
        out[i + 2] = FLOW_FIELDS[i];
        i += 1;
    }
    out
}

/// Fields of [`TEMPLATE_V4`].
pub const DATA_V4: [Field; 17] = with_addresses(f(ie::SOURCE_IPV4_ADDRESS, 4), f(ie::DESTINATION_IPV4_ADDRESS, 4));
/// Fields of [`TEMPLATE_V6`].
pub const DATA_V6: [Field; 17] = with_addresses(f(ie::SOURCE_IPV6_ADDRESS, 16), f(ie::DESTINATION_IPV6_ADDRESS, 16));
/// Octets of an applicationName in the options records: a protocol name is at most 64 characters.
pub const APP_NAME_LEN: u16 = 64;
/// Octets of an applicationCategoryName (the longest category name is 13).
pub const APP_CATEGORY_LEN: u16 = 16;
/// Octets of p2pTechnology ("yes" or "no").
pub const APP_P2P_LEN: u16 = 3;

/// Fields of [`TEMPLATE_APPS`]; the first (applicationId) is its scope. The strings are of fixed
/// length, padded with zero octets: RFC 7011 allows either, and nfdump reads only fixed-length
/// application options (it rejects the whole options record otherwise), as Cisco's NBAR sends.
pub const APPS: [Field; 4] = [
    f(ie::APPLICATION_ID, 4),
    f(ie::APPLICATION_NAME, APP_NAME_LEN),
    f(ie::APPLICATION_CATEGORY_NAME, APP_CATEGORY_LEN),
    f(ie::P2P_TECHNOLOGY, APP_P2P_LEN),
];
/// Scope fields of [`TEMPLATE_APPS`].
pub const APPS_SCOPE: u16 = 1;

/// Octets of one record of a fixed-length template.
pub const fn record_len(fields: &[Field]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < fields.len() {
        n += fields[i].len as usize;
        i += 1;
    }
    n
}

/// Octets of one IPv4 flow record.
pub const RECORD_V4: usize = record_len(&DATA_V4);
/// Octets of one IPv6 flow record.
pub const RECORD_V6: usize = record_len(&DATA_V6);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths() {
        assert_eq!(RECORD_V4, 70);
        assert_eq!(RECORD_V6, 94);
        assert_eq!(DATA_V4[0].id, ie::SOURCE_IPV4_ADDRESS);
        assert_eq!(DATA_V6[1].id, ie::DESTINATION_IPV6_ADDRESS);
        assert_eq!(DATA_V4[16].id, ie::FLOW_ID);
        assert_eq!(record_len(&APPS), 87);
    }
}
