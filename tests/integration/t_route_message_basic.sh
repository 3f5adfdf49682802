#!/bin/bash
# Message mode basics: length and line framing round trips through `drover call`
# and workclient; one connection pipelining many requests gets its replies in
# order, even when an early request is slow and later ones finish first; status
# shows per-worker requests and the pool's queue/inflight/retries/failed;
# `drover call` refuses pools that are not message mode.
. "$(dirname "$0")/lib.sh"
uses route

SLEEP=$(command -v sleep)
write_config <<EOF2
[pool:len]
command = $ECHO_WORKER
workers = 2
listen = $T/len.sock

[pool:line]
command = $ECHO_WORKER
workers = 2
listen = $T/line.sock
framing = line

[pool:order]
command = $FAULTY_ECHO_WORKER
workers = 3
listen = $T/order.sock
worker_inflight = 2

[pool:one]
command = $FAULTY_ECHO_WORKER
workers = 1
listen = $T/one.sock
worker_inflight = 1

[pool:sup]
command = $SLEEP 1000
workers = 1

[pool:ho]
command = $ECHO_WORKER
workers = 1
listen = $T/ho.sock
mode = handoff
EOF2
start_daemon
for p in len line order one sup ho; do wait_for 10 "pool $p running" pool_running "$p"; done

# --- drover call, length framing ---
out=$(dv call len hello) || fail "call len hello failed"
assert_eq "$out" "hello" "call reply (length)"
out=$(printf 'from stdin' | dv call len) || fail "call len from stdin failed"
assert_eq "$out" "from stdin" "call reply from stdin (length)"
# Length framing carries any bytes: newlines, NULs, a trailing newline, a large body.
printf 'a\nb\0c\n\n' >"$T/bin.req"
dv call len <"$T/bin.req" >"$T/bin.rep" || fail "call len with binary data failed"
cmp -s "$T/bin.req" "$T/bin.rep" || fail "binary request not echoed byte for byte: $(od -c "$T/bin.rep")"
head -c 700000 /dev/urandom >"$T/big.req"
dv call len <"$T/big.req" >"$T/big.rep" || fail "call len with a 700 KB body failed"
cmp -s "$T/big.req" "$T/big.rep" || fail "700 KB request not echoed byte for byte"
dv call len "" >"$T/empty.rep" || fail "call len with an empty body failed"
[ ! -s "$T/empty.rep" ] || fail "empty request got a non-empty reply: $(od -c "$T/empty.rep")"

# --- drover call, line framing ---
out=$(dv call line "hi there") || fail "call line failed"
assert_eq "$out" "hi there" "call reply (line)"
out=$(printf 'one line\n' | dv call line) || fail "call line from stdin failed"
assert_eq "$out" "one line" "call reply from stdin (line)"
dv call line "" >"$T/empty.rep" || fail "call line with an empty line failed"
assert_eq "$(od -An -c "$T/empty.rep" | tr -d ' ')" '\n' "reply to an empty line"
rc=0
err=$(dv call line "$(printf 'two\nlines')" 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 2 "exit status of call with a multi-line request on a line pool"
assert_contains "$err" "one line"

# --- workclient: many connections, pipelining, both framings ---
wc_run "$T/wc_len" -s "$T/len.sock" -c 4 -p 16 -n 5000 -z 200
wc_run "$T/wc_line" -s "$T/line.sock" -f line -c 4 -p 16 -n 5000 -z 200
# One connection with many requests in flight: replies in order (workclient checks).
wc_run "$T/wc_pipe" -s "$T/len.sock" -c 1 -p 128 -n 5000 -z 64
wc_run "$T/wc_pipe_line" -s "$T/line.sock" -f line -c 1 -p 128 -n 5000 -z 64
assert_eq "$(wc_get "$T/wc_pipe" connections)" 1 "connections used by the pipelining client"

# --- order survives a slow head: the first request is slow, the rest are answered first ---
py_client "$T/order.sock" >"$T/order.out" <<'PY' || fail "ordering check failed: $(cat "$T/order.out")"
import socket, struct, sys, time
reqs = [b"SLOW600:first"] + [b"quick-%d" % i for i in range(40)] + [b"SLOW200:mid"] + \
       [b"tail-%d" % i for i in range(40)]
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in reqs))
s.settimeout(20)
buf, got = b"", []
while len(got) < len(reqs):
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            print("closed after %d replies" % len(got)); sys.exit(1)
        buf += chunk
    n = struct.unpack(">I", buf[:4])[0]
    got.append(buf[4:4 + n]); buf = buf[4 + n:]
want = [b"+" + r for r in reqs]
if got != want:
    bad = next(i for i in range(len(want)) if got[i] != want[i])
    print("reply %d: want %r got %r" % (bad, want[bad], got[bad])); sys.exit(1)
print("ok")
PY

# --- status: per-worker requests, pool counters ---
reqs=$(pool_route len requests)
[ "$reqs" -ge $((5000 + 5000 + 5)) ] || fail "pool len route requests = $reqs, expected >= 10005"
assert_eq "$(slot_sum len requests)" "$reqs" "sum of len's per-worker requests vs the pool's"
for i in 0 1; do
    r=$(slot_field len $i requests)
    [ "$r" -gt 0 ] || fail "len slot $i served no requests (requests=$r)"
