"""anyftp: asyncio FTP/FTPS client and server with pluggable storage backends.

The public names follow aioftp's, so ``import anyftp as aioftp`` runs aioftp code. Names
are imported on first use: ``import anyftp`` is cheap, and ``anyftp.PathIO``,
``anyftp.AsyncPathIO`` and ``anyftp.MemoryPathIO`` resolve to the installed backends
``local``, ``threadpool`` and ``memory`` (a missing one names the extra to install).
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AIOFTPException,
    AnyFTPError,
    BackendError,
    BackendNotFound,
    InvalidBackend,
    NoAvailablePort,
    PathIOError,
    PathIsNotAbsolute,
    PathOutsideRootError,
    StatusCodeError,
)
from .pathio import AbstractPathIO, Capabilities, PathStat
from .protocol.replies import Code

__version__ = "0.1.0"
version = __version__

# name -> "module:attribute", imported on first access.
_LAZY = {
    # common
    "Throttle": "anyftp.common:Throttle",
    "StreamThrottle": "anyftp.common:StreamThrottle",
    "StreamIO": "anyftp.common:StreamIO",
    "ThrottleStreamIO": "anyftp.common:ThrottleStreamIO",
    "AsyncStreamIterator": "anyftp.common:AsyncStreamIterator",
    "with_timeout": "anyftp.common:with_timeout",
    "async_enterable": "anyftp.common:async_enterable",
    "wrap_with_container": "anyftp.common:wrap_with_container",
    "wrap_into_codes": "anyftp.common:wrap_into_codes",
    "END_OF_LINE": "anyftp.common:END_OF_LINE",
    "DEFAULT_BLOCK_SIZE": "anyftp.common:DEFAULT_BLOCK_SIZE",
    "DEFAULT_PORT": "anyftp.common:DEFAULT_PORT",
    "DEFAULT_USER": "anyftp.common:DEFAULT_USER",
    "DEFAULT_PASSWORD": "anyftp.common:DEFAULT_PASSWORD",
    "DEFAULT_ACCOUNT": "anyftp.common:DEFAULT_ACCOUNT",
    # server
    "Server": "anyftp.server:Server",
    "User": "anyftp.server:User",
    "Permission": "anyftp.server:Permission",
    "AbstractUserManager": "anyftp.server:AbstractUserManager",
    "MemoryUserManager": "anyftp.server:MemoryUserManager",
    "Connection": "anyftp.server:Connection",
    "AvailableConnections": "anyftp.server:AvailableConnections",
    "ConnectionConditions": "anyftp.server:ConnectionConditions",
    "PathConditions": "anyftp.server:PathConditions",
    "PathPermissions": "anyftp.server:PathPermissions",
    "worker": "anyftp.server:worker",
    "unpack_keywords": "anyftp.server:unpack_keywords",
    # client
    "Client": "anyftp.client:Client",
    "BaseClient": "anyftp.client:BaseClient",
    "ClientSession": "anyftp.client:ClientSession",
    "DataConnectionThrottleStreamIO": "anyftp.client:DataConnectionThrottleStreamIO",
    "AbstractAsyncLister": "anyftp.client:AbstractAsyncLister",
    "BasicListInfo": "anyftp.client:BasicListInfo",
    "UnixListInfo": "anyftp.client:UnixListInfo",
    "ListInfo": "anyftp.client:ListInfo",
    "SSLSessionBoundContext": "anyftp.client:SSLSessionBoundContext",
}

# aioftp names of the backends -> entry-point names.
_BACKEND_NAMES = {"PathIO": "local", "AsyncPathIO": "threadpool", "MemoryPathIO": "memory"}


def __getattr__(name: str) -> Any:
    if name in _BACKEND_NAMES:
        from .registry import get_backend

        return get_backend(_BACKEND_NAMES[name])
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'anyftp' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_BACKEND_NAMES))


__all__ = [
    "AIOFTPException", "AnyFTPError", "BackendError", "BackendNotFound", "InvalidBackend",
    "NoAvailablePort", "PathIOError", "PathIsNotAbsolute", "PathOutsideRootError",
    "StatusCodeError", "AbstractPathIO", "Capabilities", "PathStat", "Code",
    "__version__", *_LAZY, *_BACKEND_NAMES,
]
