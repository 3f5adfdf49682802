#!/bin/bash
# workers = auto is the number of CPUs droverd may use; cpu_affinity = core
# pins worker i to the i-th usable CPU (mod their number), and DROVER_CPU and
# status say which. With droverd itself restricted (taskset), "usable" follows.
. "$(dirname "$0")/lib.sh"
uses proc

mapfile -t cpus < <(python3 -c "import os; print('\n'.join(map(str, sorted(os.sched_getaffinity(0)))))")
ncpu=$(nproc)
assert_eq "${#cpus[@]}" "$ncpu" "usable CPUs seen by python and nproc"
own_list=$(proc_field $$ Cpus_allowed_list)

write_config <<EOF2
[pool:auto]
command = $PROBE_WORKER --env $T/env.%p
workers = auto
cpu_affinity = core

[pool:twice]
command = $PROBE_WORKER --env $T/env.%p
workers = auto*2
cpu_affinity = core

[pool:free]
command = $PROBE_WORKER --env $T/env.%p
workers = auto
cpu_affinity = none
EOF2
start_daemon
for p in auto twice free; do wait_for 10 "$p running" pool_running "$p"; done

assert_eq "$(pool_json auto "p['workers']")" "$ncpu" "workers = auto"
assert_eq "$(pool_json auto "len(p['slots'])")" "$ncpu" "slots of workers = auto"
assert_eq "$(pool_json twice "p['workers']")" "$((2 * ncpu))" "workers = auto*2"

# check_affinity POOL PINNED: on one status snapshot, each worker's Cpus_allowed_list, its
# DROVER_CPU and status's cpu say worker i is on usable CPU i mod ncpu (PINNED=1), or
# that the worker is free like droverd (PINNED=0).
check_affinity() {
    local out
    out=$(dv status --json | python3 -c '
import json, os, sys
pool, pinned, T, own = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
cpus = sorted(os.sched_getaffinity(0))
s = json.load(sys.stdin)
p = next(p for p in s["pools"] if p["name"] == pool)
bad = []
for x in p["slots"]:
    i, pid = x["slot"], x["pid"]
    allowed = next(l.split(":", 1)[1].strip() for l in open("/proc/%d/status" % pid) if l.startswith("Cpus_allowed_list:"))
    env = dict(l.rstrip("\n").split("=", 1) for l in open("%s/env.%d" % (T, pid)) if "=" in l)
    want = str(cpus[i % len(cpus)]) if pinned else own
    got = (allowed, env.get("DROVER_CPU"), x["cpu"])
    exp = (want, want if pinned else None, int(want) if pinned else None)
    if got != exp:
        bad.append("%s:%d pid %d: (Cpus_allowed_list, DROVER_CPU, cpu) = %r, expected %r" % (pool, i, pid, got, exp))
print("\n".join(bad))
' "$1" "$2" "$T" "$own_list") || fail "cannot check the affinity of pool $1"
    [ -z "$out" ] || fail "$out"
}
envs_recorded() { # POOL
    local pid
    for pid in $(pool_pids $1); do [ -f "$T/env.$pid" ] || return 1; done
}
for p in auto twice free; do wait_for 5 "$p environments recorded" envs_recorded $p; done
check_affinity auto 1
check_affinity twice 1
check_affinity free 0
# Pinned again after a restart.
p0=$(slot_field auto 0 pid)
kill -KILL "$p0"
wait_for 5 "auto:0 restarted" pid_changed auto 0 "$p0"
assert_eq "$(proc_field "$(slot_field auto 0 pid)" Cpus_allowed_list)" "${cpus[0]}" "auto:0 pinned after a restart"
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit

# droverd restricted to its last usable CPU: auto is 1 and that CPU is the one.
if [ "$ncpu" -ge 2 ]; then
    last=${cpus[$((ncpu - 1))]}
    printf '#!/bin/sh\nexec taskset -c %s %s "$@"\n' "$last" "$BIN/droverd" >"$T/droverd-pinned"
    chmod +x "$T/droverd-pinned"
    DROVERD="$T/droverd-pinned"
    start_daemon
    wait_for 10 "auto running under taskset" pool_running auto
    assert_eq "$(pool_json auto "p['workers']")" 1 "workers = auto when droverd may use one CPU"
    assert_eq "$(pool_json twice "p['workers']")" 2 "workers = auto*2 when droverd may use one CPU"
    for pool in auto twice; do
        for pid in $(pool_pids $pool); do
            assert_eq "$(proc_field "$pid" Cpus_allowed_list)" "$last" "$pool worker $pid pinned to CPU $last"
        done
    done
    assert_eq "$(slot_json twice 1 "x['cpu']")" "$last" "twice:1 cpu under taskset"
else
    log "one usable CPU: skipping the restricted-affinity part"
fi
