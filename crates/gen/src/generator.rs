//! The generator: turns a [`Profile`] into a deterministic sequence of frames, and keeps the
//! ground truth (which protocol each flow is, and what was sent of each).
//!
//! Scheduling: each packet goes to the template whose bytes sent so far, divided by its weight,
//! are lowest (so weights are shares of bytes, exactly, not on average); within a template its
//! flow slots take turns. A slot whose flow ends opens a new flow (new ports) at once, so each
//! template keeps `flows` conversations open. The first flow of each slot gets a random part of
//! its lifetime so that slots do not all end at once. Timestamps come from the rate schedule,
//! never from a clock: the same profile and seed give the same bytes.
//!
//! Addresses: inside hosts are 198.18.0.10-249 and 2001:2::1:0:a-f9, outside hosts
//! 198.19.0.1-254 and 2001:2:0:1::1-fe (RFC 2544 / RFC 5180 ranges only). A client's port is
//! derived from the flow number so that no two of the last 15 million flows share a 5-tuple.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use weir_wire::TcpFlags;

use crate::packet::{self, Encap, Header, L4};
use crate::profile::{Lifetime, Profile, Rate, SizeDist, Template, Variant};
use crate::proto::Protocol;
use crate::rate::Schedule;
use crate::rng::Rng;
use crate::template::{self, BulkState, Ctx, Msg};
use crate::trailer::{TRAILER_LEN, Trailer};

/// Largest IP packet a generated frame carries when it has a trailer (1518-byte frame on a
/// 1500-byte MTU veth: 14 + 4 VLAN + IP + 24-byte trailer).
const MAX_IP_WITH_TRAILER: usize = 1476;
/// Largest IP packet without a trailer.
const MAX_IP: usize = 1500;
const INSIDE_HOSTS: u64 = 240;
const OUTSIDE_HOSTS: u64 = 254;

/// One generated frame, as written into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Frame length in bytes (no FCS).
    pub len: usize,
    /// True when an outside host sent it (it belongs on the outside NIC).
    pub from_outside: bool,
    /// The flow's protocol.
    pub protocol: Protocol,
    /// The flow's number.
    pub flow: u64,
    /// Scheduled send time, ns after the start.
    pub ts_ns: u64,
    /// Offset of the trailer in the frame, if any.
    pub trailer_at: Option<usize>,
}

/// What was generated of one protocol. `out` is sent by inside hosts, `in` by outside hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProtoTruth {
    /// Flows started.
    pub flows: u64,
    /// Packets sent by inside hosts.
    pub packets_out: u64,
    /// Packets sent by outside hosts.
    pub packets_in: u64,
    /// Frame bytes (no FCS) sent by inside hosts.
    pub bytes_out: u64,
    /// Frame bytes sent by outside hosts.
    pub bytes_in: u64,
}

/// One generated flow, for checking a classifier flow by flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowTruth {
    /// Flow number.
    pub flow: u64,
    /// Protocol.
    pub protocol: Protocol,
    /// The template's name.
    pub template: String,
    /// True for UDP.
    pub udp: bool,
    /// The side that sent the first packet.
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// True if the client is an inside host.
    pub client_inside: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Syn,
    SynAck,
    Ack,
    Opening,
    Bulk,
    Fin1,
    Fin2,
    Fin3,
    Done,
}

#[derive(Debug, Clone, Copy)]
enum Life {
    Packets(u64),
    Until(u64),
}

struct Flow {
    id: u64,
    protocol: Protocol,
    variant: Variant,
    udp: bool,
    message_protocol: bool,
    client: SocketAddr,
    server: SocketAddr,
    client_inside: bool,
    vlan: Option<u16>,
    encap: Option<Encap>,
    ctx: Ctx,
    rng: Rng,
    phase: Phase,
    step: u32,
    pending: Option<(bool, Vec<u8>, usize)>,
    /// Next sequence number of client (0) and server (1).
    seq: [u32; 2],
    ident: [u16; 2],
    tseq: [u32; 2],
    bulk: [BulkState; 2],
    bulk_sent: u64,
    life: Life,
    max_payload: usize,
}

struct Slot {
    flow: Option<Flow>,
    fresh: bool,
}

struct TState {
    bytes: f64,
    slots: Vec<Slot>,
    cursor: usize,
}

