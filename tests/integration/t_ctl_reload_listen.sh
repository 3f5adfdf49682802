#!/bin/bash
# A reload that moves a pool to another listen address binds it before it
# stops the pool: an address another program holds leaves the pool serving
# where it was (the reload exits 1 and says so), and the next reload moves
# it once the address is free. A pool renamed with its listen unchanged
# (tcp: and Unix) starts on the old pool's socket once that pool is down
# (it could not bind while the old one held it, and nothing served); two
# pools that swap addresses in one reload both come back, swapped.
. "$(dirname "$0")/lib.sh"
uses http

p1=$(free_port)
p2=$(free_port)
while [ "$p2" = "$p1" ]; do p2=$(free_port); done
pools() { # WEB_NAME WEB_PORT API_NAME
    write_config <<EOF2
[pool:$1]
command = $ECHO_WORKER
workers = 1
listen = tcp:127.0.0.1:$2

[pool:$3]
command = $ECHO_WORKER
workers = 1
listen = $T/api.sock
EOF2
}
pools web "$p1" api
start_daemon
wait_for 10 "web running" pool_running web 1
wait_for 10 "api running" pool_running api 1
assert_eq "$(dv call web one)" one "a call on web"

# --- the new address is taken: web stays on the old one, reload exits 1 ---
"$PYTHON" - "$p2" "$T/holder.ready" <<'PY' &
import socket, sys, time, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close()
time.sleep(120)
PY
holder=$!
track_pid "$holder"
wait_for 10 "the port holder" test -e "$T/holder.ready"
pools web "$p2" api
rc=0
out=$(dv reload 2>&1) || rc=$?
assert_eq "$rc" 1 "exit status of a reload to a taken address"
assert_contains "$out" "pool web: not changed: listen on tcp:127.0.0.1:$p2"
assert_contains "$out" "it keeps running as it was, on tcp:127.0.0.1:$p1"
case "$out" in *"stopped and started again"*) fail "the reload claims web was re-created: $out" ;; esac
assert_eq "$(pool_route web listen)" "tcp:127.0.0.1:$p1" "web's listen after the failed move"
assert_eq "$(dv call web two)" two "web serves on its old address"
# Back to the address it kept: no change (it was a restart of web: the diff was from the
# file of the failed reload, not from what web runs).
pid=$(slot_field web 0 pid)
pools web "$p1" api
assert_eq "$(dv reload 2>&1)" "no changes" "reload back to the address web kept"
assert_eq "$(slot_field web 0 pid)" "$pid" "web's worker after the reload back"
pools web "$p2" api

# --- the address is freed: the next reload moves web ---
kill "$holder"
wait "$holder" 2>/dev/null
out=$(dv reload 2>&1) || fail "reload once the address is free: $out"
wait_for 10 "web on its new address" pool_route_is web listen "tcp:127.0.0.1:$p2"
wait_for 10 "web running again" pool_running web 1
assert_eq "$(dv call web three)" three "web serves on its new address"

# --- renamed, same listens: the new pools take the sockets ---
pools web2 "$p2" api2
out=$(dv reload 2>&1) || fail "reload renaming web and api: $out"
wait_for 10 "web2 running" pool_running web2 1
wait_for 10 "api2 running" pool_running api2 1
has_pool web && fail "web still listed"
has_pool api && fail "api still listed"
assert_eq "$(dv call web2 four)" four "web2 serves on web's address"
assert_eq "$(dv call api2 five)" five "api2 serves on api's socket"
assert_eq "$(pool_route api2 listen)" "$T/api.sock" "api2's listen"

# --- two pools swap addresses in one reload: both come back, swapped ---
write_config <<EOF2
[pool:web2]
command = $ECHO_WORKER
workers = 1
listen = $T/api.sock

[pool:api2]
command = $ECHO_WORKER
workers = 1
listen = tcp:127.0.0.1:$p2
EOF2
out=$(dv reload 2>&1) || fail "reload swapping the addresses: $out"
wait_for 10 "web2 on api's socket" pool_route_is web2 listen "$T/api.sock"
wait_for 10 "api2 on web's port" pool_route_is api2 listen "tcp:127.0.0.1:$p2"
wait_for 10 "web2 running" pool_running web2 1
wait_for 10 "api2 running" pool_running api2 1
assert_eq "$(dv call web2 six)" six "web2 after the swap"
assert_eq "$(dv call api2 seven)" seven "api2 after the swap"
alive "$DAEMON_PID" || fail "droverd died"
finish_checks
