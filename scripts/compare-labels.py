#!/usr/bin/env python3
"""Compare weir's flow labels with nDPI's reference labels (labels.tsv beside the captures).

Usage:
  scripts/compare-labels.py [--weir PATH] [--corpus DIR]... [--markdown] [--diff] [--jobs N]

Each corpus is a directory of captures with a labels.tsv (pcap, l4, endpoint_a, endpoint_b,
ndpi_label, packets, bytes); the default is tests/pcaps. `--corpus` may be given several times:
the README's table is

  scripts/compare-labels.py --corpus ../shared/ndpi-corpus --corpus ../shared/pcaps --markdown

Per nDPI protocol it prints how many flows nDPI names, how many of them weir names the same, and
the same for their bytes (nDPI's byte counts); then the totals over every flow nDPI names, how
many flows nDPI leaves unknown and what weir makes of them, and how many flows nDPI names as a
non-P2P protocol get a P2P label from weir (which must be none). `--diff` lists every flow where
the two differ.

Comparing names: nDPI's master protocol decides (`TLS.Github` -> tls, `STUN.WhatsAppCall` ->
stun); NAMES maps nDPI's names to weir's. An nDPI protocol weir does not name (`other:...` below)
never agrees, whatever weir says. nDPI names some flows from IP address lists or host names alone
(`AmazonAWS`, `Google`, ...; with no master): those stay `other:...` too, because weir names by
content, and a flow's content does not say it goes to Amazon.
"""
import argparse, collections, concurrent.futures, ipaddress, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCAPS = os.path.join(ROOT, "tests", "pcaps")

