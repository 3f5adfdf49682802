#!/bin/bash
# fork() fails: droverd runs as a dedicated non-root uid (root is exempt from
# RLIMIT_NPROC) with RLIMIT_NPROC just above what it needs, and "hog" processes
# of that uid take the remaining count. Then every worker is SIGKILLed:
#  - each respawn fails with EAGAIN; the slots go to backoff (never a busy
#    loop), `drover status` says why ("fork: ..."), spawn failures are counted
#    in drover_pool_spawn_failures_total, and droverd keeps answering promptly;
#  - requests sent to the message-mode pool meanwhile wait in its queue (none
#    is failed or lost: they are not the workers' fault);
#  - when the hogs exit, every slot recovers to running, the queued requests
#    are answered, and droverd has not leaked a single fd from the failed forks.
. "$(dirname "$0")/lib.sh"
uses route fault

uid=$(free_uid) || fail "no free uid in 47001..47099"
copy_bins "$T/bin" droverd echo-worker spew-worker
chown "$uid" "$T"
chmod 0755 "$T"
log "droverd runs as uid $uid"

WORKERS=5 # 3 in m, 2 in s
NPROC=$((1 + WORKERS + 1))
HOGS=$((NPROC + 2))
write_config <<EOF2
[pool:m]
command = $T/bin/echo-worker
workers = 3
listen = $T/m.sock
max_attempts = 3
restart_delay = 50ms
restart_delay_max = 400ms
crash_limit = none

[pool:s]
command = $T/bin/spew-worker
workers = 2
restart_delay = 50ms
restart_delay_max = 400ms
crash_limit = none
EOF2
chown "$uid" "$CONF"
# As start_daemon, but as $uid with RLIMIT_NPROC = NPROC.
prlimit --nproc="$NPROC:$NPROC" -- setpriv --reuid "$uid" --regid "$uid" --clear-groups -- \
    "$T/bin/droverd" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd to answer" dv status
wait_for 10 "m running" pool_running m 3
wait_for 10 "s running" pool_running s
assert_eq "$(proc_field "$DAEMON_PID" Uid | cut -d' ' -f1)" "$uid" "droverd's uid"
wc_run "$T/wc_before" -s "$T/m.sock" -c 2 -p 4 -n 500
fds_before=$(fd_count_settled "$DAEMON_PID")

# The hogs: processes of the same uid that take what is left of the count.
hogs=()
for _ in $(seq "$HOGS"); do
    setpriv --reuid "$uid" --regid "$uid" --clear-groups -- sleep 300 &
    hogs+=($!)
    track_pid $!
done
on_exit 'for h in "${hogs[@]}"; do kill -KILL "$h"; done'
hog_count() { [ "$(ps -o pid= -u "$uid" | wc -l)" -ge $((1 + WORKERS + HOGS)) ]; }
wait_for 5 "the hogs to run as uid $uid" hog_count

# Kill every worker: no respawn can fork now.
read -r -a victims <<<"$(pool_pids m) $(pool_pids s)"
kill -KILL "${victims[@]}"
# Requests sent now wait: no worker can be started to take them.
wc_start "$T/wc_outage" -s "$T/m.sock" -c 4 -p 4 -n 400 -d 60
failures_at_least() { [ "$(metric drover_pool_spawn_failures_total "pool=\"$1\"")" -ge "$2" ]; }
wait_for 10 "spawn failures in m" failures_at_least m 6
wait_for 10 "spawn failures in s" failures_at_least s 4
all_down() {
    pool_true "$1" "all(x['state'] in ('backoff', 'starting') and x['pid'] is None for x in p['slots'])"
}
wait_for 5 "m slots in backoff" all_down m
wait_for 5 "s slots in backoff" all_down s
pool_true m "all('fork' in (x['error'] or '') for x in p['slots'])" ||
    fail "status does not say fork failed: $(pool_json m "[x['error'] for x in p['slots']]")"
grep -q "pool m slot 0: fork: Resource temporarily unavailable" "$T/droverd.log" ||
    fail "droverd did not log the fork failure"
queued_some() { [ "$(pool_route m queued)" -gt 0 ]; }
wait_for 5 "requests queued while no worker can start" queued_some

# The daemon is not spinning: backoff paces the retries. It answers promptly.
c0=$(cpu_ticks "$DAEMON_PID")
t0=$(now_ms)
for _ in 1 2 3 4 5; do
    ms=$(time_ms dv status)
    case $ms in fail*) fail "status failed during the outage" ;; esac
    [ "$ms" -lt $((1000 * SLOWDOWN)) ] || fail "status took $ms ms during the outage"
    sleep 0.2 # pacing: five calls over a second
done
f0=$(metric drover_pool_spawn_failures_total 'pool="m"')
sleep 1 # a window to count fork attempts in (not a wait for a condition)
f1=$(metric drover_pool_spawn_failures_total 'pool="m"')
cpu_ms=$((($(cpu_ticks "$DAEMON_PID") - c0) * 1000 / $(getconf CLK_TCK)))
log "outage: droverd used $cpu_ms ms of CPU in $(($(now_ms) - t0)) ms; m: $((f1 - f0)) fork failures in 1 s"
[ $((f1 - f0)) -le 12 ] || fail "m retried fork $((f1 - f0)) times in 1 s: faster than restart_delay_max (400ms) x 3 slots allows"
[ "$cpu_ms" -lt $((500 * SLOWDOWN)) ] || fail "droverd used $cpu_ms ms of CPU during a 2 s outage"
assert_eq "$(pool_route m failed)" 0 "requests failed during the outage"
alive "$DAEMON_PID" || fail "droverd died"

# Lift the limit: the hogs exit.
kill -KILL "${hogs[@]}"
for h in "${hogs[@]}"; do wait "$h" 2>/dev/null; done
untrack_gone
wait_for 10 "m running again" pool_running m 3
wait_for 10 "s running again" pool_running s
wc_wait "$T/wc_outage"
log "requests sent during the outage: $(cat "$T/wc_outage")"
wc_clean "$T/wc_outage" "requests sent during the outage"
assert_eq "$(pool_route m failed)" 0 "requests failed after the outage"
wc_run "$T/wc_after" -s "$T/m.sock" -c 2 -p 4 -n 500
wait_for 5 "m idle" pool_route_is m inflight 0
fds_back() { [ "$(fd_count "$DAEMON_PID")" = "$fds_before" ]; }
wait_for 5 "droverd's open fds back to $fds_before after the failed forks" fds_back
log "droverd fds: $fds_before before and after $(metric drover_pool_spawn_failures_total 'pool="m"') + $(metric drover_pool_spawn_failures_total 'pool="s"') failed forks"
