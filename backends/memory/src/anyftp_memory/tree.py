"""The in-memory tree behind :class:`anyftp_memory.MemoryPathIO`: nodes and path walking.

A :class:`MemoryTree` is the per-server shared state. Directories hold their children in
a dict (one lookup per path component); files hold their published content as a
``bytearray`` that is never changed after publication, so a reader can keep a reference
to it while writers prepare the next version in a private buffer. Every operation here is
synchronous and short, so it runs atomically on the event loop.

Errors are the builtin ones the local disk would raise (``FileNotFoundError``,
``NotADirectoryError``, ...); :class:`anyftp.pathio.AbstractPathIO` wraps them.
"""

from __future__ import annotations

import errno
import itertools
import posixpath
import stat as stat_module
import time
from pathlib import PurePath, PurePosixPath
from typing import ClassVar

from anyftp.pathio import PathStat

__all__ = ("DirNode", "FileNode", "MemoryTree", "Node")


class FileNode:
    """A regular file. ``content`` is replaced, never mutated, once published."""

    __slots__ = ("content", "ctime", "ino", "mode", "mtime")

    #: The content of a file nobody has written yet (shared, never mutated).
    EMPTY: ClassVar[bytearray] = bytearray()

    def __init__(self, ino: int, now: float, mode: int = 0o644) -> None:
        self.ino = ino
        self.mode = mode
        self.mtime = now
        self.ctime = now
        self.content: bytearray = FileNode.EMPTY

    def publish(self, content: bytearray, now: float) -> None:
        self.content = content
        self.mtime = now
        self.ctime = now

    def stat(self, dev: int) -> PathStat:
        return PathStat(
            st_size=len(self.content),
            st_mtime=self.mtime,
            st_ctime=self.ctime,
            st_nlink=1,
            st_mode=stat_module.S_IFREG | self.mode,
            st_ino=self.ino,
            st_dev=dev,
        )


class DirNode:
    """A directory: children by name, and the count of subdirectories (for ``st_nlink``)."""

    __slots__ = ("children", "ctime", "ino", "mode", "mtime", "subdirs")

    def __init__(self, ino: int, now: float, mode: int = 0o755) -> None:
        self.ino = ino
        self.mode = mode
        self.mtime = now
        self.ctime = now
        self.children: dict[str, Node] = {}
        self.subdirs = 0

    def add(self, name: str, node: Node, now: float) -> None:
        old = self.children.get(name)
        if isinstance(old, DirNode):
            self.subdirs -= 1
        self.children[name] = node
        if isinstance(node, DirNode):
            self.subdirs += 1
        self.mtime = self.ctime = now

    def remove(self, name: str, now: float) -> Node:
        node = self.children.pop(name)
        if isinstance(node, DirNode):
            self.subdirs -= 1
        self.mtime = self.ctime = now
        return node

    def stat(self, dev: int) -> PathStat:
        return PathStat(
            st_size=0,
            st_mtime=self.mtime,
            st_ctime=self.ctime,
            st_nlink=2 + self.subdirs,
            st_mode=stat_module.S_IFDIR | self.mode,
            st_ino=self.ino,
            st_dev=dev,
        )


Node = FileNode | DirNode


_STRERROR = {
    errno.ENOENT: "No such file or directory",
    errno.EEXIST: "File exists",
    errno.ENOTDIR: "Not a directory",
    errno.EISDIR: "Is a directory",
    errno.ENOTEMPTY: "Directory not empty",
    errno.EINVAL: "Invalid argument",
    errno.EBUSY: "Device or resource busy",
}


def not_found(path: object) -> OSError:
    return FileNotFoundError(errno.ENOENT, _STRERROR[errno.ENOENT], str(path))


def not_a_directory(path: object) -> OSError:
    return NotADirectoryError(errno.ENOTDIR, _STRERROR[errno.ENOTDIR], str(path))


def is_a_directory(path: object) -> OSError:
    return IsADirectoryError(errno.EISDIR, _STRERROR[errno.EISDIR], str(path))


def exists_error(path: object) -> OSError:
    return FileExistsError(errno.EEXIST, _STRERROR[errno.EEXIST], str(path))


def os_error(code: int, path: object) -> OSError:
    return OSError(code, _STRERROR[code], str(path))


class MemoryTree:
    """One in-memory file tree, shared by every MemoryPathIO of a server."""

    _devices = itertools.count(1)

    def __init__(self) -> None:
        self._inodes = itertools.count(1)
        self.dev = next(self._devices)
        self.root = DirNode(next(self._inodes), time.time())

    def new_file(self, now: float) -> FileNode:
        return FileNode(next(self._inodes), now)

    def new_dir(self, now: float) -> DirNode:
        return DirNode(next(self._inodes), now)

    def clear(self) -> None:
        self.root.children.clear()
        self.root.subdirs = 0

    # --- walking --------------------------------------------------------------------------

    @staticmethod
    def split(path: PurePath, cwd: PurePosixPath) -> tuple[str, ...]:
        """Components of *path* made absolute against *cwd*, with ``..`` collapsed.

        The tree has no symlinks, so collapsing ``..`` lexically is exact.
        """
        text = PurePosixPath(path).as_posix()
        if not text.startswith("/"):
            text = posixpath.join(cwd.as_posix(), text)
        normal = posixpath.normpath(text)
        return tuple(part for part in normal.split("/") if part)

    def find(self, parts: tuple[str, ...], path: object) -> Node:
        """The node at *parts*; FileNotFoundError / NotADirectoryError as the disk would."""
        node: Node = self.root
        for part in parts:
            if not isinstance(node, DirNode):
                raise not_a_directory(path)
            child = node.children.get(part)
            if child is None:
                raise not_found(path)
            node = child
        return node

    def find_dir(self, parts: tuple[str, ...], path: object) -> DirNode:
        node = self.find(parts, path)
        if not isinstance(node, DirNode):
            raise not_a_directory(path)
        return node

    def lookup(self, parts: tuple[str, ...]) -> Node | None:
        """The node at *parts*, or ``None`` when there is none (no errors)."""
        node: Node = self.root
        for part in parts:
            if not isinstance(node, DirNode):
                return None
            child = node.children.get(part)
            if child is None:
                return None
            node = child
        return node

    def parent_of(self, parts: tuple[str, ...], path: object) -> DirNode:
        """The directory that holds (or would hold) the entry at *parts*."""
        if not parts:
            raise os_error(errno.EBUSY, path)
        return self.find_dir(parts[:-1], path)
