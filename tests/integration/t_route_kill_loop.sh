#!/bin/bash
# Message mode under fire: many pipelining clients while a loop SIGKILLs random
# workers every few milliseconds. Every request must be answered '+' with its
# own echo, in order: zero lost, duplicated or mismatched replies. Once with one
# request per worker, once with worker_inflight = 4.
#
# max_attempts is 100, not the default 2: a worker here lives ~20 ms, and on a slow
# machine a request can sit in one for several ms, so a handful of deliveries in a
# row may die under it; after max_attempts droverd answers FAILED, as it should
# (t_route_timeout checks that). 100 keeps "every request answered" a property of
# the retry logic rather than of the machine's speed.
. "$(dirname "$0")/lib.sh"
uses route fault

write_config <<EOF2
[pool:k1]
command = $ECHO_WORKER
workers = 4
listen = $T/k1.sock
max_attempts = 100
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
crash_restart_rate = none

[pool:k4]
command = $ECHO_WORKER
workers = 4
listen = $T/k4.sock
worker_inflight = 4
max_attempts = 100
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
crash_restart_rate = none
EOF2
start_daemon
wait_for 10 "k1 running" pool_running k1 4
wait_for 10 "k4 running" pool_running k4 4

# The pools set crash_restart_rate = none: 200 kills a second of young workers is a
# crash storm, which the default would pace; this test is about routing under kills.
# A kill every 5 ms natively. Under a sanitizer every worker starts and answers SLOWDOWN
# times slower, so the kills are as much rarer: at 5 ms under ASan most workers died before
# their first answer, and a request could die in 100 deliveries in a row (seen in CI).
kill_interval=$(awk "BEGIN { print 0.005 * $SLOWDOWN }")
for pool in k1 k4; do
    # The pace of this machine without kills, to measure the pace under kills against.
    wc_run "$T/wc_${pool}_base" -s "$T/$pool.sock" -c 16 -p 8 -z 100 -n 2000 -d 120
    base_rps=$(wc_get "$T/wc_${pool}_base" rps)
    before=$(slot_sum "$pool" restarts)
    # The clients keep sending while the killing runs (4 s and at least 100 kills: a slow
    # machine restarts workers slowly), then drain; -t is only a bound.
    wc_start "$T/wc_$pool" -s "$T/$pool.sock" -c 16 -p 8 -z 100 -t 150 -d 180
    kills=$(kill_loop -n 100 4 "$kill_interval" "$pool")
    wc_stop "$T/wc_$pool"
    log "$pool: $kills kills; without kills $base_rps requests/s; $(cat "$T/wc_$pool")"
    [ "$kills" -ge 100 ] || fail "$pool: only $kills kills were sent"
    for k in lost duplicated mismatched unanswered unexpected malformed busy failed timeout other_error; do
        assert_eq "$(wc_get "$T/wc_$pool" "$k")" 0 "$pool: workclient $k"
    done
    sent=$(wc_get "$T/wc_$pool" sent)
    assert_eq "$(wc_get "$T/wc_$pool" ok)" "$sent" "$pool: '+' replies vs requests sent"
    # Killing a worker every 5 ms costs throughput, not all of it: at least 1/50 of the pace
    # without kills (natively ~1,000 requests/s; a stall serves none).
    rps=$(wc_get "$T/wc_$pool" rps)
    [ "$rps" -ge $((base_rps / 50)) ] ||
        fail "$pool: only $rps requests/s under kills (without kills: $base_rps)"

    dv status >/dev/null || fail "droverd stopped answering status"
    wait_for 10 "$pool: all workers running again" pool_running "$pool" 4
    after=$(slot_sum "$pool" restarts)
    [ $((after - before)) -ge "$kills" ] ||
        fail "$pool: restarts went from $before to $after after $kills kills"
    retries=$(pool_route "$pool" retries)
    [ "$retries" -gt 0 ] || fail "$pool: no request was retried: the kills never hit work in flight"
    assert_eq "$(pool_route "$pool" failed)" 0 "$pool: requests failed"
    wait_for 5 "$pool: nothing queued or in flight" pool_route_is "$pool" inflight 0
    assert_eq "$(pool_route "$pool" queued)" 0 "$pool: queued after the load"
    # The pool still works normally afterwards.
    wc_run "$T/wc_${pool}_after" -s "$T/$pool.sock" -c 4 -p 4 -n 2000
done
