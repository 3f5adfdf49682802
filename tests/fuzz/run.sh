#!/bin/bash
# Fuzz each target for SECONDS (default 60) of CPU time, JOBS at a time (default:
# one per CPU), starting from a copy of its seed corpus and its regressions;
# prints one line per target and fails if any target crashed. When the targets
# do not fill the last round (say 5 targets on 2 CPUs), each target of that round
# runs as several libFuzzer processes (-fork=N) for SECONDS/N: the same CPU
# time, and no CPU left idle for a whole round. Builds nothing and writes nothing
# into the source tree: the corpora grow in a temporary directory, kept (and
# named) only when something crashed.
#
# usage: tests/fuzz/run.sh [-b BUILD_DIR] [-j JOBS] [-k] [SECONDS] [TARGET...]
#   -b  the fuzz build (CC=clang cmake -DDROVER_FUZZ=ON ...; default
#       $DROVER_FUZZ_BUILD, else build-fuzz at the top of the tree)
#   -j  targets fuzzed at the same time (default: nproc)
#   -k  keep the temporary directory even when all went well
# Extra libFuzzer flags may come in $DROVER_FUZZ_FLAGS (e.g. -detect_leaks=0).
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${DROVER_FUZZ_BUILD:-$here/../../build-fuzz}
keep=0
jobs=$(nproc)
while getopts b:j:k opt; do
    case $opt in
    b) build=$OPTARG ;;
    j) jobs=$OPTARG ;;
    k) keep=1 ;;
    *) sed -n '11,17s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_config fuzz_proto fuzz_frame fuzz_parse fuzz_cli_reply fuzz_json)

# Largest input worth trying per target: a few config lines longer than the
# 4096-byte line limit; one maximal control request (64 KiB) and its header;
# a few frames; a handful of values; a few replies.
max_len() {
    case $1 in
    fuzz_config) echo 16384 ;;
    fuzz_proto) echo 65600 ;;
    fuzz_frame) echo 8192 ;;
    fuzz_parse) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

case $seconds in
'' | *[!0-9]*) echo "run.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2 ;;
esac
case $jobs in
'' | *[!0-9]* | 0) echo "run.sh: JOBS must be a positive number, not '$jobs'" >&2; exit 2 ;;
esac
work=$(mktemp -d "${TMPDIR:-/tmp}/drover-fuzz.XXXXXX") || exit 1

# fuzz_one TARGET FORK: fuzz it with FORK processes (1: no -fork) for
# SECONDS/FORK; its report line(s) go to $work/TARGET/report, and it returns
# non-zero on a crash or a missing binary.
fuzz_one() {
    local t=$1 fork=$2 bin=$build/bin/$1 dir=$work/$1 rc execs cov artifact why wall how forkflag
    mkdir -p "$dir"
    if [ ! -x "$bin" ]; then
        printf '%-16s MISSING  %s (build it: cmake --build %s --target %s)\n' "$t" "$bin" "$build" "$t" >"$dir/report"
        return 1
    fi
    mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
    for src in "$here/corpus/$t" "$here/regressions/$t"; do
        [ -d "$src" ] && find "$src" -maxdepth 1 -type f -exec cp {} "$dir/corpus/" \;
    done
    dict=()
    [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
    wall=$((seconds / fork))
    [ "$wall" -ge 1 ] || wall=1
    forkflag=()
    how="${seconds}s"
    if [ "$fork" -gt 1 ]; then
        forkflag=(-fork="$fork")
        how="${seconds}s ($fork x ${wall}s)"
    fi
    TMPDIR=$dir/tmp "$bin" "${forkflag[@]}" -max_total_time="$wall" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "${dict[@]}" ${DROVER_FUZZ_FLAGS:-} "$dir/corpus" >"$dir/log" 2>&1
    rc=$?
    # One process prints its stats at the end; -fork's parent only its "#EXECS: cov:" lines.
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -nE 's/^#([0-9]+): cov: .*/\1/p' "$dir/log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -n 1 |
          sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1  ft \2  corpus \3/')
    if [ $rc -eq 0 ]; then
        printf '%-16s ok       %-14s %10s execs  %s\n' "$t" "$how" "${execs:-?}" "$cov" >"$dir/report"
        return 0
    fi
    artifact=$(find "$dir/artifacts" -type f | head -n 1)
    why=$(grep -m 1 -E 'ERROR: |SUMMARY: |fuzz check failed|runtime error' "$dir/log")
    {
        printf '%-16s CRASH    %-14s %10s execs  %s\n' "$t" "$how" "${execs:-?}" "$cov"
        printf '    %s\n    input: %s\n    log:   %s\n' "$why" "${artifact:-none}" "$dir/log"
    } >"$dir/report"
    return 1
}

# The last round's targets (fewer than JOBS) share out the spare CPUs.
ntargets=${#targets[@]}
full=$((ntargets - ntargets % jobs))
last_fork=1
[ "$full" -lt "$ntargets" ] && last_fork=$((jobs / (ntargets - full)))
failed=0
running=0
wait_one() {
    wait -n || failed=1
    running=$((running - 1))
}
i=0
for t in "${targets[@]}"; do
    fork=1
    if [ $i -ge "$full" ]; then
        fork=$last_fork
        # The last round starts together, once the full rounds are done.
        if [ $i -eq "$full" ]; then
            while [ $running -gt 0 ]; do wait_one; done
        fi
    elif [ $running -ge "$jobs" ]; then
        wait_one
    fi
    fuzz_one "$t" "$fork" &
    running=$((running + 1))
    i=$((i + 1))
done
while [ $running -gt 0 ]; do wait_one; done
for t in "${targets[@]}"; do cat "$work/$t/report"; done
if [ $failed -eq 0 ] && [ $keep -eq 0 ]; then
    rm -rf "$work"
else
    echo "corpora and logs: $work"
fi
exit $failed
