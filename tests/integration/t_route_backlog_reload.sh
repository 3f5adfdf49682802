#!/bin/bash
# The listening socket belongs to droverd:
#  - while every worker of a pool is stopped (drover stop), clients that connect
#    are not refused: message mode accepts and queues their requests, handoff
#    leaves them in the backlog; all are served after `drover start`;
#  - the socket file keeps its inode across worker restarts, scaling, a reload
#    that changes the command (rolling restart, with clients served throughout)
#    and a reload that re-creates the pool (socket_mode: the new mode applies);
#  - listen = tcp:127.0.0.1:PORT works the same.
. "$(dirname "$0")/lib.sh"
uses route

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pools() {
    local bk_command=$1 bk_mode=$2
    cat <<EOF2
[pool:bk]
command = $bk_command
workers = 2
listen = $T/bk.sock
worker_inflight = 1
socket_mode = $bk_mode
restart_delay = 0

[pool:hb]
command = $ECHO_WORKER
workers = 2
listen = $T/hb.sock
mode = handoff

[pool:tcp]
command = $ECHO_WORKER
workers = 2
listen = tcp:127.0.0.1:$PORT
EOF2
}
pools "$FAULTY_ECHO_WORKER" 0660 | write_config
start_daemon
for p in bk hb tcp; do wait_for 10 "$p running" pool_running "$p" 2; done
inode=$(stat -c %i "$T/bk.sock")
check_inode() { assert_eq "$(stat -c %i "$T/bk.sock")" "$inode" "inode of bk.sock after $1"; }

# --- message mode, all workers stopped: clients are accepted and queued ---
dv stop bk >/dev/null || fail "stop bk failed"
assert_eq "$(status_json "[x['state'] for p in s['pools'] if p['name']=='bk' for x in p['slots']]")" \
    "['stopped', 'stopped']" "bk states after stop"
wc_start "$T/wc_stopped" -s "$T/bk.sock" -c 4 -p 2 -n 40 -d 30
wait_for 10 "8 requests queued for the stopped pool" pool_route_is bk queued 8
assert_eq "$(pool_route bk connections)" 4 "clients connected to the stopped pool"
kill -0 "$WC_PID" || fail "the client finished while the pool was stopped: $(cat "$T/wc_stopped")"
dv start bk >/dev/null || fail "start bk failed"
wc_wait "$T/wc_stopped"
assert_eq "$(wc_get "$T/wc_stopped" connect_failed)" 0 "connections refused while stopped"
assert_eq "$(wc_get "$T/wc_stopped" ok)" 40 "requests served after start"
check_inode "stop/start"

# --- stop waits for the requests in flight (one slow one per worker); queued ones wait for start ---
python3 - "$T/bk.sock" >"$T/drain.out" 2>&1 <<'PY' &
import socket, struct, sys
reqs = [b"SLOW3000:first", b"SLOW3000:second", b"third", b"fourth"]
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in reqs))
s.settimeout(30)
buf, n = b"", 0
while n < len(reqs):
    b = s.recv(65536)
    if not b:
        print("closed"); sys.exit(1)
    buf += b
    while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
        k = struct.unpack(">I", buf[:4])[0]
        print(buf[4:4 + k].decode(), flush=True)
        buf = buf[4 + k:]
        n += 1
PY
drain_pid=$!
track_pid $drain_pid
wait_for 10 "both workers busy with a slow request" pool_route_is bk inflight 2
dv stop bk >/dev/null || fail "stop bk (with a request in flight) failed"
# The stop returned only after the request in flight was answered; the others wait.
assert_eq "$(tr '\n' ' ' <"$T/drain.out")" "+SLOW3000:first +SLOW3000:second " "replies when the stop returned"
assert_eq "$(pool_route bk queued)" 2 "requests queued while bk is stopped"
assert_eq "$(pool_route bk failed)" 0 "requests failed by the stop"
dv start bk >/dev/null || fail "start bk failed"
wait $drain_pid || fail "client of the drained pool: $(cat "$T/drain.out")"
assert_eq "$(tr '\n' ' ' <"$T/drain.out")" "+SLOW3000:first +SLOW3000:second +third +fourth " "replies after start"
check_inode "a stop that drained a worker"

