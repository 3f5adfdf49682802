#!/bin/bash
# Containment (cgroup = PATH): a worker that leaves a setsid'd, double-forked sleeper behind
# (out of its process group, reparented away from it) leaves nothing running after `drover stop`,
# after a reload that removes its pool, and after `drover shutdown`: each ends with the slot's
# cgroup empty and its directory removed. Each worker is in its slot's cgroup from its first
# command, and status (text and JSON) shows containment on and every worker's cgroup.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

# The worker: records the cgroup it runs in (read by the shell itself, its first command),
# leaves a sleeper in a session of its own behind, and sleeps.
cat >"$T/escaper" <<'EOF2'
#!/bin/sh
while IFS= read -r l; do case $l in 0::*) echo "${l#0::}" >"$1/cg.$$" ;; esac; done </proc/self/cgroup
setsid sh -c 'sleep 3600 & echo $! >>"$0/sleepers"' "$1" &
exec sleep 3600
EOF2
chmod +x "$T/escaper"
mkdir "$T/esc" "$T/gone" "$T/last"
sleepers_are() { [ "$(wc -l <"$T/$1/sleepers" 2>/dev/null)" = "$2" ]; }

pools() {
    for p in "$@"; do
        printf '[pool:%s]\ncommand = %s %s\nworkers = 2\nstdout = null\nstop_timeout = 2s\n' \
            "$p" "$T/escaper" "$T/$p"
    done
}
{ printf 'cgroup = %s\n' "$CG"; pools esc gone last; } | write_config
start_daemon
for p in esc gone last; do
    wait_for 20 "pool $p running" pool_running "$p"
    wait_for 20 "pool $p's sleepers" sleepers_are "$p" 2
done

# Status: containment on below our cgroup, each worker in its slot's cgroup.
assert_eq "$(status_json "s['containment']['cgroups']")" True "containment.cgroups"
assert_eq "$(status_json "s['containment']['cgroup']")" "$CG_REL" "containment.cgroup"
text=$(dv status) || fail "drover status failed"
assert_contains "$text" "containment: on" "text status"
assert_contains "$text" "$CG_REL/pool-esc/slot-1" "text status shows the worker's cgroup"
for p in esc gone last; do
    for i in 0 1; do
        want="$CG_REL/pool-$p/slot-$i"
        assert_eq "$(slot_field "$p" "$i" cgroup)" "$want" "pool $p slot $i cgroup"
        pid=$(slot_field "$p" "$i" pid)
        wait_for 10 "pool $p slot $i's record" test -s "$T/$p/cg.$pid"
        assert_eq "$(cat "$T/$p/cg.$pid")" "$want" "pool $p slot $i: /proc/self/cgroup of its first command"
        grep -qx "$pid" "$CG/pool-$p/slot-$i/cgroup.procs" || fail "pid $pid not in $want"
    done
done
# The sleepers really escaped the process group, but not the cgroup.
for s in $(cat "$T/esc/sleepers"); do
    [ "$(ps -o pgid= -p "$s" | tr -d ' ')" != "$(slot_field esc 0 pid)" ] || fail "sleeper $s in the worker's group"
    cat "$CG"/pool-esc/slot-*/cgroup.procs | grep -qx "$s" || fail "sleeper $s not in a slot cgroup"
done

# 1. drover stop: once it returns, the slots' cgroups are empty; the sleepers are gone.
dv stop esc >/dev/null || fail "drover stop esc failed"
for i in 0 1; do
    assert_eq "$(cg_procs "$CG/pool-esc/slot-$i")" "" "pool-esc/slot-$i after stop"
done
wait_for 10 "esc's sleepers gone after stop" all_gone "$T/esc/sleepers"

# 2. A reload that removes the pool: nothing left, its cgroups removed.
{ printf 'cgroup = %s\n' "$CG"; pools esc last; } | write_config
dv reload >/dev/null || fail "reload failed"
wait_for 20 "pool gone removed" eval '! has_pool gone'
wait_for 10 "gone's sleepers gone after the reload" all_gone "$T/gone/sleepers"
wait_for 10 "pool-gone cgroup removed" test ! -d "$CG/pool-gone"

# 3. Shutdown: nothing left of any worker, every cgroup droverd made removed.
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
wait_for 10 "last's sleepers gone after shutdown" all_gone "$T/last/sleepers"
for s in $(cat "$T/esc/sleepers" "$T/gone/sleepers" "$T/last/sleepers"); do
    pid_gone "$s" || fail "sleeper $s survived"
done
assert_eq "$(find "$CG" -mindepth 1 -type d)" "" "cgroups left below $CG_REL after shutdown"
log "ok"
