"""FsspecPathIO: the anyftp path-IO interface over any fsspec filesystem.

The served tree is the URL's root: the server's ``/`` is ``s3://bucket/prefix``,
``file:///srv/x`` or ``memory://``. Directory and file semantics (missing parents,
non-empty directories, files in the way) are checked here the same way for every
filesystem; :mod:`anyftp_fsspec.storage` runs the calls, async or in threads, and
:mod:`anyftp_fsspec.profile` decides the capabilities, which therefore belong to the
instance (from its state) rather than to the class.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
from pathlib import PurePath
from typing import Any, ClassVar, overload

from anyftp.pathio import AbstractPathIO, Capabilities, StatLike

from .files import FileHandle
from .options import merge_options, set_dotted
from .state import STATE_OPTIONS, FsspecState, as_mapping, build_state
from .stats import entry_name, is_directory, to_stat
from .storage import LocalStorage, Storage, contain_real

__all__ = ("FsspecPathIO",)

#: What the class says before it is bound to a filesystem: the least any of them can do.
BASELINE_CAPABILITIES = Capabilities(
    set_mtime=False,
    append=False,
    seek_write=False,
    empty_directories=True,
    file_descriptor=False,
    chmod=False,
    rename_directories=True,
    concurrent_writes=True,
)


class _StateCapabilities:
    """``capabilities`` that come from the instance's state, or the baseline on the class."""

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Capabilities: ...
    @overload
    def __get__(self, instance: FsspecPathIO, owner: type[Any]) -> Capabilities: ...

    def __get__(self, instance: FsspecPathIO | None, owner: type[Any]) -> Capabilities:
        if instance is None:
            return BASELINE_CAPABILITIES
        return instance.state.capabilities


def _error(code: int, path: object) -> OSError:
    return OSError(code, os.strerror(code), str(path))


def _fold_dotted_storage_options(options: dict[str, Any]) -> dict[str, Any]:
    """Move ``storage_options.<key>`` options into ``storage_options``."""
    prefix = "storage_options."
    dotted = {k: v for k, v in options.items() if k.startswith(prefix) and len(k) > len(prefix)}
    if not dotted:
        return options
    folded = {k: v for k, v in options.items() if k not in dotted}
    extra: dict[str, Any] = {}
    for key, value in dotted.items():
        set_dotted(extra, key[len(prefix) :], value)
    folded["storage_options"] = merge_options(as_mapping(folded.get("storage_options")), extra)
    return folded


