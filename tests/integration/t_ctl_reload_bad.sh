#!/bin/bash
# A reload of a config with errors changes nothing: same pools, same pids,
# the running settings stay; drover prints FILE:LINE with a did-you-mean and
# exits 1 (--json: ok false with the errors). A SIGHUP with the bad file
# changes nothing either, and a fixed file then reloads normally.
. "$(dirname "$0")/lib.sh"

# running_new POOL N OLDPIDS: N slots of POOL run, none of them one of OLDPIDS.
running_new() {
    [ "$(status_json "sum(1 for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['state']=='running' and str(x['pid']) not in '$3'.split())")" = "$2" ]
}
running_is() {
    [ "$(status_json "sum(1 for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['state']=='running')")" = "$2" ]
}

write_config <<EOF
[pool:web]
command = $SPEW_WORKER
workers = 2

[pool:jobs]
command = $SPEW_WORKER
workers = 1
EOF
start_daemon
wait_for 10 "web running" pool_running web
wait_for 10 "jobs running" pool_running jobs
web_pids=$(pool_pids web)
jobs_pids=$(pool_pids jobs)

# The broken edit: real changes (a new command, more workers, a new pool)
# plus one typo. None of it may be applied.
write_config <<EOF
[pool:web]
command = $SPEW_WORKER --tag v2
workers = 3

[pool:jobs]
command = $SPEW_WORKER
wrokers = 2

[pool:extra]
command = $SPEW_WORKER
workers = 1
EOF
typo_line=$(grep -n '^wrokers' "$CONF" | cut -d: -f1)

out=$(dv reload 2>"$T/err")
rc=$?
err=$(cat "$T/err")
assert_eq "$rc" 1 "exit status of a bad reload"
assert_contains "$err" "$CONF:$typo_line: " "bad reload names FILE:LINE"
assert_contains "$err" "did you mean 'workers'" "bad reload suggests the key"
assert_contains "$err" "wrokers" "bad reload names the wrong key"
assert_contains "$err" "nothing changed" "bad reload says nothing changed"
assert_eq "$out" "" "stdout of a bad reload"

jout=$(dv reload --json)
rc=$?
assert_eq "$rc" 1 "exit status of a bad reload --json"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] is False, d
errs = d["errors"]
assert len(errs) == 1, errs
e = errs[0]
assert e["file"] == sys.argv[2] and e["line"] == int(sys.argv[3]), e
assert "did you mean" in e["message"] and "workers" in e["message"], e
' "$jout" "$CONF" "$typo_line" || fail "bad reload --json is not as documented: $jout"

kill -HUP "$DAEMON_PID"
wait_for 5 "SIGHUP with errors logged" grep -q "reload: $CONF has errors; keeping the running configuration" "$T/droverd.log"

# Nothing changed: same pools, same slot counts, same processes, old command.
assert_eq "$(pool_pids web)" "$web_pids" "web pids after bad reloads"
assert_eq "$(pool_pids jobs)" "$jobs_pids" "jobs pids after bad reloads"
assert_eq "$(status_json "sorted(p['name'] for p in s['pools'])")" "['jobs', 'web']" "pools after bad reloads"
assert_eq "$(status_json "next(p['command'] for p in s['pools'] if p['name']=='web')")" "$SPEW_WORKER" "web command after bad reloads"
for pid in $web_pids; do
    tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- '--tag' && fail "web worker $pid runs the rejected command"
done
alive "$DAEMON_PID" || fail "droverd died on a bad reload"
m=$(dv metrics) || fail "metrics failed"
grep -qx 'drover_reload_failures_total 3' <<<"$m" || fail "drover_reload_failures_total should be 3: $(grep reload <<<"$m")"
grep -qx 'drover_reloads_total 0' <<<"$m" || fail "drover_reloads_total should be 0: $(grep reload <<<"$m")"

# Fix the typo: now everything in the file is applied.
sed -i 's/^wrokers = 2$/workers = 2/' "$CONF"
out=$(dv reload 2>&1) || fail "fixed reload exited $?: $out"
grep -qx 'pool web: command changed: restarting workers one at a time' <<<"$out" || fail "fixed reload should roll web: $out"
grep -qx 'pool web: workers 2 -> 3' <<<"$out" || fail "fixed reload should scale web: $out"
grep -qx 'pool jobs: workers 1 -> 2' <<<"$out" || fail "fixed reload should scale jobs: $out"
grep -qE '^pool extra: added' <<<"$out" || fail "fixed reload should add pool extra: $out"
wait_for 10 "extra running" pool_running extra
wait_for 10 "jobs has two running workers" running_is jobs 2
assert_eq "$(pool_pids jobs | cut -d' ' -f1)" "$jobs_pids" "jobs slot 0 keeps its pid when scaled"
wait_for 15 "web rolled to the new command with 3 workers" running_new web 3 "$web_pids"
for pid in $(pool_pids web); do
    tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- '--tag v2' || fail "web worker $pid does not run the new command"
done
