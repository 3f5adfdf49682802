#!/bin/sh
# Install what the tests need, build, and run every test: what CI runs.
#
#   1. unit and integration tests on an optimized build (gcc), then the Python
#      client's tests (pytest) against that build
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer (clang)
#   3. fuzz targets, each for a bounded time (clang, libFuzzer)
#   4. one integration pass with droverd under valgrind memcheck
#   5. the .deb package: build, lintian (no error or warning), install, verify, remove
#   6. system tests: the .deb in a Debian 12 VM with systemd as PID 1 under
#      qemu (tests/system/run.sh; the VM image is built once and cached in
#      /var/cache/drover-vm). DROVER_SYSTEM_BUDGET (default 1800 s) bounds the
#      whole stage, image build included (a fresh machine spends a few
#      minutes on debootstrap, once); DROVER_SYSTEM_TIMEOUT (default 1200 s)
#      bounds the VM's run. It never skips: no qemu is a failure.
#
# DROVER_FUZZ_SECONDS (default 60) sets the CPU time per fuzz target; the targets
# run one per CPU at a time (see tests/fuzz/run.sh).
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc)

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
./scripts/deps.sh --test --system

step "build (gcc, RelWithDebInfo) and all tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
ctest --test-dir build -L unit -j"$jobs" --output-on-failure
ctest --test-dir build -L integration --output-on-failure
ctest --test-dir build -L python --output-on-failure

step "build (clang, ASan + UBSan) and all tests"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDROVER_SANITIZE=ON
cmake --build build-asan -j"$jobs"
# Not lint.format (labelled unit and lint): it checks the sources' formatting with
# clang-format, the same files with the same result as in step 1, and runs no code
# built with the sanitizers (85-115 s on a loaded 2-CPU machine).
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build-asan -L 'unit|integration' -LE lint --output-on-failure

step "fuzz targets (clang, libFuzzer + ASan/UBSan), ${DROVER_FUZZ_SECONDS:-60}s each"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DDROVER_FUZZ=ON -DDROVER_SANITIZE=ON
cmake --build build-fuzz -j"$jobs" --target fuzz_config fuzz_proto fuzz_frame fuzz_parse fuzz_cli_reply fuzz_json
ctest --test-dir build-fuzz -L fuzz --output-on-failure
./tests/fuzz/run.sh -b build-fuzz -j "$jobs" "${DROVER_FUZZ_SECONDS:-60}"

# ---- step 4 (valgrind): integration tests with every droverd they start via
# start_daemon running under valgrind memcheck (DROVER_VALGRIND=1, see the
# "fault" block of tests/integration/lib.sh). A test fails on any memcheck
# error, or a definite leak when droverd exits. The selection covers every
# routing mode, bad input, reload, the life cycle and the fault tests that
# tolerate valgrind's ~10x slowdown (tests with tight time, throughput or RSS
# bounds are left to the native and ASan passes); DROVER_VALGRIND_TESTS (a
# ctest -R regex) overrides it. Reports are kept in build-valgrind/valgrind/.
step "integration tests with droverd under valgrind memcheck (Debug build)"
vg_tests='t_smoke|t_route_handoff|t_route_shared|t_route_timeout|t_route_bad_input|t_ctl_reload_diff|t_ctl_reload_bad|t_ctl_metrics|t_ctl_status_json|t_life_backoff_fatal|t_life_shutdown$|t_life_orphans|t_fault_log_full|t_fault_reload|t_fault_slow_reader|t_soak'
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug
cmake --build build-valgrind -j"$jobs"
rm -rf build-valgrind/valgrind
DROVER_VALGRIND=1 DROVER_VALGRIND_DIR="$PWD/build-valgrind/valgrind" \
    ctest --test-dir build-valgrind -L integration -R "${DROVER_VALGRIND_TESTS:-$vg_tests}" --output-on-failure
# ---- end of step 4 (valgrind)

step "package: build the .deb, lintian, install, verify, remove"
ctest --test-dir build -L packaging --output-on-failure

step "system tests: the .deb in a Debian 12 VM with systemd (qemu)"
timeout -k 30 "${DROVER_SYSTEM_BUDGET:-1800}" \
    ./tests/system/run.sh --timeout "${DROVER_SYSTEM_TIMEOUT:-1200}"

echo
echo "all tests passed"
