#!/bin/bash
# Soak: pipelining clients against two message-mode pools (length framing;
# line framing with worker_inflight = 4) and connection-serving clients
# against a handoff pool, for DROVER_SOAK_SECONDS (default 110, which keeps
# the whole test near 2 minutes, inside ctest's 180 s; 15 when ASAN_OPTIONS
# or DROVER_VALGRIND says this is a sanitizer pass), while a killer
# SIGKILLs a random worker of the three pools every 50 ms. Every reply is
# checked against its request (workclient). Once a second droverd's RSS, open
# fds and `drover status` latency are sampled.
#
# It fails on any lost, duplicated, mismatched or unanswered reply in the
# message pools; in the handoff pool a killed worker may take the
# connections it held with it (protocol.md), so there at most
# worker_inflight (2) per kill may be cut, and no reply may be wrong. It
# fails on growth: droverd's RSS in the second half of the run may not pass
# the first half's peak by more than 2 MiB, the fds it holds at rest after
# the run must equal those before, and no status call may take over 2 s.
#
# Longer: DROVER_SOAK_SECONDS=3600 ctest --test-dir build -R t_soak --timeout 4000
# (or run this script with BIN=build/bin). DROVER_SOAK_REPORT=FILE appends
# the figures as one JSON line to FILE.
. "$(dirname "$0")/lib.sh"
uses route fault

if [ -n "${DROVER_SOAK_SECONDS:-}" ]; then
    SOAK=$DROVER_SOAK_SECONDS
elif [ -n "${ASAN_OPTIONS:-}${DROVER_VALGRIND:-}" ]; then
    SOAK=15 # the sanitizer passes of scripts/test.sh look for memory errors, not endurance
else
    SOAK=110
fi
KILL_EVERY=0.05
RSS_GROWTH_KB=2048
STATUS_MAX_MS=$((2000 * SLOWDOWN))

write_config <<EOF2
[pool:len]
command = $ECHO_WORKER
workers = 4
listen = $T/len.sock
max_attempts = 10
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none

[pool:line]
command = $ECHO_WORKER
workers = 4
listen = $T/line.sock
framing = line
worker_inflight = 4
max_attempts = 10
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none

[pool:ho]
command = $ECHO_WORKER
workers = 3
listen = $T/ho.sock
mode = handoff
worker_inflight = 2
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
EOF2
start_daemon
wait_for 10 "len running" pool_running len 4
wait_for 10 "line running" pool_running line 4
wait_for 10 "ho running" pool_running ho 3
# Warm up every code path once, then take the resting figures.
wc_run "$T/wc_warm_len" -s "$T/len.sock" -c 4 -p 8 -n 5000
wc_run "$T/wc_warm_line" -s "$T/line.sock" -f line -c 4 -p 8 -n 5000
wc_run "$T/wc_warm_ho" -s "$T/ho.sock" --raw -k 10 -c 4 -n 2000
fds_rest0=$(fd_count_settled "$DAEMON_PID")
rss_rest0=$(rss_kb "$DAEMON_PID")
log "soak: ${SOAK}s, a kill every ${KILL_EVERY}s; droverd at rest: ${rss_rest0} kB RSS, ${fds_rest0} fds"

# --- the load, the killer, the sampler ---
dl=$((SOAK + 60))
wcs=()
start_wc() { wc_start "$@"; wcs+=("$1:$WC_PID"); }
start_wc "$T/wc_len" -s "$T/len.sock" -c 8 -p 8 -z 200 -t "$SOAK" -d "$dl"
start_wc "$T/wc_len_churn" -s "$T/len.sock" -c 4 -p 4 -z 64 -k 50 -t "$SOAK" -d "$dl"
start_wc "$T/wc_line" -s "$T/line.sock" -f line -c 4 -p 16 -z 200 -t "$SOAK" -d "$dl"
start_wc "$T/wc_ho" -s "$T/ho.sock" --raw -k 20 -c 6 -z 200 -t "$SOAK" -d "$dl" -a lost
kill_loop "$SOAK" "$KILL_EVERY" len line ho >"$T/kills" &
killer=$!
track_pid $killer
# The clients and workers keep both CPUs busy: the killer must still keep its pace.
renice -n -10 -p "$killer" >/dev/null 2>&1 || true
t0=$(now_ms)
: >"$T/samples"
end=$((t0 + SOAK * 1000))
while [ "$(now_ms)" -lt "$end" ]; do
    ts=$(now_ms)
    st=$(time_ms timeout 30 "$DROVER" -s "$SOCK" status)
    echo "$(((ts - t0) / 1000)) $(rss_kb "$DAEMON_PID") $(fd_count "$DAEMON_PID") $st" >>"$T/samples"
    left=$((1000 - ($(now_ms) - ts)))
    [ "$left" -gt 0 ] && sleep "$(printf '0.%03d' "$left")"
done
wait $killer
kills=$(cat "$T/kills")
for w in "${wcs[@]}"; do
    rc=0
    wait "${w#*:}" || rc=$?
    log "$(basename "${w%:*}"): exit $rc: $(cat "${w%:*}")"
done
alive "$DAEMON_PID" || fail "droverd died during the soak"

