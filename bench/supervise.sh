#!/usr/bin/env bash
# Supervision benchmarks against DESIGN.md's quality bars:
#   restart  SIGKILL of a healthy worker -> its replacement's first CLOCK_MONOTONIC reading
#   scale    droverd start -> 1024 workers exec'd; `drover status` (and --json) with 1024 workers
#   memory   droverd's RSS with 256 workers
#   idle     droverd's wake-ups per second with workers running and nothing happening
#
#   bench/supervise.sh                  all of them (about 3 minutes)
#   bench/supervise.sh restart idle     only some: restart scale memory idle
#   RUNS=5 KILLS=1000 bench/supervise.sh
#
# Environment: BUILD (build dir, default build-bench), RUNS (repetitions, 3),
# KILLS (kills per restart run, 500), IDLE_SECONDS (10), RESULTS_DIR (bench/results),
# CGROUP (a writable cgroup v2 directory: restart is measured again with `cgroup = CGROUP`,
# each worker started in a cgroup of its own; unset: not measured).
# Raw JSON lines go to $RESULTS_DIR/supervise.jsonl; a Markdown summary to stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
KILLS=${KILLS:-500}
IDLE_SECONDS=${IDLE_SECONDS:-10}
STATUS_CALLS=${STATUS_CALLS:-20}
RESTART_SLOTS=64
RESTART_DELAY_MAX_MS=100

sections=${*:-restart scale memory idle}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }

bench_build
bench_setup
raw=$RESULTS_DIR/supervise.jsonl
: >"$raw"
T=$bench_tmp

record() { # record KIND JSON
    printf '{"kind":"%s","load1":%s,%s\n' "$1" "$(cut -d' ' -f1 /proc/loadavg)" "${2#\{}" >>"$raw"
}

# write_conf FILE WORKERS STDOUT [extra pool lines...]
write_conf() {
    local file=$1 workers=$2 out=$3
    shift 3
    mkdir -p "$T/log"
    {
        printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$T/ctl.sock" "$T/log"
        printf '[pool:stamp]\ncommand = %s\nworkers = %s\nstdout = %s\n' "$B/stamp-worker" \
            "$workers" "$out"
        printf 'environment = STAMP_SOCKET=%s\n' "$T/stamp.sock"
        local line
        for line in "$@"; do printf '%s\n' "$line"; done
    } >"$file"
}

# Start droverd under stamp-collect --hold; sets $collector, $dpid and $held_line.
start_held() { # start_held CONF WORKERS
    rm -f "$T/held.out" "$T/held.pid"
    "$B/stamp-collect" --socket "$T/stamp.sock" --workers "$2" --hold --pidfile "$T/held.pid" \
        -- "$B/droverd" -c "$1" >"$T/held.out" 2>>"$T/droverd.err" &
    collector=$!
    bench_track "$collector"
    local i
    for i in $(seq 1200); do
        [ -s "$T/held.out" ] && break
        sleep 0.05
    done
    dpid=$(cat "$T/held.pid" 2>/dev/null || { cat "$T/held.out" "$T/droverd.err" >&2; false; })
    held_line=$(cat "$T/held.out")
}

stop_held() {
    kill -TERM "$dpid" 2>/dev/null || true # stamp-collect reaps it and exits
    local i
    for i in $(seq 200); do
        kill -0 "$collector" 2>/dev/null || break
        sleep 0.05
    done
    bench_stop "$collector"
}

# Wall time of N runs of a command, one number (µs) per line.
time_runs() {
    local n=$1 i s e
    shift
    for i in $(seq "$n"); do
        s=$(now_us)
        "$@" >/dev/null
        e=$(now_us)
        echo $((e - s))
    done
}

status_of() { grep -E "^$2:" "/proc/$1/status" | awk '{print $2}'; }
ctxt_of() {
    echo $(($(status_of "$1" voluntary_ctxt_switches) + $(status_of "$1" nonvoluntary_ctxt_switches)))
}

# ---------------------------------------------------------------------------------------
if want restart; then
bench_log "restart latency: $RUNS runs x $KILLS kills over $RESTART_SLOTS slots"
write_conf "$T/restart.ini" $RESTART_SLOTS null "restart_delay = 10ms" \
    "restart_delay_max = ${RESTART_DELAY_MAX_MS}ms" "crash_limit = none"
for r in $(seq "$RUNS"); do
    line=$("$B/stamp-collect" --socket "$T/stamp.sock" --workers $RESTART_SLOTS --kills "$KILLS" \
        --min-age-ms $((RESTART_DELAY_MAX_MS * 3 / 2)) -- "$B/droverd" -c "$T/restart.ini" \
        2>>"$T/droverd.err")
    record restart "$line"
    bench_log "  droverd: $line"
