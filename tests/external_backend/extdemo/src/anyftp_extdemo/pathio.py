"""DictPathIO: a flat dict of files plus a dict of directories.

Small on purpose, and it declares what it can not do: set times, change modes, write in
place, rename directories or give file descriptors. The conformance suite then checks that
those operations are refused with a PathIOError.
"""

from __future__ import annotations

import errno
import io
import posixpath
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePath, PurePosixPath
from typing import Any, ClassVar

from anyftp.pathio import AbstractPathIO, AsyncLister, Capabilities, PathStat, StatLike


@dataclass
class DictState:
    files: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    dirs: dict[str, float] = field(default_factory=lambda: {"/": time.time()})


@dataclass
class DictFile:
    key: str
    mode: str
    data: bytearray
    position: int = 0
    closed: bool = False


def _key(path: PurePath) -> str:
    text = PurePosixPath(path).as_posix()
    return posixpath.normpath(text if text.startswith("/") else "/" + text)


def _error(cls: type[OSError], code: int, key: str) -> OSError:
    return cls(code, errno.errorcode[code], key)


class DictPathIO(AbstractPathIO):
    capabilities: ClassVar[Capabilities] = Capabilities(
        set_mtime=False,
        append=True,
        seek_write=False,
        empty_directories=True,
        file_descriptor=False,
        chmod=False,
        rename_directories=False,
        concurrent_writes=True,
    )

    @classmethod
    def create_state(cls, **options: Any) -> DictState:
        if options:
            raise TypeError(f"DictPathIO takes no options, got {sorted(options)}")
        return DictState()

    @property
    def store(self) -> DictState:
        if self.state is None:
            self.state = DictState()
        state: DictState = self.state
        return state

    def _check_parent(self, key: str) -> None:
        parent = posixpath.dirname(key)
        if parent in self.store.dirs:
            return
        while parent != "/":
            if parent in self.store.files:
                raise _error(NotADirectoryError, errno.ENOTDIR, key)
            parent = posixpath.dirname(parent)
        raise _error(FileNotFoundError, errno.ENOENT, key)

    def _children(self, key: str) -> list[str]:
        if key in self.store.files:
            raise _error(NotADirectoryError, errno.ENOTDIR, key)
        if key not in self.store.dirs:
            raise _error(FileNotFoundError, errno.ENOENT, key)
        names = [*self.store.files, *self.store.dirs]
        return [n for n in names if n != key and posixpath.dirname(n) == key]

    async def exists(self, path: PurePath) -> bool:
        key = _key(path)
        return key in self.store.files or key in self.store.dirs

    async def is_dir(self, path: PurePath) -> bool:
        return _key(path) in self.store.dirs

    async def is_file(self, path: PurePath) -> bool:
        return _key(path) in self.store.files

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        key = _key(path)
        if key in self.store.dirs and exist_ok:
            return
        if key in self.store.dirs or key in self.store.files:
            raise _error(FileExistsError, errno.EEXIST, key)
        parent = posixpath.dirname(key)
        if parents and parent not in self.store.dirs:
            await self.mkdir(PurePosixPath(parent), parents=True, exist_ok=True)
        self._check_parent(key)
        self.store.dirs[key] = time.time()

    async def rmdir(self, path: PurePath) -> None:
        key = _key(path)
        if self._children(key):
            raise _error(OSError, errno.ENOTEMPTY, key)
        del self.store.dirs[key]

    async def unlink(self, path: PurePath) -> None:
        key = _key(path)
        if key in self.store.dirs:
            raise _error(IsADirectoryError, errno.EISDIR, key)
        if self.store.files.pop(key, None) is None:
            raise _error(FileNotFoundError, errno.ENOENT, key)

    async def stat(self, path: PurePath) -> StatLike:
        key = _key(path)
        if key in self.store.files:
            data, mtime = self.store.files[key]
            return PathStat.for_file(len(data), mtime)
        if key in self.store.dirs:
            return PathStat.for_dir(self.store.dirs[key])
        raise _error(FileNotFoundError, errno.ENOENT, key)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        src, dst = _key(source), _key(destination)
        if src in self.store.dirs:
            raise _error(OSError, errno.EXDEV, f"{src}: directories can not be renamed")
        if src not in self.store.files:
            raise _error(FileNotFoundError, errno.ENOENT, src)
        if dst in self.store.dirs:
            raise _error(IsADirectoryError, errno.EISDIR, dst)
        self._check_parent(dst)
        if src != dst:
            self.store.files[dst] = self.store.files.pop(src)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            for child in self._children(_key(path)):
                yield path / posixpath.basename(child)

        return AsyncLister(entries())

    async def _open(self, path: PurePath, mode: str) -> DictFile:
        key = _key(path)
        if key in self.store.dirs:
            raise _error(IsADirectoryError, errno.EISDIR, key)
        if mode != "rb" and mode != "wb" and mode != "ab":
            raise io.UnsupportedOperation(f"mode {mode!r} is not supported")
        if mode == "wb":
            self._check_parent(key)
            return DictFile(key, mode, bytearray())
        if key not in self.store.files:
            if mode == "ab":
                self._check_parent(key)
                return DictFile(key, mode, bytearray())
            self._check_parent(key)
            raise _error(FileNotFoundError, errno.ENOENT, key)
        data = bytearray(self.store.files[key][0])
        return DictFile(key, mode, data, len(data) if mode == "ab" else 0)

    async def read(self, file: DictFile, block_size: int = -1) -> bytes:
        if file.closed:
            raise ValueError("I/O operation on closed file")
        if file.mode != "rb":
            raise io.UnsupportedOperation("not readable")
        end = len(file.data) if block_size < 0 else file.position + block_size
        chunk = bytes(file.data[file.position : end])
        file.position += len(chunk)
        return chunk

    async def write(self, file: DictFile, data: bytes | bytearray | memoryview) -> None:
        if file.closed:
            raise ValueError("I/O operation on closed file")
        if file.mode == "rb":
            raise io.UnsupportedOperation("not writable")
        file.data += data  # wb and ab only: writes always go to the end

    async def seek(self, file: DictFile, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: file.position, io.SEEK_END: len(file.data)}
        target = base[whence] + offset
        if target < 0:
            raise _error(OSError, errno.EINVAL, file.key)
        file.position = target
        return target

    async def close(self, file: DictFile) -> None:
        if not file.closed and file.mode != "rb":
            self.store.files[file.key] = (bytes(file.data), time.time())
        file.closed = True

    async def abort(self, file: DictFile) -> None:
        file.closed = True  # nothing written becomes visible
