# SPDX-License-Identifier: ISC
"""drover.Executor against a real droverd running the generic worker runtime."""
import concurrent.futures as cf
import functools
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import drover
import pytasks
from conftest import wait_until


def test_submit_and_map(daemon):
    with drover.Executor(daemon.sock("py")) as ex:
        assert ex.submit(pytasks.square, 12).result(30) == 144
        assert ex.submit(pytasks.spin, 5, seconds=0).result(30) == 11
        assert ex.submit(functools.partial(pytasks.spin, seconds=0), 1).result(30) == 3
    # The address (and framing) from droverd, as drover call learns them.
    with drover.Executor(pool="py", control_socket=daemon.ctl) as ex:
        assert ex.address == daemon.sock("py")
        assert list(ex.map(pytasks.square, range(10))) == [i * i for i in range(10)]
    with pytest.raises(ValueError, match="framing = line"):
        drover.Executor(pool="echoline", control_socket=daemon.ctl)


def test_map_10000(daemon):
    n = 10000
    with drover.Executor(daemon.sock("py")) as ex:
        t0 = time.monotonic()
        assert list(ex.map(pytasks.square, range(n), timeout=90)) == [i * i for i in range(n)]
        one = time.monotonic() - t0
        assert list(ex.map(pytasks.square, range(n), chunksize=64, timeout=90)) == \
            [i * i for i in range(n)]
    print("map of %d tasks: %.2fs one by one" % (n, one))


def test_map_timeout(daemon):
    with drover.Executor(daemon.sock("py")) as ex:
        it = ex.map(pytasks.spin, range(50), [0.05] * 50, timeout=0.2)
        with pytest.raises(cf.TimeoutError):
            list(it)


def test_exception_rebuilt_with_traceback(daemon):
    with drover.Executor(daemon.sock("py")) as ex:
        f = ex.submit(pytasks.fail, 7)
        with pytest.raises(ValueError, match="task 7 failed on purpose") as e:
            f.result(30)
        cause = e.value.__cause__
        assert isinstance(cause, drover.RemoteTraceback)
        assert "pytasks.py" in cause.tb and "in fail" in cause.tb
        # In a chunk, the failing item's exception ends the map at that item.
        it = ex.map(pytasks.fail, [1], chunksize=4)
        with pytest.raises(ValueError):
            next(it)
        f = ex.submit(pytasks.fail_unpicklable, 3)
        with pytest.raises(drover.RemoteError) as e:
            f.result(30)
        assert e.value.type == "pytasks.Unpicklable" and "3/3" in e.value.message
        assert "in fail_unpicklable" in e.value.traceback
        with pytest.raises(drover.RemoteError, match="SystemExit"):
            ex.submit(pytasks.exit_now, 1).result(30)
    # The worker logged the traceback to the pool's log.
    assert "task 7 failed on purpose" in daemon.pool_log("py")


def test_exception_whose_str_raises(daemon):
    # str() of the task's exception raises: still an error reply, not a
    # worker that dies on it (droverd would run the task again, then Failed).
    with drover.Executor(daemon.sock("py")) as ex:
        with pytest.raises(pytasks.BadStr):
            ex.submit(pytasks.fail_bad_str, 1).result(30)
    with drover.Executor(daemon.sock("py"), codec="json") as ex:
        with pytest.raises(drover.RemoteError) as e:
            ex.submit(pytasks.fail_bad_str, 1).result(30)
        assert e.value.type == "pytasks.BadStr" and "str() failed" in e.value.message


def test_exception_of_a_class_the_client_lacks(daemon):
    # The worker's exception pickles, but its class is not importable here:
    # a RemoteError with its type, message and traceback (the whole error
    # was a ProtocolError, "cannot unpickle the error reply").
    with drover.Executor(daemon.sock("py")) as ex:
        with pytest.raises(drover.RemoteError) as e:
            ex.submit(pytasks.fail_worker_only, 1).result(30)
        assert e.value.type == "only_on_the_worker.WorkerOnly"
        assert e.value.message == "raised by 1" and "in fail_worker_only" in e.value.traceback
        assert ex.submit(pytasks.square, 3).result(30) == 9


