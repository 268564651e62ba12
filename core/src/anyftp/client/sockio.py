"""Plain data connections on a bare socket: the fast path for transfers without TLS.

:class:`SocketReader` and :class:`SocketWriter` give the part of asyncio's
``StreamReader``/``StreamWriter`` interface the client's streams use, on top of
``loop.sock_recv``/``loop.sock_sendall``, with :meth:`SocketReader.try_read` and
:meth:`SocketWriter.try_write` for data that can move at once. Then a block is one
system call, no event-loop round trip and no timer, and it is copied once (kernel to the
returned ``bytes``): that is what lets a download keep up with a blocking client.

A download that has to wait asks the kernel (``SO_RCVLOWAT``) to wake it only once a
good part of a block is there, or the data ends, instead of at every segment: fewer
wake-ups and fewer, larger receives. A timer bounds what that can hold back: after
:data:`COALESCE_DELAY` whatever has arrived is returned, and a sender slower than that
is waited for byte by byte again. So a slow or stalling sender is never delayed by more
than that, and a read timeout still means that nothing came at all.

Closing while a read or write is in flight (``abort()`` from another task) shuts the
socket down first: the pending call then returns (end of data) or fails, and the socket
is closed once nothing uses it, so the event loop never watches a closed descriptor.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

__all__ = ("SocketReader", "SocketWriter", "socket_streams", "RECV_BUFFER_SIZE")

#: Most bytes asked of the kernel per receive.
RECV_BUFFER_SIZE = 1024 * 1024
#: A waiting download is woken once this many bytes (at most the block asked for) are
#: there, or at the end of the data.
WAKE_BYTES = 256 * 1024
#: ... or after this many seconds with whatever has arrived by then.
COALESCE_DELAY = 0.02


class _Channel:
    """The socket shared by a reader and a writer, closed when both are done with it."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.busy = 0
        self.closing = False
        self.closed = False
        self.closed_event = asyncio.Event()
        self.watching = False  # the event loop watches the socket for reading
        self.lowat = 1  # SO_RCVLOWAT: bytes that make the socket readable; 0: unsupported

    def watch(self, callback: Any) -> None:
        """Have the event loop call *callback* while the socket is readable."""
        if not self.watching:
            self.loop.add_reader(self.sock.fileno(), callback)
            self.watching = True

    def unwatch(self) -> None:
        if self.watching:
            self.watching = False
            self.loop.remove_reader(self.sock.fileno())

    def set_lowat(self, size: int) -> None:
        """Make the socket readable (for the event loop) only with *size* bytes queued
        (or at its end); where the option is missing, it stays at one byte."""
        if self.lowat and self.lowat != size:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, size)
                self.lowat = size
            except OSError:
                self.lowat = 0

    def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self._maybe_close()

    def _maybe_close(self) -> None:
        if self.closing and not self.busy and not self.closed:
            self.unwatch()
            self.closed = True
            self.sock.close()
            self.closed_event.set()

    def enter(self) -> None:
        self.busy += 1

    def leave(self) -> None:
        self.busy -= 1
        self._maybe_close()


