#!/bin/bash
# Containment (cgroup = PATH): a worker that leaves a setsid'd, double-forked sleeper behind
# (out of its process group, reparented away from it) leaves nothing running after `drover
# restart`, a scale-down, `drover stop`, a reload that removes its pool, and `drover shutdown`:
# each ends with the slot's cgroup empty and its directory removed. Each worker is in its slot's
# cgroup from its first command, and status (text and JSON) shows containment on and every
# worker's cgroup.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

# The worker: records the cgroup it runs in (read by the shell itself, its first command),
# leaves a sleeper in a session of its own behind ("WORKER SLEEPER" in sleepers), and sleeps.
cat >"$T/escaper" <<'EOF2'
#!/bin/sh
while IFS= read -r l; do case $l in 0::*) echo "${l#0::}" >"$1/cg.$$" ;; esac; done </proc/self/cgroup
setsid sh -c 'sleep 3600 & echo "$1 $!" >>"$0/sleepers"' "$1" $$ &
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
text=$(dv status --wide) || fail "drover status failed"
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
for s in $(awk '{ print $2 }' "$T/esc/sleepers"); do
    [ "$(ps -o pgid= -p "$s" | tr -d ' ')" != "$(slot_field esc 0 pid)" ] || fail "sleeper $s in the worker's group"
    cat "$CG"/pool-esc/slot-*/cgroup.procs | grep -qx "$s" || fail "sleeper $s not in a slot cgroup"
done

# sleeper_of POOL WORKER: the sleeper that worker left behind.
sleeper_of() { awk -v w="$2" '$1 == w { print $2 }' "$T/$1/sleepers"; }

# 0. Restart and scale-down take the sleepers of the workers they stop.
old=$(slot_field esc 0 pid)
s0=$(sleeper_of esc "$old")
dv restart esc:0 >/dev/null || fail "drover restart esc:0 failed"
wait_for 10 "the restarted worker's sleeper gone" pid_gone "$s0"
wait_for 20 "esc slot 0 running again" pid_changed esc 0 "$old"
wait_for 20 "the new worker's sleeper" sleepers_are esc 3
new=$(slot_field esc 0 pid)
grep -qx "$new" "$CG/pool-esc/slot-0/cgroup.procs" || fail "new worker $new not in pool-esc/slot-0"
s1=$(sleeper_of esc "$(slot_field esc 1 pid)")
dv scale esc 1 >/dev/null || fail "drover scale esc 1 failed"
wait_for 10 "slot 1's sleeper gone after the scale-down" pid_gone "$s1"
wait_for 10 "pool-esc/slot-1 removed" test ! -d "$CG/pool-esc/slot-1"

# 1. drover stop: once it returns, the slot's cgroup is empty; the sleepers are gone.
dv stop esc >/dev/null || fail "drover stop esc failed"
assert_eq "$(cg_procs "$CG/pool-esc/slot-0")" "" "pool-esc/slot-0 after stop"
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
for s in $(awk '{ print $2 }' "$T/esc/sleepers" "$T/gone/sleepers" "$T/last/sleepers"); do
    pid_gone "$s" || fail "sleeper $s survived"
done
assert_eq "$(find "$CG" -mindepth 1 -type d)" "" "cgroups left below $CG_REL after shutdown"
log "ok"
