#!/bin/bash
# ready = notify: a worker is `starting` until it sends READY=1 on
# $NOTIFY_SOCKET, then `running`; its STATUS= shows in `drover status`
# (status_text and the INFO column). One that never sends READY=1 is killed
# after start_timeout and backs off. With watchdog, a worker that stops
# sending WATCHDOG=1 is killed and restarted. Messages from any other pid
# (a child of the worker, or an unrelated process) are ignored.
. "$(dirname "$0")/lib.sh"

write_config <<EOF
[pool:slow]
command = $NOTIFY_WORKER --status-first booting --trigger $T/slow.go --hold $T/slow.hold --ready-after 1500 --mark $T/slow.ready --status serving
workers = 1
ready = notify
start_timeout = 60s

[pool:never]
command = $NOTIFY_WORKER --status-first waiting --never-ready
workers = 1
ready = notify
start_timeout = 1s
restart_delay = 30s
restart_delay_max = 60s

[pool:wd]
command = $NOTIFY_WORKER --trigger $T/wd.go --watchdog-for 1500 --stopped $T/wd.stopped --status alive
workers = 1
ready = notify
start_timeout = 60s
watchdog = 600ms

[pool:forge]
command = $NOTIFY_WORKER --trigger $T/forge.go --forge --hold $T/forge.hold --status genuine
workers = 1
ready = notify
start_timeout = 60s
EOF
start_daemon
wait_for 10 "slow worker started" pid_changed slow 0 None
slow_pid=$(slot_field slow 0 pid)

# slot_line POOL: "pid state status_text" of slot 0, in one status call.
slot_line() {
    status_json "next('%s %s %s' % (x['pid'], x['state'], x['status_text']) for p in s['pools'] if p['name']=='$1' for x in p['slots'])"
}

# ---- never READY: killed after start_timeout, then backoff -------------------------
# last_exit_of POOL: "signal reason" of slot 0's last exit.
last_exit_of() {
    status_json "next('%s %s' % (x['last_exit']['signal'], x['last_exit']['reason']) for p in s['pools'] if p['name']=='$1' for x in p['slots'])"
}
# Watch the slot until it backs off: remember its pids, and while the second
# worker starts (restarted at once after the first failure), last_exit must
# already say why the first one was killed.
never_pids=()
deadline=$(($(date +%s%N) + 15000000000))
while :; do
    read -r pid state restarts why < <(status_json "next('%s %s %s %s' % (x['pid'], x['state'], x['restarts'], x['last_exit'] and '%s/%s' % (x['last_exit']['signal'], x['last_exit']['reason'])) for p in s['pools'] if p['name']=='never' for x in p['slots'])")
    [ "$state" = backoff ] && break
    [ "$pid" != None ] && never_pids+=("$pid")
    if [ "$state" = starting ] && [ "$restarts" = 1 ] && [ "$why" != None ] && [ "$why" != "KILL/start timeout" ]; then
        fail_later "never: last_exit while the restarted worker starts: want 'KILL/start timeout', got '$why'"
        break
    fi
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "never slot did not back off within 15s"
    sleep 0.05
done
for pid in "${never_pids[@]}"; do
    wait_for 5 "never worker $pid gone" dead "$pid"
done
wait_for 5 "never slot backs off after the second failed start" state_is never 0 backoff
assert_eq "$(last_exit_of never)" "KILL start timeout" "never: last_exit in backoff"
assert_eq "$(slot_field never 0 crash_streak)" 2 "crash_streak of never"
# Two start timeouts of 1 s each: the second failure came about 2 s after droverd started.
at=$(status_json "s['daemon']['uptime_seconds'] - next(x['last_exit']['seconds_ago'] for p in s['pools'] if p['name']=='never' for x in p['slots'])")
python3 -c "import sys; sys.exit(0 if 1.9 <= float(sys.argv[1]) <= 6 else 1)" "$at" ||
    fail "the second failed start came ${at}s after droverd started; start_timeout = 1s"
dv metrics | grep -qx 'drover_pool_exits_total{pool="never",cause="failed"} 2' ||
    fail "exits_total cause=failed for never should be 2: $(dv metrics | grep 'pool="never",cause')"

