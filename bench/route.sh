#!/usr/bin/env bash
# Routing benchmarks: requests/s, latency and CPU per request through droverd, compared
# with the same workers reached directly (the no-router limit) and through the routers
# users would pick instead (nginx stream by default; haproxy, PM2 cluster mode and
# gearmand for bench/peers); and what each loses while its workers are SIGKILLed.
#
#   bench/route.sh                  throughput, pinned and fault (about 15 minutes)
#   bench/route.sh throughput       only the throughput grid
#   bench/route.sh cpr              a connection per request: 16 clients, 64 B, no work
#   bench/route.sh pinned           one client with every process pinned (same CPU / split)
#   bench/route.sh fault            drover's message mode while a worker is SIGKILLed every
#                                   100 ms, for three worker_inflight / max_attempts settings
#   bench/route.sh kill             every system of SYSTEMS, 16 clients, 64 B, FAULT_SECONDS,
#                                   while one of its two workers is SIGKILLed every 100 ms
#                                   (bench/killer.c): lost, failed, duplicated requests
#   RUNS=1 CLIENTS="16" SIZES=64 WORKS=0 bench/route.sh throughput   a quick look
#
# Systems (SYSTEMS; by default "limit msgD msgDn msg1 msgN handoff handoffN limit-cpr nginx"):
#   limit       echo-worker --listen, one per core, clients split across them (persistent)
#   limit-cpr   the limit, a connection per request (what handoff is compared with)
#   msgD        drover message mode at its defaults (no worker_inflight line), echo-worker
#               (examples/drover_worker.h: poll, reads and answers batches)
#   msgDn       the same with bench/naive-worker (blocking read(), one request, one write())
#   msg1        drover message mode, worker_inflight = 1
#   msgN        drover message mode, worker_inflight = $INFLIGHT (16)
#   handoff     drover handoff mode, a connection per request (worker_inflight = 1: one
#               connection per worker at a time)
#   handoffN    the same with worker_inflight = $INFLIGHT (connections held per worker)
#   handoff64   drover handoff mode, worker_inflight = 64, persistent connections (each
#               client's connection is held by one worker)
#   nginx       nginx stream, least_conn over the two limit workers' sockets (persistent)
#   haproxy     haproxy mode tcp, balance leastconn over the same two sockets
#   pm2         PM2 cluster mode: Node's cluster module in PM2's God process deals
#               connections to two Node workers (bench/peers/pm2), round robin
#   node-limit  no router, Node: clients split across two pm2/echo-worker.js --listen
#   gearman     gearmand, two libgearman workers (bench/peers/gearman), clients submit
#               jobs over TCP 127.0.0.1 (gearmand has no Unix-socket listener)
#   msgDp       drover message mode at its defaults with the Python example worker
#               (examples/echo_worker.py: blocking os.read, a reply "py:" + request per write)
#   limit-py    no router: clients split across two bench/python/echo_listen.py (the same
#               per-request code on a listening socket, connections multiplexed with selectors)
#   nginx-py    nginx stream, least_conn over those two Python workers
# The Python systems do no work (the example worker does none): they run only where the
# work is 0 and are left out of the other cells.
# Every system has two workers (this is a 2-core machine) doing the same --work-us. Each
# drover system is its own droverd (so its workers are exactly that droverd's children);
# the workers of the other systems are kept alive by droverd pools without listen, with
# the same restart settings, so in the kill runs every system gets its workers back
# equally fast. haproxy, gearmand and PM2 are not installed by this script (bench/peers/
# run.sh installs them); nginx is, from Debian's packages, on first use.
# The load client (workclient) runs on THREADS (1) thread(s); for each grid cell the
# systems run back to back, in an order rotated from run to run, so noise hits them alike.
#
# Environment: BUILD, RESULTS_DIR, RUNS (3), DURATION (2 s), WARMUP (0.3 s),
# CLIENTS ("1 16 64"), SIZES ("64 4096"), WORKS ("0 50 uneven": µs of CPU per request;
# uneven = no work but every 20th request a worker answers costs 5 ms, UNEVEN="20 5000";
# not for pm2, node-limit and gearman, whose workers have no --slow-every; its JSON lines
# say "work_us": 0, "uneven": 1),
# SYSTEMS, INFLIGHT (16), THREADS (1), FAULT_SECONDS (5), FAULT_WORKS ("0 50", kill),
# DROVER_EXTRA (printf text added to every drover system's pool, e.g. 'cpu_affinity = core\n',
# for an experiment: the results do not say it was set).
# Raw JSON lines, one per run: $RESULTS_DIR/route.jsonl (throughput), route-cpr.jsonl,
# route-pinned.jsonl, route-fault.jsonl, route-kill.jsonl; Markdown tables to stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.3}
CLIENTS=${CLIENTS:-1 16 64}
SIZES=${SIZES:-64 4096}
WORKS=${WORKS:-0 50 uneven}
UNEVEN=${UNEVEN:-20 5000}
SYSTEMS=${SYSTEMS:-limit msgD msgDn msg1 msgN handoff handoffN limit-cpr nginx}
INFLIGHT=${INFLIGHT:-16}
THREADS=${THREADS:-1}
FAULT_SECONDS=${FAULT_SECONDS:-5}
FAULT_WORKS=${FAULT_WORKS:-0 50}
CPR_SYSTEMS="limit handoff64 nginx haproxy pm2 node-limit" # those that route connections
ALL_SYSTEMS="limit limit-cpr msgD msgDn msg1 msgN handoff handoffN handoff64 nginx haproxy pm2 node-limit gearman msgDp limit-py nginx-py"
PY_SYSTEMS="msgDp limit-py nginx-py" # the Python example worker: work 0 only
# Their workers have no --slow-every (Node's echo worker, gearman-echo-worker): not at uneven.
NO_UNEVEN_SYSTEMS="pm2 node-limit gearman"

