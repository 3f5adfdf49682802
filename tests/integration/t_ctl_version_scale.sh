#!/bin/bash
# `drover version` names the CLI's and the running droverd's versions and the control protocol
# (text and --json; with no droverd it still answers, exit 0); getopt-style options: -sPATH and
# drover's options after the verb; `scale POOL +N`, `-N` (not below 0), `auto` and `auto*K`
# (one per usable CPU, as status's cpus.count says).
. "$(dirname "$0")/lib.sh"
uses http # json_field

write_config <<EOF2
[pool:web]
command = /bin/sh -c 'exec sleep 1000'
workers = 2
EOF2
start_daemon
wait_for 10 "web running" pool_running web

expect_exit 0 "drover version" dv version
assert_contains "$RUN_OUT" "drover " "version names the CLI"
assert_contains "$RUN_OUT" "droverd " "version names the daemon"
assert_contains "$RUN_OUT" "(control protocol " "version names the protocol"
dv version --json >"$T/v.json" || fail "version --json exited $?"
assert_eq "$(json_field "$T/v.json" 'j["cli_version"] == j["daemon_version"], type(j["protocol"]).__name__, j["protocol"] == j["daemon_protocol"]')" \
    "(True, 'int', True)" "version --json"
expect_exit 0 "drover version without droverd" "$DROVER" -s "$T/nosuch.sock" version
assert_contains "$RUN_OUT" "droverd: not reachable" "version without droverd"
"$DROVER" -s "$T/nosuch.sock" version --json >"$T/v0.json" || fail "version --json without droverd exited $?"
assert_eq "$(json_field "$T/v0.json" 'j["daemon_version"]')" None "version --json without droverd"

# -sPATH, and drover's options after the verb.
expect_exit 0 "drover -sPATH status" "$DROVER" "-s$SOCK" status --pools
expect_exit 0 "drover status -s PATH" "$DROVER" status -s "$SOCK" --pools
expect_exit 0 "drover status --json -sPATH" "$DROVER" status --json "-s$SOCK"
python3 -c 'import json,sys; json.loads(sys.argv[1])' "$RUN_OUT" || fail "status --json -sPATH is not JSON"

workers() { status_json "next(p['workers'] for p in s['pools'] if p['name'] == 'web')"; }
expect_exit 0 "scale web +2" dv scale web +2
assert_eq "$(workers)" 4 "workers after +2"
expect_exit 0 "scale web -1" dv scale web -1
assert_eq "$(workers)" 3 "workers after -1"
assert_contains "$RUN_OUT" "workers 4 -> 3" "scale -1 says"
expect_exit 0 "scale web -10" dv scale web -10
assert_eq "$(workers)" 0 "workers after -10 (not below 0)"
ncpu=$(status_json "s['cpus']['count']")
expect_exit 0 "scale web auto" dv scale web auto
assert_eq "$(workers)" "$ncpu" "workers after auto"
expect_exit 0 "scale web auto*2" dv scale web 'auto*2'
assert_eq "$(workers)" $((ncpu * 2)) "workers after auto*2"
expect_exit 2 "scale web +x" dv scale web +x
expect_exit 0 "scale web 1" dv scale web 1 --json
assert_eq "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["workers"])' "$RUN_OUT")" 1 "scale --json"
finish_checks
