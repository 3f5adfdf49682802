#!/bin/bash
# Bad input never hurts anyone but its sender:
#  - a client sending a frame longer than max_frame (length header, or a line
#    without its newline in time) gets the answers to the requests it sent
#    before it, then -TOOBIG, then the connection closes; nothing it sent
#    after the bad frame is served; frames of exactly max_frame pass; other
#    clients carry on undisturbed;
#  - thousands of connections held open (some with half a frame), and a churn
#    of connect-and-close, do not stop other clients or the control socket;
#  - a worker that writes a reply nobody asked for, or closes its work socket,
#    is killed (with the reason in the log) and the request it held is
#    retried on another worker; one that writes garbage or a reply larger
#    than max_frame is killed and that request answered -FAILED saying so,
#    not sent to another worker (which would be killed for it too).
. "$(dirname "$0")/lib.sh"
uses route

mkdir -p "$T/once"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_config <<EOF2
[pool:len]
command = $ECHO_WORKER
workers = 2
listen = $T/len.sock
max_frame = 1K

[pool:lentcp]
command = $ECHO_WORKER
workers = 1
listen = tcp:127.0.0.1:$PORT
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
wait_for 10 "lentcp running" pool_running lentcp 1

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

py_client "$T/len.sock" "$T/line.sock" "$PORT" >"$T/frames.out" 2>&1 <<'PY' || fail "bad frames: $(cat "$T/frames.out")"
import select, socket, struct, sys, time
LEN, LINE, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])

def conn(path):
    if isinstance(path, int):
        s = socket.create_connection(("127.0.0.1", path))
    else:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
    s.settimeout(5)
    return s

def read_all(what, s):
    """Everything until droverd closes the connection."""
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except ConnectionResetError:  # droverd closed with bytes of ours unread: after its replies
        pass
    except socket.timeout:
        print("%s: not closed within 5s (got %r)" % (what, got[:80])); sys.exit(1)
    return got

def replies(got, line):
    out = []
    if line:
        return [l for l in got.split(b"\n")[:-1]] if got.endswith(b"\n") else None
    while got:
        if len(got) < 4:
            return None
        n = struct.unpack(">I", got[:4])[0]
        if len(got) < 4 + n:
            return None
        out.append(got[4:4 + n]); got = got[4 + n:]
    return out