sections=${*:-throughput pinned fault}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
has_system() { case " $SYSTEMS " in *" $1 "*) return 0 ;; esac; return 1; }
for s in $sections; do
    case $s in throughput | cpr | pinned | fault | kill) ;; *) echo "unknown section $s" >&2; exit 2 ;; esac
done
for sys in $SYSTEMS; do
    case " $ALL_SYSTEMS " in *" $sys "*) ;; *) echo "unknown system $sys" >&2; exit 2 ;; esac
done

peers_dir=$bench_dir/peers
P=$BUILD/peers # gearman's pair, built from bench/peers/gearman when SYSTEMS has gearman
PM2_RUNTIME=${PM2_RUNTIME:-pm2-runtime}
bench_build
if has_system gearman; then make -s -C "$peers_dir/gearman" OUT="$P" >/dev/null; fi
bench_setup
T=$bench_tmp
raw=$RESULTS_DIR/route.jsonl
want throughput && : >"$raw"
cpr_raw=$RESULTS_DIR/route-cpr.jsonl
want cpr && : >"$cpr_raw"
pinned_raw=$RESULTS_DIR/route-pinned.jsonl
want pinned && : >"$pinned_raw"
fault_raw=$RESULTS_DIR/route-fault.jsonl
want fault && : >"$fault_raw"
kill_raw=$RESULTS_DIR/route-kill.jsonl
want kill && : >"$kill_raw"
srv_prefix=() # e.g. (taskset -c 1): how servers are started
cli_prefix=() # and the load client

# nginx with the stream module, from Debian's packages, installed on first use.
nginx_module=""
ensure_nginx() {
    local mod=/usr/lib/nginx/modules/ngx_stream_module.so
    if ! command -v nginx >/dev/null 2>&1 || [ ! -f $mod ]; then
        bench_log "installing nginx and libnginx-mod-stream (apt-get)"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo=sudo
        # Debian's postinst may start the system nginx where policy-rc.d allows it;
        # this benchmark never uses or stops that one.
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            nginx libnginx-mod-stream >/dev/null
    fi
    # Some builds have the module compiled in; load it only when it is a module.
    if [ -f $mod ]; then nginx_module="load_module $mod;"; fi
}
{ has_system nginx || has_system nginx-py; } && ensure_nginx

# --------------------------------------------------------------------------------------
# Servers for one --work-us value: what SYSTEMS needs, all idle but the one under load.
declare -A pid_of # system or backend droverd -> pid

restart_settings() { printf 'restart_delay = 10ms\nrestart_delay_max = 50ms\ncrash_limit = none\n'; }

start_droverd() { # start_droverd NAME: droverd -c $dir/NAME.ini, pid in pid_of[NAME]
    "${srv_prefix[@]}" "$B/droverd" -c "$dir/$1.ini" 2>>"$dir/droverd-$1.err" &
    pid_of[$1]=$!
    bench_track "$!"
}

# work_args: the workers' options for $work (a number of µs, or uneven)
work_args() {
    if [ "$work" = uneven ]; then
        set -- $UNEVEN
        echo "--work-us 0 --slow-every $1 --slow-us $2"
    else
        echo "--work-us $work"
    fi
}
work_json() { if [ "$work" = uneven ]; then echo '0,"uneven":1'; else echo "$work"; fi; }

# drover_system SYSTEM MODE WORKER_INFLIGHT [WORKER]: one droverd, one pool
# (WORKER_INFLIGHT "default": no worker_inflight line; WORKER: echo-worker by default)
drover_system() {
    {
        printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$dir/$1.ctl" "$dir/log"
        printf '[pool:echo]\ncommand = %s %s\nworkers = 2\nlisten = %s\n' \
            "$B/${4:-echo-worker}" "$(work_args)" "$dir/$1.sock"
        printf 'mode = %s\nstdout = null\n' "$2"
        [ "$3" = default ] || printf 'worker_inflight = %s\n' "$3"
        printf "${DROVER_EXTRA:-}"
        restart_settings
    } >"$dir/$1.ini"
    start_droverd "$1"
}

backends() { # backends NAME POOL:WORKERS:COMMAND...: a droverd keeping workers alive
    local name=$1 spec
    shift
    printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$dir/$name.ctl" "$dir/log" >"$dir/$name.ini"
    for spec in "$@"; do
        printf '[pool:%s]\ncommand = %s\nworkers = %s\nstdout = null\n' "${spec%%:*}" \
            "${spec#*:*:}" "$(echo "$spec" | cut -d: -f2)"
        restart_settings
    done >>"$dir/$name.ini"
    start_droverd "$name"
}

