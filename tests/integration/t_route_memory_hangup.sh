#!/bin/bash
# Memory comes back when the clients holding it hang up, with nothing else
# happening after: 10 clients pipeline 4 MiB each of echo requests and read
# none of the replies, then close; the replies droverd held are freed as
# their writes fail, and the heap is trimmed then (it used to wait for the
# next request to pass through the router, keeping the peak while idle).
. "$(dirname "$0")/lib.sh"
uses route proc

write_config <<EOF2
[pool:e]
command = $ECHO_WORKER
workers = 2
listen = $T/e.sock
EOF2
start_daemon
wait_for 10 "e running" pool_running e 2
assert_eq "$(dv call e warm)" warm "a call"
idle_kb=$(rss_kb "$DAEMON_PID")

py_client "$T/e.sock" "$T/go" <<'PY' >"$T/clients.out" 2>&1 &
import os, socket, struct, sys, threading, time
body = b"z" * 400000
frame = struct.pack(">I", len(body)) + body
socks = []
def feed(s):
    try:
        for _ in range(10):          # 4 MB of requests; the replies are never read
            s.sendall(frame)
    except OSError:
        pass
for _ in range(10):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); socks.append(s)
    threading.Thread(target=feed, args=(s,), daemon=True).start()
deadline = time.time() + 60
while not os.path.exists(sys.argv[2]) and time.time() < deadline:
    time.sleep(0.05)
for s in socks:
    s.shutdown(socket.SHUT_RDWR)
    s.close()
PY
clients_pid=$!
track_pid "$clients_pid"
wait_for $((30 * SLOWDOWN)) "the clients' replies held by droverd" pool_route_ge e buffered $((16 << 20))
peak_kb=$(rss_kb "$DAEMON_PID")
touch "$T/go"
wait "$clients_pid" || fail "clients: $(cat "$T/clients.out")"
wait_for 10 "the hung-up clients gone" pool_route_is e connections 0
wait_for 10 "their bytes released" pool_route_is e buffered 0
rss_back() { [ "$(rss_kb "$DAEMON_PID")" -le $((idle_kb + 4096)) ]; }
if [ "$RSS_CHECKS" = 1 ]; then
    wait_for 20 "droverd's RSS back near idle (${idle_kb} KiB) with no request after" rss_back
fi
log "ok: idle ${idle_kb} KiB, peak ${peak_kb} KiB, after $(rss_kb "$DAEMON_PID") KiB"
finish_checks
