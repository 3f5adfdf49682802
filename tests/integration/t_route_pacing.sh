#!/bin/bash
# droverd paces its loop only while every worker is stocked (daemon/pace.c,
# README "Decisions an operator should know"):
#  - one client with one request at a time never makes a pause
#    (drover_loop_pauses_total stays 0), however long it runs;
#  - clients keeping about eight requests per worker in flight to naive
#    workers (blocking read(), one write() per reply, 300 us of work) do, and every request
#    is still answered with its own bytes, in order; a worker SIGKILLed in
#    the middle of that has its requests retried, none lost;
#  - droverd runs with a timer slack of 1 us, and its workers get back the
#    timer slack droverd was started with (here 70 us, set on this shell).
. "$(dirname "$0")/lib.sh"
uses route

NAIVE_WORKER="$HELPERS/naive-worker"
slack_file() { echo "/proc/$1/timerslack_ns"; }
[ -r "$(slack_file $$)" ] || fail "no /proc/PID/timerslack_ns on this kernel"
echo 70000 >"/proc/$$/timerslack_ns" || fail "cannot set this shell's timer slack"

write_config <<EOF2
[pool:one]
command = $NAIVE_WORKER --work-us 300
workers = 2
listen = $T/one.sock

[pool:n]
command = $NAIVE_WORKER --work-us 300
workers = 2
listen = $T/n.sock
restart_delay = 0
crash_limit = none
EOF2
start_daemon
wait_for 10 "one running" pool_running one 2
wait_for 10 "n running" pool_running n 2

assert_eq "$(cat "$(slack_file "$DAEMON_PID")")" 1000 "droverd's timer slack"
for pid in $(pool_pids n); do
    assert_eq "$(cat "$(slack_file "$pid")")" 70000 "worker $pid's timer slack (droverd's at its start)"
done

# One request at a time: never two on a worker, so never a pause.
wc_run "$T/wc_one" -s "$T/one.sock" -c 1 -p 1 -n 2000 -d 120
wc_clean "$T/wc_one" "one client"
assert_eq "$(metric drover_loop_pauses_total)" 0 "pauses with one request in flight"

# Eight requests per worker in flight (the adaptive window puts several on each): stocked.
# Rounds until a pause was seen (a loaded machine may keep workers thin for a while).
round=0
while [ "$(metric drover_loop_pauses_total)" = 0 ]; do
    round=$((round + 1))
    [ "$round" -le 5 ] || fail "no pause in 5 rounds of 16 requests in flight on 2 workers"
    wc_run "$T/wc_n$round" -s "$T/n.sock" -c 8 -p 2 -z 300 -n 3000 -d 120
    wc_clean "$T/wc_n$round" "stocked round $round"
done
paused=$(metric drover_loop_paused_seconds_total)
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)" "$paused" ||
    fail "drover_loop_paused_seconds_total $paused after $(metric drover_loop_pauses_total) pauses"
log "$(metric drover_loop_pauses_total) pauses, ${paused}s, in $round round(s)"

# A worker killed while they are stocked: its requests are retried on the other, none lost.
wc_start "$T/wc_kill" -s "$T/n.sock" -c 8 -p 2 -z 300 -n 8000 -d 120
wait_for 30 "requests answered on n" pool_route_ge n requests $((round * 3000 + 1000))
victim=$(slot_field n 0 pid)
kill -KILL "$victim"
wc_wait "$T/wc_kill"
wc_clean "$T/wc_kill" "a worker killed while stocked"
wait_for 10 "n slot 0 back" pid_changed n 0 "$victim"
wait_for 10 "n running" pool_running n 2
assert_eq "$(cat "$(slack_file "$(slot_field n 0 pid)")")" 70000 "the restarted worker's timer slack"
pool_route_ge n retries 1 || fail "no request retried after the kill"
finish_checks
