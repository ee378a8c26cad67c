//! Control-plane errors. Each names the interface (and queue) it is about and says how to fix it.

use std::io;

/// Everything that can go wrong while checking interfaces, opening, waiting on or closing
/// sockets. The data path ([`crate::QueuePair::poll`]) has no error: it counts instead.
#[derive(thiserror::Error, Debug)]
pub enum XdpError {
    /// The interface does not exist in this network namespace.
    #[error("no such interface `{name}` (check `ip link`, and that this runs in the right network namespace)")]
    NoSuchInterface {
        /// The name asked for.
        name: String,
    },
    /// The two interfaces have different queue counts, so RSS could not pair queue q with queue q.
    #[error(
        "`{inside}` has {inside_queues} rx queues but `{outside}` has {outside_queues}: give both the same count \
         (`ethtool -L {inside} combined N` and `ethtool -L {outside} combined N`), and where the NICs support it \
         set the same symmetric RSS key on both (`ethtool -X IF hkey 6d:5a:6d:5a:...` repeated to the key length) \
         so both directions of a flow land on the same queue"
    )]
    QueueMismatch {
        /// Inside interface.
        inside: String,
        /// Its rx queue count.
        inside_queues: u32,
        /// Outside interface.
        outside: String,
        /// Its rx queue count.
        outside_queues: u32,
    },
    /// Inside and outside name the same interface.
    #[error("inside and outside are both `{name}`: a bridge needs two different interfaces")]
    SameInterface {
        /// The interface named twice.
        name: String,
    },
    /// A full-MTU frame would not fit one UMEM frame, and AF_XDP would drop it.
    #[error(
        "`{name}` has MTU {mtu}: a {frame_len}-byte frame does not fit the {max_frame_len} bytes a \
         {frame_size}-byte UMEM frame leaves; lower the MTU (`ip link set {name} mtu N`) or use frame_size 4096"
    )]
    MtuTooLarge {
        /// Interface.
        name: String,
        /// Its MTU.
        mtu: u32,
        /// MTU plus Ethernet and one VLAN header.
        frame_len: u32,
        /// Configured frame size.
        frame_size: u32,
        /// Room for packet data in one frame.
        max_frame_len: u32,
    },
    /// The kernel or driver cannot do what was asked.
    #[error(
        "AF_XDP not supported on `{name}` queue {queue}: {what} (kernel lacks AF_XDP (CONFIG_XDP_SOCKETS), or the driver lacks this mode; try xdp_mode/bind_mode auto)"
    )]
    NotSupported {
        /// Interface.
        name: String,
        /// Queue index.
        queue: u32,
        /// What was refused.
        what: &'static str,
    },
    /// The queue stayed busy after retrying (another AF_XDP socket or a slow teardown).
    #[error(
        "`{name}` queue {queue} is busy after retrying for {waited_ms} ms: another AF_XDP socket holds it (is another weir running?)"
    )]
    Busy {
        /// Interface.
        name: String,
        /// Queue index.
        queue: u32,
        /// How long we retried.
        waited_ms: u64,
    },
    /// Missing privileges.
    #[error("permission denied on `{name}` ({what}): run as root or with CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF")]
    PermissionDenied {
        /// Interface.
        name: String,
        /// What was refused.
        what: &'static str,
    },
    /// A configuration value is unusable.
    #[error("invalid xdp config `{key}`: {reason}")]
    Config {
        /// The offending key, as named in [`crate::XdpConfig`].
        key: &'static str,
        /// Why, and what would be accepted.
        reason: String,
    },
    /// Any other OS error.
    #[error("{what}: {source}")]
    Os {
        /// What was being done, naming the interface and queue.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl XdpError {
    /// Maps an errno from an operation on `name`/`queue` to the most helpful variant.
    pub(crate) fn from_os(name: &str, queue: u32, what: &'static str, source: io::Error) -> XdpError {
        match source.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => XdpError::PermissionDenied { name: name.to_owned(), what },
            Some(libc::EAFNOSUPPORT) | Some(libc::EOPNOTSUPP) | Some(libc::EPROTONOSUPPORT) => {
                XdpError::NotSupported { name: name.to_owned(), queue, what }
            }
            Some(libc::ENODEV) | Some(libc::ENXIO) => XdpError::NoSuchInterface { name: name.to_owned() },
            _ => XdpError::Os { what: format!("{what} on `{name}` queue {queue}"), source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        let e = |n| XdpError::from_os("eth9", 3, "bind", io::Error::from_raw_os_error(n));
        assert!(matches!(e(libc::EPERM), XdpError::PermissionDenied { .. }));
        assert!(matches!(e(libc::EAFNOSUPPORT), XdpError::NotSupported { queue: 3, .. }));
        assert!(matches!(e(libc::ENODEV), XdpError::NoSuchInterface { .. }));
        let other = e(libc::EINVAL);
        assert!(matches!(other, XdpError::Os { .. }));
        assert!(other.to_string().contains("`eth9` queue 3"), "{other}");
    }

    #[test]
    fn messages_say_how_to_fix() {
        let m =
            XdpError::QueueMismatch { inside: "a".into(), inside_queues: 2, outside: "b".into(), outside_queues: 4 }
                .to_string();
        assert!(m.contains("ethtool -L a combined N"), "{m}");
        assert!(m.contains("ethtool -X"), "{m}");
        assert!(m.contains("symmetric"), "{m}");
        let m = XdpError::PermissionDenied { name: "x".into(), what: "socket" }.to_string();
        assert!(m.contains("CAP_NET_ADMIN") && m.contains("CAP_BPF"), "{m}");
        let m = XdpError::NotSupported { name: "x".into(), queue: 0, what: "socket" }.to_string();
        assert!(m.contains("CONFIG_XDP_SOCKETS"), "{m}");
        let m = XdpError::NoSuchInterface { name: "x".into() }.to_string();
        assert!(m.contains("ip link"), "{m}");
    }
}
