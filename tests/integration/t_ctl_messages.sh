#!/bin/bash
# Honest messages: `call` with a request over the pool's max_frame names the limit before
# sending (not "Broken pipe"); a config error names [pool:NAME] and errors come sorted by
# line; a crash limit of 1 says "more than 1 crash"; `logs -f` ends quietly with exit 0 when
# droverd shuts down; `shutdown` prints "droverd stopped". (Start of a running worker and
# stop of a stopped one: t_ctl_json_verbs.)
. "$(dirname "$0")/lib.sh"

# ---- config errors: [pool:NAME], sorted by line -------------------------------------------
cat >"$T/bad.ini" <<EOF2
[pool:alpha]
command = /bin/true
workerz = 2

[pool:beta]
comand = /bin/true
workers = -3
EOF2
expect_exit 1 "check of a bad file" "$DROVER" check -c "$T/bad.ini"
assert_contains "$RUN_ERR" "in [pool:alpha]" "unknown key names its pool"
assert_contains "$RUN_ERR" "in [pool:beta]" "unknown key names its pool"
case "$RUN_ERR" in *"[pool]"*) fail "an error still says [pool]: $RUN_ERR" ;; esac
lines=$(printf '%s\n' "$RUN_ERR" | sed -n 's|^[^:]*bad.ini:\([0-9]*\):.*|\1|p' | tr '\n' ' ')
[ "$(echo "$lines" | wc -w)" -ge 3 ] || fail "expected at least 3 errors with lines, got '$lines': $RUN_ERR"
assert_eq "$lines" "$(echo "$lines" | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')" \
    "errors sorted by line"

write_config <<EOF2
[pool:small]
command = $ECHO_WORKER
workers = 1
listen = $T/small.sock
max_frame = 1k

[pool:talk]
command = /bin/sh -c "echo up; exec sleep 1000"
workers = 1

[pool:once]
command = /bin/sh -c "exit 3"
workers = 1
restart_delay = 10ms
crash_limit = 1/60s
EOF2
start_daemon
wait_for 10 "small running" pool_running small
wait_for 20 "once fatal" state_is once 0 fatal

# ---- singular: more than 1 crash --------------------------------------------------------
info=$(slot_field once 0 info)
assert_contains "$info" "more than 1 crash in" "fatal INFO"
case "$info" in *"1 crashes"*) fail "INFO says '1 crashes': $info" ;; esac

# ---- call over max_frame ------------------------------------------------------------------
expect_exit 0 "call within max_frame" dv call small hello
assert_eq "$RUN_OUT" hello "call within max_frame replies"
head -c 5000 /dev/zero | tr '\0' x >"$T/big"
expect_exit 1 "call over max_frame" dv call small "$(cat "$T/big")"
assert_contains "$RUN_ERR" "the request is 5000 bytes" "call over max_frame says the size"
assert_contains "$RUN_ERR" "takes at most max_frame = 1024 bytes" "call over max_frame names the limit"
case "$RUN_ERR" in *"Broken pipe"*) fail "call over max_frame says Broken pipe" ;; esac

# ---- logs -f ends quietly; shutdown says so -----------------------------------------------
wait_for 10 "talk's line in its log" file_has "$T/log/talk.log" "up"
dv logs talk -f >"$T/follow.out" 2>"$T/follow.err" &
FOLLOW=$!
track_pid "$FOLLOW"
wait_for 10 "logs -f printed the line" file_has "$T/follow.out" " up$"
expect_exit 0 "shutdown" dv shutdown
assert_eq "$RUN_OUT" "droverd stopped" "shutdown says"
wait_for 10 "logs -f ended" dead "$FOLLOW"
wait "$FOLLOW"
rc=$?
assert_eq "$rc" 0 "logs -f exit status at shutdown"
assert_eq "$(cat "$T/follow.err")" "" "logs -f stderr at shutdown"
grep -q "droverd stopped" "$T/follow.out" && fail "logs -f printed droverd's farewell as a log line"
wait_daemon_exit 20
finish_checks
