#!/bin/bash
# drover stop / start / restart on POOL, POOL:SLOT and all: each returns once
# the state is reached (--no-wait at once), touches only what it names, and
# exits 0 done, 1 unknown pool or slot, 2 usage error, 3 droverd unreachable.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:a]
command = $LIFE_WORKER --term-delay 300
workers = 2

[pool:b]
command = $LIFE_WORKER --term-delay 1000
workers = 1
EOF2
start_daemon
wait_for 10 "pool a running" pool_running a
wait_for 10 "pool b running" pool_running b
read -r a0 a1 <<<"$(life_pids a)"
b0=$(worker_pid b 0)

# stop POOL waits until every worker of the pool is down (each takes 300ms after TERM).
life_expect 0 "drover stop a" dv stop a
assert_contains "$LIFE_OUT" "stopped 2 workers" "drover stop a output"
life_gone "$a0" "$a1" || fail "workers of pool a still exist after drover stop a returned"
life_json_all "right after drover stop a returned" \
    "[(x['state'], x['pid']) for x in pool('a')['slots']] == [('stopped', None)] * 2" \
    "slot('b', 0)['pid'] == $b0" \
    "slot('a', 0)['last_exit']['crash'] == False"

# start POOL waits until every worker runs.
life_expect 0 "drover start a" dv start a
assert_contains "$LIFE_OUT" "started 2 workers" "drover start a output"
read -r a0 a1 <<<"$(life_pool a "' '.join('%s:%s' % (x['state'], x['pid']) for x in p['slots'])")"
[ "${a0%%:*} ${a1%%:*}" = "running running" ] || fail "pool a right after drover start a returned: $a0 $a1"
a0=${a0#*:} a1=${a1#*:}
alive "$a0" && alive "$a1" || fail "pool a workers not alive after drover start returned"
# Starting what runs already is done at once.
life_expect 0 "drover start a (already running)" dv start a
assert_eq "$(life_pids a)" "$a0 $a1" "pids after starting a running pool"

# restart POOL:SLOT replaces that slot only, and returns once the new worker runs.
life_expect 0 "drover restart a:1" dv restart a:1
assert_contains "$LIFE_OUT" "restarted 1 worker" "drover restart a:1 output"
life_gone "$a1" || fail "old worker of a:1 still exists after restart returned"
life_json_all "right after drover restart a:1 returned" \
    "slot('a', 1)['pid'] not in (None, $a1)" "slot('a', 1)['state'] == 'running'" \
    "slot('a', 0)['pid'] == $a0" \
    "slot('a', 1)['restarts'] == 2"
a1=$(worker_pid a 1)

# stop POOL:SLOT, start POOL:SLOT.
life_expect 0 "drover stop a:0" dv stop a:0
assert_eq "$(life_pool a "' '.join('%s:%s' % (x['state'], x['pid']) for x in p['slots'])")" \
    "stopped:None running:$a1" "states and pids after stop a:0 (a:1 untouched)"
life_expect 0 "drover start a:0" dv start a:0
a0=$(life_slot a 0 "'%s:%s' % (x['state'], x['pid'])")
[ "${a0%%:*}" = running ] || fail "a:0 after start a:0: $a0"
a0=${a0#*:}

# --no-wait returns at once: b's worker takes a second to leave after TERM.
t0=$(life_ms)
life_expect 0 "drover stop b --no-wait" dv stop b --no-wait
elapsed=$(($(life_ms) - t0))
alive "$b0" || fail "b's worker gone right after stop --no-wait returned (it lingers a second)"
[ "$elapsed" -lt 900 ] || fail "drover stop --no-wait took ${elapsed}ms"
assert_eq "$(life_slot b 0 "x['state'] + ' ' + str(x['pid'])")" "stopping $b0" "state of b right after stop --no-wait"
wait_for 5 "b stopped" state_is b 0 stopped
life_gone "$b0" || fail "b's worker not reaped once stopped"
life_expect 0 "drover start b --no-wait" dv start b --no-wait
wait_for 5 "b running" state_is b 0 running
# start while the stop is still under way: returns once a new worker runs.
b0=$(worker_pid b 0)
life_expect 0 "drover stop b --no-wait (again)" dv stop b --no-wait
life_expect 0 "drover start b while b is stopping" dv start b
life_gone "$b0" || fail "old worker of b still exists"
life_json_all "b after start during its stop" \
    "slot('b', 0)['state'] == 'running'" "slot('b', 0)['pid'] not in (None, $b0)"

# all: every pool.
life_expect 0 "drover stop all" dv stop all
assert_contains "$LIFE_OUT" "stopped 3 workers" "drover stop all output"
assert_eq "$(json "' '.join(x['state'] for p in s['pools'] for x in p['slots'])")" \
    "stopped stopped stopped" "states after stop all"
life_expect 0 "drover start all" dv start all
assert_eq "$(json "' '.join(x['state'] for p in s['pools'] for x in p['slots'])")" \
    "running running running" "states after start all"
before=$(json "[x['pid'] for p in s['pools'] for x in p['slots']]")
life_expect 0 "drover restart all" dv restart all
assert_contains "$LIFE_OUT" "restarted 3 workers" "drover restart all output"
life_json_all "right after restart all returned (pids before: $before)" \
    "all(x['state'] == 'running' for p in s['pools'] for x in p['slots'])" \
    "all(x['pid'] is not None and x['pid'] not in $before for p in s['pools'] for x in p['slots'])"
after=$(life_pids a)

# Errors and their exit statuses.
life_expect 1 "stop of an unknown pool" dv stop nope
assert_contains "$LIFE_ERR" "no pool named 'nope'" "stderr of stop nope"
life_expect 1 "start of an unknown slot" dv start a:7
assert_contains "$LIFE_ERR" "has no slot 7" "stderr of start a:7"
life_expect 1 "restart with one unknown pool among known ones" dv restart a nope
assert_eq "$(life_pids a)" "$after" "pool a untouched by a refused restart"
life_expect 2 "stop without a target" dv stop
life_expect 2 "restart with a bad slot" dv restart a:x
life_expect 2 "an unknown verb" dv stoop a
assert_contains "$LIFE_ERR" "did you mean 'stop'" "stderr of an unknown verb"
life_expect 2 "an unknown option" dv stop a --bogus
life_expect 2 "no verb" dv
life_expect 3 "a socket nobody listens on" "$DROVER" -s "$T/nobody.sock" stop a
life_expect 3 "status with no droverd at the socket" "$DROVER" -s "$T/nobody.sock" status

life_expect 0 "drover shutdown" dv shutdown
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
life_expect 3 "stop once droverd has exited" dv stop a
life_expect 3 "start once droverd has exited" dv start all
