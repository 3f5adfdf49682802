#!/bin/bash
# With ready = notify, a worker counts as started at READY=1, whatever
# start_grace says. A rolling reload to workers that never send it halts at
# start_timeout (the first new worker is killed), the other worker is never
# touched, and the replaced slot is rolled back; start of such a worker
# exits 1 with the reason.
. "$(dirname "$0")/lib.sh"

conf() {
    write_config <<EOF2
[pool:n]
command = $NOTIFY_WORKER $1
workers = 2
ready = notify
start_timeout = 1s
start_grace = 30s
EOF2
}
conf ""
start_daemon
wait_for 10 "pool n running" pool_running n
# READY=1 counts at once, although start_grace is 30 s.
t0=$(now_ms)
expect_exit 0 "restart n:0" dv restart n:0
el=$(($(now_ms) - t0))
[ "$el" -lt 10000 ] || fail "restart of a notify worker took ${el}ms (waited for start_grace?)"
assert_eq "$(slot_field n 0 started)" True "n:0 started after READY=1"
read -r p0 p1 <<<"$(pool_pids n)"

conf "--never-ready"
expect_exit 1 "reload to workers that never send READY=1" dv reload
assert_contains "$RUN_ERR" "pool n: rollout halted: n:0 sent no READY=1 within start_timeout (1s)" "reload stderr"
assert_eq "$(slot_field n 1 pid)" "$p1" "n:1 pid (never replaced)"
wait_for 15 "n:0 rolled back and started" slot_true n 0 "x['started'] and x['pid'] != $p0"
r0=$(slot_field n 0 pid)
case "$(tr '\0' ' ' <"/proc/$r0/cmdline")" in
*--never-ready*) fail "n:0 was not rolled back: $(tr '\0' ' ' <"/proc/$r0/cmdline")" ;;
esac
assert_eq "$(pool_json n "p['rolling']")" False "n rolling after the rollback"

# A pool whose workers never get ready: drover start fails with the reason.
conf "--never-ready"
sed -i 's/^\[pool:n\]/[pool:m]/' "$CONF"
cat >>"$CONF" <<EOF2

[pool:n]
command = $NOTIFY_WORKER
workers = 2
ready = notify
start_timeout = 1s
EOF2
expect_exit 0 "reload adding pool m" dv reload
expect_exit 1 "start m:0 (never ready)" dv start m:0
assert_contains "$RUN_ERR" "m:0 sent no READY=1 within start_timeout (1s)" "start m:0 stderr"
finish_checks
