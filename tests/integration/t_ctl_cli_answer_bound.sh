#!/bin/bash
# The CLI bounds what it keeps of droverd's answer to `call` (where the
# pool's socket is: a few lines), in all and not only per message: a control
# socket that answers with endless DATA messages gets a clear error and exit
# 1, not a CLI that grows without end. Served by a fake droverd.
. "$(dirname "$0")/lib.sh"

"$PYTHON" - "$T/fake.sock" "$T/fake.ready" <<'PY' &
import os, socket, struct, sys
HDR = struct.Struct(">IHBB")
srv = socket.socket(socket.AF_UNIX); srv.bind(sys.argv[1]); srv.listen(1)
open(sys.argv[2], "w").close()
srv.settimeout(30)
c, _ = srv.accept()
c.settimeout(30)
length = HDR.unpack(c.recv(HDR.size, socket.MSG_WAITALL))[0]
c.recv(length, socket.MSG_WAITALL)
chunk = HDR.pack(512 * 1024, 2, 1, 0) + b"x" * (512 * 1024)
try:
    for _ in range(64):              # 32 MiB of DATA, then EXIT 0
        c.sendall(chunk)
    c.sendall(HDR.pack(1, 4, 1, 0) + b"\0")
except OSError:
    pass                             # the CLI gave up: what is asked
PY
fake=$!
wait_for 10 "the fake droverd" test -e "$T/fake.ready"
rc=0
err=$("$DROVER" -s "$T/fake.sock" call p hello 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" 1 "exit status of call against an endless answer"
assert_contains "$err" "bad reply from droverd: an answer of over 1048576 bytes"
wait "$fake" 2>/dev/null
finish_checks
