#!/bin/bash
# A FIFO, socket or device where a config file is expected is an error naming the include
# line, never a hang: in `drover check`, at start and on reload (droverd keeps serving).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/conf.d"
write_config <<EOF2
include = $T/conf.d/*.ini
[pool:calm]
command = /bin/sleep 3600
workers = 1
stdout = null
EOF2
mkfifo "$T/conf.d/fifo.ini"
want="$CONF:5: include '$T/conf.d/fifo.ini' is a FIFO, not a regular file"

# drover check: refused at once (timeout only guards against the old hang).
out=$(timeout 20 "$DROVER" check -c "$CONF" 2>&1)
rc=$?
assert_eq "$rc" 1 "drover check exit status"
assert_contains "$out" "$want" "drover check message"

# At start: droverd refuses the config and exits 1.
timeout 20 "$DROVERD" -c "$CONF" >"$T/start.log" 2>&1
rc=$?
assert_eq "$rc" 1 "droverd exit status with a FIFO in conf.d"
assert_contains "$(cat "$T/start.log")" "$want" "droverd start message"

# On reload: droverd answers the error and keeps running the old config.
rm "$T/conf.d/fifo.ini"
start_daemon
wait_for 10 "the calm pool running" pool_running calm
mkfifo "$T/conf.d/fifo.ini"
out=$(timeout 20 "$DROVER" -s "$SOCK" reload 2>&1)
rc=$?
assert_eq "$rc" 1 "reload exit status with a FIFO in conf.d"
assert_contains "$out" "$want" "reload message"
out=$(timeout 10 "$DROVER" -s "$SOCK" status) || fail "status after the refused reload: $out"
assert_contains "$out" "calm" "status after the refused reload"

# A device and a socket matched by the glob are refused the same way.
rm "$T/conf.d/fifo.ini"
ln -s /dev/zero "$T/conf.d/zero.ini"
out=$(timeout 20 "$DROVER" check -c "$CONF" 2>&1)
assert_contains "$out" "include '$T/conf.d/zero.ini' is a character device" "device in conf.d"
rm "$T/conf.d/zero.ini"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$T/conf.d/s.ini"
out=$(timeout 20 "$DROVER" check -c "$CONF" 2>&1)
assert_contains "$out" "include '$T/conf.d/s.ini' is a socket" "socket in conf.d"
rm "$T/conf.d/s.ini"
out=$(timeout 20 "$DROVER" -s "$SOCK" reload 2>&1) || fail "reload once conf.d is clean: $out"
