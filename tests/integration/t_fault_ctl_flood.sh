#!/bin/bash
# Many abusive control clients at once, while routed pools are under load.
# (t_ctl_protocol_abuse.sh checks each kind of abuse alone; this is all of
# them together, next to real work.)
#  - Below the 512-client cap, all at the same time: 150 clients stalled after
#    half a frame, 100 clients that ask for a large reply and never read it,
#    and three loops that keep connecting to send garbage, oversized frames or
#    a wrong protocol version. Meanwhile `drover status` answers every time,
#    99% of the calls within 2 s more than the slowest took here without the
#    abuse (measured first, with the same work load: a machine loaded by other
#    jobs slows every call, and that is not droverd's doing) and none after 5 s
#    more (the 100 clients ask for 300 kB of log each at once and droverd
#    builds those replies first: one or two calls at the start waited 0.9 to
#    1.5 s for that at load 15-18 on a 2-CPU VM, all others took under 15 ms),
#    and pipelining clients of a message pool and
#    connection-per-request clients of a handoff pool lose nothing.
#    The status calls are timed from one Python process on the control socket
#    (status_probe_py): droverd's answer, not a CLI's fork and exec.
#  - A churn of connections that close at once (four loops of connect+close,
#    so only a few are ever open together) is not a flood of clients: droverd
#    must refuse none of them as over the cap, and `drover status` must never
#    be turned away.
#  - Over the cap: 600 idle connections. droverd refuses those beyond 512 at
#    once (counted in drover_control_rejected_total), the work pools keep
#    serving without a loss, and once the idle clients hit the read timeout
#    and are dropped, `drover status` answers again.
. "$(dirname "$0")/lib.sh"
uses route fault

read_timeout=$(sed -n 's/^#define CONTROL_READ_TIMEOUT_SEC[[:space:]]\+\([0-9]\+\).*/\1/p' "$SRC/daemon/control.h")
max_clients=$(sed -n 's/^#define CONTROL_MAX_CLIENTS[[:space:]]\+\([0-9]\+\).*/\1/p' "$SRC/daemon/control.h")
[ -n "$read_timeout" ] && [ -n "$max_clients" ] || fail "cannot read the limits from control.h"

write_config <<EOF2
[pool:m]
command = $ECHO_WORKER
workers = 2
listen = $T/m.sock

[pool:h]
command = $ECHO_WORKER
workers = 2
listen = $T/h.sock
mode = handoff

[pool:big]
command = $SPEW_WORKER --lines 3000 --width 100
workers = 1
EOF2
start_daemon
wait_for 10 "m running" pool_running m 2
wait_for 10 "h running" pool_running h 2
wait_for 10 "big wrote its lines" file_has "$T/log/big.log" 'line 002999 x'
rss0=$(rss_kb "$DAEMON_PID")
fds0=$(fd_count_settled "$DAEMON_PID")

