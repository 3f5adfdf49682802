# SPDX-License-Identifier: ISC
"""Functions the test pools' workers run (imported by name by drover.worker)."""
import os
import sys
import time


def square(x):
    return x * x


def spin(x, seconds=0.001):
    """About `seconds` of CPU, then x * 2 + 1 (so a wrong result shows)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return x * 2 + 1


def fail(x):
    raise ValueError("task %r failed on purpose" % (x,))


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle rebuilds exceptions from args: this one cannot be
        super().__init__("%s/%s" % (a, b))


def fail_unpicklable(x):
    raise Unpicklable(x, x)


def exit_now(x):
    sys.exit(4)


def pid(_=None):
    return os.getpid()


# -- function workers (python3 -m drover.worker pytasks:NAME) --------------

def upper(data):
    """raw codec: bytes in, bytes out."""
    return data.upper()


def describe(value):
    """json codec: any JSON value in, a dict out."""
    if value == "raise":
        raise KeyError("asked to raise")
    if value == "print":
        print("this goes to the log, not to the client")
    return {"type": type(value).__name__, "value": value}


def sleepy(seconds):
    time.sleep(seconds)
    return seconds


def crash(_):
    os._exit(3)


class BadStr(Exception):
    def __str__(self):
        raise RuntimeError("str() of this exception raises")


def fail_bad_str(x):
    raise BadStr(x)


def run_cat(_):
    """A child process inheriting the worker's stdin: cat reads it to its end."""
    import subprocess
    return subprocess.run(["cat"], stdout=subprocess.PIPE, timeout=60).stdout.decode()


def touch(path):
    with open(path, "w"):
        pass
    return path


def fail_worker_only(x):
    """Raise an exception of a class only the worker has (a module the
    client cannot import)."""
    import types
    mod = types.ModuleType("only_on_the_worker")
    exec("class WorkerOnly(Exception):\n    pass\n", mod.__dict__)
    sys.modules["only_on_the_worker"] = mod
    raise mod.WorkerOnly("raised by %r" % (x,))


def size(data):
    return len(data)


def blob(n):
    return b"x" * n
