#!/bin/bash
# A worker that exits at once backs off (status shows when it starts next and a
# growing crash streak), then goes fatal past crash_limit; `drover start
# POOL:SLOT` clears fatal and retries. A crash after a healthy run (longer than
# restart_delay_max) restarts at once, whatever the streak was.
. "$(dirname "$0")/lib.sh"

touch "$T/crash.crashy" "$T/crash.healthy"
write_config <<EOF2
[pool:crashy]
command = $PROBE_WORKER --exit-if $T/crash.crashy 1 --info $T/info.crashy
workers = 1
restart_delay = 250ms
restart_delay_max = 5s
crash_limit = 4/10s

[pool:healthy]
command = $PROBE_WORKER --exit-if $T/crash.healthy 1 --info $T/info.healthy
workers = 1
restart_delay = 100ms
restart_delay_max = 1s
crash_limit = none
EOF2
start_daemon

# crashy: crash 1 restarts at once; crashes 2, 3 and 4 back off 250ms, 500ms and 1s
# (crash_streak 2, 3, 4); crash 5 is more than 4 in 10s: fatal. Sample status until
# then: every backoff seen must say when the next start is due (0 when it is due
# but its timer has not run yet), within its delay, and the streak must grow.
samples=""
deadline=$(($(now_ms) + 10000))
while :; do
    text=$(dv status crashy --wide) || fail "drover status crashy failed"
    row=$(printf '%s\n' "$text" | awk '$1 == "crashy" && $2 == "0"')
    case "$row" in *backoff*) assert_contains "$row" "restart in" "text status of a slot in backoff" ;; esac
    sample=$(slot_json crashy 0 "'%s:%s:%s' % (x['state'], x['crash_streak'], x['next_start_in_seconds'])")
    case "$sample" in
    backoff:*) samples="$samples $sample" ;;
    fatal:*) break ;;
    esac
    [ "$(now_ms)" -lt "$deadline" ] || fail "crashy not fatal within 10s (backoff samples:$samples)"
    sleep 0.02
done
python3 - $samples <<'PY' || fail "backoff samples (state:crash_streak:next_start_in_seconds):$samples"
import sys
seen = [s.split(':') for s in sys.argv[1:]]
streaks = [int(s[1]) for s in seen]
for _, streak, nxt in seen:
    delay = 0.25 * 2 ** (int(streak) - 2)  # 250ms after the 2nd crash in a row, doubling
    assert nxt != 'None' and 0 <= float(nxt) <= delay + 0.001, (streak, nxt)
assert streaks == sorted(streaks), streaks
assert len(set(streaks)) >= 2, 'the streak did not grow: %s' % streaks
PY
# The delay doubles: the log names each one.
for want in "2 times in a row; restarting in (2[0-9]{2})ms" "3 times in a row; restarting in (4[0-9]{2}|500)ms" \
    "4 times in a row; restarting in (9[0-9]{2}ms|1\.0s)"; do
    grep -Eq "pool crashy slot 0: crashed $want" "$T/droverd.log" || fail "no log line matching 'crashed $want'"
done

wait_for 5 "crashy fatal" state_is crashy 0 fatal
assert_eq "$(slot_json crashy 0 "x['pid']")" None "pid of a fatal slot"
assert_eq "$(slot_json crashy 0 "x['crashes']")" 5 "crashes counted up to fatal"
assert_eq "$(slot_json crashy 0 "x['restarts']")" 4 "restarts before fatal"
assert_eq "$(slot_json crashy 0 "x['last_exit']['code']")" 1 "last exit code of the fatal slot"
assert_eq "$(slot_json crashy 0 "x['next_start_in_seconds']")" None "a fatal slot has no next start"
assert_contains "$(slot_json crashy 0 "x['info']")" "drover start crashy:0" "info of a fatal slot"
text=$(dv status --wide) || fail "drover status failed"
row=$(printf '%s\n' "$text" | awk '$1 == "crashy" && $2 == "0"')
assert_contains "$row" "fatal" "text status row of the fatal slot"
assert_contains "$row" "exit 1" "text status row of the fatal slot"
assert_contains "$row" "drover start crashy:0" "text status row of the fatal slot"
grep -q "pool crashy slot 0: fatal" "$T/droverd.log" || fail "no log line for the slot going fatal"
# Still fatal on a second look: nothing restarts it behind the operator's back.
assert_eq "$(slot_json crashy 0 "x['state'] + ' ' + str(x['restarts'])")" "fatal 4" "fatal slot stays fatal"

# `drover start` clears fatal and retries; with the cause fixed, it runs.
rm "$T/crash.crashy"
expect_exit 0 "drover start crashy:0 on a fatal slot" dv start crashy:0
assert_eq "$(slot_json crashy 0 "x['state']")" running "state after drover start of a fatal slot"
assert_eq "$(slot_json crashy 0 "x['crash_streak']")" 0 "crash_streak after drover start"
alive "$(slot_field crashy 0 pid)" || fail "crashy worker not alive after drover start"
wait_for 5 "crashy worker started" test -f "$T/info.crashy"

# healthy: build a streak with quick crashes, then let it run longer than restart_delay_max.
wait_for 10 "healthy has a crash streak of 3" slot_true healthy 0 "x['crash_streak'] >= 3"
rm "$T/crash.healthy"
wait_for 10 "healthy running" state_is healthy 0 running
streak=$(slot_json healthy 0 "x['crash_streak']")
[ "$streak" -ge 3 ] || fail "healthy's streak before the healthy run is $streak"
hp=$(slot_field healthy 0 pid)
wait_for 10 "healthy up for more than restart_delay_max" slot_true healthy 0 "x['uptime_seconds'] > 1.2"
kill -KILL "$hp"
wait_for 3 "healthy restarted" pid_changed healthy 0 "$hp"
# Restarted at once: spawned when the old one was reaped, not after a backoff of >= 800ms.
assert_eq "$(slot_json healthy 0 "x['crash_streak']")" 1 "crash_streak after a crash following a healthy run"
gap=$(slot_json healthy 0 "round(x['last_exit']['seconds_ago'] - x['uptime_seconds'], 3)")
assert_eq "$(python3 -c "print($gap < 0.1)")" True "time between the healthy worker's exit and the new start (${gap}s)"
assert_eq "$(slot_json healthy 0 "x['state']")" running "state after a healthy crash"
