//! Rx, the RPC transport of AFS and OpenAFS (UDP 7000-7009), proved by a packet and the other
//! side's answer on the same connection.
//!
//! Every Rx packet starts with a 28-byte header: the connection epoch (32 bits), the connection
//! id (32 bits, the low two bits the channel), the call number, the sequence number, the serial
//! number, a packet type (1 DATA .. 13, the types of `rx.h`), flags, user status, a security
//! index (0 none, 1 bcrypt, 2 rxkad, 3-5 later classes), a 16-bit spare or checksum and the
//! service id. The CLIENT_INITIATED flag (0x01) marks every packet the client sends and none the
//! server sends. One header alone is weak; the proof is a packet with CLIENT_INITIATED from one
//! side and an answer from the other without it, under the same epoch and connection id: 64 bits
//! echoed, with both headers valid. Random datagrams, and other UDP protocols' request and
//! answer, do not repeat the other side's first 64 bits so.

use crate::detect::be32;

/// Length of the Rx packet header.
const HEADER: usize = 28;

/// A valid Rx header at the start of `p`: (epoch, connection id, sent by the client).
pub(crate) fn header(p: &[u8]) -> Option<(u32, u32, bool)> {
    let h = p.get(..HEADER)?;
    let (kind, flags, security) = (h[20], h[21], h[23]);
    if !(1..=13).contains(&kind) || security > 5 {
        return None;
    }
    Some((be32(h, 0)?, be32(h, 4)?, flags & 0x01 != 0))
}

/// The client's packet that a server's answer can complete: (epoch, connection id).
pub(crate) fn client_packet(p: &[u8]) -> Option<(u32, u32)> {
    header(p).filter(|h| h.2).map(|(e, c, _)| (e, c))
}

/// Is `p` the server's answer on connection (`epoch`, `cid`)?
pub(crate) fn answers(p: &[u8], epoch: u32, cid: u32) -> bool {
    header(p) == Some((epoch, cid, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    // From rx.pcap (nDPI test suite, LGPL-3.0-or-later): a client's DATA and the server's reply.
    fn call() -> Vec<u8> {
        hex("570fb5605c3fc9880000000100000001000000010105000000000049000001f8")
    }

    fn reply() -> Vec<u8> {
        hex("570fb5605c3fc98800000001000000010000000101040000000000490000000100002711")
    }

    #[test]
    fn a_call_and_its_answer() {
        let (e, c) = client_packet(&call()).unwrap_or_default();
        assert_eq!((e, c), (0x570f_b560, 0x5c3f_c988));
        assert!(answers(&reply(), e, c));
        assert!(client_packet(&reply()).is_none(), "the server's packets are not client-initiated");
    }

    #[test]
    fn rejects_lookalikes() {
        let (e, c) = client_packet(&call()).unwrap_or_default();
        assert!(!answers(&call(), e, c), "the client's own packet echoed back");
        let mut other = reply();
        other[7] ^= 4;
        assert!(!answers(&other, e, c), "another connection");
        let mut kind = reply();
        kind[20] = 14;
        assert!(!answers(&kind, e, c), "packet type 14");
        let mut sec = call();
        sec[23] = 9;
        assert!(client_packet(&sec).is_none(), "security index 9");
        assert!(client_packet(&call()[..27]).is_none());
    }
}
