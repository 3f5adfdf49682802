# SPDX-License-Identifier: ISC
"""The envelope spoken between drover's Python clients and its Python worker
runtime (python3 -m drover.worker) inside the frames of a message-mode pool.
docs/protocol.md, "Python workers: the task envelope", is the reference.

Request body::

    byte 0   codec: 'r' raw bytes, 'j' JSON (UTF-8), 'p' pickle
    byte 1   kind:  'c' call the worker's function with one argument
                    't' a task: call a target with args and kwargs
                    'm' a chunk of a map: call a target once per args
    kind 'c':  the rest is the argument, in the codec
    kind 't':  u16 N, N bytes of target name (UTF-8), then [args, kwargs]
    kind 'm':  u16 N, N bytes of target name (UTF-8), then [args, args, ...]
               (with N = 0, pickle only: [callable, args, kwargs] and
               [callable, [args, ...]]: the target pickled by value)

Reply body::

    'o' + the result in the request's codec (a list of results for 'm')
    'e' + UTF-8 JSON {"type", "message", "traceback"[, "index"]}
    'E' + pickle of the same dict plus "exception": the exception object,
          or None when it does not pickle (pickle requests only)

A target name is "module:qualname" (imported by the worker, as pickle finds
a function), or "/path/to/script.py:qualname" for a function of a script run
as __main__ (the worker loads the file as module __mp_main__ and __main__, as
multiprocessing's spawn start method does, so its `if __name__ ==
"__main__":` block does not run). The name comes before the arguments so the
worker imports it before it unpickles them (they may be instances of classes
of that module).

With ``framing = line`` no body may contain a newline: JSON (whose encoder
escapes newlines) and raw bodies without one work; pickle does not.
"""
import importlib
import importlib.util
import io
import json
import os
import pickle
import struct
import sys
import traceback

from .errors import ProtocolError, RemoteError, RemoteTraceback, TargetError

RAW, JSON, PICKLE = "raw", "json", "pickle"
CODECS = {RAW: b"r", JSON: b"j", PICKLE: b"p"}
_BY_BYTE = {v[0]: k for k, v in CODECS.items()}
KIND_CALL, KIND_TASK, KIND_MAP = b"c", b"t", b"m"

OK, ERROR_JSON, ERROR_PICKLE = 0x6F, 0x65, 0x45  # 'o', 'e', 'E'

PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


def check_codec(codec):
    if codec not in CODECS:
        raise ValueError("codec must be one of %s, not %r" % (", ".join(CODECS), codec))
    return codec


def dumps(codec, value):
    if codec == PICKLE:
        return pickle.dumps(value, PICKLE_PROTOCOL)
    if codec == JSON:
        return json.dumps(value, separators=(",", ":")).encode()
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("the raw codec carries bytes, not %s" % type(value).__name__)
    return bytes(value)


def loads(codec, data):
    if codec == PICKLE:
        return pickle.loads(data)
    if codec == JSON:
        return json.loads(data)
    return bytes(data)


# -- client side -----------------------------------------------------------

