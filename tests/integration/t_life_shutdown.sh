#!/bin/bash
# `drover shutdown`, SIGTERM and SIGINT each stop every worker gracefully
# (they receive their stop signal), droverd exits 0, and no process of the
# pools survives, grandchildren included. A second SIGINT during a slow
# shutdown kills at once instead of waiting for stop_timeout.
. "$(dirname "$0")/lib.sh"

config() { # STOP_TIMEOUT
    write_config <<EOF2
[pool:one]
command = $PROBE_WORKER --family $T/family.one.%w --family-ignore-term --record $T/sig.one.%w --info $T/info.one.%w
workers = 2
stop_timeout = $1

[pool:two]
command = $PROBE_WORKER --record $T/sig.two.%w --info $T/info.two.%w --term-delay 200
workers = 1
stop_timeout = $1
EOF2
}

# Start droverd, wait for every worker; PIDS gets every process of the pools.
up() {
    rm -f "$T"/info.* "$T"/sig.* "$T"/family.*
    start_daemon
    wait_for 10 "pool one running" pool_running one
    wait_for 10 "pool two running" pool_running two
    for f in info.one.0 info.one.1 info.two.0; do wait_for 5 "$f" test -f "$T/$f"; done
    PIDS="$(pool_pids one) $(pool_pids two) $(cat "$T"/family.one.*)"
    for p in $PIDS; do track_pid "$p"; done
    [ "$(echo $PIDS | wc -w)" = 7 ] || fail "expected 7 processes, got: $PIDS"
}

check_graceful() { # HOW
    for f in sig.one.0 sig.one.1 sig.two.0; do
        assert_eq "$(cat "$T/$f" 2>/dev/null)" TERM "signal received by $f's worker on $1"
    done
    wait_for 5 "every process of the pools gone after $1" gone $PIDS
    untrack_gone
}

config 10s

# 1. drover shutdown: returns once droverd is done.
up
expect_exit 0 "drover shutdown" dv shutdown
wait_daemon_exit 5
assert_eq "$DAEMON_STATUS" 0 "droverd exit status after drover shutdown"
check_graceful "drover shutdown"
[ ! -e "$SOCK" ] || fail "control socket left behind after drover shutdown"

# 2. SIGTERM.
up
kill -TERM "$DAEMON_PID"
wait_daemon_exit 10
assert_eq "$DAEMON_STATUS" 0 "droverd exit status after SIGTERM"
check_graceful "SIGTERM"

# 3. SIGINT.
up
kill -INT "$DAEMON_PID"
wait_daemon_exit 10
assert_eq "$DAEMON_STATUS" 0 "droverd exit status after SIGINT"
check_graceful "SIGINT"

# 4. A second SIGINT kills at once: a worker that ignores TERM would hold the
# shutdown for stop_timeout (30s).
write_config <<EOF2
[pool:slow]
command = $PROBE_WORKER --ignore TERM --family $T/family.slow --family-ignore-term --record $T/sig.slow --info $T/info.slow
workers = 1
stop_timeout = 30s
EOF2
sed -i 's/^shutdown_timeout = .*/shutdown_timeout = 60s/' "$CONF"
start_daemon
wait_for 10 "slow running" pool_running slow
wait_for 5 "slow worker set up" test -f "$T/info.slow"
sp=$(slot_field slow 0 pid)
read -r sc sg <"$T/family.slow"
for p in "$sp" "$sc" "$sg"; do track_pid "$p"; done
kill -INT "$DAEMON_PID"
wait_for 5 "the slow worker got TERM" file_has "$T/sig.slow" TERM
assert_eq "$(status_json "s['daemon']['shutting_down']")" True "status while shutting down"
alive "$DAEMON_PID" || fail "droverd exited before its TERM-ignoring worker"
t0=$(now_ms)
kill -INT "$DAEMON_PID"
wait_daemon_exit 5
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -lt 3000 ] || fail "second SIGINT: droverd took ${elapsed}ms to exit"
wait_for 3 "every process of the slow pool gone after a second SIGINT" gone "$sp" "$sc" "$sg"
untrack_gone
grep -q "second INT" "$T/droverd.log" || fail "the log does not mention the second SIGINT"
