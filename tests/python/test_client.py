# SPDX-License-Identifier: ISC
"""drover.Client against a real droverd, and against small fake servers for
what droverd never does (drop a connection mid-request, send garbage)."""
import socket
import struct
import threading
import time

import pytest

import drover
from drover import control

# Deadline tests: the fake peer holds out for HOLD s (or until the test ends),
# and a call with timeout=1 must give up well before: within DEADLINE_SLACK s,
# which leaves room for a loaded machine and still tells a deadline from a
# per-read timeout (that one would wait for the peer, HOLD s).
HOLD = 20.0
DEADLINE_SLACK = 8


def test_call_length(daemon):
    with drover.Client(daemon.sock("echo")) as c:
        assert c.call(b"hello") == b"hello"
        assert c.call(b"") == b""
        blob = bytes(range(256)) * 100
        assert c.call(blob) == blob


def test_for_pool_learns_framing(daemon):
    c = drover.Client.for_pool("echoline", control_socket=daemon.ctl)
    assert c.framing == "line"
    assert c.address == daemon.sock("echoline")
    assert c.call(b"one line") == b"one line"
    with pytest.raises(ValueError, match="newline"):
        c.call(b"two\nlines")
    c.close()
    c = drover.Client.for_pool("echo", control_socket=daemon.ctl)
    assert c.framing == "length"
    assert c.call(b"a\nb") == b"a\nb"
    c.close()


def test_for_pool_errors(daemon):
    with pytest.raises(drover.ControlError, match="no pool named"):
        drover.Client.for_pool("nosuchpool", control_socket=daemon.ctl)


def test_call_info_parsing():
    assert control.parse_call_info(b"/run/x.sock\nlength\n") == ("/run/x.sock", "length", None)
    assert control.parse_call_info(b"tcp:127.0.0.1:9000\nline\n65536\n") == \
        ("tcp:127.0.0.1:9000", "line", 65536)
    assert control.parse_call_info(b"/a\nline") == ("/a", "line", None)
    # protocol.md: no FRAMING line means length, no MAX_FRAME an unknown limit
    # (as proto_call_info_unpack); later lines are for later versions.
    assert control.parse_call_info(b"/a\n") == ("/a", "length", None)
    assert control.parse_call_info(b"/a") == ("/a", "length", None)
    assert control.parse_call_info(b"/a\nline\n9\ntls\nmore\n") == ("/a", "line", 9)
    for bad in (b"", b"\n", b"\nlength\n", b"/a\n\n", b"/a\nudp\n", b"/a\nline\nbig\n"):
        with pytest.raises(drover.ProtocolError):
            control.parse_call_info(bad)


def test_pipelining_keeps_order(daemon):
    reqs = [b"req-%d" % i for i in range(5000)]
    with drover.Client(daemon.sock("echo")) as c:
        assert c.call_many(reqs, window=200) == reqs
        assert c.call_many(reqs[:10], window=1) == reqs[:10]
    with drover.Client(daemon.sock("echoline"), framing="line") as c:
        assert c.call_many(reqs, window=64) == reqs


def test_client_shared_by_threads(daemon):
    c = drover.Client(daemon.sock("echo"))
    errors = []

    def run(n):
        try:
            for i in range(200):
                body = b"t%d-%d" % (n, i)
                assert c.call(body) == body
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.close()
    assert errors == []


def test_max_frame_checked_before_sending(daemon):
    with drover.Client(daemon.sock("echo"), max_frame=10) as c:
        with pytest.raises(ValueError, match="max_frame"):
            c.call(b"x" * 11)
        assert c.call(b"x" * 10) == b"x" * 10


def test_larger_than_max_frame_unknown_to_the_client(daemon):
    # The client was not told the pool's max_frame (1 MiB): droverd answers
    # TooBig after the requests before it and closes; the requests after it
    # are sent again on a new connection.
    big = b"b" * ((1 << 20) + 1)
    with drover.Client(daemon.sock("echo")) as c:
        out = c.call_many([b"one", b"two", big, b"three", b"four"], window=5,
                          return_exceptions=True)
        assert out[:2] == [b"one", b"two"]
        assert isinstance(out[2], drover.TooBig), out[2]
        assert isinstance(out[2], ValueError)
        assert "a request of 1048577 bytes is larger than max_frame (1048576 bytes)" in str(out[2])
        assert out[3:] == [b"three", b"four"]
        with pytest.raises(drover.TooBig):
            c.call(big)
        assert c.call(b"after") == b"after"


