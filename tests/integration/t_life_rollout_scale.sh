#!/bin/bash
# SPDX-License-Identifier: ISC
# A slot added by `drover scale` while a rolling restart is under way starts
# with the new settings; if the rollout then halts, it is rolled back with the
# slots the rollout had replaced, so the pool ends up running what it ran
# before the reload (README, "Rollouts that halt"). Found by a hostile probe
# of lifecycle promises: the scaled slot kept the new command, so a halted,
# "rolled back" pool ran old and new side by side.
. "$(dirname "$0")/lib.sh"

# v2: slot 0 never gets ready and fails once told to; other slots are fine.
cat >"$T/v2.sh" <<EOF2
#!/bin/sh
if [ "\$DROVER_WORKER" = 0 ]; then
    while [ ! -e "$T/fail" ]; do sleep 0.02; done
    exit 3
fi
exec "$NOTIFY_WORKER" --status v2
EOF2
chmod 755 "$T/v2.sh"
write_config <<EOF2
[pool:w]
command = $NOTIFY_WORKER
workers = 1
ready = notify
notify_access = all
start_timeout = 60s
EOF2
start_daemon
wait_for 10 "w running" pool_running w
old0=$(slot_field w 0 pid)

sed -i "s|^command = .*|command = $T/v2.sh|" "$CONF"
expect_exit 0 "drover reload --no-wait" dv reload --no-wait
wait_for 10 "slot 0 restarted with v2" pid_changed w 0 "$old0"
expect_exit 0 "drover scale w 2 during the rollout" dv scale w 2
wait_for 10 "slot 1 running" state_is w 1 running
touch "$T/fail"
wait_for 10 "the rollout halted" pool_true w "p['rollout_halted'] is not None"
# v1_at SLOT: the slot runs the previous command (v2 runs notify-worker --status v2).
v1_at() {
    local pid
    pid=$(slot_field w "$1" pid)
    [ "$pid" != None ] && [ "$(slot_field w "$1" state)" = running ] &&
        [ "$(tr "\0" " " <"/proc/$pid/cmdline")" = "$NOTIFY_WORKER " ]
}
wait_for 20 "slot 0 rolled back to the previous command" v1_at 0
wait_for 20 "slot 1 (added during the rollout) rolled back to the previous command" v1_at 1
