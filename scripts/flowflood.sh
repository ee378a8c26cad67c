#!/usr/bin/env bash
# Flow flood: the flow-flood profile (short flows with random ports) as fast as weir gen sends it
# through weir for SECONDS, while a real HTTP download (python3 http.server, curl)
# and a real BitTorrent transfer (opentracker, transmission, aria2c) cross the same bridge.
# Checks at the end:
#   - the flow table never held more than flows.capacity (CAPACITY) flows, and evicted some;
#   - weir's memory stays at its bound: the peak RSS is at most 5% above the RSS sampled when
#     the table first filled up;
#   - both real transfers completed, byte-identical, and weir counted them as http and
#     bittorrent, forwarded, not dropped;
#   - every frame accounted for.
# Prints the new flows per second weir sustained (flow_table.created over the flood).
#
# usage: scripts/flowflood.sh [SECONDS]      (default 60; root; WEIR=path/to/weir)
#   CAPACITY=16384   the flow table's bound (flows.capacity)
#   PPS=5000000      the rate asked of the generator (it sends as fast as it can up to this)
#   OUT=DIR          keep the samples, reports and logs in DIR
set -euo pipefail

die() { echo "flowflood.sh: $*" >&2; exit 2; }
secs=${1:-60}
[[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -ge 10 ] || die "SECONDS must be a whole number >= 10, got '$secs'"
capacity=${CAPACITY:-16384}
pps=${PPS:-5000000}
here=$(cd "$(dirname "$0")/.." && pwd)
weir=${WEIR:-}
if [ -z "$weir" ]; then
    for c in "$here/target/release/weir" "$here/target/ci/weir"; do
        [ -x "$c" ] && weir=$c && break
    done
fi
[ -n "$weir" ] && [ -x "$weir" ] || die "no weir binary: cargo build --release, or set WEIR=path"

name=ff$$
keep=${OUT:-}
tmp=${OUT:-$(mktemp -d /tmp/weir-flowflood.XXXXXX)}
mkdir -p "$tmp"
chmod 755 "$tmp"
traffic() { WEIR_LAB_STATE="$tmp/lab-state" "$here/scripts/lab-traffic.sh" "$@"; }
pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    traffic stop "$name" >/dev/null 2>&1 || true
    "$here/scripts/lab.sh" down "$name" >/dev/null 2>&1 || true
    [ -n "$keep" ] || rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/scripts/lab.sh" up "$name" >/dev/null
ns_in=weir-in-$name ns_br=weir-br-$name ns_out=weir-out-$name
# The generator binds its own veth, not in0: an AF_XDP socket takes every frame its NIC
# receives, and the real clients inside need in0's replies. In the inside namespace a Linux
# bridge joins in0 and gin, the generator sends on gin's peer ginp, and the inside host's
# addresses move from in0 to the bridge:
#   ns in: [ginp: weir gen] - gin -+- brg (198.18.0.1, 2001:2::1: curl, aria2c) -+- in0 <-> inside [weir]
ip -n "$ns_in" link add gin type veth peer name ginp
ip -n "$ns_in" link add brg type bridge stp_state 0 forward_delay 0
ip -n "$ns_in" link set in0 master brg
ip -n "$ns_in" link set gin master brg
ip -n "$ns_in" addr del 198.18.0.1/24 dev in0
ip -n "$ns_in" addr del 2001:2::1/64 dev in0
ip -n "$ns_in" addr add 198.18.0.1/24 dev brg
ip -n "$ns_in" addr add 2001:2::1/64 dev brg nodad
# The generator's frames carry two fixed MACs (inside and outside hosts): a port that learned
# both would drop them as "back where they came from", so gin does not learn: brg floods its
# frames to in0.
ip -n "$ns_in" link set gin type bridge_slave learning off
for l in gin ginp brg; do
    ip -n "$ns_in" link set "$l" up
    ip netns exec "$ns_in" ethtool -K "$l" tso off gso off gro off tx off >/dev/null 2>&1 || true
done
echo "flowflood: $(uptime)"

sed "s/^capacity *=.*/capacity = $capacity/; s/^udp_idle_s *=.*/udp_idle_s = 10/; s/^closed_linger_s *=.*/closed_linger_s = 1/" \
    "$here/configs/weir.toml" >"$tmp/weir.toml"
grep -q "^capacity = $capacity" "$tmp/weir.toml" || die "configs/weir.toml has no flows.capacity to set"
ip netns exec "$ns_br" "$weir" run --config "$tmp/weir.toml" --summary-json "$tmp/weir.json" \
    --stats-json "$tmp/stats.jsonl" >"$tmp/weir.log" 2>&1 &
weir_pid=$!
pids+=("$weir_pid")
for _ in $(seq 200); do
    grep -q 'event=ready' "$tmp/weir.log" && break
    kill -0 "$weir_pid" 2>/dev/null || { cat "$tmp/weir.log" >&2; die "weir run exited"; }
    sleep 0.1
done

# The real transfers' servers, outside: a 32 MiB web file and an 8 MiB torrent.
mkdir -p "$tmp/www" "$tmp/leech"
head -c $((32 << 20)) /dev/urandom >"$tmp/www/big.bin"
head -c $((8 << 20)) /dev/urandom >"$tmp/seed.bin"
traffic http-serve "$name" out "$tmp/www" 8080 >/dev/null
traffic bt-tracker "$name" out >/dev/null
traffic bt-seed "$name" out "$tmp/seed.bin" "$tmp/seed.torrent" >/dev/null

# RSS and the flow table every 2 s.
(
    echo "t_s,rss_kb,flows_active,flows_created,flows_evicted"
    t0=$(date +%s.%N)
    while kill -0 "$weir_pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$weir_pid/status" 2>/dev/null || echo 0)
        line=$(tail -n 1 "$tmp/stats.jsonl" 2>/dev/null || true)
        python3 -c '
import json, sys, time
try:
    ft = json.loads(sys.argv[3]).get("flow_table", {})
except ValueError:
    ft = {}
row = [round(time.time() - float(sys.argv[1]), 1), sys.argv[2]] + [ft.get(k, 0) for k in ("active", "created", "evicted")]
print(",".join(map(str, row)), flush=True)
' "$t0" "$rss" "$line" || true
        sleep 2
    done
) >"$tmp/samples.csv" &
pids+=("$!")

