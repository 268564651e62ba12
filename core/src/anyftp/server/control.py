"""The bytes of a control connection: one object that is the asyncio protocol of the
connection and also the reader and writer its session uses.

Control connections are many, short and chatty (a login is five small reads and writes),
so what each one costs to open and close matters more than throughput. Three pieces:

- :class:`ControlStream` is an :class:`asyncio.Protocol` with the parts of
  ``StreamReader`` (``read``, ``readline``, ``readexactly``, ``at_eof``) and
  ``StreamWriter`` (``write``, ``drain``, ``close``, ``wait_closed``, ``start_tls``...)
  the server and aioftp-style command methods use. One object per connection instead of
  a StreamReader, a StreamReaderProtocol, a StreamWriter and a task to set them up.
- :class:`RawTransport` is a small non-blocking socket transport for asyncio's selector
  loop: ``send``/``recv`` straight from the loop's reader and writer callbacks. asyncio's
  own server path creates a task per accepted connection and a general-purpose transport;
  this does neither. TLS is never done here: ``AUTH TLS`` hands the socket over to
  asyncio (:meth:`ControlStream.start_tls`).
- :class:`RawListener` accepts connections for :class:`RawTransport`.

Other loops (uvloop, whose C transports are cheap already) and implicit TLS use the loop's
own ``create_server`` with :class:`ControlStream` as the protocol.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidCommand
from ..protocol.framing import LineBuffer
from .poller import Poller

__all__ = (
    "ControlStream",
    "RawTransport",
    "RawListener",
    "raw_listener_supported",
)

logger = logging.getLogger("anyftp.server")

#: Bytes asked of the kernel per read: command lines are short.
RECV_SIZE = 16384
#: Unread bytes the stream holds before it stops reading from the socket.
READ_LIMIT = 65536
#: Command lines (in line mode) the stream holds before it stops reading, and below which
#: it reads again: with lines of at most ``max_line_length`` bytes, a bound on memory.
LINES_HIGH = 64
LINES_LOW = 16
#: Unsent bytes above which ``drain`` waits, and below which it goes on.
WRITE_HIGH = 65536
WRITE_LOW = 16384
#: Connections taken per readiness event of a listening socket.
ACCEPT_BATCH = 64
#: Errors of accept() that mean "out of a resource": accepting pauses for a second.
_ACCEPT_PAUSE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: Keyword arguments of ``Server.start`` the raw listener understands.
RAW_LISTENER_OPTIONS = frozenset({"backlog", "reuse_address", "reuse_port", "family", "flags"})


class ControlStream(asyncio.Protocol):
    """Protocol, reader and writer of one control connection.

    *on_connect* is called with the stream when its connection is made (once: a TLS
    upgrade does not call it again).
    """

    def __init__(self, on_connect: Callable[[ControlStream], None]) -> None:
        self._on_connect = on_connect
        self.transport: Any = None  # asyncio's, uvloop's or a RawTransport
        self._loop: asyncio.AbstractEventLoop | None = None
        self._buffer = bytearray()
        self._eof = False
        self._exception: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        #: Whether the transport asked to stop writing (drain() waits then).
        self.writing_paused = False
        # Every drain() waiting for the transport to resume writing (replies of the
        # command loop and of a transfer can wait at the same time).
        # (made by the first drain() that waits: most control connections never do)
        self._drain_waiters: collections.deque[asyncio.Future[None]] | None = None
        #: Whether the connection is gone (writes are dropped, drain() raises).
        self.lost = False
        self._closed: asyncio.Future[None] | None = None
        self._upgrading = False
        self._over_ssl = False
        # Line mode (use_lines): received bytes become command lines at once.
        self._framing: LineBuffer | None = None
        self.lines: collections.deque[bytes] = collections.deque()
        self.line_error: InvalidCommand | None = None

    # --- protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._over_ssl = transport.get_extra_info("sslcontext") is not None
        if self._upgrading:
            return  # the TLS handoff of start_tls: the session goes on
        self._loop = asyncio.get_running_loop()
        self._on_connect(self)

    def data_received(self, data: bytes) -> None:
        if self._framing is not None:
            self._feed_lines(data)
            held = len(self.lines) > LINES_HIGH
        else:
            self._buffer += data
            held = len(self._buffer) > READ_LIMIT
        self._wake_reader()
        if held:
            self._pause_reading()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake_reader()
        # Keep the socket open for the replies still to go (half-close); SSL transports
        # can not do that and say so in a warning when asked.
        return not self._over_ssl

    def connection_lost(self, exc: Exception | None) -> None:
        if self._upgrading:
            return  # the clear transport gave its socket away; the TLS one is coming
        self._mark_lost(exc)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drains()

    def _wake_drains(self) -> None:
        waiters = self._drain_waiters
        while waiters:  # (None: nobody ever waited)
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _mark_lost(self, exc: BaseException | None) -> None:
        self.lost = True
        self._eof = True
        if exc is not None and self._exception is None:
            self._exception = exc
        self._wake_reader()
        self._wake_drains()  # each one raises: the connection is lost
        closed = self._closed
        if closed is not None and not closed.done():
            closed.set_result(None)

    def _wake_reader(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # --- reading lines (the session's way) ----------------------------------------------------

    def use_lines(self, framing: LineBuffer) -> collections.deque[bytes]:
        """Frame every received byte into :attr:`lines` with *framing* from now on (bytes
        already received go first); the deque is returned. ``read()`` and friends then
        see nothing: the session owns the input."""
        self._framing = framing
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._feed_lines(data)
        return self.lines

    def _feed_lines(self, data: bytes) -> None:
        """Frame *data* into :attr:`lines`; a framing error is kept for the reader."""
        if self.line_error is None:
            assert self._framing is not None
            try:
                self.lines.extend(self._framing.feed(data))
            except InvalidCommand as exc:
                self.line_error = exc

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self.lost:
            try:
                self.transport.pause_reading()
            except NotImplementedError:  # pragma: no cover - every stream transport has it
                return
            self._reading_paused = True

    def _resume_reading(self) -> None:
        """Read from the socket again if this stream paused it (not while TLS starts)."""
        if self._reading_paused and not self._upgrading:
            self._reading_paused = False
            self.transport.resume_reading()

    def pop_line(self) -> bytes:
        """The next line of :attr:`lines` (there must be one)."""
        lines = self.lines
        line = lines.popleft()
        if self._reading_paused and len(lines) < LINES_LOW:
            self._resume_reading()
        return line

    def line_waiter(self) -> asyncio.Future[None] | None:
        """A future that is done when more input came (await it, then look at
        :attr:`lines` again); None when the input ended. Raises the framing's error or
        the connection's."""
        if self.line_error is not None:
            raise self.line_error
        if self._exception is not None:
            raise self._exception
        if self._eof:
            return None
        if self._reading_paused:
            self._resume_reading()
        assert self._loop is not None
        waiter = self._waiter = self._loop.create_future()
        return waiter

    # --- reading (StreamReader's API) -------------------------------------------------------

    async def _wait_for_data(self) -> None:
        self._resume_reading()
        assert self._loop is not None
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _take(self, count: int) -> bytes:
        buffer = self._buffer
        if count < 0 or count >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:count])
            del buffer[:count]
        if len(buffer) <= READ_LIMIT:
            self._resume_reading()
        return data

    async def read(self, count: int = -1) -> bytes:
        """Up to *count* bytes (all that arrived when negative); ``b""`` at EOF."""
        if self._exception is not None:
            raise self._exception
        if count == 0:
            return b""
        while not self._buffer and not self._eof:
            await self._wait_for_data()
            if self._exception is not None and not self._buffer:
                raise self._exception
        return self._take(count)

    async def readline(self) -> bytes:
        """A line with its ``\\n`` (what is left at EOF without it)."""
        while True:
            if self._exception is not None:
                raise self._exception
            end = self._buffer.find(b"\n")
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) > READ_LIMIT:
                raise ValueError(f"line longer than {READ_LIMIT} bytes")
            if self._eof:
                return self._take(-1)
            await self._wait_for_data()

    async def readexactly(self, count: int) -> bytes:
        """Exactly *count* bytes; IncompleteReadError when EOF comes first."""
        while len(self._buffer) < count:
            if self._exception is not None:
                raise self._exception
            if self._eof:
                partial = self._take(-1)
                raise asyncio.IncompleteReadError(partial, count)
            await self._wait_for_data()
        return self._take(count)

    @property
    def over_ssl(self) -> bool:
        """Whether the connection is protected by TLS."""
        return self._over_ssl

    @property
    def empty(self) -> bool:
        """Whether no received byte waits to be read."""
        return not self._buffer

    def hold_reading(self) -> None:
        """Stop reading from the socket until :meth:`start_tls` (which takes the bytes
        that arrive after the 234 reply as the TLS handshake)."""
        self._pause_reading()

    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    def exception(self) -> BaseException | None:
        return self._exception

    # --- writing (StreamWriter's API) -------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue *data*; dropped when the connection is lost already."""
        if not self.lost:
            self.transport.write(data)

    @property
    def flowing(self) -> bool:
        """Whether a write needs no :meth:`drain` (the transport is not paused and the
        connection not lost)."""
        return not self.writing_paused and not self.lost

    def writelines(self, lines: Iterable[bytes]) -> None:
        self.transport.write(b"".join(lines))

    def can_write_eof(self) -> bool:
        return bool(self.transport.can_write_eof())

    def write_eof(self) -> None:
        self.transport.write_eof()

    async def drain(self) -> None:
        """Wait until the unsent replies fall below the low-water mark."""
        if self._exception is not None:
            raise self._exception
        if self.lost:
            raise ConnectionResetError("connection lost")
        if self.transport.is_closing():
            # Let connection_lost run first (as asyncio's own drain does).
            await asyncio.sleep(0)
            if self.lost:
                raise ConnectionResetError("connection lost")
        if not self.writing_paused:
            return
        assert self._loop is not None
        waiter = self._loop.create_future()
        waiters = self._drain_waiters
        if waiters is None:
            waiters = self._drain_waiters = collections.deque()
        waiters.append(waiter)
        try:
            await waiter
        finally:
            if not waiter.done():  # cancelled: no longer waiting
                try:
                    waiters.remove(waiter)
                except ValueError:
                    pass
        if self.lost:
            raise ConnectionResetError("connection lost")

    async def flush(self) -> None:
        """Wait until every queued byte is handed to the kernel (bound it: the caller's
        timeout)."""
        while self.transport.get_write_buffer_size() and not self.lost:
            await asyncio.sleep(0.005)
        if self.lost:
            raise ConnectionResetError("connection lost")

    def close(self) -> None:
        self.transport.close()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    async def wait_closed(self) -> None:
        if self.lost:
            return
        if self._closed is None:
            assert self._loop is not None
            self._closed = self._loop.create_future()
        await asyncio.shield(self._closed)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def abort(self) -> None:
        self.transport.abort()

    @property
    def buffered(self) -> int:
        """Bytes of replies the transport still holds."""
        return int(self.transport.get_write_buffer_size())

    async def start_tls(
        self, context: ssl.SSLContext, *, ssl_handshake_timeout: float | None = None
    ) -> None:
        """Upgrade the connection to TLS (server side); every unsent byte must be out.

        A clear :class:`RawTransport` gives its socket to asyncio, which makes a TLS
        transport around it; the loop's own transports go through ``loop.start_tls``.
        """
        loop = self._loop
        assert loop is not None
        transport = self.transport
        if self._buffer:
            # Bytes read in clear after AUTH would be lost to the handshake.
            raise ConnectionError("data before the TLS handshake")
        self._reading_paused = False
        self.writing_paused = False
        self._upgrading = True
        try:
            if isinstance(transport, RawTransport):
                sock = transport.detach()
                try:
                    await loop.connect_accepted_socket(
                        lambda: self, sock, ssl=context, ssl_handshake_timeout=ssl_handshake_timeout
                    )
                except BaseException as exc:
                    sock.close()
                    self._mark_lost(exc if isinstance(exc, Exception) else None)
                    raise
            else:
                new = await loop.start_tls(
                    transport,
                    self,
                    context,
                    server_side=True,
                    ssl_handshake_timeout=ssl_handshake_timeout,
                )
                self.transport = new
                self._over_ssl = True
        finally:
            self._upgrading = False


