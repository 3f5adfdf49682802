#!/bin/bash
# Stopping: a worker that ignores SIGTERM is SIGKILLed after stop_timeout; the
# stop signal reaches the worker's whole process group, so its child and
# grandchild go too; stop_signal = INT is the signal the worker receives.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:stubborn]
command = $PROBE_WORKER --ignore TERM --record $T/sig.stubborn --info $T/info.stubborn
workers = 1
stop_timeout = 700ms

[pool:slowkill]
command = $PROBE_WORKER --ignore TERM --info $T/info.slowkill
workers = 1
stop_timeout = 2s

[pool:family]
command = $PROBE_WORKER --family $T/family --record $T/sig.family --info $T/info.family
workers = 1

[pool:tough]
command = $PROBE_WORKER --family $T/family.tough --family-ignore-term --info $T/info.tough
workers = 1
stop_timeout = 5s

[pool:intsig]
command = $PROBE_WORKER --record $T/sig.intsig --info $T/info.intsig
workers = 1
stop_signal = INT
EOF2
start_daemon
for p in stubborn slowkill family tough intsig; do
    wait_for 10 "$p running" pool_running "$p"
    wait_for 5 "$p worker set up" test -f "$T/info.$p"
done

# stubborn: TERM is ignored, so stop takes stop_timeout and ends in SIGKILL.
sp=$(slot_field stubborn 0 pid)
t0=$(now_ms)
expect_exit 0 "drover stop stubborn" dv stop stubborn
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -ge 650 ] || fail "stop of a TERM-ignoring worker returned after ${elapsed}ms, before stop_timeout (700ms)"
[ "$elapsed" -lt 5000 ] || fail "stop of a TERM-ignoring worker took ${elapsed}ms"
gone "$sp" || fail "stubborn worker $sp still exists after stop returned"
assert_eq "$(cat "$T/sig.stubborn")" "TERM" "signals the stubborn worker received"
assert_eq "$(slot_json stubborn 0 "x['last_exit']['signal']")" KILL "how the stubborn worker ended"
assert_eq "$(slot_json stubborn 0 "x['state']")" stopped "stubborn state after stop"

# family: the worker, its child and its grandchild all get TERM and are gone.
fp=$(slot_field family 0 pid)
read -r fc fg <"$T/family"
for p in "$fp" "$fc" "$fg"; do track_pid "$p"; done
assert_eq "$(ps -o pgid= -p "$fg" | tr -d ' ')" "$fp" "process group of the grandchild"
expect_exit 0 "drover stop family" dv stop family
gone "$fp" || fail "family worker $fp still exists after stop returned"
wait_for 5 "the worker's child and grandchild gone after stop" gone "$fc" "$fg"
untrack_gone
assert_eq "$(cat "$T/sig.family")" "TERM" "signal the family worker received"
assert_eq "$(slot_json family 0 "x['last_exit']['code']")" 0 "family worker exit code"

# tough: the worker leaves on TERM but its child and grandchild ignore it;
# they are in the worker's group and must not outlive the stop.
tp=$(slot_field tough 0 pid)
read -r tc tg <"$T/family.tough"
for p in "$tp" "$tc" "$tg"; do track_pid "$p"; done
expect_exit 0 "drover stop tough" dv stop tough
wait_for 5 "TERM-ignoring child and grandchild gone after stop" gone "$tp" "$tc" "$tg"
untrack_gone

# intsig: stop_signal = INT is what arrives, and nothing else.
ip=$(slot_field intsig 0 pid)
expect_exit 0 "drover stop intsig" dv stop intsig
gone "$ip" || fail "intsig worker still exists after stop returned"
assert_eq "$(cat "$T/sig.intsig")" "INT" "signal received by a worker with stop_signal = INT"
assert_eq "$(slot_json intsig 0 "x['last_exit']['code']")" 0 "intsig worker left on INT with exit 0"

# A stuck stop is visible in status while it lasts: KILL is due at stop_timeout.
kp=$(slot_field slowkill 0 pid)
expect_exit 0 "drover stop slowkill --no-wait" dv stop slowkill --no-wait
alive "$kp" || fail "slowkill worker gone before stop_timeout"
seen=$(slot_json slowkill 0 "x['state'] + ': ' + x['info']")
assert_contains "$seen" "stopping: KILL in" "state and info while a TERM-ignoring worker stops"
wait_for 5 "slowkill stopped by SIGKILL" state_is slowkill 0 stopped
assert_eq "$(slot_json slowkill 0 "x['last_exit']['signal']")" KILL "how the slowkill worker ended"