# nDPI master protocol -> weir protocol name.
NAMES = {
    "Unknown": "unknown",
    # peer-to-peer
    "BitTorrent": "bittorrent", "eDonkey": "edonkey", "Gnutella": "gnutella", "DirectConnect": "directconnect",
    "FastTrack": "fasttrack", "WinMX": "winmx",
    # web, naming, mail, remote access, file transfer, voice
    "HTTP": "http", "HTTP_Connect": "http", "HTTP_Proxy": "http", "TLS": "tls", "QUIC": "quic", "DNS": "dns",
    "SSH": "ssh", "SMTP": "smtp", "POP3": "pop3", "IMAP": "imap", "FTP_CONTROL": "ftp", "FTP_DATA": "ftp",
    "SIP": "sip", "IRC": "irc",
    # nDPI's SMTPS, POPS, IMAPS and FTPS cover implicit TLS (weir: tls) and STARTTLS, whose session
    # opens in the clear (weir: the mail or file protocol): either name agrees.
    "SMTPS": ("tls", "smtp"), "POPS": ("tls", "pop3"), "IMAPS": ("tls", "imap"), "FTPS": ("tls", "ftp"),
    # what the IP header names
    "ICMP": "icmp", "ICMPV6": "icmp",
    "IGMP": "igmp", "GRE": "gre", "IPSec": "ipsec", "OSPF": "ospf", "IP_PIM": "pim", "VRRP": "vrrp", "PGM": "pgm",
    # local network services declared in the signature file
    "SSDP": "ssdp", "DHCP": "dhcp", "NetBIOS": "netbios", "WSD": "wsd", "SNMP": "snmp",
    # everyday protocols with structural detectors (crates/dpi/src/detect/services)
    "STUN": "stun", "RTP": "rtp", "SRTP": "rtp", "RTCP": "rtp", "Radius": "radius", "Kerberos": "kerberos",
    "Service_Location_Protocol": "slp", "NTP": "ntp", "Syslog": "syslog", "DTLS": "dtls", "TFTP": "tftp",
    "DHCPV6": "dhcpv6", "NFS": "nfs", "COAP": "coap", "BACnet": "bacnet", "Discord": "discord",
    "OpenVPN": "openvpn", "WireGuard": "wireguard", "MDNS": "mdns", "LLMNR": "llmnr", "MsSQL-TDS": "mssql",
    "PostgreSQL": "postgresql", "MySQL": "mysql", "LDAP": "ldap", "DNP3": "dnp3", "Modbus": "modbus",
    "IEC60870": "iec104", "H323": "h323", "RDP": "rdp", "DCERPC": "dcerpc", "Kafka": "kafka", "MQTT": "mqtt",
    "RESP": "redis", "SOCKS": "socks", "collectd": "collectd", "Elasticsearch": "elasticsearch",
    # protocols declared in the signature file
    "DNScrypt": "dnscrypt", "Zabbix": "zabbix", "Dropbox": "dropbox", "Source_Engine": "source-engine",
    "FIX": "fix", "Jabber": "xmpp", "RakNet": "raknet", "TuyaLP": "tuya", "BJNP": "bjnp", "VNC": "vnc",
    "RSYNC": "rsync", "Git": "git", "SMBv1": "smb", "SMBv23": "smb", "AMQP": "amqp", "RTSP": "rtsp",
    "MGCP": "mgcp", "Munin": "munin", "Ceph": "ceph", "Nats": "nats", "Mining": "mining", "Monero": "monero", "Nintendo": "nintendo", "KCP": "kcp", "Controller_Area_Network": "can", "JRMI": "jrmi", "TiVoConnect": "tivoconnect", "LDP": "ldp", "RipeAtlas": "ripe-atlas",
    "NAT-PMP": "nat-pmp", "Teredo": "teredo", "EthernetIP": "ethernetip", "Cassandra": "cassandra",
    "CiscoSkinny": "skinny", "UBNTAC2": "ubiquiti", "TPLINK_SHP": "tplink-shp", "OICQ": "qq", "BGP": "bgp",
    "RMCP": "ipmi", "Roughtime": "roughtime", "Spotify": "spotify", "IEEE-C37118": "c37118", "FastCGI": "fastcgi",
    "Thrift": "thrift", "CAPWAP": "capwap", "TINC": "tinc", "UFTP": "uftp",
    "Telegram": "telegram", "WhatsApp": "whatsapp", "Zoom": "zoom",
    "FINS": "fins", "PTPv2": "ptp", "GTP": "gtp", "RTMP": "rtmp", "Oracle": "oracle", "HART-IP": "hart-ip", "RX": "rx",
    "CHECKMK": "checkmk", "SOMEIP": "someip", "IAX": "iax", "TeamSpeak": "teamspeak",
    "HiSLIP": "hislip", "NetFlow": "netflow", "RTPS": "rtps", "Megaco": "megaco", "Corba": "corba", "OPC-UA": "opc-ua",
    # nDPI names Avast's DNSCrypt resolver from the query name (a DNS TXT query for the resolver's
    # certificate, `2.SecureDNS.avast.com`, to UDP 443): the bytes are DNS, which weir names
    # (dnscrypt where the name follows DNSCrypt's `2.dnscrypt-cert.` convention).
    "AVASTSecureDNS": ("dns", "dnscrypt"),
}

# nDPI files SMB under NetBIOS (`NetBIOS.SMBv23`, even on TCP 445 without a NetBIOS session);
# weir names SMB itself: for these sub-protocols over TCP the sub-protocol is compared, not the
# master (SMB mailslots over the NetBIOS datagram service, UDP 138, stay netbios).
APP_NAMES = {"SMBv1": "smb", "SMBv23": "smb"}

# nDPI's `STUN.RTP` (and the like) says the STUN-opened flow carries that media: weir names such a
# flow after the media its ICE checks set up (`rtp`, `dtls`), or `stun` if no media was proved.
STUN_MEDIA = {"RTP": "rtp", "SRTP": "rtp", "RTCP": "rtp", "DTLS": "dtls"}

# nDPI's names for the l4 column -> weir's JSON `l4`.
L4_NAMES = {"TCP": "TCP", "UDP": "UDP", "ICMP": "ICMP", "ICMPV6": "ICMPv6", "IGMP": "IP/2", "GRE": "IP/47",
            "ESP": "IP/50", "AH": "IP/51", "OSPF": "IP/89", "PIM": "IP/103", "VRRP": "IP/112", "PGM": "IP/113",
            "SCTP": "IP/132"}