# ---- READY=1 after a delay: starting until then, running after ---------------------
# The worker waits for slow.go, then for slow.hold (made once this test saw it starting,
# however slow this machine is), then 1.5 s, then makes its mark and sends READY=1.
touch "$T/slow.go"
slow_start=$(date +%s%N)
seen=0
while :; do
    read -r pid state text < <(slot_line slow)
    # The mark is made before READY=1 is sent: without it, READY=1 cannot have arrived.
    [ -e "$T/slow.ready" ] && break
    assert_eq "$pid" "$slow_pid" "slow worker's pid before READY=1"
    assert_eq "$state" starting "slow worker's state before READY=1"
    [ "$text" = None ] || assert_eq "$text" booting "slow worker's status_text before READY=1"
    seen=$((seen + 1))
    touch "$T/slow.hold"
    [ $(($(date +%s%N) - slow_start)) -lt 20000000000 ] || fail "slow worker never made its mark"
    sleep 0.05
done
[ "$seen" -ge 1 ] || fail "never saw the slow worker before its READY=1"
assert_eq "$(cat "$T/slow.ready")" "$slow_pid" "pid that made the mark before READY=1"
wait_for 5 "slow worker running after READY=1" state_is slow 0 running
assert_eq "$(slot_field slow 0 pid)" "$slow_pid" "slow worker's pid after READY=1"
assert_eq "$(slot_field slow 0 status_text)" serving "status_text after READY=1"
assert_contains "$(dv status slow --wide)" "serving" "text status shows STATUS="

# ---- watchdog ------------------------------------------------------------------------
# The worker waits for wd.go, sends READY=1, then WATCHDOG=1 for 1.5 s (watchdog = 600ms),
# then marks wd.stopped with its pid and goes quiet.
assert_eq "$(slot_field wd 0 state)" starting "wd worker before it is told to go"
touch "$T/wd.go"
wd_start=$(date +%s%N)
wait_for 5 "wd worker running" state_is wd 0 running
wd_pid=$(slot_field wd 0 pid)
assert_eq "$(slot_field wd 0 status_text)" alive "wd status_text"
seen=0
while :; do
    read -r pid state text < <(slot_line wd)
    # Until the worker stops pinging (it then makes its mark), it must be left alone.
    [ -e "$T/wd.stopped" ] && break
    assert_eq "$pid $state" "$wd_pid running" "wd worker while it sends WATCHDOG=1"
    seen=$((seen + 1))
    [ $(($(date +%s%N) - wd_start)) -lt 10000000000 ] || fail "wd worker never stopped pinging"
    sleep 0.05
done
# The worker that made the mark is the first one: it lived through 1.5 s of pings.
assert_eq "$(cat "$T/wd.stopped")" "$wd_pid" "pid of the worker that stopped pinging"
wait_for 5 "wd worker killed after the pings stop" pid_changed wd 0 "$wd_pid"
wait_for 5 "old wd worker gone" dead "$wd_pid"
got=$(last_exit_of wd)
[ "$got" = "KILL watchdog timeout" ] || fail_later "wd: last_exit after the watchdog kill (worker restarted): want 'KILL watchdog timeout', got '$got'"
# The replacement finds the mark and keeps pinging: it stays up.
wait_for 5 "wd worker restarted and running" state_is wd 0 running
assert_eq "$(slot_field wd 0 restarts)" 1 "wd restarts"
assert_eq "$(slot_field wd 0 crashes)" 1 "wd crashes"

# ---- messages from other pids are ignored --------------------------------------------
forge_pid=$(slot_field forge 0 pid)
# An unrelated process (this test) claims readiness for the worker.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=python-forged", sys.argv[1])
' "$SOCK.notify" || fail "could not send to $SOCK.notify"
# Then a child of the worker does; then the worker itself sends STATUS=after-forge.
touch "$T/forge.go"
status_text_is() { [ "$(slot_field "$1" 0 status_text)" = "$2" ]; }
wait_for 5 "the worker's own message after the forgeries" status_text_is forge after-forge
# The socket is read in order: both forgeries were read before after-forge.
assert_eq "$(slot_line forge)" "$forge_pid starting after-forge" "forge worker after forged READY=1"
grep -q 'forged' <(dv status forge) && fail "a forged STATUS= shows in status"
touch "$T/forge.hold"
wait_for 5 "forge worker running after its own READY=1" state_is forge 0 running
assert_eq "$(slot_line forge)" "$forge_pid running genuine" "forge worker after its own READY=1"

alive "$DAEMON_PID" || fail "droverd died"
finish_checks
