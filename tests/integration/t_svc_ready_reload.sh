#!/bin/bash
# SPDX-License-Identifier: ISC
# A reload while droverd is still starting (its workers not all started:
# systemd's unit is still `activating`) must not tell systemd READY=1: the
# start-up's READY=1 comes once every worker counts as started, whatever was
# reloaded meanwhile (a good file, a bad file, SIGHUP). Found by a hostile
# probe of the systemd integration: each reload ended with READY=1, so
# `systemctl start` returned while the workers were still starting.
. "$(dirname "$0")/lib.sh"

# The fake systemd: every datagram, one line each ("|" for "\n").
cat >"$T/listen.py" <<'PY'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)
with open(out, "a", buffering=1) as f:
    while True:
        f.write(s.recv(65536).decode("utf-8", "replace").replace("\n", "|") + "\n")
PY
"$PYTHON" "$T/listen.py" "$T/n.sock" "$T/rec" 2>"$T/listen.err" &
track_pid $!
disown $!
wait_for 10 "the notify listener" test -S "$T/n.sock"
: >>"$T/rec"

# readies: datagrams holding the line READY=1.
readies() { tr '|' '\n' <"$T/rec" | grep -cx 'READY=1'; }
# readies_above N: more than N READY=1 recorded (for wait_for: "$(readies)" as an argument
# would be read once, when wait_for is called, and the wait could never succeed).
readies_above() { [ "$(readies)" -gt "$1" ]; }
# reloads_logged N: droverd logged N reloads of a good file.
reloads_logged() { [ "$(grep -c 'reload: no changes' "$T/droverd.log")" -ge "$1" ]; }
# mark WORD: send WORD to the listener and wait until it is recorded: datagrams
# are queued in order, so whatever droverd sent before is recorded too.
mark() {
    "$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), sys.argv[1])' "$T/n.sock" "$1"
    wait_for 10 "the listener to record $1" grep -qx "$1" "$T/rec"
}

write_config <<EOF2
[pool:gate]
command = $NOTIFY_WORKER --trigger $T/go
workers = 1
ready = notify
start_timeout = 60s
EOF2
cp "$CONF" "$T/good.ini"
NOTIFY_SOCKET="$T/n.sock" start_daemon
wait_for 10 "gate worker starting" state_is gate 0 starting

dv reload >/dev/null || fail "drover reload during start-up: $(dv reload 2>&1)"
printf '[pool:broken]\nnot_a_key = 1\n' >>"$CONF"
dv reload >/dev/null 2>&1 && fail "drover reload of a bad file succeeded"
cp "$T/good.ini" "$CONF"
kill -HUP "$DAEMON_PID"
wait_for 10 "the SIGHUP's reload" reloads_logged 2
# The reload's datagrams go out in the pass that logged it; status answers after it.
dv status >/dev/null || fail "status"
mark reloads-done
assert_eq "$(slot_field gate 0 state)" starting "gate worker after the reloads"
[ "$(readies)" = 0 ] || fail_later "READY=1 sent while the gate worker was still starting: $(cat "$T/rec")"

touch "$T/go"
wait_for $((10 * SLOWDOWN)) "READY=1 once the worker is ready" readies_above 0
state_is gate 0 running || fail "READY=1 but gate is $(slot_field gate 0 state)"
grep -q 'STATUS=running: 1 pool' "$T/rec" || fail_later "no start-up STATUS= line: $(cat "$T/rec")"

# Once started, a reload still ends with READY=1 (t_svc_notify has the rest).
n=$(readies)
dv reload >/dev/null || fail "drover reload after start-up"
wait_for $((10 * SLOWDOWN)) "READY=1 after a reload once started" readies_above "$n"
finish_checks
