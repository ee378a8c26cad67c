#!/usr/bin/env bash
# Shaping: weir's rate classes against the 2004 Linux way, in the same run, in the veth lab.
#
#   (a) htb   the kernel bridge with iptables string-match marks and HTB, as a 2004 box did it:
#             bridged frames go through iptables (br_netfilter); in the mangle table a download
#             whose request line contains "GET /bulk/" is CONNMARKed, and every packet of the
#             connection is sent by CLASSIFY into HTB class 1:10 and marked DSCP CS1; on the
#             bridge port towards the clients (`inside`) the HTB root has 1:10 at RATE (rate =
#             ceil, burst = 10 ms at RATE but at least 64 KiB, as weir's default) with HTB's default pfifo leaf (the
#             kernel here has no SFQ, fq_codel or CAKE, and no fw classifier), everything else
#             in a 10 Gbit/s class.
#   (b) weir  `weir run` with the same traffic (weir classifies it as http by its bytes) in a
#             class at RATE: [policy.classes.bench] rate = RATE, dscp = "CS1"; default burst
#             (10 ms, at least 64 KiB) and CoDel (5 ms / 100 ms). The script first checks that this weir runs
#             such a policy: a build whose bridge does not shape refuses it at start-up, and the
#             script then says "weir shaper: not integrated in this build" with weir's message
#             and measures only (a).
#
# Loads (TCP, nginx in the outside namespace serving a large file, curl clients inside):
#   1flow   one download of /bulk/ for SECONDS
#   8flow   eight parallel downloads of /bulk/ for SECONDS
# Figures per setup and load (medians of RUNS runs, runs interleaved a,b,a,b,...):
#   achieved  L2 bytes the clients' NIC in0 received (its rx_bytes, sampled every 20 ms) per
#             second over the steady part of the load (1 s after the first byte to 0.5 s before
#             the last), and that over the set RATE (goal for weir: within +-2%)
#   goodput   the downloads' bytes (curl's size_download) over their time, summed over flows
#   rtt p50/p99  the senders' smoothed TCP RTT (ss -ti in the outside namespace, sampled every
#             50 ms): the lab's own RTT is ~0.1 ms, so this is the queueing delay TCP sees
#   queue p50/p99 htb: the HTB class backlog over RATE (tc -s class, sampled every 20 ms);
#             weir: the class's sojourn time (its own histogram, `--stats-json` each second):
#             the medians of the per-second p50s and p99s; the largest per-second p99 (usually
#             the first second's, TCP's slow start) is in the JSON line as queue_worst_p99_ms
#   fairness  Jain's index over the eight flows' goodputs (1 = equal) and min/max flow ratio
# Then `cargo bench -p weir-shaper` (criterion: the shaper's enqueue+dequeue ns per packet in
# each mode, checking its own answers); SKIP_CRITERION=1 skips it.
#
# The senders' congestion control is CC (default cubic, Debian's and Linux's default; set in the
# lab's namespaces only): CoDel keeps a queue short by dropping (or CE-marking) early, which loss-
# or ECN-driven senders answer and BBR (v1, which ignores both) does not. ECN=1 makes the clients
# ask for ECN (default: the kernel's 2, answer it but never ask, so CoDel drops).
#
# Usage: scripts/bench-shaper.sh [SECONDS] [RUNS] [RATE_MBIT]   (default 10 s, 3 runs, 8 Mbit/s)
# Environment: SETUPS ("htb weir"), LOADS ("1flow 8flow"), CC (cubic), ECN (unset), KEEP_LOGS=1
# keeps the scratch dir.
# Exits non-zero only if setting up fails, never because a goal was missed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-10}
RUNS=${2:-3}
RATE=${3:-8}
SETUPS=${SETUPS:-"htb weir"}
LOADS=${LOADS:-"1flow 8flow"}
usage() { echo "usage: $0 [SECONDS] [RUNS] [RATE_MBIT]" >&2; exit 2; }
[[ $SECS =~ ^[1-9][0-9]*$ ]] || usage
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || usage
[[ $RATE =~ ^[1-9][0-9]*$ ]] || usage

die() { echo "bench-shaper: setup failed: $*" >&2; exit 2; }
log() { echo "bench-shaper: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, tc, iptables)"
for tool in nginx curl ss tc iptables ip python3 truncate; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the lab tools)"
done

