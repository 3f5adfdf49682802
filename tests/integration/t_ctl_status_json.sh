#!/bin/bash
# drover status: --json parses and has the documented fields for the
# daemon, pools and slots, with values that match reality (pids, states,
# last exits, backoff, pinned CPUs); `status POOL` filters; an unknown pool
# exits 1; the text table has the columns pool, slot, pid, state, uptime,
# restarts, last exit, CPU, RSS, requests, aligned under their headers.
. "$(dirname "$0")/lib.sh"

write_config <<EOF
[pool:a]
command = $SPEW_WORKER
workers = 2

[pool:b]
command = $SPEW_WORKER
workers = 1

[pool:pinned]
command = $SPEW_WORKER
workers = 2
cpu_affinity = core

[pool:once]
command = /bin/sh -c 'exit 3'
workers = 1
restart = never

[pool:loop]
command = /bin/sh -c 'exit 7'
workers = 1
restart_delay = 60s
restart_delay_max = 120s
EOF
start_daemon
for p in a b pinned; do
    wait_for 10 "pool $p running" pool_running "$p"
done
wait_for 10 "once stopped after its exit" state_is once 0 stopped
wait_for 10 "loop backing off" state_is loop 0 backoff
b_pid=$(slot_field b 0 pid)
kill -KILL "$b_pid"
wait_for 5 "b restarted" pid_changed b 0 "$b_pid"
wait_for 5 "b running" pool_running b

dv status --json >"$T/status.json" || fail "status --json failed"
python3 - "$T/status.json" "$DAEMON_PID" "$CONF" "$SPEW_WORKER" "$b_pid" <<'PY' || fail "status --json is not as documented (see above)"
import json, os, sys
path, daemon_pid, conf, worker, b_old = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
s = json.load(open(path))
num = (int, float)

def check(cond, what):
    if not cond:
        sys.exit("status --json: " + what)

check(s["version"] == 1, "version %r" % s.get("version"))
d = s["daemon"]
check(d["pid"] == daemon_pid, "daemon.pid %r" % d["pid"])
check(isinstance(d["uptime_seconds"], num) and d["uptime_seconds"] >= 0, "daemon.uptime_seconds")
check(d["config"] == os.path.realpath(conf), "daemon.config %r" % d["config"])
check(d["shutting_down"] is False, "daemon.shutting_down")
pools = {p["name"]: p for p in s["pools"]}
check(list(pools) == ["a", "b", "pinned", "once", "loop"], "pools in config order: %r" % list(pools))

# docs/status-json.md
slot_keys = {"slot", "pid", "state", "removing", "uptime_seconds", "restarts", "crashes",
             "crash_streak", "next_start_in_seconds", "last_exit", "cpu", "cpu_seconds",
             "cpu_percent", "rss_bytes", "requests", "inflight", "status_text", "error", "info"}
exit_keys = {"code", "signal", "description", "seconds_ago", "time", "crash", "reason"}
states = {"stopped", "starting", "running", "stopping", "backoff", "fatal"}
for p in s["pools"]:
    for k in ("name", "workers", "running", "command", "log_file", "log_dropped_bytes", "route", "slots"):
        check(k in p, "pool %s lacks %s" % (p["name"], k))
    check(p["workers"] == len(p["slots"]), "pool %s: workers %r but %d slots" % (p["name"], p["workers"], len(p["slots"])))
    check(p["running"] == sum(x["state"] == "running" for x in p["slots"]), "pool %s: running count" % p["name"])
    check([x["slot"] for x in p["slots"]] == list(range(len(p["slots"]))), "pool %s: slot numbers" % p["name"])
    for x in p["slots"]:
        where = "pool %s slot %d" % (p["name"], x["slot"])
        missing = slot_keys - set(x)
        check(not missing, "%s lacks %s" % (where, sorted(missing)))
        check(x["state"] in states, "%s: state %r" % (where, x["state"]))
        check(isinstance(x["restarts"], int) and isinstance(x["requests"], int), "%s: counters" % where)
        if x["state"] == "running":
            check(isinstance(x["pid"], int) and x["pid"] > 1, "%s: pid %r" % (where, x["pid"]))
            check(os.path.exists("/proc/%d" % x["pid"]), "%s: pid %d does not exist" % (where, x["pid"]))
            check(isinstance(x["uptime_seconds"], num) and x["uptime_seconds"] >= 0, "%s: uptime" % where)
            check(isinstance(x["rss_bytes"], int) and x["rss_bytes"] > 0, "%s: rss_bytes %r" % (where, x["rss_bytes"]))
            check(isinstance(x["cpu_seconds"], num), "%s: cpu_seconds" % where)
        else:
            check(x["pid"] is None and x["uptime_seconds"] is None, "%s: pid/uptime without a process" % where)
        if x["last_exit"] is not None:
            missing = exit_keys - set(x["last_exit"])
            check(not missing, "%s: last_exit lacks %s" % (where, sorted(missing)))

