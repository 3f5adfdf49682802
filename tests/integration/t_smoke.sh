#!/bin/bash
# A pool starts, answers status, and shutdown leaves no worker behind.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:echo]
command = $ECHO_WORKER
workers = 2
listen = $T/echo.sock
EOF2
start_daemon
wait_for 10 "both workers running" pool_running echo
p0=$(slot_field echo 0 pid)
p1=$(slot_field echo 1 pid)
out=$(dv call echo hello) || fail "call failed"
assert_eq "$out" "hello" "call reply"
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
wait_for 5 "workers gone" dead "$p0"
wait_for 5 "workers gone" dead "$p1"
