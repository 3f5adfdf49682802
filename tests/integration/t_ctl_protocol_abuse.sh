#!/bin/bash
# Raw clients abuse the control socket: garbage, a wrong protocol version
# (answered with an error naming both versions), oversized and malformed
# frames, half a frame then silence, idle connections, 50 clients that never
# read a large reply. After each, droverd answers `drover status` promptly,
# a `logs -f` follower started before keeps working, and no worker is
# touched. The clients are in data-ctl/control_abuse.py.
. "$(dirname "$0")/lib.sh"
uses proc

proto_version=$(sed -n 's/^#define[[:space:]]*PROTO_VERSION[[:space:]]*\([0-9]*\).*/\1/p' "$SRC/common/proto.h")
max_request=$(sed -n 's/^#define[[:space:]]*PROTO_MAX_REQUEST[[:space:]]*(\([0-9]*\) \* \([0-9]*\)).*/\1*\2/p' "$SRC/common/proto.h")
read_timeout=$(sed -n 's/^#define[[:space:]]*CONTROL_READ_TIMEOUT_SEC[[:space:]]*\([0-9]*\).*/\1/p' "$SRC/daemon/control.h")
if [ -z "$proto_version" ] || [ -z "$max_request" ] || [ -z "$read_timeout" ]; then
    fail "cannot read the protocol limits from proto.h/control.h"
fi
max_request=$((max_request))

write_config <<EOF
[pool:w]
command = $SPEW_WORKER
workers = 2

[pool:r]
command = $SPEW_WORKER
workers = 1

[pool:big]
command = $SPEW_WORKER --lines 12000 --width 100
workers = 1
log_max_size = 64M
EOF
start_daemon
wait_for 10 "w running" pool_running w
wait_for 10 "r running" pool_running r
wait_for 10 "big wrote its lines" file_has "$T/log/big.log" '^\S+ \[0\] line 011999 x'
pids=$(pool_pids w)

# A well-behaved follower, connected through all of it. The log has a line
# first, so `-n 1` prints something the moment the follower is attached.
dv signal w USR2 >/dev/null || fail "signal failed"
wait_for 5 "the first tick in w.log" file_has "$T/log/w.log" 'tick 1 err w1'
wait_for 5 "the first tick in w.log" file_has "$T/log/w.log" 'tick 1 err w0'
dv logs w -f -n 1 >"$T/follow.out" 2>"$T/follow.err" &
follower=$!
track_pid "$follower"
wait_for 5 "follower attached" test -s "$T/follow.out"

python3 "$(dirname "$0")/data-ctl/control_abuse.py" "$DROVER" "$SOCK" "$proto_version" \
    "$max_request" "$read_timeout" big r || fail "control_abuse.py found problems (see above)"

alive "$DAEMON_PID" || fail "droverd died"
assert_eq "$(pool_pids w)" "$pids" "worker pids after the abuse"
alive "$follower" || fail "the logs -f follower was dropped: $(cat "$T/follow.err")"
dv signal w USR2 >/dev/null || fail "signal failed"
wait_for 5 "follower still sees new lines" grep -q 'tick 2 out w1' "$T/follow.out"
# The slow clients were dropped by the read timeout, and said so in droverd's log.
drops=$(grep -c 'reading the command timed out; dropped' "$T/droverd.log")
[ "$drops" -ge 52 ] || fail "droverd logged $drops read-timeout drops, expected at least 52"
rejected=$(dv metrics | sed -n 's/^drover_control_rejected_total //p')
[ "${rejected:-0}" -ge 9 ] || fail "drover_control_rejected_total is '$rejected' after 9 malformed frames"
# Control RSS stays sane once the stuck readers are gone (their replies freed).
rss_kb=$(rss_kb "$DAEMON_PID")
log "droverd RSS after the abuse: ${rss_kb} kB"
out=$(dv status w) || fail "status failed"
assert_contains "$out" "running" "status after the abuse"
kill "$follower"
wait "$follower" 2>/dev/null || true
