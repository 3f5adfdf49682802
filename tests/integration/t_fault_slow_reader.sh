#!/bin/bash
# A pipelining client that reads its replies slowly still gets every reply
# droverd owes it when its pool goes away. docs/protocol.md: "Every request
# droverd has read gets exactly one reply on its connection", and the README:
# "Shutdown also stops accepting clients and answers every request it has
# already read". The client sends 32 KiB requests without reading until
# droverd stops reading it (its replies pile up in droverd), then the pool
# goes away while those replies wait:
#  - a reload re-creates the pool (socket_mode changed);
#  - a reload removes the pool;
#  - `drover shutdown`.
# Each time the client then reads to EOF and must find a correct '+' reply for
# every request the pool's workers had answered before the event.
. "$(dirname "$0")/lib.sh"

pools() {
    local mode=$1 with_rm=$2
    cat <<EOF2
[pool:rc]
command = $ECHO_WORKER
workers = 2
listen = $T/rc.sock
socket_mode = $mode
EOF2
    [ "$with_rm" = yes ] && cat <<EOF2

[pool:rm]
command = $ECHO_WORKER
workers = 2
listen = $T/rm.sock
EOF2
    return 0
}

# slow_client POOL TAG: a client of POOL that writes until droverd stops reading it, says
# "stalled" in $T/TAG.stalled, waits for $T/TAG.go, then reads to EOF and writes
# "GOOD BAD" (correct replies, wrong ones) to $T/TAG.result.
slow_client() {
    timeout 60 python3 - "$T/$1.sock" "$T/$2" <<'PY' &
import os, socket, struct, sys, threading, time
path, base = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
bodies, progress = [], [time.monotonic()]
def sender():
    try:
        for i in range(400):
            b = (b"%06d." % i) + b"r" * 32761
            bodies.append(b)
            s.sendall(struct.pack(">I", len(b)) + b)
            progress[0] = time.monotonic()
    except OSError:
        pass
threading.Thread(target=sender, daemon=True).start()
while time.monotonic() - progress[0] < 0.5:  # droverd has stopped reading us
    time.sleep(0.05)
open(base + ".stalled", "w").write("%d\n" % len(bodies))
while not os.path.exists(base + ".go"):
    time.sleep(0.02)
s.settimeout(20)
buf = b""
try:
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        buf += b
except OSError:
    pass
good = bad = i = 0
while len(buf) >= 4:
    n = struct.unpack(">I", buf[:4])[0]
    if len(buf) < 4 + n:
        break
    if i < len(bodies) and buf[4:4 + n] == b"+" + bodies[i]:
        good += 1
    else:
        bad += 1
    buf, i = buf[4 + n:], i + 1
open(base + ".result", "w").write("%d %d\n" % (good, bad))
PY
    SLOW_PID=$!
    track_pid $SLOW_PID
}

# check TAG WHAT ANSWERED: the client got a correct reply for all ANSWERED requests.
check() {
    local tag=$1 what=$2 answered=$3 good bad
    wait_for 30 "$what: the client to read to EOF" test -s "$T/$tag.result"
    read -r good bad <"$T/$tag.result"
    log "$what: the workers had answered $answered requests; the client got $good correct replies ($bad wrong)"
    [ "$bad" = 0 ] || fail_later "$what: $bad wrong replies"
    [ "$good" -ge "$answered" ] ||
        fail_later "$what: the client got $good replies, but droverd had read and answered $answered of its requests: $((answered - good)) replies were dropped"
}

pools 0660 yes | write_config
start_daemon
wait_for 10 "rc running" pool_running rc 2
wait_for 10 "rm running" pool_running rm 2

# --- the pool is re-created by a reload ---
slow_client rc recreate
wait_for 20 "the client to stall" test -s "$T/recreate.stalled"
answered=$(pool_route rc requests)
pools 0600 yes | write_config
out=$(dv reload) || fail "reload failed: $out"
assert_contains "$out" "pool rc: socket_mode changed" "reload output"
touch "$T/recreate.go"
check recreate "pool re-created by reload" "$answered"
wait_for 10 "rc running again" pool_running rc 2

# --- the pool is removed by a reload ---
slow_client rm remove
wait_for 20 "the client to stall" test -s "$T/remove.stalled"
answered=$(pool_route rm requests)
pools 0600 no | write_config
out=$(dv reload) || fail "reload failed: $out"
assert_contains "$out" "pool rm: removed" "reload output"
touch "$T/remove.go"
check remove "pool removed by reload" "$answered"

# --- droverd shuts down ---
slow_client rc shutdown
wait_for 20 "the client to stall" test -s "$T/shutdown.stalled"
answered=$(pool_route rc requests)
dv shutdown --no-wait >/dev/null || fail "shutdown failed"
touch "$T/shutdown.go"
check shutdown "drover shutdown" "$answered"
wait_daemon_exit 20
finish_checks
