//! In-place rewrites of the IP header's DS field (RFC 2474) in an Ethernet frame: the DSCP mark
//! of a class, and the ECN CE mark (RFC 3168) that CoDel sets on ECN-capable packets instead of
//! dropping them.
//!
//! Contract: the functions here walk Ethernet and any stacked 802.1Q/802.1ad tags (at most
//! [`MAX_VLAN_DEPTH`]) to the IP header, change only the bits they own, and keep the frame valid:
//! the IPv4 header checksum is updated incrementally (RFC 1624, [`checksum::update`]), so the
//! result equals a full recomputation; IPv6 has no header checksum, and TCP/UDP checksums do not
//! cover the DS field. DSCP rewrites keep the two ECN bits; CE marking keeps the six DSCP bits.
//! A frame that is not IP, or whose IP header is cut short, is left untouched and reported; no
//! input panics.

use crate::checksum;
use crate::error::WireError;
use crate::ethernet::EtherType;
use crate::vlan::MAX_VLAN_DEPTH;

/// The two ECN bits of the DS field (RFC 3168 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ecn {
    /// 00: the sender does not do ECN.
    NotEct,
    /// 01: ECN-capable transport, ECT(1) (L4S senders use it).
    Ect1,
    /// 10: ECN-capable transport, ECT(0).
    Ect0,
    /// 11: congestion experienced.
    Ce,
}

impl Ecn {
    /// From the low two bits of the DS field.
    pub const fn from_bits(bits: u8) -> Ecn {
        match bits & 0b11 {
            0b00 => Ecn::NotEct,
            0b01 => Ecn::Ect1,
            0b10 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// Whether a router may mark this packet CE instead of dropping it (ECT(0), ECT(1), or CE
    /// already).
    pub const fn is_capable(self) -> bool {
        !matches!(self, Ecn::NotEct)
    }
}

/// Which IP version a frame carries, and where its header starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeader {
    /// Offset of the IP header in the frame.
    pub offset: usize,
    /// 4 or 6.
    pub version: u8,
}

/// What a rewrite did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// The field changed (and the IPv4 checksum with it).
    Changed,
    /// The field already had the value: nothing written.
    Unchanged,
    /// Not an IP frame (ARP, LLDP, ...): nothing written.
    NotIp,
    /// CE marking only: the packet is not ECN-capable, nothing written (drop it instead).
    NotEcnCapable,
}

/// Walk Ethernet and stacked VLAN tags to the IP header. `Ok(None)`: not IP.
///
/// # Errors
/// [`WireError::Truncated`] if the frame ends inside a header, [`WireError::TooManyVlanTags`],
/// [`WireError::BadIpVersion`] if the version nibble does not match the EtherType, and
/// [`WireError::BadIpHeaderLength`] for an IPv4 IHL below 5 or past the frame.
pub fn locate_ip(frame: &[u8]) -> Result<Option<IpHeader>, WireError> {
    let mut at = 12usize;
    let mut depth = 0u8;
    loop {
        let ty = frame.get(at..at + 2).ok_or(WireError::Truncated)?;
        let ty = EtherType::from(u16::from_be_bytes([ty[0], ty[1]]));
        at += 2;
        if ty.is_vlan_tag() {
            if depth >= MAX_VLAN_DEPTH {
                return Err(WireError::TooManyVlanTags);
            }
            depth += 1;
            at += 2; // the TCI; the next EtherType follows
            continue;
        }
        let version = match u16::from(ty) {
            0x0800 => 4,
            0x86DD => 6,
            _ => return Ok(None),
        };
        let first = *frame.get(at).ok_or(WireError::Truncated)?;
        if first >> 4 != version {
            return Err(WireError::BadIpVersion);
        }
        let need = if version == 4 {
            let ihl = usize::from(first & 0x0f) * 4;
            if ihl < 20 {
                return Err(WireError::BadIpHeaderLength);
            }
            ihl
        } else {
            40
        };
        if frame.len() < at + need {
            return Err(WireError::Truncated);
        }
        return Ok(Some(IpHeader { offset: at, version }));
    }
}

/// The DS field (DSCP << 2 | ECN) of the IP header at `ip`.
fn ds_field(frame: &[u8], ip: IpHeader) -> Option<u8> {
    match ip.version {
        4 => frame.get(ip.offset + 1).copied(),
        _ => {
            let b = frame.get(ip.offset..ip.offset + 2)?;
            Some((b[0] << 4) | (b[1] >> 4))
        }
    }
}

