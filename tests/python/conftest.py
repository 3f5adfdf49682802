# SPDX-License-Identifier: ISC
"""The Python client's tests run against a real droverd built from this tree.

DROVER_BUILD (default: build/ at the top of the tree) is the build directory;
its bin/ has droverd, drover and echo-worker. One droverd per test session
serves every pool below, on private sockets in a temp dir; the fixtures stop
it (and so its workers) at the end. Only processes this session started are
ever signalled.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "clients", "python"))
sys.path.insert(0, HERE)


def build_dir():
    b = os.environ.get("DROVER_BUILD", os.path.join(SRC, "build"))
    return os.path.abspath(b)


def wait_until(what, cond, timeout=15.0, interval=0.02):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Daemon:
    """A droverd on a private config, with the drover CLI pointed at it."""

    def __init__(self, tmp):
        self.tmp = tmp
        bindir = os.path.join(build_dir(), "bin")
        self.droverd = os.path.join(bindir, "droverd")
        self.drover = os.path.join(bindir, "drover")
        self.echo_worker = os.path.join(bindir, "echo-worker")
        for p in (self.droverd, self.drover, self.echo_worker):
            if not os.access(p, os.X_OK):
                pytest.exit("%s not found: build the tree first (DROVER_BUILD=%s)"
                            % (p, build_dir()), returncode=2)
        self.ctl = os.path.join(tmp, "ctl.sock")
        self.conf = os.path.join(tmp, "drover.ini")
        self.log_dir = os.path.join(tmp, "log")
        self.proc = None

    @property
    def tls_port(self):
        """A free loopback port for the echotls pool (TLS straight to droverd)."""
        if getattr(self, "_tls_port", None) is None:
            import socket
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            self._tls_port = s.getsockname()[1]
            s.close()
        return self._tls_port

    def sock(self, pool):
        return os.path.join(self.tmp, pool + ".sock")

    def start(self, pools):
        with open(self.conf, "w") as f:
            f.write("[daemon]\ncontrol_socket = %s\nlog_dir = %s\nshutdown_timeout = 10s\n\n"
                    % (self.ctl, self.log_dir))
            f.write(pools)
        self.log = open(os.path.join(self.tmp, "droverd.log"), "wb")
        self.proc = subprocess.Popen([self.droverd, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until("droverd to answer", lambda: self.run("status", check=False).returncode == 0)

    def run(self, *args, check=True):
        r = subprocess.run([self.drover, "-s", self.ctl] + list(args), capture_output=True,
                           timeout=30)
        if check and r.returncode != 0:
            raise AssertionError("drover %s: %s" % (" ".join(args), r.stderr.decode()))
        return r

    def status(self):
        return json.loads(self.run("status", "--json").stdout)

    def pool(self, name):
        return next(p for p in self.status()["pools"] if p["name"] == name)

    def running_pids(self, name):
        return [s["pid"] for s in self.pool(name)["slots"]
                if s["state"] == "running" and s["pid"]]

    def pool_running(self, name):
        p = self.pool(name)
        return all(s["state"] == "running" for s in p["slots"])

    def pool_log(self, name):
        try:
            with open(os.path.join(self.log_dir, name + ".log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.proc = None


def pools_config(d):
    py = sys.executable
    env = "PYTHONPATH=%s:%s" % (os.path.join(SRC, "clients", "python"), HERE)
    fast_restart = "restart_delay = 10ms\nrestart_delay_max = 100ms\ncrash_limit = none\n"
    return """
[pool:echo]
command = {echo}
workers = 2
listen = {t}/echo.sock
worker_inflight = 8

[pool:echoline]
command = {echo}
workers = 1
listen = {t}/echoline.sock
framing = line

[pool:py]
command = {py} -m drover.worker
workers = 2
listen = {t}/py.sock
environment = {env}
ready = notify
worker_inflight = 4
max_attempts = 5
{fast}
[pool:pykill]
command = {py} -m drover.worker
workers = 2
listen = {t}/pykill.sock
environment = {env}
max_attempts = 20
; Requests only to workers that are done starting Python (READY=1): a
; worker killed while it imports would burn a delivery of its request.
ready = notify
{fast}
[pool:fnjson]
command = {py} -m drover.worker pytasks:describe
workers = 1
listen = {t}/fnjson.sock
environment = {env}
ready = notify
watchdog = 1s

[pool:fnraw]
command = {py} -m drover.worker pytasks:upper
workers = 1
listen = {t}/fnraw.sock
environment = {env}

[pool:fnline]
command = {py} -m drover.worker pytasks:describe
workers = 1
listen = {t}/fnline.sock
environment = {env}
framing = line
work_fd = stdio

[pool:slow]
command = {py} -m drover.worker pytasks:sleepy
workers = 1
listen = {t}/slow.sock
environment = {env}
max_queue = 2
# One request at a time, so the third of a burst waits and the fifth is BUSY (the adaptive
# default window would put up to 16 of them on the worker at once).
worker_inflight = 1

[pool:pybusy]
command = {py} -m drover.worker
workers = 1
listen = {t}/pybusy.sock
environment = {env}
ready = notify
# Room for 3 tasks: an executor's window of them is mostly answered BUSY.
max_queue = 2
worker_inflight = 1

[pool:noworkers]
command = {py} -m drover.worker pytasks:sleepy
workers = 0
listen = {t}/noworkers.sock
environment = {env}
queue_timeout = 300ms

[pool:slowto]
command = {py} -m drover.worker pytasks:sleepy
workers = 1
listen = {t}/slowto.sock
environment = {env}
request_timeout = 1s
max_attempts = 1
ready = notify
{fast}
[pool:crash]
command = {py} -m drover.worker pytasks:crash
workers = 1
listen = {t}/crash.sock
environment = {env}
max_attempts = 2
{fast}
[pool:echotls]
command = {echo}
workers = 2
listen = tcp:127.0.0.1:{tls_port}
worker_inflight = 8
tls_cert = {certs}/server.pem
tls_key = {certs}/server.key
tls_client_ca = {certs}/ca.pem
""".format(echo=d.echo_worker, py=py, env=env, t=d.tmp, fast=fast_restart, tls_port=d.tls_port,
           certs=os.path.join(HERE, "certs"))


POOLS = ("echo", "echoline", "py", "pykill", "fnjson", "fnraw", "fnline", "slow", "slowto",
         "crash", "echotls", "pybusy")


@pytest.fixture(scope="session")
def daemon():
    tmp = tempfile.mkdtemp(prefix="drvpy.", dir="/tmp")  # short: socket paths
    d = Daemon(tmp)
    try:
        d.start(pools_config(d))
        for p in POOLS:
            wait_until("pool %s running" % p, lambda p=p: d.pool_running(p), timeout=30)
        yield d
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
