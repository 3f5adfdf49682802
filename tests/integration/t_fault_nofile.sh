#!/bin/bash
# File descriptor exhaustion: droverd runs with RLIMIT_NOFILE = 256 (soft and
# hard, so it cannot raise it) while clients flood the work socket.
#  - Work clients alone cannot take droverd's last fds: with 1000 connections
#    held open, droverd holds no more client connections than the limit leaves
#    after its reserve (64 + 9 per slot); the rest wait in the listen backlog.
#    `drover status` answers promptly, killed workers are respawned (no spawn
#    failure), and an established pipelining client loses nothing.
#  - When something else does take every fd (here 400 idle control clients,
#    which are not under that reserve), droverd degrades without dying or
#    spinning: respawns fail with EMFILE and back off, accept() pauses, the
#    established client is still served (by the workers left), and everything
#    recovers when the fds come back: status answers, every slot runs again,
#    no request was lost, and droverd is back to the fds it had before.
. "$(dirname "$0")/lib.sh"
uses route fault

NOFILE=256
write_config <<EOF2
[pool:m]
command = $ECHO_WORKER
workers = 4
listen = $T/m.sock
max_attempts = 5
restart_delay = 20ms
restart_delay_max = 300ms
crash_limit = none

[pool:h]
command = $ECHO_WORKER
workers = 2
listen = $T/h.sock
mode = handoff
EOF2
prlimit --nofile="$NOFILE:$NOFILE" -- "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd to answer" dv status
wait_for 10 "m running" pool_running m 4
wait_for 10 "h running" pool_running h 2
assert_eq "$(awk '/^Max open files/ {print $4}' /proc/"$DAEMON_PID"/limits)" "$NOFILE" "droverd's RLIMIT_NOFILE"
wc_run "$T/wc_warm" -s "$T/m.sock" -c 2 -p 4 -n 500
wc_run "$T/wc_warm_h" -s "$T/h.sock" --raw -k 1 -c 2 -n 200
fds_base=$(fd_count_settled "$DAEMON_PID")
CLIENT_CAP=$((NOFILE - 64 - 9 * 6))
log "droverd: $fds_base fds at rest; room for $CLIENT_CAP client connections"

# flood N PATH HELD RELEASE BODY: hold N connections to a Unix socket (non-blocking connects;
# stop early when the backlog stays full for 1 s), each with one length-framed request BODY on it (none
# when BODY is empty); write how many are held to HELD; close them all once RELEASE exists.
flood() {
    timeout 120 python3 - "$@" <<'PY'
import os, resource, socket, struct, sys, time
n, path, held, release, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].encode()
payload = struct.pack(">I", len(body)) + body if body else b""
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
socks = []
last = time.monotonic()
while len(socks) < n and time.monotonic() - last < 1.0:
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    try:
        s.connect(path)
    except BlockingIOError:  # the backlog is full: wait for droverd to accept, or give up after 1 s
        s.close()
        time.sleep(0.005)
        continue
    last = time.monotonic()
    if payload:
        try:
            s.send(payload)
        except BlockingIOError:
            pass
    socks.append(s)
open(held + ".tmp", "w").write("%d\n" % len(socks))
os.rename(held + ".tmp", held)
while not os.path.exists(release):
    time.sleep(0.02)
for s in socks:
    s.close()
PY
}

# --- phase A: 1000 work connections ---
# (Each load runs until its phase is over: wc_stop.)
wc_start "$T/wc_a" -s "$T/m.sock" -c 8 -p 8 -z 100 -t 40 -d 80
wait_for 5 "the pipelining client to connect" pool_route_ge m connections 8
flood 1000 "$T/m.sock" "$T/held_a" "$T/release_a" flood >"$T/flood_a.out" 2>&1 &
flood_a=$!
track_pid $flood_a
wait_for 20 "the flood to connect" test -s "$T/held_a"
wait_for 10 "droverd to fill its client budget" pool_route_ge m connections $((CLIENT_CAP - 2))
log "flood: $(cat "$T/held_a") connections held; droverd holds $(pool_route m connections) clients, $(fd_count "$DAEMON_PID") fds"
[ "$(pool_route m connections)" -le "$CLIENT_CAP" ] ||
    fail "droverd took $(pool_route m connections) client connections; the limit leaves room for $CLIENT_CAP"