/// Write the DS field, updating the IPv4 checksum incrementally. `ip` comes from [`locate_ip`],
/// which checked the header is in the frame.
fn write_ds_field(frame: &mut [u8], ip: IpHeader, ds: u8) {
    let o = ip.offset;
    match ip.version {
        4 => {
            let (Some(&b0), Some(&old_ds), Some(ck)) = (frame.get(o), frame.get(o + 1), frame.get(o + 10..o + 12))
            else {
                return;
            };
            let old_word = u16::from_be_bytes([b0, old_ds]);
            let new_word = u16::from_be_bytes([b0, ds]);
            let sum = checksum::update(u16::from_be_bytes([ck[0], ck[1]]), old_word, new_word);
            if let Some(slot) = frame.get_mut(o + 1) {
                *slot = ds;
            }
            if let Some(slot) = frame.get_mut(o + 10..o + 12) {
                slot.copy_from_slice(&sum.to_be_bytes());
            }
        }
        _ => {
            if let Some(b) = frame.get_mut(o..o + 2) {
                // Version (4 bits) | traffic class (8) | flow label (20): the class straddles
                // the first two bytes.
                b[0] = (b[0] & 0xf0) | (ds >> 4);
                b[1] = (b[1] & 0x0f) | (ds << 4);
            }
        }
    }
}

/// The ECN bits of an Ethernet frame's IP header; `Ok(None)` if it is not IP.
///
/// # Errors
/// As [`locate_ip`].
pub fn ecn(frame: &[u8]) -> Result<Option<Ecn>, WireError> {
    Ok(locate_ip(frame)?.and_then(|ip| ds_field(frame, ip)).map(Ecn::from_bits))
}

/// The DSCP of an Ethernet frame's IP header; `Ok(None)` if it is not IP.
///
/// # Errors
/// As [`locate_ip`].
pub fn dscp(frame: &[u8]) -> Result<Option<u8>, WireError> {
    Ok(locate_ip(frame)?.and_then(|ip| ds_field(frame, ip)).map(|ds| ds >> 2))
}

/// Set the DSCP (0..=63; higher bits are ignored) of an Ethernet frame's IP header, keeping the
/// ECN bits.
///
/// # Errors
/// As [`locate_ip`]; the frame is then unchanged.
pub fn set_dscp(frame: &mut [u8], dscp: u8) -> Result<Rewrite, WireError> {
    let Some(ip) = locate_ip(frame)? else { return Ok(Rewrite::NotIp) };
    let Some(old) = ds_field(frame, ip) else { return Err(WireError::Truncated) };
    let new = ((dscp & 0x3f) << 2) | (old & 0b11);
    if new == old {
        return Ok(Rewrite::Unchanged);
    }
    write_ds_field(frame, ip, new);
    Ok(Rewrite::Changed)
}

