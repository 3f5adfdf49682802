#!/bin/bash
# drover reload applies only the difference: untouched pools keep their
# pids, changed command/environment roll one worker at a time, workers
# scales, added pools start, removed pools stop and disappear, live keys are
# applied in place; the output says what changed (text and --json); SIGHUP
# reloads too.
. "$(dirname "$0")/lib.sh"

# Pools in the first config. cmd and env roll one worker at a time, each waiting out
# start_grace: 200 ms, not the default 1 s (this test is not about start_grace).
# Rolled workers linger on SIGTERM until the test has seen them
# stopping and creates $T/release/PID (or stop_timeout ends them), so the roll is watched
# however slow this machine is.
pools_v1() {
    cat <<EOF
[pool:keep]
command = $SPEW_WORKER
workers = 2

[pool:cmd]
command = $SPEW_WORKER --term-wait $T/release/%p
start_grace = 200ms
workers = 3
stop_timeout = 60s

[pool:env]
command = $SPEW_WORKER --term-wait $T/release/%p
start_grace = 200ms
environment = MODE=one
workers = 2
stop_timeout = 60s

[pool:grow]
command = $SPEW_WORKER
workers = 2

[pool:shrink]
command = $SPEW_WORKER
workers = 3

[pool:gone]
command = $SPEW_WORKER
workers = 2

[pool:live]
command = $SPEW_WORKER
workers = 1
restart_delay = 100ms
EOF
}

# running_is POOL N: exactly N slots of POOL run. slots_is POOL N: status lists N slots.
running_is() {
    [ "$(status_json "sum(1 for p in s['pools'] if p['name']=='$1' for x in p['slots'] if x['state']=='running')")" = "$2" ]
}
slots_is() { [ "$(status_json "sum(len(p['slots']) for p in s['pools'] if p['name']=='$1')")" = "$2" ]; }

mkdir "$T/release"
write_config < <(pools_v1)
start_daemon
for p in keep cmd env grow shrink gone live; do
    wait_for 10 "pool $p running" pool_running "$p"
done
keep_pids=$(pool_pids keep)
cmd_pids=$(pool_pids cmd)
env_pids=$(pool_pids env)
grow_pids=$(pool_pids grow)
shrink_pids=$(pool_pids shrink)
gone_pids=$(pool_pids gone)
live_pids=$(pool_pids live)

# The edited config: every kind of change at once.
pools_v1 | python3 -c '
import sys
out = []
for sec in sys.stdin.read().split("\n\n"):
    name = sec.split("]")[0] + "]"
    sec = {
        "[pool:cmd]": lambda t: t.replace(" --term-wait", " --tag v2 --term-wait"),
        "[pool:env]": lambda t: t.replace("MODE=one", "MODE=two"),
        "[pool:grow]": lambda t: t.replace("workers = 2", "workers = 4"),
        "[pool:shrink]": lambda t: t.replace("workers = 3", "workers = 1"),
        "[pool:live]": lambda t: t.replace("restart_delay = 100ms", "restart_delay = 5s"),
        "[pool:gone]": lambda t: None,
    }.get(name, lambda t: t)(sec)
    if sec is not None:
        out.append(sec.strip("\n"))
out.append("[pool:new]\ncommand = %s\nworkers = 1" % sys.argv[1])
print("\n\n".join(out))
' "$SPEW_WORKER" >"$T/v2.pools"
write_config <"$T/v2.pools"

