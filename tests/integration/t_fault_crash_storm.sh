#!/bin/bash
# Crash storm: 64 workers that each exit (status 0 or 1, SIGKILL or SIGABRT) as
# soon as they start, for 10 seconds, next to pools that behave.
#  - droverd stays responsive: `drover status` (listing all 72 workers) answers
#    every time throughout the storm, 99% of the calls within 1 s and none
#    after more than 5 s (the storm saturates both CPUs of a CI machine);
#  - other pools are unaffected: a message-mode pool serves pipelining clients
#    without losing, duplicating or failing a request, and supervised workers
#    keep their pids;
#  - the storm pool follows its policy: restarts are paced by the backoff (no
#    slot restarts faster than restart_delay/restart_delay_max allow), and a
#    second storm pool with crash_limit = 5/30s goes fatal after exactly 6
#    crashes per slot and stays down;
#  - `drover stop` ends the storm at once, and no zombie is left behind;
#  - then a storm with restart_delay = 0 and no crash_limit (the first two
#    crashes restart at once, then the backoff doubles from 1 ms; the default
#    crash_restart_rate, 10/1s, paces the pool's restarts as a whole): droverd
#    must still answer `drover status` (99% within 1 s, none after 5 s) and
#    serve the calm pool; reaping and restarting (a bounded batch per loop
#    pass) may not keep it from its other work;
#  - the same storm (restart_delay = 0, restart_delay_max = 50ms: it never calms
#    down) while a CPU hog keeps every CPU busy, with the default crash_restart_rate
#    (10/1s: the pool's restarts after failed starts wait their turn past 10 a
#    second): the pool restarts no faster than that budget (its exits are counted),
#    every `drover status` answers, none after more than 5 s, and the p99 of its
#    own time under 100 ms (x SLOWDOWN; raised, and logged, only where the machine
#    alone is slower: to that p99 under the same hog without the storm plus 50 ms, or
#    to twice the p99 of starting a process here under the hog, as a status call can
#    wait for one restart's vfork). A call's own time is its time less what the
#    probe and droverd spent waiting for a CPU during it (their run queue delay,
#    /proc/PID/schedstat): on a 2-CPU machine with the hog, 500 processes starting
#    and other tenants, a fair scheduler alone keeps droverd off the CPU for tens
#    to hundreds of ms (230 ms seen in CI), which no loop design removes, while a
#    loop that forks or reads /proc for long between two control reads still
#    counts in full (its own run time, and the vforks it waits for); and the
#    calm pool keeps at least half of its
#    pace under the same hog without the storm (issue 15's bounds; "without the
#    storm" is measured before and after it, and the worse of the two counts, as
#    other load on a shared machine comes and goes; load that comes during the
#    storm alone is met by up to three storms, one of which must keep half the
#    pace, each with its own before and after); the storm and
#    doomed pools above set crash_restart_rate = none, to test the backoff alone;
#  - a pool of 500 workers starting (next to the hog), then the same 500 running:
#    status answers while they start and once they run, the p99 of its own time under
#    the storm's bound above (100 ms x SLOWDOWN, raised the same way only where the
#    machine alone is slower; while they start, also to 50 ms over the longest wait
#    of one of them for a CPU before its exec, which a vfork makes droverd share):
#    issue 15's "same for starting thousands of workers". Its
#    reply then covers 572 workers, whose CPU and memory it reads from /proc.
# The status probes send `status` from one Python process (status_probe_py): they
# time droverd, not the fork and exec of a CLI, which a loaded machine makes slow.
. "$(dirname "$0")/lib.sh"
uses route fault proc

