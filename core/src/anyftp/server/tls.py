"""TLS on data connections (RFC 4217), and what keeps TLS 1.3 uploads whole.

The FTP client is always the TLS client, so a data connection is wrapped server-side even
when the server opened it (active mode). It uses the same :class:`ssl.SSLContext` as the
control connection, so a client that resumes the control connection's TLS session on
the data connection (FileZilla, lftp, curl; vsftpd's ``require_ssl_reuse``) gets it
resumed; with ``require_session_reuse`` a data connection that did not resume is refused.

TLS 1.3 servers send session tickets right after the handshake. A client that uploads
and then closes its data socket without reading them leaves unread bytes in its kernel,
which then answers the close with a reset and drops whatever it had not sent yet: the
upload's tail. Data connections therefore get *no* tickets. OpenSSL copies a context's
ticket count into each connection object when it is made, so :func:`guard_tickets`
wraps the context's ``wrap_bio`` to make it zero for that moment when (and only when) the
calling task is wrapping a data connection (a context variable says so); control
connections keep their tickets, which is what clients resume with. And an upload only
counts as complete when the peer ended it cleanly (FIN or close_notify); a reset before
that is a failed transfer, never a 226.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
from collections.abc import Callable
from typing import Any

from .datachannel import DataChannel

__all__ = ("wrap_data_socket", "guard_tickets", "TLSPolicyError", "SSL_SHUTDOWN_TIMEOUT")

#: How long a closing TLS data connection waits for the peer's close_notify.
SSL_SHUTDOWN_TIMEOUT = 5.0

_WRAPPING_DATA = contextvars.ContextVar("anyftp_wrapping_data_connection", default=False)


class TLSPolicyError(ConnectionError):
    """A data connection did not meet the TLS policy (e.g. did not resume the session)."""


def guard_tickets(context: ssl.SSLContext) -> ssl.SSLContext:
    """Make *context* send no TLS 1.3 tickets on data connections (see module docstring).

    Idempotent; returns *context*.
    """
    if context.__dict__.get("_anyftp_ticket_guard"):
        return context
    original = context.wrap_bio

    def wrap_bio(*args: Any, **kwargs: Any) -> ssl.SSLObject:
        if not _WRAPPING_DATA.get():
            return original(*args, **kwargs)
        try:
            saved = context.num_tickets
            context.num_tickets = 0
        except (AttributeError, ValueError):  # pragma: no cover - not a server context
            return original(*args, **kwargs)
        try:
            return original(*args, **kwargs)
        finally:
            context.num_tickets = saved

    context.wrap_bio = wrap_bio  # type: ignore[method-assign]
    context.__dict__["_anyftp_ticket_guard"] = True
    return context


async def wrap_data_socket(
    sock: socket.socket,
    make_channel: Callable[[], DataChannel],
    context: ssl.SSLContext,
    *,
    handshake_timeout: float | None = None,
    require_session_reuse: bool = False,
) -> DataChannel:
    """The connected socket *sock* as a data channel in TLS (server side); raise on
    failure or policy breach (the socket is then closed).

    TLS is there from the socket's first byte: a transport made in clear and wrapped
    afterwards (``loop.start_tls``) may already have read the client's ClientHello into
    the plain channel (uvloop reads a new connection even when its protocol paused it in
    ``connection_made``), and the handshake then never completes.
    """
    loop = asyncio.get_running_loop()
    guard_tickets(context)
    made: list[DataChannel] = []

    def factory() -> DataChannel:
        # Kept here: uvloop returns its own SSL protocol, not this one.
        made.append(make_channel())
        return made[0]

    token = _WRAPPING_DATA.set(True)
    try:
        transport, _ = await loop.connect_accepted_socket(
            factory,
            sock,
            ssl=context,
            ssl_handshake_timeout=handshake_timeout or 60.0,
            ssl_shutdown_timeout=SSL_SHUTDOWN_TIMEOUT,
        )
    except BaseException:
        sock.close()
        raise
    finally:
        _WRAPPING_DATA.reset(token)
    channel = made[0]
    channel.tls = True
    if require_session_reuse:
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None or not ssl_object.session_reused:
            channel.abort()
            raise TLSPolicyError("data connection did not reuse the control TLS session")
    return channel
