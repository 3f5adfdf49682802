#!/bin/bash
# drover stop / start / restart on POOL, POOL:SLOT and all: each returns once
# the state is reached (--no-wait at once), touches only what it names, and
# exits 0 done, 1 unknown pool or slot, 2 usage error, 3 droverd unreachable;
# a stop overtaken by a start of the same slot ends (failed) instead of hanging.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:a]
command = $PROBE_WORKER --term-delay 300
workers = 2

[pool:b]
command = $PROBE_WORKER --term-delay 1000
workers = 1
EOF2
start_daemon
wait_for 10 "pool a running" pool_running a
wait_for 10 "pool b running" pool_running b
read -r a0 a1 <<<"$(pool_pids a)"
b0=$(slot_field b 0 pid)

# stop POOL waits until every worker of the pool is down (each takes 300ms after TERM).
expect_exit 0 "drover stop a" dv stop a
assert_contains "$RUN_OUT" "stopped 2 workers" "drover stop a output"
gone "$a0" "$a1" || fail "workers of pool a still exist after drover stop a returned"
status_all "right after drover stop a returned" \
    "[(x['state'], x['pid']) for x in pool('a')['slots']] == [('stopped', None)] * 2" \
    "slot('b', 0)['pid'] == $b0" \
    "slot('a', 0)['last_exit']['crash'] == False"