needs() { local x; for x in "$@"; do has_system "$x" && return 0; done; return 1; }

start_servers() {
    work=$1
    dir=$T/work-$work
    mkdir -p "$dir/log"
    pid_of=()
    has_system msgD && drover_system msgD message default
    has_system msgDn && drover_system msgDn message default naive-worker
    if has_system msgDp; then
        printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n[pool:echo]\ncommand = %s %s\nworkers = 2\nlisten = %s\nmode = message\nstdout = null\n' \
            "$dir/msgDp.ctl" "$dir/log" "$(command -v python3)" "$repo_dir/examples/echo_worker.py" "$dir/msgDp.sock" >"$dir/msgDp.ini"
        restart_settings >>"$dir/msgDp.ini"
        start_droverd msgDp
    fi
    has_system msg1 && drover_system msg1 message 1
    has_system msgN && drover_system msgN message "$INFLIGHT"
    has_system handoff && drover_system handoff handoff 1
    has_system handoffN && drover_system handoffN handoff "$INFLIGHT"
    has_system handoff64 && drover_system handoff64 handoff 64
    if needs limit limit-cpr nginx haproxy; then
        backends be-echo "w0:1:$B/echo-worker $(work_args) --listen $dir/w0.sock" \
            "w1:1:$B/echo-worker $(work_args) --listen $dir/w1.sock"
        wait_socket "$dir/w0.sock"
        wait_socket "$dir/w1.sock"
    fi
    if needs limit-py nginx-py; then
        local py
        py=$(command -v python3)
        backends be-py "p0:1:$py $bench_dir/python/echo_listen.py --listen $dir/p0.sock" \
            "p1:1:$py $bench_dir/python/echo_listen.py --listen $dir/p1.sock"
        wait_socket "$dir/p0.sock"
        wait_socket "$dir/p1.sock"
    fi
    if has_system node-limit; then
        local js=$peers_dir/pm2/echo-worker.js node
        node=$(command -v node)
        backends be-node "n0:1:$node $js --work-us $work --listen $dir/n0.sock" \
            "n1:1:$node $js --work-us $work --listen $dir/n1.sock"
        wait_socket "$dir/n0.sock"
        wait_socket "$dir/n1.sock"
    fi
    if has_system gearman; then
        gport=$((20000 + RANDOM % 20000))
        "${srv_prefix[@]}" gearmand --listen=127.0.0.1 --port="$gport" --log-file="$dir/gearmand.log" \
            --pid-file="$dir/gearmand.pid" --verbose=WARNING >"$dir/gearmand.out" 2>&1 &
        pid_of[gearman]=$!
        bench_track "$!"
        wait_port "$gport"
        backends be-gear "g:2:$P/gearman-echo-worker --port $gport --work-us $work"
    fi
    if has_system nginx; then
        local user=""
        [ "$(id -u)" -eq 0 ] && user="user root;" # workers must reach sockets in a 0700 dir
        sed -e "s|@DIR@|$dir|g" -e "s|@USER@|$user|" -e "s|@MODULE@|$nginx_module|" \
            "$bench_dir/nginx/stream.conf.in" >"$dir/nginx.conf"
        "${srv_prefix[@]}" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" &
        pid_of[nginx]=$!
        bench_track "$!"
    fi
    if has_system nginx-py; then
        local user=""
        [ "$(id -u)" -eq 0 ] && user="user root;"
        sed -e "s|@DIR@/w\([01]\)\.sock|@DIR@/p\1.sock|" -e "s|@DIR@/nginx\.|@DIR@/nginx-py.|g" \
            -e "s|@DIR@|$dir|g" -e "s|@USER@|$user|" -e "s|@MODULE@|$nginx_module|" \
            "$bench_dir/nginx/stream.conf.in" >"$dir/nginx-py.conf"
        "${srv_prefix[@]}" nginx -p "$dir" -c "$dir/nginx-py.conf" -e "$dir/nginx-py-error.log" &
        pid_of[nginx-py]=$!
        bench_track "$!"
    fi
    if has_system haproxy; then
        sed -e "s|@DIR@|$dir|g" "$peers_dir/haproxy/haproxy.cfg.in" >"$dir/haproxy.cfg"
        "${srv_prefix[@]}" haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.out" 2>&1 &
        pid_of[haproxy]=$!
        bench_track "$!"
    fi
    if has_system pm2; then
        PM2_HOME=$dir/pm2 PEERS_SOCKET=$dir/pm2.sock PEERS_WORK_US=$work \
            "${srv_prefix[@]}" "$PM2_RUNTIME" start "$peers_dir/pm2/cluster.config.js" >"$dir/pm2.out" 2>&1 &
        pid_of[pm2]=$!
        bench_track "$!"
    fi
    local sys
    for sys in msgD msgDn msg1 msgN handoff handoffN handoff64 nginx haproxy msgDp nginx-py; do
        has_system "$sys" && wait_socket "$dir/$sys.sock"
    done
    has_system pm2 && wait_socket "$dir/pm2.sock" 30
    # every worker in its accept/read loop (gearman's registered with gearmand)
    if has_system gearman || has_system pm2; then sleep 1; else sleep 0.3; fi
}

