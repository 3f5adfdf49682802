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
