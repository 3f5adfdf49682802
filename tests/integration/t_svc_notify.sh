#!/bin/bash
# SPDX-License-Identifier: ISC
# droverd towards systemd (sd_notify): fake notify listeners (real AF_UNIX
# datagram sockets) stand in for systemd and record every datagram.
#
#  - READY=1, with a STATUS= line, only once every worker of every pool runs
#    (a ready = notify pool holds it back until the test lets it go);
#  - RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, in µs), then READY=1,
#    around `drover reload`, a reload of a bad file, and SIGHUP;
#  - WATCHDOG=1 at about half of WATCHDOG_USEC, repeatedly, when
#    WATCHDOG_USEC is set and WATCHDOG_PID is droverd's pid or absent; never
#    when WATCHDOG_USEC is unset or WATCHDOG_PID names another process;
#    every 1 ms, with a warning, when WATCHDOG_USEC is under 2 ms (half of 1 µs
#    stopped the pings after the first; and not a busy loop either);
#  - STOPPING=1 at shutdown, and exit status 0;
#  - NOTIFY_SOCKET/WATCHDOG_* are droverd's alone: workers never see them.
. "$(dirname "$0")/lib.sh"

# The interpreter itself, not a wrapper script (pyenv shims cost 200 ms a call).
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"
[ -x "$NOTIFY_WORKER" ] || fail "$NOTIFY_WORKER is missing (build the tests/helpers)"

# The fake systemd: one JSON line per datagram, {"t": CLOCK_MONOTONIC seconds, "m": text}.
cat >"$T/listen.py" <<'PY'
import json, os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)  # appears only once bound
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536)
        f.write(json.dumps({"t": time.monotonic(), "m": data.decode("utf-8", "replace")}) + "\n")
PY

# listen NAME: start a listener on $T/NAME.nsock recording into $T/NAME.rec.
listen() {
    : >"$T/$1.rec"
    "$PY" "$T/listen.py" "$T/$1.nsock" "$T/$1.rec" 2>"$T/$1.listener.err" &
    track_pid $!
    disown $! # killed at cleanup; no job report for it
    wait_for 10 "notify listener $1" test -S "$T/$1.nsock"
}

# count NAME LINE: datagrams to NAME that contain the line LINE.
count() {
    "$PY" - "$T/$1.rec" "$2" <<'PY'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if sys.argv[2] in json.loads(l)["m"].split("\n")))
PY
}
count_at_least() { [ "$(count "$1" "$2")" -ge "$3" ]; }

# has_line NAME REGEX: a line received by NAME matches REGEX.
has_line() {
    lines "$1" >"$T/$1.lines"
    grep -q -- "$2" "$T/$1.lines"
}

# lines NAME: every line received by NAME, in order, one per line.
lines() {
    "$PY" - "$T/$1.rec" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    for line in json.loads(l)["m"].split("\n"):
        print(line)
PY
}

# run_droverd NAME CONF ENV...: droverd on CONF with NOTIFY_SOCKET=$T/NAME.nsock and
# ENV; WATCHDOG_PID=self becomes droverd's own pid. Its pid in RUN_PID (bash execs
# droverd, so it is droverd's pid).
run_droverd() {
    local name=$1 conf=$2
    shift 2
    env NOTIFY_SOCKET="$T/$name.nsock" "$@" bash -c '
        [ "${WATCHDOG_PID:-}" = self ] && export WATCHDOG_PID=$$
        exec "$0" -c "$1"' "$DROVERD" "$conf" >"$T/$name.log" 2>&1 &
    RUN_PID=$!
}

# A small config for the side daemons: one plain worker, own control socket in
# its own directory (droverd puts its workers' notify socket, CONTROL.notify, next to it).
side_config() {
    mkdir -p "$T/$1"
    cat >"$T/$1.ini" <<EOF
[daemon]
control_socket = $T/$1/ctl.sock
log_dir = $T/log-$1
shutdown_timeout = 10s

[pool:plain]
command = /bin/sleep 3600
workers = 1
EOF
}

# ---- the main daemon: everything, with WATCHDOG_PID = its own pid ----
listen main
write_config <<EOF
[pool:gate]
command = $NOTIFY_WORKER --trigger $T/go
workers = 2
ready = notify
start_timeout = 30s