# --- handoff, all workers stopped: connections wait in the backlog ---
backlog_served hb "$T/hb.sock"
wc_run "$T/wc_hb" -s "$T/hb.sock" --raw -k 1 -c 4 -n 500 -d 20

# --- restart, scale: same socket, clients served throughout ---
# (Each load runs until its phase is over: wc_stop.)
base=$(pool_route bk requests)
wc_start "$T/wc_restart" -s "$T/bk.sock" -c 4 -p 4 -t 30 -d 60
wait_for 10 "load on bk" pool_route_ge bk requests $((base + 100))
dv restart bk >/dev/null || fail "restart bk failed"
wc_stop "$T/wc_restart"
check_inode "restart"
base=$(pool_route bk requests)
wc_start "$T/wc_scale" -s "$T/bk.sock" -c 4 -p 4 -t 30 -d 60
wait_for 10 "load on bk" pool_route_ge bk requests $((base + 100))
dv scale bk 4 >/dev/null || fail "scale bk 4 failed"
wait_for 10 "4 running" pool_running bk 4
dv scale bk 1 >/dev/null || fail "scale bk 1 failed"
wait_for 10 "1 running" pool_running bk 1
wc_stop "$T/wc_scale"
check_inode "scaling"
dv scale bk 2 >/dev/null || fail "scale bk 2 failed"
wait_for 10 "2 running" pool_running bk 2

# --- reload with a new command: rolling restart, no request lost ---
old=$(pool_pids bk)
pools "$ECHO_WORKER" 0660 | write_config
base=$(pool_route bk requests)
wc_start "$T/wc_reload" -s "$T/bk.sock" -c 4 -p 4 -t 30 -d 60
wait_for 10 "load on bk" pool_route_ge bk requests $((base + 100))
out=$(dv reload) || fail "reload failed: $out"
assert_contains "$out" "bk"
all_new() {
    local now p
    now=$(pool_pids bk)
    pool_running bk 2 || return 1
    for p in $old; do case " $now " in *" $p "*) return 1 ;; esac; done
}
wait_for 15 "both bk workers replaced" all_new
assert_eq "$(status_json "next(p['command'] for p in s['pools'] if p['name']=='bk')")" "$ECHO_WORKER" \
    "bk command after reload"
wc_stop "$T/wc_reload"
log "reload: $(cat "$T/wc_reload")"
check_inode "a reload that changed the command"

# --- reload that re-creates the pool (socket_mode): same socket, new mode ---
pools "$ECHO_WORKER" 0600 | write_config
out=$(dv reload) || fail "reload (socket_mode) failed: $out"
wait_for 10 "bk running after re-creation" pool_running bk 2
assert_eq "$(stat -c %a "$T/bk.sock")" 600 "mode of bk.sock after socket_mode changed"
check_inode "a reload that re-created the pool"
wc_run "$T/wc_recreated" -s "$T/bk.sock" -c 4 -p 4 -n 2000 -d 20

# --- tcp ---
wc_run "$T/wc_tcp" -s "tcp:127.0.0.1:$PORT" -c 4 -p 8 -n 3000 -d 20
# drover call speaks to a tcp: pool too (plain on loopback).
out=$(dv call tcp x) || fail "drover call on a tcp pool exited $?"
assert_eq "$out" x "drover call on a tcp pool"
dv stop tcp >/dev/null || fail "stop tcp failed"
wc_start "$T/wc_tcp_stopped" -s "tcp:127.0.0.1:$PORT" -c 2 -p 2 -n 20 -d 30
wait_for 10 "4 requests queued for the stopped tcp pool" pool_route_is tcp queued 4
dv start tcp >/dev/null || fail "start tcp failed"
wc_wait "$T/wc_tcp_stopped"
assert_eq "$(wc_get "$T/wc_tcp_stopped" connect_failed)" 0 "tcp connections refused while stopped"
