//! The data-path error: one variant per drop/malformed counter.

/// Why a frame (or a header view) was rejected. One variant per drop counter; `Copy`, no
/// allocation. [`WireError::name`] gives the stable counter name.
///
/// Which variant a frame gets: bytes missing from the buffer (a header cut by a capture's snap
/// length included), and headers that do not fit in the payload carrying them, are
/// [`Truncated`](WireError::Truncated); bytes present but with fields or lengths that disagree are
/// one of the `Bad*` variants. A tunnel's header gets its own (`BadPppoe`, `BadMpls`, `BadGre`,
/// `BadGtp`); the packet inside a tunnel gets the variant it would get outside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WireError {
    /// The buffer ends before a header, or before the length the IP header claims.
    Truncated,
    /// A link-layer header field is impossible (Linux cooked capture address length above 8).
    BadLinkHeader,
    /// More than [`MAX_VLAN_DEPTH`](crate::MAX_VLAN_DEPTH) stacked 802.1Q/802.1ad tags.
    TooManyVlanTags,
    /// The IP version nibble does not match the link's protocol (or is neither 4 nor 6 on raw IP).
    BadIpVersion,
    /// IPv4 header length below 20 bytes or above the total length.
    BadIpHeaderLength,
    /// IPv4 total length below 20 bytes, or a length that cannot be emitted.
    BadIpTotalLength,
    /// A fragment whose offset plus length passes 65535 bytes, or an emitted offset not a multiple of 8.
    BadFragment,
    /// More than [`MAX_EXTENSION_HEADERS`](crate::MAX_EXTENSION_HEADERS) IPv6 extension headers.
    TooManyExtensionHeaders,
    /// An IPv6 extension header that overruns the payload, a hop-by-hop header not first, or a
    /// second fragment header.
    BadExtensionHeader,
    /// A first fragment too short to hold its whole transport header (RFC 1858, RFC 7112).
    TinyFragment,
    /// TCP data offset below 5 words or beyond the segment.
    BadTcpHeaderLength,
    /// UDP length below 8 or beyond the bytes the IP layer carries.
    BadUdpLength,
    /// A PPP protocol field that is no protocol number (RFC 1661: odd, with an even high octet).
    BadPpp,
    /// A PPPoE session header with a version or type other than 1, a code other than 0, or a
    /// length too short for the PPP protocol field.
    BadPppoe,
    /// An MPLS label stack without a bottom-of-stack entry within
    /// [`MAX_MPLS_LABELS`](crate::MAX_MPLS_LABELS) entries.
    BadMpls,
    /// A GRE header of a version other than 0 or 1, with the obsolete routing field (RFC 1701),
    /// or a version-1 (PPTP) header without its key or with a payload length beyond the packet.
    BadGre,
    /// A GTP-U version-1 G-PDU whose length runs past its UDP datagram, too short for its
    /// optional fields, or whose extension headers overrun it.
    BadGtp,
    /// More than [`MAX_ENCAPSULATIONS`](crate::MAX_ENCAPSULATIONS) nested tunnels.
    TooManyEncapsulations,
}

impl WireError {
    /// Every variant, in declaration order (for registering counters).
    pub const ALL: &[WireError] = &[
        WireError::Truncated,
        WireError::BadLinkHeader,
        WireError::TooManyVlanTags,
        WireError::BadIpVersion,
        WireError::BadIpHeaderLength,
        WireError::BadIpTotalLength,
        WireError::BadFragment,
        WireError::TooManyExtensionHeaders,
        WireError::BadExtensionHeader,
        WireError::TinyFragment,
        WireError::BadTcpHeaderLength,
        WireError::BadUdpLength,
        WireError::BadPpp,
        WireError::BadPppoe,
        WireError::BadMpls,
        WireError::BadGre,
        WireError::BadGtp,
        WireError::TooManyEncapsulations,
    ];