# abuse SECONDS MODE: run the abusive clients (below, or over the cap) for SECONDS.
abuse() {
    timeout 120 python3 - "$SOCK" "$@" <<'PY'
import resource, socket, struct, sys, threading, time
SOCK, SECS, MODE = sys.argv[1], float(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
end = time.monotonic() + SECS

def header(length, type_=1, version=1, flags=0):
    return struct.pack(">IHBB", length, type_, version, flags)

def command(*argv, version=1):
    p = b"".join(a.encode() + b"\0" for a in argv)
    return header(len(p), 1, version) + p

def conn():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(SOCK)
    return s

held, counts = [], {}

def hold(n, data, what):
    for _ in range(n):
        for attempt in range(200):
            try:
                s = conn()
                break
            except BlockingIOError:  # the backlog is full for a moment: droverd is accepting
                time.sleep(0.005)
        else:
            counts[what + " never connected"] = counts.get(what + " never connected", 0) + 1
            continue
        if data:
            s.sendall(data)
        held.append(s)
        counts[what] = counts.get(what, 0) + 1

def churn(what, data):
    n = 0
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.settimeout(5)
            s.connect(SOCK)
            if data:
                s.sendall(data)
                s.settimeout(2)
                while s.recv(65536):
                    pass
        except OSError:
            pass
        finally:
            s.close()
        n += 1
    counts[what] = n

if MODE == "below":
    hold(150, header(100) + b"status\0", "half a frame")
    hold(100, command("logs", "big", "-n", "3000"), "never reads")
    loops = [("garbage", b"\xde\xad\xbe\xef no frame here " * 8),
             ("oversized", header(0xFFFFFFFF) + b"x" * 1024),
             ("wrong version", command("status", version=77))]
    threads = [threading.Thread(target=churn, args=l) for l in loops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
elif MODE == "churn":
    # Connections that close at once: never more than a handful open at any moment.
    threads = [threading.Thread(target=churn, args=("connect and close %d" % i, b"")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
else:
    # Over the cap: non-blocking connects, so a full backlog ends the loop instead of blocking.
    for _ in range(int(MODE)):
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(SOCK)
        except BlockingIOError:
            s.close()
            counts["backlog full"] = counts.get("backlog full", 0) + 1
            time.sleep(0.002)
            continue
        held.append(s)
    counts["idle held"] = len(held)
    while time.monotonic() < end:
        time.sleep(0.05)
print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))
for s in held:
    s.close()
PY
}

# --- status without the abuse, under the same work load: this machine's own pace ---
wc_start "$T/wc_m0" -s "$T/m.sock" -c 4 -p 8 -z 100 -t 3 -d 60
wc_m0=$WC_PID
wc_start "$T/wc_h0" -s "$T/h.sock" --raw -k 1 -c 4 -z 100 -t 3 -d 60
wc_h0=$WC_PID
status_probe_py 3 "$T/probe0"
WC_PID=$wc_m0 wc_wait "$T/wc_m0"
WC_PID=$wc_h0 wc_wait "$T/wc_h0"
probe_check "$T/probe0" $((30000 * SLOWDOWN)) "status under the work load, no abuse"
base_max=$(grep -v '^fail' "$T/probe0" | awk '{print $1}' | sort -n | tail -1)
# The bounds during the abuse: p99 2 s (times SLOWDOWN) and every call 5 s over 3 times the
# slowest call without it: a loaded machine's pace is not droverd's.
abuse_p99=$((2000 * SLOWDOWN + 3 * ${base_max:-0}))
abuse_max=$((5000 * SLOWDOWN + 3 * ${base_max:-0}))

# --- below the cap, all at once, under load ---
wc_start "$T/wc_m" -s "$T/m.sock" -c 4 -p 8 -z 100 -t 6 -d 60
wc_m=$WC_PID
wc_start "$T/wc_h" -s "$T/h.sock" --raw -k 1 -c 4 -z 100 -t 6 -d 60
wc_h=$WC_PID
abuse 5 below >"$T/abuse1.out" 2>&1 &
abuser=$!
track_pid $abuser
status_probe_py 5 "$T/probe1"
wait $abuser || fail "abusive clients: $(cat "$T/abuse1.out")"
log "abusive clients: $(cat "$T/abuse1.out")"
assert_contains "$(cat "$T/abuse1.out")" "half a frame=150 never reads=100" "stalled clients held at once"
rss1=$(rss_kb "$DAEMON_PID")
WC_PID=$wc_m wc_wait "$T/wc_m"
WC_PID=$wc_h wc_wait "$T/wc_h"
log "message pool: $(cat "$T/wc_m")"
log "handoff pool: $(cat "$T/wc_h")"
wc_clean "$T/wc_m" "message pool next to the abuse"
wc_clean "$T/wc_h" "handoff pool next to the abuse"
probe_check "$T/probe1" "$abuse_max" "status during the abuse (bounds: p99 ${abuse_p99} ms, max ${abuse_max} ms; slowest without it ${base_max} ms)" "$abuse_p99"
alive "$DAEMON_PID" || fail "droverd died"

# --- connect-and-close churn: far below the cap at any moment ---
rejected0=$(metric drover_control_rejected_total)
abuse 4 churn >"$T/abuse_churn.out" 2>&1 &
abuser=$!
track_pid $abuser
status_probe 4 "$T/probe_churn"
wait $abuser || fail "churning clients: $(cat "$T/abuse_churn.out")"
rejected1=$(metric drover_control_rejected_total)
fails=$(grep -c '^fail' "$T/probe_churn")
log "connect-and-close churn: $(cat "$T/abuse_churn.out"); droverd refused $((rejected1 - rejected0)); $fails of $(wc -l <"$T/probe_churn") status calls failed"
[ "$((rejected1 - rejected0))" = 0 ] ||
    fail_later "a connect-and-close churn (at most 4 connections open at once) made droverd refuse $((rejected1 - rejected0)) connections as over the $max_clients-client cap"
[ "$fails" = 0 ] ||
    fail_later "$fails status calls were turned away during a connect-and-close churn ('droverd closed the connection without an answer')"

# --- over the cap ---
rejected0=$(metric drover_control_rejected_total)
wc_start "$T/wc_m2" -s "$T/m.sock" -c 4 -p 8 -z 100 -t 4 -d 60
wc_m2=$WC_PID
wc_start "$T/wc_h2" -s "$T/h.sock" --raw -k 1 -c 4 -z 100 -t 4 -d 60
wc_h2=$WC_PID
t_cap=$(now_ms)
abuse $((read_timeout + 4)) 600 >"$T/abuse2.out" 2>&1 &
abuser=$!
track_pid $abuser
WC_PID=$wc_m2 wc_wait "$T/wc_m2"
WC_PID=$wc_h2 wc_wait "$T/wc_h2"
wc_clean "$T/wc_m2" "message pool with the control socket over its cap"
wc_clean "$T/wc_h2" "handoff pool with the control socket over its cap"
log "over the cap: message pool $(wc_get "$T/wc_m2" ok) ok, handoff pool $(wc_get "$T/wc_h2" ok) ok"
# droverd drops the idle ones after the read timeout; then status gets in again.
wait_for $((read_timeout + 8)) "status to answer after the idle clients time out" \
    timeout 5 "$DROVER" -s "$SOCK" status
log "status answered again $(($(now_ms) - t_cap)) ms after the 600 idle connections"
wait $abuser || fail "idle clients: $(cat "$T/abuse2.out")"
log "idle clients: $(cat "$T/abuse2.out")"
rejected1=$(metric drover_control_rejected_total)
[ "$rejected1" -gt "$rejected0" ] || fail "no connection was refused over the cap (rejected total $rejected0 -> $rejected1)"
drops=$(grep -c 'reading the command timed out; dropped' "$T/droverd.log")
log "droverd logged $drops read-timeout drops"

# Everything is back: fds as before, RSS reported.
fds_back() { [ "$(fd_count "$DAEMON_PID")" -eq "$fds0" ]; }
wait_for 10 "droverd's fds back to where they were" fds_back
log "droverd RSS: $rss0 kB before, $rss1 kB with 100 unread large replies, $(rss_kb "$DAEMON_PID") kB after"
wc_run "$T/wc_after" -s "$T/m.sock" -c 2 -p 4 -n 1000
finish_checks
