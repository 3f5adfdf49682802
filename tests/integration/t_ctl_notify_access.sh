#!/bin/bash
# notify_access: `systemd-notify --ready` run by a worker script as a non-root
# user sends from systemd-notify's own pid (only root may claim its parent's).
# With notify_access = all droverd accepts it (the sender is in the worker's
# process group) and the worker becomes running; with the default main it is
# dropped, and the log says from which pid and why. A flood of foreign
# messages logs a line a second at most.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { log "SKIP: needs root (pool user = nobody)"; exit 77; }
command -v systemd-notify >/dev/null || { log "SKIP: no systemd-notify"; exit 77; }
chmod 755 "$T"
cat >"$T/worker.sh" <<'EOF2'
#!/bin/sh
# The main process stays this shell; systemd-notify is its child.
systemd-notify --ready --status="ready as $(id -un)"
while :; do sleep 1; done
EOF2
cat >"$T/flood.sh" <<'EOF2'
#!/bin/sh
# Many datagrams from a child of the worker, then idle.
python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"STATUS=flood", os.environ["NOTIFY_SOCKET"])
'
echo done >"$1"
while :; do sleep 1; done
EOF2
chmod 755 "$T/worker.sh" "$T/flood.sh"

write_config <<EOF2
[pool:anyone]
command = $T/worker.sh
workers = 1
user = nobody
ready = notify
notify_access = all
start_timeout = 60s

[pool:main]
command = $T/worker.sh
workers = 1
user = nobody
ready = notify
start_timeout = 60s

[pool:flood]
command = $T/flood.sh $T/flood.done
workers = 1
ready = notify
start_timeout = 60s
EOF2
chmod 644 "$CONF"
start_daemon

# notify_access = all: READY=1 from systemd-notify (a child of the worker) counts.
wait_for 20 "anyone:0 running after systemd-notify --ready" state_is anyone 0 running
assert_eq "$(slot_json anyone 0 "x['status_text']")" "ready as nobody" "STATUS= from systemd-notify"

# notify_access = main: the same message is dropped, with a log line that says why.
mp=$(slot_field main 0 pid)
wait_for 20 "the dropped READY=1 logged" file_has "$T/droverd.log" \
    "pool main slot 0: notify: message from pid [0-9]+, not the worker \(pid $mp\), dropped: notify_access = main"
state_is main 0 starting || fail "main:0 is $(slot_field main 0 state), not starting: a foreign READY=1 counted"

# A flood of foreign messages: dropped, and logged a line a second at most.
wait_for 20 "the flood was sent" test -s "$T/flood.done"
wait_for 10 "the flood was dropped and logged" file_has "$T/droverd.log" "pool flood slot 0: notify: message from pid"
n=$(grep -c "notify: message from pid" "$T/droverd.log")
[ "$n" -le 6 ] || fail "$n log lines for dropped notify messages: not rate-limited"
state_is flood 0 starting || fail "flood:0 is $(slot_field flood 0 state), not starting"

# notify_access is applied live: a reload to all, and the next READY=1 counts.
sed -i '/^\[pool:main\]/,/^$/ s/^start_timeout = 60s$/start_timeout = 60s\nnotify_access = all/' "$CONF"
expect_exit 0 "reload to notify_access = all" dv reload
expect_exit 0 "restart main" dv restart main
state_is main 0 running || fail "main:0 not running after notify_access = all and a restart"
