#!/bin/bash
# The README's configuration reference is exactly what the key table says.
. "$(dirname "$0")/lib.sh"
expected=$("$DROVERD" --keys | sed '/^$/d')
actual=$(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$SRC/README.md" | sed '1d;$d' | sed '/^$/d')
[ "$expected" = "$actual" ] || {
    diff <(echo "$expected") <(echo "$actual") >&2
    fail "README.md's key reference is stale: run scripts/update-docs.sh"
}
