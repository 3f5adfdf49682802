# shellcheck shell=bash
# Shared by bench/supervise.sh, bench/route.sh and bench/ab.sh: build, temp dir, cleanup of
# exactly the processes the script started, and small statistics helpers.
# Nothing here touches a process the calling script did not start.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$bench_dir")
BUILD=${BUILD:-$repo_dir/build-bench}
B=$BUILD/bin
RESULTS_DIR=${RESULTS_DIR:-$bench_dir/results}

bench_pids=()
bench_tmp=""

bench_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Optimized build of everything the benchmarks run, in its own build directory.
bench_build() {
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        cmake -S "$repo_dir" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
    cmake --build "$BUILD" -j2 --target droverd drover echo-worker workclient stamp-worker \
        stamp-collect killer supbench crash-worker naive-worker >/dev/null
}

bench_setup() {
    bench_tmp=$(mktemp -d /tmp/drover-bench.XXXXXX)
    mkdir -p "$RESULTS_DIR"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# Remember a process we started so cleanup can end it (by PID, never by name).
bench_track() { bench_pids+=("$1"); }

# End one tracked process: TERM, then KILL after a grace, then reap.
bench_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

bench_cleanup() {
    local pid
    for pid in "${bench_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null && bench_stop "$pid"
    done
    bench_pids=()
    [ -n "$bench_tmp" ] && rm -rf "$bench_tmp"
    bench_tmp=""
}

# Wait (up to $2 seconds) until the Unix socket $1 accepts connections.
wait_socket() {
    local path=$1 limit=${2:-10} i
    for i in $(seq $((limit * 20))); do
        [ -S "$path" ] && return 0
        sleep 0.05
    done
    echo "timed out waiting for $path" >&2
    return 1
}

# Wait (up to 10 s) until something accepts on 127.0.0.1:$1.
wait_port() {
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timed out waiting for 127.0.0.1:$1" >&2
    return 1
}

# CPU time (ns) used so far by every thread of the given processes.
cpu_ns() {
    local total=0 p t a rest
    for p in "$@"; do
        for t in /proc/"$p"/task/*/schedstat; do
            [ -r "$t" ] || continue
            read -r a rest <"$t" 2>/dev/null || continue
            total=$((total + a))
        done
    done
    echo "$total"
}
# The children of PID (of any of its threads), one per line.
children_of() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true; }

# A numeric field of a flat-ish JSON line: jfield LINE KEY (first occurrence).
jfield() {
    printf '%s\n' "$1" | grep -o "\"$2\":[-0-9.e+]*" | head -1 | cut -d: -f2
}

# min/median/max of numbers on stdin: prints "min median max" (median of even n = mean of middle two).
stats3() {
    sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "- - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%s %s %s\n", v[1], m, v[NR] }'
}

# "median (min–max)" of numbers on stdin, with a printf format for each.
mmm() {
    local fmt=${1:-%.0f}
    stats3 | awk -v f="$fmt" '{ if ($1 == "-") { print "-"; exit }
        printf f " (" f "–" f ")\n", $2, $1, $3 }'
}

# Microseconds since the epoch, without a fork (bash 5's EPOCHREALTIME).
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# Which droverd was measured: the commit, and whether daemon/ or common/ had local changes.
bench_rev() {
    local rev dirty
    rev=$(git -C "$repo_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$repo_dir" status --porcelain -- daemon common examples 2>/dev/null | wc -l)
    if [ "$dirty" -gt 0 ]; then echo "$rev + $dirty uncommitted file(s) in daemon/ common/ examples/"; else echo "$rev"; fi
}
