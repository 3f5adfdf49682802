#!/bin/bash
# droverd's memory for control clients that do not read is bounded as a
# whole, not per client times 512: 24 clients ask `logs big -n 1000000` of a
# 33 MB log and read nothing (each answer used to be read whole, up to
# 32 MiB, and kept in the client's output: 350-800 MB), then 60 `logs all -f`
# followers read nothing while a pool writes 6 MB of lines (each was let
# fall 4 MiB behind before it was dropped: 240 MB). The long answers are
# now read from the file as the client takes them, and the followers are
# dropped once droverd holds CONTROL_OUTPUT_LIMIT for control clients: its
# peak RSS (VmHWM) stays under that limit plus 48 MiB. Meanwhile, with all
# of them still connected, a client that reads gets a 20 MB answer whole
# (the same bytes as tail -n), status answers, a new follower gets new
# lines and events -f gets events; the dropped followers are told they
# were too far behind (exit 1).
. "$(dirname "$0")/lib.sh"
uses proc

limit_mib=$(sed -n 's/^#define CONTROL_OUTPUT_LIMIT[[:space:]]\+(\([0-9]\+\) << 20).*/\1/p' "$SRC/daemon/control.h")
[ -n "$limit_mib" ] || fail "cannot read CONTROL_OUTPUT_LIMIT from control.h"
bound_kb=$(((limit_mib + 48) * 1024))
n_logs=24
n_followers=60

write_config <<EOF
[pool:big]
command = $SPEW_WORKER --lines 330000 --width 100
workers = 1
log_max_size = 64M

[pool:chat]
command = $SPEW_WORKER --out chat-ready --burst 60000 --width 100
workers = 1
log_max_size = 64M

[pool:tick]
command = $SPEW_WORKER --out tick-ready
workers = 1
EOF
start_daemon
LOG="$T/log"
big_done() { [ "$(stat -c %s "$LOG/big.log" 2>/dev/null || echo 0)" -gt 33000000 ]; }
wait_for $((60 * SLOWDOWN)) "big wrote its 33 MB" big_done
wait_for 10 "chat running" file_has "$LOG/chat.log" 'chat-ready'
wait_for 10 "tick running" file_has "$LOG/tick.log" 'tick-ready'
log "idle: droverd RSS $(rss_kb "$DAEMON_PID") KiB"

# The clients that read nothing, all in one process; on $T/read.go it reads what the
# followers were sent and says how each ended.
python3 - "$SOCK" "$T" "$n_logs" "$n_followers" >"$T/holder.out" 2>&1 <<'PY' &
import os, select, socket, struct, sys, time
sock, tmp, n_logs, n_followers = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def client(*argv):
    payload = b"".join(a.encode() + b"\0" for a in argv)
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(sock)
    s.sendall(struct.pack(">IHBB", len(payload), 1, 1, 0) + payload)
    return s

def all_answered(socks, what):
    # Each has been sent something: its command ran.
    waiting, deadline = set(socks), time.monotonic() + 60
    while waiting and time.monotonic() < deadline:
        r, _, _ = select.select(list(waiting), [], [], 1)
        waiting -= set(r)
    if waiting:
        sys.exit("%d %s never answered" % (len(waiting), what))

def wait_file(name):
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(tmp, name)):
        if time.monotonic() > deadline:
            sys.exit("no " + name)
        time.sleep(0.02)

logs = [client("logs", "big", "-n", "1000000") for _ in range(n_logs)]
all_answered(logs, "logs -n clients")
open(os.path.join(tmp, "logs.ready"), "w").close()
followers = [client("logs", "all", "-f", "-n", "1") for _ in range(n_followers)]
all_answered(followers, "followers")
open(os.path.join(tmp, "followers.ready"), "w").close()
wait_file("read.go")
ends = {}
for s in followers:
    s.settimeout(20)
    buf = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    off, err, code = 0, b"", None
    while len(buf) - off >= 8:
        n, t = struct.unpack_from(">IH", buf, off)
        body = bytes(buf[off + 8:off + 8 + n])
        off += 8 + n
        if t == 3:
            err += body
        elif t == 4:
            code = body[0]
    key = "exit=%s %s" % (code, "too-far-behind" if b"too far behind the log" in err else repr(err))
    ends[key] = ends.get(key, 0) + 1
