#!/bin/sh
# Run the Python client's pytest files (all, or those named) against the droverd
# of a build: DROVER_BUILD (default build/ at the top of the tree).
#
# The interpreter is $DROVER_PYTHON, else the first of python3, /usr/bin/python3
# that has pytest (Debian's python3-pytest: scripts/deps.sh --test). pytest's
# exit status 5 (no tests collected) is a failure here, not a pass.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${DROVER_BUILD:=$here/../../build}"
export DROVER_BUILD
export PYTHONDONTWRITEBYTECODE=1

py=${DROVER_PYTHON:-}
if [ -z "$py" ]; then
    for c in python3 /usr/bin/python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import pytest' 2>/dev/null; then
            py=$c
            break
        fi
    done
fi
if [ -z "$py" ]; then
    echo "tests/python: no python3 with pytest (install python3-pytest: scripts/deps.sh --test)" >&2
    exit 1
fi
cd "$here" || exit 1
[ $# -gt 0 ] || set -- test_*.py
"$py" -m pytest -p no:cacheprovider -q -rfE "$@"
rc=$?
if [ $rc -eq 5 ]; then
    echo "tests/python: pytest collected no tests from: $*" >&2
    exit 1
fi
exit $rc
