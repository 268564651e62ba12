"""The FTP/FTPS server: configuration, listener, connection limits, shared resources.

:class:`Server` follows the seeds' server tutorial (``Server(users, path_io_factory=...,
maximum_connections=..., *_speed_limit*=..., *_timeout=...)``, ``start``, ``close``,
``wait_closed``) and adds FTPS, connection limits per address, login throttling, a
passive port range with a masquerade address, backend selection by name with options,
and command plugins. Each connection is served by a :class:`~.session.Session`.
"""

from __future__ import annotations

import asyncio
import inspect
import keyword
import logging
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from pathlib import PurePath, PurePosixPath
from typing import Any

from ..common import StreamThrottle
from ..pathio import DEFAULT_BLOCK_SIZE, AbstractPathIO
from ..plugins import PluginHost
from ..protocol.framing import MAX_LINE_LENGTH
from ..protocol.mlsx import DEFAULT_FACTS
from ..protocol.replies import format_reply
from ..registry import backend_class_of, resolve_backend
from .bans import LoginBans
from .commands import CommandTable
from .connection import Connection
from .control import (
    ControlStream,
    RawListener,
    RawTransport,
    raw_listener_supported,
)
from .dataconn import PortPool, plain_host
from .handlers import default_table
from .paths import normalise, normalise_base, real_path
from .poller import Poller
from .rawio import BufferPool
from .session import Session
from .tls import guard_tickets
from .users import AbstractUserManager, MemoryUserManager, User

__all__ = ("Server",)

logger = logging.getLogger("anyftp.server")


class _Closing:
    """What :meth:`Server.close` returns: awaiting it waits until the server closed."""

    __slots__ = ("_server",)

    def __init__(self, server: Server) -> None:
        self._server = server

    def __await__(self) -> Generator[Any, None, None]:
        return self._server.wait_closed().__await__()


def _canceller(task: asyncio.Task[Any]) -> Callable[[object], None]:
    """A done-callback that cancels *task* (a session, once its transfer ended)."""

    def cancel(_: object) -> None:
        _cancel_once(task)

    return cancel


def _cancel_once(task: asyncio.Task[Any]) -> None:
    """Cancel *task* unless that is already under way (a second cancellation would hit
    the session's cleanup and leave its connection open)."""
    if not task.cancelling():
        task.cancel()


def _count_down(counts: dict[Any, int], key: Any) -> None:
    """One less of *key* in *counts*; the key goes at zero."""
    count = counts.get(key, 0) - 1
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)


