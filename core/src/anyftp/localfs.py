"""Synchronous local-filesystem primitives used by the local and threadpool backends.

The ``local`` backend calls these on the event loop, the ``threadpool`` backend in its
worker threads; writing them once keeps the two backends' behaviour identical. Every
function blocks on the disk. *root*, where taken, is the backend's root (``None``: no
containment).
"""

from __future__ import annotations

import os
import pathlib
import stat as stat_module
from pathlib import PurePath
from typing import BinaryIO, cast

from .pathio import (
    Capabilities,
    StatLike,
    contain_resolved,
    inside_without_links,
    is_inside_resolved,
)

__all__ = (
    "CAPABILITIES",
    "chmod",
    "contain",
    "list_paths",
    "open_binary",
    "scan_with_stats",
    "set_mtime",
    "unlink_file",
    "visible",
    "write_all",
)

#: What a backend built on these primitives can do: everything a local disk can.
CAPABILITIES = Capabilities(
    set_mtime=True,
    append=True,
    seek_write=True,
    empty_directories=True,
    file_descriptor=True,
    chmod=True,
    rename_directories=True,
    concurrent_writes=True,
)


def contain(path: PurePath, root: PurePath | None) -> None:
    """Raise PathOutsideRootError unless *path*, symlinks resolved, is inside *root*.

    One ``lstat`` per component below the root; full resolution only when a symlink or
    ``..`` is on the way. The last component may not exist yet (STOR, MKD).
    """
    if root is not None and not inside_without_links(path, root):
        contain_resolved(path, root)


def visible(entry: os.DirEntry[str], root: PurePath | None) -> bool:
    """Whether a directory entry is listed: with a root, symlinks leading outside it are
    not (``is_symlink`` reads d_type: no system call for other entries)."""
    return root is None or not entry.is_symlink() or is_inside_resolved(entry.path, root)


def list_paths(path: PurePath, root: PurePath | None) -> list[PurePath]:
    """The visible entries of directory *path*, as paths, in one ``os.scandir``."""
    base = pathlib.Path(path)
    with os.scandir(path) as iterator:
        return [base / entry.name for entry in iterator if visible(entry, root)]


def scan_with_stats(path: PurePath, root: PurePath | None) -> list[tuple[str, StatLike]]:
    """``(name, stat)`` of the visible entries of *path*, in one ``os.scandir``.

    Entries removed while listing, and dangling symlinks, are left out.
    """
    result: list[tuple[str, StatLike]] = []
    append = result.append
    with os.scandir(path) as iterator:
        for entry in iterator:
            if root is not None and entry.is_symlink() and not is_inside_resolved(entry.path, root):
                continue
            try:
                append((entry.name, entry.stat()))
            except FileNotFoundError:
                continue  # removed while listing, or a dangling symlink
    return result


def unlink_file(path: PurePath) -> None:
    """Remove a file or symlink; a directory is refused with IsADirectoryError."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise IsADirectoryError(21, "Is a directory", str(path))
    os.unlink(path)


def set_mtime(path: PurePath, mtime: float) -> None:
    """Set the modification time of *path*, keeping its access time."""
    os.utime(path, (os.stat(path).st_atime, mtime))


def chmod(path: PurePath, mode: int) -> None:
    """Set the permission bits of *path* (file type bits in *mode* are ignored)."""
    os.chmod(path, stat_module.S_IMODE(mode))


def open_binary(path: PurePath, mode: str) -> BinaryIO:
    """Open *path* unbuffered in binary *mode* (``"rb+"`` accepted for ``"r+b"``)."""
    if mode == "rb+":
        mode = "r+b"
    return cast(BinaryIO, open(path, mode, buffering=0))


def write_all(file: BinaryIO, data: bytes | bytearray | memoryview) -> None:
    """Write all of *data* to unbuffered *file* (which may write less per call)."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if written is None:  # pragma: no cover - only non-blocking files
            raise BlockingIOError("write would block")
        view = view[written:]
