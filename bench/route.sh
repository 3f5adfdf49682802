#!/usr/bin/env bash
# Routing benchmarks: requests/s and latency through droverd compared with the
# same echo-worker reached directly (the no-router limit) and through nginx's
# stream module; then the fault case (workers SIGKILLed every 100 ms under load).
#
#   bench/route.sh                  everything (about 15 minutes)
#   bench/route.sh throughput       only the throughput grid
#   bench/route.sh fault            only the fault case
#   bench/route.sh pinned           one client with every process pinned (same CPU / split)
#   RUNS=1 CLIENTS="16" SIZES=64 WORKS=0 bench/route.sh throughput   a quick look
#
# Systems (SYSTEMS, all by default):
#   limit      echo-worker --listen, one per core, clients split across them (persistent)
#   msg1       drover message mode, worker_inflight = 1
#   msgN       drover message mode, worker_inflight = $INFLIGHT (16)
#   handoff    drover handoff mode, a connection per request (worker_inflight = 1: one
#              connection per worker at a time)
#   handoffN   the same with worker_inflight = $INFLIGHT (connections held per worker)
#   limit-cpr  the limit, a connection per request (what handoff is compared with)
#   nginx      nginx stream, least_conn over the two limit workers' sockets (persistent)
# Every system has two workers (this is a 2-core machine), the same binary, the same
# --work-us. The load generator runs on THREADS (1) thread(s); for each grid cell the
# systems are run one after another, RUNS times, so machine noise hits them alike.
#
# Environment: BUILD, RESULTS_DIR, RUNS (3), DURATION (2 s), WARMUP (0.3 s),
# CLIENTS ("1 16 64"), SIZES ("64 4096"), WORKS ("0 50" µs of CPU per request),
# SYSTEMS, INFLIGHT (16), THREADS (1), FAULT_SECONDS (5).
# Raw JSON lines go to $RESULTS_DIR/route.jsonl; Markdown tables to stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.3}
CLIENTS=${CLIENTS:-1 16 64}
SIZES=${SIZES:-64 4096}
WORKS=${WORKS:-0 50}
SYSTEMS=${SYSTEMS:-limit msg1 msgN handoff handoffN limit-cpr nginx}
INFLIGHT=${INFLIGHT:-16}
THREADS=${THREADS:-1}
FAULT_SECONDS=${FAULT_SECONDS:-5}

sections=${*:-throughput pinned fault}
want() { case " $sections " in *" $1 "*) return 0 ;; esac; return 1; }
has_system() { case " $SYSTEMS " in *" $1 "*) return 0 ;; esac; return 1; }

bench_build
bench_setup
T=$bench_tmp
raw=$RESULTS_DIR/route.jsonl
want throughput && : >"$raw"
pinned_raw=$RESULTS_DIR/route-pinned.jsonl
want pinned && : >"$pinned_raw"
srv_prefix=() # e.g. (taskset -c 1): how servers are started
cli_prefix=() # and the load generator
fault_raw=$RESULTS_DIR/route-fault.jsonl
want fault && : >"$fault_raw"

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

# --------------------------------------------------------------------------------------
# Servers for one --work-us value: droverd (three pools), two standalone workers, nginx.
start_servers() {
    local work=$1
    mkdir -p "$T/log"
    {
        printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$T/ctl.sock" "$T/log"
        printf '[pool:msg1]\ncommand = %s --work-us %s\nworkers = 2\nlisten = %s\n' \
            "$B/echo-worker" "$work" "$T/msg1.sock"
        printf 'mode = message\nworker_inflight = 1\nstdout = null\n'
        printf '[pool:msgN]\ncommand = %s --work-us %s\nworkers = 2\nlisten = %s\n' \
            "$B/echo-worker" "$work" "$T/msgN.sock"
        printf 'mode = message\nworker_inflight = %s\nstdout = null\n' "$INFLIGHT"
        printf '[pool:handoff]\ncommand = %s --work-us %s\nworkers = 2\nlisten = %s\n' \
            "$B/echo-worker" "$work" "$T/handoff.sock"
        printf 'mode = handoff\nstdout = null\n'
        printf '[pool:handoffN]\ncommand = %s --work-us %s\nworkers = 2\nlisten = %s\n' \
            "$B/echo-worker" "$work" "$T/handoffN.sock"
        printf 'mode = handoff\nworker_inflight = %s\nstdout = null\n' "$INFLIGHT"
    } >"$T/drover.ini"
    "${srv_prefix[@]}" "$B/droverd" -c "$T/drover.ini" 2>>"$T/droverd.err" &
    droverd_pid=$!
    bench_track "$droverd_pid"
    "${srv_prefix[@]}" "$B/echo-worker" --work-us "$work" --listen "$T/w0.sock" &
    bench_track $!
    w0_pid=$!
    "${srv_prefix[@]}" "$B/echo-worker" --work-us "$work" --listen "$T/w1.sock" &
    bench_track $!
    w1_pid=$!
    wait_socket "$T/msg1.sock"
    wait_socket "$T/msgN.sock"
    wait_socket "$T/handoff.sock"
    wait_socket "$T/handoffN.sock"
    wait_socket "$T/w0.sock"
    wait_socket "$T/w1.sock"
    nginx_pid=""
    if has_system nginx; then
        local user=""
        [ "$(id -u)" -eq 0 ] && user="user root;" # workers must reach sockets in a 0700 dir
        sed -e "s|@DIR@|$T|g" -e "s|@USER@|$user|" -e "s|@MODULE@|$nginx_module|" \
            "$bench_dir/nginx/stream.conf.in" >"$T/nginx.conf"
        "${srv_prefix[@]}" nginx -p "$T" -c "$T/nginx.conf" -e "$T/nginx-error.log" &
        nginx_pid=$!
        bench_track "$nginx_pid"
        wait_socket "$T/nginx.sock"
    fi
    sleep 0.3 # let every worker reach its accept/read loop
}

