"""Data connections of the client while they are being set up.

:class:`PendingData` holds a passive connection already made (a bare socket, or asyncio
streams through SOCKS) or an active-mode listener; :meth:`PendingData.establish` turns it
into the reader and writer of the transfer: the bare-socket fast path
(:mod:`.sockio`) for plain connections, an asyncio stream in TLS (client role, resuming
the control connection's session) for protected ones.
"""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING, Any

from .sockio import socket_streams
from .tls import data_context_for, default_context

if TYPE_CHECKING:
    from .base import BaseClient

__all__ = ("PendingData", "connect_socket", "DATA_BUFFER_LIMIT")

#: StreamReader buffer for TLS (and SOCKS) data connections: large, so a fast sender is
#: not paused between our reads (the reader pauses the socket at twice this).
DATA_BUFFER_LIMIT = 4 * 1024 * 1024


class PendingData:
    """A data connection being set up; :meth:`establish` yields its reader and writer.

    Passive: ``sock`` is already connected (or, through SOCKS, ``reader``/``writer``).
    Active: ``listener`` is a listening socket, and :meth:`establish` accepts the server's
    connection on it, only from ``accept_from``. A plain connection runs on the bare
    socket (:mod:`.sockio`, the fast path); a protected one becomes an asyncio stream
    wrapped in TLS in the client role, resuming the control connection's session.
    """

    def __init__(self, client: BaseClient) -> None:
        self.client = client
        self.sock: socket.socket | None = None
        self.reader: Any = None
        self.writer: Any = None
        self.listener: socket.socket | None = None
        self.accept_from: str | None = None

    async def _accept(self) -> None:
        assert self.listener is not None
        loop = asyncio.get_running_loop()
        while True:
            connection, address = await loop.sock_accept(self.listener)
            if self.accept_from is None or address[0] == self.accept_from:
                break
            connection.close()  # only the server may connect
        self.close_listener()
        self.sock = connection

    async def establish(self) -> tuple[Any, Any]:
        client = self.client
        if self.listener is not None:
            await self._accept()
        if self.sock is not None:
            sock, self.sock = self.sock, None
            if client._data_protected:
                self.reader, self.writer = await asyncio.open_connection(
                    sock=sock, limit=DATA_BUFFER_LIMIT
                )
            else:
                self.reader, self.writer = socket_streams(sock)
        assert self.reader is not None and self.writer is not None
        if client._data_protected:
            ssl_object = client.stream.writer.get_extra_info("ssl_object")
            context = (
                data_context_for(ssl_object)
                if ssl_object is not None
                else (client._tls_context or default_context())
            )
            await self.writer.start_tls(context, server_hostname=client._tls_hostname())
        return self.reader, self.writer

    def close_listener(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.close_listener()


async def connect_socket(host: str, port: int) -> socket.socket:
    """A connected non-blocking TCP socket (no asyncio transport: see :mod:`.sockio`)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error or OSError(f"can not resolve {host!r}")
