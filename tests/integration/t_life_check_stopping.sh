#!/bin/bash
# A worker droverd stops because its liveness check failed reads `stopping`
# (with why and when the KILL comes) until it is gone, as after `drover
# stop`, and health says so (exit 1, a "stopping" reason): it showed
# `running` and a healthy pool for all of stop_timeout.
. "$(dirname "$0")/lib.sh"

cat >"$T/check.sh" <<EOF2
#!/bin/sh
[ -e "$T/fail" ] && exit 3
exit 0
EOF2
chmod 755 "$T/check.sh"
write_config <<EOF2
[pool:ho]
command = $PROBE_WORKER --term-delay 4000
workers = 2
check_command = $T/check.sh
check_interval = 100ms
check_failures = 1
stop_timeout = 8s
EOF2
start_daemon
wait_for 10 "ho running" pool_running ho 2
health_ok() { dv health >/dev/null 2>&1; }
wait_for 10 "health while checks pass" health_ok
w0=$(slot_field ho 0 pid)

touch "$T/fail"
wait_for 10 "ho:0 stopping after its check failed" state_is ho 0 stopping
alive "$w0" || fail "the worker is gone already (the test needs it stopping)"
assert_contains "$(slot_field ho 0 info)" "liveness check failed: exit 3" "info of the stopping slot"
rc=0
out=$(dv health --json) || rc=$?
assert_eq "$rc" 1 "health while a worker is stopped for a failed check"
assert_contains "$out" '"stopping"' "health --json names the stopping worker"
rm "$T/fail"
wait_for 20 "ho:0 restarted" pid_changed ho 0 "$w0"
finish_checks
