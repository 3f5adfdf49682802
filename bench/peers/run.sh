#!/usr/bin/env bash
# drover against the tools users would pick instead: the one command.
#
#   bench/peers/run.sh            everything (about 35 minutes on the 2-core machine):
#                                 install the peers (apt-get, npm), build drover and the
#                                 helpers, measure supervision and routing, then write
#                                 bench/peers/RESULTS.md, HEADLINE.md, plots/*.png and the
#                                 "Peers" section at the end of bench/RESULTS.md, and the
#                                 headline table in README.md (between its markers)
#   bench/peers/run.sh --quick    one short run of each figure (about 4 minutes); results
#                                 go to build-peers/peers-quick/ and the tables to stdout,
#                                 nothing in the tree changes
#   bench/peers/run.sh --report   only the tables and plots, from bench/peers/results/
#
# The measurements are bench/supervise.sh and bench/route.sh, the benchmarks of drover
# itself, driven with the peers in SYSTEMS:
#   SYSTEMS="$PEERS" MIN_AGE_MS=1500 KILLS=100 bench/supervise.sh restart crash w256 w16
#   SYSTEMS="$ROUTES" bench/route.sh throughput cpr kill
# PEERS (supervisors, default "drover supervisord runit s6 s6-notify pm2 floor") and
# ROUTES (routers, default "limit msgD msg1 handoff64 nginx haproxy pm2 node-limit
# gearman") choose which; PEERS_INSTALL=0 installs nothing and leaves out whatever is
# not installed. Other knobs pass through the environment (see the headers of those two
# scripts): RUNS, KILLS, CLIENTS, SIZES, WORKS, FAULT_SECONDS, ...
# Every process these scripts start is theirs, on private sockets in a temp dir (and
# one 127.0.0.1 port for gearmand), ended by PID when they finish.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

mode=full
case "${1:-}" in
--quick) mode=quick ;;
--report) mode=report ;;
"") ;;
*)
    echo "usage: bench/peers/run.sh [--quick | --report]" >&2
    exit 2
    ;;
esac

if [ "$mode" = quick ]; then
    export RESULTS_DIR=$BUILD/peers-quick
    export RUNS=${RUNS:-1} KILLS=${KILLS:-20} KILLS_SLOW=${KILLS_SLOW:-3}
    export CRASH_SECONDS=${CRASH_SECONDS:-6} IDLE_SECONDS=${IDLE_SECONDS:-3}
    export CLIENTS=${CLIENTS:-16} SIZES=${SIZES:-64} WORKS=${WORKS:-0 50} DURATION=${DURATION:-1}
    export FAULT_SECONDS=${FAULT_SECONDS:-3} FAULT_WORKS=${FAULT_WORKS:-50}
    rm -rf "$RESULTS_DIR"
else
    export RESULTS_DIR=${RESULTS_DIR:-$here/results}
fi
export BUILD KILLS=${KILLS:-100} MIN_AGE_MS=${MIN_AGE_MS:-1500}
PEERS=${PEERS:-drover supervisord runit s6 s6-notify pm2 floor}
ROUTES=${ROUTES:-limit msgD msg1 handoff64 nginx haproxy pm2 node-limit gearman}

meta=$RESULTS_DIR/meta.txt
if [ "$mode" != report ]; then
    peers_install
    PEERS=$(peers_present $PEERS)
    ROUTES=$(peers_present $ROUTES)
    mkdir -p "$RESULTS_DIR"
    start=$(date -u '+%Y-%m-%d %H:%M UTC')
    t0=$(date +%s)
    loads=("$(load1)")
    SYSTEMS=$PEERS "$here/../supervise.sh" restart crash w256 w16 >&2 # its tables on stderr, with the progress
    loads+=("$(load1)")
    SYSTEMS=$ROUTES "$here/../route.sh" throughput cpr kill >&2
    loads+=("$(load1)")
    {
        echo "Measured $start by \`bench/peers/run.sh${1:+ $1}\` (supervisors: $PEERS; routes: $ROUTES) in $((($(date +%s) - t0 + 30) / 60)) minutes, RUNS=${RUNS:-3} (each figure: median (min–max) over the runs)."
        echo "Machine: $(peers_machine). It is shared with other engineers' builds and tests; 1-minute load average at the start, between the halves and at the end: ${loads[*]}."
        echo ""
        echo "Versions: $(peers_versions | paste -sd ';' - | sed 's/;/; /g')."
    } >"$meta"
fi

if [ "$mode" = quick ]; then
    /usr/bin/python3 "$here/report.py" --results "$RESULTS_DIR" --out "$RESULTS_DIR" \
        --plots "$RESULTS_DIR/plots" --meta "$meta" --stdout
    peers_log "quick run: raw lines and plots in $RESULTS_DIR"
else
    /usr/bin/python3 "$here/report.py" --results "$RESULTS_DIR" --out "$here" \
        --plots "$here/plots" --meta "$meta" --results-md "$here/../RESULTS.md" \
        --readme "$here/../../README.md"
    peers_log "wrote bench/peers/RESULTS.md, HEADLINE.md, plots/, the Peers section of bench/RESULTS.md and the README's headline table"
fi
