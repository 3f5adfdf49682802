#!/bin/bash
# Rollouts that halt (issue 14). A reload that changes a routed pool restarts
# its workers one at a time, the next only once the new one counts as started
# (start_grace). A new worker that fails to start halts the rollout: the
# workers not yet replaced keep serving (a load runs through it with no failed
# request), the replaced slot is rolled back to the previous command, status,
# metrics and the log say `rollout halted: ...`, and drover reload exits 1 with
# the reason. A fixing reload starts at once, even for slots deep in backoff;
# `reload --no-wait` returns at once.
. "$(dirname "$0")/lib.sh"
uses route

# conf WEB_COMMAND WEB_ENV DOWN_COMMAND
conf() {
    write_config <<EOF2
[pool:web]
command = $1
environment = GEN=$2
workers = 3
listen = $T/web.sock
start_grace = 500ms
restart_delay = 8s
crash_limit = 0

[pool:down]
command = $3
workers = 2
start_grace = 300ms
restart_delay = 8s
crash_limit = 0
EOF2
}
CRASH='/bin/sh -c "exit 7"'
conf "$ECHO_WORKER" 1 "$CRASH"
start_daemon
wait_for 10 "pool web running" pool_running web
read -r w0 w1 w2 <<<"$(pool_pids web)"
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline"; }

# A load runs through the whole bad rollout.
wc_start "$T/wc" -s "$T/web.sock" -c 3 -p 4 -z 64 -t 60 -d 90
wait_for 10 "the load to be served" pool_route_ge web requests 50

conf "$CRASH" 2 "$CRASH"
expect_exit 1 "reload to a crashing command" dv reload
assert_contains "$RUN_ERR" "pool web: rollout halted: web:0 exited with status 7 within start_grace (500ms)" \
    "reload stderr"
assert_contains "$RUN_ERR" "pool web: command, environment changed" "reload stderr names the change"

# The halt shows in status (JSON and text), metrics and the log.
status_all "after the halted reload" \
    "pool('web')['rollout_halted'] == 'web:0 exited with status 7 within start_grace (500ms)'" \
    "slot('web', 1)['pid'] == $w1" "slot('web', 2)['pid'] == $w2"
dv status --wide | grep -q "^pool web: rollout halted: web:0 exited with status 7" ||
    fail "status text lacks the halt: $(dv status)"
assert_eq "$(metric drover_pool_rollout_halted 'pool="web"')" 1 "drover_pool_rollout_halted{web}"
assert_eq "$(metric drover_pool_rollout_halted 'pool="down"')" 0 "drover_pool_rollout_halted{down}"
file_has "$T/droverd.log" "pool web: rollout halted: web:0 exited with status 7" ||
    fail "the log lacks the halt"

# The replaced slot is rolled back to the previous command; the others were never touched.
wait_for 10 "web:0 rolled back and started" slot_true web 0 "x['started'] and x['pid'] != $w0"
r0=$(slot_field web 0 pid)
assert_contains "$(cmdline "$r0")" "$ECHO_WORKER" "web:0 command after the rollback"
assert_eq "$(pool_pids web)" "$r0 $w1 $w2" "web pids after the rollback"
alive "$w1" && alive "$w2" || fail "the workers not yet replaced died"
# The old workers kept serving: nothing failed.
before=$(pool_route web requests)
wait_for 10 "the load to go on after the halt" pool_route_ge web requests $((before + 50))
wc_stop "$T/wc"
wc_clean "$T/wc" "load through the halted rollout"
assert_eq "$(pool_route web failed)" 0 "requests failed at web"

# A reload that does not change web leaves it halted (and on its previous command).
expect_exit 0 "reload without a change" dv reload
assert_eq "$(pool_json web "p['rollout_halted'] is not None")" True "web still halted"
assert_eq "$(pool_pids web)" "$r0 $w1 $w2" "web pids after an unrelated reload"

# A fixing reload: web rolls afresh and the halt is cleared; down's slots, deep in an 8 s
# backoff, start at once with their crash streak reset.
wait_for 10 "down in backoff" slot_true down 0 "x['state'] == 'backoff' and x['next_start_in_seconds'] > 4"
t0=$(now_ms)
conf "$ECHO_WORKER" 3 "$PROBE_WORKER"
expect_exit 0 "fixing reload" dv reload
el=$(($(now_ms) - t0))
[ "$el" -ge 300 ] || fail "reload returned after ${el}ms, before a new worker could count as started"
wait_for 4 "down started at once" pool_true down "p['started'] == 2"
el=$(($(now_ms) - t0))
[ "$el" -lt 4000 ] || fail "down took ${el}ms to start after the fixing reload"
status_all "after the fixing reload" "pool('web')['rollout_halted'] is None" \
    "slot('down', 0)['crash_streak'] == 0"
assert_eq "$(metric drover_pool_rollout_halted 'pool="web"')" 0 "drover_pool_rollout_halted{web} after the fix"
wait_for 15 "web rollout to finish" pool_true web "not p['rolling'] and p['started'] == 3"
for p in $(pool_pids web); do
    case " $w1 $w2 $r0 " in *" $p "*) fail "web worker $p was not replaced by the fixing reload" ;; esac
    tr '\0' '\n' <"/proc/$p/environ" | grep -qx GEN=3 || fail "web worker $p lacks GEN=3"
done

# reload --no-wait returns at once; a plain reload waits for the first new worker.
sed -i 's/^start_grace = 500ms/start_grace = 3s/' "$CONF"
expect_exit 0 "reload (start_grace live)" dv reload
conf "$ECHO_WORKER" 4 "$PROBE_WORKER"
sed -i 's/^start_grace = 500ms/start_grace = 3s/' "$CONF"
t0=$(now_ms)
expect_exit 0 "reload --no-wait" dv reload --no-wait
el=$(($(now_ms) - t0))
[ "$el" -lt 2000 ] || fail "reload --no-wait took ${el}ms"
assert_contains "$RUN_OUT" "pool web: environment changed" "reload --no-wait output"
assert_eq "$(pool_json web "p['rolling']")" True "web rolling after reload --no-wait"
finish_checks
