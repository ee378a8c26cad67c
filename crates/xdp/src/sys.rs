//! Every syscall and FFI call this crate makes itself (xsk-rs makes the ring and socket ones).
//!
//! Kept in one module, as aya keeps its `sys/`, so the frame accounting in [`crate::engine`] and
//! the checks in [`crate::iface`] are plain logic, testable without a kernel. Each function
//! returns `io::Error`; callers attach the interface and queue.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

use crate::config::BusyPoll;

/// Facts about one interface, read with ioctls on a socket in the calling thread's network
/// namespace (so they agree with what `bind` will see, even after `setns` on this thread;
/// `/sys/class/net` shows the namespace sysfs was mounted in instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IfFacts {
    pub(crate) ifindex: u32,
    pub(crate) mtu: u32,
    pub(crate) rx_queues: u32,
    pub(crate) tx_queues: u32,
    pub(crate) driver: String,
}

const IFNAMSIZ: usize = 16;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GCHANNELS: u32 = 0x3c;
/// `XDP_FLAGS_SKB_MODE` from `linux/if_link.h`.
pub(crate) const XDP_FLAGS_SKB_MODE: u32 = 2;
/// `XDP_FLAGS_DRV_MODE` from `linux/if_link.h`.
pub(crate) const XDP_FLAGS_DRV_MODE: u32 = 4;
const SO_PREFER_BUSY_POLL: libc::c_int = 69;
const SO_BUSY_POLL_BUDGET: libc::c_int = 70;

#[repr(C)]
#[derive(Clone, Copy)]
union IfrIfru {
    ivalue: libc::c_int,
    data: *mut libc::c_void,
    pad: [u8; 24],
}

/// `struct ifreq`: a name and a 24-byte union.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; IFNAMSIZ],
    ifru: IfrIfru,
}

#[repr(C)]
#[derive(Default)]
struct EthtoolChannels {
    cmd: u32,
    max_rx: u32,
    max_tx: u32,
    max_other: u32,
    max_combined: u32,
    rx_count: u32,
    tx_count: u32,
    other_count: u32,
    combined_count: u32,
}

#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