[pool:echo]
command = $ECHO_WORKER
workers = 1
listen = $T/echo.sock
EOF
cp "$CONF" "$T/good.ini"
run_droverd main "$CONF" WATCHDOG_USEC=200000 WATCHDOG_PID=self
DAEMON_PID=$RUN_PID
ln -s main.log "$T/droverd.log" # what lib.sh's fail() shows
SIDE_DAEMONS=()

# Side daemons, running meanwhile, for the watchdog cases.
listen nopid
side_config nopid
run_droverd nopid "$T/nopid.ini" WATCHDOG_USEC=200000
track_pid "$RUN_PID"
SIDE_DAEMONS+=("$RUN_PID")
listen otherpid
side_config otherpid
run_droverd otherpid "$T/otherpid.ini" WATCHDOG_USEC=200000 WATCHDOG_PID=1
track_pid "$RUN_PID"
SIDE_DAEMONS+=("$RUN_PID")
listen nowd
side_config nowd
run_droverd nowd "$T/nowd.ini"
track_pid "$RUN_PID"
SIDE_DAEMONS+=("$RUN_PID")
listen tiny
side_config tiny
run_droverd tiny "$T/tiny.ini" WATCHDOG_USEC=1
track_pid "$RUN_PID"
TINY_PID=$RUN_PID
SIDE_DAEMONS+=("$RUN_PID")

# Not ready while the gate pool's workers have not sent READY=1 to droverd.
wait_for 10 "droverd to answer" dv status
wait_for 10 "gate workers starting" state_is gate 1 starting
wait_for 10 "echo worker running" pool_running echo
assert_eq "$(slot_field gate 0 state)" starting "gate slot 0 before go"
assert_eq "$(count main READY=1)" 0 "READY=1 sent while workers were still starting"
touch "$T/go"
wait_for 10 "READY=1 after the workers are ready" count_at_least main READY=1 1
pool_running gate || fail "droverd sent READY=1 but gate is not all running: $(dv status)"
assert_eq "$(count main READY=1)" 1 "READY=1 datagrams at start-up"
has_line main '^STATUS=running' || fail "no STATUS=running line: $(lines main)"

# Workers see none of droverd's own notify/watchdog variables; a ready = notify
# worker gets droverd's worker socket instead.
gate_pid=$(slot_field gate 0 pid)
tr '\0' '\n' <"/proc/$gate_pid/environ" >"$T/gate.env"
grep -qx "NOTIFY_SOCKET=$T/main.nsock" "$T/gate.env" && fail "a worker got droverd's own NOTIFY_SOCKET"
grep -q '^NOTIFY_SOCKET=' "$T/gate.env" || fail "the ready = notify worker got no NOTIFY_SOCKET"
grep -q '^WATCHDOG_' "$T/gate.env" && fail "a worker inherited $(grep '^WATCHDOG_' "$T/gate.env")"
echo_pid=$(slot_field echo 0 pid)
grep -qz -e '^NOTIFY_SOCKET=' -e '^WATCHDOG_' "/proc/$echo_pid/environ" &&
    fail "an exec-ready worker inherited NOTIFY_SOCKET or WATCHDOG_*"

# Reload: RELOADING=1 + MONOTONIC_USEC (now, on CLOCK_MONOTONIC), then READY=1.
check_reload_pair() { # WHAT N: the Nth RELOADING=1 datagram is well-formed and READY=1 follows it
    "$PY" - "$T/main.rec" "$2" "$1" <<'PY' || fail "$1: $(lines main | tr '\n' ' ')"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n, what = int(sys.argv[2]), sys.argv[3]
rel = [i for i, r in enumerate(recs) if "RELOADING=1" in r["m"].split("\n")]
assert len(rel) >= n, "%s: only %d RELOADING=1" % (what, len(rel))
i = rel[n - 1]
kv = dict(l.split("=", 1) for l in recs[i]["m"].split("\n") if "=" in l)
assert "MONOTONIC_USEC" in kv, "%s: RELOADING=1 without MONOTONIC_USEC: %r" % (what, recs[i]["m"])
mono = int(kv["MONOTONIC_USEC"])
assert abs(mono - recs[i]["t"] * 1e6) < 5e6, "%s: MONOTONIC_USEC %d is not CLOCK_MONOTONIC now (%f)" % (what, mono, recs[i]["t"])
later = [r for r in recs[i + 1:] if "READY=1" in r["m"].split("\n")]
assert later, "%s: no READY=1 after RELOADING=1" % what
PY
}
out=$(dv reload) || fail "drover reload: $out"
wait_for 10 "READY=1 after reload" count_at_least main READY=1 2
check_reload_pair "drover reload" 1

