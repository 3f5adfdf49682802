#!/bin/bash
# droverd's own READY=1 to systemd means what `drover start` means: every wanted
# worker counts as started (stayed up for start_grace, or sent READY=1) or went
# fatal. So `systemctl start` does not report success while a worker that exits
# within its grace is still being retried, and it takes start_grace longer. Issue 14.
. "$(dirname "$0")/lib.sh"

cat >"$T/listen.py" <<'PY'
import os, socket, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)
with open(out, "a", buffering=1) as f:
    while True:
        data = s.recv(65536).decode("utf-8", "replace")
        if "READY=1" in data.split("\n"):
            f.write("%d\n" % int(time.monotonic() * 1000))
PY
"$PYTHON" "$T/listen.py" "$T/n.sock" "$T/ready" 2>"$T/listen.err" &
track_pid $!
disown $!
wait_for 10 "the notify listener" test -S "$T/n.sock"

write_config <<EOF2
[pool:slow]
command = /bin/sleep 3600
workers = 1
start_grace = 1500ms

[pool:late]
command = /bin/sh -c "sleep 0.3; exit 7"
workers = 1
start_grace = 1s
restart_delay = 50ms
crash_limit = 2/60s
EOF2
t0=$(python3 -c 'import time; print(int(time.monotonic() * 1000))')
NOTIFY_SOCKET="$T/n.sock" start_daemon
wait_for 20 "READY=1" test -s "$T/ready"
el=$(($(head -n 1 "$T/ready") - t0))
[ "$el" -ge 1400 ] || fail_later "READY=1 came ${el}ms after the start, before slow's start_grace (1.5s)"
assert_eq "$(slot_field late 0 state)" fatal "late's slot when READY=1 had come"
# The log says ready after late went fatal, not while it was retried.
ready_line=$(grep -n 'ready: ' "$T/droverd.log" | head -n 1 | cut -d: -f1)
fatal_line=$(grep -n 'pool late slot 0: .*fatal' "$T/droverd.log" | head -n 1 | cut -d: -f1)
[ -n "$ready_line" ] && [ -n "$fatal_line" ] || fail "no ready or fatal line in the log"
[ "$ready_line" -gt "$fatal_line" ] || fail "droverd was ready (line $ready_line) before late went fatal (line $fatal_line)"
finish_checks
