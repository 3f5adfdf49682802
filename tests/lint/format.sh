#!/bin/sh
# Every C file in the tree follows the one .clang-format at its root.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -eu
cd "${SRC:?set SRC to the source tree}"
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/deps.sh --test)" >&2; exit 1; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); do
    if ! clang-format "$f" | cmp -s "$f" -; then
        echo "not formatted: $f" >&2
        bad=1
    fi
done
exit $bad
