#!/bin/bash
# What a worker starts with. Environment: DROVER_POOL, DROVER_WORKER,
# DROVER_CPU when pinned, the pool's `environment` (quoted values with commas
# and quotes), and none of the variables droverd's own supervisor gave it
# (NOTIFY_SOCKET, LISTEN_*, WATCHDOG_*). File descriptors: exactly 0, 1, 2, plus
# 3 for a routed pool, even though droverd itself inherited extra fds.
. "$(dirname "$0")/lib.sh"

W="$PROBE_WORKER --fds $T/fds.%p --env $T/env.%p --info $T/info.%p"
write_config <<EOF2
[pool:envpool]
command = $W
workers = 2
cpu_affinity = core
environment = MODE=prod, CACHE="/var/cache/a, b", GREETING="say \"hi\", then go", EMPTY=

[pool:routed]
command = $W
workers = 1
listen = $T/routed.sock

[pool:quiet]
command = $W
workers = 1
stdout = null

[pool:loud]
command = $W
workers = 1
stdout = inherit
EOF2

# droverd inherits fds 7 and 12 (not close-on-exec) and variables meant for it alone.
exec 7</dev/null 12>"$T/fd12"
NOTIFY_SOCKET=$T/no-such-notify.sock LISTEN_FDS=1 LISTEN_PID=1 LISTEN_FDNAMES=envpool \
    WATCHDOG_USEC=60000000 WATCHDOG_PID=1 MODE=from-droverd start_daemon
exec 7<&- 12>&-
[ -e "/proc/$DAEMON_PID/fd/7" ] && [ -e "/proc/$DAEMON_PID/fd/12" ] ||
    fail "droverd did not inherit fds 7 and 12 (the test would prove nothing)"
tr '\0' '\n' <"/proc/$DAEMON_PID/environ" | grep -q "^NOTIFY_SOCKET=$T/no-such-notify.sock$" ||
    fail "droverd was not started with NOTIFY_SOCKET (the test would prove nothing)"
for p in envpool routed quiet loud; do wait_for 10 "$p running" pool_running "$p"; done

# Every fd droverd opened itself is close-on-exec; only what it inherited (from this
# shell, which also passes whatever its own parent left open) may lack the flag.
inherited=" 0 1 2 7 12 $(ls /proc/$$/fd | tr '\n' ' ') "
for info in /proc/$DAEMON_PID/fdinfo/*; do
    fd=${info##*/}
    flags=$(awk '/^flags:/ {print $2}' "$info" 2>/dev/null) || continue
    [ -n "$flags" ] || continue
    if [ $((8#$flags & 8#2000000)) -eq 0 ]; then
        case "$inherited" in *" $fd "*) ;; *) fail "droverd fd $fd ($(readlink /proc/$DAEMON_PID/fd/$fd)) is not close-on-exec" ;; esac
    fi
done

# env_of PID NAME: the value of NAME in that worker's recorded environment, or <unset>.
env_of() {
    local line
    line=$(grep -m1 "^$2=" "$T/env.$1") || { echo "<unset>"; return; }
    echo "${line#*=}"
}

mapfile -t cpus < <(python3 -c "import os; print('\n'.join(map(str, sorted(os.sched_getaffinity(0)))))")
for pool in envpool routed quiet loud; do
    for pid in $(pool_pids $pool); do
        wait_for 5 "worker $pid of $pool set up" test -f "$T/info.$pid"
        slot=$(pool_json $pool "next(x['slot'] for x in p['slots'] if x['pid'] == $pid)")
        assert_eq "$(env_of $pid DROVER_POOL)" "$pool" "$pool:$slot DROVER_POOL"
        assert_eq "$(env_of $pid DROVER_WORKER)" "$slot" "$pool:$slot DROVER_WORKER"
        for v in NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES WATCHDOG_USEC WATCHDOG_PID; do
            assert_eq "$(env_of $pid $v)" "<unset>" "$pool:$slot $v (droverd's own, must not leak)"
        done
        fds=$(tr '\n' ' ' <"$T/fds.$pid")
        if [ $pool = routed ]; then
            assert_eq "$fds" "0 1 2 3 " "$pool:$slot open fds at start"
            assert_eq "$(env_of $pid DROVER_FD)" 3 "$pool:$slot DROVER_FD"
        else
            assert_eq "$fds" "0 1 2 " "$pool:$slot open fds at start"
        fi
        if [ $pool = envpool ]; then
            assert_eq "$(env_of $pid DROVER_CPU)" "${cpus[$((slot % ${#cpus[@]}))]}" "$pool:$slot DROVER_CPU"
            assert_eq "$(env_of $pid MODE)" prod "$pool:$slot MODE (the pool's value wins)"
            assert_eq "$(env_of $pid CACHE)" "/var/cache/a, b" "$pool:$slot CACHE (quoted, with a comma)"
            assert_eq "$(env_of $pid GREETING)" 'say "hi", then go' "$pool:$slot GREETING (escaped quotes)"
            assert_eq "$(env_of $pid EMPTY)" "" "$pool:$slot EMPTY"
        else
            assert_eq "$(env_of $pid DROVER_CPU)" "<unset>" "$pool:$slot DROVER_CPU (not pinned)"
        fi
    done
done

# What the standard fds are: stdin /dev/null; stdout/stderr a pipe (log), /dev/null (null).
ep=$(slot_field envpool 0 pid)
assert_eq "$(readlink /proc/$ep/fd/0)" /dev/null "stdin of a worker"
case "$(readlink /proc/$ep/fd/1)" in pipe:*) ;; *) fail "stdout of a stdout = log worker: $(readlink /proc/$ep/fd/1)" ;; esac
qp=$(slot_field quiet 0 pid)
assert_eq "$(readlink /proc/$qp/fd/1) $(readlink /proc/$qp/fd/2)" "/dev/null /dev/null" "stdout and stderr of a stdout = null worker"
rp=$(slot_field routed 0 pid)
case "$(readlink /proc/$rp/fd/3)" in socket:*) ;; *) fail "fd 3 of a routed worker: $(readlink /proc/$rp/fd/3)" ;; esac

# A restarted worker starts the same way.
kill -KILL "$ep"
wait_for 5 "envpool:0 restarted" pid_changed envpool 0 "$ep"
np=$(slot_field envpool 0 pid)
wait_for 5 "new worker set up" test -f "$T/info.$np"
assert_eq "$(tr '\n' ' ' <"$T/fds.$np")" "0 1 2 " "open fds of a restarted worker"
assert_eq "$(env_of $np CACHE)" "/var/cache/a, b" "CACHE of a restarted worker"
