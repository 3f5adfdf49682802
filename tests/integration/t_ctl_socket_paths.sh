#!/bin/bash
# droverd runs as root and replaces a stale socket where it binds: it must never delete
# anything else there. A listen or control_socket naming a regular file (a typo for a data
# file), a directory or a link is an error at FILE:LINE in `drover check`, at start and on
# reload, and the file is left as it was; a socket path replaced by a file while droverd
# runs is not deleted when the pool goes or droverd stops.
. "$(dirname "$0")/lib.sh"

echo precious >"$T/data.db"
ln -s "$T/data.db" "$T/link.sock"

# listen = a regular file: refused by check and at start, the file kept.
write_config <<EOF2
[pool:app]
command = $ECHO_WORKER
workers = 1
listen = $T/data.db
EOF2
want="$CONF:8: listen = $T/data.db is a regular file, not a socket (droverd replaces only a stale socket)"
out=$(timeout 20 "$DROVER" check -c "$CONF" 2>&1)
assert_eq "$?" 1 "drover check exit status, listen on a regular file"
assert_contains "$out" "$want" "drover check message"
timeout 20 "$DROVERD" -c "$CONF" >"$T/start.log" 2>&1
assert_eq "$?" 1 "droverd exit status, listen on a regular file"
assert_contains "$(cat "$T/start.log")" "$want" "droverd start message"
assert_eq "$(cat "$T/data.db")" precious "the file named by listen after start"

# A symbolic link: refused too (the link is not followed, nor removed).
sed -i "s|^listen = .*|listen = $T/link.sock|" "$CONF"
out=$(timeout 20 "$DROVER" check -c "$CONF" 2>&1)
assert_contains "$out" "listen = $T/link.sock is a symbolic link, not a socket" "check, listen on a link"
[ -L "$T/link.sock" ] || fail "the link named by listen was removed"

# control_socket = a regular file: refused at its line.
cat >"$T/other.ini" <<EOF2
[daemon]
control_socket = $T/data.db
log_dir = $T/log
[pool:calm]
command = /bin/sleep 3600
stdout = null
EOF2
timeout 20 "$DROVERD" -c "$T/other.ini" >"$T/start2.log" 2>&1
assert_eq "$?" 1 "droverd exit status, control_socket on a regular file"
assert_contains "$(cat "$T/start2.log")" \
    "$T/other.ini:2: control_socket = $T/data.db is a regular file, not a socket" "control_socket message"
assert_eq "$(cat "$T/data.db")" precious "the file named by control_socket after start"

# On reload: a new pool on a regular file is refused, droverd keeps serving.
write_config <<EOF2
[pool:app]
command = $ECHO_WORKER
workers = 1
listen = $T/app.sock
EOF2
start_daemon
wait_for 10 "the app pool running" pool_running app
cat >>"$CONF" <<EOF2
[pool:typo]
command = $ECHO_WORKER
workers = 1
listen = $T/data.db
EOF2
out=$(timeout 20 "$DROVER" -s "$SOCK" reload 2>&1)
assert_eq "$?" 1 "reload exit status, a new pool listening on a regular file"
assert_contains "$out" "listen = $T/data.db is a regular file, not a socket" "reload message"
assert_eq "$(cat "$T/data.db")" precious "the file after the refused reload"
out=$(timeout 20 "$DROVER" -s "$SOCK" call app hello 2>&1) || fail "call after the refused reload: $out"

# A socket replaced by a file while droverd runs: removing the pool and stopping droverd
# leave the file alone.
rm "$T/app.sock" && echo "app data" >"$T/app.sock"
sed -i '/^\[pool:app\]/,$d' "$CONF"
printf '[pool:calm]\ncommand = /bin/sleep 3600\nstdout = null\n' >>"$CONF"
out=$(timeout 20 "$DROVER" -s "$SOCK" reload 2>&1) || fail "reload removing app: $out"
app_gone() { ! has_pool app; }
wait_for 20 "the app pool gone" app_gone
rm "$SOCK" && echo "control data" >"$SOCK"
kill -TERM "$DAEMON_PID"
wait_daemon_exit 30
assert_eq "$(cat "$T/app.sock")" "app data" "a file where the pool's socket was, after the pool went"
assert_eq "$(cat "$SOCK")" "control data" "a file where the control socket was, after droverd stopped"
finish_checks
