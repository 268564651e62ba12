"""ClientSession: the ``async with`` form of a connected, logged-in :class:`Client`."""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any

from ..common import DEFAULT_ACCOUNT, DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER
from .client import Client

__all__ = ("ClientSession",)


class ClientSession:
    """``async with ClientSession(host, port, user, password) as client: ...``

    Connects, logs in and quits around the block, as :meth:`Client.context` does.
    Keyword arguments go to :class:`Client`. As a convenience for the old tutorial form
    ``ClientSession(host, "user", "pass")``, a non-numeric *port* is taken as the user.
    """

    def __init__(
        self,
        host: str,
        port: int | str = DEFAULT_PORT,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        account: str = DEFAULT_ACCOUNT,
        *,
        upgrade_to_tls: bool | ssl.SSLContext = False,
        client_class: type[Client] = Client,
        **kwargs: Any,
    ) -> None:
        if isinstance(port, str) and not port.isdigit():
            # ClientSession(host, user, password): shift the arguments.
            user, password = port, (password if user == DEFAULT_USER else user)
            port = DEFAULT_PORT
        self._context = client_class.context(
            host, int(port), user, password, account, upgrade_to_tls=upgrade_to_tls, **kwargs
        )
        self.client: Client | None = None

    async def __aenter__(self) -> Client:
        self.client = await self._context.__aenter__()
        return self.client

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._context.__aexit__(exc_type, exc, tb)
