#!/bin/bash
# drover signal POOL:SLOT SIG reaches that worker only (POOL: every worker);
# drover scale POOL N starts new slots, stops removed ones, and leaves the
# others' processes alone.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:sig]
command = $PROBE_WORKER --record $T/sig.%w --info $T/info.%w
workers = 3
EOF2
start_daemon
wait_for 10 "sig running" pool_running sig
for i in 0 1 2; do wait_for 5 "sig:$i set up" test -f "$T/info.$i"; done
read -r p0 p1 p2 <<<"$(pool_pids sig)"

expect_exit 0 "drover signal sig:1 USR1" dv signal sig:1 USR1
assert_contains "$RUN_OUT" "sent USR1 to 1 worker" "drover signal output"
wait_for 5 "sig:1 received USR1" file_has "$T/sig.1" '^USR1$'
# USR2 to everyone next: signals are delivered in order, so a stray USR1 would show first.
expect_exit 0 "drover signal sig USR2" dv signal sig SIGUSR2
assert_contains "$RUN_OUT" "sent USR2 to 3 workers" "drover signal sig output"
for i in 0 1 2; do wait_for 5 "sig:$i received USR2" file_has "$T/sig.$i" '^USR2$'; done
assert_eq "$(tr '\n' ' ' <"$T/sig.0")" "USR2 " "signals received by sig:0"
assert_eq "$(tr '\n' ' ' <"$T/sig.1")" "USR1 USR2 " "signals received by sig:1"
assert_eq "$(tr '\n' ' ' <"$T/sig.2")" "USR2 " "signals received by sig:2"
assert_eq "$(pool_pids sig)" "$p0 $p1 $p2" "pids after USR1/USR2 (not terminating signals)"
expect_exit 0 "drover signal all HUP" dv signal all HUP
# HUP ends these workers: exits droverd did not ask for, so it restarts every one.
for i in 0 1 2; do
    wait_for 5 "sig:$i received HUP" file_has "$T/sig.$i" '^HUP$'
done
wait_for 5 "sig:0 restarted after HUP" pid_changed sig 0 "$p0"
wait_for 5 "sig:1 restarted after HUP" pid_changed sig 1 "$p1"
wait_for 5 "sig:2 restarted after HUP" pid_changed sig 2 "$p2"
wait_for 5 "sig running again" pool_running sig
read -r p0 p1 p2 <<<"$(pool_pids sig)"

expect_exit 2 "drover signal with an unknown signal" dv signal sig:0 NOSUCHSIG
expect_exit 1 "drover signal to an unknown pool" dv signal nope USR1
expect_exit 1 "drover signal to an unknown slot" dv signal sig:9 USR1
expect_exit 2 "drover signal without a signal" dv signal sig

# Scale up: new slots 3 and 4 run; 0..2 untouched.
expect_exit 0 "drover scale sig 5" dv scale sig 5
wait_for 10 "five workers running" pool_true sig "len(p['slots']) == 5 and all(x['state'] == 'running' for x in p['slots'])"
assert_eq "$(pool_json sig "p['workers']")" 5 "workers after scale up"
read -r q0 q1 q2 q3 q4 <<<"$(pool_pids sig)"
assert_eq "$q0 $q1 $q2" "$p0 $p1 $p2" "old slots' pids after scale up"
alive "$q3" && alive "$q4" || fail "new workers not alive"
for i in 3 4; do
    wait_for 5 "sig:$i set up" test -f "$T/info.$i"
    read -r ipid _ <"$T/info.$i"
    assert_eq "$ipid" "$(slot_field sig $i pid)" "the new slot-$i worker knows its slot (DROVER_WORKER=$i)"
done

# Scale down: slots 2..4 stop (gracefully: they get TERM) and disappear; 0 and 1 untouched.
expect_exit 0 "drover scale sig 2" dv scale sig 2
wait_for 10 "two slots left" pool_true sig "sorted(x['slot'] for x in p['slots']) == [0, 1]"
wait_for 5 "removed workers reaped" gone "$q2" "$q3" "$q4"
for i in 2 3 4; do
    assert_eq "$(tail -n 1 "$T/sig.$i")" TERM "last signal received by removed slot $i"
done
assert_eq "$(pool_pids sig)" "$p0 $p1" "remaining pids after scale down"
assert_eq "$(pool_json sig "p['workers']")" 2 "workers after scale down"
assert_eq "$(pool_json sig "' '.join(str(x['restarts']) for x in p['slots'])")" "1 1" \
    "restarts of the remaining slots (one each, after HUP)"

# Down to zero and back to one.
expect_exit 0 "drover scale sig 0" dv scale sig 0
wait_for 10 "no slot left" pool_true sig "len(p['slots']) == 0"
gone "$p0" "$p1" || wait_for 5 "workers reaped after scale 0" gone "$p0" "$p1"
expect_exit 1 "drover signal to a pool without workers" dv signal sig USR1
assert_contains "$RUN_ERR" "no running worker" "drover signal to a pool without workers"
# start/stop of a pool with no workers: nothing to do, exit 0, and it says why.
for verb in start stop restart; do
    expect_exit 0 "drover $verb of a pool scaled to 0" dv "$verb" sig
    assert_contains "$RUN_OUT" "0 workers: there are none (workers = 0; drover scale POOL N adds some)" \
        "drover $verb of a pool scaled to 0"
done
expect_exit 0 "drover scale sig 1" dv scale sig 1
wait_for 10 "one worker running" pool_true sig "len(p['slots']) == 1 and p['slots'][0]['state'] == 'running'"

expect_exit 2 "drover scale with a bad count" dv scale sig many
expect_exit 1 "drover scale of an unknown pool" dv scale nope 2
expect_exit 2 "drover scale without a count" dv scale sig