def test_busy(daemon):
    # One worker sleeping, max_queue = 2: of 8 pipelined requests, one is with
    # the worker, two wait, the rest are answered BUSY at once.
    with drover.Client(daemon.sock("slow"), codec="json", timeout=30) as c:
        res = c.call_many([0.3] * 8, window=8, return_exceptions=True)
    busy = [r for r in res if isinstance(r, drover.Busy)]
    ok = [r for r in res if r == 0.3]
    assert len(busy) >= 4 and len(ok) >= 1 and len(busy) + len(ok) == 8, res
    assert busy[0].code == "BUSY" and busy[0].text.startswith("BUSY")
    assert isinstance(busy[0], drover.ServerError)
    with drover.Client(daemon.sock("slow"), codec="json") as c:
        with pytest.raises(drover.Busy):
            c.call_many([0.2] * 6, window=6)


def test_timeout_from_droverd(daemon):
    with drover.Client(daemon.sock("slowto"), codec="json", timeout=30) as c:
        with pytest.raises(drover.Timeout) as e:
            c.call(5)
        assert e.value.code == "TIMEOUT"
        assert isinstance(e.value, TimeoutError)
        assert c.call(0) == 0


def test_queue_timeout_is_timeout(daemon):
    # No worker ever takes it: droverd answers TIMEOUT at queue_timeout.
    with drover.Client(daemon.sock("noworkers"), codec="json", timeout=30) as c:
        t0 = time.monotonic()
        with pytest.raises(drover.Timeout) as e:
            c.call(0)
        assert e.value.code == "TIMEOUT" and "queue_timeout" in e.value.text
        assert time.monotonic() - t0 < 10


def test_failed_when_every_worker_dies(daemon):
    with drover.Client(daemon.sock("crash"), codec="json", timeout=30) as c:
        with pytest.raises(drover.Failed) as e:
            c.call(1)
        assert e.value.code == "FAILED" and "FAILED" in str(e.value)


def test_client_timeout_then_reconnects(daemon):
    with drover.Client(daemon.sock("slow"), codec="json") as c:
        with pytest.raises(drover.CallTimeout):
            c.call(1.0, timeout=0.2)
        # A new connection; the late reply of the old one is not mistaken for this one's.
        assert c.call(0.01, timeout=10) == 0.01


def test_unreachable():
    with pytest.raises(OSError):
        drover.Client("/nonexistent/drover.sock").call(b"x")
    with pytest.raises(ValueError):
        drover.Client("tcp:nohostport")


class FakeServer:
    """A Unix socket server with a scripted behaviour per connection."""

    def __init__(self, tmp_path, handler):
        self.path = str(tmp_path / "fake.sock")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.handler = handler
        self.requests = []
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self.handler(self, conn)

    def read_request(self, conn):
        hdr = b""
        while len(hdr) < 4:
            b = conn.recv(4 - len(hdr))
            if not b:
                return None
            hdr += b
        n = int.from_bytes(hdr, "big")
        body = b""
        while len(body) < n:
            body += conn.recv(n - len(body))
        self.requests.append(body)
        return body

    def close(self):
        self.sock.close()


def reply(conn, body):
    conn.sendall(len(body).to_bytes(4, "big") + body)


def test_connection_lost_is_not_resent(tmp_path):
    # The server reads the request and closes without answering.
    srv = FakeServer(tmp_path, lambda s, conn: s.read_request(conn))
    c = drover.Client(srv.path)
    with pytest.raises(drover.ConnectionLost, match="not re-sent"):
        c.call(b"once")
    time.sleep(0.05)
    assert srv.requests == [b"once"], "a request that may have been answered was re-sent"
    with pytest.raises(drover.ConnectionLost):
        c.call_many([b"a", b"b"])
    srv.close()


