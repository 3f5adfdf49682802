#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""drover.Executor against multiprocessing.Pool and
concurrent.futures.ProcessPoolExecutor, side by side in one run.

    python3 bench/python/bench.py [--runs 3] [--procs N] [--build build]

The same CPU-bound function (benchtasks.cpu) with two task sizes, about 3 ms
and about 50 us, on the same number of processes (default: nproc). Within a
run every variant is measured back to back, the order rotating from run to
run (the machine may be shared: compare the ratios, not the absolute rates).
Startup is not timed: each executor is created and warmed up first.

Then the fault run: one worker is SIGKILLed a third of the way into a map of
the few-ms task, and what each executor does is recorded (every run bounded
by --fault-timeout seconds).

Besides throughput, the CPU time of every process involved (this one with
its threads, the pool's workers, droverd) per task: on a loaded machine
throughput measures the scheduler as much as the executor, CPU per task much
less so.

Prints a Markdown summary; one JSON object per measurement goes to
bench/results/python.jsonl (appended).
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "clients", "python"))
sys.path.insert(0, HERE)

import drover  # noqa: E402
import benchtasks  # noqa: E402


def calibrate(target_s):
    """iters of benchtasks.cpu that take about target_s of CPU here (CPU
    time, not wall time: on a shared machine the process is preempted)."""
    iters = 1000
    while True:
        t0 = time.process_time()
        for _ in range(5):
            benchtasks.cpu(1, iters)
        dt = (time.process_time() - t0) / 5
        if dt > 0.02 or iters > 10 ** 8:
            return max(1, int(iters * target_s / dt))
        iters *= 4


