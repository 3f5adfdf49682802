#!/bin/bash
# memory_recycle: a worker whose memory grows with every request (faulty-echo-worker
# --grow-kb) is recycled once over memory_recycle, under load, without one failed or
# lost request: it takes no new requests, answers what it holds, and is replaced (a
# restart, not a crash). Status says why (the recycle object, the log line), metrics
# count it. A pool without routing (a Python worker that grows by itself) is restarted
# gracefully by the recycle timer. Also the accounting fields of status --json and
# metrics (memory, peak, CPU, their source).
. "$(dirname "$0")/lib.sh"
uses route

LIMIT_MB=24
cat >"$T/grow.py" <<'EOF2'
import time
keep = []
while True:
    keep.append(b"m" * (1 << 20))
    time.sleep(0.02)
EOF2
mkdir -p "$T/c1" "$T/c4"
write_config <<EOF2
[pool:r1]
command = $FAULTY_ECHO_WORKER --grow-kb 256 --count-dir $T/c1
workers = 2
listen = $T/r1.sock
memory_recycle = ${LIMIT_MB}M

[pool:r4]
command = $FAULTY_ECHO_WORKER --grow-kb 256 --count-dir $T/c4
workers = 2
listen = $T/r4.sock
worker_inflight = 4
memory_recycle = ${LIMIT_MB}M
EOF2
start_daemon
wait_for 30 "r1 running" pool_running r1 2
wait_for 30 "r4 running" pool_running r4 2

# Accounting: every figure of a running worker, and where it came from.
status_all "accounting fields" \
    "slot('r1', 0)['memory_bytes'] > 0" \
    "slot('r1', 0)['memory_peak_bytes'] >= slot('r1', 0)['memory_bytes'] or slot('r1', 0)['usage_source']['memory'] == 'cgroup'" \
    "slot('r1', 0)['usage_source']['memory'] in ('proc', 'cgroup')" \
    "slot('r1', 0)['usage_source']['cpu'] in ('proc', 'cgroup')" \
    "slot('r1', 0)['cpu_seconds'] is not None" \
    "slot('r1', 0)['recycle'] is None" \
    "'pids' in slot('r1', 0)"
[ "$(metric drover_worker_memory_bytes 'pool="r1",slot="0"')" != none ] ||
    fail "no drover_worker_memory_bytes for r1 slot 0"
[ "$(metric drover_worker_cpu_seconds_total 'pool="r1",slot="0"')" != none ] ||
    fail "no drover_worker_cpu_seconds_total for r1 slot 0"

TOTAL=2000
for pool in r1 r4; do
    first=$(pool_pids "$pool")
    wc_run "$T/wc_$pool" -s "$T/$pool.sock" -c 4 -p 4 -n $TOTAL -d 25
    log "$pool: $(cat "$T/wc_$pool")"
    assert_eq "$(wc_get "$T/wc_$pool" ok)" $TOTAL "$pool: requests served"
    assert_eq "$(wc_get "$T/wc_$pool" lost)" 0 "$pool: requests lost"
    assert_eq "$(pool_route "$pool" failed)" 0 "$pool: failed"
    assert_eq "$(pool_route "$pool" retries)" 0 "$pool: retries"
    wait_for 20 "$pool: both running" pool_running "$pool" 2
    now=$(pool_pids "$pool")
    for p in $first; do
        case " $now " in *" $p "*) fail "$pool: worker $p was never recycled" ;; esac
    done
    assert_eq "$(slot_sum "$pool" crashes)" 0 "$pool: crashes (recycling is no crash)"
    recycles=$(metric drover_pool_recycles_total "pool=\"$pool\",reason=\"memory\"")
    [ "$recycles" != none ] && [ "$recycles" -ge 2 ] ||
        fail "$pool: drover_pool_recycles_total{reason=memory} is $recycles, want >= 2"
    # 256 KiB a request: about LIMIT_MB*4 requests fill a worker; none may serve many more.
    for f in "$T/c${pool#r}"/*; do
        n=$(tr -d ' \n' <"$f")
        [ "$n" -le $((LIMIT_MB * 4 * 2)) ] || fail "$pool: pid $(basename "$f") served $n requests"
    done
    pool_true "$pool" "any(x['recycle'] and 'over memory_recycle ${LIMIT_MB}M' in x['recycle']['reason'] for x in p['slots'])" ||
        fail "$pool: status does not say why a worker was recycled: $(pool_json "$pool" "[x['recycle'] for x in p['slots']]")"
done
file_has "$T/droverd.log" "pool r1 slot [01]: recycling pid [0-9]+: memory .* over memory_recycle ${LIMIT_MB}M" ||
    fail "no recycling line in the log: $(grep -i recycl "$T/droverd.log" | head -3)"

# No routing: the timer finds the worker over 40M and restarts it with stop_signal.
stop_daemon
write_config <<EOF2
[pool:grow]
command = $PYTHON $T/grow.py
workers = 1
memory_recycle = 40M
stop_timeout = 5s
EOF2
start_daemon
wait_for 30 "grow running" pool_running grow 1
gpid=$(slot_field grow 0 pid)
wait_for 60 "grow's worker recycled" pid_changed grow 0 "$gpid"
wait_for 30 "grow running again" pool_running grow 1
assert_eq "$(slot_field grow 0 crashes)" 0 "grow: crashes"
slot_true grow 0 "'over memory_recycle 40M' in (x['recycle'] or {}).get('reason', '')" ||
    fail "grow: recycle reason: $(slot_field grow 0 recycle)"
file_has "$T/droverd.log" "pool grow slot 0: recycling pid $gpid: memory .* over memory_recycle 40M" ||
    fail "no recycling line for grow in the log"
finish_checks
