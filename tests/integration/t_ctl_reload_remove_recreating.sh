#!/bin/bash
# A reload that removes a pool another reload is still re-creating (its
# listen changed; the old worker is still stopping) leaves it removed: the
# pool does not come back when the old worker is gone, and droverd, which
# once started it again from the freed config of the earlier reload (a
# use-after-free, SIGSEGV), stays up. A pool still stopping that the newest
# config keeps starts again with that config's settings. Meanwhile status
# lists the stopping pool's workers below the table ("stopping" in JSON).
. "$(dirname "$0")/lib.sh"

# A worker that ignores SIGTERM: it stops only at stop_timeout's SIGKILL.
STUBBORN="/bin/sh -c 'trap \"\" TERM; exec sleep 3600'"
web_section() {
    printf '[pool:web]\ncommand = %s\nworkers = 1\nstop_timeout = 2s\n%s\n' "$STUBBORN" "$1"
}
bg_section() { printf '[pool:bg]\ncommand = %s\nworkers = %s\n' "$SPEW_WORKER" "$1"; }

{ web_section ""; bg_section 1; } | write_config
start_daemon
wait_for 10 "web running" pool_running web
wait_for 10 "bg running" pool_running bg
old_web=$(pool_pids web)

# Reload A: web gets a listen, so it is stopped and started again.
{ web_section "listen = $T/web.sock"; bg_section 1; } | write_config
out=$(dv reload --no-wait 2>&1)
assert_eq "$?" 0 "exit status of the reload that re-creates web"
assert_contains "$out" "web" "the reload names web"

# Reload B, before web's old worker is gone: web leaves the config.
bg_section 2 | write_config
out=$(dv reload --no-wait 2>&1)
assert_eq "$?" 0 "exit status of the reload that removes web"
alive "$old_web" || fail "web's old worker stopped before stop_timeout (the test needs it stopping)"
# Not in the table any more, but status says its worker still runs.
assert_contains "$(dv status)" "pool web: removed, 1 worker still stopping (pid $old_web)" "status text"
assert_eq "$(status_json "s['stopping']")" "[{'pool': 'web', 'recreating': False, 'pids': [$old_web]}]" "status --json stopping"

wait_for 20 "web's old worker killed at stop_timeout" dead "$old_web"
wait_for 10 "web removed" file_has "$T/droverd.log" "info: pool web: removed$"
stopping_none() { [ "$(status_json "s['stopping']")" = "[]" ]; }
wait_for 10 "status --json stopping empty once web is gone" stopping_none
alive "$DAEMON_PID" || fail "droverd died once web's old worker was gone"
has_pool web && fail "pool web runs again though the config no longer has it"
[ -e "$T/web.sock" ] && fail "web's socket exists though the pool was removed"
wait_for 10 "bg scaled to 2" pool_running bg

# Reload C re-creates web again; reload D, while it stops, keeps web with
# another listen: web starts again with D's settings.
web_section "" | { cat; bg_section 2; } | write_config
dv reload >/dev/null 2>&1 || fail "reload adding web back"
wait_for 10 "web back" pool_running web
old_web=$(pool_pids web)
{ web_section "listen = $T/web.sock"; bg_section 2; } | write_config
dv reload --no-wait >/dev/null 2>&1 || fail "reload C"
{ web_section "listen = $T/web2.sock"; bg_section 2; } | write_config
dv reload --no-wait >/dev/null 2>&1 || fail "reload D"
wait_for 20 "web's old worker killed" dead "$old_web"
wait_for 10 "web running again" pool_running web
assert_eq "$(pool_route web listen)" "$T/web2.sock" "web's listen after reload D"
[ -S "$T/web2.sock" ] || fail "web2.sock is not listening"
[ -e "$T/web.sock" ] && fail "reload C's web.sock exists"
alive "$DAEMON_PID" || fail "droverd died"
finish_checks
