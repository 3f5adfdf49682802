#!/bin/bash
# Containment (cgroup = PATH): a worker that forks 200 children, each in a session of its own
# (beyond the reach of its process group), and exits: every child is killed with the cgroup,
# and the slot is started again only once its cgroup is empty, so the new worker finds itself
# alone in it.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

# First run: 200 setsid'd sleepers, then exit 3. Later runs: count the processes in the
# cgroup (the shell reads cgroup.procs itself, no child), then sleep.
cat >"$T/forker" <<'EOF2'
#!/bin/sh
d=$1 mount=$2
while IFS= read -r l; do case $l in 0::*) cg=${l#0::} ;; esac; done </proc/self/cgroup
if [ ! -e "$d/forked" ]; then
    : >"$d/forked"
    i=0
    while [ $i -lt 200 ]; do
        setsid sleep 3600 &
        echo $! >>"$d/children"
        i=$((i + 1))
    done
    echo done >"$d/forked"
    exit 3
fi
n=0
while read -r p; do n=$((n + 1)); done <"$mount$cg/cgroup.procs"
echo "$n" >"$d/alone.$$"
exec sleep 3600
EOF2
chmod +x "$T/forker"
mkdir "$T/f"

{
    printf 'cgroup = %s\nlog_level = debug\n[pool:forker]\ncommand = %s %s %s\n' "$CG" "$T/forker" "$T/f" "$CG_MOUNT"
    printf 'workers = 1\nstdout = null\nrestart_delay = 1ms\nrestart_delay_max = 1ms\n'
} | write_config
start_daemon

forked() { [ "$(cat "$T/f/forked" 2>/dev/null)" = done ]; }
wait_for 120 "the worker to fork 200 children and exit" forked
assert_eq "$(wc -l <"$T/f/children")" 200 "children forked"
wait_for 30 "the slot started again" eval 'ls "$T"/f/alone.* >/dev/null 2>&1'
pid=$(ls "$T"/f/alone.* | head -1)
assert_eq "$(cat "$pid")" 1 "processes in the slot's cgroup when its new worker started"
wait_for 10 "all 200 children gone" all_gone "$T/f/children"
wait_for 10 "the new worker running" pool_running forker
assert_eq "$(slot_field forker 0 restarts)" 1 "restarts"
assert_contains "$(slot_json forker 0 "x['last_exit']['description']")" "exit 3" "last exit"
# In droverd's log: the rest of the cgroup killed, the cgroup empty, and only then a new worker.
new=$(slot_field forker 0 pid)
order=$(awk -v k="killing the rest of $CG_REL/pool-forker/slot-0" -v e="pool-forker/slot-0 is empty" \
    -v n="slot 0: started pid $new" 'index($0, k) { printf "kill " } index($0, e) { printf "empty " }
    index($0, n) { printf "start " }' "$T/droverd.log")
assert_eq "$order" "kill empty start " "droverd's log: kill the rest, cgroup empty, new worker"
assert_eq "$(cg_procs "$CG/pool-forker/slot-0")" "$(slot_field forker 0 pid)" "the cgroup holds the new worker only"
log "ok"
