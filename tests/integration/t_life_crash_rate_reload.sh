#!/bin/bash
# crash_restart_rate changed by a reload reaches the restarts it already holds: four
# workers that fail to start, under a budget of one restart a minute, wait in backoff
# for times a minute apart; a reload to `none` says "applied" and must mean it: every
# slot restarts within seconds (it used to wait out the old budget's time, up to 4
# minutes here). And a reload that keeps the budget leaves the times it gave alone.
. "$(dirname "$0")/lib.sh"

conf() {
    write_config <<EOF
[pool:fail]
command = /bin/false
workers = 4
restart_delay = 100ms
restart_delay_max = 1s
crash_limit = none
start_grace = 1s
crash_restart_rate = $1
EOF
}
conf 1/60s
start_daemon
# All four failed their start; the budget's one restart went at once, the rest wait.
wait_for 10 "every slot in backoff" pool_true fail "all(x['state'] == 'backoff' for x in p['slots'])"
restarts_ge() { [ "$(slot_sum fail restarts)" -ge "$1" ]; }
wait_for 10 "the budget's one restart" restarts_ge 1
held=$(slot_sum fail restarts)
log "restarts under 1/60s: $held"

# The same budget again: nothing released.
dv reload >/dev/null || fail "reload (same budget)"
sleep_until=$(($(now_ms) + 2000))
while [ "$(now_ms)" -lt "$sleep_until" ]; do
    [ "$(slot_sum fail restarts)" -le $((held + 1)) ] || fail "a reload that kept the budget released restarts: $(slot_sum fail restarts) > $held + 1"
    sleep 0.2
done

conf none
out=$(dv reload) || fail "reload to none: exit $?: $out"
assert_contains "$out" "crash_restart_rate" "reload names the changed key"
# Every slot restarted since (restart_delay_max 1 s paces them now, not the old budget).
wait_for 15 "every slot restarted after the reload" pool_true fail "all((x['restarts'] or 0) >= 2 for x in p['slots'])"
finish_checks
