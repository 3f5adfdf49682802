#!/bin/bash
# drover signal --main sends to the worker process only, as php-fpm (USR2),
# gunicorn and nginx (HUP) masters expect; without it the whole process group
# gets the signal; signal_target = main makes the main process the default
# (and --group overrides it). The workers here have a child and a grandchild
# that die of USR2 (default action), so a signal that reached them shows
# (the child stays a zombie: the master does not reap it).
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:fpm]
command = $PROBE_WORKER --record $T/fpm.sig --family $T/fpm.family
workers = 1

[pool:gun]
command = $PROBE_WORKER --record $T/gun.sig --family $T/gun.family
workers = 1
signal_target = main
EOF2
start_daemon
wait_for 10 "pools running" pool_running fpm
wait_for 10 "gun running" pool_running gun
wait_for 5 "fpm's family" test -s "$T/fpm.family"
wait_for 5 "gun's family" test -s "$T/gun.family"
fpm=$(slot_field fpm 0 pid)
read -r fc fg <"$T/fpm.family"

# 1. --main: the master gets USR2, its children do not.
expect_exit 0 "drover signal --main fpm USR2" dv signal --main fpm USR2
assert_contains "$RUN_OUT" "sent USR2 to 1 worker (main process only)" "drover signal --main output"
wait_for 5 "fpm's master got USR2" file_has "$T/fpm.sig" '^USR2$'
# USR1 to the master too, after: once it is recorded, the USR2 has long reached whoever got it.
expect_exit 0 "drover signal fpm:0 USR1 --main" dv signal fpm:0 USR1 --main
wait_for 5 "fpm's master got USR1" file_has "$T/fpm.sig" '^USR1$'
# (dead, not alive: a dead child stays a zombie, which kill -0 still finds)
! dead "$fc" || fail "fpm's child died: --main signalled the process group"
! dead "$fg" || fail "fpm's grandchild died: --main signalled the process group"
assert_eq "$(slot_field fpm 0 pid)" "$fpm" "fpm's master pid"

# 2. Default (group): the whole process group gets it; the children die of USR2.
expect_exit 0 "drover signal fpm USR2" dv signal fpm USR2
assert_contains "$RUN_OUT" "sent USR2 to 1 worker" "drover signal output"
case "$RUN_OUT" in *"main process"*) fail "a group signal says main process: $RUN_OUT" ;; esac
wait_for 5 "fpm's child died of USR2" dead "$fc"
wait_for 5 "fpm's grandchild died of USR2" dead "$fg"
assert_eq "$(grep -c '^USR2$' "$T/fpm.sig")" 2 "USR2s recorded by fpm's master"
assert_eq "$(slot_field fpm 0 pid)" "$fpm" "fpm's master pid after the group signal"

# 3. signal_target = main: the default is the master; --group reaches everyone.
read -r gc gg <"$T/gun.family"
expect_exit 0 "drover signal gun USR2" dv signal gun USR2
assert_contains "$RUN_OUT" "(main process only)" "signal_target = main"
wait_for 5 "gun's master got USR2" file_has "$T/gun.sig" '^USR2$'
expect_exit 0 "drover signal gun USR1" dv signal gun USR1
wait_for 5 "gun's master got USR1" file_has "$T/gun.sig" '^USR1$'
! dead "$gc" && ! dead "$gg" || fail "gun's children died: signal_target = main signalled the group"
expect_exit 0 "drover signal --group gun USR2" dv signal --group gun USR2
wait_for 5 "gun's child died of USR2 (--group)" dead "$gc"
wait_for 5 "gun's grandchild died of USR2 (--group)" dead "$gg"

# 4. Both at once is a usage error; all mixes the pools' defaults.
expect_exit 2 "drover signal --main --group" dv signal --main --group gun USR2
assert_contains "$RUN_ERR" "--main and --group exclude each other" "usage error"
expect_exit 0 "drover signal all USR1" dv signal all USR1
assert_contains "$RUN_OUT" "sent USR1 to 2 workers (some to the main process only" "mixed defaults"
