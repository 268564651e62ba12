"""S3PathIO: the FTP tree kept in one S3 bucket (under an optional key prefix).

Paths map to keys as :mod:`anyftp_s3.keys` describes. Directories are key prefixes plus
zero-byte ``name/`` marker objects written by MKD, so an empty directory survives; a
directory that exists only because keys live under it (uploaded by other tools) is a
directory too. When the last entry of a directory is removed and the directory has no
marker, a marker is written so the directory does not vanish under the user. The top of
the prefix and the instance's ``root`` (the user's ``base_path``) always exist, so a new
account needs nothing created in the bucket first.

A name that is both an object and a prefix (possible when other tools write the bucket)
is listed once, as a directory. Listings come from ``ListObjectsV2`` pages with the
stats they carry (size, last modified) - one request per 1,000 entries, none per entry.
S3 keeps no dates for prefixes, so directories show mtime 0 (in listings and ``stat``
alike).

Files: see :mod:`anyftp_s3.reader` (ranged GETs) and :mod:`anyftp_s3.writer` (multipart
uploads, server-side part copies for APPE and REST, abort on failure). Rename is a
server-side copy then delete (multipart copy above ``copy_threshold``), directories key
by key. The shared client lives in the per-server state (:mod:`anyftp_s3.client`).
"""

from __future__ import annotations

import asyncio
import errno
import io
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath
from typing import Any, ClassVar

from anyftp.errors import PathOutsideRootError
from anyftp.pathio import AbstractPathIO, Capabilities, PathStat, StatLike

from .client import S3State
from .copying import copy_object
from .editor import S3Editor
from .keys import KeyMap
from .options import S3Options
from .reader import S3Reader
from .writer import ObjectVersion, S3Writer

__all__ = ("S3PathIO",)

#: Copies and deletes run this many at once when a directory is renamed.
_RENAME_CONCURRENCY = 8
_DELETE_BATCH = 1000
_PLAIN_KEYS = KeyMap()

#: What ``open`` returns: a ranged reader, a streaming writer, or a small in-memory editor.
S3File = S3Reader | S3Writer | S3Editor


@dataclass(frozen=True)
class _Probe:
    """What is known about a name before creating it (three requests made at once)."""

    head: dict[str, Any] | None
    is_dir: bool
    parent_is_dir: bool


def _mtime(item: dict[str, Any]) -> float:
    modified = item.get("LastModified")
    return float(modified.timestamp()) if modified is not None else 0.0


def _file_stat(item: dict[str, Any], size_field: str) -> PathStat:
    return PathStat.for_file(int(item.get(size_field) or 0), _mtime(item))


