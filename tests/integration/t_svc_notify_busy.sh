#!/bin/bash
# SPDX-License-Identifier: ISC
# droverd towards a busy systemd: a datagram its full receive queue refuses
# (EAGAIN) waits in droverd and goes, in order, once the queue has room, so a
# busy systemd still gets READY=1 (lost, systemd would fail the start at
# TimeoutStartSec); a notify socket nobody listens on any more is logged as a
# warning naming the message, and so is one dropped when more than 16 wait
# (the oldest goes). The fake systemd reads only while $T/drain
# exists; the test fills its queue before droverd speaks.
. "$(dirname "$0")/lib.sh"

cat >"$T/listen.py" <<'PY'
import os, socket, sys, time
path, out, drain = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path + ".tmp")
os.rename(path + ".tmp", path)
s.settimeout(0.05)
reading = False
with open(out, "a", buffering=1) as f:
    while True:
        if os.path.exists(drain) != reading:
            reading = not reading
            f.write("#reading\n" if reading else "#paused\n")
        if not reading:
            time.sleep(0.02)
            continue
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        f.write(data.decode("utf-8", "replace").replace("\n", "|") + "\n")
PY
: >"$T/rec"
"$PYTHON" "$T/listen.py" "$T/n.sock" "$T/rec" "$T/drain" 2>"$T/listen.err" &
LISTENER=$!
track_pid $LISTENER
disown $LISTENER
wait_for 10 "the notify listener" test -S "$T/n.sock"

# fill: send FILL datagrams until the listener's queue refuses one; prints how many went.
fill() {
    "$PYTHON" - "$T/n.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
n = 0
try:
    while n < 100000:
        s.sendto(b"FILL", sys.argv[1])
        n += 1
except BlockingIOError:
    pass
print(n)
PY
}
# lines_after_fill: the lines recorded after the last fill datagram, "|" for "\n".
lines_after_fill() { awk '/^FILL$/ { n = NR } { l[NR] = $0 } END { for (i = n + 1; i <= NR; i++) print l[i] }' "$T/rec"; }
count_line() { lines_after_fill | tr '|' '\n' | grep -cx "$1"; }
# ready_after_fill: READY=1 recorded after the last fill datagram (a function, for wait_for).
ready_after_fill() { [ "$(count_line READY=1)" -ge 1 ]; }
# ready_after_fill_or_fail WHAT: wait for it; on time out, say what the listener recorded.
ready_after_fill_or_fail() {
    local deadline=$(($(date +%s%N) + 10 * SLOWDOWN * 1000000000))
    until ready_after_fill; do
        [ "$(date +%s%N)" -gt "$deadline" ] &&
            fail "timed out waiting for $1; recorded: $(tr '\n' ' ' <"$T/rec"); listener: $(cat "$T/listen.err")"
        sleep 0.02
    done
}

write_config <<EOF2
[pool:web]
command = /bin/sleep 3600
workers = 1
EOF2

n=$(fill) || fail "filling the listener's queue"
[ "$n" -lt 100000 ] || fail "the listener's queue never filled ($n datagrams)"
NOTIFY_SOCKET="$T/n.sock" start_daemon
wait_for $((10 * SLOWDOWN)) "droverd ready" grep -q 'ready: 1 pool' "$T/droverd.log"
[ -s "$T/rec" ] && fail "the listener read while paused: $(diag)"
touch "$T/drain"
ready_after_fill_or_fail "READY=1 after the queue drained"
[ "$(grep -c '^FILL$' "$T/rec")" = "$n" ] || fail "the fill datagrams: $n sent, $(grep -c '^FILL$' "$T/rec") read"
grep -q 'cannot tell systemd' "$T/droverd.log" && fail_later "a full queue was logged as a failure"

# Twice refused, in order: RELOADING=1 then READY=1, after everything queued before them.
rm "$T/drain"
wait_for 10 "the listener to pause" sh -c "tail -n 1 '$T/rec' | grep -qx '#paused'"
fill >/dev/null || fail "filling the queue again"
dv reload >/dev/null || fail "drover reload: $(dv reload 2>&1)"
touch "$T/drain"
ready_after_fill_or_fail "READY=1 after the reload"
assert_eq "$(lines_after_fill | cut -d'|' -f1 | grep -v '^#' | tr '\n' ' ')" \
    "RELOADING=1 READY=1 " "what droverd sent after the second fill"

# Refused for longer than 16 messages wait: the oldest go, with a warning; the rest arrive
# in order. Nine reloads send 18 (RELOADING=1 and READY=1 each).
rm "$T/drain"
wait_for 10 "the listener to pause" sh -c "tail -n 1 '$T/rec' | grep -qx '#paused'"
fill >/dev/null || fail "filling the queue a third time"
for i in 1 2 3 4 5 6 7 8 9; do
    dv reload >/dev/null || fail "drover reload $i with the queue full"
done
grep -q 'cannot tell systemd RELOADING=1 (NOTIFY_SOCKET): Resource temporarily unavailable' "$T/droverd.log" ||
    fail_later "no warning for the message dropped from a full wait"
touch "$T/drain"
# sixteen_after_fill: all sixteen that waited are recorded (a function, for wait_for).
sixteen_after_fill() { [ "$(lines_after_fill | grep -vc '^#')" -ge 16 ]; }
wait_for $((10 * SLOWDOWN)) "the 16 waiting messages after the drain" sixteen_after_fill
assert_eq "$(lines_after_fill | grep -v '^#' | cut -d'|' -f1 | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')" \
    "$(printf '1RELOADING=1 1READY=1 %.0s' 1 2 3 4 5 6 7 8)" "what droverd sent after the third fill (the last 8 reloads)"

# Nobody listening: each kind of failure is a warning naming the message.
kill "$LISTENER"
wait_for 10 "the listener to end" sh -c "! kill -0 $LISTENER"
dv reload >/dev/null || fail "drover reload without a listener"
wait_for $((10 * SLOWDOWN)) "a warning about the lost RELOADING=1" \
    grep -q 'cannot tell systemd RELOADING=1 (NOTIFY_SOCKET): ' "$T/droverd.log"
state_is web 0 running || fail "web worker after the lost notifications"
finish_checks
