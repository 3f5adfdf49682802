#!/bin/bash
# One droverd per control socket. Two droverds started at the same instant on one config:
# exactly one runs and answers on the socket, the other exits 1 at once saying which pid
# holds SOCKET.lock; 20 times in a row. The lock file stays after droverd ends (killed or
# not), and a stale one does not keep the next droverd from starting.
. "$(dirname "$0")/lib.sh"

TRIALS=20
write_config <<EOF2
[pool:one]
command = /bin/sleep 1000
workers = 1
EOF2

# A second, different config on the same control socket: the lock is the socket's, not the file's.
sed 's/^workers = 1/workers = 2/' "$CONF" >"$T/other.ini"

survivor_of() { # PID_A PID_B: prints the pid of the droverd still running once the other exited
    local a=$1 b=$2 deadline=$(($(date +%s%N) + 10000000000))
    while alive "$a" && alive "$b"; do
        [ "$(date +%s%N)" -gt "$deadline" ] && fail "trial $trial: both droverds still run after 10 s"
        sleep 0.01
    done
    if alive "$a"; then echo "$a"; elif alive "$b"; then echo "$b"; else echo none; fi
}

for trial in $(seq 1 $TRIALS); do
    conf_b=$CONF
    [ $((trial % 2)) = 0 ] && conf_b=$T/other.ini
    "$DROVERD" -c "$CONF" >"$T/a.log" 2>&1 &
    a=$!
    "$DROVERD" -c "$conf_b" >"$T/b.log" 2>&1 &
    b=$!
    track_pid $a
    track_pid $b
    win=$(survivor_of $a $b)
    [ "$win" != none ] || fail "trial $trial: neither droverd runs: $(cat "$T/a.log" "$T/b.log")"
    if [ "$win" = "$a" ]; then lose=$b loselog=$T/b.log; else lose=$a loselog=$T/a.log; fi
    rc=0
    wait "$lose" || rc=$?
    [ "$rc" = 1 ] || fail "trial $trial: the second droverd exited $rc (want 1): $(cat "$loselog")"
    grep -q "another droverd (pid $win) holds $SOCK.lock" "$loselog" ||
        fail "trial $trial: the second droverd did not name the first: $(cat "$loselog")"
    # The winner serves the socket, and it is the winner that answers.
    DAEMON_PID=$win
    wait_for 10 "trial $trial: the survivor to answer" dv status
    assert_eq "$(status_json "s['daemon']['pid']")" "$win" "trial $trial: pid answering on the socket"
    alive "$win" || fail "trial $trial: the survivor died"
    if [ "$trial" = 1 ]; then
        # While one runs, a third start is refused too, and the socket is left alone.
        expect_exit 1 "a third droverd" timeout 10 "$DROVERD" -c "$CONF"
        assert_contains "$RUN_ERR" "another droverd (pid $win) holds $SOCK.lock" "third droverd's message"
        dv status >/dev/null || fail "the socket stopped answering after a refused start"
    fi
    if [ "$trial" = "$TRIALS" ]; then
        # Killed outright: the lock dies with it; the file and a stale socket stay behind.
        kill -KILL "$win"
        wait "$win" 2>/dev/null
        DAEMON_PID=""
        [ -e "$SOCK.lock" ] || fail "the lock file went away with a killed droverd"
        start_daemon
        alive "$DAEMON_PID" || fail "droverd did not start over a stale lock file"
        stop_daemon 20 || fail "droverd did not stop"
    else
        stop_daemon 20 || fail "trial $trial: the survivor did not stop on SIGTERM"
    fi
    untrack_gone
done
[ -e "$SOCK.lock" ] || fail "the lock file was removed (it must stay: removing it would let two droverds lock different files)"
log "$TRIALS trials: exactly one droverd ran each time"