# No drover call may hang this test: a starved droverd must fail it, not time it out.
dv() { timeout 30 "$DROVER" -s "$SOCK" "$@"; }
STORM_SECS=10
# The crashing worker is /bin/sh, not a helper of this tree: in the sanitizer pass
# the helpers carry ASan, whose start-up and exit-time leak check cost a few ms of
# CPU each; 64 of them restarting every few ms would keep the 2 CPUs so busy that
# every worker lived past restart_delay_max (a healthy run, restarted at once by
# policy), and the storm would test the machine, not droverd. Slot i ends by exit 0,
# exit 1, SIGKILL or SIGABRT as i mod 4 (no ';': it starts an ini comment).
STORM_CMD="/bin/sh -c 'm=\$((DROVER_WORKER % 4)) && test \$m -lt 2 && exit \$m || test \$m = 2 && kill -KILL \$\$ || kill -ABRT \$\$'"
# restart_delay_max is also the run that counts as healthy (it ends a crash streak). The
# storm's 64 workers exec'ing at once keep both CPUs busy by themselves, so a worker that
# exits at once can take a long time to get the CPU to do so: ~35 ms natively on a quiet
# 2-vCPU CI machine, but 1 to 1.5 s with the machine's load at 10 (seen), and the daemon
# judges a run healthy by its length. At 40 ms, then 200 ms, such runs counted as healthy,
# were restarted at once by policy, and no slot was ever in backoff: the test measured the
# machine, not droverd. 1 s keeps a crash a crash on a loaded machine; the storm without
# backoff below still saturates the CPUs.
STORM_DELAY_MAX_MS=1000

write_config <<EOF2
[pool:storm]
command = $STORM_CMD
workers = 64
restart_delay = 5ms
restart_delay_max = ${STORM_DELAY_MAX_MS}ms
crash_limit = none
crash_restart_rate = none

[pool:doomed]
command = $STORM_CMD
workers = 4
restart_delay = 1ms
restart_delay_max = 10ms
crash_limit = 5/30s
crash_restart_rate = none

[pool:calm]
command = $ECHO_WORKER
workers = 2
listen = $T/calm.sock

[pool:steady]
command = $SPEW_WORKER
workers = 2

[pool:flat]
command = $STORM_CMD
workers = 0
restart_delay = 0
crash_limit = none

[pool:hogstorm]
command = $STORM_CMD
workers = 0
restart_delay = 0
restart_delay_max = 50ms
crash_limit = none
${HOGSTORM_RATE:+crash_restart_rate = $HOGSTORM_RATE}
# Every run of this storm is a failed start, so every restart takes from the budget and
# the exit count below can be held to it: under the hog an exit can take over 1 s (the
# default start_grace) to get the CPU, and a started worker's crash restarts at once.
start_grace = 10s

[pool:many]
command = /bin/sleep 1000
workers = 0
EOF2
t_start=$(now_ms)
# As start_daemon, but no status call may hang the test: a starved droverd must fail it.
"$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 10 "droverd to answer" timeout 5 "$DROVER" -s "$SOCK" status
wait_for 10 "calm running" pool_running calm 2
wait_for 10 "steady running" pool_running steady
steady_pids=$(pool_pids steady)

# --- the storm: probe status and load the calm pool for its whole length ---
status_probe_py "$STORM_SECS" "$T/probe" &
probe=$!
track_pid $probe
wc_start "$T/wc_calm" -s "$T/calm.sock" -c 4 -p 8 -z 100 -t "$STORM_SECS" -d 40
# Mid-storm snapshot: storm slots are in backoff with a due time within restart_delay_max.
wait_for 5 "storm slots seen in backoff" pool_true storm \
    "any(x['state'] == 'backoff' for x in p['slots'])"
pool_true storm "all(x['next_start_in_seconds'] is None or x['next_start_in_seconds'] <= $STORM_DELAY_MAX_MS / 1000 + 0.001 for x in p['slots'])" ||
    fail "a storm slot waits longer than restart_delay_max: $(pool_json storm "[x['next_start_in_seconds'] for x in p['slots']]")"
wait_for 10 "every doomed slot fatal" pool_true doomed "all(x['state'] == 'fatal' for x in p['slots'])"
doomed_snap=$(pool_json doomed "[(x['crashes'], x['restarts'], x['pid']) for x in p['slots']]")
wc_wait "$T/wc_calm"
wait $probe || true

# --- the verdicts ---
log "calm pool during the storm: $(cat "$T/wc_calm")"
wc_clean "$T/wc_calm" "calm pool during the storm"
probe_check "$T/probe" $((5000 * SLOWDOWN)) "status during the storm" $((1000 * SLOWDOWN))
alive "$DAEMON_PID" || fail "droverd died in the storm"

