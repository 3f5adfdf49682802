#!/bin/bash
# SPDX-License-Identifier: ISC
# Packaging: build the .deb with cpack from a fresh /usr build of the source
# tree, check it with lintian (no error, no warning), install it with dpkg, check what it installed (binaries, units that
# pass `systemd-analyze verify`, man pages, default config that passes
# `droverd --check` and actually runs, the drover user and group), then
# remove and purge it and check that nothing is left: no file, no user, no
# group, no systemd helper state.
#
# Changes the system (a package, a system user), so it runs only as root,
# and skips (77) when a drover package, user or group is already there:
# purging would take away somebody else's. `ctest -L packaging`.
. "${SRC:?set SRC to the source tree}/tests/integration/lib.sh"

skip() {
    log "SKIP: $*"
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root to install a package"
for c in dpkg dpkg-deb dpkg-query cpack cmake getent userdel groupdel; do
    command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
done
command -v lintian >/dev/null 2>&1 || fail "lintian is not installed (scripts/deps.sh --test installs it)"

# One packaging run at a time, even from two build directories (ctest's
# RESOURCE_LOCK only covers one): the lock is on a file of the source tree,
# so no lock file is left behind.
exec 9<"$SRC/systemd/drover.sysusers.conf"
flock -w 120 9 || fail "could not lock $SRC/systemd/drover.sysusers.conf"

if dpkg-query -W -f='${Status}' drover 2>/dev/null | grep -qv 'not-installed'; then
    skip "a drover package is installed (or its config files are): $(dpkg-query -W -f='${Status}' drover)"
fi
getent passwd drover >/dev/null && skip "a user 'drover' exists; purging would remove it"
getent group drover >/dev/null && skip "a group 'drover' exists; purging would remove it"

RUN_DROVER_EXISTED=false
[ -e /run/drover ] && RUN_DROVER_EXISTED=true
INSTALLED=false
PKG_DAEMON_PID=""

pkg_cleanup() {
    local rc=$?
    if [ -n "$PKG_DAEMON_PID" ]; then
        kill -TERM "$PKG_DAEMON_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$PKG_DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$PKG_DAEMON_PID" 2>/dev/null
        wait "$PKG_DAEMON_PID" 2>/dev/null
    fi
    if $INSTALLED; then
        log "cleanup: purging the drover package"
        dpkg -P drover >/dev/null 2>&1
    fi
    # Whatever a failed purge left of what this test created.
    getent passwd drover >/dev/null && userdel drover 2>/dev/null
    getent group drover >/dev/null && groupdel drover 2>/dev/null
    (exit $rc)
    cleanup
}
trap pkg_cleanup EXIT

# ---- build the package ----
B="$T/build"
log "building a /usr build of $SRC and its .deb"
# Only what the package holds is built (cpack's install then skips "all").
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
    -DDROVER_TESTS=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$T/build.log" 2>&1 ||
    { tail -n 30 "$T/build.log" >&2; fail "cmake configure"; }
cmake --build "$B" -j"$(nproc)" --target droverd drover echo-worker cpu-worker drover-man \
    >>"$T/build.log" 2>&1 || { tail -n 30 "$T/build.log" >&2; fail "build"; }
(cd "$B" && cpack -G DEB) >>"$T/build.log" 2>&1 || { tail -n 30 "$T/build.log" >&2; fail "cpack -G DEB"; }
DEB=$(ls "$B"/drover_*.deb 2>/dev/null | head -n 1)
[ -f "$DEB" ] || fail "cpack made no drover_*.deb in $B"
VERSION=$(dpkg-deb -f "$DEB" Version)
log "built $(basename "$DEB")"

# ---- lintian: what a Debian maintainer would check first ----
# Every tag, pedantic ones included, is shown; an error or a warning fails.
# Overrides live in the package (/usr/share/lintian/overrides/drover), each
# with its reason.
log "lintian -EI --pedantic"
rc=0
lintian --fail-on error,warning -EI --pedantic --color=never "$DEB" >"$T/lintian.log" 2>&1 || rc=$?
grep -v 'running with root privileges is not recommended' "$T/lintian.log" >&2 || true
grep -q '^[EW]: ' "$T/lintian.log" && fail "lintian reports errors or warnings (above)"
[ "$rc" = 0 ] || fail "lintian exited $rc"

# ---- what the package says about itself ----
depends=$(dpkg-deb -f "$DEB" Depends)
assert_contains "$depends" "libevent" "Depends names libevent"
assert_contains "$depends" "libinih1" "Depends names libinih1"
assert_contains "$depends" "libssl3" "Depends names libssl3 (TLS on tcp: pools)"
assert_contains "$depends" "libevent-openssl" "Depends names libevent-openssl"
dpkg-deb --ctrl-tarfile "$DEB" | tar -tf - >"$T/control.list"
for f in postinst postrm prerm conffiles; do
    grep -qx "./$f" "$T/control.list" || fail "control archive has no $f"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles)
