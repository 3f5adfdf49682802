#!/bin/sh
# Regenerate the configuration reference in README.md from the key table
# (`droverd --keys`). tests/integration/t_docs_keys.sh fails when they differ.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
droverd=${1:-$here/build/bin/droverd}
python3 - "$here/README.md" "$droverd" <<'PY'
import subprocess, sys
readme, droverd = sys.argv[1], sys.argv[2]
keys = subprocess.run([droverd, "--keys"], check=True, capture_output=True, text=True).stdout
text = open(readme).read()
begin, end = "<!-- keys:begin -->", "<!-- keys:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + keys.strip("\n") + "\n" + end + tail)
PY
