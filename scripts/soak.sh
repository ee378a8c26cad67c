#!/usr/bin/env bash
# Soak test: the campus-2004 mix through weir for MINUTES at 80% of the capacity measured first,
# sampling weir's RSS and counters every 10 s; at the end it checks
#   - every frame accounted for (per NIC received = forwarded + dropped; every UMEM frame placed),
#   - loss at most 0.01% (generated vs delivered, measured by the generator's own sockets),
#   - RSS growth at most 1% from the first minute's end (or half the run, if shorter) to the end,
#   - weir's flows, packets and bytes per protocol and direction equal the generator's ground truth.
# Exit status 0 only if all four hold.
#
# usage: scripts/soak.sh MINUTES          (root; WEIR=path/to/weir to pick a binary)
#   PPS=N        soak at N packets/s instead of measuring capacity (the CI test uses a fixed rate)
#   LOAD=0.8     fraction of the measured capacity to soak at
#   OUT=DIR      keep samples.csv, the reports and weir's log in DIR (default: a temp dir, removed)
#
#   ns weir-in-NAME: in0  <->  ns weir-br-NAME: weir run (inside | outside)  <->  ns weir-out-NAME: out0
#
# Capacity: weir gen offers the mix as fast as it can for 5 s, both sides, and the delivered
# packet rate is the capacity (of weir, the generator and this machine together; on a shared
# machine it moves with the load, so say how loaded it was: `uptime` is printed).
set -euo pipefail

