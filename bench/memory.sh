#!/bin/bash
# SPDX-License-Identifier: ISC
# droverd's memory under hostile clients (issue 15, item 1): the abusive patterns
# run against a fresh droverd each, and droverd's idle, peak (VmHWM) and after-burst
# RSS are reported against its memory budget.
#
#   many:  40 clients pipeline 64 KiB requests to a pool of 2 workers (5 ms each) and
#          read none of the replies for SECS seconds; then they read everything.
#   big:   1 client pipelines 1 MiB requests to a pool of 1 slow worker (500 ms) and
#          reads nothing for SECS seconds; then it reads everything.
#   small: as many, with 4 KiB requests and 1 ms workers (many small replies held).
#
# Each pattern runs with the default budgets (buffer_limit 256M, pool_buffer 64M,
# client_buffer 4M) and with small ones (buffer_limit 16M, pool_buffer 8M,
# client_buffer 1M). Every request must be answered correctly in the end
# (tests/helpers/abuse-client.py checks each reply).
#
# Usage: bench/memory.sh [SECS]   (default 10)
# Environment: BUILD (build dir, default build-bench); DROVERD to measure another
# droverd binary (e.g. one built from an older commit); NO_BUDGET_KEYS=1 for a droverd
# that does not know the budget keys (then only the "default" row is run, without them).
# Output: one JSON line per run on stdout and in $RESULTS_DIR/memory.jsonl.
set -eu
. "$(dirname "$0")/lib.sh"

SECS=${1:-10}
cmake -S "$repo_dir" -B "$BUILD" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >/dev/null
cmake --build "$BUILD" -j2 --target droverd drover faulty-echo-worker >/dev/null
DROVERD=${DROVERD:-$B/droverd}
WORKER=$B/faulty-echo-worker
ABUSE=$repo_dir/tests/helpers/abuse-client.py
bench_setup

rss_kb() { awk "/^$2:/ {print \$2}" /proc/"$1"/status; }

# run_one PATTERN BUDGET: one fresh droverd, one pattern; prints a JSON line.
run_one() {
    local pattern=$1 budget=$2 d=$bench_tmp/$1-$2 keys_d="" keys_p="" pid cpid conns size delay \
        workers idle peak after held=-
    mkdir -p "$d"
    case $budget in
    default) ;;
    small)
        keys_d="buffer_limit = 16M"
        keys_p=$'pool_buffer = 8M\nclient_buffer = 1M'
        ;;
    esac
    case $pattern in
    many) conns=40 size=65536 delay=5 workers=2 ;;
    big) conns=1 size=1048576 delay=500 workers=1 ;;
    small) conns=40 size=4096 delay=1 workers=2 ;;
    esac
    cat >"$d/drover.ini" <<EOF2
[daemon]
control_socket = $d/ctl.sock
log_dir = $d/log
$keys_d

[pool:p]
command = $WORKER --delay-ms $delay
workers = $workers
listen = $d/p.sock
max_queue = 100000
max_frame = 2M
$keys_p
EOF2
    "$DROVERD" -c "$d/drover.ini" >"$d/droverd.log" 2>&1 &
    pid=$!
    bench_track "$pid"
    wait_socket "$d/p.sock" 10
    "$B/drover" -s "$d/ctl.sock" call p hello >/dev/null
    idle=$(rss_kb "$pid" VmRSS)
    python3 "$ABUSE" -s "$d/p.sock" -c "$conns" -z "$size" -t "$SECS" -d 600 \
        --phase1-file "$d/phase1" --go "$d/go" >"$d/abuse.out" 2>"$d/abuse.err" &
    cpid=$!
    bench_track "$cpid"
    while [ ! -f "$d/phase1" ]; do sleep 0.1; done
    peak=$(rss_kb "$pid" VmHWM)
    if [ -z "${NO_BUDGET_KEYS:-}" ]; then
        held=$("$B/drover" -s "$d/ctl.sock" metrics | awk '$1 ~ /^drover_pool_buffered_bytes/ {print $2}')
    fi
    touch "$d/go"
    wait "$cpid" || {
        bench_log "abuse client failed: $(cat "$d/abuse.out") $(tail -3 "$d/abuse.err")"
        return 1
    }
    # Let the last replies go out and the connections close, then measure.
    sleep 1
    "$B/drover" -s "$d/ctl.sock" call p after >/dev/null
    after=$(rss_kb "$pid" VmRSS)
    bench_stop "$pid"
    printf '{"pattern":"%s","budget":"%s","secs":%s,"idle_kb":%s,"peak_kb":%s,"after_kb":%s,"buffered_at_peak":"%s","clients":%s}\n' \
        "$pattern" "$budget" "$SECS" "$idle" "$peak" "$after" "$held" "$(cat "$d/abuse.out")"
}

budgets="default small"
[ -n "${NO_BUDGET_KEYS:-}" ] && budgets=default
for pattern in many big small; do
    for budget in $budgets; do
        bench_log "memory: $pattern, $budget budgets, ${SECS}s"
        run_one "$pattern" "$budget" | tee -a "$RESULTS_DIR/memory.jsonl"
    done
done
