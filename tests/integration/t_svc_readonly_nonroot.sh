#!/bin/bash
# droverd runs as an unprivileged user on a read-only root filesystem given one writable
# directory, as in a Kubernetes pod with readOnlyRootFilesystem and an emptyDir: in a private
# mount namespace / is remounted read-only, only $T/rw stays writable, and droverd runs under
# a uid of its own with the control socket, the workers' notify socket and log_dir in that
# directory. It starts, its workers run and log, `drover` reaches it, /readyz answers 200,
# and SIGTERM ends it with status 0, leaving nothing behind but the logs.
. "$(dirname "$0")/lib.sh"
uses fault http

[ "$(id -u)" = 0 ] || { log "SKIP: needs root (mount namespace, setpriv)"; exit 77; }
unshare -m true 2>/dev/null || { log "SKIP: unshare -m not permitted here"; exit 77; }
uid=$(free_uid) || fail "no free uid in 47001..47099"
chmod 0755 "$T"
copy_bins "$T/bin" droverd echo-worker
mkdir -p "$T/rw"
chown "$uid:$uid" "$T/rw"
PORT=$(free_port)
RW_SOCK="$T/rw/drover.sock"
cat >"$T/k.ini" <<EOF2
[daemon]
control_socket = $RW_SOCK
log_dir = $T/rw/log
metrics_listen = 127.0.0.1:$PORT
shutdown_timeout = 10s

[pool:web]
command = $T/bin/echo-worker
workers = 2
listen = $T/rw/web.sock
stdout = log
EOF2
chmod 0644 "$T/k.ini"

# unshare and setpriv exec: $! is droverd itself.
env -i PATH=/usr/bin:/bin unshare -m sh -c "
    mount --make-rprivate / && mount --bind '$T/rw' '$T/rw' && mount -o remount,bind,ro / &&
    exec setpriv --reuid $uid --regid $uid --clear-groups -- '$T/bin/droverd' -c '$T/k.ini'" \
    >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
SOCK=$RW_SOCK
wait_for 10 "droverd to answer on $SOCK" dv status
wait_for 10 "web running" pool_running web
assert_eq "$(awk '/^Uid:/ { print $2 }' /proc/"$DAEMON_PID"/status)" "$uid" "droverd's uid"
grep -q " / [^ ]* ro[, ]" /proc/"$DAEMON_PID"/mountinfo || fail "droverd's root is not read-only"
expect_exit 0 "drover call" dv call web hello
assert_eq "$RUN_OUT" hello "drover call's answer"
wait_for 5 "/readyz 200" http_code_is "$PORT" /readyz 200
wait_for 5 "the pool's log in the writable directory" test -f "$T/rw/log/web.log"
file_has "$T/droverd.log" "Read-only|Permission denied|EROFS" && fail "droverd hit the read-only root: $(cat "$T/droverd.log")"
kill -TERM "$DAEMON_PID"
wait_daemon_exit 15
assert_eq "$DAEMON_STATUS" 0 "exit status after SIGTERM"
# The start lock (SOCKET.lock) is kept on purpose: removing it could let two droverds lock two files.
left=$(cd "$T/rw" && find . -mindepth 1 ! -path './log' ! -path './log/*' | sort | tr '\n' ' ')
assert_eq "$left" "./drover.sock.lock " "files left in the writable directory besides the logs"
