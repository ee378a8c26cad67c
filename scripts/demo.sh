#!/usr/bin/env bash
# The main job: classify a bundled real BitTorrent capture and print the per-protocol table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked
./target/release/weir classify tests/pcaps/bittorrent.pcap tests/pcaps/http_ipv6.pcap tests/pcaps/edonkey.pcap \
  tests/pcaps/gnutella.pcap tests/pcaps/quic.pcap tests/pcaps/ssh.pcap --inside 192.168.0.0/16,10.0.0.0/8