/// The frame sequence of one profile.
pub struct Generator {
    profile: Profile,
    schedule: Schedule,
    units: f64,
    packets: u64,
    /// Flows started; the next flow's id is `id_base + flows * id_step`.
    started: u64,
    id_base: u64,
    id_step: u64,
    templates: Vec<TState>,
    truth: BTreeMap<Protocol, ProtoTruth>,
    records: Option<Vec<FlowTruth>>,
    done: bool,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").field("packets", &self.packets).field("flows", &self.started).finish()
    }
}

fn inside_host(n: u64, v6: bool) -> IpAddr {
    let h = (n % INSIDE_HOSTS) as u8 + 10;
    if v6 { Ipv6Addr::new(0x2001, 2, 0, 0, 0, 1, 0, u16::from(h)).into() } else { Ipv4Addr::new(198, 18, 0, h).into() }
}

fn outside_host(n: u64, v6: bool) -> IpAddr {
    let h = (n % OUTSIDE_HOSTS) as u8 + 1;
    if v6 { Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, u16::from(h)).into() } else { Ipv4Addr::new(198, 19, 0, h).into() }
}

fn client_port(n: u64, hosts: u64) -> u16 {
    (1024 + ((n / hosts) * 40_499) % 64_512) as u16
}

fn frame_size(dist: SizeDist, rng: &mut Rng) -> usize {
    match dist {
        SizeDist::Fixed(b) => b as usize,
        SizeDist::Uniform(lo, hi) => rng.range(u64::from(lo), u64::from(hi)) as usize,
        SizeDist::Imix => match rng.below(12) {
            0..=6 => 64,
            7..=10 => 594,
            _ => 1518,
        },
    }
}

impl Flow {
    fn new(id: u64, t: &Template, seed: u64, now: u64, fresh: bool, trailer: bool) -> Flow {
        let mut rng = Rng::fork(seed, id);
        let v6 = rng.chance(t.ipv6);
        let client_inside = !rng.chance(t.inbound);
        let server_n = rng.next_u64();
        let (client_ip, server_ip) = if client_inside {
            (inside_host(id, v6), outside_host(server_n, v6))
        } else {
            (outside_host(id, v6), inside_host(server_n, v6))
        };
        let cport = client_port(id, if client_inside { INSIDE_HOSTS } else { OUTSIDE_HOSTS });
        let sport = if t.random_ports { rng.range(1024, 65_535) as u16 } else { t.server_port };
        let octets = match server_ip {
            IpAddr::V4(a) => a.octets(),
            IpAddr::V6(a) => {
                let o = a.octets();
                [o[12], o[13], o[14], o[15]]
            }
        };
        let ctx = Ctx::new(&mut rng, octets, sport, v6);
        let udp = t.is_udp();
        let life = match t.lifetime {
            Lifetime::Packets(n) if fresh => Life::Packets(rng.range(n.min(1), n)),
            Lifetime::Packets(n) => Life::Packets(n),
            Lifetime::Nanos(d) if fresh => Life::Until(now + rng.range(1, d)),
            Lifetime::Nanos(d) => Life::Until(now + d),
        };
        let l3 = if v6 { 40 } else { 20 };
        let l4 = if udp { 8 } else { 20 };
        // A tunnel's headers come out of the same MTU.
        let max_ip = if trailer { MAX_IP_WITH_TRAILER } else { MAX_IP } - t.encap.map_or(0, Encap::overhead);
        let seq = [rng.next_u32(), rng.next_u32()];
        let ident = [rng.next_u32() as u16, rng.next_u32() as u16];
        Flow {
            id,
            protocol: t.protocol,
            variant: t.variant,
            udp,
            message_protocol: template::is_message_protocol(t.protocol, t.variant),
            client: SocketAddr::new(client_ip, cport),
            server: SocketAddr::new(server_ip, sport),
            client_inside,
            vlan: t.vlan,
            encap: t.encap,
            ctx,
            rng,
            phase: if udp { Phase::Opening } else { Phase::Syn },
            step: 0,
            pending: None,
            seq,
            ident,
            tseq: [0, 0],
            bulk: [BulkState::default(); 2],
            bulk_sent: 0,
            life,
            max_payload: max_ip - l3 - l4,
        }
    }

    fn expired(&self, now: u64) -> bool {
        match self.life {
            Life::Packets(n) => self.bulk_sent >= n,
            Life::Until(t) => now >= t,
        }
    }

