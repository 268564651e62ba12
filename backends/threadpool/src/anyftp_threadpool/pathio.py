"""AsyncPathIO: the local disk with every filesystem call run in a thread pool.

This is aioftp's ``AsyncPathIO``: nothing that may block on the disk runs on the event
loop. Each operation is one job on a dedicated, bounded
:class:`~concurrent.futures.ThreadPoolExecutor` (not the loop's default executor, so
storage calls neither starve nor are starved by other ``to_thread`` users). With
``root`` set, resolving symlinks for the containment check happens inside the same job,
in the worker thread. Files expose their descriptor, so the server can use
``os.sendfile``.

The executor comes from, in order: the ``executor`` argument, the per-server state made
by :meth:`AsyncPathIO.create_state` (``max_workers=`` option), or a process-wide pool
made on first use.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import functools
import io
import os
import pathlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, BinaryIO, ClassVar, TypeVar

from anyftp import localfs
from anyftp.pathio import AbstractPathIO, AsyncLister, Capabilities, StatLike

__all__ = ("AsyncPathIO", "ThreadPoolState", "default_executor")

T = TypeVar("T")

#: Name prefix of the worker threads.
THREAD_NAME_PREFIX = "anyftp-threadpool"

_default: concurrent.futures.ThreadPoolExecutor | None = None
_default_lock = threading.Lock()


def default_max_workers() -> int:
    """Workers of a pool when none is configured (as ThreadPoolExecutor's default)."""
    return min(32, (os.cpu_count() or 1) + 4)


def default_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide pool used by instances made without an executor or state."""
    global _default
    with _default_lock:
        if _default is None:
            _default = concurrent.futures.ThreadPoolExecutor(
                max_workers=default_max_workers(), thread_name_prefix=THREAD_NAME_PREFIX
            )
        return _default


@dataclass(frozen=True)
class ThreadPoolState:
    """Per-server state: the server's own bounded pool."""

    executor: concurrent.futures.ThreadPoolExecutor


def _close_opened(future: concurrent.futures.Future[BinaryIO]) -> None:
    """Close a file whose opener gave up waiting (timeout, cancellation)."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()


class AsyncPathIO(AbstractPathIO):
    """The local filesystem, every call in a worker thread."""

    capabilities: ClassVar[Capabilities] = localfs.CAPABILITIES
    path_class: ClassVar[type[PurePath]] = pathlib.Path
    contains_paths_itself: ClassVar[bool] = True  # checked in the worker thread

    def __init__(
        self,
        timeout: float | None = None,
        connection: Any = None,
        state: Any = None,
        executor: concurrent.futures.Executor | None = None,
        *,
        root: PurePath | str | None = None,
    ) -> None:
        super().__init__(timeout, connection, state, root=root)
        if executor is None and isinstance(state, ThreadPoolState):
            executor = state.executor
        self.executor = executor

    # --- shared state ---------------------------------------------------------------------

    @classmethod
    def create_state(cls, *, max_workers: int | None = None, **options: Any) -> ThreadPoolState:
        """A pool of *max_workers* threads for one server."""
        if options:
            raise TypeError(f"{cls.__name__} got unknown options {sorted(options)}")
        return ThreadPoolState(
            concurrent.futures.ThreadPoolExecutor(
                max_workers=max_workers or default_max_workers(),
                thread_name_prefix=THREAD_NAME_PREFIX,
            )
        )

    @classmethod
    async def close_state(cls, state: Any) -> None:
        """Stop the server's pool; queued jobs are cancelled, running ones finish."""
        if isinstance(state, ThreadPoolState):
            state.executor.shutdown(wait=False, cancel_futures=True)

    # --- running jobs ---------------------------------------------------------------------

    def _submit(
        self, paths: tuple[PurePath, ...], function: Callable[..., T], *args: Any
    ) -> concurrent.futures.Future[T]:
        root = self.root
        if root is None:
            job: Callable[[], T] = functools.partial(function, *args)
        else:

            def job() -> T:
                for path in paths:
                    localfs.contain(path, root)
                return function(*args)

        return (self.executor or default_executor()).submit(job)

    async def _run(self, paths: tuple[PurePath, ...], function: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self._submit(paths, function, *args))

    def contain(self, path: PurePath) -> None:
        """Blocking check for direct callers; the methods check in the worker thread."""
        localfs.contain(path, self.root)

    # --- path operations ------------------------------------------------------------------

    async def exists(self, path: PurePath) -> bool:
        return await self._run((path,), os.path.exists, path)

    async def is_dir(self, path: PurePath) -> bool:
        return await self._run((path,), os.path.isdir, path)

    async def is_file(self, path: PurePath) -> bool:
        return await self._run((path,), os.path.isfile, path)

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        await self._run(
            (path,), functools.partial(pathlib.Path(path).mkdir, parents=parents, exist_ok=exist_ok)
        )

    async def rmdir(self, path: PurePath) -> None:
        await self._run((path,), os.rmdir, path)

    async def unlink(self, path: PurePath) -> None:
        await self._run((path,), localfs.unlink_file, path)

    async def stat(self, path: PurePath) -> StatLike:
        return await self._run((path,), os.stat, path)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        await self._run((source, destination), os.replace, source, destination)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            for child in await self._run((path,), localfs.list_paths, path, self.root):
                yield child

        return AsyncLister(entries())

    def _scan(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        """``(name, stat)`` of the visible entries of *path* (runs in a worker)."""
        return localfs.scan_with_stats(path, self.root)

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        base = pathlib.Path(path)
        return [(base / name, info) for name, info in await self._run((path,), self._scan, path)]

    async def list_names_with_stats(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        if type(self).list_with_stats is not AsyncPathIO.list_with_stats:
            # A subclass changed what is listed: take its entries.
            return await AbstractPathIO.list_names_with_stats(self, path)
        return await self._run((path,), self._scan, path)

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        await self._run((path,), localfs.set_mtime, path, mtime)

    async def chmod(self, path: PurePath, mode: int) -> None:
        await self._run((path,), localfs.chmod, path, mode)

    # --- files ----------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> BinaryIO:
        future = self._submit((path,), localfs.open_binary, path, mode)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # The worker may still open the file after we stop waiting: close it then.
            future.add_done_callback(_close_opened)
            raise

    async def read(self, file: BinaryIO, block_size: int = -1) -> bytes:
        return await self._run((), file.read, block_size) or b""

    async def write(self, file: BinaryIO, data: bytes | bytearray | memoryview) -> None:
        await self._run((), localfs.write_all, file, data)

    async def seek(self, file: BinaryIO, offset: int, whence: int = io.SEEK_SET) -> int:
        return await self._run((), file.seek, offset, whence)

    async def close(self, file: BinaryIO) -> None:
        await self._run((), file.close)

    def fileno(self, file: BinaryIO) -> int:
        return file.fileno()
