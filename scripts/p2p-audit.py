#!/usr/bin/env python3
"""Audit weir's peer-to-peer verdicts over labelled capture corpora (nDPI's labels as reference).

Usage: scripts/p2p-audit.py [--weir target/release/weir] [--list] DIR [DIR ...]
Each DIR holds captures and usually a labels.tsv (pcap, l4, endpoint_a, endpoint_b, ndpi_label, ...),
e.g. tests/pcaps, tests/pcaps/lookalikes, ../shared/pcaps, ../shared/ndpi-corpus; without one
(tests/pcaps/lab) every P2P flow counts as unlisted.

Prints, per decision that gave a P2P label (detector:..., signature:..., peer cache, port guess),
how many flows it labelled P2P and how many of those nDPI names as a non-P2P protocol, calls
Unknown, or does not list; then recall: of the flows nDPI labels P2P, how many weir labels P2P.
With --list, every such flow. Captures weir refuses are listed at the end. nDPI's labels are a
reference, not the truth: read the bytes of every disagreement before calling it an error.
"""
import argparse, collections, ipaddress, json, os, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P2P = ("BitTorrent", "eDonkey", "Gnutella", "DirectConnect", "FastTrack", "WinMX")


def endpoint(s):
    host, _, port = s.rpartition(":")
    try:
        return (ipaddress.ip_address(host.strip("[]")), int(port))
    except ValueError:
        return (host, port)


def is_p2p_label(label):
    return any(p in label.split(".") for p in P2P)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", default=os.path.join(ROOT, "target", "release", "weir"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    by_decision = collections.defaultdict(collections.Counter)
    listed = []
    ref_p2p = 0
    found_p2p = 0
    missed = []
    refused = []
    for d in args.dirs:
        labels = collections.defaultdict(dict)
        tsv = os.path.join(d, "labels.tsv")
        for line in open(tsv) if os.path.exists(tsv) else []:
            r = line.rstrip("\n").split("\t")
            if len(r) >= 5:
                labels[r[0]][(r[1], frozenset([endpoint(r[2]), endpoint(r[3])]))] = r[4]
        for f in sorted(os.listdir(d)):
            if not f.endswith((".pcap", ".pcapng")):
                continue
            out = subprocess.run([args.weir, "classify", os.path.join(d, f), "--flows", "--json", "--no-progress"],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                refused.append((f, (out.stderr.strip().splitlines() or ["?"])[0]))
            flows = collections.defaultdict(list)
            for line in out.stdout.splitlines():
                try:
                    v = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if v.get("type") == "flow":
                    flows[(v["l4"], frozenset([endpoint(v["src"]), endpoint(v["dst"])]))].append(v)
            ref = labels.get(f, {})
            for key, vs in flows.items():
                for v in vs:
                    if v["category"] != "p2p":
                        continue
                    nd = ref.get(key)
                    kind = "unlabelled" if nd is None else "p2p" if is_p2p_label(nd) else \
                        "unknown" if nd == "Unknown" else "non-p2p"
                    by_decision[v["decision"]][kind] += 1
                    if kind != "p2p":
                        listed.append((kind, f, v["l4"], v["src"], v["dst"], v["protocol"], v["decision"], nd or "-"))
            for key, nd in ref.items():
                if not is_p2p_label(nd):
                    continue
                ref_p2p += 1
                got = flows.get(key, [])
                if got and all(g["category"] == "p2p" for g in got):
                    found_p2p += 1
                else:
                    l4, ends = key
                    a, b = sorted(f"[{e[0]}]:{e[1]}" if ":" in str(e[0]) else f"{e[0]}:{e[1]}" for e in ends)
                    missed.append((f, l4, a, b, nd, ",".join(sorted({g["protocol"] + " (" + g["decision"] + ")" for g in got})) or "(no flow)"))
    print(f"{'decision':<34} {'p2p':>6} {'ndpi-p2p':>9} {'non-p2p':>8} {'unknown':>8} {'unlisted':>9}")
    for dec in sorted(by_decision, key=lambda k: -sum(by_decision[k].values())):
        c = by_decision[dec]
        print(f"{dec:<34} {sum(c.values()):>6} {c['p2p']:>9} {c['non-p2p']:>8} {c['unknown']:>8} {c['unlabelled']:>9}")
    tot = collections.Counter()
    for c in by_decision.values():
        tot.update(c)
    print(f"{'all':<34} {sum(tot.values()):>6} {tot['p2p']:>9} {tot['non-p2p']:>8} {tot['unknown']:>8} {tot['unlabelled']:>9}")
    pct = 100.0 * found_p2p / ref_p2p if ref_p2p else 100.0
    print(f"\nrecall: {found_p2p} of {ref_p2p} flows nDPI labels P2P are P2P to weir ({pct:.2f}%)")
    for m in missed:
        print("  missed\t" + "\t".join(m))
    if args.list:
        print("\nP2P to weir, not to nDPI (kind, pcap, l4, src, dst, weir, decision, nDPI):")
        for row in listed:
            print("  " + "\t".join(row))
    if refused:
        print(f"\n{len(refused)} captures refused:")
        for f, why in refused:
            print(f"  {f}\t{why}")


if __name__ == "__main__":
    sys.exit(main())