fn ifreq(name: &str) -> io::Result<IfReq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= IFNAMSIZ || bytes.contains(&0) || bytes.contains(&b'/') {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    let mut req = IfReq { name: [0; IFNAMSIZ], ifru: IfrIfru { pad: [0; 24] } };
    for (d, s) in req.name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the returned descriptor is checked and then owned.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh, valid descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// # Safety
///
/// `req` must be the argument type the kernel expects for `request`, and any pointer inside it
/// must point at memory valid for the kernel to read and write for the call's duration.
unsafe fn ioctl(sock: &OwnedFd, request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: forwarded from this function's contract.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut IfReq) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

fn c_str_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Reads index, MTU, queue counts and driver name of `name` in this thread's namespace.
///
/// Queue counts come from `ETHTOOL_GCHANNELS` (combined + dedicated rx/tx). A device without
/// channel support (loopback, some virtual devices) reports 1 rx and 1 tx queue.
pub(crate) fn if_facts(name: &str) -> io::Result<IfFacts> {
    let sock = control_socket()?;
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFINDEX takes a `struct ifreq` and writes `ifr_ifindex`.
    unsafe { ioctl(&sock, libc::SIOCGIFINDEX as libc::c_ulong, &mut req) }?;
    // SAFETY: the kernel wrote the int member of the union.
    let ifindex = unsafe { req.ifru.ivalue };
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFMTU takes a `struct ifreq` and writes `ifr_mtu`.
    unsafe { ioctl(&sock, libc::SIOCGIFMTU as libc::c_ulong, &mut req) }?;
    // SAFETY: the kernel wrote the int member of the union.
    let mtu = unsafe { req.ifru.ivalue };

    let mut info = EthtoolDrvinfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    let mut req = ifreq(name)?;
    req.ifru.data = (&mut info as *mut EthtoolDrvinfo).cast();
    // SAFETY: SIOCETHTOOL with ETHTOOL_GDRVINFO reads and writes a `struct ethtool_drvinfo`,
    // which `info` is (same layout) and which lives across the call.
    let driver = match unsafe { ioctl(&sock, libc::SIOCETHTOOL as libc::c_ulong, &mut req) } {
        Ok(()) => c_str_field(&info.driver),
        Err(_) => String::new(),
    };

    let mut ch = EthtoolChannels { cmd: ETHTOOL_GCHANNELS, ..EthtoolChannels::default() };
    let mut req = ifreq(name)?;
    req.ifru.data = (&mut ch as *mut EthtoolChannels).cast();
    // SAFETY: SIOCETHTOOL with ETHTOOL_GCHANNELS reads and writes a `struct ethtool_channels`,
    // which `ch` is (same layout) and which lives across the call.
    let (rx_queues, tx_queues) = match unsafe { ioctl(&sock, libc::SIOCETHTOOL as libc::c_ulong, &mut req) } {
        Ok(()) => {
            (ch.combined_count.saturating_add(ch.rx_count).max(1), ch.combined_count.saturating_add(ch.tx_count).max(1))
        }
        Err(_) => (1, 1),
    };
    Ok(IfFacts {
        ifindex: u32::try_from(ifindex).unwrap_or(0),
        mtu: u32::try_from(mtu).unwrap_or(0),
        rx_queues,
        tx_queues,
        driver,
    })
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a live c_int and its size is passed as the option length.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Sets `SO_PREFER_BUSY_POLL`, `SO_BUSY_POLL` and `SO_BUSY_POLL_BUDGET` on `fd`.
pub(crate) fn set_busy_poll(fd: RawFd, bp: &BusyPoll) -> io::Result<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, SO_PREFER_BUSY_POLL, libc::c_int::from(bp.prefer))?;
    let timeout = libc::c_int::try_from(bp.timeout_us).unwrap_or(libc::c_int::MAX);
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_BUSY_POLL, timeout)?;
    setsockopt_int(fd, libc::SOL_SOCKET, SO_BUSY_POLL_BUDGET, libc::c_int::from(bp.budget))
}

/// Whether the bound AF_XDP socket `fd` runs in zero-copy mode (`XDP_OPTIONS`).
pub(crate) fn xdp_zero_copy(fd: RawFd) -> io::Result<bool> {
    let mut opts = libc::xdp_options { flags: 0 };
    let mut len = mem::size_of::<libc::xdp_options>() as libc::socklen_t;
    // SAFETY: `opts` and `len` are live and `len` holds the size of `opts`.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_XDP, libc::XDP_OPTIONS, (&mut opts as *mut libc::xdp_options).cast(), &mut len)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0)
}

fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS) | Some(libc::ENETDOWN) | Some(libc::EINTR)
    )
}

/// Kicks the kernel's receive side of AF_XDP socket `fd` (`recvfrom(MSG_DONTWAIT)`), as the
/// kernel docs ask when the fill ring has `XDP_RING_NEED_WAKEUP` set or busy polling is on.
/// Transient errors (EAGAIN, EBUSY, ENOBUFS, ENETDOWN, EINTR) are not errors here.
pub(crate) fn kick_rx(fd: RawFd) -> io::Result<()> {
    // SAFETY: a zero-length receive into a null buffer with null address is valid for AF_XDP;
    // nothing is written to user memory.
    let rc = unsafe { libc::recvfrom(fd, ptr::null_mut(), 0, libc::MSG_DONTWAIT, ptr::null_mut(), ptr::null_mut()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if !transient(&e) {
            return Err(e);
        }
    }
    Ok(())
}

/// Blocks until one of `fds` is readable or `timeout_ms` passes. Returns whether any was.
/// `EINTR` counts as a timeout.
pub(crate) fn poll_readable(fds: &[RawFd; 2], timeout_ms: libc::c_int) -> io::Result<bool> {
    let mut pfds = [
        libc::pollfd { fd: fds[0], events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: fds[1], events: libc::POLLIN, revents: 0 },
    ];
    // SAFETY: `pfds` is a live array of two pollfd and its length is passed.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), 2, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::EINTR) { Ok(false) } else { Err(e) };
    }
    Ok(rc > 0)
}

