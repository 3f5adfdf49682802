#!/bin/bash
# A stop reaches a worker that is suspended (SIGSTOP, Ctrl-Z in a debugging session, a
# `drover signal web STOP`): the stop signal stays pending in a stopped process, so droverd
# follows it with SIGCONT (as systemd does). The worker then handles stop_signal and exits
# cleanly at once, instead of being SIGKILLed after stop_timeout without its handler running.
# A stop_signal that itself stops a process (STOP) is not followed by SIGCONT.
. "$(dirname "$0")/lib.sh"

# The worker: says "term" and exits 0 on SIGTERM; suspends itself once it is up.
cat >"$T/suspender" <<'EOF2'
#!/bin/sh
trap 'echo term >>"$1/got.$$"; exit 0' TERM
echo up >"$1/up.$$"
kill -STOP $$
while :; do sleep 1 & wait $!; done
EOF2
chmod +x "$T/suspender"

write_config <<EOF2
cgroup = off
[pool:susp]
command = $T/suspender $T
workers = 1
stdout = null
start_grace = 0
stop_timeout = 30s
[pool:stopsig]
command = /bin/sleep 3600
workers = 1
stop_signal = STOP
stop_timeout = 300ms
EOF2
start_daemon
wait_for 20 "pool susp running" pool_running susp
wait_for 20 "pool stopsig running" pool_running stopsig
pid=$(slot_field susp 0 pid)
stopped() { [ "$(ps -o stat= -p "$1" | cut -c1)" = T ]; }
wait_for 10 "worker $pid suspended" stopped "$pid"

t0=$(now_ms)
dv stop --no-wait susp >/dev/null || fail "drover stop susp failed"
wait_for 10 "the suspended worker stopped" state_is susp 0 stopped
took=$(($(now_ms) - t0))
[ "$took" -lt 10000 ] || fail "the stop took ${took} ms"
test -f "$T/got.$pid" || fail "the worker never got its stop_signal"
assert_eq "$(slot_json susp 0 "x['last_exit']['description']")" "exit 0" "last exit"

# stop_signal = STOP: the worker is suspended, then SIGKILLed at stop_timeout.
spid=$(slot_field stopsig 0 pid)
dv stop stopsig >/dev/null || fail "drover stop stopsig failed"
assert_eq "$(slot_json stopsig 0 "x['last_exit']['description']")" "killed by KILL" "stopsig last exit"
log "ok"
