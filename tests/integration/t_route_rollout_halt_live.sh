#!/bin/bash
# A pool whose rollout halted keeps the settings it was rolled back to, and a
# later reload that changes only keys applied live (here queue_timeout and
# max_queue) applies them at once: the halt stays and the workers keep the
# previous command, but the new limits hold. (They used to wait until the pool
# was changed again by a reload that restarts its workers.) Issue 14.
. "$(dirname "$0")/lib.sh"
uses route

# conf COMMAND QUEUE_TIMEOUT
conf() {
    write_config <<EOF2
[pool:web]
command = $1
workers = 2
listen = $T/web.sock
start_grace = 300ms
restart_delay = 8s
crash_limit = 0
queue_timeout = $2
EOF2
}
CRASH='/bin/sh -c "exit 7"'
conf "$ECHO_WORKER" 30s
start_daemon
wait_for 10 "web running" pool_running web
read -r w0 w1 <<<"$(pool_pids web)"

conf "$CRASH" 30s
expect_exit 1 "reload to a crashing command" dv reload
assert_eq "$(pool_json web "p['rollout_halted'] is not None")" True "web halted"

# Only a live key changes: applied, the halt and the previous command stay.
conf "$CRASH" 300ms
expect_exit 0 "reload of a live key on a halted pool" dv reload
assert_contains "$RUN_OUT$RUN_ERR" "pool web: queue_timeout changed" "reload output"
assert_eq "$(pool_json web "p['rollout_halted'] is not None")" True "web still halted"
wait_for 10 "web:0 rolled back and started" slot_true web 0 "x['started'] and x['pid'] != $w0"
assert_contains "$(tr '\0' ' ' <"/proc/$(slot_field web 0 pid)/cmdline")" "$ECHO_WORKER" \
    "web:0 command after the live reload"
assert_eq "$(slot_field web 1 pid)" "$w1" "web:1 untouched"

# The new queue_timeout holds: with no worker, a request is answered TIMEOUT after 300ms.
expect_exit 0 "stop web" dv stop web
t0=$(now_ms)
run_capture dv call --timeout 10s web hello
el=$(($(now_ms) - t0))
assert_contains "$RUN_ERR" "TIMEOUT" "call on the stopped halted pool"
assert_contains "$RUN_ERR" "300ms" "the TIMEOUT names the new queue_timeout"
[ "$el" -lt 5000 ] || fail "the request waited ${el}ms (queue_timeout 300ms not applied)"
finish_checks
