//! AF_XDP for weir: UMEM, sockets, rings, frame accounting, XDP program attach and detach.
//!
//! This crate moves frames; it knows nothing of packet parsing, flows or policy. One worker
//! owns one [`QueuePair`]: the inside NIC's queue q and the outside NIC's queue q, both AF_XDP
//! sockets over **one UMEM** (`XDP_SHARED_UMEM` across devices). A frame received on one
//! socket is forwarded by putting its descriptor on the other socket's TX ring; no payload is
//! copied. A dropped frame goes back to the free list and from there to a fill ring; sent
//! frames come back on the completion ring and refill the fill rings. Every frame is always in
//! exactly one place, and [`QueuePair::census`] counts them ([`FrameCensus::sum`] equals
//! [`FrameCensus::total`]). If the kernel or driver cannot share the UMEM across the two
//! devices, [`QueuePair::open`] falls back to two UMEMs and copies each forwarded frame
//! (counted in [`SideCounters::copied`]; [`QueuePair::zero_copy_forwarding`] says false).
//!
//! A caller may also keep a frame for later ([`FrameAction::Hold`], with
//! [`FramePair::poll_hold`], which tells it the frame's [`Held`] handle): the frame stays in
//! the UMEM, in the pair's hold store (one slot per frame, allocated at open), counted
//! [`FrameCensus::held`] and [`SideCounters::held`], until [`FramePair::release`] sends it on
//! the other side's TX ring or recycles it ([`FramePair::flush_released`] puts buffered
//! releases on the rings; [`FramePair::tx_room`] is the budget). The traffic shaper queues
//! frames this way.
//!
//! # Layout
//!
//! - `config`: [`XdpConfig`] and its validation (rules of thumb as defaults).
//! - `iface`: [`interface_info`], [`check_pair`]: start-up checks before anything is attached.
//! - `engine`: the frame accounting and the forwarding pass over an abstract ring backend,
//!   unit-tested against a simulated kernel.
//! - `pair`: [`QueuePair`], the real backend on xsk-rs/libxdp, and [`FramePair`], what a worker
//!   drives (the bridge's worker is generic over it).
//! - `testing` (feature `testing`): a simulated kernel and `SimPair`, a [`FramePair`] over it,
//!   for testing code above this crate without root.
//! - `fastpath`: [`FastPath`], weir's own XDP program and its maps.
//! - `sys`: every syscall and FFI call this crate makes itself (ioctls, socket options,
//!   poll(2), `bpf_xdp_query`), so the rest is logic.
//!
//! # weir's own XDP program (the fast path)
//!
//! [`FastPath::load`] attaches weir's program (`bpf/weir_xdp.c`, compiled by `build.rs`) to both
//! NICs; [`QueuePair::open_fast`] then binds the sockets with
//! `XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD` and puts them in its XSKMAP. The program forwards or drops
//! the frames of the flows user space installed ([`FastPath::insert`]), counts them, and sends
//! the rest to the sockets; with no socket for the queue, or a heartbeat older than the
//! watchdog, it sends them to the other NIC itself (fail open) or drops them (fail closed). See
//! `fastpath` for the maps. The rest of this section is about libxdp's program, used by
//! [`QueuePair::open`] (the fast path off, or not loadable).
//!
//! # The XDP program, and what happens when weir dies
//!
//! The sockets are created with libxdp (through xsk-rs) without
//! `XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD`, so libxdp attaches its default program
//! `xsk_def_prog` (libxdp 1.6, `lib/libxdp/xsk_def_xdp_prog.c`) to each interface, in the mode
//! [`XdpConfig::xdp_mode`] asks for (`XDP_FLAGS_DRV_MODE` for native, `XDP_FLAGS_SKB_MODE` for
//! generic; auto tries native, then generic, and [`QueuePair::xdp_mode`] reports which one is
//! attached). On kernels ≥ 5.3 the program is exactly
//!
//! ```c
//! return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
//! ```
//!
//! (plus a reference-count guard that also returns `XDP_PASS`). The `XDP_PASS` argument is
//! the action taken when the XSKMAP has no entry for the queue. The older variant for
//! kernels before 5.3 (`xsk_def_xdp_prog_5.3.c`) looks the entry up first and returns
//! `XDP_PASS` when it is missing. So **a frame arriving on a queue without a live socket goes
//! to the kernel stack**, never dropped by the program.
//!
//! What that means on failure:
//! - **Clean close** ([`QueuePair::close`] or drop): libxdp deletes the socket's XSKMAP entry
//!   and decrements the program's reference count (a global in the program's `.data` map);
//!   the last socket on an interface detaches the program. No XDP program remains (the
//!   integration test checks this with `ip -d link`).
//! - **Crash or SIGKILL**: the kernel closes the sockets and removes them from the XSKMAP, but
//!   the program stays attached (libxdp attaches by netlink, not by a bpf_link owned by the
//!   process) and its reference count is never decremented. Every frame then hits the empty
//!   XSKMAP and is passed to the kernel stack. With a Linux bridge over the two NICs (the lab's
//!   `--kernel-bridge`), traffic keeps flowing through the bridge while weir is down:
//!   **fail-open**. Without a bridge, the frames reach the host stack of the bridge box and go
//!   no further. The stale program is reused by the next [`QueuePair::open`], but because its
//!   count never drops to zero, it is never detached by libxdp again: call [`detach_xdp`] on
//!   both interfaces at start-up, before opening any pair (the integration test kills a
//!   forwarding process and checks both facts).
//!
//! # Modes
//!
//! [`XdpConfig::bind_mode`] maps to the bind flags `XDP_ZEROCOPY` / `XDP_COPY` (auto tries
//! zero-copy, then copy; veth only does copy). The outside socket joins the inside socket's
//! UMEM, and the kernel gives it the UMEM's mode. Sockets are bound with
//! `XDP_USE_NEED_WAKEUP` when [`XdpConfig::need_wakeup`] is set, and [`QueuePair::poll`] then
//! makes a `sendto`/`recvfrom` only when the ring flag asks. Busy polling sets
//! `SO_PREFER_BUSY_POLL`, `SO_BUSY_POLL` and `SO_BUSY_POLL_BUDGET` and kicks RX every pass.
//! A bind that fails with `EBUSY` (a just-closed socket's asynchronous teardown) is retried
//! for up to 2 s.
//!
//! # Namespaces
//!
//! Everything here acts in the calling thread's network namespace: interface facts are read
//! with ioctls on a socket of that namespace (not from `/sys/class/net`, which shows the
//! namespace sysfs was mounted in), so a thread that did `setns(2)` sees its namespace.
//!
//! # Unsafe
//!
//! This is the one weir crate allowed `unsafe`. Each block says why it holds in a `// SAFETY:`
//! comment; the ring accessors are xsk-rs's (libxdp's inline ring functions, whose
//! producer/consumer indices use acquire/release pairs with the kernel), and this crate never
//! touches a raw ring index itself.

mod census;
mod config;
mod engine;
mod error;
mod fastpath;
mod iface;
mod pair;
mod port;
mod sys;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use census::{
    FrameAction, FrameCensus, Held, KernelStats, PairCounters, PollResult, ReleaseResult, Side, SideCounters,
};
pub use config::{BindMode, BusyPoll, ConfigProblem, XdpConfig, XdpMode};
pub use error::XdpError;
pub use fastpath::{
    FastAction, FastFlow, FastKey, FastPath, FastPathConfig, FlowCounts, Insert, KernelProto, KernelSide, MAX_QUEUES,
    PROTO_SLOTS,
};
pub use iface::{InterfaceInfo, L2_OVERHEAD, check_pair, check_pair_info, interface_info, set_rx_vlan_stripping};
pub use pair::{FramePair, QueuePair, detach_xdp, xdp_program};
pub use port::{XskPort, in_netns, monotonic_ns};
pub use sys::XdpAttachment;