# The flood, from the inside (the profile's inbound share too: frames of outside hosts, sent
# from the inside, are as new to the flow table), in the background.
# The profile's duration is scheduled time (at PPS, far more frames than one sender makes in
# SECONDS): SIGTERM stops it after SECONDS of wall time, and it reports what it sent.
ip netns exec "$ns_in" "$weir" gen --profile "$here/configs/profiles/flow-flood.toml" --iface ginp \
    --duration 100000 --rate-pps "$pps" --quiet --report "$tmp/gen.json" >"$tmp/gen.log" 2>&1 &
gen_pid=$!
pids+=("$gen_pid")
flood_t0=$(date +%s.%N)
# The real transfers start once the table is full and evicting.
sleep $((secs / 4))
http_rc=0 bt_rc=0
traffic http-get "$name" in "http://198.18.0.2:8080/big.bin" "$tmp/big.got" "$((secs * 2))" >"$tmp/http.log" 2>&1 &
http_pid=$!
traffic bt-leech "$name" in "$tmp/seed.torrent" "$tmp/leech" "$((secs * 2))" >"$tmp/bt.log" 2>&1 &
bt_pid=$!
wait "$http_pid" || http_rc=$?
wait "$bt_pid" || bt_rc=$?
flood_running=0
kill -0 "$gen_pid" 2>/dev/null && flood_running=1
left=$(python3 -c "import time; print(max(0.0, $secs - (time.time() - $flood_t0)))")
sleep "$left"
kill -TERM "$gen_pid" 2>/dev/null || true
gen_rc=0
wait "$gen_pid" || gen_rc=$?
# 130: stopped by the signal, as intended.
[ "$gen_rc" = 0 ] || [ "$gen_rc" = 130 ] || die "weir gen failed ($gen_rc): $(tail -n 5 "$tmp/gen.log")"
sleep 2
kill -TERM "$weir_pid"
wait "$weir_pid" || true
traffic stop "$name" >/dev/null 2>&1 || true

