# SPDX-License-Identifier: ISC
"""drover.asyncio.Client against a real droverd."""
import asyncio
import threading
import time

import pytest

import drover
import drover.asyncio as dasync


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_call_and_gather(daemon):
    async def main():
        async with dasync.Client(daemon.sock("echo")) as c:
            assert await c.call(b"hello") == b"hello"
            reqs = [b"r%d" % i for i in range(3000)]
            # Concurrent calls share the connection, pipelined; each gets its own reply.
            assert await asyncio.gather(*(c.call(r) for r in reqs)) == reqs
            assert await c.call_many(reqs, window=32) == reqs
    run(main())


def test_larger_than_max_frame_unknown_to_the_client(daemon):
    # As drover.Client: TooBig for that call; calls pipelined after it on the
    # same connection are sent again on a new one.
    big = b"b" * ((1 << 20) + 1)

    async def main():
        async with dasync.Client(daemon.sock("echo")) as c:
            reqs = [b"r%d" % i for i in range(50)]
            res = await asyncio.gather(*(c.call(r) for r in reqs[:25]), c.call(big),
                                       *(c.call(r) for r in reqs[25:]), return_exceptions=True)
            assert isinstance(res[25], drover.TooBig), res[25]
            assert res[:25] + res[26:] == reqs
            assert await c.call(b"after") == b"after"
    run(main())


def test_for_pool_line(daemon):
    async def main():
        c = await dasync.Client.for_pool("echoline", control_socket=daemon.ctl)
        assert c.framing == "line"
        assert await c.call(b"a line") == b"a line"
        await c.close()
    run(main())


def test_errors(daemon):
    async def main():
        async with dasync.Client(daemon.sock("slow"), codec="json") as c:
            res = await c.call_many([0.3] * 8, window=8, return_exceptions=True)
            assert any(isinstance(r, drover.Busy) for r in res), res
            assert 0.3 in res
        async with dasync.Client(daemon.sock("slowto"), codec="json") as c:
            with pytest.raises(drover.Timeout):
                await c.call(5)
        async with dasync.Client(daemon.sock("fnjson"), codec="json") as c:
            with pytest.raises(drover.RemoteError, match="asked to raise"):
                await c.call("raise")
            assert await c.call([1, 2]) == {"type": "list", "value": [1, 2]}
    run(main())


def test_client_timeout_keeps_connection(daemon):
    async def main():
        async with dasync.Client(daemon.sock("slow"), codec="json") as c:
            with pytest.raises(drover.CallTimeout):
                await c.call(0.5, timeout=0.1)
            # Same connection: the late reply is read and dropped, in order.
            assert await c.call(0.01, timeout=10) == 0.01
    run(main())


def test_cancelled_call_leaves_no_unretrieved_error(daemon, caplog):
    # A call cancelled while it waits (with a timeout, or in drain) left its
    # reply's future to fail unseen when the client closed: asyncio logged
    # "Future exception was never retrieved" (ConnectionLost) for it.
    import gc

    async def main():
        c = dasync.Client(daemon.sock("slow"), codec="json")
        await c.connect()
        for timeout in (10, None):
            t = asyncio.ensure_future(c.call(0.5, timeout=timeout))
            await asyncio.sleep(0.05)
            t.cancel()
            with pytest.raises(asyncio.CancelledError):
                await t
        await c.close()
        gc.collect()
    run(main())
    gc.collect()
    assert "never retrieved" not in caplog.text


def test_unreachable():
    async def main():
        with pytest.raises(OSError):
            await dasync.Client("/nonexistent/drover.sock").call(b"x")
    run(main())


def test_reconnect_after_idle_close_and_lost(tmp_path):
    from test_client import FakeServer, reply

    def handler(srv, conn):
        body = srv.read_request(conn)
        if body == b"drop":
            return  # read, then gone without an answer
        reply(conn, b"+" + body)  # one answer per connection, then closed
    srv = FakeServer(tmp_path, handler)

    async def main():
        c = dasync.Client(srv.path)
        assert await c.call(b"first") == b"first"
        await asyncio.sleep(0.2)  # the server has closed that connection by now
        assert await c.call(b"second") == b"second"
        await asyncio.sleep(0.2)
        with pytest.raises(drover.ConnectionLost):
            await c.call(b"drop")
        assert await c.call(b"third") == b"third"
        await c.close()
    try:
        run(main())
        assert srv.requests == [b"first", b"second", b"drop", b"third"], srv.requests
    finally:
        srv.close()


def test_timeout_is_a_deadline(tmp_path):
    # The reply trickles a byte every 0.2 s: CallTimeout after 1 s (the reply
    # is one future, set only when whole; a guard, this held before).
    from test_client import DEADLINE_SLACK, FakeServer, trickle
    stop = threading.Event()

    def handler(srv, conn):
        srv.read_request(conn)
        trickle(conn, (100).to_bytes(4, "big") + b"+" + b"y" * 99, stop)
    srv = FakeServer(tmp_path, handler)

    async def main():
        async with dasync.Client(srv.path, timeout=1) as c:
            t0 = time.monotonic()
            with pytest.raises(drover.CallTimeout, match="within 1s"):
                await c.call(b"slow")
            assert time.monotonic() - t0 < DEADLINE_SLACK
    try:
        run(main())
    finally:
        stop.set()
        srv.close()


def test_timeout_covers_sending(tmp_path):
    # A peer that does not read: the request (16 MiB) cannot be written out,
    # and the timeout runs while the client waits to write it, not only once
    # it is written.
    from test_client import DEADLINE_SLACK, HOLD, FakeServer
    stop = threading.Event()
    srv = FakeServer(tmp_path, lambda s, conn: stop.wait(HOLD))

    async def main():
        c = dasync.Client(srv.path, timeout=1)
        t0 = time.monotonic()
        with pytest.raises(drover.CallTimeout, match="within 1s"):
            await c.call(b"x" * (16 << 20))
        assert time.monotonic() - t0 < DEADLINE_SLACK
        await c.close()
    try:
        run(main())
    finally:
        stop.set()
        srv.close()
