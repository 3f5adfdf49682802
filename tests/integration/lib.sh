#!/bin/bash
# SPDX-License-Identifier: ISC
# Shared harness for integration tests: each t_*.sh sources this, writes a
# config into $T (a private temp dir), starts the real droverd on private
# sockets, drives it with the real drover CLI, and waits on conditions with
# deadlines (never fixed sleeps). The EXIT trap stops exactly the processes
# the test started and removes $T.
#
# Environment (set by ctest, or by hand): BIN (droverd, drover, echo-worker),
# HELPERS (test helper programs), SRC (source tree).
set -u
set -o pipefail

: "${BIN:?set BIN to the bin directory of a build}"
: "${HELPERS:=$BIN}"
: "${SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
DROVERD="$BIN/droverd"
DROVER="$BIN/drover"
ECHO_WORKER="$BIN/echo-worker"
TEST_NAME=$(basename "$0" .sh)

# Short paths: a Unix socket path must fit in 107 bytes.
T=$(mktemp -d /tmp/drv.XXXXXX)
SOCK="$T/ctl.sock"
CONF="$T/drover.ini"
DAEMON_PID=""
TRACKED_PIDS=()

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
    log "FAIL: $*"
    if [ -f "$T/droverd.log" ]; then
        log "--- droverd log (last 40 lines) ---"
        tail -n 40 "$T/droverd.log" >&2
    fi
    exit 1
}

# Remember a pid this test started, so cleanup ends it (and only it).
track_pid() { TRACKED_PIDS+=("$1"); }

cleanup() {
    local rc=$?
    for p in "${TRACKED_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
    done
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        # Bounded wait for a graceful exit, then no mercy. Workers die with it (PDEATHSIG).
        for _ in $(seq 100); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT

# wait_for SECONDS DESCRIPTION CMD...: poll CMD until it succeeds, or fail at the deadline.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(date +%s%N) + secs * 1000000000))
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s%N)" -gt "$deadline" ]; then
            fail "timed out after ${secs}s waiting for: $what"
        fi
        sleep 0.02
    done
}

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
    local conf=${1:-$CONF}
    "$DROVERD" -c "$conf" >"$T/droverd.log" 2>&1 &
    DAEMON_PID=$!
    wait_for 10 "droverd to answer on $SOCK" dv status
}

# Wait for droverd to exit; sets DAEMON_STATUS.
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

# json EXPR: evaluate a Python expression on `drover status --json` (bound to s).
json() {
    dv status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# Pid of POOL's slot N ("None" when it has no process).
worker_pid() {
    json "next(x['pid'] for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"
}

# State of POOL's slot N.
worker_state() {
    json "next(x['state'] for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"
}

# Are all slots of POOL running?
pool_running() {
    [ "$(json "all(x['state']=='running' for p in s['pools'] if p['name']=='$1' for x in p['slots'])")" = True ]
}

state_is() { [ "$(worker_state "$1" "$2")" = "$3" ]; }
pid_changed() { local p; p=$(worker_pid "$1" "$2"); [ "$p" != "$3" ] && [ "$p" != None ]; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; }

assert_eq() { [ "$1" = "$2" ] || fail "${3:-expected} '$2', got '$1'"; }
assert_contains() {
    case "$1" in *"$2"*) ;; *) fail "${3:-expected output to contain} '$2'; got: $1" ;; esac
}

# ---- ctl: helpers for the control-plane tests (t_ctl_*.sh) ----
CTL_WORKER="$HELPERS/ctl-worker"
CTL_NOTIFY="$HELPERS/ctl-notify"

# ctl_pids POOL: the pids of POOL's slots in slot order, space-separated ("None" for no process).
ctl_pids() {
    json "' '.join(str(x['pid']) for p in s['pools'] if p['name']=='$1' for x in sorted(p['slots'], key=lambda x: x['slot']))"
}

