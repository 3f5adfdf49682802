#!/bin/bash
# SPDX-License-Identifier: ISC
# log_keep lowered by a reload is kept to at the next rotation: the old
# files past the new count are removed. They stayed for ever (log_keep = 0
# left POOL.log.1 ... as they were), taking the disk the operator meant to
# free, and `drover logs` read the stale POOL.log.1 as the lines before the
# current file.
. "$(dirname "$0")/lib.sh"

LOG="$T/log/talk.log"
# burst N: 100 lines of 80 bytes: two at start (N = 0, 1), one at each SIGHUP (N = 2, 3).
cat >"$T/talker.sh" <<'EOF2'
n=0
burst() {
    j=0
    while [ $j -lt 100 ]; do
        echo "burst $n line $j xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        j=$((j + 1))
    done
    n=$((n + 1))
}
trap burst HUP
burst
burst
while :; do
    sleep 3600 &
    wait $!
done
EOF2
conf() {
    write_config <<EOF2
[pool:talk]
command = /bin/sh $T/talker.sh
workers = 1
log_max_size = 4K
log_keep = $1
EOF2
}
conf 3
start_daemon
wait_for 10 "talk running" pool_running talk
wait_for 10 "three rotated files" test -f "$LOG.3"

tick() { dv signal talk HUP >/dev/null; }
conf 1
dv reload >/dev/null || fail "reload to log_keep = 1"
tick
wait_for 10 "burst 2 in $LOG" file_has "$LOG" '\] burst 2 line 99 '
[ -e "$LOG.2" ] && fail_later "log_keep = 1: talk.log.2 still there after a rotation"
[ -e "$LOG.3" ] && fail_later "log_keep = 1: talk.log.3 still there after a rotation"
[ -f "$LOG.1" ] || fail_later "log_keep = 1: no talk.log.1"

conf 0
dv reload >/dev/null || fail "reload to log_keep = 0"
tick
wait_for 10 "burst 3 in $LOG" file_has "$LOG" '\] burst 3 line 99 '
[ -e "$LOG.1" ] && fail_later "log_keep = 0: talk.log.1 still there after a rotation"
dv logs talk -n 1000 >"$T/logs.out" || fail "logs talk"
grep -q 'burst 2 ' "$T/logs.out" && fail_later "logs talk (log_keep = 0) gave lines of a removed file"
finish_checks
log "ok"
