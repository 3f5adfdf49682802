#!/usr/bin/env bash
# Supervision, drover against the supervisors users would pick instead: supervisord,
# runit, s6 (plain, and with its readiness protocol), PM2. Every one is measured by
# the same harness (tools/supbench.c) over the same worker binaries:
#
#   restart  SIGKILL of a healthy worker (up >= 1.5 s) -> replacement exec'd
#            (bench/stamp-worker's own first clock reading); 64 workers
#   crash    a worker that exits at once: every start for CRASH_SECONDS
#   w256     start 256 workers (supervisor fork -> last worker exec'd), the
#            supervisor's total RSS/PSS, its wake-ups/s over IDLE_SECONDS of
#            nothing, and stop (signal -> every worker gone, -> supervisor gone)
#   w16      total RSS/PSS with 16 workers
#
#   bench/peers/supervise.sh                 all sections
#   bench/peers/supervise.sh restart crash   some of them
#   RUNS=1 KILLS=20 bench/peers/supervise.sh a quick look
#
# Environment: RUNS (3), KILLS (100 per run), KILLS_SLOW (30: supervisord and plain
# s6, whose every restart takes a second), CRASH_SECONDS (15), IDLE_SECONDS (10),
# PEERS ("drover supervisord runit s6 s6-notify pm2 floor"), BUILD, RESULTS_DIR.
# "floor" is no supervisor: bench/stamp-collect --self reaps the killed worker with a
# blocking waitpid and forks and execs its replacement at once, the least any
# supervisor can take on this machine (restart section only).
# Raw JSON lines: $RESULTS_DIR/supervise.jsonl (one per measurement), restart
# samples: $RESULTS_DIR/restart-<peer>.txt (µs, one per kill).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
KILLS=${KILLS:-100}
KILLS_SLOW=${KILLS_SLOW:-30}
CRASH_SECONDS=${CRASH_SECONDS:-15}
IDLE_SECONDS=${IDLE_SECONDS:-10}
PEERS=${PEERS:-drover supervisord runit s6 s6-notify pm2 floor}
RESTART_WORKERS=64
MIN_AGE_MS=1500

sections=${*:-restart crash w256 w16}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }

peers_install
peers_build
bench_setup
T=$bench_tmp
raw=$RESULTS_DIR/supervise.jsonl
mkdir -p "$RESULTS_DIR"
# Keep the lines of the sections and peers not measured this time.
if [ -f "$raw" ]; then
    for s in $sections; do
        for peer in $PEERS; do
            grep -v "\"kind\":\"$s\",\"peer\":\"$peer\"," "$raw" >"$T/keep" || true
            cp "$T/keep" "$raw"
        done
    done
fi
touch "$raw"

# The workers run from the temp dir (outside any git tree, same path for everyone).
mkdir -p "$T/bin"
cp "$P/stamp-worker" "$P/crash-worker" "$T/bin/"

record() { # record KIND PEER RUN JSON
    printf '{"kind":"%s","peer":"%s","run":%s,"load1":%s,%s\n' "$1" "$2" "$3" "$(load1)" \
        "${4#\{}" >>"$raw"
}

# prepare PEER DIR N WORKER: writes PEER's configuration for N copies of WORKER into
# DIR and sets sup (the supervisor's command line) and stop (how supbench stops it).
prepare() {
    local peer=$1 dir=$2 n=$3 worker=$4 i conf
    mkdir -p "$dir/log"
    case $peer in
    drover)
        conf=supervise.ini.in
        [ "$(basename "$worker")" = crash-worker ] && conf=crash.ini.in
        sed -e "s|@DIR@|$dir|g" -e "s|@N@|$n|" -e "s|@COMMAND@|$worker|" \
            "$peers_dir/drover/$conf" >"$dir/drover.ini"
        sup=("$BUILD/bin/droverd" -c "$dir/drover.ini")
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
            [ "$peer" = s6-notify ] && echo 3 >"$dir/scan/w$i/notification-fd"
        done
        if [ "$peer" = runit ]; then
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
    *)
        echo "unknown peer $peer" >&2
        return 2
        ;;
    esac
}

# measure KIND PEER RUN N WORKER [supbench options...]
measure() {
    local kind=$1 peer=$2 run=$3 n=$4 worker=$5 dir line
    shift 5
    dir=$T/$kind-$peer-$run
    prepare "$peer" "$dir" "$n" "$worker"
    line=$(STAMP_SOCKET=$dir/stamp.sock "$P/supbench" --socket "$dir/stamp.sock" --workers "$n" \
        --label "$peer" --log "$dir/supervisor.log" "${stop[@]}" "$@" -- "${sup[@]}") || true
    if [ -z "$line" ]; then
        peers_log "  $kind $peer run $run: no result (see $dir/supervisor.log)"
        return 0
    fi
    record "$kind" "$peer" "$run" "$line"
    peers_log "  $kind $peer run $run: $(printf '%s' "$line" | cut -c1-240)"
    rm -rf "$dir"
}

if want restart; then
    peers_log "restart latency: $RUNS runs x $KILLS kills ($KILLS_SLOW for the 1-s restarters), $RESTART_WORKERS workers"
    for peer in $PEERS; do [ "$peer" = floor ] || : >"$RESULTS_DIR/restart-$peer.txt"; done
    for r in $(seq "$RUNS"); do
        for peer in $PEERS; do
            if [ "$peer" = floor ]; then
                line=$("$BUILD/bin/stamp-collect" --self --socket "$T/floor.sock" \
                    --workers $RESTART_WORKERS --kills "$KILLS" --min-age-ms $MIN_AGE_MS \
                    -- "$T/bin/stamp-worker") || true
                [ -n "$line" ] && record restart floor "$r" "$line"
                peers_log "  restart floor run $r: $(printf '%s' "$line" | cut -c1-240)"
                continue
            fi
            k=$KILLS
            case $peer in supervisord | s6) k=$KILLS_SLOW ;; esac
            measure restart "$peer" "$r" $RESTART_WORKERS "$T/bin/stamp-worker" --kills "$k" \
                --min-age-ms $MIN_AGE_MS --kill-timeout-ms 3000 \
                --samples "$RESULTS_DIR/restart-$peer.txt"
        done
    done
fi

if want crash; then
    peers_log "crash loop: a worker that exits at once, ${CRASH_SECONDS}s each"
    for r in $(seq "$RUNS"); do
        for peer in $PEERS; do
            case $peer in s6-notify | floor) continue ;; esac # s6-notify: as s6, a crashing worker is never ready
            measure crash "$peer" "$r" 1 "$T/bin/crash-worker" --observe-s "$CRASH_SECONDS" \
                --settle-ms 0
        done
    done
fi

if want w256; then
    peers_log "256 workers: start, RSS, idle wake-ups over ${IDLE_SECONDS}s, stop"
    for r in $(seq "$RUNS"); do
        for peer in $PEERS; do
            case $peer in s6-notify | floor) continue ;; esac # s6-notify: identical to s6 here
            measure w256 "$peer" "$r" 256 "$T/bin/stamp-worker" --settle-ms 2000 \
                --idle-s "$IDLE_SECONDS"
        done
    done
fi

if want w16; then
    peers_log "16 workers: RSS"
    for r in $(seq "$RUNS"); do
        for peer in $PEERS; do
            case $peer in s6-notify | floor) continue ;; esac
            measure w16 "$peer" "$r" 16 "$T/bin/stamp-worker" --settle-ms 2000
        done
    done
fi
peers_log "supervision done: $raw"
