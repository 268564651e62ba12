"""MemoryPathIO: an in-memory file tree (aioftp's ``MemoryPathIO``, made fast and exact).

Paths are :class:`~pathlib.PurePosixPath`; a relative path (the server's default
``User.base_path`` is ``Path(".")``) is taken relative to ``cwd``, by default the tree's
root. The tree (:class:`~anyftp_memory.tree.MemoryTree`) is per-server state made by
:meth:`MemoryPathIO.create_state`; an instance built with ``state=None`` makes its own.

File semantics follow the local disk, with one difference that makes concurrent use
safe: a file opened for writing (``wb``, ``ab``, ``r+b``) works on a private buffer that
replaces the file's content when it is closed. Readers therefore always see one complete
version (the one current when they opened), and when two writers race the last close
wins. ``wb`` on a new name makes the (empty) file at once, as the disk does; aborting a
write (:meth:`MemoryPathIO.abort`, or leaving ``async with`` by an exception) discards
the buffer and removes a file that the aborted open had created.

Permission bits set by :meth:`MemoryPathIO.chmod` are stored and reported, not enforced.
The tree belongs to one event loop; it is not shared between threads.
"""

from __future__ import annotations

import builtins
import errno
import io
import time
from collections.abc import AsyncIterator
from pathlib import PurePath, PurePosixPath
from typing import Any, ClassVar

from anyftp.errors import PathOutsideRootError
from anyftp.pathio import AbstractPathIO, AsyncLister, Capabilities, StatLike

from .tree import (
    DirNode,
    FileNode,
    MemoryTree,
    exists_error,
    is_a_directory,
    not_a_directory,
    not_found,
    os_error,
)

__all__ = ("MemoryFile", "MemoryPathIO", "MemoryTree")

_ROOT = PurePosixPath("/")


class MemoryFile:
    """An open file of the memory backend (the ``raw`` object inside an AsyncFile)."""

    __slots__ = (
        "append",
        "buffer",
        "closed",
        "created_in",
        "dirty",
        "name",
        "node",
        "position",
        "readable",
        "view",
        "writable",
    )

    def __init__(
        self,
        node: FileNode,
        mode: str,
        *,
        created_in: DirNode | None = None,
        name: str = "",
    ) -> None:
        self.node = node
        self.readable = mode in ("rb", "r+b")
        self.writable = mode != "rb"
        self.append = mode == "ab"
        self.closed = False
        self.dirty = mode == "wb"  # truncation is a change even with nothing written
        self.created_in = created_in
        self.name = name
        self.view: memoryview | None = None
        if mode == "rb":
            # Published content is never mutated, so a reader keeps a view on it.
            self.buffer = node.content
            self.view = memoryview(self.buffer)
        elif mode == "wb":
            self.buffer = bytearray()
        else:
            self.buffer = bytearray(node.content)
        self.position = len(self.buffer) if self.append else 0

    def check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def read(self, count: int) -> bytes:
        self.check_open()
        if not self.readable:
            raise io.UnsupportedOperation("file not open for reading")
        start = self.position
        size = len(self.buffer)
        if start >= size:
            return b""
        end = size if count < 0 else min(size, start + count)
        self.position = end
        if self.view is not None:
            return bytes(self.view[start:end])
        return bytes(self.buffer[start:end])

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.check_open()
        if not self.writable:
            raise io.UnsupportedOperation("file not open for writing")
        buffer = self.buffer
        if self.append:
            self.position = len(buffer)
        start = self.position
        if start > len(buffer):  # written after a seek past the end: the gap reads as zeros
            buffer.extend(bytes(start - len(buffer)))
        end = start + len(data)
        buffer[start:end] = data
        self.position = end
        self.dirty = True

    def seek(self, offset: int, whence: int) -> int:
        self.check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.position + offset
        elif whence == io.SEEK_END:
            target = len(self.buffer) + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise os_error(errno.EINVAL, "seek")
        self.position = target
        return target

    def release(self) -> None:
        self.closed = True
        if self.view is not None:
            self.view.release()
            self.view = None


