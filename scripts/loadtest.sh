#!/usr/bin/env bash
# The whole load test in one command: lab up, weir run on the bridge, weir sink behind it,
# weir gen in front of it; then offered vs delivered, loss, latency, weir's per-protocol table
# beside the generator's ground truth, and the share of flows weir labelled right.
#
# usage: scripts/loadtest.sh PROFILE [SECONDS]      (root; WEIR=path/to/weir to pick a binary;
#        THREADS=N: N queues per veth, so N weir workers, and N generator threads; default 1)
#
#   ns weir-in-NAME: in0  <->  ns weir-br-NAME: weir run (inside | outside)  <->  ns weir-out-NAME: out0
#
# weir gen sends each frame from the side its host is on (inside hosts' frames into in0, outside
# hosts' frames into out0 with --peer-iface) and measures what the bridge delivers on the far
# side with the same sockets (--sink-report), as a two-port traffic tester does; so weir's
# per-protocol counters are compared with the ground truth direction by direction. Everything
# made here is removed on exit, also on failure or Ctrl-C; only the PIDs started here are stopped.
set -euo pipefail

die() { echo "loadtest.sh: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: $0 PROFILE [SECONDS]"
profile=$1
secs=${2:-10}
threads=${THREADS:-1}
[[ $threads =~ ^[1-9][0-9]?$ ]] || die "THREADS must be 1..99, got '$threads'"
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

"$here/scripts/lab.sh" up "$name" --queues "$threads" >/dev/null
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

# The generator, on both sides, in the foreground (progress on stderr); it also measures what
# arrives.
ip netns exec "$ns_in" "$weir" gen --profile "$profile" --iface in0 --peer-iface out0 --peer-netns "$ns_out" \
    --threads "$threads" --duration "$secs" --report "$tmp/gen.json" --sink-report "$tmp/sink.json"

# Let the closed flows end (1 s linger), then stop weir (SIGTERM: it writes its summary).
sleep 2
kill -TERM "$weir_pid"
wait "$weir_pid" || true
pids=()
[ -s "$tmp/sink.json" ] || die "no sink report"
[ -s "$tmp/weir.json" ] || { cat "$tmp/weir.out" >&2; die "no weir summary"; }

python3 - "$tmp/gen.json" "$tmp/sink.json" "$tmp/weir.json" "$profile" <<'PY'
import json, sys
gen, sink, weir = (json.load(open(p)) for p in sys.argv[1:4])
print(f"\nload test: {sys.argv[4]}, {gen['threads']} generator thread(s)")
print(f"offered    {gen['pps']:>12.0f} pps {gen['bps']/1e6:>10.1f} Mb/s  {gen['packets']} frames in {gen['elapsed_s']:.2f} s")
print(f"delivered  {sink['pps']:>12.0f} pps {sink['bps']/1e6:>10.1f} Mb/s  {sink['received']} frames")
ifs = weir.get("interfaces", {})
def both(key):
    return sum(ifs.get(side, {}).get(key, 0) for side in ("inside", "outside"))
# What each side's hosts sent, from the ground truth: inside hosts into in0, outside hosts into out0.
sent_side = {"inside": sum(p["packets_out"] for p in gen["protocols"]),
             "outside": sum(p["packets_in"] for p in gen["protocols"])}
dropped = both("dropped_policy") + both("dropped_malformed")
lost_weir = both("lost_tx_full")
# The lab's own frames (neighbour discovery) cross too, so weir may see a few more than were sent.
not_seen = sum(max(n - ifs.get(side, {}).get("received", 0), 0) for side, n in sent_side.items())
lost = gen["packets"] - sink["received"]
unaccounted = lost - dropped - lost_weir - not_seen
print(f"weir       received {both('received')}  forwarded {both('forwarded')}  dropped by policy/malformed {dropped}  lost (tx full) {lost_weir}")
print(f"loss       {lost} frames ({lost / max(gen['packets'], 1):.4%}); not received by weir (kernel) {not_seen}; "
      f"after weir, unaccounted {unaccounted}; reordered {sink['reordered']}")
l = sink["latency_ns"]
print(f"latency    p50 {l['p50']/1e3:.1f} µs  p99 {l['p99']/1e3:.1f} µs  p99.9 {l['p99_9']/1e3:.1f} µs  max {l['max']/1e3:.1f} µs")
truth = {p["protocol"]: p for p in gen["protocols"]}
seen = {p["protocol"]: p for p in weir.get("protocols", [])}
keys = ("flows", "packets_out", "packets_in", "bytes_out", "bytes_in")
print("\nper protocol, generated / counted by weir (out: sent by inside hosts, in: by outside hosts)")
print(f"{'protocol':<14}" + "".join(f"{k:>27}" for k in keys))
right = total = 0
exact = True
for name in sorted(set(truth) | set(seen), key=lambda n: -(truth.get(n, {}).get("bytes_out", 0) + truth.get(n, {}).get("bytes_in", 0))):
    t, w = truth.get(name), seen.get(name, {})
    if t is None:
        # Not generated: the lab's own frames (ICMPv6 neighbour discovery), shown apart.
        print(f"{name:<14}" + "".join(f"{'- / ' + str(w.get(k, 0)):>27}" for k in keys) + "   (not generated)")
        continue
    total += t["flows"]
    right += min(t["flows"], w.get("flows", 0))
    exact &= all(t[k] == w.get(k, 0) for k in keys)
    print(f"{name:<14}" + "".join(f"{str(t[k]) + ' / ' + str(w.get(k, 0)):>27}" for k in keys))
print(f"\nweir's flows, packets and bytes per protocol and direction {'equal' if exact else 'DIFFER FROM'} the generator's ground truth")
share = right / max(total, 1)
print(f"flows labelled as generated: {share:.4%} (per protocol: min(weir, generated) summed over protocols / generated; goal >= 99.9%)")
PY
