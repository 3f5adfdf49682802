#!/bin/bash
# The load client itself (tests/helpers/workclient.c, shared by the tests and bench/):
# bad arguments exit 2 with a line naming the option, --help lists every option it
# takes, several targets and threads split the work and count it per target, the
# measured window starts after --warmup, SIGUSR1 ends the sending, -k 1 is one
# connection per request, and a wrong reply or an unreachable target is a failure.
. "$(dirname "$0")/lib.sh"
uses route

# --- usage: every bad argument is named, exit 2 ---
while read -r args; do
    # shellcheck disable=SC2086 # the words of one case
    expect_exit 2 "workclient $args" "$WORKCLIENT" $args
    [ -n "$RUN_ERR" ] || fail "workclient $args: exit 2 without a word on stderr"
    [ -z "$RUN_OUT" ] || fail "workclient $args: printed a summary: $RUN_OUT"
done <<'EOF2'
-c 2
-s /x extra
-s /x -c 0
-s /x -c -3
-s /x -T 0
-s /x -T 65
-s /x -p abc
-s /x -n 0
-s /x -z 999999999999
-s /x -t inf
-s /x -t -1
-s /x -w 1
-s /x -d 0
-s /x -r -f line
-s /x -a busy,foo
-s /x -e bad
-s /x --bogus
-s tcp:nohost
EOF2
expect_exit 2 "workclient -s /x -T 65" "$WORKCLIENT" -s /x -T 65
assert_contains "$RUN_ERR" "--threads"
expect_exit 2 "workclient -s /x -w 1" "$WORKCLIENT" -s /x -w 1
assert_contains "$RUN_ERR" "--warmup needs --duration"

# --- --help: exit 0, and it names every long option the parser takes ---
expect_exit 0 "workclient --help" "$WORKCLIENT" --help
for o in $(grep -o '{"[a-z-]*", [a-z_]*argument' "$SRC/tests/helpers/workclient.c" | cut -d'"' -f2); do
    assert_contains "$RUN_OUT" "--$o" "workclient --help to list"
done

write_config <<EOF2
[pool:len]
command = $ECHO_WORKER
workers = 2
listen = $T/len.sock

[pool:w0]
command = $ECHO_WORKER --listen $T/w0.sock
workers = 1

[pool:w1]
command = $ECHO_WORKER --listen $T/w1.sock
workers = 1
EOF2
start_daemon
for p in len w0 w1; do wait_for 10 "pool $p running" pool_running "$p"; done
wait_for 10 "the workers' own sockets" test -S "$T/w0.sock" -a -S "$T/w1.sock"

# --- two targets, two threads: the work is split, counted per target, and adds up ---
wc_run "$T/wc_two" -r -s "$T/w0.sock" -s "$T/w1.sock" -c 4 -T 2 -p 4 -n 4000 -l two
wc_clean "$T/wc_two" "two targets"
python3 - "$T/wc_two" <<'PY' || fail "two targets: $(cat "$T/wc_two")"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert s["label"] == "two" and s["proto"] == "plain", s
assert (s["targets"], s["clients"], s["threads"], s["pipeline"]) == (2, 4, 2, 4), s
assert s["ok"] == s["sent"] == s["requests"] == 4000, s
assert len(s["target_ok"]) == 2 and sum(s["target_ok"]) == 4000, s["target_ok"]
assert min(s["target_ok"]) > 0, s["target_ok"]  # connections 0, 2 on w0; 1, 3 on w1
assert s["connections"] == 4 and s["reconnects"] == 0, s
assert s["errors"]["total"] == 0 and s["rps"] > 0 and s["cpu_s"] > 0, s
l = s["lat_us"]
assert 0 < l["p50"] <= l["p90"] <= l["p99"] <= l["p999"] <= l["max"], l
PY
# No thread without a connection.
wc_run "$T/wc_one" -s "$T/len.sock" -c 1 -T 8 -n 100
assert_eq "$(wc_get "$T/wc_one" threads)" 1 "threads for one connection"

# --- the measured window: --duration after --warmup, and the drain of what was in flight ---
wc_run "$T/wc_win" -s "$T/len.sock" -c 2 -p 2 -t 1 -w 0.5
python3 - "$T/wc_win" <<'PY' || fail "window: $(cat "$T/wc_win")"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert 1.0 <= s["window_s"] < 6, s["window_s"]
assert abs(s["elapsed_s"] - s["window_s"] - 0.5) < 0.002, s
assert s["elapsed_s"] >= 1.5, s["elapsed_s"]
assert 0 < s["requests"] < s["ok"] == s["sent"], s  # the warm-up's replies are not in the window
assert abs(s["rps"] - s["requests"] / s["window_s"]) <= 1 + s["rps"] / 100, s
PY

# --- SIGUSR1 ends the sending; what is in flight is drained ---
before=$(pool_route len requests)
wc_start "$T/wc_usr1" -s "$T/len.sock" -c 2 -p 4 -t 60
wait_for 10 "workclient to be sending" pool_route_ge len requests $((before + 200))
wc_stop "$T/wc_usr1"
wc_clean "$T/wc_usr1" "stopped by SIGUSR1"
python3 - "$T/wc_usr1" <<'PY' || fail "SIGUSR1: $(cat "$T/wc_usr1")"
import json, sys
s = json.loads(open(sys.argv[1]).read())
assert 0 < s["window_s"] < 30, s["window_s"]
assert 0 < s["requests"] <= s["ok"], s
PY

# --- -k 1: a connection per request ---
wc_run "$T/wc_cpr" -r -k 1 -s "$T/w0.sock" -c 2 -n 300
assert_eq "$(wc_get "$T/wc_cpr" connections)" 300 "connections for 300 requests with -k 1"
assert_eq "$(wc_get "$T/wc_cpr" conn_per_request)" True "conn_per_request with -k 1"

# --- it fails when it should: a reply that is not the expected one, a target that is not there ---
expect_exit 1 "workclient expecting upper-case replies from an echo" \
    "$WORKCLIENT" -s "$T/len.sock" -e upper -n 50
echo "$RUN_OUT" >"$T/wc_upper"
[ "$(wc_get "$T/wc_upper" mismatched)" -gt 0 ] || fail "echo replies to -e upper not counted as mismatched: $RUN_OUT"
assert_eq "$(wc_get "$T/wc_upper" result)" fail "result with mismatches"
expect_exit 1 "workclient to a socket nobody listens on" "$WORKCLIENT" -s "$T/nobody.sock" -n 5 -d 1
echo "$RUN_OUT" >"$T/wc_nobody"
[ "$(wc_get "$T/wc_nobody" connect_failed)" -gt 0 ] || fail "refused connects not counted: $RUN_OUT"
assert_eq "$(wc_get "$T/wc_nobody" unsent)" 5 "requests never sent to a missing target"

finish_checks