class SocketReader:
    """``read``/``readline``/``readexactly``/``at_eof`` on a bare socket."""

    def __init__(self, channel: _Channel, buffer_size: int = RECV_BUFFER_SIZE) -> None:
        self._channel = channel
        self._size = buffer_size
        self._pending = bytearray()  # read past a line end by readline
        self._eof = False
        self._waiter: asyncio.Future[bool] | None = None
        self._slow = False  # the last wait ended by the timer: the sender is slow

    async def _recv(self, limit: int) -> bytes:
        channel = self._channel
        if self._eof or channel.closing:
            self._eof = True
            return b""
        channel.unwatch()  # sock_recv registers the socket itself
        channel.set_lowat(1)  # and must see every byte as it comes
        channel.enter()
        try:
            data = await channel.loop.sock_recv(channel.sock, limit)
        except OSError:
            if not channel.closing:
                raise
            data = b""  # we shut it down ourselves (abort): that is the end
        finally:
            channel.leave()
        if not data:
            self._eof = True
        return data

    def try_read(self, n: int) -> bytes | None:
        """Up to *n* bytes already waiting (``b""`` at the end), or None if a read would
        have to wait. No await, no timer: the fast path of a busy download."""
        if self._pending or n <= 0:
            return None
        channel = self._channel
        if self._eof or channel.closing:
            self._eof = True
            return b""
        try:
            # recv straight into a new bytes object: one copy, kernel to result.
            data = channel.sock.recv(min(n, self._size))
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            if not channel.closing:
                raise
            data = b""
        if not data:
            self._eof = True
            channel.unwatch()  # readable for good now: the loop must stop calling us
        return data

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is None:
            # Nobody waits: stop watching, or a level-triggered readable socket would
            # call us on every turn of the loop.
            self._channel.unwatch()
        elif not waiter.done():
            waiter.set_result(True)

    async def read_block(self, n: int, timeout: float | None) -> bytes:
        """Up to *n* (> 0) bytes, ``b""`` at the end: at once when some are waiting,
        otherwise after waiting at most *timeout* seconds (``TimeoutError``) for data.

        The socket stays registered with the event loop between waits, so a download
        that waits often does not add and remove it each time: a wait is one future and
        one timer. How long a wait may coalesce arriving data is in the module's
        docstring.
        """
        data = self.try_read(n)
        if data is not None:
            return data
        return await self.wait_block(n, timeout)

    async def wait_block(self, n: int, timeout: float | None) -> bytes:
        """:meth:`read_block` for a caller whose :meth:`try_read` just found nothing: it
        waits before it receives again (bytes that readline read ahead come at once)."""
        if self._pending:
            return await self.read(n)
        channel = self._channel
        loop = channel.loop
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                raise TimeoutError
            if self._slow:
                channel.set_lowat(1)
                wake = deadline
            else:
                channel.set_lowat(min(n, WAKE_BYTES))
                wake = now + COALESCE_DELAY
                if deadline is not None:
                    wake = min(wake, deadline)
            waiter = self._waiter = loop.create_future()
            timer = None if wake is None else loop.call_at(wake, _expire, waiter)
            channel.watch(self._readable)
            channel.enter()
            try:
                # False: the timer; then take what has come (a slow sender: wait for
                # single bytes from now on) or, past the deadline, time out.
                self._slow = not await waiter
            finally:
                self._waiter = None
                channel.leave()
                if timer is not None:
                    timer.cancel()
            data = self.try_read(n)
            if data is not None:
                return data

    async def read(self, n: int = -1) -> bytes:
        if self._pending:
            size = len(self._pending) if n < 0 else min(n, len(self._pending))
            data = bytes(self._pending[:size])
            del self._pending[:size]
            return data
        if n == 0:
            return b""
        if n < 0:
            chunks = []
            while block := await self._recv(self._size):
                chunks.append(block)
            return b"".join(chunks)
        return await self._recv(min(n, self._size))

    async def readline(self) -> bytes:
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                line = bytes(self._pending[: end + 1])
                del self._pending[: end + 1]
                return line
            block = await self._recv(self._size)
            if not block:
                line = bytes(self._pending)
                self._pending.clear()
                return line
            self._pending += block

    async def readexactly(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            block = await self.read(n - len(data))
            if not block:
                raise asyncio.IncompleteReadError(bytes(data), n)
            data += block
        return bytes(data)

    def at_eof(self) -> bool:
        return self._eof and not self._pending


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class SocketWriter:
    """``write``/``drain``/``close``/``wait_closed`` on a bare socket."""

    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._queued: list[bytes | bytearray | memoryview] = []

    @property
    def transport(self) -> None:
        return None

    def try_write(self, data: bytes | bytearray | memoryview) -> int:
        """Send what the kernel takes now (nothing queued before it); bytes sent."""
        if self._queued or self._channel.closing:
            return 0
        try:
            return self._channel.sock.send(data)
        except (BlockingIOError, InterruptedError):
            return 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._channel.closing:
            raise ConnectionResetError("data connection is closed")
        if data:
            self._queued.append(data)

    async def drain(self) -> None:
        channel = self._channel
        channel.enter()
        try:
            while self._queued:
                data = self._queued.pop(0)
                await channel.loop.sock_sendall(channel.sock, data)
        finally:
            channel.leave()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        with contextlib.suppress(OSError):
            self._channel.sock.shutdown(socket.SHUT_WR)

    def is_closing(self) -> bool:
        return self._channel.closing

    def close(self) -> None:
        if self._queued and not self._channel.closing:
            # Written but not drained: hand what the kernel takes at once, never block.
            with contextlib.suppress(OSError):
                for data in self._queued:
                    self._channel.sock.send(data)
            self._queued.clear()
        self._channel.close()

    async def wait_closed(self) -> None:
        await self._channel.closed_event.wait()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        sock = self._channel.sock
        if name == "socket":
            return sock
        if self._channel.closed:
            return default
        with contextlib.suppress(OSError):
            if name == "peername":
                return sock.getpeername()
            if name == "sockname":
                return sock.getsockname()
        return default


def socket_streams(sock: socket.socket) -> tuple[SocketReader, SocketWriter]:
    """A reader and a writer sharing *sock* (made non-blocking)."""
    channel = _Channel(sock)
    return SocketReader(channel), SocketWriter(channel)
