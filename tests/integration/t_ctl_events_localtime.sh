#!/bin/bash
# SPDX-License-Identifier: ISC
# `drover events` (text) gives its times on the same clock as `drover logs`
# and droverd's own log: local time. It gave UTC, with no zone either, so
# under TZ=America/New_York a worker that started and wrote its first line at
# 11:29 had started, by `drover events`, at 16:29. `events --json` stays UTC,
# with its Z (docs/events-json.md).
. "$(dirname "$0")/lib.sh"

export TZ=XYZ-5 # five hours east of UTC, no daylight saving, no zoneinfo file needed
write_config <<EOF2
[pool:a]
command = /bin/sh -c 'echo first-line; exec sleep 1000'
workers = 1
EOF2
start_daemon
wait_for 10 "a running" pool_running a
wait_for 5 "the first line in a.log" file_has "$T/log/a.log" first-line

dv events a >"$T/events.txt" || fail "events: exit $?"
dv events a --json >"$T/events.json" || fail "events --json: exit $?"
dv logs a >"$T/logs.txt" || fail "logs: exit $?"
python3 - "$T" <<'PY' || fail "events and logs disagree on the time (see above)"
import datetime, json, sys
t = sys.argv[1]
fmt = "%Y-%m-%dT%H:%M:%S.%f"
def first(name, word):
    line = next(l for l in open(f"{t}/{name}") if word in l)
    return datetime.datetime.strptime(line.split()[0], fmt)
started = first("events.txt", " start")
logged = first("logs.txt", "first-line")
ev = next(json.loads(l) for l in open(f"{t}/events.json") if '"cause":"start"' in l)
utc = datetime.datetime.strptime(ev["time"], fmt + "Z")
bad = []
if abs((logged - started).total_seconds()) > 30:
    bad.append(f"events says the worker started at {started}, logs that it wrote at {logged}")
if abs((started - utc).total_seconds() - 5 * 3600) > 1:
    bad.append(f"events (text) {started} is not events --json {ev['time']} in UTC+5")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
log "ok"
