#!/bin/bash
# Requests never wait forever (queue_timeout, drover call --timeout): on a pool
# scaled to 0, `drover scale` warns that requests will wait; a request no
# worker takes is answered "-TIMEOUT" at queue_timeout and counted; `drover call
# --timeout` gives up on its own (exit 4) on a pool whose queue_timeout is 0;
# a request whose client hung up while it waited is dropped (counted) and never
# reaches a worker once one runs again.
. "$(dirname "$0")/lib.sh"
uses route

mkdir -p "$T/count"
write_config <<EOF2
[pool:q]
command = $FAULTY_ECHO_WORKER --count-dir $T/count
workers = 1
listen = $T/q.sock
queue_timeout = 500ms

[pool:forever]
command = $FAULTY_ECHO_WORKER
workers = 1
listen = $T/forever.sock
queue_timeout = 0

[pool:again]
command = $FAULTY_ECHO_WORKER
workers = 1
listen = $T/again.sock
queue_timeout = 500ms
max_attempts = 3
restart_delay = 5s
EOF2
start_daemon
wait_for 10 "q running" pool_running q 1
wait_for 10 "forever running" pool_running forever 1
assert_eq "$(dv call q hello)" hello "a call with a worker"

# --- scale to 0: a warning; the request is answered TIMEOUT at queue_timeout ---
out=$(dv scale q 0 2>&1) || fail "scale q 0 failed: $out"
assert_contains "$out" "warning: pool q still takes requests"
assert_contains "$out" "TIMEOUT after 500ms"
wait_for 10 "q has no worker" pool_true q "not any(x['pid'] for x in p['slots'])"
t0=$(now_ms)
rc=0
err=$(dv call q waiting 2>&1 >/dev/null) || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq "$rc" 1 "exit status of a call answered TIMEOUT"
assert_contains "$err" "TIMEOUT no worker took the request within 500ms (queue_timeout)"
[ "$elapsed" -ge 450 ] || fail "TIMEOUT after ${elapsed}ms, before queue_timeout"
[ "$elapsed" -lt $((5000 * SLOWDOWN)) ] || fail "TIMEOUT took ${elapsed}ms"
assert_eq "$(pool_route q queue_timeouts)" 1 "queue_timeouts in status"
assert_eq "$(metric drover_pool_queue_timeouts_total 'pool="q"')" 1 "queue timeouts metric"
assert_eq "$(pool_route q queued)" 0 "requests still queued"

# --- call --timeout: the CLI gives up by itself (queue_timeout = 0 waits forever) ---
out=$(dv scale forever 0 2>&1) || fail "scale forever 0 failed: $out"
assert_contains "$out" "wait forever"
wait_for 10 "forever has no worker" pool_true forever "not any(x['pid'] for x in p['slots'])"
t0=$(now_ms)
rc=0
err=$(dv call forever --timeout 300ms waiting 2>&1 >/dev/null) || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq "$rc" 4 "exit status of call --timeout"
assert_contains "$err" "no reply from pool forever within 300ms (--timeout)"
[ "$elapsed" -ge 250 ] || fail "call --timeout gave up after ${elapsed}ms"
[ "$elapsed" -lt $((3000 * SLOWDOWN)) ] || fail "call --timeout took ${elapsed}ms"
rc=0
err=$(dv call forever --timeout soon x 2>&1) || rc=$?
assert_eq "$rc" 2 "exit status of a bad --timeout"
assert_contains "$err" "--timeout"

# --- the CLI that gave up hung up: its request is dropped, never delivered ---
wait_for 10 "the abandoned request to be dropped" pool_route_is forever abandoned 1
assert_eq "$(pool_route forever queued)" 0 "requests queued after the client hung up"
# More clients that hang up while waiting, pipelined ones among them.
py_client "$T/forever.sock" <<'PY' || fail "hang-up clients failed"
import socket, struct, sys
for i in range(5):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    for j in range(3):
        body = b"DEAD-%d-%d" % (i, j)
        s.sendall(struct.pack(">I", len(body)) + body)
    s.close()
PY
wait_for 10 "the hung-up clients' requests to be dropped" pool_route_is forever abandoned 16
dv scale forever 1 >/dev/null || fail "scale forever 1"
wait_for 10 "forever running" pool_running forever 1
assert_eq "$(dv call forever --timeout 10s alive)" alive "a call once a worker runs"
assert_eq "$(pool_route forever requests)" 1 "requests workers of forever answered (only the live one)"
assert_eq "$(metric drover_pool_abandoned_total 'pool="forever"')" 16 "abandoned metric"

# --- the same on q with its counting worker: nothing of a gone client is served ---
dv scale q 1 >/dev/null || fail "scale q 1"
wait_for 10 "q running" pool_running q 1
assert_eq "$(dv call q again)" again "q serves again"
served=$(cat "$T"/count/* | awk '{s += $1} END {print s}')
assert_eq "$served" 2 "requests q's workers received (hello, again)"

# --- a request that reached a worker, died with it and then waited past
# queue_timeout for another: FAILED saying it was delivered, never the
# queue's "no worker took the request" (which means: safe to send again) ---
wait_for 10 "again running" pool_running again 1
rc=0
err=$(dv call again --timeout 20s CRASH-once 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of a call whose request died with its worker and then waited"
# (Delivered once or twice: the first restart after a crash is at once, restart_delay applies after.)
assert_contains "$err" "FAILED delivered "
assert_contains "$err" "without an answer (the worker died), then no worker took it again within 500ms (queue_timeout)"
case "$err" in *"no worker took the request"*) fail "a delivered request answered as never delivered: $err" ;; esac
assert_eq "$(pool_route again queue_timeouts)" 1 "queue timeouts of again"
log "ok: queue_timeout, call --timeout, dropped requests of gone clients, a delivered request expiring"
