# SPDX-License-Identifier: ISC
"""The worker side: python3 -m drover.worker MODULE:FUNCTION under a real
droverd (ready = notify, watchdog, work_fd = stdio, error replies, logging)."""
import os
import subprocess
import sys
import time

import pytest

import drover
from drover import envelope
from conftest import SRC, HERE, wait_until


def test_json_function(daemon):
    with drover.Client(daemon.sock("fnjson"), codec="json") as c:
        assert c.call({"a": [1, 2]}) == {"type": "dict", "value": {"a": [1, 2]}}
        assert c.call_many([1, "x", None]) == [
            {"type": "int", "value": 1}, {"type": "str", "value": "x"},
            {"type": "NoneType", "value": None}]
        with pytest.raises(drover.RemoteError) as e:
            c.call("raise")
        assert e.value.type == "KeyError" and "asked to raise" in e.value.message
        assert "in describe" in e.value.traceback
        assert c.call(2) == {"type": "int", "value": 2}  # the worker lives on
    wait_until("the traceback in the pool's log",
               lambda: "KeyError: 'asked to raise'" in daemon.pool_log("fnjson"))
    log = daemon.pool_log("fnjson")
    assert "Traceback (most recent call last)" in log and "request failed" in log


def test_ready_notify_and_watchdog(daemon):
    # fnjson has ready = notify (it would not be running without READY=1)
    # and watchdog = 1s: alive after 2.5 s means WATCHDOG=1 keeps coming.
    slot = daemon.pool("fnjson")["slots"][0]
    assert slot["state"] == "running"
    pid = slot["pid"]
    time.sleep(2.5)
    slot = daemon.pool("fnjson")["slots"][0]
    assert slot["pid"] == pid and slot["state"] == "running", slot


def test_raw_function(daemon):
    with drover.Client(daemon.sock("fnraw"), codec="raw") as c:
        assert c.call(b"shout") == b"SHOUT"
    # Without the envelope, the worker answers an error, and lives on.
    with drover.Client(daemon.sock("fnraw")) as c:
        body = c.call(b"no envelope")
        with pytest.raises(drover.RemoteError, match="without a drover envelope"):
            envelope.decode_reply("raw", body)
    # pickle is refused by a function worker unless it is given --pickle.
    with drover.Client(daemon.sock("fnraw"), codec="pickle") as c:
        with pytest.raises(drover.RemoteError, match="does not accept the pickle codec"):
            c.call(b"x")


def test_line_framing_on_stdio(daemon):
    # work_fd = stdio: the function's print() must not reach the client.
    with drover.Client.for_pool("fnline", control_socket=daemon.ctl, codec="json") as c:
        assert c.framing == "line"
        assert c.call("print") == {"type": "str", "value": "print"}
        assert c.call("multi\nline") == {"type": "str", "value": "multi\nline"}
    wait_until("the print in the pool's log",
               lambda: "this goes to the log" in daemon.pool_log("fnline"))


def test_task_to_function_worker_is_refused(daemon):
    with drover.Executor(daemon.sock("fnjson"), codec="json") as ex:
        with pytest.raises(drover.RemoteError, match="serves one function"):
            ex.submit(os.getpid).result(30)


def test_unimportable_function_exits_with_a_message():
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "clients", "python"), DROVER_FD="0")
    r = subprocess.run([sys.executable, "-m", "drover.worker", "no_such_module:fn"],
                       capture_output=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert b"cannot import no_such_module:fn" in r.stderr


def test_serve_directly():
    # drover.serve(func) on a socketpair, as droverd would run it.
    import socket
    a, b = socket.socketpair()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(SRC, "clients", "python"), HERE]), DROVER_FD=str(b.fileno()),
        DROVER_FRAMING="length")
    p = subprocess.Popen([sys.executable, "-c",
                          "import drover, pytasks; raise SystemExit(drover.serve(pytasks.upper))"],
                         env=env, pass_fds=(b.fileno(),))
    b.close()
    try:
        reqs = [envelope.encode_request("raw", envelope.KIND_CALL, b"abc%d" % i)
                for i in range(3)]
        a.sendall(b"".join(len(r).to_bytes(4, "big") + r for r in reqs))
        got = b""
        a.settimeout(20)
        want = b"".join(len(b"oABC%d" % i).to_bytes(4, "big") + b"oABC%d" % i for i in range(3))
        while len(got) < len(want):
            chunk = a.recv(4096)
            assert chunk
            got += chunk
        assert got == want
        a.close()  # EOF: the worker exits
        assert p.wait(20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_stdio_worker_keeps_requests_from_stdin_readers():
    # work_fd = stdio: a function (or a child it runs) reading stdin must not
    # take the requests that arrive there: it reads /dev/null.
    import select
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(SRC, "clients", "python"), HERE]), DROVER_FRAMING="line")
    env.pop("DROVER_FD", None)
    p = subprocess.Popen([sys.executable, "-m", "drover.worker", "pytasks:run_cat"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        reqs = [envelope.encode_request("json", envelope.KIND_CALL, i) for i in range(2)]
        p.stdin.write(b"".join(r + b"\n" for r in reqs))
        p.stdin.flush()
        got = b""
        end = time.monotonic() + 10
        while got.count(b"\n") < 2 and time.monotonic() < end:
            if select.select([p.stdout], [], [], max(0, end - time.monotonic()))[0]:
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                got += chunk
        assert got == b'o""\no""\n'
        p.stdin.close()  # EOF: the worker exits
        assert p.wait(20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
