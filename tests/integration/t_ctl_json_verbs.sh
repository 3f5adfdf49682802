#!/bin/bash
# `--json` on every verb: walks the verb table (`drover --help`), so a verb added without
# JSON output fails here until it has a case below (or a stated exemption); every verb's
# --json output parses (one document, or JSON Lines for `logs`) and has the keys
# docs/json.md documents, and docs/json.md has a section for it. Errors with --json are one
# JSON object {"error", "exit"} on stdout with the exit status unchanged: a refused target
# (1), a usage error (2), droverd unreachable (3). Also: stop of a stopped worker says
# "already stopped", start of a running one "already running" (text and JSON).
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:web]
command = $ECHO_WORKER
workers = 2
listen = $T/web.sock

[pool:talk]
command = /bin/sh -c "echo hello from talk; exec sleep 1000"
workers = 1
EOF2
start_daemon
wait_for 10 "web running" pool_running web
wait_for 10 "talk running" pool_running talk
wait_for 10 "talk's line in its log" file_has "$T/log/talk.log" "hello from talk"
is_healthy() { dv health >/dev/null 2>&1; }
wait_for 10 "every worker started" is_healthy

# ---- honest messages for no-ops ----------------------------------------------------------
expect_exit 0 "start of a running worker" dv start web:0
assert_eq "$RUN_OUT" "1 worker already running" "start of a running worker says"
expect_exit 0 "stop talk" dv stop talk
assert_eq "$RUN_OUT" "stopped 1 worker" "stop says"
expect_exit 0 "stop of a stopped worker" dv stop talk
assert_eq "$RUN_OUT" "1 worker already stopped" "stop of a stopped worker says"
expect_exit 0 "start talk" dv start talk
assert_eq "$RUN_OUT" "started 1 worker" "start says"

# ---- every verb's --json -----------------------------------------------------------------
"$DROVER" --help >"$T/help.txt" || fail "drover --help exited $?"
DROVER="$DROVER" SOCK="$SOCK" CONF="$CONF" python3 - "$T" "$SRC/docs/json.md" <<'PY' || fail "see above"
import json, os, re, subprocess, sys

T, doc = sys.argv[1], sys.argv[2]
DROVER, SOCK, CONF = os.environ["DROVER"], os.environ["SOCK"], os.environ["CONF"]
problems = []

