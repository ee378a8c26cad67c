//! OpenVPN's control channel reset packets (OpenVPN's `ssl_pkt.h`/`reliable.c` wire format), over
//! UDP (one packet per datagram) and TCP (each packet after a 16-bit length).
//!
//! A session opens with the client's P_CONTROL_HARD_RESET_CLIENT_V2 (opcode 7, key id 0) and the
//! server's P_CONTROL_HARD_RESET_SERVER_V2 (opcode 8). Their layout is fixed: opcode, a non-zero
//! 64-bit session id, with `tls-auth` an HMAC (16, 20, 32 or 64 bytes) and a 32-bit packet id and
//! time, an ACK array (the client: empty; the server: one id and the client's session id), and the
//! message's own packet id, which is 0 for the first message. So the packet's length is one of a
//! handful of exact values, the ACK count is fixed and the message id is zero: with the opcode,
//! about 40 fixed bits and an exact size, which random bytes and other protocols do not pass.
//! (`tls-crypt` encrypts the ACK array and the message id; such sessions are not recognised.)

/// Bytes `tls-auth` adds after the session id: none, or an HMAC and a packet id and time.
const AUTH: [usize; 5] = [0, 16 + 8, 20 + 8, 32 + 8, 64 + 8];

fn reset(p: &[u8]) -> bool {
    let Some(&op) = p.first() else { return false };
    let acks = match op {
        0x38 => 0,
        0x40 => 1,
        _ => return false,
    };
    if p.get(1..9).is_none_or(|s| s.iter().all(|&b| b == 0)) {
        return false;
    }
    AUTH.iter().any(|&h| {
        let ack_at = 9 + h;
        let want = ack_at + 1 + if acks == 1 { 4 + 8 } else { 0 } + 4;
        p.len() == want
            && p[ack_at] == acks
            && p[want - 4..].iter().all(|&b| b == 0)
            && (acks == 0 || p[ack_at + 5..ack_at + 13].iter().any(|&b| b != 0))
    })
}

/// A hard-reset packet in one datagram.
pub(crate) fn is_udp_reset(p: &[u8]) -> bool {
    reset(p)
}

/// A TCP stream that starts with a hard-reset packet after its 16-bit length.
pub(crate) fn is_tcp_reset(p: &[u8]) -> bool {
    let Some(len) = crate::detect::be16(p, 0).map(usize::from) else { return false };
    p.get(2..2 + len).is_some_and(reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    #[test]
    fn resets() {
        // openvpn_nohmac.pcapng and 443-opvn.pcap (nDPI test suite, LGPL-3.0-or-later).
        assert!(is_udp_reset(&hex("3839fded2daa10a4370000000000")));
        assert!(is_udp_reset(&hex("409421917de7267729010000000039fded2daa10a43700000000")));
        assert!(is_tcp_reset(&hex(
            "002a38d67be45be5c201eb016435fcb1d6f60e1ac88b329546dc3c7abf0b9e000000015e3e7b980000000000"
        )));
        assert!(is_tcp_reset(&hex("000e38507a28a78275788d0000000000")));
        assert!(!is_udp_reset(&hex("3839fded2daa10a4370000000001")), "message id 1");
        assert!(!is_udp_reset(&hex("3800000000000000000000000000")), "zero session id");
        assert!(!is_udp_reset(&hex("3839fded2daa10a437000000000000")), "one byte too many");
        assert!(!is_tcp_reset(&hex("000f38507a28a78275788d0000000000")));
    }
}
