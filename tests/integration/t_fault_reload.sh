#!/bin/bash
# Reload under load. Clients keep every routed pool busy (pipelining clients of
# three message pools: length framing, line framing, worker_inflight = 4; a
# connection-per-request client of a handoff pool) while:
#  - a config with errors is loaded by `drover reload` and by SIGHUP: nothing
#    changes (same pools, same pids), the errors are printed, and no client
#    sees a lost, failed or wrong reply;
#  - a config that changes every pool is loaded: commands and environments
#    (rolling restarts), worker counts up and down, limits applied in place, a
#    pool added and one removed. Message-mode clients lose nothing (the
#    workers being replaced answer what they hold first). Handoff has no such
#    promise (a connection belongs to the worker it was passed to, and a
#    stopped worker takes its connections with it), so the handoff client may
#    lose at most one connection per worker replaced (worker_inflight = 1),
#    and never gets a wrong reply.
. "$(dirname "$0")/lib.sh"
uses route

# conf VARIANT: the configuration; "a" to start with, "b" changes every pool.
conf() {
    local v=$1
    if [ "$v" = a ]; then
        write_config <<EOF2
[pool:ml]
command = $ECHO_WORKER
workers = 3
listen = $T/ml.sock
max_attempts = 3

[pool:mline]
command = $ECHO_WORKER
workers = 2
listen = $T/mline.sock
framing = line

[pool:mi]
command = $ECHO_WORKER
workers = 3
listen = $T/mi.sock
worker_inflight = 4
max_queue = 2048

[pool:ho]
command = $ECHO_WORKER
workers = 2
listen = $T/ho.sock
mode = handoff

[pool:sup]
command = $SPEW_WORKER
workers = 2

[pool:gone]
command = $SPEW_WORKER
workers = 1
EOF2
    else
        write_config <<EOF2
[pool:ml]
command = $ECHO_WORKER --work-us 0
workers = 4
listen = $T/ml.sock
max_attempts = 3

[pool:mline]
command = $ECHO_WORKER
workers = 2
listen = $T/mline.sock
framing = line
environment = RELOADED=1
request_timeout = 20s

[pool:mi]
command = $ECHO_WORKER
workers = 2
listen = $T/mi.sock
worker_inflight = 2
max_queue = 4096

[pool:ho]
command = $ECHO_WORKER --work-us 0
workers = 2
listen = $T/ho.sock
mode = handoff

[pool:sup]
command = $SPEW_WORKER --line-bytes 64
workers = 2

[pool:added]
command = $ECHO_WORKER
workers = 2
listen = $T/added.sock
EOF2
    fi
}
conf a
start_daemon
for p in ml:3 mline:2 mi:3 ho:2; do wait_for 10 "${p%:*} running" pool_running "${p%:*}" "${p#*:}"; done
wait_for 10 "sup running" pool_running sup
wait_for 10 "gone running" pool_running gone
all_pids() { status_json "' '.join('%s:%s' % (p['name'], x['pid']) for p in s['pools'] for x in p['slots'])"; }
pids_a=$(all_pids)
reloads0=$(metric drover_reloads_total)
failures0=$(metric drover_reload_failures_total)

# start_load TAG: clients on every pool, sending until wait_load TAG (at most 40 s).
start_load() {
    local tag=$1 secs=40
    wc_start "$T/wc_ml_$tag" -s "$T/ml.sock" -c 4 -p 8 -z 100 -t "$secs" -d 60
    WC_ML=$WC_PID
    wc_start "$T/wc_mline_$tag" -s "$T/mline.sock" -f line -c 2 -p 8 -z 100 -t "$secs" -d 60
    WC_MLINE=$WC_PID
    wc_start "$T/wc_mi_$tag" -s "$T/mi.sock" -c 4 -p 16 -z 100 -t "$secs" -d 60
    WC_MI=$WC_PID
    wc_start "$T/wc_ho_$tag" -s "$T/ho.sock" --raw -k 1 -c 4 -z 100 -t "$secs" -d 60 -a lost
    WC_HO=$WC_PID
}
# wait_load TAG: end the clients' sending, wait for them (their summaries are
# checked by the caller).
wait_load() {
    local tag=$1 w
    for w in "ml:$WC_ML" "mline:$WC_MLINE" "mi:$WC_MI" "ho:$WC_HO"; do wc_end_sending "${w#*:}"; done
    for w in "ml:$WC_ML" "mline:$WC_MLINE" "mi:$WC_MI" "ho:$WC_HO"; do
        wait "${w#*:}" || true
        log "$tag, ${w%:*}: $(cat "$T/wc_${w%:*}_$tag")"
    done
}

