"""The client's data-connection stream: DataConnectionThrottleStreamIO.

A transfer command (RETR, STOR, APPE, MLSD, LIST, ...) gives one of these. It reads or
writes the data socket under the client's throttles and ``socket_timeout``;
:meth:`~DataConnectionThrottleStreamIO.finish` closes the data connection and waits for
the server's final reply, keeping the control connection in step. Used with
``async with``, leaving the block normally finishes; leaving it by an exception closes
the data connection and leaves the pending final reply for the client to read (and
ignore) before its next command.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..common import AsyncStreamIterator, StreamThrottle, ThrottleStreamIO
from .sockio import SocketReader, SocketWriter

if TYPE_CHECKING:
    from .base import BaseClient

__all__ = ("DataConnectionThrottleStreamIO", "READ_BLOCK_SIZE")

#: Bytes asked of the data socket per read when the caller does not say (large on purpose:
#: per-block overhead, not the network, bounds a download made of small reads).
READ_BLOCK_SIZE = 256 * 1024
#: A transfer whose data is always ready yields to the event loop after this many bytes,
#: so other tasks (another transfer, an abort) still run.
YIELD_EVERY = 4 * 1024 * 1024


class DataConnectionThrottleStreamIO(ThrottleStreamIO):
    """A throttled data connection that knows its client (for :meth:`finish`)."""

    def __init__(
        self,
        client: BaseClient,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        throttles: Mapping[str, StreamThrottle] | None = None,
        *,
        timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
    ) -> None:
        super().__init__(
            reader,
            writer,
            throttles=throttles,
            timeout=timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
        )
        self.client = client
        #: Set by :meth:`BaseClient.abort`: the final reply was already consumed.
        self.aborted = False
        self.finished = False
        self._unyielded = 0

    def _unthrottled(self, direction: str) -> bool:
        # A loop, not all() over a generator: this runs for every block of a transfer.
        for pair in self.throttles.values():  # noqa: SIM110
            if getattr(pair, direction).limit is not None:
                return False
        return True

    def _yield_due(self, size: int) -> bool:
        """Count *size* bytes moved without waiting; true when the transfer should now
        let other tasks run (a plain method: the per-block path makes no coroutine)."""
        self._unyielded += size
        if self._unyielded >= YIELD_EVERY:
            self._unyielded = 0
            return True
        return False

    async def read(self, count: int = -1) -> bytes:
        """Up to *count* bytes (all that is left with -1); ``b""`` at the end."""
        reader = self.reader
        if count > 0 and isinstance(reader, SocketReader) and self._unthrottled("read"):
            # Per block on a busy download: one receive and no further coroutine.
            data = reader.try_read(count)
            if data is None:
                return await reader.wait_block(count, self.read_timeout)
            if self._yield_due(len(data)):
                await asyncio.sleep(0)
            return data
        return await super().read(count)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of *data*."""
        writer = self.writer
        if isinstance(writer, SocketWriter) and self._unthrottled("write"):
            sent = writer.try_write(data)
            if sent:
                if self._yield_due(sent):
                    await asyncio.sleep(0)
                if sent == len(data):
                    return
                data = memoryview(data)[sent:]
        await super().write(data)

    def iter_by_block(self, count: int = READ_BLOCK_SIZE) -> AsyncStreamIterator[bytes]:
        """Blocks of at most *count* bytes until the server closes the data connection."""
        return super().iter_by_block(count)

    async def read_all(self) -> bytes:
        """Everything until the end of the data connection."""
        chunks = [block async for block in self.iter_by_block()]
        return b"".join(chunks)

    def close(self) -> None:
        """Close the data connection without reading the final reply (idempotent).

        The reply is still owed: the client reads and drops it before its next command.
        """
        self._close_connection()
        if not (self.aborted or self.finished):
            self.finished = True
            self.client._pending_finals += 1

    def _close_connection(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        if self.client._data_stream is self:
            self.client._data_stream = None

    async def finish(self, expected_codes: Any = "2xx", wait_codes: Any = "1xx") -> None:
        """Close the data connection and wait for *expected_codes*, passing *wait_codes*."""
        done = self.aborted or self.finished
        self.finished = True
        self._close_connection()
        # Flush what we wrote (and, on TLS, the close_notify) before asking for the reply;
        # bounded, since a peer that never acknowledges must not hang us.
        with contextlib.suppress(OSError, asyncio.TimeoutError, ConnectionError):
            async with asyncio.timeout(self.write_timeout or 10):
                await self.writer.wait_closed()
        if not done:
            await self.client.command(None, expected_codes, wait_codes)

    async def __aenter__(self) -> DataConnectionThrottleStreamIO:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            await self.finish()
        else:
            self.close()
