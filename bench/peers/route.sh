#!/usr/bin/env bash
# Routing, drover against the routers users would pick instead. Every route has two
# workers (one per core of this 2-core machine) doing the same work: echo each
# length-framed request, after WORK µs of CPU (examples/echo-worker.c; its Node twin
# pm2/echo-worker.js for PM2; gearman/echo-worker.c for gearmand). Routes:
#
#   limit           no router: clients split across two echo-worker --listen sockets
#   drover-msg      droverd, mode = message (requests queued, one in flight per worker)
#   drover-msg16    the same with worker_inflight = 16 (requests pipelined to a worker)
#   drover-handoff  droverd, mode = handoff (each connection passed to the least busy
#                   worker, which then talks to the client itself)
#   nginx           nginx stream, least_conn over the two limit workers' sockets
#   haproxy         haproxy mode tcp, balance leastconn over the same two sockets
#   pm2             PM2 cluster mode: Node's cluster module in PM2's God process owns the
#                   socket and deals connections to two Node workers, round robin
#   node-limit      no router, Node: clients split across two pm2/echo-worker.js --listen
#   gearman         gearmand job server, two libgearman workers, clients submit jobs
#                   (TCP 127.0.0.1: gearmand has no Unix-socket listener)
#
# Sections (arguments; all by default):
#   throughput  requests/s and p50/p99 for CLIENTS x SIZES x WORKS, RUNS times; the
#               routes of one cell run back to back (in a rotated order from run to run),
#               so machine noise hits them alike
#   cpr         16 clients, 64 B, no work, a new connection per request (connection routers)
#   fault       16 clients, 64 B, FAULT_SECONDS under load while one of the route's two
#               workers is SIGKILLed every 100 ms (tools/killer.c): lost, failed,
#               duplicated requests
#
# Environment: RUNS (3), DURATION (2 s), WARMUP (0.3 s), CLIENTS ("1 16 64"), SIZES
# ("64 4096"), WORKS ("0 50"), ROUTES (all of the above), FAULT_SECONDS (5),
# FAULT_WORKS ("0 50"), BUILD, RESULTS_DIR. The load generators run on one thread.
# Raw JSON lines: $RESULTS_DIR/route.jsonl, one per run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.3}
CLIENTS=${CLIENTS:-1 16 64}
SIZES=${SIZES:-64 4096}
WORKS=${WORKS:-0 50}
ROUTES=${ROUTES:-limit drover-msg drover-msg16 drover-handoff nginx haproxy pm2 node-limit gearman}
FAULT_SECONDS=${FAULT_SECONDS:-5}
FAULT_WORKS=${FAULT_WORKS:-0 50}
CPR_ROUTES="limit drover-handoff nginx haproxy pm2 node-limit"

sections=${*:-throughput cpr fault}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
has_route() { case " $ROUTES " in *" $1 "*) return 0 ;; esac; return 1; }

peers_install
peers_build
bench_setup
[ -n "${KEEP_TMP:-}" ] && trap 'T_SAVE=$bench_tmp; bench_tmp=""; bench_cleanup; echo "kept $T_SAVE" >&2' EXIT
T=$bench_tmp
raw=$RESULTS_DIR/route.jsonl
mkdir -p "$RESULTS_DIR"
# Keep the lines of the sections and routes not measured this time.
if [ -f "$raw" ]; then
    for s in $sections; do
        for route in $ROUTES; do
            grep -v "\"kind\":\"$s\",\"route\":\"$route\"," "$raw" >"$T/keep" || true
            cp "$T/keep" "$raw"
        done
    done
fi
touch "$raw"

EW=$BUILD/bin/echo-worker
LG=$BUILD/bin/workclient
NODE=$(command -v node)

nginx_module=""
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] &&
    nginx_module="load_module /usr/lib/nginx/modules/ngx_stream_module.so;"

# One [pool:NAME] of backends.ini: a supervised-only pool (no listen).
pool_block() { # pool_block NAME WORKERS COMMAND...
    local name=$1 workers=$2
    shift 2
    printf '\n[pool:%s]\ncommand = %s\nworkers = %s\nstdout = null\n' "$name" "$*" "$workers"
    printf 'restart_delay = 10ms\nrestart_delay_max = 50ms\ncrash_limit = none\n'
}

