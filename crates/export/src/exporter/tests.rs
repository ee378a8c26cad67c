//! The exporter over real sockets on 127.0.0.1.

use super::*;
use crate::flow::{FlowEnd, Forwarding};
use crate::template::{SET_TEMPLATE, TEMPLATE_V4};
use crate::testing::{split, walk};
use std::net::TcpListener;

fn flow(n: u16) -> ExportFlow {
    ExportFlow {
        flow_id: u64::from(n),
        ip_protocol: 17,
        originator: ("198.18.0.1".parse().unwrap(), 10_000 + n),
        responder: ("198.18.1.1".parse().unwrap(), 53),
        originator_inside: true,
        vlan: 0,
        protocol: 10,
        packets: [1, 1],
        bytes: [80, 120],
        start_ms: 1_700_000_000_000,
        end_ms: 1_700_000_000_001,
        end: FlowEnd::IdleTimeout,
        forwarding: [Forwarding::Forwarded; 2],
    }
}

fn config(collector: &str) -> ExporterConfig {
    ExporterConfig {
        collectors: vec![Collector::parse(collector).unwrap()],
        encoder: EncoderConfig { domain: 7, max_message: 1400, interfaces: [1, 2] },
        template_refresh: Duration::from_secs(60),
        queue: 1024,
        linger: Duration::from_millis(20),
        udp_messages_per_s: None,
        core: None,
    }
}

fn apps() -> Arc<AppTable> {
    Arc::new(AppTable::from_registry(weir_dpi::Classifier::builtin().unwrap().registry()))
}

fn udp_collector() -> (UdpSocket, String) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, format!("127.0.0.1:{port}"))
}

fn receive_all(s: &UdpSocket) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = s.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    out
}

/// Every message in order: sequence numbers continuous; returns (template rounds, flow records).
fn check_stream(msgs: &[&[u8]]) -> (usize, u32) {
    let (mut seq, mut rounds, mut flows) = (0u32, 0, 0);
    for m in msgs {
        let w = walk(m);
        assert_eq!(w.sequence, seq, "sequence numbers count the data records before each message");
        seq += w.data_records;
        rounds += w.sets.iter().filter(|(id, _)| *id == SET_TEMPLATE).count();
        flows += w.sets.iter().filter(|(id, _)| *id == TEMPLATE_V4).map(|(_, n)| n).sum::<u32>();
    }
    (rounds, flows)
}

#[test]
fn udp_records_arrive_after_templates_with_continuous_sequence_numbers() {
    let (collector, addr) = udp_collector();
    let exporter = Exporter::start(config(&addr), apps()).unwrap();
    let h = exporter.handle().unwrap();
    for n in 0..300 {
        assert!(h.send(flow(n)));
    }
    drop(h);
    let stats = exporter.finish(Duration::from_secs(1));
    let msgs = receive_all(&collector);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    assert_eq!(walk(refs[0]).sets[0].0, SET_TEMPLATE, "templates come first");
    let (rounds, flows) = check_stream(&refs);
    assert_eq!((rounds, flows), (1, 600));
    assert_eq!((stats.queued, stats.dropped), (300, 0));
    let c = &stats.collectors[0];
    assert_eq!(c.messages as usize, msgs.len());
    assert_eq!(c.records, 600 + apps().apps().len() as u64);
    assert_eq!((c.records_lost, c.send_errors, c.template_rounds), (0, 0, 1));
    assert!(msgs.iter().all(|m| m.len() <= 1400));
}

#[test]
fn udp_templates_are_resent_periodically() {
    let (collector, addr) = udp_collector();
    let mut cfg = config(&addr);
    cfg.template_refresh = Duration::from_millis(50);
    let exporter = Exporter::start(cfg, apps()).unwrap();
    let h = exporter.handle().unwrap();
    h.send(flow(1));
    std::thread::sleep(Duration::from_millis(400));
    h.send(flow(2));
    drop(h);
    let stats = exporter.finish(Duration::from_secs(1));
    let msgs = receive_all(&collector);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let (rounds, flows) = check_stream(&refs);
    assert!(rounds >= 3, "{rounds} template rounds in 400 ms at a 50 ms refresh");
    assert_eq!(flows, 4);
    assert_eq!(stats.collectors[0].template_rounds as usize, rounds);
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let (collector, addr) = udp_collector();
    let mut cfg = config(&addr);
    cfg.queue = 4;
    cfg.encoder.max_message = 512;
    cfg.udp_messages_per_s = Some(20);
    let exporter = Exporter::start(cfg, apps()).unwrap();
    let h = exporter.handle().unwrap();
    let started = Instant::now();
    let accepted = (0..2000).filter(|&n| h.try_send(flow(n))).count() as u64;
    assert!(started.elapsed() < Duration::from_millis(500), "try_send never waits");
    let stats = exporter.stats();
    assert_eq!(stats.queued, accepted);
    assert_eq!(stats.queued + stats.dropped, 2000);
    assert!(stats.dropped > 1000, "{stats:?}");
    drop(h);
    let stats = exporter.finish(Duration::from_secs(1));
    let msgs = receive_all(&collector);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let (_, flows) = check_stream(&refs);
    assert_eq!(u64::from(flows), 2 * stats.queued, "every queued record was sent");
}

