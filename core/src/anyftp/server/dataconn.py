"""Setting up data connections: passive listeners, active connects, the port pool.

A session's :class:`DataConnector` holds what the last PASV/EPSV or PORT/EPRT asked for
and turns it into a :class:`~anyftp.server.datachannel.DataChannel` when a transfer
starts (:meth:`DataConnector.open`):

* passive: a listener on the control connection's local address, on a port from the
  server's :class:`PortPool` (or any port). Only a connection from the control
  connection's peer address is accepted; others are dropped and logged. The listener
  closes after the first good connection.
* active: a connection to the address PORT/EPRT named, which must be the control
  connection's peer (no FTP bounce), made when the transfer starts.

With PROT P the channel is wrapped in TLS (server side, see :mod:`.tls`) before use.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import functools
import ipaddress
import logging
import secrets
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import NoAvailablePort
from .control import RawListener, RawTransport
from .datachannel import DataChannel
from .tls import wrap_data_socket

if TYPE_CHECKING:
    from .session import Session

__all__ = ("PortPool", "DataConnector", "DataConnectionError", "same_host", "plain_host")

logger = logging.getLogger("anyftp.server")


class DataConnectionError(ConnectionError):
    """No data connection could be made (reply 425)."""


def plain_host(host: str) -> str:
    """*host* with an IPv4-mapped IPv6 form (``::ffff:1.2.3.4``) unwrapped and scope dropped."""
    if ":" not in host:
        return host  # IPv4 as the OS writes it, or a name: nothing to unwrap or drop
    host = host.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def same_host(a: str, b: str) -> bool:
    return plain_host(a) == plain_host(b)


class PortPool:
    """Ports passive listeners may use (``None``: any port the OS gives)."""

    def __init__(self, ports: Iterable[int] | None = None) -> None:
        self._free: collections.deque[int] | None = (
            None if ports is None else collections.deque(dict.fromkeys(ports))
        )

    def bind(self, host: str) -> socket.socket:
        """A listening socket on *host*, port from the pool; NoAvailablePort if none."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if self._free is None:
            return _listen_any(family, host)
        for _ in range(len(self._free)):
            port = self._free.popleft()
            try:
                return _listen(family, host, port)
            except OSError:
                self._free.append(port)
        raise NoAvailablePort("no free port left in the passive port range")

    def release(self, port: int) -> None:
        if self._free is not None and port not in self._free:
            self._free.append(port)

    @property
    def limited(self) -> bool:
        return self._free is not None


