#!/usr/bin/env bash
# Fuzzing with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1: no nightly to fetch).
# Usage: scripts/fuzz.sh smoke              # every target for a short while (part of the tests)
#        scripts/fuzz.sh run TARGET SECS    # one long run (seeded first)
#        scripts/fuzz.sh run-all SECS       # every target in turn, SECS each, at nice 19; prints
#                                           # executions and coverage per target at the end
#                                           # JOBS=N runs N targets at once (JOBS=7: all of them,
#                                           # SECS of wall time each, sharing the idle cores; run
#                                           # it under `chrt -i 0` to take only idle CPU)
#        scripts/fuzz.sh seed               # (re)build the seed corpora only
#        scripts/fuzz.sh list               # the targets
# Seeds: frames and captures from ../shared/pcaps and ../shared/ndpi-corpus (WEIR_PCAPS to point
# elsewhere), the shipped config, signature file and profiles, and stats-endpoint responses.
# Corpora live in fuzz/corpus/TARGET, crashes in fuzz/artifacts/TARGET; turn each crash into a
# regression test beside the code it found the bug in.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/fuzz"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
TARGETS=(parse_classify tunnels capture_reader config_loader signature_file gen_profile http_response)
pcap_dirs=()
for d in ${WEIR_PCAPS:-"$here/../shared/pcaps" /work/shared/pcaps "$here/../shared/ndpi-corpus" /work/shared/ndpi-corpus "$here/tests/pcaps"}; do
    [ -d "$d" ] && pcap_dirs+=("$d")
done

# Seed corpora (idempotent; existing inputs are kept, so long runs build on each other).
seed() {
    mkdir -p corpus
    python3 - "$here" "${pcap_dirs[@]}" <<'PY'
import glob, hashlib, json, os, struct, sys
here, dirs = sys.argv[1], sys.argv[2:]
corpus = os.path.join(here, "fuzz", "corpus")
def put(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16])
    if not os.path.exists(p):
        open(p, "wb").write(data)
