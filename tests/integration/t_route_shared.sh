#!/bin/bash
# mode = shared: every worker gets the listening socket as fd 3 with
# LISTEN_FDS=1, LISTEN_PID=<its own pid> and LISTEN_FDNAMES=<pool> (the systemd
# socket-activation convention); faulty-echo-worker --check-env checks and records
# that for every worker it starts, then execs echo-worker, which accepts on
# fd 3 itself. Connection-per-request load while workers are SIGKILLed: no
# connection is refused, no reply is wrong; the socket file keeps its inode.
# With every worker stopped, clients wait in the backlog and are served after
# `drover start`.
. "$(dirname "$0")/lib.sh"
uses route fault

write_config <<EOF2
[pool:sh]
command = $FAULTY_ECHO_WORKER --check-env $T/env.log $ECHO_WORKER
workers = 3
listen = $T/sh.sock
mode = shared
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
EOF2
start_daemon
wait_for 10 "sh running" pool_running sh 3
inode=$(stat -c %i "$T/sh.sock")
assert_eq "$(pool_route sh mode)" shared "route mode in status"

# The environment of the first three workers.
env_records_at_least() { [ -f "$T/env.log" ] && [ "$(wc -l <"$T/env.log")" -ge "$1" ]; }
wait_for 5 "three env records" env_records_at_least 3
grep -v " ok $T/sh.sock\$" "$T/env.log" && fail "a worker's environment is wrong (see above)"
for p in $(pool_pids sh); do
    grep -q "^$p ok " "$T/env.log" || fail "no env record for worker $p: $(cat "$T/env.log")"
done

wc_run "$T/wc_clean" -s "$T/sh.sock" --raw -k 1 -c 8 -n 3000 -z 64 -d 20
wc_run "$T/wc_pipe" -s "$T/sh.sock" --raw -c 4 -p 8 -n 3000 -z 64 -d 20

# --- load while workers are killed ---
# The pace of this machine without kills, to measure the pace under kills against.
wc_run "$T/wc_base" -s "$T/sh.sock" --raw -k 1 -c 16 -n 2000 -z 64 -d 120
base_rps=$(wc_get "$T/wc_base" rps)
# How long a killed worker takes to be replaced here (natively ~1 ms; 100 times that under
# a sanitizer on a busy machine). Kills come no faster than one per replacement, or no
# worker would live long enough to accept and the load would measure the machine.
old_pid=$(slot_field sh 0 pid)
t0=$(now_ms)
kill -KILL "$old_pid"
wait_for 10 "sh slot 0 replaced" pid_changed sh 0 "$old_pid"
wait_for 10 "sh running" pool_running sh 3
interval_ms=$(($(now_ms) - t0))
[ "$interval_ms" -ge 5 ] || interval_ms=5
[ "$interval_ms" -le 300 ] || interval_ms=300 # 100 kills within kill_loop's cap (40 s)
log "a worker was replaced in ${interval_ms} ms (with the status polls): one kill every ${interval_ms} ms"
# The clients keep connecting while the killing runs (4 s and at least 100 kills), then
# drain; -t is only a bound.
wc_start "$T/wc_kill" -s "$T/sh.sock" --raw -k 1 -c 16 -z 64 -t 150 -d 180 -a lost
kills=$(kill_loop -n 100 4 "0.$(printf '%03d' "$interval_ms")" sh)
wc_stop "$T/wc_kill"
log "$kills kills; without kills $base_rps connections/s; $(cat "$T/wc_kill")"
[ "$kills" -ge 100 ] || fail "only $kills kills were sent"
for k in connect_failed mismatched duplicated unexpected malformed unanswered; do
    assert_eq "$(wc_get "$T/wc_kill" "$k")" 0 "workclient $k under kills"
done
# Killing a worker every 5 ms costs throughput, not all of it: at least 1/20 of the pace
# without kills (natively ~400 connections/s; a stall serves none).
rps=$(wc_get "$T/wc_kill" rps)
[ "$rps" -ge $((base_rps / 20)) ] ||
    fail "only $rps connections/s served under kills (without kills: $base_rps)"
wait_for 10 "all running again" pool_running sh 3
assert_eq "$(stat -c %i "$T/sh.sock")" "$inode" "inode of the socket after worker restarts"

# Every worker ever started saw the same, correct environment. A worker killed
# before it got to write its record leaves none (how many depends on how fast
# workers start on this machine: about half under ASan), so the count only has to
# show that restarted workers were checked, and today's workers must all be there.
for p in $(pool_pids sh); do
    wait_for 5 "env record of worker $p" grep -q "^$p ok " "$T/env.log"
done
records=$(wc -l <"$T/env.log")
[ "$records" -ge 13 ] || fail "only $records workers recorded their environment after $kills kills"
if grep -v " ok $T/sh.sock\$" "$T/env.log" >"$T/env.bad"; then
    fail "$(wc -l <"$T/env.bad") of $records workers had a wrong environment: $(head -n 3 "$T/env.bad")"
fi
dv status >/dev/null || fail "droverd stopped answering"
wc_run "$T/wc_after" -s "$T/sh.sock" --raw -k 1 -c 8 -n 2000 -z 64 -d 20

# --- every worker stopped: clients wait in the backlog, served after start ---
backlog_served sh "$T/sh.sock"
assert_eq "$(stat -c %i "$T/sh.sock")" "$inode" "inode of the socket after stop/start"