def _local_port_range() -> tuple[int, int]:
    """The ports the OS hands out for port 0 (Linux tells; elsewhere IANA's dynamic range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            low, high = (int(field) for field in file.read().split())
        if 1024 <= low <= high <= 65535:
            return low, high
    except (OSError, ValueError):
        pass
    return 49152, 65535


_PORT_RANGE = _local_port_range()
#: Random ports tried before asking the OS for one.
_RANDOM_PORT_TRIES = 16


def _listen_any(family: int, host: str) -> socket.socket:
    """A passive listener on any free port.

    The port is picked here, at random in the OS's ephemeral range, and bound with
    ``SO_REUSEADDR``. A busy server leaves thousands of its earlier passive ports in
    TIME_WAIT. Binding port 0 then costs ~0.2 ms without ``SO_REUSEADDR`` (and runs out of
    ports: the kernel skips every one in TIME_WAIT) and ~3 ms with it (the kernel
    searches for a port free of TIME_WAIT first); one explicit port costs ~10 us. A port
    taken by a listener or a connection fails with EADDRINUSE and the next one is tried;
    after a few, the OS chooses.
    """
    low, high = _PORT_RANGE
    span = high - low + 1
    for _ in range(_RANDOM_PORT_TRIES):
        try:
            return _listen(family, host, low + secrets.randbelow(span))
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    return _listen(family, host, 0)


def _listen(family: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Also for port 0: without it the kernel skips every port held in TIME_WAIT,
        # and a busy server runs out of ephemeral ports ("Address already in use" under
        # the 300-session load test).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(8)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class DataConnector:
    """The data-connection state of one session (see module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._listener: RawListener | asyncio.Server | None = None
        self._listener_port: int | None = None
        self._future: asyncio.Future[DataChannel] | None = None
        self._target: tuple[str, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def configured(self) -> bool:
        """Whether a PASV/EPSV/PORT/EPRT is waiting to be used by a transfer."""
        return self._future is not None or self._target is not None

    # --- passive ------------------------------------------------------------------------

    async def listen(self) -> tuple[str, int]:
        """Open a passive listener; returns the host and port it listens on."""
        self.reset()
        session = self.session
        server = session.server
        host = plain_host(session.local_host)
        sock = server.port_pool.bind(host)
        port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        try:
            if session.data_tls_context() is None and not isinstance(
                loop, asyncio.SelectorEventLoop
            ):
                # Clear on other loops (uvloop): their own server makes the transport.
                # Handing uvloop accepted sockets instead (connect_accepted_socket) cost
                # the 300-session load test ~150 MiB more resident memory.
                listener: RawListener | asyncio.Server = await loop.create_server(
                    self._make_channel, sock=sock
                )
            else:
                # Not loop.create_server: it lets a whole turn of the loop pass before
                # it returns, and a busy server's turn is long; this listens at once,
                # and hands over the bare socket, so TLS can wrap it from its first byte.
                listener = RawListener(loop, [sock], self._connected, poll=False)
        except BaseException:
            sock.close()
            server.port_pool.release(port)
            raise
        self._listener = listener
        self._listener_port = port
        self._future = loop.create_future()
        session.connection.passive_server = listener
        session.connection.passive_server_port = port
        return host, port

    def _connected(self, conn: socket.socket, peer: Any, local: Any, poller: Any) -> None:
        """A connection to the passive port: the client's becomes the data connection.

        A clear one on the standard loop gets a :class:`RawTransport` at once, so the
        channel is there before the client's next command is read. One for PROT P is
        wrapped in TLS from its first byte (:func:`.tls.wrap_data_socket`). Data
        sockets are watched by the loop itself, not in the server's poller: a socket in
        a nested epoll set costs the kernel a second wake-up chain per packet, which
        bulk transfers pay per packet (measured: twice the system time for 200
        concurrent uploads)."""
        future = self._admit(peer)
        if future is None:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        if self.session.data_tls_context() is None and isinstance(loop, asyncio.SelectorEventLoop):
            channel = self._new_channel(functools.partial(self._deliver, future))
            try:
                RawTransport(loop, conn, channel, peer, local, control=False)
            except (OSError, RuntimeError) as exc:
                conn.close()
                if not future.done():
                    future.set_exception(DataConnectionError(f"data connection failed: {exc}"))
            return
        self._spawn(self._make_transport(conn, future))

    async def _make_transport(
        self, conn: socket.socket, future: asyncio.Future[DataChannel]
    ) -> None:
        try:
            channel = await self._channel_for(conn)
        except Exception as exc:
            if not isinstance(exc, DataConnectionError):
                logger.exception("could not set up a data connection")
                exc = DataConnectionError(f"data connection failed: {exc}")
            if not future.done():
                future.set_exception(exc)
            return
        self._deliver(future, channel)

    async def _channel_for(self, conn: socket.socket) -> DataChannel:
        """A channel over the connected socket *conn*, in TLS under PROT P; on failure the
        socket is closed and DataConnectionError raised."""
        server = self.session.server
        context = self.session.data_tls_context()
        if context is None:
            try:
                _, channel = await asyncio.get_running_loop().connect_accepted_socket(
                    lambda: self._new_channel(None), conn
                )
            except (OSError, RuntimeError) as exc:
                conn.close()
                raise DataConnectionError(f"data connection failed: {exc}") from None
            return channel
        try:
            return await wrap_data_socket(
                conn,
                lambda: self._new_channel(None),
                context,
                handshake_timeout=server.socket_timeout,
                require_session_reuse=server.require_tls_session_reuse,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError, RuntimeError) as exc:
            raise DataConnectionError(f"TLS on data connection failed: {exc}") from None

    def _make_channel(self) -> DataChannel:
        """A channel for a clear connection the loop's own server accepted."""
        return self._new_channel(self._accepted)

    def _accepted(self, channel: DataChannel) -> None:
        future = self._admit(channel.peer)
        if future is None:
            channel.abort()
            return
        self._deliver(future, channel)

    def _new_channel(self, on_made: Callable[[DataChannel], None] | None) -> DataChannel:
        server = self.session.server
        return DataChannel(server.block_size, on_made, timeout=server.socket_timeout)

    def _admit(self, peer: Any) -> asyncio.Future[DataChannel] | None:
        """The future a connection from *peer* completes, or None when it is refused:
        another host than the control connection's, or no transfer waiting for one. The
        first admitted one closes the listener (one data connection per PASV)."""
        session = self.session
        peer_host = str(peer[0]) if peer else ""
        if not same_host(peer_host, session.client_host):
            logger.warning(
                "refused data connection from %s (control peer is %s)",
                peer_host,
                session.client_host,
            )
            return None
        future = self._future
        if future is None or future.done():
            return None
        self._close_listener()
        return future

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver(self, future: asyncio.Future[DataChannel], channel: DataChannel) -> None:
        if future.done():
            channel.abort()
            return
        future.set_result(channel)
        self.session.connection.data_connection = channel

    def _close_listener(self, *, forget: bool = False) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._listener_port is not None:
            self.session.server.port_pool.release(self._listener_port)
            self._listener_port = None
        if forget:
            self.session.connection.pop("passive_server", None)

    # --- active -------------------------------------------------------------------------

    def set_active(self, host: str, port: int) -> None:
        self.reset()
        self._target = (host, port)

    # --- use ----------------------------------------------------------------------------

    async def open(self) -> DataChannel:
        """The data connection for the next transfer (consumes the PASV/PORT setting)."""
        session = self.session
        server = session.server
        future, target = self._future, self._target
        self._target = None  # the passive future stays until settled: the peer may
        try:  # connect only after the 150 reply (``_deliver`` completes it)
            if future is not None and future.done():
                channel = future.result()  # the client connected first, as most do
            elif future is not None:
                try:
                    async with asyncio.timeout(server.wait_future_timeout):
                        channel = await asyncio.shield(future)
                except TimeoutError:
                    raise DataConnectionError("no data connection arrived in time") from None
            elif target is not None:
                channel = await self._connect(*target)
            else:
                raise DataConnectionError("use PASV, EPSV, PORT or EPRT first")
        finally:
            if self._future is future:
                self._future = None
            self._close_listener(forget=True)
            if future is not None and not future.done():
                future.cancel()
        session.connection.forget("data_connection")
        if session.data_tls_context() is not None and not channel.tls:
            # Made in clear before PROT P: sending on it would leak what the client asked
            # to protect. (A data connection's protection is settled when it is made.)
            channel.abort()
            raise DataConnectionError("data connection made before PROT P; open a new one")
        return channel

    async def _connect(self, host: str, port: int) -> DataChannel:
        session = self.session
        timeout = session.server.socket_timeout or 30
        loop = asyncio.get_running_loop()
        local = plain_host(session.local_host)
        if session.data_tls_context() is None:
            try:
                async with asyncio.timeout(timeout):
                    _, channel = await loop.create_connection(
                        lambda: self._new_channel(None), host, port, local_addr=(local, 0)
                    )
            except (OSError, TimeoutError) as exc:
                raise DataConnectionError(f"can not connect to {host}:{port}: {exc}") from None
            return channel
        # For TLS, a bare socket: wrapped from its first byte (see _channel_for).
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            sock.setblocking(False)
            sock.bind((local, 0))
            async with asyncio.timeout(timeout):
                await loop.sock_connect(sock, (host, port))
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise DataConnectionError(f"can not connect to {host}:{port}: {exc}") from None
        except BaseException:
            sock.close()
            raise
        return await self._channel_for(sock)

    def reset(self) -> None:
        """Forget any pending data-connection setup, closing what it opened."""
        if (
            self._listener is None
            and self._future is None
            and self._target is None
            and not self._tasks
            and "passive_server" not in self.session.connection
            and "data_connection" not in self.session.connection
        ):
            return  # nothing was opened (a session that never transferred)
        self._close_listener(forget=True)
        future = self._future
        self._future = None
        self._target = None
        if future is not None:
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result().abort()
            elif not future.done():
                future.cancel()
        for task in list(self._tasks):
            task.cancel()
        pending = self.session.connection.pop("data_connection", None)
        if (
            pending is not None
            and pending.done()
            and not pending.cancelled()
            and pending.exception() is None
        ):
            channel = pending.result()
            if isinstance(channel, DataChannel):
                channel.abort()
