#!/usr/bin/env bash
# Every test weir has: formatting, lints, unit and property tests, end-to-end tests (the
# network-namespace lab among them, which need root), and a short fuzz smoke.
# Usage: scripts/test.sh        (as root on Debian; installs what it needs first)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (optimized profile \"ci\": the lab tests push real traffic through weir)"
mkdir -p target
cargo test --workspace --profile ci --locked --no-fail-fast 2>&1 | tee target/test.log
echo "== fuzz smoke"
bash scripts/fuzz.sh smoke
