"""The load generator's FTP client: asyncio raw sockets, as few Python steps per byte as
possible, the same code against every server.

Control connections use asyncio streams (replies are small). Data connections are plain
non-blocking sockets. A received stream (RETR) is drained by one reader callback and, on
Linux, discarded in the kernel (``MSG_TRUNC``, no copy), elsewhere read into one shared
buffer; a sent file (STOR) goes out with ``loop.sock_sendfile``. So the generator's cost
per byte is one system call per large chunk and it is not the bottleneck. Every transfer
checks the byte count, so a server that fails a transfer can not look fast.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from pathlib import Path

__all__ = ("FtpError", "FtpSession", "Sink", "receive_all", "connect_data")

#: Sizes of the client-side socket buffers asked for on data connections (0: leave the
#: kernel's autotuning alone).
SOCKET_BUFFER = 0
_PASV = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
_EPSV = re.compile(rb"\(([^\d])\1\1(\d+)\1\)")


class FtpError(Exception):
    """A server answered with an unexpected reply code."""


class Sink:
    """One reusable receive buffer shared by every data connection in the process.

    The bytes are dropped; only counts matter. Sharing is safe because the event loop
    runs one ``recv_into`` at a time.
    """

    def __init__(self, size: int = 1024 * 1024) -> None:
        self.view = memoryview(bytearray(size))


#: Linux discards TCP data received with MSG_TRUNC without copying it to user space:
#: the generator then costs the server's peer as little as a receiver can.
DISCARD_FLAGS = socket.MSG_TRUNC if sys.platform.startswith("linux") else 0


async def receive_all(sock: socket.socket, sink: Sink) -> int:
    """Read the connected non-blocking *sock* to its end; return the number of bytes.

    One reader callback stays registered and drains the socket on each wake-up (no
    future per chunk); on Linux the bytes are discarded in the kernel (MSG_TRUNC),
    elsewhere they land in the shared *sink*.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    view, size, flags = sink.view, len(sink.view), DISCARD_FLAGS
    total = 0

    def readable() -> None:
        nonlocal total
        try:
            while True:
                count = sock.recv_into(view, size, flags)
                if not count:
                    if not done.done():
                        done.set_result(total)
                    return
                total += count
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if not done.done():
                done.set_exception(exc)

    loop.add_reader(sock.fileno(), readable)
    try:
        return await done
    finally:
        loop.remove_reader(sock.fileno())


async def connect_data(host: str, port: int) -> socket.socket:
    """Open a non-blocking TCP connection suitable for the ``loop.sock_*`` calls."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    if SOCKET_BUFFER:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
    try:
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class FtpSession:
    """One logged-in control connection."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    # --- connection ---------------------------------------------------------------------

    @classmethod
    async def connect(cls, host: str, port: int) -> FtpSession:
        """Open the control connection and read the welcome (no login)."""
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        session = cls(reader, writer, host)
        try:
            await session.expect("2")
        except BaseException:
            writer.close()
            raise
        return session

    @classmethod
    async def open(
        cls, host: str, port: int, user: str, password: str, *, binary: bool = True
    ) -> FtpSession:
        """Connect, log in and (unless *binary* is false) switch to binary type."""
        session = await cls.connect(host, port)
        try:
            await session.login(user, password)
            if binary:
                await session.command("TYPE I", "2")
        except BaseException:
            session.close()
            raise
        return session

    async def login(self, user: str, password: str) -> None:
        code, _ = await self.command(f"USER {user}", "23")
        if code.startswith("3"):
            await self.command(f"PASS {password}", "2")

    def close(self) -> None:
        self.writer.close()

    async def quit(self) -> None:
        """Send QUIT, wait for the reply and for the server to close the connection."""
        try:
            await self.command("QUIT", "2")
            await self.reader.read()
        finally:
            self.writer.close()

    # --- replies ------------------------------------------------------------------------

    async def reply(self) -> tuple[str, str]:
        """Read one (possibly multi-line) reply; return its code and text."""
        line = await self.reader.readline()
        if not line:
            raise ConnectionError("control connection closed by the server")
        code = line[:3].decode("ascii", "replace")
        text = [line]
        if line[3:4] == b"-":
            end = code.encode() + b" "
            while True:
                line = await self.reader.readline()
                if not line:
                    raise ConnectionError("control connection closed inside a reply")
                text.append(line)
                if line.startswith(end):
                    break
        return code, b"".join(text).decode("utf-8", "replace")

    async def expect(self, accepted: str) -> tuple[str, str]:
        """Read a reply whose code starts with one of the characters of *accepted*."""
        code, text = await self.reply()
        if code[:1] not in accepted:
            raise FtpError(text.strip())
        return code, text

    async def command(self, line: str, accepted: str) -> tuple[str, str]:
        self.writer.write(line.encode() + b"\r\n")
        return await self.expect(accepted)

    # --- data connections ---------------------------------------------------------------

    async def passive(self) -> socket.socket:
        """Ask for a passive data connection (PASV, EPSV when PASV is refused); open it."""
        self.writer.write(b"PASV\r\n")
        code, text = await self.reply()
        if code == "227":
            match = _PASV.search(text.encode())
            if match is None:
                raise FtpError(f"unreadable PASV reply {text!r}")
            numbers = [int(n) for n in match.groups()]
            port = numbers[4] * 256 + numbers[5]
        else:
            _, text = await self.command("EPSV", "2")
            epsv = _EPSV.search(text.encode())
            if epsv is None:
                raise FtpError(f"unreadable EPSV reply {text!r}")
            port = int(epsv.group(2))
        return await connect_data(self.host, port)

    async def retr(self, name: str, sink: Sink, expected: int | None = None) -> int:
        """RETR *name* into *sink*; return the byte count (checked against *expected*)."""
        data = await self.passive()
        try:
            await self.command(f"RETR {name}", "1")
            total = await receive_all(data, sink)
        finally:
            data.close()
        await self.expect("2")
        if expected is not None and total != expected:
            raise FtpError(f"RETR {name}: got {total} bytes, expected {expected}")
        return total

    async def stor(self, name: str, source: Path) -> int:
        """STOR the local file *source* as *name* with ``sendfile``; return the byte count."""
        loop = asyncio.get_running_loop()
        data = await self.passive()
        try:
            await self.command(f"STOR {name}", "1")
            with open(source, "rb") as file:  # noqa: ASYNC230 - page cache, no waiting
                size = os.fstat(file.fileno()).st_size
                sent = await loop.sock_sendfile(data, file, 0, size) if size else 0
            data.shutdown(socket.SHUT_WR)
        finally:
            data.close()
        await self.expect("2")
        if sent != size:
            raise FtpError(f"STOR {name}: sent {sent} of {size} bytes")
        return sent

    async def listing(self, command: str) -> bytes:
        """Run a listing command (``MLSD dir``); return the listing's bytes."""
        loop = asyncio.get_running_loop()
        data = await self.passive()
        chunks: list[bytes] = []
        try:
            await self.command(command, "1")
            while chunk := await loop.sock_recv(data, 1 << 20):
                chunks.append(chunk)
        finally:
            data.close()
        await self.expect("2")
        return b"".join(chunks)
