#!/usr/bin/python3
"""Make the real-client P2P captures of tests/pcaps/lab (run as root; see its README).

Usage: scripts/lab-captures/lab_captures.py OUTDIR [SCENARIO ...]
Needs (Debian): python3-libtorrent, tshark (for dumpcap), opentracker, uhub, ncdc, tmux, ethtool;
run it with /usr/bin/python3 (Debian's, which has the libtorrent module).
Scenarios: bt-mse-trackers, bt-mse-dht-lsd-utp, bt-pex, dc-nmdc, dc-adc (default: all).

Each scenario builds a LAN in network namespaces (weir-cap-<pid>-hub holding a Linux bridge and
the hub services, weir-cap-<pid>-hN for the clients) on 198.18.10.0/24 and 2001:2:0:a::/64,
captures the bridge with dumpcap, runs real clients, and removes everything it made, also on
failure. It never touches the root namespace's interfaces or routes and ends only the processes
it started, by their PIDs.

- bt-mse-trackers: libtorrent peers with forced MSE/PE encryption over TCP only; one torrent on
  an HTTP tracker, one on a UDP tracker (opentracker); no DHT, no LSD. The peer connections are
  encrypted: only the peer cache (taught by the tracker replies) can label them.
- bt-mse-dht-lsd-utp: forced encryption, DHT and local peer discovery, no tracker; two peers speak
  uTP (which shares the DHT's UDP port, so uTP and DHT are one flow), the third TCP only: its
  encrypted connections go to peers met over uTP, the DHT or LSD on the same address and port.
- bt-pex: TCP, no tracker, DHT or LSD; a plaintext-only seed that uploads slowly, a leecher (IPv4
  only) that connects to it and announces its listen port in the extension handshake (its first,
  encrypted attempt fails and is retried in plaintext), and one the seed connects to over IPv6.
  About a minute in, the seed's ut_pex messages (after piece data in the same segment) name the
  other peers, in added and added6.
- dc-nmdc: a minimal NMDC hub (nmdc_hub.py) and two ncdc clients in active mode; one shares a
  file, the other searches: the search result comes back as an NMDC $SR datagram.
- dc-adc: the same over uhub (ADC): the result is an ADC URES datagram.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
NET4 = "198.18.10"
NET6 = "2001:2:0:a"


def sh(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, **kw)


class Lan:
    """A hub namespace with bridge br0 (198.18.10.254) and `n` hosts (198.18.10.1..n)."""

    def __init__(self, n):
        self.tag = f"weir-cap-{os.getpid()}"
        self.hub = f"{self.tag}-hub"
        self.hosts = [f"{self.tag}-h{i}" for i in range(1, n + 1)]
        self.procs = []
        self.made = []
        try:
            self._up()
        except BaseException:
            self.down()
            raise

    def _up(self):
        sh("ip", "netns", "add", self.hub)
        self.made.append(self.hub)
        hub = ["ip", "netns", "exec", self.hub]
        sh(*hub, "ip", "link", "set", "lo", "up")
        sh(*hub, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        sh(*hub, "ip", "link", "set", "br0", "up")
        sh(*hub, "ip", "addr", "add", f"{NET4}.254/24", "dev", "br0")
        sh(*hub, "ip", "-6", "addr", "add", f"{NET6}::fe/64", "dev", "br0", "nodad")
        for i, ns in enumerate(self.hosts, 1):
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
            sh(*hub, "ip", "link", "add", f"p{i}", "type", "veth", "peer", "name", "e0", "netns", ns)
            sh(*hub, "ip", "link", "set", f"p{i}", "master", "br0", "up")
            sh(*hub, "ethtool", "-K", f"p{i}", "tso", "off", "gso", "off", "gro", "off", "tx", "off", check=False)
            ex = ["ip", "netns", "exec", ns]
            sh(*ex, "ip", "link", "set", "lo", "up")
            sh(*ex, "ip", "link", "set", "e0", "up")
            sh(*ex, "ethtool", "-K", "e0", "tso", "off", "gso", "off", "gro", "off", "tx", "off", check=False)
            sh(*ex, "ip", "addr", "add", f"{NET4}.{i}/24", "dev", "e0")
            sh(*ex, "ip", "-6", "addr", "add", f"{NET6}::{i}/64", "dev", "e0", "nodad")
            # Local peer discovery multicasts; there is no default route to carry it.
            sh(*ex, "ip", "route", "add", "224.0.0.0/4", "dev", "e0")

    def start(self, ns, *cmd, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, wait=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        out = p.stdout.read() if p.stdout else ""
        return out

    def down(self):
        for p in reversed(self.procs):
            try:
                self.stop(p, wait=5)
            except Exception:
                pass
        for ns in reversed(self.made):
            sh("ip", "netns", "del", ns, check=False)
        self.made.clear()


class Capture:
    def __init__(self, lan, path):
        self.lan, self.path = lan, path
        self.p = lan.start(lan.hub, "dumpcap", "-q", "-P", "-i", "br0", "-w", path)
        for _ in range(50):
            if os.path.exists(path):
                break
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self):
        time.sleep(1)
        out = self.lan.stop(self.p, signal.SIGINT)
        os.chmod(self.path, 0o644)
        return out


def make_torrents(work, specs):
    """specs: [(name, size, trackers)] -> [(torrent path, data dir)]; the data is random."""
    import libtorrent as lt
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    out = []
    for name, size, trackers in specs:
        with open(os.path.join(data, name), "wb") as f:
            f.write(os.urandom(size))
        fs = lt.file_storage()
        lt.add_files(fs, os.path.join(data, name))
        t = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
        for tr in trackers:
            t.add_tracker(tr)
        lt.set_piece_hashes(t, data)
        path = os.path.join(work, name + ".torrent")
        with open(path, "wb") as f:
            f.write(lt.bencode(t.generate()))
        out.append(path)
    return out, data


def tracker(lan, work, torrents):
    """opentracker on 198.18.10.254:6969 (TCP and UDP). Debian builds it with a whitelist of info
    hashes; it chroots into its directory and drops to `nobody`."""
    import libtorrent as lt
    d = os.path.join(work, "tracker")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "whitelist"), "w") as f:
        for t in torrents:
            f.write(str(lt.torrent_info(t).info_hashes().v1) + "\n")
    os.chmod(work, 0o755)
    os.chmod(d, 0o755)
    os.chmod(os.path.join(d, "whitelist"), 0o644)
    p = lan.start(lan.hub, "opentracker", "-i", f"{NET4}.254", "-p", "6969", "-P", "6969", "-d", d, "-w", "whitelist")
    for _ in range(100):
        if "6969" in sh("ip", "netns", "exec", lan.hub, "ss", "-ltn").stdout:
            return p
        time.sleep(0.1)
    raise RuntimeError("opentracker did not listen: " + lan.stop(p))


def peers(lan, work, torrents, seed_dir, seconds, enc, utp=(), dht=False, lsd=False, connect_to_seed=False,
          v6=False, seed_limit=0, extra=None):
    """A seed on h1 and leechers on the other hosts; `utp` lists the hosts that speak uTP, `extra`
    maps a host number to more bt_peer.py arguments."""
    procs = []
    nodes = ",".join(f"{NET4}.{i}:6881" for i in range(1, len(lan.hosts) + 1)) if dht else ""
    for i, ns in enumerate(lan.hosts, 1):
        d = seed_dir if i == 1 else os.path.join(work, f"h{i}")
        os.makedirs(d, exist_ok=True)
        cmd = [PY, os.path.join(HERE, "bt_peer.py"), "--addr", f"{NET4}.{i}", "--port", "6881", "--dir", d,
               "--enc", enc, "--seconds", str(seconds)] + list((extra or {}).get(i, []))
        if v6 is True or (v6 and i in v6):
            cmd += ["--addr6", f"{NET6}::{i}"]
        for t in torrents:
            cmd += ["--torrent", t]
        if i == 1:
            cmd.append("--seed")
            if seed_limit:
                cmd += ["--upload-limit", str(seed_limit)]
        if i in utp:
            cmd.append("--utp")
        if dht:
            cmd += ["--dht", nodes]
        if lsd:
            cmd.append("--lsd")
        if connect_to_seed and i > 1:
            # The leechers know only the seed; h3 reaches it over IPv6, so PEX carries added6 too.
            cmd += ["--connect", f"[{NET6}::1]:6881" if (v6 and i == 3) else f"{NET4}.1:6881"]
        procs.append(lan.start(ns, *cmd))
        if i == 1:
            time.sleep(1.5)
    out = []
    for p in procs:
        try:
            o, _ = p.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            o = lan.stop(p)
        out.append(o)
    return "".join(out)


def bt_mse_trackers(out_dir, work):
    lan = Lan(3)
    try:
        torrents, data = make_torrents(work, [
            ("http-tracked.bin", 96 * 1024, [f"http://{NET4}.254:6969/announce"]),
            ("udp-tracked.bin", 96 * 1024, [f"udp://{NET4}.254:6969/announce"]),
        ])
        tr = tracker(lan, work, torrents)
        cap = Capture(lan, os.path.join(out_dir, "bt-mse-trackers.pcap"))
        log = peers(lan, work, torrents, data, 25, "forced")
        cap.stop()
        lan.stop(tr)
        return log
    finally:
        lan.down()


def bt_mse_dht_lsd_utp(out_dir, work):
    lan = Lan(3)
    try:
        torrents, data = make_torrents(work, [("trackerless.bin", 128 * 1024, [])])
        cap = Capture(lan, os.path.join(out_dir, "bt-mse-dht-lsd-utp.pcap"))
        # h3 speaks TCP only: its (encrypted) connections go to peers met over uTP, the DHT or
        # local peer discovery on the same address and port.
        log = peers(lan, work, torrents, data, 40, "forced", utp=(1, 2), dht=True, lsd=True)
        cap.stop()
        return log
    finally:
        lan.down()


def bt_pex(out_dir, work):
    lan = Lan(3)
    try:
        torrents, data = make_torrents(work, [("pex.bin", 64 * 1024, [])])
        cap = Capture(lan, os.path.join(out_dir, "bt-pex.pcap"))
        # h1 seeds in plaintext and uploads slowly, so the leechers are still leeching when PEX runs
        # (libtorrent sends its first ut_pex message about a minute into a connection). h2 speaks
        # IPv4 only and connects to h1 (its extension handshake announces its listen port); h1
        # connects to h3 over IPv6, so its PEX to h2 names h3 in added6.
        h3 = f"[{NET6}::3]:6881"
        log = peers(lan, work, torrents, data, 100, "disabled", v6={1, 3}, seed_limit=500, extra={
            1: ["--connect", h3],
            # Encryption enabled (so its extension handshake and h1's PEX flags say it speaks
            # it); its encrypted attempt at h1 fails and is retried in plaintext.
            2: ["--enc", "enabled", "--connect", f"{NET4}.1:6881"],
            3: ["--enc-in", "enabled"],
        })
        cap.stop()
        return log
    finally:
        lan.down()


class Ncdc:
    """ncdc in a tmux session inside a host namespace, driven by its command line."""

    def __init__(self, lan, ns, work, nick):
        self.lan, self.nick = lan, nick
        self.dir = os.path.join(work, f"ncdc-{nick}")
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(work, f"tmux-{nick}.sock")
        env = dict(os.environ, TERM="xterm")
        sh("ip", "netns", "exec", ns, "tmux", "-S", self.sock, "-f", "/dev/null", "new-session", "-d", "-s", "dc",
           "-x", "200", "-y", "50", f"exec ncdc -c '{self.dir}'", env=env)
        pids = sh("tmux", "-S", self.sock, "display", "-p", "-t", "dc", "#{pid} #{pane_pid}").stdout.split()
        self.pids = [int(p) for p in pids]
        self.wait_for(r"^main>", 15)

    def screen(self):
        return sh("tmux", "-S", self.sock, "capture-pane", "-p", "-t", "dc", check=False).stdout

    def wait_for(self, pattern, secs):
        import re
        end = time.time() + secs
        while time.time() < end:
            if re.search(pattern, self.screen(), re.M):
                return True
            time.sleep(0.2)
        raise RuntimeError(f"ncdc {self.nick}: no {pattern!r} within {secs} s:\n{self.screen()}")

    def cmd(self, line, pause=0.4):
        sh("tmux", "-S", self.sock, "send-keys", "-t", "dc", line, "Enter")
        time.sleep(pause)

    def quit(self):
        sh("tmux", "-S", self.sock, "send-keys", "-t", "dc", "/quit", "Enter", check=False)
        time.sleep(1)
        sh("tmux", "-S", self.sock, "kill-server", check=False)
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def dc(out_dir, work, adc):
    """Two active ncdc clients on one hub: alice shares a file, bob searches for it; alice's
    result goes straight to bob's UDP port."""
    lan = Lan(2)
    clients = []
    try:
        if adc:
            d = os.path.join(work, "uhub")
            os.makedirs(d)
            for f in ("users.conf", "plugins.conf"):
                open(os.path.join(d, f), "w").close()
            with open(os.path.join(d, "uhub.conf"), "w") as f:
                f.write(f"server_port=1511\nserver_bind_addr={NET4}.254\nhub_name=weir lab hub\nhub_enabled=1\n"
                        f"registered_users_only=0\nmax_users=50\nfile_acl={d}/users.conf\n"
                        f"file_plugins={d}/plugins.conf\nshow_banner=1\n")
            lan.start(lan.hub, "uhub", "-c", os.path.join(d, "uhub.conf"))
            url = f"adc://{NET4}.254:1511/"
        else:
            lan.start(lan.hub, PY, os.path.join(HERE, "nmdc_hub.py"), f"{NET4}.254", "411")
            url = f"nmdc://{NET4}.254:411/"
        time.sleep(1)
        share = os.path.join(work, "share")
        os.makedirs(share)
        with open(os.path.join(share, "weirlab song.mp3"), "wb") as f:
            f.write(os.urandom(300_000))
        cap = Capture(lan, os.path.join(out_dir, "dc-adc.pcap" if adc else "dc-nmdc.pcap"))
        for i, nick in ((1, "alice"), (2, "bob")):
            c = Ncdc(lan, lan.hosts[i - 1], work, nick)
            clients.append(c)
            for line in (f"/set nick {nick}", "/set active true", f"/set active_ip {NET4}.{i}",
                         f"/set active_port {4000 + i}", "/set tls_policy disabled"):
                c.cmd(line)
        alice, bob = clients
        alice.cmd(f"/share music {share}")
        alice.wait_for(r"weirlab|[Ss]har|[Hh]ash", 10)
        time.sleep(3)  # hashing
        for c in clients:
            c.cmd(f"/open lab {url}", pause=0.5)
        for c in clients:
            c.wait_for(rf"{c.nick} @ (adc|nmdc)://.* [1-9][0-9]* users", 20)
        time.sleep(2)
        bob.cmd("/search weirlab", pause=4)
        bob.wait_for(r"weirlab song\.mp3", 10)
        screen = bob.screen()
        time.sleep(1)
        cap.stop()
        return screen
    finally:
        for c in clients:
            c.quit()
        lan.down()


