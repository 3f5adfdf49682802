#!/bin/bash
# `drover status` fits a terminal: the pool summary comes first, then the workers; no line ends
# in blanks; with a fatal slot's long INFO every line fits 80 columns when stdout is not a
# terminal (and $COLUMNS when set), cut with "..."; --wide and --json keep the full text;
# `status --pools` prints the summary alone; `status POOL:SLOT` and `logs POOL:SLOT` show that
# one worker (its lines only, -n counting them); `logs all` merges every pool's lines. CPU: a worker that burned CPU at first and
# now sleeps has a high lifetime cpu_percent but a recent one near 0 (cpu_percent_recent,
# measured since the previous status call), and the text CPU column shows the recent one.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:web]
command = $ECHO_WORKER
workers = 2
listen = $T/web.sock

[pool:talk]
command = /bin/sh -c 'echo "worker \$DROVER_WORKER a"; echo "worker \$DROVER_WORKER b"; exec sleep 1000'
workers = 3

[pool:burn]
command = /bin/sh -c 'i=0; while [ \$i -lt 400000 ]; do i=\$((i + 1)); done; touch $T/burnt; exec sleep 1000'
workers = 1

[pool:a_pool_with_a_rather_long_name_to_widen_rows]
command = /bin/sh -c "exit 3"
workers = 1
restart_delay = 10ms
crash_limit = 1/10m
EOF2
start_daemon
LONG=a_pool_with_a_rather_long_name_to_widen_rows
wait_for 10 "web running" pool_running web
wait_for 20 "the long pool's slot fatal" state_is "$LONG" 0 fatal

dv status >"$T/st.txt" || fail "drover status exited $?"
max=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/st.txt")
[ "$max" -le 80 ] || fail "status is $max columns wide (over 80):"$'\n'"$(cat "$T/st.txt")"
grep -n ' $' "$T/st.txt" && fail "status lines end in blanks"
grep -q '\.\.\.$' "$T/st.txt" || fail "no line was cut with '...':"$'\n'"$(cat "$T/st.txt")"
first=$(head -1 "$T/st.txt" | awk '{print $1, $2}')
assert_eq "$first" "POOL WORKERS" "the first table is the pool summary"
grep -q '^POOL  *SLOT' "$T/st.txt" || fail "no worker table after the summary"
[ "$(grep -n '^POOL  *WORKERS' "$T/st.txt" | cut -d: -f1)" -lt "$(grep -n '^POOL  *SLOT' "$T/st.txt" | cut -d: -f1)" ] ||
    fail "the summary is not before the workers"

COLUMNS=100 dv status >"$T/st100.txt" || fail "drover status exited $?"
max=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$T/st100.txt")
[ "$max" -le 100 ] && [ "$max" -gt 80 ] || fail "with COLUMNS=100 status is $max columns wide"

info=$(slot_field "$LONG" 0 info)
dv status --wide >"$T/wide.txt" || fail "drover status --wide exited $?"
grep -qF -- "$info" "$T/wide.txt" || fail "status --wide lacks the full INFO '$info'"
grep -n ' $' "$T/wide.txt" && fail "status --wide lines end in blanks"
assert_contains "$info" "drover start $LONG:0" "--json keeps the full INFO"

dv status --pools >"$T/pools.txt" || fail "drover status --pools exited $?"
grep -q '^POOL  *SLOT' "$T/pools.txt" && fail "status --pools shows workers"
assert_eq "$(grep -c "^web " "$T/pools.txt")" 1 "status --pools has web's summary row"

dv status web:1 >"$T/one.txt" || fail "drover status web:1 exited $?"
assert_eq "$(awk '$1 == "web" && $2 ~ /^[0-9]+$/ {print $2}' "$T/one.txt")" 1 "status web:1 shows slot 1 only"
expect_exit 1 "status of a slot that does not exist" dv status web:7
assert_contains "$RUN_ERR" "pool web has no slot 7" "status web:7"
talk_logged() { [ "$(grep -c worker "$T/log/talk.log" 2>/dev/null)" = 6 ]; }
wait_for 10 "every talk line logged" talk_logged
dv logs talk:1 >"$T/l1.txt" || fail "drover logs talk:1 exited $?"
assert_eq "$(sed 's/^[^ ]* //' "$T/l1.txt" | tr '\n' '|')" "[1] worker 1 a|[1] worker 1 b|" "logs talk:1"
dv logs talk:2 -n 1 --json >"$T/l2.txt" || fail "drover logs talk:2 --json exited $?"
assert_eq "$(python3 -c 'import json,sys; print([(d["slot"], d["line"]) for d in map(json.loads, open(sys.argv[1]))])' "$T/l2.txt")" \
    "[(2, 'worker 2 b')]" "logs talk:2 -n 1 --json"
wait_for 60 "burn's busy phase over" test -e "$T/burnt"
slot_field burn 0 cpu_percent_recent >/dev/null # a first sample
sleep_window() { local t0; t0=$(now_ms); while [ $(($(now_ms) - t0)) -lt 500 ]; do sleep 0.1; done; }
sleep_window
dv status --json >"$T/cpu.json" || fail "status --json exited $?"
read -r cpu recent window < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
x = next(x for p in s["pools"] if p["name"] == "burn" for x in p["slots"])
print(x["cpu_seconds"], x["cpu_percent_recent"], x["cpu_recent_window_seconds"])' "$T/cpu.json")
# The busy phase spent >= 0.1 s of CPU (lifetime figure above 0); the window after it almost none.
python3 -c "import sys; c, r, w = map(float, sys.argv[1:]); sys.exit(0 if c >= 0.1 and r < 2 and 0.2 <= w <= 10 else 1)" \
    "$cpu" "$recent" "$window" ||
    fail "burn: cpu_seconds $cpu, cpu_percent_recent $recent over ${window}s (expected >= 0.1 s, < 2 %)"
finish_checks
