#!/bin/bash
# A worker double-forks orphans: as a child subreaper droverd inherits them,
# and when they exit it reaps them: no zombie whose parent is droverd remains,
# and the worker itself is undisturbed.
# Then orphans that left the worker's session (setsid, as a daemonizing program
# does), one of them deaf to SIGTERM: status and metrics count them as adopted,
# and the shutdown ends them once the workers are gone (SIGTERM, then SIGKILL at
# shutdown_timeout), within shutdown_timeout plus its 1 s margin.
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

# The adopted count: none left now.
assert_eq "$(status_json "s['daemon']['adopted']")" 0 "adopted processes once the orphans exited"
stop_daemon 20 || fail "droverd did not stop"

# --- orphans outside the workers' process groups, ended by the shutdown ---
rm -f "$T"/sess.* "$T"/deaf.*
write_config <<EOF2
[pool:sess]
command = $PROBE_WORKER --orphans 3 $T/sess.%w --orphans-setsid
workers = 1

[pool:deaf]
command = $PROBE_WORKER --orphans 1 $T/deaf.%w --orphans-setsid --orphans-ignore-term
workers = 1
EOF2
sed -i 's/^shutdown_timeout = .*/shutdown_timeout = 3s/' "$CONF"
start_daemon
wait_for 10 "sess running" pool_running sess
wait_for 10 "deaf running" pool_running deaf
four_reported() { [ "$(cat "$T"/sess.0 "$T"/deaf.0 2>/dev/null | wc -l)" -eq 4 ]; }
wait_for 10 "four orphans reported" four_reported
sess=$(cut -d' ' -f1 "$T"/sess.0)
deaf=$(cut -d' ' -f1 "$T"/deaf.0)
workers="$(pool_pids sess) $(pool_pids deaf)"
for p in $sess $deaf $workers; do track_pid "$p"; done
for p in $sess $deaf; do
    assert_eq "$(ps -o ppid= -p "$p" | tr -d ' ')" "$DAEMON_PID" "parent of setsid orphan $p"
    [ "$(ps -o pgid= -p "$p" | tr -d ' ')" != "$(pool_pids sess)" ] || fail "orphan $p is in its worker's group"
done
adopted_is() { [ "$(status_json "s['daemon']['adopted']")" = "$1" ]; }
wait_for 5 "status: 4 adopted" adopted_is 4
assert_eq "$(metric drover_adopted_processes)" 4 "drover_adopted_processes"
assert_contains "$(dv status --wide)" "adopted: 4 processes" "drover status (text)"

# One of them is suspended: TERM would stay pending in it until the KILL at the deadline.
set -- $sess
kill -STOP "$1"
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
# Once the workers are gone, TERM ends the three that listen at once (then CONT wakes the
# suspended one to take it).
wait_for 2 "the orphans that take SIGTERM gone" gone $sess
alive "$deaf" || fail "the orphan that ignores SIGTERM died before shutdown_timeout"
alive "$DAEMON_PID" || fail "droverd exited before the adopted process that ignores SIGTERM"
wait_daemon_exit 10
t_exit=$(($(now_ms) - t0))
log "shutdown with a SIGTERM-deaf adopted process: droverd exited after ${t_exit} ms (shutdown_timeout 3000 ms)"
[ "$t_exit" -le $((3000 + 1000 * SLOWDOWN + 100)) ] || fail "droverd exited ${t_exit} ms after SIGTERM (bound 3 s + 1 s)"
wait_for 2 "the SIGTERM-deaf orphan killed at the deadline" dead "$deaf"
wait_for 2 "every worker gone" gone $workers
grep -q "SIGTERM to adopted process" "$T/droverd.log" || grep -q "TERM to adopted process" "$T/droverd.log" ||
    fail "droverd did not log ending its adopted processes"
grep -q "KILL to adopted process $deaf" "$T/droverd.log" || fail "droverd did not SIGKILL the deaf orphan"
untrack_gone