t_stop=$(now_ms)
expect_exit 0 "drover stop storm during the storm" timeout 20 "$DROVER" -s "$SOCK" stop storm
stop_ms=$(($(now_ms) - t_stop))
log "drover stop storm took ${stop_ms} ms"
elapsed_ms=$(($(now_ms) - t_start))
pool_true storm "all(x['state'] == 'stopped' and x['pid'] is None for x in p['slots'])" ||
    fail "storm not stopped: $(pool_json storm "[x['state'] for x in p['slots']]")"
crashes=$(pool_json storm "' '.join(str(x['crashes']) for x in p['slots'])")
total=0 min=999999 max=0
for c in $crashes; do
    total=$((total + c))
    [ "$c" -lt "$min" ] && min=$c
    [ "$c" -gt "$max" ] && max=$c
done
# Policy bound: a streak's delays are 0, 5, 10, 20, ... doubling up to restart_delay_max,
# and only a run of at least restart_delay_max resets the streak. So any restart_delay_max
# holds at most as many starts as a streak's first restart_delay_max does: the first start,
# the one at once, then one per delay while the delays add up to less than the window.
per_window=2 sum=0 d=5
while [ $((sum + d)) -lt "$STORM_DELAY_MAX_MS" ]; do
    sum=$((sum + d)) per_window=$((per_window + 1)) d=$((d * 2))
done
bound=$(((elapsed_ms / STORM_DELAY_MAX_MS + 1) * per_window))
log "storm: $total crashes in ${elapsed_ms} ms over 64 slots (per slot: min $min, max $max; policy bound $bound)"
[ "$max" -le "$bound" ] || fail "a storm slot crashed $max times in ${elapsed_ms} ms: faster than its backoff allows ($bound)"
# Restarts did not stall for any slot: at least 20 crashes (natively), or, where this machine
# cannot fork and exec 64 workers that fast, at least half the slots' average.
min_bound=$((20 / SLOWDOWN))
[ $((total / 64 / 2)) -lt "$min_bound" ] && min_bound=$((total / 64 / 2))
[ "$min_bound" -ge 3 ] || min_bound=3
[ "$min" -ge "$min_bound" ] || fail "a storm slot crashed only $min times in ${elapsed_ms} ms (bound $min_bound): restarts stalled"
[ "$(metric drover_pool_exits_total 'pool="storm",cause="signal"')" -gt 0 ] ||
    fail "no exit by signal counted for storm"

# crash_limit = 5/30s: the 6th crash makes a slot fatal, and it stays so.
for i in 0 1 2 3; do
    assert_eq "$(slot_json doomed $i "(x['state'], x['crashes'], x['pid'])")" "('fatal', 6, None)" "doomed slot $i"
done
assert_eq "$(pool_json doomed "[(x['crashes'], x['restarts'], x['pid']) for x in p['slots']]")" "$doomed_snap" \
    "doomed slots after the storm (fatal slots must not restart)"
grep -q "pool doomed slot 0: fatal: more than 5 crashes in 30s" "$T/droverd.log" ||
    fail "droverd did not log why doomed slot 0 went fatal"

# The bystanders.
assert_eq "$(pool_pids steady)" "$steady_pids" "steady pids after the storm"
wc_run "$T/wc_after" -s "$T/calm.sock" -c 2 -p 4 -n 2000
# The calm pool's pace on this machine without a storm (the same load as during it): the
# storm takes CPU from everything, but the calm pool keeps at least 1/300 of that pace
# (natively ~100 requests/s: it is served, not starved).
wc_run "$T/wc_base" -s "$T/calm.sock" -c 4 -p 8 -z 100 -n 2000 -d 120
base_rps=$(wc_get "$T/wc_base" rps)
log "calm pool without a storm: $base_rps requests/s"
[ "$(wc_get "$T/wc_calm" rps)" -ge $((base_rps / 300)) ] ||
    fail "calm pool served only $(wc_get "$T/wc_calm" ok) requests in the ${STORM_SECS}s storm (without one: $base_rps requests/s)"
wait_for 5 "no zombie child of droverd" no_zombies_of "$DAEMON_PID"
t0=$(now_ms)
dv status >/dev/null || fail "status after the storm"
log "status after the storm: $(($(now_ms) - t0)) ms; droverd RSS $(rss_kb "$DAEMON_PID") kB, $(fd_count "$DAEMON_PID") fds"

