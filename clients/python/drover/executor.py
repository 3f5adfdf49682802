# SPDX-License-Identifier: ISC
"""drover.Executor: concurrent.futures.Executor over a drover pool.

    with drover.Executor("/run/drover/py.sock") as ex:
        results = list(ex.map(work, items, chunksize=16))

The pool runs the generic worker runtime (``python3 -m drover.worker``), so
any function with an importable name (module:qualname, or a function of the
running script, which the worker loads as __mp_main__ like multiprocessing's
spawn does) can be submitted; with the pickle codec, partials and other
picklable callables too.

One background thread keeps up to ``window`` tasks in flight on one
connection; droverd spreads them over the pool's workers. A worker that dies
mid-task costs nothing but time: droverd gives the task to another worker (up
to the pool's max_attempts; raise it for pools whose workers get killed), and
the pool is never "broken". A future fails with:

- the exception the function raised (rebuilt from the worker with the
  worker's traceback as __cause__), or drover.RemoteError when it cannot be
  rebuilt (JSON codec, exceptions that do not pickle);
- drover.Failed / drover.Timeout when droverd gave up on the task after
  max_attempts deliveries (the workers died, or ran over request_timeout),
  or Failed when its result was larger than the pool's max_frame;
- drover.TooBig (a ValueError) when the task's arguments are larger than
  the pool's max_frame and the executor does not know that limit (made
  with an address and no max_frame=): droverd answers it so, and the tasks
  sent after it on the connection go again on a new one. With the limit
  known, submit itself raises ValueError;
- drover.ConnectionLost when the connection to droverd dropped while the
  task was in flight (tasks not yet sent are sent on a new connection);
- ConnectionError (OSError) when droverd cannot be reached for connect_timeout.

Busy answers (a full queue) are retried after a short delay: the task had not
reached a worker.

Pickle warning: with the default pickle codec, whoever can connect to the
pool's work socket can run code in the workers, and a worker's reply is
unpickled here. Keep the socket to trusted users (socket_mode, socket_group)
and use TLS with client certificates for tcp: pools.
"""
import collections
import itertools
import os
import selectors
import socket
import ssl
import sys
import threading
import time
import weakref
from concurrent import futures

from . import _address, _frame, envelope
from .control import pool_info
from .errors import ConnectionLost, ProtocolError, server_error, Busy, TooBig

# Like multiprocessing: the client's __main__ is also __mp_main__, so objects
# of the workers' copy of the script (module __mp_main__) unpickle here.
if "__main__" in sys.modules:
    sys.modules.setdefault("__mp_main__", sys.modules["__main__"])

_RECV_CHUNK = 256 * 1024
_SEND_CHUNK = 256 * 1024

# Every _Loop whose thread may run. As with concurrent.futures, the program
# does not exit before the tasks submitted are done: at exit each loop is
# told to finish, and the interpreter waits for its (non-daemon) thread.
_loops = weakref.WeakSet()


def _finish_all():
    for loop in list(_loops):
        loop.finish()


threading._register_atexit(_finish_all)

# Every Executor: in a child after fork, each gets a loop of its own.
_executors = weakref.WeakSet()


def _after_fork_in_child():
    for ex in list(_executors):
        ex._loop = ex._loop.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Item:
    __slots__ = ("future", "frame", "chunk", "started")

    def __init__(self, future, frame, chunk):
        self.future = future
        self.frame = frame
        self.chunk = chunk      # a map chunk (result is a list)
        self.started = False    # set_running_or_notify_cancel done


