#!/usr/bin/env bash
# The whole load test in one command: lab up, weir run on the bridge, weir sink behind it,
# weir gen in front of it; then offered vs delivered, loss, latency, weir's per-protocol table
# beside the generator's ground truth, and the share of flows weir labelled right.
#
# usage: scripts/loadtest.sh PROFILE [SECONDS]      (root; WEIR=path/to/weir to pick a binary)
#
#   ns weir-in-NAME: weir gen --iface in0  ->  ns weir-br-NAME: weir run  ->  ns weir-out-NAME: weir sink --iface out0
#
# Every frame of a conversation (both directions) is sent into in0, so weir counts all of it as
# entering on the inside NIC; the flows and labels are the same either way. Everything made here
# is removed on exit, also on failure or Ctrl-C; only the PIDs started here are stopped.
set -euo pipefail

die() { echo "loadtest.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: $0 PROFILE [SECONDS]"
profile=$1
secs=${2:-10}
[ -f "$profile" ] || die "no such profile: $profile"
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SECONDS must be a number, got '$secs'"
here=$(cd "$(dirname "$0")/.." && pwd)
weir=${WEIR:-}
if [ -z "$weir" ]; then
    for c in "$here/target/release/weir" "$here/target-gen/release/weir"; do
        [ -x "$c" ] && weir=$c && break
    done
fi
[ -n "$weir" ] && [ -x "$weir" ] || die "no weir binary: cargo build --release, or set WEIR=path"

name=lt$$
tmp=$(mktemp -d /tmp/weir-loadtest.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    "$here/scripts/lab.sh" down "$name" >/dev/null 2>&1 || true
    rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/scripts/lab.sh" up "$name" >/dev/null
ns_in=weir-in-$name ns_br=weir-br-$name ns_out=weir-out-$name

# weir on the bridge, with a 1 s linger after FIN so that flows end (and are booked under their
# label) soon after the generator closes them.
sed 's/^closed_linger_s *=.*/closed_linger_s = 1/' "$here/configs/weir.toml" >"$tmp/weir.toml"
grep -q '^closed_linger_s = 1' "$tmp/weir.toml" || die "configs/weir.toml has no closed_linger_s to shorten"
ip netns exec "$ns_br" "$weir" run --config "$tmp/weir.toml" --summary-json "$tmp/weir.json" \
    >"$tmp/weir.out" 2>&1 &
weir_pid=$!
pids+=("$weir_pid")
for _ in $(seq 100); do
    ip -n "$ns_br" -d link show inside 2>/dev/null | grep -q 'prog/xdp' && ip -n "$ns_br" -d link show outside | grep -q 'prog/xdp' && break
    kill -0 "$weir_pid" 2>/dev/null || { cat "$tmp/weir.out" >&2; die "weir run exited"; }
    sleep 0.1
done
sleep 0.5

# The sink behind it.
ip netns exec "$ns_out" "$weir" sink --iface out0 --report "$tmp/sink.json" --ready-file "$tmp/ready" \
    >"$tmp/sink.out" 2>&1 &
sink_pid=$!
pids+=("$sink_pid")
for _ in $(seq 100); do
    [ -e "$tmp/ready" ] && break
    kill -0 "$sink_pid" 2>/dev/null || { cat "$tmp/sink.out" >&2; die "weir sink exited"; }
    sleep 0.1
done
[ -e "$tmp/ready" ] || die "weir sink did not become ready"

# The generator, in the foreground (progress on stderr).
ip netns exec "$ns_in" "$weir" gen --profile "$profile" --iface in0 --duration "$secs" --report "$tmp/gen.json"

# Let the last frames through and the closed flows end, then stop the sink and weir (SIGTERM:
# both write their reports).
sleep 3
kill -TERM "$sink_pid"
wait "$sink_pid" || true
kill -TERM "$weir_pid"
wait "$weir_pid" || true
pids=()
[ -s "$tmp/sink.json" ] || { cat "$tmp/sink.out" >&2; die "no sink report"; }
[ -s "$tmp/weir.json" ] || { cat "$tmp/weir.out" >&2; die "no weir summary"; }

python3 - "$tmp/gen.json" "$tmp/sink.json" "$tmp/weir.json" "$profile" <<'PY'
import json, sys
gen, sink, weir = (json.load(open(p)) for p in sys.argv[1:4])
print(f"\nload test: {sys.argv[4]}")
print(f"offered    {gen['pps']:>12.0f} pps {gen['bps']/1e6:>10.1f} Mb/s  {gen['packets']} frames in {gen['elapsed_s']:.2f} s")
print(f"delivered  {sink['pps']:>12.0f} pps {sink['bps']/1e6:>10.1f} Mb/s  {sink['received']} frames")
ins = weir.get("interfaces", {}).get("inside", {})
dropped = ins.get("dropped_policy", 0) + ins.get("dropped_malformed", 0)
lost_weir = ins.get("lost_tx_full", 0)
not_seen = gen["packets"] - ins.get("received", 0)
unaccounted = gen["packets"] - sink["received"] - dropped - lost_weir - max(not_seen, 0)
print(f"weir       received {ins.get('received', 0)}  forwarded {ins.get('forwarded', 0)}  dropped by policy/malformed {dropped}  lost (tx full) {lost_weir}")
print(f"loss       {gen['packets'] - sink['received']} frames ({(gen['packets'] - sink['received']) / max(gen['packets'], 1):.4%}); "
      f"not received by weir (kernel) {max(not_seen, 0)}; after weir, unaccounted {unaccounted}; reordered {sink['reordered']}")
l = sink["latency_ns"]
print(f"latency    p50 {l['p50']/1e3:.1f} µs  p99 {l['p99']/1e3:.1f} µs  p99.9 {l['p99_9']/1e3:.1f} µs  max {l['max']/1e3:.1f} µs")
truth = {p["protocol"]: p for p in gen["protocols"]}
seen = {p["protocol"]: p for p in weir.get("protocols", [])}
print(f"\n{'protocol':<14} {'flows gen':>10} {'flows weir':>10} {'pkts gen':>10} {'pkts weir':>10} {'bytes gen':>12} {'bytes weir':>12}")
right = total = 0
for name in sorted(set(truth) | set(seen), key=lambda n: -(truth.get(n, {}).get("bytes_out", 0) + truth.get(n, {}).get("bytes_in", 0))):
    t, w = truth.get(name, {}), seen.get(name, {})
    tf, wf = t.get("flows", 0), w.get("flows", 0)
    total += tf
    right += min(tf, wf)
    tp = t.get("packets_out", 0) + t.get("packets_in", 0)
    wp = w.get("packets_out", 0) + w.get("packets_in", 0)
    tb = t.get("bytes_out", 0) + t.get("bytes_in", 0)
    wb = w.get("bytes_out", 0) + w.get("bytes_in", 0)
    print(f"{name:<14} {tf:>10} {wf:>10} {tp:>10} {wp:>10} {tb:>12} {wb:>12}")
share = right / max(total, 1)
print(f"\nflows labelled as generated: {share:.4%} (per protocol: min(weir, generated) summed over protocols / generated; goal >= 99.9%)")
PY
