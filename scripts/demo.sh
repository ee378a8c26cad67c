#!/usr/bin/env bash
# The main job: the lab demo. Brings up a lab (three network namespaces, veth pairs, addresses
# from 198.18.0.0/15 and 2001:2::/48 only), runs weir as the bridge, sends the campus-2004 mix
# (the 2004 study's traffic: mostly peer-to-peer) through it from both sides with weir gen, and
# prints weir's per-protocol table: flows, bytes, and each protocol's share of outbound and
# inbound bytes. Also writes demo-report.svg (share and bandwidth charts). Cleans up on exit.
# Usage: scripts/demo.sh [SECONDS] [PPS]        (root on Debian; installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_=${1:-10}
PPS=${2:-20000}
bash scripts/setup.sh
cargo build --release --locked
WEIR=$PWD/target/release/weir

name=demo$$
work=$(mktemp -d /tmp/weir-demo.XXXXXX)
weir_pid=
cleanup() {
    [ -n "$weir_pid" ] && kill -TERM "$weir_pid" 2>/dev/null && wait "$weir_pid" 2>/dev/null || true
    bash scripts/lab.sh down "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

bash scripts/lab.sh up "$name" >/dev/null
cat > "$work/weir.toml" <<TOML
[interfaces]
inside = "inside"
outside = "outside"
[rings]
frames = 12288
rx = 512
tx = 512
fill = 1024
completion = 1024
[flows]
closed_linger_s = 1
TOML
ip netns exec "weir-br-$name" "$WEIR" run --config "$work/weir.toml" \
    --summary-json "$work/summary.json" --stats-json "$work/stats.jsonl" 2> "$work/weir.log" &
weir_pid=$!
for _ in $(seq 100); do grep -q "event=ready" "$work/weir.log" 2>/dev/null && break; sleep 0.1; done
grep -q "event=ready" "$work/weir.log" || { cat "$work/weir.log" >&2; echo "demo: weir did not start" >&2; exit 1; }
echo "demo: weir is bridging inside <-> outside in netns weir-br-$name; sending campus-2004 for ${SECONDS_}s at ${PPS} pps"

ip netns exec "weir-in-$name" "$WEIR" gen --profile configs/profiles/campus-2004.toml \
    --iface in0 --peer-iface out0 --peer-netns "weir-out-$name" \
    --duration "$SECONDS_" --rate-pps "$PPS" --report "$work/gen.json"
sleep 2
kill -TERM "$weir_pid"; wait "$weir_pid" || true; weir_pid=

python3 - "$work/summary.json" "$work/gen.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rows = s["protocols"]
tot_out = sum(p["bytes_out"] for p in rows) or 1
tot_in = sum(p["bytes_in"] for p in rows) or 1
print()
print(f"{'protocol':<15}{'category':<15}{'flows':>7}{'out MB':>10}{'out %':>8}{'in MB':>10}{'in %':>8}")
for p in sorted(rows, key=lambda p: -(p["bytes_out"] + p["bytes_in"])):
    print(f"{p['protocol']:<15}{p['category']:<15}{p['flows']:>7}{p['bytes_out']/1e6:>10.2f}"
          f"{100*p['bytes_out']/tot_out:>7.1f}%{p['bytes_in']/1e6:>10.2f}{100*p['bytes_in']/tot_in:>7.1f}%")
p2p_out = sum(p["bytes_out"] for p in rows if p["category"] == "p2p")
p2p_in = sum(p["bytes_in"] for p in rows if p["category"] == "p2p")
print(f"\npeer-to-peer: {100*p2p_out/tot_out:.1f}% of outbound bytes, {100*p2p_in/tot_in:.1f}% of inbound bytes")
for nic, v in s["interfaces"].items():
    print(f"{nic}: received {v['received']} = forwarded {v['forwarded']} + dropped by policy {v['dropped_policy']}"
          f" + malformed {v['dropped_malformed']} + lost (TX full) {v['lost_tx_full']}")
PY
"$WEIR" report --from "$work/stats.jsonl" --out demo-report.svg >/dev/null && echo "demo: charts in demo-report.svg"
