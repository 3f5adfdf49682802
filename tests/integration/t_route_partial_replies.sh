#!/bin/bash
# Replies that reach droverd in pieces are put back together exactly: a worker
# writing its replies a few bytes at a time, pieces running across replies
# (faulty-echo-worker --dribble), for small replies, 4 KiB ones (the start of a
# reply an earlier read left goes in front of the next read, daemon/link.c
# scratch_read_after) and 40 KB ones (past what is moved that way: the rest is
# read into the link's buffer). Every request answered with its own bytes, in
# order, nothing lost, duplicated or retried, no worker killed.
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
EOF2
start_daemon
for p in small mid big; do wait_for 10 "$p running" pool_running "$p" 2; done

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
grep -q "sent a reply" "$T/droverd.log" && fail "a worker was blamed: $(grep "sent a reply" "$T/droverd.log")"
finish_checks
