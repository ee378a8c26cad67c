#!/usr/bin/env python3
"""Compare weir's flow labels with the reference labels in tests/pcaps/labels.tsv (nDPI's).

Usage: scripts/compare-labels.py [--weir target/release/weir] [--diff]
Prints, per reference protocol, how many reference flows weir labels the same, and with --diff
every flow where the two differ. nDPI names are mapped to weir's (BitTorrent -> bittorrent, ...);
nDPI protocols weir does not name (e.g. Dropbox, NetFlix, STUN) are compared on the master
protocol (TLS.NetFlix -> tls) where weir has it, else expected as "unknown".
"""
import argparse, collections, ipaddress, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCAPS = os.path.join(ROOT, "tests", "pcaps")
NAMES = {
    "BitTorrent": "bittorrent", "eDonkey": "edonkey", "Gnutella": "gnutella", "DirectConnect": "directconnect",
    "FastTrack": "fasttrack", "WinMX": "winmx", "HTTP": "http", "HTTP_Connect": "http", "HTTP_Proxy": "http",
    "TLS": "tls", "QUIC": "quic", "DNS": "dns", "SSH": "ssh", "SMTP": "smtp", "SMTPS": "tls", "POP3": "pop3",
    "IMAP": "imap", "FTP_CONTROL": "ftp", "FTP_DATA": "unknown", "SIP": "sip", "Unknown": "unknown",
    "SSDP": "ssdp", "DHCP": "dhcp", "NetBIOS": "netbios", "WSD": "wsd", "SNMP": "snmp", "IRC": "irc",
}

def endpoint(s):
    """Normalise ip:port / [ip]:port so both tools' spellings of one IPv6 address compare equal."""
    host, _, port = s.rpartition(":")
    return (ipaddress.ip_address(host.strip("[]")), int(port))

def reference_name(label):
    master = label.split(".")[0]
    return NAMES.get(master, "other:" + master)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", default=os.path.join(ROOT, "target", "release", "weir"))
    ap.add_argument("--diff", action="store_true")
    args = ap.parse_args()
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(PCAPS, "labels.tsv"))]
    by_file = collections.defaultdict(list)
    for r in rows:
        if len(r) >= 5:
            by_file[r[0]].append(r)
    agree = collections.Counter(); total = collections.Counter(); diffs = []
    for pcap, refs in sorted(by_file.items()):
        out = subprocess.run([args.weir, "classify", os.path.join(PCAPS, pcap), "--flows", "--json", "--no-progress"],
                             capture_output=True, text=True)
        flows = collections.defaultdict(list)
        for line in out.stdout.splitlines():
            v = json.loads(line)
            if v["type"] == "flow":
                key = (v["l4"], frozenset([endpoint(v["src"]), endpoint(v["dst"])]))
                flows[key].append(v)
        for r in refs:
            l4, a, b, label = r[1], r[2], r[3], r[4]
            ref = reference_name(label)
            got = flows.get((l4, frozenset([endpoint(a), endpoint(b)])), [])
            names = sorted({f["protocol"] for f in got}) or ["(no flow)"]
            total[ref] += 1
            if names == [ref]:
                agree[ref] += 1
            else:
                how = sorted({f["decision"] for f in got})
                diffs.append((pcap, l4, a, b, label, ",".join(names), ",".join(how)))
    print(f"{'reference':<22} {'flows':>6} {'same':>6} {'agreement':>9}")
    for ref in sorted(total, key=lambda k: -total[k]):
        print(f"{ref:<22} {total[ref]:>6} {agree[ref]:>6} {100.0 * agree[ref] / total[ref]:>8.1f}%")
    print(f"{'all':<22} {sum(total.values()):>6} {sum(agree.values()):>6} {100.0 * sum(agree.values()) / sum(total.values()):>8.1f}%")
    if args.diff:
        print("\npcap\tl4\ta\tb\treference\tweir\tdecision")
        for d in diffs:
            print("\t".join(d))

if __name__ == "__main__":
    sys.exit(main())
