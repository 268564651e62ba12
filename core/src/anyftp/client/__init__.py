"""The FTP/FTPS client (aioftp's API).

* :mod:`.base`     - BaseClient: control connection, replies, passive/active setup, ABOR
* :mod:`.client`   - Client: login, directories, listing, streams, uploads/downloads
* :mod:`.session`  - ClientSession: ``async with`` a connected client
* :mod:`.streams`  - DataConnectionThrottleStreamIO
* :mod:`.dataconn` - a data connection being set up (accept, TLS wrap)
* :mod:`.sockio`   - the bare-socket fast path of plain data connections
* :mod:`.parsing`  - LIST/MLSx line parsing methods (aioftp's names)
* :mod:`.listing`  - list info dicts and the awaitable/async-iterable lister
* :mod:`.tls`      - TLS session reuse on data connections
* :mod:`.socks`    - SOCKS4/5 connections
* :mod:`.urls`     - ftp:// and ftps:// URLs (command line)
* :mod:`.transfer` - files and trees to/from the local disk with progress, mirroring
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
