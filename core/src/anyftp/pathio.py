"""AbstractPathIO: the one interface every storage backend implements.

The server never touches storage except through these methods, and the client uses the
same interface for its local side. The contract, in short:

* Paths are ``pathlib.PurePath`` objects in the backend's own namespace (real local paths
  for the local backends, POSIX paths for memory and object stores). The server builds them
  as ``user.base_path / virtual_path.relative_to("/")``.
* Every coroutine method below may raise only :class:`anyftp.errors.PathIOError`; the
  wrapper installed by :meth:`AbstractPathIO.__init_subclass__` turns any other exception
  into one that keeps the original as its ``reason``, and applies ``timeout``. A backend
  author writes plain code and raises plain ``OSError``/``FileNotFoundError``.
* With ``root`` set, every path given to a method must resolve inside ``root``; the check
  (:meth:`AbstractPathIO.contain`) is lexical here and follows symlinks on backends where
  the namespace has them (local disk).
* ``open()`` returns an object that is both awaitable and an async context manager; it
  yields an :class:`AsyncFile`. Leaving the ``async with`` block through an exception
  *aborts* the file (:meth:`AbstractPathIO.abort`), which an object store uses to drop a
  half-written upload instead of publishing it.
* :attr:`AbstractPathIO.capabilities` states what the backend can do; the conformance suite
  and the server (FEAT, MFMT, SITE CHMOD, sendfile) read it instead of probing.
* Per-server shared state (an in-memory tree, an S3 client) is made once by
  :meth:`AbstractPathIO.create_state` from the backend options and handed to every
  instance; :meth:`AbstractPathIO.close_state` releases it when the server closes.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import inspect
import io
import os
import posixpath
import stat as stat_module
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from types import TracebackType
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from .errors import PathIOError, PathOutsideRootError

__all__ = (
    "AbstractPathIO",
    "AsyncFile",
    "AsyncPathIOContext",
    "AsyncLister",
    "Capabilities",
    "PathStat",
    "StatLike",
    "DEFAULT_BLOCK_SIZE",
)

#: Block size used when a caller does not give one. Large on purpose: throughput is
#: decided by how many Python-level steps each byte takes.
DEFAULT_BLOCK_SIZE = 256 * 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do. Tests and the server read these flags; nothing is probed.

    ``set_mtime``          :meth:`AbstractPathIO.set_mtime` works (MFMT).
    ``append``             ``open(path, "ab")`` appends (APPE).
    ``seek_write``         ``open(path, "r+b")`` then ``seek`` and write in place (STOR after REST).
    ``empty_directories``  an empty directory made by ``mkdir`` is listed and survives.
    ``file_descriptor``    file objects opened for reading expose a real ``fileno()``
                           usable with ``os.sendfile``.
    ``chmod``              :meth:`AbstractPathIO.chmod` works (SITE CHMOD).
    ``rename_directories`` ``rename`` moves whole directories.
    ``concurrent_writes``  two files may be open for writing at once.
    """

    set_mtime: bool = False
    append: bool = True
    seek_write: bool = True
    empty_directories: bool = True
    file_descriptor: bool = False
    chmod: bool = False
    rename_directories: bool = True
    concurrent_writes: bool = True


