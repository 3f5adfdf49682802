#!/bin/bash
# cgroup = auto (the default) takes droverd's own cgroup only when it was given one: here not the
# root of a hierarchy full of other processes (containment off, and status says why), but the
# root of a container's cgroup namespace holding droverd alone. There droverd moves itself into
# a leaf of its own (BASE/droverd, cgroup v2's no-internal-processes rule) and starts each worker
# in BASE/pool-NAME/slot-N.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup
command -v unshare >/dev/null || { log "SKIP: needs unshare(1)"; exit 77; }

write_config <<EOF2
[pool:p]
command = /bin/sleep 3600
workers = 2
stdout = null
EOF2

# 1. Where this test runs: a cgroup droverd shares with others, delegated to nobody.
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
start_daemon
wait_for 20 "pool p running" pool_running p
assert_eq "$(status_json "s['containment']['cgroups']")" False "containment outside a delegated cgroup"
assert_eq "$(slot_field p 0 cgroup)" None "a worker's cgroup without containment"
assert_contains "$(dv status --wide)" "containment: off" "text status"
[ "$own" = / ] && assert_contains "$(status_json "s['containment']['reason']")" "holds other processes" "reason"
[ -e "$CG_MOUNT${own%/}/pool-p" ] && fail "droverd created cgroups in a cgroup not delegated to it"
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit

# 2. A container: droverd alone at the root of its own cgroup namespace ($CG/ns on the host),
# with the cgroup2 file system mounted again inside its mount namespace.
mkdir "$CG/ns" || fail "mkdir $CG/ns"
sh -c 'echo $$ >"$1/cgroup.procs" && exec unshare -C -m --propagation private sh -c '\''
    umount "$0" 2>/dev/null; mount -t cgroup2 cgroup2 "$0" || exit 125; exec "$1" -c "$2"'\'' \
    "$2" "$3" "$4"' sh "$CG/ns" "$CG_MOUNT" "$DROVERD" "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd in a container to answer" dv status
wait_for 20 "pool p running in the container" pool_running p
assert_eq "$(status_json "s['containment']['cgroups']")" True "containment in a container"
assert_eq "$(status_json "s['containment']['cgroup']")" / "the base, as the container sees it"
assert_contains "$(status_json "s['containment']['reason']")" "cgroup namespace" "reason"
grep -qx "$DAEMON_PID" "$CG/ns/droverd/cgroup.procs" || fail "droverd did not move itself to BASE/droverd"
assert_eq "$(cg_procs "$CG/ns")" "" "processes left in the base cgroup"
for i in 0 1; do
    assert_eq "$(slot_field p "$i" cgroup)" "/pool-p/slot-$i" "slot $i cgroup"
    assert_eq "$(cg_procs "$CG/ns/pool-p/slot-$i")" "$(slot_field p "$i" pid)" "slot $i cgroup.procs"
done
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
[ -e "$CG/ns/pool-p" ] && fail "pool cgroup left after shutdown"
log "ok"
