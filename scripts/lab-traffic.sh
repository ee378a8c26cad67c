#!/usr/bin/env bash
# Real third-party clients and servers in a weir lab (scripts/lab.sh), for the end-to-end tests
# (tests/bridge_clients.rs) and the demo. One place knows how to start, check and stop them.
#
# usage: scripts/lab-traffic.sh COMMAND NAME ARGS...     (NAME: the lab's name, as for lab.sh)
#   http-serve NAME in|out DIR PORT        python3 http.server on the side's address, serving DIR
#   http-get   NAME in|out URL OUT [SECS]  curl URL to OUT (default bound 120 s); curl's exit status
#   bt-tracker NAME in|out                 opentracker on ADDR:6969 (tcp+udp), whitelist in its state
#   bt-seed    NAME in|out FILE TORRENT_OUT
#                                          mktorrent FILE (tracker http://TRACKER:6969/announce), whitelist
#                                          it, transmission-daemon seeds it; returns once seeding+announced
#   bt-leech   NAME in|out TORRENT DIR [SECS]
#                                          aria2c downloads into DIR (no DHT/LPD/PEX, --seed-time=0),
#                                          bounded (default 120 s); aria2c's exit status
#   ftp-serve  NAME in|out DIR             pyftpdlib (anonymous, read-only) on ADDR:21 serving DIR,
#                                          passive data ports 30000-30099
#   ftp-get    NAME in|out URL OUT [SECS] [active]
#                                          curl ftp://... to OUT (passive; "active": EPRT/PORT), bounded
#   tftp-serve NAME in|out DIR             tftpd-hpa (in.tftpd -L) on ADDR:69 serving DIR
#   tftp-get   NAME in|out URL OUT [SECS]  curl tftp://... to OUT, bounded; curl's exit status
#   dc-hub     NAME in|out [PORT]          uhub (ADC) on ADDR:PORT (default 1511)
#   dc-client  NAME in|out NICK [HUB]      ncdc in tmux, /open adc://HUB/ (default: the dc-hub's address)
#   dc-status  NAME NICK                   prints ncdc's screen; exit 0 if NICK is logged in, else 1
#   dc-wait    NAME NICK SECS              waits until NICK is logged in; exit 1 at the bound
#   status     NAME                        what this script started in the lab, and whether it runs
#   stop       NAME                        stops exactly what this script started there (TERM, then
#                                          KILL after a bound); removes the state dir; idempotent
#
# Addresses: in = 198.18.0.1 (ns weir-in-NAME), out = 198.18.0.2 (ns weir-out-NAME).
# State (PIDs, configs, logs) lives in $WEIR_LAB_STATE or /tmp/weir-lab-NAME. Every long-running
# process is recorded as "PID STARTTIME" in state/pids/, so `stop` kills only that very process
# (a reused PID with another start time is left alone). Daemons get stdin from /dev/null and write
# to log files in the state dir, so a caller that waits for this script's output is not held up.
set -euo pipefail

