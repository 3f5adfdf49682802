#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""abuse-client: the hostile clients of issue 15's memory budget, for
tests/integration/t_route_memory_budget.sh and bench/memory.sh.

C connections to a message-mode pool (length framing) pipeline SIZE-byte
requests for SECS seconds and read none of the replies: each writes as
long as droverd reads it. Then it writes PHASE1_FILE and, with --go FILE,
waits for that file (the caller measures droverd meanwhile). After that the
first --hangup N connections close without reading (their requests must
not reach a worker), and the others finish their last request and read
every reply, each of which must be '+' and the request's own body, in
order. Prints one JSON line: sent (whole requests), sent_live, sent_dead,
ok, bad (wrong status, body or order), missing (never answered).
Exit 0 when every request of a live connection was answered correctly.
"""
import argparse
import json
import os
import selectors
import socket
import struct
import sys
import time


def body(conn, seq, size):
    head = b"c%d-r%d-" % (conn, seq)
    return head + b"x" * max(0, size - len(head))


class Conn:
    def __init__(self, i, path, size):
        self.i = i
        self.size = size
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.setblocking(False)
        self.seq = 0          # requests begun
        self.out = b""        # rest of the request being written
        self.inbuf = bytearray()
        self.answered = 0
        self.bad = 0

    def whole_sent(self):
        return self.seq - (1 if self.out else 0)

    def write_some(self):
        while True:
            if not self.out:
                b = body(self.i, self.seq, self.size)
                self.out = struct.pack(">I", len(b)) + b
                self.seq += 1
            try:
                n = self.s.send(self.out)
            except BlockingIOError:
                return
            self.out = self.out[n:]
            if self.out:
                return

    def finish(self):
        """Write the rest of the request begun (no new one)."""
        if not self.out:
            return True
        try:
            n = self.s.send(self.out)
        except BlockingIOError:
            return False
        self.out = self.out[n:]
        return not self.out

    def read_some(self):
        try:
            data = self.s.recv(1 << 20)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.inbuf += data
        while len(self.inbuf) >= 4:
            (n,) = struct.unpack(">I", self.inbuf[:4])
            if len(self.inbuf) < 4 + n:
                break
            frame = bytes(self.inbuf[4:4 + n])
            del self.inbuf[:4 + n]
            want = body(self.i, self.answered, self.size)
            if frame[:1] != b"+" or frame[1:] != want:
                self.bad += 1
            self.answered += 1
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-s", "--socket", required=True)
    ap.add_argument("-c", "--conns", type=int, default=40)
    ap.add_argument("-z", "--size", type=int, default=65536)
    ap.add_argument("-t", "--secs", type=float, default=3.0)
    ap.add_argument("--hangup", type=int, default=0)
    ap.add_argument("--phase1-file")
    ap.add_argument("--go")
    ap.add_argument("-d", "--deadline", type=float, default=120.0)
    a = ap.parse_args()

    conns = [Conn(i, a.socket, a.size) for i in range(a.conns)]
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.s, selectors.EVENT_WRITE, c)
    end = time.monotonic() + a.secs
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
            key.data.write_some()
    if a.phase1_file:
        with open(a.phase1_file + ".tmp", "w") as f:
            json.dump({"sent": sum(c.whole_sent() for c in conns)}, f)
        os.rename(a.phase1_file + ".tmp", a.phase1_file)
    if a.go:
        while not os.path.exists(a.go):
            time.sleep(0.02)

    dead, live = conns[:a.hangup], conns[a.hangup:]
    for c in dead:
        sel.unregister(c.s)
        c.s.close()
    for c in live:
        sel.modify(c.s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    stop = time.monotonic() + a.deadline
    pending = set(c.i for c in live)
    while pending and time.monotonic() < stop:
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            if ev & selectors.EVENT_WRITE and c.finish():
                sel.modify(c.s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ and not c.read_some():
                sel.unregister(c.s)
                pending.discard(c.i)
                continue
            if not c.out and c.answered >= c.seq:
                sel.unregister(c.s)
                pending.discard(c.i)
    res = {
        "sent": sum(c.seq for c in live) + sum(c.whole_sent() for c in dead),
        "sent_live": sum(c.seq for c in live),
        "sent_dead": sum(c.whole_sent() for c in dead),
        "ok": sum(c.answered - c.bad for c in live),
        "bad": sum(c.bad for c in live),
        "missing": sum(max(0, c.seq - c.answered) for c in live),
    }
    for c in live:
        c.s.close()
    print(json.dumps(res))
    return 0 if res["bad"] == 0 and res["missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