def target_name(fn):
    """How a worker finds fn: "module:qualname", or "/path/script.py:qualname"
    for a function of the __main__ script; None when fn has no importable name
    (a lambda, a nested function, a partial, a bound method...)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        return None
    if module == "__main__":
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name:
            module = spec.name  # run with python -m: importable by that name
        else:
            path = getattr(main, "__file__", None)
            if not path:
                return None  # an interactive session
            return "%s:%s" % (os.path.abspath(path), qualname)
    # Only if the name leads back to this very object.
    obj = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if obj is not fn:
        return None
    return "%s:%s" % (module, qualname)


def task_target(fn, codec):
    """The target to send for fn: its name, or with pickle the callable."""
    name = target_name(fn)
    if name is not None:
        return name
    if codec == PICKLE:
        return fn  # pickled by value; fails in submit when it cannot be
    raise TypeError("%r has no importable name (module:qualname), which the %s codec needs"
                    % (fn, codec))


def encode_request(codec, kind, value):
    """A 'c' request: value is the argument."""
    return CODECS[codec] + kind + dumps(codec, value)


def encode_task(codec, target, args, kwargs):
    """A 't' request; target from task_target (a name, or a callable)."""
    if isinstance(target, str):
        name = target.encode()
        return CODECS[codec] + KIND_TASK + struct.pack(">H", len(name)) + name + \
            dumps(codec, [list(args) if codec == JSON else args, kwargs or {}])
    return CODECS[codec] + KIND_TASK + b"\0\0" + dumps(codec, [target, args, kwargs or {}])


def encode_chunk(codec, target, chunk):
    """An 'm' request: chunk is a list of argument tuples."""
    if isinstance(target, str):
        name = target.encode()
        return CODECS[codec] + KIND_MAP + struct.pack(">H", len(name)) + name + \
            dumps(codec, chunk)
    return CODECS[codec] + KIND_MAP + b"\0\0" + dumps(codec, [target, chunk])


def decode_reply(codec, body):
    """The result of a reply body, or raise what the worker's function raised
    (rebuilt when it can be, else RemoteError)."""
    if not body:
        raise ProtocolError("empty reply from a drover worker (no envelope)")
    status = body[0]
    if status == OK:
        try:
            return loads(codec, body[1:])
        except Exception as e:
            raise ProtocolError("cannot decode the worker's %s reply: %s" % (codec, e)) from e
    if status == ERROR_JSON:
        try:
            info = json.loads(body[1:])
        except ValueError as e:
            raise ProtocolError("malformed error reply from a drover worker") from e
        raise remote_exception(info)
    if status == ERROR_PICKLE:
        unpickler = _ErrorUnpickler(io.BytesIO(body[1:]))
        try:
            info = unpickler.load()
        except Exception as e:
            raise ProtocolError("cannot unpickle the error reply of a drover worker: %s" % e) from e
        if unpickler.missing:
            info["exception"] = None  # not all of it came back: RemoteError
        raise remote_exception(info)
    raise ProtocolError("reply without a drover envelope (first byte 0x%02x); is the pool's "
                        "command python3 -m drover.worker?" % status)


class _Missing:
    """Stands in for a class of an error reply that this side cannot import
    (a library only the workers have), so that the reply's type, message and
    traceback still come through, as a RemoteError."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _ErrorUnpickler(pickle.Unpickler):
    missing = False

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            self.missing = True
            return _Missing


def remote_exception(info):
    """The exception to raise for an error dict from a worker."""
    tb = info.get("traceback") or ""
    exc = info.get("exception")
    # SystemExit, KeyboardInterrupt... of a task are not the client's own.
    if isinstance(exc, Exception):
        exc.__cause__ = RemoteTraceback(tb)
        return exc
    return RemoteError(info.get("type", "Exception"), info.get("message", ""), tb)


# -- worker side -----------------------------------------------------------

_targets = {}


def resolve_target(target):
    """The callable a task names (cached)."""
    if callable(target):
        return target
    if not isinstance(target, str):
        raise TargetError("a task target must be 'module:qualname', not %r" % (target,))
    fn = _targets.get(target)
    if fn is not None:
        return fn
    module_name, sep, qualname = target.rpartition(":")
    if not sep or not module_name or not qualname:
        raise TargetError("a task target must be 'module:qualname', not %r" % target)
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            module = _load_script(module_name)
        else:
            module = importlib.import_module(module_name)
        obj = module
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception as e:
        raise TargetError("cannot import %s: %s: %s" % (target, type(e).__name__, e)) from e
    if not callable(obj):
        raise TargetError("%s is not callable" % target)
    _targets[target] = obj
    return obj


