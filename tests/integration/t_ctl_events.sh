#!/bin/bash
# drover events: droverd's ring of state changes. `events -f --json` sees a
# kill, a backoff and a reload in that order, each with its cause; the ring
# keeps the last EVENTS_RING (1024) events and no more; a follower that stops
# reading is skipped (droverd holds at most EVENTS_MAX_BEHIND bytes for it) and
# told how many it missed once it reads again; `events POOL` filters; at
# shutdown `events -f` ends with exit 0 and nothing on stderr.
. "$(dirname "$0")/lib.sh"

cat >"$T/app.ini" <<EOF
[pool:app]
command = /bin/sleep 1000
workers = 1
restart_delay = 300ms
EOF
other_ini() {
    cat "$T/app.ini"
    printf 'environment = CHANGED=1\n\n[pool:other]\ncommand = /bin/sleep 1000\nworkers = 1\n'
}
write_config <"$T/app.ini"
start_daemon
wait_for 10 "app running" pool_running app

dv events -f --json >"$T/f1.out" 2>"$T/f1.err" &
f1=$!
track_pid "$f1"
wait_for 5 "events -f printed the recent events" grep -q '"cause":"ready"' "$T/f1.out"

# ---- a kill, a backoff, a reload -------------------------------------------------
pid=$(slot_field app 0 pid)
kill -KILL "$pid"
wait_for 10 "app restarted" pid_changed app 0 "$pid"
wait_for 10 "app running again" state_is app 0 running
pid=$(slot_field app 0 pid)
kill -KILL "$pid" # a second crash in a row: backoff
wait_for 10 "app restarted after its backoff" pid_changed app 0 "$pid"
wait_for 10 "app running after its backoff" state_is app 0 running
{
    cat "$T/app.ini"
    echo "environment = CHANGED=1"
} | write_config
dv reload >/dev/null || fail "reload failed"
wait_for 10 "the reload's restart seen" grep -q '"from":"stopping","to":"[a-z]*","cause":"reload"' "$T/f1.out"

python3 - "$T/f1.out" <<'PY' || fail "events -f: kill, backoff, reload not in order: $(cat "$T/f1.out")"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for e in ev:
    assert set(e) == {"seq", "time", "pool", "slot", "pid", "from", "to", "cause", "detail"}, e
seqs = [e["seq"] for e in ev]
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
def first(pred, after=-1):
    return next(i for i, e in enumerate(ev) if i > after and pred(e))
kill = first(lambda e: e["cause"] == "exited" and e["detail"] == "killed by KILL"
             and e["pool"] == "app" and e["slot"] == 0 and e["from"] == "running")
backoff = first(lambda e: e["cause"] == "backoff" and e["to"] == "backoff"
                and e["detail"].startswith("killed by KILL; restart in"), kill)
applied = first(lambda e: e["cause"] == "reload" and e["pool"] is None
                and e["detail"].startswith("applied"), backoff)
first(lambda e: e["cause"] == "reload" and e["pool"] == "app" and e["from"] == "running"
      and e["to"] == "stopping", applied)
assert ev[kill]["pid"] > 0, ev[kill]
PY
dv events app | grep -q ' app:0 pid [0-9]* running -> backoff backoff: killed by KILL; restart in ' ||
    fail "events (text) lacks the backoff line: $(dv events app)"

# ---- a pool filter ------------------------------------------------------------------
other_ini | write_config
dv reload >/dev/null || fail "reload adding other failed"
wait_for 10 "other running" pool_running other
dv events other --json | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin]
assert ev and all(e["pool"] in ("other", None) for e in ev), ev
assert any(e["pool"] == "other" for e in ev), ev' || fail "events other shows other pools"
expect_exit 1 "events of an unknown pool" dv events nope
assert_contains "$RUN_ERR" "no pool named 'nope'" "events nope"

# ---- a slow follower and the ring's bound -------------------------------------------
# The follower's stdout is a FIFO nobody reads (this shell holds it open) until later.
mkfifo "$T/slow.fifo"
exec 7<>"$T/slow.fifo"
"$DROVER" -s "$SOCK" events -f --json >"$T/slow.fifo" &
slow=$!
track_pid "$slow"
wait_for 5 "the slow follower connected" bash -c "ls -l /proc/$slow/fd | grep -q socket"
rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status")
{
    other_ini
    printf '\n[pool:storm]\ncommand = /bin/false\nworkers = 8\nrestart_delay = 1ms\n'
    printf 'restart_delay_max = 1ms\ncrash_limit = 1000/1s\n'
} | write_config
dv reload >/dev/null || fail "reload adding storm failed"
metric_past() { local v; v=$(metric "$1"); [ "$v" != none ] && [ "$v" -gt "$2" ]; }
wait_for $((120 * SLOWDOWN)) "events dropped for the slow follower" metric_past drover_events_dropped_total 0
wait_for $((60 * SLOWDOWN)) "more than 1024 events recorded" metric_past drover_events_total 1100
rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status")
dv stop storm >/dev/null || fail "stop storm failed"
dv events --json | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin]
assert len(ev) == 1024, len(ev)
seqs = [e["seq"] for e in ev]
assert seqs == list(range(seqs[0], seqs[0] + 1024)), "not consecutive"
assert seqs[0] > 1' || fail "the ring does not hold exactly the last 1024 events"
# (Not under ASan or valgrind, whose allocators keep freed memory.)
[ "$RSS_CHECKS" = 0 ] || [ $((rss1 - rss0)) -lt 4096 ] ||
    fail "droverd grew by $((rss1 - rss0)) KiB with a follower that does not read"
cat "$T/slow.fifo" >"$T/slow.out" &
track_pid $!
exec 7<&-
# Reading again, it hears how many events it missed (at the next event).
dv restart app >/dev/null || fail "restart app failed"
wait_for 10 "the slow follower got a dropped marker" grep -q '^{"dropped":[1-9][0-9]*}$' "$T/slow.out"
python3 - "$T/slow.out" <<'PY' || fail "the slow follower's events and markers do not add up"
import json, sys
got = missed = 0
seqs = []
for line in open(sys.argv[1]):
    if not line.endswith("\n"):
        break  # cat is still writing it
    e = json.loads(line)
    if "dropped" in e:
        missed += e["dropped"]
    else:
        got += 1
        seqs.append(e["seq"])
# It follows every pool: each event is either received or counted in a marker.
assert missed > 0 and got + missed == seqs[-1] - seqs[0] + 1, (got, missed, seqs[0], seqs[-1])
PY

# ---- shutdown ends a follower quietly -------------------------------------------------
dv shutdown >/dev/null
wait_daemon_exit 20
wait "$f1"
assert_eq "$?" 0 "exit status of events -f at shutdown"
assert_eq "$(cat "$T/f1.err")" "" "stderr of events -f at shutdown"
tail -n 1 "$T/f1.out" | python3 -c 'import json,sys; json.load(sys.stdin)' ||
    fail "the last line of events -f --json is not JSON: $(tail -n 1 "$T/f1.out")"
finish_checks
