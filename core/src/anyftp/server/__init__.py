"""The FTP/FTPS server (aioftp-compatible API).

Modules, one job each:

* :mod:`.server`      :class:`Server`: configuration, listener, limits, shared resources
* :mod:`.session`     one control connection: command loop, dispatch, replies
* :mod:`.commands`    the declarative command table (:class:`CommandSpec`)
* :mod:`.handlers`    command handlers by area (auth, navigation, listing, transfer, ...)
* :mod:`.dataconn`    passive listeners, active connects, the passive port pool
* :mod:`.datachannel` one data connection (buffered protocol, sendfile)
* :mod:`.tls`         TLS on data connections
* :mod:`.users`       :class:`User`, :class:`Permission`, user managers
* :mod:`.passwords`   hashed passwords (:func:`hash_password`)
* :mod:`.connection`  the aioftp-style ``connection`` state mapping
* :mod:`.conditions`  decorators for aioftp-style command methods
* :mod:`.paths`       virtual paths and their real counterparts
* :mod:`.ascii`       TYPE A line-end conversion
"""

from __future__ import annotations

from .commands import CommandSpec, CommandTable
from .conditions import (
    ConnectionConditions,
    PathConditions,
    PathPermissions,
    unpack_keywords,
    worker,
)
from .connection import AvailableConnections, Connection
from .passwords import hash_password, verify_password
from .server import Server
from .session import CommandError, Session
from .users import AbstractUserManager, GetUserResponse, MemoryUserManager, Permission, User

__all__ = (
    "Server",
    "User",
    "Permission",
    "AbstractUserManager",
    "MemoryUserManager",
    "GetUserResponse",
    "Connection",
    "AvailableConnections",
    "ConnectionConditions",
    "PathConditions",
    "PathPermissions",
    "worker",
    "unpack_keywords",
    "CommandSpec",
    "CommandTable",
    "CommandError",
    "Session",
    "hash_password",
    "verify_password",
)