def _load_script(path):
    """A __main__ script, loaded as __mp_main__ (its `if __name__ ==
    "__main__":` block does not run), once."""
    key = "__mp_main__"
    mod = sys.modules.get(key)
    if mod is not None and getattr(mod, "__file__", None) == path:
        return mod
    spec = importlib.util.spec_from_file_location(key, path)
    if spec is None:
        raise ImportError("no such script %s" % path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[key] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[key]
        raise
    # Objects the client pickled from its __main__ unpickle against the script.
    sys.modules["__main__"] = mod
    return mod


def _message(exc):
    """str(exc), or a stand-in when its __str__ raises (as traceback does)."""
    try:
        return str(exc)
    except Exception as e:
        return "<str() failed: %s>" % type(e).__name__


def error_info(exc, index=None):
    info = {
        "type": "%s.%s" % (type(exc).__module__, type(exc).__qualname__)
        if type(exc).__module__ != "builtins" else type(exc).__qualname__,
        "message": _message(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    }
    if index is not None:
        info["index"] = index
    return info


def encode_error(codec, exc, index=None):
    info = error_info(exc, index)
    if codec == PICKLE:
        try:
            data = pickle.dumps(exc, PICKLE_PROTOCOL)
            pickle.loads(data)  # some exceptions pickle but do not unpickle
            info["exception"] = exc
            return b"E" + pickle.dumps(info, PICKLE_PROTOCOL)
        except Exception:
            info["exception"] = None
            return b"E" + pickle.dumps(info, PICKLE_PROTOCOL)
    return b"e" + json.dumps(info).encode()


def handle(body, function=None, codecs=(RAW, JSON, PICKLE), line=False, on_error=None):
    """Run one request body; return the reply body (never raises for the
    request's sake). ``function``: the worker's function for kind 'c' (None:
    the generic runtime, which runs tasks and map chunks). ``on_error(exc)`` is
    called for every exception a request raised (the worker logs it)."""
    codec = _BY_BYTE.get(body[0]) if len(body) >= 2 else None
    if codec is None:
        exc = ProtocolError("request without a drover envelope (%d bytes, starting %r)"
                            % (len(body), bytes(body[:8])))
        if on_error:
            on_error(exc)
        return encode_error(JSON, exc)
    reply_codec = codec
    if (line and codec == PICKLE) or codec not in codecs:
        reply_codec = JSON
    kind = body[1:2]
    index = None
    try:
        if codec not in codecs:
            raise PermissionError("this worker does not accept the %s codec (it accepts %s)"
                                  % (codec, ", ".join(codecs)))
        if line and codec == PICKLE:
            raise ValueError("pickle cannot be used with framing = line")
        if kind == KIND_CALL:
            if function is None:
                raise TypeError("this worker is the generic task runtime: send tasks, not calls")
            result = function(loads(codec, body[2:]))
        elif kind in (KIND_TASK, KIND_MAP):
            if function is not None:
                raise TypeError("this worker serves one function: send calls, not tasks "
                                "(run python3 -m drover.worker without a function for tasks)")
            if len(body) < 4:
                raise ProtocolError("truncated task request")
            (n,) = struct.unpack_from(">H", body, 2)
            if n:
                fn = resolve_target(bytes(body[4:4 + n]).decode())
                value = loads(codec, body[4 + n:])
            else:
                if codec != PICKLE:
                    raise ProtocolError("a task without a target name needs the pickle codec")
                value = loads(codec, body[4:])
                fn, value = resolve_target(value[0]), value[1:]
                value = value[0] if kind == KIND_MAP else value
        else:
            raise ValueError("unknown request kind %r" % bytes(kind))
        if kind == KIND_TASK:
            args, kwargs = value
            result = fn(*args, **(kwargs or {}))
        elif kind == KIND_MAP:
            chunk = value
            result = []
            for index, args in enumerate(chunk):
                result.append(fn(*args))
            index = None
        reply = b"o" + dumps(codec, result)
        if line and b"\n" in reply:
            raise ValueError("the reply contains a newline, which framing = line cannot carry")
        return reply
    except BaseException as exc:  # noqa: B902 - a task's SystemExit is its error too
        if on_error:
            on_error(exc)
        try:
            return encode_error(reply_codec, exc, index)
        except Exception as e2:  # the error itself cannot be encoded
            return encode_error(JSON, RuntimeError("%s (and encoding it failed: %s)"
                                                   % (_message(exc), _message(e2))))
