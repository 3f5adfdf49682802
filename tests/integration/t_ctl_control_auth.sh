#!/bin/bash
# Control socket authentication (SO_PEERCRED): root, droverd's own user and
# members of control_group may run verbs; anyone else is refused with a
# clear message and exit 1, and nothing happens. The socket gets
# control_mode and control_group. drover exits 3 when no daemon is there.
. "$(dirname "$0")/lib.sh"

# Other users must reach the socket (and droverd's user, later, its files).
chmod 0755 "$T"
id nobody >/dev/null 2>&1 || fail "user nobody is missing"
getent group nogroup >/dev/null || fail "group nogroup is missing"
getent passwd daemon >/dev/null || fail "user daemon is missing"

# as USER GROUP GROUPS VERB...: drover as that uid, gid and supplementary groups ("-" for
# none); sets OUT, ERR, RC.
as() {
    local user=$1 group=$2 groups=$3 g=(--clear-groups)
    shift 3
    [ "$groups" = - ] || g=(--groups "$groups")
    setpriv --reuid "$user" --regid "$group" "${g[@]}" -- "$DROVER" -s "$SOCK" "$@" >"$T/as.out" 2>"$T/as.err"
    RC=$?
    OUT=$(cat "$T/as.out")
    ERR=$(cat "$T/as.err")
}
# refused WHO USER GROUP GROUPS: every kind of verb is refused, and nothing changes.
refused() {
    local who=$1 before
    shift
    before=$(slot_field w 0 pid)
    for verb in "status" "metrics" "stop w" "restart w" "signal w KILL" "scale w 3" "reload" "shutdown"; do
        # shellcheck disable=SC2086
        as "$@" $verb
        assert_eq "$RC" 1 "exit status of '$verb' by $who"
        assert_eq "$OUT" "" "stdout of '$verb' by $who"
        assert_contains "$ERR" "permission denied: uid $(id -u "$1") may not control droverd" "'$verb' by $who"
    done
    alive "$DAEMON_PID" || fail "droverd went away after refusing $who"
    assert_eq "$(slot_field w 0 pid)" "$before" "worker pid after refused verbs by $who"
    assert_eq "$(status_json "next(p['workers'] for p in s['pools'] if p['name']=='w')")" 1 "workers after refused verbs by $who"
}
allowed() {
    local who=$1
    shift
    as "$@" status --json
    assert_eq "$RC" 0 "exit status of status by $who (stderr: $ERR)"
    python3 -c 'import json,sys; json.loads(sys.argv[1])' "$OUT" || fail "status by $who is not JSON: $OUT"
    as "$@" restart w:0
    assert_eq "$RC" 0 "exit status of restart by $who (stderr: $ERR)"
}
restart_daemon() {
    if [ -n "$DAEMON_PID" ]; then
        dv shutdown >/dev/null || fail "shutdown failed"
        wait_daemon_exit
    fi
    start_daemon
    wait_for 10 "worker running" pool_running w
}

# ---- 1: control_mode = 0666, no control_group: only root (and droverd's user) ----
write_config <<EOF
control_mode = 0666
[pool:w]
command = $SPEW_WORKER
workers = 1
EOF
restart_daemon
assert_eq "$(stat -c '%a %G' "$SOCK")" "666 root" "mode and group of the control socket"
refused "nobody" nobody nogroup -
assert_contains "$ERR" "allowed: root, uid 0 (droverd's user)" "the refusal says who may"
refused "daemon" daemon daemon -
wait_for 5 "refusals logged" grep -q "control uid 65534 pid [0-9]*: refused 'status': not permitted" "$T/droverd.log"
rejected=$(dv metrics | sed -n 's/^drover_control_rejected_total //p')
[ "${rejected:-0}" -ge 16 ] || fail "drover_control_rejected_total should count the 16 refusals, is '$rejected'"
as root root - status
assert_eq "$RC" 0 "root may run status"

# ---- 2: control_group = nogroup, mode 0666: the daemon's own group check ----
write_config <<EOF
control_mode = 0666
control_group = nogroup
[pool:w]
command = $SPEW_WORKER
workers = 1
EOF
restart_daemon
assert_eq "$(stat -c '%a %G' "$SOCK")" "666 nogroup" "mode and group of the control socket"
allowed "nobody (primary group nogroup)" nobody nogroup -
allowed "nobody (supplementary group nogroup)" nobody daemon nogroup
allowed "daemon (supplementary group nogroup)" daemon daemon nogroup
refused "daemon (not in nogroup)" daemon daemon -
assert_contains "$ERR" "members of group 'nogroup'" "the refusal names control_group"

# ---- 3: control_mode = 0660, control_group = nogroup: the file mode is a gate too ----
write_config <<EOF
control_mode = 0660
control_group = nogroup
[pool:w]
command = $SPEW_WORKER
workers = 1
EOF
restart_daemon
assert_eq "$(stat -c '%a %G' "$SOCK")" "660 nogroup" "mode and group of the control socket"
allowed "nobody (primary group nogroup)" nobody nogroup -
as daemon daemon - status
# droverd is there and this user is refused: exit 1 (refused), not 3 (unreachable).
assert_eq "$RC" 1 "exit status of a user without permission on the socket file"
assert_contains "$ERR" "permission denied" "connecting without write permission on the socket"

# ---- 4: droverd running as nobody: its own user may, root may, others may not ----
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
install -d -o nobody -g nogroup -m 0755 "$T/nb"
SOCK="$T/nb/ctl.sock"
cat >"$CONF" <<EOF
[daemon]
control_socket = $SOCK
control_mode = 0666
log_dir = $T/nb/log
shutdown_timeout = 10s
[pool:w]
command = $SPEW_WORKER
workers = 1
EOF
chmod 0644 "$CONF"
setpriv --reuid nobody --regid nogroup --clear-groups -- "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd (as nobody) to answer" dv status
wait_for 10 "worker running" pool_running w
assert_eq "$(ps -o user= -p "$DAEMON_PID")" nobody "droverd's user"
assert_eq "$(ps -o user= -p "$(slot_field w 0 pid)")" nobody "the worker's user"
allowed "nobody (droverd's own user)" nobody nogroup -
allowed "root" root root -
refused "daemon" daemon daemon -
assert_contains "$ERR" "allowed: root, uid 65534 (droverd's user)" "the refusal says who may"
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "exit status of droverd run as nobody"

# ---- 5: no daemon: exit 3 with a clear message ----
[ -e "$SOCK" ] && fail "droverd left its control socket behind after shutdown"
out=$("$DROVER" -s "$SOCK" status 2>&1)
assert_eq "$?" 3 "drover exit status when the socket is gone"
assert_contains "$out" "cannot reach droverd at $SOCK" "drover's message without a daemon"
out=$(DROVER_SOCKET="$T/none.sock" "$DROVER" status 2>&1)
assert_eq "$?" 3 "drover exit status with DROVER_SOCKET naming no socket"
assert_contains "$out" "cannot reach droverd at $T/none.sock" "drover's message with DROVER_SOCKET"
# A stale socket file nobody listens on.
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$T/stale.sock"
out=$("$DROVER" -s "$T/stale.sock" metrics 2>&1)
assert_eq "$?" 3 "drover exit status on a stale socket"
assert_contains "$out" "Connection refused" "drover's message on a stale socket"
exit 0
