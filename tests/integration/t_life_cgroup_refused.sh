#!/bin/bash
# Containment never degrades silently: a `cgroup = PATH` that is missing or not cgroup v2 stops
# droverd from starting with a message naming the key; a worker whose cgroup cannot be made is
# not started at all (spawn failed, with the reason), and starts, contained, once it can be.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

# 1. Start errors naming the key.
for bad in "$CG/missing" "$T"; do
    printf 'cgroup = %s\n[pool:p]\ncommand = /bin/sleep 3600\nworkers = 1\n' "$bad" | write_config
    run_capture timeout 20 "$DROVERD" -c "$CONF"
    [ "$RUN_RC" != 0 ] || fail "droverd started with cgroup = $bad"
    assert_contains "$RUN_ERR" "cgroup = $bad: not a directory of a cgroup v2 file system" "start error"
done

# 2. No cgroup can be created below $CG: the worker must not run uncontained.
cat >"$T/recorder" <<'EOF2'
#!/bin/sh
while IFS= read -r l; do case $l in 0::*) echo "${l#0::}" >"$1/cg.$$" ;; esac; done </proc/self/cgroup
exec sleep 3600
EOF2
chmod +x "$T/recorder"
mkdir "$T/rec"
echo 0 >"$CG/cgroup.max.descendants" || fail "cannot limit descendants of $CG"
{
    printf 'cgroup = %s\n[pool:p]\ncommand = %s %s\nworkers = 1\nstdout = null\n' "$CG" "$T/recorder" "$T/rec"
    printf 'restart_delay = 50ms\nrestart_delay_max = 200ms\ncrash_limit = none\n'
} | write_config
start_daemon
failed() { slot_true p 0 "'cgroup: mkdir' in (x['error'] or '') and x['pid'] is None"; }
wait_for 20 "a failed spawn" failed
assert_contains "$(slot_field p 0 error)" "cgroup: mkdir $CG/pool-p" "the reason"
assert_contains "$(dv status --wide)" "cgroup: mkdir $CG/pool-p" "the reason in the text status"
grep -q "pool p slot 0: cgroup: mkdir $CG/pool-p" "$T/droverd.log" || fail "no log line for the failed spawn"
ls "$T"/rec/cg.* >/dev/null 2>&1 && fail "the worker ran although its cgroup could not be made"

# 3. Once the cgroup can be made, the worker starts inside it.
echo max >"$CG/cgroup.max.descendants"
wait_for 20 "pool p running" pool_running p
pid=$(slot_field p 0 pid)
wait_for 10 "the worker's record" test -s "$T/rec/cg.$pid"
assert_eq "$(cat "$T/rec/cg.$pid")" "$CG_REL/pool-p/slot-0" "the worker's cgroup"
log "ok"