# --- a storm without backoff ---
t0=$(now_ms)
expect_exit 0 "drover scale flat 64" timeout 20 "$DROVER" -s "$SOCK" scale flat 64
wc_start "$T/wc_flat" -s "$T/calm.sock" -c 4 -p 8 -z 100 -t 5 -d 60
status_probe_py 5 "$T/probe_flat"
wc_wait "$T/wc_flat"
run_capture timeout 60 "$DROVER" -s "$SOCK" stop flat
flat_crashes=$(timeout 30 "$DROVER" -s "$SOCK" metrics | awk '$1 ~ /^drover_pool_exits_total\{pool="flat"/ {t += $2} END {print t + 0}')
log "no-backoff storm: $flat_crashes exits in $(($(now_ms) - t0)) ms; calm pool: $(cat "$T/wc_flat")"
wc_clean "$T/wc_flat" "calm pool next to the storm without backoff"
flat_ok=$(wc_get "$T/wc_flat" ok)
[ "$(wc_get "$T/wc_flat" rps)" -ge $((base_rps / 300)) ] ||
    fail_later "storm without backoff: the calm pool served only $flat_ok requests in 5 s (without a storm: $base_rps requests/s; its clients were starved, not refused)"
n=$(wc -l <"$T/probe_flat")
fails=$(grep -c '^fail' "$T/probe_flat")
read -r p99 worst <<<"$(grep -v '^fail' "$T/probe_flat" | awk '{print $1}' | p99_max)"
log "status during the storm without backoff: $n calls, $fails failed, p99 ${p99} ms, max ${worst} ms"
[ "$fails" = 0 ] || fail_later "storm without backoff: $fails of $n status calls failed or hung 30 s"
[ "$p99" -le $((1000 * SLOWDOWN)) ] && [ "$worst" -le $((5000 * SLOWDOWN)) ] ||
    fail_later "storm without backoff (64 workers, restart_delay = 0): status took up to ${worst} ms (p99 ${p99} ms): droverd's reaping and restarting starve its event loop"
[ "$RUN_RC" = 0 ] || fail_later "drover stop flat during the storm without backoff: exit $RUN_RC: $RUN_ERR"
alive "$DAEMON_PID" || fail "droverd died in the storm without backoff"

# --- the storm next to a CPU hog: every CPU busy, by design ---
ncpu=$(nproc)
hogs=()
for _ in $(seq 1 "$ncpu"); do
    /bin/sh -c 'while :; do :; done' &
    hogs+=($!)
    track_pid $!
done
on_exit "kill -KILL ${hogs[*]}"
# cpu_ms PID: "SELF CHILDREN", the CPU ms PID used itself and its reaped children used
# (utime+stime, cutime+cstime of /proc/PID/stat): where the storm's time goes.
cpu_ms() {
    local tck
    tck=$(getconf CLK_TCK)
    sed 's/^.*) //' "/proc/$1/stat" | awk -v t="$tck" '{print int(($12 + $13) * 1000 / t), int(($14 + $15) * 1000 / t)}'
}
# p99 of a probe file's first field (0 when empty); the slowest call of one.
p99_of() { grep -v '^fail' "$1" | awk '{print $1}' | p99_max | cut -d' ' -f1; }
max_of() { grep -v '^fail' "$1" | awk '{print $1}' | p99_max | cut -d' ' -f2; }
# What the machine took from the calls of a status_probe_py file: the sum of the probe's
# and droverd's waits for a CPU, in ms, against the calls' total.
waits_of() { grep -v '^fail' "$1" | awk '{w += $2 + $3; t += $1} END {printf "%d of %d ms waiting for a CPU", w, t}'; }
# hog_alone NAME: the calm pool and status under the hog, no storm, into hog_alone_rps/p99.
hog_alone() {
    wc_start "$T/wc_hog_$1" -s "$T/calm.sock" -c 4 -p 8 -z 100 -t 5 -d 60
    status_probe_py 5 "$T/probe_hog_$1"
    wc_wait "$T/wc_hog_$1"
    hog_alone_rps=$(wc_get "$T/wc_hog_$1" rps)
    hog_alone_p99=$(probe_own_p99 "$T/probe_hog_$1")
}
# Without a storm, under the hog: the calm pool's pace and status's p99.
read -r self0 kids0 <<<"$(cpu_ms "$DAEMON_PID")"
hog_alone base
read -r self1 kids1 <<<"$(cpu_ms "$DAEMON_PID")"
hog_base_rps=$hog_alone_rps hog_base_p99=$hog_alone_p99
# This machine's own time to start a process under the hog (fork, exec and exit of /bin/sh,
# the storm's command; p99 over 2 s). A status call can wait for one spawn pass: its 5 ms
# budget plus the one fork it checks the budget after, which with vfork lasts until the
# child has exec'd, and on a loaded machine that child waits for a CPU. On the 2-vCPU PVM
# guest of docs/RELIABILITY.md a start cost 8 ms of CPU and 30 ms and more of wall time at
# load 15: where this machine's spawn p99, measured here, is over 50 ms, the status bound
# below becomes twice that.
python3 - "$T/spawn_hog" <<'PY'
import subprocess, sys, time
end = time.monotonic() + 2
with open(sys.argv[1], "w") as out:
    while time.monotonic() < end:
        t0 = time.monotonic()
        subprocess.run(["/bin/sh", "-c", "exit 0"])
        out.write("%d\n" % int((time.monotonic() - t0) * 1000))
        time.sleep(0.02)
