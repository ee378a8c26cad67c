//! ONC RPC (Sun RPC, RFC 5531) calls and replies: NFS and its helper programs, and the rest.
//!
//! A call: XID, message type 0, RPC version 2, program, program version, procedure, then two
//! authentication blocks (credential and verifier), each a flavor RFC 5531 and its successors
//! define (AUTH_NONE 0, AUTH_SYS 1, AUTH_SHORT 2, AUTH_DH 3, RPCSEC_GSS 6, AUTH_TLS 7) and a body
//! length of at most 400 bytes (the protocol's own limit) that fits in the datagram. Over UDP the
//! call is the whole datagram; over TCP it follows a 4-byte record mark (last-fragment bit and a
//! length of at least the call's header). The message type and RPC version (64 fixed bits), the
//! flavors and the bounded lengths leave random bytes no chance, and are exactly what lookalikes
//! lack: a BitTorrent UDP tracker request has its 64-bit protocol magic or connection id where a
//! call has `0, 2`.
//!
//! A reply: XID, message type 1, reply status 0 (accepted: a verifier of a known flavor, an accept
//! status 0..=5) or 1 (denied: reject status 0 or 1 and its fields). Also 64 bits of small fixed
//! values; a reply names no program, so alone it says "ONC RPC".
//!
//! Programs 100003 (NFS), 100005 (mount), 100021 (lock manager), 100024 (status monitor) and 100227
//! (NFS ACL) are NFS's; any other program is ONC RPC.

use crate::detect::be32;

/// What an RPC message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rpc {
    /// A call to one of NFS's programs.
    NfsCall,
    /// A call to another program.
    OtherCall,
    /// A reply.
    Reply,
}

fn flavor_ok(f: u32) -> bool {
    matches!(f, 0..=3 | 6 | 7)
}

/// Checks an authentication block at `pos`; returns the position after it.
fn auth(p: &[u8], pos: usize, whole: bool) -> Option<usize> {
    let (flavor, len) = (be32(p, pos)?, be32(p, pos + 4)?);
    if !flavor_ok(flavor) || len > 400 {
        return None;
    }
    // XDR pads opaque data to a multiple of 4 bytes.
    let end = pos + 8 + ((len as usize + 3) & !3);
    (!whole || end <= p.len()).then_some(end)
}

fn is_nfs_program(prog: u32) -> bool {
    matches!(prog, 100_003 | 100_005 | 100_021 | 100_024 | 100_227)
}

/// Parses a call or reply at the start of `p`. `whole`: `p` is the whole message (UDP); else it
/// may be the first segment of a longer one.
pub(crate) fn message(p: &[u8], whole: bool) -> Option<Rpc> {
    let kind = be32(p, 4)?;
    match kind {
        0 => {
            if be32(p, 8)? != 2 {
                return None;
            }
            let prog = be32(p, 12)?;
            let vers = be32(p, 16)?;
            if !(100_000..=0x5fff_ffff).contains(&prog) || vers == 0 || vers > 64 {
                return None;
            }
            let cred_end = auth(p, 24, whole)?;
            // The verifier must be in view too, unless the first segment is full and long.
            let verf = auth(p, cred_end, whole);
            if verf.is_none() && (whole || p.len() >= cred_end + 8) {
                return None;
            }
            Some(if is_nfs_program(prog) { Rpc::NfsCall } else { Rpc::OtherCall })
        }
        1 => match be32(p, 8)? {
            0 => {
                let end = auth(p, 12, whole)?;
                let stat = be32(p, end)?;
                (stat <= 5).then_some(Rpc::Reply)
            }
            1 => {
                let reject = be32(p, 12)?;
                let ok = match reject {
                    // RPC_MISMATCH: the lowest and highest versions supported.
                    0 => be32(p, 16).is_some_and(|lo| lo <= 2) && be32(p, 20).is_some_and(|hi| (2..16).contains(&hi)),
                    // AUTH_ERROR: an auth_stat of RFC 5531 or RPCSEC_GSS.
                    1 => be32(p, 16).is_some_and(|s| s <= 15),
                    _ => false,
                };
                ok.then_some(Rpc::Reply)
            }
            _ => None,
        },
        _ => None,
    }
}

/// An RPC message filling one UDP datagram.
pub(crate) fn udp(p: &[u8]) -> Option<Rpc> {
    if p.len() < 24 {
        return None;
    }
    message(p, true)
}

/// An RPC message after the record mark at the start of a TCP stream.
pub(crate) fn tcp_start(p: &[u8]) -> Option<Rpc> {
    let mark = be32(p, 0)?;
    let len = mark & 0x7fff_ffff;
    if !(24..=(1 << 24)).contains(&len) {
        return None;
    }
    let body = p.get(4..)?;
    let body = &body[..body.len().min(len as usize)];
    message(body, body.len() == len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::services::hex;

    /// NFSv2 GETATTR call with AUTH_SYS (nfsv2.pcap, nDPI test suite, LGPL-3.0-or-later).
    pub(crate) fn nfs_call() -> Vec<u8> {
        let mut c = hex("5e1d0b940000000000000002000186a30000000200000001");
        c.extend_from_slice(&hex("00000001000000143847 75d0 00000000 00000000 00000000 00000000"));
        c.extend_from_slice(&hex("0000000000000000"));
        c.extend_from_slice(&[0x11; 32]);
        c
    }

    #[test]
    fn calls() {
        assert_eq!(udp(&nfs_call()), Some(Rpc::NfsCall));
        let mut portmap = nfs_call();
        portmap[12..16].copy_from_slice(&100_000u32.to_be_bytes());
        assert_eq!(udp(&portmap), Some(Rpc::OtherCall));
        let mut bad_version = nfs_call();
        bad_version[11] = 3;
        assert_eq!(udp(&bad_version), None);
        let mut bad_flavor = nfs_call();
        bad_flavor[27] = 9;
        assert_eq!(udp(&bad_flavor), None);
        let mut long_cred = nfs_call();
        long_cred[28..32].copy_from_slice(&800u32.to_be_bytes());
        assert_eq!(udp(&long_cred), None);
        // A BitTorrent UDP tracker connect request is no call.
        let tracker = hex("0000041727101980000000000000abcd");
        assert_eq!(udp(&tracker), None);
    }

    #[test]
    fn replies() {
        let accepted = hex("5e1d0b94000000010000000000000000000000000000000000000002000041ed");
        assert_eq!(udp(&accepted), Some(Rpc::Reply));
        let mut bad_stat = accepted.clone();
        bad_stat[23] = 9;
        assert_eq!(udp(&bad_stat), None);
    }

    #[test]
    fn tcp() {
        let c = nfs_call();
        let mut framed = (0x8000_0000u32 | c.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&c);
        assert_eq!(tcp_start(&framed), Some(Rpc::NfsCall));
        assert_eq!(tcp_start(&framed[..40]), Some(Rpc::NfsCall), "the header decides");
        assert_eq!(tcp_start(&c), None, "no record mark");
    }
}