die() { echo "soak.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: $0 MINUTES"
minutes=$1
[[ $minutes =~ ^[0-9]+([.][0-9]+)?$ ]] || die "MINUTES must be a number, got '$minutes'"
load=${LOAD:-0.8}
here=$(cd "$(dirname "$0")/.." && pwd)
weir=${WEIR:-}
if [ -z "$weir" ]; then
    for c in "$here/target/release/weir" "$here/target/ci/weir"; do
        [ -x "$c" ] && weir=$c && break
    done
fi
[ -n "$weir" ] && [ -x "$weir" ] || die "no weir binary: cargo build --release, or set WEIR=path"
profile="$here/configs/profiles/campus-2004.toml"
secs=$(python3 -c "print(round(float('$minutes') * 60, 1))")

name=sk$$
keep=${OUT:-}
tmp=${OUT:-$(mktemp -d /tmp/weir-soak.XXXXXX)}
mkdir -p "$tmp"
pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    "$here/scripts/lab.sh" down "$name" >/dev/null 2>&1 || true
    [ -n "$keep" ] || rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/scripts/lab.sh" up "$name" >/dev/null
ns_in=weir-in-$name ns_br=weir-br-$name ns_out=weir-out-$name
echo "soak: $(uptime)"

# A 1 s linger after FIN, so flows the generator closes end (and are booked) soon after, and
# 15 s UDP and other idle timeouts, so the flow table reaches its steady state within the first
# half minute (RSS growth is measured from the end of the first minute, or half the run).
sed 's/^closed_linger_s *=.*/closed_linger_s = 1/; s/^udp_idle_s *=.*/udp_idle_s = 15/; s/^other_idle_s *=.*/other_idle_s = 15/' \
    "$here/configs/weir.toml" >"$tmp/weir.toml"
start_weir() { # $1: tag
    ip netns exec "$ns_br" "$weir" run --config "$tmp/weir.toml" --summary-json "$tmp/weir-$1.json" \
        --stats-json "$tmp/stats-$1.jsonl" >"$tmp/weir-$1.log" 2>&1 &
    weir_pid=$!
    pids+=("$weir_pid")
    for _ in $(seq 200); do
        grep -q 'event=ready' "$tmp/weir-$1.log" 2>/dev/null && return 0
        kill -0 "$weir_pid" 2>/dev/null || { cat "$tmp/weir-$1.log" >&2; die "weir run exited"; }
        sleep 0.1
    done
    die "weir did not get ready in 20 s"
}
stop_weir() {
    kill -TERM "$weir_pid"
    wait "$weir_pid" || true
    pids=()
}
gen() { # $1: tag, $2: seconds, $3: pps
    # If the capacity run's queues are still busy (the kernel frees a closed AF_XDP socket's
    # queue in deferred work, late on a loaded machine), try again a few times.
    local try rc
    for try in 1 2 3 4 5 6; do
        rc=0
        ip netns exec "$ns_in" "$weir" gen --profile "$profile" --iface in0 --peer-iface out0 --peer-netns "$ns_out" \
            --duration "$2" --rate-pps "$3" --quiet --report "$tmp/gen-$1.json" --sink-report "$tmp/sink-$1.json" \
            2> >(tee "$tmp/gen-$1.err" >&2) || rc=$?
        [ "$rc" = 0 ] && return 0
        grep -q 'is busy' "$tmp/gen-$1.err" || return "$rc"
        echo "soak: the generator's queues are still busy from the capacity run (try $try); again in 5 s" >&2
        sleep 5
    done
    return "$rc"
}

if [ -n "${PPS:-}" ]; then
    pps=$PPS
    echo "soak: rate fixed at $pps packets/s (PPS)"
else
    start_weir capacity
    # As fast as it goes: the profile's time is scheduled time, so at 5 M packets/s it would run
    # far longer than 5 s; SIGTERM after 5 s of wall time, and it reports what it did.
    ip netns exec "$ns_in" "$weir" gen --profile "$profile" --iface in0 --peer-iface out0 --peer-netns "$ns_out" \
        --duration 100000 --rate-pps 5000000 --quiet --report "$tmp/gen-capacity.json" \
        --sink-report "$tmp/sink-capacity.json" &
    gen_pid=$!
    sleep 5
    kill -TERM "$gen_pid"
    wait "$gen_pid" || true
    sleep 2
    stop_weir
    # A generator stopped by SIGTERM can leave libxdp's program on the peer NIC (out0), which
    # makes the next one's bind fail as busy: remove what is left on the hosts' NICs.
    ip -n "$ns_in" link set dev in0 xdp off 2>/dev/null || true
    ip -n "$ns_out" link set dev out0 xdp off 2>/dev/null || true
    capacity=$(python3 -c "import json; print(int(json.load(open('$tmp/sink-capacity.json'))['pps']))")
    pps=$(python3 -c "print(int($capacity * $load))")
    echo "soak: measured capacity $capacity packets/s delivered (campus-2004, 5 s, both sides); soaking at $load of it: $pps packets/s"
fi

start_weir soak
# Sample every 10 s: time, weir's RSS, and its counters from the latest stats record.
(
    echo "t_s,rss_kb,inside_received,outside_received,inside_forwarded,outside_forwarded,flows_active,flows_evicted"
    t0=$(date +%s.%N)
    while kill -0 "$weir_pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$weir_pid/status" 2>/dev/null || echo 0)
        line=$(tail -n 1 "$tmp/stats-soak.jsonl" 2>/dev/null || true)
        python3 - "$t0" "$rss" "$line" <<'PY' || true
import json, sys, time
t0, rss, line = float(sys.argv[1]), sys.argv[2], sys.argv[3]
try:
    r = json.loads(line)
except ValueError:
    r = {}
i = r.get("interfaces", {})
g = lambda side, k: i.get(side, {}).get(k, 0)
ft = r.get("flow_table", {})
print(f"{time.time() - t0:.1f},{rss},{g('inside','received')},{g('outside','received')},"
      f"{g('inside','forwarded')},{g('outside','forwarded')},{ft.get('active', 0)},{ft.get('evicted', 0)}", flush=True)
PY
        sleep 10
    done
) >"$tmp/samples.csv" &
sampler=$!
pids+=("$sampler")
# The generator's duration is scheduled time: on a loaded machine it falls behind and would
# run longer. SIGTERM at MINUTES of wall time (it then reports what it sent and received).
gen soak "$secs" "$pps" &
gen_pid=$!
pids+=("$gen_pid")
deadline=$(python3 -c "import time; print(time.time() + $secs + 20)")
while kill -0 "$gen_pid" 2>/dev/null; do
    python3 -c "import sys, time; sys.exit(0 if time.time() < $deadline else 1)" || { kill -TERM "$(pgrep -P "$gen_pid" -f 'weir.* gen ' | head -n 1)" 2>/dev/null || true; break; }
    sleep 5