# ctl_slot_field POOL SLOT FIELD: one field of a slot in `status --json` (Python repr).
ctl_slot_field() {
    json "next(x['$3'] for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"
}

# ctl_has_pool POOL: does `status --json` list POOL?
ctl_has_pool() {
    [ "$(json "any(p['name']=='$1' for p in s['pools'])")" = True ]
}

# ctl_file_has FILE REGEX: does FILE exist and contain a line matching the extended REGEX?
ctl_file_has() { [ -f "$1" ] && grep -Eq -- "$2" "$1"; }

# ctl_free_port: a TCP port on 127.0.0.1 that nobody listens on right now.
ctl_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ctl_promtool: path of promtool ($SRC/.tools, then PATH); fails the test when missing.
ctl_promtool() {
    if [ -x "$SRC/.tools/promtool" ]; then
        echo "$SRC/.tools/promtool"
    elif command -v promtool >/dev/null 2>&1; then
        command -v promtool
    else
        fail "promtool not found in $SRC/.tools or PATH (run scripts/deps.sh --test)"
    fi
}

# ctl_run_as USER GROUP GROUPS CMD...: run CMD with that uid, gid and supplementary groups
# ("-" for none), e.g. ctl_run_as nobody nogroup - "$DROVER" status.
ctl_run_as() {
    local user=$1 group=$2 groups=$3
    shift 3
    if [ "$groups" = - ]; then
        setpriv --reuid "$user" --regid "$group" --clear-groups -- "$@"
    else
        setpriv --reuid "$user" --regid "$group" --groups "$groups" -- "$@"
    fi
}