log "building weir (profile ci)"
cargo build --profile ci --locked -q || die "cargo build --profile ci failed"
WEIR=$ROOT/target/ci/weir

TAG=bs$$
[ ${#TAG} -le 20 ] || TAG=bs${RANDOM}
declare -A LAB=([htb]=${TAG}h [weir]=${TAG}w)
TMP=$(mktemp -d /tmp/weir-bench-shaper.XXXXXX)
PIDS=()

stop_pid() { # pid: TERM, wait up to 5 s, then KILL; only our own children
    local pid=$1 _
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
forget_pid() {
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}
cleanup() {
    local rc=$? pid s
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for s in htb weir; do "$ROOT/scripts/lab.sh" down "${LAB[$s]}" >/dev/null 2>&1 || true; done
    if [ "${KEEP_LOGS:-0}" = 1 ]; then log "scratch kept in $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

nsx() { local n="weir-$2-${LAB[$1]}"; shift 2; ip netns exec "$n" "$@"; } # setup in|br|out cmd...
CC=${CC:-cubic}
grep -qw "$CC" /proc/sys/net/ipv4/tcp_available_congestion_control ||
    die "CC=$CC: not in this kernel's $(cat /proc/sys/net/ipv4/tcp_available_congestion_control)"
log "TCP: congestion control $CC, tcp_ecn ${ECN:-as the kernel (2)} in the lab namespaces"
set_tcp() { # setup: the senders' and receivers' congestion control and ECN, in the lab only
    # A namespace may only pick from the host's tcp_allowed_congestion_control (often not cubic),
    # and the host's list is not ours to change: the lab subnet's route names the algorithm.
    local side src
    for side in in out; do
        src=198.18.0.1
        [ "$side" = out ] && src=198.18.0.2
        nsx "$1" "$side" ip route change 198.18.0.0/24 dev "${side}0" proto kernel scope link src "$src" \
            congctl "$CC" || die "$1: cannot set congctl $CC on the $side route"
        if [ -n "${ECN:-}" ]; then nsx "$1" "$side" sysctl -qw net.ipv4.tcp_ecn="$ECN" || die "$1: ECN=$ECN"; fi
    done
}

# ---- the web server (outside) ---------------------------------------------------------------
truncate -s 8G "$TMP/big" # sparse: nginx sends zeros from the page cache, never from disk
mkdir -p "$TMP/www/bulk" "$TMP/nginx"
ln -s "$TMP/big" "$TMP/www/bulk/file"
chmod 755 "$TMP" "$TMP/www" "$TMP/www/bulk" # nginx's worker runs as nobody
chmod 644 "$TMP/big"
nginx_conf() { # setup
    cat >"$TMP/nginx-$1.conf" <<EOF
worker_processes 1;
pid $TMP/nginx-$1.pid;
error_log $TMP/nginx-$1.err warn;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    disable_symlinks off;
    client_body_temp_path $TMP/nginx;
    proxy_temp_path $TMP/nginx;
    fastcgi_temp_path $TMP/nginx;
    uwsgi_temp_path $TMP/nginx;
    scgi_temp_path $TMP/nginx;
    server { listen 198.18.0.2:80; root $TMP/www; }
}
EOF
}
start_nginx() { # setup
    nginx_conf "$1"
    # ip netns exec execs nginx: $! is nginx's master, which takes its worker with it.
    ip netns exec "weir-out-${LAB[$1]}" nginx -c "$TMP/nginx-$1.conf" -g 'daemon off;' &
    PIDS+=($!)
    local _
    for _ in $(seq 50); do
        nsx "$1" in curl -sf -o /dev/null -r 0-0 "http://198.18.0.2/bulk/file" && return 0
        sleep 0.1
    done
    die "$1: nginx does not answer (see $TMP/nginx-$1.err)"
}

# ---- (a) kernel bridge + iptables string marks + HTB ------------------------------------------
setup_htb() {
    "$ROOT/scripts/lab.sh" up "${LAB[htb]}" --kernel-bridge >/dev/null || die "lab up (htb)"
    set_tcp htb
    nsx htb br sysctl -qw net.bridge.bridge-nf-call-iptables=1 ||
        die "htb: net.bridge.bridge-nf-call-iptables not settable (kernel without br_netfilter?)"
    local m="nsx htb br iptables -t mangle -A FORWARD"
    $m -j CONNMARK --restore-mark
    $m -m mark --mark 0 -p tcp --dport 80 -m string --algo bm --string "GET /bulk/" -j CONNMARK --set-mark 0x10 ||
        die "htb: iptables string match failed (xt_string missing?)"
    $m -m connmark --mark 0x10 -j CLASSIFY --set-class 1:10 || die "htb: iptables CLASSIFY target failed"
    $m -m connmark --mark 0x10 -j DSCP --set-dscp-class CS1 || die "htb: iptables DSCP target failed"
    local burst=$((RATE * 1000000 / 8 / 100))
    [ "$burst" -ge 65536 ] || burst=65536
    local t="nsx htb br tc"
    $t qdisc add dev inside root handle 1: htb default 20 || die "htb: sch_htb missing"
    $t class add dev inside parent 1: classid 1:1 htb rate 10gbit ceil 10gbit quantum 60000
    $t class add dev inside parent 1:1 classid 1:10 htb rate "${RATE}mbit" ceil "${RATE}mbit" \
        burst "$burst" cburst "$burst" quantum 1514
    $t class add dev inside parent 1:1 classid 1:20 htb rate 9gbit ceil 10gbit quantum 60000
    start_nginx htb
    log "htb: $(nsx htb br iptables -V), HTB 1:10 at ${RATE} Mbit/s burst $burst bytes, pfifo leaf (limit $(nsx htb br cat /sys/class/net/inside/tx_queue_len) packets)"
}

# ---- (b) weir -----------------------------------------------------------------------------------
WEIR_STATE=unknown # unknown | ok | absent (with WEIR_WHY)
WEIR_WHY=""
setup_weir() {
    "$ROOT/scripts/lab.sh" up "${LAB[weir]}" >/dev/null || die "lab up (weir)"
    set_tcp weir
    cat >"$TMP/weir.toml" <<EOF
[interfaces]
inside = "inside"
outside = "outside"
[stats]
listen = ""
interval_s = 1
[control]
socket = ""
[policy.classes.bench]
rate = "${RATE} Mbit/s"
dscp = "CS1"
[[policy.rule]]
protocol = "http"
class = "bench"
EOF
    ip netns exec "weir-br-${LAB[weir]}" "$WEIR" run --config "$TMP/weir.toml" --stats-json "$TMP/weir-stats.jsonl" \
        >"$TMP/weir.log" 2>&1 &
    local pid=$! _
    PIDS+=("$pid")
    for _ in $(seq 100); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            forget_pid "$pid"
            WEIR_STATE=absent
            WEIR_WHY=$(grep -m1 'error' "$TMP/weir.log" || tail -n 1 "$TMP/weir.log")
            return 0
        fi
        grep -q "queue-bound" "$TMP/weir.log" && nsx weir in ping -c 1 -W 1 198.18.0.2 >/dev/null 2>&1 && break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null || die "weir stopped: $(tail -n 3 "$TMP/weir.log")"
    WEIR_STATE=ok
    start_nginx weir
    log "weir: class bench at ${RATE} Mbit/s, DSCP CS1, http into it"
}

# ---- one measurement ----------------------------------------------------------------------------
sample_rtt() { # setup out-file: smoothed RTTs (ms) of the senders' connections, every 50 ms
    while :; do
        nsx "$1" out ss -tin state established '( sport = :80 )' >"$2.ss" 2>/dev/null || true
        grep -o ' rtt:[0-9.]*' "$2.ss" | cut -d: -f2 >>"$2" || true
        grep -oE "^\s+(cubic|bbr|reno|[a-z0-9_]+) " "$2.ss" | head -n 1 | tr -d ' \t' >"$2.cc" || true
        sleep 0.05
    done
}
sample_backlog() { # out-file: HTB class 1:10 backlog bytes, every 20 ms
    while :; do
        nsx htb br tc -s class show dev inside classid 1:10 2>/dev/null |
            awk '/backlog/ {b=$2; sub(/b$/, "", b); if (b ~ /K$/) {sub(/K$/, "", b); b *= 1000} if (b ~ /M$/) {sub(/M$/, "", b); b *= 1000000} print b}' >>"$1" || true
        sleep 0.02
    done
}

measure() { # setup load run -> one JSON line on stdout
    local s=$1 load=$2 run=$3 flows=1 i
    [ "$load" = 8flow ] && flows=8
    local dir="$TMP/$s-$load-$run"
    mkdir -p "$dir"
    : >"$dir/rtt"
    : >"$dir/backlog"
    sample_rtt "$s" "$dir/rtt" &
    local rtt_pid=$!
    PIDS+=("$rtt_pid")
    local bl_pid=""
    if [ "$s" = htb ]; then
        sample_backlog "$dir/backlog" &
        bl_pid=$!
        PIDS+=("$bl_pid")
    fi
    # The clients' received bytes, sampled every 20 ms from the inside namespace's /proc/net/dev
    # (through a process living there): one process reads and stamps, so a loaded machine's
    # slow forks cannot skew the window.
    ip netns exec "weir-in-${LAB[$s]}" sleep 100000 &
    local anchor=$!
    PIDS+=("$anchor")
    python3 -c '
import sys, time
pid, out = sys.argv[1], sys.argv[2]
with open(out, "w") as f:
    while True:
        for line in open(f"/proc/{pid}/net/dev"):
            name, _, rest = line.partition(":")
            if name.strip() == "in0":
                f.write(f"{time.time():.6f} {rest.split()[0]}\n")
                f.flush()
        time.sleep(0.02)
' "$anchor" "$dir/rx" &
    local rx_pid=$!
    PIDS+=("$rx_pid")
    sleep 0.2
    local t0 t1
    t0=$(date +%s.%N)
    local curls=()
    for i in $(seq "$flows"); do
        nsx "$s" in curl -sf -o /dev/null --max-time "$SECS" -w '%{size_download} %{time_total}\n' \
            "http://198.18.0.2/bulk/file?f=$i" >"$dir/curl-$i" 2>/dev/null &
        curls+=($!)
    done
    for i in "${curls[@]}"; do wait "$i" || true; done # curl exits 28 at --max-time: expected
    t1=$(date +%s.%N)
    local seen
    seen=$(cat "$dir/rtt.cc" 2>/dev/null || true)
    [ "$seen" = "$CC" ] || log "$s $load run $run: the senders ran '${seen:-?}', not CC=$CC"
    sleep 1.2 # the stats record of the last second
    stop_pid "$rx_pid"; forget_pid "$rx_pid"
    stop_pid "$anchor"; forget_pid "$anchor"
    stop_pid "$rtt_pid"; forget_pid "$rtt_pid"
    if [ -n "$bl_pid" ]; then stop_pid "$bl_pid"; forget_pid "$bl_pid"; fi
    python3 - "$dir" "$s" "$load" "$RATE" "$flows" "$t0" "$t1" "$TMP/weir-stats.jsonl" <<'EOF'
import json, sys, glob, os
d, setup, load, rate, flows, t0, t1, weir_stats = sys.argv[1:]
rate = float(rate) * 1e6
def pct(v, q):
    if not v: return None
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))]
flows_bps = []
for f in sorted(glob.glob(f"{d}/curl-*")):
    parts = open(f).read().split()
    if len(parts) >= 2 and float(parts[1]) > 0:
        flows_bps.append(float(parts[0]) * 8 / float(parts[1]))
    else:
        flows_bps.append(0.0)
rtt = [float(x) for x in open(f"{d}/rtt").read().split() if x]
backlog = [float(x) for x in open(f"{d}/backlog").read().split() if x]
queue_ms = [b * 8 / rate * 1000 for b in backlog]
queue_p50 = pct(queue_ms, 0.5)
queue_p99 = pct(queue_ms, 0.99)
queue_worst = None
if setup == "weir" and os.path.exists(weir_stats):
    p50s, p99s = [], []
    for line in open(weir_stats):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if not float(t0) + 1.0 <= r.get("time_unix_s", 0) <= float(t1) + 1.0:
            continue
        for c in r.get("classes", []):
            soj = c.get("in", {}).get("sojourn_us", {})
            if c.get("name") == "bench" and soj.get("count", 0) > 0:
                p50s.append(soj["p50"] / 1000)
                p99s.append(soj["p99"] / 1000)
    queue_p50 = pct(p50s, 0.5)
    queue_p99 = pct(p99s, 0.5)
    queue_worst = max(p99s) if p99s else None
# The steady part: from 1 s after the first byte to 0.5 s before the last.
rx = [(float(t), int(b)) for t, b in (l.split() for l in open(f"{d}/rx") if len(l.split()) == 2)]
moving = [i for i in range(1, len(rx)) if rx[i][1] > rx[i - 1][1]]
achieved = None
if moving:
    t_first, t_last = rx[moving[0] - 1][0], rx[moving[-1]][0]
    inside = [p for p in rx if t_first + 1.0 <= p[0] <= t_last - 0.5]
    if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
        achieved = (inside[-1][1] - inside[0][1]) * 8 / (inside[-1][0] - inside[0][0])
n = len(flows_bps)
jain = (sum(flows_bps) ** 2 / (n * sum(x * x for x in flows_bps))) if n and sum(flows_bps) > 0 else None
print(json.dumps({
    "setup": setup, "load": load, "achieved_bps": achieved,
    "achieved_ratio": achieved / rate if achieved is not None else None,
    "goodput_bps": sum(flows_bps), "rtt_p50_ms": pct(rtt, 0.5), "rtt_p99_ms": pct(rtt, 0.99),
    "queue_p50_ms": queue_p50, "queue_p99_ms": queue_p99,
    "queue_worst_p99_ms": queue_worst if setup == "weir" else None,
    "jain": jain, "min_max": (min(flows_bps) / max(flows_bps)) if n > 1 and max(flows_bps) > 0 else None,
    "flows": n,
}))
EOF
}