P2P = {"bittorrent", "edonkey", "gnutella", "directconnect", "fasttrack", "winmx"}


def l4_name(s):
    return L4_NAMES.get(s, "IP/" + s if s.isdigit() else s)


def endpoint(s):
    """Normalise ip:port / [ip]:port so both tools' spellings of one IPv6 address compare equal."""
    host, _, port = s.rpartition(":")
    try:
        return (ipaddress.ip_address(host.strip("[]")), int(port))
    except ValueError:
        return (host, port)


def master(label):
    return label.split(".")[0]


def table_key(label, l4):
    """The table row a label counts in: its master protocol, or an APP_NAMES sub-protocol."""
    app = label.split(".", 1)[1] if "." in label else ""
    return app if app in APP_NAMES and l4 == "TCP" else master(label)


def reference_name(label, l4):
    app = label.split(".", 1)[1] if "." in label else ""
    if app in APP_NAMES and l4 == "TCP":
        return APP_NAMES[app]
    m = master(label)
    if m == "STUN" and app in STUN_MEDIA:
        return ("stun", STUN_MEDIA[app])
    return NAMES.get(m, "other:" + m)


def classify(weir, path):
    """weir's flows in one capture, by (l4, endpoints); and its error line if it refused the file."""
    out = subprocess.run([weir, "classify", path, "--flows", "--json", "--no-progress"], capture_output=True, text=True)
    flows = collections.defaultdict(list)
    for line in out.stdout.splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if v.get("type") == "flow":
            flows[(v["l4"], frozenset([endpoint(v["src"]), endpoint(v["dst"])]))].append(v)
    err = None
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        err = lines[0] if lines else f"exit {out.returncode}"
    return flows, err


def load_labels(corpus):
    by_file = collections.defaultdict(list)
    with open(os.path.join(corpus, "labels.tsv")) as f:
        for line in f:
            r = line.rstrip("\n").split("\t")
            if len(r) >= 5:
                by_file[r[0]].append(r)
    return by_file