class MemoryPathIO(AbstractPathIO):
    """An in-memory tree; one tree per server through :meth:`create_state`."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        set_mtime=True,
        append=True,
        seek_write=True,
        empty_directories=True,
        file_descriptor=False,
        chmod=True,
        rename_directories=True,
        concurrent_writes=True,
    )
    path_class: ClassVar[type[PurePath]] = PurePosixPath

    def __init__(
        self,
        timeout: float | None = None,
        connection: Any = None,
        state: MemoryTree | None = None,
        cwd: str | PurePosixPath | None = None,
        *,
        root: PurePath | str | None = None,
    ) -> None:
        super().__init__(timeout, connection, MemoryTree() if state is None else state, root=root)
        self.cwd = _ROOT if cwd is None else _ROOT / PurePosixPath(cwd)

    @property
    def tree(self) -> MemoryTree:
        tree: MemoryTree = self.state
        return tree

    # --- shared state ---------------------------------------------------------------------

    @classmethod
    def create_state(cls, **options: Any) -> MemoryTree:
        """A new, empty tree. The memory backend takes no options."""
        if options:
            raise TypeError(f"{cls.__name__} takes no options, got {sorted(options)}")
        return MemoryTree()

    @classmethod
    async def close_state(cls, state: Any) -> None:
        """Drop the tree's content."""
        if isinstance(state, MemoryTree):
            state.clear()

    # --- paths ----------------------------------------------------------------------------

    def _parts(self, path: PurePath) -> tuple[str, ...]:
        return MemoryTree.split(path, self.cwd)

    def contain(self, path: PurePath) -> None:
        root = self.root
        if root is None:
            return
        base = self._parts(root)
        if self._parts(path)[: len(base)] != base:
            raise PathOutsideRootError(path, root)

    async def exists(self, path: PurePath) -> bool:
        return self.tree.lookup(self._parts(path)) is not None

    async def is_dir(self, path: PurePath) -> bool:
        return isinstance(self.tree.lookup(self._parts(path)), DirNode)

    async def is_file(self, path: PurePath) -> bool:
        return isinstance(self.tree.lookup(self._parts(path)), FileNode)

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        tree = self.tree
        parts = self._parts(path)
        existing = tree.lookup(parts)
        if existing is not None:
            if exist_ok and isinstance(existing, DirNode):
                return
            raise exists_error(path)
        if not parts:  # pragma: no cover - the root always exists
            raise exists_error(path)
        now = time.time()
        node: DirNode = tree.root
        for index, part in enumerate(parts[:-1]):
            child = node.children.get(part)
            if child is None:
                if not parents:
                    raise not_found(path)
                child = tree.new_dir(now)
                node.add(part, child, now)
            elif not isinstance(child, DirNode):
                raise not_a_directory("/" + "/".join(parts[: index + 1]))
            node = child
        node.add(parts[-1], tree.new_dir(now), now)

    async def rmdir(self, path: PurePath) -> None:
        tree = self.tree
        parts = self._parts(path)
        node = tree.find(parts, path)
        if not isinstance(node, DirNode):
            raise not_a_directory(path)
        if node.children:
            raise os_error(errno.ENOTEMPTY, path)
        tree.parent_of(parts, path).remove(parts[-1], time.time())

    async def unlink(self, path: PurePath) -> None:
        tree = self.tree
        parts = self._parts(path)
        node = tree.find(parts, path)
        if isinstance(node, DirNode):
            raise is_a_directory(path)
        tree.parent_of(parts, path).remove(parts[-1], time.time())

    async def stat(self, path: PurePath) -> StatLike:
        return self.tree.find(self._parts(path), path).stat(self.tree.dev)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        tree = self.tree
        src_parts = self._parts(source)
        dst_parts = self._parts(destination)
        node = tree.find(src_parts, source)
        if not src_parts:
            raise os_error(errno.EBUSY, source)
        src_parent = tree.parent_of(src_parts, source)
        dst_parent = tree.parent_of(dst_parts, destination)
        if src_parts == dst_parts:
            return
        target = dst_parent.children.get(dst_parts[-1])
        if isinstance(node, DirNode):
            if dst_parts[: len(src_parts)] == src_parts:
                raise os_error(errno.EINVAL, destination)  # into its own subtree
            if isinstance(target, FileNode):
                raise not_a_directory(destination)
            if isinstance(target, DirNode) and target.children:
                raise os_error(errno.ENOTEMPTY, destination)
        elif isinstance(target, DirNode):
            raise is_a_directory(destination)
        now = time.time()
        src_parent.remove(src_parts[-1], now)
        dst_parent.add(dst_parts[-1], node, now)
        node.ctime = now

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            directory = self.tree.find_dir(self._parts(path), path)
            base = PurePosixPath(path)
            for name in list(directory.children):  # a snapshot: the tree may change
                yield base / name

        return AsyncLister(entries())

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        directory = self.tree.find_dir(self._parts(path), path)
        base = PurePosixPath(path)
        dev = self.tree.dev
        return [(base / name, node.stat(dev)) for name, node in directory.children.items()]

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        self.tree.find(self._parts(path), path).mtime = mtime

    async def chmod(self, path: PurePath, mode: int) -> None:
        node = self.tree.find(self._parts(path), path)
        node.mode = mode & 0o7777
        node.ctime = time.time()

    # --- files ----------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> MemoryFile:
        if mode == "rb+":
            mode = "r+b"
        tree = self.tree
        parts = self._parts(path)
        if mode in ("rb", "r+b"):
            node = tree.find(parts, path)
            if isinstance(node, DirNode):
                raise is_a_directory(path)
            return MemoryFile(node, mode)
        parent = tree.parent_of(parts, path)
        name = parts[-1]
        existing = parent.children.get(name)
        if isinstance(existing, DirNode):
            raise is_a_directory(path)
        if existing is not None:
            return MemoryFile(existing, mode)
        now = time.time()
        created = tree.new_file(now)
        parent.add(name, created, now)
        return MemoryFile(created, mode, created_in=parent, name=name)

    async def read(self, file: MemoryFile, block_size: int = -1) -> bytes:
        return file.read(block_size)

    async def write(self, file: MemoryFile, data: bytes | bytearray | memoryview) -> None:
        file.write(data)

    async def seek(self, file: MemoryFile, offset: int, whence: int = io.SEEK_SET) -> int:
        return file.seek(offset, whence)

    async def close(self, file: MemoryFile) -> None:
        if file.closed:
            return
        if file.writable and file.dirty:
            # A writer owns its buffer; after close nobody changes it, so it is published
            # as is, without a copy.
            file.node.publish(file.buffer, time.time())
        file.release()

    async def abort(self, file: MemoryFile) -> None:
        if file.closed:
            return
        file.release()
        parent = file.created_in
        if (
            parent is not None
            and parent.children.get(file.name) is file.node
            and file.node.content is FileNode.EMPTY  # nobody published into it
        ):
            parent.remove(file.name, time.time())
