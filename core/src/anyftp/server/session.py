"""One control connection: reading commands, enforcing the table, replying.

The session reads bytes, frames them into bounded lines (:mod:`anyftp.protocol.framing`),
looks each command up (an aioftp-style method of a ``Server`` subclass first, then the
:class:`~anyftp.server.commands.CommandTable`), checks what the table says the command
needs (login, TLS, argument, permission on its path), runs the handler and answers
through :mod:`anyftp.protocol.replies`. Storage errors become replies through
:func:`anyftp.errors.reply_for_path_error` here and only here; no failure of a command
ends the session.

Transfers run in their own task so the session keeps reading: ABOR, STAT and NOOP are
answered while a transfer runs; any other command waits until it ends. The idle timeout
applies only while no transfer runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from pathlib import PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from .. import plugins
from ..common import StreamIO, StreamThrottle, Throttle
from ..errors import InvalidCommand, PathIOError, reply_for_path_error
from ..pathio import AbstractPathIO
from ..protocol.framing import LineBuffer, parse_command
from ..protocol.replies import format_reply
from .connection import Connection
from .control import ControlStream, RawTransport
from .dataconn import DataConnector, plain_host
from .eager import start_task
from .paths import BadPath, backslash_separates, normalise, real_path
from .users import AbstractUserManager, User

if TYPE_CHECKING:
    from .commands import CommandSpec
    from .server import Server

__all__ = ("Session", "CommandError", "CloseSession", "within")

T = TypeVar("T")

#: A value not set on the connection.
_UNSET: Any = object()
#: The user managers' default logout notice, which does nothing: not worth a coroutine.
_IGNORED_LOGOUT = AbstractUserManager.notify_logout

logger = logging.getLogger("anyftp.server")

#: Commands RFC 959 and its extensions define that this server does not implement.
NOT_IMPLEMENTED = frozenset(
    [
        "ACCT",
        "REIN",
        "SMNT",
        "HOST",
        "LANG",
        "LPRT",
        "LPSV",
        "ADAT",
        "MIC",
        "CONF",
        "ENC",
        "XSEN",
        "XSEM",
        "XMAS",
        "XRCP",
        "XRSQ",
        "MLFL",
        "MAIL",
        "MSND",
        "MSOM",
        "MSAM",
        "MRSQ",
        "MRCP",
        "CSID",
        "CLNT",
        "AVBL",
        "DSIZ",
        "RMDA",
        "THMB",
        "SPSV",
    ]
)

#: What makes a reply text more than one plain line (format_reply handles those).
_SPECIAL_IN_REPLY = re.compile("[\r\n\x00]")
#: One-line replies already encoded, by (code, text, encoding); cleared when full (texts
#: that name paths or ports come and go, the fixed ones come right back).
_ONE_LINE_REPLIES: dict[tuple[Any, str, str], bytes] = {}
_ONE_LINE_REPLIES_KEPT = 512
#: Bytes asked of the kernel per read on a clear control connection. asyncio's default
#: (256 KiB) makes every read of a short command line map, shrink and unmap fresh memory.
_CONTROL_RECV_SIZE = 16384


def within(timeout: float | None, work: Awaitable[T]) -> Awaitable[T]:
    """*work*, bounded by *timeout* seconds when awaited (as it is when ``None``)."""
    if timeout is None:
        return work
    return _bounded(timeout, work)


async def _bounded(timeout: float, work: Awaitable[T]) -> T:
    async with asyncio.timeout(timeout):
        return await work


class _Done:
    """An awaitable that is complete at once (a reply with nothing to wait for)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that ends at once


_DONE = _Done()


