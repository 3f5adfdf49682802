#!/bin/bash
# SPDX-License-Identifier: ISC
# A worker's notify message longer than droverd reads (4096 bytes, as
# systemd's) is dropped, and like every dropped message it is logged with the
# sender's pid and the reason: a worker whose READY=1 came in one oversized
# datagram (with a long STATUS=) otherwise sat in `starting` until
# start_timeout with nothing anywhere saying why. Found by a hostile probe of
# the notify socket. Messages that fit are still taken.
. "$(dirname "$0")/lib.sh"

cat >"$T/worker.py" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1\nSTATUS=" + b"x" * 5000, os.environ["NOTIFY_SOCKET"])
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
s.sendto(b"READY=1\nSTATUS=small", os.environ["NOTIFY_SOCKET"])
while True:
    time.sleep(60)
PY
write_config <<EOF2
[pool:big]
command = $PYTHON $T/worker.py $T/go
workers = 1
ready = notify
start_timeout = 60s
EOF2
start_daemon
wait_for 10 "big worker starting" state_is big 0 starting
pid=$(slot_field big 0 pid)
wait_for 10 "the oversized message logged as dropped" file_has "$T/droverd.log" \
    "pool big slot 0: notify: message from pid $pid longer than 4096 bytes, dropped"
assert_eq "$(slot_field big 0 state)" starting "big worker after its oversized READY=1"
touch "$T/go"
wait_for 10 "big worker running after a READY=1 that fits" state_is big 0 running
assert_eq "$(slot_field big 0 status_text)" small "status_text"
assert_eq "$(slot_field big 0 pid)" "$pid" "big worker's pid"
alive "$DAEMON_PID" || fail "droverd died"
finish_checks
