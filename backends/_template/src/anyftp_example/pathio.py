"""ExamplePathIO: TEMPLATE - a working reference backend that keeps files in a dict.

Replace the dict operations with calls to your storage, method by method, and keep the
conformance tests green. The contract every method keeps (see ``anyftp.pathio``):

* Paths arrive as ``PurePosixPath`` (``path_class``); relative ones are relative to the
  top of your namespace. The server builds them as ``user.base_path / virtual_path``.
* Raise plain builtin errors - ``FileNotFoundError``, ``FileExistsError``,
  ``NotADirectoryError``, ``IsADirectoryError``, ``OSError(errno.ENOTEMPTY)`` - exactly
  where the local disk would. The base class wraps them in ``PathIOError`` (keeping the
  original as ``cause``), applies ``timeout`` and checks ``root`` containment before your
  method runs.
* Declare in ``capabilities`` what you can not do; the base class refuses an optional
  method you do not implement (``set_mtime``, ``chmod``) with a ``PathIOError``.
* Per-server things (clients, connection pools, the store itself) belong in the state
  that ``create_state`` makes from the backend options; ``close_state`` releases them.
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

__all__ = ("ExampleFile", "ExamplePathIO", "ExampleState")


@dataclass
class ExampleState:
    """TEMPLATE: per-server state; here the whole store, for real storage a client."""

    files: dict[str, tuple[bytes, float]] = field(default_factory=dict)
    dirs: dict[str, float] = field(default_factory=lambda: {"/": time.time()})


@dataclass
class ExampleFile:
    """An open file: TEMPLATE - for real storage, a stream, an upload or a download."""

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


class ExamplePathIO(AbstractPathIO):
    """TEMPLATE: one line on what this backend stores and where."""

    # TEMPLATE: declare honestly; set a flag to True once the feature works.
    capabilities: ClassVar[Capabilities] = Capabilities(
        set_mtime=False,  # set_mtime() not implemented: MFMT is refused
        append=True,  # open(path, "ab")
        seek_write=False,  # open(path, "r+b") refused: no STOR after REST
        empty_directories=True,
        file_descriptor=False,  # no real fileno(): no sendfile
        chmod=False,  # chmod() not implemented: SITE CHMOD is refused
        rename_directories=False,  # rename() of a directory is refused
        concurrent_writes=True,
    )
    path_class: ClassVar[type[PurePath]] = PurePosixPath

    # --- shared state ---------------------------------------------------------------------

    @classmethod
    def create_state(cls, **options: Any) -> ExampleState:
        """TEMPLATE: take your options as keywords; refuse unknown ones with TypeError."""
        if options:
            raise TypeError(f"{cls.__name__} takes no options, got {sorted(options)}")
        return ExampleState()

    @classmethod
    async def close_state(cls, state: Any) -> None:
        """TEMPLATE: close clients and pools made by create_state."""

    @property
    def store(self) -> ExampleState:
        if self.state is None:  # made without a server: its own state (aioftp style)
            self.state = self.create_state()
        state: ExampleState = self.state
        return state

    # --- helpers --------------------------------------------------------------------------

    def _check_parent(self, key: str) -> None:
        """FileNotFoundError / NotADirectoryError unless *key*'s parent is a directory."""
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

    # --- path operations ------------------------------------------------------------------

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
        if src in self.store.dirs:  # capabilities.rename_directories is False
            raise _error(OSError, errno.EXDEV, f"{src}: directories can not be renamed")
        if src not in self.store.files:
            raise _error(FileNotFoundError, errno.ENOENT, src)
        if dst in self.store.dirs:
            raise _error(IsADirectoryError, errno.EISDIR, dst)
        self._check_parent(dst)
        if src != dst:
            self.store.files[dst] = self.store.files.pop(src)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        # TEMPLATE: if your storage returns entries with their sizes and times in one call,
        # implement list_with_stats instead (or as well): listings then cost one call.
        async def entries() -> AsyncIterator[PurePath]:
            for child in self._children(_key(path)):
                yield path / posixpath.basename(child)

        return AsyncLister(entries())

    # --- files ----------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> ExampleFile:
        key = _key(path)
        if key in self.store.dirs:
            raise _error(IsADirectoryError, errno.EISDIR, key)
        if mode not in ("rb", "wb", "ab"):  # capabilities.seek_write is False
            raise io.UnsupportedOperation(f"mode {mode!r} is not supported")
        self._check_parent(key)
        if mode == "wb" or (mode == "ab" and key not in self.store.files):
            return ExampleFile(key, mode, bytearray())
        if key not in self.store.files:
            raise _error(FileNotFoundError, errno.ENOENT, key)
        data = bytearray(self.store.files[key][0])
        return ExampleFile(key, mode, data, len(data) if mode == "ab" else 0)

    async def read(self, file: ExampleFile, block_size: int = -1) -> bytes:
        if file.closed:
            raise ValueError("I/O operation on closed file")
        if file.mode != "rb":
            raise io.UnsupportedOperation("not readable")
        end = len(file.data) if block_size < 0 else file.position + block_size
        chunk = bytes(file.data[file.position : end])
        file.position += len(chunk)
        return chunk

    async def write(self, file: ExampleFile, data: bytes | bytearray | memoryview) -> None:
        if file.closed:
            raise ValueError("I/O operation on closed file")
        if file.mode == "rb":
            raise io.UnsupportedOperation("not writable")
        file.data += data  # "wb" and "ab" only: every write goes to the end

    async def seek(self, file: ExampleFile, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: file.position, io.SEEK_END: len(file.data)}
        target = start[whence] + offset
        if target < 0:
            raise _error(OSError, errno.EINVAL, file.key)
        file.position = target
        return target

    async def close(self, file: ExampleFile) -> None:
        """Written data becomes visible under its name only now."""
        if not file.closed and file.mode != "rb":
            self.store.files[file.key] = (bytes(file.data), time.time())
        file.closed = True

    async def abort(self, file: ExampleFile) -> None:
        """After a failed transfer: nothing written becomes visible."""
        file.closed = True
