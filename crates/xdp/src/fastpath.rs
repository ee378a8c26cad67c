//! [`FastPath`]: weir's own XDP program (`bpf/weir_xdp.c`) and its maps.
//!
//! The program is compiled by `build.rs` with clang and embedded here; [`FastPath::load`] opens
//! it from memory with libbpf, sizes the flow map, loads it and attaches the one program to both
//! NICs (native, else generic, as [`XdpMode`] allows), so both attachments share its maps:
//!
//! - `xsks` (XSKMAP): slot `side * 64 + queue` holds the AF_XDP socket of that side's queue
//!   ([`FastPath::register`], called by [`crate::QueuePair::open_fast`]); the kernel removes a
//!   socket from it when the socket closes, also when the process dies.
//! - `devmap` (DEVMAP): slot 0 is the outside NIC (where inside frames go), slot 1 the inside.
//! - `flows` (HASH, `map_size` entries): the decided flows, keyed by [`FastKey`] (the symmetric
//!   key of `weir_flow::FlowKey` and the outer VLAN id), each with its action, policy
//!   generation, protocol id and counters per key direction ([`FlowCounts`]).
//! - `protos` and `sides` (PERCPU_ARRAY): what the kernel decided per protocol and direction
//!   ([`KernelProto`]) and per receiving NIC ([`KernelSide`]), summed over CPUs when read.
//! - `configs` (ARRAY, 1 entry): the NICs' indexes, the fail mode, the policy generation
//!   entries must carry to count, the watchdog and user space's heartbeat
//!   ([`FastPath::heartbeat`], on the `bpf_ktime_get_ns` clock, `CLOCK_MONOTONIC`).
//!
//! Nothing is pinned: the program is attached by netlink, so it stays attached when the
//! process dies (and keeps its maps alive): frames then find no socket and go to the other NIC
//! (fail open) or are dropped (fail closed); decided flows keep their verdicts. The next start
//! removes the leftover ([`crate::detach_xdp`]) and loads afresh: a restart rebuilds the maps,
//! and user space re-installs flows as it decides them again.

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::ptr;

use crate::census::Side;
use crate::config::XdpMode;
use crate::error::XdpError;
use crate::iface::{InterfaceInfo, interface_info};
use crate::sys::{XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};

/// The object `build.rs` compiled.
static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/weir_xdp.o"));

/// Queues per side the XSKMAP has room for (`MAX_QUEUES` in the C source).
pub const MAX_QUEUES: u32 = 64;
/// Protocol ids the per-protocol counters have room for (`PROTO_SLOTS`); the last is a spare
/// row for ids beyond.
pub const PROTO_SLOTS: usize = 1024;
/// `XDP_FLAGS_UPDATE_IF_NOEXIST`: never replace a program someone else attached.
const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1;

/// Sizing and failure behaviour of the fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastPathConfig {
    /// Entries of the flow map (≥ 1).
    pub map_size: u32,
    /// Drop frames when no socket takes them (`true`), instead of sending them to the other NIC.
    pub fail_closed: bool,
    /// Heartbeat age after which the program goes past the sockets; 0 turns the watchdog off.
    pub watchdog_ms: u32,
}

impl Default for FastPathConfig {
    /// 65536 flows, fail open, a 500 ms watchdog.
    fn default() -> Self {
        FastPathConfig { map_size: 65536, fail_closed: false, watchdog_ms: 500 }
    }
}

/// A flow's key in the kernel's map: `weir_flow::FlowKey`'s fields and the outer VLAN id.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FastKey {
    /// The lower endpoint's address (IPv4 as IPv4-mapped IPv6).
    pub lo_addr: [u8; 16],
    /// The higher endpoint's address.
    pub hi_addr: [u8; 16],
    /// The lower endpoint's port (0 without ports).
    pub lo_port: u16,
    /// The higher endpoint's port.
    pub hi_port: u16,
    /// The outer VLAN id (0 untagged).
    pub vlan: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// 1 for IPv6, 0 for IPv4.
    pub v6: u8,
}

/// What the kernel does with a decided flow's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastAction {
    /// Send it to the other NIC.
    Forward,
    /// Drop it.
    Drop,
    /// Rewrite its DSCP (keeping ECN; the IPv4 checksum updated), then send it on.
    Mark(u8),
}

