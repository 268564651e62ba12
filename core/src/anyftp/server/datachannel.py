"""One data connection: an asyncio buffered protocol with a small awaitable API.

The transfer code works with :class:`DataChannel` directly:

* receiving (STOR): :meth:`DataChannel.receive` returns a ``memoryview`` of what arrived,
  filled by the event loop straight into one of two reusable buffers (no copy per block,
  and the network keeps filling the other buffer while storage writes this one); an empty
  view means the peer finished cleanly (FIN or TLS close_notify). A reset before that
  raises :class:`ConnectionError`, so a cut upload is never taken as complete.
* sending (RETR): :meth:`send` queues bytes, :meth:`drain` waits while the transport is
  above its high-water mark, :meth:`flush` waits until everything left the process, and
  :meth:`sendfile` hands a file descriptor to the kernel (plain TCP only).

For aioftp-style command methods the channel also behaves like aioftp's data stream:
``await write(data)``, ``await read(count)``, ``iter_by_block()``, ``close()`` and
``async with``.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, cast

__all__ = ("DataChannel", "FdFile", "SendfileUnavailable")


#: Bytes taken per read the transport makes before anyone asked it to (see get_buffer).
EARLY_READ = 4096


class SendfileUnavailable(Exception):
    """The event loop can not send files with the kernel (uvloop, TLS): copy instead."""


class FdFile:
    """The minimal file object ``loop.sendfile`` needs, over a descriptor we do not own."""

    __slots__ = ("_fd",)
    mode = "rb"

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, io.SEEK_CUR)


class DataChannel(asyncio.BufferedProtocol):
    """A data connection (see the module docstring). ``on_made`` is called once connected."""

    def __init__(
        self,
        block_size: int,
        on_made: Callable[[DataChannel], None] | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self.block_size = max(4096, block_size)
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[Any, ...] | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.tls = False
        self._on_made = on_made
        self._buffers: list[bytearray] = []
        self._current = 0
        self._filled = 0
        # What the transport read before anyone asked (see get_buffer).
        self._early = bytearray()
        self._early_filled = 0
        self._eof = False
        self._lost = False
        self._error: BaseException | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._closed_here = False  # close() or abort() was called (not a failure)

    # --- protocol callbacks -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Duck-typed: uvloop's transports do not subclass asyncio's.
        self.transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        self._closed = asyncio.get_running_loop().create_future()
        # Nothing is read until someone asks: a RETR never reads at all.
        self._pause_reading()
        if self._on_made is not None:
            self._on_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._reading_paused:
            # A read nobody asked for: uvloop starts reading a new connection after
            # connection_made, whatever the protocol asked there. Take a little (not the
            # two transfer buffers, which a RETR's channel never needs) and pause.
            if self._early_filled == len(self._early):
                self._early.extend(bytes(EARLY_READ))
            return memoryview(self._early)[self._early_filled :]
        if not self._buffers:
            self._buffers = [bytearray(self.block_size), bytearray(self.block_size)]
        return memoryview(self._buffers[self._current])[self._filled :]

    def buffer_updated(self, nbytes: int) -> None:
        self.bytes_in += nbytes
        if self._reading_paused:  # into the early buffer (see get_buffer)
            self._early_filled += nbytes
            self._reading_paused = False
            self._pause_reading()
            return
        self._filled += nbytes
        if self._filled >= len(self._buffers[self._current]):
            self._pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if exc is not None and not self._eof:
            self._error = exc
        self._wake()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        # The transport is done with this channel: let go of it. A TLS protocol keeps
        # the channel's get_buffer/buffer_updated methods, so holding the transport
        # here is a cycle (its 256 KiB TLS buffer and the channel's buffers in it) that
        # only the cycle collector would free, and a busy FTPS server's memory grew by
        # hundreds of MiB between its runs.
        self.transport = None

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake()

    # --- helpers ------------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            if self.timeout is None:
                await self._waiter
            else:
                async with asyncio.timeout(self.timeout):
                    await self._waiter
        finally:
            self._waiter = None

    def _pause_reading(self) -> None:
        transport = self.transport
        if not self._reading_paused and transport is not None and not transport.is_closing():
            transport.pause_reading()
            self._reading_paused = True

    def _merge_early(self) -> None:
        """Move what was read before anyone asked into the current buffer."""
        if not self._buffers:
            self._buffers = [bytearray(self.block_size), bytearray(self.block_size)]
        current = self._buffers[self._current]
        end = self._filled + self._early_filled
        if end > len(current):
            current.extend(bytes(end - len(current)))
        current[self._filled : end] = self._early[: self._early_filled]
        self._filled = end
        self._early = bytearray()
        self._early_filled = 0

    def _resume_reading(self) -> None:
        transport = self.transport
        if self._reading_paused and transport is not None and not transport.is_closing():
            transport.resume_reading()
            self._reading_paused = False

    def _raise_if_lost(self) -> None:
        if self._error is not None:
            raise ConnectionResetError(f"data connection lost: {self._error}") from self._error
        if self._lost:
            raise ConnectionAbortedError("data connection closed")

    @property
    def is_lost(self) -> bool:
        return self._lost

    def stop_reading(self) -> None:
        """Make sure the transport reads nothing more (it may have started reading after
        ``connection_made`` paused it: uvloop starts reading only then)."""
        transport = self.transport
        if transport is not None and not transport.is_closing() and transport.is_reading():
            transport.pause_reading()
        self._reading_paused = True

    @property
    def read_past_early(self) -> bool:
        """Whether the transport read more than the bytes that came before anyone asked
        (see :meth:`get_buffer`): into the transfer buffers, or up to the end of the data.
        Then only :meth:`receive` knows the order of what was read."""
        return bool(self._buffers) or self._filled > 0 or self._eof

    def take_early(self) -> memoryview:
        """Hand over what the transport read before anyone asked, and forget it here (the
        view is of a buffer the channel no longer uses)."""
        early = memoryview(self._early)[: self._early_filled]
        self._early = bytearray()
        self._early_filled = 0
        return early

    # --- receiving ----------------------------------------------------------------------

    async def receive(self) -> memoryview:
        """The next block received; empty when the peer finished sending cleanly.

        The view stays valid until the next call.
        """
        while True:
            if self._early_filled:
                if not self._filled:
                    # Only what came before anyone asked: hand out that small buffer
                    # itself. An upload that arrived whole (with its end) before the STOR
                    # read it then never takes the two transfer buffers.
                    early = self.take_early()
                    if not self._eof:
                        self._resume_reading()
                    return early
                self._merge_early()  # first: it came before anything read since
            if self._filled:
                break
            if self._eof:
                return memoryview(b"")
            if self._lost:
                self._raise_if_lost()
            self._resume_reading()
            await self._wait()
        buffer = self._buffers[self._current]
        count = self._filled
        self._current ^= 1
        self._filled = 0
        if not self._eof:
            self._resume_reading()
        return memoryview(buffer)[:count]

    # --- sending ------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Queue *data* for sending (raises if the connection is gone)."""
        self._raise_if_lost()
        transport = self.transport
        assert transport is not None
        transport.write(data)
        self.bytes_out += len(data)

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark."""
        while self._writing_paused:
            self._raise_if_lost()
            await self._wait()
        self._raise_if_lost()

    async def flush(self) -> None:
        """Wait until every queued byte has been handed to the kernel.

        Raises if the connection failed; a connection the peer already closed cleanly
        (after an upload) has nothing left to flush.
        """
        if self._error is not None:
            self._raise_if_lost()
        transport = self.transport
        if transport is None or self._lost:
            return
        if transport.is_closing() and not self._eof and not self._closed_here:
            # A send failed (the peer reset the connection) and the transport is closing
            # itself; the protocol hears of it only in a later turn of the loop.
            raise ConnectionAbortedError("data connection failed before all was sent")
        if transport.get_write_buffer_size():
            transport.set_write_buffer_limits(high=0)
            try:
                while transport.get_write_buffer_size() and not self._lost:
                    self._writing_paused = True
                    await self.drain()
            finally:
                if not transport.is_closing():
                    transport.set_write_buffer_limits()
        if self._error is not None:
            self._raise_if_lost()

    async def sendfile(self, fd: int, offset: int, count: int | None) -> int:
        """Send *count* bytes (all when ``None``) of *fd* from *offset*; returns bytes sent."""
        self._raise_if_lost()
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        if getattr(transport, "_sendfile_compatible", None) is None:
            # Not one of asyncio's socket transports (a RawTransport, uvloop's): the
            # loop would refuse with a RuntimeError; the caller copies instead.
            raise SendfileUnavailable("the transport can not send files")
        file: Any = FdFile(fd)  # has what sendfile uses: fileno, seek, mode
        try:
            async with asyncio.timeout(self.timeout):
                sent = await loop.sendfile(transport, file, offset, count, fallback=False)
        except (NotImplementedError, asyncio.SendfileNotAvailableError) as exc:
            raise SendfileUnavailable(str(exc)) from exc
        self.bytes_out += sent
        return sent

    # --- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close gracefully (queued data is still sent; TLS sends close_notify)."""
        self._closed_here = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now."""
        self._closed_here = True
        transport = self.transport
        if transport is None:
            return
        transport.abort()

    async def wait_closed(self, timeout: float | None = None) -> None:
        if self._closed is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            self.abort()

    # --- aioftp-style stream API ----------------------------------------------------------

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.send(data)
        await self.drain()

    async def read(self, count: int = -1) -> bytes:
        if count == 0:
            return b""
        view = await self.receive()
        data = bytes(view)
        if 0 < count < len(data):
            # Put the rest back in front of the buffer the next receive() returns.
            rest = data[count:]
            data = data[:count]
            self._unread(rest)
        return data

    def _unread(self, rest: bytes) -> None:
        if not self._buffers:
            self._buffers = [bytearray(self.block_size), bytearray(self.block_size)]
        # ``receive`` swapped buffers; prepend *rest* to what the current one holds.
        current = self._buffers[self._current]
        pending = bytes(current[: self._filled])
        merged = rest + pending
        if len(merged) > len(current):
            current.extend(b"\x00" * (len(merged) - len(current)))
        current[: len(merged)] = merged
        self._filled = len(merged)

    async def readexactly(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            block = await self.read(count - len(chunks))
            if not block:
                raise asyncio.IncompleteReadError(bytes(chunks), count)
            chunks += block
        return bytes(chunks)

    async def iter_by_block(self, count: int | None = None) -> AsyncIterator[bytes]:
        while True:
            block = await self.read(count or -1)
            if not block:
                return
            yield block

    async def __aenter__(self) -> DataChannel:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                await self.flush()
            except ConnectionError:
                pass
            self.close()
        else:
            self.abort()