# While cmd and env roll: never more than one of their slots down at once, and at the end
# every worker is new and running. An old worker stops only once it was seen stopping here.
# The watcher runs from before the reload: reload waits for the first new worker of each
# roll, which comes only once an old one has stopped, which it does once the watcher saw
# it stopping (a watcher started after reload returned made the reload wait out the old
# worker's stop_timeout, 60 s).
python3 - "$DROVER" "$SOCK" "$cmd_pids" "$env_pids" "$T/release" >"$T/roll.out" 2>&1 <<'PY' &
import json, os, subprocess, sys, time
drover, sock, release = sys.argv[1], sys.argv[2], sys.argv[5]
old = {"cmd": set(sys.argv[3].split()), "env": set(sys.argv[4].split())}
seen_down = {"cmd": 0, "env": 0}
deadline = time.time() + 30
polls = 0
while True:
    st = json.loads(subprocess.run([drover, "-s", sock, "status", "--json"], check=True,
                                   capture_output=True, text=True).stdout)
    polls += 1
    done = True
    for p in st["pools"]:
        if p["name"] not in old:
            continue
        down = [x for x in p["slots"] if x["state"] != "running"]
        if len(down) > 1:
            sys.exit("pool %s: %d slots down at once: %s" % (p["name"], len(down),
                     [(x["slot"], x["state"], x["pid"]) for x in p["slots"]]))
        seen_down[p["name"]] += len(down)
        for x in down:
            if str(x["pid"]) in old[p["name"]]:
                open(os.path.join(release, str(x["pid"])), "w").close()
        new = [x for x in p["slots"] if x["state"] == "running" and str(x["pid"]) not in old[p["name"]]]
        if len(new) != len(old[p["name"]]) or len(p["slots"]) != len(old[p["name"]]):
            done = False
    if done:
        break
    if time.time() > deadline:
        sys.exit("roll did not finish in 30s; last status: %s" % json.dumps(st["pools"]))
    time.sleep(0.01)
for name, n in seen_down.items():
    if n == 0:
        sys.exit("never saw a slot of %s down in %d polls: was it restarted at all?" % (name, polls))
PY
roller=$!
track_pid $roller

out=$(dv reload 2>&1) || fail "reload exited $?: $out"
for line in \
    'pool cmd: command changed: restarting workers one at a time' \
    'pool env: environment changed: restarting workers one at a time' \
    'pool grow: workers 2 -> 4' \
    'pool shrink: workers 3 -> 1' \
    'pool gone: removed (2 workers stopping)' \
    'pool live: restart_delay changed: applied'; do
    grep -qxF -- "$line" <<<"$out" || fail "reload output lacks the line '$line'; got: $out"
done
grep -qE '^pool new: added \(1 workers?\)$' <<<"$out" || fail "reload output lacks 'pool new: added (1 worker)'; got: $out"
grep -q 'keep' <<<"$out" && fail "reload reported a change to the untouched pool keep: $out"
assert_eq "$(grep -c . <<<"$out")" 7 "number of lines reload printed"

wait "$roller" || fail "rolling restart check failed: $(cat "$T/roll.out")"

# The rolled workers run the new command and environment (and may stop at once).
for pid in $(pool_pids cmd) $(pool_pids env); do touch "$T/release/$pid"; done
for pid in $(pool_pids cmd); do
    tr '\0' ' ' </proc/"$pid"/cmdline | grep -q -- '--tag v2' || fail "cmd worker $pid does not run the new command"
done
for pid in $(pool_pids env); do
    tr '\0' '\n' </proc/"$pid"/environ | grep -qx 'MODE=two' || fail "env worker $pid lacks MODE=two"
done
for pid in $cmd_pids $env_pids; do
    wait_for 5 "old rolled worker $pid gone" dead "$pid"
done

# grow: the first two workers are the same processes, two more run.
wait_for 10 "grow has 4 running workers" running_is grow 4
read -r -a now <<<"$(pool_pids grow)"
assert_eq "${now[0]} ${now[1]}" "$grow_pids" "grow: pids of slots 0 and 1 after scaling up"
# shrink: slot 0 untouched, slots 1 and 2 stopped and gone from status.
wait_for 10 "shrink down to one slot" slots_is shrink 1
read -r -a old <<<"$shrink_pids"
assert_eq "$(pool_pids shrink)" "${old[0]}" "shrink: pid of slot 0 after scaling down"
wait_for 5 "shrink slot 1 worker gone" dead "${old[1]}"
wait_for 5 "shrink slot 2 worker gone" dead "${old[2]}"
# gone: stopped and no longer listed.
for pid in $gone_pids; do
    wait_for 5 "removed pool's worker $pid gone" dead "$pid"
