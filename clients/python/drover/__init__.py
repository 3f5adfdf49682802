# SPDX-License-Identifier: ISC
"""drover: Python clients, a concurrent.futures executor and the worker
runtime for drover's message-mode pools. Standard library only.

- drover.Client(address): blocking client; call, call_many (pipelined).
- drover.asyncio.Client(address): the same for asyncio.
- drover.Executor(address): concurrent.futures.Executor whose tasks run in the
  pool's workers (``python3 -m drover.worker``); a worker that dies mid-task
  is replaced and the task goes to another worker.
- drover.serve(func) / ``python3 -m drover.worker [MODULE:FUNCTION]``: the
  worker side.

Errors: Busy, Failed, Timeout, TooBig (droverd's answers, subclasses of ServerError),
CallTimeout, ConnectionLost, ProtocolError, RemoteError; all DroverError.
"""
from .errors import (Busy, CallTimeout, ConnectionLost, DroverError, Failed, ProtocolError,
                     RemoteError, RemoteTraceback, ServerError, TargetError, Timeout, TooBig)

# Imported on first use, so that a worker (python3 -m drover.worker) starts
# without the client side's modules (ssl, selectors, concurrent.futures).
_LAZY = {
    "Client": "client", "Executor": "executor", "serve": "worker",
    "pool_info": "control", "PoolInfo": "control", "ControlError": "control",
}


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError("module 'drover' has no attribute %r" % name)
    import importlib
    value = getattr(importlib.import_module("." + mod, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "Client", "Executor", "serve", "pool_info", "PoolInfo",
    "DroverError", "ServerError", "Busy", "Failed", "Timeout", "TooBig", "CallTimeout",
    "ConnectionLost", "ProtocolError", "RemoteError", "RemoteTraceback", "TargetError", "ControlError",
]