/// A decided flow as user space installs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastFlow {
    /// The verdict.
    pub action: FastAction,
    /// Whether frames from the lower endpoint to the higher one travel outbound.
    pub lo_outbound: bool,
    /// The policy generation it was decided under ([`FastPath::set_generation`]).
    pub generation: u32,
    /// The flow's protocol id (the row of the per-protocol counters).
    pub protocol_id: u16,
}

/// What the kernel counted for one flow, per key direction (0: lower to higher endpoint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounts {
    /// Frames.
    pub packets: [u64; 2],
    /// Bytes (whole frames).
    pub bytes: [u64; 2],
    /// When the kernel last saw a frame of it (`CLOCK_MONOTONIC` ns; 0: never).
    pub last_seen_ns: u64,
    /// The generation the entry was installed under.
    pub generation: u32,
}

/// How an insert went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// The flow is in the map.
    Installed,
    /// The map is full: the flow stays in user space.
    Full,
}

/// What the kernel decided for one protocol and direction (summed over CPUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelProto {
    /// Frames.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Frames dropped by policy.
    pub dropped: u64,
    /// Bytes dropped by policy.
    pub dropped_bytes: u64,
}

/// What the kernel did with frames received on one NIC (summed over CPUs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelSide {
    /// Frames of decided flows.
    pub received: u64,
    /// Their bytes.
    pub received_bytes: u64,
    /// Of those, sent to the other NIC.
    pub forwarded: u64,
    /// Of those, dropped by policy.
    pub dropped: u64,
    /// Frames sent past the sockets (no socket, or the watchdog) to the other NIC.
    pub bypassed: u64,
    /// Frames dropped because no socket took them and the fast path fails closed.
    pub bypass_dropped: u64,
    /// Frames whose DSCP the kernel rewrote.
    pub marked: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawValue {
    action: u8,
    dscp: u8,
    lo_outbound: u8,
    pad: u8,
    generation: u32,
    proto_id: u32,
    pad2: u32,
    packets: [u64; 2],
    bytes: [u64; 2],
    last_seen_ns: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RawConfig {
    inside_ifindex: u32,
    outside_ifindex: u32,
    fail_closed: u32,
    generation: u32,
    watchdog_ns: u64,
    heartbeat_ns: u64,
}

/// The fds of the program's maps (owned by the `bpf_object`).
#[derive(Clone, Copy, Debug)]
struct Maps {
    xsks: RawFd,
    devmap: RawFd,
    flows: RawFd,
    protos: RawFd,
    sides: RawFd,
    configs: RawFd,
}

/// weir's XDP program, attached to both NICs, and its maps. `Send + Sync`: map operations are
/// syscalls on fds, safe from any thread; the config entry has one writer (behind a mutex).
pub struct FastPath {
    obj: *mut libxdp_sys::bpf_object,
    maps: Maps,
    inside: InterfaceInfo,
    outside: InterfaceInfo,
    modes: [XdpMode; 2],
    ncpus: usize,
    config: std::sync::Mutex<RawConfig>,
    map_size: u32,
}

// SAFETY: the raw `bpf_object` pointer is only used in `Drop` (closing it once); everything else
// is fds, and map syscalls on them are safe from any thread.
unsafe impl Send for FastPath {}
// SAFETY: as above: shared use is map syscalls and the mutex-guarded config.
unsafe impl Sync for FastPath {}

impl std::fmt::Debug for FastPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FastPath")
            .field("inside", &self.inside.name)
            .field("outside", &self.outside.name)
            .field("modes", &self.modes)
            .field("map_size", &self.map_size)
            .finish()
    }
}

fn os(what: impl Into<String>, rc: i32) -> XdpError {
    XdpError::Os { what: what.into(), source: io::Error::from_raw_os_error(rc.abs()) }
}

unsafe extern "C" {
    /// `int libbpf_num_possible_cpus(void)` from libbpf.h (linked by libxdp-sys).
    fn libbpf_num_possible_cpus() -> libc::c_int;
}

fn monotonic_ns() -> u64 {
    crate::port::monotonic_ns()
}

