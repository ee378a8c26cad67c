#!/usr/bin/python3
"""One libtorrent (rasterbar 2.0, Debian's python3-libtorrent) peer for the capture lab.

Run inside a lab namespace by lab_captures.py; never on its own. Seeds or downloads one or more
torrents, with the encryption, transports and peer sources the scenario asks for, and exits after
--seconds (or when told to stop). Prints one line per event of interest on stdout.

Usage: bt_peer.py --addr 198.18.10.1 [--addr6 2001:2:0:a::1] --port 6881 --dir DIR
                  --torrent FILE [--torrent FILE ...] [--seed] [--enc forced|enabled|disabled]
                  [--utp] [--dht NODE:PORT,...] [--lsd] [--connect HOST:PORT ...] [--seconds N]
                  [--upload-limit BYTES_PER_S] [--no-outgoing]
"""
import argparse
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--addr6")
    ap.add_argument("--port", type=int, default=6881)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--torrent", action="append", required=True)
    ap.add_argument("--seed", action="store_true")
    ap.add_argument("--enc", default="forced", choices=["forced", "enabled", "disabled"])
    ap.add_argument("--enc-in", choices=["forced", "enabled", "disabled"], help="incoming policy (default --enc)")
    ap.add_argument("--enc-out", choices=["forced", "enabled", "disabled"], help="outgoing policy (default --enc)")
    ap.add_argument("--utp", action="store_true")
    ap.add_argument("--dht", default="")
    ap.add_argument("--lsd", action="store_true")
    ap.add_argument("--connect", action="append", default=[])
    ap.add_argument("--connect-delay", type=float, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--upload-limit", type=int, default=0, help="bytes/s, 0 = none")
    ap.add_argument("--no-outgoing", action="store_true", help="accept connections, make none")
    args = ap.parse_args()

    listen = f"{args.addr}:{args.port}"
    if args.addr6:
        listen += f",[{args.addr6}]:{args.port}"
    enc_in = getattr(lt.enc_policy, args.enc_in or args.enc)
    enc_out = getattr(lt.enc_policy, args.enc_out or args.enc)
    forced = "forced" in (args.enc, args.enc_in, args.enc_out)
    settings = {
        "listen_interfaces": listen,
        # Without an IPv6 listen address, connect from the IPv4 one only.
        "outgoing_interfaces": "" if args.addr6 else args.addr,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_lsd": args.lsd,
        "local_service_announce_interval": 5,
        "enable_dht": bool(args.dht),
        "dht_bootstrap_nodes": args.dht,
        # The lab is one /24 of reserved addresses: let the DHT route within it.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_ignore_dark_internet": False,
        "dht_prefer_verified_node_ids": False,
        "dht_announce_interval": 5,
        "out_enc_policy": enc_out,
        "in_enc_policy": enc_in,
        "allowed_enc_level": lt.enc_level.rc4 if forced else lt.enc_level.both,
        "prefer_rc4": forced,
        "enable_outgoing_utp": args.utp and not args.no_outgoing,
        "enable_outgoing_tcp": not args.no_outgoing,
        "enable_incoming_utp": args.utp,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "min_announce_interval": 5,
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        "user_agent": "weir-lab",
        "upload_rate_limit": args.upload_limit,
    }
    ses = lt.session(settings)
    handles = []
    for t in args.torrent:
        info = lt.torrent_info(t)
        p = lt.add_torrent_params()
        p.ti = info
        p.save_path = args.dir
        if args.seed:
            p.flags |= lt.torrent_flags.seed_mode
        handles.append(ses.add_torrent(p))
    start = time.time()
    end = start + args.seconds
    done = set()
    connect_at = start + args.connect_delay
    while time.time() < end:
        # Once, after every peer of the lab has had time to start listening (libtorrent does not
        # retry a peer that refused soon).
        if args.connect and connect_at and time.time() >= connect_at:
            connect_at = 0
            for h in handles:
                for c in args.connect:
                    host, _, port = c.rpartition(":")
                    h.connect_peer((host.strip("[]"), int(port)))
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_finished_alert, lt.tracker_error_alert, lt.listen_failed_alert)):
                print(f"{args.addr}: {a.what()}: {a.message()}", flush=True)
        for i, h in enumerate(handles):
            s = h.status()
            if s.is_seeding and i not in done:
                done.add(i)
                print(f"{args.addr}: torrent {i} complete, {s.num_peers} peers", flush=True)
        time.sleep(0.2)
    for h in handles:
        s = h.status()
        print(f"{args.addr}: end: progress {s.progress:.2f}, peers {s.num_peers}, seeding {s.is_seeding}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