for f in /etc/drover/drover.ini /etc/drover/conf.d/echo.ini /etc/logrotate.d/drover; do
    grep -qx "$f" <<<"$conffiles" || fail "$f is not a conffile"
done
# (Into files first: grep -q closing a pipe early would trip pipefail.)
dpkg-deb -c "$DEB" >"$T/contents.list"
grep -q ' \./etc/drover/drover.ini$' "$T/contents.list" || fail "package lacks /etc/drover/drover.ini"
grep -q ' \./usr/include/' "$T/contents.list" && fail "package installs into /usr/include (no -dev package)"
grep -q ' \./usr/share/doc/drover/examples/drover_worker.h$' "$T/contents.list" ||
    fail "package lacks the example header drover_worker.h"
# The source-checkout config (../build paths) must not be what gets installed.
dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./etc/drover/drover.ini >"$T/drover.ini"
grep -q '\.\./build' "$T/drover.ini" && fail "the installed drover.ini is the source-checkout one"

# ---- install ----
log "dpkg -i"
dpkg -i "$DEB" >"$T/dpkg-i.log" 2>&1 || { cat "$T/dpkg-i.log" >&2; fail "dpkg -i failed"; }
INSTALLED=true
assert_eq "$(dpkg-query -W -f='${Status}' drover)" "install ok installed" "package status"
dpkg -L drover >"$T/files.list"

assert_eq "$(/usr/sbin/droverd --version)" "droverd $VERSION" "droverd --version"
assert_contains "$(/usr/bin/drover --version)" "drover $VERSION" "drover --version"

# The user and group, made by postinst: a system account that cannot log in.
pw=$(getent passwd drover) || fail "postinst did not create the user drover"
getent group drover >/dev/null || fail "postinst did not create the group drover"
uid=$(cut -d: -f3 <<<"$pw")
[ "$uid" -lt 1000 ] || fail "drover is not a system user (uid $uid)"
case "$(cut -d: -f7 <<<"$pw")" in */nologin | */false) ;; *) fail "drover has a login shell: $pw" ;; esac
[ "$(id -gn drover)" = drover ] || fail "drover's primary group is $(id -gn drover)"
[ -d /var/log/drover ] || fail "postinst did not create /var/log/drover"
[ -d /run/drover ] || fail "postinst did not create /run/drover"