# start POOL waits until every worker runs.
expect_exit 0 "drover start a" dv start a
assert_contains "$RUN_OUT" "started 2 workers" "drover start a output"
read -r a0 a1 <<<"$(pool_json a "' '.join('%s:%s' % (x['state'], x['pid']) for x in p['slots'])")"
[ "${a0%%:*} ${a1%%:*}" = "running running" ] || fail "pool a right after drover start a returned: $a0 $a1"
a0=${a0#*:} a1=${a1#*:}
alive "$a0" && alive "$a1" || fail "pool a workers not alive after drover start returned"
# Starting what runs already is done at once.
expect_exit 0 "drover start a (already running)" dv start a
assert_eq "$(pool_pids a)" "$a0 $a1" "pids after starting a running pool"

# restart POOL:SLOT replaces that slot only, and returns once the new worker runs.
expect_exit 0 "drover restart a:1" dv restart a:1
assert_contains "$RUN_OUT" "restarted 1 worker" "drover restart a:1 output"
gone "$a1" || fail "old worker of a:1 still exists after restart returned"
status_all "right after drover restart a:1 returned" \
    "slot('a', 1)['pid'] not in (None, $a1)" "slot('a', 1)['state'] == 'running'" \
    "slot('a', 0)['pid'] == $a0" \
    "slot('a', 1)['restarts'] == 2"
a1=$(slot_field a 1 pid)

# stop POOL:SLOT, start POOL:SLOT.
expect_exit 0 "drover stop a:0" dv stop a:0
assert_eq "$(pool_json a "' '.join('%s:%s' % (x['state'], x['pid']) for x in p['slots'])")" \
    "stopped:None running:$a1" "states and pids after stop a:0 (a:1 untouched)"
expect_exit 0 "drover start a:0" dv start a:0
a0=$(slot_json a 0 "'%s:%s' % (x['state'], x['pid'])")
[ "${a0%%:*}" = running ] || fail "a:0 after start a:0: $a0"
a0=${a0#*:}

# --no-wait returns at once: b's worker takes a second to leave after TERM.
t0=$(now_ms)
expect_exit 0 "drover stop b --no-wait" dv stop b --no-wait
elapsed=$(($(now_ms) - t0))
alive "$b0" || fail "b's worker gone right after stop --no-wait returned (it lingers a second)"
[ "$elapsed" -lt 900 ] || fail "drover stop --no-wait took ${elapsed}ms"
assert_eq "$(slot_json b 0 "x['state'] + ' ' + str(x['pid'])")" "stopping $b0" "state of b right after stop --no-wait"
wait_for 5 "b stopped" state_is b 0 stopped
gone "$b0" || fail "b's worker not reaped once stopped"
expect_exit 0 "drover start b --no-wait" dv start b --no-wait
wait_for 5 "b running" state_is b 0 running
# start while the stop is still under way: returns once a new worker runs.
b0=$(slot_field b 0 pid)
expect_exit 0 "drover stop b --no-wait (again)" dv stop b --no-wait
expect_exit 0 "drover start b while b is stopping" dv start b
gone "$b0" || fail "old worker of b still exists"
status_all "b after start during its stop" \
    "slot('b', 0)['state'] == 'running'" "slot('b', 0)['pid'] not in (None, $b0)"

# all: every pool.
expect_exit 0 "drover stop all" dv stop all
assert_contains "$RUN_OUT" "stopped 3 workers" "drover stop all output"
assert_eq "$(status_json "' '.join(x['state'] for p in s['pools'] for x in p['slots'])")" \
    "stopped stopped stopped" "states after stop all"
expect_exit 0 "drover start all" dv start all
assert_eq "$(status_json "' '.join(x['state'] for p in s['pools'] for x in p['slots'])")" \
    "running running running" "states after start all"
before=$(status_json "[x['pid'] for p in s['pools'] for x in p['slots']]")
expect_exit 0 "drover restart all" dv restart all
assert_contains "$RUN_OUT" "restarted 3 workers" "drover restart all output"
status_all "right after restart all returned (pids before: $before)" \
    "all(x['state'] == 'running' for p in s['pools'] for x in p['slots'])" \
    "all(x['pid'] is not None and x['pid'] not in $before for p in s['pools'] for x in p['slots'])"
after=$(pool_pids a)

# Errors and their exit statuses.
expect_exit 1 "stop of an unknown pool" dv stop nope
assert_contains "$RUN_ERR" "no pool named 'nope'" "stderr of stop nope"
expect_exit 1 "start of an unknown slot" dv start a:7
assert_contains "$RUN_ERR" "has no slot 7" "stderr of start a:7"
expect_exit 1 "restart with one unknown pool among known ones" dv restart a nope
assert_eq "$(pool_pids a)" "$after" "pool a untouched by a refused restart"
expect_exit 2 "stop without a target" dv stop
expect_exit 2 "restart with a bad slot" dv restart a:x
# A stop that a start of the same slot overtakes ends, failed, instead of
# waiting for a down it will never see. Pool c's worker ignores TERM, so it is
# down only at its stop_timeout's SIGKILL: the start has those 5 s to land
# while the stop is under way, even on a loaded machine.
cat >>"$CONF" <<EOF2

[pool:c]
command = $PROBE_WORKER --term-delay 600000
workers = 1
stop_timeout = 5s
EOF2
expect_exit 0 "drover reload adding pool c" dv reload
wait_for 10 "pool c running" pool_running c
timeout 30 "$DROVER" -s "$SOCK" stop c:0 >"$T/stop.out" 2>&1 &
stopper=$!
track_pid "$stopper"
wait_for 10 "c:0 stopping" state_is c 0 stopping
expect_exit 0 "drover start c:0 while it stops" dv start c:0
rc=0
wait "$stopper" || rc=$?
assert_eq "$rc" 1 "exit status of the overtaken stop (124: it never returned)"
assert_contains "$(cat "$T/stop.out")" "was started again by another command before it was down"
wait_for 10 "pool c running again" pool_running c

expect_exit 2 "an unknown verb" dv stoop a
assert_contains "$RUN_ERR" "unknown verb 'stoop'" "stderr of an unknown verb"
case "$RUN_ERR" in *"'stop'"*) fail "an unknown verb was answered with a suggestion to stop: $RUN_ERR" ;; esac
expect_exit 2 "an unknown verb near a read-only one" dv stauts
assert_contains "$RUN_ERR" "did you mean 'status'" "stderr of a typo of status"
expect_exit 2 "an unknown option" dv stop a --bogus
expect_exit 2 "no verb" dv
expect_exit 3 "a socket nobody listens on" "$DROVER" -s "$T/nobody.sock" stop a
expect_exit 3 "status with no droverd at the socket" "$DROVER" -s "$T/nobody.sock" status

expect_exit 0 "drover shutdown" dv shutdown
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
expect_exit 3 "stop once droverd has exited" dv stop a
expect_exit 3 "start once droverd has exited" dv start all
