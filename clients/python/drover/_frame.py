# SPDX-License-Identifier: ISC
"""Work framing (docs/protocol.md, "Message mode"): encoders and incremental
decoders, shared by the clients and the worker runtime. Pure: no I/O."""
import struct

from .errors import ProtocolError

LENGTH = "length"
LINE = "line"
FRAMINGS = (LENGTH, LINE)

# What a client accepts from droverd when the pool's max_frame is not known
# (the drover CLI's own bound).
DEFAULT_REPLY_LIMIT = 256 << 20

_HDR = struct.Struct(">I")


def check_framing(framing):
    if framing not in FRAMINGS:
        raise ValueError("framing must be 'length' or 'line', not %r" % (framing,))
    return framing


def encode(framing, body, max_frame=None):
    """One frame of ``body`` (bytes-like) in ``framing``.

    Raises ValueError for a body droverd would refuse (longer than
    max_frame, or a newline in a line-framed body), before anything is sent.
    """
    body = bytes(body)
    if max_frame is not None and len(body) > max_frame:
        raise ValueError("request of %d bytes is larger than the pool's max_frame (%d)"
                         % (len(body), max_frame))
    if framing == LINE:
        if b"\n" in body:
            raise ValueError("the pool uses framing = line: a request cannot contain a newline")
        return body + b"\n"
    return _HDR.pack(len(body)) + body


class Decoder:
    """Splits a byte stream into frame bodies.

    feed(data) appends bytes; frames() returns the complete bodies so far.
    A frame longer than ``limit`` raises ProtocolError.
    """

    def __init__(self, framing, limit=DEFAULT_REPLY_LIMIT):
        self.line = check_framing(framing) == LINE
        self.limit = limit
        self.buf = bytearray()
        self.pos = 0

    def feed(self, data):
        self.buf += data

    def pending(self):
        """Bytes received that are not part of a complete frame yet."""
        return len(self.buf) - self.pos

    def frames(self):
        out = []
        buf, pos = self.buf, self.pos
        end = len(buf)
        if self.line:
            while True:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    if end - pos > self.limit:
                        raise ProtocolError("a line of more than %d bytes without a newline"
                                            % self.limit)
                    break
                if nl - pos > self.limit:
                    raise ProtocolError("a line of %d bytes (limit %d)" % (nl - pos, self.limit))
                out.append(bytes(buf[pos:nl]))
                pos = nl + 1
        else:
            while end - pos >= 4:
                (n,) = _HDR.unpack_from(buf, pos)
                if n > self.limit:
                    raise ProtocolError("frame length %d is over the limit of %d bytes"
                                        % (n, self.limit))
                if end - pos - 4 < n:
                    break
                out.append(bytes(buf[pos + 4:pos + 4 + n]))
                pos += 4 + n
        # Compact now and then, not on every frame.
        if pos > 65536 or pos == end:
            del buf[:pos]
            pos = 0
        self.pos = pos
        return out


def parse_reply(body):
    """(True, payload) for a '+' reply, (False, text) for a '-' error.

    Anything else (an empty body, another status byte) is a ProtocolError.
    """
    if not body:
        raise ProtocolError("empty reply frame (no status byte)")
    status = body[0]
    if status == 0x2B:  # '+'
        return True, body[1:]
    if status == 0x2D:  # '-'
        return False, body[1:].decode("utf-8", "replace")
    raise ProtocolError("reply with unknown status byte 0x%02x" % status)
