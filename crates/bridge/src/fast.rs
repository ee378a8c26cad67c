//! The bridge's side of the XDP fast path ([`weir_xdp::FastPath`]).
//!
//! - Workers ([`FastLink`]) install a flow when the engine says its verdict is final
//!   ([`weir_engine::FastHint::Decided`]) and the policy forwards or drops it (a class's flows,
//!   marked or shaped, stay in user space, where the class's counters are kept), under the
//!   policy generation of their batch; they take it out again when their engine ends it (a
//!   closed flow's tuple reused, an eviction). TCP SYN, FIN and RST always reach user space
//!   (the program sends them there), so the table sees a flow close; the closed flow then leaves
//!   the table after its linger, and the map with it. Each worker remembers what it tried, so a
//!   flow whose install was refused (full map) costs no syscall per packet.
//! - The sweeper ([`FastSweep`], on the control thread, every `fastpath.sweep_interval_s`)
//!   walks the map: what the kernel counted for each flow since the last walk is credited to
//!   the flow in the table (packets, bytes, last sight: so idle expiry, records and hosts see
//!   it), and entries whose flow the table no longer holds or whose generation is not the
//!   current one are removed. Flows the sweeper ends leave the map at once. So the table and
//!   the map agree within one sweep interval, and the table is the one owner of idle expiry.
//! - The control loop writes the heartbeat every tick and the policy generation when it
//!   changes: the kernel ignores entries of another generation at once, so a reload or a
//!   schedule boundary applies to decided flows from their next frame.
//! - The stats thread adds the kernel's per-protocol and per-NIC counts to the totals
//!   ([`Fast::add_to`]), so every figure stays exact.

use crate::verdict::Verdict;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use weir_engine::{DecidedFlow, Engine, FastHint, FlowKey};
use weir_stats::{FastpathStats, Totals};
use weir_xdp::{FastAction, FastFlow, FastKey, FastPath, FlowCounts, Insert, PROTO_SLOTS, Side, XdpMode};

/// The fast path and what the bridge counts about it; shared by the workers and the control
/// thread.
#[derive(Debug)]
pub struct Fast {
    path: FastPath,
    installed: AtomicU64,
    map_full: AtomicU64,
    removed: AtomicU64,
    flows: AtomicU64,
    errors: AtomicU64,
    /// `CLOCK_MONOTONIC` at the bridge's epoch (the kernel stamps frames on that clock).
    epoch_mono_ns: AtomicU64,
    sweep_ns: u64,
}

/// The kernel's key of a flow.
pub(crate) fn fast_key(key: &FlowKey, vlan: u16) -> FastKey {
    let (lo_addr, hi_addr, lo_port, hi_port, protocol, v6) = key.parts();
    FastKey { lo_addr, hi_addr, lo_port, hi_port, vlan, protocol, v6: u8::from(v6) }
}

fn flow_key(k: &FastKey) -> Option<FlowKey> {
    FlowKey::from_parts(k.lo_addr, k.hi_addr, k.lo_port, k.hi_port, k.protocol, k.v6 != 0)
}

impl Fast {
    /// The bridge's handle on `path`, whose map is walked every `sweep_interval_s`.
    pub fn new(path: FastPath, sweep_interval_s: u64) -> Fast {
        let epoch_mono_ns = AtomicU64::new(weir_xdp::monotonic_ns());
        Fast {
            path,
            installed: AtomicU64::new(0),
            map_full: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            flows: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            epoch_mono_ns,
            sweep_ns: sweep_interval_s.max(1).saturating_mul(1_000_000_000),
        }
    }

    /// The bridge's clock origin (engine times are nanoseconds since it).
    pub fn set_epoch(&self, epoch: std::time::Instant) {
        let mono = weir_xdp::monotonic_ns().saturating_sub(epoch.elapsed().as_nanos() as u64);
        self.epoch_mono_ns.store(mono, Ordering::Relaxed);
    }

    /// The program and its maps.
    pub fn path(&self) -> &FastPath {
        &self.path
    }

    /// "native" or "generic" (both NICs alike), or "native/generic" (inside/outside).
    pub fn mode(&self) -> String {
        let name = |m| match m {
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
            XdpMode::Auto => "unknown",
        };
        let (a, b) = (self.path.xdp_mode(Side::Inside), self.path.xdp_mode(Side::Outside));
        if a == b { name(a).to_string() } else { format!("{}/{}", name(a), name(b)) }
    }

