//! Interface checks made before anything is attached.
//!
//! [`check_pair`] is the start-up gate of the bridge: both NICs exist, differ, have the same
//! queue count (so worker q can own queue q of both) and an MTU whose frames fit one UMEM frame.
//! The decision itself ([`check_pair_info`]) is pure so it is tested without interfaces.

use crate::config::XdpConfig;
use crate::error::XdpError;
use crate::sys;

/// Interface facts checked before anything is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Interface name.
    pub name: String,
    /// Kernel interface index.
    pub ifindex: u32,
    /// Receive queues (ethtool channels: combined + rx-only; 1 if the device reports none).
    pub rx_queues: u32,
    /// Transmit queues (combined + tx-only; 1 if the device reports none).
    pub tx_queues: u32,
    /// MTU in bytes (without the Ethernet header).
    pub mtu: u32,
    /// Driver name as ethtool reports it (`veth`, `ice`, `mlx5_core`, ...); empty if unknown.
    pub driver: String,
}

/// Bytes a full-MTU frame needs beyond the MTU: Ethernet header plus one VLAN tag.
pub const L2_OVERHEAD: u32 = 14 + 4;

/// Reads the facts of `name` in the calling thread's network namespace.
///
/// # Errors
///
/// [`XdpError::NoSuchInterface`] if there is no such interface here; [`XdpError::Os`] if the
/// ioctls fail otherwise.
pub fn interface_info(name: &str) -> Result<InterfaceInfo, XdpError> {
    match sys::if_facts(name) {
        Ok(f) => Ok(InterfaceInfo {
            name: name.to_owned(),
            ifindex: f.ifindex,
            rx_queues: f.rx_queues,
            tx_queues: f.tx_queues,
            mtu: f.mtu,
            driver: f.driver,
        }),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Err(XdpError::NoSuchInterface { name: name.to_owned() }),
        Err(source) => Err(XdpError::Os { what: format!("reading facts of `{name}`"), source }),
    }
}

/// Checks both NICs exist, differ, have the same queue count and an MTU that fits the frame
/// size; returns the queue count (the number of workers to start).
///
/// # Errors
///
/// [`XdpError::Config`] if `cfg` is invalid, [`XdpError::SameInterface`],
/// [`XdpError::NoSuchInterface`], [`XdpError::QueueMismatch`] (whose message says how to fix
/// it with `ethtool -L` and how to set a symmetric RSS key), [`XdpError::MtuTooLarge`].
pub fn check_pair(inside: &str, outside: &str, cfg: &XdpConfig) -> Result<u32, XdpError> {
    cfg.validate()?;
    if inside == outside {
        return Err(XdpError::SameInterface { name: inside.to_owned() });
    }
    let a = interface_info(inside)?;
    let b = interface_info(outside)?;
    check_pair_info(&a, &b, cfg)
}

/// The decision of [`check_pair`] on facts already read.
///
/// # Errors
///
/// As [`check_pair`], except that the config is not validated here.
pub fn check_pair_info(a: &InterfaceInfo, b: &InterfaceInfo, cfg: &XdpConfig) -> Result<u32, XdpError> {
    if a.name == b.name || a.ifindex == b.ifindex {
        return Err(XdpError::SameInterface { name: a.name.clone() });
    }
    if a.rx_queues != b.rx_queues {
        return Err(XdpError::QueueMismatch {
            inside: a.name.clone(),
            inside_queues: a.rx_queues,
            outside: b.name.clone(),
            outside_queues: b.rx_queues,
        });
    }
    for i in [a, b] {
        let frame_len = i.mtu.saturating_add(L2_OVERHEAD);
        if frame_len > cfg.max_frame_len() {
            return Err(XdpError::MtuTooLarge {
                name: i.name.clone(),
                mtu: i.mtu,
                frame_len,
                frame_size: cfg.frame_size,
                max_frame_len: cfg.max_frame_len(),
            });
        }
    }
    Ok(a.rx_queues)
}