stop_servers() {
    local p
    for p in "${pid_of[@]}"; do bench_stop "$p"; done # nginx: QUIT/TERM ends its workers
    pid_of=()
}

# The router's processes of SYSTEM (for CPU accounting), and the process whose children
# are its workers (CPU accounting, and the kill runs' victims).
router_pids() {
    case $1 in
    limit | limit-cpr | node-limit | limit-py) ;;
    nginx | nginx-py) echo "${pid_of[$1]}" $(children_of "${pid_of[$1]}") ;;
    *) echo "${pid_of[$1]}" ;;
    esac
}
workers_parent() {
    case $1 in
    limit | limit-cpr | nginx | haproxy) echo "${pid_of[be-echo]}" ;;
    node-limit) echo "${pid_of[be-node]}" ;;
    limit-py | nginx-py) echo "${pid_of[be-py]}" ;;
    gearman) echo "${pid_of[be-gear]}" ;;
    *) echo "${pid_of[$1]}" ;;
    esac
}

# run_system SYSTEM CLIENTS SIZE [workclient options] -> one JSON line on stdout
# (-r: plain length frames both ways; -k 1: a connection per request). DURATION and
# WARMUP are read here, so a caller may set them for one call.
run_system() {
    local sys=$1 c=$2 s=$3
    shift 3
    local common=(-c "$c" -z "$s" -T "$THREADS" -t "$DURATION" -w "$WARMUP" -l "$sys" "$@")
    local wc=("${cli_prefix[@]}" "$B/workclient")
    case $sys in
    limit) "${wc[@]}" -r "${common[@]}" -s "$dir/w0.sock" -s "$dir/w1.sock" ;;
    limit-cpr) "${wc[@]}" -r -k 1 "${common[@]}" -s "$dir/w0.sock" -s "$dir/w1.sock" ;;
    msgD | msgDn | msg1 | msgN) "${wc[@]}" "${common[@]}" -s "$dir/$sys.sock" ;;
    handoff | handoffN) "${wc[@]}" -r -k 1 "${common[@]}" -s "$dir/$sys.sock" ;;
    handoff64 | nginx | haproxy | pm2) "${wc[@]}" -r "${common[@]}" -s "$dir/$sys.sock" ;;
    node-limit) "${wc[@]}" -r "${common[@]}" -s "$dir/n0.sock" -s "$dir/n1.sock" ;;
    msgDp) "${wc[@]}" -e prefix:py: "${common[@]}" -s "$dir/msgDp.sock" ;;
    limit-py) "${wc[@]}" -r -e prefix:py: "${common[@]}" -s "$dir/p0.sock" -s "$dir/p1.sock" ;;
    nginx-py) "${wc[@]}" -r -e prefix:py: "${common[@]}" -s "$dir/nginx-py.sock" ;;
    gearman) "${cli_prefix[@]}" "$P/gearload" -c "$c" -s "$s" -d "$DURATION" -w "$WARMUP" \
        -l "$sys" "127.0.0.1:$gport" ;;
    esac
}

