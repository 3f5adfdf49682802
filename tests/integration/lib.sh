#!/bin/bash
# SPDX-License-Identifier: ISC
# Shared harness for integration tests: each t_*.sh sources this, writes a
# config into $T (a private temp dir), starts the real droverd on private
# sockets, drives it with the real drover CLI, and waits on conditions with
# deadlines (never fixed sleeps). The EXIT trap stops exactly the processes
# the test started and removes $T.
#
# Helpers for one area live in lib/*.sh; a test loads them with `uses AREA...`:
#   route  the load client (workclient) and routing probes (backlog, pool of a pid)
#   proc   /proc probes: fds, RSS, CPU time, zombies, status fields, DROVER_POOL of a pid
#   fault  fault injection: kill loops, status probes under stress, other-uid setups
#
# Environment (set by ctest, or by hand): BIN (droverd, drover, echo-worker),
# HELPERS (test helper programs), SRC (source tree).
set -u
set -o pipefail

: "${BIN:?set BIN to the bin directory of a build}"
: "${HELPERS:=$BIN}"
: "${SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
LIB_DIR=$(dirname "${BASH_SOURCE[0]}")/lib
DROVERD="$BIN/droverd"
DROVER="$BIN/drover"
ECHO_WORKER="$BIN/echo-worker"              # examples/: echoes, in every routing mode
FAULTY_ECHO_WORKER="$HELPERS/faulty-echo-worker" # message mode echo, misbehaves on request
PROBE_WORKER="$HELPERS/probe-worker"        # records fds, env, ppid, pgid, signals
NOTIFY_WORKER="$HELPERS/notify-worker"      # speaks sd_notify (READY, STATUS, WATCHDOG)
SPEW_WORKER="$HELPERS/spew-worker"          # writes output: lines, ticks, floods
TEST_NAME=$(basename "$0" .sh)
# The interpreter itself, not a wrapper (a pyenv shim costs 200 ms a call, seconds on a busy
# machine, and the status helpers below call Python all the time).
PYTHON=$(command python3 -c 'import sys; print(sys.executable)')
python3() { "$PYTHON" "$@"; }

# How much slower droverd runs here: 1 natively, 3 under AddressSanitizer (scripts/test.sh
# sets ASAN_OPTIONS for that pass), 10 under valgrind. Time and throughput bounds scale with
# it. RSS bounds mean something only natively (RSS_CHECKS=1): ASan's quarantine and
# valgrind's own memory are not droverd's.
if [ -n "${DROVER_VALGRIND:-}" ]; then
    SLOWDOWN=10 RSS_CHECKS=0
elif [ -n "${ASAN_OPTIONS:-}" ]; then
    SLOWDOWN=3 RSS_CHECKS=0
else
    SLOWDOWN=1 RSS_CHECKS=1
fi

# Short paths: a Unix socket path must fit in 107 bytes.
T=$(mktemp -d /tmp/drv.XXXXXX)
SOCK="$T/ctl.sock"
CONF="$T/drover.ini"
DAEMON_PID=""
TRACKED_PIDS=()
EXIT_CMDS=()
LATER=()

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
    log "FAIL: $*"
    if [ -f "$T/droverd.log" ]; then
        log "--- droverd log (last 40 lines) ---"
        tail -n 40 "$T/droverd.log" >&2
        # Again after the log: CI summaries keep the end of a test's output.
        log "FAIL: $*"
    fi
    exit 1
}