start_droverd() { # start_droverd NAME INI -> sets pid_NAME
    "$BUILD/bin/droverd" -c "$2" 2>>"$dir/droverd-$1.err" &
    local pid=$!
    bench_track "$pid"
    printf -v "pid_${1//-/_}" '%s' "$pid"
}

wait_port() { # wait_port PORT: until something accepts on 127.0.0.1:PORT
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timed out waiting for 127.0.0.1:$1" >&2
    return 1
}

drover_route() { # drover_route NAME MODE EXTRA-LINE: one droverd serving one route
    sed -e "s|@DIR@|$dir|g" -e "s|@NAME@|$1|g" -e "s|@WORKER@|$EW|" -e "s|@WORK_US@|$work|" \
        -e "s|@MODE@|$2|" -e "s|@EXTRA@|$3|" "$peers_dir/drover/route.ini.in" >"$dir/$1.ini"
    start_droverd "$1" "$dir/$1.ini"
}

# Every server of every route, for one WORK value; all idle but the one under load.
start_servers() {
    local work=$1 i pools
    dir=$T/work-$work
    mkdir -p "$dir/log"
    # gearmand on a free-looking port, then its workers (they reconnect if it is late)
    gport=$((20000 + RANDOM % 20000))
    gearmand --listen=127.0.0.1 --port="$gport" --log-file="$dir/gearmand.log" \
        --pid-file="$dir/gearmand.pid" --verbose=WARNING >"$dir/gearmand.out" 2>&1 &
    pid_gearmand=$!
    bench_track "$pid_gearmand"
    wait_port "$gport"
    # the workers of the non-drover routes, kept alive by droverd pools
    pools=$(pool_block w0 1 "$EW" --work-us "$work" --listen "$dir/w0.sock"
        pool_block w1 1 "$EW" --work-us "$work" --listen "$dir/w1.sock")
    sed -e "s|@DIR@|$dir|g" -e "s|@NAME@|be-echo|" "$peers_dir/drover/backends.ini.in" \
        >"$dir/be-echo.ini"
    printf '%s\n' "$pools" >>"$dir/be-echo.ini"
    pools=$(pool_block n0 1 "$NODE" "$peers_dir/pm2/echo-worker.js" --work-us "$work" --listen "$dir/n0.sock"
        pool_block n1 1 "$NODE" "$peers_dir/pm2/echo-worker.js" --work-us "$work" --listen "$dir/n1.sock")
    sed -e "s|@DIR@|$dir|g" -e "s|@NAME@|be-node|" "$peers_dir/drover/backends.ini.in" \
        >"$dir/be-node.ini"
    printf '%s\n' "$pools" >>"$dir/be-node.ini"
    pools=$(pool_block g 2 "$P/gearman-echo-worker" --port "$gport" --work-us "$work")
    sed -e "s|@DIR@|$dir|g" -e "s|@NAME@|be-gear|" "$peers_dir/drover/backends.ini.in" \
        >"$dir/be-gear.ini"
    printf '%s\n' "$pools" >>"$dir/be-gear.ini"
    start_droverd be-echo "$dir/be-echo.ini"
    start_droverd be-node "$dir/be-node.ini"
    start_droverd be-gear "$dir/be-gear.ini"
    # drover's own routes: message mode with the default worker_inflight = 1 and with
    # 16 (the worker answers pipelined requests in order), handoff
    drover_route dr-msg message ""
    drover_route dr-msg16 message "worker_inflight = 16        ; requests pipelined to a worker (default 1)"
    drover_route dr-handoff handoff \
        "worker_inflight = 64        ; connections a worker holds at once (default 1)"
    wait_socket "$dir/w0.sock"
    wait_socket "$dir/w1.sock"
    wait_socket "$dir/n0.sock"
    wait_socket "$dir/n1.sock"
    wait_socket "$dir/dr-msg.sock"
    wait_socket "$dir/dr-msg16.sock"
    wait_socket "$dir/dr-handoff.sock"
    # nginx and haproxy in front of w0/w1
    local user=""
    [ "$(id -u)" -eq 0 ] && user="user root;" # its workers must reach sockets in a 0700 dir
    sed -e "s|@DIR@|$dir|g" -e "s|@USER@|$user|" -e "s|@MODULE@|$nginx_module|" \
        "$peers_dir/../nginx/stream.conf.in" >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
    pid_nginx=$!
    bench_track "$pid_nginx"
    sed -e "s|@DIR@|$dir|g" "$peers_dir/haproxy/haproxy.cfg.in" >"$dir/haproxy.cfg"
    haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.out" 2>&1 &
    pid_haproxy=$!
    bench_track "$pid_haproxy"
    # PM2 cluster mode
    PM2_HOME=$dir/pm2 PEERS_SOCKET=$dir/pm2.sock PEERS_WORK_US=$work \
        "$PM2_RUNTIME" start "$peers_dir/pm2/cluster.config.js" >"$dir/pm2.out" 2>&1 &
    pid_pm2=$!
    bench_track "$pid_pm2"
    wait_socket "$dir/nginx.sock"
    wait_socket "$dir/haproxy.sock"
    wait_socket "$dir/pm2.sock" 30
    sleep 1 # every worker in its accept/read loop, gearman workers registered
}

