#!/usr/bin/env bash
# The weir lab: three network namespaces joined by veth pairs, weir (or a kernel bridge) in the middle.
#
#   ns weir-in-NAME             ns weir-br-NAME                 ns weir-out-NAME
#     in0  <------------------>  inside  [weir|br0]  outside  <------------------>  out0
#     198.18.0.1/24 2001:2::1/64                                 198.18.0.2/24 2001:2::2/64
#
# usage:
#   scripts/lab.sh up NAME [--queues N] [--kernel-bridge]
#   scripts/lab.sh down NAME                 # idempotent: no error if absent
#   scripts/lab.sh exec NAME in|br|out CMD...
#
# Only namespaces are created in the root namespace; every interface is created inside one, so
# names never collide and eth0 is never touched. Addresses come from the benchmarking ranges
# (198.18.0.0/15, 2001:2::/48). No default route anywhere. Offloads are off so frames stay
# MTU-sized with valid checksums. IPv6 DAD is off so addresses work at once.
set -euo pipefail

die() { echo "lab.sh: $*" >&2; exit 2; }
usage() { sed -n '9,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1 name=$2
shift 2
[[ $name =~ ^[A-Za-z0-9_-]{1,24}$ ]] || die "NAME must be 1-24 of [A-Za-z0-9_-], got '$name'"
ns_in=weir-in-$name ns_br=weir-br-$name ns_out=weir-out-$name

ns_exists() { [ -e "/run/netns/$1" ]; }

down() {
    local ns
    for ns in "$ns_in" "$ns_br" "$ns_out"; do
        if ns_exists "$ns"; then
            ip netns del "$ns" && echo "deleted netns $ns"
        fi
    done
    return 0
}

offloads_off() { # ns dev
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 ||
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off >/dev/null
}

up() {
    local queues=1 kbridge=0
    while [ $# -gt 0 ]; do
        case $1 in
        --queues) [ $# -ge 2 ] || die "--queues needs N"; queues=$2; shift 2 ;;
        --queues=*) queues=${1#*=}; shift ;;
        --kernel-bridge) kbridge=1; shift ;;
        *) die "unknown option '$1'" ;;
        esac
    done
    [[ $queues =~ ^[1-9][0-9]?$ ]] || die "--queues must be 1..99, got '$queues'"
    for ns in "$ns_in" "$ns_br" "$ns_out"; do
        ns_exists "$ns" && die "netns $ns already exists (run: $0 down $name)"
    done
    # From here on, any failure removes whatever was made.
    trap 'echo "lab.sh: setup failed, cleaning up" >&2; down >/dev/null' ERR

    for ns in "$ns_in" "$ns_br" "$ns_out"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    local q="numtxqueues $queues numrxqueues $queues"
    # shellcheck disable=SC2086
    ip -n "$ns_in" link add in0 $q type veth peer name inside $q netns "$ns_br"
    # shellcheck disable=SC2086
    ip -n "$ns_out" link add out0 $q type veth peer name outside $q netns "$ns_br"

    # No DAD, no autoconf noise; the bridge namespace's ports carry no addresses at all.
    ip netns exec "$ns_in" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.in0.accept_dad=0 net.ipv6.conf.in0.accept_ra=0
    ip netns exec "$ns_out" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
        net.ipv6.conf.out0.accept_dad=0 net.ipv6.conf.out0.accept_ra=0
    ip netns exec "$ns_br" sysctl -qw net.ipv6.conf.inside.disable_ipv6=1 net.ipv6.conf.outside.disable_ipv6=1

    ip -n "$ns_in" addr add 198.18.0.1/24 dev in0
    ip -n "$ns_in" addr add 2001:2::1/64 dev in0 nodad
    ip -n "$ns_out" addr add 198.18.0.2/24 dev out0
    ip -n "$ns_out" addr add 2001:2::2/64 dev out0 nodad

    offloads_off "$ns_in" in0
    offloads_off "$ns_br" inside
    offloads_off "$ns_br" outside
    offloads_off "$ns_out" out0
    # XDP_REDIRECT into a veth (weir's fast path, and its fail-open) needs NAPI on the peer that
    # receives: GRO on the endpoints' ends. (Nothing is merged on the way through the bridge:
    # GRO acts where in0/out0 receive, after weir.)
    ip netns exec "$ns_in" ethtool -K in0 gro on >/dev/null
    ip netns exec "$ns_out" ethtool -K out0 gro on >/dev/null

    if [ $kbridge = 1 ]; then
        ip -n "$ns_br" link add br0 type bridge stp_state 0 forward_delay 0
        ip netns exec "$ns_br" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
        ip -n "$ns_br" link set inside master br0
        ip -n "$ns_br" link set outside master br0
        ip -n "$ns_br" link set br0 up
    fi
    ip -n "$ns_br" link set inside up
    ip -n "$ns_br" link set outside up
    ip -n "$ns_in" link set in0 up
    ip -n "$ns_out" link set out0 up
    trap - ERR

    echo "lab $name up ($queues queue(s) per veth$([ $kbridge = 1 ] && echo ', kernel bridge br0'))"
    echo "  netns $ns_in:  in0 198.18.0.1/24 2001:2::1/64"
    echo "  netns $ns_br:  inside outside$([ $kbridge = 1 ] && echo ' br0(inside,outside)')"
    echo "  netns $ns_out: out0 198.18.0.2/24 2001:2::2/64"
    echo "  veth in0<->inside, outside<->out0; offloads off (GRO on in0/out0 for XDP redirect); no default routes"
}

case $cmd in
up) up "$@" ;;
down) [ $# -eq 0 ] || die "down takes no options"; down ;;
exec)
    [ $# -ge 2 ] || usage
    which=$1; shift
    case $which in
    in) exec ip netns exec "$ns_in" "$@" ;;
    br) exec ip netns exec "$ns_br" "$@" ;;
    out) exec ip netns exec "$ns_out" "$@" ;;
    *) die "exec wants in|br|out, got '$which'" ;;
    esac
    ;;
*) usage ;;
esac