def pct(a, b):
    return 100.0 * a / b if b else 100.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weir", default=os.path.join(ROOT, "target", "release", "weir"))
    ap.add_argument("--corpus", action="append", help="directory with captures and labels.tsv (repeatable)")
    ap.add_argument("--markdown", action="store_true", help="the per-protocol table as markdown")
    ap.add_argument("--diff", action="store_true", help="list every flow where the labels differ")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="captures classified at once")
    ap.add_argument("--min-flows", type=int, default=1, help="rows for protocols with at least this many flows; "
                    "the rest are summed in one row")
    args = ap.parse_args()
    corpora = args.corpus or [PCAPS]

    work = []
    for corpus in corpora:
        for pcap, refs in sorted(load_labels(corpus).items()):
            work.append((corpus, pcap, refs))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda w: classify(args.weir, os.path.join(w[0], w[1])), work))

    flows_n = collections.Counter(); flows_same = collections.Counter()
    bytes_n = collections.Counter(); bytes_same = collections.Counter()
    weir_name = {}
    unknown_ref = collections.Counter()
    false_p2p = []; diffs = []; refused = []
    for (corpus, pcap, refs), (flows, err) in zip(work, results):
        if err:
            refused.append((pcap, err))
        for r in refs:
            l4, a, b, label = l4_name(r[1]), r[2], r[3], r[4]
            nbytes = int(r[6]) if len(r) > 6 and r[6].isdigit() else 0
            ref = reference_name(label, l4)
            got = flows.get((l4, frozenset([endpoint(a), endpoint(b)])), [])
            names = sorted({f["protocol"] for f in got}) or ["(no flow)"]
            how = ",".join(sorted({f["decision"] for f in got}))
            accepted = ref if isinstance(ref, tuple) else (ref,)
            if not P2P.intersection(accepted) and any(n in P2P for n in names):
                false_p2p.append((pcap, r[1], a, b, label, ",".join(names), how))
            if ref == "unknown":
                unknown_ref[names[0] if len(names) == 1 else ",".join(names)] += 1
                continue
            key = table_key(label, l4)
            # The row's name: the table's mapping for the row, not one flow's exception.
            shown = NAMES.get(key) or APP_NAMES.get(key) or ref
            weir_name[key] = "/".join(shown if isinstance(shown, tuple) else (shown,))
            flows_n[key] += 1
            bytes_n[key] += nbytes
            if len(names) == 1 and names[0] in accepted:
                flows_same[key] += 1
                bytes_same[key] += nbytes
            else:
                diffs.append((pcap, r[1], a, b, label, ",".join(names), how))

    order = sorted(flows_n, key=lambda k: (-flows_n[k], k))
    tf, ts, tb, tbs = (sum(x.values()) for x in (flows_n, flows_same, bytes_n, bytes_same))
    rest = [k for k in order if flows_n[k] < args.min_flows]
    order = [k for k in order if flows_n[k] >= args.min_flows]
    if rest:
        key = f"({len(rest)} more, under {args.min_flows} flows each)"
        weir_name[key] = ""
        for c in (flows_n, flows_same, bytes_n, bytes_same):
            c[key] = sum(c[k] for k in rest)
        order.append(key)
    if args.markdown:
        print("| nDPI protocol | weir name | flows | weir the same | bytes | weir the same |")
        print("|---|---|--:|--:|--:|--:|")
        for k in order:
            print(f"| {k} | {'(none)' if weir_name[k].startswith('other:') else weir_name[k]} "
                  f"| {flows_n[k]} | {flows_same[k]} ({pct(flows_same[k], flows_n[k]):.0f}%) "
                  f"| {bytes_n[k]} | {pct(bytes_same[k], bytes_n[k]):.0f}% |")
        print(f"| **all named by nDPI** | | **{tf}** | **{ts} ({pct(ts, tf):.1f}%)** | **{tb}** | **{pct(tbs, tb):.1f}%** |")
    else:
        print(f"{'nDPI protocol':<26} {'weir':<16} {'flows':>6} {'same':>6} {'flows%':>7} {'bytes':>10} {'bytes%':>7}")
        for k in order:
            print(f"{k:<26} {weir_name[k]:<16} {flows_n[k]:>6} {flows_same[k]:>6} {pct(flows_same[k], flows_n[k]):>6.1f}% "
                  f"{bytes_n[k]:>10} {pct(bytes_same[k], bytes_n[k]):>6.1f}%")
        print(f"{'all named by nDPI':<43} {tf:>6} {ts:>6} {pct(ts, tf):>6.1f}% {tb:>10} {pct(tbs, tb):>6.1f}%")
    nu = sum(unknown_ref.values())
    named_by_weir = sum(v for k, v in unknown_ref.items() if k not in ("unknown", "(no flow)"))
    bullet = "- " if args.markdown else ""
    print()
    print(f"{bullet}flows nDPI leaves unknown: {nu}; weir names {named_by_weir} of them: "
          + ", ".join(f"{k} {v}" for k, v in unknown_ref.most_common() if k not in ("unknown", "(no flow)")))
    print(f"{bullet}flows nDPI names non-P2P that weir calls P2P: {len(false_p2p)}")
    if args.markdown:
        print(f"- captures weir refused: {len(refused)}" + (": " if refused else "")
              + ", ".join(f"`{p}`" for p, _ in refused))
    else:
        print(f"captures weir refused: {len(refused)}" + "".join(f"\n  {p}: {e}" for p, e in refused))
    if args.diff:
        print("\npcap\tl4\ta\tb\treference\tweir\tdecision")
        for d in diffs:
            print("\t".join(d))
        for d in false_p2p:
            print("\t".join(("FALSE-P2P",) + d))


if __name__ == "__main__":
    sys.exit(main())
