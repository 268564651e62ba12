# Blocking calls on the event loop are this backend's design (see the docstring).
# ruff: noqa: ASYNC240
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
from collections.abc import AsyncIterator
from pathlib import PurePath
from typing import BinaryIO, ClassVar

from anyftp import localfs
from anyftp.pathio import AbstractPathIO, AsyncLister, Capabilities, StatLike

__all__ = ("PathIO",)


class PathIO(AbstractPathIO):
    """The local filesystem, blocking calls."""

    capabilities: ClassVar[Capabilities] = localfs.CAPABILITIES
    path_class: ClassVar[type[PurePath]] = pathlib.Path

    def contain(self, path: PurePath) -> None:
        localfs.contain(path, self.root)

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
        localfs.unlink_file(path)

    async def stat(self, path: PurePath) -> StatLike:
        return os.stat(path)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        os.replace(source, destination)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            base = pathlib.Path(path)
            root = self.root
            with os.scandir(path) as iterator:
                for entry in iterator:
                    if localfs.visible(entry, root):
                        yield base / entry.name

        return AsyncLister(entries())

    def _scan(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        """``(name, stat)`` of the visible entries of *path*, in one ``os.scandir``."""
        return localfs.scan_with_stats(path, self.root)

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        base = pathlib.Path(path)
        return [(base / name, info) for name, info in self._scan(path)]

    async def list_names_with_stats(self, path: PurePath) -> builtins.list[tuple[str, StatLike]]:
        if type(self).list_with_stats is not PathIO.list_with_stats:
            # A subclass changed what is listed: take its entries.
            return await AbstractPathIO.list_names_with_stats(self, path)
        return self._scan(path)

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        localfs.set_mtime(path, mtime)

    async def chmod(self, path: PurePath, mode: int) -> None:
        localfs.chmod(path, mode)

    async def _open(self, path: PurePath, mode: str) -> BinaryIO:
        return localfs.open_binary(path, mode)

    async def read(self, file: BinaryIO, block_size: int = -1) -> bytes:
        return file.read(block_size) or b""

    async def write(self, file: BinaryIO, data: bytes | bytearray | memoryview) -> None:
        localfs.write_all(file, data)

    def write_sync(self, file: BinaryIO, data: memoryview) -> None:
        localfs.write_all(file, data)

    async def seek(self, file: BinaryIO, offset: int, whence: int = io.SEEK_SET) -> int:
        return file.seek(offset, whence)

    async def close(self, file: BinaryIO) -> None:
        file.close()

    def fileno(self, file: BinaryIO) -> int:
        return file.fileno()
