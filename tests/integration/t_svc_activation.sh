#!/bin/bash
# SPDX-License-Identifier: ISC
# Socket activation: systemd-socket-activate makes the listening socket,
# waits for the first client, then execs droverd with LISTEN_FDS, LISTEN_PID
# and LISTEN_FDNAMES, as systemd does for drover.socket.
#
#  - the socket named after a message-mode pool serves that pool: the first
#    client, which connected before droverd even ran, is answered through it,
#    and so are later ones; droverd does not bind a socket of its own;
#  - workers see no LISTEN_* and no extra fds; at exit droverd leaves the
#    socket file, which belongs to systemd;
#  - a passed socket whose name matches no pool: droverd refuses to start,
#    with exit status 1 and a message naming the socket, and starts no worker;
#  - two passed sockets with the same name (a .socket unit with two Listen
#    lines and one FileDescriptorName=): a pool serves one, so droverd refuses
#    to start rather than leave clients of the other waiting for ever;
#  - a passed fd that is not a listening stream socket (a connection, as
#    Accept=yes passes; a file): droverd refuses to start, naming the fd,
#    rather than run "ready" with a pool that can never accept;
#  - a reload that changes or removes the listen of the pool serving systemd's
#    socket, or removes the pool, fails and says why: the pool keeps serving
#    systemd's socket.
. "$(dirname "$0")/lib.sh"

command -v systemd-socket-activate >/dev/null 2>&1 ||
    fail "systemd-socket-activate is needed (Debian package systemd)"
# The interpreter itself, not a wrapper script (pyenv shims cost 200 ms a call).
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

# client.py PATH TEXT: one length-framed request; prints the reply (status byte + body).
cat >"$T/client.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
body = sys.argv[2].encode()
s.sendall(struct.pack(">I", len(body)) + body)
def recv(n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            sys.exit("connection closed after %d bytes" % len(b))
        b += chunk
    return b
(n,) = struct.unpack(">I", recv(4))
sys.stdout.write(recv(n).decode())
PY

write_config <<EOF
[pool:act]
command = $ECHO_WORKER
workers = 2
listen = $T/act.sock
mode = message
framing = length
EOF

systemd-socket-activate -l "$T/act.sock" --fdname=act "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$! # systemd-socket-activate execs droverd: the same pid
wait_for 10 "the socket of systemd-socket-activate" test -S "$T/act.sock"
inode=$(stat -c %i "$T/act.sock")
[ -e "$SOCK" ] && fail "droverd runs before any client connected"

# The first client wakes it up; its request waits in the backlog meanwhile.
out=$("$PY" "$T/client.py" "$T/act.sock" first 2>&1) || fail "first request: $out"
assert_eq "$out" "+first" "reply to the request that started droverd"
wait_for 10 "droverd to answer" dv status
wait_for 10 "act workers running" pool_running act
assert_eq "$(stat -c %i "$T/act.sock")" "$inode" "inode of $T/act.sock (droverd must not bind its own)"
grep -q "pool act: using the socket passed by systemd (act)" "$T/droverd.log" ||
    fail "droverd did not say it uses the passed socket"
assert_eq "$(dv call act second)" "second" "drover call through the passed socket"
out=$("$PY" "$T/client.py" "$T/act.sock" third 2>&1) || fail "third request: $out"
assert_eq "$out" "+third" "reply to a later client"

# Workers: none of droverd's LISTEN_* variables, exactly fds 0-3 (3 = work socket pair).
for slot in 0 1; do
    pid=$(slot_field act "$slot" pid)
    grep -qz '^LISTEN_' "/proc/$pid/environ" && fail "worker $pid inherited LISTEN_* variables"
    fds=$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')
    assert_eq "$fds" "0 1 2 3 " "fds of worker $pid"
done

# A reload cannot move the pool off systemd's socket (to another path), nor take its listen
# away, nor remove the pool: it fails, says why, and the pool goes on serving systemd's
# socket, as status says (clients would otherwise wait in a backlog nobody accepts from).
cp "$CONF" "$T/good.ini"
for change in other nolisten removed; do
    case $change in
    other) sed "s|^listen = .*|listen = $T/other.sock|" "$T/good.ini" >"$CONF" ;;
    nolisten) grep -v -e '^listen' -e '^mode' -e '^framing' "$T/good.ini" >"$CONF" ;;
    removed) { sed '/^\[pool:act\]/,$d' "$T/good.ini"; printf '[pool:side]\ncommand = /bin/sleep 3600\n'; } >"$CONF" ;;
    esac
    case $change in
    other) why="listen cannot change: the pool serves the socket systemd passed (FileDescriptorName=act)" ;;
    nolisten) why="pool 'act' serves the socket systemd passed (FileDescriptorName=act): a reload cannot take its listen away" ;;
    removed) why="pool 'act' serves the socket systemd passed (FileDescriptorName=act): a reload cannot remove it" ;;
    esac
    run_capture dv reload
    assert_eq "$RUN_RC" 1 "drover reload ($change)"
    assert_contains "$RUN_OUT$RUN_ERR" "$why" "drover reload ($change)"
    [ "$change" = other ] && assert_contains "$RUN_OUT$RUN_ERR" "pool act: not changed: $why" "drover reload ($change)"
    grep -qF "$why" "$T/droverd.log" || fail "droverd's log does not say why ($change)"
    [ -e "$T/other.sock" ] && fail "the reload bound $T/other.sock"
    has_pool side && fail "the refused reload ($change) added pool side"
    assert_eq "$(pool_route act listen)" "$T/act.sock" "act's listen after the refused reload ($change)"
    out=$("$PY" "$T/client.py" "$T/act.sock" "after-$change" 2>&1) || fail "request after the refused reload ($change): $out"
    assert_eq "$out" "+after-$change" "reply through systemd's socket after the refused reload ($change)"