# A bad file: droverd keeps the old config and still ends the reload with READY=1.
printf '[pool:broken]\nnot_a_key = 1\n' >>"$CONF"
dv reload >/dev/null 2>&1 && fail "drover reload of a bad config succeeded"
wait_for 10 "READY=1 after the failed reload" count_at_least main READY=1 3
check_reload_pair "failed reload" 2
has_line main '^STATUS=reload failed' || fail "no STATUS= for the failed reload"
cp "$T/good.ini" "$CONF"

# SIGHUP reloads the same way.
kill -HUP "$DAEMON_PID"
wait_for 10 "READY=1 after SIGHUP" count_at_least main READY=1 4
check_reload_pair "SIGHUP" 3

# Watchdog: WATCHDOG_PID = droverd's pid, and absent: pings at about half of 200 ms.
wait_for 10 "watchdog pings (WATCHDOG_PID = droverd)" count_at_least main WATCHDOG=1 6
wait_for 10 "watchdog pings (no WATCHDOG_PID)" count_at_least nopid WATCHDOG=1 6
"$PY" - "$T/main.rec" <<'PY' || fail "watchdog interval"
import json, statistics, sys
t = [json.loads(l)["t"] for l in open(sys.argv[1]) if "WATCHDOG=1" in json.loads(l)["m"].split("\n")]
gaps = [b - a for a, b in zip(t, t[1:])]
med = statistics.median(gaps)
assert 0.04 <= med <= 0.19, "median watchdog interval %.3fs, expected about 0.1s (half of 200ms): %r" % (med, gaps)
PY
# The others have run at least as long (started before the pings above): none.
for name in otherpid nowd; do
    count_at_least "$name" READY=1 1 || fail "$name: no READY=1"
    assert_eq "$(count "$name" WATCHDOG=1)" 0 "WATCHDOG=1 pings from the daemon with $name"
done
assert_eq "$(count main STOPPING=1)" 0 "STOPPING=1 before any shutdown"
# WATCHDOG_USEC=1: half of it is 0, a zero-interval timer that libevent ran once (the
# pings stopped after the first); pings every 1 ms instead, with a warning, and not a busy
# loop: CPU time against its life so far (a busy loop takes what it can get, at least a
# few tenths of its life even on a loaded machine).
grep -q 'WATCHDOG_USEC=1 is under 2 ms: pinging every 1 ms' "$T/tiny.log" ||
    fail "no warning about WATCHDOG_USEC=1: $(cat "$T/tiny.log")"
wait_for 10 "pings every 1 ms with WATCHDOG_USEC=1" count_at_least tiny WATCHDOG=1 20
"$PY" - "$TINY_PID" <<'PY' || fail "the droverd with WATCHDOG_USEC=1 spins"
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
hz = os.sysconf("SC_CLK_TCK")
cpu = (int(f[11]) + int(f[12])) / hz
life = float(open("/proc/uptime").read().split()[0]) - int(f[19]) / hz
assert cpu < 0.2 * life, "%.2f s of CPU in %.2f s" % (cpu, life)
PY

# Shutdown: STOPPING=1 (with STATUS=), exit 0; side daemons by SIGTERM the same.
dv shutdown >/dev/null || fail "drover shutdown"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
assert_eq "$(count main STOPPING=1)" 1 "STOPPING=1 datagrams"
has_line main '^STATUS=shutting down' || fail "no STATUS= at shutdown"
for pid in "${SIDE_DAEMONS[@]}"; do
    kill -TERM "$pid"
done
for pid in "${SIDE_DAEMONS[@]}"; do
    wait_for 20 "side droverd $pid to exit" dead "$pid"
    wait "$pid"
    assert_eq "$?" 0 "exit status of side droverd $pid"
done
for name in nopid otherpid nowd; do
    assert_eq "$(count "$name" STOPPING=1)" 1 "STOPPING=1 from the daemon with $name"
done
log "ok"
