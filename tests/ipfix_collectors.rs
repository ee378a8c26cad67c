//! IPFIX export read back by real collectors from Debian:
//!
//! - over UDP, inside a throwaway network namespace (everything on its 127.0.0.1): nfcapd
//!   (nfdump 1.7.1) stores the records, and its flows, summed per direction of each 5-tuple,
//!   must equal the packets and bytes weir counted for each flow (`--flows --json`); tshark,
//!   capturing the same datagrams, must decode every element of every record, the application
//!   names of the options template among them, and agree with weir on each flow's protocol,
//!   category, end reason, interfaces and flow id (nfdump 1.7.1 prints applicationId wrong, so
//!   the names are checked here, with tshark);
//! - over TCP, to a listener of this test on 127.0.0.1: libfixbuf's ipfixDump reads the stream
//!   and must find the same per-direction counts, the application names, and sequence numbers
//!   that count the data records before each message.
//!
//! Input: captures from tests/pcaps, IPv4 and IPv6, with flows long enough for interim
//! (active-timeout) records. Needs root (namespaces) and nfdump, tshark and libfixbuf-tools
//! (`scripts/setup.sh` installs them); without them the tests say so and skip, or fail under
//! `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use weir_testkit::bridge::TempDir;

const CAPTURES: &[&str] =
    &["bittorrent.pcap", "edonkey.pcap", "gnutella.pcap", "http_ipv6.pcap", "sip.pcap", "quic.pcap"];

fn pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcaps")
}