# ctl_fail_later MESSAGE: record a failure but keep going, so one daemon bug does not hide
# the checks after it; ctl_done fails the test at its end if anything was recorded.
CTL_LATER=()
ctl_fail_later() {
    CTL_LATER+=("$*")
    log "FAIL (reported at the end): $*"
}
ctl_done() {
    local m
    [ ${#CTL_LATER[@]} -eq 0 ] && return 0
    for m in "${CTL_LATER[@]}"; do log "FAIL: $m"; done
    fail "${#CTL_LATER[@]} check(s) failed"
}
# ---- end ctl ----

# ---- life: helpers for the worker life-cycle tests (t_life_*.sh) ----
LIFE_WORKER="$HELPERS/life-worker"

# life_slot POOL SLOT EXPR: a Python expression on one slot of `status --json` (bound to x).
life_slot() {
    json "next(($3) for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"
}

# life_pool POOL EXPR: a Python expression on one pool of `status --json` (bound to p).
life_pool() {
    json "next(($2) for p in s['pools'] if p['name']=='$1')"
}

# life_slot_true POOL SLOT EXPR / life_pool_true POOL EXPR: is the expression True (for wait_for)?
life_slot_true() { [ "$(life_slot "$1" "$2" "$3")" = True ]; }
life_pool_true() { [ "$(life_pool "$1" "$2")" = True ]; }

# life_pids POOL: the pids of POOL's slots in slot order, space-separated ("None" for no process).
life_pids() {
    life_pool "$1" "' '.join(str(x['pid']) for x in sorted(p['slots'], key=lambda x: x['slot']))"
}

# life_gone PID...: no process, not even a zombie, has any of these pids (it was reaped).
life_gone() {
    local p
    for p in "$@"; do [ -e "/proc/$p" ] && return 1; done
    return 0
}

# life_zombies_of PID: pids of the zombies whose parent is PID, space-separated.
life_zombies_of() {
    python3 - "$1" <<'PY'
import os, sys
parent, out = sys.argv[1], []
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        st = open('/proc/%s/stat' % d).read()
    except OSError:
        continue
    f = st[st.rindex(')') + 2:].split()
    if f[0] == 'Z' and f[1] == parent:
        out.append(d)
print(' '.join(out))
PY
}
life_no_zombies_of() { [ -z "$(life_zombies_of "$1")" ]; }

# life_proc_field PID FIELD: a field of /proc/PID/status (e.g. Uid, Cpus_allowed_list), tabs as spaces.
life_proc_field() {
    sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' | tr -s ' '
}

# life_ms: monotonic-enough milliseconds for measuring how long a command took.
life_ms() { echo $(($(date +%s%N) / 1000000)); }

# life_run CMD...: run CMD, keeping its exit status, stdout and stderr in LIFE_RC, LIFE_OUT, LIFE_ERR.
life_run() {
    LIFE_OUT=$("$@" 2>"$T/life_run.err")
    LIFE_RC=$?
    LIFE_ERR=$(cat "$T/life_run.err")
}

# life_expect RC DESCRIPTION CMD...: run CMD and fail unless it exits with RC.
life_expect() {
    local want=$1 what=$2
    shift 2
    life_run "$@"
    [ "$LIFE_RC" = "$want" ] ||
        fail "$what: expected exit status $want, got $LIFE_RC (stdout: $LIFE_OUT; stderr: $LIFE_ERR)"
}

# life_file_has FILE REGEX: does FILE exist and contain a line matching the extended REGEX?
life_file_has() { [ -f "$1" ] && grep -Eq -- "$2" "$1"; }
# life_untrack_gone: forget tracked pids that no longer exist, so the cleanup trap
# never signals a pid the kernel has since given to another process (pid_max may be small).
life_untrack_gone() {
    local p keep=()
    for p in "${TRACKED_PIDS[@]}"; do
        [ -e "/proc/$p" ] && keep+=("$p")
    done
    TRACKED_PIDS=("${keep[@]}")
}
# life_json_all WHAT EXPR...: on one `status --json` snapshot, check that every Python
# expression is true; slot(POOL, N) and pool(POOL) give a slot or a pool. For a failing
# "A == B" the actual value of A is shown.
life_json_all() {
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
# life_wait_slot SECS WHAT POOL SLOT EXPR: wait until EXPR (on the slot, bound to x) is true,
# and keep that very snapshot of the slot, so that life_saved can check more of it without
# racing a slot that keeps changing (backoff, restarts).
life_wait_slot() {
    local secs=$1 what=$2 pool=$3 slot=$4 expr=$5
    _life_snap() {
        dv status --json | python3 -c "
import json, sys
s = json.load(sys.stdin)
x = next(x for p in s['pools'] if p['name'] == '$pool' for x in p['slots'] if x['slot'] == $slot)
if not ($expr):
    sys.exit(1)
json.dump(x, open('$T/life_slot.json', 'w'))
"
    }
    wait_for "$secs" "$what" _life_snap
}

# life_saved EXPR: a Python expression on the slot kept by life_wait_slot (bound to x).
life_saved() {
    python3 -c "import json; x = json.load(open('$T/life_slot.json')); print($1)"
}
# ---- end life ----

# ---- route: helpers for the routing tests (t_route_*.sh) ----
WORKCLIENT="$HELPERS/workclient"
ROUTE_WORKER="$HELPERS/route-worker"

# route_stat POOL KEY: a field of POOL's "route" object in `status --json`.
route_stat() { json "next(p['route']['$2'] for p in s['pools'] if p['name']=='$1')"; }
# route_stat_is POOL KEY VALUE (for wait_for).
route_stat_is() { [ "$(route_stat "$1" "$2")" = "$3" ]; }
# route_slot POOL SLOT KEY: one field of a slot in `status --json`.
route_slot() { json "next(x['$3'] for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['slot']==$2)"; }
# route_sum POOL KEY: a numeric slot field summed over POOL's slots.
route_sum() { json "sum(x['$2'] or 0 for p in s['pools'] if p['name']=='$1' for x in p['slots'])"; }
# route_pids POOL: the pids of POOL's workers in slot order, space-separated.
route_pids() {
    json "' '.join(str(x['pid']) for p in s['pools'] if p['name']=='$1' for x in sorted(p['slots'], key=lambda x: x['slot']))"
}
# route_all_running POOL N: exactly N slots, all running.
route_all_running() {
    [ "$(json "[x['state'] for p in s['pools'] if p['name']=='$1' for x in p['slots']] == ['running']*$2")" = True ]
}
# route_inode PATH: the inode of a socket file.
route_inode() { stat -c %i "$1"; }
route_ms() { echo $(($(date +%s%N) / 1000000)); }

# route_wc_get FILE KEY: a field of workclient's one-line JSON summary in FILE.
route_wc_get() {
    python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}
# route_wc OUT ARGS...: run workclient into OUT (stderr OUT.err); fail the test unless it passes.
route_wc() {
    local out=$1
    shift
    "$WORKCLIENT" "$@" >"$out" 2>"$out.err" ||
        fail "workclient $* failed: $(cat "$out") $(tail -n 5 "$out.err")"
}
# route_wc_start OUT ARGS...: workclient in the background (tracked); its pid in ROUTE_WC_PID.
route_wc_start() {
    local out=$1
    shift
    "$WORKCLIENT" "$@" >"$out" 2>"$out.err" &
    ROUTE_WC_PID=$!
    track_pid "$ROUTE_WC_PID"
}
# route_wc_wait OUT: wait for the background workclient; fail unless it passed.
route_wc_wait() {
    local rc=0
    wait "$ROUTE_WC_PID" || rc=$?
    [ "$rc" = 0 ] || fail "workclient exited $rc: $(cat "$1") $(tail -n 5 "$1.err")"
}

# route_in_pool PID POOL: does PID run with DROVER_POOL=POOL? (bash builtins only: no fork)
route_in_pool() {
    local -a env=()
    local e
    mapfile -d '' env <"/proc/$1/environ" 2>/dev/null || return 1
    for e in "${env[@]}"; do [ "$e" = "DROVER_POOL=$2" ] && return 0; done
    return 1
}

# route_worker_pids POOL: live children of our droverd that run in POOL.
route_worker_pids() {
    local f p out=()
    local -a kids=()
    for f in /proc/"$DAEMON_PID"/task/*/children; do
        read -r -a kids <"$f" 2>/dev/null || true
        for p in "${kids[@]}"; do route_in_pool "$p" "$1" && out+=("$p"); done
    done
    echo "${out[@]}"
}

# route_kill_loop POOL SECONDS [INTERVAL]: SIGKILL a random worker of POOL every INTERVAL
# seconds (default 0.005) for SECONDS; prints how many kills were sent. Only pids that are
# children of this test's droverd and carry DROVER_POOL=POOL are ever signalled. The loop
# uses builtins only (the pause is a read timeout), so it really runs every few ms.
route_kill_loop() {
    local pool=$1 secs=$2 interval=${3:-0.005} kills=0 end f p pause_fd
    local -A mine=()
    local -a kids=() found=()
    exec {pause_fd}<> <(:)
    end=$(($(date +%s%N) + secs * 1000000000))
    while [ "${EPOCHREALTIME/./}000" -lt "$end" ]; do
        found=()
        for f in /proc/"$DAEMON_PID"/task/*/children; do
            kids=()
            read -r -a kids <"$f" 2>/dev/null || true
            for p in "${kids[@]}"; do
                if [ -n "${mine[$p]:-}" ] || route_in_pool "$p" "$pool"; then
                    mine[$p]=1
                    found+=("$p")
                fi
            done
        done
        if [ "${#found[@]}" -gt 0 ]; then
            p=${found[$((RANDOM % ${#found[@]}))]}
            kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
        fi
        read -r -t "$interval" -u "$pause_fd" || true
    done
    exec {pause_fd}<&-
    echo "$kills"
}

# route_py ARGS... <<'PY': run an inline Python socket script in the foreground with a
# 60 s cap. (In the background use `python3 - ARGS <<'PY' &` so that $! is Python itself.)
route_py() { timeout 60 python3 - "$@"; }
# ---- end route ----