done
assert_eq "$(slot_sum line requests)" "$(pool_route line requests)" "line per-worker sum"
[ "$(pool_route line requests)" -ge 10003 ] || fail "line requests $(pool_route line requests) < 10003"
for k in queued inflight retries failed timeouts busy; do
    assert_eq "$(pool_route len "$k")" 0 "len route $k after the load"
done
text=$(dv status --wide) || fail "status failed"
for col in REQS QUEUE INFLIGHT RETRIES FAILED; do assert_contains "$text" "$col"; done
# Columns: POOL SLOT PID STATE UPTIME RESTARTS LAST-EXIT(-) CPU RSS REQS
assert_eq "$(dv status len --wide | awk '$1=="len" && $2=="0" {print $10}')" "$(slot_field len 0 requests)" \
    "status text REQS of len slot 0"

# Queue and inflight while a slow request holds the only worker of pool one
# (3 s: long enough for the slowest status call on a loaded machine).
python3 - "$T/one.sock" >"$T/slow.out" <<'PY' &
import socket, struct, sys
reqs = [b"SLOW3000:a", b"b", b"c"]
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"".join(struct.pack(">I", len(r)) + r for r in reqs))
s.settimeout(20)
want = b"".join(struct.pack(">I", len(r) + 1) + b"+" + r for r in reqs)
buf = b""
while len(buf) < len(want):
    c = s.recv(65536)
    if not c:
        break
    buf += c
print("ok" if buf == want else repr(buf))
PY
slow_pid=$!
track_pid $slow_pid
one_busy() {
    [ "$(status_json "next((p['route']['inflight'], p['route']['queued'], p['slots'][0]['inflight'])
                    for p in s['pools'] if p['name']=='one')")" = "(1, 2, 1)" ]
}
wait_for 5 "pool one: 1 in flight (on slot 0) and 2 queued, in one status" one_busy
# Columns: POOL WORKERS MODE LISTEN QUEUE INFLIGHT RETRIES FAILED BUSY
assert_eq "$(dv status one --wide | awk '$1=="one" && $3=="message" {print $5 "/" $6}')" "2/1" \
    "status text QUEUE/INFLIGHT of pool one"
wait "$slow_pid" || fail "slow client failed"
assert_eq "$(cat "$T/slow.out")" ok "replies to the slow client"
wait_for 5 "one: nothing in flight" pool_route_is one inflight 0
assert_eq "$(pool_route one queued)" 0 "pool one queued afterwards"
assert_eq "$(slot_field one 0 requests)" 3 "slot one:0 requests"

# --- drover call on pools that are not message mode ---
rc=0
err=$(dv call sup x 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of call on a supervised-only pool"
assert_contains "$err" "no work socket"
rc=0
err=$(dv call ho x 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of call on a handoff pool"
assert_contains "$err" "mode = message"
assert_contains "$err" "handoff"
rc=0
err=$(dv call nosuch x 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of call on an unknown pool"
assert_contains "$err" "no pool named"
dv status >/dev/null || fail "droverd stopped answering"

# --- a deep pipeline in one write, and a client that half-closes after sending ---
# 600 requests arrive at once (more than droverd parses ahead per client): all
# must be answered, in order, whether the client keeps the connection open or
# shuts down its sending side right after the last request (then droverd
# answers everything and closes).
py_client "$T/len.sock" "$T/line.sock" >"$T/deep.out" 2>&1 <<'PY' || fail "deep pipeline: $(cat "$T/deep.out")"
import socket, struct, sys
def run(path, line, half_close, n=600):
    reqs = [b"deep-%d-%s" % (i, b"x" * (i % 50)) for i in range(n)]
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"".join(r + b"\n" if line else struct.pack(">I", len(r)) + r for r in reqs))
    if half_close:
        s.shutdown(socket.SHUT_WR)
    want = b"".join(b"+" + r + b"\n" if line else struct.pack(">I", len(r) + 1) + b"+" + r
                    for r in reqs)
    s.settimeout(3)
    got, eof = b"", False
    try:
        while len(got) < len(want) or half_close:
            b = s.recv(65536)
            if not b:
                eof = True
                break
            got += b
    except socket.timeout:
        pass
    replies = got.count(b"\n") if line else None
    what = "%s framing, %d requests in one write%s" % (
        "line" if line else "length", n, ", then half-close" if half_close else "")
    if got != want:
        k = 0
        while k < len(got) and k < len(want) and got[k] == want[k]:
            k += 1
        print("%s: got %d of %d reply bytes (first difference at byte %d)%s" % (
            what, len(got), len(want), k, "; connection closed" if eof else ""))
        return False
    if half_close and not eof:
        print("%s: all replies, but the connection was not closed" % what)
        return False
    print("%s: ok" % what)
    return True
results = [run(sys.argv[1], False, False), run(sys.argv[2], True, False),
           run(sys.argv[1], False, True), run(sys.argv[2], True, True)]
sys.exit(0 if all(results) else 1)
PY
wc_run "$T/wc_deep" -s "$T/len.sock" -c 1 -p 1000 -n 20000 -z 32 -d 20