    /// Writes the flow's next packet. Returns (frame len, from_client, trailer offset).
    fn emit(&mut self, buf: &mut [u8], now: u64, t: &Template, trailer: bool) -> Option<(usize, bool, Option<usize>)> {
        loop {
            match self.phase {
                Phase::Syn => return self.control(buf, now, true, TcpFlags::SYN, Phase::SynAck, trailer),
                Phase::SynAck => {
                    return self.control(buf, now, false, TcpFlags::SYN | TcpFlags::ACK, Phase::Ack, trailer);
                }
                Phase::Ack => return self.control(buf, now, true, TcpFlags::ACK, Phase::Opening, trailer),
                Phase::Opening => {
                    if self.pending.is_none() {
                        match template::opening(self.protocol, self.variant, self.step, &self.ctx, &mut self.rng) {
                            Some(Msg { from_client, data }) => {
                                self.step += 1;
                                self.pending = Some((from_client, data, 0));
                            }
                            None => {
                                self.phase = Phase::Bulk;
                                continue;
                            }
                        }
                    }
                    let (from_client, data, off) = self.pending.take()?;
                    let n = (data.len() - off).min(self.max_payload);
                    let r = self.data(buf, now, from_client, trailer, n, |p| p.copy_from_slice(&data[off..off + n]));
                    if off + n < data.len() {
                        self.pending = Some((from_client, data, off + n));
                    }
                    return r;
                }
                Phase::Bulk => {
                    if self.expired(now) {
                        self.phase = if self.udp { Phase::Done } else { Phase::Fin1 };
                        continue;
                    }
                    self.bulk_sent += 1;
                    if self.message_protocol {
                        let k = (self.bulk_sent - 1) as u32;
                        let Msg { from_client, data } =
                            template::repeat(self.protocol, self.variant, k, &self.ctx, &mut self.rng);
                        let n = data.len().min(self.max_payload);
                        return self.data(buf, now, from_client, trailer, n, |p| p.copy_from_slice(&data[..n]));
                    }
                    let sender_inside = self.rng.chance(t.upload);
                    let from_client = sender_inside == self.client_inside;
                    let size = frame_size(t.size, &mut self.rng);
                    let l3 = if self.client.is_ipv4() { 20 } else { 40 };
                    let l4 = if self.udp { 8 } else { 20 };
                    let tunnel = self.encap.map_or(0, Encap::overhead);
                    let fixed = 4 + 14 + if self.vlan.is_some() { 4 } else { 0 } + tunnel + l3 + l4;
                    let fixed = fixed + if trailer { TRAILER_LEN } else { 0 };
                    let n = size.saturating_sub(fixed).min(self.max_payload);
                    let d = usize::from(!from_client);
                    let (protocol, variant) = (self.protocol, self.variant);
                    let mut st = self.bulk[d];
                    let mut rng = self.rng.clone();
                    let ctx = self.ctx.clone();
                    let r = self.data(buf, now, from_client, trailer, n, |p| {
                        template::bulk_payload(protocol, variant, &mut st, &ctx, &mut rng, p);
                    });
                    self.bulk[d] = st;
                    self.rng = rng;
                    return r;
                }
                Phase::Fin1 => {
                    return self.control(buf, now, true, TcpFlags::FIN | TcpFlags::ACK, Phase::Fin2, trailer);
                }
                Phase::Fin2 => {
                    return self.control(buf, now, false, TcpFlags::FIN | TcpFlags::ACK, Phase::Fin3, trailer);
                }
                Phase::Fin3 => return self.control(buf, now, true, TcpFlags::ACK, Phase::Done, trailer),
                Phase::Done => return None,
            }
        }
    }

    fn header(&mut self, from_client: bool, l4: L4) -> Header {
        let d = usize::from(!from_client);
        let (src, dst) = if from_client { (self.client, self.server) } else { (self.server, self.client) };
        let ident = self.ident[d];
        self.ident[d] = ident.wrapping_add(1);
        Header {
            src: src.ip(),
            dst: dst.ip(),
            sport: src.port(),
            dport: dst.port(),
            from_outside: from_client != self.client_inside,
            vlan: self.vlan,
            encap: self.encap,
            ident,
            l4,
        }
    }

