#!/usr/bin/env bash
# Classification speed: weir classify vs ndpiReader (Debian's libndpi-bin, nDPI 4.2) over the same
# real captures, in the same run, pinned to the same core. Prints packets/s of both per run, and
# the medians and their ratio. Goal: weir >= 4x ndpiReader.
# Usage: scripts/bench-classify.sh [RUNS] [LOOPS]
#   BASELINE=path/to/other/weir  also measures that build in the same runs (before/after a change,
#                                e.g. a release build of main), and prints its ratio beside this one's.
#   WEIR=path/to/weir            measures that binary as "this build" instead of building this
#                                checkout (with BASELINE: two older commits against each other).
#   INSTRUCTIONS=1               also counts the instructions per packet of weir (and BASELINE)
#                                with valgrind's cachegrind: runs of 12 and 2 loops, the difference
#                                divided by the packets of 10 loops, so start-up (the signature
#                                compile) cancels out. Deterministic, unlike the timings: the way to
#                                compare two builds on a loaded machine.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
LOOPS=${2:-20}
CORE=${CORE:-1}
command -v ndpiReader >/dev/null || bash scripts/setup.sh
if [ -n "${WEIR:-}" ]; then
  [ -x "$WEIR" ] || { echo "WEIR=$WEIR is not an executable weir" >&2; exit 2; }
else
  cargo build --release --locked -q
  WEIR=./target/release/weir
fi

