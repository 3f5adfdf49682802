#!/bin/bash
# SIGKILL of droverd: its workers die with it (PR_SET_PDEATHSIG), including
# workers that changed uid (the credential change clears the parent-death
# signal, so droverd must set it afterwards).
. "$(dirname "$0")/lib.sh"
uses proc

write_config <<EOF2
[pool:plain]
command = $PROBE_WORKER
workers = 2

[pool:asuser]
command = $PROBE_WORKER
workers = 1
user = nobody
directory = /
EOF2
start_daemon
wait_for 10 "plain running" pool_running plain
wait_for 10 "asuser running" pool_running asuser
pids="$(pool_pids plain) $(pool_pids asuser)"
for p in $pids; do track_pid "$p"; done
up=$(slot_field asuser 0 pid)
assert_eq "$(proc_field "$up" Uid | cut -d' ' -f1)" "$(id -u nobody)" "uid of the asuser worker"
for p in $pids; do
    assert_eq "$(ps -o ppid= -p "$p" | tr -d ' ')" "$DAEMON_PID" "parent of worker $p"
done

kill -KILL "$DAEMON_PID"
wait_daemon_exit 5 2>/dev/null # no "Killed" job notice in the test output
assert_eq "$DAEMON_STATUS" 137 "droverd status after SIGKILL"
# Dead, or a zombie waiting for whoever inherited it: reaping it is no longer droverd's job.
for p in $pids; do
    wait_for 5 "worker $p dead after droverd was killed" dead "$p"
done
untrack_gone