/// Which XDP program is attached to an interface, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpAttachment {
    /// Id of the program in driver (native) mode, 0 if none.
    pub native_prog_id: u32,
    /// Id of the program in generic (skb) mode, 0 if none.
    pub generic_prog_id: u32,
}

/// Queries the XDP programs attached to `ifindex` (`bpf_xdp_query`).
pub(crate) fn xdp_query(ifindex: u32) -> io::Result<XdpAttachment> {
    let ifindex = libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: an all-zero `bpf_xdp_query_opts` is its documented initial state.
    let mut opts: libxdp_sys::bpf_xdp_query_opts = unsafe { mem::zeroed() };
    opts.sz = mem::size_of::<libxdp_sys::bpf_xdp_query_opts>();
    // SAFETY: `opts` is live, zeroed and carries its own size as libbpf's OPTS convention asks.
    let rc = unsafe { libxdp_sys::bpf_xdp_query(ifindex, 0, &mut opts) };
    if rc < 0 {
        return Err(io::Error::from_raw_os_error(-rc));
    }
    Ok(XdpAttachment { native_prog_id: opts.drv_prog_id, generic_prog_id: opts.skb_prog_id })
}

/// Detaches whatever XDP program (libxdp dispatcher or legacy) is attached to `ifindex`,
/// in every mode. Returns whether anything was attached.
pub(crate) fn xdp_detach_all(ifindex: u32) -> io::Result<bool> {
    let before = xdp_query(ifindex)?;
    if before.native_prog_id == 0 && before.generic_prog_id == 0 {
        return Ok(false);
    }
    let idx = libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // libxdp's own detach first: it also removes the dispatcher's pins under /sys/fs/bpf.
    // SAFETY: returns an owned multiprog handle or an error pointer, checked below.
    let mp = unsafe { libxdp_sys::xdp_multiprog__get_from_ifindex(idx) };
    // SAFETY: libxdp_get_error accepts any pointer libxdp returned, error-encoded or not.
    if !mp.is_null() && unsafe { libxdp_sys::libxdp_get_error(mp.cast()) } == 0 {
        // SAFETY: `mp` is a valid handle owned here; detached, then closed exactly once.
        unsafe {
            libxdp_sys::xdp_multiprog__detach(mp);
            libxdp_sys::xdp_multiprog__close(mp);
        }
    }
    // Whatever is left (a program libxdp does not recognise), detach by mode with libbpf.
    let left = xdp_query(ifindex)?;
    for (id, flag) in [(left.native_prog_id, XDP_FLAGS_DRV_MODE), (left.generic_prog_id, XDP_FLAGS_SKB_MODE)] {
        if id != 0 {
            // SAFETY: plain libbpf call; null opts are allowed.
            let rc = unsafe { libxdp_sys::bpf_xdp_detach(idx, flag, ptr::null()) };
            if rc < 0 {
                return Err(io::Error::from_raw_os_error(-rc));
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_layouts_match_the_kernel() {
        assert_eq!(mem::size_of::<IfReq>(), 40);
        assert_eq!(mem::size_of::<EthtoolChannels>(), 36);
        assert_eq!(mem::size_of::<EthtoolDrvinfo>(), 196);
    }

    #[test]
    fn bad_names_are_no_such_device() {
        for n in ["", "a/b", "x\0y", "abcdefghijklmnopq"] {
            let e = ifreq(n).err().map(|e| e.raw_os_error());
            assert_eq!(e, Some(Some(libc::ENODEV)), "{n:?}");
        }
        assert!(ifreq("eth0").is_ok());
    }

    #[test]
    fn loopback_facts() {
        // Every network namespace has `lo`; no privileges needed to read it.
        let f = if_facts("lo").unwrap();
        assert_eq!(f.ifindex, 1);
        assert!(f.mtu >= 1500);
        assert!(f.rx_queues >= 1 && f.tx_queues >= 1);
        assert!(if_facts("weir-nonexistent").is_err());
    }
}

/// Stop libxdp (and libbpf, whose messages libxdp routes through its own printer) from writing
/// to stderr. Their notices ("No bpffs found ... falling back to single prog", "skipping
/// unrecognized data section") are normal here and would drown weir's own output; failures still
/// reach weir as error codes, which it reports with context. `WEIR_LIBXDP_DEBUG=1` keeps them.
pub(crate) fn quiet_libxdp() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("WEIR_LIBXDP_DEBUG").is_some() {
        return;
    }
    ONCE.call_once(|| {
        // SAFETY: libxdp_set_print only swaps a global function pointer; NULL means "print
        // nothing" (libxdp checks the pointer before each call). Called once, before any socket
        // exists, so no libxdp call runs concurrently with the swap.
        unsafe {
            libxdp_sys::libxdp_set_print(None);
        }
        // SAFETY: as above for libbpf's printer (linked statically by libxdp-sys, whose bindings
        // do not declare this function). Only NULL is passed, so the callback's exact C type
        // does not matter; the previous printer returned is a plain pointer we ignore.
        unsafe {
            libbpf_set_print(core::ptr::null());
        }
    });
}

unsafe extern "C" {
    /// `libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn)` from libbpf.h.
    fn libbpf_set_print(print: *const libc::c_void) -> *const libc::c_void;
}

const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_SFLAGS: u32 = 0x26;
/// `ETH_FLAG_RXVLAN`: the NIC strips 802.1Q tags into metadata before XDP sees the frame.
const ETH_FLAG_RXVLAN: u32 = 1 << 8;

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// Reads the legacy ethtool flags of `name`.
fn ethtool_flags(sock: &OwnedFd, name: &str) -> io::Result<u32> {
    let mut v = EthtoolValue { cmd: ETHTOOL_GFLAGS, data: 0 };
    let mut req = ifreq(name)?;
    req.ifru.data = (&mut v as *mut EthtoolValue).cast();
    // SAFETY: SIOCETHTOOL with ETHTOOL_GFLAGS reads and writes a `struct ethtool_value`, which
    // `v` is (same layout) and which lives across the call.
    unsafe { ioctl(sock, libc::SIOCETHTOOL as libc::c_ulong, &mut req) }?;
    Ok(v.data)
}

/// Turns 802.1Q receive VLAN stripping of `name` on or off; returns whether it was on.
///
/// With stripping on, a tag never reaches XDP (it sits in the skb or descriptor metadata), so
/// an AF_XDP bridge would forward the frame without it.
pub(crate) fn set_rx_vlan_stripping(name: &str, on: bool) -> io::Result<bool> {
    let sock = control_socket()?;
    let flags = ethtool_flags(&sock, name)?;
    let was_on = flags & ETH_FLAG_RXVLAN != 0;
    if was_on != on {
        let data = if on { flags | ETH_FLAG_RXVLAN } else { flags & !ETH_FLAG_RXVLAN };
        let mut v = EthtoolValue { cmd: ETHTOOL_SFLAGS, data };
        let mut req = ifreq(name)?;
        req.ifru.data = (&mut v as *mut EthtoolValue).cast();
        // SAFETY: SIOCETHTOOL with ETHTOOL_SFLAGS reads a `struct ethtool_value`, which `v` is
        // and which lives across the call.
        unsafe { ioctl(&sock, libc::SIOCETHTOOL as libc::c_ulong, &mut req) }?;
        if (ethtool_flags(&sock, name)? & ETH_FLAG_RXVLAN != 0) != on {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "the driver ignored the change"));
        }
    }
    Ok(was_on)
}
