# SPDX-License-Identifier: ISC
"""drover.asyncio.Client: the asyncio client of a message-mode pool.

    client = drover.asyncio.Client("/run/drover/echo.sock")
    reply = await client.call(b"hello")
    replies = await asyncio.gather(*(client.call(r) for r in requests))

Every coroutine that calls at the same time shares the one connection: their
requests are pipelined and each gets its own reply (droverd answers in
order). Errors, codecs and the retry rules are those of drover.Client: a
request of which a byte was written is never re-sent after the connection
dropped (ConnectionLost), except those after a TooBig answer, which droverd
did not read; a connection found closed before a request was written is
re-opened. A call that runs over its timeout (one deadline for
writing the request out and for the whole reply) raises CallTimeout; the
connection stays usable (its late reply is read and dropped).
"""
import asyncio
import collections

from . import _frame, envelope
from .client import _Settings
from .control import pool_info
from .errors import CallTimeout, ConnectionLost, ProtocolError, TooBig, server_error

__all__ = ["Client"]


class Client(_Settings):
    """As drover.Client, for asyncio (the same arguments)."""

    def __init__(self, address, **settings):
        super().__init__(address, **settings)
        self._conn = None           # the current _Connection
        self._connecting = None     # an asyncio.Lock, made in the running loop
        self._closed = False

    @classmethod
    async def for_pool(cls, pool, *, control_socket=None, **kwargs):
        """As drover.Client.for_pool (the control query runs in a thread)."""
        loop = asyncio.get_running_loop()
        info = await loop.run_in_executor(None, pool_info, pool, control_socket)
        kwargs.setdefault("framing", info.framing)
        kwargs.setdefault("max_frame", info.max_frame)
        return cls(info.listen, **kwargs)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        self._closed = True
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def connect(self):
        """Open the connection now (calls open it on demand)."""
        await self._connection()

    async def _connection(self):
        if self._closed:
            raise ValueError("the client is closed")
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is None or self._conn.eof:
                if self._conn is not None:
                    await self._conn.close()
                self._conn = None
                self._conn = await asyncio.wait_for(self._open(self._reply_limit()),
                                                    self.connect_timeout)
            return self._conn

    async def _open(self, limit):
        if self._addr[0] == "unix":
            if self.ssl_context is not None:
                raise ValueError("ssl_context is for tcp: addresses")
            reader, writer = await asyncio.open_unix_connection(self._addr[1])
        else:
            kw = {}
            if self.ssl_context is not None:
                kw = {"ssl": self.ssl_context,
                      "server_hostname": self.server_hostname or self._addr[1]}
            reader, writer = await asyncio.open_connection(self._addr[1], self._addr[2], **kw)
        return _Connection(self, reader, writer, _frame.Decoder(self.framing, limit))

    async def call(self, data, timeout=None):
        """Send one request; return the reply (or, with a codec, the
        function's result). Raises as drover.Client.call."""
        if timeout is None:
            timeout = self.timeout
        body = data
        if self.codec is not None:
            body = envelope.encode_request(self.codec, envelope.KIND_CALL, data)
        frame = _frame.encode(self.framing, body, self.max_frame)
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            conn = await self._connection()
            fut = conn.send(frame)
            try:
                payload = await self._reply(conn, fut, timeout, end)
                break
            except _Unread:
                continue  # droverd read none of it (after a TooBig): send it again
            finally:
                # Given up on (timeout, cancelled): the reply still comes and is
                # dropped, unread, rather than failing a future nobody awaits.
                fut.cancel()
        if self.codec is not None:
            return envelope.decode_reply(self.codec, payload)
        return payload

    async def _reply(self, conn, fut, timeout, end):
        if timeout is None:
            await conn.drain()
            return await fut
        # One deadline (end) for sending the request and the whole reply: a
        # peer that reads or answers slowly does not move it. (asyncio.TimeoutError
        # is TimeoutError, a base of drover.Timeout: wait for the deadline on
        # its own, not around the reply.)
        loop = asyncio.get_running_loop()
        drain = asyncio.ensure_future(conn.drain())
        try:
            done, _ = await asyncio.wait([drain], timeout=max(0, end - loop.time()))
            if done:
                drain.result()
                done, _ = await asyncio.wait([fut], timeout=max(0, end - loop.time()))
        finally:
            drain.cancel()  # if still waiting: the transport writes the rest anyway
        if not done:
            raise CallTimeout("no reply from %s within %gs" % (self.address, timeout))
        return fut.result()

    async def call_many(self, requests, window=64, timeout=None, return_exceptions=False):
        """Pipeline requests, at most ``window`` unanswered; the replies in order."""
        sem = asyncio.Semaphore(window)

        async def one(r):
            async with sem:
                return await self.call(r, timeout)
        return await asyncio.gather(*(one(r) for r in requests),
                                    return_exceptions=return_exceptions)


class _Unread(Exception):
    """The connection ended after a TooBig answer: droverd did not read this
    request, so Client.call sends it again on a new connection."""


class _Connection:
    """One connection: writes frames, and a reader task hands each reply to
    the oldest waiting future."""

    def __init__(self, client, reader, writer, decoder):
        self.client = client
        self.reader = reader
        self.writer = writer
        self.decoder = decoder
        self.waiters = collections.deque()
        self.eof = False
        self.task = asyncio.ensure_future(self._read())

    def send(self, frame):
        # No await between the write and the append: replies match in order.
        fut = asyncio.get_running_loop().create_future()
        if self.eof:
            fut.set_exception(_Unread())  # ended: the caller sends it on a new one
            return fut
        self.writer.write(frame)
        self.waiters.append(fut)
        return fut

    async def drain(self):
        try:
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass  # the reader sees the end and fails the waiters

    async def _read(self):
        why = "droverd closed the connection"
        try:
            while True:
                data = await self.reader.read(256 * 1024)
                if not data:
                    break
                self.decoder.feed(data)
                for body in self.decoder.frames():
                    if not self.waiters:
                        raise ProtocolError("a reply with no request in flight")
                    fut = self.waiters.popleft()
                    ok, payload = _frame.parse_reply(body)
                    err = None if ok else server_error(payload)
                    if fut.done():
                        pass  # its caller gave up (timeout, cancel)
                    elif ok:
                        fut.set_result(payload)
                    else:
                        fut.set_exception(err)
                    if isinstance(err, TooBig):
                        # droverd read nothing after it and closes: the
                        # calls still waiting send theirs again.
                        self.eof = True
                        while self.waiters:
                            w = self.waiters.popleft()
                            if not w.done():
                                w.set_exception(_Unread())
                        return
        except ProtocolError as e:
            why = e
            self._fail(e)
        except (ConnectionError, OSError) as e:
            why = "connection to %s lost: %s" % (self.client.address, e)
        except asyncio.CancelledError:
            why = "the client was closed"
        finally:
            self.eof = True
            self.writer.close()
            self._fail(ConnectionLost("%s with the request in flight (not re-sent)" % (why,)))

    def _fail(self, exc):
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_exception(exc if isinstance(exc, ProtocolError) else
                                  ConnectionLost(str(exc)))

    async def close(self):
        self.task.cancel()
        try:
            await self.task
        except BaseException:
            pass