fn capture_args() -> Vec<String> {
    CAPTURES.iter().map(|c| pcaps().join(c).to_string_lossy().into_owned()).collect()
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether the collectors can run; says why not (and fails under CI=true).
fn collectors_available(test: &str) -> bool {
    let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let mut missing = Vec::new();
    if uid.ok().as_deref() != Some("0") {
        missing.push("root (for a network namespace)".to_string());
    }
    for (tool, arg) in [("ip", "-V"), ("nfcapd", "-V"), ("nfdump", "-V"), ("tshark", "-v"), ("ipfixDump", "--version")]
    {
        let ok = Command::new(tool).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
        if !ok {
            missing.push(format!("`{tool}` (scripts/setup.sh installs it)"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let why = missing.join(", ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: cannot run under CI=true: missing {why}");
    }
    eprintln!("\n!!! SKIPPED {test}: missing {why} !!!\n");
    false
}

/// A network namespace with only `lo`, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let name = format!("weir-ipfix-{:x}-{:x}", std::process::id(), nanos >> 12);
        let ok = Command::new("ip").args(["netns", "add", &name]).status().unwrap().success();
        assert!(ok, "ip netns add {name}");
        let ns = Netns(name);
        assert!(ns.cmd("ip").args(["link", "set", "lo", "up"]).status().unwrap().success());
        ns
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A process this test started: stopped with SIGTERM (so collectors finish their files), then
/// killed if it lingers; always on drop.
struct Proc(Option<Child>);

impl Proc {
    fn stop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// (source, source port, destination, destination port, IP protocol) of one direction.
type Key = (String, u16, String, u16, u8);

/// What weir said: its flows and, per direction of each 5-tuple, (packets, bytes).
struct WeirRun {
    flows: Vec<Value>,
    directions: BTreeMap<Key, (u64, u64)>,
    stderr: String,
}

fn proto_number(l4: &str) -> u8 {
    match l4 {
        "TCP" => 6,
        "UDP" => 17,
        "ICMP" => 1,
        "ICMPv6" => 58,
        other => other.trim_start_matches("IP/").parse().unwrap(),
    }
}

fn endpoint(s: &str) -> (String, u16) {
    let a: SocketAddr = s.parse().unwrap();
    (a.ip().to_string(), a.port())
}

fn parse_weir(out: &Output) -> WeirRun {
    assert!(out.status.success(), "weir classify: {}", show(out));
    let mut run =
        WeirRun { flows: Vec::new(), directions: BTreeMap::new(), stderr: String::from_utf8_lossy(&out.stderr).into() };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "flow" {
            continue;
        }
        let proto = proto_number(v["l4"].as_str().unwrap());
        let (s, sp) = endpoint(v["src"].as_str().unwrap());
        let (d, dp) = endpoint(v["dst"].as_str().unwrap());
        for (key, p, b) in [
            ((s.clone(), sp, d.clone(), dp, proto), "src_packets", "src_bytes"),
            ((d, dp, s, sp, proto), "dst_packets", "dst_bytes"),
        ] {
            let (p, b) = (v[p].as_u64().unwrap(), v[b].as_u64().unwrap());
            if p > 0 {
                let e = run.directions.entry(key).or_default();
                e.0 += p;
                e.1 += b;
            }
        }
        run.flows.push(v);
    }
    assert!(run.flows.len() > 300, "the captures hold hundreds of flows, weir printed {}", run.flows.len());
    run
}

/// The weir flow (and whether the key is its originator's direction) of a record's 5-tuple.
fn flow_of<'a>(run: &'a WeirRun, key: &Key) -> Vec<(&'a Value, bool)> {
    run.flows
        .iter()
        .filter_map(|f| {
            let proto = proto_number(f["l4"].as_str().unwrap());
            let (s, sp) = endpoint(f["src"].as_str().unwrap());
            let (d, dp) = endpoint(f["dst"].as_str().unwrap());
            if proto != key.4 {
                return None;
            }
            if (s.as_str(), sp, d.as_str(), dp) == (key.0.as_str(), key.1, key.2.as_str(), key.3) {
                Some((f, true))
            } else if (d.as_str(), dp, s.as_str(), sp) == (key.0.as_str(), key.1, key.2.as_str(), key.3) {
                Some((f, false))
            } else {
                None
            }
        })
        .collect()
}

fn end_code(end: &str) -> u64 {
    match end {
        "idle" => 1,
        "closed" => 3,
        "end-of-input" => 4,
        "evicted" => 5,
        other => panic!("end {other:?}"),
    }
}

/// Normalise an address as the collectors print it (IPv6 with leading zeros, say).
fn addr(s: &str) -> String {
    s.trim().parse::<std::net::IpAddr>().unwrap_or_else(|e| panic!("{s:?}: {e}")).to_string()
}

/// Start tshark capturing `lo` in `ns` and wait until it really captures (it takes seconds to
/// start on a busy machine): probe datagrams to the discard port until one shows up.
fn start_tshark(ns: &Netns, port: u16, pcap: &Path, log: &Path) -> Proc {
    let filter = format!("udp port {port} or udp port 9");
    let child = ns
        .cmd("tshark")
        .args(["-i", "lo", "-l", "-P", "-f", &filter, "-w"])
        .arg(pcap)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(Some(child));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let _ = ns.cmd("bash").args(["-c", "echo probe > /dev/udp/127.0.0.1/9"]).stderr(Stdio::null()).status();
        std::thread::sleep(Duration::from_millis(200));
        if std::fs::read_to_string(log).unwrap_or_default().lines().any(|l| l.contains("127.0.0.1")) {
            return proc;
        }
        assert!(Instant::now() < deadline, "tshark did not start capturing within 60 s");
    }
}

/// One record as tshark -V shows it: its set's template id and its fields by label.
#[derive(Debug, Default)]
struct Decoded {
    template: u16,
    fields: BTreeMap<String, String>,
}

fn tshark_records(pcap: &Path, port: u16) -> Vec<Decoded> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(pcap)
        .args(["-d", &format!("udp.port=={port},cflow"), "-V", "-Y", "cflow"])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark -r: {}", show(&out));
    let mut records = Vec::new();
    let mut template = 0u16;
    let mut current: Option<Decoded> = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("FlowSet Id: ") {
            if let Some(r) = current.take() {
                records.push(r);
            }
            template = rest.rsplit('(').next().unwrap().trim_end_matches(')').parse().unwrap_or(0);
        } else if t.starts_with("Flow ") && t[5..].chars().all(|c| c.is_ascii_digit()) {
            if let Some(r) = current.take() {
                records.push(r);
            }
            current = Some(Decoded { template, ..Decoded::default() });
        } else if t.starts_with("Frame ") || t.starts_with("Cisco NetFlow/IPFIX") {
            if let Some(r) = current.take() {
                records.push(r);
            }
        } else if let Some(r) = current.as_mut() {
            // "01.. .... = ForwardingStatus: Forward (1)" and plain "Label: value".
            let t = t.split_once(" = ").map_or(t, |(_, rest)| rest);
            if let Some((k, v)) = t.split_once(": ") {
                r.fields.insert(k.to_string(), v.to_string());
            }
        }
    }
    records.extend(current);
    records.into_iter().filter(|r| r.template >= 256).collect()
}