    fn trailer(&mut self, from_client: bool, now: u64) -> Trailer {
        let d = usize::from(!from_client);
        let seq = self.tseq[d];
        self.tseq[d] = seq.wrapping_add(1);
        Trailer {
            stream: self.id as u32,
            seq,
            send_ns: now,
            protocol: self.protocol.id(),
            from_outside: from_client != self.client_inside,
        }
    }

    fn control(
        &mut self,
        buf: &mut [u8],
        now: u64,
        from_client: bool,
        flags: TcpFlags,
        next: Phase,
        trailer: bool,
    ) -> Option<(usize, bool, Option<usize>)> {
        let d = usize::from(!from_client);
        let l4 = L4::Tcp { seq: self.seq[d], ack: self.seq[1 - d], flags };
        if flags.intersects(TcpFlags::SYN | TcpFlags::FIN) {
            self.seq[d] = self.seq[d].wrapping_add(1);
        }
        let h = self.header(from_client, l4);
        let t = trailer.then(|| self.trailer(from_client, now));
        self.phase = next;
        let (len, at) = packet::build(buf, &h, 0, t.as_ref(), |_| {}).ok()?;
        Some((len, from_client, at))
    }

    fn data(
        &mut self,
        buf: &mut [u8],
        now: u64,
        from_client: bool,
        trailer: bool,
        n: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Option<(usize, bool, Option<usize>)> {
        let d = usize::from(!from_client);
        let l4 = if self.udp {
            L4::Udp
        } else {
            let flags = if n > 0 { TcpFlags::PSH | TcpFlags::ACK } else { TcpFlags::ACK };
            let l4 = L4::Tcp { seq: self.seq[d], ack: self.seq[1 - d], flags };
            self.seq[d] = self.seq[d].wrapping_add(n as u32);
            l4
        };
        let h = self.header(from_client, l4);
        let t = trailer.then(|| self.trailer(from_client, now));
        let (len, at) = packet::build(buf, &h, n, t.as_ref(), fill).ok()?;
        Some((len, from_client, at))
    }
}

impl Generator {
    /// A generator at the start of `profile`'s traffic.
    pub fn new(profile: Profile) -> Generator {
        let schedule = match profile.rate {
            Rate::Pps(r) | Rate::Bps(r) => Schedule { rate: r, ramp_ns: profile.ramp_ns },
        };
        let templates = profile
            .templates
            .iter()
            .map(|t| TState {
                bytes: 0.0,
                slots: (0..t.flows).map(|_| Slot { flow: None, fresh: true }).collect(),
                cursor: 0,
            })
            .collect();
        Generator {
            profile,
            schedule,
            units: 0.0,
            packets: 0,
            started: 0,
            id_base: 0,
            id_step: 1,
            templates,
            truth: BTreeMap::new(),
            records: None,
            done: false,
        }
    }

    /// Numbers this generator's flows `base`, `base + step`, `base + 2 step`, ... instead of 0,
    /// 1, 2, ...: with [`Profile::share`], generator `i` of `n` takes `(i, n)`, so parallel
    /// generators never make the same flow number, and so never the same 5-tuple (a flow's
    /// addresses, ports and random choices all derive from its number and the seed).
    #[must_use]
    pub fn with_flow_ids(mut self, base: u64, step: u64) -> Generator {
        self.id_base = base;
        self.id_step = step.max(1);
        self
    }

