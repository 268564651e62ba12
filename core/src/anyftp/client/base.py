"""BaseClient: the control connection, replies, and opening data connections.

Everything here is about keeping one FTP conversation in step:

* :meth:`BaseClient.command` sends a line and reads replies, passing over *wait* codes and
  checking the final one against *expected* codes; a malformed reply raises
  :class:`~anyftp.errors.StatusCodeError`, a closed connection ``ConnectionResetError``,
  and every read or write is bounded by ``socket_timeout``.
* A lock serialises conversations, so an ``abort()`` from another task cannot interleave
  with a reply being read.
* After a transfer that ended without its final reply being read (an exception inside
  ``async with stream``, or ``abort(wait=False)``), the next command first re-synchronises:
  it sends NOOP and skips replies up to NOOP's 200, whatever the server sent before.
* Data connections: passive (EPSV, then PASV; a PASV address is replaced by the control
  host unless trusted and routable) or active (EPRT, then PORT, with a one-shot listener
  that accepts only the server's address). On a protected connection (``PROT P``) the data
  socket is wrapped in TLS resuming the control session; the handshake runs while the
  transfer command's first reply is awaited, because servers differ in whether they
  complete it before or after sending ``150``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import socket
import ssl as ssl_module
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from .. import errors
from ..common import (
    DEFAULT_PORT,
    END_OF_LINE,
    StreamThrottle,
    ThrottleStreamIO,
    wrap_into_codes,
    wrap_with_container,
)
from ..pathio import AbstractPathIO
from ..protocol import addresses
from ..protocol.replies import Code, unquote_path
from . import socks
from .dataconn import DATA_BUFFER_LIMIT, PendingData, connect_socket
from .parsing import ListLineParsing, ParseListLineCustom
from .streams import DataConnectionThrottleStreamIO
from .tls import default_context

__all__ = ("BaseClient", "ParseListLineCustom", "DATA_BUFFER_LIMIT", "DEFAULT_CONNECT_TIMEOUT")

logger = logging.getLogger("anyftp.client")

#: Longest reply line accepted on the control connection.
CONTROL_LINE_LIMIT = 64 * 1024
#: Bound for opening or accepting a data connection when no timeout is configured.
DEFAULT_CONNECT_TIMEOUT = 60.0


_NOT_IMPLEMENTED = ("500", "502")


class _MalformedReply(ValueError):
    def __init__(self, line: str) -> None:
        super().__init__(f"malformed reply line {line!r}")
        self.line = line


class BaseClient(ListLineParsing):
    """The FTP conversation: connection, commands and replies, data connections.

    Options (all keyword-only, aioftp's names):

    ``socket_timeout``      bound (seconds) for every read/write on any connection
    ``connection_timeout``  bound for opening connections (control and data)
    ``read_speed_limit``, ``write_speed_limit``  bytes per second (``client.throttle``)
    ``path_timeout``        bound for local path-IO calls
    ``path_io_factory``     local storage backend: a name (``"local"``) or a class
    ``encoding``            of the control connection and of listings
    ``ssl``                 an ``ssl.SSLContext`` (or ``True``) for implicit FTPS
    ``parse_list_line_custom``  ``f(line: bytes) -> (PurePosixPath, info)`` tried for LIST
                            lines (first, or last with ``parse_list_line_custom_first``)
    ``passive_commands``    passive commands to try in order (``"epsv"``, ``"pasv"``)
    ``trust_server_pasv_ipv4_address``  use the address of a PASV reply (if routable)
    ``active``              use active mode (EPRT, then PORT) instead of passive
    ``socks_host``, ``socks_port``, ``socks_version`` (4 or 5), ``socks_username``,
    ``socks_password``      connect through a SOCKS proxy (``username``/``password``
                            are accepted as well, as siosocks names them)
    """

    def __init__(
        self,
        *,
        socket_timeout: float | None = None,
        connection_timeout: float | None = None,
        read_speed_limit: int | None = None,
        write_speed_limit: int | None = None,
        path_timeout: float | None = None,
        path_io_factory: Any = "local",
        encoding: str = "utf-8",
        ssl: ssl_module.SSLContext | bool | None = None,
        parse_list_line_custom: ParseListLineCustom | None = None,
        parse_list_line_custom_first: bool = True,
        passive_commands: Sequence[str] = ("epsv", "pasv"),
        trust_server_pasv_ipv4_address: bool = False,
        active: bool = False,
        **socks_options: Any,
    ) -> None:
        self.socket_timeout = socket_timeout
        self.connection_timeout = connection_timeout
        self.throttle = StreamThrottle.from_limits(read_speed_limit, write_speed_limit)
        self.path_timeout = path_timeout
        self.path_io_factory = path_io_factory
        self._path_io: AbstractPathIO | None = None
        self.encoding = encoding
        self.ssl = default_context() if ssl is True else (ssl or None)
        self.parse_list_line_custom = parse_list_line_custom
        self.parse_list_line_custom_first = parse_list_line_custom_first
        self._passive_commands = tuple(c.lower() for c in passive_commands)
        for name in self._passive_commands:
            if name not in ("epsv", "pasv"):
                raise ValueError(f"unknown passive command {name!r} (use 'epsv' or 'pasv')")
        self.trust_server_pasv_ipv4_address = trust_server_pasv_ipv4_address
        self.active = active
        self._socks = self._socks_settings(socks_options)
        self.server_host: str | None = None
        self.server_port: int | None = None
        self._stream: ThrottleStreamIO | None = None
        self._lock: asyncio.Lock | None = None
        self._reset_session_state()

    @staticmethod
    def _socks_settings(options: dict[str, Any]) -> dict[str, Any] | None:
        known = {
            "socks_host",
            "socks_port",
            "socks_version",
            "socks_username",
            "socks_password",
            "username",
            "password",
        }
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unexpected keyword arguments: {sorted(unknown)}")
        if options.get("socks_host") is None:
            return None
        return {
            "socks_host": options["socks_host"],
            "socks_port": int(options.get("socks_port") or 1080),
            "socks_version": int(options.get("socks_version") or 5),
            "username": options.get("socks_username", options.get("username")),
            "password": options.get("socks_password", options.get("password")),
        }

    def _reset_session_state(self) -> None:
        self._transfer_type: str | None = None
        self._tls_context: ssl_module.SSLContext | None = None
        self._data_protected = False
        self._protection_pending = False
        self._epsv_ok = True
        self._pasv_ok = True
        self._eprt_ok = True
        self._mlsd_ok = True
        self._mlst_ok = True
        self._needs_sync = False
        self._pending_finals = 0
        self._data_stream: DataConnectionThrottleStreamIO | None = None
        self._peer_host: str | None = None
        self._local_host: str | None = None

    # --- local storage ------------------------------------------------------------------

    @property
    def path_io(self) -> AbstractPathIO:
        """The local path-IO object (the ``local`` backend unless told otherwise)."""
        if self._path_io is None:
            from ..registry import backend_class_of, resolve_backend

            factory = resolve_backend(self.path_io_factory)
            cls = backend_class_of(factory)
            kwargs: dict[str, Any] = {"timeout": self.path_timeout}
            given = factory.keywords if isinstance(factory, functools.partial) else {}
            if "state" not in given:
                state = cls.create_state()
                if state is not None:
                    kwargs["state"] = state
            if "timeout" in given:
                del kwargs["timeout"]
            self._path_io = factory(**kwargs)
        return self._path_io

    @path_io.setter
    def path_io(self, value: AbstractPathIO) -> None:
        self._path_io = value

    # --- the control connection ---------------------------------------------------------

    @property
    def stream(self) -> ThrottleStreamIO:
        """The control connection (raises if not connected)."""
        if self._stream is None:
            raise ConnectionResetError("not connected")
        return self._stream

    def _connect_timeout(self) -> float:
        return self.connection_timeout or self.socket_timeout or DEFAULT_CONNECT_TIMEOUT

    async def _open_connection(
        self,
        host: str,
        port: int,
        *,
        limit: int = CONTROL_LINE_LIMIT,
        ssl: ssl_module.SSLContext | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP (or TLS, with *ssl*) connection, through SOCKS when configured."""

        async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            if self._socks is None:
                return await asyncio.open_connection(
                    host,
                    port,
                    ssl=ssl,
                    limit=limit,
                    server_hostname=host if ssl is not None else None,
                )
            reader, writer = await socks.open_connection(host, port, limit=limit, **self._socks)
            if ssl is not None:
                try:
                    await writer.start_tls(ssl, server_hostname=host)
                except BaseException:
                    writer.close()
                    raise
            return reader, writer

        if self.connection_timeout is None:
            return await connect()
        async with asyncio.timeout(self.connection_timeout):
            return await connect()

    async def connect(self, host: str, port: int = DEFAULT_PORT) -> None:
        """Open the control connection (the greeting is read by :meth:`Client.connect`)."""
        if self._stream is not None:
            self.close()
        self._reset_session_state()
        self.server_host = host
        self.server_port = port
        self._lock = asyncio.Lock()
        reader, writer = await self._open_connection(host, port, ssl=self.ssl)
        self._stream = ThrottleStreamIO(
            reader, writer, throttles={"_": self.throttle}, timeout=self.socket_timeout
        )
        if self._socks is None:
            peer = writer.get_extra_info("peername")
            self._peer_host = peer[0] if peer else host
        else:
            self._peer_host = host
        local = writer.get_extra_info("sockname")
        self._local_host = local[0] if local else None
        if self.ssl is not None:
            self._tls_context = self.ssl

    def close(self) -> None:
        """Close the control connection (and a data connection in progress) at once."""
        if self._data_stream is not None:
            self._data_stream.close()
            self._data_stream = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _tls_hostname(self) -> str | None:
        return self.server_host

    # --- replies ------------------------------------------------------------------------

    async def parse_line(self) -> tuple[Code, str]:
        """One reply line as ``(code, rest)``; ``rest`` keeps the separator (``" "``/``"-"``).

        Raises ConnectionResetError when the server has closed the connection.
        """
        try:
            line = await self.stream.readline()
        except ValueError as exc:  # line longer than the reader's limit
            self.close()
            raise _MalformedReply(f"<reply line over {CONTROL_LINE_LIMIT} bytes>") from exc
        if not line:
            self.close()
            raise ConnectionResetError("the server closed the control connection")
        if not line.endswith(b"\n"):
            self.close()
            raise ConnectionResetError("the server closed the control connection mid-reply")
        text = line.decode(self.encoding, errors="surrogateescape").rstrip("\r\n")
        logger.debug("< %s", text)
        return Code(text[:3]), text[3:]

    async def parse_response(self) -> tuple[Code, list[str]]:
        """A whole (possibly multi-line) reply: ``(code, lines)`` as aioftp gives them."""
        code, rest = await self.parse_line()
        if not code.isdigit() or len(code) != 3 or (rest and rest[0] not in " -"):
            self.close()
            raise _MalformedReply(code + rest)
        info = [rest]
        if rest.startswith("-"):
            while True:
                line_code, line_rest = await self.parse_line()
                if line_code == code and (not line_rest or line_rest[0] == " "):
                    info.append(line_rest)
                    break
                info.append(line_code + line_rest)
        return code, info

    def check_codes(
        self, expected_codes: tuple[Code, ...], received_code: Code, info: list[str]
    ) -> None:
        """Raise StatusCodeError unless *received_code* matches one of *expected_codes*."""
        if not any(received_code.matches(mask) for mask in expected_codes):
            raise errors.StatusCodeError(expected_codes, received_code, info)

    def _lock_for_commands(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def command(
        self,
        command: str | None = None,
        expected_codes: Any = (),
        wait_codes: Any = (),
        censor_after: int | None = None,
    ) -> tuple[Code, list[str]] | None:
        """Send *command* (if given), then read replies while they match *wait_codes* and
        check the last against *expected_codes*. With no codes, only send.

        Returns ``(code, info)`` when a reply was read.
        """
        async with self._lock_for_commands():
            return await self._command(command, expected_codes, wait_codes, censor_after)

    async def _command(
        self,
        command: str | None,
        expected_codes: Any = (),
        wait_codes: Any = (),
        censor_after: int | None = None,
    ) -> tuple[Code, list[str]] | None:
        expected = wrap_into_codes(wrap_with_container(expected_codes)) if expected_codes else ()
        waiting = wrap_into_codes(wrap_with_container(wait_codes)) if wait_codes else ()
        if command is not None:
            await self._catch_up()
        if command:
            await self._send(command, censor_after)
        if not (expected or waiting):
            return None
        try:
            code, info = await self.parse_response()
            while any(code.matches(mask) for mask in waiting):
                code, info = await self.parse_response()
        except _MalformedReply as exc:
            raise errors.StatusCodeError(
                expected or waiting, Code(exc.line[:3]), [str(exc)]
            ) from None
        if expected:
            self.check_codes(expected, code, info)
        return code, info

    async def _send(self, command: str, censor_after: int | None = None) -> None:
        if "\r" in command or "\n" in command or "\x00" in command:
            raise errors.InvalidCommand(f"CR, LF or NUL inside command {command!r}")
        if censor_after:
            logger.debug("> %s%s", command[:censor_after], "*" * len(command[censor_after:]))
        else:
            logger.debug("> %s", command)
        data = (command + END_OF_LINE).encode(self.encoding, errors="surrogateescape")
        await self.stream.write(data)

    async def _catch_up(self) -> None:
        """Read what an unfinished transfer or an ABOR left pending, before a new command."""
        if self._needs_sync:
            await self._resync()
        while self._pending_finals:
            # A transfer left without reading its final reply (2xx, or 4xx when it was
            # cut): exactly one reply is owed, whatever its code.
            self._pending_finals -= 1
            await self.parse_response()

    async def _resync(self) -> None:
        """Skip stale replies (of a transfer and its abort) up to the answer to NOOP.

        Only used after ABOR: the server answers the transfer and ABOR before it reads
        NOOP, so everything before NOOP's 200 is stale.
        """
        self._needs_sync = False
        self._pending_finals = 0
        if self._data_stream is not None:
            self._data_stream.aborted = True  # its reply is among those skipped here
            self._data_stream.close()
        await self._send("NOOP")
        for _ in range(8):
            code, _info = await self.parse_response()
            if code == "200":
                return
        raise errors.StatusCodeError(Code("200"), code, ["control connection out of step"])

    # --- TLS ----------------------------------------------------------------------------

    async def _start_control_tls(self, context: ssl_module.SSLContext) -> None:
        writer = self.stream.writer
        async with asyncio.timeout(self._connect_timeout()):
            await writer.start_tls(context, server_hostname=self._tls_hostname())
        self._tls_context = context

    async def _protect_data(self) -> None:
        """``PBSZ 0`` + ``PROT P``; postponed to after login if the server wants that."""
        for line in ("PBSZ 0", "PROT P"):
            result = await self.command(line, ("2xx", "5xx"))
            assert result is not None
            code, info = result
            if code in ("503", "530"):
                self._protection_pending = True
                return
            self.check_codes((Code("2xx"),), code, info)
        self._protection_pending = False
        self._data_protected = True

    # --- data connections ---------------------------------------------------------------

    async def _set_type(self, conn_type: str) -> None:
        if self._transfer_type != conn_type:
            await self.command("TYPE " + conn_type, "200")
            self._transfer_type = conn_type

    @staticmethod
    def parse_epsv_response(s: str) -> tuple[None, int]:
        """``(None, port)`` from a 229 reply text."""
        return None, addresses.parse_epsv(s)

    @staticmethod
    def parse_pasv_response(s: str) -> tuple[str, int]:
        """``(host, port)`` from a 227 reply text."""
        return addresses.parse_pasv(s)

    @staticmethod
    def parse_directory_response(s: str) -> PurePosixPath:
        """The path in a 257 reply."""
        return PurePosixPath(unquote_path(s))

    def _passive_host(self, host: str | None) -> str:
        control = self._peer_host or self.server_host or ""
        if host is None or not self.trust_server_pasv_ipv4_address:
            return control
        if addresses.is_unroutable(host):
            return control
        with contextlib.suppress(ValueError):
            if (
                ipaddress.ip_address(host).is_private
                and not ipaddress.ip_address(control).is_private
            ):
                return control
        return host

    async def _reply_text(self, line: str, expected: str) -> str:
        result = await self.command(line, expected)
        assert result is not None
        return " ".join(result[1])

    async def _passive_address(self) -> tuple[str, int]:
        last_error: errors.StatusCodeError | None = None
        for name in self._passive_commands:
            if (name == "epsv" and not self._epsv_ok) or (name == "pasv" and not self._pasv_ok):
                continue
            try:
                if name == "epsv":
                    _, port = self.parse_epsv_response(await self._reply_text("EPSV", "229"))
                    return self._peer_host or self.server_host or "", port
                host, port = self.parse_pasv_response(await self._reply_text("PASV", "227"))
                return self._passive_host(host), port
            except errors.StatusCodeError as exc:
                if not exc.received_codes[-1].matches("5xx"):
                    raise
                if name == "epsv":
                    self._epsv_ok = False
                else:
                    self._pasv_ok = False
                last_error = exc
        if last_error is not None:
            raise last_error
        raise ValueError("no passive command to try")

    async def _prepare_passive(self) -> PendingData:
        host, port = await self._passive_address()
        pending = PendingData(self)
        async with asyncio.timeout(self._connect_timeout()):
            if self._socks is not None:
                pending.reader, pending.writer = await self._open_connection(
                    host, port, limit=DATA_BUFFER_LIMIT
                )
            else:
                pending.sock = await connect_socket(host, port)
        return pending

    async def _prepare_active(self) -> PendingData:
        if self._socks is not None:
            raise ValueError("active mode is not available through a SOCKS proxy")
        pending = PendingData(self)
        local = self._local_host or "127.0.0.1"
        family = socket.AF_INET6 if ":" in local else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.bind((local, 0))
            listener.listen(1)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        pending.listener = listener
        pending.accept_from = self._peer_host
        port = listener.getsockname()[1]
        try:
            if self._eprt_ok or family == socket.AF_INET6:
                try:
                    await self.command("EPRT " + addresses.format_eprt(local, port), "2xx")
                    return pending
                except errors.StatusCodeError as exc:
                    if family == socket.AF_INET6 or not exc.received_codes[-1].matches("5xx"):
                        raise
                    self._eprt_ok = False
            await self.command("PORT " + addresses.format_port(local, port), "2xx")
        except BaseException:
            pending.close()
            raise
        return pending

    async def get_data_connection(self, conn_type: str = "I") -> PendingData:
        """Set TYPE and prepare a data connection (passive or active)."""
        await self._set_type(conn_type)
        if self.active:
            return await self._prepare_active()
        return await self._prepare_passive()

    async def get_passive_connection(
        self,
        conn_type: str = "I",
        commands: Sequence[str] | None = None,
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """aioftp's helper: TYPE, then a passive connection (plain TCP, not yet TLS)."""
        await self._set_type(conn_type)
        saved = self._passive_commands
        if commands:
            self._passive_commands = tuple(c.lower() for c in commands)
        try:
            pending = await self._prepare_passive()
        finally:
            self._passive_commands = saved
        if pending.sock is not None:
            return await asyncio.open_connection(sock=pending.sock, limit=DATA_BUFFER_LIMIT)
        assert pending.reader is not None and pending.writer is not None
        return pending.reader, pending.writer

    async def _open_stream(
        self,
        command_args: tuple[Any, ...],
        command_kwargs: dict[str, Any],
        conn_type: str,
        offset: int,
    ) -> DataConnectionThrottleStreamIO:
        if self._needs_sync or self._pending_finals:
            async with self._lock_for_commands():
                await self._catch_up()
        pending = await self.get_data_connection(conn_type)
        establishing: asyncio.Task[tuple[Any, Any]] | None
        establishing = None
        accepted = False
        try:
            if offset:
                await self.command(f"REST {offset}", "350")
            # Connect (active) and shake hands (TLS) while the first reply is awaited:
            # some servers finish the handshake before their 150, some after it.
            establishing = asyncio.ensure_future(pending.establish())
            await self.command(*command_args, **command_kwargs)
            accepted = True
            async with asyncio.timeout(self._connect_timeout()):
                reader, writer = await asyncio.shield(establishing)
        except BaseException:
            if establishing is not None:
                if not establishing.done():
                    establishing.cancel()
                with contextlib.suppress(BaseException):
                    await establishing
            pending.close()
            if accepted:
                # The server took the command but the data connection failed: its final
                # reply (425/426) is still to come.
                self._pending_finals += 1
            raise
        pending.close_listener()
        stream = DataConnectionThrottleStreamIO(
            self, reader, writer, {"_": self.throttle}, timeout=self.socket_timeout
        )
        self._data_stream = stream
        return stream

    # --- aborting -----------------------------------------------------------------------

    async def abort(self, *, wait: bool = True) -> None:
        """Abort the transfer in progress (ABOR).

        The data connection is closed first, so a server blocked writing to it notices.
        With *wait*, the replies to the transfer and to ABOR (one or two, depending on the
        server and on whether the transfer had already ended) are consumed and the control
        connection is in step on return; without, that happens before the next command.
        Either way this ends with NOOP, whose 200 marks the end of the stale replies.
        """
        stream = self._data_stream
        if stream is not None:
            stream.aborted = True
            stream.close()
        async with self._lock_for_commands():
            await self._send("ABOR")
            self._needs_sync = True
            if wait:
                await self._resync()
