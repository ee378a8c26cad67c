//! TeamSpeak 3 voice, its connection handshake (UDP 9987 by default), as the public
//! reverse-engineered specification describes it (ReSpeak's `tsdeclarations`, "TeamSpeak 3
//! protocol", §1 packet header and §2.1 the low-level handshake).
//!
//! Every packet opens with an 8-byte MAC, a 16-bit packet id, (client to server only) a 16-bit
//! client id, and a byte of flags and packet type. The handshake's `Init1` packets are sent in
//! the clear: the MAC is the literal `TS3INIT1`, the packet id is 101, the client id 0 and the
//! flags byte 0x88 (unencrypted, type 8). Their payload is a step number whose layout fixes the
//! packet's length: from the client, a 4-byte version then step 0 (a timestamp, a random number
//! and 8 zero bytes: 34 bytes in all), step 2 (the server's 16 bytes and the echoed random
//! number: 38) or step 4 (the RSA puzzle, at least 314); from the server, step 1 (32 bytes),
//! step 3 (244) or 127 (a restart: 12). A 64-bit literal, the fixed id, client id and flags, and
//! a step that agrees with the length: nothing else sends this. (Later packets are encrypted and
//! not recognised alone; a flow is named from its handshake.)

use crate::detect::be16;

const MAC: &[u8; 8] = b"TS3INIT1";
const INIT_ID: u16 = 101;
const INIT_FLAGS: u8 = 0x88;

/// Is `p` an `Init1` handshake packet, from either side?
pub(crate) fn is_init(p: &[u8]) -> bool {
    if p.get(..8) != Some(&MAC[..]) || be16(p, 8) != Some(INIT_ID) {
        return false;
    }
    let client = be16(p, 10) == Some(0) && p.get(12) == Some(&INIT_FLAGS);
    let server = p.get(10) == Some(&INIT_FLAGS);
    let client_ok = client
        && match p.get(17) {
            Some(0) => p.len() == 34 && p.get(26..34) == Some(&[0u8; 8][..]),
            Some(2) => p.len() == 38,
            Some(4) => p.len() >= 314,
            _ => false,
        };
    let server_ok = server
        && match p.get(11) {
            Some(1) => p.len() == 32,
            Some(3) => p.len() == 244,
            Some(127) => p.len() == 12,
            _ => false,
        };
    client_ok || server_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From teamspeak3.pcap (nDPI test suite, LGPL-3.0-or-later): a client's step 0.
    fn step0() -> Vec<u8> {
        hex("545333494e49543100650000880dd05766005f5916e0ade76b610000000000000000")
    }

    #[test]
    fn handshake_steps() {
        assert!(is_init(&step0()));
        let mut step1 = hex("545333494e4954310065 88 01");
        step1.resize(32, 0x5a);
        assert!(is_init(&step1), "the server's step 1");
        let mut step2 = step0()[..18].to_vec();
        step2[17] = 2;
        step2.resize(38, 0x5a);
        assert!(is_init(&step2));
        let mut step3 = hex("545333494e4954310065 88 03");
        step3.resize(244, 0x5a);
        assert!(is_init(&step3));
    }

    #[test]
    fn rejects_lookalikes() {
        let p = step0();
        assert!(!is_init(&p[..33]), "step 0 is 34 bytes");
        let mut id = step0();
        id[9] = 0x66;
        assert!(!is_init(&id), "packet id 102");
        let mut flags = step0();
        flags[12] = 0x08;
        assert!(!is_init(&flags), "an Init1 is never encrypted");
        let mut zeros = step0();
        zeros[33] = 1;
        assert!(!is_init(&zeros), "step 0 ends in 8 zero bytes");
        let mut step = step0();
        step[17] = 5;
        assert!(!is_init(&step));
        let mut mac = step0();
        mac[7] = b'2';
        assert!(!is_init(&mac));
    }

    proptest::proptest! {
        #[test]
        fn random_bodies_behind_the_mac(body in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let mut p = MAC.to_vec();
            p.extend_from_slice(&body);
            if is_init(&p) {
                proptest::prop_assert!(be16(&p, 8) == Some(INIT_ID));
            }
        }
    }
}
