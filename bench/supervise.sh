#!/usr/bin/env bash
# Supervision benchmarks against DESIGN.md's quality bars, and against the supervisors
# users would pick instead (bench/peers):
#   restart  SIGKILL of a healthy worker (up >= MIN_AGE_MS) -> its replacement's first
#            CLOCK_MONOTONIC reading, 64 workers, for every system of SYSTEMS
#            (bench/supbench.c); "floor" is no supervisor: stamp-collect --self reaps the
#            victim with a blocking waitpid and forks and execs its replacement at once
#   scale    droverd start -> 1024 workers exec'd; `drover status` (and --json) with 1024 workers
#   memory   droverd's RSS with 256 workers
#   idle     droverd's wake-ups per second with workers running and nothing happening
#   crash    every system: a worker that exits at once (crash-worker), every start over
#            CRASH_SECONDS, under the system's default restart policy
#   w256     every system: start 256 workers (fork of the supervisor -> last worker
#            exec'd), the supervisor's total RSS/PSS, its wake-ups over IDLE_SECONDS of
#            nothing, and stop (signal -> every worker gone, -> supervisor gone)
#   w16      every system: total RSS/PSS with 16 workers
#
#   bench/supervise.sh                  restart scale memory idle (about 3 minutes)
#   bench/supervise.sh restart idle     only some of the sections
#   RUNS=5 KILLS=1000 bench/supervise.sh
#   SYSTEMS="drover supervisord runit s6 s6-notify pm2 floor" MIN_AGE_MS=1500 KILLS=100 \
#       bench/supervise.sh restart crash w256 w16      what bench/peers/run.sh runs
#
# Systems (SYSTEMS, default "drover floor"): drover, supervisord, runit, s6 (plain),
# s6-notify (s6 with its readiness protocol), pm2 (pm2-runtime; PM2_RUNTIME names it),
# floor (restart only). How each is set up and why: bench/peers/README.md. The peers are
# not installed by this script (bench/peers/run.sh installs them).
#
# Environment: BUILD (build dir, default build-bench), RUNS (repetitions, 3),
# KILLS (kills per restart run, 500), KILLS_SLOW (30: supervisord and plain s6, whose every
# restart takes a second), MIN_AGE_MS (150: a victim's age, so each kill is a healthy
# worker's crash; droverd gets restart_delay_max = 2/3 of it), CRASH_SECONDS (15),
# IDLE_SECONDS (10), STATUS_CALLS (20), RESULTS_DIR (bench/results).
# Raw JSON lines go to $RESULTS_DIR/supervise.jsonl, restart samples (µs, one per kill)
# to $RESULTS_DIR/restart-<system>.txt; a Markdown summary to stdout.
# CGROUP (a writable cgroup v2 directory) makes the system drover-cgroup available: drover
# with `cgroup = CGROUP`, each worker in a cgroup of its own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
KILLS=${KILLS:-500}
KILLS_SLOW=${KILLS_SLOW:-30}
MIN_AGE_MS=${MIN_AGE_MS:-150}
CRASH_SECONDS=${CRASH_SECONDS:-15}
IDLE_SECONDS=${IDLE_SECONDS:-10}
STATUS_CALLS=${STATUS_CALLS:-20}
SYSTEMS=${SYSTEMS:-drover floor}
PM2_RUNTIME=${PM2_RUNTIME:-pm2-runtime}
RESTART_SLOTS=64
RESTART_DELAY_MAX_MS=$((MIN_AGE_MS * 2 / 3))

sections=${*:-restart scale memory idle}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
for s in $sections; do
    case $s in restart | scale | memory | idle | crash | w256 | w16) ;; *) echo "unknown section $s" >&2; exit 2 ;; esac
done
for sys in $SYSTEMS; do
    case $sys in drover | drover-cgroup | supervisord | runit | s6 | s6-notify | pm2 | floor) ;; *) echo "unknown system $sys" >&2; exit 2 ;; esac
done

peers_dir=$bench_dir/peers
bench_build
bench_setup
raw=$RESULTS_DIR/supervise.jsonl
: >"$raw"
T=$bench_tmp
# The workers run from the temp dir (outside any git tree, the same path for everyone).
mkdir -p "$T/bin"
cp "$B/stamp-worker" "$B/crash-worker" "$T/bin/"

record() { # record KIND JSON
    printf '{"kind":"%s","load1":%s,%s\n' "$1" "$(cut -d' ' -f1 /proc/loadavg)" "${2#\{}" >>"$raw"
}
record_system() { # record_system KIND SYSTEM RUN JSON
    printf '{"kind":"%s","system":"%s","run":%s,"load1":%s,%s\n' "$1" "$2" "$3" \
        "$(cut -d' ' -f1 /proc/loadavg)" "${4#\{}" >>"$raw"
}

