#!/bin/sh
# Install what drover needs from Debian 12's packages.
#   scripts/deps.sh          build and run: compiler, cmake, libevent (with its OpenSSL
#                            bufferevents), OpenSSL (libssl-dev: TLS on tcp: pools), inih,
#                            ncurses (drover top)
#   scripts/deps.sh --test   also what the test suite uses (cmocka, tmux and zsh for
#                            the CLI's view and completion, openssl for test certificates, clang for
#                            fuzzing, promtool, valgrind, systemd tools, python3,
#                            pytest for the Python client's tests, lintian for
#                            the package)
#   scripts/deps.sh --system also what the system tests (tests/system/run.sh)
#                            use: qemu, debootstrap, e2fsprogs
# The options combine: scripts/deps.sh --test --system.
set -eu

build_pkgs="gcc make cmake pkg-config libevent-dev libssl-dev libinih-dev libncurses-dev libcmocka-dev"
test_pkgs="openssl clang tmux zsh clang-format libclang-rt-14-dev valgrind python3 python3-pytest python3-yaml systemd util-linux procps iproute2 dpkg-dev file lintian"
system_pkgs="qemu-system-x86 qemu-utils debootstrap e2fsprogs"

pkgs=$build_pkgs
want_test=0
for arg in "$@"; do
    case "$arg" in
    --test) pkgs="$pkgs $test_pkgs"; want_test=1 ;;
    --system) pkgs="$pkgs $system_pkgs" ;;
    *) echo "deps.sh: unknown option $arg (--test, --system)" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")/.." && pwd)

# Skip apt entirely when everything is already there (a re-run, or CI's second step).
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
need_promtool=0
[ $want_test -eq 1 ] && [ ! -x "$here/.tools/promtool" ] && need_promtool=1
[ -z "$missing" ] && [ $need_promtool -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps.sh: need root (or sudo) to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
[ -n "$missing" ] && $sudo apt-get install -y -qq --no-install-recommends $missing

# promtool validates the metrics output. It ships inside Debian's prometheus
# package; take just that binary out of the .deb rather than install (and
# start) a Prometheus server.
if [ $need_promtool -eq 1 ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq prometheus >/dev/null && dpkg-deb -x prometheus_*.deb x)
    mkdir -p "$here/.tools"
    cp "$tmp/x/usr/bin/promtool" "$here/.tools/promtool"
    rm -rf "$tmp"
fi
