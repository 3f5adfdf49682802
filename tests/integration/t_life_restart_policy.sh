#!/bin/bash
# restart = never / on-failure / always, with workers that exit 0 and exit 1:
# only the combinations that should restart do; the others stay stopped with
# their last exit shown, counted as a crash only when it was a failure.
. "$(dirname "$0")/lib.sh"

pool() { # NAME RESTART CODE
    printf '[pool:%s]\ncommand = %s --exit %s\nworkers = 1\nrestart = %s\nrestart_delay = 20ms\nrestart_delay_max = 40ms\ncrash_limit = none\n\n' \
        "$1" "$PROBE_WORKER" "$3" "$2"
}
{
    pool never0 never 0
    pool never1 never 1
    pool onfail0 on-failure 0
    pool onfail1 on-failure 1
    pool always0 always 0
    pool always1 always 1
    # Long-running workers, ended from outside: SIGKILL is a failure; TERM makes them exit 0.
    printf '[pool:%s]\ncommand = %s\nworkers = 2\nrestart = %s\n\n' onfailrun "$PROBE_WORKER" on-failure
    printf '[pool:%s]\ncommand = %s\nworkers = 1\nrestart = %s\n\n' neverrun "$PROBE_WORKER" never
} | write_config
start_daemon

# The always pools keep restarting; by the time they have restarted three times,
# a pool that was going to restart (the first restart is immediate) has done so.
wait_for 10 "always0 restarted 3 times" slot_true always0 0 "x['restarts'] >= 3"
wait_for 10 "always1 restarted 3 times" slot_true always1 0 "x['restarts'] >= 3"
wait_for 10 "onfail1 restarted 3 times" slot_true onfail1 0 "x['restarts'] >= 3"

for p in never0 never1 onfail0; do
    wait_for 5 "$p stopped" state_is "$p" 0 stopped
done
status_all "slots that must stay down" \
    "slot('never0', 0)['restarts'] == 0" "slot('never0', 0)['pid'] == None" \
    "slot('never1', 0)['restarts'] == 0" "slot('never1', 0)['pid'] == None" \
    "slot('onfail0', 0)['restarts'] == 0" "slot('onfail0', 0)['pid'] == None" \
    "slot('never0', 0)['last_exit']['code'] == 0" \
    "slot('never0', 0)['last_exit']['crash'] == False" \
    "slot('never0', 0)['crashes'] == 0" \
    "slot('never1', 0)['last_exit']['code'] == 1" \
    "slot('never1', 0)['last_exit']['crash'] == True" \
    "slot('never1', 0)['crashes'] == 1" \
    "slot('onfail0', 0)['last_exit']['code'] == 0" \
    "slot('onfail0', 0)['last_exit']['crash'] == False" \
    "slot('onfail1', 0)['last_exit']['code'] == 1" \
    "slot('always0', 0)['last_exit']['code'] == 0"

text=$(dv status --wide) || fail "drover status failed"
row=$(printf '%s\n' "$text" | awk '$1 == "never1" && $2 == "0"')
assert_contains "$row" "stopped" "text status of never1"
assert_contains "$row" "exit 1" "text status of never1"

# An operator can still start a slot that stayed down: it runs (and exits) once more.
before=$(slot_json never1 0 "x['crashes']")
dv start never1 >/dev/null 2>&1
wait_for 5 "never1 ran again" slot_true never1 0 "x['crashes'] == $before + 1 and x['state'] == 'stopped'"
assert_eq "$(slot_json never1 0 "x['restarts']")" 1 "never1 restarts after drover start"

# on-failure: killed by a signal is a failure (restart); exit 0 after TERM is not.
wait_for 10 "onfailrun running" pool_running onfailrun
wait_for 10 "neverrun running" pool_running neverrun
read -r o0 o1 <<<"$(pool_pids onfailrun)"
kill -KILL "$o0"
wait_for 5 "onfailrun:0 restarted after SIGKILL" pid_changed onfailrun 0 "$o0"
assert_eq "$(slot_json onfailrun 0 "x['last_exit']['signal']")" KILL "onfailrun:0 last exit"
kill -TERM "$o1"
wait_for 5 "onfailrun:1 stopped after a clean exit" state_is onfailrun 1 stopped
assert_eq "$(slot_json onfailrun 1 "x['last_exit']['code']")" 0 "onfailrun:1 last exit code"
# never: even a SIGKILL leaves the slot down, and it counts as a crash.
n0=$(slot_field neverrun 0 pid)
kill -KILL "$n0"
wait_for 5 "neverrun stopped after SIGKILL" state_is neverrun 0 stopped
assert_eq "$(slot_json neverrun 0 "x['last_exit']['signal']")" KILL "neverrun last exit"
assert_eq "$(slot_json neverrun 0 "x['crashes']")" 1 "neverrun crashes"
# By the time onfailrun:0 was killed and restarted a second time, neither would have come back.
o0=$(slot_field onfailrun 0 pid)
kill -KILL "$o0"
wait_for 5 "onfailrun:0 restarted again" pid_changed onfailrun 0 "$o0"
assert_eq "$(slot_field onfailrun 1 state) $(slot_field neverrun 0 state)" "stopped stopped" "slots that must stay down"
