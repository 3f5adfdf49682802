#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""examples/echo_worker.py's work on a listening socket of its own, for the Python rows
of bench/route.sh: the no-router limit (clients split across two of these) and nginx's
backends, beside drover routing to examples/echo_worker.py itself.

    echo_listen.py --listen PATH

Every connection is served as echo_worker.py serves its one: length frames (4-byte
big-endian length + body), each reply b"py:" + body in one write, in order. The
connections are multiplexed with selectors (epoll), as a Python server facing several
clients or nginx's upstream connections must be; standard library only.
"""
import os
import selectors
import socket
import struct
import sys


def serve(conn, buf):
    """Answer every whole request in buf; return what is left (the start of one)."""
    while len(buf) >= 4:
        (n,) = struct.unpack(">I", buf[:4])
        if len(buf) < 4 + n:
            break
        req, buf = buf[4:4 + n], buf[4 + n:]
        conn.sendall(struct.pack(">I", len(req) + 3) + b"py:" + req)
    return buf


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "--listen":
        print("usage: echo_listen.py --listen PATH", file=sys.stderr)
        return 2
    path = sys.argv[2]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4096)
    srv.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    pending = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    conn, _ = srv.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)  # replies are written whole, as echo_worker.py does
                pending[conn.fileno()] = b""
                sel.register(conn, selectors.EVENT_READ, conn)
                continue
            conn = key.data
            try:
                chunk = conn.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(conn)
                del pending[conn.fileno()]
                conn.close()
                continue
            try:
                pending[conn.fileno()] = serve(conn, pending[conn.fileno()] + chunk)
            except OSError:
                sel.unregister(conn)
                del pending[conn.fileno()]
                conn.close()


if __name__ == "__main__":
    sys.exit(main())