stop_servers() {
    [ -n "$nginx_pid" ] && bench_stop "$nginx_pid" # QUIT/TERM: the master ends its workers
    bench_stop "$w0_pid"
    bench_stop "$w1_pid"
    bench_stop "$droverd_pid"
    rm -f "$T"/*.sock
}


# The processes that serve SYSTEM: "router" and "workers" (for CPU accounting).
router_pids() {
    case $1 in
    limit | limit-cpr) ;;
    nginx) echo "$nginx_pid" $(children_of "$nginx_pid") ;;
    *) echo "$droverd_pid" ;;
    esac
}
worker_pids() {
    case $1 in
    limit | limit-cpr | nginx) echo "$w0_pid $w1_pid" ;;
    *) children_of "$droverd_pid" ;; # idle pools' workers use no CPU
    esac
}

# run_system SYSTEM CLIENTS SIZE -> one workclient JSON line on stdout
# (-r: plain length frames both ways; -k 1: a connection per request)
run_system() {
    local sys=$1 c=$2 s=$3
    local common=(-c "$c" -z "$s" -T "$THREADS" -t "$DURATION" -w "$WARMUP" -l "$sys")
    local lg=("${cli_prefix[@]}" "$B/workclient")
    case $sys in
    limit) "${lg[@]}" -r "${common[@]}" -s "$T/w0.sock" -s "$T/w1.sock" ;;
    limit-cpr) "${lg[@]}" -r -k 1 "${common[@]}" -s "$T/w0.sock" -s "$T/w1.sock" ;;
    msg1) "${lg[@]}" "${common[@]}" -s "$T/msg1.sock" ;;
    msgN) "${lg[@]}" "${common[@]}" -s "$T/msgN.sock" ;;
    handoff) "${lg[@]}" -r -k 1 "${common[@]}" -s "$T/handoff.sock" ;;
    handoffN) "${lg[@]}" -r -k 1 "${common[@]}" -s "$T/handoffN.sock" ;;
    nginx) "${lg[@]}" -r "${common[@]}" -s "$T/nginx.sock" ;;
    *) echo "unknown system $sys" >&2; return 2 ;;
    esac
}

if want throughput; then
    has_system nginx && ensure_nginx
    for work in $WORKS; do
        bench_log "work ${work}us: starting droverd, 2 standalone workers${nginx_module:+, nginx}"
        start_servers "$work"
        for size in $SIZES; do
            for c in $CLIENTS; do
                for r in $(seq "$RUNS"); do
                    for sys in $SYSTEMS; do
                        rp=$(router_pids "$sys")
                        wp=$(worker_pids "$sys")
                        r0=$(cpu_ns $rp)
                        w0=$(cpu_ns $wp)
                        line=$(run_system "$sys" "$c" "$size" 2>>"$T/workclient.err") || true
                        r1=$(cpu_ns $rp)
                        w1=$(cpu_ns $wp)
                        [ -z "$line" ] && line='{"rps":0,"errors":{"total":-1}}'
                        printf '{"kind":"route","system":"%s","work_us":%s,"run":%s,"load1":%s,"router_cpu_s":%s,"workers_cpu_s":%s,%s\n' \
                            "$sys" "$work" "$r" "$(cut -d' ' -f1 /proc/loadavg)" \
                            "$(awk -v n=$((r1 - r0)) 'BEGIN {printf "%.4f", n / 1e9}')" \
                            "$(awk -v n=$((w1 - w0)) 'BEGIN {printf "%.4f", n / 1e9}')" \
                            "${line#\{}" >>"$raw"
                        bench_log "  work=$work size=$size clients=$c run=$r $sys: $(jfield "$line" rps) req/s p99 $(jfield "$line" p99)us errors $(jfield "$line" total)"
                    done
                done
            done
        done
        stop_servers
    done
fi

# --------------------------------------------------------------------------------------
# One client with the scheduler's placement taken out of the picture: every process on
# CPU 0 ("same": each hop is a plain context switch), or the load generator on CPU 0 and
# every server on CPU 1 ("split": client and servers wake each other across CPUs).
if want pinned; then
    has_system nginx && ensure_nginx
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
        kills=0
        i=0
        sleep 0.2
        next=$(($(now_us) + 100000))
        while kill -0 "$lg_pid" 2>/dev/null; do
            # Only droverd's own children (the two workers), alternately.
            kids=($(cat "/proc/$droverd_pid/task/$droverd_pid/children" 2>/dev/null))
            if [ "${#kids[@]}" -gt 0 ]; then
                victim=${kids[$((i % ${#kids[@]}))]}
                kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
                i=$((i + 1))
            fi
            # every 100 ms on a fixed schedule, whatever the loop itself costs
            left=$((next - $(now_us)))
            [ "$left" -gt 0 ] && sleep "0.$(printf '%06d' "$left")"
            next=$((next + 100000))
            # stop killing when the measured window is over (workclient then drains)
            [ "$kills" -ge $((FAULT_SECONDS * 10)) ] && break
        done
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
          print s("system"), f("work_us"), f("size"), f("clients"), f("run"), f("rps"),
                f("p50"), f("p99"), f("total"), f("router_cpu_s") * 1e6 / a,
                f("workers_cpu_s") * 1e6 / a, f("cpu_s") * 1e6 / a }' >"$T/rows"

    awk -v systems="$SYSTEMS" -v inflight="$INFLIGHT" '
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
        function added(a, b, key, arr,   r, list) {
            list = ""
            for (r = 1; r <= 100; r++)
                if ((a, key, r) in arr && (b, key, r) in arr)
                    list = list " " (arr[a, key, r] - arr[b, key, r])
            return list == "" ? "–" : sprintf("%.0f", med(list))
        }
        END {
            ns = split(systems, S, " ")
            name["limit"] = "limit"; name["msg1"] = "msg inflight=1"; name["msgN"] = "msg inflight=" inflight
            name["handoff"] = "handoff (conn/req)"; name["handoffN"] = "handoff inflight=" inflight; name["limit-cpr"] = "limit conn/req"; name["nginx"] = "nginx stream"

            print "#### Requests/s: median (min–max) of the runs"
            print ""
            hdr = "| work | size | clients |"; sep = "|---|---|---|"
            for (i = 1; i <= ns; i++) { hdr = hdr " " name[S[i]] " |"; sep = sep "---|" }
            print hdr; print sep
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                line = "| " kk[1] " µs | " kk[2] " B | " kk[3] " |"
                for (i = 1; i <= ns; i++) {
                    l = rps[S[i], key]
                    line = line (l == "" ? " – |" : sprintf(" %.0f (%.0f–%.0f) |", med(l), lo(l), hi(l)))
                }
                print line
            }
            print ""
            print "#### Ratios (median over runs of the per-run ratio; each run measures both systems back to back)"
            print ""
            print "| work | size | clients | msg1 / limit | msg" inflight " / limit | handoff / limit-cpr | handoff" inflight " / limit-cpr | nginx / limit | msg1 / nginx | msg" inflight " / nginx |"
            print "|---|---|---|---|---|---|---|---|---|---|"
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                print "| " kk[1] " µs | " kk[2] " B | " kk[3] " | " ratio("msg1", "limit", key) " | " ratio("msgN", "limit", key) " | " \
                    ratio("handoff", "limit-cpr", key) " | " ratio("handoffN", "limit-cpr", key) " | " ratio("nginx", "limit", key) " | " ratio("msg1", "nginx", key) " | " ratio("msgN", "nginx", key) " |"
            }
            print ""
            print "#### Latency, µs: p50 / p99 (medians of the runs)"
            print ""
            hdr = "| work | size | clients |"; sep = "|---|---|---|"
            for (i = 1; i <= ns; i++) { hdr = hdr " " name[S[i]] " |"; sep = sep "---|" }
            print hdr; print sep
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                line = "| " kk[1] " µs | " kk[2] " B | " kk[3] " |"
                for (i = 1; i <= ns; i++) {
                    a = p50[S[i], key]; b = p99[S[i], key]
                    line = line (a == "" ? " – |" : sprintf(" %.0f / %.0f |", med(a), med(b)))
                }
                print line
            }
            print ""
            print "#### Added latency at one client, µs (system minus limit, same run; median over runs)"
            print ""
            print "| work | size | msg1 p50 | msg1 p99 | msg" inflight " p50 | msg" inflight " p99 | nginx p50 | nginx p99 |"
            print "|---|---|---|---|---|---|---|---|"
            for (o = 1; o <= nkeys; o++) {
                key = order[o]; split(key, kk, SUBSEP)
                if (kk[3] != 1) continue
                print "| " kk[1] " µs | " kk[2] " B | " added("msg1", "limit", key, p50run) " | " added("msg1", "limit", key, p99run) " | " \
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
                line = "| " kk[1] " µs | " kk[2] " B | " kk[3] " |"
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