/// Mark an ECN-capable packet Congestion Experienced, keeping its DSCP. A packet that is not
/// ECN-capable is left alone ([`Rewrite::NotEcnCapable`]: the caller drops it instead); one
/// already CE is [`Rewrite::Unchanged`].
///
/// # Errors
/// As [`locate_ip`]; the frame is then unchanged.
pub fn set_ce(frame: &mut [u8]) -> Result<Rewrite, WireError> {
    let Some(ip) = locate_ip(frame)? else { return Ok(Rewrite::NotIp) };
    let Some(old) = ds_field(frame, ip) else { return Err(WireError::Truncated) };
    match Ecn::from_bits(old) {
        Ecn::NotEct => Ok(Rewrite::NotEcnCapable),
        Ecn::Ce => Ok(Rewrite::Unchanged),
        Ecn::Ect0 | Ecn::Ect1 => {
            write_ds_field(frame, ip, old | 0b11);
            Ok(Rewrite::Changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An Ethernet frame with `tags` VLAN tags and an IPv4 header (with `options` words of
    /// options) whose checksum is correct, then a few payload bytes.
    fn v4_frame(tags: &[u16], tos: u8, options: usize, seed: u32) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for &tpid in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&[0x00, 0x64]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        let ihl = 5 + options;
        let total = (ihl * 4 + 8) as u16;
        let ip_at = f.len();
        f.push(0x40 | ihl as u8);
        f.push(tos);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&seed.to_be_bytes()); // id, flags + fragment offset
        f.extend_from_slice(&[64, 6, 0, 0]); // TTL, protocol TCP, checksum 0
        f.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
        for i in 0..options {
            f.extend_from_slice(&[1, 1, 1, i as u8]);
        }
        let ck = checksum::checksum(&f[ip_at..ip_at + ihl * 4]);
        f[ip_at + 10..ip_at + 12].copy_from_slice(&ck.to_be_bytes());
        f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        f
    }

    fn v6_frame(tags: &[u16], tclass: u8, flow: u32) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for &tpid in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&[0x00, 0x64]);
        }
        f.extend_from_slice(&[0x86, 0xdd]);
        let word = (6u32 << 28) | (u32::from(tclass) << 20) | (flow & 0xfffff);
        f.extend_from_slice(&word.to_be_bytes());
        f.extend_from_slice(&[0, 8, 17, 64]);
        f.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        f
    }

    fn v4_checksum_ok(frame: &[u8]) -> bool {
        let ip = locate_ip(frame).unwrap().unwrap();
        let ihl = usize::from(frame[ip.offset] & 0x0f) * 4;
        checksum::data(&frame[ip.offset..ip.offset + ihl]) == 0xffff
    }

    #[test]
    fn dscp_rewrite_keeps_ecn_and_the_checksum_valid() {
        let mut f = v4_frame(&[], 0b0000_0010, 0, 7); // DSCP 0, ECT(0)
        assert_eq!(set_dscp(&mut f, 8).unwrap(), Rewrite::Changed); // CS1
        assert_eq!(dscp(&f).unwrap(), Some(8));
        assert_eq!(ecn(&f).unwrap(), Some(Ecn::Ect0));
        assert_eq!(f[15], 0b0010_0010);
        assert!(v4_checksum_ok(&f));
        assert_eq!(set_dscp(&mut f, 8).unwrap(), Rewrite::Unchanged);
    }

    #[test]
    fn vlan_and_stacked_vlan_frames_are_marked_at_the_right_offset() {
        for tags in [&[0x8100][..], &[0x88a8, 0x8100], &[0x8100, 0x8100, 0x8100, 0x8100]] {
            let mut f = v4_frame(tags, 0b1011_1001, 2, 99); // DSCP 46 (EF), ECT(1)
            let before = f.clone();
            assert_eq!(set_dscp(&mut f, 10).unwrap(), Rewrite::Changed);
            assert_eq!(dscp(&f).unwrap(), Some(10));
            assert_eq!(ecn(&f).unwrap(), Some(Ecn::Ect1));
            assert!(v4_checksum_ok(&f));
            let ip = 14 + 4 * tags.len();
            let changed: Vec<usize> = (0..f.len()).filter(|&i| f[i] != before[i]).collect();
            assert!(changed.iter().all(|&i| i == ip + 1 || i == ip + 10 || i == ip + 11), "{changed:?}");
            let mut g = v6_frame(tags, 0b0000_0001, 0xabcde);
            assert_eq!(set_dscp(&mut g, 46).unwrap(), Rewrite::Changed);
            assert_eq!(dscp(&g).unwrap(), Some(46));
            assert_eq!(ecn(&g).unwrap(), Some(Ecn::Ect1));
            let word = u32::from_be_bytes([g[ip], g[ip + 1], g[ip + 2], g[ip + 3]]);
            assert_eq!(word >> 28, 6, "version kept");
            assert_eq!(word & 0xfffff, 0xabcde, "flow label kept");
        }
        let five = [0x8100u16; 5];
        assert_eq!(set_dscp(&mut v4_frame(&five, 0, 0, 1), 8), Err(WireError::TooManyVlanTags));
    }

    #[test]
    fn ce_marking_only_touches_ect_packets() {
        let mut f = v4_frame(&[0x8100], (18 << 2) | 0b10, 0, 3); // AF21, ECT(0)
        assert_eq!(set_ce(&mut f).unwrap(), Rewrite::Changed);
        assert_eq!(ecn(&f).unwrap(), Some(Ecn::Ce));
        assert_eq!(dscp(&f).unwrap(), Some(18));
        assert!(v4_checksum_ok(&f));
        assert_eq!(set_ce(&mut f).unwrap(), Rewrite::Unchanged);
        let mut n = v4_frame(&[], 18 << 2, 0, 3);
        let before = n.clone();
        assert_eq!(set_ce(&mut n).unwrap(), Rewrite::NotEcnCapable);
        assert_eq!(n, before);
        let mut g = v6_frame(&[], 0b10, 1);
        assert_eq!(set_ce(&mut g).unwrap(), Rewrite::Changed);
        assert_eq!(ecn(&g).unwrap(), Some(Ecn::Ce));
    }

    #[test]
    fn non_ip_and_broken_frames_are_left_alone() {
        let mut arp = vec![0u8; 60];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let before = arp.clone();
        assert_eq!(set_dscp(&mut arp, 8).unwrap(), Rewrite::NotIp);
        assert_eq!(set_ce(&mut arp).unwrap(), Rewrite::NotIp);
        assert_eq!(arp, before);
        let full = v4_frame(&[0x8100], 0, 0, 1);
        for cut in 0..38 {
            let mut short = full[..cut].to_vec();
            assert_eq!(set_dscp(&mut short, 8), Err(WireError::Truncated), "cut at {cut}");
            assert_eq!(short, full[..cut]);
        }
        let mut wrong = v4_frame(&[], 0, 0, 1);
        wrong[14] = 0x65; // version 6 under EtherType IPv4
        assert_eq!(set_dscp(&mut wrong, 8), Err(WireError::BadIpVersion));
        let mut ihl = v4_frame(&[], 0, 0, 1);
        ihl[14] = 0x44;
        assert_eq!(set_dscp(&mut ihl, 8), Err(WireError::BadIpHeaderLength));
    }

    proptest! {
        /// RFC 1624: the incrementally updated checksum equals a full recomputation, for random
        /// headers (any TOS, options, id), any DSCP, with and without tags, also CE marking.
        #[test]
        fn incremental_checksum_equals_recomputed(
            tos in any::<u8>(), dscp_new in 0u8..64, options in 0usize..=10, seed in any::<u32>(),
            tags in proptest::collection::vec(prop_oneof![Just(0x8100u16), Just(0x88a8u16)], 0..=4),
            ttl in any::<u8>(), proto in any::<u8>(), src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(),
        ) {
            let mut f = v4_frame(&tags, tos, options, seed);
            let ip = 14 + 4 * tags.len();
            f[ip + 8] = ttl;
            f[ip + 9] = proto;
            f[ip + 12..ip + 16].copy_from_slice(&src);
            f[ip + 16..ip + 20].copy_from_slice(&dst);
            let ihl = (5 + options) * 4;
            f[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
            let ck = checksum::checksum(&f[ip..ip + ihl]);
            f[ip + 10..ip + 12].copy_from_slice(&ck.to_be_bytes());

            set_dscp(&mut f, dscp_new).unwrap();
            set_ce(&mut f).unwrap();
            let incremental = u16::from_be_bytes([f[ip + 10], f[ip + 11]]);
            let mut zeroed = f[ip..ip + ihl].to_vec();
            zeroed[10..12].copy_from_slice(&[0, 0]);
            let recomputed = checksum::checksum(&zeroed);
            prop_assert_eq!(incremental, recomputed);
            prop_assert_eq!(f[ip + 1] >> 2, dscp_new);
            let ecn_before = tos & 0b11;
            prop_assert_eq!(f[ip + 1] & 0b11, if ecn_before == 0 { 0 } else { 0b11 });
        }

        /// No input panics, and a rewrite never changes the frame's length or any byte outside
        /// the DS field and the IPv4 checksum.
        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..128), d in any::<u8>()) {
            let before = bytes.clone();
            let at = locate_ip(&bytes);
            let _ = set_dscp(&mut bytes, d);
            let _ = set_ce(&mut bytes);
            prop_assert_eq!(bytes.len(), before.len());
            if let Ok(Some(ip)) = at {
                for (i, (a, b)) in bytes.iter().zip(&before).enumerate() {
                    let allowed = if ip.version == 4 {
                        i == ip.offset + 1 || i == ip.offset + 10 || i == ip.offset + 11
                    } else {
                        i == ip.offset || i == ip.offset + 1
                    };
                    prop_assert!(a == b || allowed, "byte {} changed", i);
                }
            } else {
                prop_assert_eq!(bytes, before);
            }
        }
    }
}