class FsspecPathIO(AbstractPathIO):
    """Any fsspec filesystem, by URL. Make its state with :meth:`create_state`."""

    capabilities: ClassVar[Capabilities] = _StateCapabilities()  # type: ignore[assignment]

    @classmethod
    def capabilities_for_state(cls, state: Any) -> Capabilities:
        """The capabilities decided for the state's filesystem."""
        capabilities: Capabilities = state.capabilities
        return capabilities
    #: Every method checks ``root`` itself (in :meth:`_target`), on the local disk in a
    #: worker thread, since resolving symlinks touches the disk.
    contains_paths_itself: ClassVar[bool] = True
    state: FsspecState

    def __init__(
        self,
        timeout: float | None = None,
        connection: Any = None,
        state: Any = None,
        *,
        root: PurePath | str | None = None,
    ) -> None:
        if not isinstance(state, FsspecState):
            raise TypeError(
                "FsspecPathIO needs the state made by "
                "FsspecPathIO.create_state(url=...), got "
                f"{type(state).__name__}"
            )
        super().__init__(timeout, connection, state, root=root)

    # --- state ---------------------------------------------------------------------------

    @classmethod
    def create_state(cls, **options: Any) -> FsspecState:
        """Resolve the URL and build the shared state.

        Options: ``url`` (required); ``storage_options`` for the filesystem class (a
        mapping, JSON object text, or ``key=value`` texts as given on the command line);
        ``max_workers`` (blocking calls in flight), ``read_chunk_size`` and
        ``write_block_size`` (bytes). ``storage_options.<key>`` options (as
        ``anyftp serve --backend-option`` gives them) set one storage option each; dots
        in ``<key>`` nest. Any other option raises ``TypeError``. An unknown protocol or
        a missing implementation package raises a :class:`~anyftp.errors.BackendError`
        naming what to install.
        """
        options = _fold_dotted_storage_options(options)
        unknown = sorted(set(options) - STATE_OPTIONS)
        if unknown:
            raise TypeError(
                f"unknown fsspec backend option(s) {unknown}; it takes {sorted(STATE_OPTIONS)} "
                "(filesystem options go in storage_options)"
            )
        if "url" not in options:
            raise TypeError("the fsspec backend needs a url option, e.g. url='memory://'")
        return build_state(**options)

    @classmethod
    async def close_state(cls, state: Any) -> None:
        if isinstance(state, FsspecState):
            await state.close()

    @property
    def discards_aborted_writes(self) -> bool:
        """Whether an aborted upload leaves nothing under its name.

        Object stores drop the multipart upload and memory removes the new file, so the
        server writes to the name directly; on the local disk (and filesystems that keep
        what was written) the server uploads under a temporary name and renames it.
        """
        return self.storage.abort_policy("wb") != "close"

    @property
    def storage(self) -> Storage:
        return self.state.storage

    # --- paths ---------------------------------------------------------------------------

    def contain(self, path: PurePath) -> None:
        """Raise PathOutsideRootError unless *path* is inside ``root`` (for direct callers;
        the methods check in :meth:`_target`, off the loop where it touches the disk)."""
        super().contain(path)
        storage = self.storage
        if isinstance(storage, LocalStorage) and self.root is not None:
            contain_real(storage.fs_path(path), os.path.realpath(storage.fs_path(self.root)))

    async def _ready(self) -> Storage:
        """The storage, with its filesystem made (a chained URL learns its root then)."""
        storage = self.storage
        await storage.filesystem()
        return storage

    async def _target(self, path: PurePath) -> tuple[Storage, str]:
        """The storage and the filesystem path of *path*, checked against both roots
        (``..`` and, on the local disk, symlinks)."""
        storage = await self._ready()
        if self.root is not None:
            AbstractPathIO.contain(self, path)
        return storage, await storage.resolve(path, self.root)

    async def _info_or_none(self, fs_path: str) -> dict[str, Any] | None:
        try:
            return await self.storage.info(fs_path)
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def _require_directory(self, fs_path: str, path: object) -> None:
        info = await self.storage.info(fs_path)
        if not is_directory(info):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))

    async def _check_no_file_above(self, target: str) -> None:
        """Refuse to make *target* with its parents when its nearest existing ancestor is
        a file (object stores and memory would happily create keys below it)."""
        storage = self.storage
        ancestor = target
        while not storage.is_root(ancestor):
            ancestor = posixpath.dirname(ancestor.rstrip("/"))
            info = await self._info_or_none(ancestor)
            if info is not None:
                if not is_directory(info):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), ancestor)
                return
            if not ancestor or ancestor == "/":
                return

    async def exists(self, path: PurePath) -> bool:
        _, target = await self._target(path)
        return await self._info_or_none(target) is not None

    async def is_dir(self, path: PurePath) -> bool:
        _, target = await self._target(path)
        info = await self._info_or_none(target)
        return info is not None and is_directory(info)

    async def is_file(self, path: PurePath) -> bool:
        _, target = await self._target(path)
        info = await self._info_or_none(target)
        return info is not None and not is_directory(info)

    async def stat(self, path: PurePath) -> StatLike:
        storage, target = await self._target(path)
        return to_stat(await storage.info(target))

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        storage, target = await self._target(path)
        existing = await self._info_or_none(target)
        if existing is not None:
            if exist_ok and is_directory(existing):
                return
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
        if not parents:
            await self._require_directory(posixpath.dirname(target), path.parent)
        elif not isinstance(storage, LocalStorage):
            await self._check_no_file_above(target)
        await storage.mkdir(target, parents)

    async def rmdir(self, path: PurePath) -> None:
        storage, target = await self._target(path)
        if storage.is_root(target):
            raise PermissionError(errno.EBUSY, "the root can not be removed", str(path))
        await self._require_directory(target, path)
        if await storage.ls(target):
            raise _error(errno.ENOTEMPTY, path)
        await storage.rmdir(target)

    async def unlink(self, path: PurePath) -> None:
        storage, target = await self._target(path)
        if is_directory(await storage.info(target)):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        await storage.rm_file(target)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        storage, src = await self._target(source)
        _, dst = await self._target(destination)
        source_info = await storage.info(src)
        if src == dst:
            return
        if storage.is_root(src) or storage.is_root(dst):
            raise PermissionError(errno.EBUSY, "the root can not be moved", str(source))
        if dst.startswith(src.rstrip("/") + "/"):
            raise _error(errno.EINVAL, destination)
        await self._require_directory(posixpath.dirname(dst), destination.parent)
        destination_info = await self._info_or_none(dst)
        if is_directory(source_info):
            if destination_info is not None:
                if not is_directory(destination_info):
                    raise NotADirectoryError(
                        errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(destination)
                    )
                if await storage.ls(dst):
                    raise _error(errno.ENOTEMPTY, destination)
                if not isinstance(storage, LocalStorage):
                    await storage.rmdir(dst)
            await storage.move_dir(src, dst)
        else:
            if destination_info is not None and is_directory(destination_info):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(destination))
            await storage.move_file(src, dst)

    async def _entries(self, path: PurePath) -> list[tuple[str, StatLike]]:
        storage, target = await self._target(path)
        seen: set[str] = set()
        result: list[tuple[str, StatLike]] = []
        for entry in await storage.ls(target, self.root):
            name = entry_name(entry)
            if name and name not in seen:
                seen.add(name)
                result.append((name, to_stat(entry)))
        return result

    async def list_with_stats(self, path: PurePath) -> list[tuple[PurePath, StatLike]]:
        return [(path / name, info) for name, info in await self._entries(path)]

    async def list_names_with_stats(self, path: PurePath) -> list[tuple[str, StatLike]]:
        return await self._entries(path)

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        storage, target = await self._target(path)
        await storage.set_mtime(target, mtime)

    async def chmod(self, path: PurePath, mode: int) -> None:
        storage, target = await self._target(path)
        await storage.chmod(target, mode)

    # --- files ---------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> FileHandle:
        storage, target = await self._target(path)
        if mode == "rb+":
            mode = "r+b"
        if mode == "rb":
            info = await storage.info(target)
            if is_directory(info):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
            return await storage.open_read(target, info)
        capabilities = self.state.capabilities
        if mode == "ab" and not capabilities.append:
            raise io.UnsupportedOperation(f"{storage.profile.kind} storage can not append")
        if mode == "r+b" and not capabilities.seek_write:
            raise io.UnsupportedOperation(
                f"{storage.profile.kind} storage can not write inside a file"
            )
        existing = await self._info_or_none(target)
        if existing is not None and is_directory(existing):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if existing is None and mode == "r+b":
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        if existing is None:
            await self._require_directory(posixpath.dirname(target), path.parent)
        return await storage.open_write(target, mode)

    async def read(self, file: FileHandle, block_size: int = -1) -> bytes:
        return await file.read(block_size)

    async def write(self, file: FileHandle, data: bytes | bytearray | memoryview) -> None:
        await file.write(data)

    async def seek(self, file: FileHandle, offset: int, whence: int = io.SEEK_SET) -> int:
        return await file.seek(offset, whence)

    async def close(self, file: FileHandle) -> None:
        await file.close()

    async def abort(self, file: FileHandle) -> None:
        await file.abort()

    def fileno(self, file: FileHandle) -> int:
        return file.fileno()
