#!/bin/bash
# Bad input never hurts anyone but its sender:
#  - a client sending a frame longer than max_frame (length header, or a line
#    without its newline in time) is closed; frames of exactly max_frame pass;
#    other clients carry on undisturbed;
#  - thousands of connections held open (some with half a frame), and a churn
#    of connect-and-close, do not stop other clients or the control socket;
#  - a worker that writes garbage, an oversized reply, a reply nobody asked
#    for, or closes its work socket is killed (with the reason in the log) and
#    the request it held is retried on another worker.
. "$(dirname "$0")/lib.sh"
uses route

mkdir -p "$T/once"
write_config <<EOF2
[pool:len]
command = $ECHO_WORKER
workers = 2
listen = $T/len.sock
max_frame = 1K

[pool:line]
command = $ECHO_WORKER
workers = 2
listen = $T/line.sock
framing = line
max_frame = 1K

[pool:bad]
command = $FAULTY_ECHO_WORKER --max-frame 1024 --once-dir $T/once
workers = 2
listen = $T/bad.sock
worker_inflight = 1
max_frame = 1K
max_attempts = 3
restart_delay = 0
crash_limit = none

[pool:badline]
command = $FAULTY_ECHO_WORKER --max-frame 1024 --once-dir $T/once
workers = 2
listen = $T/badline.sock
worker_inflight = 1
framing = line
max_frame = 1K
max_attempts = 3
restart_delay = 0
crash_limit = none
EOF2
start_daemon
for p in len line bad badline; do wait_for 10 "$p running" pool_running "$p" 2; done

# --- malformed and oversized client frames, while well-behaved clients keep going ---
# (Each background load runs until its phase is over: wc_stop.)
base=$(pool_route len requests)
wc_start "$T/wc_len" -s "$T/len.sock" -c 4 -p 4 -z 200 -t 30 -d 60
wc_len=$WC_PID
wait_for 10 "load on len" pool_route_ge len requests $((base + 100))
base=$(pool_route line requests)
wc_start "$T/wc_line" -s "$T/line.sock" -f line -c 4 -p 4 -z 200 -t 30 -d 60
wc_line=$WC_PID
wait_for 10 "load on line" pool_route_ge line requests $((base + 100))

py_client "$T/len.sock" "$T/line.sock" >"$T/frames.out" 2>&1 <<'PY' || fail "bad frames: $(cat "$T/frames.out")"
import socket, struct, sys, time
LEN, LINE = sys.argv[1], sys.argv[2]