a = pools["a"]
check(a["command"] == worker and a["workers"] == 2 and a["running"] == 2, "pool a summary %r" % a)
check(all(x["last_exit"] is None and x["restarts"] == 0 for x in a["slots"]), "pool a: untouched slots")
check(all(x["cpu"] is None for x in a["slots"]), "pool a: cpu of unpinned slots")
check(a["route"] is None and a["log_dropped_bytes"] == 0, "pool a: route and log_dropped_bytes")
check(a["log_file"] is not None and a["log_file"].endswith("/a.log"), "pool a: log_file %r" % a["log_file"])
check(all(x["removing"] is False and x["inflight"] == 0 and x["error"] is None for x in a["slots"]), "pool a: removing/inflight/error")

b = pools["b"]["slots"][0]
check(b["pid"] != b_old and b["restarts"] == 1 and b["crashes"] == 1, "pool b after a kill: %r" % b)
e = b["last_exit"]
check(e["signal"] == "KILL" and e["code"] is None and e["crash"] is True, "pool b last_exit %r" % e)
check(e["description"] == "killed by KILL", "pool b last_exit.description %r" % e["description"])
check(isinstance(e["seconds_ago"], num) and 0 <= e["seconds_ago"] < 10, "pool b last_exit.seconds_ago")
check(isinstance(e["time"], num), "pool b last_exit.time %r" % e["time"])

ncpu = len(os.sched_getaffinity(0))
cpus = [x["cpu"] for x in pools["pinned"]["slots"]]
check(all(isinstance(c, int) for c in cpus), "pinned: cpu %r" % cpus)
if ncpu > 1:
    check(cpus[0] != cpus[1], "pinned: both slots on cpu %r with %d CPUs" % (cpus, ncpu))
for x in pools["pinned"]["slots"]:
    allowed = open("/proc/%d/status" % x["pid"]).read().split("Cpus_allowed_list:")[1].split()[0]
    check(allowed == str(x["cpu"]), "pinned slot %d: status says cpu %r, the process may run on %s" % (x["slot"], x["cpu"], allowed))

o = pools["once"]["slots"][0]
check(o["state"] == "stopped" and o["pid"] is None, "once: %r" % o)
check(o["last_exit"]["code"] == 3 and o["last_exit"]["signal"] is None, "once last_exit %r" % o["last_exit"])
check(o["last_exit"]["description"] == "exit 3", "once last_exit.description %r" % o["last_exit"]["description"])

l = pools["loop"]["slots"][0]
check(l["state"] == "backoff" and l["crash_streak"] == 2 and l["crashes"] == 2, "loop: %r" % l)
check(isinstance(l["next_start_in_seconds"], num) and 30 < l["next_start_in_seconds"] <= 60, "loop next_start_in_seconds %r" % l["next_start_in_seconds"])
check(l["last_exit"]["code"] == 7, "loop last_exit %r" % l["last_exit"])
check("restart in" in l["info"], "loop info %r" % l["info"])
PY

# `drover --json status` is the same as `drover status --json`.
dv --json status | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "drover --json status is not JSON"

