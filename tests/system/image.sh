#!/bin/bash
# SPDX-License-Identifier: ISC
# Build (once) the Debian 12 image the system tests boot, and print the
# directory that holds it: disk.img (raw ext4, the root file system),
# vmlinuz and initrd.img (the image's own kernel and initrd).
#
#   tests/system/image.sh [CACHE_DIR]      (default /var/cache/drover-vm)
#
# The image is debootstrap's minbase plus the packages named in
# tests/system/packages, from the Debian mirror apt already uses on this
# machine (read from apt's sources; DROVER_VM_MIRROR overrides it), plus
# guest/vmtest.service and guest/vmtest-run. It is cached in
# CACHE_DIR/KEY, KEY a hash of the package list and of this recipe (this
# file and guest/), so a re-run reuses it and a change rebuilds it. Nothing
# is mounted: the tree becomes an ext4 image with `mkfs.ext4 -d`.
# Needs root (debootstrap), debootstrap and e2fsprogs. Takes ~3-5 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:-${DROVER_VM_CACHE:-/var/cache/drover-vm}}
suite=bookworm

log() { printf 'image.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# stdout carries the image's directory and nothing else (run.sh reads it): every
# tool's output goes to stderr. mkfs.ext4 says "Creating regular file" on stdout
# even with -q, which once made a fresh machine's first run read that as the path.
exec 3>&1 1>&2

pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages" | tr -d ' \t' | paste -sd, -)
key=$( (cat "$here/packages" "$here/image.sh" "$here"/guest/*; echo "$suite") | sha256sum | cut -c1-16)
dir="$cache/$key"
if [ -f "$dir/ok" ]; then
    echo "$dir" >&3
    exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root to debootstrap the image (once; then it is cached in $dir)"
for c in debootstrap mkfs.ext4; do
    command -v "$c" >/dev/null 2>&1 || die "$c is not installed (scripts/deps.sh --system)"
done

# The mirror of apt's sources that carries $suite main (not -security).
mirror() {
    if [ -n "${DROVER_VM_MIRROR:-}" ]; then
        echo "$DROVER_VM_MIRROR"
        return
    fi
    local f
    # One-line format: deb [opts] URI SUITE COMPONENTS...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
             if ($(i + 1) == s) { print $i; exit } }' "$f"
    done
    # deb822 format: stanzas with URIs: and Suites:
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
            { uri = ""; ok = 0; en = 1
              for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
                if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
                if ($i ~ /^Enabled:[ \t]*no/) en = 0 }
              if (ok && en && uri != "") { print uri; exit } }' "$f"
    done
}
url=$(mirror | head -n 1)
[ -n "$url" ] || die "no apt source for $suite found in /etc/apt/sources.list{,.d}; set DROVER_VM_MIRROR"

mkdir -p "$cache"
exec 8>"$cache/.lock"
flock -w 1800 8 || die "could not lock $cache/.lock"
if [ -f "$dir/ok" ]; then # built by another run while this one waited
    echo "$dir" >&3
    exit 0
fi

work="$cache/build.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
log "building the image $key in $dir (debootstrap $suite from $url; takes minutes, once)"
t0=$(date +%s)
# INITRD=No: the kernel package's hook builds no initrd (a generic one
# takes minutes, twice: at install and at the initramfs-tools trigger); one
# with just what this VM boots from is made below, in seconds.
INITRD=No debootstrap --variant=minbase --include="$pkgs" "$suite" "$work/root" "$url" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 40 "$work/debootstrap.log" >&2
    die "debootstrap failed (log above)"
}
log "debootstrap done in $(($(date +%s) - t0)) s"

r="$work/root"
echo drover-vm >"$r/etc/hostname"
printf '127.0.1.1\tdrover-vm\n' >>"$r/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$r/etc/fstab"
install -m 0755 "$here/guest/vmtest-run" "$r/usr/local/sbin/vmtest-run"
install -m 0644 "$here/guest/vmtest.service" "$r/etc/systemd/system/vmtest.service"
ln -sf /etc/systemd/system/vmtest.service "$r/etc/systemd/system/multi-user.target.wants/vmtest.service"
# Units that only cost boot time in a throw-away VM.
for u in e2scrub_reap.service apt-daily.timer apt-daily-upgrade.timer fstrim.timer \
    e2scrub_all.timer systemd-timesyncd.service logrotate.timer man-db.timer; do
    ln -sf /dev/null "$r/etc/systemd/system/$u"
done
# apt in the VM has no network: local .debs only, no recommends.
printf 'APT::Install-Recommends "false";\n' >"$r/etc/apt/apt.conf.d/90drover-vm"
: >"$r/etc/apt/sources.list"
rm -rf "$r/var/cache/apt/archives/"*.deb "$r/var/lib/apt/lists/"*_Packages 2>/dev/null || true

# The initrd: the modules to mount the root file system (virtio disk, ext4)
# and nothing else; udev loads the rest from the root later.
kernel=$(ls "$r"/boot/vmlinuz-* | sort -V | tail -n 1)
[ -f "$kernel" ] || die "the image has no kernel in /boot"
kver=${kernel##*/vmlinuz-}
printf 'MODULES=list\nCOMPRESS=gzip\n' >"$r/etc/initramfs-tools/conf.d/drover-vm.conf"
printf '%s\n' virtio_pci virtio_blk ext4 >>"$r/etc/initramfs-tools/modules"
t1=$(date +%s)
chroot "$r" update-initramfs -c -k "$kver" >"$work/initramfs.log" 2>&1 || {
    cat "$work/initramfs.log" >&2
    die "update-initramfs failed"
}
initrd="$r/boot/initrd.img-$kver"
[ -f "$initrd" ] || die "update-initramfs made no $initrd"
log "initrd built in $(($(date +%s) - t1)) s"
cp "$kernel" "$work/vmlinuz"
cp "$initrd" "$work/initrd.img"
mkfs.ext4 -q -F -L drover-vm -d "$r" "$work/disk.img" 3G
rm -rf "$r"
sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/packages" >"$work/packages"
rm -rf "$dir"
mkdir -p "$dir"
mv "$work/disk.img" "$work/vmlinuz" "$work/initrd.img" "$work/packages" "$work/debootstrap.log" "$dir/"
touch "$dir/ok"
log "image $key built in $(($(date +%s) - t0)) s"
echo "$dir" >&3
