#!/usr/bin/env bash
# Stats endpoint latency while idle connections are held open: weir runs in a lab, and from its
# namespace a client times GET /metrics and GET /stats.json (a new connection each, as
# Prometheus and weir top make) with 0, then IDLE connections open that send nothing (a fifth
# of them half a request head). Prints p50/p99/max per case; the ratio to the 0-idle case is
# the figure (the machine is shared: absolute times move with its load).
#
# usage: scripts/bench-endpoint.sh [IDLE] [REQUESTS]    (default 1000 and 200; root; WEIR=path)
set -euo pipefail
idle=${1:-1000}
reqs=${2:-200}
here=$(cd "$(dirname "$0")/.." && pwd)
weir=${WEIR:-}
for c in "$here/target/release/weir" "$here/target/ci/weir"; do
    [ -z "$weir" ] && [ -x "$c" ] && weir=$c
done
[ -n "$weir" ] || { echo "bench-endpoint.sh: no weir binary (set WEIR)" >&2; exit 2; }
name=be$$
tmp=$(mktemp -d /tmp/weir-bench-endpoint.XXXXXX)
weir_pid=
cleanup() {
    [ -n "$weir_pid" ] && kill -TERM "$weir_pid" 2>/dev/null && wait "$weir_pid" 2>/dev/null || true
    "$here/scripts/lab.sh" down "$name" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$here/scripts/lab.sh" up "$name" >/dev/null
printf '[interfaces]\ninside = "inside"\noutside = "outside"\n[rings]\nframes = 12288\nrx = 512\ntx = 512\nfill = 1024\ncompletion = 1024\n' >"$tmp/w.toml"
ip netns exec "weir-br-$name" "$weir" run --config "$tmp/w.toml" >"$tmp/weir.log" 2>&1 &
weir_pid=$!
for _ in $(seq 100); do grep -q ' rx ' "$tmp/weir.log" 2>/dev/null && break; sleep 0.2; done
echo "bench-endpoint: $(uptime)"
ip netns exec "weir-br-$name" python3 - "$idle" "$reqs" <<'PY'
import socket, sys, time, resource
idle_n, reqs = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def get(path):
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", 9754), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
    return (time.perf_counter() - t) * 1e3
def case(n):
    held = []
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", 9754))
        if i % 5 == 0:
            c.sendall(b"GET /metrics HTTP/1.1\r\nHo")
        held.append(c)
    ms = sorted(get("/metrics" if i % 2 == 0 else "/stats.json") for i in range(reqs))
    for c in held:
        c.close()
    q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
    return q(0.5), q(0.99), ms[-1]
base = case(0)
held = case(idle_n)
print(f"{'idle connections':>18} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
for n, (p50, p99, mx) in ((0, base), (idle_n, held)):
    print(f"{n:>18} {p50:>8.2f} {p99:>8.2f} {mx:>8.2f}")
print(f"with {idle_n} idle / without: p50 {held[0] / base[0]:.2f}x, p99 {held[1] / base[1]:.2f}x; "
      f"goal: every answer within 100 ms: {'met' if held[2] < 100 else 'NOT met'} (max {held[2]:.1f} ms)")
PY
