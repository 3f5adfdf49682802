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
        # Again after the log: CI summaries keep the end of a test's output.
        log "FAIL: $*"
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
    local all=""
    for m in "${CTL_LATER[@]}"; do all+=" | $m"; done
    fail "${#CTL_LATER[@]} check(s) failed${all}"
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
# route_stat_ge POOL KEY MIN: the pool's KEY is at least MIN (for wait_for).
route_stat_ge() { [ "$(route_stat "$1" "$2")" -ge "$3" ]; }
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
# route_wc_stop OUT: end the background workclient's sending now (SIGUSR1: it
# drains what is in flight and prints its summary), then route_wc_wait OUT. For
# a load that accompanies a phase of a test: start it with a generous -t as a
# bound, stop it when the phase is over.
route_wc_catches_usr1() {
    local mask
    mask=$(awk '$1 == "SigCgt:" { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$mask" ] && (((0x$mask >> 9) & 1)) # SIGUSR1 = 10: bit 9
}
route_wc_stoppable() { route_wc_catches_usr1 "$1" || ! alive "$1"; }
# route_wc_end_sending PID: SIGUSR1 to a background workclient, without waiting.
route_wc_end_sending() {
    # Not before it has its handler: SIGUSR1's default action would kill it.
    # (If its -t ran out first, it has exited and there is nothing to stop.)
    wait_for 10 "workclient $1 to handle SIGUSR1" route_wc_stoppable "$1"
    kill -USR1 "$1" 2>/dev/null
}
route_wc_stop() {
    route_wc_end_sending "$ROUTE_WC_PID"
    route_wc_wait "$1"
}

# route_pool_of PID: sets POOL_OF to the DROVER_POOL of PID's environment, "" when it has
# none (yet: between fork and exec a worker still has droverd's environment) or is gone.
# Bash builtins only: no fork.
route_pool_of() {
    local -a env=()
    local e
    POOL_OF=""
    mapfile -d '' env <"/proc/$1/environ" 2>/dev/null || return 0
    for e in "${env[@]}"; do
        case $e in DROVER_POOL=*)
            POOL_OF=${e#DROVER_POOL=}
            return 0
            ;;
        esac
    done
}
# route_in_pool PID POOL: does PID run with DROVER_POOL=POOL?
route_in_pool() {
    route_pool_of "$1"
    [ "$POOL_OF" = "$2" ]
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

# route_kill_loop POOL SECONDS [INTERVAL]: fault_kill_loop (below) on one pool, every
# INTERVAL seconds (default 0.005).
route_kill_loop() { fault_kill_loop "$2" "${3:-0.005}" "$1"; }

# route_py ARGS... <<'PY': run an inline Python socket script in the foreground with a
# 60 s cap. (In the background use `python3 - ARGS <<'PY' &` so that $! is Python itself.)
route_py() { timeout 60 python3 - "$@"; }

# route_backlog_served POOL SOCK: with every worker of POOL stopped, 4 clients connect to
# SOCK (refused would fail) and each sends one length-framed request; they must still be
# waiting while the pool is stopped, and each get its own echo once it is started again.
route_backlog_served() {
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
    wait_for 10 "4 clients connected to the stopped pool $pool" test -s "$T/$pool.connected"
    kill -0 $pid || fail "$pool: clients finished while every worker was stopped: $(cat "$T/$pool.backlog.out")"
    dv start "$pool" >/dev/null || fail "start $pool failed"
    wait $pid || fail "$pool: clients waiting in the backlog: $(cat "$T/$pool.backlog.out")"
}
# ---- end route ----

# ---- fault: helpers for the fault-injection tests (t_fault_*.sh) and the soak (t_soak*.sh) ----
FAULT_WORKER="$HELPERS/fault-worker"
FAULT_EXIT_CMDS=()
# How much slower droverd runs here: 1 natively, 3 under AddressSanitizer (scripts/test.sh
# sets ASAN_OPTIONS for that pass), 10 under valgrind. Time and throughput bounds of the
# fault tests scale with it. RSS bounds mean something only natively (FAULT_RSS=1): ASan's
# quarantine and valgrind's own memory are not droverd's.
if [ -n "${DROVER_VALGRIND:-}" ]; then
    FAULT_SLOW=10 FAULT_RSS=0
elif [ -n "${ASAN_OPTIONS:-}" ]; then
    FAULT_SLOW=3 FAULT_RSS=0
else
    FAULT_SLOW=1 FAULT_RSS=1
fi

# fault_on_exit CMD: eval CMD when the test exits (last registered first), before the
# harness's own cleanup: for mounts, processes of another uid, and the like.
fault_on_exit() {
    FAULT_EXIT_CMDS=("$1" "${FAULT_EXIT_CMDS[@]}")
    trap _fault_exit EXIT
}
_fault_exit() {
    local rc=$? c
    for c in "${FAULT_EXIT_CMDS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
    (exit $rc)
    cleanup
}

# fault_stop_daemon [SECS]: SIGTERM droverd and wait for it; SIGKILL at the deadline, and
# then return 1.
fault_stop_daemon() {
    local secs=${1:-20} deadline rc=0
    [ -n "$DAEMON_PID" ] || return 0
    kill -TERM "$DAEMON_PID" 2>/dev/null
    deadline=$(($(date +%s%N) + secs * 1000000000))
    while kill -0 "$DAEMON_PID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.05; done
    kill -KILL "$DAEMON_PID" 2>/dev/null && rc=1
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=""
    return $rc
}

# fault_fds PID / fault_rss_kb PID / fault_cpu_ticks PID: open fds, resident KiB, and
# user+system CPU time in clock ticks of a process.
fault_fds() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
# fault_fds_settled PID: the fd count once two reads 200 ms apart agree (a control client
# just gone or a worker being spawned holds an fd for a moment); at most 5 s.
fault_fds_settled() {
    local a b i
    a=$(fault_fds "$1")
    for i in $(seq 25); do
        sleep 0.2
        b=$(fault_fds "$1")
        [ "$a" = "$b" ] && break
        a=$b
    done
    echo "$a"
}
fault_rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
fault_cpu_ticks() {
    local s f
    s=$(cat /proc/"$1"/stat) || return 1
    read -r -a f <<<"${s##*) }" # state is f[0]: utime and stime are f[11] and f[12]
    echo $((f[11] + f[12]))
}

# fault_metric NAME [LABELS]: a sample of `drover metrics` (LABELS as printed, e.g. pool="a").
fault_metric() {
    local sel="$1"
    [ $# -ge 2 ] && sel="$1{$2}"
    dv metrics | awk -v s="$sel" '$1 == s {print $2; f=1} END {if (!f) print "none"}'
}

# fault_time_ms CMD...: run CMD (output discarded); print how long it took in ms, or
# "fail:MS" when it failed.
fault_time_ms() {
    local t0 rc=0
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || rc=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" = 0 ]; then echo "$ms"; else echo "fail:$ms"; fi
}

# fault_status_probe SECONDS OUT: run `drover status` back to back (20 ms apart) for
# SECONDS, one line per call in OUT (ms, or fail:ms). Run it in the background.
fault_status_probe() {
    local end=$(($(date +%s%N) + $1 * 1000000000)) file=$2 pause_fd
    exec {pause_fd}<> <(:)
    : >"$file"
    while [ "$(date +%s%N)" -lt "$end" ]; do
        fault_time_ms timeout 30 "$DROVER" -s "$SOCK" status >>"$file"
        read -r -t 0.02 -u "$pause_fd" || true
    done
    exec {pause_fd}<&-
}

# fault_probe_check OUT MAX_MS WHAT [P99_MS]: every probe in OUT answered, none slower than
# MAX_MS (and, with P99_MS, 99% of them within P99_MS); logs the count, median, p99, maximum.
fault_probe_check() {
    local file=$1 max=$2 what=$3 p99max=${4:-} n fails worst median p99
    n=$(wc -l <"$file")
    [ "$n" -gt 0 ] || fail "$what: no status probe ran"
    fails=$(grep -c '^fail' "$file")
    read -r median p99 worst <<<"$(grep -v '^fail' "$file" | sort -n |
        awk '{a[NR] = $1} END {i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print a[int((NR + 1) / 2)], a[i], a[NR]}')"
    log "$what: $n status calls, $fails failed; median ${median:-?} ms, p99 ${p99:-?} ms, max ${worst:-?} ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    [ "$fails" = 0 ] || fail "$what: $fails of $n status calls failed ($(grep -m3 '^fail' "$file" | tr '\n' ' '))"
    [ "${worst:-0}" -le "$max" ] || fail "$what: a status call took ${worst} ms (bound ${max} ms)"
    [ -z "$p99max" ] || [ "${p99:-0}" -le "$p99max" ] || fail "$what: 1% of the status calls took ${p99} ms or more (bound ${p99max} ms)"
}

# fault_wc_clean FILE WHAT: a workclient summary with every request answered '+' and
# nothing lost, duplicated, mismatched or refused.
fault_wc_clean() {
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

# fault_kill_loop SECONDS INTERVAL POOL...: SIGKILL a random worker of the named pools every
# INTERVAL seconds for SECONDS; prints how many workers were killed. Only pids that are
# children of this test's droverd and carry DROVER_POOL=one of the POOLs are ever signalled,
# and each one once: a killed worker stays listed as a child until droverd reaps it, and a
# kill of that zombie would succeed without killing anything. The loop uses builtins only
# (the pause is a read timeout), so it really runs every few ms.
fault_kill_loop() {
    local secs=$1 interval=$2 kills=0 end f p q pause_fd
    shift 2
    local -A mine=() notmine=() killed=()
    local -a kids=() found=()
    exec {pause_fd}<> <(:)
    end=$(($(date +%s%N) + secs * 1000000000))
    while [ "${EPOCHREALTIME/./}000" -lt "$end" ]; do
        found=()
        for f in /proc/"$DAEMON_PID"/task/*/children; do
            kids=()
            read -r -a kids <"$f" 2>/dev/null || true
            for p in "${kids[@]}"; do
                [ -z "${killed[$p]:-}" ] || continue
                if [ -n "${mine[$p]:-}" ]; then
                    found+=("$p")
                elif [ -z "${notmine[$p]:-}" ]; then
                    # No pool yet: forked, not yet exec'd (it still has droverd's
                    # environment); look again next time.
                    route_pool_of "$p"
                    [ -n "$POOL_OF" ] || continue
                    for q in "$@"; do
                        if [ "$POOL_OF" = "$q" ]; then mine[$p]=1; found+=("$p"); break; fi
                    done
                    [ -n "${mine[$p]:-}" ] || notmine[$p]=1
                fi
            done
        done
        if [ "${#found[@]}" -gt 0 ]; then
            p=${found[$((RANDOM % ${#found[@]}))]}
            killed[$p]=1
            kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
        fi
        read -r -t "$interval" -u "$pause_fd" || true
    done
    exec {pause_fd}<&-
    echo "$kills"
}

# fault_copy_bins DIR NAME...: copy programs of $BIN/$HELPERS into DIR (mode 0755), for a
# droverd run as another uid that may not reach the build tree.
fault_copy_bins() {
    local dir=$1 n
    shift
    mkdir -p "$dir"
    for n in "$@"; do
        if [ -x "$HELPERS/$n" ]; then cp "$HELPERS/$n" "$dir/"; else cp "$BIN/$n" "$dir/"; fi
    done
    chmod 0755 "$dir" "$dir"/*
}

# fault_free_uid: a uid with no passwd entry and no process (for RLIMIT_NPROC tests).
fault_free_uid() {
    local u
    for u in $(seq 47001 47099); do
        getent passwd "$u" >/dev/null && continue
        [ -z "$(ps -o pid= -u "$u" 2>/dev/null)" ] && { echo "$u"; return 0; }
    done
    return 1
}

# ---- valgrind: DROVER_VALGRIND=1 runs every droverd that start_daemon starts under
# valgrind memcheck (scripts/test.sh does this for one integration pass). The test then
# also fails when valgrind reports any error, or a definite leak at droverd's exit.
# DROVER_VALGRIND_DIR (optional) keeps a copy of every report.
if [ -n "${DROVER_VALGRIND:-}" ]; then
    start_daemon() {
        local conf=${1:-$CONF}
        valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite --errors-for-leak-kinds=definite \
            --child-silent-after-fork=yes --track-origins=yes --num-callers=30 \
            --log-file="$T/valgrind.%p.log" \
            "$DROVERD" -c "$conf" >"$T/droverd.log" 2>&1 &
        DAEMON_PID=$!
        wait_for 60 "droverd (under valgrind) to answer on $SOCK" dv status
    }
    # valgrind_check: stop droverd gracefully (so valgrind sees a normal exit and checks
    # for leaks), then read every report of this test.
    valgrind_check() {
        local f bad=0 errs
        if ! fault_stop_daemon 60; then
            log "valgrind: droverd did not exit within 60 s of SIGTERM"
            bad=1
        fi
        for f in "$T"/valgrind.*.log; do
            [ -f "$f" ] || continue
            [ -n "${DROVER_VALGRIND_DIR:-}" ] && mkdir -p "$DROVER_VALGRIND_DIR" &&
                cp "$f" "$DROVER_VALGRIND_DIR/$TEST_NAME.$(basename "$f")"
            errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
            if [ -z "$errs" ]; then
                # valgrind writes its summary on every exit but SIGKILL (a crash gets one too):
                # the test killed droverd on purpose.
                log "valgrind: $(basename "$f"): not checked: droverd was killed with SIGKILL"
            elif [ "$errs" != 0 ] || grep -q 'definitely lost: [1-9]' "$f"; then
                log "valgrind: $(basename "$f"): $errs errors"
                grep -E '^==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|.*definitely lost|   (at|by) )' "$f" | head -n 60 >&2
                bad=1
            else
                log "valgrind: $(basename "$f"): clean ($(grep -o 'definitely lost: [0-9,]* bytes' "$f" || echo 'no leaks'))"
            fi
        done
        return $bad
    }
    fault_on_exit() {
        FAULT_EXIT_CMDS=("$1" "${FAULT_EXIT_CMDS[@]}")
    }
    _fault_exit_all() {
        local rc=$? c
        valgrind_check || { log "FAIL: valgrind found problems in droverd"; [ "$rc" = 0 ] && rc=1; }
        for c in "${FAULT_EXIT_CMDS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
        (exit $rc)
        cleanup
    }
    trap _fault_exit_all EXIT
fi
# ---- end fault ----