# fail_later MESSAGE: record a failure but keep going, so one daemon bug does not hide the
# checks after it; finish_checks fails the test at its end if anything was recorded.
fail_later() {
    LATER+=("$*")
    log "FAIL (reported at the end): $*"
}
finish_checks() {
    local m all=""
    [ ${#LATER[@]} -eq 0 ] && return 0
    for m in "${LATER[@]}"; do all+=" | $m"; done
    fail "${#LATER[@]} check(s) failed${all}"
}

# uses AREA...: source lib/AREA.sh for each AREA.
uses() {
    local a
    for a in "$@"; do . "$LIB_DIR/$a.sh"; done
}

# Remember a pid this test started, so cleanup ends it (and only it).
track_pid() { TRACKED_PIDS+=("$1"); }
# untrack_gone: forget tracked pids that no longer exist, so the cleanup trap never
# signals a pid the kernel has since given to another process (pid_max may be small).
untrack_gone() {
    local p keep=()
    for p in "${TRACKED_PIDS[@]}"; do [ -e "/proc/$p" ] && keep+=("$p"); done
    TRACKED_PIDS=("${keep[@]}")
}

# on_exit CMD: eval CMD when the test exits (last registered first), before the
# harness's own cleanup: for mounts, processes of another uid, and the like.
on_exit() { EXIT_CMDS=("$1" "${EXIT_CMDS[@]}"); }

cleanup() {
    local rc=$? c p
    for c in "${EXIT_CMDS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
    for p in "${TRACKED_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    # Bounded wait for a graceful exit, then no mercy. Workers die with it (PDEATHSIG).
    stop_daemon 5 || true
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT

# wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds, or fail at the deadline.
# CMD's words are expanded once, by this call: a condition that reads state is a function
# (never `test "$(count)" -ge 1`, which reads count once; tests/lint/waits.sh checks).
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(date +%s%N) + secs * 1000000000))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -gt "$deadline" ] && fail "timed out after ${secs}s waiting for: $what"
        sleep 0.02
    done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The drover CLI on this test's daemon.
dv() { "$DROVER" -s "$SOCK" "$@"; }

# Write $CONF: a [daemon] section on this test's sockets, then whatever is on stdin.
write_config() {
    {
        printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s/log\nshutdown_timeout = 10s\n' "$SOCK" "$T"
        cat
    } >"$CONF"
}

# Start droverd on $CONF (or $1) in the background and wait until it answers.
start_daemon() {
    "$DROVERD" -c "${1:-$CONF}" >"$T/droverd.log" 2>&1 &
    DAEMON_PID=$!
    wait_for 10 "droverd to answer on $SOCK" dv status
}

# stop_daemon [SECS]: SIGTERM droverd and wait for it; SIGKILL at the deadline (default 20 s),
# and then return 1.
stop_daemon() {
    local deadline rc=0
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    deadline=$(($(date +%s%N) + ${1:-20} * 1000000000))
    while kill -0 "$DAEMON_PID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$DAEMON_PID" 2>/dev/null && rc=1
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=""
    return $rc
}

# Wait for droverd to exit by itself; sets DAEMON_STATUS.
wait_daemon_exit() {
    local secs=${1:-20} deadline
    deadline=$(($(date +%s%N) + secs * 1000000000))
    while kill -0 "$DAEMON_PID" 2>/dev/null; do
        [ "$(date +%s%N)" -gt "$deadline" ] && fail "droverd did not exit within ${secs}s"
        sleep 0.02
    done
    wait "$DAEMON_PID"
    DAEMON_STATUS=$?
    DAEMON_PID=""
}

# ---- `drover status --json`, read with a Python expression ----
# status_json EXPR: EXPR on the whole status (bound to s).
status_json() {
    dv status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}