# libpcap link types -> the parse_classify target's selector (0 Ethernet, 1 SLL, 2 SLL2, 3 raw IP)
LINK = {1: 0, 113: 1, 276: 2, 101: 3, 12: 3, 228: 3, 229: 3}
def frames(blob):
    """(link, frame) of a classic pcap or a pcapng, as far as it parses."""
    out = []
    if len(blob) < 24:
        return out
    magic = blob[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        link = struct.unpack(e + "I", blob[20:24])[0] & 0xFFFF
        off = 24
        while off + 16 <= len(blob):
            incl = struct.unpack(e + "I", blob[off + 8:off + 12])[0]
            data = blob[off + 16:off + 16 + incl]
            if len(data) < incl:
                break
            out.append((link, data))
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if blob[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        links, off = [], 0
        while off + 12 <= len(blob):
            btype, blen = struct.unpack(e + "II", blob[off:off + 8])
            if blen < 12 or off + blen > len(blob):
                break
            body = blob[off + 8:off + blen - 4]
            if btype == 1 and len(body) >= 2:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, cap = struct.unpack(e + "IIII", body[:16])
                if iface < len(links):
                    out.append((links[iface], body[20:20 + cap]))
            off += blen
    return out
n_files = 0
for d in dirs:
    for path in sorted(glob.glob(os.path.join(d, "**", "*.pcap*"), recursive=True)):
        blob = open(path, "rb").read()
        n_files += 1
        # capture_reader: the file's start (whole headers, a few records; libFuzzer mutates from there).
        put("capture_reader", blob[:16384])
        # parse_classify: the first 48 frames as [link selector][len hi][len lo][frame].
        seed = bytearray()
        for link, f in frames(blob)[:48]:
            if link in LINK:
                f = f[:1600]
                seed += bytes([LINK[link]]) + struct.pack(">H", len(f)) + f
        if seed:
            put("parse_classify", bytes(seed))
for p in [os.path.join(here, "configs", "weir.toml")]:
    text = open(p, "rb").read()
    put("config_loader", text)
    put("config_loader", b"[interfaces]\ninside = \"eth1\"\noutside = \"eth2\"\n[service]\nuser = \"weir\"\n"
        b"[[policy.rule]]\ncategory = \"p2p\"\ndirection = \"outbound\"\naction = \"drop\"\n")
sig = open(os.path.join(here, "configs", "signatures.toml"), "rb").read()
put("signature_file", sig)
# Also each [[signature]] block alone after the header, so mutations stay near one signature.
head, *blocks = sig.split(b"\n[[")
for b in blocks[:64]:
    put("signature_file", head + b"\n[[" + b)
for p in sorted(glob.glob(os.path.join(here, "configs", "profiles", "*.toml"))):
    put("gen_profile", open(p, "rb").read())
record = json.dumps({"type": "interval", "time_unix_s": 1, "uptime_s": 1.0, "interval_s": 1.0, "protocols": {}}).encode()
put("http_response", b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(record) + record)
put("http_response", b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n" % len(record) + record + b"\r\n0\r\n\r\n")
put("http_response", b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot found")
print(f"fuzz: seeds from {n_files} captures in {', '.join(dirs) or 'no capture directory'}")
for t in sorted(os.listdir(corpus)):
    print(f"  corpus/{t}: {len(os.listdir(os.path.join(corpus, t)))} inputs")
PY
}

# One run; prints libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...").
run() { # target secs [nice]
    local t=$1 secs=$2 log
    mkdir -p corpus/"$t" artifacts/"$t" logs
    log=logs/$t.log
    ${3:+nice -n "$3"} cargo fuzz run "$t" corpus/"$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || {
        echo "fuzz: $t FAILED (a crash or an error): see fuzz/$log and fuzz/artifacts/$t" >&2
        # the cause (a build error, a panic, libFuzzer's finding), not only the end of a backtrace
        grep -E -m 20 -A 12 '^error|panicked|ERROR: libFuzzer|SUMMARY' "$log" >&2 || tail -n 60 "$log" >&2
        return 1
    }
    local last execs cov
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(echo "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
    echo "fuzz: $t ${secs}s: ${execs:-?} executions, $cov"
}

mode=${1:-smoke}
case "$mode" in
  list) printf '%s\n' "${TARGETS[@]}" ;;
  seed) seed ;;
  smoke)
    secs=${FUZZ_SMOKE_SECS:-15}
    seed >/dev/null
    for t in "${TARGETS[@]}"; do
      run "$t" "$secs"
    done
    ;;
  run)
    t=${2:?target}; secs=${3:-600}
    seed >/dev/null
    run "$t" "$secs" "${NICE:-}"
    ;;
  run-all)
    secs=${2:?seconds per target}
    jobs=${JOBS:-1}
    seed
    cargo fuzz build >/dev/null 2>&1 || cargo fuzz build
    failed=0
    if [ "$jobs" -le 1 ]; then
      for t in "${TARGETS[@]}"; do
        run "$t" "$secs" 19 || failed=1
      done
    else
      # N at once; each target's summary line is printed as it finishes (SECS is wall time for
      # all of them: the CPU each gets depends on N and on the machine's load).
      rcdir=$(mktemp -d)
      for t in "${TARGETS[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        ( rc=0; run "$t" "$secs" 19 || rc=1; echo "$rc" >"$rcdir/$t" ) &
      done
      wait
      for t in "${TARGETS[@]}"; do [ "$(cat "$rcdir/$t" 2>/dev/null)" = 0 ] || failed=1; done
      rm -rf "$rcdir"
    fi
    exit $failed
    ;;
  *) echo "usage: $0 smoke | run TARGET SECS | run-all SECS | seed | list" >&2; exit 2 ;;
esac