done
if [ -n "${CGROUP:-}" ]; then
    bench_log "restart latency with containment: cgroup = $CGROUP"
    sed "s|^\[daemon\]\$|[daemon]\ncgroup = $CGROUP|" "$T/restart.ini" >"$T/restart-cg.ini"
    for r in $(seq "$RUNS"); do
        line=$("$B/stamp-collect" --socket "$T/stamp.sock" --workers $RESTART_SLOTS \
            --kills "$KILLS" --min-age-ms $((RESTART_DELAY_MAX_MS * 3 / 2)) -- "$B/droverd" \
            -c "$T/restart-cg.ini" 2>>"$T/droverd.err")
        record restart_cgroup "$line"
        bench_log "  droverd, cgroups on: $line"
    done
fi
bench_log "restart floor: stamp-collect --self (fork/exec/waitpid, no droverd)"
for r in $(seq "$RUNS"); do
    line=$("$B/stamp-collect" --self --socket "$T/stamp.sock" --workers $RESTART_SLOTS \
        --kills "$KILLS" --min-age-ms $((RESTART_DELAY_MAX_MS * 3 / 2)) -- "$B/stamp-worker")
    record restart_floor "$line"
    bench_log "  floor: $line"
done

fi

# ---------------------------------------------------------------------------------------
if want scale; then
bench_log "1024 workers: start-up, status wall time ($STATUS_CALLS calls each), RSS"
write_conf "$T/w1024.ini" 1024 null
for r in $(seq "$RUNS"); do
    start_held "$T/w1024.ini" 1024
    line=$held_line
    record startup1024 "$line"
    bench_log "  $line"
    "$B/drover" -s "$T/ctl.sock" status >/dev/null # first call warms the page cache
    for t in $(time_runs "$STATUS_CALLS" "$B/drover" -s "$T/ctl.sock" status); do
        record status1024 "{\"us\":$t}"
    done
    for t in $(time_runs "$STATUS_CALLS" "$B/drover" -s "$T/ctl.sock" status --json); do
        record status1024_json "{\"us\":$t}"
    done
    running=$("$B/drover" -s "$T/ctl.sock" status | grep -c ' running ' || true)
    record rss1024 "{\"vmrss_kb\":$(status_of "$dpid" VmRSS),\"rssanon_kb\":$(status_of "$dpid" RssAnon),\"running\":$running}"
    stop_held
done
bench_log "start-up floor: stamp-collect --self forking 1024 workers"
for r in $(seq "$RUNS"); do
    line=$("$B/stamp-collect" --self --socket "$T/stamp.sock" --workers 1024 -- "$B/stamp-worker")
    record startup1024_floor "$line"
done
# What any CLI call costs here (fork, exec, dynamic linking), with no daemon involved.
for t in $(time_runs "$STATUS_CALLS" "$B/drover" --version); do
    record cli_floor "{\"us\":$t}"
done

fi

# ---------------------------------------------------------------------------------------
if want memory || want idle; then
bench_log "256 workers: RSS (stdout = null and stdout = log) and idle wake-ups over ${IDLE_SECONDS}s"
for out in null log; do
    write_conf "$T/w256-$out.ini" 256 "$out"
    for r in $(seq "$RUNS"); do
        start_held "$T/w256-$out.ini" 256
        sleep 0.5
        rss=$(status_of "$dpid" VmRSS)
        anon=$(status_of "$dpid" RssAnon)
        # After the control path has been used too (status builds a 256-row table).
        "$B/drover" -s "$T/ctl.sock" status >/dev/null
        "$B/drover" -s "$T/ctl.sock" status --json >/dev/null
        rss2=$(status_of "$dpid" VmRSS)
        hwm=$(status_of "$dpid" VmHWM)
        record "rss256_$out" "{\"vmrss_kb\":$rss,\"rssanon_kb\":$anon,\"vmrss_after_status_kb\":$rss2,\"vmhwm_kb\":$hwm}"
        bench_log "  stdout=$out: VmRSS ${rss} kB (anon ${anon} kB), after status ${rss2} kB, HWM ${hwm} kB"
        if want idle && [ "$out" = log ] && [ "$r" = 1 ]; then
            # Idle: nothing happens for IDLE_SECONDS; count droverd's context switches.
            sleep 1
            c0=$(ctxt_of "$dpid")
            sleep "$IDLE_SECONDS"
            c1=$(ctxt_of "$dpid")
            record idle256 "{\"seconds\":$IDLE_SECONDS,\"ctxt_switches\":$((c1 - c0))}"
            bench_log "  idle: $((c1 - c0)) context switches in ${IDLE_SECONDS}s"
        fi
        stop_held
    done
done

fi

