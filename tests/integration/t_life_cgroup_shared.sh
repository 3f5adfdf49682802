#!/bin/bash
# Two droverds given the same `cgroup = PATH` (each on its own control socket): the second
# would take the first one's workers for leftovers of a crash and kill them, then run its own
# workers in the same cgroups, where each one's stop kills the other's. The base is locked: the
# second droverd does not start, saying why, and the first one's workers are untouched.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

pool() { printf 'cgroup = %s\n[pool:web]\ncommand = /bin/sleep 3600\nworkers = 2\nstdout = null\n' "$CG"; }
pool | write_config
start_daemon
wait_for 20 "pool web running" pool_running web
pids=$(pool_pids web)

# The second droverd: same cgroup, a socket and log directory of its own.
mkdir "$T/two"
{
    printf '[daemon]\ncontrol_socket = %s/two/ctl.sock\nlog_dir = %s/two/log\n' "$T" "$T"
    pool
} >"$T/two.ini"
run_capture timeout 10 "$DROVERD" -c "$T/two.ini"
[ "$RUN_RC" != 0 ] || fail "a second droverd on the same cgroup started"
assert_contains "$RUN_ERR" "cgroup = $CG: another droverd (pid $DAEMON_PID) uses $CG" "start error"

# The first one's workers were never touched.
for pid in $pids; do alive "$pid" || fail "worker $pid was killed by the second droverd"; done
assert_eq "$(pool_pids web)" "$pids" "pool web's workers"
assert_eq "$(slot_sum web restarts)" 0 "restarts in pool web"
assert_eq "$(cg_procs "$CG/pool-web/slot-0")" "$(slot_field web 0 pid)" "pool-web/slot-0"

# Once the first one is gone, the cgroup is free again.
stop_daemon || fail "droverd did not stop"
SOCK="$T/two/ctl.sock"
start_daemon "$T/two.ini"
wait_for 20 "the second droverd's pool running" pool_running web
log "ok"
