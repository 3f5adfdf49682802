#!/bin/bash
# Liveness checks: check_command runs for each running worker every
# check_interval with DROVER_POOL, DROVER_SLOT and DROVER_PID; check_failures
# failures in a row restart that worker as failed (status and log say why);
# a check that hangs is killed with its process group at check_timeout and
# counts as a failure (and is never counted as an adopted orphan); checks
# stop with the worker and with droverd; a check
# program that does not exist is a FILE:LINE error for `drover check` and reload.
. "$(dirname "$0")/lib.sh"

# The check records who it is and what it was told, then does what $T/mode.SLOT says:
# pass, "fail PID" (exit 3 while checking that worker pid) or hang (a child sleeps; the
# check waits for it).
cat >"$T/check.sh" <<EOF2
#!/bin/sh
echo "\$DROVER_POOL \$DROVER_SLOT \$DROVER_PID \$\$" >>"$T/checks.\$DROVER_SLOT"
mode=\$(cat "$T/mode.\$DROVER_SLOT" 2>/dev/null)
case "\$mode" in
"fail \$DROVER_PID") exit 3 ;;
hang) sleep 1000 & echo "\$\$ \$!" >"$T/hang.\$DROVER_SLOT"; wait ;;
esac
exit 0
EOF2
chmod 755 "$T/check.sh"

write_config <<EOF2
[pool:web]
command = $PROBE_WORKER --record $T/sig.%w
workers = 2
check_command = $T/check.sh
check_interval = 100ms
check_timeout = 2s
check_failures = 3
stop_timeout = 5s
EOF2
start_daemon
wait_for 10 "web running" pool_running web
read -r w0 w1 <<<"$(pool_pids web)"

# 1. Checks run for each worker with its pool, slot and pid, and passing changes nothing.
wait_for 10 "checks of web:0 ran" file_has "$T/checks.0" "^web 0 $w0 "
wait_for 10 "checks of web:1 ran" file_has "$T/checks.1" "^web 1 $w1 "
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_for 10 "three checks of web:0" lines_at_least "$T/checks.0" 3
assert_eq "$(pool_pids web)" "$w0 $w1" "pids while checks pass"

# 2. Failing checks of web:0: it restarts after three in a row, as a crash with the reason;
# web:1, whose checks pass, is left alone.
echo "fail $w0" >"$T/mode.0"
wait_for 10 "web:0 restarted after failing checks" pid_changed web 0 "$w0"
wait_for 10 "web running again" pool_running web
status_all "after failed checks" \
    "slot('web', 0)['last_exit']['reason'] == 'liveness check failed: exit 3'" \
    "slot('web', 0)['last_exit']['crash'] == True" \
    "slot('web', 0)['crashes'] >= 1" \
    "slot('web', 1)['pid'] == $w1"
run_capture dv status web --wide
assert_contains "$RUN_OUT" "last exit: liveness check failed: exit 3" "status INFO"
file_has "$T/droverd.log" "pool web slot 0: pid $w0: liveness check failed \(3 of 3 in a row\): exit 3" ||
    fail "the log does not count the failed checks of web:0"
file_has "$T/droverd.log" "pool web slot 0: pid $w0 ended .*: liveness check failed: exit 3" ||
    fail "the log does not say why web:0 was restarted"
# Graceful: the worker got stop_signal (TERM), not SIGKILL.
file_has "$T/sig.0" '^TERM$' || fail "web:0 was not stopped with TERM"
# Three failures in a row, not two: the second did not restart it.
file_has "$T/droverd.log" "pool web slot 0: pid $w0: liveness check failed \(2 of 3 in a row\): exit 3" ||
    fail "the log does not show the second failed check of web:0"
read -r w0 w1 <<<"$(pool_pids web)"

# 3. A hanging check is killed with its process group at its timeout and counted.
rm -f "$T/hang.0"
echo hang >"$T/mode.0"
wait_for 10 "a check of web:0 hangs" test -s "$T/hang.0"
read -r cpid spid <"$T/hang.0"
alive "$cpid" || fail "the hanging check is not running"
# A running check is droverd's own child, not an orphan it adopted: sampled for 6 s
# (longer than the 5 s droverd keeps its count), while checks of web:0 keep hanging.
end=$(($(now_ms) + 6000))
while [ "$(now_ms)" -lt "$end" ]; do
    n=$(status_json "s['daemon']['adopted']")
    [ "$n" = 0 ] || fail "adopted processes while checks run: $n"
    sleep 0.3