def test_unimportable_target(daemon):
    def local(x):
        return x
    with drover.Executor(daemon.sock("py"), codec="json") as ex:
        with pytest.raises(TypeError, match="importable name"):
            ex.submit(local, 1)
    # A name the worker cannot import: a clear error naming it.
    mod = type(sys)("not_on_the_workers_path")
    exec("def f(x):\n    return x\n", mod.__dict__)
    mod.f.__module__ = "not_on_the_workers_path"
    sys.modules["not_on_the_workers_path"] = mod
    try:
        with drover.Executor(daemon.sock("py")) as ex:
            with pytest.raises(drover.TargetError, match="cannot import not_on_the_workers_path:f"):
                ex.submit(mod.f, 1).result(30)
    finally:
        del sys.modules["not_on_the_workers_path"]


def test_unpicklable_argument_fails_in_submit(daemon):
    with drover.Executor(daemon.sock("py")) as ex:
        with pytest.raises(Exception, match="pickle"):
            ex.submit(pytasks.square, threading.Lock())
        with pytest.raises(Exception):
            ex.submit(lambda x: x, 1)
        assert ex.submit(pytasks.square, 3).result(30) == 9


def test_json_codec(daemon):
    with drover.Executor(daemon.sock("py"), codec="json") as ex:
        assert list(ex.map(pytasks.square, range(100), chunksize=7)) == [i * i for i in range(100)]
        with pytest.raises(drover.RemoteError, match="ValueError"):
            ex.submit(pytasks.fail, 1).result(30)
        with pytest.raises(TypeError):
            ex.submit(pytasks.square, object())


def test_shutdown(daemon):
    ex = drover.Executor(daemon.sock("py"), window=1)
    fs = [ex.submit(pytasks.spin, i, 0.02) for i in range(50)]
    assert fs[0].result(30) == 1
    ex.shutdown(wait=True, cancel_futures=True)
    cancelled = [f for f in fs if f.cancelled()]
    done = [f for f in fs if not f.cancelled()]
    assert cancelled and done
    assert all(f.result() == i * 2 + 1 for i, f in enumerate(fs) if not f.cancelled())
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(pytasks.square, 1)
    ex = drover.Executor(daemon.sock("py"))
    fs = [ex.submit(pytasks.square, i) for i in range(100)]
    ex.shutdown(wait=True)
    assert [f.result(0) for f in fs] == [i * i for i in range(100)]


def test_full_queue_does_not_throttle_to_a_crawl(daemon):
    # A pool with room for 3 tasks answers most of a window BUSY. Each BUSY
    # answer doubled the retry delay, so one round took it to 1 s: 3 tasks a
    # second (150 tasks of 2 ms: 50 s). One delay per round of BUSY answers.
    n = 150
    with drover.Executor(daemon.sock("pybusy")) as ex:
        t0 = time.monotonic()
        fs = [ex.submit(pytasks.spin, i, 0.002) for i in range(n)]
        assert [f.result(120) for f in fs] == [i * 2 + 1 for i in range(n)]
        took = time.monotonic() - t0
    assert daemon.pool("pybusy")["route"]["busy"] > 0
    assert took < 20, "%d tasks through a full queue took %.1fs" % (n, took)


def test_unreachable_pool_fails_futures(tmp_path):
    with drover.Executor(str(tmp_path / "none.sock"), connect_timeout=0.2) as ex:
        with pytest.raises(ConnectionError, match="cannot connect"):
            ex.submit(pytasks.square, 1).result(10)