class Server:
    """An FTP server (see the seeds' server tutorial for the basic arguments).

    :param users: a sequence of :class:`~.users.User` or a user manager; default: one
        anonymous user with read/write permission on the current directory.
    :param path_io_factory: the storage backend: an ``AbstractPathIO`` subclass or the
        name of an installed backend (``"local"``, ``"memory"``, ``"s3"``...).
    :param path_io_options: options for the backend's shared state (its ``create_state``).
    :param block_size: bytes per storage read/network write in transfers.
    :param socket_timeout: bound on each network read/write (seconds).
    :param idle_timeout: how long a client may stay silent between commands.
    :param wait_future_timeout: how long a transfer waits for its data connection.
    :param path_timeout: bound on each storage call.
    :param maximum_connections: connections served at once (421 beyond).
    :param maximum_connections_per_address: connections from one client address.
    :param read_speed_limit: bytes/s for all uploads together (and the other three
        limits: ``write_speed_limit`` for downloads, ``*_per_connection`` per session).
    :param masquerade_address: IPv4 address announced in PASV replies (behind NAT);
        ``ipv4_pasv_forced_response_address`` is aioftp's name for it.
    :param data_ports: ports passive listeners may use (default: any).
    :param ssl: an SSL context for *implicit* FTPS (TLS from the first byte).
    :param auth_tls: an SSL context offered through ``AUTH TLS`` (explicit FTPS).
    :param require_tls: refuse login until the control connection is protected.
    :param require_tls_data: refuse transfers over clear data connections.
    :param require_tls_session_reuse: refuse TLS data connections that do not resume the
        control connection's TLS session.
    :param max_line_length: longest command line accepted.
    :param login_failure_delay: seconds before answering a failed login.
    :param max_login_attempts: failed logins after which the connection is closed.
    :param ban_after_failures: failed logins from one address within ``ban_window``
        seconds that ban the address for ``ban_time`` seconds (421 on connect); ``None``
        or 0 turns banning off (see :mod:`.bans`).
    :param plugins: plugin names (entry points of group ``anyftp.plugins``) or plugin
        objects: commands, authentication sources, event sinks (see :mod:`anyftp.plugins`).
    :param plugin_options: options by plugin name, e.g. ``{"audit": {"path": "a.log"}}``.
    :param shutdown_grace: seconds :meth:`close` lets running transfers go on before it
        aborts them (default 0: at once, as aioftp does).
    :param atomic_uploads: write new uploads under a temporary name and rename them when
        complete, so a failed upload never leaves a truncated file under the target name;
        ``None`` (default) does so for backends that do not discard aborted writes
        themselves (see :mod:`.uploads`).
    """

    def __init__(
        self,
        users: Sequence[User] | AbstractUserManager | None = None,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        socket_timeout: float | None = 60.0,
        idle_timeout: float | None = 300.0,
        wait_future_timeout: float | None = 10.0,
        path_timeout: float | None = None,
        path_io_factory: Any = "local",
        path_io_options: dict[str, Any] | None = None,
        maximum_connections: int | None = None,
        maximum_connections_per_address: int | None = None,
        read_speed_limit: int | None = None,
        write_speed_limit: int | None = None,
        read_speed_limit_per_connection: int | None = None,
        write_speed_limit_per_connection: int | None = None,
        ipv4_pasv_forced_response_address: str | None = None,
        masquerade_address: str | None = None,
        data_ports: Iterable[int] | None = None,
        encoding: str = "utf-8",
        ssl: ssl_module.SSLContext | None = None,
        auth_tls: ssl_module.SSLContext | None = None,
        require_tls: bool = False,
        require_tls_data: bool = False,
        require_tls_session_reuse: bool = False,
        welcome_message: str = "welcome",
        system_type: str = "UNIX Type: L8",
        max_line_length: int = MAX_LINE_LENGTH,
        login_failure_delay: float = 1.0,
        max_login_attempts: int | None = 3,
        plugins: Iterable[str | object] = (),
        plugin_options: dict[str, dict[str, Any]] | None = None,
        mlst_facts: Iterable[str] = DEFAULT_FACTS,
        atomic_uploads: bool | None = None,
        shutdown_grace: float = 0.0,
        ban_after_failures: int | None = 10,
        ban_window: float = 300.0,
        ban_time: float = 600.0,
    ) -> None:
        if isinstance(users, AbstractUserManager):
            self.user_manager: AbstractUserManager = users
        else:
            self.user_manager = MemoryUserManager(users)
        self.block_size = block_size
        #: Receive buffers lent to uploads one block at a time (see :mod:`.rawio`).
        self.receive_buffers = BufferPool(max(4096, block_size))
        self.socket_timeout = socket_timeout
        self.idle_timeout = idle_timeout
        self.wait_future_timeout = wait_future_timeout
        self.path_timeout = path_timeout
        self.path_io_factory = resolve_backend(path_io_factory)
        self.backend_class: type[AbstractPathIO] = backend_class_of(self.path_io_factory)
        self.path_io_options = dict(path_io_options or {})
        self._backend_state: Any = self.backend_class.create_state(**self.path_io_options)
        self.maximum_connections = maximum_connections
        self.maximum_connections_per_address = maximum_connections_per_address
        self.throttle = StreamThrottle.from_limits(read_speed_limit, write_speed_limit)
        self.throttle_per_connection = StreamThrottle.from_limits(
            read_speed_limit_per_connection, write_speed_limit_per_connection
        )
        self.masquerade_address = masquerade_address or ipv4_pasv_forced_response_address
        self.port_pool = PortPool(data_ports)
        self.encoding = encoding
        self.ssl = ssl
        self.auth_tls = auth_tls if ssl is None else None
        self.require_tls = require_tls and ssl is None
        self.require_tls_data = require_tls_data
        self.require_tls_session_reuse = require_tls_session_reuse
        if (require_tls or require_tls_data) and self.tls_context is None:
            raise ValueError("require_tls / require_tls_data need ssl= or auth_tls=")
        if self.tls_context is not None:
            guard_tickets(self.tls_context)
        self.welcome_message = welcome_message
        self.system_type = system_type
        self.max_line_length = max_line_length
        self.login_failure_delay = login_failure_delay
        self.max_login_attempts = max_login_attempts
        self.login_bans = LoginBans(ban_after_failures, ban_window, ban_time)
        self.mlst_facts = tuple(mlst_facts)
        self.atomic_uploads = atomic_uploads
        self.shutdown_grace = shutdown_grace
        self.plugin_host = PluginHost(self, plugins, plugin_options)
        if not users and self.plugin_host.authenticates:
            # No default anonymous account when the accounts come from plugins.
            self.user_manager = accounts = MemoryUserManager(None)
            accounts.users = []
        self.commands = self.build_commands()
        # Commands as aioftp-style methods can only come from a subclass.
        self.has_legacy_commands = type(self) is not Server
        self.server: asyncio.Server | RawListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._address: tuple[str, int] | None = None
        self.sessions: set[Session] = set()
        # The task serving each connection, with its session once it has one.
        self._tasks: dict[asyncio.Task[Any], Session | None] = {}
        self._shutdown_deadline: float | None = None
        self._idle_sweep: asyncio.TimerHandle | None = None
        self._shutdown_timer: asyncio.TimerHandle | None = None
        # Plain dicts: a Counter's missing key goes through a Python __missing__.
        self._per_address: dict[str, int] = {}
        self._per_user: dict[int, int] = {}
        self._user_throttles: dict[int, StreamThrottle] = {}
        self._closed: asyncio.Event | None = None
        self._state_closed = False
        self._legacy_cache: dict[str, str | None] = {}
        # Normalised absolute base paths of users (see make_path_io).
        self._bases: dict[tuple[Any, type[PurePath]], PurePath] = {}

    # --- configuration helpers ----------------------------------------------------------

    @property
    def tls_context(self) -> ssl_module.SSLContext | None:
        """The context used for TLS (implicit or explicit), if any."""
        return self.ssl or self.auth_tls

    def build_commands(self) -> CommandTable:
        """The command table: built-in commands plus what the enabled plugins register."""
        table = default_table()
        self.plugin_host.register_commands(table)
        return table

    def legacy_command(self, name: str) -> Callable[..., Awaitable[Any]] | None:
        """An aioftp-style method a subclass defines for command *name*, if any."""
        if name not in self._legacy_cache:
            self._legacy_cache[name] = self._find_legacy(name)
        attribute = self._legacy_cache[name]
        if attribute is None:
            return None
        method: Callable[..., Awaitable[Any]] = getattr(self, attribute)
        return method

    def _find_legacy(self, name: str) -> str | None:
        if not name.isalpha():
            return None
        attribute = name.lower()
        candidates = (
            (attribute + "_", attribute)
            if keyword.iskeyword(attribute)
            else (attribute, attribute + "_")
        )
        for klass in type(self).__mro__:
            if klass is Server:
                return None
            for candidate in candidates:
                if candidate in Server.__dict__ or candidate.startswith("_"):
                    continue  # the server's own machinery is never a command
                if candidate in klass.__dict__ and inspect.iscoroutinefunction(
                    getattr(self, candidate, None)
                ):
                    return candidate
        return None

    def legacy_command_names(self) -> list[str]:
        """Commands added by aioftp-style methods of subclasses (for HELP)."""
        names = set()
        for klass in type(self).__mro__:
            if klass is Server:
                break
            for attribute in klass.__dict__:
                command = attribute.rstrip("_").upper()
                if command.isalpha() and self.legacy_command(command) is not None:
                    names.add(command)
        return sorted(names - set(self.commands.names()))

    # --- storage -------------------------------------------------------------------------

    def make_path_io(self, user: User, connection: Connection) -> tuple[PurePath, AbstractPathIO]:
        """The user's base path and a backend instance rooted there."""
        path_class = self.backend_class.path_class
        key = (user.base_path, path_class)
        base = self._bases.get(key)
        if base is None:
            base = normalise_base(user.base_path, path_class)
            if PurePath(user.base_path).is_absolute():
                # A relative base depends on the current directory: not kept.
                self._bases[key] = base
        factory: Any = self.path_io_factory
        try:
            path_io = factory(
                timeout=self.path_timeout,
                connection=connection,
                state=self._backend_state,
                root=base,
            )
        except TypeError:
            # A factory written for aioftp's signature.
            path_io = factory(timeout=self.path_timeout, connection=connection)
        return base, path_io

    @staticmethod
    def get_paths(
        connection: Connection, path: str | PurePosixPath
    ) -> tuple[PurePath, PurePosixPath]:
        """``(real path, virtual path)`` of *path* for the session behind *connection*."""
        session: Session = connection.session
        virtual = normalise(session.cwd, str(path) or ".")
        return real_path(session.base_path, virtual), virtual

    # --- limits and shared throttles --------------------------------------------------------

    def admit(self, session: Session) -> str | None:
        """Count a new session; the reason to refuse it (421), or None."""
        if self.login_bans.banned_for(session.client_host):
            return "too many failed logins from your address, try again later"
        if self.maximum_connections is not None and len(self.sessions) >= self.maximum_connections:
            return "too many connections, try again later"
        address = session.client_host
        limit = self.maximum_connections_per_address
        count = self._per_address.get(address, 0)
        if limit is not None and count >= limit:
            return f"too many connections from {address}"
        self.sessions.add(session)
        self._per_address[address] = count + 1
        return None

    def session_ended(self, session: Session) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            _count_down(self._per_address, session.client_host)

    def user_joined(self, user: User) -> bool:
        limit = user.maximum_connections
        key = id(user)
        count = self._per_user.get(key, 0)
        if limit is not None and count >= limit:
            return False
        self._per_user[key] = count + 1
        return True

    def user_left(self, user: User) -> None:
        _count_down(self._per_user, id(user))

    def user_throttle(self, user: User) -> StreamThrottle:
        """The throttle shared by all sessions of *user*."""
        key = id(user)
        throttle = self._user_throttles.get(key)
        if throttle is None:
            throttle = StreamThrottle.from_limits(user.read_speed_limit, user.write_speed_limit)
            self._user_throttles[key] = throttle
        return throttle

    # --- serving ---------------------------------------------------------------------------

    async def start(self, host: str | None = None, port: int = 0, **kwargs: Any) -> None:
        """Start listening on *host* (all interfaces when None) and *port* (0: any).

        Keyword arguments go to ``loop.create_server`` (``backlog`` defaults to 1024).
        On asyncio's selector loop, without implicit TLS and with only ``backlog``,
        ``reuse_address``, ``reuse_port``, ``family`` or ``flags``, connections are
        served by the lean transport of :mod:`.control`; otherwise by the loop's own.
        """
        if inspect.isawaitable(self._backend_state):
            self._backend_state = await self._backend_state
        self._closed = asyncio.Event()
        # Room for a burst of connections (asyncio's default is 100; the kernel caps it
        # at net.core.somaxconn).
        kwargs.setdefault("backlog", 1024)
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self.ssl is None and raw_listener_supported(loop, kwargs):
            # asyncio's selector loop: the lean control transport (see control.py).
            self.server = await RawListener.bind(loop, self._accepted, host, port, **kwargs)
        else:
            if self.ssl is not None and self.socket_timeout is not None:
                # A client that connects and never finishes the handshake is dropped.
                kwargs.setdefault("ssl_handshake_timeout", self.socket_timeout)
            self.server = await loop.create_server(
                self._new_stream, host, port, ssl=self.ssl, **kwargs
            )
        self._address = None
        host_, port_ = self._address = self.address
        logger.info("serving on %s:%s (backend %s)", host_, port_, self.backend_class.__name__)
        await self.plugin_host.start()

    @property
    def backend_state(self) -> Any:
        """The backend's per-server state (from ``create_state``), shared by sessions."""
        return self._backend_state

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` of the first listening socket."""
        if self._address is not None and self.server is not None and self.server.is_serving():
            return self._address  # read once in start(); a session needs it at every connect
        if self.server is None or not self.server.sockets:
            raise RuntimeError("server is not started")
        name = self.server.sockets[0].getsockname()
        return plain_host(str(name[0])), int(name[1])

    @property
    def server_host(self) -> str:
        return self.address[0]

    @property
    def server_port(self) -> int:
        if self._address is not None and self.server is not None and self.server.is_serving():
            return self._address[1]
        if self.server is None or not self.server.sockets:
            return 0
        return self.address[1]

    async def serve_forever(self) -> None:
        """Wait until :meth:`close` is called (the server serves meanwhile)."""
        if self._closed is None:
            raise RuntimeError("server is not started")
        await self._closed.wait()

    async def run(self, host: str | None = None, port: int = 0, **kwargs: Any) -> None:
        """:meth:`start`, then serve until closed."""
        await self.start(host, port, **kwargs)
        try:
            await self.serve_forever()
        finally:
            await self.close()

    def _accepted(
        self, sock: socket.socket, peername: Any, sockname: Any, poller: Poller | None
    ) -> None:
        """A connection the raw listener accepted: its transport calls back at once."""
        assert self._loop is not None
        stream = ControlStream(self._connected)
        RawTransport(self._loop, sock, stream, peername, sockname, poller)

    def _new_stream(self) -> ControlStream:
        return ControlStream(self._connected)

    def _connected(self, stream: ControlStream) -> None:
        """A control connection is made: its session runs in a task of its own."""
        session = Session(self, stream, stream)
        assert self._loop is not None
        task = self._loop.create_task(session.run())
        session._task = task
        self._tasks[task] = session
        if self._shutdown_deadline is not None:
            _cancel_once(task)  # accepted just before close(): 421 at once

    def session_done(self, session: Session) -> None:
        """The last step of a session's task: forget it."""
        self._tasks.pop(session._task, None)  # type: ignore[arg-type]
        session.release()

    def watch_idle(self) -> None:
        """Make sure the idle sweep runs (a session has set an idle deadline)."""
        if self._idle_sweep is None:
            self.sweep_idle_sessions()

    def sweep_idle_sessions(self) -> None:
        """End the sessions waiting for a command past ``idle_timeout``, and sweep again
        while there are sessions: one timer for the whole server instead of one per
        session. A session is cut at most a quarter of the idle time (at most a second)
        after its deadline, never before."""
        self._idle_sweep = None
        loop = self._loop
        idle = self.idle_timeout
        if loop is None or idle is None or loop.is_closed():
            return
        now = loop.time()
        for session in list(self.sessions):
            session.check_idle(now)
        if self.sessions:  # the sweep stops with the last session; the next one restarts it
            period = min(1.0, max(0.01, idle / 4))
            self._idle_sweep = loop.call_at(now + period, self.sweep_idle_sessions)

    def close(self, grace: float | None = None) -> _Closing:
        """Stop listening and end every session. Await the result (or
        :meth:`wait_closed`) to wait until all is closed.

        Sessions without a running transfer end at once (421). Transfers may go on for
        *grace* seconds (default: ``shutdown_grace``); each session ends as soon as its
        transfer does, and what still runs after the grace time is aborted (426; an
        unfinished upload is discarded). Calling again can shorten the grace time, never
        lengthen it.
        """
        if self.server is not None:
            self.server.close()
        grace = self.shutdown_grace if grace is None else grace
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if grace <= 0 or loop is None:
            self._end_sessions()
        else:
            deadline = loop.time() + grace
            if self._shutdown_deadline is None or deadline < self._shutdown_deadline:
                self._shutdown_deadline = deadline
                if self._shutdown_timer is not None:
                    self._shutdown_timer.cancel()
                self._shutdown_timer = loop.call_at(deadline, self._end_sessions)
            for task, session in list(self._tasks.items()):
                active = None if session is None else session.active
                if active is None or active.done():
                    _cancel_once(task)
                else:
                    active.add_done_callback(_canceller(task))
        if self._closed is not None:
            self._closed.set()
        return _Closing(self)

    def _end_sessions(self) -> None:
        """End every session now, aborting its transfer first (426, then 421)."""
        if self._shutdown_deadline is None:
            self._shutdown_deadline = 0.0  # connections still arriving are ended too
        for task, session in list(self._tasks.items()):
            active = None if session is None else session.active
            if active is not None and not active.done():
                active.cancel()
            _cancel_once(task)

    async def wait_closed(self) -> None:
        """Wait until the listener and every session are closed, then release storage."""
        if self.server is not None:
            await self.server.wait_closed()
        tasks = list(self._tasks)
        if tasks:
            remaining = 0.0
            if self._shutdown_deadline is not None:
                remaining = max(0.0, self._shutdown_deadline - asyncio.get_running_loop().time())
            await asyncio.wait(tasks, timeout=remaining + 10)
        if self._shutdown_timer is not None:
            self._shutdown_timer.cancel()
        await self.plugin_host.close()
        if not self._state_closed:
            self._state_closed = True
            await self.backend_class.close_state(self._backend_state)

    async def write_response(self, stream: Any, *args: Any, **kwargs: Any) -> None:
        """Write a reply to a stream (aioftp's helper; old ``(reader, writer, code,
        info)`` calls work too)."""
        values = list(args)
        if isinstance(stream, asyncio.StreamReader):
            stream = values.pop(0)
        code, *rest = values
        lines = rest[0] if rest else kwargs.get("lines", kwargs.get("info", ""))
        data = format_reply(str(code), lines).encode(self.encoding)
        writer = getattr(stream, "writer", stream)
        writer.write(data)
        async with asyncio.timeout(self.socket_timeout):
            await writer.drain()
