#!/bin/bash
# Backpressure: with max_queue small and one slow worker, requests beyond the
# queue are answered "-BUSY ..." at once (long before the worker could answer
# them), the others are served; `drover call` prints the BUSY error and exits 1.
. "$(dirname "$0")/lib.sh"
uses route

write_config <<EOF2
[pool:slow]
command = $FAULTY_ECHO_WORKER --delay-ms 1000
workers = 1
listen = $T/slow.sock
worker_inflight = 1
max_queue = 2

[pool:slower]
command = $FAULTY_ECHO_WORKER --delay-ms 3000
workers = 1
listen = $T/slower.sock
worker_inflight = 1
max_queue = 1
EOF2
start_daemon
wait_for 10 "slow running" pool_running slow 1
wait_for 10 "slower running" pool_running slower 1

# Ten clients, one request each, all at once: 1 in flight + 2 queued are served
# (about 1, 2 and 3 s), the other 7 get BUSY straight away.
wc_run "$T/wc" -s "$T/slow.sock" -c 10 -p 1 -n 10 -a busy -d 20
log "$(cat "$T/wc")"
assert_eq "$(wc_get "$T/wc" ok)" 3 "requests served (1 in flight + max_queue 2)"
assert_eq "$(wc_get "$T/wc" busy)" 7 "requests answered BUSY"
busy_max=$(wc_get "$T/wc" err_max_us)
ok_max=$(wc_get "$T/wc" ok_max_us)
[ "$busy_max" -lt 800000 ] || fail "slowest BUSY reply took ${busy_max}us; BUSY must come at once"
[ "$ok_max" -ge 2900000 ] || fail "slowest served reply took ${ok_max}us; the worker takes 1 s each"
assert_eq "$(pool_route slow busy)" 7 "pool busy counter"

# drover call while the worker and the queue are full (a 3 s worker, so the
# queue stays full well past the slowest status call on a loaded machine).
wc_start "$T/wc_fill" -s "$T/slower.sock" -c 2 -p 1 -n 2 -d 20
wait_for 5 "queue full" pool_route_is slower queued 1
t0=$(now_ms)
rc=0
err=$(dv call slower "one too many" 2>&1 >"$T/call.out") || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq "$rc" 1 "exit status of drover call answered BUSY"
assert_contains "$err" "BUSY"
[ ! -s "$T/call.out" ] || fail "BUSY call printed on stdout: $(cat "$T/call.out")"
[ "$elapsed" -lt 1500 ] || fail "drover call took ${elapsed}ms to report BUSY"
assert_eq "$(pool_route slower busy)" 1 "pool busy counter after the call"
wc_wait "$T/wc_fill"
assert_eq "$(wc_get "$T/wc_fill" ok)" 2 "requests that filled the worker and the queue"

# Once the queue drained, the pool serves again.
out=$(dv call slow again) || fail "call after the queue drained failed"
assert_eq "$out" again "reply after the queue drained"
assert_eq "$(pool_route slow failed)" 0 "failed requests"
assert_eq "$(pool_route slower failed)" 0 "failed requests"
