# SPDX-License-Identifier: ISC
"""Raw clients against droverd's control socket, for t_ctl_protocol_abuse.sh.

usage: control_abuse.py DROVER SOCKET PROTO_VERSION PROTO_MAX_REQUEST READ_TIMEOUT BIGPOOL RESTARTPOOL

Every case is a misbehaving client; after each one droverd must still answer
`drover status` promptly. The slow cases (half a frame, a partial header,
idle connections) run in threads for the whole run; they must be dropped
after droverd's read timeout, not before and not much later. Exits non-zero
with a message on the first broken expectation.
"""
import socket
import struct
import subprocess
import sys
import threading
import time

DROVER, SOCK = sys.argv[1], sys.argv[2]
VERSION, MAX_REQUEST = int(sys.argv[3]), int(sys.argv[4])
READ_TIMEOUT = float(sys.argv[5])
BIGPOOL, RESTARTPOOL = sys.argv[6], sys.argv[7]
COMMAND, DATA, ERROR, EXIT = 1, 2, 3, 4
# Seconds a status may take while droverd is being abused: 3 s on a quiet machine, more
# where status is slow anyway (a loaded machine): PROMPT is raised below to 20 times the
# median, and 5 times the slowest, of a few status calls made before any abuse (at load
# 15-24 one CLI call in five took several times the median, and 20 medians were not
# enough for the next spike: that was the machine, not droverd). The drop of a slow
# client after the read timeout is late by at most PROMPT too, as is any status call.
PROMPT = 3.0

failures = []


def fail(msg):
    failures.append(msg)
    print("control_abuse: FAIL: " + msg, file=sys.stderr, flush=True)


def say(msg):
    print("control_abuse: " + msg, file=sys.stderr, flush=True)


def header(length, type_=COMMAND, version=None, flags=0):
    return struct.pack(">IHBB", length, type_, VERSION if version is None else version, flags)


def command(*argv, version=None):
    payload = b"".join(a.encode() + b"\0" for a in argv)
    return header(len(payload), COMMAND, version) + payload


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s


def read_frames(s, timeout):
    """Read until EOF or timeout: (frames, got_eof, seconds)."""
    start = time.monotonic()
    buf = b""
    eof = False
    s.settimeout(0.2)
    while time.monotonic() - start < timeout:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            eof = True
            break
        if not chunk:
            eof = True
            break
        buf += chunk
    elapsed = time.monotonic() - start
    frames = []
    while len(buf) >= 8:
        length, type_, version, flags = struct.unpack(">IHBB", buf[:8])
        if len(buf) < 8 + length:
            break
        frames.append((type_, buf[8:8 + length]))
        buf = buf[8 + length:]
    return frames, eof, elapsed


def status_is_prompt(after):
    start = time.monotonic()
    try:
        r = subprocess.run([DROVER, "-s", SOCK, "status"], capture_output=True, text=True,
                           timeout=HANG)
    except subprocess.TimeoutExpired:
        fail("after %s: drover status hung for %.0fs" % (after, HANG))
        return
    took = time.monotonic() - start
    if r.returncode != 0 or BIGPOOL not in r.stdout:
        fail("after %s: drover status exited %d: %s" % (after, r.returncode, r.stderr))
    elif took > PROMPT:
        fail("after %s: drover status took %.2fs" % (after, took))


def expect_closed(name, data, want_exit=None, want_error=(), may_refuse=False):
    """Send data on a fresh connection; droverd must close it soon, never run it.

    want_exit: the exit status droverd must answer with (None: no answer at
    all, just the close); may_refuse: an answer of exit status 1 is fine too.
    """
    s = connect()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    frames, eof, took = read_frames(s, 3.0)
    s.close()
    if not eof:
        fail("%s: connection still open after %.1fs" % (name, took))
    exits = [p[0] for t, p in frames if t == EXIT and p]
    errors = b"".join(p for t, p in frames if t == ERROR).decode(errors="replace")
    if any(t == DATA for t, p in frames):
        fail("%s: got DATA, as if a command ran: %r" % (name, frames))
    if want_exit is None and exits and not (may_refuse and exits == [1]):
        fail("%s: expected the connection to be dropped, got exit status %s" % (name, exits))
    if want_exit is not None and exits != [want_exit]:
        fail("%s: expected exit status %d, got %s (frames %r)" % (name, want_exit, exits, frames))
    for w in want_error:
        if w not in errors:
            fail("%s: error %r does not mention %r" % (name, errors, w))
    status_is_prompt(name)
    say("done: " + name)


# ---- how long a status takes here before any abuse --------------------------------
def status_time():
    start = time.monotonic()
    r = subprocess.run([DROVER, "-s", SOCK, "status"], capture_output=True, timeout=30)
    if r.returncode != 0:
        fail("drover status exited %d: %s" % (r.returncode, r.stderr))
    return time.monotonic() - start


times = sorted(status_time() for _ in range(5))
baseline = times[2]
PROMPT = max(PROMPT, 20 * baseline, 5 * times[-1])
HANG = max(10.0, 2 * PROMPT)
say("status before any abuse: median %.0f ms, slowest %.0f ms; a status may take %.1f s during it"
    % (baseline * 1000, times[-1] * 1000, PROMPT))

# ---- slow clients, running throughout -----------------------------------------
slow_results = {}


def slow_client(name, data):
    s = connect()
    if data:
        s.sendall(data)
    frames, eof, took = read_frames(s, READ_TIMEOUT + max(8, PROMPT + 3))
    s.close()
    slow_results[name] = (frames, eof, took)


