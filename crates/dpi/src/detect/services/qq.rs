//! Tencent QQ's classic UDP protocol (OICQ, UDP 8000), as Wireshark's OICQ dissector describes it.
//!
//! A packet starts with the flag 0x02, a 16-bit client version, a 16-bit command, a 16-bit
//! sequence number and the 32-bit QQ number, and ends with the flag 0x03. The command must be one
//! the protocol defines (log out, keep-alive, user info and search, friends and groups, messages,
//! log in and its key requests, status). Two flag bytes at both ends of the datagram, a command
//! from a list of about forty of 65536 values and a non-zero version and QQ number: random bytes
//! pass with about 10^-8, and no other protocol is framed so.

use crate::detect::{be16, be32};

fn known_command(c: u16) -> bool {
    matches!(
        c,
        0x0001..=0x0006
            | 0x0009..=0x000d
            | 0x0012
            | 0x0016..=0x001d
            | 0x0021
            | 0x0022
            | 0x0026
            | 0x0027
            | 0x0029
            | 0x0030
            | 0x0031
            | 0x003c..=0x003e
            | 0x0058
            | 0x005c
            | 0x0062
            | 0x0065
            | 0x0067
            | 0x0080
            | 0x0081
            | 0x00b5
    )
}

/// An OICQ packet in one datagram.
pub(crate) fn is_packet(p: &[u8]) -> bool {
    p.len() >= 12
        && p[0] == 0x02
        && p.last() == Some(&0x03)
        && be16(p, 1).is_some_and(|v| v != 0)
        && be16(p, 3).is_some_and(known_command)
        && be32(p, 7).is_some_and(|qq| qq != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn packets() {
        let mut p = hex("023b0b00010017561f0c7b00");
        p.extend_from_slice(&[0x55; 30]);
        p.push(0x03);
        assert!(is_packet(&p));
        let mut bad_cmd = p.clone();
        bad_cmd[4] = 0x07;
        assert!(!is_packet(&bad_cmd));
        p.pop();
        assert!(!is_packet(&p), "no closing flag");
    }
}
