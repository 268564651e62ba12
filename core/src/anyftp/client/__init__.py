"""The FTP/FTPS client (aioftp's API).

* :mod:`.base`     - BaseClient: control connection, replies, data connections, ABOR
* :mod:`.client`   - Client: login, directories, listing, streams, uploads/downloads
* :mod:`.session`  - ClientSession: ``async with`` a connected client
* :mod:`.streams`  - DataConnectionThrottleStreamIO
* :mod:`.listing`  - list info dicts and the awaitable/async-iterable lister
* :mod:`.tls`      - TLS session reuse on data connections
* :mod:`.socks`    - SOCKS4/5 connections
"""

from __future__ import annotations

from .base import BaseClient
from .client import DEFAULT_TRANSFER_BLOCK_SIZE, Client
from .listing import (
    AbstractAsyncLister,
    AsyncLister,
    BasicListInfo,
    ListInfo,
    PathWithInfo,
    UnixListInfo,
)
from .session import ClientSession
from .streams import DataConnectionThrottleStreamIO
from .tls import SSLSessionBoundContext

__all__ = (
    "AbstractAsyncLister",
    "AsyncLister",
    "BaseClient",
    "BasicListInfo",
    "Client",
    "ClientSession",
    "DEFAULT_TRANSFER_BLOCK_SIZE",
    "DataConnectionThrottleStreamIO",
    "ListInfo",
    "PathWithInfo",
    "SSLSessionBoundContext",
    "UnixListInfo",
)
