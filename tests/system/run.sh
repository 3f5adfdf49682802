#!/bin/bash
# SPDX-License-Identifier: ISC
# System tests: drover's .deb in a real Debian 12 with systemd as PID 1.
#
#   tests/system/run.sh [--deb FILE] [--timeout SECONDS] [--keep DIR] [--only REGEX]
#
# --keep DIR keeps the VM's console and test output; --only REGEX runs only
# the tests whose names match (and the install, which they all need).
#
# 1. image.sh builds (once) or reuses the cached Debian 12 image
#    (/var/cache/drover-vm/KEY, KEY a hash of tests/system/packages and of
#    the image recipe).
# 2. Builds the .deb from this tree (a /usr build in build-system/, reused
#    between runs), unless --deb names one.
# 3. Writes the per-run payload (the .deb, guest-tests.sh, test workers) to
#    a small ext4 disk with `mkfs.ext4 -d` (no mount, no loop device).
# 4. Boots the image under qemu (KVM when /dev/kvm is usable, else TCG) with
#    the root disk in snapshot mode (the cached image never changes). Inside,
#    vmtest.service runs the payload's test.sh after boot, with its output on
#    the second serial port, then powers the VM off.
# 5. Prints that output (each test by name with PASS or FAIL) and exits 0
#    only when every test passed and the run ended with "RESULT: PASS".
#
# Hard limit: --timeout (default 1200 s) for qemu, after the image and the
# .deb are ready. Nothing is skipped: a missing tool or a qemu that cannot
# start is a failure. Needs root the first time (debootstrap) and
# qemu-system-x86 qemu-utils debootstrap e2fsprogs (scripts/deps.sh --system).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$here/../.." && pwd)
deb=""
timeout_s=1200
keep=""
only=""
while [ $# -gt 0 ]; do
    case "$1" in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h | --help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { printf 'system: %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
t_start=$(date +%s)
elapsed() { echo "$(($(date +%s) - t_start)) s"; }

for c in qemu-system-x86_64 mkfs.ext4 timeout; do
    command -v "$c" >/dev/null 2>&1 || die "$c is not installed (scripts/deps.sh --system)"
done

# ---- 1. the image ----
img=$("$here/image.sh") || die "could not build the VM image (tests/system/image.sh)"
for f in disk.img vmlinuz initrd.img; do
    [ -f "$img/$f" ] || die "$img/$f is missing; remove $img to rebuild the image"
done
log "image: $img ($(elapsed))"
# The cache keeps what is in use: this image is marked used now, and images
# of other recipes unused for 14 days are removed.
touch "$img/ok"
for d in "$(dirname "$img")"/*/; do
    d=${d%/}
    [ "$d" != "$img" ] && [ -f "$d/ok" ] && [ -n "$(find "$d/ok" -mtime +14)" ] && rm -rf "$d"
done

# ---- 2. the .deb ----
if [ -z "$deb" ]; then
    B="$SRC/build-system"
    log "building the .deb in $B"
    mkdir -p "$B"
    {
        cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
            -DDROVER_TESTS=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON &&
            cmake --build "$B" -j"$(nproc)" --target droverd drover echo-worker cpu-worker drover-man &&
            rm -f "$B"/drover_*.deb &&
            (cd "$B" && cpack -G DEB)
    } >"$B/deb-build.log" 2>&1 || { tail -n 30 "$B/deb-build.log" >&2; die "building the .deb failed ($B/deb-build.log)"; }
    deb=$(ls "$B"/drover_*.deb | head -n 1)
fi
[ -f "$deb" ] || die "no .deb: $deb"
log "package: $deb ($(elapsed))"

# ---- 3. the payload disk ----
W=$(mktemp -d "${TMPDIR:-/tmp}/drover-system.XXXXXX")
qpid=""
cleanup() {
    local rc=$?
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    if [ -n "$keep" ]; then
        mkdir -p "$keep" && cp -a "$W"/*.log "$keep"/ 2>/dev/null
        log "logs kept in $keep"
    fi
    rm -rf "$W"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/payload/workers"
cp "$deb" "$W/payload/"
install -m 0755 "$here/guest-tests.sh" "$W/payload/test.sh"
install -m 0755 "$here"/workers/* "$W/payload/workers/"
[ -z "$only" ] || printf '%s\n' "$only" >"$W/payload/only"
mkfs.ext4 -q -F -L payload -d "$W/payload" "$W/payload.img" 64M

# ---- 4. boot ----
accel="tcg,thread=multi"
cpu=""
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
    accel=kvm
    cpu="-cpu host"
fi
log "booting Debian 12 under qemu ($accel), timeout ${timeout_s} s; console: $W/console.log"
: >"$W/ttyS1.log"
# -no-reboot and panic=-1: a kernel panic ends qemu instead of looping; the
# root disk is a snapshot (writes go to a temporary overlay). no_timer_check:
# on a busy host, emulation can be too slow for the kernel's check of the
# IO-APIC timer, which then panics ("IO-APIC + timer doesn't work!").
timeout -k 10 "$timeout_s" qemu-system-x86_64 \
    -accel "$accel" $cpu -machine pc -m 2G -smp 2 \
    -nodefaults -no-user-config -display none -no-reboot \
    -serial "file:$W/console.log" -serial "file:$W/ttyS1.log" \
    -device virtio-rng-pci \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "root=/dev/vda rw rootfstype=ext4 console=ttyS0 panic=-1 no_timer_check systemd.unified_cgroup_hierarchy=1 vmtest=1 quiet" \
    -drive "file=$img/disk.img,format=raw,if=virtio,snapshot=on,cache=unsafe" \
    -drive "file=$W/payload.img,format=raw,if=virtio,cache=unsafe" \
    </dev/null >"$W/qemu.log" 2>&1 &
qpid=$!
# Follow the test output while the VM runs.
tail -n +1 -f --pid="$qpid" "$W/ttyS1.log" 2>/dev/null | sed -u 's/\r$//' &
tpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=""
wait "$tpid" 2>/dev/null || true
log "qemu exited with $qrc after $(elapsed)"

# ---- 5. the verdict (qemu's status says nothing about the tests) ----
out=$(tr -d '\r' <"$W/ttyS1.log")
fails=$(grep -c '^FAIL: ' <<<"$out" || true)
passes=$(grep -c '^PASS: ' <<<"$out" || true)
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    tail -n 40 "$W/console.log" >&2
    die "the VM did not finish within ${timeout_s} s (console above)"
fi
if ! grep -q '^RESULT: PASS' <<<"$out"; then
    log "console (last 60 lines):"
    tail -n 60 "$W/console.log" | tr -d '\r' >&2
    [ -s "$W/qemu.log" ] && { log "qemu:"; cat "$W/qemu.log" >&2; }
    die "system tests: $passes passed, $fails failed, no 'RESULT: PASS' (qemu exit $qrc)"
fi
[ "$fails" = 0 ] || die "system tests: $fails failed"
[ "$passes" -gt 0 ] || die "system tests: none ran"
log "all $passes system tests passed ($(elapsed))"