# measure FILE KIND SYSTEM CLIENTS SIZE RUN [workclient options]: one raw line into FILE
measure() {
    local file=$1 kind=$2 sys=$3 c=$4 s=$5 run=$6 rp wp r0 w0 r1 w1 line
    shift 6
    rp=$(router_pids "$sys")
    wp=$(children_of "$(workers_parent "$sys")")
    r0=$(cpu_ns $rp)
    w0=$(cpu_ns $wp)
    line=$(run_system "$sys" "$c" "$s" "$@" 2>>"$T/workclient.err") || true
    r1=$(cpu_ns $rp)
    w1=$(cpu_ns $wp)
    [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
    printf '{"kind":"%s","system":"%s","work_us":%s,"run":%s,"load1":%s,"router_cpu_s":%s,"workers_cpu_s":%s,%s\n' \
        "$kind" "$sys" "$(work_json)" "$run" "$(cut -d' ' -f1 /proc/loadavg)" \
        "$(awk -v n=$((r1 - r0)) 'BEGIN {printf "%.4f", n / 1e9}')" \
        "$(awk -v n=$((w1 - w0)) 'BEGIN {printf "%.4f", n / 1e9}')" "${line#\{}" >>"$file"
    bench_log "  $kind work=$work size=$s clients=$c run=$run $sys: $(jfield "$line" rps) req/s p50 $(jfield "$line" p50) p99 $(jfield "$line" p99) us, errors $(jfield "$line" total)"
}

# kill_run SYSTEM RUN: FAULT_SECONDS of 16 clients while a worker dies every 100 ms
kill_run() {
    local sys=$1 run=$2 parent line kills lg
    parent=$(workers_parent "$sys")
    DURATION=$FAULT_SECONDS WARMUP=0 run_system "$sys" 16 64 >"$T/kill.out" 2>>"$T/workclient.err" &
    lg=$!
    bench_track "$lg"
    sleep 0.2
    kills=$("$B/killer" --every-ms 100 --seconds "$FAULT_SECONDS" "$parent" | grep -o '"kills":[0-9]*' | cut -d: -f2)
    wait "$lg" || true
    line=$(cat "$T/kill.out")
    [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
    printf '{"kind":"kill","system":"%s","work_us":%s,"run":%s,"load1":%s,"kills":%s,"fault_s":%s,%s\n' \
        "$sys" "$work" "$run" "$(cut -d' ' -f1 /proc/loadavg)" "${kills:-0}" "$FAULT_SECONDS" "${line#\{}" >>"$kill_raw"
    bench_log "  kill work=$work run=$run $sys: kills=$kills answered=$(jfield "$line" answered) lost=$(jfield "$line" lost) failed=$(jfield "$line" failed) dup=$(jfield "$line" duplicate) mismatch=$(jfield "$line" mismatch)"
    sleep 1 # both workers back before the next system
}

# rotate RUN LIST...: run r starts the list at its (r-1)th element, so no system always
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
want kill && works_needed="$works_needed $FAULT_WORKS"
works_needed=$(printf '%s\n' $works_needed | sort -u | tr '\n' ' ')

for work in $works_needed; do
    bench_log "work ${work}us: starting the servers of $SYSTEMS"
    start_servers "$work"
    if want throughput && [[ " $WORKS " == *" $work "* ]]; then
        for size in $SIZES; do
            for c in $CLIENTS; do
                for r in $(seq "$RUNS"); do
                    for sys in $(rotate "$r" $SYSTEMS); do
                        if [ "$work" != 0 ] && [[ " $PY_SYSTEMS " == *" $sys "* ]]; then continue; fi
                        if [ "$work" = uneven ] && [[ " $NO_UNEVEN_SYSTEMS " == *" $sys "* ]]; then continue; fi
                        measure "$raw" route "$sys" "$c" "$size" "$r"
                    done
                done
            done
        done
    fi
    if want cpr && [ "$work" = 0 ]; then
        for r in $(seq "$RUNS"); do
            for sys in $(rotate "$r" $SYSTEMS); do
                case " $CPR_SYSTEMS " in *" $sys "*) measure "$cpr_raw" cpr "$sys" 16 64 "$r" -k 1 ;; esac
            done
        done
    fi
    if want kill && [[ " $FAULT_WORKS " == *" $work "* ]]; then
        for r in $(seq "$RUNS"); do
            for sys in $(rotate "$r" $SYSTEMS); do
                kill_run "$sys" "$r"
            done
        done
    fi
    stop_servers
done

# --------------------------------------------------------------------------------------
# One client with the scheduler's placement taken out of the picture: every process on
# CPU 0 ("same": each hop is a plain context switch), or the load client on CPU 0 and
# every server on CPU 1 ("split": client and servers wake each other across CPUs).
if want pinned; then
    for placement in same split; do
        if [ "$placement" = same ]; then
            srv_prefix=(taskset -c 0)
            cli_prefix=(taskset -c 0)
        else
            srv_prefix=(taskset -c 1)
            cli_prefix=(taskset -c 0)
        fi
        bench_log "pinned ($placement): 1 client"
        start_servers 0
        for size in $SIZES; do
            for r in $(seq "$RUNS"); do
                for sys in limit msg1 msgN nginx; do
                    has_system "$sys" || continue
                    line=$(run_system "$sys" 1 "$size" 2>>"$T/workclient.err") || true
                    [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
                    printf '{"kind":"pinned","placement":"%s","system":"%s","work_us":0,"run":%s,"load1":%s,%s\n' \
                        "$placement" "$sys" "$r" "$(cut -d' ' -f1 /proc/loadavg)" "${line#\{}" >>"$pinned_raw"
                    bench_log "  $placement size=$size run=$r $sys: $(jfield "$line" rps) req/s p50 $(jfield "$line" p50)us p99 $(jfield "$line" p99)us"
                done
            done
        done
        stop_servers
    done
    srv_prefix=()
    cli_prefix=()
fi

# --------------------------------------------------------------------------------------
# Fault case: message mode under load while a worker is SIGKILLed every 100 ms.
if want fault; then
    for spec in "1 2" "$INFLIGHT 2" "1 1"; do
        set -- $spec
        inflight=$1 attempts=$2
        mkdir -p "$T/log"
        {
            printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$T/ctl.sock" "$T/log"
            printf '[pool:fault]\ncommand = %s\nworkers = 2\nlisten = %s\n' "$B/echo-worker" \
                "$T/fault.sock"
            printf 'mode = message\nworker_inflight = %s\nmax_attempts = %s\n' "$inflight" "$attempts"
            printf 'restart_delay = 10ms\nrestart_delay_max = 50ms\ncrash_limit = none\n'
            printf 'request_timeout = 5s\nstdout = null\n'
        } >"$T/fault.ini"
        "$B/droverd" -c "$T/fault.ini" 2>>"$T/droverd.err" &
        droverd_pid=$!
        bench_track "$droverd_pid"
        wait_socket "$T/fault.sock"
        sleep 0.3
        bench_log "fault: worker_inflight=$inflight max_attempts=$attempts, ${FAULT_SECONDS}s, SIGKILL every 100ms"
        "$B/workclient" -c 16 -z 64 -T "$THREADS" -t "$FAULT_SECONDS" -l fault \
            -s "$T/fault.sock" >"$T/fault.out" 2>>"$T/workclient.err" &
        lg_pid=$!
        bench_track "$lg_pid"
        sleep 0.2
        # SIGKILL one of droverd's own children (the two workers) every 100 ms, the older
        # one each time, until the measured window is over (workclient then drains).
        kills=$("$B/killer" --every-ms 100 --seconds "$FAULT_SECONDS" "$droverd_pid" |
            grep -o '"kills":[0-9]*' | cut -d: -f2)
        wait "$lg_pid" || true
        line=$(cat "$T/fault.out")
        m=$("$B/drover" -s "$T/ctl.sock" metrics)
        retries=$(printf '%s\n' "$m" | awk '/^drover_pool_retries_total/ {print $2}')
        dfailed=$(printf '%s\n' "$m" | awk '/^drover_pool_failures_total/ {print $2}')
        printf '{"kind":"fault","worker_inflight":%s,"max_attempts":%s,"kills":%s,"drover_retries":%s,"drover_failed":%s,%s\n' \
            "$inflight" "$attempts" "$kills" "${retries:-null}" "${dfailed:-null}" "${line#\{}" >>"$fault_raw"
        bench_log "  kills=$kills retries=$retries failed=$dfailed: $line"
        bench_stop "$droverd_pid"
        rm -f "$T"/*.sock
    done
fi

# --------------------------------------------------------------------------------------
# Summary tables (Markdown) from the raw lines.
summarize() {
    # One row per measurement: system work size clients run rps p50 p99 errors
    grep '"kind":"route"' "$raw" | awk '
        function f(key,   m) {
            if (match($0, "\"" key "\":[-0-9.e+]+")) {
                m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0
            }
            return -1
        }
        function s(key,   m) {
            if (match($0, "\"" key "\":\"[^\"]*\"")) {
                m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m
            }
            return "?"
        }
        { a = f("answered"); if (a <= 0) a = 1
          print s("system"), (index($0, "\"uneven\":1") ? "uneven" : f("work_us")), f("size"), f("clients"), f("run"), f("rps"),
                f("p50"), f("p99"), f("total"), f("router_cpu_s") * 1e6 / a,
                f("workers_cpu_s") * 1e6 / a, f("cpu_s") * 1e6 / a }' >"$T/rows"

    awk -v systems="$SYSTEMS" -v inflight="$INFLIGHT" -v uneven="1 in ${UNEVEN% *}: ${UNEVEN#* } µs" '
        function med(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
            if (n == 0) return ""
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function lo(list,   n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
        function hi(list,   n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
        function k(w, s, c) { return w SUBSEP s SUBSEP c }
        {
            sys = $1; key = k($2, $3, $4)
            rps[sys, key] = rps[sys, key] " " $6
            p50[sys, key] = p50[sys, key] " " $7
            p99[sys, key] = p99[sys, key] " " $8
            err[sys, key] += ($9 > 0 ? $9 : 0)
            byrun[sys, key, $5] = $6; p99run[sys, key, $5] = $8; p50run[sys, key, $5] = $7
            rcpu[sys, key] = rcpu[sys, key] " " $10; wcpu[sys, key] = wcpu[sys, key] " " $11
            lcpu[sys, key] = lcpu[sys, key] " " $12
            runs[key, $5] = 1
            if (!(key in seen)) { seen[key] = 1; order[++nkeys] = key }
        }
        function ratio(a, b, key,   r, list) {
            list = ""
            for (r = 1; r <= 100; r++)
                if ((key, r) in runs && (a, key, r) in byrun && (b, key, r) in byrun && byrun[b, key, r] > 0)
                    list = list " " byrun[a, key, r] / byrun[b, key, r]
            return list == "" ? "–" : sprintf("%.2f", med(list))
        }
        function wl(w) { return w == "uneven" ? "uneven (" uneven ")" : w " µs" }
        function added(a, b, key, arr,   r, list) {
            list = ""
            for (r = 1; r <= 100; r++)
                if ((a, key, r) in arr && (b, key, r) in arr)
                    list = list " " (arr[a, key, r] - arr[b, key, r])
            return list == "" ? "–" : sprintf("%.0f", med(list))
        }
        END {
            ns = split(systems, S, " ")
            name["limit"] = "limit"; name["msgD"] = "msg defaults"; name["msgDn"] = "msg defaults, naive worker"; name["msg1"] = "msg inflight=1"; name["msgN"] = "msg inflight=" inflight
            name["handoff"] = "handoff (conn/req)"; name["handoffN"] = "handoff inflight=" inflight; name["limit-cpr"] = "limit conn/req"; name["nginx"] = "nginx stream"
            name["handoff64"] = "handoff inflight=64"; name["haproxy"] = "haproxy"; name["pm2"] = "PM2 cluster"
            name["node-limit"] = "limit (Node)"; name["gearman"] = "gearmand"
            name["msgDp"] = "msg defaults, Python worker"; name["limit-py"] = "limit (Python)"; name["nginx-py"] = "nginx stream, Python workers"

            print "#### Requests/s: median (min–max) of the runs"
            print ""
            hdr = "| work | size | clients |"; sep = "|---|---|---|"
            for (i = 1; i <= ns; i++) { hdr = hdr " " name[S[i]] " |"; sep = sep "---|" }
            print hdr; print sep
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                line = "| " wl(kk[1]) " | " kk[2] " B | " kk[3] " |"
                for (i = 1; i <= ns; i++) {
                    l = rps[S[i], key]
                    line = line (l == "" ? " – |" : sprintf(" %.0f (%.0f–%.0f) |", med(l), lo(l), hi(l)))
                }
                print line
            }
            print ""
            print "#### Ratios (median over runs of the per-run ratio; each run measures both systems back to back)"
            print ""
            print "| work | size | clients | msgD / limit | msgDn / limit | msg1 / limit | msg" inflight " / limit | handoff / limit-cpr | handoff" inflight " / limit-cpr | nginx / limit | msgD / nginx | msgDn / nginx | msg1 / nginx | msg" inflight " / nginx |"
            print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                print "| " wl(kk[1]) " | " kk[2] " B | " kk[3] " | " ratio("msgD", "limit", key) " | " ratio("msgDn", "limit", key) " | " ratio("msg1", "limit", key) " | " ratio("msgN", "limit", key) " | " \
                    ratio("handoff", "limit-cpr", key) " | " ratio("handoffN", "limit-cpr", key) " | " ratio("nginx", "limit", key) " | " ratio("msgD", "nginx", key) " | " ratio("msgDn", "nginx", key) " | " ratio("msg1", "nginx", key) " | " ratio("msgN", "nginx", key) " |"
            }
            if (index(" " systems " ", " msgDp ") && index(" " systems " ", " limit-py ") && index(" " systems " ", " nginx-py ")) {
                print ""
                print "#### The Python example worker (examples/echo_worker.py behind drover; bench/python/echo_listen.py for the limit and behind nginx)"
                print ""
                print "| work | size | clients | msgDp / limit-py | nginx-py / limit-py | msgDp / nginx-py |"
                print "|---|---|---|---|---|---|"
                for (o = 1; o <= nkeys; o++) {
                    key = order[o]; split(key, kk, SUBSEP)
                    if (kk[1] != 0) continue
                    print "| " wl(kk[1]) " | " kk[2] " B | " kk[3] " | " ratio("msgDp", "limit-py", key) " | " ratio("nginx-py", "limit-py", key) " | " ratio("msgDp", "nginx-py", key) " |"
                }
            }
            print ""
            print "#### Latency, µs: p50 / p99 (medians of the runs)"
            print ""
            hdr = "| work | size | clients |"; sep = "|---|---|---|"
            for (i = 1; i <= ns; i++) { hdr = hdr " " name[S[i]] " |"; sep = sep "---|" }
            print hdr; print sep
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                line = "| " wl(kk[1]) " | " kk[2] " B | " kk[3] " |"
                for (i = 1; i <= ns; i++) {
                    a = p50[S[i], key]; b = p99[S[i], key]
                    line = line (a == "" ? " – |" : sprintf(" %.0f / %.0f |", med(a), med(b)))
                }
                print line
            }
            print ""
            print "#### Added latency at one client, µs (system minus limit, same run; median over runs)"
            print ""
            print "| work | size | msgD p50 | msgD p99 | msgDn p50 | msgDn p99 | msg1 p50 | msg1 p99 | msg" inflight " p50 | msg" inflight " p99 | nginx p50 | nginx p99 |"
            print "|---|---|---|---|---|---|---|---|---|---|---|---|"
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                if (kk[3] != 1) continue
                print "| " wl(kk[1]) " | " kk[2] " B | " added("msgD", "limit", key, p50run) " | " added("msgD", "limit", key, p99run) " | " \
                    added("msgDn", "limit", key, p50run) " | " added("msgDn", "limit", key, p99run) " | " added("msg1", "limit", key, p50run) " | " added("msg1", "limit", key, p99run) " | " \
                    added("msgN", "limit", key, p50run) " | " added("msgN", "limit", key, p99run) " | " \
                    added("nginx", "limit", key, p50run) " | " added("nginx", "limit", key, p99run) " |"
            }
            print ""
            print "#### CPU per request, µs: router / workers / load generator (medians of the runs)"
            print ""
            print "CPU time is robust to the machine being shared: it is what each request costs, not how long it waited."
            print "Router = droverd, or nginx master + workers; workers = the two echo-workers of that system."
            print ""
            hdr = "| work | size | clients |"; sep = "|---|---|---|"
            for (i = 1; i <= ns; i++) { hdr = hdr " " name[S[i]] " |"; sep = sep "---|" }
            print hdr; print sep
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                line = "| " wl(kk[1]) " | " kk[2] " B | " kk[3] " |"
                for (i = 1; i <= ns; i++) {
                    a = rcpu[S[i], key]
                    line = line (a == "" ? " – |" : sprintf(" %.1f / %.1f / %.1f |", med(a), med(wcpu[S[i], key]), med(lcpu[S[i], key])))
                }
                print line
            }
            total = 0
            for (x in err) total += err[x]
            print ""
            print "Verification errors (mismatched, duplicated, lost replies, I/O errors) over the whole grid: " total
        }' "$T/rows"
}

echo
echo "### Routing ($(date -u +%Y-%m-%d); $RUNS runs of ${DURATION}s after ${WARMUP}s warm-up; workclient on $THREADS thread(s))"
echo
echo "droverd from $(bench_rev); $(nproc) CPUs, $(uname -r)"
echo
if want throughput && [ -s "$raw" ]; then summarize; fi
if want pinned && [ -s "$pinned_raw" ]; then
    echo
    echo "#### One client, pinned: p50 / p99 µs and req/s (medians of $RUNS runs), added latency vs limit"
    echo
    echo "| placement | size | limit | msg inflight=1 | msg inflight=$INFLIGHT | nginx | msg1 added p50 / p99 | msg$INFLIGHT added p50 / p99 | nginx added p50 / p99 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    awk '
        function f(key,   m) { if (match($0, "\"" key "\":[-0-9.e+]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
        function s(key,   m) { if (match($0, "\"" key "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); return m } return "?" }
        { print s("placement"), f("size"), s("system"), f("run"), f("rps"), f("p50"), f("p99") }' "$pinned_raw" |
    awk '
        function med(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        {
            key = $1 " " $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
            rps[key, $3] = rps[key, $3] " " $5; p50[key, $3] = p50[key, $3] " " $6; p99[key, $3] = p99[key, $3] " " $7
            r50[key, $3, $4] = $6; r99[key, $3, $4] = $7; runs[key, $4] = 1
        }
        function cell(key, sys) { return (rps[key, sys] == "") ? "–" : sprintf("%.0f / %.0f (%.0f/s)", med(p50[key, sys]), med(p99[key, sys]), med(rps[key, sys])) }
        function added(key, sys,   r, a, b) {
            a = ""; b = ""
            for (r = 1; r <= 100; r++) if ((key, sys, r) in r50 && (key, "limit", r) in r50) {
                a = a " " (r50[key, sys, r] - r50[key, "limit", r]); b = b " " (r99[key, sys, r] - r99[key, "limit", r]) }
            return a == "" ? "–" : sprintf("%.0f / %.0f", med(a), med(b))
        }
        END {
            for (i = 1; i <= n; i++) {
                key = order[i]; split(key, k, " ")
                print "| " k[1] " | " k[2] " B | " cell(key, "limit") " | " cell(key, "msg1") " | " cell(key, "msgN") " | " cell(key, "nginx") " | " \
                    added(key, "msg1") " | " added(key, "msgN") " | " added(key, "nginx") " |"
            }
        }'
fi
if want fault && [ -s "$fault_raw" ]; then
    echo
    echo "#### Fault case: 16 clients, 64 B, ${FAULT_SECONDS}s, one worker SIGKILLed every 100 ms"
    echo
    echo "| worker_inflight | max_attempts | kills | answered | lost | FAILED replies | duplicates | mismatches | drover retries | drover failures |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    while read -r l; do
        echo "| $(jfield "$l" worker_inflight) | $(jfield "$l" max_attempts) | $(jfield "$l" kills) | $(jfield "$l" answered) | $(jfield "$l" lost) | $(jfield "$l" failed) | $(jfield "$l" duplicate) | $(jfield "$l" mismatch) | $(jfield "$l" drover_retries) | $(jfield "$l" drover_failed) |"
    done <"$fault_raw"
fi
if want cpr && [ -s "$cpr_raw" ]; then
    echo
    echo "#### A connection per request: 16 clients, 64 B, no work (medians of $RUNS runs)"
    echo
    echo "| system | requests/s | p50 µs | p99 µs | router CPU µs/request | errors |"
    echo "|---|---|---|---|---|---|"
    for sys in $SYSTEMS; do
        grep -q "\"system\":\"$sys\"" "$cpr_raw" || continue
        rows=$(grep "\"system\":\"$sys\"" "$cpr_raw")
        col() { while read -r l; do jfield "$l" "$1"; done <<<"$rows"; }
        rcpu=$(while read -r l; do awk -v c="$(jfield "$l" router_cpu_s)" -v a="$(jfield "$l" answered)" 'BEGIN {print (a > 0 ? c * 1e6 / a : 0)}'; done <<<"$rows")
        echo "| $sys | $(col rps | mmm %.0f) | $(col p50 | mmm %.0f) | $(col p99 | mmm %.0f) | $(echo "$rcpu" | mmm %.1f) | $(col total | awk '{s += ($1 > 0 ? $1 : 0)} END {print s + 0}') |"
    done
fi
if want kill && [ -s "$kill_raw" ]; then
    echo
    echo "#### Kills: 16 clients, 64 B, ${FAULT_SECONDS}s, one of the two workers SIGKILLed every 100 ms (sums over $RUNS runs)"
    echo
    echo "| work | system | kills | answered | lost | failed | duplicated | mismatched | connect errors |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for w in $FAULT_WORKS; do
        for sys in $SYSTEMS; do
            rows=$(grep "\"system\":\"$sys\",\"work_us\":$w," "$kill_raw" || true)
            [ -n "$rows" ] || continue
            sum() { while read -r l; do jfield "$l" "$1"; done <<<"$rows" | awk '{s += $1} END {print s + 0}'; }
            echo "| $w µs | $sys | $(sum kills) | $(sum answered) | $(sum lost) | $(sum failed) | $(sum duplicate) | $(sum mismatch) | $(sum connect) |"
        done
    done
fi