python3 - "$tmp" "$capacity" "$http_rc" "$bt_rc" "$flood_running" "$secs" <<'PY'
import csv, hashlib, json, os, sys
tmp, capacity, http_rc, bt_rc, flood_running, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
gen = json.load(open(f"{tmp}/gen.json"))
weir = json.load(open(f"{tmp}/weir.json"))
records = [json.loads(l) for l in open(f"{tmp}/stats.jsonl") if l.strip()]
rows = [r for r in csv.DictReader(open(f"{tmp}/samples.csv")) if int(r["rss_kb"]) > 0]
ok = True
def check(cond, what):
    global ok
    ok &= bool(cond)
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest() if os.path.exists(p) else None

print(f"\nflowflood: {secs} s of flow-flood, offered {gen['pps']:.0f} packets/s ({gen['packets']} frames, "
      f"{gen.get('flows', sum(p['flows'] for p in gen['protocols']))} flows), flows.capacity {capacity}")
active = [r["flow_table"]["active"] for r in records]
check(max(active) <= capacity, f"the flow table held at most {max(active)} flows (bound {capacity})")
ft = records[-1]["flow_table"]
check(ft["evicted"] > 0, f"evictions counted: {ft['evicted']} (created {ft['created']}, expired {ft['expired']}, closed {ft['closed']})")
# New flows per second over the flood: per-interval created deltas while the generator ran.
deltas = [(b["flow_table"]["created"] - a["flow_table"]["created"]) / max(b["uptime_s"] - a["uptime_s"], 1e-9)
          for a, b in zip(records, records[1:])]
busy = sorted(d for d in deltas if d > 0)
if busy:
    median = busy[len(busy) // 2]
    print(f"  new flows per second sustained: {ft['created'] / max(gen['elapsed_s'], 1e-9):,.0f} over the flood "
          f"(weir's flow_table.created / the generator's {gen['elapsed_s']:.1f} s); per stats interval: "
          f"median {median:,.0f}, peak {busy[-1]:,.0f}")
full = next((r for r in rows if int(r["flows_active"]) >= capacity * 0.9), None)
if full and rows:
    base, peak = int(full["rss_kb"]), max(int(r["rss_kb"]) for r in rows)
    check(peak <= base * 1.05, f"RSS {base} kB when the table filled (t={float(full['t_s']):.0f} s), peak {peak} kB "
          f"({(peak - base) / base:+.1%}, at most +5%)")
else:
    check(False, "the flow table never filled up: raise PPS or lower CAPACITY")
check(flood_running, "the flood was still running when both transfers had finished")
check(http_rc == 0 and sha(f"{tmp}/big.got") == sha(f"{tmp}/www/big.bin"), f"HTTP download complete and identical (curl exit {http_rc})")
check(bt_rc == 0 and sha(f"{tmp}/leech/seed.bin") == sha(f"{tmp}/seed.bin"), f"BitTorrent transfer complete and identical (aria2c exit {bt_rc})")
rows_by = {p["protocol"]: p for p in weir["protocols"]}
web, bt = rows_by.get("http", {}), rows_by.get("bittorrent", {})
check(web.get("bytes_in", 0) >= 32 << 20 and web.get("dropped_in", 0) + web.get("dropped_out", 0) == 0,
      f"the download counted as http: {web.get('bytes_in', 0)} bytes in, none dropped")
check(bt.get("bytes_in", 0) >= 8 << 20 and bt.get("dropped_in", 0) + bt.get("dropped_out", 0) == 0,
      f"the torrent counted as bittorrent: {bt.get('bytes_in', 0)} bytes in, none dropped")
ifs = weir["interfaces"]
check(all(s["received"] == s["forwarded"] + s["dropped_policy"] + s["dropped_malformed"] + s["lost_tx_full"] for s in ifs.values())
      and all(f["accounted"] for f in weir["frames"]), "every frame accounted for")
print(f"  weir received {sum(s['received'] for s in ifs.values())} frames, lost to a full TX ring {sum(s['lost_tx_full'] for s in ifs.values())}")
print("flowflood: PASS" if ok else "flowflood: FAIL")
sys.exit(0 if ok else 1)
PY
echo "flowflood: $(uptime)"