if want idle; then
# Idle with routing too: a message-mode pool with a connected, silent client and the
# metrics endpoint enabled, so every kind of event source droverd has is armed.
bench_log "idle with a routed pool, an idle client and metrics_listen, over ${IDLE_SECONDS}s"
port=$((20000 + RANDOM % 20000))
{
    printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\nmetrics_listen = tcp:127.0.0.1:%s\n' \
        "$T/ctl.sock" "$T/log" "$port"
    printf '[pool:echo]\ncommand = %s\nworkers = 2\nlisten = %s\nmode = message\n' \
        "$B/echo-worker" "$T/echo.sock"
    printf '[pool:stamp]\ncommand = %s\nworkers = 254\nenvironment = STAMP_SOCKET=%s\n' \
        "$B/stamp-worker" "$T/stamp.sock"
} >"$T/idle-routed.ini"
start_held "$T/idle-routed.ini" 254
wait_socket "$T/echo.sock"
# One request through the pool, then the client stays connected and silent.
"$B/loadgen" -P drover -c 1 -n 100 "$T/echo.sock" >/dev/null 2>&1
"$B/loadgen" -P drover -c 1 -n 1 --hold $((IDLE_SECONDS + 2)) "$T/echo.sock" >/dev/null 2>&1 &
idle_client=$!
bench_track "$idle_client"
sleep 1
c0=$(ctxt_of "$dpid")
sleep "$IDLE_SECONDS"
c1=$(ctxt_of "$dpid")
wait "$idle_client" || true
record idle_routed "{\"seconds\":$IDLE_SECONDS,\"ctxt_switches\":$((c1 - c0))}"
bench_log "  idle (routed): $((c1 - c0)) context switches in ${IDLE_SECONDS}s"
stop_held
fi

# ---------------------------------------------------------------------------------------
# Summary (Markdown).
col() { grep "\"kind\":\"$1\"" "$raw" | grep -o "\"$2\":[-0-9.e+]*" | cut -d: -f2; }
sub() { grep "\"kind\":\"$1\"" "$raw" | grep -o "\"$2\":{[^}]*}" | grep -o "\"$3\":[-0-9.e+]*" | cut -d: -f2; }

echo
echo "### Supervision ($(date -u +%Y-%m-%d), $RUNS runs each; median (min–max) over runs; 1-min load average during the runs: $(grep -o '"load1":[0-9.]*' "$raw" | cut -d: -f2 | mmm %.1f))"
echo
echo "droverd from $(bench_rev); $(nproc) CPUs, $(uname -r)"
echo
echo "| measure | target | droverd | floor (no droverd) |"
echo "|---|---|---|---|"
echo "| restart p50, µs ($KILLS kills/run, $RESTART_SLOTS slots) | < 2000 | $(sub restart restart_us p50 | mmm %.0f) | $(sub restart_floor restart_us p50 | mmm %.0f) |"
echo "| restart p99, µs | < 10000 | $(sub restart restart_us p99 | mmm %.0f) | $(sub restart_floor restart_us p99 | mmm %.0f) |"
echo "| restart max, µs | – | $(sub restart restart_us max | mmm %.0f) | $(sub restart_floor restart_us max | mmm %.0f) |"
echo "| restarts missed (no replacement within 2 s) | 0 | $(col restart missed | mmm %.0f) | $(col restart_floor missed | mmm %.0f) |"
if [ -n "${CGROUP:-}" ]; then
    echo "| restart p50, µs, cgroups on (a cgroup per worker) | < 2000 | $(sub restart_cgroup restart_us p50 | mmm %.0f) | – |"
    echo "| restart p99, µs, cgroups on | < 10000 | $(sub restart_cgroup restart_us p99 | mmm %.0f) | – |"
    echo "| restarts missed, cgroups on | 0 | $(col restart_cgroup missed | mmm %.0f) | – |"
fi
echo "| start 1024 workers, ms (fork of droverd -> last worker's first clock read) | < 1000 | $(col startup1024 startup_ms | mmm %.1f) | $(col startup1024_floor startup_ms | mmm %.1f) |"
echo "| \`drover status\`, 1024 workers, ms (wall; median (min–max) of ${STATUS_CALLS}×$RUNS calls) | < 50 | $(col status1024 us | awk '{print $1/1000}' | mmm %.1f) | $(col cli_floor us | awk '{print $1/1000}' | mmm %.1f) (\`drover --version\`) |"
echo "| \`drover status --json\`, 1024 workers, ms | < 50 | $(col status1024_json us | awk '{print $1/1000}' | mmm %.1f) | |"
echo "| droverd VmRSS, 1024 workers, kB | – | $(col rss1024 vmrss_kb | mmm %.0f) | |"
echo "| droverd VmRSS, 256 workers, stdout=null, kB | < 4096 | $(col rss256_null vmrss_kb | mmm %.0f) (after status: $(col rss256_null vmrss_after_status_kb | mmm %.0f)) | |"
echo "| droverd VmRSS, 256 workers, stdout=log, kB | < 4096 | $(col rss256_log vmrss_kb | mmm %.0f) (after status: $(col rss256_log vmrss_after_status_kb | mmm %.0f)) | |"
echo "| droverd RssAnon, 256 workers, stdout=log, kB | – | $(col rss256_log rssanon_kb | mmm %.0f) | |"
echo "| idle wake-ups/s, 256 workers (ctxt switches / ${IDLE_SECONDS}s) | 0 | $(col idle256 ctxt_switches | awk -v s="$IDLE_SECONDS" '{print $1/s}' | mmm %.1f) | |"
echo "| idle wake-ups/s, + routed pool, idle client, metrics | 0 | $(col idle_routed ctxt_switches | awk -v s="$IDLE_SECONDS" '{print $1/s}' | mmm %.1f) | |"
