#!/bin/bash
# Worker stdout and stderr told apart, and `drover logs all -f`:
#  - by default (log_stderr = marked) a worker's stderr lines read "TIME [SLOT:stderr] text"
#    in POOL.log and its stdout lines "TIME [SLOT] text"; `logs --json` gives each line its
#    "stream"; `logs POOL:SLOT` keeps both streams of that worker; with log_stderr = merged
#    both streams share one pipe and every line reads "[SLOT]" as before;
#  - an unfinished stdout line is not cut by a stderr line written meanwhile; two floods at once
#    (50 000 lines on each stream) land whole, each line in its stream; a worker that closes its
#    stderr keeps running and logging stdout; a worker spewing 4 KiB lines on stderr alone, as
#    fast as droverd takes them, is drained (status answers within 1 s), its lines are marked
#    and whole, and the log rotates within log_max_size x (log_keep + 1);
#  - `logs all -f` (and with --json) follows every pool's lines, each with its pool's name,
#    including a pool a reload adds, and ends quietly with exit 0 when droverd shuts down.
. "$(dirname "$0")/lib.sh"
uses fault

LOG="$T/log"
write_config <<EOF
[pool:app]
command = $SPEW_WORKER --out hello-out --err hello-err
workers = 2

[pool:merged]
command = $SPEW_WORKER --out m-out --err m-err
workers = 1
log_stderr = merged

[pool:partial]
command = /bin/sh -c 'printf "part-a"; echo "between" >&2; sleep 0.3; echo " part-b"; exec sleep 1000'
workers = 1

[pool:flood]
command = /bin/sh -c '(yes ERRLINE | head -n 50000 >&2) & yes OUTLINE | head -n 50000; wait; echo flood-done; exec sleep 1000'
workers = 1
log_max_size = 64M

[pool:closed]
command = /bin/sh -c 'exec 2>&-; echo closed-still-logs; exec sleep 1000'
workers = 1

[pool:errspew]
command = $SPEW_WORKER --out errspew-ready --spew-stderr
workers = 1
log_max_size = 1M
log_keep = 1
EOF
start_daemon
for p in app merged partial flood closed errspew; do
    wait_for 10 "pool $p running" pool_running "$p"
done

# ---- the marker in POOL.log ------------------------------------------------------
stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}'
for slot in 0 1; do
    wait_for 5 "app slot $slot stdout" file_has "$LOG/app.log" "^$stamp \[$slot\] hello-out w$slot\$"
    wait_for 5 "app slot $slot stderr, marked" file_has "$LOG/app.log" "^$stamp \[$slot:stderr\] hello-err w$slot\$"
done
grep -E "\[[01]\] hello-err|\[[01]:stderr\] hello-out" "$LOG/app.log" &&
    fail "a line is in the wrong stream"
wait_for 5 "merged pool's stderr, unmarked" file_has "$LOG/merged.log" "^$stamp \[0\] m-err w0\$"
wait_for 5 "merged pool's stdout" file_has "$LOG/merged.log" "^$stamp \[0\] m-out w0\$"
grep -q ':stderr' "$LOG/merged.log" && fail "log_stderr = merged marked a line"

# ---- drover logs: text, POOL:SLOT, --json ------------------------------------------
dv signal app USR2 >/dev/null || fail "signal failed"
wait_for 5 "ticks logged" file_has "$LOG/app.log" 'tick 1 err w1'
wait_for 5 "ticks logged" file_has "$LOG/app.log" 'tick 1 out w1'
assert_eq "$(dv logs app -n 1000)" "$(cat "$LOG/app.log")" "logs app shows both streams as in the file"
assert_eq "$(dv logs app:1 -n 1000 | sed 's/^[^ ]* //' | sort | tr '\n' '|')" \
    "[1:stderr] hello-err w1|[1:stderr] tick 1 err w1|[1] hello-out w1|[1] tick 1 out w1|" "logs app:1 keeps both streams"
dv logs app -n 1000 --json >"$T/app.json" || fail "logs --json exited $?"
python3 - "$T/app.json" <<'PY' || fail "logs --json: see above"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = {("hello-out w0", 0, "stdout"), ("hello-err w0", 0, "stderr"), ("hello-out w1", 1, "stdout"),
        ("hello-err w1", 1, "stderr"), ("tick 1 out w1", 1, "stdout"), ("tick 1 err w1", 1, "stderr")}
got = {(r["line"], r["slot"], r["stream"]) for r in rows}
assert want <= got, "missing: %s" % (want - got)
for r in rows:
    assert set(r) == {"pool", "time", "slot", "stream", "line"}, r
    assert r["stream"] == ("stderr" if " err " in r["line"] + " " or "-err" in r["line"] else "stdout"), r
PY
assert_eq "$(dv logs merged -n 5 --json | python3 -c 'import json,sys; print(sorted({json.loads(l)["stream"] for l in sys.stdin}))')" \
    "['stdout']" "logs --json of a merged pool"

