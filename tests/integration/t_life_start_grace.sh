#!/bin/bash
# A start that means it (issue 14): a worker counts as started once it has
# stayed up for start_grace (or sent READY=1). drover start and restart wait
# for that and exit 1 naming every slot whose worker exited instead, with its
# exit status; status shows a worker still in its grace.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:instant]
command = /bin/sh -c "exit 7"
workers = 2
restart_delay = 5s
crash_limit = 0

[pool:late]
command = /bin/sh -c "sleep 0.3; exit 3"
workers = 1
start_grace = 2s
restart_delay = 5s
crash_limit = 0

[pool:flaky]
command = /bin/sh -c "[ -e $T/broken ] && exit 9; exec sleep 600"
workers = 2
start_grace = 400ms

[pool:once]
command = /bin/sh -c "exit 0"
workers = 1
restart = never

[pool:slow]
command = $PROBE_WORKER
workers = 1
start_grace = 30s
EOF2
start_daemon
wait_for 10 "pool flaky running" pool_running flaky

# A worker that exits 7 right after exec: start exits 1 naming each slot and the status.
expect_exit 1 "drover start instant" dv start instant
assert_contains "$RUN_ERR" "instant:0 exited with status 7 within start_grace (1s)" "start instant stderr"
assert_contains "$RUN_ERR" "instant:1 exited with status 7 within start_grace (1s)" "start instant stderr"
assert_contains "$RUN_OUT" "started 0 workers" "start instant stdout"

# One that runs past its exec but dies inside the grace: still a failed start.
expect_exit 1 "drover start late" dv start late
assert_contains "$RUN_ERR" "late:0 exited with status 3 within start_grace (2s)" "start late stderr"

# restart = never, exit 0 inside the grace: a failed start too (it never stayed up).
expect_exit 1 "drover start once" dv start once
assert_contains "$RUN_ERR" "once:0 exited with status 0 within start_grace (1s)" "start once stderr"

# restart of a pool whose command now fails: exit 1, each slot named; without the breakage
# it waits for the grace and reports the workers started.
t0=$(now_ms)
expect_exit 0 "drover restart flaky" dv restart flaky
el=$(($(now_ms) - t0))
[ "$el" -ge 400 ] || fail "restart returned after ${el}ms, before start_grace (400ms) was over"
assert_contains "$RUN_OUT" "restarted 2 workers" "restart flaky stdout"
status_all "right after restart flaky returned" \
    "slot('flaky', 0)['state'] == 'running'" "slot('flaky', 0)['started'] == True" \
    "pool('flaky')['started'] == 2"
touch "$T/broken"
expect_exit 1 "drover restart flaky (broken)" dv restart flaky
assert_contains "$RUN_ERR" "flaky:0 exited with status 9 within start_grace (400ms)" "restart stderr"
assert_contains "$RUN_ERR" "flaky:1 exited with status 9 within start_grace (400ms)" "restart stderr"
rm -f "$T/broken"

# --no-wait returns at once; status shows the worker in its grace, not yet started.
expect_exit 0 "drover restart slow --no-wait" dv restart slow --no-wait
wait_for 10 "slow:0 running again" state_is slow 0 running
status_all "slow:0 inside its 30s grace" \
    "slot('slow', 0)['started'] == False" "pool('slow')['started'] == 0" \
    "'in start_grace' in slot('slow', 0)['info']"
dv status slow --wide | grep -q "in start_grace: counts as started in" ||
    fail "status text does not show the grace: $(dv status slow)"
finish_checks