class CommandError(Exception):
    """Raised by a handler to answer ``code text`` and stop."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


class CloseSession(Exception):
    """Raised to end the session after the reply already sent."""


class Session:
    """State and command loop of one control connection."""

    # Slots: a session has more attributes than a shared-key instance dict holds (30 in
    # CPython 3.11), and it is made per connection and read on every command. The
    # __dict__ slot keeps the session open to attributes of plugins and subclasses.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_base_path",
        "_data",
        "_debug",
        "_idle_deadline",
        "_idle_expired",
        "_info",
        "_path_io",
        "_task",
        "_user_counted",
        "_waiting",
        "active",
        "active_info",
        "active_name",
        "client_host",
        "client_port",
        "closing",
        "connection",
        "encoding",
        "epsv_all",
        "framing",
        "lines",
        "local_host",
        "local_port",
        "login_failures",
        "loop",
        "mlst_facts",
        "pbsz",
        "pending_user",
        "prot",
        "reader",
        "restart_offset",
        "sent_abort_reply",
        "server",
        "started",
        "throttles",
        "tls_control",
        "transfer_type",
        "writer",
    )

    def __init__(self, server: Server, reader: ControlStream, writer: ControlStream) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        peer = writer.get_extra_info("peername") or ("", 0)
        local = writer.get_extra_info("sockname") or ("", 0)
        self.client_host = plain_host(str(peer[0]))
        self.client_port = int(peer[1])
        self.local_host = plain_host(str(local[0]))
        self.local_port = int(local[1])
        self.encoding = server.encoding
        self.framing = LineBuffer(server.max_line_length)
        self.lines = reader.use_lines(self.framing)
        self.closing = False
        self.tls_control = writer.over_ssl
        self.pbsz = self.tls_control
        self.prot = "P" if self.tls_control else "C"
        self.epsv_all = False
        self.transfer_type = "I"
        self.restart_offset = 0
        self.mlst_facts: Sequence[str] = server.mlst_facts  # OPTS MLST replaces it
        self.login_failures = 0
        self.pending_user: User | None = None
        self.active: asyncio.Task[None] | None = None
        self.active_name = ""
        self.active_info: dict[str, Any] = {}
        self.sent_abort_reply = False
        self._data: DataConnector | None = None  # made by the first command that needs it
        # Shared throttles always (their limits may change while serving); one for this
        # connection only when the template has a limit (a clone per session otherwise).
        self.throttles: dict[str, StreamThrottle] = {"server": server.throttle}
        template = server.throttle_per_connection
        if template.read.limit is not None or template.write.limit is not None:
            self.throttles["connection"] = template.clone()
        self.started = time.monotonic()
        # Read once: a logging level changed later applies to the sessions after.
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self._info = logger.isEnabledFor(logging.INFO)
        # The idle timeout (see run): a deadline the server's sweep looks at.
        self._task: asyncio.Task[Any] | None = None
        self._waiting = False
        self._idle_deadline: float | None = None
        self._idle_expired = False
        self._user_counted: User | None = None
        self._path_io: AbstractPathIO | None = None
        self._base_path: PurePath | None = None
        self.connection = Connection.of_session(
            {
                "client_host": self.client_host,
                "client_port": self.client_port,
                "server_host": self.local_host,
                "server_port": server.server_port,
                "command_connection": StreamIO(
                    reader,  # type: ignore[arg-type]
                    writer,  # type: ignore[arg-type]
                    read_timeout=server.idle_timeout,
                    write_timeout=server.socket_timeout,
                ),
                "socket_timeout": server.socket_timeout,
                "path_timeout": server.path_timeout,
                "idle_timeout": server.idle_timeout,
                "wait_future_timeout": server.wait_future_timeout,
                "block_size": server.block_size,
                "path_io_factory": server.path_io_factory,
                "loop": self.loop,
                "response": self.response,
                "extra_workers": set(),
                "restart_offset": 0,
                "transfer_type": "I",
                "session": self,
            },
            self.loop,
        )

    @property
    def data(self) -> DataConnector:
        """The data-connection state (made when a command first needs it: most sessions
        of a busy server log in, look around and leave)."""
        data = self._data
        if data is None:
            data = self._data = DataConnector(self)
        return data

    # --- state shared with aioftp-style methods through ``connection`` --------------------

    @property
    def logged(self) -> bool:
        connection = self.connection
        value = connection._values.get("logged", _UNSET)  # the common case, without a call
        if value is _UNSET:
            if not dict.__len__(connection):
                return False  # no futures either (a session that has not logged in)
            value = connection.value("logged", False)
        return bool(value)

    @property
    def user(self) -> User | None:
        connection = self.connection
        user: Any = connection._values.get("user", _UNSET)
        if user is _UNSET:
            user = connection.value("user") if dict.__len__(connection) else None
        return user  # type: ignore[no-any-return]

    @property
    def cwd(self) -> PurePosixPath:
        return PurePosixPath(self.connection.value("current_directory", "/"))

    @cwd.setter
    def cwd(self, value: PurePosixPath) -> None:
        self.connection.current_directory = value

    @property
    def rename_from(self) -> PurePosixPath | None:
        value = self.connection.value("rename_from")
        return None if value is None else PurePosixPath(value)

    @rename_from.setter
    def rename_from(self, value: PurePosixPath | None) -> None:
        if value is None:
            self.connection.forget("rename_from")
        else:
            self.connection.rename_from = value

    @property
    def path_io(self) -> AbstractPathIO:
        """The storage of the logged-in user, rooted at its base path."""
        if self._path_io is None:
            user = self.user
            if user is None:
                raise CommandError("530", "not logged in")
            self._base_path, self._path_io = self.server.make_path_io(user, self.connection)
            self.connection.path_io = self._path_io
        return self._path_io

    @property
    def base_path(self) -> PurePath:
        self.path_io  # noqa: B018 - makes the base path
        assert self._base_path is not None
        return self._base_path

    # --- replies ------------------------------------------------------------------------

    def reply(self, code: str, lines: str | Iterable[str] = "") -> Awaitable[None]:
        """Send a reply; await the result to wait (bounded by ``socket_timeout``) until
        it is on its way. Mostly there is nothing to wait for: no coroutine then."""
        self.response(code, lines)
        if self.writer.flowing:
            return _DONE
        return self._drain()

    async def _drain(self) -> None:
        async with asyncio.timeout(self.server.socket_timeout):
            await self.writer.drain()

    def response(self, code: str, lines: str | Iterable[str] = "", list: bool = False) -> None:
        """Queue a reply without waiting (aioftp's ``connection.response``)."""
        del list  # aioftp's flag for multi-line replies; a sequence of lines does that
        data: bytes | None = None
        if type(lines) is str:
            key = (code, lines, self.encoding)
            data = _ONE_LINE_REPLIES.get(key)
            if data is None and not _SPECIAL_IN_REPLY.search(lines):
                # the common one-line reply, kept encoded: most replies repeat
                data = f"{code} {lines}\r\n".encode(self.encoding, "replace")
                if len(_ONE_LINE_REPLIES) >= _ONE_LINE_REPLIES_KEPT:
                    _ONE_LINE_REPLIES.clear()
                _ONE_LINE_REPLIES[key] = data
        if data is None:
            if not isinstance(lines, str):
                lines = [str(line) for line in lines]
            data = format_reply(str(code), lines).encode(self.encoding, "replace")
        if self._debug:
            logger.debug(
                "%s:%s <- %s",
                self.client_host,
                self.client_port,
                data.decode(self.encoding, "replace").rstrip(),
            )
        writer = self.writer
        if not writer.lost:  # dropped once the connection is lost
            writer.transport.write(data)

    # --- paths and permissions ------------------------------------------------------------

    def resolve(self, argument: str | PurePosixPath) -> PurePosixPath:
        """The virtual path an argument names (current directory when empty)."""
        try:
            return normalise(
                self.cwd,
                argument or ".",
                refuse_backslash=backslash_separates(self.path_io.path_class),
            )
        except BadPath as exc:
            raise CommandError("553", f"file name not allowed: {exc}") from None

    def real(self, virtual: PurePosixPath) -> PurePath:
        """The backend path of *virtual*."""
        return real_path(self.base_path, virtual)

    def permitted(self, virtual: PurePosixPath, need: str) -> bool:
        user = self.user
        if user is None:
            return False
        permission = user.permission_for(virtual)
        return bool(permission.readable if need == "read" else permission.writable)

    def require(self, virtual: PurePosixPath, need: str) -> None:
        if not self.permitted(virtual, need):
            raise CommandError("550", "permission denied")

    # --- TLS and throttles --------------------------------------------------------------

    def data_tls_context(self) -> ssl.SSLContext | None:
        if self.prot != "P":
            return None
        return self.server.tls_context

    def limited(self, direction: str) -> list[Throttle]:
        """The throttles with a limit for *direction* (``read``: uploads, ``write``)."""
        found = []
        for pair in self.throttles.values():
            throttle: Throttle = getattr(pair, direction)
            if throttle.limit is not None:
                found.append(throttle)
        return found

    # --- login bookkeeping ------------------------------------------------------------------

    async def logout(self) -> None:
        """Forget the current user (USER again, or the session ends)."""
        listening = self.server.plugin_host.listening
        if listening:
            plugins.logged_out(self)
        user = self.user
        if self._user_counted is not None:
            self.server.user_left(self._user_counted)
            self._user_counted = None
        manager = self.server.user_manager
        if user is not None and type(manager).notify_logout is not _IGNORED_LOGOUT:
            try:
                await within(manager.timeout, manager.notify_logout(user))
            except Exception:
                logger.exception("user manager failed on logout")
        self.connection.forget("user")
        self.connection.forget("logged")
        self.connection.forget("path_io")
        self._path_io = None
        self._base_path = None
        self.throttles.pop("user", None)
        self.throttles.pop("user_connection", None)
        self.pending_user = None

    def identify(self, user: User) -> None:
        self.connection.user = user
        self.pending_user = user

    async def complete_login(self, user: User) -> None:
        """Log *user* in: check its connection limit (421 and close past it) and make its
        storage; only then is the session logged in."""
        if not self.server.user_joined(user):
            await self.reply("421", f"too many connections for {user.login or 'anonymous'}")
            raise CloseSession
        connection = self.connection
        if connection._values.get("user") is not user:
            connection.user = user  # the storage may look at it (USER set it already)
        try:
            self._base_path, self._path_io = self.server.make_path_io(user, connection)
        except BaseException:
            self.server.user_left(user)
            connection.forget("user")
            raise
        self._user_counted = user
        connection.path_io = self._path_io
        connection.logged = True
        connection.current_directory = user.home_path
        self.pending_user = None
        self.throttles["user"] = self.server.user_throttle(user)
        if (
            user.read_speed_limit_per_connection is not None
            or user.write_speed_limit_per_connection is not None
        ):
            self.throttles["user_connection"] = StreamThrottle.from_limits(
                user.read_speed_limit_per_connection, user.write_speed_limit_per_connection
            )
        if self._info:
            logger.info(
                "%s:%s logged in as %s",
                self.client_host,
                self.client_port,
                user.login or "anonymous",
            )
        if self.server.plugin_host.listening:
            plugins.logged_in(self)

    # --- the command loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the connection until QUIT, EOF, idle timeout or server close."""
        set_socket_options(self.writer)
        if self._task is None:
            self._task = asyncio.current_task()
        if self._info:
            logger.info("session opened from %s:%s", self.client_host, self.client_port)
        try:
            refusal = self.server.admit(self)
            if refusal:
                await self.reply("421", refusal)
                return
            if self.server.plugin_host.listening:
                plugins.session_opened(self)
            await self.reply("220", self.server.welcome_message)
            # The wait for the next line is written out here, not in a coroutine of its
            # own: one coroutine less per command.
            #
            # The idle time runs until a whole command line has arrived, not per read, so
            # a client dribbling a byte now and then can not hold the session open. It
            # does not run while a transfer does. No timer per session or command: the
            # session sets a deadline and the server's one periodic sweep
            # (Server.sweep_idle_sessions) cancels the waiting read of a session past
            # it, which becomes TimeoutError here.
            stream = self.reader
            lines = self.lines
            while not self.closing:
                if not lines:
                    self._idle_deadline = None
                    active = self.active
                    if active is None or active.done():  # no transfer runs: idle time does
                        self._start_idle_time()
                    self._waiting = True
                    try:
                        while not lines:
                            waiter = stream.line_waiter()
                            if waiter is None:
                                break  # the input ended
                            await waiter
                    except asyncio.CancelledError:
                        self._raise_if_idle()
                        raise
                    finally:
                        self._waiting = False
                    if not lines:
                        break
                await self._handle(stream.pop_line())
        except CloseSession:
            pass
        except TimeoutError:
            await self._try_reply("421", "idle timeout, closing control connection")
        except (ConnectionError, ssl.SSLError, InvalidCommand, OSError) as exc:
            if isinstance(exc, InvalidCommand):
                await self._try_reply("500", f"{exc}; closing control connection")
            else:
                logger.debug(
                    "control connection from %s:%s failed: %s",
                    self.client_host,
                    self.client_port,
                    exc,
                )
        except asyncio.CancelledError:
            # The server is closing. This is the top of the session's task: it ends
            # normally, so nothing logs the cancellation.
            await self._try_reply("421", "server shutting down")
        finally:
            await self._cleanup()
            self.server.session_done(self)

    async def _try_reply(self, code: str, text: str) -> None:
        try:
            async with asyncio.timeout(1):
                await self.reply(code, text)
        except Exception:
            pass

    def _raise_if_idle(self) -> None:
        """In the wait for a command, cancelled: TimeoutError if the idle sweep did it."""
        task = self._task
        if self._idle_expired and task is not None:
            self._idle_expired = False
            if task.uncancel() == 0:
                raise TimeoutError("idle timeout") from None

    def check_idle(self, now: float) -> None:
        """End the wait for a command if the idle deadline passed (the server's sweep)."""
        deadline = self._idle_deadline
        if not self._waiting or deadline is None or deadline > now or self.closing:
            return
        task = self._task
        if task is not None and not task.done() and not self._idle_expired:
            self._idle_expired = True
            task.cancel()

    @property
    def transfer_running(self) -> bool:
        return self.active is not None and not self.active.done()

    def _transfer_done(self, task: asyncio.Task[None]) -> None:
        if self.active is task:
            self.active = None
        if self._waiting and self._idle_deadline is None:
            # The wait began while the transfer ran: the idle time starts now.
            self._start_idle_time()

    def _start_idle_time(self) -> None:
        """The idle time runs from now (none without ``idle_timeout``)."""
        idle = self.server.idle_timeout
        if idle is not None:
            self._idle_deadline = self.loop.time() + idle
            self.server.watch_idle()

    async def _handle(self, line: bytes) -> None:
        try:
            name, argument = parse_command(line, self.encoding)
        except InvalidCommand as exc:
            await self.reply("500", f"syntax error: {exc}")
            return
        if self._debug:
            shown = "****" if name == "PASS" else argument
            logger.debug(
                "%s:%s -> %s", self.client_host, self.client_port, f"{name} {shown}".rstrip()
            )
        if not name:
            await self.reply("500", "empty command")
            return
        server = self.server
        timing = server.plugin_host.timing
        started = time.monotonic() if timing else 0.0
        method = server.legacy_command(name) if server.has_legacy_commands else None
        entry = None if method is not None else server.commands.get(name)
        active = self.active
        if active is not None and not active.done() and not (entry and entry[0].concurrent):
            await asyncio.wait({active})
        keeps_restart = False
        if entry is not None:
            spec, handler = entry
            keeps_restart = spec.keeps_restart
            refusal = self._refusal(spec, argument)
            if refusal is not None:
                await self.reply(*refusal)
            elif spec.transfer:
                self._start_transfer(spec.name, self.guard(handler(self, argument)))
            else:
                try:
                    await handler(self, argument)
                except Exception as exc:
                    if not await self._answer_failure(exc):
                        raise
        elif method is not None:
            if server.require_tls and not self.tls_control:
                await self.reply("530", "TLS required: use AUTH TLS first")
            else:
                self._start_transfer(name, self._legacy(method, argument))
        elif name in NOT_IMPLEMENTED:
            await self.reply("502", f"{name} not implemented")
        else:
            await self.reply("500", f"unknown command {name[:20]!r}")
        if not keeps_restart:
            self.restart_offset = 0
        if name != "RNFR" and (
            "rename_from" in self.connection._values
            or dict.__contains__(self.connection, "rename_from")
        ):
            self.rename_from = None
        if timing:
            plugins.command_done(self, name, started)

    def _refusal(self, spec: CommandSpec, argument: str) -> tuple[str, str] | None:
        """Why the table refuses this command now (code, text), or None."""
        if self.server.require_tls and not self.tls_control and not spec.before_auth:
            return "530", "TLS required: use AUTH TLS first"
        if spec.login and not self.logged:
            return "530", "not logged in"
        if spec.argument == "required" and not argument.strip():
            return "501", f"syntax: {spec.name} {spec.syntax}".rstrip()
        if spec.argument == "forbidden" and argument.strip():
            return "501", f"{spec.name} takes no argument"
        if spec.permission is not None:
            try:
                self.require(self.resolve(spec.path_of(argument)), spec.permission)
            except CommandError as exc:
                return exc.code, exc.text
        return None

    def _start_transfer(self, name: str, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        self.sent_abort_reply = False
        self.connection.abort = False
        self.active_name = name
        self.active_info = {}
        start_task(run(), self._transfer_created)

    def _transfer_created(self, task: asyncio.Task[None]) -> None:
        self.active = task
        task.add_done_callback(self._transfer_done)

    async def guard(self, work: Awaitable[None]) -> None:
        """Run a handler; turn its failures into replies. The session always goes on."""
        try:
            await work
        except Exception as exc:
            if not await self._answer_failure(exc):
                raise

    async def _answer_failure(self, exc: Exception) -> bool:
        """Answer what a handler raised; False for what must go on up (CloseSession, a
        lost connection), which the caller raises again (a raise here would tie the
        exception and this frame in a reference cycle)."""
        if isinstance(exc, CommandError):
            await self.reply(exc.code, exc.text)
        elif isinstance(exc, PathIOError):
            code, text = reply_for_path_error(exc)
            logger.debug("storage error: %s", exc)
            await self.reply(code, text)
        elif isinstance(exc, CloseSession):
            return False
        elif isinstance(exc, (ConnectionError, ssl.SSLError)):
            if self.writer.is_closing():
                return False
            logger.debug("connection error in handler: %s", exc)
            await self.reply("426", "connection closed; transfer aborted")
        else:
            logger.error(
                "command failed on session %s:%s",
                self.client_host,
                self.client_port,
                exc_info=exc,
            )
            await self.reply("451", "internal error; command not done")
        return True

    async def _legacy(self, method: Callable[..., Awaitable[Any]], argument: str) -> None:
        """Run an aioftp-style ``async def name(self, connection, rest)`` method."""
        try:
            result = await method(self.connection, argument)
        except PathIOError as exc:
            self.response(*reply_for_path_error(exc))
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("command method %s failed", getattr(method, "__name__", method))
            self.response("451", "internal error; command not done")
            return
        if isinstance(result, tuple):
            ok, *reply = result
            if reply:
                code, *info = reply
                self.response(str(code), [str(i) for i in info] or "")
            result = ok
        async with asyncio.timeout(self.server.socket_timeout):
            await self.writer.drain()
        if result is False:
            self.closing = True
            self.writer.close()

    async def _cleanup(self) -> None:
        self.closing = True
        task = self.active
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=5)
        writer = self.writer
        # A clear connection with nothing left to send closes at once, before the
        # bookkeeping below: the client sees the end of the session without waiting.
        prompt = not self.tls_control and not writer.is_closing() and not writer.buffered
        if prompt:
            writer.close()
        if self._data is not None:
            self._data.reset()
        user = self.user if self.logged else None
        login = "-" if user is None else (user.login or "anonymous")
        try:
            await self.logout()
        except Exception:
            logger.exception("logout failed")
        self.server.session_ended(self)
        if self.server.plugin_host.listening:
            plugins.session_closed(self, user)
        if not prompt:
            if not writer.is_closing():
                writer.close()
            try:
                async with asyncio.timeout(2):
                    await writer.wait_closed()
            except (Exception, asyncio.CancelledError):
                # Replies the client never read keep a closing transport open: drop it.
                writer.abort()
        if self._info:
            logger.info(
                "session closed from %s:%s user=%s seconds=%.1f",
                self.client_host,
                self.client_port,
                login,
                time.monotonic() - self.started,
            )

    def release(self) -> None:
        """Drop, once the session ended, the references that tie its objects in cycles
        (the session in its own ``connection``, its data connector, its task): reference
        counting then frees them at once instead of the cycle collector, later."""
        self.connection.clear()
        if self._data is not None:
            self._data.session = None  # type: ignore[assignment]
        self._task = None
        self.active = None

    # --- explicit TLS -------------------------------------------------------------------

    def hold_reading(self) -> None:
        """Read nothing more from the client until :meth:`start_tls` (called before the
        234 reply, so the client's first TLS bytes stay in the kernel for the handshake)."""
        self.reader.hold_reading()

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade the control connection (after the 234 reply went out)."""
        if self.lines or self.framing.pending or not self.reader.empty:
            # Commands sent in clear after AUTH would be taken as protected: refuse.
            raise CloseSession
        timeout = self.server.socket_timeout or 60
        try:
            async with asyncio.timeout(timeout):
                await self.writer.flush()
                await self.writer.start_tls(context, ssl_handshake_timeout=timeout)
        except (TimeoutError, ssl.SSLError, OSError) as exc:
            # Half a handshake leaves nothing usable: end the session, drop the connection.
            logger.debug(
                "TLS handshake with %s:%s failed: %r", self.client_host, self.client_port, exc
            )
            self.writer.abort()
            raise CloseSession from None
        self.tls_control = True


#: Transports that set TCP_NODELAY themselves (asyncio's selector loop, uvloop).
_NODELAY_TRANSPORTS = (
    "asyncio.selector_events._SelectorSocketTransport",
    "uvloop.loop.TCPTransport",
)


def set_socket_options(writer: ControlStream) -> None:
    """TCP_NODELAY for prompt replies; SO_OOBINLINE so an urgent ``ABOR`` stays whole;
    small reads (a RawTransport does all this itself)."""
    transport = writer.transport
    if isinstance(transport, RawTransport):
        return  # set already
    if isinstance(getattr(transport, "max_size", None), int):
        transport.max_size = _CONTROL_RECV_SIZE
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    kind = type(transport)
    options = [(socket.SOL_SOCKET, socket.SO_OOBINLINE)]
    if f"{kind.__module__}.{kind.__qualname__}" not in _NODELAY_TRANSPORTS:
        options.append((socket.IPPROTO_TCP, socket.TCP_NODELAY))
    for level, option in options:
        try:
            sock.setsockopt(level, option, 1)
        except (OSError, AttributeError, NotImplementedError):  # pragma: no cover
            pass  # not TCP, or a loop's pseudo-socket without the option
