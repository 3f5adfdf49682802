#!/bin/bash
# SPDX-License-Identifier: ISC
# Routing helpers (`uses route`): the load client (workclient) in the foreground or the
# background, its summary, and probes of a pool's work socket.
WORKCLIENT="$HELPERS/workclient"

# wc_get FILE KEY: a field of workclient's one-line JSON summary in FILE.
wc_get() {
    python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
# wc_run OUT ARGS...: run workclient into OUT (stderr OUT.err); fail the test unless it passes.
wc_run() {
    local out=$1
    shift
    "$WORKCLIENT" "$@" >"$out" 2>"$out.err" ||
        fail "workclient $* failed: $(cat "$out") $(tail -n 5 "$out.err")"
}
# wc_start OUT ARGS...: workclient in the background (tracked); its pid in WC_PID.
wc_start() {
    local out=$1
    shift
    "$WORKCLIENT" "$@" >"$out" 2>"$out.err" &
    WC_PID=$!
    track_pid "$WC_PID"
}
# wc_wait OUT: wait for the background workclient; fail unless it passed.
wc_wait() {
    local rc=0
    wait "$WC_PID" || rc=$?
    [ "$rc" = 0 ] || fail "workclient exited $rc: $(cat "$1") $(tail -n 5 "$1.err")"
}
# wc_stop OUT: end the background workclient's sending now (SIGUSR1: it drains what is in
# flight and prints its summary), then wc_wait OUT. For a load that accompanies a phase of a
# test: start it with a generous -t as a bound, stop it when the phase is over.
wc_stop() {
    wc_end_sending "$WC_PID"
    wc_wait "$1"
}
# wc_end_sending PID: SIGUSR1 to a background workclient, without waiting.
wc_end_sending() {
    # Not before it has its handler: SIGUSR1's default action would kill it.
    # (If its -t ran out first, it has exited and there is nothing to stop.)
    wait_for 10 "workclient $1 to handle SIGUSR1" _wc_stoppable "$1"
    kill -USR1 "$1" 2>/dev/null
}
_wc_stoppable() {
    local mask
    alive "$1" || return 0
    mask=$(awk '$1 == "SigCgt:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (((0x$mask >> 9) & 1)) # SIGUSR1 = 10: bit 9
}

# wc_clean FILE WHAT: a workclient summary with every request answered '+' and nothing
# lost, duplicated, mismatched or refused.
wc_clean() {
    local bad
    bad=$(python3 - "$1" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
bad = ["%s %s" % (k, s[k]) for k in ("lost", "duplicated", "mismatched", "unanswered", "unexpected",
       "malformed", "busy", "failed", "timeout", "other_error", "unsent") if s[k] != 0]
if s["ok"] != s["sent"]:
    bad.append("ok %d of %d sent" % (s["ok"], s["sent"]))
print(", ".join(bad))
PY
    ) || fail "$2: cannot read the workclient summary in $1"
    [ -z "$bad" ] || fail "$2: workclient: $bad"
}

# py_client ARGS... <<'PY': run an inline Python socket script in the foreground with a
# 60 s cap. (In the background use `python3 - ARGS <<'PY' &` so that $! is Python itself.)
py_client() { timeout 60 python3 - "$@"; }

# backlog_served POOL SOCK: with every worker of POOL stopped, 4 clients connect to SOCK
# (refused would fail) and each sends one length-framed request; they must still be
# waiting while the pool is stopped, and each get its own echo once it is started again.
backlog_served() {
    local pool=$1 sock=$2 pid
    dv stop "$pool" >/dev/null || fail "stop $pool failed"
    python3 - "$sock" "$T/$pool.connected" >"$T/$pool.backlog.out" 2>&1 <<'PY' &
import socket, struct, sys
path, flag = sys.argv[1], sys.argv[2]
socks = []
for i in range(4):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)  # refused would raise
    body = b"waiting-%d" % i
    s.sendall(struct.pack(">I", len(body)) + body)
    socks.append((s, body))
open(flag, "w").write("4\n")
for s, body in socks:
    s.settimeout(30)
    want = struct.pack(">I", len(body)) + body
    got = b""
    while len(got) < len(want):
        b = s.recv(100)
        if not b:
            break
        got += b
    if got != want:
        print("%r got %r" % (body, got)); sys.exit(1)
    s.close()  # a handoff worker holds its connection until the client ends it
print("ok")
PY
    pid=$!
    track_pid $pid
    wait_for 30 "4 clients connected to the stopped pool $pool" test -s "$T/$pool.connected"
    kill -0 $pid || fail "$pool: clients finished while every worker was stopped: $(cat "$T/$pool.backlog.out")"
    dv start "$pool" >/dev/null || fail "start $pool failed"
    wait $pid || fail "$pool: clients waiting in the backlog: $(cat "$T/$pool.backlog.out")"
}