SCENARIOS = {
    "bt-mse-trackers": bt_mse_trackers,
    "bt-mse-dht-lsd-utp": bt_mse_dht_lsd_utp,
    "bt-pex": bt_pex,
    "dc-nmdc": lambda out_dir, work: dc(out_dir, work, adc=False),
    "dc-adc": lambda out_dir, work: dc(out_dir, work, adc=True),
}


NEEDS = {"dumpcap": "tshark", "opentracker": "opentracker", "uhub": "uhub", "ncdc": "ncdc", "tmux": "tmux",
         "ethtool": "ethtool"}


def main():
    if len(sys.argv) < 2 or os.geteuid() != 0:
        print(__doc__, file=sys.stderr)
        return 2
    missing = sorted({pkg for tool, pkg in NEEDS.items() if shutil.which(tool) is None})
    try:
        import libtorrent  # noqa: F401
    except ImportError:
        missing.append("python3-libtorrent")
    if missing:
        print(f"lab_captures.py needs: apt-get install {' '.join(missing)}", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(sys.argv[1])
    os.makedirs(out_dir, exist_ok=True)
    names = sys.argv[2:] or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            print(f"unknown scenario {n}; one of {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
    for n in names:
        work = tempfile.mkdtemp(prefix=f"weir-cap-{n}-")
        try:
            print(f"== {n}", flush=True)
            print(SCENARIOS[n](out_dir, work), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