done
t0=$(now_ms)
wait_for 10 "the hanging check and its child are gone" gone "$cpid" "$spid"
[ $(($(now_ms) - t0)) -lt $((5000 * SLOWDOWN)) ] || fail "the hanging check lived too long"
wait_for 10 "a timeout counted" file_has "$T/droverd.log" \
    "pool web slot 0: pid $w0: liveness check failed \(1 of 3 in a row\): timed out after 2s"

# 4. Stopping the worker kills its check at once (here a hanging one), verified by pid.
rm -f "$T/hang.0" "$T/hang.1"
wait_for 10 "a new check of web:0 hangs" test -s "$T/hang.0"
read -r cpid spid <"$T/hang.0"
expect_exit 0 "drover stop web:0" dv stop web:0
wait_for 5 "web:0's check gone after stop" gone "$cpid" "$spid"
rm "$T/mode.0"
expect_exit 0 "drover start web:0" dv start web:0

# 5. A check program that does not exist: FILE:LINE from drover check, and a reload changes nothing.
sed -i "s|^check_command = .*|check_command = $T/no-such-check --flag|" "$CONF"
line=$(grep -n '^check_command' "$CONF" | cut -d: -f1)
expect_exit 1 "drover check with a missing check program" dv check -c "$CONF"
assert_contains "$RUN_ERR" "$CONF:$line: check_command: $T/no-such-check: No such file or directory" \
    "drover check's error"
expect_exit 1 "reload with a missing check program" dv reload
assert_contains "$RUN_ERR" "$CONF:$line: check_command:" "reload's error"
sed -i "s|^check_command = .*|check_command = no-such-check-in-path|" "$CONF"
expect_exit 1 "drover check with a check program not in PATH" dv check -c "$CONF"
assert_contains "$RUN_ERR" "$CONF:$line: check_command: 'no-such-check-in-path' not found in PATH" \
    "drover check's error for a bare name"

# 6. Applied live: a reload that removes check_command kills the check in progress
# (and a reload that adds it back starts checks again); removing the pool kills its checks.
sed -i "s|^check_command = .*|check_command = $T/check.sh|" "$CONF"
expect_exit 0 "reload with the check program back" dv reload
wait_for 10 "web running" pool_running web
rm -f "$T/hang.0" "$T/hang.1"
echo hang >"$T/mode.0"
wait_for 10 "a check of web:0 hangs" test -s "$T/hang.0"
read -r cpid spid <"$T/hang.0"
w0=$(slot_field web 0 pid)
sed -i "/^check_/d" "$CONF"
expect_exit 0 "reload without check_command" dv reload
wait_for 5 "web:0's check gone after check_command was removed" gone "$cpid" "$spid"
assert_eq "$(slot_field web 0 pid)" "$w0" "web:0's pid after removing its check (not restarted)"
cat >>"$CONF" <<EOF2
check_command = $T/check.sh
check_interval = 100ms
EOF2
rm -f "$T/hang.0"
expect_exit 0 "reload with check_command again" dv reload
wait_for 10 "checks run again after a reload" test -s "$T/hang.0"
read -r cpid spid <"$T/hang.0"
cat >"$T/other.ini" <<EOF2
[daemon]
control_socket = $SOCK
log_dir = $T/log
shutdown_timeout = 10s

[pool:other]
command = $PROBE_WORKER
workers = 1
EOF2
cp "$T/other.ini" "$CONF"
expect_exit 0 "reload that removes pool web" dv reload
wait_for 10 "web removed" bash -c "! $DROVER -s $SOCK status web >/dev/null 2>&1"
wait_for 5 "web:0's check gone with its pool" gone "$cpid" "$spid"
cat >>"$CONF" <<EOF2

[pool:web]
command = $PROBE_WORKER --record $T/sig.%w
workers = 2
check_command = $T/check.sh
check_interval = 100ms
check_timeout = 2s
EOF2
rm "$T/mode.0"
expect_exit 0 "reload that adds pool web again" dv reload

# 7. Shutdown with a check running: no check process is left.
wait_for 10 "web running" pool_running web
rm -f "$T/hang.1"
echo hang >"$T/mode.1"
wait_for 10 "a check of web:1 hangs" test -s "$T/hang.1"
read -r cpid spid <"$T/hang.1"
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
wait_for 5 "no check left after shutdown" gone "$cpid" "$spid"
