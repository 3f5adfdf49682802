#!/bin/bash
# SPDX-License-Identifier: ISC
# A size rotation that cannot rename POOL.log (here a directory sits at
# POOL.log.1; an append-only POOL.log, chattr +a, does the same) is said once,
# not once per line: droverd retried it, and logged a warning, at every line
# the workers wrote past log_max_size, so a chatty worker flooded droverd's
# own log (and the journal) at its line rate. The output goes on into POOL.log
# meanwhile, and rotation resumes once the rename works again.
. "$(dirname "$0")/lib.sh"

LOG="$T/log/talk.log"
mkdir -p "$LOG.1/in-the-way"
write_config <<EOF2
[pool:talk]
command = $SPEW_WORKER --lines 400 --width 64 --burst 100
workers = 1
log_max_size = 4K
log_keep = 1
EOF2
start_daemon
wait_for 10 "talk running" pool_running talk
wait_for 10 "the 400 lines in $LOG" file_has "$LOG" '^[0-9T:.-]+ \[0\] line 000399 '
n=$(grep -c '\] line 0' "$LOG")
[ "$n" = 400 ] || fail_later "talk.log holds $n of the 400 lines"
n=$(grep -c "pool talk: rotate" "$T/droverd.log")
[ "$n" = 1 ] || fail_later "the failing rotation was logged $n times, want once"

rmdir "$LOG.1/in-the-way" "$LOG.1"
# Output again, until droverd's next try (at most a second later) rotates.
tick_rotated() {
    dv signal talk USR2 >/dev/null
    [ -f "$LOG.1" ]
}
wait_for 10 "a rotation once the rename works again" tick_rotated
wait_for 5 "droverd to say rotating works again" grep -q "rotating $LOG works again" "$T/droverd.log"
finish_checks
log "ok"