# ---- status POOL ---------------------------------------------------------------------
assert_eq "$(dv status a --json | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)["pools"]])')" "['a']" "pools in status a --json"
text=$(dv status a) || fail "status a failed"
rows=$(awk 'NR>1 && NF>0 && $1!="POOL" {print $1}' <<<"$text" | sort -u)
assert_eq "$rows" "a" "pools named in the rows of 'status a'"
out=$(dv status nosuch 2>&1)
assert_eq "$?" 1 "exit status of status on an unknown pool"
assert_contains "$out" "no pool named 'nosuch'" "status on an unknown pool"
out=$(dv status nosuch --json 2>&1)
assert_eq "$?" 1 "exit status of status --json on an unknown pool"

# ---- the text table ------------------------------------------------------------------
dv status --wide >"$T/status.txt" || fail "status failed"
dv status --json >"$T/status.json" || fail "status --json failed"
python3 - "$T/status.txt" "$T/status.json" <<'PY' || fail "the status table is not as documented (see above):"$'\n'"$(cat "$T/status.txt")"
import json, re, sys
lines = open(sys.argv[1]).read().split("\n")
s = json.load(open(sys.argv[2]))
# The pool summary comes first; the workers' table is the one whose header has SLOT.
first = next(i for i, l in enumerate(lines) if l.startswith("POOL") and "SLOT" in l)
head = lines[first]
want = ["POOL", "SLOT", "PID", "STATE", "UPTIME", "RESTARTS", "LAST EXIT", "CPU", "RSS", "REQ"]
cols = []
for w in want:
    m = re.search(r"(?:^|  )(" + re.escape(w) + r"\w*)", head)
    if m is None:
        sys.exit("header %r lacks column %s" % (head, w))
    cols.append((m.group(1), m.start(1)))
if [c[1] for c in cols] != sorted(c[1] for c in cols):
    sys.exit("columns out of order: %r" % cols)
starts = [c[1] for c in cols] + [None]
rows = {}
for line in lines[first + 1:]:
    if not line.strip():
        break  # the containment line follows
    cells = [line[starts[i]:starts[i + 1]].strip() if starts[i + 1] else line[starts[i]:].split("  ")[0].strip()
             for i in range(len(cols))]
    for i, c in enumerate(cols):
        if i > 0 and line[c[1] - 1] != " ":
            sys.exit("row %r is not aligned under %s" % (line, c[0]))
    rows[(cells[0], int(cells[1]))] = dict(zip([c[0] for c in cols], cells))
expected = {(p["name"], x["slot"]): x for p in s["pools"] for x in p["slots"]}
if set(rows) != set(expected):
    sys.exit("table rows %r differ from the JSON slots %r" % (sorted(rows), sorted(expected)))
for key, x in expected.items():
    r = rows[key]
    pid = "-" if x["pid"] is None else str(x["pid"])
    if r["PID"] != pid or r["STATE"] != x["state"] or r["RESTARTS"] != str(x["restarts"]):
        sys.exit("row %r does not match %r" % (r, x))
    if x["last_exit"] is None and r["LAST EXIT"] != "-":
        sys.exit("row %r: LAST EXIT should be '-'" % r)
    if x["last_exit"] is not None and not r["LAST EXIT"].startswith(x["last_exit"]["description"]):
        sys.exit("row %r: LAST EXIT should say %r" % (r, x["last_exit"]["description"]))
    if x["state"] == "running" and not re.fullmatch(r"[0-9.]+%", r["CPU"]):
        sys.exit("row %r: CPU %r" % (r, r["CPU"]))
    if x["state"] == "running" and not re.fullmatch(r"[0-9.]+[KMG]?", r["RSS"]):
        sys.exit("row %r: RSS %r" % (r, r["RSS"]))
    if x["state"] == "running" and r["UPTIME"] == "-":
        sys.exit("row %r: UPTIME of a running worker" % r)
PY

# last_exit.time is the Unix time of the exit, to the millisecond.
python3 - "$T/status.json" <<'PY' || fail_later "last_exit.time is not the time of the exit (see above)"
import json, sys, time
s = json.load(open(sys.argv[1]))
e = next(x["last_exit"] for p in s["pools"] if p["name"] == "b" for x in p["slots"])
now = time.time()
if not abs(now - e["seconds_ago"] - e["time"]) < 5:
    sys.exit("pool b: last_exit.time %r, but seconds_ago %r says %.3f" % (e["time"], e["seconds_ago"], now - e["seconds_ago"]))
PY
finish_checks
