#!/usr/bin/env bash
# Forwarding speed: weir against the Linux kernel bridge, in the same run, in the veth lab.
#
#   (a) bridge    the kernel bridge (lab --kernel-bridge, bridge-nf-call-iptables=0)
#   (b) bridge+ipt the kernel bridge with 20 iptables string-match DROP rules on FORWARD, bridged
#                 frames sent through iptables (br_netfilter, bridge-nf-call-iptables=1); before
#                 measuring, one frame with a banned string is shown to be dropped
#   (c) weir      `weir run` with the full signature set, default policy (forward everything),
#                 with its XDP fast path (the default): decided flows forwarded in the kernel
#   (d) weiroff   the same with [stats] enabled = false (the cost of the stats thread)
#   (k) nofp      (c) with [fastpath] enabled = false: every frame through user space (what
#                 weir did before the fast path); (c)/(k) is what the fast path gives
# and two reference points that are not weir, to show where the time goes on veth:
#   (e) xdp       a bare XDP program redirecting every frame from inside to outside in the kernel
#                 (configs/bench/xdp-redirect.c, built here with clang): no parsing, no
#                 inspection, no user space: the ceiling of any XDP data path on this lab. Its
#                 NAPI is placed like the bridge's; out0 gets GRO on, since a veth only accepts
#                 redirected frames with NAPI enabled
#   (f) afxdp     weir's AF_XDP rings with no inspection at all (crates/xdp/examples/xdp-fwd):
#                 the ceiling of the AF_XDP copy-mode path weir uses; (c)/(f) is the share of
#                 that ceiling weir keeps while classifying every flow
# and, for flow export (not run by default: SETUPS="expoff expon" LOADS=flows):
#   (g) expoff    weir with UDP flows ending after 1 s idle (flows.udp_idle_s = 1), export off
#   (h) expon     the same with [export] ipfix to 127.0.0.1:4739 in the bridge namespace, where a
#                 raw-table DROP takes the datagrams (the exporter's whole send path runs; no
#                 collector's work is counted). With the `flows` load (configs/trafgen/flows.cfg:
#                 two frames per flow, 100k new flows per second at 200k frames/s) every flow
#                 ends and is exported; (h)/(g) is what export costs in forwarded packets/s
# and, for the shaper (not run by default: SETUPS="weir shape"):
#   (i) shape     (c) with every flow that ends up unlabelled (trafgen's UDP) in a shaping class
#                 at 100 Gbit/s, far above the load: each such frame is held in the UMEM, queued,
#                 and released by the shaper's bucket; (i)/(c) is what shaping costs in packets/s
# and, to compare two builds of weir in the same run (not run by default: BASELINE=/path/to/weir
# SETUPS="weir base"):
#   (j) base      (c) with another weir binary (e.g. a release build of an older commit), same
#                 config, same lab; (c)/(j) is the change's effect on forwarding
#
# trafgen (netsniff-ng) offers UDP frames from in0 towards out0 at full speed, three loads: 64-byte
# frames over 1024 flows, the simple IMIX (7:4:1 of 64/594/1518 bytes), and `flood1`, one flow of
# 64-byte frames (weir's CPU over the window is reported: a decided flow should cost user space
# nothing); configs/trafgen/*.cfg. Runs are
# interleaved a,b,c,a,b,c,...; each measures SECONDS of steady state after a 1 s warm-up.
# Offered = in0 tx_packets, delivered = out0 rx_packets (kernel counters, no XDP at either end).
#
# Cores (2 here): trafgen on core 0 (GEN_CORE). The forwarding work gets core 1 (FWD_CORE):
#   - weir's worker is pinned there by its config; its XDP receive half (veth NAPI: the redirect
#     program and the copy into the UMEM) runs in softirq on core 0 after trafgen's transmit,
#     and its transmit half (copy-mode sendto, the veth hop to out0, out0's receive) on core 1;
#   - the kernel bridge normally runs in softirq on the sending core (core 0, with trafgen). To
#     give it a core of its own like weir's, the bridge's `inside` port gets veth NAPI (GRO on,
#     which does not merge these UDP frames) in threaded mode, and the NAPI thread is pinned to
#     core 1: bridging, netfilter, the veth hop to out0 and out0's receive then run on core 1.
# out0 receives in the same way in every setup: an iptables raw-table DROP for the test frames.
# With weir's XDP fast path (c), decided flows are forwarded by the kernel in inside's NAPI: with
# the default placement that runs on trafgen's core and slows the generator (weir then delivers
# all it is offered, but is offered less); WEIR_NAPI=fwd gives it the bridge's placement, the fair
# one for comparing (c) with (a) and (e).
#
# Usage: scripts/bench-bridge.sh [SECONDS] [RUNS]     (default 10 s, 5 runs per setup and load)
# Environment: GEN_CORE, FWD_CORE, LOADS ("udp64 imix flood1"), SETUPS ("bridge ipt weir weiroff
# xdp afxdp nofp"), KEEP_LOGS=1 keeps the scratch directory; WEIR_NAPI=fwd gives weir's `inside` the
# bridge's placement (threaded NAPI on FWD_CORE, so the receive copy shares weir's core instead
# of trafgen's); WEIR_WORKERS='tx_drain_us = 20' adds lines to weir's [workers]; WEIR=path runs
# that weir binary as (c) instead of this checkout's release build (with BASELINE: two older
# builds against each other).
# Exits non-zero only if setting up fails, never because a goal was missed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-10}
RUNS=${2:-5}
GEN_CORE=${GEN_CORE:-0}
FWD_CORE=${FWD_CORE:-1}
LOADS=${LOADS:-"udp64 imix flood1"}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS] [RUNS]" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS] [RUNS]" >&2; exit 2; }