def test_function_of_main_script(daemon, tmp_path):
    # A script's own function and class, as with multiprocessing's spawn.
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent("""
        import sys
        import drover

        class Point:
            def __init__(self, x, y):
                self.x, self.y = x, y

        def norm1(p):
            return Point(abs(p.x), abs(p.y))

        if __name__ == "__main__":
            with drover.Executor(sys.argv[1]) as ex:
                out = list(ex.map(norm1, [Point(-i, i) for i in range(20)], chunksize=3))
            assert [(p.x, p.y) for p in out] == [(i, i) for i in range(20)], out
            assert type(out[0]) is Point
            print("ok")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, str(script), daemon.sock("py")], capture_output=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr.decode()


def test_map_survives_worker_kills_every_200ms(daemon):
    """SIGKILL a worker of the pool every 200 ms during a map: every result
    comes back, correct, exactly once, and the executor keeps working."""
    n = 200  # per round; rounds go on until 5 workers were killed (1 round when slow)
    stop = threading.Event()
    killed = []

    def killer():
        while not stop.wait(0.2):
            pids = daemon.running_pids("pykill")
            if pids:
                pid = random.choice(pids)
                try:
                    os.kill(pid, signal.SIGKILL)  # a worker of our own droverd
                    killed.append(pid)
                except ProcessLookupError:
                    pass
    before = daemon.pool("pykill")["route"]["retries"]
    rounds = 0
    with drover.Executor(daemon.sock("pykill")) as ex:
        t = threading.Thread(target=killer)
        t.start()
        try:
            while rounds == 0 or (len(killed) < 5 and rounds < 50):
                xs = range(rounds * n, (rounds + 1) * n)
                results = list(ex.map(pytasks.spin, xs, [0.004] * n, timeout=150))
                assert results == [x * 2 + 1 for x in xs], "round %d: wrong results" % rounds
                rounds += 1
        finally:
            stop.set()
            t.join()
        assert ex.submit(pytasks.square, 5).result(30) == 25
    assert len(killed) >= 5, "only %d workers killed in %d rounds" % (len(killed), rounds)
    assert daemon.pool("pykill")["route"]["retries"] > before
    n *= rounds
    print("%d tasks, %d workers killed" % (n, len(killed)))


def test_connection_lost_fails_in_flight_and_reconnects(tmp_path):
    # A stand-in for droverd: the first connection takes one task and drops;
    # later connections answer every task with 42.
    import pickle
    from test_client import FakeServer, reply

    def handler(srv, conn):
        if srv.connections == 1:
            srv.read_request(conn)
            return
        while srv.read_request(conn) is not None:
            reply(conn, b"+o" + pickle.dumps(42))
    srv = FakeServer(tmp_path, handler)
    try:
        with drover.Executor(srv.path, window=1) as ex:
            f1 = ex.submit(pytasks.square, 1)
            with pytest.raises(drover.ConnectionLost, match="not re-sent"):
                f1.result(10)
            assert ex.submit(pytasks.square, 2).result(10) == 42
        assert len(srv.requests) == 2 and srv.connections == 2
    finally:
        srv.close()


def executor_threads():
    return [t for t in threading.enumerate() if t.name == "drover-executor"]


def test_executor_dropped_without_shutdown(daemon):
    # As concurrent.futures: an executor dropped without shutdown finishes
    # its tasks, then its thread ends and its connection closes (it leaked
    # both, one per executor, for the life of the process).
    import gc
    before = len(executor_threads())
    ex = drover.Executor(daemon.sock("py"))
    fs = [ex.submit(pytasks.spin, i, 0.05) for i in range(4)]
    del ex
    gc.collect()
    assert [f.result(30) for f in fs] == [i * 2 + 1 for i in range(4)]
    wait_until("the dropped executor's thread to end",
               lambda: len(executor_threads()) <= before, timeout=10)

def test_tasks_pending_at_exit_still_run(daemon, tmp_path):
    # As concurrent.futures: the program does not exit before the tasks
    # submitted (without shutdown, or after shutdown(wait=False)) are done;
    # they were dropped with the executor's thread.
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent("""
        import sys
        import drover, pytasks

        ex = drover.Executor(sys.argv[1])
        for i in range(10):
            ex.submit(pytasks.touch, "%s/a%d" % (sys.argv[2], i))
        ex2 = drover.Executor(sys.argv[1])
        for i in range(10):
            ex2.submit(pytasks.touch, "%s/b%d" % (sys.argv[2], i))
        ex2.shutdown(wait=False)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, str(script), daemon.sock("py"), str(tmp_path)],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr.decode()
    done = sorted(p.name for p in tmp_path.iterdir() if p.name != "exit.py")
    assert done == sorted(["a%d" % i for i in range(10)] + ["b%d" % i for i in range(10)])