PY
spawn_p99=$(p99_of "$T/spawn_hog")
log "CPU hog: starting /bin/sh takes $(wc -l <"$T/spawn_hog") tries, p99 ${spawn_p99} ms"
log "CPU hog ($ncpu spinning shells), no storm: calm pool $hog_base_rps requests/s, status p99 ${hog_base_p99} ms of its own ($(p99_of "$T/probe_hog_base") ms in all); droverd CPU $((self1 - self0)) ms, its reaped workers' $((kids1 - kids0)) ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
# The storm, under the hog, at the default crash_restart_rate (HOGSTORM_RATE sets another,
# e.g. none to see the storm without it), between two measures of the hog alone: the
# machine (shared, on a CI host or a developer's) may change meanwhile, so the storm is
# judged against the worse of the two. Load that comes only during the storm (another
# tenant's build) can still halve the calm pool's share of the CPUs: the pace is judged
# over up to three storms, each between two measures without it, and one storm keeping
# half the pace passes; droverd's own fault would show in every one (and the status
# bounds below are judged on every storm).
# Issue 15's status bound, next to the hog: 100 ms (x SLOWDOWN). A status call can also
# wait for one restart's vfork, which lasts until the child, late for a CPU on a loaded
# machine, reaches its exec: where starting a process here (under the hog, measured above)
# takes more than 50 ms at p99, the bound is twice that; and where the hog alone makes
# status slower than the bound, it is that p99 plus 50 ms.
storm_status_bound() {
    storm_status_max=$((100 * SLOWDOWN))
    if [ $((hog_base_p99 + 50)) -gt "$storm_status_max" ]; then
        storm_status_max=$((hog_base_p99 + 50))
        log "status p99 under the hog alone is ${hog_base_p99} ms: the storm's bound is raised to ${storm_status_max} ms"
    fi
    if [ $((2 * spawn_p99)) -gt "$storm_status_max" ]; then
        storm_status_max=$((2 * spawn_p99))
        log "a process start under the hog takes ${spawn_p99} ms at p99 on this machine: the storm's status bound is raised to ${storm_status_max} ms"
    fi
}
hog_exits_total() {
    timeout 30 "$DROVER" -s "$SOCK" metrics | awk '$1 ~ /^drover_pool_exits_total\{pool="hogstorm"/ {t += $2} END {print t + 0}'
}
pace_ok=0
for round in 1 2 3; do
    exits0=$(hog_exits_total)
    t_hog=$(now_ms)
    if [ "$round" -gt 1 ]; then
        expect_exit 0 "drover scale hogstorm 0" timeout 60 "$DROVER" -s "$SOCK" scale hogstorm 0
    fi
    expect_exit 0 "drover scale hogstorm 64" timeout 60 "$DROVER" -s "$SOCK" scale hogstorm 64
    wc_start "$T/wc_hog_storm" -s "$T/calm.sock" -c 4 -p 8 -z 100 -t 5 -d 60
    status_probe_py 5 "$T/probe_hog_storm"
    wc_wait "$T/wc_hog_storm"
    read -r self2 kids2 <<<"$(cpu_ms "$DAEMON_PID")"
    hog_exits=$(($(hog_exits_total) - exits0))
    hog_ms=$(($(now_ms) - t_hog))
    run_capture timeout 60 "$DROVER" -s "$SOCK" stop hogstorm
    [ "$RUN_RC" = 0 ] || fail_later "drover stop hogstorm: exit $RUN_RC: $RUN_ERR"
    wc_clean "$T/wc_hog_storm" "calm pool next to the storm under a CPU hog"
    hog_storm_rps=$(wc_get "$T/wc_hog_storm" rps)
    hog_storm_p99=$(probe_own_p99 "$T/probe_hog_storm")
    hog_fails=$(grep -c '^fail' "$T/probe_hog_storm")
    log "CPU hog + storm $round (64 workers, restart_delay = 0, crash_restart_rate ${HOGSTORM_RATE:-10/1s (default)}, $hog_exits exits in ${hog_ms} ms): calm pool $hog_storm_rps requests/s ($((hog_storm_rps * 100 / (hog_base_rps > 0 ? hog_base_rps : 1)))% of $hog_base_rps), status p99 ${hog_storm_p99} ms of its own, $(p99_of "$T/probe_hog_storm") ms in all, over $(wc -l <"$T/probe_hog_storm") calls ($(waits_of "$T/probe_hog_storm"); without the storm ${hog_base_p99} ms); droverd CPU $((self2 - self1)) ms, its reaped workers' $((kids2 - kids1)) ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    [ "$hog_exits" -ge 64 ] || fail_later "the storm under the hog had only $hog_exits exits: it did not storm"
    [ "$hog_fails" = 0 ] || fail_later "storm under a CPU hog: $hog_fails status calls failed"
    # The budget holds: 64 first starts (never held), then at most 10 at once and 10 a second.
    if [ -z "${HOGSTORM_RATE:-}" ]; then
        [ "$hog_exits" -le $((64 + 10 + 10 * (hog_ms + 999) / 1000)) ] ||
            fail_later "the storm under the hog had $hog_exits exits in ${hog_ms} ms: faster than crash_restart_rate = 10/1s allows"
    fi
    # The hog alone again, after the storm; the storm is judged against the worse of the two.
    hog_alone after
    read -r self1 kids1 <<<"$(cpu_ms "$DAEMON_PID")"
    log "CPU hog, no storm, after storm $round: calm pool $hog_alone_rps requests/s, status p99 ${hog_alone_p99} ms (before it: $hog_base_rps, ${hog_base_p99} ms)"
    before_rps=$hog_alone_rps before_p99=$hog_alone_p99
    [ "$hog_alone_rps" -lt "$hog_base_rps" ] && hog_base_rps=$hog_alone_rps
    [ "$hog_alone_p99" -gt "$hog_base_p99" ] && hog_base_p99=$hog_alone_p99
    storm_status_bound
    [ "$hog_storm_p99" -le "$storm_status_max" ] ||
        fail_later "storm under a CPU hog: status p99 ${hog_storm_p99} ms of its own, over ${storm_status_max} ms (without the storm ${hog_base_p99} ms)"
    [ "$(max_of "$T/probe_hog_storm")" -le $((5000 * SLOWDOWN)) ] ||
        fail_later "storm under a CPU hog: a status call took $(max_of "$T/probe_hog_storm") ms"
    if [ $((hog_storm_rps * 2)) -ge "$hog_base_rps" ]; then
        pace_ok=1
        break
    fi
    log "storm $round under a CPU hog: the calm pool served $hog_storm_rps requests/s, less than half of its $hog_base_rps without the storm (the lower of before and after it)"
    [ "$round" = 3 ] && break
    # The next storm's "before" is this one's "after".
    hog_base_rps=$before_rps hog_base_p99=$before_p99