stop_servers() {
    local p
    for p in "$pid_pm2" "$pid_nginx" "$pid_haproxy" "$pid_dr_msg" "$pid_dr_msg16" "$pid_dr_handoff" \
        "$pid_be_echo" "$pid_be_node" "$pid_be_gear" "$pid_gearmand"; do
        bench_stop "$p"
    done
}

# The router's processes and the workers' processes of a route (for CPU accounting),
# and the process whose children are the route's workers (for the fault runs).
router_pids() {
    case $1 in
    limit | node-limit) ;;
    drover-msg) echo "$pid_dr_msg" ;;
    drover-msg16) echo "$pid_dr_msg16" ;;
    drover-handoff) echo "$pid_dr_handoff" ;;
    nginx) echo "$pid_nginx" $(children_of "$pid_nginx") ;;
    haproxy) echo "$pid_haproxy" ;;
    pm2) echo "$pid_pm2" ;;
    gearman) echo "$pid_gearmand" ;;
    esac
}
workers_parent() {
    case $1 in
    limit | nginx | haproxy) echo "$pid_be_echo" ;;
    node-limit) echo "$pid_be_node" ;;
    gearman) echo "$pid_be_gear" ;;
    drover-msg) echo "$pid_dr_msg" ;;
    drover-msg16) echo "$pid_dr_msg16" ;;
    drover-handoff) echo "$pid_dr_handoff" ;;
    pm2) echo "$pid_pm2" ;;
    esac
}

# load ROUTE CLIENTS SIZE DURATION WARMUP [workclient options] -> one JSON line on stdout
# (-r: plain length frames both ways)
load() {
    local route=$1 c=$2 s=$3 d=$4 w=$5
    shift 5
    local common=(-c "$c" -z "$s" -T 1 -t "$d" -w "$w" -l "$route" "$@")
    case $route in
    limit) "$LG" -r "${common[@]}" -s "$dir/w0.sock" -s "$dir/w1.sock" ;;
    drover-msg) "$LG" "${common[@]}" -s "$dir/dr-msg.sock" ;;
    drover-msg16) "$LG" "${common[@]}" -s "$dir/dr-msg16.sock" ;;
    drover-handoff) "$LG" -r "${common[@]}" -s "$dir/dr-handoff.sock" ;;
    nginx) "$LG" -r "${common[@]}" -s "$dir/nginx.sock" ;;
    haproxy) "$LG" -r "${common[@]}" -s "$dir/haproxy.sock" ;;
    pm2) "$LG" -r "${common[@]}" -s "$dir/pm2.sock" ;;
    node-limit) "$LG" -r "${common[@]}" -s "$dir/n0.sock" -s "$dir/n1.sock" ;;
    gearman) "$P/gearload" -c "$c" -s "$s" -d "$d" -w "$w" -l "$route" "127.0.0.1:$gport" ;;
    esac
}

