#!/bin/bash
# SPDX-License-Identifier: ISC
# Fault injection (`uses fault`, which loads proc too): kill loops, `drover status`
# probes that time the control plane under stress, and set-ups for another uid.
uses proc

# time_ms CMD...: run CMD (output discarded); print how long it took in ms, or "fail:MS"
# when it failed.
time_ms() {
    local t0 rc=0
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || rc=$?
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" = 0 ]; then echo "$ms"; else echo "fail:$ms"; fi
}

# status_probe SECONDS OUT: run `drover status` back to back (20 ms apart) for SECONDS, one
# line per call in OUT (ms, or fail:ms). Run it in the background.
status_probe() {
    local end=$(($(date +%s%N) + $1 * 1000000000)) file=$2 pause_fd
    exec {pause_fd}<> <(:)
    : >"$file"
    while [ "$(date +%s%N)" -lt "$end" ]; do
        time_ms timeout 30 "$DROVER" -s "$SOCK" status >>"$file"
        read -r -t 0.02 -u "$pause_fd" || true
    done
    exec {pause_fd}<&-
}

# probe_own_p99 OUT: p99 over the answered calls of a status_probe_py file of each call's own
# time, "MS - PROBE - DAEMON" (at least 0): what droverd's loop took (its work, a vfork it
# waited for), without the time the probe and droverd waited for a CPU that others held.
# A long wait that began before the call can make a call's own time read low, never a
# long run of droverd's own. 0 when empty.
probe_own_p99() {
    grep -v '^fail' "$1" | awk '{o = $1 - $2 - $3; print (o > 0 ? o : 0)}' | p99_max | cut -d' ' -f1
}

# p99_max: "P99 MAX" of the numbers on stdin, one a line ("0 0" when there are none).
p99_max() {
    sort -n | awk '{a[NR] = $1} END {i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print a[i] + 0, a[NR] + 0}'
}

# probe_check OUT MAX_MS WHAT [P99_MS]: every probe in OUT answered, none slower than MAX_MS
# (and, with P99_MS, 99% of them within P99_MS); logs the count, median, p99, maximum.
probe_check() {
    local file=$1 max=$2 what=$3 p99max=${4:-} n fails worst median p99
    n=$(wc -l <"$file")
    [ "$n" -gt 0 ] || fail "$what: no status probe ran"
    fails=$(grep -c '^fail' "$file")
    read -r median p99 worst <<<"$(grep -v '^fail' "$file" | sort -n |
        awk '{a[NR] = $1} END {i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print a[int((NR + 1) / 2)], a[i], a[NR]}')"
    log "$what: $n status calls, $fails failed; median ${median:-?} ms, p99 ${p99:-?} ms, max ${worst:-?} ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    [ "$fails" = 0 ] || fail "$what: $fails of $n status calls failed ($(grep -m3 '^fail' "$file" | tr '\n' ' '))"
    [ "${worst:-0}" -le "$max" ] || fail "$what: a status call took ${worst} ms (bound ${max} ms)"
    [ -z "$p99max" ] || [ "${p99:-0}" -le "$p99max" ] || fail "$what: 1% of the status calls took ${p99} ms or more (bound ${p99max} ms)"
}