def conn(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.settimeout(5)
    return s

def expect_closed(what, path, data):
    s = conn(path)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    t0 = time.time()
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            print("%s: got a reply %r instead of being closed" % (what, b[:40])); sys.exit(1)
    except ConnectionResetError:
        pass
    except socket.timeout:
        print("%s: not closed within 5s" % what); sys.exit(1)
    print("%s: closed after %.3fs" % (what, time.time() - t0))

def expect_echo(what, path, body, line):
    s = conn(path)
    s.sendall(body + b"\n" if line else struct.pack(">I", len(body)) + body)
    want = b"+" + body + b"\n" if line else struct.pack(">I", len(body) + 1) + b"+" + body
    got = b""
    while len(got) < len(want):
        b = s.recv(65536)
        if not b:
            break
        got += b
    if got != want:
        print("%s: wanted %d bytes of echo, got %r" % (what, len(want), got[:60])); sys.exit(1)
    print("%s: echoed" % what)

expect_closed("length header 1025 > max_frame", LEN, struct.pack(">I", 1025) + b"x" * 1025)
expect_closed("length header alone, 1025", LEN, struct.pack(">I", 1025))
expect_closed("length header 0xffffffff", LEN, b"\xff\xff\xff\xff" + b"junk")
expect_echo("length body of exactly max_frame", LEN, b"m" * 1024, False)
expect_closed("line of 1025 bytes, no newline yet", LINE, b"l" * 1025)
expect_closed("line of 2000 bytes with its newline", LINE, b"l" * 2000 + b"\n")
expect_echo("line of exactly max_frame", LINE, b"m" * 1024, True)
expect_echo("length pool still answers", LEN, b"after", False)
expect_echo("line pool still answers", LINE, b"after", True)
PY
log "$(tr '\n' ';' <"$T/frames.out")"
WC_PID=$wc_len wc_stop "$T/wc_len"
WC_PID=$wc_line wc_stop "$T/wc_line"
for wc in wc_len wc_line; do
    [ "$(wc_get "$T/$wc" ok)" -gt 0 ] || fail "$wc: no request served next to the bad frames: $(cat "$T/$wc")"
done
log "length and line clients next to the bad frames: $(wc_get "$T/wc_len" ok) and $(wc_get "$T/wc_line" ok) ok"

# --- a flood of connections ---
# A few thousand, but leave droverd (which raises its soft fd limit to the hard
# one) room for its workers and control clients on hosts with a low hard limit.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=1048576
FLOOD=$((hard >= 6000 ? 3000 : hard / 2))
base=$(pool_route len requests)
wc_start "$T/wc_flood" -s "$T/len.sock" -c 4 -p 4 -t 40 -d 60
wait_for 10 "load on len" pool_route_ge len requests $((base + 100))
python3 - "$T/len.sock" $FLOOD "$T/flood.held" "$T/flood.release" >"$T/flood.out" 2>&1 <<'PY' &
import os, resource, socket, sys, time
path, n, held, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socks = []
deadline = time.time() + 30
while len(socks) < n:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except BlockingIOError:  # the backlog is full for a moment: droverd is accepting
        s.close(); time.sleep(0.001)
        if time.time() > deadline:
            print("could not connect %d sockets" % n); sys.exit(1)
        continue
    if len(socks) % 2:
        s.send(b"\x00\x00")  # half a length header, then nothing
    socks.append(s)
open(held, "w").write("%d\n" % len(socks))
while not os.path.exists(release):
    if time.time() > deadline:
        print("never released"); sys.exit(1)
    time.sleep(0.01)
for s in socks:
    s.close()
# Churn: connect and close at once, many times.
for i in range(2000):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except BlockingIOError:
        pass
    s.close()
print("ok")
PY
flood_pid=$!
track_pid $flood_pid
wait_for 30 "the flood to connect" test -s "$T/flood.held"
wait_for 10 "droverd to accept the flood" pool_route_ge len connections $FLOOD
t0=$(now_ms)
dv status >/dev/null || fail "status failed during the flood"
[ $(($(now_ms) - t0)) -lt 2000 ] || fail "status took $(($(now_ms) - t0))ms during the flood"
# A new client while the flood is held.
wc_run "$T/wc_new" -s "$T/len.sock" -c 2 -p 4 -n 2000 -d 20
out=$(dv call len "during the flood") || fail "call during the flood failed"
assert_eq "$out" "during the flood" "call during the flood"
touch "$T/flood.release"
wait $flood_pid || fail "flood client: $(cat "$T/flood.out")"
wc_stop "$T/wc_flood"
wait_for 10 "the flood's connections to be closed" pool_route_is len connections 0
wc_run "$T/wc_after" -s "$T/len.sock" -c 4 -p 4 -n 2000 -d 20

# --- misbehaving workers: killed, the request retried elsewhere ---
base=$(pool_route bad requests)
wc_start "$T/wc_bad" -s "$T/bad.sock" -c 2 -p 2 -t 40 -d 60
wait_for 10 "load on bad" pool_route_ge bad requests $((base + 100))
bad_worker() {
    local pool=$1 mode=$2 reason=$3 req restarts0 n0 out
    req="ONCE:$pool-$mode:$mode"
    restarts0=$(slot_sum "$pool" restarts)
    n0=$(grep -c -- "$reason" "$T/droverd.log")
    out=$(dv call "$pool" "$req") || fail "$pool: the request that met $mode was not served"
    assert_eq "$out" "$req" "$pool: reply to the request that met $mode"
    wait_for 10 "$pool: the $mode worker to be killed and restarted" \
        route_sum_ge "$pool" restarts $((restarts0 + 1))
    wait_for 5 "$pool: the log to say why ($reason)" log_count_ge "$reason" $((n0 + 1))
    wait_for 5 "$pool: all running" pool_running "$pool" 2
}
route_sum_ge() { [ "$(slot_sum "$1" "$2")" -ge "$3" ]; }
log_count_ge() { [ "$(grep -c -- "$1" "$T/droverd.log")" -ge "$2" ]; }
bad_worker bad GARBAGE "sent a reply larger than max_frame"
bad_worker bad BIG "sent a reply larger than max_frame"
bad_worker bad EXTRA "sent a reply with no request pending"
bad_worker bad CLOSE "closed its work socket but kept running"
bad_worker badline GARBAGE "sent a reply larger than max_frame"
bad_worker badline BIG "sent a reply larger than max_frame"
bad_worker badline EXTRA "sent a reply with no request pending"
wc_stop "$T/wc_bad"
log "bad workers: $(cat "$T/wc_bad")"
assert_eq "$(pool_route bad failed)" 0 "bad: failed requests"
assert_eq "$(pool_route badline failed)" 0 "badline: failed requests"
dv status >/dev/null || fail "droverd stopped answering"
kill -0 "$DAEMON_PID" || fail "droverd died"