# Units, tmpfiles, sysusers, logrotate, config, man pages: where they belong.
UNIT=$(grep '/drover\.service$' "$T/files.list") || fail "no drover.service in the package"
SOCKET_UNIT=$(grep '/drover\.socket$' "$T/files.list") || fail "no drover.socket in the package"
case "$UNIT" in /lib/systemd/system/* | /usr/lib/systemd/system/*) ;; *) fail "unit installed at $UNIT" ;; esac
for f in /usr/sbin/droverd /usr/bin/drover /usr/libexec/drover/echo-worker \
    /usr/lib/tmpfiles.d/drover.conf /usr/lib/sysusers.d/drover.conf /etc/logrotate.d/drover \
    /etc/drover/drover.ini /etc/drover/conf.d/echo.ini \
    /usr/share/man/man8/droverd.8.gz /usr/share/man/man1/drover.1.gz /usr/share/man/man5/drover.ini.5.gz \
    /usr/share/doc/drover/changelog.gz /usr/share/doc/drover/copyright \
    /usr/share/bash-completion/completions/drover /usr/share/zsh/vendor-completions/_drover; do
    [ -f "$f" ] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/sbin/droverd -c /etc/drover/drover.ini' "$UNIT" ||
    fail "ExecStart of $UNIT: $(grep ExecStart= "$UNIT")"
grep -qx 'ExecReload=/usr/bin/drover reload' "$UNIT" || fail "ExecReload of $UNIT: $(grep ExecReload= "$UNIT")"
grep -qx 'FileDescriptorName=echo' "$SOCKET_UNIT" || fail "drover.socket does not name the echo pool"
if command -v deb-systemd-helper >/dev/null 2>&1; then
    [ -L /etc/systemd/system/multi-user.target.wants/drover.service ] ||
        fail "postinst did not enable drover.service"
fi

# systemd-analyze verify: with systemd not running as PID 1 (containers, CI)
# it may complain that it cannot reach the bus or was not booted with
# systemd; those lines, and only those, are ignored.
if command -v systemd-analyze >/dev/null 2>&1; then
    man_opt=--man=no
    command -v man >/dev/null 2>&1 && man_opt=--man=yes
    rc=0
    systemd-analyze verify "$man_opt" "$UNIT" "$SOCKET_UNIT" >"$T/verify.log" 2>&1 || rc=$?
    real=$(grep -Ev 'System has not been booted with systemd|Failed to connect to (system scope )?bus|Failed to (connect|talk) to .*(bus|init daemon)|Host is down|^\s*$' "$T/verify.log")
    [ -z "$real" ] || fail "systemd-analyze verify: $real"
    [ "$rc" = 0 ] || [ -s "$T/verify.log" ] || fail "systemd-analyze verify exited $rc without saying why"
    [ "$rc" = 0 ] || log "systemd-analyze verify exited $rc; only systemd-not-running lines: $(tr '\n' ' ' <"$T/verify.log")"
else
    log "systemd-analyze not installed: units not verified"
fi

# Man pages: found by man, rendered without warnings, and drover.ini(5)
# documents every key of the key table (it is generated from it).
if command -v man >/dev/null 2>&1; then
    for page in 8:droverd 1:drover 5:drover.ini; do
        where=$(man -w "${page%%:*}" "${page#*:}" 2>/dev/null) || fail "man -w ${page#*:} finds nothing"
        case "$where" in /usr/share/man/*) ;; *) fail "man ${page#*:} is $where" ;; esac
    done
fi
if command -v groff >/dev/null 2>&1; then
    for f in /usr/share/man/man8/droverd.8.gz /usr/share/man/man1/drover.1.gz /usr/share/man/man5/drover.ini.5.gz; do
        w=$(gzip -dc "$f" | groff -man -ww -z 2>&1)
        [ -z "$w" ] || fail "groff warns about $f: $w"
    done
fi
/usr/sbin/droverd --keys | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' >"$T/keys"
[ -s "$T/keys" ] || fail "droverd --keys listed no key"
gzip -dc /usr/share/man/man5/drover.ini.5.gz >"$T/drover.ini.5"
while read -r key; do
    grep -qx "\.B $key" "$T/drover.ini.5" || fail "drover.ini(5) does not document $key"
done <"$T/keys"

# The default configuration is valid, and runs: the echo pool answers, its
# workers run as drover. Only when nothing else uses the default sockets.
# With no -c: the packaged binaries default to /etc/drover/drover.ini.
out=$(/usr/sbin/droverd --check 2>&1) || fail "droverd --check (no -c): $out"
assert_contains "$out" "ok" "droverd --check"
out=$(/usr/bin/drover check 2>&1) || fail "drover check (no -c): $out"
if [ -S /run/drover/drover.sock ] || [ -S /run/drover/echo.sock ]; then
    log "/run/drover has sockets of another droverd: not starting the installed one"
else
    /usr/sbin/droverd -c /etc/drover/drover.ini >"$T/droverd.log" 2>&1 &
    PKG_DAEMON_PID=$!
    SOCK=/run/drover/drover.sock
    wait_for 10 "the installed droverd to answer" dv status
    wait_for 10 "the echo pool to run" pool_running echo
    assert_eq "$(dv call echo hello)" "hello" "drover call echo through the installed config"
    p0=$(slot_field echo 0 pid)
    assert_eq "$(ps -o user= -p "$p0" | tr -d ' ')" drover "user of the echo worker"
    assert_eq "$(stat -c %G /run/drover/drover.sock)" drover "group of the control socket"
    dv shutdown >/dev/null || fail "drover shutdown"
    wait_for 20 "the installed droverd to exit" dead "$PKG_DAEMON_PID"
    wait "$PKG_DAEMON_PID"
    st=$?
    PKG_DAEMON_PID=""
    assert_eq "$st" 0 "exit status of the installed droverd"
fi

if command -v logrotate >/dev/null 2>&1; then
    logrotate -d -s "$T/logrotate.state" /etc/logrotate.d/drover >"$T/logrotate.log" 2>&1 ||
        fail "logrotate -d rejects /etc/logrotate.d/drover: $(cat "$T/logrotate.log")"
fi

# ---- remove: program files go, conffiles and the user stay ----
log "dpkg -r"
dpkg -r drover >"$T/dpkg-r.log" 2>&1 || { cat "$T/dpkg-r.log" >&2; fail "dpkg -r failed"; }
[ -e /usr/sbin/droverd ] && fail "/usr/sbin/droverd is still there after dpkg -r"
[ -e "$UNIT" ] && fail "$UNIT is still there after dpkg -r"
[ -f /etc/drover/drover.ini ] || fail "dpkg -r removed the conffile /etc/drover/drover.ini"
getent passwd drover >/dev/null || fail "dpkg -r removed the drover user (only purge should)"

# ---- purge: nothing is left ----
log "dpkg -P"
dpkg -P drover >"$T/dpkg-p.log" 2>&1 || { cat "$T/dpkg-p.log" >&2; fail "dpkg -P failed"; }
INSTALLED=false
dpkg-query -W -f='${Status}' drover 2>/dev/null | grep -qv 'not-installed' &&
    fail "dpkg still knows drover: $(dpkg-query -W -f='${Status}' drover)"
left=()
while read -r f; do
    # Shared directories (/usr/share/man/man1, /lib/systemd/system, ...) stay.
    [ -d "$f" ] && continue
    [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done <"$T/files.list"
for f in /etc/drover /var/log/drover /usr/libexec/drover /usr/share/doc/drover \
    /etc/systemd/system/drover.service /etc/systemd/system/multi-user.target.wants/drover.service \
    /var/lib/systemd/deb-systemd-helper-enabled/drover.service \
    /var/lib/systemd/deb-systemd-helper-enabled/drover.service.dsh-also \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/drover.service \
    /var/lib/systemd/deb-systemd-helper-masked/drover.service; do
    [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
$RUN_DROVER_EXISTED || { [ -e /run/drover ] && left+=(/run/drover); }
[ "${#left[@]}" = 0 ] || fail "left after purge: ${left[*]}"
getent passwd drover >/dev/null && fail "the user drover is left after purge"
getent group drover >/dev/null && fail "the group drover is left after purge"
log "ok"