class Droverd:
    def __init__(self, build, procs):
        self.tmp = tempfile.mkdtemp(prefix="drvbench.", dir="/tmp")
        self.bin = os.path.join(build, "bin")
        self.ctl = os.path.join(self.tmp, "ctl.sock")
        self.sock = os.path.join(self.tmp, "bench.sock")
        conf = os.path.join(self.tmp, "drover.ini")
        with open(conf, "w") as f:
            f.write("""[daemon]
control_socket = {t}/ctl.sock
log_dir = {t}/log

[pool:bench]
command = {py} -m drover.worker
workers = {n}
listen = {t}/bench.sock
environment = PYTHONPATH={src}/clients/python:{here}
ready = notify
worker_inflight = 4
max_attempts = 10
restart_delay_max = 100ms
crash_limit = none
""".format(t=self.tmp, py=sys.executable, n=procs, src=SRC, here=HERE))
        self.log = open(os.path.join(self.tmp, "droverd.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(self.bin, "droverd"), "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                if all(s["state"] == "running" for s in self.slots()):
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise SystemExit("droverd did not start its pool; see %s" % self.tmp)

    def slots(self):
        out = subprocess.run([os.path.join(self.bin, "drover"), "-s", self.ctl, "status",
                              "--json"], capture_output=True, check=True, timeout=10).stdout
        return next(p for p in json.loads(out)["pools"] if p["name"] == "bench")["slots"]

    def worker_pids(self):
        return [s["pid"] for s in self.slots() if s["state"] == "running" and s["pid"]]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def pool_chunksize(n, procs):
    """What multiprocessing.Pool.map picks when not told."""
    c, extra = divmod(n, procs * 4)
    return c + 1 if extra else c


def proc_cpu(pids):
    """User + system CPU seconds of these processes so far (0 for gone ones)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


# Each variant: (name, make(), map(executor, xs, iters, chunksize), chunksize, close(executor),
# pids(executor): the processes that do its work besides this one)
def variants(d, procs, n):
    auto = pool_chunksize(n, procs)

    def pool_map(ex, xs, iters, chunksize):
        return ex.starmap(benchtasks.cpu, [(x, iters) for x in xs], chunksize)

    def fut_map(ex, xs, iters, chunksize):
        return list(ex.map(benchtasks.cpu, xs, [iters] * len(xs), chunksize=chunksize))

    def pool_pids(ex):
        return [p.pid for p in ex._pool]

    def ppe_pids(ex):
        return list(ex._processes)

    def drover_pids(ex):
        return d.worker_pids() + [d.proc.pid]
    return [
        ("Pool.map", lambda: multiprocessing.Pool(procs), pool_map, None,
         lambda ex: (ex.terminate(), ex.join()), pool_pids),
        ("ProcessPoolExecutor.map", lambda: cf.ProcessPoolExecutor(procs), fut_map, 1,
         lambda ex: ex.shutdown(cancel_futures=True), ppe_pids),
        ("ProcessPoolExecutor.map chunksize=%d" % auto, lambda: cf.ProcessPoolExecutor(procs),
         fut_map, auto, lambda ex: ex.shutdown(cancel_futures=True), ppe_pids),
        ("drover.Executor.map", lambda: drover.Executor(d.sock), fut_map, 1,
         lambda ex: ex.shutdown(cancel_futures=True), drover_pids),
        ("drover.Executor.map chunksize=%d" % auto, lambda: drover.Executor(d.sock), fut_map,
         auto, lambda ex: ex.shutdown(cancel_futures=True), drover_pids),
    ]


def measure(d, procs, n, iters, run, task, out):
    xs = list(range(n))
    want = [benchtasks.cpu(x, iters) for x in xs[:50]]
    vs = variants(d, procs, n)
    k = run % len(vs)
    vs = vs[k:] + vs[:k]  # rotate the order from run to run
    rates, cpus = {}, {}
    for name, make, mapper, chunksize, close, pids_of in vs:
        ex = make()
        try:
            mapper(ex, list(range(procs * 4)), iters, 1)  # start and warm up
            pids = pids_of(ex)
            c0 = proc_cpu(pids) + time.process_time()
            t0 = time.perf_counter()
            res = mapper(ex, xs, iters, chunksize)
            dt = time.perf_counter() - t0
            cpu = proc_cpu(pids) + time.process_time() - c0
        finally:
            close(ex)
        ok = len(res) == n and res[:50] == want
        rates[name] = n / dt
        cpus[name] = cpu / n * 1e6
        rec = {"bench": "python", "task": task, "variant": name, "run": run, "n": n,
               "procs": procs, "iters": iters, "seconds": round(dt, 4),
               "tasks_per_s": round(n / dt, 1), "cpu_us_per_task": round(cpu / n * 1e6, 1),
               "correct": ok,
               "load1": os.getloadavg()[0], "time": time.time()}
        out.write(json.dumps(rec) + "\n")
        out.flush()
        print("  run %d %-40s %8.0f tasks/s %8.1f us CPU/task %s"
              % (run, name, n / dt, cpu / n * 1e6, "" if ok else "WRONG"), flush=True)
    return rates, cpus


def fault(d, procs, n, iters, expect_s, bound, out):
    """Kill one worker a third of the way in; record each outcome."""
    xs = list(range(n))
    want = [benchtasks.cpu(x, iters) for x in xs]
    outcomes = {}

    def killer(pids_fn, delay):
        def go():
            time.sleep(delay)
            pids = pids_fn()
            if pids:
                os.kill(pids[0], signal.SIGKILL)
        t = threading.Thread(target=go, daemon=True)
        t.start()
        return t

    # multiprocessing.Pool
    pool = multiprocessing.Pool(procs)
    pool.starmap(benchtasks.cpu, [(x, 1) for x in range(procs)])
    t0 = time.perf_counter()
    killer(lambda: [p.pid for p in pool._pool], expect_s / 3)
    r = pool.starmap_async(benchtasks.cpu, [(x, iters) for x in xs])
    try:
        res = r.get(bound)
        outcomes["Pool.map"] = "completed in %.1fs, %s" % (
            time.perf_counter() - t0, "correct" if res == want else "WRONG results")
    except multiprocessing.TimeoutError:
        outcomes["Pool.map"] = "hung: no result after %ds (killed by the bench)" % bound
    # Pool.terminate() itself has been seen to hang in join() after such a
    # kill (a worker that outlived its SIGTERM): SIGKILL what is left first.
    for proc in list(pool._pool):
        proc.kill()
    pool.terminate()
    pool.join()

    # ProcessPoolExecutor
    ex = cf.ProcessPoolExecutor(procs)
    list(ex.map(benchtasks.cpu, range(procs), [1] * procs))
    t0 = time.perf_counter()
    killer(lambda: list(ex._processes), expect_s / 3)
    got = 0
    try:
        for _ in ex.map(benchtasks.cpu, xs, [iters] * n, timeout=bound):
            got += 1
        outcomes["ProcessPoolExecutor.map"] = "completed in %.1fs" % (time.perf_counter() - t0)
    except Exception as e:
        outcomes["ProcessPoolExecutor.map"] = "%s after %d of %d results, at %.1fs; the " \
            "executor refuses all further work" % (type(e).__name__, got, n,
                                                  time.perf_counter() - t0)
    # A broken executor leaves its surviving worker running and its manager
    # thread dead (which can hang the interpreter's exit): end them here.
    for proc in list(getattr(ex, "_processes", {}).values()):
        proc.kill()
    ex.shutdown(wait=False, cancel_futures=True)

    # drover.Executor
    with drover.Executor(d.sock) as ex:
        list(ex.map(benchtasks.cpu, range(procs), [1] * procs))
        t0 = time.perf_counter()
        killer(d.worker_pids, expect_s / 3)
        try:
            res = list(ex.map(benchtasks.cpu, xs, [iters] * n, timeout=bound))
            outcomes["drover.Executor.map"] = "completed in %.1fs, %s" % (
                time.perf_counter() - t0,
                "every result correct, once" if res == want else "WRONG results")
        except Exception as e:
            outcomes["drover.Executor.map"] = "%s: %s" % (type(e).__name__, e)
    for k, v in outcomes.items():
        out.write(json.dumps({"bench": "python", "task": "fault", "variant": k, "outcome": v,
                              "n": n, "procs": procs, "time": time.time()}) + "\n")
        print("  fault: %-28s %s" % (k, v), flush=True)
    return outcomes


def main():
    # A SIGTERM (timeout(1)) still stops droverd and removes its directory.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--procs", type=int, default=os.cpu_count())
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--ms-tasks", type=int, default=1500, help="tasks of about 3 ms")
    ap.add_argument("--us-tasks", type=int, default=20000, help="tasks of about 50 us")
    ap.add_argument("--fault-timeout", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(SRC, "bench", "results", "python.jsonl"))
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    it_ms, it_us = calibrate(0.003), calibrate(0.00005)
    print("python %s, %d processes, cpu(x, %d) ~3 ms, cpu(x, %d) ~50 us; load %.1f"
          % (sys.version.split()[0], a.procs, it_ms, it_us, os.getloadavg()[0]), flush=True)
    d = Droverd(os.path.abspath(a.build), a.procs)
    table = {}
    try:
        with open(a.out, "a") as out:
            for run in range(a.runs):
                for task, n, iters in (("3ms", a.ms_tasks, it_ms), ("50us", a.us_tasks, it_us)):
                    rates, cpus = measure(d, a.procs, n, iters, run, task, out)
                    for k, v in rates.items():
                        table.setdefault((task, k), []).append(
                            (v, v / rates["Pool.map"], cpus[k]))
            expect = a.ms_tasks * 0.003 / a.procs
            outcomes = fault(d, a.procs, a.ms_tasks, it_ms, expect, a.fault_timeout, out)
    finally:
        d.stop()
    print("\n| task | executor | tasks/s, median (min–max) | × Pool.map, median (min–max) "
          "| CPU µs per task, all processes, median (min–max) |")
    print("|---|---|---|---|---|")
    for (task, name), vals in sorted(table.items()):
        r = [v[0] for v in vals]
        q = [v[1] for v in vals]
        c = [v[2] for v in vals]
        print("| %s | %s | %.0f (%.0f–%.0f) | %.2f (%.2f–%.2f) | %.0f (%.0f–%.0f) |" % (
            task, name, statistics.median(r), min(r), max(r),
            statistics.median(q), min(q), max(q), statistics.median(c), min(c), max(c)))
    print("\n| one worker SIGKILLed a third of the way into the map | outcome |")
    print("|---|---|")
    for k, v in outcomes.items():
        print("| %s | %s |" % (k, v))


if __name__ == "__main__":
    main()
    # Not the interpreter's exit handlers: after the fault run they may wait
    # for the broken ProcessPoolExecutor's threads.
    sys.stdout.flush()
    os._exit(0)
