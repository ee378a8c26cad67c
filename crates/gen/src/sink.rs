//! What the sink measures, without I/O: per-stream loss and reordering from the trailers'
//! sequence numbers, one-way latency (receive time minus the trailer's send time, both of
//! `CLOCK_MONOTONIC`) in an hdrhistogram, and delivered packets and bytes per protocol and
//! direction: the ground truth of what arrived, since each trailer names its flow's protocol.

use std::collections::HashMap;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::proto::Protocol;
use crate::trailer;

/// A stream is one direction of one generated flow.
#[derive(Debug, Clone, Copy, Default)]
struct Stream {
    protocol: u8,
    received: u64,
    /// Highest sequence number seen + 1.
    next: u32,
    reordered: u64,
}

/// Delivered traffic of one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Delivered {
    /// Distinct flows seen.
    pub flows: u64,
    /// Packets sent by inside hosts, received.
    pub packets_out: u64,
    /// Packets sent by outside hosts, received.
    pub packets_in: u64,
    /// Their frame bytes.
    pub bytes_out: u64,
    /// Their frame bytes.
    pub bytes_in: u64,
}

/// The sink's counters.
#[derive(Debug)]
pub struct SinkStats {
    streams: HashMap<(u32, bool), Stream>,
    flows: HashMap<u32, u8>,
    latency: Option<Histogram<u64>>,
    per_proto: [Delivered; 16],
    /// Frames without a trailer (not from weir gen, or the trailer was cut).
    pub no_trailer: u64,
    /// Frames with a trailer.
    pub received: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Latencies that were negative (clock mismatch) and not recorded.
    pub clock_skew: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl Default for SinkStats {
    fn default() -> Self {
        SinkStats::new()
    }
}

impl SinkStats {
    /// Empty counters; latency from 1 ns to 100 s at 3 significant digits.
    pub fn new() -> SinkStats {
        // Constant, valid bounds: this cannot fail; if it did, latency would read 0.
        let latency = Histogram::new_with_bounds(1, 100_000_000_000, 3).ok();
        SinkStats {
            streams: HashMap::new(),
            flows: HashMap::new(),
            latency,
            per_proto: [Delivered::default(); 16],
            no_trailer: 0,
            received: 0,
            bytes: 0,
            clock_skew: 0,
            first_ns: None,
            last_ns: 0,
        }
    }

    /// Counts one received Ethernet frame at `now_ns` (`CLOCK_MONOTONIC`).
    pub fn record(&mut self, frame: &[u8], now_ns: u64) {
        let Some(t) = trailer::find(frame) else {
            self.no_trailer += 1;
            return;
        };
        self.received += 1;
        self.bytes += frame.len() as u64;
        self.first_ns.get_or_insert(now_ns);
        self.last_ns = self.last_ns.max(now_ns);
        match now_ns.checked_sub(t.send_ns) {
            Some(d) => {
                if let Some(h) = &mut self.latency {
                    // Values above the 100 s bound are clamped by saturating_record.
                    h.saturating_record(d.max(1));
                }
            }
            None => self.clock_skew += 1,
        }
        let s = self.streams.entry((t.stream, t.from_outside)).or_default();
        s.protocol = t.protocol;
        s.received += 1;
        if t.seq < s.next {
            s.reordered += 1;
        } else {
            s.next = t.seq.wrapping_add(1);
        }
        let p = usize::from(t.protocol).min(15);
        if self.flows.insert(t.stream, t.protocol).is_none() {
            self.per_proto[p].flows += 1;
        }
        let d = &mut self.per_proto[p];
        if t.from_outside {
            d.packets_in += 1;
            d.bytes_in += frame.len() as u64;
        } else {
            d.packets_out += 1;
            d.bytes_out += frame.len() as u64;
        }
    }

