"""File and tree transfers between a Client and the local disk, with progress reports and
modification times: what the command line's get/put/mirror are made of.

Local files are plain files (``pathlib.Path``). Remote modification times come from the
listing's ``modify`` fact when it came from MLSD/MLST (UTC, to the second) and from MDTM
otherwise (LIST prints local time, often to the minute only). Setting a remote time
tries MFMT, then the ``MDTM time path`` form some servers (vsftpd) accept.
"""

from __future__ import annotations

import calendar
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from .. import errors
from .client import Client
from .streams import READ_BLOCK_SIZE

__all__ = (
    "Progress",
    "MirrorResult",
    "download_file",
    "upload_file",
    "download_tree",
    "upload_tree",
    "remote_mtime",
    "set_remote_mtime",
    "mirror_download",
    "mirror_upload",
    "parse_modify",
    "format_modify",
)


class Progress(Protocol):
    """Receives the progress of one file at a time."""

    def begin(self, label: str, total: int | None) -> None: ...
    def advance(self, count: int) -> None: ...
    def end(self) -> None: ...


class _NoProgress:
    def begin(self, label: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def end(self) -> None:
        pass


@dataclass
class MirrorResult:
    """What a mirror run did (relative POSIX paths)."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)


def parse_modify(value: str) -> float | None:
    """Seconds since the epoch from ``YYYYMMDDHHMMSS[.fff]`` (UTC); None if malformed."""
    whole, _, fraction = value.strip().partition(".")
    if len(whole) != 14 or not whole.isdigit():
        return None
    try:
        seconds = float(calendar.timegm(time.strptime(whole, "%Y%m%d%H%M%S")))
    except ValueError:
        return None
    if fraction.isdigit():
        seconds += float("0." + fraction)
    return seconds


def format_modify(timestamp: float) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(timestamp))


async def download_file(
    client: Client,
    remote: PurePosixPath | str,
    local: Path,
    *,
    progress: Progress | None = None,
    size: int | None = None,
    mtime: float | None = None,
) -> int:
    """Download one file to *local* (parents made); set its mtime if given. Returns bytes."""
    progress = progress or _NoProgress()
    remote = PurePosixPath(remote)
    local.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    progress.begin(remote.name, size)
    try:
        async with client.download_stream(remote) as stream:
            with open(local, "wb") as file_out:  # noqa: ASYNC230 - local disk, big blocks
                async for block in stream.iter_by_block(READ_BLOCK_SIZE):
                    file_out.write(block)
                    count += len(block)
                    progress.advance(len(block))
    finally:
        progress.end()
    if mtime is not None:
        os.utime(local, (mtime, mtime))
    return count


async def _file_blocks(local: Path) -> AsyncIterator[bytes]:
    with open(local, "rb") as file_in:  # noqa: ASYNC230 - local disk, big blocks
        while block := file_in.read(READ_BLOCK_SIZE):
            yield block


async def upload_file(
    client: Client,
    local: Path,
    remote: PurePosixPath | str,
    *,
    progress: Progress | None = None,
    keep_mtime: bool = False,
) -> int:
    """Upload one file; with *keep_mtime*, give the remote file the local mtime."""
    progress = progress or _NoProgress()
    remote = PurePosixPath(remote)
    count = 0
    progress.begin(local.name, local.stat().st_size)  # noqa: ASYNC240 - local disk
    try:
        async with client.upload_stream(remote) as stream:
            async for block in _file_blocks(local):
                await stream.write(block)
                count += len(block)
                progress.advance(len(block))
    finally:
        progress.end()
    if keep_mtime:
        mtime = local.stat().st_mtime  # noqa: ASYNC240 - local disk
        await set_remote_mtime(client, remote, mtime)
    return count


async def remote_mtime(
    client: Client, path: PurePosixPath | str, info: dict[str, Any] | None = None
) -> float | None:
    """The remote file's mtime: MLSx ``modify`` when *info* has it, else MDTM."""
    if info is not None and _from_mlsx(info):
        value = parse_modify(str(info.get("modify", "")))
        if value is not None:
            return value
    try:
        result = await client.command(f"MDTM {PurePosixPath(path)}", "213")
    except errors.StatusCodeError:
        return parse_modify(str(info.get("modify", ""))) if info else None
    assert result is not None
    return parse_modify(" ".join(result[1]).strip())


def _from_mlsx(info: dict[str, Any]) -> bool:
    # Entries parsed from LIST carry "permissions" (Unix) or only three keys (Windows).
    return "permissions" not in info and not ({"type", "size", "modify"} >= set(info))


async def set_remote_mtime(client: Client, path: PurePosixPath | str, mtime: float) -> bool:
    """Set the remote mtime (MFMT, then ``MDTM time path``); False if the server can't."""
    stamp = format_modify(mtime)
    for line in (f"MFMT {stamp} {path}", f"MDTM {stamp} {path}"):
        try:
            result = await client.command(line, ("2xx", "5xx"))
        except errors.StatusCodeError:
            continue
        if result is not None and result[0].matches("2xx"):
            return True
    return False


def _is_dir(info: dict[str, Any]) -> bool:
    return str(info.get("type", "")).lower() == "dir"


async def download_tree(
    client: Client, remote: PurePosixPath, local: Path, *, progress: Progress | None = None
) -> int:
    """Download a directory tree into *local*; returns the number of files."""
    local.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - local disk
    files = 0
    for path, info in await client.list(remote, recursive=True):
        target = local.joinpath(*path.relative_to(remote).parts)
        if _is_dir(info):
            target.mkdir(parents=True, exist_ok=True)
        else:
            size = int(info["size"]) if str(info.get("size", "")).isdigit() else None
            await download_file(client, path, target, progress=progress, size=size)
            files += 1
    return files


async def upload_tree(
    client: Client, local: Path, remote: PurePosixPath, *, progress: Progress | None = None
) -> int:
    """Upload a directory tree to *remote* (made if missing); returns the number of files."""
    await client.make_directory(remote)
    files = 0
    for directory, names, filenames in os.walk(local):
        base = Path(directory)
        relative = base.relative_to(local).parts
        for name in sorted(names):
            await client.ensure_directory(remote.joinpath(*relative, name))
        for name in sorted(filenames):
            await upload_file(
                client, base / name, remote.joinpath(*relative, name), progress=progress
            )
            files += 1
    return files


async def _remote_entries(
    client: Client, root: PurePosixPath
) -> dict[str, tuple[PurePosixPath, dict[str, Any]]]:
    entries: dict[str, tuple[PurePosixPath, dict[str, Any]]] = {}
    for path, info in await client.list(root, recursive=True):
        entries[path.relative_to(root).as_posix()] = (path, dict(info))
    return entries


async def mirror_download(
    client: Client, remote: PurePosixPath, local: Path, *, progress: Progress | None = None
) -> MirrorResult:
    """Make *local* hold the remote tree, skipping files with the same size and mtime.

    Downloaded files get the remote mtime, so the next run skips them.
    """
    result = MirrorResult()
    local.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - local disk
    for relative, (path, info) in sorted((await _remote_entries(client, remote)).items()):
        target = local.joinpath(*PurePosixPath(relative).parts)
        if _is_dir(info):
            target.mkdir(parents=True, exist_ok=True)
            result.directories.append(relative)
            continue
        size = int(info["size"]) if str(info.get("size", "")).isdigit() else None
        mtime = await remote_mtime(client, path, info)
        with contextlib.suppress(FileNotFoundError):
            stat = target.stat()
            if (
                size == stat.st_size
                and mtime is not None
                and abs(int(stat.st_mtime) - int(mtime)) <= 1
            ):
                result.skipped.append(relative)
                continue
        await download_file(client, path, target, progress=progress, size=size, mtime=mtime)
        result.copied.append(relative)
    return result


async def mirror_upload(
    client: Client, local: Path, remote: PurePosixPath, *, progress: Progress | None = None
) -> MirrorResult:
    """Make *remote* hold the local tree, skipping files with the same size and mtime.

    Uploaded files get the local mtime where the server can set it (MFMT). Where it can
    not, a remote file at least as new as the local one, of the same size, is skipped.
    """
    result = MirrorResult()
    await client.make_directory(remote)
    existing = await _remote_entries(client, remote)
    for directory, names, filenames in os.walk(local):
        base = Path(directory)
        relative_dir = PurePosixPath(*base.relative_to(local).parts)
        for name in sorted(names):
            relative = (relative_dir / name).as_posix()
            if relative not in existing:
                await client.make_directory(remote / relative, parents=False)
            result.directories.append(relative)
        for name in sorted(filenames):
            relative = (relative_dir / name).as_posix()
            source = base / name
            stat = source.stat()
            if relative in existing:
                path, info = existing[relative]
                size = str(info.get("size", ""))
                mtime = await remote_mtime(client, path, info)
                if (
                    size == str(stat.st_size)
                    and mtime is not None
                    and int(mtime) >= int(stat.st_mtime) - 1
                ):
                    result.skipped.append(relative)
                    continue
            await upload_file(client, source, remote / relative, progress=progress, keep_mtime=True)
            result.copied.append(relative)
    return result
