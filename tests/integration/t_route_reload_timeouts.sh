#!/bin/bash
# request_timeout, queue_timeout and frame_timeout apply live: shortened by a
# reload, they hold for requests (and frames) from then on, although the
# timers droverd keeps armed were armed with the old, longer values.
. "$(dirname "$0")/lib.sh"
uses route

config() {
    write_config <<EOF2
[pool:rt]
command = $FAULTY_ECHO_WORKER
workers = 1
worker_inflight = 1
max_attempts = 1
request_timeout = $1
listen = $T/rt.sock

[pool:qt]
command = $FAULTY_ECHO_WORKER
workers = 1
worker_inflight = 1
request_timeout = 5m
queue_timeout = $1
frame_timeout = $1
listen = $T/qt.sock
EOF2
}
config 5m
start_daemon
wait_for 10 "rt running" pool_running rt 1
wait_for 10 "qt running" pool_running qt 1

# Arm every timer with 5 minutes: a request on rt (its worker's timer stays
# armed while idle); on qt a request that holds the worker for a while, one
# that waits in the queue, and a client with half a frame.
assert_eq "$(dv call rt warm)" warm "a call on rt"
py_client "$T/qt.sock" "$T/done" <<'PY' &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">I", 14) + b"SLOW60000:hold")
deadline = time.time() + 60
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.05)
PY
hold_pid=$!
track_pid "$hold_pid"
wait_for 10 "qt's worker busy" pool_route_is qt inflight 1
# (Another connection: a client's replies come in order, so its TIMEOUT would wait for the hold.)
py_client "$T/qt.sock" "$T/hold.out" queued <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = sys.argv[3].encode()
s.sendall(struct.pack(">I", len(body)) + body)
s.settimeout(90)
out = open(sys.argv[2], "w")
buf = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        buf += d
        if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
            out.write(buf[4:4 + struct.unpack(">I", buf[:4])[0]].decode() + "\n")
            break
except socket.timeout:
    pass
PY
queued_pid=$!
track_pid "$queued_pid"
py_client "$T/qt.sock" "$T/half.out" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(struct.pack(">I", 100) + b"half")
s.settimeout(90)
t0 = time.time()
try:
    d = s.recv(100)
    open(sys.argv[2], "w").write("closed %r %.1f\n" % (d, time.time() - t0))
except socket.timeout:
    open(sys.argv[2], "w").write("open\n")
PY
half_pid=$!
track_pid "$half_pid"
wait_for 10 "one request queued on qt" pool_route_is qt queued 1

config 1s
out=$(dv reload 2>&1) || fail "reload to 1s: $out"

# request_timeout: a worker hanging on a request sent now is killed after 1 s.
t0=$(now_ms)
rc=0
err=$(dv call rt --timeout 60s HANG 2>&1 >/dev/null) || rc=$?
elapsed=$(($(now_ms) - t0))
assert_eq "$rc" 1 "exit status of a call that hung its worker"
assert_contains "$err" "TIMEOUT no reply within 1s"
[ "$elapsed" -lt $((20000 * SLOWDOWN)) ] || fail "request_timeout 1s took ${elapsed} ms (the old 5m timer?)"

# queue_timeout: the request queued before the reload expires within about 1 s of it.
wait_for $((20 * SLOWDOWN)) "the queued request answered TIMEOUT" file_has "$T/hold.out" "queue_timeout"
assert_contains "$(cat "$T/hold.out")" "TIMEOUT no worker took the request within 1s (queue_timeout)"

# frame_timeout: the half frame is closed.
wait_for $((20 * SLOWDOWN)) "the half frame closed" file_has "$T/half.out" "closed"
assert_contains "$(cat "$T/half.out")" "closed b''"
alive "$DAEMON_PID" || fail "droverd died"
touch "$T/done"
for pid in "$hold_pid" "$queued_pid" "$half_pid"; do wait "$pid"; done
finish_checks
