#!/bin/bash
# SPDX-License-Identifier: ISC
# A start or restart whose new worker is stopped before it counts as started
# (by `drover stop`, or droverd's shutdown) fails, exit 1, and says the worker
# was stopped: not "exited while starting (exit 0)", which reads as a worker
# that failed to start. Found by a hostile probe of the lifecycle verbs. The
# new workers here never send READY=1 until told, so nothing depends on timing.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:n]
command = $NOTIFY_WORKER --trigger $T/go
workers = 1
ready = notify
start_timeout = 60s
EOF2
touch "$T/go"
start_daemon
wait_for 10 "n running" state_is n 0 running
rm "$T/go"

# starting_new OLD: slot n:0 runs a worker other than OLD that has not sent READY=1.
starting_new() { [ "$(slot_json n 0 "'%s %s' % (x['state'], x['pid'] != $1)")" = "starting True" ]; }

# A restart overtaken by a stop.
old=$(slot_field n 0 pid)
"$DROVER" -s "$SOCK" restart n >"$T/restart.out" 2>&1 &
restarter=$!
track_pid "$restarter"
wait_for 10 "n's new worker starting" starting_new "$old"
expect_exit 0 "drover stop n while it restarts" dv stop n
rc=0
wait "$restarter" || rc=$?
assert_eq "$rc" 1 "exit status of the restart overtaken by a stop"
assert_contains "$(cat "$T/restart.out")" "n:0 was stopped by another command before it counted as started"

# A start overtaken by the shutdown.
"$DROVER" -s "$SOCK" start n >"$T/start.out" 2>&1 &
starter=$!
track_pid "$starter"
wait_for 10 "n's new worker starting" starting_new 0
expect_exit 0 "drover shutdown --no-wait" dv shutdown --no-wait
rc=0
wait "$starter" || rc=$?
assert_eq "$rc" 1 "exit status of the start overtaken by the shutdown"
assert_contains "$(cat "$T/start.out")" "n:0 was stopped by droverd's shutdown before it counted as started"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