impl FastPath {
    /// Loads the program, sizes its flow map to `cfg.map_size`, and attaches it to `inside` and
    /// `outside` (in this thread's network namespace) in the mode `mode` allows: native before
    /// generic. Nothing may be attached to either NIC yet (remove a leftover with
    /// [`crate::detach_xdp`] first). Until sockets are registered every frame goes past them,
    /// as after a crash.
    ///
    /// # Errors
    ///
    /// [`XdpError::NoSuchInterface`]; [`XdpError::Config`] with key `map_size` for 0;
    /// [`XdpError::Os`] if libbpf cannot open or load the object (the message says which step)
    /// or the kernel refuses to attach it.
    pub fn load(inside: &str, outside: &str, mode: XdpMode, cfg: &FastPathConfig) -> Result<FastPath, XdpError> {
        crate::sys::quiet_libxdp();
        if cfg.map_size == 0 {
            return Err(XdpError::Config { key: "map_size", reason: "0: the flow map needs room".into() });
        }
        let inside_info = interface_info(inside)?;
        let outside_info = interface_info(outside)?;
        // SAFETY: plain libbpf call without arguments.
        let ncpus = unsafe { libbpf_num_possible_cpus() };
        let ncpus = usize::try_from(ncpus).map_err(|_| os("counting possible CPUs", ncpus))?.max(1);
        // SAFETY: `OBJECT` is a static ELF image that outlives the object (libbpf copies what it
        // keeps); null opts are allowed. The result is checked for an error pointer below.
        let obj = unsafe { libxdp_sys::bpf_object__open_mem(OBJECT.as_ptr().cast(), OBJECT.len(), ptr::null()) };
        // libbpf 1.x returns NULL on error, with errno set.
        if obj.is_null() {
            return Err(XdpError::Os { what: "opening weir's XDP object".into(), source: io::Error::last_os_error() });
        }
        let mut fp = FastPath {
            obj,
            maps: Maps { xsks: -1, devmap: -1, flows: -1, protos: -1, sides: -1, configs: -1 },
            inside: inside_info,
            outside: outside_info,
            modes: [XdpMode::Auto; 2],
            ncpus,
            config: std::sync::Mutex::new(RawConfig::default()),
            map_size: cfg.map_size,
        };
        let flows = fp.find_map("flows")?;
        // SAFETY: `flows` is a map of the open (not yet loaded) object.
        let rc = unsafe { libxdp_sys::bpf_map__set_max_entries(flows, cfg.map_size) };
        if rc < 0 {
            return Err(os(format!("sizing the flow map to {} entries", cfg.map_size), rc));
        }
        // SAFETY: `obj` is an open object, loaded once.
        let rc = unsafe { libxdp_sys::bpf_object__load(obj) };
        if rc < 0 {
            return Err(os("loading weir's XDP program (the verifier refused it, or BPF is not allowed here)", rc));
        }
        fp.maps = Maps {
            xsks: fp.map_fd("xsks")?,
            devmap: fp.map_fd("devmap")?,
            flows: fp.map_fd("flows")?,
            protos: fp.map_fd("protos")?,
            sides: fp.map_fd("sides")?,
            configs: fp.map_fd("configs")?,
        };
        let raw = RawConfig {
            inside_ifindex: fp.inside.ifindex,
            outside_ifindex: fp.outside.ifindex,
            fail_closed: u32::from(cfg.fail_closed),
            generation: 0,
            watchdog_ns: u64::from(cfg.watchdog_ms) * 1_000_000,
            heartbeat_ns: monotonic_ns(),
        };
        fp.write_config(raw)?;
        for (slot, ifindex) in [(0u32, fp.outside.ifindex), (1, fp.inside.ifindex)] {
            update(fp.maps.devmap, &slot, &ifindex, 0).map_err(|rc| os("filling the device map", rc))?;
        }
        let name = CString::new("weir_xdp").map_err(|_| os("naming the program", libc::EINVAL))?;
        // SAFETY: `obj` is loaded; `name` is a live C string.
        let prog = unsafe { libxdp_sys::bpf_object__find_program_by_name(obj, name.as_ptr()) };
        if prog.is_null() {
            return Err(os("finding the program weir_xdp in the object", libc::ENOENT));
        }
        // SAFETY: `prog` belongs to the loaded object.
        let prog_fd = unsafe { libxdp_sys::bpf_program__fd(prog) };
        if prog_fd < 0 {
            return Err(os("the program's fd", prog_fd));
        }
        let flags: &[u32] = match mode {
            XdpMode::Native => &[XDP_FLAGS_DRV_MODE],
            XdpMode::Generic => &[XDP_FLAGS_SKB_MODE],
            XdpMode::Auto => &[XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE],
        };
        for side in Side::BOTH {
            let info = fp.info(side).clone();
            let idx = libc::c_int::try_from(info.ifindex)
                .map_err(|_| XdpError::NoSuchInterface { name: info.name.clone() })?;
            let mut last = 0;
            for &f in flags {
                // SAFETY: plain libbpf call; null opts are allowed.
                let rc =
                    unsafe { libxdp_sys::bpf_xdp_attach(idx, prog_fd, f | XDP_FLAGS_UPDATE_IF_NOEXIST, ptr::null()) };
                if rc == 0 {
                    fp.modes[side.index()] = if f == XDP_FLAGS_DRV_MODE { XdpMode::Native } else { XdpMode::Generic };
                    break;
                }
                last = rc;
            }
            if fp.modes[side.index()] == XdpMode::Auto {
                fp.detach();
                return Err(XdpError::from_os(
                    &info.name,
                    0,
                    "attaching weir's XDP program",
                    io::Error::from_raw_os_error(-last),
                ));
            }
        }
        Ok(fp)
    }

