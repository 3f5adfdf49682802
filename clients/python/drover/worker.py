# SPDX-License-Identifier: ISC
"""The worker side: a message-mode pool's worker written in Python.

    python3 -m drover.worker                   # generic runtime (drover.Executor's tasks)
    python3 -m drover.worker MODULE:FUNCTION   # serve one function
    drover.serve(func)                         # the same from your own script

Requests arrive on the pool's socket (fd DROVER_FD, or stdin/stdout with
work_fd = stdio) in its framing (DROVER_FRAMING); each carries the envelope
of drover.envelope. The worker waits for requests in poll(), reads all that
arrived, runs them in order and writes their replies together, a reply
waiting at most 0.5 ms for the rest of its batch (so
worker_inflight > 1 pays off). An exception raised by the function is logged
with its traceback on stderr (the pool's log) and answered as an error reply,
which the client raises. With ready = notify the worker sends READY=1 once
the function is imported, and WATCHDOG=1 when the pool sets watchdog.

Security: the generic runtime runs whatever importable function a request
names, and pickle runs code while unpickling: whoever can connect to the
pool's work socket can run code as the workers' user. The socket's
socket_mode / socket_group decide who that is; for tcp: pools require client
certificates (the pool's tls_cert, tls_key and tls_client_ca). A worker serving one
function accepts only the raw and JSON codecs unless given --pickle.
"""
import argparse
import os
import select
import signal
import socket
import sys
import time
import traceback

from . import _frame, envelope

__all__ = ["serve", "main", "notify"]

# Longest a finished reply waits for the rest of its batch (seconds).
FLUSH_AFTER = 0.0005


