#!/bin/bash
# SPDX-License-Identifier: ISC
# logrotate's copytruncate (or an operator's `: > POOL.log`) empties POOL.log
# under droverd, which keeps writing to it (O_APPEND, so at the new end). Its
# size rotation must go by the file's real size: droverd counted on from the
# size before the truncation, so it rotated a file a fraction of
# log_max_size long (keeping less history than log_keep promises, and
# shifting logrotate's own POOL.log.1 in a config without dateext).
. "$(dirname "$0")/lib.sh"

LOG="$T/log/talk.log"
write_config <<EOF2
[pool:talk]
command = $SPEW_WORKER --lines 500 --width 64 --burst 300
workers = 1
log_max_size = 64K
log_keep = 3
EOF2
start_daemon
wait_for 10 "talk running" pool_running talk
wait_for 10 "the first 500 lines in $LOG" file_has "$LOG" '^[0-9T:.-]+ \[0\] line 000499 '
size=$(stat -c %s "$LOG")
[ "$size" -gt 40000 ] || fail "the first lines take $size bytes, want more than 40000"

: >"$LOG" # what copytruncate does after its copy
dv signal talk USR2 >/dev/null || fail "drover signal talk USR2"
wait_for 10 "the burst after the tick in $LOG" file_has "$LOG" '^[0-9T:.-]+ \[0\] line 000299 '
[ -e "$LOG.1" ] &&
    fail "droverd rotated a $(stat -c %s "$LOG.1")-byte talk.log (log_max_size 64K) after it was truncated"
n=$(grep -c '\] line 0' "$LOG")
[ "$n" = 300 ] || fail "talk.log holds $n of the 300 lines written since the truncation"
log "ok"