# kill_loop [-n MIN] SECONDS INTERVAL POOL...: SIGKILL a random worker of the named pools
# every INTERVAL seconds for SECONDS (with -n, and on until MIN were killed, for at most 10
# times SECONDS: a slow machine restarts workers slowly); prints how many workers were
# killed. Only pids that are
# children of this test's droverd and carry DROVER_POOL=one of the POOLs are ever signalled,
# and each one once: a killed worker stays listed as a child until droverd reaps it, and a
# kill of that zombie would succeed without killing anything. The loop uses builtins only
# (the pause is a read timeout), so it really runs every few ms.
kill_loop() {
    local min=0 secs interval kills=0 end cap f p q pause_fd
    [ "$1" = -n ] && { min=$2; shift 2; }
    secs=$1 interval=$2
    shift 2
    local -A mine=() notmine=() killed=()
    local -a kids=() found=()
    exec {pause_fd}<> <(:)
    end=$(($(date +%s%N) + secs * 1000000000))
    cap=$(($(date +%s%N) + secs * 10000000000))
    while [ "${EPOCHREALTIME/./}000" -lt "$end" ] ||
        { [ "$kills" -lt "$min" ] && [ "${EPOCHREALTIME/./}000" -lt "$cap" ]; }; do
        found=()
        for f in /proc/"$DAEMON_PID"/task/*/children; do
            kids=()
            read -r -a kids <"$f" 2>/dev/null || true
            for p in "${kids[@]}"; do
                [ -z "${killed[$p]:-}" ] || continue
                if [ -n "${mine[$p]:-}" ]; then
                    found+=("$p")
                elif [ -z "${notmine[$p]:-}" ]; then
                    # No pool yet: forked, not yet exec'd (it still has droverd's
                    # environment); look again next time.
                    pool_of "$p"
                    [ -n "$POOL_OF" ] || continue
                    for q in "$@"; do
                        if [ "$POOL_OF" = "$q" ]; then mine[$p]=1; found+=("$p"); break; fi
                    done
                    [ -n "${mine[$p]:-}" ] || notmine[$p]=1
                fi
            done
        done
        if [ "${#found[@]}" -gt 0 ]; then
            p=${found[$((RANDOM % ${#found[@]}))]}
            killed[$p]=1
            kill -KILL "$p" 2>/dev/null && kills=$((kills + 1))
        fi
        read -r -t "$interval" -u "$pause_fd" || true
    done
    exec {pause_fd}<&-
    echo "$kills"
}

# copy_bins DIR NAME...: copy programs of $BIN/$HELPERS into DIR (mode 0755), for a droverd
# run as another uid that may not reach the build tree.
copy_bins() {
    local dir=$1 n
    shift
    mkdir -p "$dir"
    for n in "$@"; do
        if [ -x "$HELPERS/$n" ]; then cp "$HELPERS/$n" "$dir/"; else cp "$BIN/$n" "$dir/"; fi
    done
    chmod 0755 "$dir" "$dir"/*
}

# free_uid: a uid with no passwd entry and no process (for RLIMIT_NPROC tests).
free_uid() {
    local u
    for u in $(seq 47001 47099); do
        getent passwd "$u" >/dev/null && continue
        [ -z "$(ps -o pid= -u "$u" 2>/dev/null)" ] && { echo "$u"; return 0; }
    done
    return 1
}

# status_probe_py SECONDS OUT [VERB ARGS...]: like status_probe, but one Python process
# sends `drover status` (or VERB ARGS) over the control socket itself, 20 ms apart: the
# times are droverd's answer alone, without the fork and exec of a CLI per call (which
# takes 80 ms and more on a loaded 2-CPU machine). One line per call in OUT: "MS PROBE DAEMON"
# (or fail:MS ...), MS the call's time, PROBE and DAEMON the ms of it that the probe and
# droverd spent runnable but waiting for a CPU (run_delay in /proc/PID/schedstat: the
# machine's share of the call, 0 where the kernel does not keep it). Readers take field 1.
# The kernel adds a wait to run_delay when the task gets its CPU, so a wait that began
# just before a call counts in it whole: PROBE + DAEMON can exceed MS by a wait's length.
# The probe runs at nice -10 where it may (root): it is the instrument, mostly asleep, and
# its own waits for a CPU stay out of the times it takes.
status_probe_py() {
    local secs=$1 file=$2
    shift 2
    [ $# -gt 0 ] || set -- status
    DAEMON_PID="$DAEMON_PID" PYTHONPATH="$SRC/clients/python" python3 - "$SOCK" "$secs" "$file" "$@" <<'PY'
import os, sys, time
from drover import control
sock, secs, path, argv = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
end = time.monotonic() + secs
def waited(path):
    try:
        with open(path) as f:
            return int(f.read().split()[1])
    except OSError:
        return 0
dpid = os.environ.get("DAEMON_PID", "")
try:
    os.nice(-10)
except OSError:
    pass
with open(path, "w") as out:
    while time.monotonic() < end:
        w0, d0 = waited("/proc/thread-self/schedstat"), waited("/proc/%s/schedstat" % dpid)
        t0 = time.monotonic()
        try:
            rc = control.command(argv, control_socket=sock, timeout=30)[0]
        except Exception:
            rc = -1
        ms = int((time.monotonic() - t0) * 1000)
        w1, d1 = waited("/proc/thread-self/schedstat"), waited("/proc/%s/schedstat" % dpid)
        out.write(("%d %d %d\n" if rc == 0 else "fail:%d %d %d\n") % (ms, (w1 - w0) // 1000000, (d1 - d0) // 1000000))
        out.flush()
        time.sleep(0.02)
PY
}