def notify(state):
    """Send an sd_notify datagram (b"READY=1", ...) to $NOTIFY_SOCKET, if set.
    Returns whether it was sent."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return False
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.sendall(state if isinstance(state, bytes) else state.encode())
    return True


def _log_exception(exc):
    pid = os.getpid()
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write("drover.worker[%d]: request failed:\n%s" % (pid, text))
    sys.stderr.flush()


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except BlockingIOError:
            p = select.poll()
            p.register(fd, select.POLLOUT)
            p.poll()
            continue
        view = view[n:]


def serve(function=None, *, codecs=None, fd=None, framing=None, max_frame=None):
    """Serve requests until droverd closes the socket; return 0.

    function: called with each request's decoded argument; its return value
    is the reply (None: the generic runtime, which runs the tasks that
    drover.Executor sends). codecs: the request codecs accepted (default: all
    three for the generic runtime, raw and JSON for a function).
    """
    if codecs is None:
        codecs = (envelope.RAW, envelope.JSON, envelope.PICKLE) if function is None \
            else (envelope.RAW, envelope.JSON)
    for c in codecs:
        envelope.check_codec(c)
    if framing is None:
        framing = os.environ.get("DROVER_FRAMING", "length")
    _frame.check_framing(framing)
    line = framing == _frame.LINE
    if fd is None:
        env_fd = os.environ.get("DROVER_FD")
        if env_fd is not None:
            rfd = wfd = int(env_fd)
        else:
            # work_fd = stdio: requests on stdin, replies on stdout. Keep the
            # function's print() out of the replies: stdout goes to stderr;
            # and the requests from what reads stdin (input(), a child
            # process): stdin is /dev/null.
            rfd, wfd = os.dup(0), os.dup(1)
            os.dup2(2, 1)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
    else:
        rfd = wfd = fd
    if max_frame is None:
        max_frame = int(os.environ.get("DROVER_MAX_FRAME", str(_frame.DEFAULT_REPLY_LIMIT)))
    decoder = _frame.Decoder(framing, max_frame)

    watchdog = None
    usec = os.environ.get("WATCHDOG_USEC")
    if usec and os.environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid()):
        watchdog = int(usec) / 2e6  # seconds between WATCHDOG=1
    notify(b"READY=1")

    # SIGTERM (droverd's default stop_signal): finish the requests in hand,
    # answer them, then exit; at once when waiting for requests.
    state = {"idle": True, "stopping": False}

    def on_term(signum, frame):
        state["stopping"] = True
        if state["idle"]:
            raise SystemExit(0)
    if threading_is_main():
        signal.signal(signal.SIGTERM, on_term)

    poller = select.poll()
    poller.register(rfd, select.POLLIN)
    last_ping = time.monotonic()
    while not state["stopping"]:
        # Wait in poll(), not in read(): see docs/protocol.md, workers.
        timeout_ms = None
        if watchdog is not None:
            timeout_ms = max(0, int((last_ping + watchdog - time.monotonic()) * 1000))
        try:
            events = poller.poll(timeout_ms)
        except InterruptedError:
            continue
        if watchdog is not None and time.monotonic() >= last_ping + watchdog:
            notify(b"WATCHDOG=1")
            last_ping = time.monotonic()
        if not events:
            continue
        try:
            data = os.read(rfd, 1 << 20)
        except (BlockingIOError, InterruptedError):
            continue
        except ConnectionResetError:
            data = b""
        if not data:
            return 0  # droverd is gone (or stopped us): exit
        decoder.feed(data)
        try:
            requests = decoder.frames()
        except Exception as exc:  # a frame over max_frame: droverd would not send it
            _log_exception(exc)
            return 1
        if not requests:
            continue
        # Replies go out together (one write for a batch of short requests),
        # but not later than FLUSH_AFTER after the last write: a reply held
        # back behind long requests would keep droverd from sending more.
        out = bytearray()
        state["idle"] = False
        flushed = time.monotonic()
        for body in requests:
            reply = envelope.handle(body, function, codecs, line, _log_exception)
            out += _frame.encode(framing, reply)
            now = time.monotonic()
            if now - flushed >= FLUSH_AFTER:
                _write_all(wfd, out)
                out.clear()
                flushed = now
        if out:
            _write_all(wfd, out)
        state["idle"] = True
        if watchdog is not None and time.monotonic() >= last_ping + watchdog:
            notify(b"WATCHDOG=1")
            last_ping = time.monotonic()
    return 0


def threading_is_main():
    import threading
    return threading.current_thread() is threading.main_thread()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python3 -m drover.worker",
        description="A drover message-mode worker. Without FUNCTION: the generic runtime that "
                    "runs drover.Executor's tasks (any importable module:qualname).")
    parser.add_argument("function", nargs="?", metavar="MODULE:FUNCTION",
                        help="serve this function: each request's argument in, its result out")
    parser.add_argument("--codec", action="append", choices=sorted(envelope.CODECS),
                        help="accept this request codec (repeatable; default: raw and json "
                             "with FUNCTION, all three without)")
    parser.add_argument("--pickle", action="store_true",
                        help="with FUNCTION, accept pickle too (whoever can connect to the "
                             "pool's socket can then run code)")
    parser.add_argument("--path", action="append", default=[], metavar="DIR",
                        help="prepend DIR to sys.path (repeatable); the working directory "
                             "is on it already")
    args = parser.parse_args(argv)
    sys.path[:0] = [os.path.abspath(p) for p in args.path]
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    function = None
    if args.function:
        try:
            function = envelope.resolve_target(args.function)
        except envelope.TargetError as e:
            # An import error is a failed start, in the pool's log.
            sys.stderr.write("drover.worker: %s\n" % e)
            if e.__cause__ is not None:
                traceback.print_exception(type(e.__cause__), e.__cause__,
                                          e.__cause__.__traceback__)
            return 2
    codecs = args.codec
    if codecs is None and args.pickle:
        codecs = [envelope.RAW, envelope.JSON, envelope.PICKLE]
    elif codecs is not None and args.pickle and envelope.PICKLE not in codecs:
        codecs.append(envelope.PICKLE)
    return serve(function, codecs=codecs)


if __name__ == "__main__":
    sys.exit(main())