for s in logs + followers:
    s.close()
print(" ".join("%s:%d" % kv for kv in sorted(ends.items())))
PY
holder=$!
track_pid "$holder"
holder_running() { alive "$holder" || fail "the holder of the clients ended: $(cat "$T/holder.out")"; }
wait_for 60 "the logs -n clients answered" test -e "$T/logs.ready"
holder_running
# check_peak WHEN: droverd's peak RSS so far against the bound.
check_peak() {
    local peak_kb
    peak_kb=$(awk '/^VmHWM:/ {print $2}' /proc/"$DAEMON_PID"/status)
    log "$1: droverd RSS $(rss_kb "$DAEMON_PID") KiB, peak ${peak_kb} KiB (bound ${bound_kb} KiB)"
    if [ "$RSS_CHECKS" = 1 ] && [ "$peak_kb" -ge "$bound_kb" ]; then
        fail_later "droverd's peak RSS was ${peak_kb} KiB with $1 (bound ${bound_kb} KiB: CONTROL_OUTPUT_LIMIT + 48 MiB)"
    fi
}
check_peak "$n_logs clients not reading logs big -n 1000000"
wait_for 60 "the followers attached" test -e "$T/followers.ready"
holder_running

# A follower that reads, and an events reader, from before the burst to the end.
dv events -f >"$T/events.out" 2>&1 &
events_pid=$!
track_pid "$events_pid"
dv logs tick -f -n 0 >"$T/tick.out" 2>&1 &
tick_pid=$!
track_pid "$tick_pid"

dv signal chat USR2 >/dev/null || fail "signal chat"
wait_for $((30 * SLOWDOWN)) "the 6 MB burst in chat.log" file_has "$LOG/chat.log" 'line 059999 x'
dropped() { [ "$(grep -c 'logs -f client is too slow' "$T/droverd.log")" -ge "$n_followers" ]; }
wait_for $((20 * SLOWDOWN)) "droverd drops the $n_followers followers" dropped
check_peak "$n_followers followers not reading a 6 MB burst"

# With all those clients still connected: a client that reads gets its whole answer.
dv logs big -n 200000 >"$T/big.out" || fail "logs big -n 200000 failed"
tail -n 200000 "$LOG/big.log" | cmp -s - "$T/big.out" ||
    fail_later "logs big -n 200000 differs from tail -n 200000 ($(wc -c <"$T/big.out") bytes)"
assert_eq "$(dv logs all -n 3 | wc -l)" 3 "lines of logs all -n 3"
dv status >/dev/null || fail "status with the stuck clients connected"
dv signal tick USR2 >/dev/null || fail "signal tick"
wait_for 10 "the reading follower gets a new line" file_has "$T/tick.out" 'tick 1 out'
dv scale tick 2 >/dev/null || fail "scale tick 2"
wait_for 10 "events -f gets the new slot" file_has "$T/events.out" 'tick:1 .*-> starting'
alive "$tick_pid" || fail_later "the reading follower ended: $(cat "$T/tick.out")"
kill "$tick_pid" "$events_pid"
wait "$tick_pid" "$events_pid" 2>/dev/null

touch "$T/read.go"
wait "$holder" || fail "holder: $(cat "$T/holder.out")"
ends=$(cat "$T/holder.out")
log "how the followers ended: $ends"
assert_eq "$ends" "exit=1 too-far-behind:$n_followers" "how the followers that did not read ended"
log "after: droverd RSS $(rss_kb "$DAEMON_PID") KiB"
finish_checks
