#!/bin/bash
# droverd killed with SIGKILL leaves its slots' cgroups behind, holding what its workers forked
# out of their process group (PR_SET_PDEATHSIG ends only the workers). The next droverd on the
# same base kills them all, saying so, also in the cgroups of slots and pools it no longer has,
# and removes those cgroups: nothing of the old droverd keeps running unseen.
. "$(dirname "$0")/lib.sh"
uses cgroup
cg_setup

# The worker leaves a sleeper in a session of its own behind (its pid in $1/sleepers).
cat >"$T/escaper" <<'EOF2'
#!/bin/sh
setsid sh -c 'sleep 3600 & echo "$!" >>"$0/sleepers"' "$1" &
exec sleep 3600
EOF2
chmod +x "$T/escaper"
mkdir "$T/web" "$T/old"
sleepers_are() { [ "$(wc -l <"$T/$1/sleepers" 2>/dev/null)" = "$2" ]; }
pool() { printf '[pool:%s]\ncommand = %s %s\nworkers = %s\nstdout = null\n' "$1" "$T/escaper" "$T/$1" "$2"; }

{ printf 'cgroup = %s\n' "$CG"; pool web 2; pool old 1; } | write_config
start_daemon
wait_for 20 "web's sleepers" sleepers_are web 2
wait_for 20 "old's sleeper" sleepers_are old 1
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
left=$(cat "$T/web/sleepers" "$T/old/sleepers")
for s in $left; do
    pid_gone "$s" && fail "sleeper $s died with droverd: nothing left to test"
done

# The next droverd has one worker in web and no pool old.
{ printf 'cgroup = %s\n' "$CG"; pool web 1; } | write_config
start_daemon
for s in $left; do
    wait_for 10 "sleeper $s of the killed droverd gone" pid_gone "$s"
done
for c in pool-web/slot-1 pool-old/slot-0; do
    grep -q "cgroup $CG_REL/$c: processes left by an earlier droverd; killing them" "$T/droverd.log" ||
        fail "no warning about $c"
done
wait_for 10 "pool-old removed" test ! -d "$CG/pool-old"
wait_for 10 "pool-web/slot-1 removed" test ! -d "$CG/pool-web/slot-1"
wait_for 20 "pool web running" pool_running web
grep -qx "$(slot_field web 0 pid)" "$CG/pool-web/slot-0/cgroup.procs" || fail "web's worker not in its cgroup"
log "ok"
