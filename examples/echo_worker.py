#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""A drover message-mode worker in Python, standard library only.

Requests arrive on fd 3 (DROVER_FD) framed as DROVER_FRAMING says (length:
4-byte big-endian length + body; line: one line per request). Each reply
goes back in the same framing, in the order of the requests.

    [pool:py]
    command = /usr/bin/python3 echo_worker.py
    listen  = /run/drover/py.sock
"""
import os
import struct
import sys


def requests(sock, line):
    buf = b""
    while True:
        if line:
            nl = buf.find(b"\n")
            if nl >= 0:
                req, buf = buf[:nl], buf[nl + 1:]
                yield req
                continue
        elif len(buf) >= 4:
            (n,) = struct.unpack(">I", buf[:4])
            if len(buf) >= 4 + n:
                req, buf = buf[4:4 + n], buf[4 + n:]
                yield req
                continue
        chunk = os.read(sock, 65536)
        if not chunk:
            return
        buf += chunk


def frame(body, line):
    return body + b"\n" if line else struct.pack(">I", len(body)) + body


def main():
    fd = int(os.environ.get("DROVER_FD", "3"))
    line = os.environ.get("DROVER_FRAMING") == "line"
    for req in requests(fd, line):
        reply = frame(b"py:" + req, line)
        while reply:
            reply = reply[os.write(fd, reply):]
    return 0


if __name__ == "__main__":
    sys.exit(main())
