#!/bin/bash
# A client's unfinished frame and its hang-up after a half-close, in message
# mode:
#  - frame_timeout counts from when the frame began, while droverd reads the
#    client: a client that keeps pipelining whole frames against a slow pool
#    (so droverd pushes back and stops reading it mid-frame) is never cut off;
#    after a burst past the 256-requests-per-client cap, a later half frame is
#    closed neither early nor never; a half frame and then silence is closed
#    after frame_timeout (a bad frame);
#  - a client that half-closes (shutdown(SHUT_WR)) and then closes its socket
#    with requests still queued is gone: a worker that starts later gets none
#    of them (abandoned), as for a client that closed at once.
. "$(dirname "$0")/lib.sh"
uses route

write_config <<EOF2
[pool:slow]
command = $FAULTY_ECHO_WORKER
workers = 1
listen = $T/slow.sock
frame_timeout = 2s
client_buffer = 4096

[pool:echo]
command = $ECHO_WORKER
workers = 1
listen = $T/echo.sock
frame_timeout = 2s

[pool:idle]
command = $FAULTY_ECHO_WORKER
workers = 0
listen = $T/idle.sock
queue_timeout = 0
EOF2
start_daemon
wait_for 10 "slow running" pool_running slow 1
wait_for 10 "echo running" pool_running echo 1

# --- pipelining against pushback for 3 frame_timeouts: every request answered ---
py_client "$T/slow.sock" <<'PY' || fail "the pipelining client: see above"
import socket, struct, sys, threading, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
N = 300
reqs = [b"SLOW20:%04d:" % i + b"x" * 990 for i in range(N)]   # 6 s of work on one worker
def send():
    for r in reqs:
        s.sendall(struct.pack(">I", len(r)) + r)
t = threading.Thread(target=send); t.start()
buf = b""; got = 0; start = time.time()
while got < N:
    d = s.recv(65536)
    if not d:
        sys.exit("droverd closed the connection after %.1fs and %d replies" % (time.time() - start, got))
    buf += d
    while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
        n = struct.unpack(">I", buf[:4])[0]; body = buf[4:4 + n]; buf = buf[4 + n:]
        if body != b"+" + reqs[got]:
            sys.exit("reply %d is %r" % (got, body[:30]))
        got += 1
t.join()
PY
assert_eq "$(metric drover_pool_bad_frames_total 'pool="slow"')" 0 "bad frames counted for the pipelining client"

# --- a burst past the per-client cap, then a half frame: closed 2 s after it began ---
py_client "$T/echo.sock" <<'PY' || fail "the burst client: see above"
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"".join(struct.pack(">I", 5) + b"b%04d" % i for i in range(300)))
buf = b""
while len(buf) < 300 * 10:
    d = s.recv(65536)
    if not d:
        sys.exit("closed during the burst")
    buf += d
time.sleep(1.2)           # the old count, begun at the burst, would end 0.8 s into the half frame
t0 = time.time()
s.sendall(struct.pack(">I", 100) + b"half")
s.settimeout(30)
try:
    d = s.recv(100)
except socket.timeout:
    sys.exit("the half frame was not closed within 30 s")
took = time.time() - t0
if d:
    sys.exit("a reply to half a frame: %r" % d)
if took < 1.5:
    sys.exit("closed %.1f s after the half frame began (frame_timeout = 2s)" % took)
print("half frame closed after %.1f s" % took)
PY
assert_eq "$(metric drover_pool_bad_frames_total 'pool="echo"')" 1 "the half frame counted as a bad frame"

# --- half-close, then close, with requests queued: none reaches a worker ---
# The client half-closes once droverd holds its 20 requests, and closes for
# good half a second later (droverd has read the EOF by then, or, on a slow
# machine, reads the hang-up at once: either way nothing may be delivered).
py_client "$T/idle.sock" "$T/idle.go" <<'PY' >"$T/idle.out" 2>&1 &
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"".join(struct.pack(">I", 4) + b"q%03d" % i for i in range(20)))
deadline = time.time() + 30
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.02)
s.shutdown(socket.SHUT_WR)
time.sleep(0.5)
s.close()
PY
idle_pid=$!
track_pid "$idle_pid"
wait_for 10 "20 requests queued on idle" pool_route_is idle queued 20
touch "$T/idle.go"
wait "$idle_pid" || fail "the half-closing client: $(cat "$T/idle.out")"
dv scale idle 1 >/dev/null || fail "scale idle 1"
wait_for 10 "the requests of the gone client dropped" pool_route_is idle abandoned 20
wait_for 10 "idle running" pool_running idle 1
assert_eq "$(dv call idle after)" after "a call once the queue is empty"
assert_eq "$(pool_route idle requests)" 1 "requests idle's worker answered (only the call)"
assert_eq "$(pool_route idle queued)" 0 "requests still queued"
alive "$DAEMON_PID" || fail "droverd died"
finish_checks