status_probe 2 "$T/probe_a"
probe_check "$T/probe_a" $((1000 * SLOWDOWN)) "status during the work flood"
# Workers killed now are respawned: the reserve keeps the fds for that.
restarts0=$(slot_sum m restarts)
read -r -a m_pids <<<"$(pool_pids m)"
kill -KILL "${m_pids[0]}" "${m_pids[1]}"
restarted() { [ "$(slot_sum m restarts)" -ge $((restarts0 + 2)) ]; }
wait_for 10 "the killed workers to be respawned during the flood" restarted
wait_for 10 "m running during the flood" pool_running m 4
assert_eq "$(metric drover_pool_spawn_failures_total 'pool="m"')" 0 "spawn failures during the work flood"
touch "$T/release_a"
wait $flood_a || fail "flood client: $(cat "$T/flood_a.out")"
wc_stop "$T/wc_a"
log "pipelining client through the work flood: $(cat "$T/wc_a")"
wc_clean "$T/wc_a" "pipelining client through the work flood"
wait_for 15 "the flood's connections to be taken and closed" pool_route_is m connections 0
wc_run "$T/wc_h_after_a" -s "$T/h.sock" --raw -k 1 -c 2 -n 200

# --- phase B: idle control clients take every fd left ---
wc_start "$T/wc_b" -s "$T/m.sock" -c 4 -p 4 -z 100 -t 40 -d 80
wait_for 5 "the pipelining client to connect" pool_route_ge m connections 4
victim=$(pool_pids m | cut -d' ' -f1) # now: status is locked out once the fds are gone
flood 400 "$SOCK" "$T/held_b" "$T/release_b" "" >"$T/flood_b.out" 2>&1 &
flood_b=$!
track_pid $flood_b
wait_for 20 "the control flood to connect" test -s "$T/held_b"
fds_full() { [ "$(fd_count "$DAEMON_PID")" -ge $((NOFILE - 1)) ]; }
wait_for 10 "droverd to run out of fds" fds_full
log "control flood: $(cat "$T/held_b") connections; droverd at $(fd_count "$DAEMON_PID") of $NOFILE fds"
kill -KILL "$victim"
wait_for 10 "the respawn to fail for want of fds" file_has "$T/droverd.log" \
    "pool m slot 0: .*(Too many open files)"
wc_stop "$T/wc_b"
log "pipelining client while out of fds: $(cat "$T/wc_b")"
wc_clean "$T/wc_b" "pipelining client while out of fds"
# Still out of fds, and idle: retries are paced (backoff, accept pauses), not a busy loop.
c0=$(cpu_ticks "$DAEMON_PID")
t0=$(now_ms)
sleep 1.5 # a window to measure droverd's CPU use in (not a wait for a condition)
cpu_ms=$((($(cpu_ticks "$DAEMON_PID") - c0) * 1000 / $(getconf CLK_TCK)))
log "out of fds and idle: droverd used $cpu_ms ms of CPU in $(($(now_ms) - t0)) ms"
[ "$cpu_ms" -lt $((300 * SLOWDOWN)) ] || fail "droverd used $cpu_ms ms of CPU in 1.5 s while out of fds: spinning?"
[ "$(fd_count "$DAEMON_PID")" -ge $((NOFILE - 2)) ] || fail "the fds came back too early for this test to mean anything"
alive "$DAEMON_PID" || fail "droverd died out of fds"
t0=$(now_ms)
touch "$T/release_b"
wait $flood_b || fail "control flood client: $(cat "$T/flood_b.out")"
wait_for 10 "status to answer once fds are back" dv status
wait_for 10 "m running again" pool_running m 4
log "recovered $(($(now_ms) - t0)) ms after the control clients left"
failures=$(metric drover_pool_spawn_failures_total 'pool="m"')
[ "$failures" -ge 1 ] || fail "no spawn failure was counted while out of fds"
warns=$(grep -c 'accept (pausing' "$T/droverd.log")
log "out of fds: $failures failed spawns; droverd logged $warns accept pauses"
wc_run "$T/wc_after" -s "$T/m.sock" -c 4 -p 4 -n 2000
wc_run "$T/wc_h_after" -s "$T/h.sock" --raw -k 1 -c 2 -n 200
wait_for 5 "m idle" pool_route_is m connections 0
fds_back() { [ "$(fd_count "$DAEMON_PID")" = "$fds_base" ]; }
wait_for 5 "droverd's open fds back to $fds_base after the floods" fds_back
