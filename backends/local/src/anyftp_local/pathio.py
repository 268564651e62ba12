# Blocking calls on the event loop are this backend's design (see the docstring).
# ruff: noqa: ASYNC230, ASYNC240
"""PathIO: the local disk with plain blocking calls (aioftp's ``PathIO``).

Calls run on the event loop thread. On a local SSD with the page cache warm they take
microseconds, which is cheaper than a hop to a thread; for slow or network disks use the
``threadpool`` backend. Files expose their descriptor, so the server sends them with
``os.sendfile``. With ``root`` set, every path is resolved (symlinks followed) and must
stay inside the root.
"""

from __future__ import annotations

import builtins
import io
import os
import pathlib
import stat as stat_module
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import BinaryIO, ClassVar, cast

from anyftp.pathio import (
    AbstractPathIO,
    AsyncLister,
    Capabilities,
    StatLike,
    contain_resolved,
    inside_without_links,
    is_inside_resolved,
)

__all__ = ("PathIO",)


def contain_real(path: PurePath, root: PurePath) -> None:
    """Raise PathOutsideRootError unless *path*, symlinks resolved, is inside *root*.

    The last component may not exist yet (STOR, MKD); its parent must then be inside.
    """
    if not inside_without_links(path, root):
        contain_resolved(path, root)


class PathIO(AbstractPathIO):
    """The local filesystem, blocking calls."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        set_mtime=True,
        append=True,
        seek_write=True,
        empty_directories=True,
        file_descriptor=True,
        chmod=True,
        rename_directories=True,
        concurrent_writes=True,
    )
    path_class: ClassVar[type[PurePath]] = pathlib.Path

    def contain(self, path: PurePath) -> None:
        root = self.root
        if root is not None and not inside_without_links(path, root):
            contain_resolved(path, root)  # a symlink (or ``..``) to follow: resolve

    def _visible(self, base: PurePath, entry: os.DirEntry[str]) -> bool:
        """With a root, entries that are symlinks leading outside it are not listed."""
        return (
            self.root is None
            or not entry.is_symlink()
            or is_inside_resolved(base / entry.name, self.root)
        )

    async def exists(self, path: PurePath) -> bool:
        return os.path.exists(path)

    async def is_dir(self, path: PurePath) -> bool:
        return os.path.isdir(path)

    async def is_file(self, path: PurePath) -> bool:
        return os.path.isfile(path)

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        pathlib.Path(path).mkdir(parents=parents, exist_ok=exist_ok)

    async def rmdir(self, path: PurePath) -> None:
        os.rmdir(path)

    async def unlink(self, path: PurePath) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            raise IsADirectoryError(21, "Is a directory", str(path))
        os.unlink(path)

    async def stat(self, path: PurePath) -> StatLike:
        return os.stat(path)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        os.replace(source, destination)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            base = pathlib.Path(path)
            with os.scandir(path) as iterator:
                for entry in iterator:
                    if self._visible(base, entry):
                        yield base / entry.name

        return AsyncLister(entries())

    def _scan(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        """``(name, stat)`` of the visible entries of *path*, in one ``os.scandir``."""
        root = self.root
        result: builtins.list[tuple[str, StatLike]] = []
        append = result.append
        with os.scandir(path) as iterator:
            for entry in iterator:
                # A symlink leading outside the root is not shown (d_type: no syscall).
                if (
                    root is not None
                    and entry.is_symlink()
                    and not is_inside_resolved(entry.path, root)
                ):
                    continue
                try:
                    append((entry.name, entry.stat()))
                except FileNotFoundError:
                    continue  # removed while listing, or a dangling symlink
        return result

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        base = pathlib.Path(path)
        return [(base / name, info) for name, info in self._scan(path)]

    async def list_names_with_stats(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        if type(self).list_with_stats is not PathIO.list_with_stats:
            # A subclass changed what is listed: take its entries.
            return await AbstractPathIO.list_names_with_stats(self, path)
        return self._scan(path)

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        st = os.stat(path)
        os.utime(path, (st.st_atime, mtime))

    async def chmod(self, path: PurePath, mode: int) -> None:
        os.chmod(path, stat_module.S_IMODE(mode))

    async def _open(self, path: PurePath, mode: str) -> BinaryIO:
        if mode == "rb+":
            mode = "r+b"
        return cast(BinaryIO, open(path, mode, buffering=0))

    async def read(self, file: BinaryIO, block_size: int = -1) -> bytes:
        return file.read(block_size) or b""

    async def write(self, file: BinaryIO, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = file.write(view)
            if written is None:  # pragma: no cover - only non-blocking files
                raise BlockingIOError("write would block")
            view = view[written:]

    async def seek(self, file: BinaryIO, offset: int, whence: int = io.SEEK_SET) -> int:
        return file.seek(offset, whence)

    async def close(self, file: BinaryIO) -> None:
        file.close()

    def fileno(self, file: BinaryIO) -> int:
        return file.fileno()