done
[ "$pace_ok" = 1 ] ||
    fail_later "storm under a CPU hog: in each of 3 storms the calm pool served less than half of its pace without the storm (the last: $hog_storm_rps requests/s against $hog_base_rps)"

# Many workers starting, under the hog: status answers between the batches of forks.
t0=$(now_ms)
many_fds0=$(fd_count_settled "$DAEMON_PID")
expect_exit 0 "drover scale many 500" timeout 60 "$DROVER" -s "$SOCK" scale many 500
status_probe_py 4 "$T/probe_many"
many_p99=$(probe_own_p99 "$T/probe_many")
many_running=$(pool_json many "p['running']")
log "500 workers starting under the hog: $many_running running after $(($(now_ms) - t0)) ms; status p99 ${many_p99} ms of its own, $(p99_of "$T/probe_many") ms in all, over $(wc -l <"$T/probe_many") calls ($(waits_of "$T/probe_many"))"
[ "$(grep -c '^fail' "$T/probe_many")" = 0 ] || fail_later "status failed while 500 workers started"
[ "$(max_of "$T/probe_many")" -le $((5000 * SLOWDOWN)) ] ||
    fail_later "500 workers starting under a CPU hog: a status call took $(max_of "$T/probe_many") ms"
wait_for 120 "500 workers running" pool_running many 500
# A status call can wait for one spawn pass (5 ms of forks), and the fork that ends it
# lasts, with vfork, until the child has a CPU to exec on: the longest such wait, read
# off the 500 children (a /bin/sleep's whole run queue delay is its wait up to its
# exec), raises the bound, logged, where it is over 50 ms. A loop that forked past its
# pass's budget would hold a call for many such forks, not one.
child_stats=()
for p in $(pool_pids many); do child_stats+=("/proc/$p/schedstat"); done
read -r child_wait_p99 child_wait_max <<<"$(awk '{print int($2 / 1000000)}' "${child_stats[@]}" 2>/dev/null </dev/null | p99_max)"
many_status_max=$storm_status_max
if [ $((child_wait_max + 50)) -gt "$many_status_max" ]; then
    many_status_max=$((child_wait_max + 50))
    log "a child of the 500 waited ${child_wait_max} ms for a CPU before its exec (p99 ${child_wait_p99} ms): the mass start's status bound is raised to ${many_status_max} ms"