done
no_pool() { ! has_pool "$1"; }
wait_for 5 "pool gone disappears from status" no_pool gone
dv status gone >/dev/null 2>&1 && fail "status of the removed pool should fail"
# new: started.
wait_for 10 "added pool running" pool_running new
# untouched: same processes.
assert_eq "$(pool_pids keep)" "$keep_pids" "keep: pids after reload"
assert_eq "$(pool_pids live)" "$live_pids" "live: pids after applying restart_delay"

# --json: a second change, to a live key only.
sed -i 's/^restart_delay = 5s$/restart_delay = 4s/' "$CONF"
jout=$(dv reload --json) || fail "reload --json exited $?: $jout"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["ok"] is True, d
assert len(d["changes"]) == 1, d
c = d["changes"][0]
assert c["change"] == "pool_applied" and c["pool"] == "live" and c["keys"] == ["restart_delay"], c
' "$jout" || fail "reload --json output is not as documented: $jout"
assert_eq "$(pool_pids live)" "$live_pids" "live: pids after the --json reload"
assert_eq "$(dv reload)" "no changes" "reload of an unchanged file"

# [daemon] keys: live ones apply, the others say they need a restart and are not applied.
mode_before=$(stat -c %a "$SOCK")
sed -i 's/^shutdown_timeout = 10s$/shutdown_timeout = 9s\nlog_level = debug\ncontrol_mode = 0600/' "$CONF"
out=$(dv reload 2>&1) || fail "reload of [daemon] keys exited $?: $out"
grep -qx 'daemon: log_level, shutdown_timeout changed: applied' <<<"$out" ||
    fail "reload should apply log_level and shutdown_timeout: $out"
grep -qx 'daemon: control_mode changed: takes effect when droverd restarts' <<<"$out" ||
    fail "reload should say control_mode needs a restart: $out"
assert_eq "$(stat -c %a "$SOCK")" "$mode_before" "control socket mode after a reload (needs a restart)"
assert_eq "$(pool_pids keep)" "$keep_pids" "keep: pids after reloading [daemon] keys"

# The new restart_delay is really in force: the second quick crash backs off ~4 s.
kill -KILL "$live_pids"
wait_for 5 "live worker restarted after a crash" pid_changed live 0 "$live_pids"
wait_for 5 "live worker running again" pool_running live
kill -KILL "$(slot_field live 0 pid)"
wait_for 5 "live slot in backoff after the second crash" state_is live 0 backoff
delay=$(slot_field live 0 next_start_in_seconds)
python3 -c "import sys; d=float(sys.argv[1]); sys.exit(0 if 1.0 < d <= 4.0 else 1)" "$delay" ||
    fail "backoff after the second crash should follow restart_delay = 4s; next start in $delay s"

# SIGHUP reloads as well.
sed -i '/^\[pool:keep\]/,/^$/s/^workers = 2$/workers = 3/' "$CONF"
grep -A3 '^\[pool:keep\]' "$CONF" | grep -qx 'workers = 3' || fail "test bug: could not edit pool keep"
kill -HUP "$DAEMON_PID"
wait_for 10 "SIGHUP reload scales keep to 3" running_is keep 3
read -r -a now <<<"$(pool_pids keep)"
assert_eq "${now[0]} ${now[1]}" "$keep_pids" "keep: pids of slots 0 and 1 after the SIGHUP reload"
wait_for 5 "SIGHUP reload logged" grep -q 'reload: pool keep: workers 2 -> 3' "$T/droverd.log"
alive "$DAEMON_PID" || fail "droverd died"