fn read_stream(listener: &TcpListener) -> Vec<u8> {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    buf
}

#[test]
fn tcp_streams_start_with_templates_and_carry_every_record() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let exporter = Exporter::start(config(&addr), apps()).unwrap();
    let h = exporter.handle().unwrap();
    for n in 0..500 {
        h.send(flow(n));
    }
    drop(h);
    let reader = std::thread::spawn(move || read_stream(&listener));
    let stats = exporter.finish(Duration::from_secs(5));
    let stream = reader.join().unwrap();
    let msgs = split(&stream);
    assert_eq!(walk(msgs[0]).sets[0].0, SET_TEMPLATE);
    assert_eq!(check_stream(&msgs), (1, 1000));
    let c = &stats.collectors[0];
    assert_eq!((c.connects, c.records_lost, c.bytes as usize), (1, 0, stream.len()));
}

#[test]
fn a_tcp_collector_that_comes_up_late_gets_what_waited() {
    // A port with nothing behind it yet.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let exporter = Exporter::start(config(&format!("tcp://127.0.0.1:{port}")), apps()).unwrap();
    let h = exporter.handle().unwrap();
    for n in 0..50 {
        h.send(flow(n));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(!exporter.stats().collectors[0].connected);
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    drop(h);
    let reader = std::thread::spawn(move || read_stream(&listener));
    let stats = exporter.finish(Duration::from_secs(10));
    let stream = reader.join().unwrap();
    let msgs = split(&stream);
    assert_eq!(check_stream(&msgs), (1, 100));
    assert_eq!(stats.collectors[0].records_lost, 0);
    assert!(stats.collectors[0].send_errors >= 1, "the refused attempt is counted");
}

#[test]
fn a_broken_tcp_connection_is_counted_and_the_next_stream_starts_afresh() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let exporter = Exporter::start(config(&addr), apps()).unwrap();
    let h = exporter.handle().unwrap();
    h.send(flow(1));
    // The first connection: read the first messages, then hang up.
    let (mut first, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 65536];
    first.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = first.read(&mut buf).unwrap();
    assert!(n > 0);
    drop(first);
    // Long enough for the exporter to see the hang-up (it looks at least every 200 ms).
    std::thread::sleep(Duration::from_millis(500));
    for n in 2..20 {
        h.send(flow(n));
    }
    drop(h);
    let reader = std::thread::spawn(move || read_stream(&listener));
    let stats = exporter.finish(Duration::from_secs(10));
    let stream = reader.join().unwrap();
    let msgs = split(&stream);
    // The second stream numbers from zero and starts with templates again.
    let (rounds, flows) = check_stream(&msgs);
    assert_eq!(rounds, 1);
    let c = &stats.collectors[0];
    assert_eq!((flows, c.connects), (36, 2), "{c:?}");
    // The first flow went out on the first connection, or was waiting when it broke: lost,
    // and counted.
    assert!(c.records_lost == 0 || c.records_lost == 2, "{c:?}");
    assert!(c.send_errors >= 1);
}

#[test]
fn a_collector_that_does_not_resolve_is_an_error_naming_it() {
    let mut cfg = config("127.0.0.1:9");
    cfg.collectors = vec![Collector::parse("no-such-host.invalid:4739").unwrap()];
    let e = Exporter::start(cfg, apps()).unwrap_err().to_string();
    assert!(e.contains("udp://no-such-host.invalid:4739") && e.contains("cannot resolve"), "{e}");
    let mut cfg = config("127.0.0.1:9");
    cfg.collectors.clear();
    assert!(matches!(Exporter::start(cfg, apps()), Err(ExportError::NoCollector)));
}
