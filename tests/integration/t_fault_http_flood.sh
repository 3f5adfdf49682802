#!/bin/bash
# A probe flood on metrics_listen cannot stall droverd or eat its file descriptors: 300
# connections that never send hold at most HTTP_MAX_CLIENTS (64) of droverd's fds, and while
# they are held a real probe (GET /healthz, which sends at once) is still answered and
# `drover status` stays quick. A slow client that sends a header line now and then is cut
# off at the request deadline (5 s in all), not kept alive by its trickle. The refusals are
# counted (drover_http_rejected_total), and afterwards /readyz answers 200. Clients that
# read their answer and leave the connection open do not keep probes out either (the
# oldest answered one makes room at the cap).
. "$(dirname "$0")/lib.sh"
uses http proc

PORT=$(free_port)
write_config <<EOF2
metrics_listen = 127.0.0.1:$PORT

[pool:web]
command = $ECHO_WORKER
workers = 1
listen = $T/web.sock
EOF2
start_daemon
wait_for 10 "web running" pool_running web
wait_for 5 "/readyz 200" http_code_is "$PORT" /readyz 200
base=$(fd_count "$DAEMON_PID")

# ---- 300 idle connections, held until $T/release exists --------------------------------
python3 - "$PORT" "$T" <<'PY' &
import os, socket, sys, time
port, t = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(300):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    socks.append(s)
open(t + "/held", "w").close()
deadline = time.time() + 120
while not os.path.exists(t + "/release") and time.time() < deadline:
    time.sleep(0.05)
PY
FLOOD=$!
track_pid "$FLOOD"
wait_for 30 "300 connections made" test -f "$T/held"
metric_le() { [ "$(dv metrics | awk -v n="$1" '$1 == n { print $2 }')" -le "$2" ]; }
wait_for 10 "droverd holds at most 64 HTTP connections" metric_le drover_http_connections 64
fds=$(fd_count "$DAEMON_PID")
[ "$fds" -le $((base + 64 + 4)) ] ||
    fail "droverd has $fds fds with 300 idle HTTP connections (at start: $base; cap 64)"
assert_eq "$(http_get "$PORT" /healthz "$T/hz")" 200 "GET /healthz during the flood"
t0=$(now_ms)
dv status >/dev/null || fail "drover status failed during the flood"
took=$(($(now_ms) - t0))
[ "$took" -lt $((2000 * SLOWDOWN)) ] || fail "drover status took ${took} ms during the flood"
touch "$T/release"
wait "$FLOOD" 2>/dev/null
untrack_gone

# ---- slow clients: a header line every 300 ms, never the end of the headers ------------
python3 - "$PORT" "$SLOWDOWN" <<'PY' || fail "slow HTTP clients were not cut off at the request deadline"
import socket, sys, time
port, slow = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(10):
    s = socket.socket()
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\n")
    s.setblocking(False)
    socks.append(s)
start = time.time()
open_socks = set(socks)
while open_socks:
    if time.time() - start > 5 + 3 * slow:
        sys.exit("%d slow clients still connected after %.1f s" % (len(open_socks), time.time() - start))
    time.sleep(0.3)
    for s in list(open_socks):
        try:
            s.sendall(b"X-Slow: 1\r\n")
            if s.recv(4096) == b"":
                open_socks.discard(s)
        except BlockingIOError:
            pass
        except OSError:
            open_socks.discard(s)
took = time.time() - start
if took < 4:
    sys.exit("slow clients were cut off after %.1f s, before the 5 s deadline" % took)
PY

rejected=$(dv metrics | awk '$1 == "drover_http_rejected_total" { print $2 }')
[ "$rejected" -ge 236 ] || fail "drover_http_rejected_total is $rejected after 300 idle and 10 slow connections"
wait_for 5 "/readyz 200 after the flood" http_code_is "$PORT" /readyz 200

# ---- 70 clients that read their whole answer and keep the connection open: probes still get in
python3 - "$PORT" <<'PY' || fail "answered connections left open locked the probes out"
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(70):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"\n") or b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            break
        data += d
    held.append(s)              # answered, half-closed by droverd, never closed here
for i in range(5):
    p = socket.create_connection(("127.0.0.1", port), timeout=10)
    p.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        answer = p.recv(100)
    except OSError as e:
        sys.exit("probe %d with 70 answered connections open: %s" % (i, e))
    if not answer.startswith(b"HTTP/1.1 200"):
        sys.exit("probe %d with 70 answered connections open: %r" % (i, answer))
    p.close()
PY
alive "$DAEMON_PID" || fail "droverd died"
