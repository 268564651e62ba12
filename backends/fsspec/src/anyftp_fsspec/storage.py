"""The calls the backend makes on an fsspec filesystem, sync or async, in one shape.

:class:`Storage` holds the served root and the few operations the path-IO layer needs
(info, one-call listing, mkdir, remove, move, ranged reads, opening files). Subclasses
differ only in *how* a filesystem method runs:

* :class:`AsyncStorage` awaits the filesystem's coroutine methods (``_info``, ``_ls``,
  ``_cat_file``...) directly on the server's event loop; the instance is made on that loop
  with ``asynchronous=True`` and its session closed with the server.
* :class:`ThreadStorage` runs the plain methods in a bounded thread pool.
* :class:`LocalStorage` is the local disk through the thread pool, with the operations
  fsspec leaves out (``os.replace`` renames, ``utime``, ``chmod``) and real file objects.

Paths here are strings in the filesystem's own namespace; :meth:`Storage.resolve` makes
them from the server's ``PurePath`` and keeps them inside the root (lexically, and on the
local disk with symlinks resolved too).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import inspect
import os
import posixpath
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from typing import Any
from weakref import WeakKeyDictionary

import fsspec.core
from fsspec.spec import AbstractFileSystem

from anyftp.errors import PathOutsideRootError

from .files import AbortPolicy, FileHandle, RangeReader, ThreadedFile
from .offload import Offloader
from .profile import Profile
from .resolve import Target
from .stats import is_directory

__all__ = ("AsyncStorage", "LocalStorage", "Settings", "Storage", "ThreadStorage", "make_storage")

#: How long closing the state waits for blocking calls still running (seconds).
_DRAIN_TIMEOUT = 30.0

#: How many copies or deletes a directory move runs at once on an object store.
_MOVE_CONCURRENCY = 8


@dataclass(frozen=True)
class Settings:
    """Tuning of one served filesystem."""

    #: Blocking calls in flight at once (sync filesystems, file objects).
    max_workers: int = 8
    #: Bytes per ranged read; the next range is fetched while one is sent.
    read_chunk_size: int = 4 * 1024 * 1024
    #: Buffer of a file open for writing (the multipart part size on object stores).
    write_block_size: int = 8 * 1024 * 1024


class Storage:
    """One served fsspec filesystem (see the module docstring)."""

    def __init__(self, target: Target, profile: Profile, settings: Settings) -> None:
        self.target = target
        self.profile = profile
        self.settings = settings
        self.offloader = Offloader(settings.max_workers)
        self.root = target.root

    # --- paths ----------------------------------------------------------------------------

    def fs_path(self, path: PurePath) -> str:
        """The filesystem path of the served *path* (``/`` is the URL's root).

        ``..`` is collapsed against ``/`` first, so no served path leaves the root.
        """
        relative = posixpath.normpath("/" + PurePosixPath(path).as_posix()).lstrip("/")
        if not relative:
            return self.root
        marker = str(self.target.fs_class.root_marker)
        if not self.root or self.root == marker:
            return marker + relative
        return self.root.rstrip("/") + "/" + relative

    def is_root(self, fs_path: str) -> bool:
        return fs_path.rstrip("/") == self.root.rstrip("/")

    async def resolve(self, path: PurePath, user_root: PurePath | None) -> str:
        """The filesystem path of *path*, which the caller checked (lexically) against
        *user_root*. Storages with symlinks check them here too."""
        return self.fs_path(path)

    # --- running filesystem methods -------------------------------------------------------

    async def filesystem(self) -> AbstractFileSystem:
        raise NotImplementedError

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run filesystem method *name* without blocking the loop."""
        raise NotImplementedError

    # --- operations -----------------------------------------------------------------------

    async def info(self, path: str) -> dict[str, Any]:
        try:
            info: dict[str, Any] = await self.call("info", path)
        except FileNotFoundError:
            if self.is_root(path):  # the root is a directory even before it holds anything
                return {"name": path, "type": "directory", "size": 0}
            raise
        return info

    async def ls(self, path: str, user_root: PurePath | None = None) -> list[dict[str, Any]]:
        """Entries of directory *path* (itself and marker objects left out), one call.

        With *user_root*, storages with symlinks leave out entries that lead outside it.
        """
        try:
            entries: list[dict[str, Any]] = await self.call("ls", path, detail=True)
        except FileNotFoundError:
            if self.is_root(path):
                return []
            raise
        own = path.rstrip("/")
        result = []
        for entry in entries:
            name = str(entry.get("name", ""))
            if name == own and not is_directory(entry):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            if name.rstrip("/") == own:
                continue  # a directory marker, or the directory listed as itself
            result.append(entry)
        return result

    async def mkdir(self, path: str, parents: bool) -> None:
        if self.profile.marker_directories:
            await self.call("pipe_file", path + "/", b"")
        else:
            await self.call("mkdir", path, create_parents=parents)

    async def rmdir(self, path: str) -> None:
        if self.profile.marker_directories:
            with contextlib.suppress(FileNotFoundError):
                await self.call("rm_file", path + "/")
            await self.keep_parent(path)
        else:
            await self.call("rmdir", path)

    async def rm_file(self, path: str) -> None:
        await self.call("rm_file", path)
        await self.keep_parent(path)

    async def keep_parent(self, path: str) -> None:
        """On object stores, keep the parent of a removed entry as a directory.

        A directory there exists only while some key is under it; removing its last
        entry would make it vanish, so its marker is (re)written.
        """
        if not self.profile.marker_directories:
            return
        parent = posixpath.dirname(path.rstrip("/"))
        if parent and not self.is_root(parent) and parent.startswith(self.root):
            await self.call("pipe_file", parent + "/", b"")

    async def move_file(self, source: str, destination: str) -> None:
        await self.call("mv", source, destination)
        await self.keep_parent(source)

    async def move_dir(self, source: str, destination: str) -> None:
        if not self.profile.marker_directories:
            await self.call("mv", source, destination, recursive=True)
            return
        prefix = source.rstrip("/") + "/"
        keys = [
            key for key in await self.call("find", source, withdirs=False) if key.startswith(prefix)
        ]
        semaphore = asyncio.Semaphore(_MOVE_CONCURRENCY)

        async def copy(key: str) -> None:
            async with semaphore:
                new = destination + "/" + key[len(prefix) :]
                if key.endswith("/"):  # a directory marker
                    await self.call("pipe_file", new, b"")
                else:
                    await self.call("cp_file", key, new)

        async def remove_marker(key: str) -> None:
            async with semaphore:
                await self.call("rm_file", key)

        await asyncio.gather(*(copy(key) for key in keys))
        await self.call("pipe_file", destination + "/", b"")
        files = [key for key in keys if not key.endswith("/")]
        if files:
            await self.call("rm", files)
        await asyncio.gather(*(remove_marker(key) for key in keys if key.endswith("/")))
        await self.keep_parent(source)

    async def cat_range(self, path: str, start: int, end: int) -> bytes:
        data: bytes = await self.call("cat_file", path, start=start, end=end)
        return data

    async def set_mtime(self, path: str, mtime: float) -> None:
        raise NotImplementedError(f"{self.profile.kind} filesystems can not set mtime")

    async def chmod(self, path: str, mode: int) -> None:
        raise NotImplementedError(f"{self.profile.kind} filesystems have no permissions")

    # --- files ----------------------------------------------------------------------------

    async def open_read(self, path: str, info: dict[str, Any]) -> FileHandle:
        size = int(info.get("size") or 0)

        async def fetch(start: int, end: int) -> bytes:
            return await self.cat_range(path, start, end)

        return RangeReader(fetch, size, self.settings.read_chunk_size)

    def abort_policy(self, mode: str) -> AbortPolicy:
        if self.profile.kind == "object":
            return "discard"
        if self.profile.kind == "memory":
            return "remove" if mode == "wb" else "close"
        return "close"

    async def open_write(self, path: str, mode: str) -> FileHandle:
        fs = await self.filesystem()
        raw = await self.offloader.run(
            fs.open, path, mode, block_size=self.settings.write_block_size
        )
        policy = self.abort_policy(mode)
        if policy == "discard" and not hasattr(raw, "discard"):
            policy = "close"

        async def remove() -> None:
            await self.rm_file(path)

        return ThreadedFile(raw, self.offloader, mode, abort_policy=policy, remove=remove)

    async def close(self) -> None:
        await self.offloader.drain(_DRAIN_TIMEOUT)
        self.offloader.shutdown()


class ThreadStorage(Storage):
    """A synchronous filesystem driven from the thread pool."""

    def __init__(self, target: Target, profile: Profile, settings: Settings) -> None:
        super().__init__(target, profile, settings)
        self._fs: AbstractFileSystem | None = None
        self._lock = threading.Lock()

    def _build(self) -> AbstractFileSystem:
        with self._lock:
            if self._fs is None:
                options = dict(self.target.storage_options)
                if self.target.chained:
                    fs, root = fsspec.core.url_to_fs(self.target.url, **options)
                    self.root = str(root).rstrip("/") or str(root)
                else:
                    options.setdefault("skip_instance_cache", True)
                    fs = self.target.fs_class(**options)
                self._fs = fs
            return self._fs

    async def filesystem(self) -> AbstractFileSystem:
        if self._fs is not None:
            return self._fs
        return await self.offloader.run(self._build)

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fs = await self.filesystem()
        return await self.offloader.run(getattr(fs, name), *args, **kwargs)

    async def open_read(self, path: str, info: dict[str, Any]) -> FileHandle:
        if self.profile.kind == "memory":
            # Memory files are shared objects with one position: read by ranges instead.
            return await super().open_read(path, info)
        fs = await self.filesystem()
        raw = await self.offloader.run(
            fs.open, path, "rb", block_size=self.settings.read_chunk_size
        )
        return ThreadedFile(raw, self.offloader, "rb")


class LocalStorage(ThreadStorage):
    """The local disk: fsspec for listings, the OS for the rest, all off the loop.

    Paths are resolved in a worker thread: the parent with symlinks followed, the last
    component kept (so a link itself can be renamed or removed), and both the result and
    its full resolution must lie inside the URL's directory and the user's root. The
    served root is its resolved form, so every path here is canonical.
    """

    def __init__(self, target: Target, profile: Profile, settings: Settings) -> None:
        super().__init__(target, profile, settings)
        self.root = os.path.realpath(self.root or "/")

    def fs_path(self, path: PurePath) -> str:
        """*path* joined to the root, ``.`` dropped but ``..`` kept for :meth:`resolve`."""
        parts = [p for p in PurePosixPath(path).as_posix().split("/") if p not in ("", ".")]
        return posixpath.join(self.root, *parts) if parts else self.root

    def _roots(self, user_root: PurePath | None) -> list[str]:
        roots = [self.root]
        if user_root is not None:
            roots.append(os.path.realpath(self.fs_path(user_root)))
        return roots

    def _resolve(self, raw: str, roots: list[str]) -> str:
        head, leaf = posixpath.split(raw)
        full = os.path.realpath(raw)
        resolved = full if leaf in ("", "..") else posixpath.join(os.path.realpath(head), leaf)
        for root in roots:
            for candidate in (resolved, full):
                if not is_inside(candidate, root):
                    raise PathOutsideRootError(raw, root)
        return resolved

    async def resolve(self, path: PurePath, user_root: PurePath | None) -> str:
        return await self.offloader.run(self._resolve, self.fs_path(path), self._roots(user_root))

    async def ls(self, path: str, user_root: PurePath | None = None) -> list[dict[str, Any]]:
        entries = await super().ls(path)
        if not any(entry.get("islink") for entry in entries):
            return entries
        roots = self._roots(user_root)

        def visible() -> list[dict[str, Any]]:
            return [
                entry
                for entry in entries
                if not entry.get("islink")
                or all(is_inside(os.path.realpath(str(entry["name"])), root) for root in roots)
            ]

        return await self.offloader.run(visible)

    async def move_file(self, source: str, destination: str) -> None:
        await self.offloader.run(os.replace, source, destination)

    async def move_dir(self, source: str, destination: str) -> None:
        await self.offloader.run(os.replace, source, destination)

    async def rmdir(self, path: str) -> None:
        await self.offloader.run(os.rmdir, path)

    async def set_mtime(self, path: str, mtime: float) -> None:
        def utime() -> None:
            os.utime(path, (os.stat(path).st_atime, mtime))

        await self.offloader.run(utime)

    async def chmod(self, path: str, mode: int) -> None:
        await self.offloader.run(os.chmod, path, mode & 0o7777)

    async def open_read(self, path: str, info: dict[str, Any]) -> FileHandle:
        raw = await self.offloader.run(open, path, "rb")
        return ThreadedFile(raw, self.offloader, "rb")

    async def open_write(self, path: str, mode: str) -> FileHandle:
        raw = await self.offloader.run(open, path, mode)
        return ThreadedFile(raw, self.offloader, mode, abort_policy="close")


def is_inside(path: str, root: str) -> bool:
    """Whether the resolved *path* is *root* or below it (both resolved)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def contain_real(path: str, real_root: str) -> None:
    """Raise PathOutsideRootError unless *path*, symlinks resolved, is inside *real_root*."""
    if not is_inside(os.path.realpath(path), real_root):
        raise PathOutsideRootError(path, real_root)


class AsyncStorage(Storage):
    """An async filesystem whose coroutine methods run on the server's event loop.

    One instance per event loop, made on that loop; its ``_loop`` is that loop too, so its
    blocking file objects (used from the thread pool for writing) send their requests back
    to the loop instead of to fsspec's own I/O thread.
    """

    def __init__(self, target: Target, profile: Profile, settings: Settings) -> None:
        super().__init__(target, profile, settings)
        self._instances: WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AbstractFileSystem, Any]
        ] = WeakKeyDictionary()
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )

    async def filesystem(self) -> AbstractFileSystem:
        loop = asyncio.get_running_loop()
        made = self._instances.get(loop)
        if made is not None:
            return made[0]
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            made = self._instances.get(loop)
            if made is None:
                options = dict(self.target.storage_options)
                options.setdefault("skip_instance_cache", True)
                fs = self.target.fs_class(asynchronous=True, **options)
                fs._loop = loop  # file objects call back into this loop from threads
                session = None
                set_session = getattr(fs, "set_session", None)
                if set_session is not None:
                    session = await set_session()
                made = self._instances[loop] = (fs, session)
        return made[0]

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        fs = await self.filesystem()
        method: Callable[..., Awaitable[Any]] = getattr(fs, "_" + name)
        return await method(*args, **kwargs)

    async def move_file(self, source: str, destination: str) -> None:
        fs = await self.filesystem()
        if hasattr(fs, "_mv_file"):
            await self.call("mv_file", source, destination)
        else:
            await self.call("cp_file", source, destination)
            await self.call("rm_file", source)
        await self.keep_parent(source)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await self.offloader.drain(_DRAIN_TIMEOUT)  # file objects still need the session
        made = self._instances.pop(loop, None)
        self._instances.clear()
        if made is not None:
            await _close_session(made[1])
        await super().close()


async def _close_session(session: Any) -> None:
    close = getattr(session, "close", None)
    if close is None:
        return
    result = close()
    if inspect.isawaitable(result):
        await result


def make_storage(target: Target, profile: Profile, settings: Settings) -> Storage:
    """The storage class that fits *target*."""
    if profile.kind == "local":
        return LocalStorage(target, profile, settings)
    if target.is_async:
        return AsyncStorage(target, profile, settings)
    return ThreadStorage(target, profile, settings)