def expect_toobig(what, path, data, line, before=(), want_text=b"than max_frame (1024 bytes)"):
    """data sent at once: the echoes of `before` (sent first), then -TOOBIG, then EOF."""
    s = conn(path)
    head = b"".join(b + b"\n" if line else struct.pack(">I", len(b)) + b for b in before)
    try:
        s.sendall(head + data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    t0 = time.time()
    got = read_all(what, s)
    r = replies(got, line)
    if r is None or len(r) != len(before) + 1:
        print("%s: wanted %d echoes then -TOOBIG, got %r" % (what, len(before), got[:200])); sys.exit(1)
    for b, rep in zip(before, r):
        if rep != b"+" + b:
            print("%s: wanted the echo of %r, got %r" % (what, b[:20], rep[:40])); sys.exit(1)
    last = r[-1]
    if not last.startswith(b"-TOOBIG ") or want_text not in last or b"connection closes" not in last:
        print("%s: last reply %r is not the TOOBIG answer" % (what, last)); sys.exit(1)
    print("%s: %d answered, then %r, closed after %.3fs" % (what, len(before), last[:60], time.time() - t0))

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

hdr = struct.pack(">I", 1025)
expect_toobig("length header 1025 > max_frame", LEN, hdr + b"x" * 1025, False,
              want_text=b"a request of 1025 bytes is larger than max_frame (1024 bytes)")
expect_toobig("length header alone, 1025", LEN, hdr, False)
expect_toobig("length header 0xffffffff", LEN, b"\xff\xff\xff\xff" + b"junk", False,
              want_text=b"a request of 4294967295 bytes")
# Requests before the bad frame are answered, in order; a whole frame after
# it is not (droverd reads nothing past the bad one).
expect_toobig("3 requests, then 1025, then one more", LEN,
              hdr + b"y" * 1025 + struct.pack(">I", 5) + b"after", False,
              before=[b"one", b"two" * 100, b"m" * 1024])
# A client that sends all of a big frame before it reads (one blocking
# sendall): droverd reads and drops the rest after its answer, so the send
# completes and the answer is there to read after it. Over TCP too, where
# closing with the client's bytes unread would reset the connection and
# drop the answers still in droverd's send queue (10 times).
def sendall_then_read(where):
    s = conn(where)
    s.settimeout(20)
    s.sendall(struct.pack(">I", 1) + b"a" + struct.pack(">I", 4 << 20) + b"z" * (4 << 20))
    got = read_all("sendall of 4 MiB (%s)" % where, s)
    r = replies(got, False)
    if r is None or len(r) != 2 or r[0] != b"+a" or not r[1].startswith(b"-TOOBIG a request of 4194304 bytes"):
        print("sendall of 4 MiB (%s): wanted +a then -TOOBIG, got %r" % (where, got[:200])); sys.exit(1)
    return s
for i in range(10):
    sendall_then_read(PORT).close()
print("sendall of 4 MiB then read over TCP: +a, then -TOOBIG (10 times)")
s = sendall_then_read(LEN)
print("sendall of 4 MiB then read: +a, then -TOOBIG")
# Left open and silent, that connection is closed by droverd (5 s idle):
# a Unix socket whose peer closed altogether polls POLLHUP (one whose peer
# only shut its sending side does not).
t0 = time.time()
p = select.poll()
p.register(s, select.POLLHUP)
if not p.poll(30000):
    print("a silent refused connection was still open after 30 s"); sys.exit(1)
print("the silent refused connection closed after %.1f s" % (time.time() - t0))
expect_echo("length body of exactly max_frame", LEN, b"m" * 1024, False)
expect_toobig("line of 1025 bytes, no newline yet", LINE, b"l" * 1025, True,
              want_text=b"a line longer than max_frame (1024 bytes)")
expect_toobig("line of 2000 bytes with its newline", LINE, b"l" * 2000 + b"\n", True)
expect_toobig("2 lines, then 2000 bytes, then one more", LINE, b"l" * 2000 + b"\nafter\n", True,
              before=[b"one", b"m" * 1024])
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
# A reply larger than max_frame (or garbage read as one): the worker is
# killed and that request answered -FAILED saying why, not sent to another.
big_reply() {
    local pool=$1 mode=$2 want=$3 req restarts0 n0 failed0 out
    req="ONCE:$pool-$mode:$mode"
    restarts0=$(slot_sum "$pool" restarts)
    n0=$(grep -c -- "sent a reply larger than max_frame" "$T/droverd.log")
    failed0=$(pool_route "$pool" failed)
    if out=$(dv call "$pool" "$req" 2>&1); then
        fail "$pool: the request that met $mode was answered: $out"
    fi
    case $out in
    *"FAILED $want"*"larger than max_frame (1024 bytes)"*"; not sent to another worker"*) ;;
    *"FAILED $want"*"longer than max_frame (1024 bytes)"*"; not sent to another worker"*) ;;
    *) fail "$pool: $mode: wanted FAILED $want..., got: $out" ;;
    esac
    log "$pool $mode: $out"
    wait_for 10 "$pool: the $mode worker to be killed and restarted" \
        route_sum_ge "$pool" restarts $((restarts0 + 1))
    wait_for 5 "$pool: the log to say why" log_count_ge "sent a reply larger than max_frame" $((n0 + 1))
    wait_for 5 "$pool: all running" pool_running "$pool" 2
    assert_eq "$(pool_route "$pool" failed)" $((failed0 + 1)) "$pool: failed requests after $mode"
    # The token is spent: the same request again is served.
    out=$(dv call "$pool" "$req") || fail "$pool: the same request again was not served"
    assert_eq "$out" "$req" "$pool: the same request again"
}
route_sum_ge() { [ "$(slot_sum "$1" "$2")" -ge "$3" ]; }
log_count_ge() { [ "$(grep -c -- "$1" "$T/droverd.log")" -ge "$2" ]; }
big_reply bad GARBAGE "the worker's reply of 4294967295 bytes"
big_reply bad BIG "the worker's reply of 1025 bytes"
bad_worker bad EXTRA "sent a reply with no request pending"
bad_worker bad CLOSE "closed its work socket but kept running"
big_reply badline GARBAGE "the worker's reply is a line"
big_reply badline BIG "the worker's reply is a line"
bad_worker badline EXTRA "sent a reply with no request pending"
wc_stop "$T/wc_bad"
log "bad workers: $(cat "$T/wc_bad")"
assert_eq "$(pool_route bad failed)" 2 "bad: failed requests (the two replies too large)"
assert_eq "$(pool_route badline failed)" 2 "badline: failed requests (the two replies too large)"
dv status >/dev/null || fail "droverd stopped answering"
kill -0 "$DAEMON_PID" || fail "droverd died"
