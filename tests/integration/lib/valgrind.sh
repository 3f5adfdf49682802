#!/bin/bash
# SPDX-License-Identifier: ISC
# DROVER_VALGRIND=1 (lib.sh loads this file then) runs every droverd that start_daemon
# starts under valgrind memcheck; scripts/test.sh does this for one integration pass. The
# test then also fails when valgrind reports any error, or a definite leak at droverd's
# exit. DROVER_VALGRIND_DIR (optional) keeps a copy of every report.

start_daemon() {
    valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite \
        --child-silent-after-fork=yes --track-origins=yes --num-callers=30 \
        --log-file="$T/valgrind.%p.log" \
        "$DROVERD" -c "${1:-$CONF}" >"$T/droverd.log" 2>&1 &
    DAEMON_PID=$!
    wait_for 60 "droverd (under valgrind) to answer on $SOCK" dv status
}

# valgrind_check: stop droverd gracefully (so valgrind sees a normal exit and checks
# for leaks), then read every report of this test.
valgrind_check() {
    local f bad=0 errs
    if ! stop_daemon 60; then
        log "valgrind: droverd did not exit within 60 s of SIGTERM"
        bad=1
    fi
    for f in "$T"/valgrind.*.log; do
        [ -f "$f" ] || continue
        [ -n "${DROVER_VALGRIND_DIR:-}" ] && mkdir -p "$DROVER_VALGRIND_DIR" &&
            cp "$f" "$DROVER_VALGRIND_DIR/$TEST_NAME.$(basename "$f")"
        errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
        if [ -z "$errs" ]; then
            # valgrind writes its summary on every exit but SIGKILL (a crash gets one too):
            # the test killed droverd on purpose.
            log "valgrind: $(basename "$f"): not checked: droverd was killed with SIGKILL"
        elif [ "$errs" != 0 ] || grep -q 'definitely lost: [1-9]' "$f"; then
            log "valgrind: $(basename "$f"): $errs errors"
            grep -E '^==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|.*definitely lost|   (at|by) )' "$f" | head -n 60 >&2
            bad=1
        else
            log "valgrind: $(basename "$f"): clean ($(grep -o 'definitely lost: [0-9,]* bytes' "$f" || echo 'no leaks'))"
        fi
    done
    return $bad
}

# Check the reports first (the daemon still runs), then the test's on_exit commands and
# the harness's cleanup.
_valgrind_exit() {
    local rc=$?
    valgrind_check || { log "FAIL: valgrind found problems in droverd"; [ "$rc" = 0 ] && rc=1; }
    (exit $rc)
    cleanup
}
trap _valgrind_exit EXIT
