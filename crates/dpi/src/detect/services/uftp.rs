//! UFTP (multicast file transfer, UDP 1044 by default), versions 4 and 5.
//!
//! Every message starts with a 16-byte header: the version (0x40 or 0x50), the message type, a
//! sequence number, the sender's id, the group id, the group instance, GRTT and group size, and a
//! reserved byte of 0. The message body repeats the type in its first byte and gives its own
//! header length in 32-bit words in its second, which must fit the datagram. The version, a type
//! UFTP defines written twice, the zero byte and the length: about 2^-28 for random bytes, and no
//! other protocol writes its type at offsets 1 and 16. (Encrypted messages, type 80, carry another
//! body and are not recognised alone; a session's announce and file segments are in the clear.)

/// The message types of UFTP 4 and 5 (ANNOUNCE .. KEY_REQ, PROXY_KEY, ABORT, CONG_CTRL, CC_ACK).
fn known_type(t: u8) -> bool {
    matches!(t, 1..=17 | 99..=101)
}

/// Is `p` a whole UFTP message in the clear?
pub(crate) fn is_message(p: &[u8]) -> bool {
    let (Some(&version), Some(&kind), Some(&reserved)) = (p.first(), p.get(1), p.get(15)) else { return false };
    let (Some(&body_kind), Some(&hlen)) = (p.get(16), p.get(17)) else { return false };
    matches!(version, 0x40 | 0x50)
        && known_type(kind)
        && body_kind == kind
        && reserved == 0
        && hlen > 0
        && 16 + usize::from(hlen) * 4 <= p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From uftp_v4_v5.pcap (nDPI test suite, LGPL-3.0-or-later): a v5 ANNOUNCE, a v4 FILESEG.
    fn announce() -> Vec<u8> {
        hex("50010000c0a801ba0211a8c5009d000001060014020005140005a3f6b8393fbee6040401e6050558")
    }

    fn fileseg() -> Vec<u8> {
        let mut p = hex("400900ec0a00000196f4c304006c180009020001000000d6");
        p.resize(300, 0x33);
        p
    }

    #[test]
    fn messages_of_both_versions() {
        assert!(is_message(&announce()));
        assert!(is_message(&fileseg()));
    }

    #[test]
    fn rejects_lookalikes() {
        let mut p = announce();
        p[16] = 2;
        assert!(!is_message(&p), "the body's type differs");
        let mut p = announce();
        p[15] = 1;
        assert!(!is_message(&p), "reserved byte set");
        let mut p = announce();
        p[0] = 0x30;
        assert!(!is_message(&p), "version 3 has another header");
        let mut p = announce();
        p[17] = 200;
        assert!(!is_message(&p), "body header past the datagram");
        assert!(!is_message(&announce()[..17]));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_and_random_fields(mut p in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
                                          version in proptest::sample::select(vec![0x40u8, 0x50])) {
            proptest::prop_assert!(!is_message(&p) || p[1] == p[16]);
            // A UFTP header with random fields after it passes only if the body's type agrees.
            if p.len() > 18 {
                p[0] = version;
                p[15] = 0;
                if is_message(&p) {
                    proptest::prop_assert!(p[1] == p[16] && known_type(p[1]));
                }
            }
        }
    }
}