done
gen_rc=0
wait "$gen_pid" || gen_rc=$?
[ "$gen_rc" = 0 ] || [ "$gen_rc" = 130 ] || die "weir gen failed ($gen_rc)"
sleep 2
kill -0 "$weir_pid" 2>/dev/null || die "weir died during the soak: $(tail -n 20 "$tmp/weir-soak.log")"
# One last sample, then stop.
sleep 10
stop_weir
wait "$sampler" 2>/dev/null || true

python3 - "$tmp" "$secs" <<'PY'
import csv, json, sys
tmp, secs = sys.argv[1], float(sys.argv[2])
gen = json.load(open(f"{tmp}/gen-soak.json"))
sink = json.load(open(f"{tmp}/sink-soak.json"))
weir = json.load(open(f"{tmp}/weir-soak.json"))
rows = [r for r in csv.DictReader(open(f"{tmp}/samples.csv")) if int(r["rss_kb"]) > 0]
ok = True
def check(cond, what):
    global ok
    ok &= cond
    print(f"  {'ok  ' if cond else 'FAIL'} {what}")

print(f"\nsoak: {secs / 60:.1f} min of campus-2004 at {gen['pps']:.0f} packets/s offered ({gen['bps'] / 1e6:.1f} Mb/s), "
      f"{gen['packets']} frames, {len(rows)} samples")
ifs = weir["interfaces"]
accounted = all(s["received"] == s["forwarded"] + s["dropped_policy"] + s["dropped_malformed"] + s["lost_tx_full"]
                for s in ifs.values()) and all(f["accounted"] for f in weir["frames"])
check(accounted, "every frame accounted for: per NIC received = forwarded + dropped, every UMEM frame placed")
lost = gen["packets"] - sink["received"]
loss = lost / max(gen["packets"], 1)
check(loss <= 0.0001, f"loss {lost} of {gen['packets']} frames = {loss:.5%} (at most 0.01%); reordered {sink['reordered']}")
# RSS from the end of the first minute (or half the run, if shorter) to the last sample.
base_t = min(60.0, secs / 2)
base = next((r for r in rows if float(r["t_s"]) >= base_t), rows[0] if rows else None)
if base and rows:
    b, e = int(base["rss_kb"]), int(rows[-1]["rss_kb"])
    growth = (e - b) / max(b, 1)
    peak = max(int(r["rss_kb"]) for r in rows)
    check(growth <= 0.01, f"RSS {b} kB at {float(base['t_s']):.0f} s -> {e} kB at {float(rows[-1]['t_s']):.0f} s: "
          f"{growth:+.3%} (at most +1%); peak {peak} kB")
else:
    check(False, "RSS samples")
truth = {p["protocol"]: p for p in gen["protocols"]}
seen = {p["protocol"]: p for p in weir.get("protocols", [])}
keys = ("flows", "packets_out", "packets_in", "bytes_out", "bytes_in")
diff = [f"{n}.{k}: generated {t[k]}, weir {seen.get(n, {}).get(k, 0)}"
        for n, t in truth.items() for k in keys if t[k] != seen.get(n, {}).get(k, 0)]
check(not diff, "weir's flows, packets and bytes per protocol and direction equal the generator's ground truth"
      + ("" if not diff else ": " + "; ".join(diff[:8])))
print(f"  weir received {sum(s['received'] for s in ifs.values())}, forwarded {sum(s['forwarded'] for s in ifs.values())}, "
      f"lost to a full TX ring {sum(s['lost_tx_full'] for s in ifs.values())}; latency p50 {sink['latency_ns']['p50'] / 1e3:.0f} µs, "
      f"p99 {sink['latency_ns']['p99'] / 1e3:.0f} µs")
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
PY
echo "soak: $(uptime)"