def test_executor_in_a_forked_child(daemon, tmp_path):
    # An executor made before fork works in the child (its own thread and
    # connection) and still in the parent; the child's submit hung for ever.
    script = tmp_path / "fork.py"
    script.write_text(textwrap.dedent("""
        import os, subprocess, sys, threading
        import drover, pytasks

        ex = drover.Executor(sys.argv[1])
        assert ex.submit(pytasks.square, 2).result(30) == 4
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = 0 if ex.submit(pytasks.square, 3).result(20) == 9 else 1
                ex.shutdown()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert ex.submit(pytasks.square, 4).result(30) == 16
        # A child that forks only to exec starts no thread of the executor.
        def threads():
            os.write(1, b"%d" % threading.active_count())
        r = subprocess.run(["true"], preexec_fn=threads, stdout=subprocess.PIPE)
        assert r.stdout == b"1", r.stdout
        ex.shutdown()
        print("ok")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, str(script), daemon.sock("py")], capture_output=True,
                       timeout=60, env=env)
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr.decode()


def test_shutdown_cancelling_runs_callbacks_unlocked(daemon):
    # A done callback of a future that shutdown(cancel_futures=True) cancels
    # may call submit (and learn it is too late): it ran under the
    # executor's lock, and deadlocked shutdown and the executor's thread.
    ex = drover.Executor(daemon.sock("py"), window=1)
    fs = [ex.submit(pytasks.spin, i, 0.1) for i in range(5)]
    refused = []

    def again(f):
        try:
            ex.submit(pytasks.square, 1)
        except RuntimeError as e:
            refused.append(e)
    fs[-1].add_done_callback(again)
    t = threading.Thread(target=ex.shutdown, kwargs={"cancel_futures": True}, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "shutdown(cancel_futures=True) deadlocked"
    assert fs[-1].cancelled() and len(refused) == 1


def test_arguments_larger_than_max_frame(daemon):
    # Made with an address only, the executor does not know the pool's
    # max_frame (1 MiB): droverd answers that task TooBig, after the tasks
    # before it, and closes; those sent after it go again on a new connection.
    big = b"x" * (2 << 20)
    with drover.Executor(daemon.sock("py"), window=64) as ex:
        before = [ex.submit(pytasks.square, i) for i in range(30)]
        too_big = ex.submit(pytasks.size, big)
        after = [ex.submit(pytasks.square, i) for i in range(30)]
        with pytest.raises(drover.TooBig, match=r"larger than max_frame \(1048576 bytes\)"):
            too_big.result(60)
        assert [f.result(60) for f in before + after] == [i * i for i in range(30)] * 2
        assert ex.submit(pytasks.size, b"x" * 1000).result(60) == 1000
    # With the limit known, submit refuses it before sending anything.
    with drover.Executor(pool="py", control_socket=daemon.ctl) as ex:
        with pytest.raises(ValueError, match="max_frame"):
            ex.submit(pytasks.size, big)
        assert ex.submit(pytasks.square, 4).result(60) == 16


def test_result_larger_than_max_frame(daemon):
    # A result the pool's max_frame cannot carry: Failed, saying so, after
    # one delivery (pykill's max_attempts = 20 is not spent on it).
    with drover.Executor(daemon.sock("pykill")) as ex:
        f = ex.submit(pytasks.blob, 2 << 20)
        with pytest.raises(drover.Failed, match="larger than max_frame.*not sent to another worker"):
            f.result(60)
        assert ex.submit(pytasks.square, 3).result(60) == 9