    fn find_map(&self, name: &str) -> Result<*mut libxdp_sys::bpf_map, XdpError> {
        let c = CString::new(name).map_err(|_| os("naming a map", libc::EINVAL))?;
        // SAFETY: `self.obj` is an open object; `c` is a live C string.
        let map = unsafe { libxdp_sys::bpf_object__find_map_by_name(self.obj, c.as_ptr()) };
        if map.is_null() {
            return Err(os(format!("finding the map `{name}` in weir's XDP object"), libc::ENOENT));
        }
        Ok(map)
    }

    fn map_fd(&self, name: &str) -> Result<RawFd, XdpError> {
        let map = self.find_map(name)?;
        // SAFETY: `map` belongs to the loaded object.
        let fd = unsafe { libxdp_sys::bpf_map__fd(map) };
        if fd < 0 { Err(os(format!("the fd of the map `{name}`"), fd)) } else { Ok(fd) }
    }

    fn info(&self, side: Side) -> &InterfaceInfo {
        match side {
            Side::Inside => &self.inside,
            Side::Outside => &self.outside,
        }
    }

    /// Where the program runs on `side`'s NIC ([`XdpMode::Native`] or [`XdpMode::Generic`]).
    pub fn xdp_mode(&self, side: Side) -> XdpMode {
        self.modes[side.index()]
    }

    /// The flow map's size.
    pub fn map_size(&self) -> u32 {
        self.map_size
    }

    fn write_config(&self, raw: RawConfig) -> Result<(), XdpError> {
        update(self.maps.configs, &0u32, &raw, 0).map_err(|rc| os("writing the fast path's config", rc))?;
        if let Ok(mut c) = self.config.lock() {
            *c = raw;
        }
        Ok(())
    }

    fn with_config(&self, f: impl FnOnce(&mut RawConfig)) -> Result<(), XdpError> {
        let mut raw = self.config.lock().map(|c| *c).unwrap_or_default();
        f(&mut raw);
        self.write_config(raw)
    }

    /// Tells the program user space is alive (call every ~100 ms, well within the watchdog).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if the map update fails.
    pub fn heartbeat(&self) -> Result<(), XdpError> {
        let now = monotonic_ns();
        self.with_config(|c| c.heartbeat_ns = now)
    }

    /// Entries of any other generation no longer decide frames (their flows go to user space,
    /// which decides them again under the new policy).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if the map update fails.
    pub fn set_generation(&self, generation: u32) -> Result<(), XdpError> {
        self.with_config(|c| c.generation = generation)
    }

    /// The generation entries must carry to decide frames.
    pub fn generation(&self) -> u32 {
        self.config.lock().map(|c| c.generation).unwrap_or(0)
    }

    /// Puts the AF_XDP socket `fd` in the XSKMAP slot of `side`'s queue `queue`.
    ///
    /// # Errors
    ///
    /// [`XdpError::Config`] (key `queue`) for a queue beyond [`MAX_QUEUES`]; [`XdpError::Os`].
    pub fn register(&self, side: Side, queue: u32, fd: RawFd) -> Result<(), XdpError> {
        if queue >= MAX_QUEUES {
            return Err(XdpError::Config {
                key: "queue",
                reason: format!("{queue}: the fast path serves queues below {MAX_QUEUES}"),
            });
        }
        let slot = side.index() as u32 * MAX_QUEUES + queue;
        update(self.maps.xsks, &slot, &fd, 0).map_err(|rc| {
            os(format!("putting the socket of `{}` queue {queue} in the XSKMAP", self.info(side).name), rc)
        })
    }

