# SPDX-License-Identifier: ISC
"""drover.Client: a blocking client of a message-mode pool.

One Client is one connection to the pool's work socket (opened on first use,
re-opened after it dropped). Requests may be pipelined (call_many); replies
come back in order. A lock serialises the calls of threads sharing one Client,
so sharing is safe but not parallel: give each thread its own Client, or use
call_many, or drover.Executor, to keep several requests in flight.

Retry rules (what this client does on its own, and what is left to you):

- A connection found closed *before* a request was written (droverd restarted
  while the client was idle) is re-opened and the request sent on the new one.
- A request of which any byte was written when the connection dropped is never
  re-sent: it may have been answered. It fails with ConnectionLost; retry it
  yourself only if the work is idempotent.
- Busy: the request never reached a worker; always safe to retry, later.
- TooBig: the request was larger than the pool's max_frame (a client not
  told the limit sends it). droverd answers the requests before it, then
  this, and closes without reading the rest: the requests pipelined after it
  are sent again on a new connection.
- Failed / Timeout: droverd already delivered it max_attempts times (a worker
  may have carried it out partly or wholly); retry only idempotent work.
- CallTimeout: the client's own deadline; the connection is closed and the
  request may still be carried out.
"""
import os
import selectors
import ssl
import threading
import time
import weakref

from . import _address, _frame, envelope
from .control import pool_info
from .errors import CallTimeout, ConnectionLost, ProtocolError, TooBig, server_error

_SEND_CHUNK = 256 * 1024
_RECV_CHUNK = 256 * 1024
# droverd reads at most 256 unanswered requests of one connection.
MAX_WINDOW = 256

# Every Client: in a child after fork, each lets go of the connection it
# shares with the parent (both would read each other's replies).
_clients = weakref.WeakSet()


def _after_fork_in_child():
    for c in list(_clients):
        c._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Settings:
    """What the blocking and the asyncio clients are configured with."""

    def __init__(self, address, *, framing="length", max_frame=None, timeout=None,
                 connect_timeout=10.0, ssl_context=None, server_hostname=None, codec=None):
        self.address = address
        self._addr = _address.parse(address)
        self.framing = _frame.check_framing(framing)
        self.max_frame = max_frame
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.codec = None if codec is None else envelope.check_codec(codec)

    def _reply_limit(self):
        if self.max_frame is None:
            return _frame.DEFAULT_REPLY_LIMIT
        return self.max_frame + 1  # the status byte


