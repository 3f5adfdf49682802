#!/bin/bash
# A worker's log line may hold any byte, NUL included: droverd writes it to POOL.log as it
# came, and every reader gives it whole, the NUL and what follows it: `logs POOL`,
# `logs all` (which merges the pools' lines in time order) and both with --json (where the
# NUL is \u0000). `logs all` used to keep its lines as C strings and cut them at the NUL.
. "$(dirname "$0")/lib.sh"

LOG="$T/log"
write_config <<EOF
[pool:nul]
command = /bin/sh -c 'printf "nul-a\\000nul-b\\n" >&2; printf "out-a\\000out-b\\n"; exec sleep 1000'
workers = 1

[pool:other]
command = /bin/sh -c 'echo other-line; exec sleep 1000'
workers = 1
EOF
start_daemon
wait_for 10 "pool nul running" pool_running nul
wait_for 10 "pool other running" pool_running other
wait_for 5 "the NUL lines in nul.log" sh -c "grep -ac 'nul-b\|out-b' '$LOG/nul.log' | grep -qx 2"
wait_for 5 "other.log" file_has "$LOG/other.log" "other-line"

dv logs nul -n 10 >"$T/pool.out" || fail "logs nul: exit $?"
dv logs nul -n 10 --json >"$T/pool.json" || fail "logs nul --json: exit $?"
dv logs all -n 10 >"$T/all.out" || fail "logs all: exit $?"
dv logs all -n 10 --json >"$T/all.json" || fail "logs all --json: exit $?"

python3 - "$T" <<'PY' || fail "a reader cut a line at its NUL byte (see above)"
import json, re, sys
t = sys.argv[1]
bad = []
stamp = rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"
for name, prefix in (("pool.out", b""), ("all.out", b"nul ")):
    text = open(f"{t}/{name}", "rb").read()
    for want in (rb"\[0:stderr\] nul-a\x00nul-b\n", rb"\[0\] out-a\x00out-b\n"):
        if not re.search(rb"^" + re.escape(prefix) + stamp + rb" " + want, text, re.M):
            bad.append(f"{name}: no line {want!r} in {text!r}")
for name in ("pool.json", "all.json"):
    lines = {}
    for raw in open(f"{t}/{name}", encoding="utf-8"):
        o = json.loads(raw)
        if o["pool"] == "nul":
            lines[o["stream"]] = o["line"]
    want = {"stderr": "nul-a\x00nul-b", "stdout": "out-a\x00out-b"}
    if lines != want:
        bad.append(f"{name}: {lines!r}, want {want!r}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
grep -qE "^other [0-9T:.-]+ \[0\] other-line$" "$T/all.out" || fail "logs all: no line of pool other: $(cat -v "$T/all.out")"
finish_checks