done
cp "$T/good.ini" "$CONF"
assert_eq "$(dv reload)" "no changes" "drover reload back to the passed socket's listen (no restart)"

dv shutdown >/dev/null || fail "drover shutdown"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
[ -S "$T/act.sock" ] || fail "droverd removed the socket file, which belongs to systemd"
rm -f "$T/act.sock"

# A passed socket that no pool claims: droverd refuses to start and names it.
systemd-socket-activate -l "$T/act.sock" -l "$T/stray.sock" --fdname=act:stray \
    "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "the sockets of systemd-socket-activate" test -S "$T/stray.sock"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$T/stray.sock" ||
    fail "cannot connect to $T/stray.sock"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 1 "droverd exit status with a stray socket"
grep -q "socket named 'stray'" "$T/droverd.log" || fail "the refusal does not name the socket 'stray'"
grep -q "matches no pool" "$T/droverd.log" || fail "the refusal does not say why"
grep -q "ready:" "$T/droverd.log" && fail "droverd got ready despite the stray socket"
grep -q "started (pid" "$T/droverd.log" && fail "droverd started despite the stray socket"
rm -f "$T/act.sock" "$T/stray.sock"

# Two sockets named after the one pool: refused, with both fds named.
systemd-socket-activate -l "$T/act.sock" -l "$T/act2.sock" --fdname=act:act \
    "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "the sockets of systemd-socket-activate" test -S "$T/act2.sock"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$T/act.sock" ||
    fail "cannot connect to $T/act.sock"
wait_daemon_exit 20
assert_eq "$DAEMON_STATUS" 1 "droverd exit status with two sockets named act"
grep -q "two sockets are named 'act' (LISTEN_FDNAMES, fds 3 and 4)" "$T/droverd.log" ||
    fail "the refusal does not name the sockets: $(cat "$T/droverd.log")"
grep -q "started (pid" "$T/droverd.log" && fail "droverd started with two sockets named act"
rm -f "$T/act.sock" "$T/act2.sock"

# A connection (systemd-socket-activate --accept, like Accept=yes), then a plain file.
systemd-socket-activate --accept -l "$T/act.sock" --fdname=act \
    "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
activator=$!
track_pid "$activator"
wait_for 10 "the socket of systemd-socket-activate" test -S "$T/act.sock"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$T/act.sock" ||
    fail "cannot connect to $T/act.sock"
wait_for 20 "droverd to refuse the connection it was given" file_has "$T/droverd.log" \
    "socket activation: fd 3, named 'act' \(LISTEN_FDNAMES\), is not a listening stream socket"
for pid in $(ps -o pid= --ppid "$activator"); do track_pid "$pid"; done # its droverd, if left
grep -q "started (pid" "$T/droverd.log" && fail "droverd started with a connection as its socket"
kill "$activator"
wait "$activator" 2>/dev/null
rm -f "$T/act.sock"
run_capture bash -c 'exec 3<"$1"; export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=act
    exec "$2" -c "$1"' _ "$CONF" "$DROVERD"
assert_eq "$RUN_RC" 1 "droverd exit status with a file as its socket"
assert_contains "$RUN_ERR" "fd 3, named 'act' (LISTEN_FDNAMES), is not a listening stream socket"
[ -e "$SOCK" ] && fail "droverd made its control socket with a file as its socket"
log "ok"
