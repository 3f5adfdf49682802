#!/bin/bash
# SPDX-License-Identifier: ISC
# A symlink planted at POOL.log is not followed. droverd runs as root, and a
# log_dir that an unprivileged user can write to (an application's own log
# directory) let that user point POOL.log at any file: droverd created it
# (/etc/nologin) or appended the worker's output to it (the user's own worker
# chooses what), at start, at each rotation and on SIGUSR1; and `drover logs`
# read it out. Now the link is refused like any failing open (logged once,
# output dropped and counted; said once, however much output comes) and
# `drover logs` names it.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/log"
echo "victim's own line" >"$T/victim"
ln -s "$T/victim" "$T/log/planted.log"
ln -s "$T/created-by-droverd" "$T/log/dangling.log"
write_config <<EOF2
[pool:planted]
command = /bin/sh -c 'echo worker-line; exec sleep 1000'
workers = 1

[pool:dangling]
command = /bin/sh -c 'echo worker-line; exec sleep 1000'
workers = 1

[pool:chatty]
command = $SPEW_WORKER --chatter 2000
workers = 1
EOF2
ln -s "$T/victim" "$T/log/chatty.log"
t0=$(now_ms)
start_daemon
wait_for 10 "planted running" pool_running planted
wait_for 10 "dangling running" pool_running dangling
# written: the worker's line went somewhere (through the link), or was dropped and counted.
written() { grep -q worker-line "$2" 2>/dev/null || [ "$(pool_json "$1" "p['log_dropped_bytes']")" -gt 0 ]; }
wait_for 10 "planted's line written or dropped" written planted "$T/victim"
wait_for 10 "dangling's line written or dropped" written dangling "$T/created-by-droverd"
# droverd tries the open again once a second while output comes: still said once, with its
# reason (the drops between two tries were logged again, with a stale errno: "File exists").
after_3s() { [ $(($(now_ms) - t0)) -ge 3000 ] && [ "$(pool_json chatty "p['log_dropped_bytes']")" -gt 0 ]; }
wait_for 10 "3 s of chatty's output dropped" after_3s
n=$(grep -c "pool chatty:" "$T/droverd.log")
[ "$n" = 1 ] || fail_later "chatty's unwritable log was logged $n times: $(grep "pool chatty:" "$T/droverd.log")"
kill -USR1 "$DAEMON_PID"
wait_for 10 "droverd to reopen the logs" grep -q "reopening log files" "$T/droverd.log"
dv status >/dev/null # the reopen is done once droverd answers again

[ "$(cat "$T/victim")" = "victim's own line" ] ||
    fail_later "droverd wrote through the symlink planted.log: $(cat -v "$T/victim")"
[ -e "$T/created-by-droverd" ] && fail_later "droverd created the target of the dangling symlink dangling.log"
[ -L "$T/log/planted.log" ] || fail_later "planted.log is no longer the symlink"
grep -q "planted.log is a symlink: not followed" "$T/droverd.log" ||
    fail_later "droverd did not say why planted.log is not written"
[ "$(grep -c "planted.log" "$T/droverd.log")" = 1 ] ||
    fail_later "the failing open was not logged once: $(grep "planted.log" "$T/droverd.log")"
run_capture dv logs planted
[ "$RUN_RC" = 1 ] || fail_later "logs planted: exit $RUN_RC, want 1"
case "$RUN_ERR" in
*"planted.log is not a regular file"*) ;;
*) fail_later "logs planted: stderr: $RUN_ERR" ;;
esac
case "$RUN_OUT" in
*victim*) fail_later "drover logs read the symlink's target: $RUN_OUT" ;;
esac
finish_checks
log "ok"