# Every bundled capture except the deliberately corrupt one (it ends in a truncated record).
mapfile -t FILES < <(ls tests/pcaps/*.pcap | grep -v fuzz-2006)
playlist=$(mktemp)
trap 'rm -f "$playlist"' EXIT
printf '%s\n' "${FILES[@]}" > "$playlist"

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

ndpi_pps() {
  # ndpiReader prints one "nDPI throughput: N K pps" per loop; take the median loop.
  taskset -c "$CORE" ndpiReader -i "$playlist" -l "$LOOPS" -n 1 2>/dev/null |
    awk '/nDPI throughput:/ { v=$3; u=$4; m=(u=="M")?1e6:(u=="K")?1e3:1; print v*m }' | median
}

weir_pps() { # [binary]
  taskset -c "$CORE" "${1:-$WEIR}" classify "${FILES[@]}" --loops "$LOOPS" --json --no-progress |
    tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets_per_s"])'
}

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "BASELINE=$BASELINE is not an executable weir" >&2; exit 2; }
  printf '%-5s %15s %15s %8s %15s %8s\n' run ndpiReader_pps weir_pps ratio baseline_pps ratio
else
  printf '%-5s %15s %15s %8s\n' run ndpiReader_pps weir_pps ratio
fi
ndpi_all=(); weir_all=(); ratios=(); base_all=(); base_ratios=()
for run in $(seq 1 "$RUNS"); do
  n=$(ndpi_pps); w=$(weir_pps)
  r=$(ratio "$w" "$n")
  ndpi_all+=("$n"); weir_all+=("$w"); ratios+=("$r")
  if [ -n "${BASELINE:-}" ]; then
    b=$(weir_pps "$BASELINE"); br=$(ratio "$b" "$n")
    base_all+=("$b"); base_ratios+=("$br")
    printf '%-5s %15.0f %15.0f %8s %15.0f %8s\n' "$run" "$n" "$w" "$r" "$b" "$br"
  else
    printf '%-5s %15.0f %15.0f %8s\n' "$run" "$n" "$w" "$r"
  fi
done
nm=$(printf '%s\n' "${ndpi_all[@]}" | median)
wm=$(printf '%s\n' "${weir_all[@]}" | median)
rm_=$(printf '%s\n' "${ratios[@]}" | median)
if [ -n "${BASELINE:-}" ]; then
  bm=$(printf '%s\n' "${base_all[@]}" | median)
  brm=$(printf '%s\n' "${base_ratios[@]}" | median)
  printf '%-5s %15.0f %15.0f %8s %15.0f %8s\n' median "$nm" "$wm" "$rm_" "$bm" "$brm"
  echo "this build: $WEIR; baseline: $BASELINE"
else
  printf '%-5s %15.0f %15.0f %8s\n' median "$nm" "$wm" "$rm_"
fi
echo "captures: ${#FILES[@]} files, $LOOPS loops per run, core $CORE; ratio = weir / ndpiReader packets per second"

# Whole process: wall time of each command from start to exit (reading, classification,
# output, start-up and teardown), alternating, on the same core. This is what a user waits for;
# ndpiReader's own "nDPI throughput" above leaves out part of its work.
echo
if [ -n "${BASELINE:-}" ]; then
  printf '%-5s %15s %15s %8s %15s %8s\n' run ndpiReader_s weir_s ratio baseline_s ratio
else
  printf '%-5s %15s %15s %8s\n' run ndpiReader_s weir_s ratio
fi
whole=(); base_whole=()
wall() { # command...: seconds from start to exit
  local t0 t1
  t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
  python3 -c "print(($t1-$t0)/1e9)"
}
for run in $(seq 1 "$RUNS"); do
  n=$(wall taskset -c "$CORE" ndpiReader -i "$playlist" -l "$LOOPS" -n 1)
  w=$(wall taskset -c "$CORE" "$WEIR" classify "${FILES[@]}" --loops "$LOOPS" --json --no-progress)
  r=$(ratio "$n" "$w")
  whole+=("$r")
  if [ -n "${BASELINE:-}" ]; then
    b=$(wall taskset -c "$CORE" "$BASELINE" classify "${FILES[@]}" --loops "$LOOPS" --json --no-progress)
    br=$(ratio "$n" "$b")
    base_whole+=("$br")
    printf '%-5s %15.2f %15.2f %8s %15.2f %8s\n' "$run" "$n" "$w" "$r" "$b" "$br"
  else
    printf '%-5s %15.2f %15.2f %8s\n' "$run" "$n" "$w" "$r"
  fi
done
if [ -n "${BASELINE:-}" ]; then
  printf '%-5s %15s %15s %8s %15s %8s\n' median - - "$(printf '%s\n' "${whole[@]}" | median)" - \
    "$(printf '%s\n' "${base_whole[@]}" | median)"
else
  printf '%-5s %15s %15s %8s\n' median - - "$(printf '%s\n' "${whole[@]}" | median)"
fi
echo "whole process: ratio = ndpiReader's wall time / weir's (goal: at least 4x)"

if [ "${INSTRUCTIONS:-0}" = 1 ]; then
  command -v valgrind >/dev/null || { echo "INSTRUCTIONS=1 needs valgrind (apt-get install valgrind)" >&2; exit 2; }
  irefs() { # binary loops: instructions executed (cachegrind's I refs)
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      "$1" classify "${FILES[@]}" --loops "$2" --json --no-progress 2>&1 >/dev/null |
      awk '/I[[:space:]]+refs:/ { gsub(",", "", $NF); print $NF }'
  }
  per_packet() { # binary: instructions per packet, start-up excluded
    local packets lo hi
    packets=$("$1" classify "${FILES[@]}" --loops 1 --json --no-progress | tail -n 1 |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
    lo=$(irefs "$1" 2); hi=$(irefs "$1" 12)
    python3 -c "print(f'{($hi - $lo) / (10 * $packets):.1f}')"
  }
  echo
  w=$(per_packet "$WEIR")
  echo "instructions per packet (cachegrind, 12 loops less 2): weir $w"
  if [ -n "${BASELINE:-}" ]; then
    b=$(per_packet "$BASELINE")
    echo "instructions per packet: baseline $b; this build / baseline = $(python3 -c "print(f'{$w / $b:.3f}')")"
  fi
fi
