#!/bin/bash
# Replies that reach droverd in pieces are put back together exactly: a worker
# writing its replies a few bytes at a time, pieces running across replies
# (faulty-echo-worker --dribble), for small replies, 4 KiB ones (the start of a
# reply an earlier read left goes in front of the next read, daemon/link.c
# scratch_read_after) and 40 KB ones (past what is moved that way: the rest is
# read into the link's buffer). Every request answered with its own bytes, in
# order, nothing lost, duplicated or retried, no worker killed. A worker
# SIGKILLed halfway through writing a reply (droverd holding its first bytes)
# has that request answered whole by the other worker, never the half.
. "$(dirname "$0")/lib.sh"
uses route

write_config <<EOF2
[pool:small]
command = $FAULTY_ECHO_WORKER --dribble 7
workers = 2
listen = $T/small.sock

[pool:mid]
command = $FAULTY_ECHO_WORKER --dribble 1000
workers = 2
listen = $T/mid.sock

[pool:big]
command = $FAULTY_ECHO_WORKER --dribble 5000
workers = 2
listen = $T/big.sock

[pool:dying]
command = $FAULTY_ECHO_WORKER --dribble 100
workers = 2
listen = $T/dying.sock
restart_delay = 0
crash_limit = none
EOF2
start_daemon
for p in small mid big dying; do wait_for 10 "$p running" pool_running "$p" 2; done

# Pipelined clients keep several requests per worker (the adaptive window), so a
# read ends inside one reply and the next read carries its rest and the next ones.
wc_run "$T/wc_small" -s "$T/small.sock" -c 4 -p 4 -z 300 -n 200 -d 120
wc_clean "$T/wc_small" "300 B replies in 7-byte pieces"
wc_run "$T/wc_mid" -s "$T/mid.sock" -c 8 -p 4 -z 4096 -n 800 -d 120
wc_clean "$T/wc_mid" "4 KiB replies in 1000-byte pieces"
wc_run "$T/wc_big" -s "$T/big.sock" -c 4 -p 2 -z 40000 -n 200 -d 120
wc_clean "$T/wc_big" "40 KB replies in 5000-byte pieces"
# Mixed sizes on one pool: a small reply's pieces end inside a large one's and back.
wc_start "$T/wc_mix1" -s "$T/mid.sock" -c 2 -p 4 -z 40000 -n 100 -d 120
mix1=$WC_PID
wc_run "$T/wc_mix2" -s "$T/mid.sock" -c 4 -p 4 -z 64 -n 800 -d 120
WC_PID=$mix1 wc_wait "$T/wc_mix1"
wc_clean "$T/wc_mix1" "40 KB replies among small ones"
wc_clean "$T/wc_mix2" "64 B replies among large ones"

for p in small mid big; do
    assert_eq "$(pool_route "$p" retries)" 0 "$p: retries"
    assert_eq "$(pool_route "$p" failed)" 0 "$p: failed requests"
    assert_eq "$(slot_sum "$p" restarts)" 0 "$p: workers restarted"
done
# --- a worker killed mid-reply: 12 000-byte replies in 100-byte pieces take the
# worker tens of ms each, so a kill lands inside one; the bytes droverd held are
# dropped with the link and the request is retried elsewhere ---
wc_start "$T/wc_dying" -s "$T/dying.sock" -c 2 -z 12000 -t 60 -d 120
dying=$WC_PID
for i in 1 2 3 4; do
    wait_for 20 "dying: load before kill $i" pool_route_ge dying requests $((i * 10))
    victim=$(slot_field dying "$((i % 2))" pid)
    [ "$victim" != None ] && kill -KILL "$victim"
    wait_for 20 "dying: slot $((i % 2)) restarted" pid_changed dying "$((i % 2))" "$victim"
    wait_for 20 "dying: both running" pool_running dying 2
done
wc_end_sending "$dying"
WC_PID=$dying wc_wait "$T/wc_dying"
wc_clean "$T/wc_dying" "12 000-byte replies while workers are killed mid-reply"
log "dying: $(pool_route dying retries) retries over 4 kills"
[ "$(pool_route dying retries)" -ge 1 ] || fail "dying: no request was retried after 4 kills mid-reply"

grep -q "sent a reply" "$T/droverd.log" && fail "a worker was blamed: $(grep "sent a reply" "$T/droverd.log")"
finish_checks