/// Turns 802.1Q receive VLAN stripping of `ifname` on or off, returning whether it was on.
///
/// A NIC that strips tags into metadata hides them from XDP, so a bridge forwarding AF_XDP
/// frames would drop the tag: weir turns stripping off on both NICs while it runs and restores
/// it at exit. (802.1ad S-tag parsing, `rx-vlan-stag-hw-parse`, has no legacy ethtool flag; turn
/// it off with `ethtool -K IF rx-vlan-stag-hw-parse off` where the NIC offers it.)
///
/// # Errors
///
/// [`XdpError::NoSuchInterface`]; [`XdpError::Os`] if the driver refuses the change.
pub fn set_rx_vlan_stripping(ifname: &str, on: bool) -> Result<bool, XdpError> {
    sys::set_rx_vlan_stripping(ifname, on).map_err(|source| match source.raw_os_error() {
        Some(libc::ENODEV) => XdpError::NoSuchInterface { name: ifname.to_owned() },
        _ => XdpError::Os {
            what: format!(
                "turning receive VLAN stripping {} on `{ifname}` (try: ethtool -K {ifname} rxvlan {})",
                if on { "on" } else { "off" },
                if on { "on" } else { "off" }
            ),
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, ifindex: u32, q: u32, mtu: u32) -> InterfaceInfo {
        InterfaceInfo { name: name.into(), ifindex, rx_queues: q, tx_queues: q, mtu, driver: "veth".into() }
    }

    #[test]
    fn a_good_pair_returns_its_queue_count() {
        let cfg = XdpConfig::default();
        assert_eq!(check_pair_info(&info("a", 2, 4, 1500), &info("b", 3, 4, 1500), &cfg).unwrap(), 4);
    }

    #[test]
    fn mismatched_queues_say_how_to_fix() {
        let cfg = XdpConfig::default();
        let e = check_pair_info(&info("a", 2, 4, 1500), &info("b", 3, 2, 1500), &cfg).unwrap_err();
        assert!(matches!(e, XdpError::QueueMismatch { inside_queues: 4, outside_queues: 2, .. }));
        assert!(e.to_string().contains("ethtool -L b combined N"), "{e}");
    }

    #[test]
    fn same_interface_is_refused() {
        let cfg = XdpConfig::default();
        let e = check_pair_info(&info("a", 2, 1, 1500), &info("a", 2, 1, 1500), &cfg).unwrap_err();
        assert!(matches!(e, XdpError::SameInterface { .. }));
        assert!(matches!(check_pair("x", "x", &cfg), Err(XdpError::SameInterface { .. })));
    }

    #[test]
    fn mtu_must_fit_the_frame() {
        let cfg = XdpConfig { frame_size: 2048, ..XdpConfig::default() };
        // 2048 - 256 = 1792 bytes of room; 1774 + 18 fits exactly, 1775 does not.
        check_pair_info(&info("a", 2, 1, 1774), &info("b", 3, 1, 1500), &cfg).unwrap();
        let e = check_pair_info(&info("a", 2, 1, 1500), &info("b", 3, 1, 1775), &cfg).unwrap_err();
        assert!(matches!(e, XdpError::MtuTooLarge { mtu: 1775, frame_len: 1793, .. }), "{e:?}");
        assert!(e.to_string().contains("ip link set b mtu"), "{e}");
        let cfg = XdpConfig::default();
        check_pair_info(&info("a", 2, 1, 3822), &info("b", 3, 1, 1500), &cfg).unwrap();
        assert!(check_pair_info(&info("a", 2, 1, 9000), &info("b", 3, 1, 1500), &cfg).is_err());
    }

    #[test]
    fn missing_interface_is_named() {
        let e = interface_info("weir-nope0").unwrap_err();
        assert!(matches!(&e, XdpError::NoSuchInterface { name } if name == "weir-nope0"), "{e:?}");
        let e = check_pair("weir-nope0", "lo", &XdpConfig::default()).unwrap_err();
        assert!(matches!(e, XdpError::NoSuchInterface { .. }));
    }

    #[test]
    fn invalid_config_is_refused_first() {
        let cfg = XdpConfig { batch: 0, ..XdpConfig::default() };
        assert!(matches!(check_pair("a", "b", &cfg), Err(XdpError::Config { key: "batch", .. })));
    }
}