# ---- run ------------------------------------------------------------------------------------------
for s in $SETUPS; do
    case $s in
    htb) setup_htb ;;
    weir) setup_weir ;;
    *) die "unknown setup '$s' (htb, weir)" ;;
    esac
done
if [[ " $SETUPS " == *" weir "* ]] && [ "$WEIR_STATE" = absent ]; then
    log "weir shaper: not integrated in this build ($WEIR_WHY)"
fi

: >"$TMP/results.jsonl"
for run in $(seq "$RUNS"); do
    for load in $LOADS; do
        for s in $SETUPS; do
            [ "$s" = weir ] && [ "$WEIR_STATE" != ok ] && continue
            log "run $run/$RUNS: $s $load (${SECS} s)"
            measure "$s" "$load" "$run" >>"$TMP/results.jsonl"
        done
    done
done

python3 - "$TMP/results.jsonl" "$RATE" "$SECS" "$RUNS" "$WEIR_STATE" "$WEIR_WHY" <<'EOF'
import json, sys, statistics
path, rate, secs, runs, weir_state, weir_why = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def f(v, fmt):
    return "-" if v is None else format(v, fmt)
print(f"\nshaping to {rate} Mbit/s, {secs} s per run, medians of {runs} runs (the machine is shared: noisy)")
print(f"{'setup':<6} {'load':<6} {'achieved Mbit/s':>15} {'/set':>7} {'goodput Mbit/s':>14} "
      f"{'rtt p50 ms':>10} {'rtt p99 ms':>10} {'queue p50 ms':>12} {'queue p99 ms':>12} {'jain':>6} {'min/max':>7}")
