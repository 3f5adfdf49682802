#!/bin/bash
# on_fatal = exit: when a slot of that pool goes fatal, droverd shuts down
# with status 3, and no worker (of any pool, children included) remains.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:doomed]
command = $PROBE_WORKER --exit-if $T/crash 1
workers = 1
restart_delay = 20ms
restart_delay_max = 1s
crash_limit = 2/10s
on_fatal = exit

[pool:bystander]
command = $PROBE_WORKER --family $T/family.%w --info $T/info.%w
workers = 2
EOF2
# The doomed worker runs at first, so the bystanders are seen running; then it is made to crash.
start_daemon
wait_for 10 "doomed running" pool_running doomed
wait_for 10 "bystanders running" pool_running bystander
wait_for 5 "bystander families" test -f "$T/info.1"
read -r b0 b1 <<<"$(pool_pids bystander)"
read -r c0 g0 <"$T/family.0"
read -r c1 g1 <"$T/family.1"
for p in "$b0" "$b1" "$c0" "$g0" "$c1" "$g1"; do track_pid "$p"; done

touch "$T/crash"
kill -KILL "$(slot_field doomed 0 pid)"
wait_daemon_exit 15
assert_eq "$DAEMON_STATUS" 3 "droverd exit status after a pool with on_fatal = exit went fatal"
grep -q "pool doomed slot 0: fatal" "$T/droverd.log" || fail "no log line for the fatal slot"
grep -q "on_fatal = exit" "$T/droverd.log" || fail "the log does not say why droverd exits"
wait_for 5 "every bystander worker, child and grandchild gone" gone "$b0" "$b1" "$c0" "$g0" "$c1" "$g1"
untrack_gone
expect_exit 3 "drover status once droverd has exited" dv status
[ ! -e "$SOCK" ] || fail "control socket $SOCK left behind"