die() { echo "lab-traffic.sh: $*" >&2; exit 2; }
say() { echo "lab-traffic.sh: $*" >&2; }
usage() { sed -n '5,31p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1 name=$2
shift 2
[[ $name =~ ^[A-Za-z0-9_-]{1,24}$ ]] || die "NAME must be 1-24 of [A-Za-z0-9_-], got '$name'"
state=${WEIR_LAB_STATE:-/tmp/weir-lab-$name}
TRACKER_PORT=6969
PEER_PORT=51413
RPC_PORT=9091
DC_PORT=1511

ns_of() { # in|out -> namespace name
    case $1 in
    in) echo "weir-in-$name" ;;
    out) echo "weir-out-$name" ;;
    *) die "side must be in|out, got '$1'" ;;
    esac
}
addr_of() {
    case $1 in
    in) echo 198.18.0.1 ;;
    out) echo 198.18.0.2 ;;
    *) die "side must be in|out, got '$1'" ;;
    esac
}
need_ns() { [ -e "/run/netns/$1" ] || die "netns $1 does not exist (run: scripts/lab.sh up $name)"; }
need_tool() { command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed (scripts/setup.sh installs it)"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

python() { if [ -x /usr/bin/python3 ]; then /usr/bin/python3 "$@"; else python3 "$@"; fi; }

# --- PID bookkeeping -------------------------------------------------------------------------

starttime() { # pid -> field 22 of /proc/PID/stat (after the parenthesised comm), or nothing
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    s=${s##*) }
    echo "$s" | cut -d' ' -f20
}

record() { # role pid [soft]: soft returns 1 instead of failing when pid has already exited
    mkdir -p "$state/pids"
    local st n
    st=$(starttime "$2")
    [ -n "$st" ] || [ -z "${3:-}" ] || return 1
    [ -n "$st" ] || die "$1 (pid $2) exited at once; see $state/$1.log: $(tail -n 5 "$state/$1.log" 2>/dev/null)"
    n=$(find "$state/pids" -name '*.pid' | wc -l)
    printf '%s %s\n' "$2" "$st" >"$state/pids/$(printf '%03d' "$n")-$1.pid"
}

pidfile_of() { find "$state/pids" -name "*-$1.pid" 2>/dev/null | head -n 1; }

alive_file() { # pidfile -> true if that very process still runs
    local pid st
    read -r pid st <"$1" || return 1
    [ -n "$pid" ] && [ "$(starttime "$pid")" = "$st" ]
}

running() { local f; f=$(pidfile_of "$1"); [ -n "$f" ] && alive_file "$f"; }

pid_of() { local f; f=$(pidfile_of "$1"); [ -n "$f" ] && cut -d' ' -f1 "$f"; }

stop_file() { # pidfile: TERM, wait up to 8 s, then KILL
    local f=$1 pid i
    pid=$(cut -d' ' -f1 "$f")
    if alive_file "$f"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 80; i++)); do
            alive_file "$f" || break
            sleep 0.1
        done
        if alive_file "$f"; then
            say "$(basename "$f" .pid) (pid $pid) ignored SIGTERM for 8 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                alive_file "$f" || break
                sleep 0.1
            done
        fi
        alive_file "$f" && die "could not stop pid $pid ($f)"
        echo "stopped $(basename "$f" .pid | cut -d- -f2-) (pid $pid)"
    fi
    rm -f "$f"
}

wait_listen() { # ns proto(t|u) port secs role
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        if [ -n "$(in_ns "$1" ss -Hln"$2" "sport = :$3" 2>/dev/null)" ]; then return 0; fi
        running "$5" || die "$5 exited before listening on port $3; log: $(tail -n 20 "$state/$5.log" 2>/dev/null)"
        sleep 0.1
    done
    die "$5 is not listening on port $3 after $4 s; log: $(tail -n 20 "$state/$5.log" 2>/dev/null)"
}

start_daemon() { # role ns cmd... : starts cmd in ns in the background, records it
    local role=$1 ns=$2
    shift 2
    mkdir -p "$state"
    ip netns exec "$ns" "$@" </dev/null >"$state/$role.log" 2>&1 &
    record "$role" $!
}

# Runs a foreground client with a bound: records it (so `stop` can end it if this script is
# killed), waits, TERMs then KILLs it at the bound, returns its exit status (124 at the bound).
run_bounded() { # role secs ns cmd...
    local role=$1 secs=$2 ns=$3 pid rc=0 f i
    shift 3
    [[ $secs =~ ^[1-9][0-9]*$ ]] || die "bound must be whole seconds, got '$secs'"
    mkdir -p "$state"
    ip netns exec "$ns" "$@" </dev/null >"$state/$role.log" 2>&1 &
    pid=$!
    if ! record "$role" "$pid" soft; then # already done
        wait "$pid" || rc=$?
        return "$rc"
    fi
    f=$(pidfile_of "$role")
    for ((i = 0; i < secs * 10; i++)); do
        alive_file "$f" || break
        sleep 0.1
    done
    if alive_file "$f"; then
        say "$role did not finish within $secs s: stopping it"
        stop_file "$f" >&2
        wait "$pid" 2>/dev/null || true
        return 124
    fi
    wait "$pid" || rc=$?
    rm -f "$f"
    return "$rc"
}

# --- HTTP ----------------------------------------------------------------------------------------

