#!/bin/sh
# Run a fuzz target once on every file of the given directories (its seed
# corpus and its regressions): the fast, deterministic check behind
# `ctest -L fuzz`. Writes nothing. Usage: replay.sh FUZZ_BINARY DIR...
set -eu
bin=$1
shift
# Keep the directories that exist.
for d in "$@"; do
    shift
    [ -d "$d" ] && set -- "$@" "$d"
done
if [ $# -eq 0 ] || [ -z "$(find "$@" -type f | head -n 1)" ]; then
    echo "replay: no inputs for $(basename "$bin")"
    exit 0
fi
# Files named one by one make libFuzzer run each exactly once, and not fuzz.
find "$@" -type f -print0 | sort -z | xargs -0 "$bin" -runs=0
