#!/bin/bash
# SPDX-License-Identifier: ISC
# `drover status` while thousands of workers start, next to a CPU hog (issue 15:
# "status p99 under 100 ms ... same for starting thousands of workers").
#
# For each droverd binary and each N: a fresh droverd with a pool of 72 `sleep`
# workers; one spinning shell per CPU; `drover scale many N`; then `status` (the
# whole text table, every worker's CPU and RSS) from one Python process every
# 20 ms for SECS seconds while they start, and again for 3 s once all N run.
# Also droverd's own CPU time per status call with all N running and no hog.
# The binaries run one after the other within each N, so they see the same
# machine; report their ratio, not the absolute figures (these hosts are shared).
#
# Usage: bench/mass-start.sh [SECS]   (default 4)
# Environment: BUILD (default build-bench); DROVERD_A / DROVERD_B: two droverd
# binaries to compare (default: this tree's, alone), named in the output by LABEL_A /
# LABEL_B (default A, B); COUNTS (default "500 2000").
# Output: one JSON line per run on stdout and in $RESULTS_DIR/mass-start.jsonl.
set -eu
. "$(dirname "$0")/lib.sh"

SECS=${1:-4}
COUNTS=${COUNTS:-500 2000}
cmake -S "$repo_dir" -B "$BUILD" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >/dev/null
cmake --build "$BUILD" -j2 --target droverd drover >/dev/null
DROVERD_A=${DROVERD_A:-$B/droverd}
DROVERD_B=${DROVERD_B:-}
bench_setup
ncpu=$(nproc)

# probe SOCK SECS [WAIT_FOR_RUNNING]: status every 20 ms; prints "n median p99 max" in ms.
probe() {
    PYTHONPATH="$repo_dir/clients/python" python3 - "$@" <<'PY'
import sys, time
from drover import control
sock, secs = sys.argv[1], float(sys.argv[2])
end, ts, failed = time.monotonic() + secs, [], 0
while time.monotonic() < end:
    t0 = time.monotonic()
    try:
        rc = control.command(["status"], control_socket=sock, timeout=30)[0]
    except Exception:
        rc = -1
    ts.append((time.monotonic() - t0) * 1000)
    failed += rc != 0
    time.sleep(0.02)
ts.sort()
n = len(ts)
print("%d %.1f %.1f %.1f %d" % (n, ts[n // 2], ts[min(n - 1, int(n * 0.99))], ts[-1], failed))
PY
}

running() {
    PYTHONPATH="$repo_dir/clients/python" python3 - "$1" <<'PY'
import json, sys
from drover import control
rc, out, err = control.command(["status", "many", "--json"], control_socket=sys.argv[1], timeout=30)
print(json.loads(out)["pools"][0]["running"] if rc == 0 else -1)
PY
}

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

# run_one LABEL DROVERD N: one fresh droverd; prints a JSON line.
run_one() {
    local label=$1 droverd=$2 n=$3 d=$bench_tmp/$1-$3 pid hogs=() i t0 s_start s_run \
        up_ms c0 c1 tick
    mkdir -p "$d"
    cat >"$d/drover.ini" <<EOF2
[daemon]
control_socket = $d/ctl.sock

[pool:calm]
command = /bin/sleep 1000
workers = 72

[pool:many]
command = /bin/sleep 1000
workers = 0
EOF2
    "$droverd" -c "$d/drover.ini" >"$d/droverd.log" 2>&1 &
    pid=$!
    bench_track "$pid"
    wait_socket "$d/ctl.sock" 20
    for i in $(seq "$ncpu"); do
        (while :; do :; done) &
        hogs+=($!)
        bench_track $!
    done
    t0=$(date +%s%N)
    "$B/drover" -s "$d/ctl.sock" scale many "$n" >/dev/null
    s_start=$(probe "$d/ctl.sock" "$SECS")
    for i in $(seq 600); do
        [ "$(running "$d/ctl.sock")" = "$n" ] && break
        sleep 0.2
    done
    up_ms=$((($(date +%s%N) - t0) / 1000000))
    s_run=$(probe "$d/ctl.sock" 3)
    kill -KILL "${hogs[@]}" 2>/dev/null || true
    wait "${hogs[@]}" 2>/dev/null || true
    # droverd's CPU per status call, all running, no hog (20 calls, in clock ticks).
    probe "$d/ctl.sock" 0.5 >/dev/null
    c0=$(cpu_ticks "$pid")
    PYTHONPATH="$repo_dir/clients/python" python3 -c "
import sys
from drover import control
for _ in range(20):
    control.command(['status'], control_socket='$d/ctl.sock', timeout=30)"
    c1=$(cpu_ticks "$pid")
    tick=$(getconf CLK_TCK)
    bench_stop "$pid"
    # shellcheck disable=SC2086
    set -- $s_start $s_run
    printf '{"bench":"mass-start","droverd":"%s","workers":%d,"starting":{"calls":%d,"median_ms":%s,"p99_ms":%s,"max_ms":%s,"failed":%d},"all_running_after_ms":%d,"running":{"calls":%d,"median_ms":%s,"p99_ms":%s,"max_ms":%s,"failed":%d},"droverd_cpu_ms_per_status":%.1f,"load":"%s"}\n' \
        "$label" "$n" "$1" "$2" "$3" "$4" "$5" "$up_ms" "$6" "$7" "$8" "$9" "${10}" \
        "$(awk -v a="$c0" -v b="$c1" -v t="$tick" 'BEGIN { print (b - a) * 1000 / t / 20 }')" "$(cut -d' ' -f1-3 /proc/loadavg)" |
        tee -a "$RESULTS_DIR/mass-start.jsonl"
}

for n in $COUNTS; do
    run_one "${LABEL_A:-A}" "$DROVERD_A" "$n"
    [ -z "$DROVERD_B" ] || run_one "${LABEL_B:-B}" "$DROVERD_B" "$n"
done
