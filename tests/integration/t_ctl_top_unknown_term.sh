#!/bin/bash
# SPDX-License-Identifier: ISC
# drover top on a terminal whose TERM terminfo does not know (a newer
# terminal's own TERM over ssh to an older host: xterm-kitty, alacritty)
# prints its plain tables, as without TERM, and says why once; it exited 1
# with ncurses' "Error opening terminal".
. "$(dirname "$0")/lib.sh"

write_config <<EOF2
[pool:other]
command = /bin/sleep 1000
workers = 1
EOF2
start_daemon
wait_for 10 "other running" pool_running other 1

# On a pseudo-terminal of 80x24 with TERM=no-such-terminal: exit status, then everything printed.
python3 - "$DROVER" "$SOCK" >"$T/top.out" <<'PY' || fail "top on an unknown terminal: $(cat -v "$T/top.out")"
import fcntl, os, pty, select, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "no-such-terminal"
    os.execv(sys.argv[1], [sys.argv[1], "-s", sys.argv[2], "top", "-n", "2", "-d", "0.2"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
out, deadline = b"", time.time() + 20
while time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
_, status = os.waitpid(pid, 0)
print("exit", os.waitstatus_to_exitcode(status))
sys.stdout.write(out.decode(errors="replace"))
PY
grep -q '^exit 0' "$T/top.out" || fail "top on an unknown terminal did not exit 0: $(cat -v "$T/top.out")"
n=$(grep -c '^drover top: 1 pool, 1 worker' "$T/top.out")
[ "$n" = 2 ] || fail "top -n 2 on an unknown terminal printed $n frames: $(cat -v "$T/top.out")"
grep -q "terminal 'no-such-terminal' unknown to terminfo" "$T/top.out" || fail "top did not say why: $(cat -v "$T/top.out")"
log "ok"