    /// Also keep a [`FlowTruth`] per flow (for tests and small runs: it grows with the flows).
    pub fn record_flows(&mut self) {
        self.records.get_or_insert_with(Vec::new);
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The rate schedule: units are packets (`pps`) or bits on the wire (`bps`, 4-byte FCS
    /// counted).
    pub fn schedule(&self) -> Schedule {
        self.schedule
    }

    /// Rate units one frame of `len` bytes costs.
    pub fn units_of(&self, len: usize) -> f64 {
        match self.profile.rate {
            Rate::Pps(_) => 1.0,
            Rate::Bps(_) => ((len + 4) * 8) as f64,
        }
    }

    /// Packets generated so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flows started so far.
    pub fn flows(&self) -> u64 {
        self.started
    }

    /// Ground truth per protocol so far.
    pub fn truth(&self) -> &BTreeMap<Protocol, ProtoTruth> {
        &self.truth
    }

    /// Recorded flows (empty unless [`record_flows`](Self::record_flows) was called).
    pub fn flow_records(&self) -> &[FlowTruth] {
        self.records.as_deref().unwrap_or(&[])
    }

    /// Writes the next frame into `buf` (at least 1522 bytes) and describes it; `None` when the
    /// profile's duration or packet count is reached.
    pub fn next_packet(&mut self, buf: &mut [u8]) -> Option<Packet> {
        let now = self.schedule.time_of(self.units);
        let trailer = self.profile.trailer;
        if !self.done
            && (self.profile.stop.packets.is_some_and(|n| self.packets >= n)
                || self.profile.stop.duration_ns.is_some_and(|d| now >= d))
        {
            self.done = true;
        }
        if self.done {
            return self.drain(buf, now, trailer);
        }
        let ti = self.pick_template();
        let t = &self.profile.templates[ti];
        let ts = &mut self.templates[ti];
        let si = ts.cursor % ts.slots.len();
        ts.cursor = (si + 1) % ts.slots.len();
        let slot = &mut ts.slots[si];
        // A flow that has just finished yields nothing: its slot opens a new flow at once, and a
        // new flow always has a first packet.
        for _ in 0..2 {
            if slot.flow.is_none() {
                let id = self.id_base + self.started * self.id_step;
                self.started += 1;
                let f = Flow::new(id, t, self.profile.seed, now, slot.fresh, trailer);
                slot.fresh = false;
                let truth = self.truth.entry(t.protocol).or_default();
                truth.flows += 1;
                if let Some(r) = &mut self.records {
                    r.push(FlowTruth {
                        flow: id,
                        protocol: t.protocol,
                        template: t.name.clone(),
                        udp: f.udp,
                        client: f.client,
                        server: f.server,
                        client_inside: f.client_inside,
                    });
                }
                slot.flow = Some(f);
            }
            let Some(flow) = slot.flow.as_mut() else { continue };
            let out = flow.emit(buf, now, t, trailer);
            let (protocol, id, client_inside) = (flow.protocol, flow.id, flow.client_inside);
            if flow.phase == Phase::Done {
                slot.flow = None;
            }
            let Some((len, from_client, trailer_at)) = out else { continue };
            let from_outside = from_client != client_inside;
            ts.bytes += len as f64;
            let truth = self.truth.entry(protocol).or_default();
            if from_outside {
                truth.packets_in += 1;
                truth.bytes_in += len as u64;
            } else {
                truth.packets_out += 1;
                truth.bytes_out += len as u64;
            }
            self.units += self.units_of(len);
            self.packets += 1;
            return Some(Packet { len, from_outside, protocol, flow: id, ts_ns: now, trailer_at });
        }
        self.done = true;
        None
    }

    /// After the stop: the rest of the opening exchange of flows already started (so every
    /// generated flow can be classified), then FIN both ways for TCP flows, template by
    /// template and slot by slot, then nothing.
    fn drain(&mut self, buf: &mut [u8], now: u64, trailer: bool) -> Option<Packet> {
        for (ti, ts) in self.templates.iter_mut().enumerate() {
            let t = &self.profile.templates[ti];
            for slot in &mut ts.slots {
                let Some(flow) = slot.flow.as_mut() else { continue };
                if flow.phase == Phase::Bulk {
                    // No more bulk: close (TCP FIN both ways) so the flow ends in the bridge.
                    flow.phase = if flow.udp { Phase::Done } else { Phase::Fin1 };
                }
                if flow.phase == Phase::Done {
                    slot.flow = None;
                    continue;
                }
                let out = flow.emit(buf, now, t, trailer);
                let (protocol, id, client_inside) = (flow.protocol, flow.id, flow.client_inside);
                if flow.phase == Phase::Done {
                    slot.flow = None;
                }
                let Some((len, from_client, trailer_at)) = out else { continue };
                let from_outside = from_client != client_inside;
                let units = match self.profile.rate {
                    Rate::Pps(_) => 1.0,
                    Rate::Bps(_) => ((len + 4) * 8) as f64,
                };
                ts.bytes += len as f64;
                let truth = self.truth.entry(protocol).or_default();
                if from_outside {
                    truth.packets_in += 1;
                    truth.bytes_in += len as u64;
                } else {
                    truth.packets_out += 1;
                    truth.bytes_out += len as u64;
                }
                self.units += units;
                self.packets += 1;
                return Some(Packet { len, from_outside, protocol, flow: id, ts_ns: now, trailer_at });
            }
        }
        None
    }

    fn pick_template(&self) -> usize {
        let mut best = 0;
        let mut best_v = f64::INFINITY;
        for (i, (ts, t)) in self.templates.iter().zip(&self.profile.templates).enumerate() {
            let v = ts.bytes / t.weight;
            if v < best_v {
                best = i;
                best_v = v;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap;
    use weir_wire::{LinkType, Network, Transport, parse_frame};

    fn profile(text: &str) -> Profile {
        Profile::parse(text, "t").unwrap()
    }

    fn shipped(name: &str) -> Profile {
        let path = format!("{}/../../configs/profiles/{name}", env!("CARGO_MANIFEST_DIR"));
        Profile::load(std::path::Path::new(&path)).unwrap()
    }

    fn pcap_bytes(p: Profile) -> Vec<u8> {
        let mut out = Vec::new();
        pcap::write_all(&mut Generator::new(p), &mut out).unwrap();
        out
    }

    #[test]
    fn same_profile_and_seed_same_bytes() {
        let mut p = shipped("campus-2004.toml");
        p.stop.packets = Some(30_000);
        let a = pcap_bytes(p.clone());
        let b = pcap_bytes(p.clone());
        assert!(a.len() > 1_000_000);
        assert!(a == b, "two runs of one profile and seed differ");
        p.seed += 1;
        assert!(pcap_bytes(p) != a, "another seed made the same traffic");
    }

    #[test]
    fn parallel_shares_make_disjoint_flows_with_the_whole_mix() {
        let mut p = shipped("campus-2004.toml");
        p.stop.packets = Some(90_001);
        let n = 3;
        let mut buf = vec![0u8; 2048];
        let mut tuples = std::collections::HashSet::new();
        let (mut packets, mut flows, mut p2p_out, mut all_out) = (0u64, 0u64, 0u64, 0u64);
        for i in 0..n {
            let share = p.share(i, n);
            assert_eq!(
                share.rate,
                crate::profile::Rate::Pps(match p.rate {
                    crate::profile::Rate::Pps(r) | crate::profile::Rate::Bps(r) => r / 3.0,
                })
            );
            let mut g = Generator::new(share).with_flow_ids(u64::from(i), u64::from(n));
            g.record_flows();
            while g.next_packet(&mut buf).is_some() {}
            packets += g.packets();
            flows += g.flows();
            for f in g.flow_records() {
                assert_eq!(f.flow % u64::from(n), u64::from(i), "share {i} made flow {}", f.flow);
                let key = (f.udp, f.client.min(f.server), f.client.max(f.server));
                assert!(tuples.insert(key), "two shares made the same 5-tuple {key:?}");
            }
            for (proto, t) in g.truth() {
                all_out += t.bytes_out;
                if proto.is_p2p() {
                    p2p_out += t.bytes_out;
                }
            }
        }
        // The packet count is split exactly (90,001 = 30,001 + 30,000 + 30,000), plus each
        // share's closing FINs after its stop.
        assert!((90_001..95_000).contains(&packets), "{packets} packets");
        assert_eq!(tuples.len() as u64, flows);
        let share = p2p_out as f64 / all_out as f64;
        assert!((0.82..=0.88).contains(&share), "P2P share of outgoing bytes over the shares {share}");
        // One share is the whole profile, with the usual flow numbers.
        assert_eq!(p.share(0, 1), p);
        assert_eq!(p.share(1, 3).stop.packets, Some(30_000));
        assert_eq!(p.share(0, 3).stop.packets, Some(30_001));
        // A template with fewer flows than shares gets one in each.
        assert!(p.share(2, 8).templates.iter().all(|t| t.flows >= 1));
    }

    #[test]
    fn campus_mix_has_the_2004_shares() {
        let mut p = shipped("campus-2004.toml");
        p.stop.packets = Some(300_000);
        let mut g = Generator::new(p);
        let mut buf = vec![0u8; 2048];
        while g.next_packet(&mut buf).is_some() {}
        let (mut p2p, mut all) = ([0u64; 2], [0u64; 2]);
        for (proto, t) in g.truth() {
            all[0] += t.bytes_out;
            all[1] += t.bytes_in;
            if proto.is_p2p() {
                p2p[0] += t.bytes_out;
                p2p[1] += t.bytes_in;
            }
        }
        let out = p2p[0] as f64 / all[0] as f64;
        let inb = p2p[1] as f64 / all[1] as f64;
        assert!((0.82..=0.88).contains(&out), "P2P share of outgoing bytes {out}");
        assert!((0.60..=0.68).contains(&inb), "P2P share of incoming bytes {inb}");
        let mut by_bytes: Vec<(u64, Protocol)> =
            g.truth().iter().map(|(p, t)| (t.bytes_out + t.bytes_in, *p)).collect();
        by_bytes.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(by_bytes[0].1, Protocol::Bittorrent);
        assert_eq!(by_bytes[1].1, Protocol::Directconnect);
    }

    #[test]
    fn a_tcp_conversation_has_the_real_shape() {
        let p = profile(
            "pps = 100\npackets = 12\ntrailer = false\n[[template]]\nprotocol = \"bittorrent\"\nflows = 1\nlifetime_packets = 2\n",
        );
        let mut g = Generator::new(p);
        let mut buf = vec![0u8; 2048];
        let mut seen = Vec::new();
        while let Some(pk) = g.next_packet(&mut buf) {
            let f = parse_frame(&buf[..pk.len], LinkType::Ethernet).unwrap();
            let Network::Ip(ip) = f.network else { panic!("not ip") };
            let Transport::Tcp { flags, payload, .. } = ip.transport else { panic!("not tcp") };
            seen.push((pk.from_outside, flags, payload.to_vec()));
        }
        let flags: Vec<TcpFlags> = seen.iter().map(|s| s.1).collect();
        assert_eq!(flags[0], TcpFlags::SYN);
        assert_eq!(flags[1], TcpFlags::SYN | TcpFlags::ACK);
        assert_eq!(flags[2], TcpFlags::ACK);
        assert!(seen[3].2.starts_with(b"\x13BitTorrent protocol") && !seen[3].0);
        assert!(seen[4].2.starts_with(b"\x13BitTorrent protocol") && seen[4].0);
        // bitfield after the server's handshake, interested, unchoke, request, then bulk, FIN.
        assert_eq!(seen[4].2[68 + 4], 5);
        assert_eq!(seen[5].2[4], 5);
        assert_eq!(&seen[6].2[..], &[0, 0, 0, 1, 1]);
        assert_eq!(seen[7].2[4], 6);
        let n = seen.len();
        assert_eq!(flags[n - 3], TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(flags[n - 2], TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(flags[n - 1], TcpFlags::ACK);
        assert!(seen[n - 3].2.is_empty());
    }

    #[test]
    fn pps_timestamps_follow_the_rate_and_the_stop() {
        let p = profile("pps = 1000\nduration_s = 2\n[[template]]\nprotocol = \"quic\"\nflows = 3\n");
        let mut g = Generator::new(p);
        let mut buf = vec![0u8; 2048];
        let mut last = 0;
        let mut n = 0u64;
        while let Some(pk) = g.next_packet(&mut buf) {
            assert!(pk.ts_ns >= last);
            last = pk.ts_ns;
            n += 1;
        }
        // 2000 packets in 2 s, plus the opening packets of flows cut by the stop.
        assert!((2000..2013).contains(&n), "{n}");
        assert_eq!(g.packets(), n);
        let t: u64 = g.truth().values().map(|t| t.packets_in + t.packets_out).sum();
        assert_eq!(t, n);
    }

    #[test]
    fn bulk_frames_have_the_asked_size() {
        let p = profile(
            "pps = 100\npackets = 400\ntrailer = true\n[[template]]\nprotocol = \"quic\"\nflows = 1\nlifetime_packets = 1000\nsize = { dist = \"fixed\", bytes = 700 }\n",
        );
        let mut g = Generator::new(p);
        let mut buf = vec![0u8; 2048];
        let lens: Vec<usize> = std::iter::from_fn(|| g.next_packet(&mut buf).map(|p| p.len)).collect();
        // Opening packets (1266, 1266, 1166, 156 bytes), then bulk frames of 700 bytes on the
        // wire = 696 without FCS.
        assert!(lens.iter().all(|l| [1266, 1166, 156, 696].contains(l)), "{lens:?}");
        assert!(lens.iter().filter(|&&l| l == 696).count() > 300);
    }
}
