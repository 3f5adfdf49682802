#!/bin/bash
# SPDX-License-Identifier: ISC
# `cmake --install` of this build into a DESTDIR under $T, with the prefix
# $T/p: every expected file is there, the files that name install paths name
# this prefix (units, default config), the man pages render without warnings
# and drover.ini(5) documents every key, the tmpfiles/sysusers snippets do
# what they say, the units verify, and the installed default configuration
# passes `droverd --check` with the installed droverd.
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$BIN/.." && pwd)
[ -f "$BUILD/cmake_install.cmake" ] || fail "$BUILD is not a CMake build directory"
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }

P="$T/p"
D="$T/dest"
DESTDIR="$D" cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 ||
    { cat "$T/install.log" >&2; fail "cmake --install failed"; }
# The tree as it would be without DESTDIR: $P points into it.
ln -s "$D$P" "$P"

# Directories of systemd's files: absolute (from systemd.pc), or under the prefix.
under() { case "$1" in /*) echo "$D$1" ;; *) echo "$D$P/$1" ;; esac; }
UNITDIR=$(under "$(cache_get DROVER_SYSTEMD_UNITDIR)")
TMPFILES=$(under "$(cache_get DROVER_TMPFILESDIR)")/drover.conf
SYSUSERS=$(under "$(cache_get DROVER_SYSUSERSDIR)")/drover.conf

for f in "$P/sbin/droverd" "$P/bin/drover" "$P/libexec/drover/echo-worker"; do
    [ -x "$f" ] || fail "$f is not installed (or not executable)"
done
for f in "$UNITDIR/drover.service" "$UNITDIR/drover.socket" "$TMPFILES" "$SYSUSERS" \
    "$P/etc/drover/drover.ini" "$P/etc/drover/conf.d/echo.ini" "$P/etc/logrotate.d/drover" \
    "$P/share/man/man8/droverd.8.gz" "$P/share/man/man1/drover.1.gz" "$P/share/man/man5/drover.ini.5.gz" \
    "$P/share/doc/drover/changelog.gz" "$P/share/doc/drover/copyright"; do
    [ -f "$f" ] || fail "$f is not installed"
done
# The man pages are installed gzipped; the checks below read them unpacked.
mkdir -p "$T/man"
for f in man8/droverd.8 man1/drover.1 man5/drover.ini.5; do
    gzip -dc "$P/share/man/$f.gz" >"$T/man/${f#*/}" || fail "$P/share/man/$f.gz is not gzip"
done
assert_eq "$("$P/sbin/droverd" --version)" "$("$BIN/droverd" --version)" "installed droverd --version"

# Files that name install paths name this prefix, and nothing of the build.
unit="$UNITDIR/drover.service"
grep -qx "ExecStart=$P/sbin/droverd -c $P/etc/drover/drover.ini" "$unit" ||
    fail "ExecStart: $(grep ExecStart= "$unit")"
grep -qx "ExecReload=$P/bin/drover reload" "$unit" || fail "ExecReload: $(grep ExecReload= "$unit")"
for k in Type=notify KillMode=mixed RuntimeDirectory=drover LogsDirectory=drover \
    ConfigurationDirectory=drover Restart=on-failure; do
    grep -qx "$k" "$unit" || fail "drover.service lacks $k"
done
grep -q '^WatchdogSec=' "$unit" || fail "drover.service lacks WatchdogSec"
grep -qx "command  = $P/libexec/drover/echo-worker" "$P/etc/drover/conf.d/echo.ini" ||
    fail "echo.ini command: $(grep command "$P/etc/drover/conf.d/echo.ini")"
if grep -rn -e '\.\./build' -e '@[A-Z_]*@' "$P/etc" "$UNITDIR" >"$T/leftovers"; then
    fail "installed files name the build or keep placeholders: $(cat "$T/leftovers")"
fi
# TimeoutStopSec must leave droverd time for its own shutdown_timeout (+5 s of SIGKILL grace).
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$unit")
shut_s=$(sed -n 's/^shutdown_timeout *= *\([0-9]*\)s.*/\1/p' "$P/etc/drover/drover.ini")
[ -n "$stop_s" ] && [ -n "$shut_s" ] || fail "cannot read TimeoutStopSec ($stop_s) or shutdown_timeout ($shut_s)"
[ "$stop_s" -gt $((shut_s + 5)) ] || fail "TimeoutStopSec=${stop_s}s is not above shutdown_timeout ${shut_s}s + 5s"

