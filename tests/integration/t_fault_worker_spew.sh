#!/bin/bash
# Workers that misbehave in ways t_life_* and t_route_* do not cover, next to
# pools that keep serving:
#  - a handoff worker writes junk on fd 3 and 4 KiB lines on stdout, both as
#    fast as droverd takes them, at the same time, for the whole test
#    (gigabytes): droverd drains both without buffering them (its RSS stays
#    small), rotates the log within log_max_size x (log_keep + 1), and stays
#    fair: `drover status` answers within 1 s and a message pool and a handoff
#    pool serve their clients with nothing lost;
#  - a message-mode worker that writes junk on fd 3 (no request pending) and
#    floods stdout is killed for it each time, with the reason logged, and
#    restarted with backoff;
#  - a worker stopped with SIGSTOP does not hold up `drover stop`: SIGCONT
#    follows the SIGTERM, which would stay pending on a stopped process, so it
#    ends by SIGTERM, not by the SIGKILL at stop_timeout.
. "$(dirname "$0")/lib.sh"
uses route fault

SECS=8
write_config <<EOF2
[pool:spew]
command = $SPEW_WORKER --spew-fd3 --spew-stdout --progress $T/spew.%w
workers = 1
listen = $T/spew.sock
mode = handoff
log_max_size = 4M
log_keep = 1

[pool:spewm]
command = $SPEW_WORKER --spew-fd3 --spew-stdout
workers = 1
listen = $T/spewm.sock
restart_delay = 100ms
restart_delay_max = 200ms
crash_limit = none
log_max_size = 4M
log_keep = 1

[pool:m]
command = $ECHO_WORKER
workers = 2
listen = $T/m.sock

[pool:h]
command = $ECHO_WORKER
workers = 2
listen = $T/h.sock
mode = handoff

[pool:frozen]
command = $SPEW_WORKER
workers = 1
stop_timeout = 1s
EOF2
start_daemon
for p in m h; do wait_for 10 "$p running" pool_running $p 2; done
wait_for 10 "spew running" pool_running spew 1
wait_for 10 "frozen running" pool_running frozen
spew_pid=$(slot_field spew 0 pid)
bytes() { awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$1"; }
wait_for 5 "the spewing to start" test -s "$T/spew.0"

out0=$(bytes "$T/spew.0" stdout_bytes)
fd30=$(bytes "$T/spew.0" fd3_bytes)
t0=$(now_ms)
wc_start "$T/wc_m" -s "$T/m.sock" -c 4 -p 8 -z 100 -t "$SECS" -d 60
wc_m=$WC_PID
wc_start "$T/wc_h" -s "$T/h.sock" --raw -k 1 -c 4 -z 100 -t "$SECS" -d 60
wc_h=$WC_PID
rss_max=0
probe_end=$(($(now_ms) + SECS * 1000))
: >"$T/probe"
while [ "$(now_ms)" -lt "$probe_end" ]; do
    time_ms timeout 30 "$DROVER" -s "$SOCK" status >>"$T/probe"
    r=$(rss_kb "$DAEMON_PID")
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    sleep 0.05
done
WC_PID=$wc_m wc_wait "$T/wc_m"
WC_PID=$wc_h wc_wait "$T/wc_h"
el=$(($(now_ms) - t0))
out1=$(bytes "$T/spew.0" stdout_bytes)
fd31=$(bytes "$T/spew.0" fd3_bytes)
so=$((out1 - out0))
s3=$((fd31 - fd30))
log "in ${el} ms the spewing worker wrote $((so >> 20)) MiB to stdout and $((s3 >> 20)) MiB to fd 3 ($(((so + s3) * 1000 / (el > 0 ? el : 1) >> 20)) MiB/s); droverd RSS at most ${rss_max} kB"
log "message pool: $(cat "$T/wc_m")"
log "handoff pool: $(cat "$T/wc_h")"
wc_clean "$T/wc_m" "message pool next to the spewing workers"
wc_clean "$T/wc_h" "handoff pool next to the spewing workers"
probe_check "$T/probe" $((1000 * SLOWDOWN)) "status next to the spewing workers"
[ $((so + s3)) -ge $(((1 << 30) / SLOWDOWN)) ] || fail "only $(((so + s3) >> 20)) MiB were spewed in ${el} ms: droverd did not drain them (wanted >= $((1024 / SLOWDOWN)) MiB)"
[ "$so" -ge $(((64 << 20) / SLOWDOWN)) ] || fail "only $((so >> 20)) MiB went to stdout: its pipe was not drained"
[ "$s3" -ge $(((64 << 20) / SLOWDOWN)) ] || fail "only $((s3 >> 20)) MiB went to fd 3: its socket was not drained"
[ "$RSS_CHECKS" = 0 ] || [ "$rss_max" -lt $((32 * 1024)) ] || fail "droverd's RSS reached ${rss_max} kB: it buffers what it should drain"
assert_eq "$(slot_field spew 0 pid)" "$spew_pid" "the handoff spewer's pid (junk 'done' bytes are no reason to kill it)"
logs_size=$(du -cb "$T"/log/spew.log* 2>/dev/null | tail -n 1 | cut -f1) # (a rotation may race the glob)
log "spew.log and its rotations: $logs_size bytes on disk"
[ "$logs_size" -le $((2 * 4 * 1048576 + 65536)) ] || fail "spew's logs take $logs_size bytes, more than log_max_size x (log_keep + 1)"

# The message-mode spewer was killed for its junk, again and again, and restarted.
kills=$(grep -Ec 'pool spewm slot 0: worker sent a reply (larger than max_frame|with no request pending); killing it' "$T/droverd.log")
log "spewm was killed $kills times for junk on fd 3 ($(slot_field spewm 0 restarts) restarts)"
[ "$kills" -ge $((5 / SLOWDOWN + 1)) ] || fail "the message-mode spewer was killed only $kills times in ${SECS}s"
[ "$(slot_field spewm 0 restarts)" -ge $((5 / SLOWDOWN + 1)) ] || fail "the message-mode spewer was not restarted"
alive "$DAEMON_PID" || fail "droverd died"

# --- a SIGSTOPped worker and `drover stop` ---
frozen=$(slot_field frozen 0 pid)
kill -STOP "$frozen"
is_stopped() { [ "$(ps -o stat= -p "$1" | cut -c1)" = T ]; }
wait_for 5 "the worker to be stopped" is_stopped "$frozen"
t0=$(now_ms)
expect_exit 0 "drover stop frozen" timeout 20 "$DROVER" -s "$SOCK" stop frozen
ms=$(($(now_ms) - t0))
log "drover stop of a SIGSTOPped worker took ${ms} ms (stop_timeout 1s)"
[ "$ms" -lt $((5000 * SLOWDOWN)) ] || fail "stopping a SIGSTOPped worker took ${ms} ms"
wait_for 5 "the stopped worker to be gone" gone "$frozen"
assert_eq "$(slot_json frozen 0 "x['last_exit']['signal']")" TERM "how the SIGSTOPped worker ended"
expect_exit 0 "drover start frozen" dv start frozen
wc_run "$T/wc_after" -s "$T/m.sock" -c 2 -p 4 -n 1000