fi
[ "$many_p99" -le "$many_status_max" ] ||
    fail_later "500 workers starting under a CPU hog: status p99 ${many_p99} ms of its own, over ${many_status_max} ms (without them ${hog_base_p99} ms; a child's wait for a CPU before its exec: up to ${child_wait_max} ms)"
# The same 500 workers once all run, still under the hog: what status costs for their
# number alone (each status reads every worker's CPU and memory), no fork in the way.
status_probe_py 3 "$T/probe_many_running"
many_running_p99=$(probe_own_p99 "$T/probe_many_running")
log "500 workers running under the hog: status p99 ${many_running_p99} ms of its own, $(p99_of "$T/probe_many_running") ms in all, over $(wc -l <"$T/probe_many_running") calls ($(waits_of "$T/probe_many_running"))"
[ "$(grep -c '^fail' "$T/probe_many_running")" = 0 ] || fail_later "status failed with 500 workers running"
[ "$many_running_p99" -le "$storm_status_max" ] ||
    fail_later "500 workers running under a CPU hog: status p99 ${many_running_p99} ms of its own, over ${storm_status_max} ms (without them ${hog_base_p99} ms)"
[ "$(max_of "$T/probe_many_running")" -le $((5000 * SLOWDOWN)) ] ||
    fail_later "500 workers running under a CPU hog: a status call took $(max_of "$T/probe_many_running") ms"
kill -KILL "${hogs[@]}" 2>/dev/null
run_capture timeout 120 "$DROVER" -s "$SOCK" stop many
# The status calls above kept each of the 500 workers' /proc/PID/stat open (usage.c);
# once their slots are gone (a stopped slot keeps its output pipes), every fd is closed.
expect_exit 0 "drover scale many 0" timeout 60 "$DROVER" -s "$SOCK" scale many 0
wait_for 60 "the many pool's slots removed" pool_true many "len(p['slots']) == 0"
many_fds1=$(fd_count_settled "$DAEMON_PID")
log "droverd fds before the 500 started: $many_fds0, after their slots went: $many_fds1"
[ "$many_fds1" -le $((many_fds0 + 4)) ] ||
    fail_later "droverd holds $many_fds1 fds after the 500 workers' slots went, $many_fds0 before they started: fds kept for gone workers"
finish_checks
