#!/bin/bash
# shutdown_delay, the drain a Kubernetes endpoint update needs: on SIGTERM /readyz answers 503
# at once (and `drover health` says droverd is shutting down) while /healthz stays 200 and
# droverd goes on serving: new connections are accepted and answered for the whole delay.
# A load running through the SIGTERM and stopped within the delay loses no request. Then the
# shutdown begins, and droverd exits 0 within shutdown_delay + shutdown_timeout, not before
# the delay. A second SIGTERM during the delay begins the shutdown at once.
. "$(dirname "$0")/lib.sh"
uses http route

PORT=$(free_port)
DELAY=$((8 * SLOWDOWN))
config() { # DELAY
    write_config <<EOF2
metrics_listen = 127.0.0.1:$PORT
shutdown_delay = ${1}s

[pool:web]
command = $ECHO_WORKER
workers = 2
listen = $T/web.sock
EOF2
}
config "$DELAY"
start_daemon
wait_for 10 "web running" pool_running web
wait_for 5 "/readyz 200" http_code_is "$PORT" /readyz 200

# A load of one connection per request, so new connections keep coming through the delay.
wc_start "$T/wc.out" -s "$T/web.sock" -c 4 -k 1 -t 60 -d 120
wait_for 10 "requests served" pool_route_ge web requests 200
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_for 2 "/readyz 503 right after SIGTERM" http_code_is "$PORT" /readyz 503
assert_eq "$(json_field "$T/http.body" '[r["what"] for r in j["reasons"]], j["shutting_down"]')" \
    "(['shutting-down'], True)" "/readyz reasons during shutdown_delay"
assert_eq "$(http_get "$PORT" /healthz "$T/hz")" 200 "GET /healthz during shutdown_delay"
expect_exit 1 "drover health during shutdown_delay" dv health
assert_contains "$RUN_OUT" "droverd is shutting down" "drover health during shutdown_delay"

before=$(pool_route web requests)
wait_for 5 "requests still served during the delay" pool_route_ge web requests $((before + 100))
expect_exit 0 "drover call on a new connection during the delay" dv call web hello
assert_eq "$RUN_OUT" hello "drover call answer during the delay"
assert_eq "$(status_json "s['daemon']['shutting_down']")" False "the shutdown has not begun yet"
elapsed=$(($(now_ms) - t0))
[ "$elapsed" -lt $((DELAY * 1000 - 500)) ] ||
    fail "the checks took ${elapsed} ms, too close to the ${DELAY}s delay to judge"
# The endpoint would be gone by now: the load stops, with every request answered.
wc_stop "$T/wc.out"
assert_eq "$(wc_get "$T/wc.out" failed)" 0 "failed requests through the delay"
assert_eq "$(wc_get "$T/wc.out" lost)" 0 "lost requests through the delay"
assert_eq "$(wc_get "$T/wc.out" connect_failed)" 0 "refused connections through the delay"
alive "$DAEMON_PID" || fail "droverd exited before shutdown_delay ran out"
wait_daemon_exit $((DELAY + 10 + 5))
took=$(($(now_ms) - t0))
assert_eq "$DAEMON_STATUS" 0 "droverd exit status after SIGTERM with a delay"
[ "$took" -ge $((DELAY * 1000 - 100)) ] || fail "droverd exited ${took} ms after SIGTERM, before the ${DELAY}s delay"
file_has "$T/droverd.log" "SIGTERM: not ready; the shutdown begins in [0-9hms]+ \(shutdown_delay\)" ||
    fail "no log line about the delay"

# A second SIGTERM during a long delay begins the shutdown at once.
config 600
start_daemon
wait_for 10 "web running" pool_running web
kill -TERM "$DAEMON_PID"
wait_for 2 "/readyz 503" http_code_is "$PORT" /readyz 503
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
wait_daemon_exit 15
assert_eq "$DAEMON_STATUS" 0 "exit status after two SIGTERMs"
file_has "$T/droverd.log" "SIGTERM during shutdown_delay: shutting down now" || fail "no log line about the second SIGTERM"