# prepare SYSTEM DIR N WORKER: writes SYSTEM's configuration for N copies of WORKER into
# DIR and sets sup (the supervisor's command line) and stop (how supbench stops it).
prepare() {
    local sys=$1 dir=$2 n=$3 worker=$4 i
    mkdir -p "$dir/log"
    case $sys in
    drover | drover-cgroup)
        {
            printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$dir/drover.sock" "$dir/log"
            [ "$sys" = drover ] || printf 'cgroup = %s\n' "${CGROUP:?drover-cgroup needs CGROUP}"
            printf '[pool:w]\ncommand = %s\nworkers = %s\nstdout = null\n' "$worker" "$n"
            printf 'environment = STAMP_SOCKET=%s\n' "$dir/stamp.sock"
            # A worker up longer than restart_delay_max is healthy: restarted at once.
            # start_grace as long: a victim counts as started too, so its restart never
            # waits for crash_restart_rate (which paces restarts after failed starts).
            # The crash loop runs under the defaults.
            [ "$(basename "$worker")" = crash-worker ] ||
                printf 'restart_delay_max = %sms\nstart_grace = %sms\ncrash_limit = none\n' \
                    "$RESTART_DELAY_MAX_MS" "$RESTART_DELAY_MAX_MS"
        } >"$dir/drover.ini"
        sup=("$B/droverd" -c "$dir/drover.ini")
        stop=(--stop-signal TERM)
        ;;
    supervisord)
        sed -e "s|@DIR@|$dir|g" -e "s|@N@|$n|" -e "s|@COMMAND@|$worker|" \
            "$peers_dir/supervisord/supervisord.conf.in" >"$dir/supervisord.conf"
        sup=(supervisord -c "$dir/supervisord.conf")
        stop=(--stop-signal TERM)
        ;;
    runit | s6 | s6-notify)
        # One service directory per worker; ./run is the worker binary itself.
        for ((i = 0; i < n; i++)); do
            mkdir -p "$dir/scan/w$i"
            ln -s "$worker" "$dir/scan/w$i/run"
            [ "$sys" = s6-notify ] && echo 3 >"$dir/scan/w$i/notification-fd"
        done
        if [ "$sys" = runit ]; then
            # runsvdir sleeps a second before scanning a directory modified within the
            # current second; a real /etc/service was not written the moment before boot.
            sleep 1.1
            sup=(runsvdir -P "$dir/scan")
            stop=(--stop-signal HUP) # runsvdir: TERM to every runsv, each stops its service
        else
            sup=(s6-svscan "$dir/scan")
            stop=(--stop-cmd "s6-svscanctl -t $dir/scan")
        fi
        ;;
    pm2)
        sup=(env "PM2_HOME=$dir/pm2" "PEERS_N=$n" "PEERS_COMMAND=$worker"
            "PEERS_STAMP=$dir/stamp.sock" "$PM2_RUNTIME" start "$peers_dir/pm2/supervise.config.js")
        stop=(--stop-signal TERM) # pm2-runtime: stop every app (SIGINT, SIGKILL after 1.6 s), exit
        ;;
    esac
}

# measure KIND SYSTEM RUN N WORKER [supbench options...]: one raw line
measure() {
    local kind=$1 sys=$2 run=$3 n=$4 worker=$5 dir line
    shift 5
    dir=$T/$kind-$sys-$run
    prepare "$sys" "$dir" "$n" "$worker"
    line=$(STAMP_SOCKET=$dir/stamp.sock "$B/supbench" --socket "$dir/stamp.sock" --workers "$n" \
        --label "$sys" --log "$dir/supervisor.log" "${stop[@]}" "$@" -- "${sup[@]}") || true
    if [ -z "$line" ]; then
        bench_log "  $kind $sys run $run: no result (see $dir/supervisor.log)"
        return 0
    fi
    record_system "$kind" "$sys" "$run" "$line"
    bench_log "  $kind $sys run $run: $(printf '%s' "$line" | cut -c1-240)"
    rm -rf "$dir"
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
bench_log "restart latency: $RUNS runs x $KILLS kills ($KILLS_SLOW for the 1-s restarters), $RESTART_SLOTS workers up >= ${MIN_AGE_MS}ms"
for sys in $SYSTEMS; do [ "$sys" = floor ] || : >"$RESULTS_DIR/restart-$sys.txt"; done
for r in $(seq "$RUNS"); do
    for sys in $SYSTEMS; do
        if [ "$sys" = floor ]; then
            line=$("$B/stamp-collect" --self --socket "$T/floor.sock" --workers $RESTART_SLOTS \
                --kills "$KILLS" --min-age-ms "$MIN_AGE_MS" -- "$T/bin/stamp-worker") || true
            [ -n "$line" ] && record_system restart floor "$r" "$line"
            bench_log "  restart floor run $r: $(printf '%s' "$line" | cut -c1-240)"
            continue
        fi
        k=$KILLS
        case $sys in supervisord | s6) k=$KILLS_SLOW ;; esac
        measure restart "$sys" "$r" $RESTART_SLOTS "$T/bin/stamp-worker" --kills "$k" \
            --min-age-ms "$MIN_AGE_MS" --kill-timeout-ms 3000 \
            --samples "$RESULTS_DIR/restart-$sys.txt"
    done
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
"$B/workclient" -c 1 -n 100 -s "$T/echo.sock" >/dev/null 2>&1
"$B/workclient" -c 1 -n 1 --hold $((IDLE_SECONDS + 2)) -s "$T/echo.sock" >/dev/null 2>&1 &
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
if want crash; then
bench_log "crash loop: a worker that exits at once, ${CRASH_SECONDS}s each"
for r in $(seq "$RUNS"); do
    for sys in $SYSTEMS; do
        case $sys in s6-notify | floor) continue ;; esac # s6-notify: as s6, a crashing worker is never ready
        measure crash "$sys" "$r" 1 "$T/bin/crash-worker" --observe-s "$CRASH_SECONDS" --settle-ms 0
    done