# pool_json POOL EXPR: EXPR on one pool (bound to p). slot_json POOL SLOT EXPR: on one slot (x).
pool_json() { status_json "next(($2) for p in s['pools'] if p['name']=='$1')"; }
slot_json() { status_json "next(($3) for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"; }
pool_true() { [ "$(pool_json "$@")" = True ]; }
slot_true() { [ "$(slot_json "$@")" = True ]; }
# slot_field POOL SLOT FIELD: one field of a slot (Python repr: None for no pid).
slot_field() { slot_json "$1" "$2" "x['$3']"; }
# slot_sum POOL FIELD: a numeric slot field summed over POOL's slots.
slot_sum() { pool_json "$1" "sum(x['$2'] or 0 for x in p['slots'])"; }
# pool_pids POOL: the pids of POOL's slots in slot order, space-separated ("None" for no process).
pool_pids() { pool_json "$1" "' '.join(str(x['pid']) for x in sorted(p['slots'], key=lambda x: x['slot']))"; }
# pool_running POOL [N]: every slot of POOL is running (with N: exactly N slots, all running).
pool_running() {
    pool_true "$1" "[x['state'] for x in p['slots']] == ['running'] * ${2:-len(p['slots'])}"
}
# pool_route POOL KEY: a field of POOL's "route" object; _is VALUE and _ge MIN for wait_for.
pool_route() { pool_json "$1" "p['route']['$2']"; }
pool_route_is() { [ "$(pool_route "$1" "$2")" = "$3" ]; }
pool_route_ge() { [ "$(pool_route "$1" "$2")" -ge "$3" ]; }
has_pool() { [ "$(status_json "any(p['name']=='$1' for p in s['pools'])")" = True ]; }
state_is() { [ "$(slot_field "$1" "$2" state)" = "$3" ]; }
# pid_changed POOL SLOT OLDPID: the slot runs a process, and not OLDPID.
pid_changed() { local p; p=$(slot_field "$1" "$2" pid); [ "$p" != "$3" ] && [ "$p" != None ]; }
# status_all WHAT EXPR...: on one status snapshot, every Python expression is true; slot(POOL, N)
# and pool(POOL) give a slot or a pool. For a failing "A == B" the actual value of A is shown.
status_all() {
    local what=$1 out
    shift
    out=$(dv status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
def pool(name):
    return next(p for p in s["pools"] if p["name"] == name)
def slot(name, i):
    return next(x for x in pool(name)["slots"] if x["slot"] == i)
bad = []
for e in sys.argv[1:]:
    try:
        ok = eval(e)
    except Exception as ex:
        bad.append("%s: %r" % (e, ex))
        continue
    if not ok:
        left = e.split(" == ")[0] if " == " in e else None
        bad.append(e + ("  (it is %r)" % (eval(left),) if left else ""))
print("\n".join(bad))
' "$@") || fail "$what: cannot read status --json"
    [ -z "$out" ] || fail "$what: not true: $out"
}

# metric NAME [LABELS]: a sample of `drover metrics` (LABELS as printed, e.g. pool="a"), or "none".
metric() {
    local sel="$1"
    [ $# -ge 2 ] && sel="$1{$2}"
    dv metrics | awk -v s="$sel" '$1 == s {print $2; f=1} END {if (!f) print "none"}'
}

# ---- processes, files, commands ----
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; }
# gone PID...: no process, not even a zombie, has any of these pids (it was reaped).
gone() {
    local p
    for p in "$@"; do [ -e "/proc/$p" ] && return 1; done
    return 0
}
# file_has FILE REGEX: does FILE exist and contain a line matching the extended REGEX?
file_has() { [ -f "$1" ] && grep -Eq -- "$2" "$1"; }

# run_capture CMD...: run CMD, keeping its exit status, stdout and stderr in RUN_RC, RUN_OUT, RUN_ERR.
run_capture() {
    RUN_OUT=$("$@" 2>"$T/run.err")
    RUN_RC=$?
    RUN_ERR=$(cat "$T/run.err")
}
# expect_exit RC DESCRIPTION CMD...: run CMD (run_capture) and fail unless it exits with RC.
expect_exit() {
    local want=$1 what=$2
    shift 2
    run_capture "$@"
    [ "$RUN_RC" = "$want" ] ||
        fail "$what: expected exit status $want, got $RUN_RC (stdout: $RUN_OUT; stderr: $RUN_ERR)"
}

assert_eq() { [ "$1" = "$2" ] || fail "${3:-expected} '$2', got '$1'"; }
assert_contains() {
    case "$1" in *"$2"*) ;; *) fail "${3:-expected output to contain} '$2'; got: $1" ;; esac
}

# DROVER_VALGRIND=1 runs every droverd that start_daemon starts under valgrind memcheck.
[ -z "${DROVER_VALGRIND:-}" ] || uses valgrind