    /// Installs (or replaces) a decided flow, its counters at zero.
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] for anything but a full map ([`Insert::Full`]).
    pub fn insert(&self, key: &FastKey, flow: &FastFlow) -> Result<Insert, XdpError> {
        let (action, dscp) = match flow.action {
            FastAction::Forward => (1, 0),
            FastAction::Drop => (2, 0),
            FastAction::Mark(d) => (3, d & 0x3f),
        };
        let v = RawValue {
            action,
            dscp,
            lo_outbound: u8::from(flow.lo_outbound),
            generation: flow.generation,
            proto_id: u32::from(flow.protocol_id),
            ..RawValue::default()
        };
        match update(self.maps.flows, key, &v, 0) {
            Ok(()) => Ok(Insert::Installed),
            Err(rc) if rc == -libc::E2BIG || rc == -libc::ENOMEM => Ok(Insert::Full),
            Err(rc) => Err(os("installing a flow in the fast path", rc)),
        }
    }

    /// Removes a flow; whether it was there.
    pub fn remove(&self, key: &FastKey) -> bool {
        // SAFETY: `key` is a live key of the map's key size.
        unsafe { libxdp_sys::bpf_map_delete_elem(self.maps.flows, (key as *const FastKey).cast()) == 0 }
    }

    /// Reads one flow's counters, if it is in the map.
    pub fn counts(&self, key: &FastKey) -> Option<FlowCounts> {
        let mut v = RawValue::default();
        // SAFETY: `key` and `v` are live and of the map's key and value sizes.
        let rc = unsafe {
            libxdp_sys::bpf_map_lookup_elem(
                self.maps.flows,
                (key as *const FastKey).cast(),
                (&mut v as *mut RawValue).cast(),
            )
        };
        (rc == 0).then(|| counts_of(&v))
    }

    /// Visits every flow in the map with its counters; removes those `keep` returns false for
    /// (after the walk, so the walk sees each entry once). Returns (visited, removed).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if walking the map fails.
    pub fn scan(&self, mut keep: impl FnMut(&FastKey, &FlowCounts) -> bool) -> Result<(usize, usize), XdpError> {
        let mut doomed = Vec::new();
        let mut prev: Option<FastKey> = None;
        let mut visited = 0;
        loop {
            let mut next = FastKey::default();
            let prev_ptr = prev.as_ref().map_or(ptr::null(), |k| (k as *const FastKey).cast());
            // SAFETY: `prev_ptr` is null (first key) or a live key; `next` is a live key buffer.
            let rc = unsafe {
                libxdp_sys::bpf_map_get_next_key(self.maps.flows, prev_ptr, (&mut next as *mut FastKey).cast())
            };
            if rc == -libc::ENOENT {
                break;
            }
            if rc < 0 {
                return Err(os("walking the fast path's flow map", rc));
            }
            if let Some(c) = self.counts(&next) {
                visited += 1;
                if !keep(&next, &c) {
                    doomed.push(next);
                }
            }
            prev = Some(next);
            if visited > self.map_size as usize * 2 {
                break;
            }
        }
        let removed = doomed.iter().filter(|k| self.remove(k)).count();
        Ok((visited, removed))
    }

    /// Removes every flow; how many there were.
    ///
    /// # Errors
    ///
    /// As [`scan`](Self::scan).
    pub fn clear(&self) -> Result<usize, XdpError> {
        self.scan(|_, _| false).map(|(_, removed)| removed)
    }

    /// Sums the per-CPU values (each `N` u64s) of `key` in the per-CPU array `fd` into `out`.
    fn percpu<const N: usize>(&self, fd: RawFd, key: u32, out: &mut [u64; N]) -> Result<(), XdpError> {
        let stride = N;
        let mut buf = vec![0u64; stride * self.ncpus];
        // SAFETY: `buf` holds one 8-byte-aligned value per possible CPU, as a per-CPU lookup writes.
        let rc = unsafe { libxdp_sys::bpf_map_lookup_elem(fd, (&key as *const u32).cast(), buf.as_mut_ptr().cast()) };
        if rc < 0 {
            return Err(os("reading the fast path's counters", rc));
        }
        *out = [0; N];
        for cpu in buf.chunks_exact(stride) {
            for (o, v) in out.iter_mut().zip(cpu) {
                *o = o.wrapping_add(*v);
            }
        }
        Ok(())
    }

    /// What the kernel decided per protocol id (`protocols` rows, at most [`PROTO_SLOTS`]) and
    /// direction (0 outbound, 1 inbound).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if a read fails.
    pub fn protocols(&self, protocols: usize) -> Result<Vec<[KernelProto; 2]>, XdpError> {
        let mut out = vec![[KernelProto::default(); 2]; protocols.min(PROTO_SLOTS)];
        let mut raw = [0u64; 4];
        for (p, row) in out.iter_mut().enumerate() {
            for (d, cell) in row.iter_mut().enumerate() {
                self.percpu(self.maps.protos, (p * 2 + d) as u32, &mut raw)?;
                *cell = KernelProto { packets: raw[0], bytes: raw[1], dropped: raw[2], dropped_bytes: raw[3] };
            }
        }
        Ok(out)
    }

    /// What the kernel did with the frames each NIC received (inside first).
    ///
    /// # Errors
    ///
    /// [`XdpError::Os`] if a read fails.
    pub fn sides(&self) -> Result<[KernelSide; 2], XdpError> {
        let mut out = [KernelSide::default(); 2];
        let mut raw = [0u64; 8];
        for (i, s) in out.iter_mut().enumerate() {
            self.percpu(self.maps.sides, i as u32, &mut raw)?;
            *s = KernelSide {
                received: raw[0],
                received_bytes: raw[1],
                forwarded: raw[2],
                dropped: raw[3],
                bypassed: raw[4],
                bypass_dropped: raw[5],
                marked: raw[6],
            };
        }
        Ok(out)
    }

    /// Detaches the program from both NICs (a clean stop). Dropping without this leaves it
    /// attached, failing open or closed as configured.
    pub fn detach(&self) {
        for info in [&self.inside, &self.outside] {
            if let Ok(idx) = libc::c_int::try_from(info.ifindex) {
                for f in [XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE] {
                    // SAFETY: plain libbpf call; null opts are allowed. Detaching a mode with no
                    // program attached is a harmless error.
                    unsafe { libxdp_sys::bpf_xdp_detach(idx, f, ptr::null()) };
                }
            }
        }
    }
}