# ---- partial lines, floods on both streams, closed stderr ------------------------------
wait_for 5 "partial line finished" file_has "$LOG/partial.log" "^$stamp \[0\] part-a part-b\$"
file_has "$LOG/partial.log" "^$stamp \[0:stderr\] between\$" || fail "stderr line between the halves of a stdout line"
wait_for 30 "both floods logged" file_has "$LOG/flood.log" "\] flood-done\$"
python3 - "$LOG/flood.log" <<'PY' || fail "the floods did not land whole (see above)"
import re, sys
out = err = 0
for l in open(sys.argv[1]):
    m = re.fullmatch(r"\S+ \[0(:stderr)?\] (.*)\n", l)
    assert m, "malformed line %r" % l
    if m.group(2) == "ERRLINE":
        assert m.group(1), "ERRLINE without the marker"
        err += 1
    elif m.group(2) == "OUTLINE":
        assert not m.group(1), "OUTLINE with the marker"
        out += 1
    else:
        assert m.group(2) == "flood-done", "a cut or mixed line: %r" % l
assert (out, err) == (50000, 50000), "%d stdout and %d stderr lines" % (out, err)
PY
wait_for 5 "a worker with stderr closed logs its stdout" file_has "$LOG/closed.log" "\[0\] closed-still-logs\$"
state_is closed 0 running || fail "the worker with stderr closed is not running"

# ---- a worker spewing on stderr alone ----------------------------------------------------
wait_for 5 "stderr spew logged" file_has "$LOG/errspew.log" "\[0:stderr\] eeee"
status_probe 3 "$T/probe"
probe_check "$T/probe" $((1000 * SLOWDOWN)) "status next to a worker spewing on stderr"
wait_for 10 "errspew's log rotated" test -f "$LOG/errspew.log.1"
expect_exit 0 "stop errspew" dv stop errspew
for f in "$LOG/errspew.log" "$LOG/errspew.log.1"; do
    size=$(stat -c %s "$f")
    [ "$size" -le 1048576 ] || fail "$f is $size bytes, over log_max_size = 1M"
done
cat "$LOG/errspew.log.1" "$LOG/errspew.log" | python3 -c '
import re, sys
n = 0
for l in sys.stdin:
    m = re.fullmatch(r"\S+ \[0(:stderr)?\] (.*)\n", l)
    assert m, "malformed line %r" % l[:80]
    if m.group(2) == "errspew-ready":
        assert not m.group(1), "stdout line marked"
        continue
    assert m.group(1) and m.group(2) == "e" * 4095, "a cut or unmarked stderr line: %r" % l[:80]
    n += 1
assert n > 100, "only %d stderr lines" % n
' || fail "the stderr spew did not land whole and marked (see above)"

# ---- logs all -f, text and JSON; a pool a reload adds; shutdown ends it quietly ------
dv logs all -f -n 0 >"$T/all.out" 2>"$T/all.err" &
ALLF=$!
track_pid "$ALLF"
dv logs all -f -n 0 --json >"$T/allj.out" 2>"$T/allj.err" &
ALLJ=$!
track_pid "$ALLJ"
# Attached once a line written after they started reaches them: tick until it does.
attached() { dv signal app USR2 >/dev/null; grep -q 'tick' "$T/all.out" && grep -q 'tick' "$T/allj.out"; }
wait_for 10 "logs all -f followers attached" attached
alive "$ALLF" || fail "logs all -f ended: $(cat "$T/all.err")"
dv signal merged USR2 >/dev/null || fail "signal failed"
wait_for 5 "logs all -f shows the merged pool's tick" grep -qE "^merged $stamp \[0\] tick 1 err w0\$" "$T/all.out"
grep -qE "^app $stamp \[[01]:stderr\] tick [0-9]+ err w[01]\$" "$T/all.out" || fail "logs all -f: no app stderr tick"
grep -qE "^app $stamp \[[01]\] tick [0-9]+ out w[01]\$" "$T/all.out" || fail "logs all -f: no app stdout tick"
cat >>"$CONF" <<EOF
[pool:late]
command = /bin/sh -c 'echo late-out; echo late-err >&2; exec sleep 1000'
workers = 1
EOF
out=$(dv reload 2>&1) || fail "reload failed: $out"
wait_for 10 "logs all -f shows the pool the reload added" grep -qE "^late $stamp \[0:stderr\] late-err\$" "$T/all.out"
grep -qE "^late $stamp \[0\] late-out\$" "$T/all.out" || fail "logs all -f: no stdout line of the new pool"
wait_for 5 "logs all -f --json shows the new pool" grep -q '"late-err"' "$T/allj.out"
python3 - "$T/allj.out" <<'PY' || fail "logs all -f --json: see above"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got = {(r["pool"], r["slot"], r["stream"], r["line"]) for r in rows}
for w in [("late", 0, "stdout", "late-out"), ("late", 0, "stderr", "late-err"),
          ("merged", 0, "stdout", "tick 1 err w0")]:
    assert w in got, "missing %s" % (w,)
assert any(p == "app" and s == "stderr" and l.startswith("tick ") for p, _, s, l in got), "no app stderr tick"
for r in rows:
    assert set(r) == {"pool", "time", "slot", "stream", "line"}, r
PY
expect_exit 0 "shutdown" dv shutdown
wait_for 10 "logs all -f ended" dead "$ALLF"
wait "$ALLF"
assert_eq "$?" 0 "logs all -f exit status at shutdown"
assert_eq "$(cat "$T/all.err")" "" "logs all -f stderr at shutdown"
wait_for 10 "logs all -f --json ended" dead "$ALLJ"
wait "$ALLJ"
assert_eq "$?" 0 "logs all -f --json exit status at shutdown"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 0 "droverd's exit status (LeakSanitizer's too under ASan)"
finish_checks
