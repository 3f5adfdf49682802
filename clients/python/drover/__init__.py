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

Errors: Busy, Failed, Timeout (droverd's answers, subclasses of ServerError),
CallTimeout, ConnectionLost, ProtocolError, RemoteError; all DroverError.
"""
from .client import Client
from .control import ControlError, PoolInfo, pool_info
from .errors import (Busy, CallTimeout, ConnectionLost, DroverError, Failed, ProtocolError,
                     RemoteError, RemoteTraceback, ServerError, Timeout)
from .executor import Executor
from .worker import serve

__version__ = "0.1.0"

__all__ = [
    "Client", "Executor", "serve", "pool_info", "PoolInfo",
    "DroverError", "ServerError", "Busy", "Failed", "Timeout", "CallTimeout",
    "ConnectionLost", "ProtocolError", "RemoteError", "RemoteTraceback", "ControlError",
]