def run(args, sock=SOCK):
    p = subprocess.run([DROVER, "-s", sock] + args, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr

def check(what, args, rc_want, keys, lines=False, expect=None, sock=SOCK):
    rc, out, err = run(args, sock)
    if rc != rc_want:
        problems.append(f"{what}: exit {rc}, wanted {rc_want} (stdout {out!r}, stderr {err!r})")
        return None
    try:
        docs = [json.loads(l) for l in out.splitlines() if l.strip()] if lines else [json.loads(out)]
    except ValueError as e:
        problems.append(f"{what}: output is not JSON ({e}): {out!r}")
        return None
    if not docs:
        problems.append(f"{what}: no JSON lines")
    for d in docs:
        missing = [k for k in keys if not isinstance(d, dict) or k not in d]
        if missing:
            problems.append(f"{what}: keys {missing} missing from {d!r}")
    if expect is not None and docs:
        try:
            ok = expect(docs if lines else docs[0])
        except Exception as e:
            ok = f"{type(e).__name__}: {e}"
        if ok is not True:
            problems.append(f"{what}: unexpected content ({ok}): {out!r}")
    return docs if lines else docs[0]

ERROR_KEYS = ["error", "exit"]
STARTSTOP = ["verb", "waited", "done", "already", "failed", "workers"]
def results(want):
    return lambda d: [w["result"] for w in d["workers"]] == want or [w["result"] for w in d["workers"]]

# One case per verb; shutdown runs last. Verbs a script does not read as JSON, and why:
EXEMPT = {"metrics": "its output is the Prometheus text format, already machine-readable",
          "top": "an interactive view for people; what it shows is status --json"}
CASES = {
    "status": lambda: check("status --json", ["status", "--json"], 0, ["pools"]),
    "health": lambda: check("health --json", ["health", "--json"], 0, ["healthy", "reasons", "pools"]),
    "start": lambda: (
        check("start --json (running)", ["start", "web:0", "--json"], 0, STARTSTOP,
              expect=results(["already running"])),
        check("start --json", ["start", "talk", "--json"], 0, STARTSTOP)),
    "stop": lambda: (
        check("stop --json", ["--json", "stop", "talk"], 0, STARTSTOP, expect=results(["stopped"])),
        check("stop --json (stopped)", ["stop", "talk", "--json"], 0, STARTSTOP,
              expect=results(["already stopped"])),
        check("start talk --json --no-wait", ["start", "talk", "--no-wait", "--json"], 0, STARTSTOP,
              expect=results(["starting"]))),
    "restart": lambda: check("restart --json", ["restart", "web:1", "--json"], 0, STARTSTOP,
                             expect=results(["restarted"])),
    "reload": lambda: check("reload --json", ["reload", "--json"], 0, []),
    "scale": lambda: check("scale --json", ["scale", "web", "3", "--json"], 0,
                           ["pool", "workers_before", "workers", "warning"],
                           expect=lambda d: (d["workers_before"], d["workers"]) == (2, 3) or d),
    "signal": lambda: check("signal --json", ["signal", "talk", "SIGCONT", "--json"], 0,
                            ["signal", "sent", "sent_main_only"],
                            expect=lambda d: (d["signal"], d["sent"]) == ("CONT", 1) or d),
    "logs": lambda: check("logs --json", ["logs", "talk", "-n", "5", "--json"], 0,
                          ["pool", "time", "slot", "stream", "line"], lines=True,
                          expect=lambda ds: any(d["line"] == "hello from talk" and d["slot"] == 0
                                                for d in ds) or ds),
    "call": lambda: check("call --json", ["call", "web", "ping", "--json"], 0, ["pool", "reply"],
                          expect=lambda d: d["reply"] == "ping" or d),
    "check": lambda: (
        check("check --json", ["check", "-c", CONF, "--json"], 0,
              ["file", "ok", "pools", "workers", "errors"],
              expect=lambda d: (d["ok"], d["pools"]) == (True, 2) or d),
        check("check --json of a bad file", ["check", "-c", T + "/nonexistent.ini", "--json"], 1,
              ["file", "ok", "errors"], expect=lambda d: d["ok"] is False and len(d["errors"]) >= 1)),
    "version": lambda: check("version --json", ["version", "--json"], 0,
                             ["cli_version", "daemon_version", "protocol"]),
    "events": lambda: check("events --json", ["events", "--json"], 0,
                            ["seq", "time", "pool", "slot", "pid", "from", "to", "cause", "detail"],
                            lines=True),
    "shutdown": lambda: check("shutdown --json", ["shutdown", "--json"], 0, ["stopped"],
                              expect=lambda d: d["stopped"] is True or d),
}

help_text = open(T + "/help.txt").read()
verbs = []
in_verbs = False
for line in help_text.splitlines():
    if line.startswith("verbs:"):
        in_verbs = True
        continue
    if in_verbs:
        m = re.match(r"  (\S+)(.*)", line)
        if not m:
            break
        verbs.append((m.group(1), m.group(2)))
if len(verbs) < 10:
    problems.append(f"found only {len(verbs)} verbs in drover --help")
doc_text = open(doc).read()
for name, usage in verbs:
    if name in EXEMPT:
        continue
    if "--json" not in usage:
        problems.append(f"verb {name}: --help shows no --json in its usage")
    if name not in CASES:
        problems.append(f"verb {name}: no --json case in this test (add one, and its shape to docs/json.md)")
    if not re.search(r"^## .*`drover ([a-z]+[|])*" + re.escape(name) + r"\b", doc_text, re.M):
        problems.append(f"verb {name}: docs/json.md has no section for it")
names = [n for n, _ in verbs]
for name in [n for n in CASES if n in names and n != "shutdown"] + ["shutdown"]:
    if name in names:
        CASES[name]()
        # Errors before shutdown: one shape, exit status unchanged.
        if name == "health":
            check("error: unknown pool", ["stop", "nosuch", "--json"], 1, ERROR_KEYS,
                  expect=lambda d: ("nosuch" in d["error"] and d["exit"] == 1) or d)
            check("error: usage", ["scale", "web", "many", "--json"], 2, ERROR_KEYS,
                  expect=lambda d: d["exit"] == 2 or d)
            check("error: unknown verb", ["--json", "nosuchverb"], 2, ERROR_KEYS)
check("error: unreachable", ["status", "--json"], 3, ERROR_KEYS, sock=T + "/nosuch.sock",
      expect=lambda d: ("cannot reach droverd" in d["error"] and d["exit"] == 3) or d)
for p in problems:
    print("  " + p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
wait_daemon_exit 20
finish_checks