for setup in ["htb", "weir"]:
    for load in ["1flow", "8flow"]:
        r = [x for x in rows if x["setup"] == setup and x["load"] == load]
        if not r:
            continue
        m = {k: med([x[k] for x in r]) for k in r[0]}
        print(f"{setup:<6} {load:<6} {f(m['achieved_bps'] and m['achieved_bps'] / 1e6, '15.3f')} "
              f"{f(m['achieved_ratio'], '7.3f')} {f(m['goodput_bps'] and m['goodput_bps'] / 1e6, '14.3f')} "
              f"{f(m['rtt_p50_ms'], '10.1f')} {f(m['rtt_p99_ms'], '10.1f')} {f(m['queue_p50_ms'], '12.1f')} "
              f"{f(m['queue_p99_ms'], '12.1f')} {f(m['jain'] if load == '8flow' else None, '6.3f')} "
              f"{f(m['min_max'], '7.3f')}")
for load in ["1flow", "8flow"]:
    worst = [x.get("queue_worst_p99_ms") for x in rows if x["setup"] == "weir" and x["load"] == load]
    worst = [w for w in worst if w is not None]
    if worst:
        print(f"weir {load}: the worst second's sojourn p99 per run: {', '.join(f'{w:.1f}' for w in worst)} ms")
if weir_state == "absent":
    print(f"weir shaper: not integrated in this build ({weir_why})")
EOF

if [ "${SKIP_CRITERION:-0}" != 1 ]; then
    log "criterion: cargo bench -p weir-shaper"
    cargo bench --locked -q -p weir-shaper --bench shaper -- --noplot 2>&1 |
        grep -E '^(shaper|mark)/|time:|thrpt:' || log "criterion bench failed"
fi
