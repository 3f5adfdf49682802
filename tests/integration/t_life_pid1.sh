#!/bin/bash
# droverd as PID 1 (a container's init, here a new pid namespace): workers
# start, orphans reparented to it are reaped, and SIGTERM is a graceful
# shutdown (workers get their stop signal, droverd exits 0).
. "$(dirname "$0")/lib.sh"
uses proc

if ! unshare -fp --mount-proc true 2>/dev/null; then
    log "cannot create a pid namespace here (unshare -fp): skipping"
    exit 0
fi
write_config <<EOF2
[pool:init]
command = $PROBE_WORKER --orphans 3 $T/orphans.%w --record $T/sig.%w --info $T/info.%w
workers = 2
EOF2
# --kill-child: should unshare itself die, the namespace goes with it.
printf '#!/bin/sh\nexec unshare -fp --mount-proc --kill-child %s "$@"\n' "$BIN/droverd" >"$T/droverd-pid1"
chmod +x "$T/droverd-pid1"
DROVERD="$T/droverd-pid1"
start_daemon
wait_for 10 "workers running" pool_running init
assert_eq "$(status_json "s['daemon']['pid']")" 1 "droverd's pid in its namespace"
host_pid=$(cat "/proc/$DAEMON_PID/task/$DAEMON_PID/children" | tr -d ' ')
[ -n "$host_pid" ] && [ -e "/proc/$host_pid" ] || fail "cannot find droverd's pid outside its namespace"

orphans_reported() { [ "$(cat "$T"/orphans.0 "$T"/orphans.1 2>/dev/null | wc -l)" -eq 6 ]; }
wait_for 5 "six orphans reported" orphans_reported
assert_eq "$(cut -d' ' -f2 "$T"/orphans.0 "$T"/orphans.1 | sort -u)" 1 "parent of every orphan (PID 1, droverd)"
children() { tr ' ' '\n' <"/proc/$host_pid/task/$host_pid/children" | sed '/^$/d' | wc -l; }
assert_eq "$(children)" 8 "droverd's children: 2 workers and 6 orphans"
touch "$T/orphans.0.go" "$T/orphans.1.go"
only_workers_left() { [ "$(children)" -eq 2 ]; }
wait_for 10 "orphans reaped by droverd as PID 1" only_workers_left
wait_for 5 "no zombie child of droverd" no_zombies_of "$host_pid"
assert_eq "$(dv metrics | awk '$1 == "drover_orphans_reaped_total" {print $2}')" 6 "orphans counted as reaped"

# SIGTERM to PID 1 is a graceful shutdown.
kill -TERM "$host_pid"
wait_daemon_exit 10
assert_eq "$DAEMON_STATUS" 0 "exit status of droverd as PID 1 after SIGTERM"
assert_eq "$(cat "$T/sig.0" "$T/sig.1" | tr '\n' ' ')" "TERM TERM " "signals the workers received"
