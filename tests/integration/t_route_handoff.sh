#!/bin/bash
# mode = handoff with echo-worker: droverd accepts and passes each connection to
# a worker (SCM_RIGHTS); the worker serves it and reports it finished.
#  - connection-per-request load while workers are SIGKILLed: no connection is
#    refused (they wait in the backlog while no worker is free), every reply
#    that arrives is the right one; only connections held by a killed worker
#    may be cut (at most worker_inflight per kill);
#  - finished connections move status (requests up, inflight back to 0);
#  - worker_inflight bounds the connections a worker holds: with every worker
#    full, one more client waits (connected, unanswered) until a connection ends.
. "$(dirname "$0")/lib.sh"
uses route fault

write_config <<EOF2
[pool:ho]
command = $ECHO_WORKER
workers = 3
listen = $T/ho.sock
mode = handoff
worker_inflight = 2
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
# 25 kills a second of workers younger than start_grace is a crash storm, which
# crash_restart_rate would pace; this test is about routing under kills
crash_restart_rate = none
EOF2
start_daemon
wait_for 10 "ho running" pool_running ho 3

# --- clean connection-per-request load; status moves ---
wc_run "$T/wc_clean" -s "$T/ho.sock" --raw -k 1 -c 8 -n 3000 -z 64 -d 20
assert_eq "$(wc_get "$T/wc_clean" connections)" 3000 "connections opened (one per request)"
wait_for 5 "finished connections reported" pool_route_is ho requests 3000
wait_for 5 "nothing held" pool_route_is ho inflight 0
assert_eq "$(slot_sum ho requests)" 3000 "per-worker requests (finished connections)"
for i in 0 1 2; do
    [ "$(slot_field ho $i requests)" -gt 0 ] || fail "slot $i got no connection"
done

# --- the same load while workers are killed ---
# The load runs while the killing does: 4 s and at least 100 kills (a slow machine, or
# droverd under valgrind, restarts workers slowly, so 100 kills can take longer); -t is
# only a bound. A kill every 5 ms natively; under a sanitizer or valgrind droverd restarts
# workers SLOWDOWN times slower, so the kills are as much rarer.
kill_interval=$(awk "BEGIN { print 0.005 * $SLOWDOWN }")
wc_start "$T/wc_kill" -s "$T/ho.sock" --raw -k 1 -c 16 -z 64 -t 150 -d 180 -a lost
kills=$(kill_loop -n 100 4 "$kill_interval" ho)
wc_stop "$T/wc_kill"
log "$kills kills: $(cat "$T/wc_kill")"
[ "$kills" -ge 100 ] || fail "only $kills kills were sent"
for k in connect_failed mismatched duplicated unexpected malformed unanswered; do
    assert_eq "$(wc_get "$T/wc_kill" "$k")" 0 "workclient $k under kills"
done
lost=$(wc_get "$T/wc_kill" lost)
ok=$(wc_get "$T/wc_kill" ok)
[ "$lost" -le $((kills * 2)) ] || fail "$lost connections cut by $kills kills (worker_inflight = 2)"
# Kills cost throughput, not all of it: at least 1/50 of the pace of the clean run above
# (a stall serves none).
clean_rps=$(wc_get "$T/wc_clean" rps)
kill_rps=$(wc_get "$T/wc_kill" rps)
[ "$kill_rps" -ge $((clean_rps / 50)) ] ||
    fail "only $kill_rps connections/s served under kills ($ok in all; without kills: $clean_rps/s)"
wait_for 10 "all running again" pool_running ho 3
wait_for 5 "nothing held after the kills" pool_route_is ho inflight 0
dv status >/dev/null || fail "droverd stopped answering"
wc_run "$T/wc_after" -s "$T/ho.sock" --raw -k 1 -c 8 -n 2000 -z 64 -d 20

# --- worker_inflight = 2 bounds each of the 3 workers ---
py_client "$DROVER" "$SOCK" "$T/ho.sock" >"$T/bound.out" 2>&1 <<'PY' || fail "inflight bound: $(cat "$T/bound.out")"
import json, socket, struct, subprocess, sys, time
drover, ctl, path = sys.argv[1:4]

def status():
    s = json.loads(subprocess.check_output([drover, "-s", ctl, "status", "--json"]))
    return next(p for p in s["pools"] if p["name"] == "ho")

def wait(what, cond, secs=5):
    end = time.time() + secs
    while time.time() < end:
        p = status()
        if cond(p):
            return p
        time.sleep(0.02)
    print("timed out waiting for %s: %s" % (what, json.dumps(status()))); sys.exit(1)

held = []
for i in range(6):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    held.append(s)
p = wait("6 connections held, 2 per worker",
         lambda p: p["route"]["inflight"] == 6 and all(x["inflight"] == 2 for x in p["slots"]))
# One more: connect() succeeds (the backlog), but no worker may take it yet.
extra = socket.socket(socket.AF_UNIX)
extra.connect(path)
extra.sendall(struct.pack(">I", 5) + b"extra")
extra.settimeout(0.5)
try:
    b = extra.recv(100)
    print("a 7th connection was served while every worker held worker_inflight: %r" % b)
    sys.exit(1)
except socket.timeout:
    pass
p = status()
if p["route"]["inflight"] != 6 or any(x["inflight"] > 2 for x in p["slots"]):
    print("more than worker_inflight held: %s" % json.dumps(p["route"])); sys.exit(1)
# The held connections still work, then one ends: the 7th is served.
held[0].sendall(struct.pack(">I", 4) + b"held")
held[0].settimeout(5)
if held[0].recv(100) != struct.pack(">I", 4) + b"held":
    print("a held connection did not echo"); sys.exit(1)
held[0].close()
extra.settimeout(5)
try:
    b = extra.recv(100)
except socket.timeout:
    print("the 7th connection was not served after a held one ended"); sys.exit(1)
if b != struct.pack(">I", 5) + b"extra":
    print("the 7th connection got %r" % b); sys.exit(1)
for s in held[1:]:
    s.close()
extra.close()
wait("all connections reported finished", lambda p: p["route"]["inflight"] == 0)
print("ok")
PY
assert_eq "$(tail -n 1 "$T/bound.out")" ok "worker_inflight bound check"
