#!/bin/bash
# A worker that can no longer be started (its command lost its execute bit,
# or its directory was removed after droverd started): status says why, the
# slot backs off instead of spinning, `drover start` reports the reason with
# exit 1, and once the cause is fixed the slot runs again and the error clears.
. "$(dirname "$0")/lib.sh"

cp "$PROBE_WORKER" "$T/worker"
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
command = $PROBE_WORKER
directory = $T/wd
workers = 1
restart_delay = 100ms
restart_delay_max = 400ms
crash_limit = none
EOF2
start_daemon
wait_for 10 "noexec running" pool_running noexec
wait_for 10 "nodir running" pool_running nodir
assert_eq "$(slot_json noexec 0 "x['error']")" None "error of a healthy slot"

chmod 644 "$T/worker"
rmdir "$T/wd"
kill -KILL "$(slot_field noexec 0 pid)" "$(slot_field nodir 0 pid)"
t_kill=$(now_ms)

wait_for 5 "noexec reports the exec failure" \
    slot_true noexec 0 "x['error'] == 'exec $T/worker: Permission denied'"
wait_for 5 "nodir reports the chdir failure" \
    slot_true nodir 0 "(x['error'] or '').startswith('chdir') and 'No such file or directory' in x['error']"
# snapshot_when POOL SLOT EXPR: the slot, once EXPR (bound to x) is true for it, saved to
# $T/slot.json, so that saved can check more of that very snapshot without racing a slot
# that keeps changing (backoff, restarts).
snapshot_when() {
    dv status --json | python3 -c "
import json, sys
s = json.load(sys.stdin)
x = next(x for p in s['pools'] if p['name'] == '$1' for x in p['slots'] if x['slot'] == $2)
if not ($3):
    sys.exit(1)
json.dump(x, open('$T/slot.json', 'w'))
"
}
# saved EXPR: a Python expression on the slot kept by snapshot_when (bound to x).
saved() { python3 -c "import json; x = json.load(open('$T/slot.json')); print($1)"; }
for p in noexec nodir; do
    # It backs off (growing delays), it does not spin.
    wait_for 20 "$p backing off with a streak of 3" \
        snapshot_when $p 0 "x['state'] == 'backoff' and x['crash_streak'] >= 3"
    assert_eq "$(saved "x['pid']")" None "$p pid while backing off"
    assert_eq "$(saved "x['last_exit']['code']")" 127 "$p last exit code while backing off"
    assert_eq "$(saved "x['next_start_in_seconds'] is not None and 0 <= x['next_start_in_seconds'] <= 0.4")" True \
        "$p next_start_in_seconds ($(saved "x['next_start_in_seconds']"))"
    want="No such file or directory"
    [ $p = noexec ] && want="Permission denied"
    assert_contains "$(saved "x['error']")" "$want" "$p error while backing off"
done
grep -q "pool noexec slot 0: exec $T/worker: Permission denied" "$T/droverd.log" ||
    fail "the log does not give the exec failure"
grep -q "pool nodir slot 0: chdir: No such file or directory" "$T/droverd.log" ||
    fail "the log does not give the chdir failure"
# Crash counts stay bounded by the backoff: after the first few, one per 400ms at most.
c=$(slot_json noexec 0 "x['crashes']")
bound=$((($(now_ms) - t_kill) / 400 + 5))
[ "$c" -le "$bound" ] || fail "noexec crashed $c times in $(($(now_ms) - t_kill))ms: not backing off"

# drover start tries at once and says why it failed.
expect_exit 1 "drover start of a slot whose command cannot be exec'd" dv start noexec:0
assert_contains "$RUN_ERR" "Permission denied" "drover start's reason"
expect_exit 1 "drover start of a slot whose directory is gone" dv start nodir:0
assert_contains "$RUN_ERR" "chdir" "drover start's reason"

# The text table must say why as well; checked last so the recovery below is still tested.
text=$(dv status --wide) || fail "drover status failed"

# stop of a slot in backoff: stopped at once, and it stays down.
expect_exit 0 "drover stop nodir while it backs off" dv stop nodir
assert_eq "$(slot_field nodir 0 state)" stopped "nodir state after stop"
assert_eq "$(slot_json nodir 0 "x['next_start_in_seconds']")" None "nodir next start after stop"

# Fixed: the slots come back on their own (next backoff timer) and the error clears.
chmod 755 "$T/worker"
mkdir "$T/wd"
wait_for 5 "noexec running again" state_is noexec 0 running
expect_exit 0 "drover start nodir once its directory is back" dv start nodir
assert_eq "$(slot_field nodir 0 state)" running "nodir state after drover start"
assert_eq "$(slot_json noexec 0 "x['error']")" None "error of noexec once it runs again"
assert_eq "$(slot_json nodir 0 "x['error']")" None "error of nodir once it runs again"
assert_eq "$(readlink "/proc/$(slot_field nodir 0 pid)/cwd")" "$T/wd" "cwd of the nodir worker"

row=$(printf '%s\n' "$text" | awk '$1 == "noexec" && $2 == "0"')
assert_contains "$row" "Permission denied" "drover status (text) row of a slot backing off because exec fails"
row=$(printf '%s\n' "$text" | awk '$1 == "nodir" && $2 == "0"')
assert_contains "$row" "No such file or directory" "drover status (text) row of a slot backing off because chdir fails"