/// The number in parentheses at the end of a tshark value: "End of Flow detected (3)" -> 3.
fn code(v: &str) -> u64 {
    v.rsplit('(').next().unwrap().trim_end_matches(')').parse().unwrap()
}

#[test]
fn nfcapd_stores_every_packet_and_tshark_decodes_every_element() {
    if !collectors_available("nfcapd_stores_every_packet_and_tshark_decodes_every_element") {
        return;
    }
    let ns = Netns::new();
    let tmp = TempDir::new("ipfix-udp");
    let (store, pcap, log) = (tmp.path("nfcapd"), tmp.path("ipfix.pcapng"), tmp.path("tshark.txt"));
    std::fs::create_dir(&store).unwrap();
    let port = 4739;
    let mut tshark = start_tshark(&ns, port, &pcap, &log);
    let nfcapd_log = std::fs::File::create(tmp.path("nfcapd.log")).unwrap();
    let mut nfcapd = Proc(Some(
        ns.cmd("nfcapd")
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-t", "3600", "-w"])
            .arg(&store)
            .stdout(nfcapd_log.try_clone().unwrap())
            .stderr(nfcapd_log)
            .spawn()
            .unwrap(),
    ));
    // Over UDP, what weir sends before nfcapd has bound is refused (and counted as lost).
    let deadline = Instant::now() + Duration::from_secs(10);
    while ns.cmd("ss").args(["-Hnlu", &format!("sport = :{port}")]).output().unwrap().stdout.trim_ascii().is_empty() {
        assert!(Instant::now() < deadline, "nfcapd did not bind 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = ns
        .cmd(env!("CARGO_BIN_EXE_weir"))
        .arg("classify")
        .args(capture_args())
        .args(["--flows", "--json", "--no-progress", "--ipfix", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let run = parse_weir(&out);
    assert!(run.stderr.contains("0 records lost, 0 send errors"), "{}", run.stderr);
    std::thread::sleep(Duration::from_millis(500));
    nfcapd.stop();
    tshark.stop();
    let nfcapd_says = std::fs::read_to_string(tmp.path("nfcapd.log")).unwrap();
    assert!(nfcapd_says.contains("Sequence Errors: 0"), "{nfcapd_says}");
    assert!(!nfcapd_says.contains("error"), "nfcapd complained: {nfcapd_says}");

    // nfdump: every direction of every flow, packets and bytes as weir counted them.
    let out = Command::new("nfdump").arg("-R").arg(&store).args(["-o", "json"]).output().unwrap();
    assert!(out.status.success(), "nfdump: {}", show(&out));
    let stored: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("nfdump json: {e}: {}", show(&out)));
    let stored = stored.as_array().unwrap();
    let mut by_direction: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
    for r in stored {
        let (src, dst) = match (r.get("src4_addr"), r.get("src6_addr")) {
            (Some(s), _) => (s.as_str().unwrap(), r["dst4_addr"].as_str().unwrap()),
            (None, Some(s)) => (s.as_str().unwrap(), r["dst6_addr"].as_str().unwrap()),
            _ => panic!("no address in {r}"),
        };
        let number = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} in {r}"));
        let proto = number("proto") as u8;
        // nfdump shows ICMP's type and code instead of ports; weir's ICMP flows have port 0.
        let port = |k: &str| if proto == 1 || proto == 58 { 0 } else { number(k) as u16 };
        let key = (addr(src), port("src_port"), addr(dst), port("dst_port"), proto);
        // The interfaces say which way it went: 1 inside, 2 outside.
        let (inside, _) = flow_of(&run, &key).into_iter().map(|(f, fwd)| (f["src_inside"] == fwd, ())).next().unwrap();
        let want = if inside { (1, 2) } else { (2, 1) };
        assert_eq!((r["input_snmp"].as_u64().unwrap(), r["output_snmp"].as_u64().unwrap()), want, "{r}");
        let e = by_direction.entry(key).or_default();
        e.0 += r["in_packets"].as_u64().unwrap();
        e.1 += r["in_bytes"].as_u64().unwrap();
    }
    assert_eq!(by_direction.len(), run.directions.len());
    for (key, counted) in &run.directions {
        assert_eq!(by_direction.get(key), Some(counted), "{key:?}");
    }
    let packets: u64 = run.directions.values().map(|v| v.0).sum();
    eprintln!("nfdump stored {} records, {packets} packets, for {} weir flows", stored.len(), run.flows.len());

    // tshark: every element of every record, the application names among them.
    let records = tshark_records(&pcap, port);
    let apps: BTreeMap<String, (String, String, String)> = records
        .iter()
        .filter(|r| r.template == 258)
        .map(|r| {
            let f = &r.fields;
            assert_eq!(f["Classification Engine ID"], "USER-Defined (6)");
            let app =
                (f["ApplicationName"].clone(), f["Application Category Name"].clone(), f["P2p Technology"].clone());
            (f["Selector ID"].clone(), app)
        })
        .collect();
    assert!(apps.len() >= 24, "every protocol is named: {apps:?}");
    for (name, category, p2p) in apps.values() {
        assert_eq!(p2p == "yes", category == "p2p", "{name}");
    }
    let data: Vec<&Decoded> = records.iter().filter(|r| r.template == 256 || r.template == 257).collect();
    assert_eq!(data.len(), stored.len(), "tshark decodes as many flow records as nfcapd stored");
    let labels = [
        "SrcAddr",
        "DstAddr",
        "SrcPort",
        "DstPort",
        "Protocol",
        "Vlan Id",
        "Packets",
        "Octets",
        "StartTime",
        "EndTime",
        "Flow End Reason",
        "InputInt",
        "OutputInt",
        "Biflow Direction",
        "ForwardingStatus",
        "Classification Engine ID",
        "Selector ID",
        "Flow Id",
    ];
    let mut ids: BTreeMap<String, BTreeSet<(String, u64)>> = BTreeMap::new();
    let mut interim = 0;
    for r in &data {
        let f = &r.fields;
        for l in labels {
            assert!(f.contains_key(l), "{l} missing from {f:?}");
        }
        let key = (
            addr(&f["SrcAddr"]),
            f["SrcPort"].parse().unwrap(),
            addr(&f["DstAddr"]),
            f["DstPort"].parse().unwrap(),
            code(&f["Protocol"]) as u8,
        );
        let (flow, forward) = flow_of(&run, &key)[0];
        let (name, category, _) = &apps[&f["Selector ID"]];
        assert_eq!(name, flow["protocol"].as_str().unwrap(), "{f:?}");
        assert_eq!(category, flow["category"].as_str().unwrap());
        assert_eq!(code(&f["Biflow Direction"]), if forward { 1 } else { 2 });
        assert_eq!(f["ForwardingStatus"], "Forward (1)");
        let reason = code(&f["Flow End Reason"]);
        if reason == 2 {
            interim += 1;
        } else {
            assert_eq!(reason, end_code(flow["end"].as_str().unwrap()), "{f:?}");
        }
        let from_inside = flow["src_inside"] == forward;
        assert_eq!(f["InputInt"], if from_inside { "1" } else { "2" });
        assert_eq!(f["Vlan Id"], "0");
        ids.entry(f["Flow Id"].clone()).or_default().insert((key.0.clone(), u64::from(key.1)));
    }
    assert!(interim > 0, "the 10-minute gnutella capture has flows past the 60 s active timeout");
    // One flow id per flow: its records (both directions, interim and last) share it.
    assert!(ids.values().all(|ends| ends.len() <= 2), "a flow id joins at most the two sides of one flow");
    assert!(ids.len() >= run.flows.len() * 9 / 10, "{} ids for {} flows", ids.len(), run.flows.len());
}

/// One ipfixDump data record: its template id and its fields by name.
#[derive(Debug, Default)]
struct Dumped {
    template: u16,
    fields: BTreeMap<String, String>,
}

#[test]
fn ipfix_dump_reads_the_tcp_stream() {
    if !collectors_available("ipfix_dump_reads_the_tcp_stream") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).unwrap();
        buf
    });
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("classify")
        .args(capture_args())
        .args(["--flows", "--json", "--no-progress", "--ipfix", &format!("tcp://127.0.0.1:{port}")])
        .output()
        .unwrap();
    let run = parse_weir(&out);
    assert!(run.stderr.contains("0 records lost, 0 send errors"), "{}", run.stderr);
    let stream = reader.join().unwrap();
    let tmp = TempDir::new("ipfix-tcp");
    let file = tmp.path("stream.ipfix");
    std::fs::write(&file, &stream).unwrap();
    let out = Command::new("ipfixDump").arg("--in").arg(&file).output().unwrap();
    assert!(out.status.success(), "ipfixDump: {}", show(&out));

    let mut records: Vec<Dumped> = Vec::new();
    let mut sequences: Vec<(u64, u64)> = Vec::new(); // (header sequence, data records in message)
    let mut in_data = false;
    for line in out.stdout.as_slice().lines() {
        let line = line.unwrap();
        let t = line.trim();
        if let Some(rest) = t.split_once("sequence number: ").map(|(_, r)| r) {
            sequences.push((rest.split_whitespace().next().unwrap().parse().unwrap(), 0));
        } else if t.starts_with("--- data record") {
            in_data = true;
            records.push(Dumped::default());
            if let Some(s) = sequences.last_mut() {
                s.1 += 1;
            }
        } else if t.starts_with("---") {
            in_data = false;
        } else if in_data && t.starts_with("count:") {
            let template = t.split("tid:").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
            records.last_mut().unwrap().template = template;
        } else if in_data && t.starts_with('(') {
            let (name, value) = t.split_once(" : ").unwrap();
            let name = name.rsplit(' ').next().unwrap().to_string();
            records.last_mut().unwrap().fields.insert(name, value.trim().to_string());
        }
    }
    // Sequence numbers count the data records before each message.
    let mut seq = 0;
    for (header, n) in &sequences {
        assert_eq!(*header, seq, "{sequences:?}");
        seq += n;
    }
    // applicationId as ipfixDump prints a 4-octet field: the octets as a little-endian number.
    let app_id = |v: &str| v.parse::<u32>().unwrap().to_le_bytes();
    let names: BTreeMap<[u8; 4], String> = records
        .iter()
        .filter(|r| r.template == 258)
        .map(|r| {
            let name = r.fields["applicationName"].split_once(") ").unwrap().1.trim_end_matches('\0').to_string();
            (app_id(&r.fields["applicationId"]), name)
        })
        .collect();
    assert_eq!(names.get(&[6, 0, 0, 1]).map(String::as_str), Some("bittorrent"));
    let mut by_direction: BTreeMap<Key, (u64, u64)> = BTreeMap::new();
    for r in records.iter().filter(|r| r.template == 256 || r.template == 257) {
        let f = &r.fields;
        let (src, dst) = if r.template == 256 {
            (&f["sourceIPv4Address"], &f["destinationIPv4Address"])
        } else {
            (&f["sourceIPv6Address"], &f["destinationIPv6Address"])
        };
        let key = (
            addr(src),
            f["sourceTransportPort"].parse().unwrap(),
            addr(dst),
            f["destinationTransportPort"].parse().unwrap(),
            f["protocolIdentifier"].parse().unwrap(),
        );
        let (flow, _) = flow_of(&run, &key)[0];
        assert_eq!(names[&app_id(&f["applicationId"])], flow["protocol"].as_str().unwrap(), "{f:?}");
        let e = by_direction.entry(key).or_default();
        e.0 += f["packetDeltaCount"].parse::<u64>().unwrap();
        e.1 += f["octetDeltaCount"].parse::<u64>().unwrap();
    }
    assert_eq!(by_direction, run.directions, "ipfixDump reads every packet weir counted, per direction");
}