http_serve() {
    [ $# -eq 3 ] || usage
    local side=$1 dir=$2 port=$3 ns role
    ns=$(ns_of "$side")
    need_ns "$ns"
    [ -d "$dir" ] || die "no directory '$dir'"
    [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
    role=http-$side-$port
    if running "$role"; then echo "$role already running (pid $(pid_of "$role"))"; return 0; fi
    start_daemon "$role" "$ns" "$(command -v /usr/bin/python3 || command -v python3)" -m http.server "$port" \
        --bind "$(addr_of "$side")" --directory "$(cd "$dir" && pwd)"
    wait_listen "$ns" t "$port" 15 "$role"
    echo "http://$(addr_of "$side"):$port/ serving $dir (pid $(pid_of "$role"))"
}

http_get() {
    [ $# -ge 3 ] && [ $# -le 4 ] || usage
    local side=$1 url=$2 out=$3 secs=${4:-120} ns rc=0
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool curl
    run_bounded "http-get-$side-$$" "$secs" "$ns" curl -sS --fail --noproxy '*' --connect-timeout 10 \
        --max-time "$secs" -o "$out" "$url" || rc=$?
    [ $rc -eq 0 ] || say "http-get $url failed (exit $rc): $(tail -n 5 "$state/http-get-$side-$$.log")"
    rm -f "$state/http-get-$side-$$.log"
    return $rc
}

# --- BitTorrent ----------------------------------------------------------------------------------

bt_tracker() {
    [ $# -eq 1 ] || usage
    local side=$1 ns addr dir
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool opentracker
    addr=$(addr_of "$side")
    if running bt-tracker; then echo "bt-tracker already running (pid $(pid_of bt-tracker))"; return 0; fi
    # opentracker chroots into its dir and drops to `nobody`; Debian builds it with a whitelist:
    # only info hashes listed in ./whitelist are tracked (bt-seed adds them, then SIGHUP reloads).
    dir=$state/tracker
    mkdir -p "$dir"
    touch "$dir/whitelist"
    chmod 755 "$state" "$dir"
    chmod 644 "$dir/whitelist"
    echo "$addr" >"$state/tracker.addr"
    start_daemon bt-tracker "$ns" opentracker -i "$addr" -p "$TRACKER_PORT" -P "$TRACKER_PORT" -d "$dir" -w whitelist
    wait_listen "$ns" t "$TRACKER_PORT" 15 bt-tracker
    echo "tracker http://$addr:$TRACKER_PORT/announce (pid $(pid_of bt-tracker))"
}

# transmission RPC: method-and-arguments JSON in, reply JSON out.
trpc() { # ns json
    local sid
    sid=$(in_ns "$1" curl -s --noproxy '*' -o /dev/null -D - "http://127.0.0.1:$RPC_PORT/transmission/rpc" |
        awk -F': ' 'tolower($1)=="x-transmission-session-id"{print $2}' | tr -d '\r')
    [ -n "$sid" ] || return 1
    in_ns "$1" curl -s --noproxy '*' -H "X-Transmission-Session-Id: $sid" -d "$2" \
        "http://127.0.0.1:$RPC_PORT/transmission/rpc"
}

bt_seed() {
    [ $# -eq 3 ] || usage
    local side=$1 file=$2 torrent=$3 ns addr tracker hash dir i reply verdict
    ns=$(ns_of "$side")
    need_ns "$ns"
    for t in mktorrent aria2c transmission-daemon curl; do need_tool "$t"; done
    [ -f "$file" ] || die "no file '$file'"
    [ -f "$state/tracker.addr" ] || die "no tracker in lab $name (run: $0 bt-tracker $name out)"
    running bt-seed && die "a seeder already runs in lab $name (pid $(pid_of bt-seed))"
    addr=$(addr_of "$side")
    tracker="http://$(cat "$state/tracker.addr"):$TRACKER_PORT/announce"
    rm -f "$torrent"
    mktorrent -a "$tracker" -o "$torrent" "$file" >/dev/null || die "mktorrent $file failed"
    hash=$(aria2c -S "$torrent" | awk '/^Info Hash:/{print $3}')
    [[ $hash =~ ^[0-9a-f]{40}$ ]] || die "cannot read the info hash of $torrent"
    echo "$hash" >>"$state/tracker/whitelist"
    if running bt-tracker; then kill -HUP "$(pid_of bt-tracker)"; fi

    dir=$state/seed
    mkdir -p "$dir/config" "$dir/data" "$dir/watch"
    ln -f "$file" "$dir/data/" 2>/dev/null || cp "$file" "$dir/data/"
    # No DHT, LPD, PEX, uTP or UPnP; plain (unencrypted) peer connections preferred; RPC on the
    # namespace's loopback only.
    cat >"$dir/config/settings.json" <<EOF
{
  "download-dir": "$dir/data", "incomplete-dir-enabled": false,
  "watch-dir": "$dir/watch", "watch-dir-enabled": true, "start-added-torrents": true,
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "encryption": 0, "peer-port": $PEER_PORT, "peer-port-random-on-start": false,
  "port-forwarding-enabled": false, "bind-address-ipv4": "$addr", "bind-address-ipv6": "::",
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": $RPC_PORT,
  "rpc-authentication-required": false, "rpc-whitelist-enabled": false,
  "rpc-host-whitelist-enabled": false, "message-level": 2, "umask": 18
}
EOF
    cp "$torrent" "$dir/watch/seed.torrent"
    start_daemon bt-seed "$ns" transmission-daemon -f -g "$dir/config" --logfile "$dir/transmission.log"
    # Seeding (status 6) with all data verified and one successful announce, within 60 s.
    for ((i = 0; i < 600; i++)); do
        running bt-seed || die "transmission-daemon exited; log: $(tail -n 20 "$dir/transmission.log" "$state/bt-seed.log" 2>/dev/null)"
        reply=$(trpc "$ns" '{"method":"torrent-get","arguments":{"fields":["status","percentDone","error","errorString","trackerStats"]}}' 2>/dev/null) || reply=
        verdict=$(printf '%s' "$reply" | python -c '
import json, sys
try:
    t = json.load(sys.stdin)["arguments"]["torrents"]
except Exception:
    print("wait"); sys.exit()
if not t:
    print("wait")
elif t[0]["error"]:
    print("error " + t[0]["errorString"])
elif t[0]["status"] == 6 and t[0]["percentDone"] == 1 and any(s["lastAnnounceSucceeded"] for s in t[0]["trackerStats"]):
    print("seeding")
else:
    print("wait")' 2>/dev/null) || verdict=wait
        case $verdict in
        seeding) break ;;
        error*) die "transmission reports: ${verdict#error }" ;;
        esac
        sleep 0.1
    done
    [ "$verdict" = seeding ] || die "transmission is not seeding and announced after 60 s: $reply"
    echo "seeding $(basename "$file") info hash $hash on $addr:$PEER_PORT, tracker $tracker (pid $(pid_of bt-seed))"
}

bt_leech() {
    [ $# -ge 3 ] && [ $# -le 4 ] || usage
    local side=$1 torrent=$2 dir=$3 secs=${4:-120} ns rc=0
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool aria2c
    [ -f "$torrent" ] || die "no torrent '$torrent'"
    mkdir -p "$dir"
    # Plain TCP, tracker only: no DHT, LPD or PEX (nothing to reach outside the lab anyway);
    # stop at once when done (--seed-time=0), after 20 s without progress, or at the bound.
    run_bounded "bt-leech-$side" "$secs" "$ns" aria2c --dir="$dir" --enable-dht=false --enable-dht6=false \
        --bt-enable-lpd=false --enable-peer-exchange=false --seed-time=0 --bt-stop-timeout=20 \
        --stop="$secs" --listen-port=6881 --bt-require-crypto=false --file-allocation=none \
        --console-log-level=warn --summary-interval=0 --check-certificate=false --no-conf \
        "$torrent" || rc=$?
    cp "$state/bt-leech-$side.log" "$dir/aria2c.log" 2>/dev/null || true
    [ $rc -eq 0 ] || say "aria2c exited with $rc; log: $(tail -n 8 "$state/bt-leech-$side.log")"
    return $rc
}

# --- Direct Connect (ADC) -----------------------------------------------------------------------

dc_hub() {
    [ $# -ge 1 ] && [ $# -le 2 ] || usage
    local side=$1 port=${2:-$DC_PORT} ns addr dir
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool uhub
    addr=$(addr_of "$side")
    if running dc-hub; then echo "dc-hub already running (pid $(pid_of dc-hub))"; return 0; fi
    dir=$state/uhub
    mkdir -p "$dir"
    : >"$dir/users.conf"
    : >"$dir/plugins.conf"
    cat >"$dir/uhub.conf" <<EOF
server_port=$port
server_bind_addr=$addr
hub_name=weir lab hub
hub_description=weir lab
hub_enabled=1
registered_users_only=0
max_users=50
file_acl=$dir/users.conf
file_plugins=$dir/plugins.conf
show_banner=1
EOF
    echo "adc://$addr:$port/" >"$state/hub.url"
    start_daemon dc-hub "$ns" uhub -vvv -c "$dir/uhub.conf"
    wait_listen "$ns" t "$port" 15 dc-hub
    echo "hub adc://$addr:$port/ (pid $(pid_of dc-hub))"
}

tmux_of() { echo "$state/dc-$1/tmux.sock"; }

dc_client() {
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    local side=$1 nick=$2 hub=${3:-} ns dir sock i pids
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool ncdc
    need_tool tmux
    [[ $nick =~ ^[A-Za-z0-9_]{1,32}$ ]] || die "NICK must be 1-32 of [A-Za-z0-9_], got '$nick'"
    if [ -z "$hub" ]; then
        [ -f "$state/hub.url" ] || die "no hub in lab $name: give HUB or run: $0 dc-hub $name out"
        hub=$(cat "$state/hub.url")
    fi
    [[ $hub == adc://* ]] || hub="adc://$hub/"
    if running "dc-$nick-ncdc"; then echo "dc-client $nick already running"; return 0; fi
    dir=$state/dc-$nick
    rm -rf "$dir"
    mkdir -p "$dir/ncdc"
    sock=$(tmux_of "$nick")
    # The tmux server forks from a client that runs inside the namespace, so it and ncdc live there.
    TERM=xterm ip netns exec "$ns" tmux -S "$sock" -f /dev/null new-session -d -s dc -x 200 -y 50 \
        "exec ncdc -c '$dir/ncdc'" </dev/null >"$state/dc-$nick-tmux.log" 2>&1 ||
        die "tmux/ncdc failed to start: $(cat "$state/dc-$nick-tmux.log")"
    pids=$(tmux -S "$sock" display -p -t dc '#{pid} #{pane_pid}') || die "tmux server for $nick vanished"
    record "dc-$nick-tmux" "${pids% *}"
    record "dc-$nick-ncdc" "${pids#* }"
    # Wait for ncdc's prompt, then set the nick and open the hub.
    for ((i = 0; i < 150; i++)); do
        tmux -S "$sock" capture-pane -p -t dc 2>/dev/null | grep -q '^main>' && break
        sleep 0.1
    done
    tmux -S "$sock" capture-pane -p -t dc | grep -q '^main>' ||
        die "ncdc did not show its prompt within 15 s: $(tmux -S "$sock" capture-pane -p -t dc)"
    tmux -S "$sock" send-keys -t dc "/set nick $nick" Enter
    sleep 0.3
    tmux -S "$sock" send-keys -t dc "/open lab $hub" Enter
    echo "ncdc $nick connecting to $hub (tmux $sock, pid $(pid_of "dc-$nick-ncdc"))"
}

dc_screen() { tmux -S "$(tmux_of "$1")" capture-pane -p -t dc 2>/dev/null; }

# Logged in: ncdc's hub tab status line reads "NICK @ adc://... N users" with N >= 1, which it
# shows only once the hub has sent the user list (our own INF among it), i.e. in NORMAL state.
dc_logged_in() { dc_screen "$1" | grep -Eq "^$1 @ adc://.* [1-9][0-9]* users"; }

dc_status() {
    [ $# -eq 1 ] || usage
    [ -S "$(tmux_of "$1")" ] || die "no ncdc client '$1' in lab $name"
    dc_screen "$1" | grep -v '^ *$' || true
    dc_logged_in "$1"
}

dc_wait() {
    [ $# -eq 2 ] || usage
    local nick=$1 secs=$2 i
    [[ $secs =~ ^[1-9][0-9]*$ ]] || die "SECS must be whole seconds, got '$secs'"
    [ -S "$(tmux_of "$nick")" ] || die "no ncdc client '$nick' in lab $name"
    for ((i = 0; i < secs * 10; i++)); do
        if dc_logged_in "$nick"; then echo "$nick logged in"; return 0; fi
        sleep 0.1
    done
    say "$nick not logged in after $secs s; screen:"
    dc_screen "$nick" | grep -v '^ *$' >&2 || true
    return 1
}

# --- housekeeping ---------------------------------------------------------------------------

status() {
    [ $# -eq 0 ] || usage
    local f
    [ -d "$state/pids" ] || { echo "nothing started in lab $name"; return 0; }
    for f in "$state"/pids/*.pid; do
        [ -e "$f" ] || continue
        if alive_file "$f"; then echo "running $(basename "$f" .pid | cut -d- -f2-) pid $(cut -d' ' -f1 "$f")"; else
            echo "exited  $(basename "$f" .pid | cut -d- -f2-) pid $(cut -d' ' -f1 "$f")"; fi
    done
}

stop() {
    [ $# -eq 0 ] || usage
    local f sock
    [ -d "$state" ] || return 0
    # ncdc first, through its tmux server, so it quits cleanly; then everything in reverse order.
    for sock in "$state"/dc-*/tmux.sock; do
        [ -S "$sock" ] && tmux -S "$sock" kill-server 2>/dev/null || true
    done
    if [ -d "$state/pids" ]; then
        while read -r f; do
            stop_file "$f"
        done < <(find "$state/pids" -name '*.pid' | sort -r)
    fi
    rm -rf "$state"
}

# --- FTP and TFTP ----------------------------------------------------------------------------

ftp_serve() {
    [ $# -eq 2 ] || usage
    local side=$1 dir=$2 ns role
    ns=$(ns_of "$side")
    need_ns "$ns"
    [ -d "$dir" ] || die "no directory '$dir'"
    python -c 'import pyftpdlib' 2>/dev/null || die "pyftpdlib is not installed (scripts/setup.sh installs python3-pyftpdlib)"
    role=ftp-$side
    if running "$role"; then echo "$role already running (pid $(pid_of "$role"))"; return 0; fi
    start_daemon "$role" "$ns" "$(command -v /usr/bin/python3 || command -v python3)" -m pyftpdlib \
        -i "$(addr_of "$side")" -p 21 -d "$(cd "$dir" && pwd)" -r 30000-30099
    wait_listen "$ns" t 21 15 "$role"
    echo "ftp://$(addr_of "$side")/ serving $dir (pid $(pid_of "$role"))"
}

ftp_get() {
    [ $# -ge 3 ] && [ $# -le 5 ] || usage
    local side=$1 url=$2 out=$3 secs=${4:-120} mode=${5:-passive} ns rc=0 active=()
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool curl
    case $mode in
    passive) ;;
    active) active=(--ftp-port "$(addr_of "$side")") ;;
    *) die "mode must be passive or active, got '$mode'" ;;
    esac
    run_bounded "ftp-get-$side-$$" "$secs" "$ns" curl -sS --fail --noproxy '*' --connect-timeout 10 \
        "${active[@]}" -o "$out" "$url" || rc=$?
    [ $rc -eq 0 ] || say "ftp-get $url ($mode) failed (exit $rc): $(tail -n 5 "$state/ftp-get-$side-$$.log")"
    rm -f "$state/ftp-get-$side-$$.log"
    return $rc
}

tftp_serve() {
    [ $# -eq 2 ] || usage
    local side=$1 dir=$2 ns role
    ns=$(ns_of "$side")
    need_ns "$ns"
    [ -d "$dir" ] || die "no directory '$dir'"
    need_tool in.tftpd
    role=tftp-$side
    if running "$role"; then echo "$role already running (pid $(pid_of "$role"))"; return 0; fi
    # -L: stay in the foreground (so the recorded PID is the server's); files must be world-readable.
    start_daemon "$role" "$ns" in.tftpd -L -a "$(addr_of "$side"):69" -s "$(cd "$dir" && pwd)"
    wait_listen "$ns" u 69 15 "$role"
    echo "tftp://$(addr_of "$side")/ serving $dir (pid $(pid_of "$role"))"
}

tftp_get() {
    [ $# -ge 3 ] && [ $# -le 4 ] || usage
    local side=$1 url=$2 out=$3 secs=${4:-120} ns rc=0
    ns=$(ns_of "$side")
    need_ns "$ns"
    need_tool curl
    run_bounded "tftp-get-$side-$$" "$secs" "$ns" curl -sS --fail --noproxy '*' --connect-timeout 10 \
        -o "$out" "$url" || rc=$?
    [ $rc -eq 0 ] || say "tftp-get $url failed (exit $rc): $(tail -n 5 "$state/tftp-get-$side-$$.log")"
    rm -f "$state/tftp-get-$side-$$.log"
    return $rc
}

case $cmd in
http-serve) http_serve "$@" ;;
http-get) http_get "$@" ;;
bt-tracker) bt_tracker "$@" ;;
bt-seed) bt_seed "$@" ;;
bt-leech) bt_leech "$@" ;;
ftp-serve) ftp_serve "$@" ;;
ftp-get) ftp_get "$@" ;;
tftp-serve) tftp_serve "$@" ;;
tftp-get) tftp_get "$@" ;;
dc-hub) dc_hub "$@" ;;
dc-client) dc_client "$@" ;;
dc-status) dc_status "$@" ;;
dc-wait) dc_wait "$@" ;;
status) status "$@" ;;
stop) stop "$@" ;;
*) usage ;;
esac
