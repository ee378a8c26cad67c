#!/usr/bin/env bash
# Installs everything weir's build, tests, demo and benchmarks need on a fresh Debian 12 machine.
# Run as root. Idempotent: safe to run again.
set -euo pipefail

PACKAGES=(
  # libxdp/libbpf (built by the libxdp-sys crate) and its BPF programs
  clang llvm libelf-dev zlib1g-dev pkg-config m4 libpcap-dev gcc-multilib make
  # weir's own XDP program (crates/xdp/bpf/weir_xdp.c): bpf_helpers.h and friends
  libbpf-dev
  # the lab: namespaces, veth, offload switches
  iproute2 ethtool iputils-ping procps
  # baselines and reference generators
  libndpi-bin netsniff-ng tcpreplay iptables
  # real clients and servers that make lab traffic
  nginx-light curl python3 tmux
  # chart fonts for weir report
  fonts-dejavu-core
  transmission-daemon opentracker aria2 mktorrent uhub ncdc
  # FTP and TFTP servers for the related-flow lab test (curl is the client)
  python3-pyftpdlib tftpd-hpa
  # metrics check
  prometheus
  # IPFIX collectors and decoders the export tests check against
  nfdump tshark libfixbuf-tools
  # the Debian package (cargo-deb, dpkg-shlibdeps) and the unit check (systemd-analyze)
  dpkg-dev systemd
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts some of these as services on install; the lab runs its own instances.
for svc in nginx transmission-daemon opentracker uhub prometheus tftpd-hpa nfdump; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. weir needs Rust 1.85 or newer (edition 2024): install it with rustup" >&2
  exit 1
fi

# cargo-deb builds the Debian package (scripts/package.sh, tests/package.rs).
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked
