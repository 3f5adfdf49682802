#!/bin/bash
# A worker that can no longer be started (its command lost its execute bit,
# or its directory was removed after droverd started): status says why, the
# slot backs off instead of spinning, `drover start` reports the reason with
# exit 1, and once the cause is fixed the slot runs again and the error clears.
. "$(dirname "$0")/lib.sh"

cp "$LIFE_WORKER" "$T/worker"
chmod 755 "$T/worker"
mkdir "$T/wd"
write_config <<EOF2
[pool:noexec]
command = $T/worker
workers = 1
restart_delay = 100ms
restart_delay_max = 400ms
crash_limit = none

[pool:nodir]
command = $LIFE_WORKER
directory = $T/wd
workers = 1
restart_delay = 100ms
restart_delay_max = 400ms
crash_limit = none
EOF2
start_daemon
wait_for 10 "noexec running" pool_running noexec
wait_for 10 "nodir running" pool_running nodir
assert_eq "$(life_slot noexec 0 "x['error']")" None "error of a healthy slot"

chmod 644 "$T/worker"
rmdir "$T/wd"
kill -KILL "$(worker_pid noexec 0)" "$(worker_pid nodir 0)"
t_kill=$(life_ms)

wait_for 5 "noexec reports the exec failure" \
    life_slot_true noexec 0 "x['error'] == 'exec $T/worker: Permission denied'"
wait_for 5 "nodir reports the chdir failure" \
    life_slot_true nodir 0 "(x['error'] or '').startswith('chdir') and 'No such file or directory' in x['error']"
for p in noexec nodir; do
    # It backs off (growing delays), it does not spin.
    life_wait_slot 5 "$p backing off with a streak of 3" $p 0 "x['state'] == 'backoff' and x['crash_streak'] >= 3"
    assert_eq "$(life_saved "x['pid']")" None "$p pid while backing off"
    assert_eq "$(life_saved "x['last_exit']['code']")" 127 "$p last exit code while backing off"
    assert_eq "$(life_saved "x['next_start_in_seconds'] is not None and 0 <= x['next_start_in_seconds'] <= 0.4")" True \
        "$p next_start_in_seconds ($(life_saved "x['next_start_in_seconds']"))"
    want="No such file or directory"
    [ $p = noexec ] && want="Permission denied"
    assert_contains "$(life_saved "x['error']")" "$want" "$p error while backing off"
done
grep -q "pool noexec slot 0: exec $T/worker: Permission denied" "$T/droverd.log" ||
    fail "the log does not give the exec failure"
grep -q "pool nodir slot 0: chdir: No such file or directory" "$T/droverd.log" ||
    fail "the log does not give the chdir failure"
# Crash counts stay bounded by the backoff: after the first few, one per 400ms at most.
c=$(life_slot noexec 0 "x['crashes']")
bound=$((($(life_ms) - t_kill) / 400 + 5))
[ "$c" -le "$bound" ] || fail "noexec crashed $c times in $(($(life_ms) - t_kill))ms: not backing off"

# drover start tries at once and says why it failed.
life_expect 1 "drover start of a slot whose command cannot be exec'd" dv start noexec:0
assert_contains "$LIFE_ERR" "Permission denied" "drover start's reason"
life_expect 1 "drover start of a slot whose directory is gone" dv start nodir:0
assert_contains "$LIFE_ERR" "chdir" "drover start's reason"

# The text table must say why as well; checked last so the recovery below is still tested.
text=$(dv status) || fail "drover status failed"

# stop of a slot in backoff: stopped at once, and it stays down.
life_expect 0 "drover stop nodir while it backs off" dv stop nodir
assert_eq "$(worker_state nodir 0)" stopped "nodir state after stop"
assert_eq "$(life_slot nodir 0 "x['next_start_in_seconds']")" None "nodir next start after stop"

# Fixed: the slots come back on their own (next backoff timer) and the error clears.
chmod 755 "$T/worker"
mkdir "$T/wd"
wait_for 5 "noexec running again" state_is noexec 0 running
life_expect 0 "drover start nodir once its directory is back" dv start nodir
assert_eq "$(worker_state nodir 0)" running "nodir state after drover start"
assert_eq "$(life_slot noexec 0 "x['error']")" None "error of noexec once it runs again"
assert_eq "$(life_slot nodir 0 "x['error']")" None "error of nodir once it runs again"
assert_eq "$(readlink "/proc/$(worker_pid nodir 0)/cwd")" "$T/wd" "cwd of the nodir worker"

row=$(printf '%s\n' "$text" | awk '$1 == "noexec"' | head -n 1)
assert_contains "$row" "Permission denied" "drover status (text) row of a slot backing off because exec fails"
row=$(printf '%s\n' "$text" | awk '$1 == "nodir"' | head -n 1)
assert_contains "$row" "No such file or directory" "drover status (text) row of a slot backing off because chdir fails"
