#!/bin/bash
# max_requests: under steady load every worker is recycled after N requests (a
# new pid, counted as a restart, not as a crash) and no request is lost. Each
# worker process records how many requests it served: none may serve more than
# N. Once with one request in flight per worker, once with worker_inflight = 4.
. "$(dirname "$0")/lib.sh"
uses route

N=50
mkdir -p "$T/c1" "$T/c4"
write_config <<EOF2
[pool:r1]
command = $FAULTY_ECHO_WORKER --count-dir $T/c1
workers = 2
listen = $T/r1.sock
max_requests = $N

[pool:r4]
command = $FAULTY_ECHO_WORKER --count-dir $T/c4
workers = 2
listen = $T/r4.sock
max_requests = $N
worker_inflight = 4
EOF2
start_daemon
wait_for 10 "r1 running" pool_running r1 2
wait_for 10 "r4 running" pool_running r4 2

TOTAL=3000
too_many=""
for pool in r1 r4; do
    dir=$T/c${pool#r}
    first=$(pool_pids "$pool")
    wc_run "$T/wc_$pool" -s "$T/$pool.sock" -c 4 -p 4 -n $TOTAL -d 25
    log "$pool: $(cat "$T/wc_$pool")"
    assert_eq "$(wc_get "$T/wc_$pool" ok)" $TOTAL "$pool: requests served"
    assert_eq "$(wc_get "$T/wc_$pool" lost)" 0 "$pool: requests lost"

    # Per process: never more than N requests.
    served=0 procs=0
    over=""
    for f in "$dir"/*; do
        n=$(tr -d ' \n' <"$f")
        [ "$n" -le $N ] || over="$over $(basename "$f"):$n"
        served=$((served + n))
        procs=$((procs + 1))
    done
    # Checked last, so the other assertions run either way.
    [ -z "$over" ] || too_many="$too_many
  $pool: pid:requests$over"
    assert_eq "$served" $TOTAL "$pool: requests counted by the worker processes"
    # (With each at most N, the sum implies at least TOTAL/N processes.)
    [ "$procs" -ge 2 ] || fail "$pool: only $procs worker processes served"

    wait_for 10 "$pool: both running" pool_running "$pool" 2
    restarts=$(slot_sum "$pool" restarts)
    # Every process that served is one start: all but the (at most 2) running ones restarted.
    { [ "$restarts" -ge $((procs - 2)) ] && [ "$restarts" -le "$procs" ]; } ||
        fail "$pool: $restarts restarts, but $procs worker processes served requests"
    assert_eq "$(slot_sum "$pool" crashes)" 0 "$pool: crashes (recycling is no crash)"
    now=$(pool_pids "$pool")
    for p in $first; do
        case " $now " in *" $p "*) fail "$pool: worker $p was never recycled" ;; esac
    done
    assert_eq "$(pool_route "$pool" failed)" 0 "$pool: failed"
done
[ -z "$too_many" ] || fail "worker processes served more than max_requests = $N:$too_many"