class Client(_Settings):
    """A connection to a message-mode pool.

    address: the pool's ``listen`` (a Unix socket path, or ``tcp:HOST:PORT``).
    framing: 'length' (default) or 'line'; use Client.for_pool to learn it,
    and max_frame, from droverd. timeout: seconds for a whole reply, from
    sending the request (None: forever); bytes trickling in do not extend it.
    ssl_context: an ssl.SSLContext to speak TLS on a tcp: address
    (with a client certificate loaded, for pools that require one).
    codec: None (default) sends and returns bytes as they are, for any
    worker; 'raw', 'json' or 'pickle' speak drover's envelope to a pool of
    ``python3 -m drover.worker MODULE:FUNCTION``: call(value) returns the
    function's result, or raises what it raised (RemoteError, or the
    exception itself with pickle).
    """

    def __init__(self, address, **settings):
        super().__init__(address, **settings)
        self._sock = None
        self._decoder = None
        self._lock = threading.Lock()
        self._closed = False
        _clients.add(self)

    @classmethod
    def for_pool(cls, pool, *, control_socket=None, **kwargs):
        """A Client for pool POOL of the droverd on control_socket (default as
        the drover CLI: $DROVER_SOCKET, ...): its address, framing and
        max_frame come from droverd, as for ``drover call``."""
        info = pool_info(pool, control_socket)
        kwargs.setdefault("framing", info.framing)
        kwargs.setdefault("max_frame", info.max_frame)
        return cls(info.listen, **kwargs)

    # -- connection --------------------------------------------------------

    def connect(self):
        """Open the connection now (calls open it on demand)."""
        with self._lock:
            self._ensure_connected()

    def close(self):
        with self._lock:
            self._closed = True
            self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _after_fork(self):
        # The lock may have been held by a thread the child does not have;
        # closing the child's copy of the socket leaves the parent's open.
        self._lock = threading.Lock()
        self._drop()

    def _drop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._decoder = None

    def _ensure_connected(self):
        if self._closed:
            raise ValueError("the client is closed")
        if self._sock is not None and not self._still_open():
            self._drop()
        if self._sock is None:
            s = _address.connect(self._addr, self.connect_timeout, self.ssl_context,
                                 self.server_hostname)
            s.setblocking(False)
            self._sock = s
            self._decoder = _frame.Decoder(self.framing, self._reply_limit())

    def _still_open(self):
        """With nothing in flight: has the peer closed the connection? (Then a
        new one is opened; nothing is lost.) Bytes arriving unasked are a
        protocol error."""
        s = self._sock
        try:
            data = s.recv(1)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return True
        except OSError:
            return False
        if not data:
            return False
        self._drop()
        raise ProtocolError("droverd sent %r with no request outstanding" % data)

    # -- calls -------------------------------------------------------------

    def call(self, data, timeout=None):
        """Send one request (bytes); return the worker's reply (bytes).

        Raises Busy, Failed, Timeout (droverd's answers), CallTimeout (the
        whole reply not in within timeout seconds of sending, default
        self.timeout), ConnectionLost, ProtocolError, or OSError when the
        pool cannot be reached.
        """
        return self.call_many([data], window=1, timeout=timeout)[0]

    def call_many(self, requests, window=64, timeout=None, return_exceptions=False):
        """Send requests pipelined, at most ``window`` unanswered at a time;
        return the replies in order.

        With return_exceptions=False the first error reply raises (the
        remaining replies are still read, so the connection stays usable);
        with True, errors (Busy, Failed, Timeout, ServerError, ConnectionLost)
        take the place of replies in the list. ``timeout`` bounds the wait for
        each next reply: it must be in whole within timeout seconds of the
        previous one (of the start, for the first), however its bytes trickle.
        """
        if not 1 <= window <= MAX_WINDOW:
            raise ValueError("window must be 1..%d" % MAX_WINDOW)
        if timeout is None:
            timeout = self.timeout
        if self.codec is not None:
            requests = [envelope.encode_request(self.codec, envelope.KIND_CALL, r)
                        for r in requests]
        frames = [_frame.encode(self.framing, r, self.max_frame) for r in requests]
        results = [None] * len(frames)
        with self._lock:
            done, stuck = 0, 0
            while done < len(frames):
                self._ensure_connected()
                before = done
                done = self._exchange(frames, done, results, window, timeout)
                # A peer that closes every new connection before taking a byte.
                stuck = stuck + 1 if done == before else 0
                if stuck >= 3:
                    raise ConnectionLost("%s closes every connection" % self.address)
        if self.codec is not None:
            results = [r if isinstance(r, BaseException) else _decode(self.codec, r)
                       for r in results]
        if not return_exceptions:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        return results

    def _exchange(self, frames, start, results, window, timeout):
        """Pipeline frames[start:] on the current connection; fill results.

        Returns the index of the first frame not sent when the connection
        dropped before any byte of it went out (the caller reconnects and goes
        on from there), or len(frames) when all have an outcome.
        """
        sock, dec = self._sock, self._decoder
        total = len(frames)
        next_send = start   # next frame to append to the output buffer
        next_reply = start  # next frame whose reply we wait for
        out = bytearray()
        sent_upto = start   # frames[start:sent_upto] have had bytes written
        # Frame boundaries within `out`, for knowing which frames have begun.
        bounds = []
        written = 0
        sel = selectors.DefaultSelector()
        registered = 0
        # The deadline of the next reply: bytes coming in do not move it, a
        # whole reply does.
        end = None if timeout is None else time.monotonic() + timeout
        try:
            while next_reply < total:
                while next_send < total and next_send - next_reply < window and len(out) < _SEND_CHUNK:
                    out += frames[next_send]
                    bounds.append(written + len(out))
                    next_send += 1
                want = selectors.EVENT_READ if next_reply < next_send else 0
                if out:
                    want |= selectors.EVENT_WRITE
                if want != registered:
                    if registered:
                        sel.modify(sock, want)
                    else:
                        sel.register(sock, want)
                    registered = want
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    self._drop()
                    raise CallTimeout("no reply from %s within %gs" % (self.address, timeout))
                pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
                ready = 0
                if pending:
                    ready = selectors.EVENT_READ
                else:
                    for _key, ev in sel.select(left):
                        ready |= ev
                    if not ready:
                        continue  # the deadline, checked above
                if ready & selectors.EVENT_WRITE and out:
                    try:
                        n = sock.send(out)
                    except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                        n = 0
                    except OSError as e:
                        return self._lost(frames, results, next_reply, sent_upto, e)
                    if n:
                        del out[:n]
                        written += n
                        # Every frame whose first byte is now written has begun.
                        while sent_upto < next_send and self._begun(bounds, sent_upto - start, written):
                            sent_upto += 1
                if ready & selectors.EVENT_READ:
                    try:
                        data = sock.recv(_RECV_CHUNK)
                    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        continue
                    except OSError as e:
                        return self._lost(frames, results, next_reply, sent_upto, e)
                    if not data:
                        return self._lost(frames, results, next_reply, sent_upto, None)
                    dec.feed(data)
                    try:
                        replies = dec.frames()
                    except ProtocolError:
                        self._drop()
                        raise
                    for body in replies:
                        if next_reply >= sent_upto:
                            self._drop()
                            raise ProtocolError("a reply arrived before its request was sent")
                        try:
                            ok, payload = _frame.parse_reply(body)
                        except ProtocolError:
                            self._drop()
                            raise
                        results[next_reply] = payload if ok else server_error(payload)
                        next_reply += 1
                        if timeout is not None:
                            end = time.monotonic() + timeout
                        if isinstance(results[next_reply - 1], TooBig):
                            # droverd read nothing after that request and
                            # closes: the rest go again on a new connection.
                            self._drop()
                            return next_reply
            return total
        finally:
            sel.close()

    @staticmethod
    def _begun(bounds, i, written):
        """Has frame i (relative to the exchange's start) had a byte written?"""
        begin = bounds[i - 1] if i > 0 else 0
        return written > begin

    def _lost(self, frames, results, next_reply, sent_upto, err):
        """The connection dropped: frames that had begun fail with
        ConnectionLost; the caller re-sends the rest on a new connection."""
        self._drop()
        why = "connection to %s lost" % self.address
        if err is not None:
            why += ": %s" % err
        for i in range(next_reply, sent_upto):
            results[i] = ConnectionLost(why + " (the request may have been carried out; not re-sent)")
        return sent_upto


def _decode(codec, body):
    """A function worker's reply: its result, or the exception it raised."""
    try:
        return envelope.decode_reply(codec, body)
    except Exception as e:
        return e
