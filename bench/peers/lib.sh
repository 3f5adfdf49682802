# shellcheck shell=bash
# bench/peers/run.sh's helpers: where things are, installing the peers, which of them
# are there, versions. Builds on bench/lib.sh, with the build directory set to
# build-peers. The benchmarks themselves are bench/supervise.sh and bench/route.sh.

peers_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$(dirname "$(dirname "$peers_dir")")/build-peers}
RESULTS_DIR=${RESULTS_DIR:-$peers_dir/results}
# shellcheck source=../lib.sh
. "$peers_dir/../lib.sh"

# PM2 comes from npm, into a cache outside the tree (node_modules is not committed).
PM2_VERSION=${PM2_VERSION:-7.0.4}
PM2_PREFIX=${PM2_PREFIX:-/var/cache/drover-peers/pm2-$PM2_VERSION}
PM2_RUNTIME=${PM2_RUNTIME:-$PM2_PREFIX/node_modules/.bin/pm2-runtime}
export PM2_RUNTIME

# Debian packages: the peers, and what the helpers and plots need.
PEER_PACKAGES="supervisor runit s6 nginx libnginx-mod-stream haproxy gearman-job-server
    gearman-tools libgearman-dev gnuplot-nox cmake gcc make pkg-config
    libevent-dev libinih-dev libcmocka-dev python3"

peers_log() { bench_log "$@"; }

# Install whatever is missing (PEERS_INSTALL=0: nothing; peers_present then drops what is
# not there). Debian's policy-rc.d (if any) keeps the packages' own services from
# starting; none of them is used or stopped by these scripts.
peers_install() {
    [ "${PEERS_INSTALL:-1}" = 0 ] && return 0
    local missing="" p sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    for p in $PEER_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing="$missing $p"
    done
    # Node and npm: Debian's nodejs and npm, unless a node with npm is there already
    # (a nodejs package from elsewhere bundles npm and conflicts with Debian's).
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    if [ -n "$missing" ]; then
        peers_log "apt-get install:$missing"
        $sudo apt-get update -qq >/dev/null || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            $missing >/dev/null
    fi
    if [ ! -x "$PM2_RUNTIME" ]; then
        peers_log "npm install pm2@$PM2_VERSION into $PM2_PREFIX"
        $sudo mkdir -p "$PM2_PREFIX"
        $sudo npm install --no-audit --no-fund --loglevel=error --prefix "$PM2_PREFIX" \
            "pm2@$PM2_VERSION" >/dev/null
    fi
}

# peers_present SYSTEM...: those whose programs are installed (drover's always are).
peers_present() {
    local sys need out=""
    for sys in "$@"; do
        case $sys in
        supervisord) need=supervisord ;;
        runit) need=runsvdir ;;
        s6 | s6-notify) need=s6-svscan ;;
        pm2) need=$PM2_RUNTIME ;;
        nginx) need=nginx ;;
        haproxy) need=haproxy ;;
        node-limit) need=node ;;
        gearman) need=gearmand ;;
        *) need="" ;;
        esac
        if [ -n "$need" ] && ! command -v "$need" >/dev/null 2>&1; then
            peers_log "not installed, left out: $sys"
            continue
        fi
        if [ "$sys" = gearman ] && [ ! -f /usr/include/libgearman-1.0/gearman.h ]; then
            peers_log "libgearman-dev not installed, left out: $sys"
            continue
        fi
        out="$out $sys"
    done
    echo "${out# }"
}

# Versions of everything measured, one "name version" per line.
peers_versions() {
    echo "drover $(bench_rev)"
    echo "supervisor $(supervisord --version 2>/dev/null)"
    echo "runit $(dpkg-query -W -f='${Version}' runit)"
    echo "s6 $(dpkg-query -W -f='${Version}' s6)"
    echo "pm2 $("$PM2_RUNTIME" --version 2>/dev/null | tail -1)"
    echo "node $(node --version)"
    echo "nginx $(nginx -v 2>&1 | sed 's|.*/||')"
    echo "haproxy $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')"
    echo "gearmand $(dpkg-query -W -f='${Version}' gearman-job-server)"
    echo "libgearman $(dpkg-query -W -f='${Version}' libgearman-dev)"
}

peers_machine() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    echo "$(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
}

# The 1-minute load average, for the raw lines.
load1() { cut -d' ' -f1 /proc/loadavg; }