# Man pages render without warnings; drover.ini(5) documents every key.
for f in "$T/man/droverd.8" "$T/man/drover.1" "$T/man/drover.ini.5"; do
    if command -v groff >/dev/null 2>&1; then
        w=$(groff -man -ww -z "$f" 2>&1)
        [ -z "$w" ] || fail "groff warns about $f: $w"
    fi
    if command -v mandoc >/dev/null 2>&1; then
        w=$(mandoc -T lint -W warning "$f" 2>&1)
        [ -z "$w" ] || fail "mandoc warns about $f: $w"
    fi
    if command -v man >/dev/null 2>&1; then
        w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
        [ -z "$w" ] || fail "man -l warns about $f: $w"
    fi
done
"$BIN/droverd" --keys | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' >"$T/keys"
[ "$(wc -l <"$T/keys")" -gt 10 ] || fail "droverd --keys listed $(wc -l <"$T/keys") keys"
while read -r key; do
    grep -qx "\.B $key" "$T/man/drover.ini.5" || fail "drover.ini(5) does not document $key"
done <"$T/keys"
grep -q '@KEYS@' "$T/man/drover.ini.5" && fail "drover.ini(5) still has its @KEYS@ marker"

# tmpfiles.d and sysusers.d, applied to scratch roots (the system is not touched).
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    mkdir "$T/troot"
    systemd-tmpfiles --root="$T/troot" --create "$TMPFILES" >"$T/tmpfiles.log" 2>&1 ||
        fail "systemd-tmpfiles: $(cat "$T/tmpfiles.log")"
    assert_eq "$(stat -c %a "$T/troot/run/drover")" 755 "mode of /run/drover from tmpfiles"
    assert_eq "$(stat -c %a "$T/troot/var/log/drover")" 750 "mode of /var/log/drover from tmpfiles"
fi
have_sysusers=false
if command -v systemd-sysusers >/dev/null 2>&1; then
    mkdir -p "$T/sroot/etc"
    systemd-sysusers --root="$T/sroot" "$SYSUSERS" >"$T/sysusers.log" 2>&1 ||
        fail "systemd-sysusers: $(cat "$T/sysusers.log")"
    grep -q '^drover:x:[0-9]*:[0-9]*:[^:]*:[^:]*:.*nologin$' "$T/sroot/etc/passwd" ||
        fail "sysusers made no nologin user drover: $(cat "$T/sroot/etc/passwd")"
    grep -q '^drover:x:' "$T/sroot/etc/group" || fail "sysusers made no group drover"
    have_sysusers=true
fi

# The units verify, now that the programs they name exist (through $P).
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify --man=no "$UNITDIR/drover.service" "$UNITDIR/drover.socket" \
        >"$T/verify.log" 2>&1
    # Without systemd as PID 1 only bus/boot complaints may appear; ignore those alone.
    real=$(grep -Ev 'System has not been booted with systemd|Failed to connect to (system scope )?bus|^\s*$' "$T/verify.log")
    [ -z "$real" ] || fail "systemd-analyze verify: $real"
fi
if command -v logrotate >/dev/null 2>&1; then
    logrotate -d -s "$T/logrotate.state" "$P/etc/logrotate.d/drover" >"$T/logrotate.log" 2>&1 ||
        fail "logrotate -d: $(cat "$T/logrotate.log")"
fi

# The installed default configuration passes droverd --check. It names the
# user and group drover: when this system has none, check in a private mount
# namespace whose /etc/passwd and /etc/group add the ones sysusers made above.
check_installed() { "$P/sbin/droverd" --check -c "$P/etc/drover/drover.ini"; }
if getent passwd drover >/dev/null && getent group drover >/dev/null; then
    out=$(check_installed 2>&1) || fail "droverd --check of the installed config: $out"
elif [ "$(id -u)" = 0 ] && $have_sysusers && command -v unshare >/dev/null 2>&1; then
    cp /etc/passwd "$T/passwd"
    cp /etc/group "$T/group"
    getent passwd drover >/dev/null || grep '^drover:' "$T/sroot/etc/passwd" >>"$T/passwd"
    getent group drover >/dev/null || grep '^drover:' "$T/sroot/etc/group" >>"$T/group"
    export -f check_installed
    export P
    out=$(unshare --mount bash -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group &&
        check_installed' _ "$T/passwd" "$T/group" 2>&1) ||
        fail "droverd --check of the installed config (with a drover user): $out"
else
    log "SKIP droverd --check of the installed config: no drover user and not root"
    exit 0
fi
assert_contains "$out" "ok (1 pool, 2 workers)" "droverd --check of the installed config"
log "ok"