def test_reconnect_after_idle_close(tmp_path):
    # Each connection answers one request, then the server closes it.
    def one(s, conn):
        body = s.read_request(conn)
        reply(conn, b"+" + body)
    srv = FakeServer(tmp_path, one)
    c = drover.Client(srv.path)
    assert c.call(b"first") == b"first"
    wait = time.monotonic() + 5
    while srv.connections < 1 and time.monotonic() < wait:
        time.sleep(0.01)
    time.sleep(0.1)  # the server has closed its end by now
    assert c.call(b"second") == b"second"   # found closed before sending: sent anew
    assert srv.connections == 2 and srv.requests == [b"first", b"second"]
    srv.close()


@pytest.mark.parametrize("bad", [b"?what", b""])
def test_malformed_reply_is_protocol_error(tmp_path, bad):
    def garbage(s, conn):
        while s.read_request(conn) is not None:
            reply(conn, bad)
    srv = FakeServer(tmp_path, garbage)
    c = drover.Client(srv.path)
    with pytest.raises(drover.ProtocolError):
        c.call(b"x")
    assert c._sock is None, "the connection must be closed after a protocol error"
    srv.close()


def test_oversized_reply_is_protocol_error(tmp_path):
    def huge(s, conn):
        s.read_request(conn)
        conn.sendall((1 << 30).to_bytes(4, "big") + b"+abc")
    srv = FakeServer(tmp_path, huge)
    with pytest.raises(drover.ProtocolError, match="over the limit"):
        drover.Client(srv.path, max_frame=1024).call(b"x")
    srv.close()


def test_unknown_error_code(tmp_path):
    def newcode(s, conn):
        s.read_request(conn)
        reply(conn, b"-SHINY a code from the future")
    srv = FakeServer(tmp_path, newcode)
    with pytest.raises(drover.ServerError) as e:
        drover.Client(srv.path).call(b"x")
    assert type(e.value) is drover.ServerError and e.value.code == "SHINY"
    srv.close()


class FakeControl(FakeServer):
    """A control socket (docs/protocol.md, "Control protocol") with a scripted
    answer to each COMMAND."""

    HDR = struct.Struct(">IHBB")

    def read_command(self, conn):
        hdr = b""
        while len(hdr) < self.HDR.size:
            b = conn.recv(self.HDR.size - len(hdr))
            if not b:
                return None
            hdr += b
        n = self.HDR.unpack(hdr)[0]
        body = b""
        while len(body) < n:
            body += conn.recv(n - len(body))
        self.requests.append(body.split(b"\0")[:-1])
        return body

    @classmethod
    def message(cls, mtype, payload):
        return cls.HDR.pack(len(payload), mtype, 1, 0) + payload

    @classmethod
    def answer(cls, data, status=0):
        """DATA (data), then EXIT (status)."""
        return cls.message(control.DATA, data) + cls.message(control.EXIT, bytes([status]))


def test_call_answer_without_framing_line(tmp_path):
    def old(s, conn):
        s.read_command(conn)
        conn.sendall(s.answer(b"/tmp/x.sock\n"))
    srv = FakeControl(tmp_path, old)
    try:
        assert drover.pool_info("x", srv.path, timeout=5) == ("/tmp/x.sock", "length", None)
        c = drover.Client.for_pool("x", control_socket=srv.path)
        assert (c.address, c.framing, c.max_frame) == ("/tmp/x.sock", "length", None)
        assert srv.requests == [[b"call", b"x"]] * 2
    finally:
        srv.close()


@pytest.mark.parametrize("mtype", [control.DATA, control.ERROR], ids=["DATA", "ERROR"])
def test_control_answer_is_bounded(tmp_path, mtype):
    # DATA (or ERROR) messages of 1 MiB without end: the client keeps at most
    # 1 MiB of an answer and gives up at the message that would pass it.
    sent, done = [], threading.Event()

    def flood(s, conn):
        s.read_command(conn)
        chunk = s.message(mtype, b"x" * (1 << 20))
        try:
            for _ in range(64):
                conn.sendall(chunk)
                sent.append(1)
        except OSError:
            pass  # the client hung up
        done.set()
    srv = FakeControl(tmp_path, flood)
    try:
        with pytest.raises(drover.ProtocolError, match="over 1048576 bytes"):
            drover.pool_info("x", srv.path, timeout=10)
        assert done.wait(10)
        assert len(sent) < 8, "the client read %d MiB of one answer" % len(sent)
    finally:
        srv.close()


