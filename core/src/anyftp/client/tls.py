"""TLS for the client's data connections: reusing the control connection's session.

Servers such as vsftpd (``require_ssl_reuse=YES``) accept a protected data connection only
if its TLS session resumes the control connection's one, which proves the same client
opened both. asyncio's ``start_tls`` takes a context but no session, so
:class:`SSLSessionBoundContext` wraps the control connection's context and hands the
session to every ``wrap_bio``/``wrap_socket`` call asyncio makes.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

__all__ = ("SSLSessionBoundContext", "default_context", "data_context_for")


class SSLSessionBoundContext(ssl.SSLContext):
    """An ``ssl.SSLContext`` that opens every connection with ``session`` of ``context``.

    Only ``wrap_bio`` and ``wrap_socket`` are redirected (that is all asyncio calls); they
    run on the wrapped ``context``, so its certificates and verification settings apply.
    """

    context: ssl.SSLContext
    session: ssl.SSLSession | None

    def __new__(
        cls, protocol: int, context: ssl.SSLContext, session: ssl.SSLSession | None
    ) -> SSLSessionBoundContext:
        instance: SSLSessionBoundContext = super().__new__(cls, protocol)
        return instance

    def __init__(
        self, protocol: int, context: ssl.SSLContext, session: ssl.SSLSession | None
    ) -> None:
        self.context = context
        self.session = session

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return self.context.wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=server_hostname,
            session=session or self.session,
        )

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return self.context.wrap_bio(
            incoming,
            outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
            session=session or self.session,
        )


def default_context() -> ssl.SSLContext:
    """The context used when the caller gives none: system CAs, hostname checked."""
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH)


def data_context_for(ssl_object: Any) -> ssl.SSLContext:
    """A context for a data connection that resumes *ssl_object*'s session."""
    context: ssl.SSLContext = ssl_object.context
    session = ssl_object.session
    if session is None:
        return context
    return SSLSessionBoundContext(ssl.PROTOCOL_TLS_CLIENT, context=context, session=session)
