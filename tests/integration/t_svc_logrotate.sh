#!/bin/bash
# SPDX-License-Identifier: ISC
# The shipped logrotate snippet (systemd/drover.logrotate) works with
# droverd: logrotate renames POOL.log to POOL.log-DATE (dateext keeps clear
# of droverd's own POOL.log.N), its postrotate sends SIGUSR1, and droverd
# re-creates POOL.log, where the next output goes. The snippet is used as
# shipped, with two substitutions: the log directory is this test's, and
# SIGUSR1 goes to this test's droverd (the snippet uses systemctl kill).
# Skipped (passes) when logrotate is not installed.
. "$(dirname "$0")/lib.sh"

if ! command -v logrotate >/dev/null 2>&1; then
    log "SKIP: logrotate is not installed"
    exit 0
fi

cat >"$T/talker.sh" <<'EOF'
n=0
trap 'echo "hup $n"; n=$((n + 1))' HUP
echo started
while :; do
    sleep 3600 &
    wait $!
done
EOF
write_config <<EOF
[pool:talk]
command = /bin/sh $T/talker.sh
workers = 1
EOF
start_daemon
LOG="$T/log/talk.log"
wait_for 10 "the worker's first line in $LOG" grep -q started "$LOG"

snippet="$SRC/systemd/drover.logrotate"
grep -q '^/var/log/drover/\*\.log {' "$snippet" || fail "$snippet does not rotate /var/log/drover/*.log"
grep -q 'systemctl kill --kill-who=main --signal=USR1 drover.service' "$snippet" ||
    fail "$snippet does not send SIGUSR1 to droverd"
sed -e "s|/var/log/drover/|$T/log/|" \
    -e "s|systemctl kill --kill-who=main --signal=USR1 drover.service|kill -USR1 $DAEMON_PID|" \
    "$snippet" >"$T/logrotate.conf"
logrotate -f -s "$T/logrotate.state" "$T/logrotate.conf" >"$T/logrotate.log" 2>&1 ||
    fail "logrotate: $(cat "$T/logrotate.log")"

rotated=$(ls "$T/log" | grep '^talk\.log-' | head -n 1)
[ -n "$rotated" ] || fail "no talk.log-DATE after logrotate: $(ls "$T/log")"
grep -q started "$T/log/$rotated" || fail "$rotated does not hold the old output"
wait_for 10 "droverd to re-create $LOG on SIGUSR1" test -f "$LOG"
grep -q "reopening log files" "$T/droverd.log" || fail "droverd did not get SIGUSR1"
dv signal talk HUP >/dev/null || fail "drover signal talk HUP"
wait_for 10 "new output in the new $LOG" grep -q "hup 0" "$LOG"
grep -q "hup 0" "$T/log/$rotated" && fail "new output went to the rotated file"
dv shutdown >/dev/null || fail "drover shutdown"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
log "ok"