@pytest.mark.parametrize("how", ["trickle", "silent"])
def test_control_timeout_is_a_deadline(tmp_path, how):
    # The answer one byte every 0.2 s (each read well within the timeout), or
    # none at all: pool_info(timeout=1) gives up after 1 s with CallTimeout.
    stop = threading.Event()

    def slow(s, conn):
        s.read_command(conn)
        msg = s.answer(b"/tmp/x.sock\nlength\n1024\n")
        end = time.monotonic() + HOLD
        try:
            for b in msg:
                if how == "silent" or stop.is_set() or time.monotonic() > end:
                    break
                conn.sendall(bytes([b]))
                time.sleep(0.2)
            stop.wait(HOLD)
        except OSError:
            pass
    srv = FakeControl(tmp_path, slow)
    try:
        t0 = time.monotonic()
        with pytest.raises(drover.CallTimeout, match="within 1s"):
            drover.pool_info("x", srv.path, timeout=1)
        assert time.monotonic() - t0 < DEADLINE_SLACK
    finally:
        stop.set()
        srv.close()


def trickle(conn, data, stop, every=0.2, hold=HOLD):
    """Send data a byte every `every` s, for at most `hold` s (or until stop)."""
    end = time.monotonic() + hold
    try:
        for b in data:
            if stop.is_set() or time.monotonic() > end:
                return
            conn.sendall(bytes([b]))
            time.sleep(every)
    except OSError:
        pass  # the client hung up


def test_call_timeout_is_a_deadline(tmp_path):
    # The reply trickles a byte every 0.2 s: every wait for a byte is well
    # within the timeout, the whole reply is not.
    stop = threading.Event()

    def slow(s, conn):
        s.read_request(conn)
        trickle(conn, (100).to_bytes(4, "big") + b"+" + b"y" * 99, stop)
    srv = FakeServer(tmp_path, slow)
    c = drover.Client(srv.path, timeout=1)
    try:
        t0 = time.monotonic()
        with pytest.raises(drover.CallTimeout, match="within 1s"):
            c.call(b"hi")
        assert time.monotonic() - t0 < DEADLINE_SLACK
        assert c._sock is None, "the connection must be closed after a CallTimeout"
    finally:
        stop.set()
        c.close()
        srv.close()


def test_call_many_timeout_is_per_reply(tmp_path):
    # call_many's timeout bounds each next reply, not the whole batch: three
    # replies 0.5 s apart are in time with timeout=1.
    def paced(s, conn):
        for _ in range(3):
            body = s.read_request(conn)
            if body is None:
                return
            time.sleep(0.5)
            reply(conn, b"+" + body)
    srv = FakeServer(tmp_path, paced)
    try:
        with drover.Client(srv.path) as c:
            assert c.call_many([b"a", b"b", b"c"], window=3, timeout=1) == [b"a", b"b", b"c"]
    finally:
        srv.close()


def test_client_in_forked_children(daemon, tmp_path):
    # A Client connected before fork: parent and children wrote on one
    # connection and read each other's replies (wrong answers, ProtocolError,
    # CallTimeout). A child's calls now go on a connection of its own.
    import os
    import subprocess
    import sys
    import textwrap
    script = tmp_path / "fork.py"
    script.write_text(textwrap.dedent("""
        import os, sys
        import drover

        c = drover.Client(sys.argv[1], timeout=20)
        assert c.call(b"before") == b"before"
        kids = []
        for k in range(3):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    got = [c.call(b"child%d-%d" % (k, i)) for i in range(200)]
                    code = 0 if got == [b"child%d-%d" % (k, i) for i in range(200)] else 1
                finally:
                    os._exit(code)
            kids.append(pid)
        got = [c.call(b"parent-%d" % i) for i in range(200)]
        assert got == [b"parent-%d" % i for i in range(200)]
        for pid in kids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        print("ok")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, str(script), daemon.sock("echo")], capture_output=True,
                       timeout=120, env=env)
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr.decode()[-2000:]
