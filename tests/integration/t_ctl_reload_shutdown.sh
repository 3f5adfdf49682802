#!/bin/bash
# A reload waiting for its rolling restart's first new worker, cut short by
# a shutdown, does not report success: the rollout is reported halted
# ("droverd shut down before a new worker counted as started"), ok false,
# exit 1, and its --json output is still one JSON document.
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:g]
command = $SPEW_WORKER
workers = 2
start_grace = 30s
EOF2
start_daemon
wait_for 40 "g running" pool_true g "all(x['state'] == 'running' for x in p['slots'])"

sed -i "s|^command = .*|command = $SPEW_WORKER --tag v2|" "$CONF"
dv reload --json >"$T/reload.out" 2>"$T/reload.err" &
reloader=$!
track_pid "$reloader"
wait_for 10 "g rolling" pool_true g "p['rolling']"
dv shutdown >/dev/null 2>&1 || fail "shutdown"
rc=0
wait "$reloader" || rc=$?
assert_eq "$rc" 1 "exit status of the reload the shutdown cut short"
python3 - "$T/reload.out" <<'PY' || fail "reload --json output: $(cat "$T/reload.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False, d
assert d["rollouts"] == [{"pool": "g", "halted": "droverd shut down before a new worker counted as started"}], d
PY
wait_daemon_exit
finish_checks