slow = [("half a frame", header(100) + b"status\0\0\0\0"),
        ("three bytes of a header", b"\0\0\0")]
slow += [("idle client %d" % i, b"") for i in range(50)]
threads = [threading.Thread(target=slow_client, args=c) for c in slow]
slow_start = time.monotonic()
for t in threads:
    t.start()
time.sleep(0.2)  # let them connect before measuring anything else
status_is_prompt("50 idle clients connected")

# ---- malformed frames ----------------------------------------------------------
# Read as a header, garbage has some version byte: a version error is a fine answer.
expect_closed("garbage bytes", b"\xde\xad\xbe\xef garbage that is no frame at all \x00\xff" * 4,
              may_refuse=True)
expect_closed("an HTTP request", b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", may_refuse=True)
expect_closed("garbage with this version's byte", b"\xff\xff\xff\xff\x00\x01" + bytes([VERSION, 0]) + b"junk" * 64)
expect_closed("wrong protocol version", command("status", version=VERSION + 98), want_exit=1,
              want_error=("version %d" % (VERSION + 98), "speaks %d" % VERSION))
expect_closed("oversized frame (limit + 1)", header(MAX_REQUEST + 1) + b"status\0")
expect_closed("oversized frame (4 GiB)", header(0xFFFFFFFF) + b"x" * 4096)
expect_closed("wrong message type", header(7, type_=DATA) + b"status\0")
expect_closed("unknown flags", header(7, flags=0x80) + b"status\0")
expect_closed("empty command", header(0))
expect_closed("payload without its NUL", header(6) + b"status")
expect_closed("65 arguments", command(*(["status"] + ["x"] * 64)))
expect_closed("an argument of 5000 bytes", command("status", "p" * 5000))
expect_closed("unknown verb", command("frobnicate"), want_exit=2, want_error=("unknown verb",))
expect_closed("unknown option", command("status", "--frob"), want_exit=2,
              want_error=("unknown option",))

# ---- a well-behaved but slow client still gets its answer ----------------------
s = connect()
for b in command("status", BIGPOOL):
    s.sendall(bytes([b]))
    time.sleep(0.02)
frames, eof, took = read_frames(s, 5)
s.close()
if not eof or [p[0] for t, p in frames if t == EXIT] != [0] or \
        BIGPOOL.encode() not in b"".join(p for t, p in frames if t == DATA):
    fail("a client sending its command byte by byte got %r" % frames)
say("done: slow but complete command")

# ---- a client that half-closes after its command still gets the answer ---------
# (like `printf ... | socat - UNIX:...`): it has said all it will say, it is not gone.
for args in (("status", BIGPOOL), ("restart", RESTARTPOOL)):
    s = connect()
    s.sendall(command(*args))
    s.shutdown(socket.SHUT_WR)
    frames, eof, took = read_frames(s, 10)
    s.close()
    exits = [p[0] for t, p in frames if t == EXIT and p]
    if exits != [0]:
        fail("half-closed client running %r: expected exit status 0, got %s after %.1fs (%d frames)"
             % (" ".join(args), exits, took, len(frames)))
    status_is_prompt("a half-closed client")
say("done: half-closed clients")

# ---- 50 clients that ask for a lot and never read ------------------------------
hogs = []
for i in range(50):
    h = connect()
    h.sendall(command("logs", BIGPOOL, "-n", "100000"))
    hogs.append(h)
# droverd first builds the 50 replies (66 MB of log: seconds of CPU at load 15-18 on a
# 2-CPU VM, during which a status waits its turn: measured 5.9 s there). Wait until it
# sits on them (a first status answers, within HANG), then time the next one: holding
# unread replies must not slow droverd. A sleep of 0.5 s here timed the building on a
# loaded machine instead.
time.sleep(0.5)
status_time()
status_is_prompt("50 clients that never read")
r = subprocess.run([DROVER, "-s", SOCK, "logs", BIGPOOL, "-n", "3"], capture_output=True,
                   text=True, timeout=HANG)
if r.returncode != 0 or len(r.stdout.splitlines()) != 3:
    fail("logs -n 3 next to 50 stuck readers: exit %d, %r" % (r.returncode, r.stdout))
# One of them reads after all: it gets the whole reply.
frames, eof, took = read_frames(hogs[0], HANG)
data = b"".join(p for t, p in frames if t == DATA)
if not eof or [p[0] for t, p in frames if t == EXIT] != [0] or data.count(b"\n") < 1000:
    fail("a slow reader got %d lines, exit %r, eof %s" % (data.count(b"\n"),
         [p for t, p in frames if t == EXIT], eof))
for h in hogs:
    h.close()
status_is_prompt("50 readers went away")
say("done: clients that never read")

# ---- the slow clients are dropped after the read timeout -----------------------
for t in threads:
    t.join(READ_TIMEOUT + 15 + PROMPT)
for name, _ in slow:
    if name not in slow_results:
        fail("%s: no result" % name)
        continue
    frames, eof, took = slow_results[name]
    if not eof:
        fail("%s: still connected after %.1fs" % (name, took))
    elif took < READ_TIMEOUT - 1.5 or took > READ_TIMEOUT + max(5, PROMPT):
        fail("%s: dropped after %.1fs, expected about %.0fs" % (name, took, READ_TIMEOUT))
    if any(t == EXIT for t, p in frames) or any(t == DATA for t, p in frames):
        fail("%s: got a reply %r" % (name, frames))
status_is_prompt("slow clients were dropped")
say("done: slow clients dropped after %.1fs" % (time.monotonic() - slow_start))

sys.exit(1 if failures else 0)
