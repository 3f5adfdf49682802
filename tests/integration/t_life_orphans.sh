#!/bin/bash
# A worker double-forks orphans: as a child subreaper droverd inherits them,
# and when they exit it reaps them: no zombie whose parent is droverd remains,
# and the worker itself is undisturbed.
. "$(dirname "$0")/lib.sh"
uses proc

write_config <<EOF2
[pool:parent]
command = $PROBE_WORKER --orphans 5 $T/orphans.%w --info $T/info.%w
workers = 2
EOF2
start_daemon
wait_for 10 "workers running" pool_running parent
wait_for 5 "worker 0 set up" test -f "$T/info.0"
wait_for 5 "worker 1 set up" test -f "$T/info.1"
ten_reported() { [ "$(cat "$T"/orphans.0 "$T"/orphans.1 2>/dev/null | wc -l)" -eq 10 ]; }
wait_for 5 "ten orphans reported" ten_reported
read -r w0 w1 <<<"$(pool_pids parent)"
orphans=$(cut -d' ' -f1 "$T"/orphans.0 "$T"/orphans.1)
for p in $orphans; do track_pid "$p"; done
# Each orphan saw droverd become its parent once the middle process exited.
while read -r pid ppid; do
    assert_eq "$ppid" "$DAEMON_PID" "parent of orphan $pid after reparenting"
    assert_eq "$(ps -o ppid= -p "$pid" | tr -d ' ')" "$DAEMON_PID" "parent of orphan $pid in /proc"
done < <(cat "$T"/orphans.0 "$T"/orphans.1)
reaped_before=$(dv metrics | awk '$1 == "drover_orphans_reaped_total" {print $2}')
[ -n "$reaped_before" ] || fail "no drover_orphans_reaped_total in drover metrics"

# Let them exit: droverd must reap every one.
touch "$T/orphans.0.go" "$T/orphans.1.go"
wait_for 10 "every orphan reaped (no /proc entry left)" gone $orphans
untrack_gone
wait_for 5 "no zombie child of droverd" no_zombies_of "$DAEMON_PID"
reaped_after=$(dv metrics | awk '$1 == "drover_orphans_reaped_total" {print $2}')
assert_eq "$((reaped_after - reaped_before))" 10 "orphans counted as reaped in the metrics"

# The workers were not mistaken for the orphans.
assert_eq "$(pool_pids parent)" "$w0 $w1" "worker pids after their orphans exited"
assert_eq "$(pool_json parent "' '.join(x['state'] + ':' + str(x['restarts']) for x in p['slots'])")" \
    "running:0 running:0" "worker states and restarts after their orphans exited"