_NO_EXTRAS: dict[str, Any] = {}


class RawTransport(asyncio.Transport):
    """A TCP socket driven by the selector loop's reader and writer callbacks.

    Calls the protocol as asyncio's socket transport does (``connection_made`` at once,
    ``data_received`` or, for an :class:`asyncio.BufferedProtocol`, ``get_buffer`` and
    ``buffer_updated``, ``eof_received``, ``pause_writing``/``resume_writing``,
    ``connection_lost`` from a later turn of the loop), without TLS. It carries
    :class:`ControlStream` and, for clear passive data connections, the data channel.
    With a *poller* its reader and writer are watched there, not by the loop.
    *control* marks a control connection: TCP_NODELAY (replies leave at once) and
    SO_OOBINLINE (an urgent ABOR stays in the line). A data connection keeps Nagle's
    algorithm, as it had on asyncio's transport: with NODELAY, the tail of every sendfile
    burst left as a segment of its own, which woke the receiver more often and made one
    512 MiB download cost about 40 % more CPU on both sides.
    """

    max_size = RECV_SIZE

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        peername: Any = None,
        sockname: Any = None,
        poller: Poller | None = None,
        *,
        control: bool = True,
    ) -> None:
        # (BaseTransport.__init__ would give each transport an empty dict of extras that
        # nothing reads: get_extra_info below answers from the socket.)
        self._extra = _NO_EXTRAS
        self._loop = loop
        self._poller = poller
        if poller is not None:
            poller.retain()
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._protocol: Any = protocol
        self._out = bytearray()
        self._closing = False
        self._lost = 0
        self._reading = False
        self._read_paused = False
        self._eof_read = False
        self._eof_written = False
        self._protocol_paused = False
        self._high = WRITE_HIGH
        self._low = WRITE_LOW
        self._buffered = isinstance(protocol, asyncio.BufferedProtocol)
        if poller is None:
            # The selector loop's own reader calls, as its transports use them: the
            # public ones first look for an asyncio transport on the descriptor (a failed
            # lookup, an exception, per call).
            self._loop_add_reader = getattr(loop, "_add_reader", loop.add_reader)
            self._loop_remove_reader = getattr(loop, "_remove_reader", loop.remove_reader)
        self._peer: Any = peername  # from accept(), or asked of the socket when needed
        self._local: Any = sockname
        if control:
            for level, option in (
                (socket.IPPROTO_TCP, socket.TCP_NODELAY),  # a reply leaves at once
                (socket.SOL_SOCKET, socket.SO_OOBINLINE),  # an urgent ABOR stays in the line
            ):
                try:
                    sock.setsockopt(level, option, 1)
                except OSError:  # pragma: no cover - not TCP
                    pass
        protocol.connection_made(self)
        if not self._closing and not self._read_paused:
            self._add_reader()

    def __repr__(self) -> str:
        return f"<RawTransport fd={self._fd} closing={self._closing}>"

    # --- information ----------------------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        sock = self._sock
        if name == "socket":
            return sock
        if name == "peername":
            if self._peer is None and sock is not None:
                try:
                    self._peer = sock.getpeername()
                except OSError:
                    return default
            return self._peer if self._peer is not None else default
        if name == "sockname":
            if self._local is None and sock is not None:
                try:
                    self._local = sock.getsockname()
                except OSError:
                    return default
            return self._local if self._local is not None else default
        return default

    def is_closing(self) -> bool:
        return self._closing

    def get_protocol(self) -> Any:
        return self._protocol

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = WRITE_HIGH if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high = high
        self._low = low
        if self._protocol_paused:
            if len(self._out) <= low:
                self._protocol_paused = False
                self._protocol.resume_writing()
        elif len(self._out) > high:
            self._protocol_paused = True
            self._protocol.pause_writing()

    # --- reading --------------------------------------------------------------------------

    def _add_reader(self) -> None:
        if not self._reading and not self._eof_read:
            if self._poller is not None:
                self._poller.add_reader(self._fd, self._read_ready)
            else:
                self._loop_add_reader(self._fd, self._read_ready)
            self._reading = True

    def _remove_reader(self) -> None:
        if self._reading:
            if self._poller is not None:
                self._poller.remove_reader(self._fd)
            else:
                self._loop_remove_reader(self._fd)
            self._reading = False

    def is_reading(self) -> bool:
        return self._reading

    def _add_writer(self) -> None:
        if self._poller is not None:
            self._poller.add_writer(self._fd, self._write_ready)
        else:
            self._loop.add_writer(self._fd, self._write_ready)

    def _remove_writer(self) -> None:
        if self._poller is not None:
            self._poller.remove_writer(self._fd)
        else:
            self._loop.remove_writer(self._fd)

    def pause_reading(self) -> None:
        self._read_paused = True
        self._remove_reader()

    def resume_reading(self) -> None:
        self._read_paused = False
        if not self._closing:
            self._add_reader()

    def _read_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        if self._buffered:
            buffer = self._protocol_buffer()
            if buffer is None:
                return
            received: Any = self._receive(sock.recv_into, buffer)
        else:
            received = self._receive(sock.recv, self.max_size)
        if received is None:
            return
        if not received:  # b"" or a count of 0: the peer finished sending
            self._read_eof()
        elif self._buffered:
            self._protocol.buffer_updated(received)
        else:
            self._protocol.data_received(received)

    def _protocol_buffer(self) -> Any:
        """The buffered protocol's buffer to read into, or None (the connection failed)."""
        try:
            buffer = self._protocol.get_buffer(-1)
            if not len(buffer):
                raise RuntimeError("get_buffer() returned an empty buffer")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc)
            return None
        return buffer

    def _receive(self, call: Callable[[Any], Any], argument: Any) -> Any:
        """``call(argument)`` (a recv), or None when nothing is there or it failed (the
        connection is then closed with the error)."""
        try:
            return call(argument)
        except (BlockingIOError, InterruptedError):
            return None
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc)
            return None

    def _read_eof(self) -> None:
        self._eof_read = True
        self._remove_reader()
        if not self._protocol.eof_received():
            self.close()

    # --- writing --------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof_written:
            raise RuntimeError("write() after write_eof()")
        if not data or self._lost or self._sock is None:
            return
        if not self._out:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._add_writer()
        self._out += data
        if not self._protocol_paused and len(self._out) > self._high:
            self._protocol_paused = True
            self._protocol.pause_writing()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def _write_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sent = sock.send(self._out)
        except (BlockingIOError, InterruptedError):
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._remove_writer()
            self._out.clear()
            self._fatal_error(exc)
            return
        del self._out[:sent]
        if self._protocol_paused and len(self._out) <= self._low:
            self._protocol_paused = False
            self._protocol.resume_writing()
        if self._out:
            return
        self._remove_writer()
        if self._closing:
            self._lost += 1
            self._close_socket()
            self._loop.call_soon(self._connection_lost, None)
        elif self._eof_written:
            sock.shutdown(socket.SHUT_WR)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof_written or self._sock is None:
            return
        self._eof_written = True
        if not self._out:
            self._sock.shutdown(socket.SHUT_WR)

    # --- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close once every queued byte is sent."""
        if self._closing:
            return
        self._closing = True
        self._remove_reader()
        if not self._out:
            self._lost += 1
            self._close_socket()
            self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        self._force_close(None)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        if self._out:
            self._out.clear()
            self._remove_writer()
        self._closing = True
        self._remove_reader()
        self._lost += 1
        self._close_socket()
        self._loop.call_soon(self._connection_lost, exc)

    def _fatal_error(self, exc: BaseException) -> None:
        if not isinstance(exc, OSError):
            self._loop.call_exception_handler(
                {
                    "message": "fatal error on a server connection",
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
        self._force_close(exc)

    def _close_socket(self) -> None:
        """Close the descriptor now (the peer sees the end at once); the protocol hears
        of it from the next turn of the loop, as asyncio's transports do."""
        sock = self._sock
        self._sock = None
        if sock is not None:
            sock.close()
        self._drop_poller()

    def _drop_poller(self) -> None:
        poller = self._poller
        if poller is not None:
            self._poller = None
            poller.drop()

    def _connection_lost(self, exc: BaseException | None) -> None:
        protocol = self._protocol
        try:
            if protocol is not None:
                protocol.connection_lost(exc)
        finally:
            sock = self._sock
            self._sock = None
            self._protocol = None
            if sock is not None:
                sock.close()
            self._drop_poller()

    def detach(self) -> socket.socket:
        """Stop serving the socket and give it away (for a TLS upgrade); nothing may
        wait to be sent. The protocol is not told: it takes the new transport."""
        sock = self._sock
        if sock is None or self._lost:
            raise ConnectionResetError("connection lost")
        if self._out:
            raise RuntimeError("detach() with unsent data")
        self._remove_reader()
        self._drop_poller()
        self._closing = True
        self._lost += 1
        self._sock = None
        self._protocol = None
        return sock


def raw_listener_supported(loop: asyncio.AbstractEventLoop, options: Iterable[str]) -> bool:
    """Whether :class:`RawListener` can serve on *loop* with these ``start`` options."""
    return isinstance(loop, asyncio.SelectorEventLoop) and set(options) <= RAW_LISTENER_OPTIONS


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


class RawListener:
    """Listening sockets whose connections get a :class:`RawTransport` each; the parts of
    :class:`asyncio.Server` the FTP server uses (``sockets``, ``close``...)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sockets: Sequence[socket.socket],
        on_accept: Callable[[socket.socket, Any, Any, Poller | None], None],
        *,
        poll: bool = True,
    ) -> None:
        self._loop = loop
        self._sockets = list(sockets)
        self._on_accept = on_accept
        #: The epoll set its connections share (None: none made, or no epoll here).
        self.poller = Poller.for_loop(loop) if poll else None
        self._serving = True
        self._paused: dict[int, asyncio.TimerHandle] = {}  # listening fd -> resume timer
        for sock in self._sockets:
            sock.setblocking(False)
            # A listener bound to one address gives every connection that local address;
            # a wildcard one leaves it to getsockname() per connection.
            local = sock.getsockname()
            known = None if _is_wildcard(local[0]) else local
            kind = (int(sock.family), int(sock.type), sock.proto, known)
            loop.add_reader(sock.fileno(), self._accept, sock, kind)

    @classmethod
    async def bind(
        cls,
        loop: asyncio.AbstractEventLoop,
        on_accept: Callable[[socket.socket, Any, Any, Poller | None], None],
        host: str | Sequence[str] | None,
        port: int,
        *,
        family: int = socket.AF_UNSPEC,
        flags: int = socket.AI_PASSIVE,
        backlog: int = 100,
        reuse_address: bool | None = None,
        reuse_port: bool | None = None,
    ) -> RawListener:
        """Listen on every address of *host* (all interfaces when None or ""), as
        ``loop.create_server`` does."""
        hosts: list[str | None]
        if host is None or host == "":
            hosts = [None]
        elif isinstance(host, str):
            hosts = [host]
        else:
            hosts = list(host)
        infos: list[Any] = []
        for one in hosts:
            found = await loop.getaddrinfo(
                one, port, family=family, type=socket.SOCK_STREAM, flags=flags
            )
            infos.extend(found)
        if not infos:
            raise OSError(f"getaddrinfo({host!r}) returned nothing")
        if reuse_address is None:
            reuse_address = True  # as asyncio does on POSIX
        sockets: list[socket.socket] = []
        seen: set[Any] = set()
        try:
            for af, kind, proto, _, address in infos:
                if (af, address) in seen:
                    continue
                seen.add((af, address))
                sock = socket.socket(af, kind, proto)
                sockets.append(sock)
                if reuse_address:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if af == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as exc:
                    raise OSError(
                        exc.errno,
                        f"error while attempting to bind on address {address!r}: {exc.strerror}",
                    ) from None
                sock.listen(backlog)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return cls(loop, sockets, on_accept)

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._sockets) if self._serving else ()

    def is_serving(self) -> bool:
        return self._serving

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def _accept(self, sock: socket.socket, kind: tuple[int, int, int, Any]) -> None:
        family, type_, proto, local = kind
        for _ in range(ACCEPT_BATCH):
            if not self._serving:
                return  # closed by the previous connection's callback
            try:
                # socket.accept() without its per-call enum conversions.
                fd, peer = sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while waiting in the backlog
            except OSError as exc:
                if exc.errno in _ACCEPT_PAUSE_ERRORS and self._serving:
                    logger.error("cannot accept connections (%s); pausing for 1 s", exc)
                    fd = sock.fileno()
                    self._loop.remove_reader(fd)
                    self._paused[fd] = self._loop.call_later(1.0, self._resume, sock, kind)
                else:
                    logger.error("accept() failed: %s", exc)
                return
            conn = socket.socket(family, type_, proto, fileno=fd)
            try:
                conn.setblocking(False)
                self._on_accept(conn, peer, local, self.poller)
            except Exception:
                logger.exception("could not set up a control connection")
                conn.close()

    def _resume(self, sock: socket.socket, kind: tuple[int, int, int, Any]) -> None:
        self._paused.pop(sock.fileno(), None)
        if self._serving and sock.fileno() >= 0:
            self._loop.add_reader(sock.fileno(), self._accept, sock, kind)

    def close(self) -> None:
        if not self._serving:
            return
        self._serving = False
        for timer in self._paused.values():
            timer.cancel()
        self._paused.clear()
        for sock in self._sockets:
            if sock.fileno() >= 0:
                self._loop.remove_reader(sock.fileno())
                sock.close()
        if self.poller is not None:
            self.poller.release()  # closes once its last connection is gone

    async def wait_closed(self) -> None:
        return None
