"""Client: aioftp's high-level API (login, directories, listing, streams, transfers).

Paths on the server are ``PurePosixPath``; paths on the local side go through the
client's path-IO backend (``path_io_factory``, the ``local`` backend by default).
Listings use MLSD/MLST and fall back to LIST (parsed by :mod:`anyftp.protocol.listparse`)
when the server refuses them.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import inspect
import ssl as ssl_module
import stat as stat_module
from collections.abc import AsyncIterator, Callable
from pathlib import PurePath, PurePosixPath
from typing import Any, Self

from .. import errors
from ..common import (
    DEFAULT_ACCOUNT,
    DEFAULT_PASSWORD,
    DEFAULT_PORT,
    DEFAULT_USER,
    Code,
    async_enterable,
)
from .base import BaseClient
from .listing import AbstractAsyncLister, AsyncLister, ListInfo
from .streams import READ_BLOCK_SIZE, DataConnectionThrottleStreamIO
from .tls import default_context

__all__ = ("Client", "DEFAULT_TRANSFER_BLOCK_SIZE")

PathLike = str | PurePosixPath


class _DefaultBlockSize(int):
    """aioftp's default ``block_size`` (8192), recognisable as "not given" so transfers
    can use large blocks unless the caller asked for a size."""


#: The ``block_size`` default of upload/download: 8192 as in aioftp, but when it is left
#: alone transfers move READ_BLOCK_SIZE bytes per step.
DEFAULT_TRANSFER_BLOCK_SIZE = _DefaultBlockSize(8192)

_MLSX_FALLBACK = ("500", "501", "502", "504", "550")


def _effective_block(block_size: int) -> int:
    if block_size is DEFAULT_TRANSFER_BLOCK_SIZE or block_size <= 0:
        return READ_BLOCK_SIZE
    return block_size


def _is_root(path: PurePosixPath) -> bool:
    return str(path) in ("/", ".", "")


class Client(BaseClient):
    """An FTP/FTPS client with aioftp's API. See :class:`BaseClient` for the options."""

    # --- session ------------------------------------------------------------------------

    async def connect(self, host: str, port: int = DEFAULT_PORT) -> builtins.list[str]:  # type: ignore[override]
        """Connect and return the greeting's lines."""
        await super().connect(host, port)
        try:
            result = await self.command(None, "220", "120")
            assert result is not None
            if self.ssl is not None:
                await self._protect_data()
        except BaseException:
            self.close()
            raise
        return result[1]

    async def upgrade_to_tls(self, sslcontext: ssl_module.SSLContext | None = None) -> None:
        """Explicit FTPS: AUTH TLS, then protect data connections (PBSZ 0, PROT P)."""
        if self.ssl is not None:
            raise RuntimeError("the connection already uses implicit TLS (ssl=...)")
        await self.command("AUTH TLS", "234")
        await self._start_control_tls(sslcontext or default_context())
        await self._protect_data()

    async def login(
        self,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        """USER, then PASS and ACCT as the server asks."""
        result = await self.command("USER " + user, ("230", "33x"))
        assert result is not None
        code, info = result
        while code.matches("33x"):
            if code == "331":
                result = await self.command("PASS " + password, ("230", "33x"), censor_after=5)
            elif code == "332":
                result = await self.command("ACCT " + account, ("230", "33x"))
            else:
                raise errors.StatusCodeError(Code("33x"), code, info)
            assert result is not None
            code, info = result
        if self._protection_pending:
            await self._protect_data()

    async def quit(self) -> None:
        """QUIT and close."""
        try:
            await self.command("QUIT", "2xx")
        finally:
            self.close()

    @classmethod
    @contextlib.asynccontextmanager
    async def context(
        cls,
        host: str,
        port: int = DEFAULT_PORT,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        account: str = DEFAULT_ACCOUNT,
        upgrade_to_tls: bool | ssl_module.SSLContext = False,
        **kwargs: Any,
    ) -> AsyncIterator[Self]:
        """Connect, log in, yield the client, then quit (close if quitting fails).

        *upgrade_to_tls* may be an ``ssl.SSLContext`` to use for AUTH TLS.
        """
        client = cls(**kwargs)
        try:
            await client.connect(host, port)
            if upgrade_to_tls:
                await client.upgrade_to_tls(
                    upgrade_to_tls if isinstance(upgrade_to_tls, ssl_module.SSLContext) else None
                )
            await client.login(user, password, account)
        except BaseException:
            client.close()
            raise
        try:
            yield client
        except BaseException:
            client.close()
            raise
        else:
            await client.quit()

    # --- directories ----------------------------------------------------------------------

    async def get_current_directory(self) -> PurePosixPath:
        """PWD."""
        result = await self.command("PWD", "257")
        assert result is not None
        return self.parse_directory_response(" ".join(result[1]))

    async def change_directory(self, path: PathLike = "..") -> None:
        """CWD *path* (CDUP for ``..``)."""
        path = PurePosixPath(path)
        if str(path) == "..":
            await self.command("CDUP", "2xx")
        else:
            await self.command("CWD " + str(path), "2xx")

    async def make_directory(self, path: PathLike, *, parents: bool = True) -> None:
        """MKD *path*; with *parents*, the missing parents first (no error if it exists)."""
        path = PurePosixPath(path)
        needed = [path]
        if parents:
            needed = []
            for candidate in (path, *path.parents):
                if _is_root(candidate) or await self.exists(candidate):
                    break
                needed.append(candidate)
            needed.reverse()
        for directory in needed:
            await self.command("MKD " + str(directory), "2xx")

    async def ensure_directory(self, path: PathLike) -> None:
        """MKD *path* unless it already is a directory (its parent must exist)."""
        try:
            await self.command("MKD " + str(PurePosixPath(path)), "2xx")
        except errors.StatusCodeError as exc:
            if not exc.received_codes[-1].matches("5xx") or not await self.is_dir(path):
                raise

    async def remove_directory(self, path: PathLike) -> None:
        """RMD *path* (it must be empty)."""
        await self.command("RMD " + str(PurePosixPath(path)), "2xx")

    # --- listing ------------------------------------------------------------------------

    def list(
        self, path: PathLike = "", *, recursive: bool = False, raw_command: str | None = None
    ) -> AbstractAsyncLister[tuple[PurePosixPath, Any]]:
        """Entries of *path* as ``(path, info)``: await it, or use ``async for``.

        MLSD first, LIST when MLSD is refused (or when *raw_command* says so).
        """
        if raw_command is not None and raw_command.upper() not in ("MLSD", "LIST"):
            raise ValueError(f"raw_command must be 'MLSD' or 'LIST', not {raw_command!r}")
        return AsyncLister(self._walk(PurePosixPath(path), recursive, raw_command))

    async def _walk(
        self, path: PurePosixPath, recursive: bool, raw_command: str | None
    ) -> AsyncIterator[tuple[PurePosixPath, Any]]:
        pending = collections.deque([path])
        while pending:
            directory = pending.popleft()
            for entry_path, info in await self._list_directory(directory, raw_command):
                if recursive and info.get("type") == "dir":
                    pending.append(entry_path)
                yield entry_path, info

    async def _fetch_lines(self, command: str) -> builtins.list[bytes]:
        async with self.get_stream(command, "1xx") as stream:
            data = await stream.read_all()
        return [line.rstrip(b"\r") for line in data.split(b"\n") if line.strip()]

    async def _list_directory(
        self, path: PurePosixPath, raw_command: str | None
    ) -> builtins.list[tuple[PurePosixPath, Any]]:
        argument = "" if str(path) == "." else " " + str(path)
        if raw_command is not None:
            commands = [raw_command.upper()]
        else:
            commands = ["MLSD", "LIST"] if self._mlsd_ok else ["LIST"]
        for index, name in enumerate(commands):
            try:
                lines = await self._fetch_lines(name + argument)
            except errors.StatusCodeError as exc:
                code = exc.received_codes[-1]
                if name == "MLSD" and index + 1 < len(commands) and code in _MLSX_FALLBACK:
                    if code in ("500", "502"):
                        self._mlsd_ok = False
                    continue
                raise
            return self._entries(path, lines, mlsx=name == "MLSD")
        raise AssertionError("unreachable")

    def _entries(
        self, base: PurePosixPath, lines: builtins.list[bytes], *, mlsx: bool
    ) -> builtins.list[tuple[PurePosixPath, Any]]:
        from ..protocol.listparse import is_noise_line

        entries = []
        for line in lines:
            if mlsx:
                name, info = self.parse_mlsx_line(line)
                if info.get("type", "").lower() in ("cdir", "pdir"):
                    continue
            else:
                if is_noise_line(self._decode_line(line)):
                    continue
                name, info = self.parse_list_line(line)
            if str(name) in (".", "..") or not name.name:
                continue
            entries.append(
                (base / name.name if str(base) != "." else PurePosixPath(name.name), info)
            )
        return entries

    async def stat(self, path: PathLike) -> ListInfo:
        """Facts about *path* (MLST; LIST of its parent when MLST is refused).

        A missing path raises StatusCodeError with received code 550.
        """
        path = PurePosixPath(path)
        if self._mlst_ok:
            try:
                result = await self.command("MLST " + str(path), "2xx")
            except errors.StatusCodeError as exc:
                code = exc.received_codes[-1]
                if code not in _MLSX_FALLBACK or code == "550":
                    raise
                if code in ("500", "502"):
                    self._mlst_ok = False
            else:
                assert result is not None
                for line in result[1][1:-1] or result[1]:
                    text = line[1:] if line.startswith(" ") else line
                    if "=" in text.partition(" ")[0]:
                        _, info = self.parse_mlsx_line(text)
                        return info  # type: ignore[return-value]
                raise errors.StatusCodeError(Code("2xx"), result[0], result[1])
        if _is_root(path) or str(path) == "..":
            return {"type": "dir", "size": "0", "modify": ""}
        for entry_path, info in await self._list_directory(path.parent, "LIST"):
            if entry_path.name == path.name:
                return info  # type: ignore[no-any-return]
        raise errors.StatusCodeError(Code("2xx"), Code("550"), ["path does not exist"])

    async def exists(self, path: PathLike) -> bool:
        """Whether *path* exists on the server."""
        try:
            await self.stat(path)
        except errors.StatusCodeError as exc:
            if exc.received_codes[-1].matches("550"):
                return False
            raise
        return True

    async def _type_of(self, path: PathLike) -> str | None:
        try:
            info = await self.stat(path)
        except errors.StatusCodeError as exc:
            if exc.received_codes[-1].matches("550"):
                return None
            raise
        return str(info.get("type", "")).lower()

    async def is_file(self, path: PathLike) -> bool:
        """Whether *path* is a file (False when missing)."""
        return await self._type_of(path) == "file"

    async def is_dir(self, path: PathLike) -> bool:
        """Whether *path* is a directory (False when missing)."""
        return await self._type_of(path) == "dir"

    # --- changing paths -----------------------------------------------------------------

    async def rename(self, source: PathLike, destination: PathLike) -> None:
        """RNFR + RNTO."""
        await self.command("RNFR " + str(PurePosixPath(source)), "350")
        await self.command("RNTO " + str(PurePosixPath(destination)), "2xx")

    async def remove_file(self, path: PathLike) -> None:
        """DELE *path*."""
        await self.command("DELE " + str(PurePosixPath(path)), "2xx")

    async def remove(self, path: PathLike) -> None:
        """Remove a file, or a directory with everything in it; nothing if it is missing."""
        path = PurePosixPath(path)
        kind = await self._type_of(path)
        if kind is None:
            return
        if kind == "dir":
            for entry_path, info in await self.list(path):
                if info.get("type") == "dir":
                    await self.remove(entry_path)
                else:
                    await self.remove_file(entry_path)
            await self.remove_directory(path)
        else:
            await self.remove_file(path)

    # --- streams ------------------------------------------------------------------------

    @async_enterable
    async def get_stream(
        self,
        command: str | None = None,
        expected_codes: Any = (),
        wait_codes: Any = (),
        censor_after: int | None = None,
        conn_type: str = "I",
        offset: int = 0,
    ) -> DataConnectionThrottleStreamIO:
        """Open a data connection, send *command* (REST *offset* first) and wait for
        *expected_codes* passing *wait_codes*, as :meth:`command` does; return the stream.

        Await it or use ``async with`` (which finishes the transfer on exit).
        """
        return await self._open_stream(
            (command, expected_codes, wait_codes, censor_after), {}, conn_type, offset
        )

    def upload_stream(self, destination: PathLike, *, offset: int = 0) -> Any:
        """A writable stream into *destination* (STOR; REST *offset* first)."""
        return self.get_stream("STOR " + str(PurePosixPath(destination)), "1xx", offset=offset)

    def append_stream(self, destination: PathLike, *, offset: int = 0) -> Any:
        """A writable stream appending to *destination* (APPE)."""
        return self.get_stream("APPE " + str(PurePosixPath(destination)), "1xx", offset=offset)

    def download_stream(self, source: PathLike, *, offset: int = 0) -> Any:
        """A readable stream of *source* (RETR; REST *offset* first)."""
        return self.get_stream("RETR " + str(PurePosixPath(source)), "1xx", offset=offset)

    async def retrieve(
        self,
        *command_args: Any,
        conn_type: str = "I",
        callback: Callable[[bytes], Any] | None = None,
        block_size: int = READ_BLOCK_SIZE,
    ) -> bytes:
        """Run a command that sends data (the developer tutorial's helper).

        Each block goes to *callback* (awaited if it returns an awaitable); without a
        callback the data is returned.
        """
        chunks: list[bytes] = []
        async with self.get_stream(*command_args, conn_type=conn_type) as stream:
            async for block in stream.iter_by_block(block_size):
                if callback is None:
                    chunks.append(block)
                    continue
                result = callback(block)
                if inspect.isawaitable(result):
                    await result
        return b"".join(chunks)

    async def store(self, *command_args: Any, data: Any = b"", conn_type: str = "I") -> None:
        """Run a command that receives data: *data* is bytes or an (async) iterable of
        bytes."""
        async with self.get_stream(*command_args, conn_type=conn_type) as stream:
            if isinstance(data, bytes | bytearray | memoryview):
                await stream.write(data)
            elif hasattr(data, "__aiter__"):
                async for block in data:
                    await stream.write(block)
            else:
                for block in data:
                    await stream.write(block)

    # --- whole files and trees -------------------------------------------------------------

    def _local(self, path: str | PurePath) -> PurePath:
        return self.path_io.path_class(path)

    async def upload(
        self,
        source: Any,
        destination: PathLike = "",
        *,
        write_into: bool = False,
        block_size: int = DEFAULT_TRANSFER_BLOCK_SIZE,
    ) -> None:
        """Upload a local file or directory tree.

        Without *write_into* the source's name is appended to *destination* (default:
        the current directory); with it, *destination* is the target itself. *source*
        may also be a file object (then *destination* names the remote file).
        """
        block = _effective_block(block_size)
        remote = PurePosixPath(destination)
        if hasattr(source, "read"):
            if not str(destination):
                raise ValueError("uploading a file object needs a destination")
            await self._upload_fileobj(source, remote, block)
            return
        local = self._local(source)
        if not write_into:
            remote = remote / local.name
        path_io = self.path_io
        if await path_io.is_file(local):
            if not _is_root(remote.parent):
                await self.make_directory(remote.parent)
            await self._upload_file(local, remote, block)
            return
        if not await path_io.is_dir(local):
            raise errors.PathIOError(
                f"local path {str(local)!r} is neither file nor directory", reason=None
            )
        await self.make_directory(remote)
        directories = collections.deque([local])
        while directories:
            current = directories.popleft()
            for child, child_stat in await path_io.list_with_stats(current):
                target = remote.joinpath(*child.relative_to(local).parts)
                if stat_module.S_ISDIR(child_stat.st_mode):
                    await self.ensure_directory(target)
                    directories.append(child)
                else:
                    await self._upload_file(child, target, block)

    async def _upload_file(self, local: PurePath, remote: PurePosixPath, block: int) -> None:
        async with self.path_io.open(local, "rb") as file_in, self.upload_stream(remote) as stream:
            while True:
                data = await file_in.read(block)
                if not data:
                    break
                await stream.write(data)

    async def _upload_fileobj(self, file_in: Any, remote: PurePosixPath, block: int) -> None:
        async with self.upload_stream(remote) as stream:
            while True:
                data = file_in.read(block)
                if inspect.isawaitable(data):
                    data = await data
                if not data:
                    break
                await stream.write(data)

    async def download(
        self,
        source: PathLike,
        destination: str | PurePath = "",
        *,
        write_into: bool = False,
        block_size: int = DEFAULT_TRANSFER_BLOCK_SIZE,
    ) -> None:
        """Download a remote file or directory tree.

        Without *write_into* the source's name is appended to *destination* (default:
        the current local directory); with it, *destination* is the target itself.
        """
        block = _effective_block(block_size)
        remote = PurePosixPath(source)
        local = self._local(destination)
        if not write_into:
            local = local / remote.name
        path_io = self.path_io
        kind = await self._type_of(remote)
        if kind == "dir":
            await path_io.mkdir(local, parents=True, exist_ok=True)
            for entry_path, info in await self.list(remote, recursive=True):
                target = local.joinpath(*entry_path.relative_to(remote).parts)
                if info.get("type") == "dir":
                    await path_io.mkdir(target, parents=True, exist_ok=True)
                elif info.get("type") in ("file", "link"):
                    await path_io.mkdir(target.parent, parents=True, exist_ok=True)
                    await self._download_file(entry_path, target, block)
            return
        if str(local.parent) not in ("", "."):
            await path_io.mkdir(local.parent, parents=True, exist_ok=True)
        await self._download_file(remote, local, block)

    async def _download_file(self, remote: PurePosixPath, local: PurePath, block: int) -> None:
        async with (
            self.download_stream(remote) as stream,
            self.path_io.open(local, "wb") as file_out,
        ):
            while True:
                data = await stream.read(block)
                if not data:
                    break
                await file_out.write(data)
