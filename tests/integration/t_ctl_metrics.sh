#!/bin/bash
# drover metrics: the exposition passes `promtool check metrics` and has,
# per pool and worker, state, restarts, exits by cause and uptime, with
# values that match what happened. With metrics_listen, GET /metrics over
# HTTP serves the same families; other paths are 404.
. "$(dirname "$0")/lib.sh"

# promtool from $SRC/.tools (scripts/deps.sh --test), else PATH.
PROMTOOL=$SRC/.tools/promtool
[ -x "$PROMTOOL" ] || PROMTOOL=$(command -v promtool) ||
    fail "promtool not found in $SRC/.tools or PATH (run scripts/deps.sh --test)"
# A TCP port on 127.0.0.1 that nobody listens on right now.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
write_config <<EOF
metrics_listen = tcp:127.0.0.1:$PORT

[pool:w]
command = $SPEW_WORKER
workers = 2

[pool:err]
command = /bin/sh -c 'exit 4'
workers = 1
restart = never

[pool:clean]
command = /bin/true
workers = 1
restart = on-failure

[pool:loop]
command = /bin/sh -c 'exit 5'
workers = 1
restart_delay = 30s
restart_delay_max = 60s

[pool:echo]
command = $ECHO_WORKER
workers = 1
listen = $T/echo.sock
EOF
start_daemon
wait_for 10 "w running" pool_running w
wait_for 10 "echo running" pool_running echo
wait_for 10 "err stopped" state_is err 0 stopped
wait_for 10 "clean stopped" state_is clean 0 stopped
wait_for 10 "loop backing off" state_is loop 0 backoff
w1=$(slot_field w 1 pid)
kill -KILL "$w1"
wait_for 5 "w slot 1 restarted" pid_changed w 1 "$w1"
wait_for 5 "w running again" pool_running w
assert_eq "$(dv call echo hello)" "hello" "call through the echo pool"

dv metrics >"$T/cli.prom" || fail "drover metrics failed"
"$PROMTOOL" check metrics <"$T/cli.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics rejects drover metrics: $(cat "$T/promtool.out")"

# value FILE 'SERIES': the value of one series (exact name and labels), or nothing.
value() { awk -v s="$2" '$1 == s {print $2}' "$1"; }
expect_value() {
    local got
    got=$(value "$T/cli.prom" "$1")
    assert_eq "$got" "$2" "$1"
}
expect_value 'drover_up' 1
expect_value 'drover_pool_workers{pool="w"}' 2
expect_value 'drover_pool_workers_by_state{pool="w",state="running"}' 2
expect_value 'drover_pool_workers_by_state{pool="loop",state="backoff"}' 1
expect_value 'drover_pool_workers_by_state{pool="err",state="stopped"}' 1
expect_value 'drover_worker_state{pool="w",slot="0",state="running"}' 1
expect_value 'drover_worker_state{pool="w",slot="0",state="stopped"}' 0
expect_value 'drover_worker_state{pool="loop",slot="0",state="backoff"}' 1
expect_value 'drover_worker_restarts_total{pool="w",slot="0"}' 0
expect_value 'drover_worker_restarts_total{pool="w",slot="1"}' 1
expect_value 'drover_worker_restarts_total{pool="loop",slot="0"}' 1
expect_value 'drover_pool_exits_total{pool="w",cause="signal"}' 1
expect_value 'drover_pool_exits_total{pool="w",cause="clean"}' 0
expect_value 'drover_pool_exits_total{pool="err",cause="error"}' 1
expect_value 'drover_pool_exits_total{pool="clean",cause="clean"}' 1
expect_value 'drover_pool_exits_total{pool="loop",cause="error"}' 2
expect_value 'drover_pool_starts_total{pool="w"}' 3
expect_value 'drover_pool_requests_total{pool="echo"}' 1
# Uptime: a running worker has some, a stopped one has none.
python3 - "$T/cli.prom" <<'PY' || fail "uptime series are wrong"
import sys
v = {}
for line in open(sys.argv[1]):
    if line.startswith("drover_worker_uptime_seconds{"):
        name, val = line.rsplit(" ", 1)
        v[name] = float(val)
assert 0 < v['drover_worker_uptime_seconds{pool="w",slot="0"}'] < 120, v
assert v['drover_worker_uptime_seconds{pool="err",slot="0"}'] == 0, v
PY
for fam in drover_worker_state drover_worker_restarts_total drover_pool_exits_total \
    drover_worker_uptime_seconds drover_pool_workers_by_state drover_request_duration_seconds; do
    grep -q "^# TYPE $fam " "$T/cli.prom" || fail "family $fam missing from drover metrics"
done

# ---- over HTTP ---------------------------------------------------------------------
python3 - "$PORT" "$T/http.prom" <<'PY' || fail "the HTTP metrics endpoint misbehaves"
import sys, urllib.request, urllib.error
port, out = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s" % port
with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
    assert r.status == 200, r.status
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/plain"), ctype
    open(out, "wb").write(r.read())
for path in ("/", "/metricsx", "/other", "/metrics/extra"):
    try:
        urllib.request.urlopen(base + path, timeout=5)
        sys.exit("GET %s did not fail" % path)
    except urllib.error.HTTPError as e:
        assert e.code == 404, "GET %s: %d" % (path, e.code)
try:
    urllib.request.urlopen(urllib.request.Request(base + "/metrics", data=b"x", method="POST"), timeout=5)
    sys.exit("POST /metrics did not fail")
except urllib.error.HTTPError as e:
    assert 400 <= e.code < 500, "POST /metrics: %d" % e.code  # 405, or 413 for the body
PY
"$PROMTOOL" check metrics <"$T/http.prom" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics rejects /metrics: $(cat "$T/promtool.out")"
assert_eq "$(grep '^# TYPE' "$T/http.prom")" "$(grep '^# TYPE' "$T/cli.prom")" "families over HTTP and from drover metrics"
# The same series too (values such as uptime move; the names and labels do not).
assert_eq "$(grep -v '^#' "$T/http.prom" | awk '{print $1}')" "$(grep -v '^#' "$T/cli.prom" | awk '{print $1}')" "series over HTTP and from drover metrics"
if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope") || fail "curl failed"
    assert_eq "$code" 404 "curl of an unknown path"
fi
alive "$DAEMON_PID" || fail "droverd died"