    /// Adds what another sink (another thread's sockets) measured. A stream seen by both is
    /// combined (received summed, the highest next sequence kept) and a flow seen by both is
    /// counted once.
    pub fn merge(&mut self, other: SinkStats) {
        for (key, o) in other.streams {
            let s = self.streams.entry(key).or_default();
            s.protocol = o.protocol;
            s.received += o.received;
            s.next = s.next.max(o.next);
            s.reordered += o.reordered;
        }
        for (flow, proto) in other.flows {
            if self.flows.insert(flow, proto).is_none() {
                self.per_proto[usize::from(proto).min(15)].flows += 1;
            }
        }
        for (d, o) in self.per_proto.iter_mut().zip(other.per_proto) {
            d.packets_out += o.packets_out;
            d.packets_in += o.packets_in;
            d.bytes_out += o.bytes_out;
            d.bytes_in += o.bytes_in;
        }
        if let (Some(h), Some(o)) = (&mut self.latency, &other.latency) {
            // Same bounds on both sides: adding cannot fail.
            let _ = h.add(o);
        }
        self.no_trailer += other.no_trailer;
        self.received += other.received;
        self.bytes += other.bytes;
        self.clock_skew += other.clock_skew;
        self.first_ns = match (self.first_ns, other.first_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ns = self.last_ns.max(other.last_ns);
    }

    /// Packets missing before the highest sequence number of their stream (losses at a stream's
    /// tail are only visible against the generator's count).
    pub fn lost(&self) -> u64 {
        self.streams.values().map(|s| u64::from(s.next).saturating_sub(s.received)).sum()
    }

    /// Packets that arrived after a later one of their stream.
    pub fn reordered(&self) -> u64 {
        self.streams.values().map(|s| s.reordered).sum()
    }

    /// Streams seen.
    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    /// Latency at quantile `q` (0..=1), ns.
    pub fn latency_ns(&self, q: f64) -> u64 {
        self.latency.as_ref().map_or(0, |h| h.value_at_quantile(q))
    }

    /// Delivered traffic per protocol.
    pub fn delivered(&self) -> Vec<(Protocol, Delivered)> {
        Protocol::ALL.iter().map(|&p| (p, self.per_proto[usize::from(p.id())])).filter(|(_, d)| d.flows > 0).collect()
    }

    /// The JSON report; `elapsed_s` is the measuring time.
    pub fn report(&self, elapsed_s: f64) -> Value {
        let span = self.first_ns.map_or(0.0, |f| (self.last_ns.saturating_sub(f)) as f64 * 1e-9);
        let secs = if span > 0.0 { span } else { elapsed_s.max(1e-9) };
        let h = self.latency.as_ref();
        let protocols: Vec<Value> = self
            .delivered()
            .into_iter()
            .map(|(p, d)| {
                let pk = d.packets_out + d.packets_in;
                let by = d.bytes_out + d.bytes_in;
                json!({
                    "protocol": p.name(),
                    "flows": d.flows,
                    "packets_out": d.packets_out,
                    "packets_in": d.packets_in,
                    "bytes_out": d.bytes_out,
                    "bytes_in": d.bytes_in,
                    "pps": pk as f64 / secs,
                    "bps": (by + 4 * pk) as f64 * 8.0 / secs,
                })
            })
            .collect();
        json!({
            "type": "sink",
            "elapsed_s": elapsed_s,
            "active_s": span,
            "received": self.received,
            "bytes": self.bytes,
            "no_trailer": self.no_trailer,
            "pps": self.received as f64 / secs,
            "bps": (self.bytes + 4 * self.received) as f64 * 8.0 / secs,
            "streams": self.streams.len(),
            "flows": self.flows.len(),
            "lost_in_stream": self.lost(),
            "reordered": self.reordered(),
            "clock_skew": self.clock_skew,
            "latency_ns": {
                "samples": h.map_or(0, |h| h.len()),
                "min": h.map_or(0, |h| h.min()),
                "p50": self.latency_ns(0.5),
                "p99": self.latency_ns(0.99),
                "p99_9": self.latency_ns(0.999),
                "max": h.map_or(0, |h| h.max()),
                "mean": h.map_or(0.0, |h| h.mean()),
            },
            "protocols": protocols,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::Generator;
    use crate::profile::Profile;

    #[test]
    fn merged_halves_equal_the_whole() {
        let p = Profile::parse(
            "pps = 1000\npackets = 4000\n[[template]]\nprotocol = \"http\"\n[[template]]\nprotocol = \"dns\"\ninbound = 0.5\n",
            "t",
        )
        .unwrap();
        let mut g = Generator::new(p);
        let (mut whole, mut a, mut b) = (SinkStats::new(), SinkStats::new(), SinkStats::new());
        let mut buf = vec![0u8; 2048];
        while let Some(pk) = g.next_packet(&mut buf) {
            let f = &buf[..pk.len];
            whole.record(f, pk.ts_ns + 1_000);
            // Each direction of a flow to one half, as two threads' sockets would see it.
            if pk.from_outside { a.record(f, pk.ts_ns + 1_000) } else { b.record(f, pk.ts_ns + 1_000) }
        }
        a.merge(b);
        assert_eq!(a.report(1.0), whole.report(1.0));
        assert_eq!((a.lost(), a.reordered()), (0, 0));
    }

    #[test]
    fn every_generated_frame_is_counted_once_with_its_protocol() {
        let p = Profile::parse(
            "pps = 1000\npackets = 5000\n[[template]]\nprotocol = \"http\"\n[[template]]\nprotocol = \"dns\"\ninbound = 0.5\n",
            "t",
        )
        .unwrap();
        let mut g = Generator::new(p);
        let mut s = SinkStats::new();
        let mut buf = vec![0u8; 2048];
        while let Some(pk) = g.next_packet(&mut buf) {
            // 1 ms of latency for every frame.
            s.record(&buf[..pk.len], pk.ts_ns + 1_000_000);
        }
        assert_eq!(s.received, g.packets());
        assert_eq!((s.lost(), s.reordered(), s.no_trailer), (0, 0, 0));
        let truth = g.truth();
        for (p, d) in s.delivered() {
            let t = truth[&p];
            assert_eq!(
                (d.flows, d.packets_out, d.packets_in, d.bytes_out, d.bytes_in),
                (t.flows, t.packets_out, t.packets_in, t.bytes_out, t.bytes_in),
                "{p}"
            );
        }
        let lat = s.latency_ns(0.5);
        assert!((999_000..=1_001_000).contains(&lat), "{lat}");
        let r = s.report(5.0);
        assert_eq!(r["received"], g.packets());
        assert!(r["latency_ns"]["p99_9"].as_u64().unwrap() >= lat);
    }

    #[test]
    fn loss_and_reordering_per_stream() {
        let p = Profile::parse(
            "pps = 1000\npackets = 300\n[[template]]\nprotocol = \"quic\"\nflows = 1\nlifetime_packets = 1000\n",
            "t",
        )
        .unwrap();
        let mut g = Generator::new(p);
        let mut frames = Vec::new();
        let mut buf = vec![0u8; 2048];
        while let Some(pk) = g.next_packet(&mut buf) {
            frames.push(buf[..pk.len].to_vec());
        }
        let mut s = SinkStats::new();
        // Drop frames 10 and 11 of the run, and swap frame 20 with the next one of its stream.
        let key = |f: &[u8]| trailer::find(f).map(|t| (t.stream, t.from_outside));
        let j = (21..frames.len()).find(|&j| key(&frames[j]) == key(&frames[20])).unwrap();
        frames.swap(20, j);
        for (i, f) in frames.iter().enumerate() {
            if i != 10 && i != 11 {
                s.record(f, 0);
            }
        }
        s.record(b"not a generated frame", 0);
        assert_eq!(s.no_trailer, 1);
        assert_eq!(s.lost(), 2);
        assert_eq!(s.reordered(), 1);
        assert!(s.clock_skew > 0 && s.clock_skew <= s.received);
    }
}
