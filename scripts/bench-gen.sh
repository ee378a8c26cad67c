#!/usr/bin/env bash
# weir gen against trafgen (netsniff-ng), both sending 64-byte UDP frames (60 bytes + FCS) as
# fast as they can, one CPU each, into the same veth pair in one throwaway namespace; delivered
# rate measured on the receiving veth's counters. Several alternating runs; prints each run,
# the medians and the ratio weir gen / trafgen. A benchmark, not a test: on veth (copy mode)
# absolute figures say little; the ratio on one machine in one run is the point.
#
# usage: scripts/bench-gen.sh [SECONDS_PER_RUN] [RUNS]     (root; WEIR=path/to/weir)
#        THREADS=N: a veth with N queues, weir gen --threads N and trafgen --cpus N, on CPUs
#        0..N-1 (default 1: one sender each, on CPU 1)
set -euo pipefail
secs=${1:-5}
runs=${2:-3}
threads=${THREADS:-1}
[[ $threads =~ ^[1-9][0-9]?$ ]] || { echo "bench-gen.sh: THREADS must be 1..99" >&2; exit 2; }
if [ "$threads" = 1 ]; then cpus=1; else cpus=0-$((threads - 1)); fi
cores=$(seq -s, 0 $((threads - 1)))
here=$(cd "$(dirname "$0")/.." && pwd)
weir=${WEIR:-}
for c in "$here/target/release/weir" "$here/target-gen/release/weir"; do
    [ -z "$weir" ] && [ -x "$c" ] && weir=$c
done
[ -n "$weir" ] || { echo "bench-gen.sh: no weir binary (cargo build --release or WEIR=)" >&2; exit 2; }
command -v trafgen >/dev/null || { echo "bench-gen.sh: trafgen (netsniff-ng) is not installed" >&2; exit 2; }

ns=weir-bg-$$
tmp=$(mktemp -d /tmp/weir-bench-gen.XXXXXX)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$ns"
ip -n "$ns" link add bg0 numtxqueues "$threads" numrxqueues "$threads" type veth peer name bg1 numtxqueues "$threads" numrxqueues "$threads"
ip -n "$ns" link set bg0 up
ip -n "$ns" link set bg1 up
ip netns exec "$ns" ethtool -K bg0 tso off gso off gro off tx off >/dev/null 2>&1 || true

cat >"$tmp/udp64.trafgen" <<'TG'
{ eth(da=02:77:65:69:72:02, sa=02:77:65:69:72:01), ipv4(saddr=198.18.0.10, daddr=198.19.0.1, ttl=64), udp(sp=1024, dp=443), fill(0x00, 18) }
TG
cat >"$tmp/udp64.toml" <<'PR'
# One long UDP flow of 64-byte frames (60 + FCS), no trailer, as fast as possible.
pps = 100000000
duration_s = 1000
trailer = false
[[template]]
protocol = "quic"
flows = 1
lifetime_s = 100000
size = { dist = "fixed", bytes = 64 }
PR

rx() { ip netns exec "$ns" cat /sys/class/net/bg1/statistics/rx_packets; }
measure() { # command...
    local a b
    a=$(rx)
    ip netns exec "$ns" timeout -s INT "$secs" taskset -c "$cpus" "$@" >/dev/null 2>&1 || true
    b=$(rx)
    echo $(((b - a) / secs))
}

declare -a w t
echo "64-byte UDP, $threads sender(s) each, ${secs} s per run"
printf '%-4s %14s %14s\n' run "weir gen pps" "trafgen pps"
for i in $(seq "$runs"); do
    w[i]=$(measure "$weir" gen --profile "$tmp/udp64.toml" --iface bg0 --quiet --duration "$((secs + 5))" \
        --threads "$threads" $([ "$threads" -gt 1 ] && echo --cores "$cores"))
    t[i]=$(measure trafgen --dev bg0 --conf "$tmp/udp64.trafgen" --cpus "$threads")
    printf '%-4s %14s %14s\n' "$i" "${w[i]}" "${t[i]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
mw=$(median "${w[@]}")
mt=$(median "${t[@]}")
printf '%-4s %14s %14s\n' median "$mw" "$mt"
awk -v a="$mw" -v b="$mt" 'BEGIN { if (b > 0) printf "ratio weir gen / trafgen: %.2f\n", a / b }'
