#!/bin/bash
# SPDX-License-Identifier: ISC
# The system tests, run as root inside the Debian 12 VM by vmtest.service
# (from the payload disk, as /payload/test.sh) with systemd as PID 1. Each
# test is a real systemd behaviour of the installed drover package; each
# prints "PASS: name" or "FAIL: name" (the host's run.sh counts them), and
# the run ends with "RESULT: PASS" or "RESULT: FAIL".
#
# Tests are functions run in a subshell each; a failed check prints why and
# ends its test. After each test the service is put back to the package's
# state (no test pools, no drop-ins, running). Waits use deadlines.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER="" SYSTEMD_COLORS=0 LANG=C.UTF-8
P=/payload
L=/usr/local/lib/drover-test # the test workers, readable by the drover user
CONF=/etc/drover/conf.d
DROPIN=/run/systemd/system/drover.service.d
SOCK=/run/drover/drover.sock
npass=0
nfail=0
failed=()

# ---- helpers (used inside tests) ----
die() {
    echo "error: $*"
    exit 1
}
# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local end=$(($(date +%s%N) + secs * 1000000000))
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$end" ] || die "timed out after ${secs}s waiting for $what"
        sleep 0.2
    done
}
active_is() { [ "$(systemctl is-active "${2:-drover}")" = "$1" ]; }
prop() { systemctl show -P "$1" "${2:-drover}"; }
cursor() { journalctl -u drover -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p'; }
# journal_has CURSOR REGEX: droverd's journal since CURSOR matches (no -p
# here: see t_journal_priority).
journal_has() {
    local cur=$1 re=$2
    shift 2
    journalctl -u drover --after-cursor="$cur" -q -o cat "$@" | grep -Eq -- "$re"
}
sctl() { timeout 150 systemctl "$@"; }
# The service as the package left it: no test pools, no drop-ins, running.
baseline() {
    rm -f "$CONF"/t-*.ini
    if [ -d "$DROPIN" ]; then
        rm -rf "$DROPIN"
        systemctl daemon-reload
    fi
    if active_is active drover.socket; then
        sctl stop drover.service drover.socket
    fi
    systemctl reset-failed drover.service 2>/dev/null || true
    sctl restart drover
    wait_for 60 "drover.service active" active_is active
}
pool_answers() { [ "$(drover call "$1" "ping $1")" = "ping $1" ]; }

# run_test NAME FUNCTION: one test, its output indented, its verdict on one line.
run_test() {
    local name=$1 fn=$2 t0 rc
    # run.sh --only REGEX: the other tests are not run (the install always is).
    if [ -f "$P/only" ] && [ "$fn" != t_install ] && ! grep -Eq -- "$(cat "$P/only")" <<<"$name"; then
        return 0
    fi
    t0=$(date +%s%N)
    echo "---- $name"
    ("$fn") 2>&1 | sed -u 's/^/    /'
    rc=${PIPESTATUS[0]}
    local ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$rc" = 0 ]; then
        echo "PASS: $name ($((ms / 1000)).$((ms % 1000 / 100)) s)"
        npass=$((npass + 1))
    else
        echo "FAIL: $name ($((ms / 1000)).$((ms % 1000 / 100)) s)"
        nfail=$((nfail + 1))
        failed+=("$name")
        {
            systemctl status --no-pager -n 0 drover
            journalctl -u drover -n 25 --no-pager -q
        } 2>&1 | sed 's/^/    | /'
    fi
    # Whatever the test changed, the next one starts from the package's state.
    if [ "$fn" != t_purge ]; then
        (baseline) 2>&1 | sed 's/^/    baseline: /'
    fi
}

# ---- the tests ----

# A fresh install with apt, then `drover check` and `systemctl start drover`,
# with no other step: dependencies, user, directories, enabled and started.
t_install() {
    cp "$P"/drover_*.deb /root/ || die "no .deb on the payload disk"
    cd /root || die "cd /root"
    local deb
    deb=$(ls drover_*.deb)
    timeout 400 apt-get install -y -q "./$deb" >/root/apt.log 2>&1 || {
        tail -n 30 /root/apt.log
        die "apt-get install ./$deb failed"
    }
    [ "$(dpkg-query -W -f='${Status}' drover)" = "install ok installed" ] || die "dpkg status"
    out=$(drover check 2>&1) || die "drover check (no -c): $out"
    echo "drover check: $out"
    [ "$(systemctl is-enabled drover)" = enabled ] || die "drover.service is not enabled"
    sctl start drover || die "systemctl start drover"
    active_is active || die "drover is $(systemctl is-active drover) after start"
    wait_for 30 "the echo pool to answer" pool_answers echo
    echo "drover call echo: $(drover call echo hello)"
    [ "$(prop Type)" = notify ] || die "Type=$(prop Type)"
}

# systemd-sysusers made the drover user and group as sysusers.d says;
# tmpfiles.d makes /run/drover and /var/log/drover with the right modes.
t_sysusers_tmpfiles() {
    local pw
    pw=$(getent passwd drover) || die "no user drover"
    echo "passwd: $pw"
    getent group drover >/dev/null || die "no group drover"
    [ "$(cut -d: -f3 <<<"$pw")" -lt 1000 ] || die "drover is not a system user"
    [ "$(cut -d: -f7 <<<"$pw")" = /usr/sbin/nologin ] || die "shell of drover"
    [ "$(cut -d: -f6 <<<"$pw")" = /nonexistent ] || die "home of drover"
    systemd-sysusers /usr/lib/sysusers.d/drover.conf || die "systemd-sysusers drover.conf"
    [ "$(getent passwd drover)" = "$pw" ] || die "systemd-sysusers changed the user"
    sctl stop drover
    rm -rf /run/drover /var/log/drover
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/drover.conf || die "systemd-tmpfiles --create"
    [ "$(stat -c '%a %U %G' /run/drover)" = "755 root root" ] || die "/run/drover: $(stat -c '%a %U %G' /run/drover)"
    [ "$(stat -c '%a %U %G' /var/log/drover)" = "750 root root" ] ||
        die "/var/log/drover: $(stat -c '%a %U %G' /var/log/drover)"
    sctl start drover || die "start after tmpfiles"
    [ "$(stat -c '%a' /run/drover)" = 755 ] || die "drover.service changed /run/drover's mode"
}

# control_group = drover: members may use the control socket, others not.
t_group_access() {
    useradd -M -N -G drover -s /bin/sh member || die "useradd member"
    useradd -M -N -s /bin/sh outsider || die "useradd outsider"
    [ "$(stat -c '%G %a' "$SOCK")" = "drover 660" ] || die "control socket: $(stat -c '%G %a' "$SOCK")"
    out=$(runuser -u member -- drover -s "$SOCK" status 2>&1) || die "member: drover status: $out"
    grep -q echo <<<"$out" || die "member's drover status does not show the echo pool: $out"
    echo "member may: drover status shows $(grep -c echo <<<"$out") echo lines"
    if out=$(runuser -u outsider -- drover -s "$SOCK" status 2>&1); then
        die "outsider may run drover status: $out"
    fi
    echo "outsider may not: $out"
    grep -qi "denied\|permi" <<<"$out" || die "outsider's error does not say why: $out"
    userdel member
    userdel outsider
}

# Type=notify: droverd says READY=1 only when every pool's workers run, so a
# pool whose `ready = notify` worker takes 6 s holds the unit in activating.
t_ready_notify() {
    cat >"$CONF/t-slow.ini" <<EOF
[pool:slow]
command = $L/notify-slow 6
workers = 1
user = drover
ready = notify
start_timeout = 60s
EOF
    sctl stop drover
    systemctl start --no-block drover
    wait_for 15 "drover to be activating" active_is activating
    wait_for 30 "the slow worker to run" pgrep -u drover -f notify-slow
    sleep 2
    active_is activating || die "drover is $(systemctl is-active drover) before the slow worker is ready"
    echo "activating while the slow worker starts: $(prop StatusText)"
    wait_for 60 "drover to be active" active_is active
    local start ready
    start=$(prop ExecMainStartTimestampMonotonic)
    ready=$(prop ActiveEnterTimestampMonotonic)
    echo "READY=1 came $(((ready - start) / 1000)) ms after droverd started"
    [ $((ready - start)) -ge 5500000 ] || die "active only $(((ready - start) / 1000)) ms after start (worker needs 6 s)"
    drover status | grep -q slow || die "no pool slow in drover status"
}

# systemctl reload = ExecReload (drover reload): a new pool starts, the main
# process stays the same.
t_reload_applies() {
    local pid
    pid=$(prop MainPID)
    cat >"$CONF/t-extra.ini" <<EOF
[pool:extra]
command = /usr/libexec/drover/echo-worker
workers = 1
user = drover
listen = /run/drover/extra.sock
socket_group = drover
mode = message
framing = length
EOF
    sctl reload drover || die "systemctl reload drover failed"
    [ "$(prop MainPID)" = "$pid" ] || die "reload replaced droverd"
    wait_for 30 "the new pool to answer" pool_answers extra
    echo "after reload: drover call extra: $(drover call extra hi)"
    rm "$CONF/t-extra.ini"
    sctl reload drover || die "second reload failed"
    wait_for 30 "the pool to go" sh -c '! drover status | grep -q extra'
}

# A configuration with errors: reload fails, droverd keeps running the old
# one, and the error is in the journal.
t_reload_bad() {
    local pid cur
    pid=$(prop MainPID)
    cur=$(cursor)
    printf '[pool:bad]\ncommand = /bin/true\nworkers = lots\n' >"$CONF/t-bad.ini"
    if sctl reload drover; then
        die "systemctl reload succeeded with a bad config"
    fi
    active_is active || die "drover is $(systemctl is-active drover) after a bad reload"
    [ "$(prop MainPID)" = "$pid" ] || die "a bad reload replaced droverd"
    pool_answers echo || die "the echo pool stopped answering"
    wait_for 10 "the error in the journal" journal_has "$cur" 't-bad.ini|workers'
    echo "journal: $(journalctl -u drover --after-cursor="$cur" -q -o cat | grep -E 't-bad.ini|workers' | head -n 3 | tr '\n' '|')"
}

# droverd's warnings reach the journal at priority warning (4), its
# informational lines at info (6): `journalctl -u drover -p warning` shows
# one, not the other. The warning: a reload with errors (its detail line
# names a value unique to this run); the info line: a worker killed from
# outside ("exited unexpectedly", restarted as usual). The -p queries take
# no --after-cursor: with a filter that the cursor's own entry does not
# match, journalctl skips the first entry after it.
t_journal_priority() {
    local tag warn info wpid entry
    tag="prio$$"
    warn="invalid workers '$tag'"
    printf '[pool:bad]\ncommand = /bin/true\nworkers = %s\n' "$tag" >"$CONF/t-prio.ini"
    sctl reload drover && die "reload succeeded with a bad config"
    rm "$CONF/t-prio.ini"
    wait_for 15 "the reload warning in journalctl -u drover -p warning" \
        sh -c "journalctl -u drover -q -o cat -p warning | grep -qF \"$warn\""
    journalctl -u drover -q -o cat -p err | grep -qF "$warn" && die "the warning also shows at -p err"
    entry=$(journalctl -u drover -q -o json -p warning | grep -F "$warn" | head -n 1)
    grep -q '"PRIORITY":"4"' <<<"$entry" || die "the warning is not PRIORITY 4: $entry"
    echo "warning: $(journalctl -u drover -q -o cat -p warning | grep -F "$warn")"
    wpid=$(pgrep -u drover -f /usr/libexec/drover/echo-worker | head -n 1)
    [ -n "$wpid" ] || die "no echo worker"
    kill -KILL "$wpid"
    info="pid $wpid exited unexpectedly"
    wait_for 15 "the kill in journalctl -u drover -p info" \
        sh -c "journalctl -u drover -q -o cat -p info | grep -qF \"$info\""
    journalctl -u drover -q -o cat -p warning | grep -qF "$info" && die "an info line shows at -p warning"
    entry=$(journalctl -u drover -q -o json -p info | grep -F "$info" | head -n 1)
    grep -q '"PRIORITY":"6"' <<<"$entry" || die "the info line is not PRIORITY 6: $entry"
    echo "info (not at -p warning): $(journalctl -u drover -q -o cat | grep -F "$info")"
}

# logrotate's postrotate (SIGUSR1 to droverd) makes droverd reopen POOL.log:
# after rotation the new file fills, the rotated one stops growing.
t_logrotate() {
    cat >"$CONF/t-chatty.ini" <<EOF
[pool:chatty]
command = $L/chatty
workers = 1
user = drover
EOF
    sctl reload drover || die "reload"
    local log=/var/log/drover/chatty.log
    wait_for 30 "$log to fill" grep -q tick "$log"
    logrotate -f -s /root/logrotate.state /etc/logrotate.d/drover || die "logrotate -f failed"
    local rotated
    rotated=$(ls /var/log/drover/chatty.log-* 2>/dev/null | head -n 1)
    [ -n "$rotated" ] || die "no rotated file: $(ls /var/log/drover)"
    wait_for 15 "droverd to reopen $log" grep -q tick "$log"
    local s1 s2
    s1=$(stat -c %s "$rotated")
    sleep 1
    s2=$(stat -c %s "$rotated")
    [ "$s1" = "$s2" ] || die "$rotated still grows ($s1 -> $s2): not reopened"
    echo "rotated to $rotated ($s1 bytes); $log has $(wc -l <"$log") new lines"
}

# WatchdogSec=: droverd pings from its event loop; stopped with SIGSTOP it
# stops pinging and systemd kills and restarts it. (The test shortens the
# package's 30 s to 8 s with a drop-in; droverd pings every 4 s then.)
t_watchdog() {
    [ "$(prop WatchdogUSec)" = 30s ] || die "the package's WatchdogSec is $(prop WatchdogUSec)"
    mkdir -p "$DROPIN"
    printf '[Service]\nWatchdogSec=8s\n' >"$DROPIN/t-watchdog.conf"
    systemctl daemon-reload
    sctl restart drover
    wait_for 30 "drover active" active_is active
    local pid n0 cur
    pid=$(prop MainPID)
    n0=$(prop NRestarts)
    cur=$(cursor)
    sleep 10 # more than a watchdog period: a droverd that pings survives it
    [ "$(prop MainPID)" = "$pid" ] || die "droverd was restarted while it pinged"
    kill -STOP "$pid"
    echo "SIGSTOP to droverd $pid"
    wait_for 60 "systemd to restart droverd" sh -c "[ \"\$(systemctl show -P MainPID drover)\" != $pid ] &&
        [ \"\$(systemctl is-active drover)\" = active ]"
    [ "$(prop NRestarts)" -gt "$n0" ] || die "NRestarts did not grow"
    journal_has "$cur" "[Ww]atchdog timeout" || die "no watchdog timeout in the journal"
    echo "restarted as $(prop MainPID): $(journalctl -u drover --after-cursor="$cur" -q -o cat | grep -i 'watchdog timeout' | head -n 1)"
    pool_answers echo || die "echo pool after the restart"
}

# Restart=on-failure: a pool with on_fatal = exit that goes fatal makes
# droverd exit with status 3, and systemd starts it again.
t_restart_on_fatal() {
    local pid n0 cur
    pid=$(prop MainPID)
    n0=$(prop NRestarts)
    cur=$(cursor)
    cat >"$CONF/t-fatal.ini" <<EOF
[pool:fatal]
command = /bin/false
workers = 1
user = drover
restart = always
restart_delay = 100ms
crash_limit = 2/60s
on_fatal = exit
EOF
    sctl reload drover || die "reload"
    wait_for 60 "droverd to exit and be restarted" sh -c "[ \"\$(systemctl show -P NRestarts drover)\" -gt $n0 ]"
    rm "$CONF/t-fatal.ini"
    journal_has "$cur" "status=3" || die "no exit status 3 in the journal"
    echo "$(journalctl -u drover --after-cursor="$cur" -q -o cat | grep -E 'on_fatal|status=3' | head -n 2 | tr '\n' '|')"
    wait_for 90 "drover active again without the fatal pool" sh -c \
        "[ \"\$(systemctl is-active drover)\" = active ] && ! drover status | grep -q fatal"
    [ "$(prop MainPID)" != "$pid" ] || die "same droverd"
}

# drover.socket: systemd owns /run/drover/echo.sock; a client connects and
# sends its request before droverd runs, droverd is started by the socket
# and answers it.
t_socket_activation() {
    sctl stop drover
    sctl start drover.socket || die "start drover.socket"
    active_is inactive || die "drover.service is $(systemctl is-active drover)"
    [ -S /run/drover/echo.sock ] || die "no /run/drover/echo.sock from drover.socket"
    "$L/echo-client" /run/drover/echo.sock "before droverd" >/root/client.out 2>&1 &
    local cpid=$!
    wait_for 120 "the client's reply" sh -c "! kill -0 $cpid"
    wait "$cpid" || die "client failed: $(cat /root/client.out)"
    local t_conn start
    t_conn=$(sed -n 1p /root/client.out)
    [ "$(sed -n 2p /root/client.out)" = "before droverd" ] || die "reply: $(cat /root/client.out)"
    # droverd answers as soon as it runs; systemd has it active once its workers
    # count as started (READY=1 waits for start_grace).
    wait_for 30 "drover.service active after activation" active_is active
    start=$(prop ExecMainStartTimestampMonotonic)
    echo "client connected at ${t_conn} us, droverd started at ${start} us"
    [ "$t_conn" -lt "$start" ] || die "the client connected after droverd started"
    prop TriggeredBy | grep -q drover.socket || die "TriggeredBy: $(prop TriggeredBy)"
    # The socket stays while droverd restarts.
    sctl restart drover
    [ "$("$L/echo-client" /run/drover/echo.sock again | sed -n 2p)" = again ] || die "after a restart"
}

# systemctl stop: droverd stops every worker and exits 0 well within
# TimeoutStopSec; nothing of the service is left.
t_stop() {
    local t0 ms limit
    limit=$(prop TimeoutStopUSec)
    t0=$(date +%s%N)
    sctl stop drover || die "systemctl stop"
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "stopped in $ms ms (TimeoutStopSec=$limit)"
    [ "$ms" -lt 45000 ] || die "stop took $ms ms"
    [ "$(prop Result)" = success ] || die "Result=$(prop Result)"
    [ "$(prop ExecMainStatus)" = 0 ] || die "droverd exited $(prop ExecMainStatus)"
    pgrep -u drover >/dev/null && die "processes of drover left: $(pgrep -a -u drover)"
    return 0
}

# The cgroup the service gets with Delegate=yes. Issue 12 (per-worker
# cgroups) adds its checks here: per-worker cgroups below this one,
# memory_max OOM reported by name, pids_max, cpu_quota, cgroup.kill leaving
# nothing behind, workers = auto under CPUQuota=50% starting 1 worker.
t_cgroup_delegation() {
    [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || die "not cgroup v2"
    [ "$(prop Delegate)" = yes ] || die "Delegate=$(prop Delegate)"
    local cg pid
    cg=/sys/fs/cgroup$(prop ControlGroup)
    pid=$(prop MainPID)
    echo "$cg: controllers $(cat "$cg/cgroup.controllers")"
    for c in memory pids cpu; do
        grep -qw "$c" "$cg/cgroup.controllers" || die "no $c controller in $cg"
    done
    # Writable from inside the service (its mount namespace, its hardening).
    nsenter -t "$pid" -m -- sh -c "test -w '$cg/cgroup.subtree_control' && test -w '$cg/cgroup.procs'" ||
        die "droverd cannot write its delegated cgroup (read-only in its mount namespace)"
}

# slot_json POOL EXPR: EXPR over slot 0 of POOL (x) in `drover status --json`.
slot_json() {
    drover status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
x = next(x for p in s["pools"] if p["name"] == sys.argv[1] for x in p["slots"] if x["slot"] == 0)
print(eval(sys.argv[2]))' "$1" "$2"
}
slot_is() { [ "$(slot_json "$1" "$2")" = True ]; }
# slot_cg POOL: the absolute directory of slot 0's cgroup.
slot_cg() { echo "/sys/fs/cgroup$(slot_json "$1" 'x["cgroup"]')"; }

# Per-worker limits (issue 12) under the shipped unit: containment comes on
# by itself (Delegate=yes), each limit lands in the slot's cgroup files, a
# worker allocating past memory_max is reported OOM-killed (status, journal,
# metrics) and replaced, pids_max stops a fork bomb inside its own worker
# only, and a limit changed on reload is rewritten for the running worker.
t_limits() {
    local d=/var/lib/drover-test cur cg calm_pid out
    rm -rf "$d"
    mkdir -p "$d"
    cur=$(cursor)
    cat >"$CONF/t-lim.ini" <<EOF
[pool:t-oom]
command = $L/memhog $d/oomed
workers = 1
memory_max = 64M
restart_delay = 100ms
[pool:t-bomb]
command = $L/forkbomb $d/bomb
workers = 1
pids_max = 16
[pool:t-calm]
command = /bin/sleep 3600
workers = 1
cpu_quota = 50%
cpu_weight = 200
memory_high = 48M
EOF
    # drover check probes where it runs: run as droverd runs (delegated), it accepts.
    out=$(systemd-run -q --wait --pipe -p Delegate=yes /usr/bin/drover check 2>&1) ||
        die "drover check in a delegated unit: $out"
    echo "drover check (delegated): $out"
    out=$(drover check 2>&1) && die "drover check from a shell (not delegated) accepted limits"
    echo "drover check (shell): $out"
    sctl reload drover || die "reload with limits refused: $(journalctl -u drover -n 5 -o cat)"
    [ "$(drover status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["containment"]["cgroups"])')" = True ] ||
        die "containment is off under drover.service: $(drover status | grep containment)"
    wait_for 60 "t-calm running" slot_is t-calm 'x["state"] == "running"'
    calm_pid=$(slot_json t-calm 'x["pid"]')
    cg=$(slot_cg t-calm)
    echo "t-calm: $cg"
    [ "$(cat "$cg/cpu.max")" = "50000 100000" ] || die "cpu.max $(cat "$cg/cpu.max")"
    [ "$(cat "$cg/cpu.weight")" = 200 ] || die "cpu.weight $(cat "$cg/cpu.weight")"
    [ "$(cat "$cg/memory.high")" = $((48 << 20)) ] || die "memory.high $(cat "$cg/memory.high")"
    [ "$(cat "$cg/memory.max")" = max ] || die "memory.max $(cat "$cg/memory.max")"
    [ "$(cat "$cg/memory.oom.group")" = 1 ] || die "memory.oom.group $(cat "$cg/memory.oom.group")"
    # A limit a pool does not set is no limit: pids is on for accounting, unlimited.
    [ "$(cat "$cg/pids.max")" = max ] || die "pids.max of t-calm, which sets no pids_max: $(cat "$cg/pids.max")"

    # memory_max: OOM-killed, named, counted, replaced.
    wait_for 120 "t-oom killed by the OOM killer" slot_is t-oom \
        'x["last_exit"] is not None and x["last_exit"]["description"] == "killed by the OOM killer (memory_max 64M)"'
    [ "$(cat "$(slot_cg t-oom)/memory.max")" = $((64 << 20)) ] || die "t-oom memory.max"
    wait_for 60 "t-oom replaced" slot_is t-oom 'x["state"] == "running" and x["pid"] is not None'
    slot_is t-oom 'x["last_exit"]["reason"] == "killed by the OOM killer (memory_max 64M)"' || die "last_exit.reason"
    drover status --wide t-oom | grep -q "killed by the OOM killer (memory_max 64M)" || die "text status: $(drover status --wide t-oom)"
    journal_has "$cur" "pool t-oom slot 0: pid [0-9]+ exited unexpectedly: killed by the OOM killer \(memory_max 64M\)" ||
        die "no journal line naming the OOM kill"
    drover metrics | grep -qx 'drover_worker_oom_kills_total{pool="t-oom"} 1' ||
        die "metric: $(drover metrics | grep oom)"
    drover events --json t-oom | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
sys.exit(0 if any(e.get("cause") == "oom" and "OOM killer (memory_max 64M)" in e["detail"] for e in ev) else 1)' ||
        die "no oom event: $(drover events t-oom | tail -5)"
    # systemd saw the OOM kill in its unit too; OOMPolicy=continue keeps the service running.
    active_is active || die "drover.service is $(systemctl is-active drover) after a worker's OOM kill"
    [ "$(prop OOMPolicy)" = continue ] || die "OOMPolicy=$(prop OOMPolicy)"

    # pids_max: the bomb stops inside its worker; the other pools are untouched.
    wait_for 60 "the fork bomb stopped" test -s "$d/bomb"
    echo "t-bomb: $(cat "$d/bomb")"
    grep -q "^stopped after" "$d/bomb" || die "fork bomb: $(cat "$d/bomb")"
    cg=$(slot_cg t-bomb)
    [ "$(cat "$cg/pids.max")" = 16 ] || die "pids.max $(cat "$cg/pids.max")"
    [ "$(cat "$cg/pids.current")" -le 16 ] || die "pids.current $(cat "$cg/pids.current")"
    [ "$(slot_json t-calm 'x["pid"]')" = "$calm_pid" ] || die "t-calm's worker changed"
    pool_answers echo || die "the echo pool stopped answering"

    # A limit changed on reload is applied live: same worker, new files.
    sed -i 's/^cpu_quota = 50%/cpu_quota = 150%/; s/^memory_high = 48M/memory_high = max/' "$CONF/t-lim.ini"
    sctl reload drover || die "reload"
    cg=$(slot_cg t-calm)
    [ "$(slot_json t-calm 'x["pid"]')" = "$calm_pid" ] || die "t-calm restarted on a limit change"
    [ "$(cat "$cg/cpu.max")" = "150000 100000" ] || die "cpu.max after reload $(cat "$cg/cpu.max")"
    [ "$(cat "$cg/memory.high")" = max ] || die "memory.high after reload $(cat "$cg/memory.high")"
    active_is active || die "drover.service is $(systemctl is-active drover) at the end"
    rm -rf "$d"
}

# ---- issue 12, cgrecycle: per-worker accounting from the cgroup, memory_recycle ----
# (kept apart from the limits' tests above, another part of issue 12)
# slot0 POOL EXPR: EXPR on slot 0 of POOL in `drover status --json` (bound to x); "" when none.
slot0() {
    drover status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
p = [p for p in s["pools"] if p["name"] == sys.argv[1]]
x = p[0]["slots"][0] if p and p[0]["slots"] else None
print(eval(sys.argv[2]) if x is not None else "")
' "$1" "$2"
}
slot0_true() { [ "$(slot0 "$1" "$2")" = True ]; }

# With Delegate=yes and the memory and pids controllers, status --json and metrics
# take memory, peak, CPU and pids from the worker's cgroup and say so.
t_cgroup_accounting() {
    local cg
    cat >"$CONF/t-acct.ini" <<EOF
[pool:acct]
command = $L/mem-grow 16
workers = 1
user = drover
EOF
    sctl reload drover || die "reload"
    wait_for 30 "acct running" slot0_true acct "x['state'] == 'running'"
    wait_for 30 "acct's memory past 16M" slot0_true acct "(x['memory_bytes'] or 0) > 16 << 20"
    echo "slot: $(slot0 acct "{k: x[k] for k in ('memory_bytes', 'memory_peak_bytes', 'rss_bytes', 'cpu_seconds', 'pids', 'usage_source', 'cgroup')}")"
    slot0_true acct "x['usage_source'] == {'memory': 'cgroup', 'cpu': 'cgroup', 'pids': 'cgroup'}" ||
        die "usage not from the cgroup: $(slot0 acct "x['usage_source']")"
    slot0_true acct "x['pids'] == 1" || die "pids: $(slot0 acct "x['pids']")"
    slot0_true acct "x['memory_peak_bytes'] >= x['memory_bytes'] > 0" ||
        die "memory/peak: $(slot0 acct "(x['memory_bytes'], x['memory_peak_bytes'])")"
    cg=/sys/fs/cgroup$(slot0 acct "x['cgroup']")
    echo "$cg/memory.current: $(cat "$cg/memory.current"), pids.current: $(cat "$cg/pids.current")"
    drover metrics | grep -E '^drover_worker_(memory_bytes|memory_peak_bytes|cpu_seconds_total|pids)[{]pool="acct"' ||
        die "no per-worker usage metrics for acct"
    drover metrics | grep -Eq '^drover_worker_pids[{]pool="acct",slot="0"[}] 1$' ||
        die "drover_worker_pids for acct is not 1"
}

# memory_recycle with cgroups: a worker of a pool without routing that grows past it
# is restarted (stop_signal) by the recycle timer, the cgroup's memory.current being
# the figure; the journal, status and metrics say why.
t_memory_recycle() {
    local cur pid
    cur=$(cursor)
    cat >"$CONF/t-recycle.ini" <<EOF
[pool:recycle]
command = $L/mem-grow 256
workers = 1
user = drover
memory_recycle = 48M
EOF
    sctl reload drover || die "reload"
    wait_for 30 "recycle running" slot0_true recycle "x['state'] == 'running'"
    pid=$(slot0 recycle "x['pid']")
    wait_for 60 "the worker recycled" journal_has "$cur" "pool recycle slot 0: recycling pid $pid: memory .* over memory_recycle 48M"
    wait_for 30 "a new worker" slot0_true recycle "x['pid'] not in (None, $pid) and x['state'] == 'running'"
    journalctl -u drover --after-cursor="$cur" -q -o cat | grep recycl
    echo "recycle: $(slot0 recycle "x['recycle']"), source $(slot0 recycle "x['usage_source']['memory']")"
    slot0_true recycle "x['crashes'] == 0" || die "recycling counted as a crash"
    slot0_true recycle "'over memory_recycle 48M' in x['recycle']['reason']" || die "status does not say why"
    slot0_true recycle "x['usage_source']['memory'] == 'cgroup'" || die "memory not from the cgroup"
    drover metrics | grep -E '^drover_pool_recycles_total[{]pool="recycle",reason="memory"[}] [1-9]' ||
        die "drover_pool_recycles_total for recycle"
}

# The package goes away cleanly under a running systemd. (dpkg, not apt:
# the same maintainer scripts, without a minute of apt's cache building
# under emulation.)
t_purge() {
    timeout 300 dpkg --purge drover >/root/purge.log 2>&1 || {
        tail -n 20 /root/purge.log
        die "dpkg --purge drover"
    }
    active_is inactive || die "drover.service is $(systemctl is-active drover) after purge"
    getent passwd drover >/dev/null && die "user drover left"
    for f in /etc/drover /var/log/drover /usr/sbin/droverd /lib/systemd/system/drover.service; do
        [ -e "$f" ] && die "$f left after purge"
    done
    return 0
}

# ---- main ----
echo "VM: $(uname -r), $(systemctl --version | head -n 1), $(nproc) CPUs"
state=$(timeout 120 systemctl is-system-running --wait)
echo "system state: $state"
if [ "$state" != running ]; then
    systemctl --failed --no-pager
fi
mkdir -p "$L"
install -m 0755 "$P"/workers/* "$L/"

run_test "install: apt install ./drover.deb, drover check, systemctl start" t_install
if [ "$nfail" != 0 ]; then
    echo "RESULT: FAIL (the package did not install; nothing else can run)"
    exit 1
fi
run_test "sysusers user and tmpfiles directories" t_sysusers_tmpfiles
run_test "control socket: drover group member may, others may not" t_group_access
run_test "start: active only after READY=1 (slow ready = notify worker)" t_ready_notify
run_test "reload: a config change is applied" t_reload_applies
run_test "reload: a bad config keeps the service active, error in the journal" t_reload_bad
run_test "journal: droverd's warnings at priority warning" t_journal_priority
run_test "logrotate: postrotate reopens the pool logs" t_logrotate
run_test "watchdog: a SIGSTOPped droverd is restarted" t_watchdog
run_test "Restart=: droverd restarted after on_fatal = exit" t_restart_on_fatal
run_test "socket activation: client connects before droverd runs" t_socket_activation
run_test "cgroup: Delegate=yes subtree writable by droverd" t_cgroup_delegation
run_test "limits: memory_max OOM named and replaced, pids_max, cpu_quota, live reload" t_limits
run_test "cgroup accounting: memory, peak, CPU, pids from the worker's cgroup" t_cgroup_accounting
run_test "memory_recycle: a growing worker is restarted, memory.current the figure" t_memory_recycle
run_test "stop: within TimeoutStopSec, nothing left" t_stop
run_test "purge: dpkg --purge leaves nothing" t_purge

echo "==== $npass passed, $nfail failed"
for n in "${failed[@]}"; do echo "failed: $n"; done
if [ "$nfail" = 0 ]; then
    echo "RESULT: PASS"
    exit 0
fi
echo "RESULT: FAIL"
exit 1
