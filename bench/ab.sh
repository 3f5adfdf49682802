#!/usr/bin/env bash
# A/B of two (or more) droverd builds on one message-mode pool: requests/s and CPU
# per request, runs interleaved in a new random order every round, so that the
# machine's drift and the scheduler's placement hit every build alike.
#
#   bench/ab.sh NAME=DROVERD[:WORKER] NAME=DROVERD[:WORKER] ...
#
# The first build is the base: each run's requests/s is divided by the base's in
# the same round, and the median of those ratios is printed with their range.
# WORKER defaults to this tree's echo-worker. To measure an older revision:
#
#   git worktree add /tmp/old REV
#   cmake -S /tmp/old -B /tmp/old/build -DCMAKE_BUILD_TYPE=Release
#   cmake --build /tmp/old/build --target droverd echo-worker
#   bench/ab.sh old=/tmp/old/build/bin/droverd:/tmp/old/build/bin/echo-worker \
#               new=build-bench/bin/droverd
#
# Environment: RUNS (5), CLIENTS ("16 64"), SIZES ("64 4096"), WORK (0 µs per request),
# INFLIGHT (worker_inflight, 16), DURATION (2 s), WARMUP (0.3 s).
# Output, one line per cell: NAME median req/s, ratio to the base median [min-max],
# droverd / workers / load client CPU µs per request, p99 µs (medians of the runs).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-5}
CLIENTS=${CLIENTS:-16 64}
SIZES=${SIZES:-64 4096}
WORK=${WORK:-0}
INFLIGHT=${INFLIGHT:-16}
DURATION=${DURATION:-2}
WARMUP=${WARMUP:-0.3}

if [ $# -lt 2 ]; then
    sed -n '2,20p' "$0" >&2
    exit 2
fi

bench_build
bench_setup
T=$bench_tmp
names=()
pids=()
for spec in "$@"; do
    name=${spec%%=*}
    bin=${spec#*=}
    worker=$B/echo-worker
    case $bin in *:*) worker=${bin#*:} bin=${bin%%:*} ;; esac
    [ -x "$bin" ] && [ -x "$worker" ] || { echo "ab.sh: $spec: no such program" >&2; exit 2; }
    mkdir -p "$T/$name/log"
    printf '[daemon]\ncontrol_socket = %s\nlog_dir = %s\n' "$T/$name/ctl.sock" "$T/$name/log" \
        >"$T/$name/drover.ini"
    printf '[pool:m]\ncommand = %s --work-us %s\nworkers = 2\nlisten = %s\n' \
        "$worker" "$WORK" "$T/$name/m.sock" >>"$T/$name/drover.ini"
    printf 'mode = message\nworker_inflight = %s\nstdout = null\n' "$INFLIGHT" >>"$T/$name/drover.ini"
    "$bin" -c "$T/$name/drover.ini" 2>>"$T/$name/droverd.err" &
    bench_track $!
    pids+=($!)
    names+=("$name")
done
for name in "${names[@]}"; do wait_socket "$T/$name/m.sock"; done
sleep 0.3

raw=$T/ab.txt
for size in $SIZES; do
    for c in $CLIENTS; do
        for r in $(seq "$RUNS"); do
            for k in $(shuf -e $(seq 0 $((${#names[@]} - 1)))); do
                name=${names[$k]} pid=${pids[$k]}
                kids=$(children_of "$pid")
                d0=$(cpu_ns "$pid")
                w0=$(cpu_ns $kids)
                line=$("$B/workclient" -c "$c" -z "$size" -T 1 -t "$DURATION" -w "$WARMUP" \
                    -s "$T/$name/m.sock" 2>>"$T/workclient.err") || true
                d1=$(cpu_ns "$pid")
                w1=$(cpu_ns $kids)
                echo "$size $c $r $name $(($(jfield "$line" answered) + 0)) $(jfield "$line" rps)" \
                    "$(jfield "$line" p99) $(jfield "$line" cpu_s) $((d1 - d0)) $((w1 - w0))" >>"$raw"
                bench_log "size=$size clients=$c run=$r $name: $(jfield "$line" rps) req/s"
            done
        done
    done
done

python3 - "$raw" "${names[@]}" <<'PY'
import collections, statistics as st, sys

raw, names = sys.argv[1], sys.argv[2:]
cells = collections.defaultdict(lambda: collections.defaultdict(dict))
for line in open(raw):
    size, c, r, name, n, rps, p99, lcpu, dns, wns = line.split()
    n = max(int(n), 1)
    cells[(int(size), int(c))][name][int(r)] = (
        float(rps), int(dns) / 1e3 / n, int(wns) / 1e3 / n, float(lcpu) * 1e6 / n, float(p99))
for (size, c), by in sorted(cells.items()):
    print(f"{size} B, {c} clients:")
    base = by[names[0]]
    for name in names:
        runs = by[name]
        ratios = [runs[r][0] / base[r][0] for r in runs if r in base and base[r][0] > 0]
        med = lambda i: st.median(v[i] for v in runs.values())
        print(f"  {name:>10}: {med(0):9.0f} req/s  x{st.median(ratios):.3f} [{min(ratios):.2f}-{max(ratios):.2f}]"
              f"  cpu/req droverd {med(1):.2f} workers {med(2):.2f} client {med(3):.2f} us  p99 {med(4):.0f} us")
PY