# --- after the load: everything back at rest ---
wait_for 20 "len running" pool_running len 4
wait_for 20 "line running" pool_running line 4
wait_for 20 "ho running" pool_running ho 3
at_rest() {
    [ "$(status_json "all(p['route']['queued'] == 0 and p['route']['inflight'] == 0 and p['route']['connections'] == 0 for p in s['pools'])")" = True ]
}
wait_for 20 "nothing queued, in flight or connected" at_rest
wait_for 5 "no zombie child of droverd" no_zombies_of "$DAEMON_PID"
fds_rest1=$(fd_count_settled "$DAEMON_PID")
rss_rest1=$(rss_kb "$DAEMON_PID")

# --- the figures (one pass: python3 starts slowly on a busy machine) ---
retried=$(($(pool_route len retries) + $(pool_route line retries)))
d_failed=$(($(pool_route len failed) + $(pool_route line failed)))
restarts=$(($(slot_sum len restarts) + $(slot_sum line restarts) + $(slot_sum ho restarts)))
eval "$(python3 - "$T" "$SOAK" "$kills" "$restarts" "$retried" "$d_failed" \
    "$rss_rest0" "$rss_rest1" "$fds_rest0" "$fds_rest1" <<'PY'
import json, sys
T = sys.argv[1]
soak, kills, restarts, retried, d_failed, rss0, rss1, fds0, fds1 = map(int, sys.argv[2:])
wc = lambda n: json.loads(open("%s/wc_%s" % (T, n)).read().strip().splitlines()[-1])
msg = [wc(n) for n in ("len", "len_churn", "line")]
ho = wc("ho")
tot = lambda k: sum(w[k] for w in msg)
samples = [l.split() for l in open(T + "/samples") if l.strip()]
half = soak // 2
rss_a = max([int(x[1]) for x in samples if 5 <= int(x[0]) < half] or [0])
rss_b = max([int(x[1]) for x in samples if int(x[0]) >= half] or [0])
st = [x[3] for x in samples]
st_ok = [int(v) for v in st if not v.startswith("fail")]
summary = {
    "seconds": soak, "kills": kills, "restarts": restarts,
    "message": {"sent": tot("sent"), "answered": tot("answered"), "ok": tot("ok"),
                "retried": retried, "failed": tot("failed") + tot("timeout"),
                "failed_by_droverd": d_failed, "lost": tot("lost"), "unanswered": tot("unanswered"),
                "duplicated": tot("duplicated"), "mismatched": tot("mismatched"),
                "rps": round(sum(w["rps"] for w in msg)), "p99_us_max": max(w["ok_p99_us"] for w in msg),
                "max_us": max(w["ok_max_us"] for w in msg)},
    "handoff": {"requests": ho["sent"], "ok": ho["ok"], "connections": ho["connections"],
                "cut": ho["lost"], "mismatched": ho["mismatched"], "duplicated": ho["duplicated"]},
    "droverd": {"rss_rest_kb": [rss0, rss1], "rss_peak_kb_halves": [rss_a, rss_b],
                "fds_rest": [fds0, fds1], "fds_peak": max(int(x[2]) for x in samples),
                "status_calls": len(st), "status_failed": len(st) - len(st_ok),
                "status_max_ms": max(st_ok or [0])},
}
print("summary='%s'" % json.dumps(summary, separators=(",", ":")))
for k, v in (("m_ok", tot("ok")), ("h_lost", ho["lost"]), ("rss_h1", rss_a), ("rss_h2", rss_b),
             ("st_fail", len(st) - len(st_ok)), ("st_max", max(st_ok or [0]))):
    print("%s=%d" % (k, v))
PY
)" || fail "cannot compute the soak's figures"
log "summary: $summary"
echo "$summary"
[ -n "${DROVER_SOAK_REPORT:-}" ] && echo "$summary" >>"$DROVER_SOAK_REPORT"

# --- the verdicts ---
for f in wc_len wc_len_churn wc_line; do wc_clean "$T/$f" "$f"; done
# Handoff: only connections held by a killed worker may be cut (-p 1: one request each).
grep -q '"result":"pass"' "$T/wc_ho" || fail "handoff client: $(cat "$T/wc_ho")"
[ "$h_lost" -le $((kills * 2)) ] || fail "handoff: $h_lost connections cut by $kills kills (worker_inflight = 2)"
assert_eq "$d_failed" 0 "requests droverd answered FAILED/TIMEOUT"
[ "$kills" -ge $((SOAK * 2)) ] || fail "only $kills kills in ${SOAK}s"
[ "$retried" -gt 0 ] || fail "no request was retried: the kills never hit work in flight"
[ "$m_ok" -ge $((SOAK * 1000 / SLOWDOWN)) ] || fail "only $m_ok message requests in ${SOAK}s"
[ "$st_fail" = 0 ] || fail "$st_fail status calls failed during the soak"
[ "$st_max" -le "$STATUS_MAX_MS" ] || fail "a status call took ${st_max} ms during the soak (bound ${STATUS_MAX_MS} ms)"
[ "$RSS_CHECKS" = 0 ] || [ "$rss_h2" -le $((rss_h1 + RSS_GROWTH_KB)) ] ||
    fail "droverd's RSS grew: peak ${rss_h1} kB in the first half, ${rss_h2} kB in the second (bound +${RSS_GROWTH_KB} kB)"
assert_eq "$fds_rest1" "$fds_rest0" "droverd's fds at rest, after the soak vs before"
