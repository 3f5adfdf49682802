#!/bin/bash
# workers = auto honours a CPU quota: droverd started in a cgroup v1 `cpu` group limited to
# half a CPU starts one worker on a machine with more CPUs, and `drover check` run there
# counts the same. (cgroup v2's cpu.max is proven in the Debian VM of tests/system.)
. "$(dirname "$0")/lib.sh"

# The v1 cpu hierarchy, found from mountinfo (never assumed at /sys/fs/cgroup/cpu).
cpu_mount=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") break;
                  if ($(i + 1) == "cgroup" && $(i + 3) ~ /(^|,)cpu(,|$)/) { print $5; exit } }' \
    /proc/self/mountinfo | sed 's/\\040/ /g')
if [ -z "$cpu_mount" ] || [ "$(id -u)" != 0 ] || [ ! -w "$cpu_mount" ]; then
    log "SKIP: needs root and a cgroup v1 cpu hierarchy (the system tests cover cgroup v2)"
    exit 77
fi
[ "$(nproc)" -ge 2 ] || { log "SKIP: needs at least 2 CPUs to tell a quota from the mask"; exit 77; }

# Our own cpu cgroup's path inside that hierarchy, then a child of it for droverd.
own=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ { print $3; exit }' /proc/self/cgroup)
CG="$cpu_mount${own%/}/drover-test-$$"
mkdir "$CG" || fail "cannot create $CG"
remove_cgroup() {
    # Anything still inside goes back to our own group first; rmdir needs it empty.
    if [ -d "$CG" ]; then
        while read -r p; do echo "$p" >"$cpu_mount${own%/}/cgroup.procs"; done <"$CG/cgroup.procs"
        rmdir "$CG"
    fi
}
on_exit remove_cgroup
echo 100000 >"$CG/cpu.cfs_period_us"
echo 50000 >"$CG/cpu.cfs_quota_us"

# droverd enters the group before it execs: a wrapper writes its own pid, then execs.
cat >"$T/in-cgroup" <<EOF2
#!/bin/sh
echo \$\$ > "$CG/cgroup.procs" || exit 125
exec "\$@"
EOF2
chmod +x "$T/in-cgroup"

write_config <<EOF2
[pool:auto]
command = /bin/sleep 3600
workers = auto
stdout = null
[pool:double]
command = /bin/sleep 3600
workers = auto*2
stdout = null
EOF2

# Outside the group the mask decides: every CPU of this machine.
out=$("$DROVER" check -c "$CONF") || fail "drover check failed: $out"
assert_contains "$out" "$(( $(nproc) * 3 )) workers" "check outside the quota"

out=$("$T/in-cgroup" "$DROVER" check -c "$CONF") || fail "drover check in the cgroup failed: $out"
assert_contains "$out" "3 workers" "check under a 0.5 CPU quota (auto = 1, auto*2 = 2)"

"$T/in-cgroup" "$BIN/droverd" -c "$CONF" >"$T/droverd.log" 2>&1 &
DAEMON_PID=$!
wait_for 20 "droverd to answer on $SOCK" dv status
grep -qx "$DAEMON_PID" "$CG/cgroup.procs" || fail "droverd is not in $CG"
wait_for 20 "the auto pools running" pool_running auto
wait_for 20 "the auto*2 pool running" pool_running double
assert_eq "$(status_json "len(next(p for p in s['pools'] if p['name']=='auto')['slots'])")" 1 \
    "workers = auto under a 0.5 CPU quota"
assert_eq "$(status_json "len(next(p for p in s['pools'] if p['name']=='double')['slots'])")" 2 \
    "workers = auto*2 under a 0.5 CPU quota"
assert_eq "$(status_json "s['cpus']['count']")" 1 "status cpus.count"
assert_eq "$(status_json "s['cpus']['source']")" quota "status cpus.source"
assert_contains "$(status_json "s['cpus']['detail']")" "CPU quota 0.50" "status cpus.detail"

dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"
