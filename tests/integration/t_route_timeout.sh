#!/bin/bash
# request_timeout and max_attempts: a stopped (SIGSTOP) worker's request times
# out, the worker is killed and restarted, and the request is served by another
# worker; a request every worker hangs on gets "-TIMEOUT"; a request that crashes
# every worker it reaches gets "-FAILED" after max_attempts; a request that
# crashes only the first worker is retried and served; other requests are not
# disturbed by any of it.
. "$(dirname "$0")/lib.sh"
uses route

mkdir -p "$T/once"
write_config <<EOF2
[pool:to]
command = $FAULTY_ECHO_WORKER --once-dir $T/once
workers = 2
listen = $T/to.sock
request_timeout = 500ms
max_attempts = 2
restart_delay = 0
crash_limit = none
# one request per worker at a time: with a window, requests prefetched behind
# the hanging or crashing one would share its attempts (README, the adaptive window)
worker_inflight = 1
EOF2
start_daemon
wait_for 10 "to running" pool_running to 2

# --- a stopped worker: its request times out and is served elsewhere ---
victim=$(slot_field to 0 pid)
other=$(slot_field to 1 pid)
kill -STOP "$victim"
# Two requests at a time: one of each pair lands on the stopped worker.
wc_run "$T/wc_stop" -s "$T/to.sock" -c 2 -p 1 -n 40 -d 20
log "stopped worker: $(cat "$T/wc_stop")"
assert_eq "$(wc_get "$T/wc_stop" ok)" 40 "requests served with one worker stopped"
ok_max=$(wc_get "$T/wc_stop" ok_max_us)
[ "$ok_max" -ge 450000 ] || fail "no request waited for the timeout (max ${ok_max}us)"
[ "$(pool_route to timeouts)" -ge 1 ] || fail "no timeout was counted"
assert_eq "$(pool_route to failed)" 0 "failed after the stopped worker"
[ "$(pool_route to retries)" -ge 1 ] || fail "the timed-out request was not retried"
wait_for 5 "the stopped worker to be killed and replaced" pid_changed to 0 "$victim"
wait_for 5 "the stopped worker to be reaped" dead "$victim"
assert_eq "$(slot_field to 0 restarts)" 1 "restarts of slot 0"
assert_eq "$(status_json "next(x['last_exit']['signal'] for p in s['pools'] if p['name']=='to' for x in p['slots'] if x['slot']==0)")" \
    KILL "how the stopped worker ended"
assert_eq "$(slot_field to 1 pid)" "$other" "pid of the healthy worker"
wait_for 5 "both running" pool_running to 2

# --- every attempt times out: -TIMEOUT after max_attempts ---
# (The background load runs until the phase is over: wc_stop.)
base=$(pool_route to requests)
wc_start "$T/wc_bg1" -s "$T/to.sock" -c 2 -p 2 -t 30 -d 60
wait_for 10 "load on to" pool_route_ge to requests $((base + 100))
t0=$(now_ms)
timeouts0=$(pool_route to timeouts)
rc=0
err=$(dv call to "HANG forever" 2>&1 >"$T/hang.out") || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq "$rc" 1 "exit status of a call that timed out"
assert_contains "$err" "TIMEOUT"
assert_contains "$err" "2 attempts"
[ "$elapsed" -ge 900 ] || fail "TIMEOUT after ${elapsed}ms: two attempts of 500ms each take longer"
[ "$elapsed" -lt 5000 ] || fail "TIMEOUT took ${elapsed}ms"
assert_eq "$(( $(pool_route to timeouts) - timeouts0 ))" 2 "timeouts counted for the hanging request"
wc_stop "$T/wc_bg1"
log "during HANG: $(cat "$T/wc_bg1")"

# --- a request that kills every worker: -FAILED after max_attempts ---
wait_for 5 "both running" pool_running to 2
failed0=$(pool_route to failed)
restarts0=$(slot_sum to restarts)
base=$(pool_route to requests)
wc_start "$T/wc_bg2" -s "$T/to.sock" -c 2 -p 2 -t 30 -d 60
wait_for 10 "load on to" pool_route_ge to requests $((base + 100))
rc=0
err=$(dv call to "CRASH please" 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of a call whose request crashes every worker"
assert_contains "$err" "FAILED"
assert_contains "$err" "2 attempts"
wc_stop "$T/wc_bg2"
log "during CRASH: $(cat "$T/wc_bg2")"
assert_eq "$(( $(pool_route to failed) - failed0 ))" 1 "failed counter after the crashing request"
wait_for 5 "both running" pool_running to 2
assert_eq "$(( $(slot_sum to restarts) - restarts0 ))" 2 "workers restarted by the crashing request"

# --- a request that crashes only the first worker it reaches is served by the next ---
retries0=$(pool_route to retries)
out=$(dv call to "ONCE:c1:CRASH") || fail "a request that crashed one worker was not retried"
assert_eq "$out" "ONCE:c1:CRASH" "reply to the retried request"
assert_eq "$(( $(pool_route to retries) - retries0 ))" 1 "retries after one crash"
assert_eq "$(( $(pool_route to failed) - failed0 ))" 1 "failed counter unchanged by a served retry"
dv status >/dev/null || fail "droverd stopped answering"
