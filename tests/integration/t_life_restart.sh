#!/bin/bash
# SIGKILL of one worker: a new process takes the same slot at once; status
# (text and --json) shows the restart count and the last exit ("killed by
# KILL"); the other slots keep their processes.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:life]
command = $PROBE_WORKER --info $T/info.%w
workers = 3
EOF2
start_daemon
wait_for 10 "three workers running" pool_running life
read -r p0 p1 p2 <<<"$(pool_pids life)"
status_all "every slot before any crash" \
    "all(x['restarts'] == 0 and x['last_exit'] == None for x in pool('life')['slots'])"

# First crash: restarted at once (no backoff for a first crash).
kill -KILL "$p1"
wait_for 3 "a new pid in slot 1" pid_changed life 1 "$p1"
wait_for 3 "slot 1 running again" state_is life 1 running
q1=$(slot_field life 1 pid)
alive "$q1" || fail "new worker $q1 of slot 1 is not alive"
wait_for 3 "the killed worker $p1 reaped" gone "$p1"
wait_for 3 "new worker wrote its info" test -f "$T/info.1"
read -r ipid ippid ipgid <"$T/info.1"
assert_eq "$ipid" "$q1" "pid the new slot-1 worker reports"
assert_eq "$ippid" "$DAEMON_PID" "parent of the new worker"
assert_eq "$ipgid" "$q1" "process group of the new worker (its own)"

status_all "slot 1 after its worker was killed" \
    "slot('life', 1)['pid'] == $q1" \
    "slot('life', 1)['restarts'] == 1" \
    "slot('life', 1)['crashes'] == 1" \
    "slot('life', 1)['last_exit']['signal'] == 'KILL'" \
    "slot('life', 1)['last_exit']['code'] == None" \
    "slot('life', 1)['last_exit']['description'] == 'killed by KILL'" \
    "slot('life', 1)['last_exit']['crash'] == True" \
    "slot('life', 1)['uptime_seconds'] <= slot('life', 1)['last_exit']['seconds_ago'] + 0.5"

# The text table says the same.
text=$(dv status --wide) || fail "drover status failed"
row=$(printf '%s\n' "$text" | awk '$1 == "life" && $2 == "1"')
[ -n "$row" ] || fail "no row for life 1 in: $text"
assert_contains "$row" "$q1" "status row of slot 1 shows the new pid"
assert_contains "$row" "killed by KILL" "status row of slot 1 shows the last exit"
assert_eq "$(echo "$row" | awk '{print $4, $6}')" "running 1" "state and restarts in the status row"
row0=$(printf '%s\n' "$text" | awk '$1 == "life" && $2 == "0"')
assert_eq "$(echo "$row0" | awk '{print $4, $6, $7}')" "running 0 -" "state, restarts and last exit of slot 0 in the text table"

# The other slots were not touched.
alive "$p0" && alive "$p2" || fail "a worker of another slot died"
status_all "slots 0 and 2 after slot 1 crashed" \
    "slot('life', 0)['pid'] == $p0" "slot('life', 2)['pid'] == $p2" \
    "slot('life', 0)['restarts'] == 0" "slot('life', 2)['restarts'] == 0" \
    "slot('life', 0)['last_exit'] == None" "slot('life', 2)['last_exit'] == None"

# A second crash of the same slot is restarted too (after restart_delay), and counted.
kill -KILL "$q1"
wait_for 5 "another new pid in slot 1" pid_changed life 1 "$q1"
wait_for 5 "slot 1 running again" state_is life 1 running
status_all "slot 1 after the second crash" \
    "slot('life', 1)['restarts'] == 2" "slot('life', 1)['crashes'] == 2" \
    "slot('life', 0)['pid'] == $p0" "slot('life', 2)['pid'] == $p2"

# last_exit.time is the wall-clock time of the exit (seconds since the epoch): within a few
# seconds of now, however many digits that takes.
now_exit=$(slot_json life 1 "'%.3f %.3f' % (x['last_exit']['time'], __import__('time').time() - x['last_exit']['seconds_ago'])")
assert_eq "$(python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(abs(a - b) < 2)" $now_exit)" True \
    "last_exit.time ($now_exit: reported, expected) is the wall-clock time of the exit"

dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