# measure KIND ROUTE WORK CLIENTS SIZE RUN [workclient options]: one raw line
measure() {
    local kind=$1 route=$2 work=$3 c=$4 s=$5 run=$6 rp wp r0 w0 r1 w1 line
    shift 6
    rp=$(router_pids "$route")
    wp=$(children_of "$(workers_parent "$route")")
    r0=$(cpu_ns $rp)
    w0=$(cpu_ns $wp)
    line=$(load "$route" "$c" "$s" "$DURATION" "$WARMUP" "$@" 2>>"$T/load.err") || true
    r1=$(cpu_ns $rp)
    w1=$(cpu_ns $wp)
    [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
    printf '{"kind":"%s","route":"%s","work_us":%s,"run":%s,"load1":%s,"router_cpu_s":%s,"workers_cpu_s":%s,%s\n' \
        "$kind" "$route" "$work" "$run" "$(load1)" \
        "$(awk -v n=$((r1 - r0)) 'BEGIN {printf "%.4f", n / 1e9}')" \
        "$(awk -v n=$((w1 - w0)) 'BEGIN {printf "%.4f", n / 1e9}')" "${line#\{}" >>"$raw"
    peers_log "  $kind work=$work size=$s clients=$c run=$run $route: $(jfield "$line" rps) req/s p50 $(jfield "$line" p50) p99 $(jfield "$line" p99) us, errors $(jfield "$line" total)"
}

# fault ROUTE WORK RUN: FAULT_SECONDS of 16 clients while a worker dies every 100 ms
fault() {
    local route=$1 work=$2 run=$3 parent line kills lg
    parent=$(workers_parent "$route")
    load "$route" 16 64 "$FAULT_SECONDS" 0 >"$T/fault.out" 2>>"$T/load.err" &
    lg=$!
    bench_track "$lg"
    sleep 0.2
    kills=$("$P/killer" --every-ms 100 --seconds "$((FAULT_SECONDS))" "$parent" | grep -o '"kills":[0-9]*' | cut -d: -f2)
    wait "$lg" || true
    line=$(cat "$T/fault.out")
    [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
    printf '{"kind":"fault","route":"%s","work_us":%s,"run":%s,"load1":%s,"kills":%s,"fault_s":%s,%s\n' \
        "$route" "$work" "$run" "$(load1)" "${kills:-0}" "$FAULT_SECONDS" "${line#\{}" >>"$raw"
    peers_log "  fault work=$work run=$run $route: kills=$kills answered=$(jfield "$line" answered) lost=$(jfield "$line" lost) failed=$(jfield "$line" failed) dup=$(jfield "$line" duplicate) mismatch=$(jfield "$line" mismatch)"
    sleep 1 # both workers back before the next route
}

# rotate RUN LIST...: run r starts the list at its (r-1)th element, so no route always
# runs first (after a pause) or right after the same neighbour.
rotate() {
    local r=$1
    shift
    local n=$# i
    local a=("$@")
    for ((i = 0; i < n; i++)); do echo "${a[$(((i + r - 1) % n))]}"; done
}

works_needed=""
want throughput && works_needed="$WORKS"
want cpr && works_needed="$works_needed 0"
want fault && works_needed="$works_needed $FAULT_WORKS"
works_needed=$(printf '%s\n' $works_needed | sort -nu | tr '\n' ' ')

for work in $works_needed; do
    peers_log "work ${work}us: starting every route's servers"
    start_servers "$work"
    if want throughput && [[ " $WORKS " == *" $work "* ]]; then
        for size in $SIZES; do
            for c in $CLIENTS; do
                for r in $(seq "$RUNS"); do
                    for route in $(rotate "$r" $ROUTES); do
                        measure throughput "$route" "$work" "$c" "$size" "$r"
                    done
                done
            done
        done
    fi
    if want cpr && [ "$work" = 0 ]; then
        for r in $(seq "$RUNS"); do
            for route in $(rotate "$r" $CPR_ROUTES); do
                has_route "$route" && measure cpr "$route" 0 16 64 "$r" -k 1
            done
        done
    fi
    if want fault && [[ " $FAULT_WORKS " == *" $work "* ]]; then
        for r in $(seq "$RUNS"); do
            for route in $(rotate "$r" $ROUTES); do
                fault "$route" "$work" "$r"
            done
        done
    fi
    stop_servers
done
peers_log "routing done: $raw"
