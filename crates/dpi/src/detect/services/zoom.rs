//! Zoom's media connections to its servers (UDP 8801..8810): the exchange that opens one.
//!
//! Zoom wraps everything it sends to a multimedia router in its "SFU encapsulation" (Michel et
//! al., "Enabling Passive Measurement of Zoom Performance in Production Networks", IMC 2022; the
//! Princeton zoom-analysis dissector; nDPI's zoom.c): a type byte, a 16-bit sequence number, and
//! for media (type 5) an inner header with an RTP packet inside. A connection opens with the client's
//! type 1 packet, which carries a 16-byte connection token at bytes 3..19, and the server's type 2
//! answer, which echoes that token at the same place (the captures of two Zoom versions in
//! nDPI's test suite show it on every connection; nDPI matches the first three bytes of either).
//!
//! The proof is that pair: type 1 with a zero second byte from one side, then type 2 with a zero
//! second byte from the other, echoing the first 64 bits of the token. A 64-bit echo from the
//! other side of the flow does not happen by chance, and no other protocol answers a type-1
//! datagram with a type-2 one echoing bytes 3..11. Media packets alone (a connection picked up
//! after its opening) are left unknown: their inner layouts differ between Zoom versions, and
//! the RTP inside them is already what weir's RTP detector proves by two packets of one stream.

/// The smallest opening packets seen (the answer is 43 bytes and up); both hold the whole token.
const MIN_LEN: usize = 24;

/// The first 64 bits of the token of a client's type 1 packet, if `p` is one.
pub(crate) fn hello(p: &[u8]) -> Option<u64> {
    token(p, 1)
}

/// The first 64 bits of the token a server's type 2 packet echoes, if `p` is one.
pub(crate) fn answer(p: &[u8]) -> Option<u64> {
    token(p, 2)
}

fn token(p: &[u8], kind: u8) -> Option<u64> {
    if p.len() < MIN_LEN || p[0] != kind || p[1] != 0 {
        return None;
    }
    let t: [u8; 8] = p.get(3..11)?.try_into().ok()?;
    Some(u64::from_be_bytes(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From zoom2.pcap (nDPI test suite, LGPL-3.0-or-later): the client's type 1 packet (cut to
    // its first 64 bytes) and the server's 44-byte type 2 answer.
    fn client_hello() -> Vec<u8> {
        hex("010003c84ac4528718cda2b8477a1b899f33830000000000000002006f613f006f613f00000040e6d766f594f24c8c930246
             0b02e7de2892e09de53c")
    }

    fn server_answer() -> Vec<u8> {
        hex("020003c84ac4528718cda2b8477a1b899f3383004f8378006f613f0000000000000000004000400003e00300")
    }

    #[test]
    fn the_answer_echoes_the_hello() {
        let h = hello(&client_hello());
        assert!(h.is_some());
        assert_eq!(answer(&server_answer()), h);
        assert_eq!(answer(&client_hello()), None, "a hello is no answer");
        assert_eq!(hello(&server_answer()), None);
        // zoom.pcap, another version: second bytes 00 02 and 00 01.
        let h = hex("0100027d464d35fffda234495d0d6d3b51e8960000000000000002007a002a007a002a000000400e173ddf");
        let a = hex("0200017d464d35fffda234495d0d6d3b51e896005a0e3e007a002a0000000000000000");
        assert_eq!(hello(&h), answer(&a));
    }

    #[test]
    fn near_misses() {
        let mut p = server_answer();
        p[1] = 1;
        assert_eq!(answer(&p), None, "second byte set");
        assert_eq!(answer(&server_answer()[..23]), None, "too short");
        let mut p = server_answer();
        p[5] ^= 1;
        assert_ne!(answer(&p), hello(&client_hello()), "the token differs");
        // A media packet (type 5) is neither.
        let m = hex("050002004f83780415010000000000000033010dff00005cfb00e800000003e80000000001010101");
        assert_eq!((hello(&m), answer(&m)), (None, None));
    }
}
