#!/bin/bash
# drover top: piped, a plain table each interval (-n COUNT, -d SECONDS) with
# one line per pool and its workers, CPU % and req/s from the second sample
# on, no line wider than 80 columns. On a terminal (tmux, 80x24), a
# full-screen view: keys sort (c), filter by pool (/), it survives a resize,
# and q quits with exit 0. And the verb is read-only: an unknown verb near it
# is never answered with "did you mean 'stop'".
. "$(dirname "$0")/lib.sh"

write_config <<EOF
[pool:echo]
command = $ECHO_WORKER
workers = 2
listen = $T/echo.sock

[pool:other]
command = /bin/sleep 1000
workers = 1
EOF
start_daemon
wait_for 10 "echo running" pool_running echo 2
wait_for 10 "other running" pool_running other 1

# ---- piped ------------------------------------------------------------------------
dv call echo hello >/dev/null || fail "call echo failed"
dv top -n 2 -d 0.3 >"$T/top.out" 2>"$T/top.err" || fail "top -n 2 failed: $(cat "$T/top.err")"
assert_eq "$(grep -c '^drover top: 2 pools, 3 workers' "$T/top.out")" 2 "frames of top -n 2"
grep -Eq '^echo +2 +2 ' "$T/top.out" || fail "no line for pool echo: $(cat "$T/top.out")"
grep -Eq '^other +1 +1 ' "$T/top.out" || fail "no line for pool other: $(cat "$T/top.out")"
pid=$(slot_field other 0 pid)
# The second frame has rates: CPU % as a number for the sleeping worker.
tail -n +2 "$T/top.out" | sed -n '/^drover top:/,$p' | grep -Eq "^ +0 +$pid running +[0-9.a-z]+ +0 +[0-9]+\.[0-9] " ||
    fail "second frame: no CPU % for other:0: $(cat "$T/top.out")"
awk 'length($0) > 80 {exit 1}' "$T/top.out" || fail "a line of top wider than 80 columns"
dv top other -n 1 | grep -q '^echo' && fail "top other shows pool echo"
expect_exit 2 "top with a bad -d" dv top -d 0
expect_exit 2 "an unknown verb" dv tpo
# top has no --json: the error names it, and as JSON since --json was asked.
expect_exit 2 "top --json" dv top --json -n 1
assert_contains "$RUN_OUT" '"error":"top: unknown option '"'"'--json'"'"' (top is a live view' "stdout of top --json"
assert_contains "$RUN_OUT" '"exit":2' "stdout of top --json"
expect_exit 2 "top with an unknown option" dv top --bogus
assert_contains "$RUN_ERR" "top: unknown option '--bogus'" "stderr of top --bogus"
assert_not_contains() { case "$1" in *"$2"*) fail "$3: '$1' contains '$2'" ;; esac; }
assert_not_contains "$RUN_ERR" "'stop'" "drover tpo's answer"

# ---- full screen, under tmux ------------------------------------------------------------
command -v tmux >/dev/null || { log "tmux not installed: the full-screen part is skipped"; exit 0; }
TM=(tmux -S "$T/tmux.sock")
on_exit '"${TM[@]}" kill-server 2>/dev/null'
"${TM[@]}" -f /dev/null new-session -d -x 80 -y 24 \
    "TERM=xterm $DROVER -s $SOCK top -d 0.3; echo top-exit=\$?; sleep 30"
screen() { "${TM[@]}" capture-pane -p; }
screen_has() { screen | grep -Eq -- "$1"; }
wait_for 10 "top on screen" screen_has '^drover top: 2 pools, 3 workers; sort: slot'
wait_for 10 "workers on screen" screen_has "^ +0 +$pid running"
screen_has '^q quit' || fail "no key help on the last line: $(screen)"
"${TM[@]}" send-keys c
wait_for 5 "sorted by cpu" screen_has 'sort: cpu'
"${TM[@]}" send-keys / other Enter
wait_for 5 "filtered to other" screen_has '^drover top: 1 pool, 1 worker; sort: cpu; pool filter: other'
screen_has '^echo ' && fail "filtered view still shows echo: $(screen)"
"${TM[@]}" resize-window -x 60 -y 12 2>/dev/null && {
    wait_for 5 "redrawn at 60 columns" screen_has '^q quit  c cpu'
    screen | awk 'length($0) > 60 {exit 1}' || fail "a line wider than the 60-column window"
}
"${TM[@]}" send-keys q
wait_for 5 "top quit with exit 0" screen_has '^top-exit=0$'
finish_checks
