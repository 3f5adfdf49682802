#!/bin/bash
# More workers than droverd's file descriptor limit can carry (9 a worker
# plus a reserve of 64) are refused, at start-up, by a reload and by scale,
# naming the workers line: started, their pipes took every fd, the control
# socket could not accept and `drover` was locked out until a restart.
. "$(dirname "$0")/lib.sh"

NOFILE=200
pool_of() { write_config <<EOF2
[pool:a]
command = $SPEW_WORKER
workers = $1
EOF2
}
limited_droverd() { prlimit --nofile="$NOFILE:$NOFILE" -- "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 & DAEMON_PID=$!; }

# --- droverd --check (with the limit start-up would raise itself to) and start-up: refused, with the line ---
pool_of 150
rc=0
out=$(prlimit --nofile="$NOFILE:$NOFILE" -- "$DROVERD" --check -c "$CONF" 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of droverd --check with 150 workers under $NOFILE fds"
assert_contains "$out" "$CONF:7: workers: 150 workers in all need about 1414 file descriptors; droverd may open $NOFILE"
prlimit --nofile="$NOFILE:20000" -- "$DROVERD" --check -c "$CONF" >/dev/null 2>&1 ||
    fail "droverd --check refused 150 workers with a hard limit of 20000 (start-up raises the soft one)"
limited_droverd
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 1 "exit status of droverd with 150 workers under $NOFILE fds"
assert_contains "$(cat "$T/droverd.log")" "$CONF:7: workers: 150 workers in all need about 1414 file descriptors; droverd may open $NOFILE"
assert_contains "$(cat "$T/droverd.log")" "too many workers for droverd's file descriptor limit; not starting"

# --- reload: refused, nothing changed, drover still answers ---
pool_of 2
limited_droverd
wait_for 10 "droverd to answer" dv status
wait_for 10 "a running" pool_running a 2
pool_of 150
rc=0
err=$(dv reload 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of a reload to 150 workers"
assert_contains "$err" "workers: 150 workers in all need about 1414 file descriptors"
assert_contains "$err" "nothing changed"
assert_eq "$(pool_json a "len(p['slots'])")" 2 "a's slots after the refused reload"

# --- scale: refused beyond the limit, allowed within it ---
rc=0
err=$(dv scale a 150 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of scale a 150"
assert_contains "$err" "pool a: not scaled to 150: 150 workers in all need about 1414 file descriptors"
expect_exit 0 "scale a 4" dv scale a 4
wait_for 10 "a at 4" pool_running a 4
dv status >/dev/null || fail "status at the end"
finish_checks