    fn install(&self, d: &DecidedFlow, action: FastAction, generation: u32) {
        let flow = FastFlow { action, lo_outbound: d.lo_outbound, generation, protocol_id: d.protocol.0 };
        match self.path.insert(&fast_key(&d.key, d.vlan), &flow) {
            Ok(Insert::Installed) => self.installed.fetch_add(1, Ordering::Relaxed),
            Ok(Insert::Full) => self.map_full.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.errors.fetch_add(1, Ordering::Relaxed),
        };
    }

    fn remove(&self, key: &FastKey) {
        if self.path.remove(key) {
            self.removed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds what the kernel decided to `t`: per protocol and direction (packets, bytes, drops)
    /// and per NIC (received, forwarded, dropped by policy).
    pub fn add_to(&self, t: &mut Totals) {
        if let Ok(protos) = self.path.protocols(t.protocols.len()) {
            for (row, k) in t.protocols.iter_mut().zip(protos) {
                for (d, kd) in k.iter().enumerate() {
                    row.packets[d] += kd.packets;
                    row.bytes[d] += kd.bytes;
                    row.dropped[d] += kd.dropped;
                }
            }
        }
        if let Ok(sides) = self.path.sides() {
            for (s, k) in t.sides.iter_mut().zip(sides) {
                s.received += k.received;
                s.received_bytes += k.received_bytes;
                s.forwarded += k.forwarded;
                s.dropped_policy += k.dropped;
            }
        }
    }

    /// The figures of the record and the summary.
    pub fn stats(&self) -> FastpathStats {
        let sides = self.path.sides().unwrap_or_default();
        FastpathStats {
            mode: self.mode(),
            map_size: u64::from(self.path.map_size()),
            flows: self.flows.load(Ordering::Relaxed),
            installed: self.installed.load(Ordering::Relaxed),
            map_full: self.map_full.load(Ordering::Relaxed),
            removed: self.removed.load(Ordering::Relaxed),
            packets: sides.iter().map(|s| s.received).sum(),
            bytes: sides.iter().map(|s| s.received_bytes).sum(),
            bypassed: sides.iter().map(|s| s.bypassed).sum(),
            bypass_dropped: sides.iter().map(|s| s.bypass_dropped).sum(),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// The control loop's tick: the heartbeat, and the policy generation `generation` (entries
    /// of another one stop deciding frames at once).
    pub(crate) fn tick(&self, generation: u32) {
        let ok = self.path.heartbeat().is_ok()
            && (self.path.generation() == generation || self.path.set_generation(generation).is_ok());
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What one worker tried to install: key → (generation, the flow's first sight).
#[derive(Debug)]
pub(crate) struct FastLink {
    fast: Arc<Fast>,
    tried: HashMap<FastKey, (u32, u64)>,
    limit: usize,
}

impl FastLink {
    pub(crate) fn new(fast: Arc<Fast>) -> FastLink {
        let limit = (fast.path.map_size() as usize).saturating_mul(2).max(1024);
        FastLink { fast, tried: HashMap::new(), limit }
    }

    /// After a frame's verdict: install its flow if the engine says it is decided and the
    /// policy forwards or drops it; take it out if it is ending.
    #[inline]
    pub(crate) fn on_frame(&mut self, hint: FastHint, verdict: Verdict, generation: u32) {
        match hint {
            FastHint::None => {}
            FastHint::Decided(d) => {
                let action = match verdict {
                    Verdict::Forward => FastAction::Forward,
                    Verdict::DropPolicy => FastAction::Drop,
                    // Classes keep their counters in user space; malformed frames have no flow.
                    Verdict::Class { .. } | Verdict::DropMalformed => return,
                };
                if usize::from(d.protocol.0) >= PROTO_SLOTS - 1 {
                    return;
                }
                let key = fast_key(&d.key, d.vlan);
                if self.tried.get(&key) == Some(&(generation, d.first_seen)) {
                    return;
                }
                if self.tried.len() >= self.limit {
                    self.tried.clear();
                }
                self.tried.insert(key, (generation, d.first_seen));
                self.fast.install(&d, action, generation);
            }
        }
    }

    /// Flows the worker's engine ended leave the map.
    pub(crate) fn ended(&mut self, engine: &mut Engine) {
        for (key, vlan) in engine.drain_ended() {
            let key = fast_key(&key, vlan);
            if self.tried.remove(&key).is_some() {
                self.fast.remove(&key);
            }
        }
    }
}

/// The sweeper's walk of the map.
#[derive(Debug)]
pub(crate) struct FastSweep {
    fast: Arc<Fast>,
    /// What each entry had counted at the last walk.
    last: HashMap<FastKey, FlowCounts>,
    next_at: u64,
}

impl FastSweep {
    pub(crate) fn new(fast: Arc<Fast>) -> FastSweep {
        FastSweep { fast, last: HashMap::new(), next_at: 0 }
    }

    /// Flows the sweeper's engine ended leave the map.
    pub(crate) fn ended(&mut self, engine: &mut Engine) {
        for (key, vlan) in engine.drain_ended() {
            let key = fast_key(&key, vlan);
            self.last.remove(&key);
            self.fast.remove(&key);
        }
    }

    /// Walk the map if it is due at `now` (or `force`): credit the kernel's counts to the
    /// table, remove entries of flows the table no longer holds or of another generation.
    pub(crate) fn walk(&mut self, engine: &mut Engine, now: u64, force: bool) {
        if !force && now < self.next_at {
            return;
        }
        self.next_at = now.saturating_add(self.fast.sweep_ns);
        let generation = self.fast.path.generation();
        let epoch = self.fast.epoch_mono_ns.load(Ordering::Relaxed);
        let mut seen = HashMap::with_capacity(self.last.len());
        let last = &self.last;
        let path = &self.fast.path;
        let mut n = 0u32;
        let walked = self.fast.path.scan(|k, c| {
            // A long walk (a big map) must not look like a hung weir to the watchdog.
            n = n.wrapping_add(1);
            if n.is_multiple_of(4096) {
                let _ = path.heartbeat();
            }
            let before = last.get(k).copied().unwrap_or_default();
            // An entry replaced since the last walk starts again from zero.
            let fresh = (0..2).any(|d| c.packets[d] < before.packets[d] || c.bytes[d] < before.bytes[d]);
            let base = if fresh { FlowCounts::default() } else { before };
            let packets = [c.packets[0] - base.packets[0], c.packets[1] - base.packets[1]];
            let bytes = [c.bytes[0] - base.bytes[0], c.bytes[1] - base.bytes[1]];
            let Some(key) = flow_key(k) else { return false };
            let last_seen = c.last_seen_ns.saturating_sub(epoch);
            let held = if packets != [0, 0] {
                engine.credit(&key, packets, bytes, last_seen, now)
            } else {
                engine.holds(&key).is_some()
            };
            let keep = held && c.generation == generation;
            if keep {
                seen.insert(*k, *c);
            }
            keep
        });
        match walked {
            Ok((visited, removed)) => {
                self.fast.flows.store((visited - removed) as u64, Ordering::Relaxed);
                self.fast.removed.fetch_add(removed as u64, Ordering::Relaxed);
            }
            Err(_) => {
                self.fast.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.last = seen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_key_is_the_table_key_and_back() {
        let ip = |n: u8| std::net::IpAddr::from([198, 18, 0, n]);
        let (key, _) = FlowKey::new(ip(9), 53, ip(1), 40000, 17);
        let k = fast_key(&key, 7);
        assert_eq!((k.lo_port, k.hi_port, k.protocol, k.v6, k.vlan), (40000, 53, 17, 0, 7));
        // IPv4 as IPv4-mapped IPv6, as the XDP program builds it.
        assert_eq!(&k.lo_addr[10..], &[0xff, 0xff, 198, 18, 0, 1]);
        assert_eq!(flow_key(&k), Some(key));
        let v6 = |n: u16| std::net::IpAddr::from([0x2001, 2, 0, 0, 0, 0, 0, n]);
        let (key6, _) = FlowKey::new(v6(2), 0, v6(1), 0, 58);
        assert_eq!(flow_key(&fast_key(&key6, 0)), Some(key6));
        // A key out of canonical order is no flow of the table.
        let swapped = FastKey { lo_addr: k.hi_addr, hi_addr: k.lo_addr, lo_port: 53, hi_port: 40000, ..k };
        assert_eq!(flow_key(&swapped), None);
    }
}