@runtime_checkable
class StatLike(Protocol):
    """The part of ``os.stat_result`` the server and client read."""

    @property
    def st_size(self) -> int: ...
    @property
    def st_mtime(self) -> float: ...
    @property
    def st_ctime(self) -> float: ...
    @property
    def st_nlink(self) -> int: ...
    @property
    def st_mode(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PathStat:
    """A stat result for backends without ``os.stat_result`` (memory, object stores)."""

    st_size: int
    st_mtime: float
    st_ctime: float
    st_nlink: int
    st_mode: int
    st_ino: int = 0
    st_dev: int = 0
    st_uid: int = 0
    st_gid: int = 0

    @classmethod
    def for_file(cls, size: int, mtime: float, ctime: float | None = None,
                 mode: int = 0o644) -> PathStat:
        return cls(size, mtime, mtime if ctime is None else ctime, 1,
                   stat_module.S_IFREG | mode)

    @classmethod
    def for_dir(cls, mtime: float, ctime: float | None = None, mode: int = 0o755,
                nlink: int = 2) -> PathStat:
        return cls(0, mtime, mtime if ctime is None else ctime, nlink,
                   stat_module.S_IFDIR | mode)


# Methods whose exceptions are normalised to PathIOError and whose duration is bounded by
# ``timeout``. The number is how many leading arguments are paths to contain in ``root``.
_WRAPPED_PATH_METHODS: dict[str, int] = {
    "exists": 1, "is_dir": 1, "is_file": 1, "mkdir": 1, "rmdir": 1, "unlink": 1,
    "stat": 1, "list_with_stats": 1, "rename": 2, "set_mtime": 1, "chmod": 1, "_open": 1,
    "list_names_with_stats": 1,
}
_WRAPPED_FILE_METHODS = ("read", "write", "seek", "close", "abort")


def _path_parameters(method: Callable[..., Any], n_paths: int) -> tuple[str, ...]:
    """Names of the first *n_paths* parameters after ``self`` (paths may come as keywords)."""
    try:
        parameters = list(inspect.signature(method).parameters)[1:]
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return ()
    return tuple(parameters[:n_paths])


def _normalise(name: str, method: Callable[..., Awaitable[Any]], n_paths: int
               ) -> Callable[..., Awaitable[Any]]:
    names = _path_parameters(method, n_paths)

    @functools.wraps(method)
    async def wrapper(self: AbstractPathIO, *args: Any, **kwargs: Any) -> Any:
        try:
            if self.root is not None and not self.contains_paths_itself:
                for path in args[:n_paths]:
                    self.contain(path)
                for key in names[len(args):]:
                    if key in kwargs:
                        self.contain(kwargs[key])
            if self.timeout is None:
                return await method(self, *args, **kwargs)
            async with asyncio.timeout(self.timeout):
                return await method(self, *args, **kwargs)
        except PathIOError:
            raise
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise _path_error(name, exc) from exc

    wrapper.__anyftp_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


def _path_error(name: str, exc: Exception) -> PathIOError:
    """The PathIOError a backend's plain exception from method *name* becomes."""
    return PathIOError.from_exception(exc, f"{name} failed: {type(exc).__name__}: {exc}")


def _normalise_iterator(method: Callable[..., AsyncIterator[Any]]
                        ) -> Callable[..., AsyncLister[Any]]:
    @functools.wraps(method)
    def wrapper(self: AbstractPathIO, path: PurePath) -> AsyncLister[Any]:
        async def guarded() -> AsyncIterator[Any]:
            try:
                if self.root is not None and not self.contains_paths_itself:
                    self.contain(path)
                async for item in method(self, path):
                    yield item
            except PathIOError:
                raise
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:
                raise PathIOError.from_exception(exc) from exc

        return AsyncLister(guarded())

    wrapper.__anyftp_wrapped__ = True  # type: ignore[attr-defined]
    return wrapper


class AsyncLister(AsyncIterator[T], Awaitable[list[T]]):
    """An async iterator that can also be awaited for the whole list (as in aioftp)."""

    __slots__ = ("_iterator",)

    def __init__(self, iterator: AsyncIterator[T]) -> None:
        self._iterator = iterator

    def __aiter__(self) -> AsyncLister[T]:
        return self

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def _collect(self) -> list[T]:
        return [item async for item in self._iterator]

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._collect().__await__()


class AbstractPathIO:
    """Base class of every storage backend. See the module docstring for the contract.

    Subclasses implement the ``async`` methods marked *abstract* below. ``list`` and
    ``list_with_stats`` each have a default written in terms of the other (plus ``stat``),
    so a backend implements at least one of them; implementing ``list_with_stats`` with one
    storage call per directory is what makes listings fast.
    """

    #: What this backend can do.
    capabilities: ClassVar[Capabilities] = Capabilities()
    #: Path class of the backend's namespace (``pathlib.Path`` for the local disk).
    path_class: ClassVar[type[PurePath]] = PurePosixPath
    #: ``True`` when the backend checks ``root`` containment inside each method itself
    #: (e.g. in a worker thread, where resolving symlinks may block); the wrapper then
    #: skips its own call to :meth:`contain`.
    contains_paths_itself: ClassVar[bool] = False
    #: Optional, for backends whose ``write`` never waits (the local disk):
    #: ``write_sync(file, data)``, the same store as :meth:`write`, done at once in the
    #: caller. The server then stores a clear binary upload from the event loop's reader
    #: callback (one socket read, one store per readiness; no task step per block).
    #: *data* is a view of a reused buffer: keep a copy, never the view. Plain exceptions
    #: are mapped as :meth:`write`'s are. A subclass that overrides ``write`` and not
    #: ``write_sync`` has none (its ``write`` may do more), so it keeps its own path.
    write_sync: Callable[[Any, memoryview], None] | None = None

    def __init__(self, timeout: float | None = None, connection: Any = None,
                 state: Any = None, *, root: PurePath | str | None = None) -> None:
        self.timeout = timeout
        self.connection = connection
        self.state = state
        self.root: PurePath | None = (
            root if root is None or isinstance(root, self.path_class) else self.path_class(root)
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, n_paths in _WRAPPED_PATH_METHODS.items():
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__anyftp_wrapped__", False):
                setattr(cls, name, _normalise(name, method, n_paths))
        for name in _WRAPPED_FILE_METHODS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__anyftp_wrapped__", False):
                setattr(cls, name, _normalise(name, method, 0))
        for name in ("list",):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__anyftp_wrapped__", False):
                setattr(cls, name, _normalise_iterator(method))
        if "write" in cls.__dict__ and "write_sync" not in cls.__dict__:
            cls.write_sync = None

    # --- shared state -------------------------------------------------------------------

    @classmethod
    def create_state(cls, **options: Any) -> Any:
        """Build the per-server state from backend options (default: no state).

        Unknown options must raise ``TypeError`` naming them.
        """
        if options:
            raise TypeError(f"{cls.__name__} takes no options, got {sorted(options)}")
        return None

    @classmethod
    def capabilities_for_state(cls, state: Any) -> Capabilities:
        """Capabilities of the instances made with *state*.

        The server reads this for FEAT, before any session has an instance. Backends whose
        abilities depend on their options (fsspec: per filesystem) override it.
        """
        return cls.capabilities

    @classmethod
    async def close_state(cls, state: Any) -> None:
        """Release what :meth:`create_state` made (clients, pools). Default: nothing."""

    # --- root containment -----------------------------------------------------------------

    def contain(self, path: PurePath) -> None:
        """Raise :class:`PathOutsideRootError` if *path* is not inside ``root``.

        The check here is lexical (``..`` collapsed); backends whose namespace has
        symlinks override it to resolve them.
        """
        root = self.root
        if root is not None and not is_inside_lexically(path, root):
            raise PathOutsideRootError(path, root)

    # --- path operations (abstract) -----------------------------------------------------

    async def exists(self, path: PurePath) -> bool:
        """Whether *path* exists."""
        raise NotImplementedError

    async def is_dir(self, path: PurePath) -> bool:
        """Whether *path* is a directory (``False`` when it does not exist)."""
        raise NotImplementedError

    async def is_file(self, path: PurePath) -> bool:
        """Whether *path* is a regular file (``False`` when it does not exist)."""
        raise NotImplementedError

    async def mkdir(self, path: PurePath, *, parents: bool = False,
                    exist_ok: bool = False) -> None:
        """Make a directory, as ``pathlib.Path.mkdir``."""
        raise NotImplementedError

    async def rmdir(self, path: PurePath) -> None:
        """Remove an empty directory (``OSError(ENOTEMPTY)`` when it is not empty)."""
        raise NotImplementedError

    async def unlink(self, path: PurePath) -> None:
        """Remove a file (``IsADirectoryError`` for a directory)."""
        raise NotImplementedError

    async def stat(self, path: PurePath) -> StatLike:
        """Stat of *path* (``FileNotFoundError`` when missing)."""
        raise NotImplementedError

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        """Move *source* to *destination*, replacing a destination file."""
        raise NotImplementedError

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        """Paths of the entries of directory *path* (full paths, no ``.``/``..``).

        Usable with ``async for`` or awaited for a list. A missing directory raises
        ``FileNotFoundError``; a file raises ``NotADirectoryError``.
        """
        if type(self).list_with_stats is AbstractPathIO.list_with_stats:
            raise NotImplementedError(f"{type(self).__name__} implements neither list "
                                      "nor list_with_stats")

        async def entries() -> AsyncIterator[PurePath]:
            for child, _ in await self.list_with_stats(path):
                yield child

        return AsyncLister(entries())

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        """Entries of directory *path* with their stats, in one backend call if it can."""
        if type(self).list is AbstractPathIO.list:
            raise NotImplementedError(f"{type(self).__name__} implements neither list "
                                      "nor list_with_stats")
        result: builtins.list[tuple[PurePath, StatLike]] = []
        async for child in self.list(path):
            try:
                result.append((child, await self.stat(child)))
            except PathIOError as exc:
                if isinstance(exc.cause, FileNotFoundError):
                    continue  # removed between list and stat
                raise
        return result

    async def list_names_with_stats(self, path: PurePath
                                    ) -> builtins.list[tuple[str, StatLike]]:
        """Entries of directory *path* as ``(name, stat)`` pairs: what a listing needs.

        Optional. The default takes the names from :meth:`list_with_stats`; a backend that
        gets names straight from storage (``os.scandir``) overrides it so a listing of many
        entries builds no path object per entry. Errors as :meth:`list_with_stats`.
        """
        return [
            (child.name if isinstance(child, PurePath) else PurePath(child).name, info)
            for child, info in await self.list_with_stats(path)
        ]

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        """Set the modification time (only if ``capabilities.set_mtime``)."""
        raise NotImplementedError(f"{type(self).__name__} can not set modification times")

    async def chmod(self, path: PurePath, mode: int) -> None:
        """Change permission bits (only if ``capabilities.chmod``)."""
        raise NotImplementedError(f"{type(self).__name__} can not change permissions")

    # --- files --------------------------------------------------------------------------

    def open(self, path: PurePath, mode: str = "rb") -> AsyncPathIOContext:
        """Open *path*; await it or use ``async with``. Modes: rb, wb, ab, r+b."""
        return AsyncPathIOContext(self, path, mode)

    async def _open(self, path: PurePath, mode: str) -> Any:
        """Open and return the backend's raw file object (abstract)."""
        raise NotImplementedError

    async def read(self, file: Any, block_size: int = -1) -> bytes:
        """Read up to *block_size* bytes (all when negative); ``b""`` at the end (abstract)."""
        raise NotImplementedError

    async def write(self, file: Any, data: bytes | bytearray | memoryview) -> None:
        """Write all of *data* (abstract)."""
        raise NotImplementedError

    async def seek(self, file: Any, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move the position; returns the new absolute position (abstract)."""
        raise NotImplementedError

    async def close(self, file: Any) -> None:
        """Finish the file: written data becomes visible under its name (abstract)."""
        raise NotImplementedError

    async def abort(self, file: Any) -> None:
        """Give up a file after a failure. Default: close it.

        Object stores override this to discard an unfinished upload.
        """
        await self.close(file)

    def fileno(self, file: Any) -> int:
        """The OS file descriptor of *file*, for sendfile (only if capable)."""
        raise io.UnsupportedOperation(f"{type(self).__name__} files have no file descriptor")


# The base class's own defaults are wrapped too, so an optional method a backend does not
# implement (``set_mtime``, ``chmod``) is refused with a PathIOError like any other failure.
for _name, _n_paths in _WRAPPED_PATH_METHODS.items():
    setattr(AbstractPathIO, _name, _normalise(_name, getattr(AbstractPathIO, _name), _n_paths))
for _name in _WRAPPED_FILE_METHODS:
    setattr(AbstractPathIO, _name, _normalise(_name, getattr(AbstractPathIO, _name), 0))
del _name, _n_paths


class AsyncFile:
    """A file opened through a backend: ``read``, ``write``, ``seek``, ``close``, ``abort``,
    ``iter_by_block`` and, when the backend can, ``fileno``."""

    __slots__ = ("closed", "mode", "path", "path_io", "raw")

    def __init__(self, path_io: AbstractPathIO, raw: Any, path: PurePath, mode: str) -> None:
        self.path_io = path_io
        self.raw = raw
        self.path = path
        self.mode = mode
        self.closed = False

    async def read(self, count: int = -1) -> bytes:
        return await self.path_io.read(self.raw, count)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await self.path_io.write(self.raw, data)

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return await self.path_io.seek(self.raw, offset, whence)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.path_io.close(self.raw)

    async def abort(self) -> None:
        if not self.closed:
            self.closed = True
            await self.path_io.abort(self.raw)

    def fileno(self) -> int:
        return self.path_io.fileno(self.raw)

    def sync_writer(self) -> Callable[[memoryview], None] | None:
        """A function storing *data* in this file at once (the backend's ``write_sync``,
        its exceptions mapped as :meth:`write`'s), or ``None`` when the backend has none."""
        write_sync = self.path_io.write_sync
        if write_sync is None:
            return None
        raw = self.raw

        def write(data: memoryview) -> None:
            try:
                write_sync(raw, data)
            except PathIOError:
                raise
            except Exception as exc:
                raise _path_error("write", exc) from exc

        return write

    async def iter_by_block(self, count: int = DEFAULT_BLOCK_SIZE) -> AsyncIterator[bytes]:
        while True:
            block = await self.read(count)
            if not block:
                return
            yield block

    async def __aenter__(self) -> AsyncFile:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.abort()


class AsyncPathIOContext:
    """What :meth:`AbstractPathIO.open` returns: awaitable, or an async context manager
    that closes the file on success and aborts it on an exception."""

    __slots__ = ("file", "mode", "path", "path_io")

    def __init__(self, path_io: AbstractPathIO, path: PurePath, mode: str) -> None:
        self.path_io = path_io
        self.path = path
        self.mode = mode
        self.file: AsyncFile | None = None

    async def _do_open(self) -> AsyncFile:
        if self.mode not in ("rb", "wb", "ab", "r+b", "rb+"):
            raise PathIOError.from_exception(ValueError(f"unsupported open mode {self.mode!r}"))
        raw = await self.path_io._open(self.path, self.mode)
        self.file = AsyncFile(self.path_io, raw, self.path, self.mode)
        return self.file

    def __await__(self) -> Generator[Any, None, AsyncFile]:
        return self._do_open().__await__()

    async def __aenter__(self) -> AsyncFile:
        return await self._do_open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.file is None:
            return
        await self.file.__aexit__(exc_type, exc, tb)


def mode_bits_to_text(mode: int) -> str:
    """``ls -l``-style permission text for *mode* (``drwxr-xr-x``)."""
    return stat_module.filemode(mode)


def unique_id(stat: StatLike) -> str:
    """An MLSx ``unique`` fact value for a stat (device and inode when known)."""
    dev = getattr(stat, "st_dev", 0)
    ino = getattr(stat, "st_ino", 0)
    return f"{dev:x}g{ino:x}"


def iter_parents(path: PurePosixPath) -> Iterable[PurePosixPath]:
    """*path* and its parents, nearest first."""
    yield path
    yield from path.parents



def is_inside_lexically(path: PurePath | str, root: PurePath | str) -> bool:
    """Whether *path*, with ``.`` and ``..`` collapsed, lies inside *root*.

    A relative root (``.``, the seeds' default ``base_path``) holds every relative path
    that does not climb out of it with ``..``; an absolute path is never inside a
    relative root, nor a relative path inside an absolute one.
    """
    normal = posixpath.normpath(PurePosixPath(path).as_posix())
    base = posixpath.normpath(PurePosixPath(root).as_posix())
    if normal == base:
        return True
    if base == ".":
        return not normal.startswith("/") and normal != ".." and not normal.startswith("../")
    if normal.startswith("/") != base.startswith("/"):
        return False
    return normal.startswith(base.rstrip("/") + "/")


def is_inside_resolved(path: PurePath | str, root: PurePath | str) -> bool:
    """Whether *path*, with symlinks resolved on the real filesystem, lies inside *root*.

    For backends whose namespace is a real filesystem (local disk). A last component that
    does not exist yet (STOR, MKD) is fine: its parent decides. Blocking (it calls
    ``lstat`` on every component).
    """
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    try:
        return real == real_root or os.path.commonpath((real, real_root)) == real_root
    except ValueError:  # different drives (Windows)
        return False


def inside_without_links(path: PurePath | str, root: PurePath | str) -> bool:
    """Whether *path* lies lexically below *root* with no symlink among its components
    below *root* (checked with ``lstat``, nearest first; a component that does not exist
    ends the check, as nothing below it can exist).

    ``True`` proves what :func:`is_inside_resolved` would find, with one ``lstat`` per
    component below the root instead of resolving both paths; ``False`` means "not
    proven" (a symlink, ``..``, a path outside the text of *root*, not POSIX): ask
    :func:`is_inside_resolved` then.
    """
    if os.name != "posix":
        return False
    text = os.fspath(path)
    base = os.fspath(root)
    if text == base:
        return True
    prefix = base if base.endswith("/") else base + "/"
    if not text.startswith(prefix):
        return False
    parts = text[len(prefix):].split("/")
    if "" in parts or "." in parts or ".." in parts:
        return False
    current = prefix
    for part in parts:
        current += part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return True
        except OSError:
            return False
        if stat_module.S_ISLNK(mode):
            return False
        current += "/"
    return True


def contain_resolved(path: PurePath, root: PurePath) -> None:
    """Raise :class:`PathOutsideRootError` unless :func:`is_inside_resolved` holds."""
    if not is_inside_resolved(path, root):
        raise PathOutsideRootError(path, root)
