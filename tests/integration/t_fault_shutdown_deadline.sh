#!/bin/bash
# shutdown_timeout is a hard bound. A message-mode worker that ignores SIGTERM holds a
# request it will not answer for a minute, and a supervised worker ignores SIGTERM with a
# stop_timeout longer than the shutdown's. On SIGTERM, with shutdown_timeout = 2s:
#  - droverd exits within shutdown_timeout plus its stated margin (1 s);
#  - the client of the held request is answered -FAILED at the deadline, at once: the
#    request is not delivered again, and nothing is started during the shutdown (the
#    worker killed at the deadline is not a crash to restart);
#  - every worker is gone when droverd has exited.
# Then a worker that crashes during a graceful shutdown is not restarted: the request
# it held, which no worker is left to take, is answered -FAILED at once, and droverd
# exits without waiting for shutdown_timeout.
. "$(dirname "$0")/lib.sh"
uses proc

SHUTDOWN_MS=2000
MARGIN_MS=1000

write_config <<EOF2
[pool:held]
command = $FAULTY_ECHO_WORKER --ignore-term --starts $T/starts.held
workers = 1
listen = $T/held.sock
stop_timeout = 30s
request_timeout = 60s
max_attempts = 2

[pool:stubborn]
command = $PROBE_WORKER --ignore TERM --record $T/sig.stubborn --info $T/info.stubborn
workers = 1
stop_timeout = 30s
EOF2
sed -i "s/^shutdown_timeout = .*/shutdown_timeout = ${SHUTDOWN_MS}ms/" "$CONF"
"$DROVERD" -d -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd to answer" dv status
wait_for 10 "held running" pool_running held 1
wait_for 10 "stubborn running" pool_running stubborn 1
wait_for 5 "stubborn set up" test -f "$T/info.stubborn"
pids="$(pool_pids held) $(pool_pids stubborn)"
for p in $pids; do track_pid "$p"; done

# The request the worker holds: answered only after a minute.
timeout 30 "$DROVER" -s "$SOCK" call held SLOW60000 >"$T/call.out" 2>"$T/call.err" &
call=$!
track_pid $call
wait_for 10 "the request in flight" pool_route_is held inflight 1

t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_for 5 "stubborn got TERM" file_has "$T/sig.stubborn" TERM
rc=0
wait "$call" || rc=$?
t_call=$(($(now_ms) - t0))
wait_daemon_exit $(((SHUTDOWN_MS + MARGIN_MS) / 1000 + 10))
t_exit=$(($(now_ms) - t0))
log "SIGTERM -> the held request answered after ${t_call} ms, droverd exited after ${t_exit} ms (shutdown_timeout ${SHUTDOWN_MS} ms)"
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"

# The bound. The test's own polling adds up to 20 ms; a sanitizer slows the kill and reap.
[ "$t_exit" -le $((SHUTDOWN_MS + MARGIN_MS * SLOWDOWN + 100)) ] ||
    fail "droverd exited ${t_exit} ms after SIGTERM: more than shutdown_timeout (${SHUTDOWN_MS} ms) + ${MARGIN_MS} ms"
[ "$t_exit" -ge $((SHUTDOWN_MS - 100)) ] ||
    fail "droverd exited ${t_exit} ms after SIGTERM, before shutdown_timeout: the held request was not waited for"

# The client: -FAILED at the deadline, not redelivered, not left without an answer.
[ "$rc" = 1 ] || fail "drover call: exit $rc (want 1, an error reply): $(cat "$T/call.out" "$T/call.err")"
grep -q "FAILED" "$T/call.err" || fail "drover call: no FAILED reply: $(cat "$T/call.out" "$T/call.err")"
[ "$t_call" -le $((SHUTDOWN_MS + MARGIN_MS * SLOWDOWN)) ] ||
    fail "the held request was answered ${t_call} ms after SIGTERM (deadline ${SHUTDOWN_MS} ms)"

# Nothing was started during the shutdown; the kill at the deadline was no crash.
assert_eq "$(wc -l <"$T/starts.held")" 1 "workers ever started in pool held"
assert_eq "$(grep -c 'started pid' "$T/droverd.log")" 2 "workers started by droverd (one per pool)"
! grep -q "exited unexpectedly" "$T/droverd.log" ||
    fail "a worker killed at the deadline was taken for a crash: $(grep 'exited unexpectedly' "$T/droverd.log")"
grep -q "shutdown_timeout reached" "$T/droverd.log" || fail "droverd did not log the deadline"

wait_for 3 "every worker gone" gone $pids
untrack_gone

# --- a crash during the shutdown: no restart, and no wait for the deadline ---
rm -f "$T/starts.crashy"
write_config <<EOF2
[pool:crashy]
command = $FAULTY_ECHO_WORKER --starts $T/starts.crashy
workers = 1
listen = $T/crashy.sock
max_attempts = 2
EOF2
# A long shutdown_timeout, so that "did not wait for it" has a wide margin on a slow host.
sed -i "s/^shutdown_timeout = .*/shutdown_timeout = 30s/" "$CONF"
"$DROVERD" -d -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd to answer" dv status
wait_for 10 "crashy running" pool_running crashy 1
pid=$(pool_pids crashy)
track_pid "$pid"
timeout 30 "$DROVER" -s "$SOCK" call crashy SLOW6000 >"$T/call1.out" 2>"$T/call1.err" &
c1=$!
track_pid $c1
# The slow request holds the worker for 6 s: the crashing one must be queued behind it
# before it ends (at load 9 a second CLI took 1.5 s to reach droverd).
wait_for 10 "the slow request in flight" pool_route_is crashy inflight 1
timeout 30 "$DROVER" -s "$SOCK" call crashy CRASH >"$T/call2.out" 2>"$T/call2.err" &
c2=$!
track_pid $c2
wait_for 10 "the crashing request queued" pool_route_is crashy queued 1
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
rc1=0 rc2=0
wait "$c1" || rc1=$?
wait "$c2" || rc2=$?
wait_daemon_exit 20
t_exit=$(($(now_ms) - t0))
log "a crash during the shutdown: droverd exited after ${t_exit} ms (shutdown_timeout 30 s)"
assert_eq "$rc1" 0 "the slow request, answered during the drain"
[ "$rc2" = 1 ] && grep -q FAILED "$T/call2.err" ||
    fail "the request of the worker that crashed during the shutdown: exit $rc2: $(cat "$T/call2.out" "$T/call2.err")"
assert_eq "$(wc -l <"$T/starts.crashy")" 1 "workers started in pool crashy (a crash during the shutdown restarts nothing)"
[ "$t_exit" -lt 15000 ] || fail "droverd took ${t_exit} ms to exit with no worker left: it waited for shutdown_timeout"