done
fi

if want w256; then
bench_log "256 workers: start, RSS, idle wake-ups over ${IDLE_SECONDS}s, stop"
for r in $(seq "$RUNS"); do
    for sys in $SYSTEMS; do
        case $sys in s6-notify | floor) continue ;; esac # s6-notify: identical to s6 here
        measure w256 "$sys" "$r" 256 "$T/bin/stamp-worker" --settle-ms 2000 --idle-s "$IDLE_SECONDS"
    done
done
fi

if want w16; then
bench_log "16 workers: RSS"
for r in $(seq "$RUNS"); do
    for sys in $SYSTEMS; do
        case $sys in s6-notify | floor) continue ;; esac
        measure w16 "$sys" "$r" 16 "$T/bin/stamp-worker" --settle-ms 2000
    done
done
fi

# ---------------------------------------------------------------------------------------
# Summary (Markdown).
# KIND is a kind ("startup1024"), or KIND,SYSTEM ("restart,floor") for the sections of SYSTEMS.
rows_of() {
    case $1 in
    *,*) grep "\"kind\":\"${1%,*}\",\"system\":\"${1#*,}\"" "$raw" || true ;;
    *) grep "\"kind\":\"$1\"" "$raw" || true ;;
    esac
}
col() { rows_of "$1" | grep -o "\"$2\":[-0-9.e+]*" | cut -d: -f2; }
sub() { rows_of "$1" | grep -o "\"$2\":{[^}]*}" | grep -o "\"$3\":[-0-9.e+]*" | cut -d: -f2; }

echo
echo "### Supervision ($(date -u +%Y-%m-%d), $RUNS runs each; median (min–max) over runs; 1-min load average during the runs: $(grep -o '"load1":[0-9.]*' "$raw" | cut -d: -f2 | mmm %.1f))"
echo
echo "droverd from $(bench_rev); $(nproc) CPUs, $(uname -r)"
echo
echo "| measure | target | droverd | floor (no droverd) |"
echo "|---|---|---|---|"
echo "| restart p50, µs ($KILLS kills/run, $RESTART_SLOTS slots, up >= ${MIN_AGE_MS}ms) | < 2000 | $(sub restart,drover restart_us p50 | mmm %.0f) | $(sub restart,floor restart_us p50 | mmm %.0f) |"
echo "| restart p99, µs | < 10000 | $(sub restart,drover restart_us p99 | mmm %.0f) | $(sub restart,floor restart_us p99 | mmm %.0f) |"
echo "| restart max, µs | – | $(sub restart,drover restart_us max | mmm %.0f) | $(sub restart,floor restart_us max | mmm %.0f) |"
echo "| restarts missed (no replacement within 3 s; floor: 2 s) | 0 | $(col restart,drover missed | mmm %.0f) | $(col restart,floor missed | mmm %.0f) |"
if [ -n "${CGROUP:-}" ]; then
    echo "| restart p50, µs, cgroups on (system drover-cgroup) | < 2000 | $(sub restart,drover-cgroup restart_us p50 | mmm %.0f) | – |"
    echo "| restart p99, µs, cgroups on | < 10000 | $(sub restart,drover-cgroup restart_us p99 | mmm %.0f) | – |"
    echo "| restarts missed, cgroups on | 0 | $(col restart,drover-cgroup missed | mmm %.0f) | – |"
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
if want crash || want w256 || want w16 || [ "$SYSTEMS" != "drover floor" ]; then
    echo
    echo "#### Every system of SYSTEMS (median (min–max) over runs; bench/peers/report.py makes the full tables)"
    echo
    echo "| system | restart p50, µs | restart p99, µs | crash loop: starts in ${CRASH_SECONDS}s | start 256, ms | stop 256, ms | Pss 256, MB | idle wake-ups/s, 256 |"
    echo "|---|---|---|---|---|---|---|---|"
    for sys in $SYSTEMS; do
        echo "| $sys | $(sub restart,$sys restart_us p50 | mmm %.0f) | $(sub restart,$sys restart_us p99 | mmm %.0f) | $(col crash,$sys starts | mmm %.0f) | $(col w256,$sys startup_ms | mmm %.0f) | $(col w256,$sys stop_all_ms | mmm %.0f) | $(col w256,$sys pss_kb | awk '{print $1/1024}' | mmm %.1f) | $(col w256,$sys wakeups_per_s | mmm %.1f) |"
    done
fi
