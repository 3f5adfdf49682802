#!/bin/bash
# SPDX-License-Identifier: ISC
# Process probes (`uses proc`), read from /proc: open fds, resident memory, CPU time,
# zombies, /proc/PID/status fields, the pool a worker runs in.

# fd_count PID / rss_kb PID / cpu_ticks PID: open fds, resident KiB, and user+system CPU
# time in clock ticks of a process.
fd_count() { local a=(/proc/"$1"/fd/*); echo "${#a[@]}"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
cpu_ticks() {
    local s f
    s=$(cat /proc/"$1"/stat) || return 1
    read -r -a f <<<"${s##*) }" # state is f[0]: utime and stime are f[11] and f[12]
    echo $((f[11] + f[12]))
}
# fd_count_settled PID: the fd count once two reads 200 ms apart agree (a control client
# just gone or a worker being spawned holds an fd for a moment); at most 5 s.
fd_count_settled() {
    local a b i
    a=$(fd_count "$1")
    for i in $(seq 25); do
        sleep 0.2
        b=$(fd_count "$1")
        [ "$a" = "$b" ] && break
        a=$b
    done
    echo "$a"
}

# proc_field PID FIELD: a field of /proc/PID/status (e.g. Uid, Cpus_allowed_list), tabs as spaces.
proc_field() {
    sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr '\t' ' ' | tr -s ' '
}

# zombies_of PID: pids of the zombies whose parent is PID, space-separated.
zombies_of() {
    python3 - "$1" <<'PY'
import os, sys
parent, out = sys.argv[1], []
for d in os.listdir('/proc'):
    if not d.isdigit():
        continue
    try:
        st = open('/proc/%s/stat' % d).read()
    except OSError:
        continue
    f = st[st.rindex(')') + 2:].split()
    if f[0] == 'Z' and f[1] == parent:
        out.append(d)
print(' '.join(out))
PY
}
no_zombies_of() { [ -z "$(zombies_of "$1")" ]; }

# pool_of PID: sets POOL_OF to the DROVER_POOL of PID's environment, "" when it has none
# (yet: between fork and exec a worker still has droverd's environment) or is gone.
# Bash builtins only: no fork.
pool_of() {
    local -a env=()
    local e
    POOL_OF=""
    mapfile -d '' env <"/proc/$1/environ" 2>/dev/null || return 0
    for e in "${env[@]}"; do
        case $e in DROVER_POOL=*)
            POOL_OF=${e#DROVER_POOL=}
            return 0
            ;;
        esac
    done
}
