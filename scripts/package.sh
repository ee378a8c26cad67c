#!/usr/bin/env bash
# Build the Debian package: /usr/bin/weir, the systemd unit (packaging/weir.service),
# /etc/weir/weir.toml (a conffile, from configs/weir.toml), the signature file and the generator
# profiles under /usr/share/weir, the README under /usr/share/doc/weir.
#
# usage: scripts/package.sh [PROFILE]     (default release; "ci" reuses the test suite's build)
#   The binary target/PROFILE/weir is built first unless it exists (NO_BUILD=1: never build).
# Prints the path of the .deb on the last line. Install with
#   dpkg -i target/debian/weir_*.deb && systemctl enable --now weir
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-release}
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
if [ ! -x "target/$profile/weir" ]; then
    [ "${NO_BUILD:-0}" = 1 ] && { echo "package.sh: no target/$profile/weir and NO_BUILD=1" >&2; exit 2; }
    cargo build --profile "$profile" --locked --bin weir
fi
mkdir -p target/debian
cargo deb --no-build --no-strip --profile "$profile" --output target/debian/ 2>&1 | tail -n 1
