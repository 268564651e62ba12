"""Open files of the fsspec backend: the raw objects :class:`FsspecPathIO` hands out.

:class:`RangeReader` reads a file as ranged ``cat_file`` calls of ``chunk_size`` bytes,
fetching the next range while the current one is being sent: one request per chunk on
object stores, any offset (REST) for free, and no shared file position between readers.
:class:`ThreadedFile` drives a blocking fsspec (or local) file object from a thread pool;
writes go through it, so uploads to object stores stream as multipart uploads, and
``abort`` discards what was written where the filesystem can.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeVar

from .offload import Offloader

__all__ = ("AbortPolicy", "FileHandle", "RangeReader", "ThreadedFile")

T = TypeVar("T")

#: What ``abort`` does to a file open for writing: ``discard`` drops the unfinished
#: upload (object stores), ``remove`` deletes the file (memory), ``close`` keeps what was
#: written (local disk, so a client can resume with REST).
AbortPolicy = Literal["discard", "remove", "close"]


class FileHandle(Protocol):
    """The operations :class:`~anyftp_fsspec.pathio.FsspecPathIO` needs from a file."""

    async def read(self, count: int = -1) -> bytes: ...
    async def write(self, data: bytes | bytearray | memoryview) -> None: ...
    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int: ...
    async def close(self) -> None: ...
    async def abort(self) -> None: ...
    def fileno(self) -> int: ...


class RangeReader:
    """Read-only file made of ranged reads, with one chunk of read-ahead."""

    def __init__(
        self, fetch: Callable[[int, int], Awaitable[bytes]], size: int, chunk_size: int
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        self._fetch = fetch
        self.size = size
        self.chunk_size = chunk_size
        self.position = 0
        self._buffer: memoryview = memoryview(b"")
        self._buffer_start = 0
        self._ahead: asyncio.Task[bytes] | None = None
        self._ahead_start = 0
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _start_fetch(self, start: int) -> asyncio.Task[bytes]:
        end = min(start + self.chunk_size, self.size)
        return asyncio.ensure_future(self._fetch(start, end))

    async def _drop_ahead(self) -> None:
        task, self._ahead = self._ahead, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task

    async def _fill(self) -> None:
        """Make the buffer hold ``position``; start fetching the chunk after it."""
        start = self.position
        if self._ahead is not None and self._ahead_start == start:
            task, self._ahead = self._ahead, None
        else:
            await self._drop_ahead()
            task = self._start_fetch(start)
        data = await task
        if not data:
            raise EOFError(f"storage returned no data at offset {start} of {self.size}")
        self._buffer = memoryview(data)
        self._buffer_start = start
        following = start + len(data)
        if following < self.size:
            self._ahead_start = following
            self._ahead = self._start_fetch(following)

    async def read(self, count: int = -1) -> bytes:
        self._check_open()
        if count < 0:
            parts = []
            while piece := await self.read(self.chunk_size):
                parts.append(piece)
            return b"".join(parts)
        if count == 0 or self.position >= self.size:
            return b""
        offset = self.position - self._buffer_start
        if not 0 <= offset < len(self._buffer):
            await self._fill()
            offset = 0
        block = self._buffer[offset : offset + count]
        self.position += len(block)
        return bytes(block)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        raise io.UnsupportedOperation("file is open for reading")

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self.position = target
        return target

    async def close(self) -> None:
        self.closed = True
        self._buffer = memoryview(b"")
        await self._drop_ahead()

    async def abort(self) -> None:
        await self.close()

    def fileno(self) -> int:
        raise io.UnsupportedOperation("ranged reads have no file descriptor")


#: Multipart uploads may have at most 10,000 parts; parts grow so that a file reaches the
#: largest object size (5 TiB) first: each part is at least 1/_PART_GROWTH of what was sent.
_PART_GROWTH = 1000
_MAX_PART = 5 * 1024**3


def grow_part_size(raw: Any) -> None:
    """Make the next parts of a multipart upload (fsspec buffered files with ``parts``)
    at least 1/1000 of what was already uploaded, so 10,000 parts always suffice."""
    offset, blocksize = getattr(raw, "offset", None), getattr(raw, "blocksize", None)
    if isinstance(offset, int) and isinstance(blocksize, int) and hasattr(raw, "parts"):
        wanted = min(offset // _PART_GROWTH, _MAX_PART)
        if wanted > blocksize:
            raw.blocksize = wanted


def _write_all(raw: Any, data: bytes | bytearray | memoryview, append: bool) -> None:
    if append:  # as O_APPEND: every write goes to the end, whatever the position
        raw.seek(0, io.SEEK_END)
    grow_part_size(raw)
    view = memoryview(data)
    while view:
        written = raw.write(view)
        if written is None or written >= len(view):
            return
        view = view[written:]


def _discard(raw: Any) -> None:
    discard = getattr(raw, "discard", None)
    if discard is None:
        raw.close()
        return
    discard()
    # A discarded fsspec buffered file must not flush when closed or collected.
    with contextlib.suppress(AttributeError):
        raw.closed = True


class ThreadedFile:
    """A blocking file object whose every call runs in the offloader's pool.

    Calls on the file run one after another: a new one starts only when the previous one
    has finished in its thread, even if whoever awaited that one was cancelled, so an
    abort never races a write still running.

    Writes are gathered into a buffer of ``flush_size`` bytes, and each full buffer is
    written in the background while the next one fills (at most one write in flight):
    the transfer's network reads overlap the storage's writes, and a thread is woken per
    buffer rather than per received block. A failed background write is raised by the
    next ``write``, ``seek`` or ``close``; ``close`` then aborts instead of publishing.
    """

    def __init__(
        self,
        raw: Any,
        offloader: Offloader,
        mode: str,
        *,
        abort_policy: AbortPolicy = "close",
        remove: Callable[[], Awaitable[None]] | None = None,
        flush_size: int = 1024 * 1024,
    ) -> None:
        self.raw = raw
        self.mode = mode
        self._offloader = offloader
        self._abort_policy = abort_policy
        self._remove = remove
        self._flush_size = flush_size
        self._buffer = bytearray()
        self._last: asyncio.Future[Any] | None = None
        self._pending: asyncio.Future[None] | None = None
        self._append = "a" in mode
        self.closed = False

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    async def _idle(self) -> None:
        """Wait until the last call has finished in its thread (its outcome is for its
        own caller)."""
        last = self._last
        if last is not None and not last.done():
            await asyncio.wait([last])

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        await self._idle()
        future = await self._offloader.start(function, *args)
        self._last = future
        return await asyncio.shield(future)

    async def _settle(self) -> None:
        """Wait for the background write, raising its error (once)."""
        pending = self._pending
        if pending is None:
            return
        try:
            await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None

    def _submit(self) -> None:
        data, self._buffer = self._buffer, bytearray()
        self._pending = asyncio.ensure_future(self._call(_write_all, self.raw, data, self._append))

    async def _flush(self) -> None:
        await self._settle()
        if self._buffer:
            self._submit()
            await self._settle()

    async def read(self, count: int = -1) -> bytes:
        if "r" not in self.mode:
            raise io.UnsupportedOperation(f"file is open with mode {self.mode!r}, not for reading")
        self._check_open()
        await self._flush()
        data = await self._call(self.raw.read, count)
        return bytes(data) if data else b""

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.mode == "rb":
            raise io.UnsupportedOperation("file is open for reading")
        self._check_open()
        self._buffer += data
        if len(self._buffer) >= self._flush_size:
            await self._settle()
            self._submit()

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        await self._flush()
        raw = self.raw

        def seek() -> int:
            result = raw.seek(offset, whence)
            return int(result) if isinstance(result, int) else int(raw.tell())

        return await self._call(seek)

    async def close(self) -> None:
        if self.closed:
            return
        try:
            await self._flush()
        except BaseException:
            await self.abort()
            raise
        self.closed = True
        await self._call(self.raw.close)

    async def abort(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._buffer = bytearray()
        pending, self._pending = self._pending, None
        if pending is not None:
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # the write failed or not: the file is dropped anyway
        await self._idle()
        if self._abort_policy == "discard":
            await self._call(_discard, self.raw)
            return
        await self._call(self.raw.close)
        if self._abort_policy == "remove" and self._remove is not None:
            with contextlib.suppress(FileNotFoundError):
                await self._remove()

    def fileno(self) -> int:
        return int(self.raw.fileno())
