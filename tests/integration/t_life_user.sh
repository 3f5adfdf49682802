#!/bin/bash
# user = nobody: the worker runs with nobody's uid, gid and groups (and
# USER/LOGNAME/HOME). droverd running as a non-root user refuses, at start and
# with a clear message, a pool whose user is someone else; a pool whose user
# is droverd's own is fine.
. "$(dirname "$0")/lib.sh"
uses proc

NB_UID=$(id -u nobody)
NB_GID=$(id -g nobody)
NB_GROUPS=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//')
NB_HOME=$(getent passwd nobody | cut -d: -f6)
# nobody must reach the config, the worker and a directory to write in.
chmod 755 "$T"
mkdir -m 1777 "$T/pub"

# 1. droverd as root, pool as nobody.
write_config <<EOF2
[pool:asnobody]
command = $PROBE_WORKER --env $T/pub/env.%w --info $T/pub/info.%w --family $T/pub/family.%w
workers = 2
user = nobody
EOF2
start_daemon
wait_for 10 "asnobody running" pool_running asnobody
for i in 0 1; do
    pid=$(slot_field asnobody $i pid)
    wait_for 5 "asnobody:$i set up" test -f "$T/pub/info.$i"
    assert_eq "$(proc_field "$pid" Uid)" "$NB_UID $NB_UID $NB_UID $NB_UID" "asnobody:$i Uid (real, effective, saved, fs)"
    assert_eq "$(proc_field "$pid" Gid)" "$NB_GID $NB_GID $NB_GID $NB_GID" "asnobody:$i Gid"
    assert_eq "$(proc_field "$pid" Groups | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ' | sed 's/ $//')" \
        "$NB_GROUPS" "asnobody:$i supplementary groups (nobody's, not root's)"
    assert_eq "$(stat -c %u "$T/pub/info.$i")" "$NB_UID" "owner of a file asnobody:$i wrote"
    grep -qx "USER=nobody" "$T/pub/env.$i" || fail "asnobody:$i: USER is not nobody"
    grep -qx "LOGNAME=nobody" "$T/pub/env.$i" || fail "asnobody:$i: LOGNAME is not nobody"
    grep -qx "HOME=$NB_HOME" "$T/pub/env.$i" || fail "asnobody:$i: HOME is not $NB_HOME"
    read -r c g <"$T/pub/family.$i"
    assert_eq "$(proc_field "$g" Uid | cut -d' ' -f1)" "$NB_UID" "uid of asnobody:$i's grandchild"
done
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "droverd exit status"

# 2. droverd as nobody: its socket, log and runtime files live where nobody may write.
mkdir "$T/nb" "$T/log" 2>/dev/null
chown nobody:nogroup "$T/nb" "$T/log"
SOCK="$T/nb/ctl.sock"

write_config <<EOF2
[pool:asroot]
command = $PROBE_WORKER
workers = 1
user = root
EOF2
chmod 644 "$CONF"
run_capture timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups "$DROVERD" -c "$CONF"
[ "$RUN_RC" != 0 ] && [ "$RUN_RC" != 124 ] || fail "droverd as nobody with user = root: exit status $RUN_RC"
line=$(grep -n '^user = root' "$CONF" | cut -d: -f1)
assert_contains "$RUN_ERR" "$CONF:$line:" "droverd's refusal names the file and line"
assert_contains "$RUN_ERR" "user = root needs droverd to run as root" "droverd's refusal says why"
[ ! -e "$SOCK" ] || fail "a refused droverd left its control socket"

# The same check from `drover check`, run as nobody.
run_capture setpriv --reuid=nobody --regid=nogroup --clear-groups "$DROVER" check -c "$CONF"
assert_eq "$RUN_RC" 1 "drover check as nobody of a config with user = root"
assert_contains "$RUN_ERR" "user = root needs droverd to run as root" "drover check's message"

# 3. droverd as nobody, pool as nobody (its own user): allowed.
write_config <<EOF2
[pool:self]
command = $PROBE_WORKER --info $T/pub/self.%w
workers = 1
user = nobody
EOF2
chmod 644 "$CONF"
printf '#!/bin/sh\nexec setpriv --reuid=nobody --regid=nogroup --clear-groups %s "$@"\n' "$BIN/droverd" >"$T/droverd-nobody"
chmod 755 "$T/droverd-nobody"
DROVERD="$T/droverd-nobody"
start_daemon
wait_for 10 "self running" pool_running self
assert_eq "$(proc_field "$DAEMON_PID" Uid | cut -d' ' -f1)" "$NB_UID" "droverd's own uid"
sp=$(slot_field self 0 pid)
assert_eq "$(proc_field "$sp" Uid)" "$NB_UID $NB_UID $NB_UID $NB_UID" "self:0 Uid"
expect_exit 0 "restart of a pool under a non-root droverd" dv restart self
dv shutdown >/dev/null || fail "shutdown failed"
wait_daemon_exit
assert_eq "$DAEMON_STATUS" 0 "exit status of droverd run as nobody"
