# SPDX-License-Identifier: ISC
"""Exceptions raised by the drover client, executor and worker runtime."""


class DroverError(Exception):
    """Base class of every error this package raises on its own."""


class ProtocolError(DroverError):
    """A frame could not be parsed (or would break the pool's framing).

    The connection it came on is closed; requests still waiting on it fail
    with ConnectionLost.
    """


class ConnectionLost(DroverError, ConnectionError):
    """The connection closed while this request was in flight.

    The request may or may not have been answered by a worker: it is *not*
    re-sent. Retry it only if the work is idempotent.
    """


class CallTimeout(DroverError, TimeoutError):
    """No reply within the client's own timeout.

    The connection is closed (its stream position is unknown); the request
    may still be carried out by a worker. Also raised by pool_info (and so
    Client.for_pool, Executor(pool=...)) when droverd's whole answer on the
    control socket does not come within its timeout.
    """


class ServerError(DroverError):
    """droverd answered with an error frame ('-CODE detail').

    ``code`` is the word before the first space, ``text`` droverd's whole
    message. Codes this package does not know (droverd may add some) raise
    ServerError itself.
    """

    code = None

    def __init__(self, text):
        self.text = text
        self.code = text.split(" ", 1)[0] if text else ""
        super().__init__(text)


class Busy(ServerError):
    """-BUSY: the pool's queue was full. The request never reached a worker:
    always safe to retry (later)."""


class Failed(ServerError):
    """-FAILED: the request was delivered max_attempts times and each time
    the worker died before answering; or the worker's reply was larger than
    the pool's max_frame (the text says so; it was not sent to another
    worker)."""


class Timeout(ServerError, TimeoutError):
    """-TIMEOUT: as Failed, but the last worker did not answer within the
    pool's request_timeout (droverd killed it); or no worker took the
    request within the pool's queue_timeout (it never reached a worker)."""


class TooBig(ServerError, ValueError):
    """-TOOBIG: the request was larger than the pool's max_frame. It never
    reached a worker. droverd answers the requests sent before it, then this,
    and closes the connection without reading anything sent after it; the
    clients here send those again on a new connection."""


_CODES = {"BUSY": Busy, "FAILED": Failed, "TIMEOUT": Timeout, "TOOBIG": TooBig}


def server_error(text):
    """The exception for droverd's error text ``CODE detail``."""
    code = text.split(" ", 1)[0]
    return _CODES.get(code, ServerError)(text)


class RemoteError(DroverError):
    """A function run by a drover worker raised.

    Raised as is when the original exception cannot be rebuilt in the client
    (JSON or raw codecs, or an exception that does not pickle). ``type`` is
    the exception's qualified class name, ``message`` its str(),
    ``traceback`` the worker's formatted traceback.
    """

    def __init__(self, type_name, message, traceback_text=""):
        self.type = type_name
        self.message = message
        self.traceback = traceback_text
        super().__init__("%s: %s" % (type_name, message) if message else type_name)

    def __str__(self):
        s = "%s: %s" % (self.type, self.message) if self.message else self.type
        if self.traceback:
            s += "\n\nWorker traceback:\n" + self.traceback.rstrip("\n")
        return s


class TargetError(DroverError):
    """A task's target cannot be imported by the worker, or is not callable
    (the message names it)."""


class RemoteTraceback(Exception):
    """Set as ``__cause__`` of an exception rebuilt from a worker, so that a
    printed traceback shows where in the worker it was raised (as
    concurrent.futures.ProcessPoolExecutor does)."""

    def __init__(self, tb):
        self.tb = tb
        super().__init__(tb)

    def __str__(self):
        return '\n"""\n%s"""' % self.tb