class Executor(futures.Executor):
    """Run callables in a drover pool's workers.

    address: the pool's listen (Unix path or tcp:HOST:PORT); or pool=NAME to
    ask droverd (control_socket, default as the drover CLI) for it.
    codec: 'pickle' (default), or 'json' (arguments and results must be
    JSON; only named functions). window: tasks in flight at once (at most
    256, droverd's per-connection limit; keep it above the pool's worker
    count times its worker_inflight). ssl_context: TLS for tcp: addresses.
    """

    def __init__(self, address=None, *, pool=None, control_socket=None, codec=envelope.PICKLE,
                 window=128, connect_timeout=10.0, ssl_context=None, server_hostname=None,
                 max_frame=None):
        framing = _frame.LENGTH
        if pool is not None:
            info = pool_info(pool, control_socket)
            if address is None:
                address = info.listen
            framing = info.framing
            if max_frame is None:
                max_frame = info.max_frame
        if address is None:
            raise TypeError("Executor needs an address or pool=NAME")
        envelope.check_codec(codec)
        if codec == envelope.RAW:
            raise ValueError("the executor sends tasks: use the pickle or json codec")
        if framing == _frame.LINE and codec == envelope.PICKLE:
            raise ValueError("pool %s uses framing = line, which cannot carry pickle; use "
                             "codec='json' or framing = length" % pool)
        if not 1 <= window <= 256:
            raise ValueError("window must be 1..256")
        self.address = address
        self._framing = framing
        self._codec = codec
        self._max_frame = max_frame
        self._loop = _Loop(address, framing, codec, window, max_frame, connect_timeout,
                           ssl_context, server_hostname)
        _executors.add(self)

    def __del__(self):
        # Dropped without shutdown: the loop finishes the tasks it has, then
        # ends (it holds no reference to the executor).
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.finish()

    # -- the Executor API --------------------------------------------------

    def submit(self, fn, /, *args, **kwargs):
        target = envelope.task_target(fn, self._codec)
        frame = self._frame(envelope.encode_task(self._codec, target, args, kwargs))
        return self._enqueue(frame, False)

    def _frame(self, body):
        # Serialised here, in the caller: an unpicklable argument fails in
        # submit, before anything is sent.
        return _frame.encode(self._framing, body, self._max_frame)

    def _enqueue(self, frame, chunk):
        return self._loop.enqueue(frame, chunk)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """As concurrent.futures: results in order; ``timeout`` (seconds from
        this call) raises TimeoutError when a result is late; ``chunksize``
        items go to a worker in one request."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1")
        end = None if timeout is None else time.monotonic() + timeout
        if chunksize == 1:
            fs = [self.submit(fn, *args) for args in zip(*iterables)]
            per = False
        else:
            target = envelope.task_target(fn, self._codec)
            it = zip(*iterables)
            fs = []
            while True:
                chunk = list(itertools.islice(it, chunksize))
                if not chunk:
                    break
                if self._codec == envelope.JSON:
                    chunk = [list(a) for a in chunk]
                fs.append(self._enqueue(self._frame(
                    envelope.encode_chunk(self._codec, target, chunk)), True))
            per = True

        def results():
            try:
                fs.reverse()
                while fs:
                    f = fs.pop()
                    if end is None:
                        r = f.result()
                    else:
                        r = f.result(end - time.monotonic())
                    if per:
                        yield from r
                    else:
                        yield r
            finally:
                for f in fs:
                    f.cancel()
        return results()

    def shutdown(self, wait=True, *, cancel_futures=False):
        self._loop.shutdown(wait, cancel_futures)


class _Loop:
    """An executor's I/O: one thread keeps up to ``window`` tasks in flight
    on one connection. It holds no reference to its Executor, so one dropped
    without shutdown is collected, and the loop then ends as after
    shutdown(wait=False)."""

    def __init__(self, address, framing, codec, window, max_frame, connect_timeout, ssl_context,
                 server_hostname):
        self._settings = (address, framing, codec, window, max_frame, connect_timeout, ssl_context,
                          server_hostname)
        self.address = address
        self._addr = _address.parse(address)
        self._framing = framing
        self._codec = codec
        self._window = window
        self._max_frame = max_frame
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._lock = threading.Lock()
        self._pending = collections.deque()
        self._shutdown = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        self._conn = None  # for forked()
        # Started by the first task: a child that forked only to exec (a
        # subprocess preexec_fn) starts no thread.
        self._thread = None
        _loops.add(self)

    def enqueue(self, frame, chunk):
        f = futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._pending.append(_Item(f, frame, chunk))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="drover-executor")
                self._thread.start()
            wake = not self._woken
            self._woken = True
        if wake:
            self._wake()
        return f

    def shutdown(self, wait, cancel_futures):
        with self._lock:
            self._shutdown = True
            cancel = [item.future for item in self._pending
                      if cancel_futures and not item.started]
        for f in cancel:
            f.cancel()  # unlocked: its done callbacks may call submit
        self._wake()
        if wait and self._thread is not None:
            self._thread.join()

    def forked(self):
        """In a child after fork, where this loop's thread did not come along
        (its tasks are the parent's): a new loop, with a connection of its
        own. This one's sockets close here, so that droverd sees the parent
        close them."""
        for s in (self._conn, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        loop = _Loop(*self._settings)
        if self._shutdown:
            loop.finish()
        return loop

    def finish(self):
        """shutdown(wait=False) without the lock: from __del__, which the
        garbage collector may run in this loop's thread, lock held."""
        self._shutdown = True
        self._wake()

    def _wake(self):
        try:
            self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already full: the thread will wake

    # -- the I/O thread ----------------------------------------------------

    def _run(self):
        conn = None
        inflight = collections.deque()  # items written or being written, reply order
        retry_at = None                  # when Busy items go again
        busy_delay = 0.01
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        out = bytearray()
        written = 0   # bytes of the stream written on this connection
        queued = 0    # bytes of the stream queued on this connection
        starts = collections.deque()  # stream offset of each inflight item's frame
        decoder = None
        try:
            while True:
                with self._lock:
                    self._woken = False
                    if self._shutdown and not self._pending and not inflight:
                        return
                    take = []
                    if retry_at is None or time.monotonic() >= retry_at:
                        retry_at = None
                        size = len(out)
                        while self._pending and len(inflight) + len(take) < self._window \
                                and size < _SEND_CHUNK:
                            item = self._pending.popleft()
                            take.append(item)
                            size += len(item.frame)
                for i, item in enumerate(take):
                    if not item.started:
                        if not item.future.set_running_or_notify_cancel():
                            continue  # cancelled while it waited
                        item.started = True
                    if conn is None:
                        try:
                            conn = self._conn = self._connect()
                        except OSError as e:
                            with self._lock:
                                self._pending.extendleft(reversed(take[i:]))
                            self._fail_all(e)
                            break
                        decoder = _frame.Decoder(
                            self._framing, (self._max_frame or _frame.DEFAULT_REPLY_LIMIT) + 1)
                        sel.register(conn, selectors.EVENT_READ)
                        written = queued = 0
                    starts.append(queued)
                    out += item.frame
                    queued += len(item.frame)
                    inflight.append(item)
                if conn is None:
                    # Nothing to do but wait for work (or for a Busy retry).
                    wait = None if retry_at is None else max(0, retry_at - time.monotonic())
                    if (retry_at is None and self._pending) or self._shutdown:
                        wait = 0
                    for key, _ in sel.select(wait):
                        self._drain_wake()
                    continue
                sel.modify(conn, selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0))
                wait = None if retry_at is None else max(0, retry_at - time.monotonic())
                if (retry_at is None and len(inflight) < self._window and self._pending) \
                        or (self._shutdown and not inflight):
                    wait = 0  # more to take, or done (the last taken may have been cancelled)
                pending_tls = isinstance(conn, ssl.SSLSocket) and conn.pending() > 0
                events = [(None, selectors.EVENT_READ)] if pending_tls else sel.select(wait)
                lost, unread = None, False
                for key, ev in events:
                    if key is not None and key.fileobj is self._wake_r:
                        self._drain_wake()
                        continue
                    if ev & selectors.EVENT_WRITE and out:
                        try:
                            n = conn.send(out)
                        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                            n = 0
                        except OSError as e:
                            lost = e
                            break
                        del out[:n]
                        written += n
                    if ev & selectors.EVENT_READ:
                        try:
                            data = conn.recv(_RECV_CHUNK)
                        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                            continue
                        except OSError as e:
                            lost = e
                            break
                        if not data:
                            lost = "droverd closed the connection"
                            break
                        decoder.feed(data)
                        try:
                            bodies = decoder.frames()
                        except ProtocolError as e:
                            lost = e
                            break
                        for body in bodies:
                            if not inflight:
                                lost = ProtocolError("a reply with no request in flight")
                                break
                            try:
                                ok, payload = _frame.parse_reply(body)
                            except ProtocolError as e:
                                lost = e
                                break
                            item = inflight.popleft()
                            starts.popleft()
                            if ok:
                                self._settle(item, payload)
                                busy_delay = 0.01
                            else:
                                err = server_error(payload)
                                if isinstance(err, Busy):
                                    # Never reached a worker: send it again, a little later.
                                    with self._lock:
                                        self._pending.appendleft(item)
                                    # One delay for a window of Busy answers,
                                    # longer each round nothing gets through.
                                    if retry_at is None:
                                        retry_at = time.monotonic() + busy_delay
                                        busy_delay = min(busy_delay * 2, 1.0)
                                else:
                                    item.future.set_exception(err)
                                    if isinstance(err, TooBig):
                                        # droverd read nothing after it and
                                        # closes: the rest go again.
                                        lost, unread = err, True
                                        break
                        if lost is not None:
                            break
                if lost is not None:
                    self._lose(conn, lost, inflight, starts, 0 if unread else written, sel)
                    unread = False
                    conn = self._conn = None
                    out, decoder = bytearray(), None
                    starts.clear()
        except BaseException as e:  # a bug here must not leave futures hanging
            for item in list(inflight) + list(self._pending):
                if not item.future.done():
                    if not item.started:
                        item.future.set_running_or_notify_cancel()
                    item.future.set_exception(e)
            raise
        finally:
            sel.close()
            if conn is not None:
                conn.close()

    def _connect(self):
        """Connect, retrying for connect_timeout (droverd may be restarting)."""
        end = time.monotonic() + self._connect_timeout
        delay = 0.01
        while True:
            try:
                s = _address.connect(self._addr, self._connect_timeout, self._ssl_context,
                                     self._server_hostname)
                s.setblocking(False)
                return s
            except OSError:
                if time.monotonic() + delay > end:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _fail_all(self, err):
        """droverd cannot be reached: every task not in flight fails."""
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
        for item in items:
            if not item.started and not item.future.set_running_or_notify_cancel():
                continue
            item.started = True
            item.future.set_exception(ConnectionError(
                "cannot connect to %s: %s" % (self.address, err)))

    def _lose(self, conn, why, inflight, starts, written, sel):
        """The connection dropped: tasks that had a byte written fail with
        ConnectionLost (never re-sent: they may have run); the rest go back to
        the head of the queue for the next connection. (After a TooBig
        answer written is 0: droverd read none of the tasks still in flight.)"""
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()
        resend = []
        for item, start in zip(list(inflight), starts):
            if written > start:
                item.future.set_exception(ConnectionLost(
                    "connection to %s lost (%s) with the task in flight; not re-sent"
                    % (self.address, why)))
            else:
                resend.append(item)
        inflight.clear()
        with self._lock:
            self._pending.extendleft(reversed(resend))

    def _settle(self, item, payload):
        try:
            result = envelope.decode_reply(self._codec, payload)
        except BaseException as e:
            item.future.set_exception(e)
        else:
            item.future.set_result(result)

    def _drain_wake(self):
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
