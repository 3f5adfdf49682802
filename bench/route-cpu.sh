#!/usr/bin/env bash
# The router's instructions per request, counted by valgrind (callgrind): unlike CPU
# time they do not vary with the machine's load, so they compare droverd with nginx
# repeatably on a shared machine. route.sh measures the CPU time (router_cpu_s).
#
#   bench/route-cpu.sh            msgD msg1 msgN nginx, 16 and 64 clients, 64 B, no work
#
# Each system is started under `valgrind --tool=callgrind` twice per client count, and
# answers N1 then (in a fresh process) N2 requests; instructions per request are
# (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up and shut-down cancel out. Two workers
# (examples/echo-worker, not under valgrind) as in route.sh; nginx runs one process
# (master_process off: one worker does the routing, which is what is counted).
# Environment: BUILD, SYSTEMS ("msgD msg1 msgN nginx"), CLIENTS ("16 64"), SIZE (64),
# N1 (5000), N2 (25000), INFLIGHT (16). Output: a Markdown table on stdout, raw lines in
# $RESULTS_DIR/route-cpu.jsonl.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SYSTEMS=${SYSTEMS:-msgD msg1 msgN nginx}
CLIENTS=${CLIENTS:-16 64}
SIZE=${SIZE:-64}
N1=${N1:-5000}
N2=${N2:-25000}
INFLIGHT=${INFLIGHT:-16}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
bench_build
bench_setup
T=$bench_tmp
raw=$RESULTS_DIR/route-cpu.jsonl
: >"$raw"
mod=/usr/lib/nginx/modules/ngx_stream_module.so
nginx_module=""
[ -f $mod ] && nginx_module="load_module $mod;"

# start SYSTEM DIR: the router under callgrind (pid in $router), its socket DIR/r.sock
start() {
    local sys=$1 d=$2
    mkdir -p "$d/log"
    case $sys in
    msg*)
        {
            printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$d/ctl" "$d/log"
            printf '[pool:echo]\ncommand = %s\nworkers = 2\nlisten = %s\nmode = message\nstdout = null\n' \
                "$B/echo-worker" "$d/r.sock"
            case $sys in msg1) echo 'worker_inflight = 1' ;; msgN) echo "worker_inflight = $INFLIGHT" ;; esac
        } >"$d/d.ini"
        valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$B/droverd" -c "$d/d.ini" \
            >/dev/null 2>>"$d/valgrind.err" &
        ;;
    nginx)
        # (not on our stdout: instructions runs in $(...), which waits for it to close)
        "$B/echo-worker" --listen "$d/w0.sock" >/dev/null 2>&1 &
        extra+=($!)
        "$B/echo-worker" --listen "$d/w1.sock" >/dev/null 2>&1 &
        extra+=($!)
        wait_socket "$d/w0.sock"
        wait_socket "$d/w1.sock"
        local user=""
        [ "$(id -u)" -eq 0 ] && user="user root;"
        sed -e "s|@DIR@|$d|g" -e "s|@USER@|$user|" -e "s|@MODULE@|$nginx_module|" \
            -e 's|^worker_processes auto;.*|worker_processes 1;\nmaster_process off;|' \
            -e 's|nginx.sock|r.sock|' "$bench_dir/nginx/stream.conf.in" >"$d/nginx.conf"
        valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" nginx -p "$d" -c "$d/nginx.conf" \
            -e "$d/nginx-error.log" >/dev/null 2>>"$d/valgrind.err" &
        ;;
    esac
    router=$!
    bench_track "$router"
    wait_socket "$d/r.sock" 60
    sleep 2 # workers up (under valgrind droverd is slow to spawn them)
}

# instructions SYSTEM CLIENTS N: Ir of a fresh router that answered N requests
instructions() {
    local sys=$1 c=$2 n=$3 d=$T/$1-$2-$3 proto=() p
    extra=()
    start "$sys" "$d"
    [ "$sys" = nginx ] && proto=(-r)
    "$B/workclient" "${proto[@]}" -c "$c" -z "$SIZE" -n "$n" -s "$d/r.sock" >"$d/wc.json" 2>>"$T/wc.err"
    bench_stop "$router"
    for p in "${extra[@]}"; do bench_stop "$p"; done
    sleep 0.5
    awk '/^summary:|^totals:/ {print $2; exit}' "$d/cg.out"
}

printf '| system | clients | instructions per request (router) |\n|---|---|---|\n'
for sys in $SYSTEMS; do
    for c in $CLIENTS; do
        i1=$(instructions "$sys" "$c" "$N1")
        i2=$(instructions "$sys" "$c" "$N2")
        per=$(awk -v a="$i1" -v b="$i2" -v n=$((N2 - N1)) 'BEGIN {printf "%.0f", (b - a) / n}')
        printf '{"kind":"route-cpu","system":"%s","clients":%s,"size":%s,"n1":%s,"ir1":%s,"n2":%s,"ir2":%s,"ir_per_request":%s}\n' \
            "$sys" "$c" "$SIZE" "$N1" "$i1" "$N2" "$i2" "$per" >>"$raw"
        bench_log "  $sys clients=$c: $per instructions per request"
        printf '| %s | %s | %s |\n' "$sys" "$c" "$per"
    done
done
