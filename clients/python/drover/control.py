# SPDX-License-Identifier: ISC
"""The control socket, as far as clients need it: ask droverd where a pool's
work socket is and how it frames (what ``drover call`` does).

Wire format (docs/protocol.md, "Control protocol"): an 8-byte header
(u32 length, u16 type, u8 version 1, u8 flags 0) and a payload. The client
sends one COMMAND (``call\\0POOL\\0``); droverd answers DATA and ERROR
messages, then EXIT with a one-byte status, and closes.
"""
import os
import socket
import struct
import time
from collections import namedtuple

from .errors import CallTimeout, DroverError, ProtocolError

PROTO_VERSION = 1
COMMAND, DATA, ERROR, EXIT = 1, 2, 3, 4
_HDR = struct.Struct(">IHBB")
_MAX_PAYLOAD = 1 << 20
# The most of one answer (DATA and ERROR together) command() keeps unless told
# otherwise: the answer to 'call' is a few lines (a verb with long output, such
# as 'logs', needs a larger limit).
_MAX_ANSWER = 1 << 20

PoolInfo = namedtuple("PoolInfo", "listen framing max_frame")
PoolInfo.__doc__ = """Where and how a message-mode pool takes work.

listen: the pool's listen spec (a Unix socket path or tcp:HOST:PORT);
framing: 'length' or 'line'; max_frame: the largest request body in bytes,
or None when droverd does not say (droverds before the third line)."""


class ControlError(DroverError):
    """droverd refused the control command (``status`` is its exit status,
    ``text`` what it wrote for stderr)."""

    def __init__(self, status, text):
        self.status = status
        self.text = text
        super().__init__(text.strip() or "droverd answered exit status %d" % status)


def default_control_socket():
    """As the drover CLI: $DROVER_SOCKET, else /run/drover/drover.sock as
    root, else $XDG_RUNTIME_DIR/drover.sock."""
    env = os.environ.get("DROVER_SOCKET")
    if env:
        return env
    if os.geteuid() == 0:
        return "/run/drover/drover.sock"
    run = os.environ.get("XDG_RUNTIME_DIR") or "/run/user/%d" % os.getuid()
    return os.path.join(run, "drover.sock")


def _left(end):
    """Seconds until the deadline ``end`` (None: no deadline); socket.timeout
    once it has passed."""
    if end is None:
        return None
    left = end - time.monotonic()
    if left <= 0:
        raise socket.timeout("timed out")
    return left


def _read_exact(sock, n, end):
    buf = bytearray()
    while len(buf) < n:
        sock.settimeout(_left(end))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def command(argv, control_socket=None, timeout=10.0, limit=_MAX_ANSWER):
    """Run one control verb; return (exit_status, stdout_bytes, stderr_bytes).

    ``timeout`` bounds the whole exchange (connect, command, every message of
    the answer), not each read: past it, CallTimeout. An answer of more than
    ``limit`` bytes (DATA and ERROR together, default 1 MiB) raises
    ProtocolError.
    """
    path = control_socket or default_control_socket()
    payload = b"".join(a.encode() + b"\0" for a in argv)
    end = None if timeout is None else time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.settimeout(timeout)
            s.connect(path)
            s.settimeout(_left(end))  # sendall: for all of it, not for each part
            s.sendall(_HDR.pack(len(payload), COMMAND, PROTO_VERSION, 0) + payload)
            return _read_answer(s, end, limit, argv[0] if argv else "")
        except socket.timeout:
            raise CallTimeout("no answer from droverd on %s within %gs"
                              % (path, timeout)) from None


def _read_answer(s, end, limit, verb):
    out, err = bytearray(), bytearray()
    while True:
        hdr = _read_exact(s, _HDR.size, end)
        if hdr is None:
            raise ProtocolError("droverd closed the control connection without an answer")
        length, mtype, _version, _flags = _HDR.unpack(hdr)
        if length > _MAX_PAYLOAD:
            raise ProtocolError("control message of %d bytes" % length)
        if mtype in (DATA, ERROR) and len(out) + len(err) + length > limit:
            raise ProtocolError("droverd's answer to '%s' is over %d bytes" % (verb, limit))
        body = _read_exact(s, length, end) if length else b""
        if body is None:
            raise ProtocolError("droverd closed the control connection mid-message")
        if mtype == DATA:
            out += body
        elif mtype == ERROR:
            err += body
        elif mtype == EXIT:
            if len(body) != 1:
                raise ProtocolError("EXIT message of %d bytes" % len(body))
            return body[0], bytes(out), bytes(err)
        else:
            raise ProtocolError("control message of unknown type %d" % mtype)


def parse_call_info(data):
    """Parse droverd's answer to ``call POOL``, as proto_call_info_unpack()
    in common/proto.c: line 1 the listen spec, line 2 the framing, line 3
    (newer droverds) max_frame in bytes; later lines are ignored. An answer
    without the framing line means 'length', one without max_frame an
    unknown limit (None)."""
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no other
    if not lines or not lines[0]:
        raise ProtocolError("unexpected answer to 'call' (no listen socket): %r" % data[:200])
    framing = "length"
    if len(lines) >= 2:
        framing = lines[1]
        if framing not in ("length", "line"):
            raise ProtocolError("unexpected framing in the answer to 'call': %r" % data[:200])
    max_frame = None
    if len(lines) >= 3 and lines[2].strip():
        try:
            max_frame = int(lines[2].strip())
        except ValueError:
            raise ProtocolError("unexpected max_frame in the answer to 'call': %r" % lines[2])
    return PoolInfo(lines[0], framing, max_frame)


def pool_info(pool, control_socket=None, timeout=10.0):
    """Ask droverd for a message-mode pool's work socket, framing and max_frame.

    ``timeout``: seconds for the whole exchange with droverd (CallTimeout
    past it; None waits for ever).
    """
    status, out, err = command(["call", pool], control_socket, timeout)
    if status != 0:
        raise ControlError(status, err.decode("utf-8", "replace"))
    return parse_call_info(out)