    /// Stable snake_case counter name, e.g. `"truncated"`, `"bad_ip_version"`.
    pub const fn name(self) -> &'static str {
        match self {
            WireError::Truncated => "truncated",
            WireError::BadLinkHeader => "bad_link_header",
            WireError::TooManyVlanTags => "too_many_vlan_tags",
            WireError::BadIpVersion => "bad_ip_version",
            WireError::BadIpHeaderLength => "bad_ip_header_length",
            WireError::BadIpTotalLength => "bad_ip_total_length",
            WireError::BadFragment => "bad_fragment",
            WireError::TooManyExtensionHeaders => "too_many_extension_headers",
            WireError::BadExtensionHeader => "bad_extension_header",
            WireError::TinyFragment => "tiny_fragment",
            WireError::BadTcpHeaderLength => "bad_tcp_header_length",
            WireError::BadUdpLength => "bad_udp_length",
            WireError::BadPpp => "bad_ppp",
            WireError::BadPppoe => "bad_pppoe",
            WireError::BadMpls => "bad_mpls",
            WireError::BadGre => "bad_gre",
            WireError::BadGtp => "bad_gtp",
            WireError::TooManyEncapsulations => "too_many_encapsulations",
        }
    }

    /// Position of this variant in [`WireError::ALL`]: an index into a counter array.
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn description(self) -> &'static str {
        match self {
            WireError::Truncated => "frame truncated",
            WireError::BadLinkHeader => "bad link-layer header",
            WireError::TooManyVlanTags => "too many VLAN tags",
            WireError::BadIpVersion => "bad IP version",
            WireError::BadIpHeaderLength => "bad IPv4 header length",
            WireError::BadIpTotalLength => "bad IP total length",
            WireError::BadFragment => "bad IP fragment offset or length",
            WireError::TooManyExtensionHeaders => "too many IPv6 extension headers",
            WireError::BadExtensionHeader => "bad IPv6 extension header",
            WireError::TinyFragment => "first fragment too short for its transport header",
            WireError::BadTcpHeaderLength => "bad TCP header length",
            WireError::BadUdpLength => "bad UDP length",
            WireError::BadPpp => "bad PPP protocol field",
            WireError::BadPppoe => "bad PPPoE session header",
            WireError::BadMpls => "MPLS label stack without a bottom",
            WireError::BadGre => "bad GRE header",
            WireError::BadGtp => "bad GTP-U header",
            WireError::TooManyEncapsulations => "too many nested tunnels",
        }
    }
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.description())
    }
}

impl core::error::Error for WireError {}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn all_lists_every_variant_in_order_with_unique_snake_case_names() {
        for (i, e) in WireError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i, "{e:?} out of order");
            let name = e.name();
            assert!(!name.is_empty());
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{name} is not snake_case");
            for other in &WireError::ALL[i + 1..] {
                assert_ne!(name, other.name());
                assert_ne!(e.to_string(), other.to_string());
            }
        }
        // A new variant must be added to ALL: the exhaustive match makes the compiler point here.
        let count = |e: WireError| match e {
            WireError::Truncated
            | WireError::BadLinkHeader
            | WireError::TooManyVlanTags
            | WireError::BadIpVersion
            | WireError::BadIpHeaderLength
            | WireError::BadIpTotalLength
            | WireError::BadFragment
            | WireError::TooManyExtensionHeaders
            | WireError::BadExtensionHeader
            | WireError::TinyFragment
            | WireError::BadTcpHeaderLength
            | WireError::BadUdpLength
            | WireError::BadPpp
            | WireError::BadPppoe
            | WireError::BadMpls
            | WireError::BadGre
            | WireError::BadGtp
            | WireError::TooManyEncapsulations => 18,
        };
        assert_eq!(WireError::ALL.len(), count(WireError::Truncated));
    }

    #[test]
    fn display_is_human_readable() {
        assert_eq!(WireError::Truncated.to_string(), "frame truncated");
        assert_eq!(WireError::BadUdpLength.name(), "bad_udp_length");
    }
}