# --- a config with errors, under load ---
start_load bad
wait_for 10 "load on ml" pool_route_ge ml requests $((5000 / SLOWDOWN))
cp "$CONF" "$T/good.ini"
cat >>"$CONF" <<EOF2
[pool:broken]
comand = $ECHO_WORKER
workers = lots
listen = $T/broken.sock
framing = morse
EOF2
run_capture dv reload
[ "$RUN_RC" = 1 ] || fail "reload of a bad config: exit $RUN_RC (stdout: $RUN_OUT)"
log "reload of a bad config says: $(tr '\n' '|' <<<"$RUN_ERR$RUN_OUT")"
assert_contains "$RUN_ERR$RUN_OUT" "drover.ini:" "reload errors name the file"
assert_contains "$RUN_ERR$RUN_OUT" "comand" "reload errors name the bad key"
kill -HUP "$DAEMON_PID"
hup_failed() { [ "$(metric drover_reload_failures_total)" -ge $((failures0 + 2)) ]; }
wait_for 5 "the SIGHUP reload to fail too" hup_failed
wait_load bad
for p in ml mline mi; do wc_clean "$T/wc_${p}_bad" "$p during the bad reloads"; done
assert_eq "$(wc_get "$T/wc_ho_bad" lost)" 0 "ho connections lost during the bad reloads"
wc_clean "$T/wc_ho_bad" "ho during the bad reloads"
assert_eq "$(all_pids)" "$pids_a" "pools and pids after the bad reloads"
has_pool broken && fail "a pool of the bad config appeared"
assert_eq "$(metric drover_reloads_total)" "$reloads0" "reloads applied after the bad ones"

# --- a config that changes every pool, under load ---
conf b
start_load good
base=$(pool_route ml requests)
wait_for 10 "load on ml" pool_route_ge ml requests $((base + 5000 / SLOWDOWN))
t0=$(now_ms)
run_capture dv reload
[ "$RUN_RC" = 0 ] || fail "reload: exit $RUN_RC: $RUN_ERR"
log "reload ($(($(now_ms) - t0)) ms) says:"
printf '%s\n' "$RUN_OUT" >&2
for p in ml mline mi ho sup added gone; do
    grep -q "$p" <<<"$RUN_OUT" || fail "reload did not report a change for pool $p"
done
wait_for 20 "ml: 4 new workers" pool_running ml 4
wait_for 20 "mi: 2 workers" pool_running mi 2
wait_for 20 "added running" pool_running added 2
rolled() {
    [ "$(status_json "all(str(x['pid']) not in '$pids_a'.replace(':', ' ').split() and x['state'] == 'running' for p in s['pools'] if p['name'] in ('ml', 'mline', 'ho', 'sup') for x in p['slots'])")" = True ]
}
wait_for 30 "every worker of ml, mline, ho and sup replaced" rolled
gone_removed() { [ "$(status_json "any(p['name'] == 'gone' for p in s['pools'])")" = False ]; }
wait_for 10 "gone removed" gone_removed
wait_load good
for p in ml mline mi; do wc_clean "$T/wc_${p}_good" "$p during the reload of every pool"; done
ho_lost=$(wc_get "$T/wc_ho_good" lost)
for k in duplicated mismatched unanswered unexpected malformed other_error connect_failed; do
    assert_eq "$(wc_get "$T/wc_ho_good" "$k")" 0 "ho during the reload: workclient $k"
done
log "ho: $ho_lost connection(s) cut by the rolling restart of 2 handoff workers"
[ "$ho_lost" -le 2 ] || fail "ho lost $ho_lost connections; each of the 2 replaced workers held at most 1"
assert_eq "$(metric drover_reloads_total)" "$((reloads0 + 1))" "reloads applied"
for p in ml mline mi; do assert_eq "$(pool_route "$p" failed)" 0 "$p requests failed"; done
grep -q RELOADED=1 "/proc/$(slot_field mline 0 pid)/environ" || fail "mline's new environment did not reach its workers"
# Everything serves afterwards.
wc_run "$T/wc_added" -s "$T/added.sock" -c 2 -p 4 -n 1000
wc_run "$T/wc_ml_after" -s "$T/ml.sock" -c 2 -p 4 -n 1000
