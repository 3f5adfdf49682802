#!/bin/bash
# SPDX-License-Identifier: ISC
# droverd as PID 1 of a new PID namespace (a container's init), with workers
# that leave orphans: each worker's child double-forks and exits, so the
# grandchildren are reparented to PID 1, i.e. droverd.
#
#  - droverd is PID 1 inside, and reaps every orphan: while it runs, no zombie
#    stays in the namespace, and drover_orphans_reaped_total counts them;
#  - SIGTERM to the namespace's PID 1, sent from outside by its host pid,
#    is a graceful shutdown: exit status 0, workers stopped;
#  - nothing is left: no process in the namespace, no socket file.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root for unshare --pid --mount-proc"
command -v unshare >/dev/null 2>&1 || fail "unshare (util-linux) is needed"
# The interpreter itself, not a wrapper script (pyenv shims cost 200 ms a call).
PY=$(python3 -c 'import sys; print(sys.executable)') || fail "python3 is needed"

ORPHANS=8 # per worker start
WORKERS=2

# The worker: ORPHANS times a child that starts a background grandchild and
# exits at once (the double fork); each grandchild, now an orphan, lives a
# little and exits. Then the worker waits to be stopped.
cat >"$T/orphaner.sh" <<EOF
i=0
while [ \$i -lt $ORPHANS ]; do
    ( sleep 0.\$((i + 1)) & )
    i=\$((i + 1))
done
echo "orphaner \$\$: $ORPHANS orphans made"
exec sleep 3600
EOF

write_config <<EOF
[pool:orphaner]
command = /bin/sh $T/orphaner.sh
workers = $WORKERS
listen = $T/work.sock
EOF

unshare --pid --fork --mount-proc "$DROVERD" -c "$CONF" >"$T/droverd.log" 2>&1 &
UNSHARE_PID=$!
track_pid "$UNSHARE_PID"

# droverd's pid on the host: the only child of unshare.
child_of_unshare() {
    local kids
    kids=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null) || return 1
    echo ${kids}
}
child_is_droverd() {
    local kid
    kid=$(child_of_unshare) && [ -n "$kid" ] &&
        [ "$(readlink "/proc/$kid/exe")" = "$(realpath "$DROVERD")" ]
}
wait_for 10 "unshare's child to exec droverd" child_is_droverd
HOST_PID=$(child_of_unshare)
DAEMON_PID=$HOST_PID # for lib.sh's cleanup (it is not our child: only signalled)
nspid=$(sed -n 's/^NSpid:[[:space:]]*//p' "/proc/$HOST_PID/status" | tr -s '\t ' ' ')
assert_eq "$nspid" "$HOST_PID 1" "droverd's pids (host, namespace)"
NS=$(readlink "/proc/$HOST_PID/ns/pid")

# ns_procs STATE: "pid:comm" of the processes in droverd's namespace in STATE ('' = any).
ns_procs() {
    "$PY" - "$NS" "$1" <<'PY'
import os, sys
ns, want, out = sys.argv[1], sys.argv[2], []
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        if os.readlink("/proc/%s/ns/pid" % d) != ns:
            continue
        st = open("/proc/%s/stat" % d).read()
    except OSError:
        continue
    comm = st[st.index("(") + 1:st.rindex(")")]
    state = st[st.rindex(")") + 2]
    if want in ("", state):
        out.append("%s:%s" % (d, comm))
print(" ".join(out))
PY
}
metric() { dv metrics | sed -n "s/^$1 //p"; }
orphans_reaped_at_least() { [ "$(metric drover_orphans_reaped_total)" -ge "$1" ]; }
no_zombie() { [ -z "$(ns_procs Z)" ]; }

wait_for 10 "droverd to answer" dv status
wait_for 10 "the orphaners running" pool_running orphaner
# Every orphan of both workers is reaped by PID 1; then nothing can become a
# zombie any more (the workers sleep), so none may be left.
wait_for 15 "droverd to reap $((ORPHANS * WORKERS)) orphans" orphans_reaped_at_least $((ORPHANS * WORKERS))
zombies=$(ns_procs Z)
[ -z "$zombies" ] || fail "zombies in the namespace: $zombies"

# Again while it runs: restart the workers, which makes new orphans.
dv restart orphaner >/dev/null || fail "drover restart orphaner"
wait_for 15 "droverd to reap the new orphans" orphans_reaped_at_least $((2 * ORPHANS * WORKERS))
wait_for 5 "no zombie in the namespace" no_zombie
procs=$(ns_procs "")
assert_eq "$(wc -w <<<"$procs")" $((1 + WORKERS)) "processes in the namespace (droverd + workers): $procs"

# SIGTERM from outside, to the host pid of the namespace's PID 1.
# (status shows pids as droverd sees them, inside the namespace; these are host pids.)
host_pids=$(ns_procs "" | sed 's/:[^ ]*//g')
kill -TERM "$HOST_PID"
wait_for 20 "unshare (and droverd) to exit" dead "$UNSHARE_PID"
wait "$UNSHARE_PID"
status=$?
DAEMON_PID=""
assert_eq "$status" 0 "exit status of droverd as PID 1 (through unshare)"
grep -q "shutting down" "$T/droverd.log" || fail "droverd did not shut down gracefully"
grep -q "droverd info: stopped" "$T/droverd.log" || fail "droverd did not finish its shutdown"
for p in $host_pids; do
    [ -e "/proc/$p" ] && fail "process $p (host pid) of the namespace is still there"
done
left=$(ns_procs "")
[ -z "$left" ] || fail "processes left in the namespace: $left"
for f in "$SOCK" "$SOCK.notify" "$T/work.sock"; do
    [ -e "$f" ] && fail "$f is left behind"
done
log "ok"
