"""The load generator's FTP client: asyncio raw sockets, as few Python steps per byte as
possible, the same code against every server.

Control connections are plain non-blocking sockets too, read by one callback each
(:class:`Control`): with 200 clients connecting and logging in at once, asyncio's
streams and ``create_connection`` cost the generator more per connection than the
servers spent, so the generator, not the server, set the time of those lines. Data
connections are plain non-blocking sockets. A received stream (RETR) is drained by one
reader callback and, on Linux, discarded in the kernel (``MSG_TRUNC``, no copy),
elsewhere read into one shared buffer; a sent file (STOR) goes out with
``loop.sock_sendfile``. So the generator's cost per byte is one system call per large
chunk and it is not the bottleneck. Every transfer checks the byte count, so a server
that fails a transfer can not look fast.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import socket
import sys
from pathlib import Path

__all__ = ("Control", "FtpError", "FtpSession", "Sink", "receive_all", "connect_data")

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


class Control:
    """A control connection on a plain non-blocking socket.

    One reader callback stays registered for the connection's life and appends what
    arrives to a buffer; :meth:`readline` waits on one future when no whole line is
    there. Connecting does not wait for the handshake: the welcome reply arriving is
    the sign that it completed (a refused connection makes the read fail). So a
    connection costs a socket, a reader and a future per reply, which keeps the
    generator well below the server's cost per session (asyncio's streams or
    ``create_connection`` cost more than the servers measured).
    """

    #: A reply line longer than this is an error (no FTP reply comes close).
    MAX_LINE = 1 << 20

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._fd = sock.fileno()
        self._buffer = bytearray()
        self._eof = False
        self._error: OSError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop.add_reader(self._fd, self._readable)

    @classmethod
    def connect(cls, host: str, port: int) -> Control:
        """Start connecting to *host*:*port* (a numeric address)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            error = sock.connect_ex((host, port))
            if error not in (0, errno.EINPROGRESS):
                raise OSError(error, f"connect to {host}:{port}: {os.strerror(error)}")
            return cls(sock)
        except BaseException:
            sock.close()
            raise

    def _readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._error = exc
            data = b""
        if data:
            self._buffer += data
        else:
            self._eof = True
            self._loop.remove_reader(self._fd)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _check(self) -> None:
        if self._error is not None:
            raise ConnectionError(f"control connection failed: {self._error}")

    async def readline(self) -> bytes:
        """The next line with its end; what is left (maybe b"") at the end of the stream."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\n")
            if end >= 0:
                line = bytes(buffer[: end + 1])
                del buffer[: end + 1]
                return line
            if len(buffer) > self.MAX_LINE:
                raise FtpError("reply line too long")
            if self._eof:
                self._check()
                line = bytes(buffer)
                buffer.clear()
                return line
            await self._wait()

    async def read(self) -> bytes:
        """Everything until the server closes the connection."""
        while not self._eof:
            await self._wait()
        self._check()
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def write(self, data: bytes) -> None:
        """Send a command line (after a reply came, so the connection is up)."""
        self._check()
        sent = self.sock.send(data)  # a command line fits in an empty socket buffer
        if sent != len(data):
            raise ConnectionError(f"sent {sent} of {len(data)} bytes of a command")

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            if not self._eof:
                self._loop.remove_reader(self._fd)
            self.sock.close()


class FtpSession:
    """One logged-in control connection."""

    def __init__(self, control: Control, host: str) -> None:
        self.reader = control
        self.writer = control
        self.host = host

    # --- connection ---------------------------------------------------------------------

    @classmethod
    async def connect(cls, host: str, port: int) -> FtpSession:
        """Open the control connection and read the welcome (no login)."""
        control = Control.connect(host, port)
        session = cls(control, host)
        try:
            await session.expect("2")
        except BaseException:
            control.close()
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
