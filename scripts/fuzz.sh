#!/usr/bin/env bash
# Fuzzing with cargo-fuzz on the stable toolchain (RUSTC_BOOTSTRAP=1: no nightly to fetch).
# Usage: scripts/fuzz.sh smoke            # every target for a short while (part of the tests)
#        scripts/fuzz.sh run TARGET SECS  # a long run
# Crashes found are kept under fuzz/artifacts; add each as a regression test beside the code.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mode=${1:-smoke}
case "$mode" in
  smoke)
    secs=${FUZZ_SMOKE_SECS:-20}
    for t in parse_classify tunnels capture_reader; do
      echo "fuzz: $t for ${secs}s"
      log=$(mktemp)
      if cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 3 "$log"
      else
        # a failed build or a crash: show the cause, not only the end of a backtrace
        grep -E -m 20 -A 12 '^error|panicked|ERROR: libFuzzer|SUMMARY' "$log" || tail -n 60 "$log"
        rm -f "$log"
        exit 1
      fi
      rm -f "$log"
    done
    ;;
  run)
    t=${2:?target}; secs=${3:-600}
    cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048
    ;;
  *) echo "usage: $0 smoke | run TARGET SECS" >&2; exit 2 ;;
esac