die() { echo "bench-bridge: setup failed: $*" >&2; exit 2; }
log() { echo "bench-bridge: $*" >&2; }

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, XDP)"
for tool in trafgen iptables ethtool ip python3 taskset; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs the lab tools)"
done
ncpu=$(nproc)
[ "$GEN_CORE" -lt "$ncpu" ] && [ "$FWD_CORE" -lt "$ncpu" ] || die "GEN_CORE/FWD_CORE must be below $ncpu"
[ "$GEN_CORE" != "$FWD_CORE" ] || log "warning: GEN_CORE = FWD_CORE: generator and bridge share a core"

log "building weir (release)"
if [ -n "${WEIR:-}" ]; then
  [ -x "$WEIR" ] || die "WEIR=$WEIR is not an executable weir"
else
  cargo build --release --locked -q || die "cargo build --release failed"
  WEIR=$ROOT/target/release/weir
fi
cargo build --release --locked -q -p weir-xdp --example xdp-fwd || die "cargo build --example xdp-fwd failed"
XDP_FWD=$ROOT/target/release/examples/xdp-fwd

# ---- state and cleanup ---------------------------------------------------------------------
TAG=bb$$
[ ${#TAG} -le 22 ] || TAG=bb${RANDOM}${RANDOM}
LABS=("${TAG}a" "${TAG}b" "${TAG}c" "${TAG}d")
declare -A LAB=([bridge]=${TAG}a [ipt]=${TAG}b [weir]=${TAG}c [weiroff]=${TAG}c [afxdp]=${TAG}c [xdp]=${TAG}d
    [expoff]=${TAG}c [expon]=${TAG}c [shape]=${TAG}c [base]=${TAG}c [nofp]=${TAG}c)
SETUPS=${SETUPS:-"bridge ipt weir weiroff xdp afxdp nofp"}
declare -A LAB_SETUP=([bridge]=bridge [ipt]=ipt [weir]=weir [weiroff]=weir [afxdp]=weir [xdp]=xdp [expoff]=weir
    [expon]=weir [shape]=weir [base]=weir [nofp]=weir) # whose lab a setup uses
for s in $SETUPS; do [ -n "${LAB_SETUP[$s]:-}" ] || die "unknown setup '$s' in SETUPS"; done
if [[ " $SETUPS " == *" base "* ]]; then
    [ -x "${BASELINE:-}" ] || die "SETUPS has base: set BASELINE to the other weir binary"
    log "base: $BASELINE ($("$BASELINE" --version 2>/dev/null || echo "version unknown"))"
fi
TMP=$(mktemp -d /tmp/weir-bench-bridge.XXXXXX)
PIDS=() # every process we started in the background and that may still run

stop_pid() { # pid signal: signal it, wait up to 5 s, then SIGKILL; only our own children.
    # "g:PID" names a process group we made with setsid (trafgen forks a worker per CPU it uses
    # and its parent does not pass signals on): the whole group is signalled.
    local pid=${1#g:} sig=$2 target=$1 _
    [ "${target:0:2}" = g: ] && target=-$pid || target=$pid
    if kill -0 -- "$target" 2>/dev/null; then
        kill "-$sig" -- "$target" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 -- "$target" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 -- "$target" 2>/dev/null; then kill -KILL -- "$target" 2>/dev/null || true; fi
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid lab
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid" TERM; done
    for lab in "${LABS[@]}"; do "$ROOT/scripts/lab.sh" down "$lab" >/dev/null 2>&1 || true; done
    if [ "${KEEP_LOGS:-0}" = 1 ]; then log "scratch kept in $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

forget_pid() { # pid: drop from PIDS once it has been stopped
    local p keep=()
    for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

ns() { echo "weir-$2-${LAB[$1]}"; } # setup in|br|out -> namespace
nsx() { local n; n=$(ns "$1" "$2"); shift 2; ip netns exec "$n" "$@"; }
counter() { nsx "$1" "$2" cat "/sys/class/net/$3/statistics/$4"; } # setup side dev counter
now() { date +%s.%N; }
proc_ticks() { # pid: user+system clock ticks of the whole process (every thread), or -
    awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo -
}
thread_ticks() { # pid comm: user+system clock ticks of that process's thread named comm, or -
    local t
    for t in /proc/"$1"/task/*; do
        if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
            awk '{print $14 + $15}' "$t/stat"
            return
        fi
    done
    echo -
}

# ---- the labs --------------------------------------------------------------------------------
napi_threads() { ps -eo pid=,comm= | awk '$2 ~ /^napi\/inside-/ {print $1}' | sort; }

pin_bridge_napi() { # setup: threaded veth NAPI on `inside`, its thread pinned to FWD_CORE
    local before after new
    nsx "$1" br ethtool -K inside gro on >/dev/null || die "$1: cannot enable GRO (veth NAPI) on inside"
    before=$(napi_threads)
    nsx "$1" br sh -c 'echo 1 > /sys/class/net/inside/threaded' || die "$1: cannot make inside's NAPI threaded"
    for _ in $(seq 20); do
        after=$(napi_threads)
        new=$(comm -13 <(echo "$before") <(echo "$after") | grep . || true)
        [ -n "$new" ] && break
        sleep 0.1
    done
    [ "$(echo "$new" | grep -c .)" = 1 ] ||
        die "$1: expected one new napi/inside-* thread, found '${new//$'\n'/ }' (another lab starting at the same time?)"
    taskset -pc "$FWD_CORE" "$new" >/dev/null || die "$1: cannot pin NAPI thread $new to core $FWD_CORE"
    log "$1: bridge runs in NAPI thread $new ($(ps -o comm= -p "$new")) pinned to core $FWD_CORE"
}

# The classic P2P blocking rules: payload strings of BitTorrent (handshake, tracker, DHT, magnet),
# Direct Connect (NMDC commands), Gnutella, KaZaA/FastTrack, eDonkey/eMule (ed2k links; the
# protocol byte 0xe3/0xc5 at the start of a UDP payload: a bare one-byte match anywhere would drop
# most traffic), Shareaza. Boyer-Moore over the whole packet, as such setups use.
IPT_STRINGS=(
    "BitTorrent protocol" "peer_id=" "info_hash=" ".torrent" "announce"
    "d1:ad2:id20:" "d1:rd2:id20:" "magnet:?xt=urn:btih:"
    '$MyNick' '$Lock ' '$Supports' '$Key '
    "GNUTELLA" "X-Gnutella" "X-Kazaa" "GET /.hash=" "ed2k://" "User-Agent: Shareaza"
)
ipt_rules() { # setup: load the 20 rules; prove they match
    local s n=0
    nsx "$1" br sysctl -qw net.bridge.bridge-nf-call-iptables=1 ||
        die "$1: net.bridge.bridge-nf-call-iptables not settable (kernel without br_netfilter?)"
    for s in "${IPT_STRINGS[@]}"; do
        nsx "$1" br iptables -A FORWARD -m string --algo bm --string "$s" -j DROP ||
            die "$1: iptables string match rule failed (xt_string / nft_compat missing?)"
        n=$((n + 1))
    done
    # Offsets count from the IP header: 20 (IPv4, no options) + 8 (UDP) = the first payload byte.
    nsx "$1" br iptables -A FORWARD -p udp -m string --algo bm --hex-string '|e3|' --from 28 --to 29 -j DROP
    nsx "$1" br iptables -A FORWARD -p udp -m string --algo bm --hex-string '|c5|' --from 28 --to 29 -j DROP
    n=$((n + 2))
    [ "$n" = 20 ] || die "internal: $n rules, want 20"
    log "$1: $(nsx "$1" br iptables -V) with $n string-match DROP rules on FORWARD"
}

ipt_hits() { # setup: packets matched by all FORWARD rules
    nsx "$1" br iptables -L FORWARD -v -x -n | awk 'NR > 2 {s += $1} END {print s + 0}'
}

sink_hits() { # setup: test frames (UDP port 9) that reached out0's stack and its DROP rule
    nsx "$1" out iptables -t raw -L PREROUTING -v -x -n | awk 'NR > 2 {s += $1} END {print s + 0}'
}

one_frame() { # setup payload-expression: send one UDP frame in0 -> out0; echo how many out0 got
    local r0 r1
    r0=$(sink_hits "$1")
    nsx "$1" in trafgen -o in0 -P 1 -Q -C -n 1 \
        "{ eth(da=$(mac "$1" out out0), sa=$(mac "$1" in in0)), ipv4(saddr=198.18.0.1, daddr=198.18.0.2, ttl=64, df), udp(sp=4000, dp=9), $2 }" \
        >/dev/null 2>&1 || die "$1: trafgen could not send one frame"
    sleep 0.5
    r1=$(sink_hits "$1")
    echo $((r1 - r0))
}

prove_ipt() { # setup: a clean frame passes, a banned string and an eDonkey header are dropped
    local h0 h1 got
    h0=$(ipt_hits "$1")
    got=$(one_frame "$1" '0x00, fill(0x41, 30)')
    [ "$got" -ge 1 ] || die "$1: a clean frame did not cross the bridge"
    got=$(one_frame "$1" '"GET /announce?info_hash=x HTTP/1.0", 0x0d, 0x0a')
    [ "$got" = 0 ] || die "$1: a frame with 'announce'/'info_hash=' was not dropped"
    got=$(one_frame "$1" '0x13, "BitTorrent protocol", fill(0x00, 8)')
    [ "$got" = 0 ] || die "$1: a frame with 'BitTorrent protocol' was not dropped"
    got=$(one_frame "$1" '0xe3, 0x96, fill(0x00, 20)')
    [ "$got" = 0 ] || die "$1: a UDP frame starting 0xe3 (eDonkey) was not dropped"
    h1=$(ipt_hits "$1")
    [ $((h1 - h0)) -ge 3 ] || die "$1: the rules counted $((h1 - h0)) matches for 3 banned frames"
    log "$1: proven: clean frame delivered; 3 banned frames (strings, 0xe3 header) dropped by the rules ($((h1 - h0)) hits)"
}

mac() { nsx "$1" "$2" cat "/sys/class/net/$3/address"; }

setup_lab() { # setup
    local s=$1 name=${LAB[$1]} opt=()
    case $s in weir | xdp) ;; *) opt=(--kernel-bridge) ;; esac
    "$ROOT/scripts/lab.sh" up "$name" "${opt[@]}" >"$TMP/lab-$name.log" 2>&1 ||
        { cat "$TMP/lab-$name.log" >&2; die "lab $name did not come up"; }
    # The receiver: out0 drops the test frames (UDP to port 9) at its first netfilter hook, the
    # same cheap way in every setup, so its stack (route lookups, ICMP port-unreachable) does
    # not eat the forwarding core. out0's rx_packets counts them before that.
    nsx "$s" out iptables -t raw -A PREROUTING -p udp --dport 9 -j DROP ||
        die "$s: cannot add the receiver's DROP rule in $(ns "$s" out)"
    case $s in
    bridge)
        nsx "$s" br sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
            net.bridge.bridge-nf-call-arptables=0 || die "$s: cannot turn br_netfilter off"
        pin_bridge_napi "$s"
        ;;
    ipt)
        nsx "$s" br sysctl -qw net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0 || true
        pin_bridge_napi "$s"
        ipt_rules "$s"
        ;;
    xdp)
        pin_bridge_napi "$s"
        nsx "$s" out ethtool -K out0 gro on >/dev/null || die "$s: cannot enable GRO (veth NAPI) on out0"
        local idx
        idx=$(nsx "$s" br cat /sys/class/net/outside/ifindex)
        clang -O2 -target bpf -I"/usr/include/$(uname -m)-linux-gnu" -DOUT_IFINDEX="$idx" \
            -c "$ROOT/configs/bench/xdp-redirect.c" -o "$TMP/xdp-redirect.o" ||
            die "$s: clang could not build configs/bench/xdp-redirect.c (scripts/setup.sh installs clang)"
        nsx "$s" br ip link set dev inside xdpdrv obj "$TMP/xdp-redirect.o" sec xdp ||
            die "$s: cannot attach the XDP redirect program to inside"
        log "$s: bare XDP redirect inside -> outside (native), out0 with NAPI (GRO on)"
        ;;
    weir)
        # WEIR_NAPI=fwd: the bridges' placement, inside's NAPI (where weir's XDP program runs
        # and copies each frame into the UMEM) on the forwarding core instead of trafgen's.
        if [ "${WEIR_NAPI:-softirq}" = fwd ]; then pin_bridge_napi "$s"; fi
        cat >"$TMP/weir.toml" <<EOF
# bench-bridge: weir between the lab's NICs, full signature set, default policy (forward all).
[interfaces]
inside = "inside"
outside = "outside"
[workers]
cores = [$FWD_CORE]
stats_core = $GEN_CORE
${WEIR_WORKERS:-}
EOF
        nsx "$s" br "$WEIR" check-config "$TMP/weir.toml" >/dev/null || die "weir check-config failed"
        { cat "$TMP/weir.toml"; printf '[stats]\nenabled = false\n'; } >"$TMP/weiroff.toml"
        { cat "$TMP/weir.toml"; printf '[fastpath]\nenabled = false\n'; } >"$TMP/nofp.toml"
        nsx "$s" br "$WEIR" check-config "$TMP/nofp.toml" >/dev/null || die "weir check-config (nofp) failed"
        cp "$TMP/weir.toml" "$TMP/base.toml"
        { cat "$TMP/weir.toml"; printf '[flows]\nudp_idle_s = 1\n'; } >"$TMP/expoff.toml"
        { cat "$TMP/expoff.toml"; printf '[export]\nipfix = ["127.0.0.1:4739"]\n'; } >"$TMP/expon.toml"
        # Each config is checked only where its setup runs (WEIR may be an older build without
        # [export] or classes).
        if [[ " $SETUPS " == *" expon "* ]]; then
            nsx "$s" br "$WEIR" check-config "$TMP/expon.toml" >/dev/null || die "weir check-config (export) failed"
        fi
        { cat "$TMP/weir.toml"; printf '[policy.classes.all]\nrate = "100 Gbit/s"\n[[policy.rule]]\nprotocol = "unknown"\nclass = "all"\n'; } >"$TMP/shape.toml"
        if [[ " $SETUPS " == *" shape "* ]]; then
            nsx "$s" br "$WEIR" check-config "$TMP/shape.toml" >/dev/null || die "weir check-config (shape) failed"
        fi
        # The collector's socket: a raw-table DROP on lo, so the datagrams cost their whole way
        # out and nothing after.
        nsx "$s" br ip link set lo up
        nsx "$s" br iptables -t raw -A PREROUTING -i lo -p udp --dport 4739 -j DROP ||
            die "$s: cannot add the collector's DROP rule"
        ;;
    esac
    local load
    for load in $LOADS; do
        [ -f "$ROOT/configs/trafgen/$load.cfg" ] || die "no configs/trafgen/$load.cfg"
        sed -e "s/@SRC_MAC@/$(mac "$s" in in0)/g; s/@DST_MAC@/$(mac "$s" out out0)/g" \
            "$ROOT/configs/trafgen/$load.cfg" >"$TMP/$s-$load.cfg"
    done
    # The kernel bridges learn out0's MAC from its first frame; check that a frame gets through.
    if [ "$s" = bridge ] || [ "$s" = xdp ]; then
        [ "$(one_frame "$s" 'fill(0x00, 18)')" -ge 1 ] || die "$s: a frame did not cross"
    fi
}

# ---- one measurement -------------------------------------------------------------------------
start_weir() { # setup run-id -> sets WEIR_PID; waits until the sockets are bound
    local s=$1 id=$2 i bin=$WEIR
    [ "$s" = base ] && bin=$BASELINE
    ip netns exec "$(ns "$s" br)" "$bin" run --config "$TMP/$s.toml" --summary-json "$TMP/$id.json" \
        2>"$TMP/$id.weir.log" &
    WEIR_PID=$!
    PIDS+=("$WEIR_PID")
    for i in $(seq 100); do
        # "bound in": what builds before the service logs said when ready (for BASELINE).
        grep -qsE 'event=ready|bound in' "$TMP/$id.weir.log" && return 0
        kill -0 "$WEIR_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/$id.weir.log" >&2
    die "weir run did not bind its sockets"
}

start_afxdp() { # setup run-id -> sets WEIR_PID (the forwarder's); waits until it forwards
    local s=$1 id=$2 i
    ip netns exec "$(ns "$s" br)" taskset -c "$FWD_CORE" "$XDP_FWD" inside outside >"$TMP/$id.fwd.log" 2>&1 &
    WEIR_PID=$!
    PIDS+=("$WEIR_PID")
    for i in $(seq 100); do
        grep -qs '^forwarding' "$TMP/$id.fwd.log" && return 0
        kill -0 "$WEIR_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$TMP/$id.fwd.log" >&2
    die "xdp-fwd did not start"
}

stop_weir() { # run-id
    stop_pid "$WEIR_PID" TERM
    forget_pid "$WEIR_PID"
    [ -s "$TMP/$1.json" ] || { cat "$TMP/$1.weir.log" >&2; die "weir run wrote no summary"; }
}

measure() { # setup load run -> appends a result line to $TMP/results
    local s=$1 load=$2 run=$3 id="$1-$2-$3" gen t0 t1 o0 o1 d0 d1 O0 O1 D0 D1 sec
    case $s in weir | weiroff | expoff | expon | shape | base | nofp) start_weir "$s" "$id" ;; afxdp) start_afxdp "$s" "$id" ;; esac
    O0=$(counter "$s" in in0 tx_packets)
    D0=$(counter "$s" out out0 rx_packets)
    # -S 64KiB: trafgen's default 0.5 MiB TX ring outgrows the socket's send buffer when the
    # consumer runs on another core (trafgen cannot raise wmem in a namespace), and trafgen dies
    # on the first EAGAIN. setsid: its own process group, so stopping it reaches its worker.
    setsid ip netns exec "$(ns "$s" in)" taskset -c "$GEN_CORE" \
        trafgen -o in0 -i "$TMP/${LAB_SETUP[$s]}-$load.cfg" -P 1 -Q -C -E 1 -S 64KiB >"$TMP/$id.trafgen.log" 2>&1 &
    gen=$!
    PIDS+=("g:$gen")
    sleep 1
    kill -0 "$gen" 2>/dev/null || { cat "$TMP/$id.trafgen.log" >&2; die "trafgen exited during warm-up"; }
    [ "$(ps -o pgid= -p "$gen" | tr -d ' ')" = "$gen" ] || die "trafgen did not get its own process group"
    local x0=- x1=- w0=- w1=-
    if [ "$s" = expon ] || [ "$s" = expoff ]; then x0=$(thread_ticks "$WEIR_PID" weir-ipfix); w0=$(thread_ticks "$WEIR_PID" weir-q0); fi
    local p0=- p1=-
    case $s in weir | nofp) p0=$(proc_ticks "$WEIR_PID") ;; esac
    t0=$(now); o0=$(counter "$s" in in0 tx_packets); d0=$(counter "$s" out out0 rx_packets)
    sleep "$SECS"
    t1=$(now); o1=$(counter "$s" in in0 tx_packets); d1=$(counter "$s" out out0 rx_packets)
    if [ "$s" = expon ] || [ "$s" = expoff ]; then x1=$(thread_ticks "$WEIR_PID" weir-ipfix); w1=$(thread_ticks "$WEIR_PID" weir-q0); fi
    case $s in weir | nofp) p1=$(proc_ticks "$WEIR_PID") ;; esac
    local xcpu=- wcpu=- pcpu=-
    [ "$p0" != - ] && [ "$p1" != - ] && pcpu=$((p1 - p0))
    [ "$x0" != - ] && [ "$x1" != - ] && xcpu=$((x1 - x0))
    [ "$w0" != - ] && [ "$w1" != - ] && wcpu=$((w1 - w0))
    if ! kill -0 "$gen" 2>/dev/null; then
        cat "$TMP/$id.trafgen.log" >&2
        die "trafgen stopped before the end of the run"
    fi
    stop_pid "g:$gen" INT
    forget_pid "g:$gen"
    sleep 0.3 # let the last frames drain before the totals
    O1=$(counter "$s" in in0 tx_packets)
    D1=$(counter "$s" out out0 rx_packets)
    local wrx=- wfwd=- wtx=- wdrop=- wflows=- wexp=-
    if [ "$s" = afxdp ]; then
        stop_pid "$WEIR_PID" TERM
        forget_pid "$WEIR_PID"
    fi
    if [ "$s" = base ]; then stop_weir "$id"; fi # its summary may differ: only the NIC counters count
    if [ "$s" = weir ] || [ "$s" = weiroff ] || [ "$s" = expoff ] || [ "$s" = expon ] || [ "$s" = shape ] || [ "$s" = nofp ]; then
        stop_weir "$id"
        # The summary's ipfix figures: data records the exporter sent (with export on).
        read -r wrx wfwd wtx wdrop wflows wexp < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1])); i = j["interfaces"]["inside"]
x = j.get("ipfix")
print(i["received"], i["forwarded"], i["lost_tx_full"], i["dropped_policy"] + i["dropped_malformed"], j["flows"],
      sum(c["records"] for c in x["collectors"]) if x else "-")' "$TMP/$id.json")
    fi
    sec=$(python3 -c "print($t1 - $t0)")
    # offered_pps delivered_pps, then totals over the whole run (warm-up and drain included)
    # for weir's loss: offered, delivered, weir received/forwarded/lost-tx-full/dropped.
    echo "$s $load $run $(python3 -c "print(round(($o1-$o0)/$sec), round(($d1-$d0)/$sec))") \
$((O1 - O0)) $((D1 - D0)) $wrx $wfwd $wtx $wdrop $wflows $wexp $xcpu $wcpu $pcpu" >>"$TMP/results"
    tail -n 1 "$TMP/results" | awk '{printf "  %-6s %-5s run %-2s offered %9d pps  delivered %9d pps\n", $1, $2, $3, $4, $5}' >&2
}

# ---- main ------------------------------------------------------------------------------------
log "labs ${LABS[*]}: trafgen on core $GEN_CORE, forwarding on core $FWD_CORE; $RUNS x $SECS s per setup and load"
for s in bridge ipt weir xdp; do
    # (a)-(c) always: the ratios are against (a) and (b), and (d) and (f) use (c)'s lab.
    if [ "$s" = xdp ] && [[ " $SETUPS " != *" xdp "* ]]; then continue; fi
    setup_lab "$s"
done
prove_ipt ipt
: >"$TMP/results"
for load in $LOADS; do
    log "load $load"
    for run in $(seq 1 "$RUNS"); do
        for s in $SETUPS; do measure "$s" "$load" "$run"; done
    done
done

python3 - "$TMP/results" "$SECS" "$RUNS" "$GEN_CORE" "$FWD_CORE" <<'EOF'
import statistics, sys
path, secs, runs, gen, fwd = sys.argv[1:]
rows = [l.split() for l in open(path) if l.strip()]
names = {"bridge": "(a) kernel bridge", "ipt": "(b) bridge + 20 iptables strings", "weir": "(c) weir",
         "weiroff": "(d) weir, stats off", "xdp": "(e) bare XDP redirect (ceiling)",
         "afxdp": "(f) bare AF_XDP forward (ceiling)", "expoff": "(g) weir, 1 s UDP idle, export off",
         "expon": "(h) weir, 1 s UDP idle, IPFIX on", "shape": "(i) weir, flows in a 100G shaping class",
         "base": "(j) weir, BASELINE build", "nofp": "(k) weir without its fast path"}
loads = list(dict.fromkeys(r[1] for r in rows))
med = {}
print()
print(f"delivered packets/s at out0 (in0 -> out0), {runs} runs x {secs} s, interleaved a,b,c; "
      f"trafgen on core {gen}, forwarding on core {fwd}")
for load in loads:
    print()
    print(f"load {load}")
    print(f"  {'setup':34} {'runs (delivered pps)':>44}  {'median':>9} {'offered':>9} {'loss':>6}")
    for s in ("bridge", "ipt", "weir", "weiroff", "xdp", "afxdp", "expoff", "expon", "shape", "base", "nofp"):
        rs = [r for r in rows if r[0] == s and r[1] == load]
        if not rs:
            continue
        d = [int(r[4]) for r in rs]
        o = [int(r[3]) for r in rs]
        md, mo = statistics.median(d), statistics.median(o)
        med[(s, load)] = md
        loss = 100.0 * (1 - sum(d) / sum(o)) if sum(o) else 0.0
        runs_txt = " ".join(f"{x:>8d}" for x in d)
        print(f"  {names[s]:34} {runs_txt:>44}  {md:>9.0f} {mo:>9.0f} {loss:>5.1f}%")
    a, b, c = (med.get((s, load)) for s in ("bridge", "ipt", "weir"))
    if a and b and c:
        print(f"  ratio c/a = {c / a:.2f} (goal >= 1.00: {'met' if c >= a else 'MISSED'})   "
              f"c/b = {c / b:.2f} (goal >= 1.50: {'met' if c >= 1.5 * b else 'MISSED'})")
    e, f = med.get(("xdp", load)), med.get(("afxdp", load))
    k = med.get(("nofp", load))
    if c and e:
        print(f"  c/e = {c / e:.2f}: weir (fast path) against the bare XDP redirect (goal >= 0.95: "
              f"{'met' if c >= 0.95 * e else 'MISSED'})")
    if c and k:
        print(f"  c/k = {c / k:.2f}: weir with its fast path against weir without it")
    import os
    tick = os.sysconf("SC_CLK_TCK")
    for s_ in ("weir", "nofp"):
        cpu = [100 * int(r[15]) / tick / float(secs) for r in rows if r[0] == s_ and r[1] == load and len(r) > 15 and r[15] != "-"]
        if cpu:
            print(f"  {names[s_]}: the weir process used {statistics.median(cpu):.1f}% of a core (median over the measured windows)")
    if a and e:
        print(f"  e/a = {e / a:.2f}: bare XDP redirect against the kernel bridge, the most any XDP data path gets here")
    if c and f:
        print(f"  c/f = {c / f:.2f}: the share of the bare AF_XDP path that weir keeps while classifying")
    d = med.get(("weiroff", load))
    if c and d:
        cost = 100 * (d - c) / d
        print(f"  stats on/off = {c / d:.3f}: the stats cost {max(cost, 0.0):.1f}% of packets/s"
              f"{' (on was faster: within noise)' if cost < 0 else ''} (goal: under 2%)")
    j = med.get(("base", load))
    if c and j:
        print(f"  this build / BASELINE = {c / j:.3f} (c/j: the change's effect on forwarding; a/j = {a / j:.2f} "
              f"against c/a = {c / a:.2f})" if a else f"  this build / BASELINE = {c / j:.3f}")
    i = med.get(("shape", load))
    if c and i:
        print(f"  shaping/plain = {i / c:.3f}: forwarding with every flow in a shaping class (goal: at least 0.90)")
    g, h = med.get(("expoff", load)), med.get(("expon", load))
    if g and h:
        cost = 100 * (g - h) / g
        per_s = lambda s, i: statistics.median(int(r[i]) / (float(secs) + 1.3) for r in rows if r[0] == s and r[1] == load and r[i] != "-")
        flows = per_s("expon", 11)
        exported = per_s("expon", 12) if any(r[12] != "-" for r in rows if r[0] == "expon") else 0
        print(f"  export on/off = {h / g:.3f}: IPFIX export costs {max(cost, 0.0):.1f}% of packets/s"
              f"{' (on was faster: within noise)' if cost < 0 else ''} (goal: under 2%) at about {flows:,.0f} new flows/s "
              f"and {exported:,.0f} data records/s exported (whole runs, warm-up and drain included)")
        import os
        tick = os.sysconf("SC_CLK_TCK")
        share = lambda s, i: statistics.median(100 * int(r[i]) / tick / float(secs) for r in rows if r[0] == s and r[1] == load and r[i] != "-")
        if any(r[13] != "-" for r in rows if r[0] == "expon"):
            print(f"  CPU in the measured window: the exporter thread {share('expon', 13):.1f}% of a core; the worker "
                  f"{share('expon', 14):.0f}% with export, {share('expoff', 14):.0f}% without")
    ws = [r for r in rows if r[0] == "weir" and r[1] == load]
    if ws:
        tot = lambda i: sum(int(r[i]) for r in ws)
        off, dlv, rx, fwd_, txf, drp = tot(5), tot(6), tot(7), tot(8), tot(9), tot(10)
        print(f"  weir, all runs (warm-up and drain included): offered {off}, delivered {dlv} "
              f"(loss {off - dlv}, {100.0 * (off - dlv) / off if off else 0:.1f}%)")
        print(f"    never reached weir (veth ring / XSK RX ring full): {off - rx}; weir received {rx}, "
              f"forwarded {fwd_}, lost to a full TX ring {txf}, dropped by policy/malformed {drp}")
print()
print("offered = in0 tx_packets, delivered = out0 rx_packets (per-second over the measured window);")
print("loss = 1 - delivered/offered over the measured windows. Ratios use the medians.")
EOF
