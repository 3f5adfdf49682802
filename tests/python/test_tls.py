# SPDX-License-Identifier: ISC
"""TLS for tcp: addresses, with client certificates: straight to droverd (the
echotls pool: tls_cert, tls_key, tls_client_ca), and through a small
TLS-terminating proxy in front of a pool's Unix socket, as an operator would
put stunnel or haproxy in front of a pool; both require a client certificate
signed by the test CA."""
import asyncio
import os
import select
import socket
import ssl
import subprocess
import threading

import pytest

import drover
import drover.asyncio as dasync
import pytasks
from conftest import wait_until

CERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "certs")


class TLSProxy:
    def __init__(self, upstream):
        self.upstream = upstream
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key"))
        ctx.load_verify_locations(os.path.join(CERTS, "ca.pem"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx = ctx
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handshakes_failed = 0
        threading.Thread(target=self.accept, daemon=True).start()

    @property
    def address(self):
        return "tcp:127.0.0.1:%d" % self.port

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.pump, args=(conn,), daemon=True).start()

    def pump(self, raw):
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            raw.close()
            return
        up = socket.socket(socket.AF_UNIX)
        up.connect(self.upstream)
        try:
            while True:
                if tls.pending():
                    readable = [tls]
                else:
                    readable, _, _ = select.select([tls, up], [], [], 30)
                    if not readable:
                        return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is tls else tls).sendall(data)
        except (ssl.SSLError, OSError):
            return
        finally:
            tls.close()
            up.close()

    def close(self):
        self.sock.close()


def client_context(with_cert=True):
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(os.path.join(CERTS, "client.pem"), os.path.join(CERTS, "client.key"))
    return ctx


@pytest.fixture
def echo_tls(daemon):
    p = TLSProxy(daemon.sock("echo"))
    yield p
    p.close()


def test_tls_call_and_pipelining(echo_tls):
    with drover.Client(echo_tls.address, ssl_context=client_context(), timeout=30) as c:
        assert c.call(b"over tls") == b"over tls"
        reqs = [b"%d" % i * (i % 50) for i in range(2000)]
        assert c.call_many(reqs, window=100) == reqs
        big = os.urandom(200000)
        assert c.call(big) == big


def test_tls_without_client_certificate_is_refused(echo_tls):
    c = drover.Client(echo_tls.address, ssl_context=client_context(False), timeout=10)
    with pytest.raises((ssl.SSLError, drover.ConnectionLost, ConnectionError)):
        c.call(b"x")
    c.close()


def test_tls_server_name_checked(echo_tls):
    # The server certificate names 127.0.0.1 and localhost, not other.example.
    c = drover.Client(echo_tls.address, ssl_context=client_context(),
                      server_hostname="other.example", timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.call(b"x")


def test_tls_asyncio(echo_tls):
    async def main():
        async with dasync.Client(echo_tls.address, ssl_context=client_context()) as c:
            reqs = [b"a%d" % i for i in range(500)]
            assert await asyncio.gather(*(c.call(r) for r in reqs)) == reqs
    asyncio.run(asyncio.wait_for(main(), 60))


def test_tls_executor(daemon):
    p = TLSProxy(daemon.sock("py"))
    try:
        with drover.Executor(p.address, ssl_context=client_context()) as ex:
            assert list(ex.map(pytasks.square, range(500))) == [i * i for i in range(500)]
    finally:
        p.close()


# ---- droverd's own TLS (tls_cert, tls_client_ca on the echotls pool) ----

def test_droverd_tls_call_and_pipelining(daemon):
    address = "tcp:127.0.0.1:%d" % daemon.tls_port
    # droverd tells clients the pool speaks TLS (a fourth line of the call answer).
    out = subprocess.run([daemon.drover, "-s", daemon.ctl, "call", "echotls", "via cli",
                          "--tls-ca", os.path.join(CERTS, "ca.pem"),
                          "--tls-cert", os.path.join(CERTS, "client.pem"),
                          "--tls-key", os.path.join(CERTS, "client.key")],
                         capture_output=True, timeout=30)
    assert (out.returncode, out.stdout) == (0, b"via cli"), out.stderr
    with drover.Client(address, ssl_context=client_context(), timeout=30) as c:
        assert c.call(b"straight to droverd") == b"straight to droverd"
        reqs = [b"%d" % i * (i % 50) for i in range(2000)]
        assert c.call_many(reqs, window=100) == reqs
        big = os.urandom(300000)
        assert c.call(big) == big


def test_droverd_tls_too_big(daemon):
    # Over droverd's TLS too: the requests before a frame over max_frame are
    # answered, then TooBig, and those after it go again on a new connection.
    address = "tcp:127.0.0.1:%d" % daemon.tls_port
    big = b"b" * ((1 << 20) + 1)
    with drover.Client(address, ssl_context=client_context(), timeout=30) as c:
        out = c.call_many([b"one", b"two", big, b"three"], window=4, return_exceptions=True)
        assert out[:2] == [b"one", b"two"]
        assert isinstance(out[2], drover.TooBig), out[2]
        assert out[3] == b"three"
        assert c.call(b"after") == b"after"


def test_droverd_tls_refuses_without_client_certificate(daemon):
    before = daemon.pool("echotls")["route"]["tls"]["handshake_failures"]
    c = drover.Client("tcp:127.0.0.1:%d" % daemon.tls_port, ssl_context=client_context(False),
                      timeout=10)
    with pytest.raises((ssl.SSLError, drover.ConnectionLost, ConnectionError)):
        c.call(b"x")
    c.close()
    wait_until("the refusal counted",
                        lambda: daemon.pool("echotls")["route"]["tls"]["handshake_failures"] > before)


def test_droverd_tls_asyncio(daemon):
    async def main():
        async with dasync.Client("tcp:127.0.0.1:%d" % daemon.tls_port,
                                 ssl_context=client_context()) as c:
            reqs = [b"a%d" % i for i in range(500)]
            assert await asyncio.gather(*(c.call(r) for r in reqs)) == reqs
    asyncio.run(asyncio.wait_for(main(), 60))
