# cgroup v2 helpers for containment tests (uses cgroup). cg_setup creates this test's own parent
# cgroup under the v2 mount found from mountinfo (never assumed at /sys/fs/cgroup) and removes
# it, and everything below it, at exit. Skips (77) without root or a writable v2 hierarchy.

# The cgroup2 mount point, from /proc/self/mountinfo.
cg_v2_mount() {
    awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
           if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo | sed 's/\\040/ /g'
}

# cg_setup: sets CG_MOUNT, CG (absolute directory) and CG_REL (its path as /proc/PID/cgroup
# says it, after "0::").
cg_setup() {
    local own
    CG_MOUNT=$(cg_v2_mount)
    if [ -z "$CG_MOUNT" ] || [ "$(id -u)" != 0 ] || [ ! -w "$CG_MOUNT/cgroup.procs" ]; then
        log "SKIP: needs root and a writable cgroup v2 hierarchy"
        exit 77
    fi
    own=$(sed -n 's/^0:://p' /proc/self/cgroup)
    CG_REL="${own%/}/drover-test-$$"
    CG="$CG_MOUNT$CG_REL"
    mkdir "$CG" || fail "cannot create $CG"
    on_exit cg_remove
}

# cg_procs DIR: the pids in a cgroup directory, one a line.
cg_procs() { cat "$1/cgroup.procs"; }

# Remove the test's cgroups, deepest first, killing whatever is still inside (droverd first, so
# it respawns nothing meanwhile).
cg_remove() {
    local d i
    [ -d "$CG" ] || return 0
    stop_daemon 5
    find "$CG" -depth -type d | while read -r d; do
        if [ -e "$d/cgroup.kill" ]; then
            echo 1 >"$d/cgroup.kill"
        else
            while read -r i; do kill -KILL "$i"; done <"$d/cgroup.procs"
        fi
    done
    find "$CG" -depth -type d | while read -r d; do
        for i in $(seq 100); do rmdir "$d" 2>/dev/null && break; sleep 0.05; done
    done
}

# pid_gone PID: no such process (or only its zombie, about to be reaped).
pid_gone() {
    local st
    st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$st" ] || [ "$st" = Z ]
}

# all_gone FILE: every pid listed in FILE (the last word of each line) is gone.
all_gone() {
    local l
    while read -r l; do pid_gone "${l##* }" || return 1; done <"$1"
}