impl Drop for FastPath {
    fn drop(&mut self) {
        // SAFETY: `obj` came from bpf_object__open_mem and is closed exactly once, here. The
        // attached program keeps itself and its maps alive in the kernel.
        unsafe { libxdp_sys::bpf_object__close(self.obj) };
    }
}

fn counts_of(v: &RawValue) -> FlowCounts {
    FlowCounts { packets: v.packets, bytes: v.bytes, last_seen_ns: v.last_seen_ns, generation: v.generation }
}

/// `bpf_map_update_elem` on typed key and value; the negative errno on failure.
fn update<K, V>(fd: RawFd, key: &K, value: &V, flags: u64) -> Result<(), i32> {
    // SAFETY: `key` and `value` are live values of the map's key and value types (each caller
    // passes the `#[repr(C)]` mirror of the C type).
    let rc =
        unsafe { libxdp_sys::bpf_map_update_elem(fd, (key as *const K).cast(), (value as *const V).cast(), flags) };
    if rc < 0 { Err(rc) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem;

    #[test]
    fn layouts_match_the_c_program() {
        assert_eq!(mem::size_of::<FastKey>(), 40);
        assert_eq!(mem::size_of::<RawValue>(), 56);
        assert_eq!(mem::size_of::<RawConfig>(), 32);
    }

    #[test]
    fn the_object_is_embedded() {
        // An ELF image for the BPF machine (EM_BPF = 247).
        assert_eq!(&OBJECT[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([OBJECT[18], OBJECT[19]]), 247);
    }

    #[test]
    fn a_zero_map_size_is_refused() {
        let cfg = FastPathConfig { map_size: 0, ..FastPathConfig::default() };
        let e = FastPath::load("lo", "lo", XdpMode::Auto, &cfg).unwrap_err();
        assert!(matches!(e, XdpError::Config { key: "map_size", .. }), "{e:?}");
    }
}