class S3PathIO(AbstractPathIO):
    """An S3 bucket as an FTP tree. Options: :class:`anyftp_s3.options.S3Options`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        set_mtime=False,  # S3 sets Last-Modified itself
        append=True,  # server-side part copy of the old object, then new parts
        seek_write=True,  # small objects: in memory; large: one seek, then sequential
        empty_directories=True,  # marker objects
        file_descriptor=False,
        chmod=False,
        rename_directories=True,  # copy + delete of every key under it
        concurrent_writes=True,
    )
    path_class: ClassVar[type[PurePath]] = PurePosixPath

    # --- shared state ---------------------------------------------------------------------

    @classmethod
    def create_state(cls, **options: Any) -> S3State:
        """Check the options (see :class:`S3Options`) and make the shared state; the S3
        client itself is created on first use and shared by every session."""
        return S3State(S3Options(**options))

    @classmethod
    async def close_state(cls, state: Any) -> None:
        if isinstance(state, S3State):
            await state.close()

    @property
    def s3(self) -> S3State:
        if not isinstance(self.state, S3State):
            raise TypeError(
                "S3PathIO needs the state made by S3PathIO.create_state("
                "bucket=...); pass path_io_options to the server"
            )
        return self.state

    def contain(self, path: PurePath) -> None:
        """Refuse *path* unless its key lies under the key of ``root``.

        Both are read as :mod:`anyftp_s3.keys` reads every path, so ``.`` and ``/`` are the
        same top and ``..`` can not climb out of the root (nor above the prefix).
        """
        if self.root is None:
            return
        keys = self.s3.keys if isinstance(self.state, S3State) else _PLAIN_KEYS
        try:
            inner, top = keys.relative(path), keys.relative(self.root)
        except PermissionError:
            raise PathOutsideRootError(path, self.root) from None
        if top and inner != top and not inner.startswith(top + "/"):
            raise PathOutsideRootError(path, self.root)

    # --- helpers --------------------------------------------------------------------------

    def _home_prefixes(self) -> tuple[str, ...]:
        """Directory prefixes that always exist: the top of the bucket prefix and the
        user's ``root`` (the server's ``base_path``), even with no key under them."""
        keys = self.s3.keys
        if self.root is None:
            return (keys.prefix,)
        return (keys.prefix, keys.dir_prefix(self.root))

    def _is_home(self, path: PurePath) -> bool:
        return self.s3.keys.dir_prefix(path) in self._home_prefixes()

    async def _dir_exists(self, dir_prefix: str) -> bool:
        if dir_prefix in self._home_prefixes():
            return True
        return await self.s3.prefix_has_keys(dir_prefix)

    async def _require_parent_dir(self, path: PurePath) -> None:
        """FileNotFoundError / NotADirectoryError unless *path*'s parent is a directory."""
        keys = self.s3.keys
        parent = keys.parent_dir_prefix(path)
        if parent is None or await self._dir_exists(parent):
            return
        if await self.s3.head(parent[:-1]) is not None:
            raise NotADirectoryError(errno.ENOTDIR, "parent is a file", str(path))
        raise FileNotFoundError(errno.ENOENT, "parent directory does not exist", str(path))

    async def _probe(self, path: PurePath) -> _Probe:
        keys = self.s3.keys
        parent = keys.parent_dir_prefix(path)

        async def parent_is_dir() -> bool:
            return parent is None or await self._dir_exists(parent)

        head, is_dir, parent_ok = await _gather_all(
            [self.s3.head(keys.key(path)), self._dir_exists(keys.dir_prefix(path)), parent_is_dir()]
        )
        return _Probe(head, bool(is_dir), bool(parent_ok))

    async def _keep_dir(self, dir_prefix: str | None) -> None:
        """Write the marker of a marker-less directory that has just become empty."""
        if dir_prefix is None or dir_prefix in self._home_prefixes():
            return
        if not await self.s3.prefix_has_keys(dir_prefix):
            await self.s3.call("put_object", key=dir_prefix, Body=b"")

    async def _iter_keys(self, prefix: str) -> AsyncIterator[dict[str, Any]]:
        """Every object under *prefix* (recursive), page by page."""
        token: str | None = None
        while True:
            page = await self.s3.list_page(prefix, token=token)
            for item in page.get("Contents", ()):
                yield item
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    # --- queries --------------------------------------------------------------------------

    async def exists(self, path: PurePath) -> bool:
        keys = self.s3.keys
        if self._is_home(path):
            return True
        if await self.s3.head(keys.key(path)) is not None:
            return True
        return await self._dir_exists(keys.dir_prefix(path))

    async def is_file(self, path: PurePath) -> bool:
        keys = self.s3.keys
        if self._is_home(path):
            return False
        return await self.s3.head(keys.key(path)) is not None

    async def is_dir(self, path: PurePath) -> bool:
        return await self._dir_exists(self.s3.keys.dir_prefix(path))

    async def stat(self, path: PurePath) -> StatLike:
        keys = self.s3.keys
        if self._is_home(path):
            return PathStat.for_dir(0.0)
        head = await self.s3.head(keys.key(path))
        if head is not None:
            return _file_stat(head, "ContentLength")
        if not await self._dir_exists(keys.dir_prefix(path)):
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(path))
        return PathStat.for_dir(0.0)

    async def list_with_stats(self, path: PurePath) -> list[tuple[PurePath, StatLike]]:
        keys = self.s3.keys
        dir_prefix = keys.dir_prefix(path)
        base = self.path_class(path)
        dirs: dict[str, StatLike] = {}
        files: dict[str, StatLike] = {}
        found = False
        token: str | None = None
        while True:
            page = await self.s3.list_page(dir_prefix, delimiter="/", token=token)
            for common in page.get("CommonPrefixes", ()):
                found = True
                name = str(common["Prefix"])[len(dir_prefix) : -1]
                if name:
                    dirs[name] = PathStat.for_dir(0.0)
            for item in page.get("Contents", ()):
                found = True
                name = str(item["Key"])[len(dir_prefix) :]
                if name and "/" not in name:
                    files[name] = _file_stat(item, "Size")
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
        if not found and not self._is_home(path):
            if await self.s3.head(keys.key(path)) is not None:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
            raise FileNotFoundError(errno.ENOENT, "no such directory", str(path))
        entries: list[tuple[PurePath, StatLike]] = [(base / n, s) for n, s in dirs.items()]
        entries.extend((base / n, s) for n, s in files.items() if n not in dirs)
        return entries

    # --- changes --------------------------------------------------------------------------

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        keys = self.s3.keys
        if self._is_home(path):
            if exist_ok:
                return
            raise FileExistsError(errno.EEXIST, "directory exists", str(path))
        probe = await self._probe(path)
        if probe.head is not None:
            raise FileExistsError(errno.EEXIST, "a file of that name exists", str(path))
        if probe.is_dir:
            if exist_ok:
                return
            raise FileExistsError(errno.EEXIST, "directory exists", str(path))
        if not probe.parent_is_dir:
            if parents:
                parent = PurePosixPath(keys.relative(path)).parent
                await self._mkdir_parents(keys.prefix + str(parent))
            else:
                await self._require_parent_dir(path)
        await self.s3.call("put_object", key=keys.dir_prefix(path), Body=b"")

    async def _mkdir_parents(self, key: str) -> None:
        """Markers for *key* and its missing ancestors (nearest existing one stops it)."""
        if await self._dir_exists(key + "/"):
            return
        if await self.s3.head(key) is not None:
            raise NotADirectoryError(errno.ENOTDIR, "a parent is a file", key)
        head, _, _ = key[len(self.s3.keys.prefix) :].rpartition("/")
        if head:
            await self._mkdir_parents(self.s3.keys.prefix + head)
        await self.s3.call("put_object", key=key + "/", Body=b"")

    async def rmdir(self, path: PurePath) -> None:
        keys = self.s3.keys
        if self._is_home(path):
            raise PermissionError(errno.EBUSY, "can not remove the top directory", str(path))
        dir_prefix = keys.dir_prefix(path)
        page = await self.s3.list_page(dir_prefix, max_keys=2)
        names = [str(item["Key"]) for item in page.get("Contents", ())]
        if not names:
            if await self.s3.head(keys.key(path)) is not None:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
            raise FileNotFoundError(errno.ENOENT, "no such directory", str(path))
        if names != [dir_prefix]:
            raise OSError(errno.ENOTEMPTY, "directory not empty", str(path))
        await self.s3.call("delete_object", key=dir_prefix)
        await self._keep_dir(keys.parent_dir_prefix(path))

    async def unlink(self, path: PurePath) -> None:
        keys = self.s3.keys
        if self._is_home(path):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        key = keys.key(path)
        if await self.s3.head(key) is None:
            if await self._dir_exists(keys.dir_prefix(path)):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
            raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        await self.s3.call("delete_object", key=key)
        await self._keep_dir(keys.parent_dir_prefix(path))

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        keys = self.s3.keys
        if self._is_home(source):
            raise PermissionError(errno.EBUSY, "can not rename the top directory", str(source))
        if self._is_home(destination):
            raise FileExistsError(
                errno.EEXIST, "destination is the top directory", str(destination)
            )
        src_key, dst_key = keys.key(source), keys.key(destination)
        head = await self.s3.head(src_key)
        if head is not None:
            await self._rename_file(source, destination, head)
            return
        src_prefix = keys.dir_prefix(source)
        if not await self._dir_exists(src_prefix):
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", str(source))
        if src_key == dst_key:
            return
        if dst_key.startswith(src_prefix):
            raise OSError(errno.EINVAL, "can not move a directory into itself", str(destination))
        await self._rename_dir(source, destination, src_prefix, keys.dir_prefix(destination))

    async def _rename_file(
        self, source: PurePath, destination: PurePath, head: dict[str, Any]
    ) -> None:
        keys = self.s3.keys
        src_key, dst_key = keys.key(source), keys.key(destination)
        if src_key == dst_key:
            return
        if await self._dir_exists(keys.dir_prefix(destination)):
            raise IsADirectoryError(errno.EISDIR, "destination is a directory", str(destination))
        await self._require_parent_dir(destination)
        await copy_object(
            self.s3, src_key, dst_key, int(head.get("ContentLength") or 0), head.get("ETag")
        )
        await self.s3.call("delete_object", key=src_key)
        await self._keep_dir(keys.parent_dir_prefix(source))

    async def _rename_dir(
        self, source: PurePath, destination: PurePath, src_prefix: str, dst_prefix: str
    ) -> None:
        keys = self.s3.keys
        if await self.s3.head(keys.key(destination)) is not None:
            raise NotADirectoryError(errno.ENOTDIR, "destination is a file", str(destination))
        page = await self.s3.list_page(dst_prefix, max_keys=2)
        existing = [str(item["Key"]) for item in page.get("Contents", ())]
        if existing and existing != [dst_prefix]:
            raise OSError(errno.ENOTEMPTY, "destination directory not empty", str(destination))
        await self._require_parent_dir(destination)
        items = [item async for item in self._iter_keys(src_prefix)]
        if not any(str(item["Key"]) == src_prefix for item in items):
            items.append({"Key": src_prefix, "Size": 0, "ETag": None, "marker": True})
        copied: list[str] = []
        semaphore = asyncio.Semaphore(_RENAME_CONCURRENCY)

        async def move(item: dict[str, Any]) -> None:
            new_key = dst_prefix + str(item["Key"])[len(src_prefix) :]
            async with semaphore:
                if item.get("marker"):
                    await self.s3.call("put_object", key=new_key, Body=b"")
                else:
                    await copy_object(
                        self.s3,
                        str(item["Key"]),
                        new_key,
                        int(item.get("Size") or 0),
                        item.get("ETag"),
                    )
            copied.append(new_key)

        try:
            await _gather_all([move(item) for item in items])
        except BaseException:
            # Leave the source as it was: remove what was copied so far.
            await asyncio.shield(self._delete_keys([k for k in copied if k != dst_prefix]))
            raise
        await self._delete_keys([str(item["Key"]) for item in items if not item.get("marker")])
        await self._keep_dir(keys.parent_dir_prefix(source))

    async def _delete_keys(self, names: list[str]) -> None:
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start : start + _DELETE_BATCH]
            response = await self.s3.call(
                "delete_objects", Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise OSError(
                    errno.EIO,
                    f"S3 could not delete {len(errors)} keys, first "
                    f"{first.get('Key')}: {first.get('Code')}: "
                    f"{first.get('Message')}",
                )

    # --- files ----------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> S3File:
        keys = self.s3.keys
        if self._is_home(path):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        key = keys.key(path)
        if mode == "rb+":
            mode = "r+b"
        if mode == "rb":
            head = await self.s3.head(key)
            if head is None:
                if await self._dir_exists(keys.dir_prefix(path)):
                    raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
                raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
        else:
            probe = await self._probe(path)
            head = probe.head
            if head is None:
                if probe.is_dir:
                    raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
                if mode == "r+b":
                    raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
                if not probe.parent_is_dir:
                    await self._require_parent_dir(path)
                return S3Writer(self.s3, key, mode, None)
        version = ObjectVersion(int(head.get("ContentLength") or 0), head.get("ETag"))
        if mode == "rb":
            return S3Reader(self.s3, key, version.size, version.etag)
        if mode == "r+b" and version.size <= self.s3.options.part_size:
            return await S3Editor.load(self.s3, key, version.size, version.etag)
        return S3Writer(self.s3, key, mode, None if mode == "wb" else version)

    async def read(self, file: S3File, block_size: int = -1) -> bytes:
        if isinstance(file, S3Writer):
            raise io.UnsupportedOperation("S3 file opened for writing can not be read")
        return await file.read(block_size)

    async def write(self, file: S3File, data: bytes | bytearray | memoryview) -> None:
        if isinstance(file, S3Reader):
            raise io.UnsupportedOperation("S3 file opened for reading can not be written")
        await file.write(data)

    async def seek(self, file: S3File, offset: int, whence: int = io.SEEK_SET) -> int:
        return await file.seek(offset, whence)

    async def close(self, file: S3File) -> None:
        await file.close()

    async def abort(self, file: S3File) -> None:
        if isinstance(file, S3Reader):
            await file.close()
        else:
            await file.abort()


async def _gather_all(coros: list[Awaitable[Any]]) -> list[Any]:
    """Run all at once; on the first failure cancel the rest, wait for them, re-raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
