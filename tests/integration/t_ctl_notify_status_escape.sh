#!/bin/bash
# SPDX-License-Identifier: ISC
# A worker's STATUS= text is shown to the operator by `drover status`: its
# control characters (ESC, BEL, CR, tab, ...) are shown as '?', so a worker
# (maybe running as another user) cannot send terminal escape sequences to
# whoever runs `drover status`, nor overwrite its lines with a CR. Found by a
# hostile probe of the notify socket: the bytes went to the terminal as sent.
. "$(dirname "$0")/lib.sh"

cat >"$T/worker.py" <<'PY'
import os, socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=a\x1b[31mb\x1b]0;title\x07c\td\re\x7ff \xc3\xa9", os.environ["NOTIFY_SOCKET"])
while True:
    time.sleep(60)
PY
write_config <<EOF2
[pool:esc]
command = $PYTHON $T/worker.py
workers = 1
ready = notify
start_timeout = 60s
EOF2
start_daemon
wait_for 10 "esc worker running" state_is esc 0 running
dv status esc --wide >"$T/status.out" || fail "drover status"
grep -q "a?\[31mb?\]0;title?c?d?e?f é" "$T/status.out" ||
    fail "status text not shown with '?' for each control character: $(cat -v "$T/status.out")"
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/status.out" &&
    fail "drover status printed control characters: $(cat -v "$T/status.out")"
assert_eq "$(slot_field esc 0 status_text)" "a?[31mb?]0;title?c?d?e?f é" "status_text in the JSON"
