#!/bin/bash
# The log directory is on a small tmpfs, and it fills up (ENOSPC):
#  - output that cannot be written is dropped and counted (status --json
#    log_dropped_bytes, the LOG DROPPED column, drover_pool_log_dropped_bytes_total),
#    and droverd says so once, not once per line;
#  - workers are never blocked: a chatty worker keeps writing at its pace
#    (its output pipe is drained whatever the disk does), and a message-mode
#    pool whose workers log every request keeps serving without losing one;
#  - droverd keeps answering `drover status` promptly;
#  - when space comes back, logging resumes (new lines appear, droverd logs
#    that writing works again, the dropped counters stop growing).
. "$(dirname "$0")/lib.sh"
uses route fault

mkdir -p "$T/log"
mount -t tmpfs -o size=32m,mode=0755 drover-fault-log "$T/log" || fail "cannot mount a tmpfs on $T/log (need root)"
# Stop droverd before unmounting (it holds the log files open); a lazy unmount if it is still busy.
on_exit 'stop_daemon 10; umount "$T/log" || umount -l "$T/log"'

write_config <<EOF2
[pool:chat]
command = $SPEW_WORKER --chatter 1000 --line-bytes 200 --progress $T/chat.%w
workers = 2

[pool:msg]
command = $SPEW_WORKER --echo --log-each
workers = 2
listen = $T/msg.sock
EOF2
start_daemon
wait_for 10 "chat running" pool_running chat
wait_for 10 "msg running" pool_running msg 2
wait_for 5 "chat lines in the log" file_has "$T/log/chat.log" 'chatter 0 [0-9]+ c'
wc_run "$T/wc_warm" -s "$T/msg.sock" -c 2 -p 4 -n 200
wait_for 5 "msg lines in the log" file_has "$T/log/msg.log" 'request [0-9]+: '

# progress FILE: lines the worker has written so far.
progress() { awk '$1 == "lines" {print $2}' "$1"; }
dropped() { pool_json "$1" "p['log_dropped_bytes']"; }
dropped_gt() { [ "$(dropped "$1")" -gt "$2" ]; }

# --- fill the disk ---
dd if=/dev/zero of="$T/log/filler" bs=64k 2>/dev/null # until ENOSPC
avail=$(df --output=avail -B1 "$T/log" | tail -n 1)
log "tmpfs full: $avail bytes available"
wait_for 10 "chat output dropped" dropped_gt chat 0
wc_run "$T/wc_full1" -s "$T/msg.sock" -c 2 -p 4 -n 200
wait_for 10 "msg output dropped" dropped_gt msg 0

# Workers are not blocked: the chatter writes one 201-byte line per ms, the disk is full.
p0=$(progress "$T/chat.0")
d0=$(dropped chat)
t0=$(now_ms)
wc_start "$T/wc_full" -s "$T/msg.sock" -c 4 -p 8 -z 100 -t 3 -d 30
status_probe 3 "$T/probe_full"
wc_wait "$T/wc_full"
# A blocked worker would stall at once (the pipe holds 64 KiB = ~330 lines): wait for three
# pipes' worth, however long the machine takes to give the worker that much CPU.
chat_wrote() { [ $(($(progress "$T/chat.0") - p0)) -ge 1000 ]; }
wait_for $((30 * SLOWDOWN)) "the chatty worker to write 1000 lines on a full disk (blocked?)" chat_wrote
p1=$(progress "$T/chat.0")
d1=$(dropped chat)
el=$(($(now_ms) - t0))
log "disk full for ${el} ms: chat worker 0 wrote $((p1 - p0)) lines; chat dropped $((d1 - d0)) bytes more"
# Up to a pipe's worth (64 KiB) of what worker 0 wrote may not have been read (and dropped) yet.
[ $((d1 - d0)) -ge $(((p1 - p0) * 201 - 65536)) ] ||
    fail "chat dropped only $((d1 - d0)) bytes for $((p1 - p0)) lines of worker 0 alone"
log "message pool on a full disk: $(cat "$T/wc_full")"
wc_clean "$T/wc_full" "message pool on a full disk"
probe_check "$T/probe_full" $((1000 * SLOWDOWN)) "status on a full disk"
m=$(metric drover_pool_log_dropped_bytes_total 'pool="chat"')
[ "$m" != none ] && [ "$m" -ge "$d1" ] || fail "drover_pool_log_dropped_bytes_total{pool=\"chat\"} is $m, status said $d1"
out=$(dv status --wide) || fail "status failed"
log "drover status (pools):"
grep -E '^(POOL|chat|msg) ' <<<"$out" >&2 || true
case $out in *DROPPED*) ;; *) fail "drover status has no LOG DROPPED column: $out" ;; esac
warns=$(grep -c "pool chat: writing $T/log/chat.log" "$T/droverd.log")
[ "$warns" -le 2 ] || fail "droverd logged the full disk $warns times for chat (once is enough)"
alive "$DAEMON_PID" || fail "droverd died"

# --- space comes back ---
rm -f "$T/log/filler"
resumed_at=$(progress "$T/chat.0")
new_line() {
    awk -v n="$resumed_at" '$3 == "chatter" && $4 == "0" && $5 + 0 > n + 0 {f = 1} END {exit !f}' "$T/log/chat.log"
}
wait_for 10 "chat lines written after space came back" new_line
wait_for 5 "droverd to say writing works again" file_has "$T/droverd.log" "pool chat: writing .* works again"
msg_size=$(stat -c %s "$T/log/msg.log")
wc_run "$T/wc_after" -s "$T/msg.sock" -c 2 -p 4 -n 200
msg_grew() { [ "$(stat -c %s "$T/log/msg.log")" -gt $((msg_size + 200 * 40)) ]; }
wait_for 5 "msg lines written after space came back" msg_grew
d2=$(dropped chat)
sleep 0.5 # a window in which nothing may be dropped (not a wait for a condition)
d3=$(dropped chat)
assert_eq "$d3" "$d2" "chat bytes dropped once space came back"
log "dropped in all: chat $d3 bytes, msg $(dropped msg) bytes"
