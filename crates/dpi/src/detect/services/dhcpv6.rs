//! DHCPv6 (RFC 8415).
//!
//! Client/server messages: a message type 1..=11 or 14..=36 (SOLICIT to RECONFIGURE, then the
//! leasequery, bulk, failover and 4o6 types later RFCs add), a 24-bit transaction id, then options
//! (16-bit code >= 1, 16-bit length, value) that must end exactly at the datagram's end. The
//! message must carry what RFC 8415 requires of its type: Elapsed Time (8) in every client message
//! (SOLICIT, REQUEST, CONFIRM, RENEW, REBIND, RELEASE, DECLINE, INFORMATION-REQUEST), Server
//! Identifier (2) in ADVERTISE, REPLY and RECONFIGURE, and a Client or Server Identifier in the
//! later types. A DHCPv4 packet (its magic cookie at byte 236) is never DHCPv6. Relay messages
//! (RELAY-FORW 12, RELAY-REPL 13): a hop count of at most 32 (HOP_COUNT_LIMIT), two 16-byte
//! addresses, then options that end exactly and include a Relay Message option (9).
//!
//! A walk of 16-bit lengths that must land on the datagram's last byte, with a required option
//! among them: random bytes (and DHCPv4, DNS, NTP) fail it.

use crate::detect::be16;

/// Walks options from `pos` to the end; true if they end exactly and one of `want` is present.
fn options(p: &[u8], mut pos: usize, want: &[u16]) -> bool {
    let mut seen = false;
    let mut n = 0;
    while pos < p.len() {
        let (Some(code), Some(len)) = (be16(p, pos), be16(p, pos + 2)) else { return false };
        if code == 0 {
            return false;
        }
        seen |= want.contains(&code);
        pos += 4 + usize::from(len);
        n += 1;
        if n > 64 {
            return false;
        }
    }
    pos == p.len() && seen
}

/// A whole DHCPv6 message in one datagram.
pub(crate) fn is_message(p: &[u8]) -> bool {
    if p.get(236..240) == Some(&[0x63, 0x82, 0x53, 0x63][..]) {
        return false;
    }
    match p.first() {
        Some(1 | 3..=6 | 8 | 9 | 11) => p.len() >= 10 && options(p, 4, &[8]),
        Some(2 | 7 | 10) => p.len() >= 8 && options(p, 4, &[2]),
        Some(14..=36) => p.len() >= 8 && options(p, 4, &[1, 2]),
        Some(12 | 13) => p.len() >= 38 && p[1] <= 32 && options(p, 34, &[9]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    /// A SOLICIT with a Client Identifier (DUID-LL) and an Elapsed Time option.
    pub(crate) fn solicit() -> Vec<u8> {
        hex("01a1b2c3 0001000a00030001 020000000001 000800020000")
    }

    #[test]
    fn messages() {
        assert!(is_message(&solicit()));
        let mut trailing = solicit();
        trailing.push(0);
        assert!(!is_message(&trailing));
        let mut no_elapsed = solicit();
        no_elapsed[19] = 0x03; // the elapsed time becomes an IA_NA
        assert!(!is_message(&no_elapsed));
        let mut advertise = solicit();
        advertise[0] = 2;
        assert!(!is_message(&advertise), "an ADVERTISE names its server");
        let mut bad_type = solicit();
        bad_type[0] = 0;
        assert!(!is_message(&bad_type));
        let mut relay = vec![12, 0];
        relay.extend_from_slice(&[0u8; 32]);
        relay.extend_from_slice(&[0, 9, 0, solicit().len() as u8]);
        relay.extend_from_slice(&solicit());
        assert!(is_message(&relay));
        relay[1] = 40;
        assert!(!is_message(&relay), "hop count beyond the limit");
    }
}
