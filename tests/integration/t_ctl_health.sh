#!/bin/bash
# `drover health` and GET /healthz, /readyz before, during and after a fatal slot:
# healthy exits 0 and /readyz answers 200; a fatal slot makes health exit 1 naming the pool
# and the slot (text and --json) and /readyz answer 503 with the same reasons, while /healthz
# stays 200 (the loop turns); `drover health POOL` judges one pool; once the slot runs again
# everything is healthy again. A slot the operator stopped is not wanted and not a reason.
# An unknown path is 404, and /metrics says drover_healthy.
. "$(dirname "$0")/lib.sh"
uses http

PORT=$(free_port)
write_config <<EOF2
metrics_listen = 127.0.0.1:$PORT

[pool:web]
command = $ECHO_WORKER
workers = 2
listen = $T/web.sock

[pool:flaky]
command = /bin/sh -c "test -e $T/broken && exit 7; exec sleep 1000"
workers = 1
restart_delay = 10ms
crash_limit = 2/60s
EOF2
start_daemon
wait_for 10 "web running" pool_running web
wait_for 10 "flaky running" pool_running flaky

# ---- before: healthy ----------------------------------------------------------------
# A worker counts as started once it has stayed up for start_grace (1 s by default).
is_healthy() { dv health >/dev/null 2>&1; }
wait_for 10 "every worker started" is_healthy
expect_exit 0 "drover health when healthy" dv health
assert_contains "$RUN_OUT" "healthy: 2 pools, 3 workers running" "drover health says"
dv health --json >"$T/h.json" || fail "drover health --json exited $?"
assert_eq "$(json_field "$T/h.json" 'j["healthy"], j["shutting_down"], len(j["reasons"])')" \
    "(True, False, 0)" "health --json when healthy"
assert_eq "$(json_field "$T/h.json" '[(p["name"], p["workers"], p["wanted"], p["running"]) for p in j["pools"]]')" \
    "[('web', 2, 2, 2), ('flaky', 1, 1, 1)]" "health --json pools"
assert_eq "$(http_get "$PORT" /healthz "$T/hz")" 200 "GET /healthz"
assert_eq "$(json_field "$T/hz" 'j["status"]')" ok "/healthz body"
assert_eq "$(http_get "$PORT" /readyz "$T/rz")" 200 "GET /readyz when healthy"
assert_eq "$(json_field "$T/rz" 'j["healthy"]')" True "/readyz body when healthy"
for path in /nope /healthz/x /readyzz /; do
    assert_eq "$(http_get "$PORT" "$path" "$T/nf")" 404 "GET $path"
done
dv metrics | grep -qx 'drover_healthy 1' || fail "drover_healthy is not 1 when healthy"
# A worker not yet past start_grace is not started: whatever state it is in, not healthy.
expect_exit 0 "restart web:0 without waiting" dv restart web:0 --no-wait
expect_exit 1 "drover health right after a restart" dv health
assert_contains "$RUN_OUT" "pool web slot 0: " "drover health names the restarting worker"
wait_for 10 "web:0 started again" is_healthy

# ---- during: a fatal slot -------------------------------------------------------------
touch "$T/broken"
expect_exit 0 "restart flaky" dv restart flaky --no-wait
wait_for 20 "flaky:0 fatal" state_is flaky 0 fatal
expect_exit 1 "drover health with a fatal slot" dv health
assert_contains "$RUN_OUT" "pool flaky slot 0: fatal" "drover health names the pool and slot"
assert_contains "$RUN_OUT" "exit 7" "drover health gives the last exit"
assert_eq "$(echo "$RUN_OUT" | wc -l)" 1 "one line per reason"
expect_exit 0 "drover health web (the healthy pool alone)" dv health web
expect_exit 1 "drover health flaky" dv health flaky
expect_exit 1 "drover health no-such-pool" dv health nosuch
run_capture dv health --json
assert_eq "$RUN_RC" 1 "health --json exit status with a fatal slot"
echo "$RUN_OUT" >"$T/h.json"
assert_eq "$(json_field "$T/h.json" '[(r["pool"], r["slot"], r["what"]) for r in j["reasons"]], j["healthy"]')" \
    "([('flaky', 0, 'fatal')], False)" "health --json reasons with a fatal slot"
assert_eq "$(http_get "$PORT" /readyz "$T/rz")" 503 "GET /readyz with a fatal slot"
assert_eq "$(json_field "$T/rz" '[(r["pool"], r["slot"], r["what"]) for r in j["reasons"]]')" \
    "[('flaky', 0, 'fatal')]" "/readyz reasons with a fatal slot"
assert_eq "$(http_get "$PORT" /healthz "$T/hz")" 200 "GET /healthz with a fatal slot (droverd itself is fine)"
dv metrics | grep -qx 'drover_healthy 0' || fail "drover_healthy is not 0 with a fatal slot"

# ---- after: the slot runs again ---------------------------------------------------------
rm -f "$T/broken"
expect_exit 0 "start flaky:0" dv start flaky:0
wait_for 10 "flaky running again" pool_running flaky
expect_exit 0 "drover health after the fix" dv health
wait_for 5 "/readyz 200 after the fix" http_code_is "$PORT" /readyz 200

# ---- a stopped slot is not wanted -------------------------------------------------------
expect_exit 0 "stop flaky" dv stop flaky
expect_exit 0 "drover health with a pool the operator stopped" dv health
dv health --json >"$T/h.json"
assert_eq "$(json_field "$T/h.json" '[(p["name"], p["wanted"], p["running"]) for p in j["pools"]]')" \
    "[('web', 2, 2), ('flaky', 0, 0)]" "health --json with flaky stopped"
assert_eq "$(http_get "$PORT" /readyz "$T/rz")" 200 "GET /readyz with a pool the operator stopped"

alive "$DAEMON_PID" || fail "droverd died"
