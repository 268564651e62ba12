"""Data connections on :class:`~anyftp.server.control.RawTransport`.

1. The transport with an :class:`asyncio.BufferedProtocol` on a loopback TCP pair:
   ``get_buffer``/``buffer_updated`` in order, EOF, a failing ``get_buffer``, write
   buffer limits, the socket options of data and control connections, ``loop.sendfile``.
2. A real :class:`anyftp.Server` on the test's loop (asyncio's selector loop) and a client
   on the same loop: clear passive downloads, uploads and listings go through a
   RawTransport made at accept time and watched by the loop itself (the server's
   poller keeps only the control connections); nothing is left registered and no
   descriptor leaks after many transfers; PROT P still uses asyncio's TLS transport.
3. Data connections that are never used, reset before the transfer, from another host,
   or too late: the session answers and goes on.

Real sockets on 127.0.0.1 with ports chosen by the OS; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import hashlib
import os
import select
import selectors
import socket
import ssl
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.server import Server
from anyftp.server.control import WRITE_HIGH, ControlStream, RawListener, RawTransport
from anyftp.server.datachannel import DataChannel, SendfileUnavailable
from anyftp.server.handlers import transfer
from anyftp.server.poller import Poller
from anyftp.testing.servers import close_server, in_thread

from .conftest import TIMEOUT, Handled, Watched, connect_to, loopback_pair

pytestmark = pytest.mark.timeout(60)

#: How long a test waits to see that something does *not* happen.
QUIET = 0.1
needs_epoll = pytest.mark.skipif(not hasattr(select, "epoll"), reason="the poller needs epoll")


def pattern(size: int) -> bytes:
    """*size* bytes in which a lost or reordered block shows."""
    block = bytes(range(251))  # a prime length: no block boundary meets a power of two
    return (block * (size // len(block) + 1))[:size]


async def until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> None:
    """Wait (bounded) until *predicate* holds, looking every few milliseconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


def reset(sock: socket.socket) -> None:
    """Close *sock* with SO_LINGER 0: its peer gets an RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def recv_to_eof(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    loop = asyncio.get_running_loop()
    data = bytearray()
    async with asyncio.timeout(timeout):
        while chunk := await loop.sock_recv(sock, 1 << 20):
            data += chunk
    return bytes(data)


async def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer closed *sock* (EOF or reset), waiting for it (bounded)."""
    try:
        await recv_to_eof(sock)
    except ConnectionResetError:
        pass
    return True


# --- 1. RawTransport with a BufferedProtocol ---------------------------------------------------


class Recorder(asyncio.BufferedProtocol, Watched):
    """A buffered protocol that keeps what it is given and wakes the test at each event.

    *fail* makes ``get_buffer`` raise (``"raise"``) or return an empty buffer
    (``"empty"``); *keep_open* is what ``eof_received`` answers."""

    def __init__(self, size: int = 1000, fail: str | None = None, keep_open: bool = False):
        self.buffer = bytearray(size)
        self.fail = fail
        self.keep_open = keep_open
        self.error = ValueError("no buffer for you")
        self.transport: Any = None
        self.received = bytearray()
        self.hints: list[int] = []
        self.updates = 0
        self.eof = 0
        self.lost: list[BaseException | None] = []
        self.pauses = 0
        self.resumes: list[int] = []  # unsent bytes when writing was resumed
        self.changed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        self.hints.append(sizehint)
        if self.fail == "raise":
            raise self.error
        if self.fail == "empty":
            return memoryview(bytearray())
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.received += self.buffer[:nbytes]
        self.updates += 1
        self.changed.set()

    def eof_received(self) -> bool:
        self.eof += 1
        self.changed.set()
        return self.keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)
        self.changed.set()

    def pause_writing(self) -> None:
        self.pauses += 1

    def resume_writing(self) -> None:
        self.resumes.append(self.transport.get_write_buffer_size())
        self.changed.set()


class Pair:
    def __init__(self, transport: RawTransport, protocol: Recorder, client: socket.socket):
        self.transport = transport
        self.protocol = protocol
        self.client = client


@pytest.fixture
async def pair() -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    """Make a RawTransport (server end) + Recorder and the client's socket; all closed at
    the end (the transport aborted if still open)."""
    loop = asyncio.get_running_loop()
    pairs: list[Pair] = []

    async def factory(
        protocol: asyncio.BaseProtocol | None = None,
        *,
        small_buffers: bool = False,
        poller: Poller | None = None,
        control: bool = False,
    ) -> Pair:
        sock, client, peer = await loopback_pair(4096 if small_buffers else None)
        protocol = protocol if protocol is not None else Recorder()
        transport = RawTransport(
            loop, sock, protocol, peer, sock.getsockname(), poller, control=control
        )
        made = Pair(transport, protocol, client)  # type: ignore[arg-type]
        pairs.append(made)
        return made

    yield factory
    for made in pairs:
        made.client.close()
        if not made.transport.is_closing():
            made.transport.abort()
    await asyncio.sleep(0)  # connection_lost of what was aborted


@pytest.fixture
async def new_poller() -> AsyncIterator[Callable[[], Poller]]:
    """Make pollers on the test's loop; each is released at the end."""
    made: list[Poller] = []

    def factory() -> Poller:
        if not hasattr(select, "epoll"):
            pytest.skip("the poller needs epoll")
        made.append(Poller(asyncio.get_running_loop()))
        return made[-1]

    yield factory
    for poller in made:
        poller.release()


@pytest.fixture
async def poller(new_poller: Callable[[], Poller]) -> Poller:
    return new_poller()


@pytest.mark.parametrize("with_poller", [False, True])
async def test_bytes_arrive_in_order_through_get_buffer(
    pair: Callable[..., Awaitable[Pair]], new_poller: Callable[[], Poller], with_poller: bool
) -> None:
    loop = asyncio.get_running_loop()
    used = new_poller() if with_poller else None
    made = await pair(Recorder(size=1000), poller=used)
    protocol, transport = made.protocol, made.transport
    assert protocol.transport is transport
    if used is not None:
        assert used._users == 1
        assert used._readers[transport._fd] == transport._read_ready
    data = pattern(200_000)
    async with asyncio.timeout(TIMEOUT):
        await loop.sock_sendall(made.client, data)
    made.client.shutdown(socket.SHUT_WR)
    await protocol.until(lambda: bool(protocol.lost))
    assert bytes(protocol.received) == data
    assert protocol.updates >= len(data) // 1000  # never more than the buffer at a time
    assert protocol.eof == 1
    assert protocol.lost == [None]  # eof_received said False: closed
    assert transport.is_closing()
    assert transport.get_extra_info("socket") is None
    assert await recv_to_eof(made.client) == b""
    if used is not None:
        assert used._users == 0
        assert not used._readers and not used._masks


async def test_eof_kept_open_lets_the_transport_answer(
    pair: Callable[..., Awaitable[Pair]], poller: Poller
) -> None:
    loop = asyncio.get_running_loop()
    made = await pair(Recorder(keep_open=True), poller=poller)
    protocol, transport = made.protocol, made.transport
    await loop.sock_sendall(made.client, b"question")
    made.client.shutdown(socket.SHUT_WR)
    await protocol.until(lambda: protocol.eof == 1)
    assert bytes(protocol.received) == b"question"
    assert not protocol.lost and not transport.is_closing()
    assert transport._fd not in poller._readers  # nothing more to read: not watched
    transport.write(b"answer")
    transport.close()
    assert await recv_to_eof(made.client) == b"answer"
    await protocol.until(lambda: bool(protocol.lost))
    assert protocol.lost == [None]
    assert poller._users == 0


async def test_pause_and_resume_reading_with_a_buffered_protocol(
    pair: Callable[..., Awaitable[Pair]], poller: Poller
) -> None:
    loop = asyncio.get_running_loop()
    made = await pair(poller=poller)
    protocol, transport = made.protocol, made.transport
    transport.pause_reading()
    assert not transport.is_reading()
    assert transport._fd not in poller._masks
    await loop.sock_sendall(made.client, b"held")
    await asyncio.sleep(QUIET)
    assert protocol.updates == 0 and not protocol.hints
    transport.resume_reading()
    assert transport.is_reading()
    await protocol.until(lambda: bytes(protocol.received) == b"held")


@pytest.mark.parametrize("fail", ["raise", "empty"])
@pytest.mark.parametrize("with_poller", [False, True])
async def test_a_failing_get_buffer_ends_the_connection(
    pair: Callable[..., Awaitable[Pair]],
    handled: Handled,
    new_poller: Callable[[], Poller],
    fail: str,
    with_poller: bool,
) -> None:
    loop = asyncio.get_running_loop()
    used = new_poller() if with_poller else None
    made = await pair(Recorder(fail=fail), poller=used)
    protocol, transport = made.protocol, made.transport
    await loop.sock_sendall(made.client, b"hello")
    await protocol.until(lambda: bool(protocol.lost))
    [exc] = protocol.lost
    if fail == "raise":
        assert exc is protocol.error
    else:
        assert isinstance(exc, RuntimeError)
        assert "empty" in str(exc)
    assert protocol.updates == 0 and protocol.eof == 0
    assert transport.is_closing()
    assert transport.get_extra_info("socket") is None
    [context] = handled.contexts  # reported once, as asyncio's transports do
    assert context["exception"] is exc
    assert context["transport"] is transport
    assert await closed_by_peer(made.client)
    if used is not None:
        assert used._users == 0 and not used._masks
    transport.write(b"dropped")  # nothing happens after the end
    transport.close()
    transport.abort()
    await asyncio.sleep(QUIET)
    assert len(protocol.lost) == 1


async def test_write_buffer_limits_pause_and_resume_the_protocol(
    pair: Callable[..., Awaitable[Pair]], poller: Poller
) -> None:
    loop = asyncio.get_running_loop()
    made = await pair(small_buffers=True, poller=poller)
    protocol, transport = made.protocol, made.transport
    transport.set_write_buffer_limits(high=1000, low=100)
    assert transport.get_write_buffer_limits() == (100, 1000)
    data = pattern(1 << 20)
    transport.write(data)
    assert transport.get_write_buffer_size() > 1000  # loopback takes far less at once
    assert protocol.pauses == 1
    assert poller._writers[transport._fd] == transport._write_ready  # in the poller
    transport.write(b"tail")
    assert protocol.pauses == 1  # once per crossing

    # limits changed while paused: above the buffered bytes, writing resumes at once
    transport.set_write_buffer_limits(high=1 << 30)
    assert transport.get_write_buffer_limits() == (1 << 28, 1 << 30)
    assert len(protocol.resumes) == 1
    # and below them again, it pauses at once
    transport.set_write_buffer_limits(high=1000, low=100)
    assert protocol.pauses == 2

    received = bytearray()
    async with asyncio.timeout(TIMEOUT):
        while len(received) < len(data) + 4:
            chunk = await loop.sock_recv(made.client, 65536)
            assert chunk
            received += chunk
    assert bytes(received) == data + b"tail"
    await protocol.until(lambda: len(protocol.resumes) == 2)
    assert protocol.resumes[1] <= 100  # resumed at the low-water mark, not before
    await until(lambda: transport._fd not in poller._writers)  # all sent: not watched
    assert transport.get_write_buffer_size() == 0


async def test_write_buffer_limits_defaults_and_bad_values(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    made = await pair()
    transport = made.transport
    assert transport.get_write_buffer_limits() == (WRITE_HIGH // 4, WRITE_HIGH)
    transport.set_write_buffer_limits(high=4000)
    assert transport.get_write_buffer_limits() == (1000, 4000)
    transport.set_write_buffer_limits(low=300)
    assert transport.get_write_buffer_limits() == (300, 1200)
    transport.set_write_buffer_limits(high=0)
    assert transport.get_write_buffer_limits() == (0, 0)
    transport.set_write_buffer_limits()
    assert transport.get_write_buffer_limits() == (WRITE_HIGH // 4, WRITE_HIGH)
    for high, low in [(10, 20), (-1, None), (None, -1), (10, -1)]:
        with pytest.raises(ValueError):
            transport.set_write_buffer_limits(high=high, low=low)
    assert transport.get_write_buffer_limits() == (WRITE_HIGH // 4, WRITE_HIGH)  # unchanged


@pytest.mark.parametrize("control", [False, True])
async def test_socket_options_of_data_and_control_connections(
    pair: Callable[..., Awaitable[Pair]], control: bool
) -> None:
    made = await pair(control=control)
    sock = made.transport.get_extra_info("socket")
    # control: replies leave at once, urgent ABOR in line; data: Nagle, out-of-band apart
    assert bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)) is control
    assert bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE)) is control


async def test_loop_sendfile_without_fallback_sends_nothing(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    # No native sendfile on a RawTransport: with fallback=False the loop refuses. asyncio
    # raises SendfileNotAvailableError only from a native attempt, and RuntimeError for a
    # transport that has no native sendfile (whatever its ``_sendfile_compatible``), so
    # either is accepted. Nothing is sent and the transport goes on.
    loop = asyncio.get_running_loop()
    made = await pair()
    with tempfile.TemporaryFile() as file:
        file.write(b"x" * 1000)
        file.flush()
        with pytest.raises((asyncio.SendfileNotAvailableError, RuntimeError)):
            await loop.sendfile(made.transport, file, 0, None, fallback=False)
    assert not made.transport.is_closing()
    made.transport.write(b"still here")
    made.transport.close()
    assert await recv_to_eof(made.client) == b"still here"


async def test_data_channel_sendfile_over_a_raw_transport_says_unavailable(
    pair: Callable[..., Awaitable[Pair]],
) -> None:
    # What the transfer code relies on: DataChannel.sendfile raises SendfileUnavailable
    # (it then copies blocks) when the loop can not sendfile on the transport.
    channel = DataChannel(4096, timeout=TIMEOUT)
    made = await pair(channel)
    assert channel.transport is made.transport
    with tempfile.TemporaryFile() as file:
        file.write(b"x" * 1000)
        file.flush()
        with pytest.raises(SendfileUnavailable):
            await channel.sendfile(file.fileno(), 0, None)


# --- 2. a real server: clear data connections on RawTransport -------------------------------


class Client:
    """A minimal FTP client on the test's loop (the server runs there too)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.buffer = b""

    @classmethod
    async def connect(cls, server: Server) -> Client:
        client = cls(await connect_to(("127.0.0.1", server.server_port)))
        code, _ = await client.reply()
        assert code == "220"
        return client

    async def _line(self) -> bytes:
        async with asyncio.timeout(TIMEOUT):
            while b"\n" not in self.buffer:
                chunk = await self.loop.sock_recv(self.sock, 65536)
                if not chunk:
                    raise ConnectionError("control connection closed")
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r")

    async def reply(self) -> tuple[str, str]:
        line = await self._line()
        code, text = line[:3].decode(), [line.decode()]
        if line[3:4] == b"-":
            while not (line.startswith(code.encode()) and line[3:4] == b" "):
                line = await self._line()
                text.append(line.decode())
        return code, "\n".join(text)

    async def command(self, line: str) -> tuple[str, str]:
        async with asyncio.timeout(TIMEOUT):
            await self.loop.sock_sendall(self.sock, line.encode() + b"\r\n")
        return await self.reply()

    async def login(self) -> None:
        code, text = await self.command("USER anonymous")
        if code == "331":
            code, text = await self.command("PASS guest")
        assert code == "230", text

    async def epsv(self) -> int:
        code, text = await self.command("EPSV")
        assert code == "229", text
        return int(text.split("|||")[1].split("|")[0])

    async def data(self, **options: Any) -> socket.socket:
        """EPSV and a connection to the port it names."""
        return await connect_to(("127.0.0.1", await self.epsv()), **options)

    async def quit(self) -> None:
        code, _ = await self.command("QUIT")
        assert code == "221"
        assert await recv_to_eof(self.sock) == b""

    def close(self) -> None:
        self.sock.close()


async def send_all_and_close(sock: socket.socket, data: bytes) -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(TIMEOUT):
        await loop.sock_sendall(sock, data)
    sock.close()


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """Start Servers on the test's loop (127.0.0.1, port from the OS); closed at the end."""
    servers: list[Server] = []

    async def factory(**kwargs: Any) -> Server:
        kwargs.setdefault("login_failure_delay", 0)
        kwargs.setdefault("socket_timeout", TIMEOUT)
        kwargs.setdefault("wait_future_timeout", TIMEOUT)
        server = Server([anyftp.User(base_path=tmp_path)], **kwargs)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        assert isinstance(server.server, RawListener)
        return server

    yield factory
    for server in servers:
        await close_server(server)


def listener_poller(server: Server) -> Poller | None:
    """The epoll set of *server*'s control connections (its raw listener's)."""
    assert isinstance(server.server, RawListener)
    return server.server.poller


def only_session(server: Server) -> Any:
    [session] = server.sessions
    return session


async def delivered(session: Any) -> DataChannel:
    """The data channel a passive connection became (waits, bounded, until it is made)."""
    await until(lambda: "data_connection" in session.connection)
    channel = session.connection.data_connection
    assert isinstance(channel, DataChannel)
    return channel


async def settled(server: Server) -> None:
    """Wait (bounded) until every session ended and the poller has no user left; then
    nothing may be registered in it."""
    poller = listener_poller(server)
    await until(lambda: not server.sessions and (poller is None or poller._users == 0))
    if poller is not None:
        assert not poller._readers and not poller._writers and not poller._masks
        assert not poller.closed  # the listener still holds it


def _loop_watched(loop: asyncio.AbstractEventLoop, event: int) -> set[int]:
    selector = loop._selector  # type: ignore[attr-defined]
    return {fd for fd, key in selector.get_map().items() if key.events & event}


def loop_readers(loop: asyncio.AbstractEventLoop) -> set[int]:
    """Descriptors the loop's own selector watches for reading."""
    return _loop_watched(loop, selectors.EVENT_READ)


def loop_writers(loop: asyncio.AbstractEventLoop) -> set[int]:
    """Descriptors the loop's own selector watches for writing."""
    return _loop_watched(loop, selectors.EVENT_WRITE)


@contextlib.asynccontextmanager
async def logged_in(server: Server) -> AsyncIterator[Client]:
    """A logged-in client of *server*; on leaving, QUIT, then wait (bounded) until the
    server has nothing left registered (see :func:`settled`)."""
    client = await Client.connect(server)
    try:
        await client.login()
        yield client
        await client.quit()
    finally:
        client.close()
    await settled(server)


async def retr_gives(client: Client, name: str, expected: bytes) -> None:
    """A RETR of *name* on a new data connection brings *expected* and 226."""
    sock = await client.data()
    try:
        assert (await client.command(f"RETR {name}"))[0] == "150"
        assert await recv_to_eof(sock) == expected
    finally:
        sock.close()
    assert (await client.reply())[0] == "226"


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


@needs_epoll
async def test_held_clear_download_is_written_by_the_loop_not_the_poller(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    data = os.urandom(8 << 20)  # more than the kernel buffers of a client reading nothing
    (tmp_path / "big.bin").write_bytes(data)
    server = await start()
    poller = listener_poller(server)
    assert poller is not None
    async with logged_in(server) as client:
        sock = await client.data(rcvbuf=4096)
        session = only_session(server)
        channel = await delivered(session)  # made at accept time, before any RETR
        transport = channel.transport
        assert isinstance(transport, RawTransport)
        assert transport._poller is None  # data sockets stay with the loop
        assert not channel.tls
        raw = transport.get_extra_info("socket")
        assert raw.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE) == 0  # data: off
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0  # data: Nagle
        assert transport._fd not in poller._readers  # a RETR never reads
        control_fd = session.writer.transport._fd
        assert set(poller._readers) == {control_fd}

        assert (await client.command("RETR big.bin"))[0] == "150"
        loop = asyncio.get_running_loop()
        # the download's writer (on a duplicate of the socket) waits for room in the loop
        await until(lambda: loop_writers(loop) - {transport._fd})
        await asyncio.sleep(QUIET)
        assert loop_writers(loop) - {transport._fd}  # still held: the client reads nothing
        assert not poller._writers
        assert not session.active.done()
        try:
            received = await recv_to_eof(sock)
        finally:
            sock.close()
        assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
        assert (await client.reply())[0] == "226"
        assert not loop_writers(loop)
        assert set(poller._readers) == {control_fd}


@needs_epoll
async def test_held_ascii_download_is_written_by_the_transport_from_the_loop(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    # ASCII is converted and sent through the transport (no sendfile): what the kernel
    # does not take waits in the RawTransport, whose writer the loop watches.
    line = b"0123456789abcde\n"
    (tmp_path / "text.txt").write_bytes(line * (512 << 10))  # 8 MiB
    server = await start()
    poller = listener_poller(server)
    assert poller is not None
    async with logged_in(server) as client:
        assert (await client.command("TYPE A"))[0] == "200"
        sock = await client.data(rcvbuf=4096)
        channel = await delivered(only_session(server))
        transport = channel.transport
        assert isinstance(transport, RawTransport)
        assert (await client.command("RETR text.txt"))[0] == "150"
        loop = asyncio.get_running_loop()
        await until(lambda: transport._fd in loop_writers(loop))
        assert transport.get_write_buffer_size() > 0
        await asyncio.sleep(QUIET)
        assert transport._fd in loop_writers(loop)  # held: the client reads nothing
        assert not poller._writers
        try:
            received = await recv_to_eof(sock)
        finally:
            sock.close()
        assert (await client.reply())[0] == "226"
        assert received == line.replace(b"\n", b"\r\n") * (512 << 10)
        assert not loop_writers(loop)


async def test_listing_goes_through_a_raw_transport(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    names = {f"file-{index}.txt" for index in range(50)}
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    server = await start()
    async with logged_in(server) as client:
        sock = await client.data()
        channel = await delivered(only_session(server))
        assert isinstance(channel.transport, RawTransport)
        assert channel.transport._poller is None
        assert (await client.command("MLSD"))[0] == "150"
        try:
            listing = await recv_to_eof(sock)
        finally:
            sock.close()
        assert (await client.reply())[0] == "226"
        got = {entry.split(b"; ", 1)[1].decode() for entry in listing.splitlines()}
        assert got == names


@needs_epoll
async def test_clear_upload_is_read_by_the_loop_not_the_poller(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    server = await start()
    poller = listener_poller(server)
    assert poller is not None
    loop = asyncio.get_running_loop()
    async with logged_in(server) as client:
        sock = await client.data()
        session = only_session(server)
        channel = await delivered(session)
        assert isinstance(channel.transport, RawTransport)
        control_fd = session.writer.transport._fd
        before = loop_readers(loop)
        assert (await client.command("STOR up.bin"))[0] == "150"
        # the upload waits for bytes on a duplicate of the socket, watched by the loop
        await until(lambda: loop_readers(loop) - before)
        [watched] = loop_readers(loop) - before
        assert watched != channel.transport._fd
        assert set(poller._readers) == {control_fd}
        first, second = pattern(300_000), os.urandom(300_000)
        await loop.sock_sendall(sock, first)
        await asyncio.sleep(QUIET)
        assert watched in loop_readers(loop)  # still receiving
        await send_all_and_close(sock, second)
        assert (await client.reply())[0] == "226"
        assert (tmp_path / "up.bin").read_bytes() == first + second
        assert loop_readers(loop) == before
        assert set(poller._readers) == {control_fd}


async def test_download_is_copied_when_the_direct_sendfile_can_not_be_used(
    start: Callable[..., Awaitable[Server]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # send_file_raw gives up (None) when it can not watch a duplicate of the socket (out
    # of descriptors, say); the transfer then asks DataChannel.sendfile, which must say
    # "unavailable" on a RawTransport so that the blocks are copied.
    async def cannot(channel: Any, fd: int, offset: int) -> int | None:
        return None

    monkeypatch.setattr(transfer, "send_file_raw", cannot)
    data = os.urandom(300_000)
    (tmp_path / "file.bin").write_bytes(data)
    server = await start()
    async with logged_in(server) as client:
        sock = await client.data()
        channel = await delivered(only_session(server))
        assert isinstance(channel.transport, RawTransport)
        assert (await client.command("RETR file.bin"))[0] == "150"
        try:
            received = await recv_to_eof(sock)
        finally:
            sock.close()
        code, text = await client.reply()
        assert code == "226", text
        assert received == data


async def one_session(server: Server, root: Path, number: int, payload: bytes) -> None:
    """Five transfers on one session: RETR, STOR, MLSD, RETR from an offset, APPE."""
    loop = asyncio.get_running_loop()
    client = await Client.connect(server)
    try:
        await client.login()
        assert (await client.command("TYPE I"))[0] == "200"

        sock = await client.data()
        assert (await client.command("RETR source.bin"))[0] == "150"
        assert await recv_to_eof(sock) == payload
        sock.close()
        assert (await client.reply())[0] == "226"

        name = f"up-{number}.bin"
        sock = await client.data()
        assert (await client.command(f"STOR {name}"))[0] == "150"
        await send_all_and_close(sock, payload[:5000])
        assert (await client.reply())[0] == "226"

        sock = await client.data()
        assert (await client.command("MLSD"))[0] == "150"
        assert b"source.bin" in await recv_to_eof(sock)
        sock.close()
        assert (await client.reply())[0] == "226"

        sock = await client.data()
        assert (await client.command("REST 1000"))[0] == "350"  # right before the RETR
        assert (await client.command("RETR source.bin"))[0] == "150"
        assert await recv_to_eof(sock) == payload[1000:]
        sock.close()
        assert (await client.reply())[0] == "226"

        sock = await client.data()
        assert (await client.command(f"APPE {name}"))[0] == "150"
        async with asyncio.timeout(TIMEOUT):
            await loop.sock_sendall(sock, b"+tail")
        sock.close()
        assert (await client.reply())[0] == "226"
        assert (root / name).read_bytes() == payload[:5000] + b"+tail"

        # and a data connection made and never used: the session's end closes it
        await client.data()
        await until(lambda: any("data_connection" in s.connection for s in server.sessions))
        await client.quit()
    finally:
        client.close()


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_many_transfers_leave_no_registration_and_no_descriptor(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    payload = os.urandom(100_000)
    (tmp_path / "source.bin").write_bytes(payload)
    server = await start()
    await one_session(server, tmp_path, 0, payload)  # warm up (lazy set-ups)
    await settled(server)
    baseline = fd_count()
    for number in range(1, 11):  # 10 sessions of 5 transfers
        await one_session(server, tmp_path, number, payload)
    await settled(server)
    # every data socket and every duplicate the transfers watched was closed
    # (the client's sockets are closed by now too)
    await until(lambda: fd_count() == baseline)


async def test_protected_download_uses_the_loops_tls_transport(
    start: Callable[..., Awaitable[Server]],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
) -> None:
    data = os.urandom(2 << 20)
    (tmp_path / "big.bin").write_bytes(data)
    server = await start(auth_tls=server_tls_context)

    def open_download() -> tuple[ftplib.FTP_TLS, socket.socket]:
        ftp = ftplib.FTP_TLS(context=client_tls_context)
        ftp.connect("127.0.0.1", server.server_port, timeout=TIMEOUT)
        try:
            ftp.login()  # AUTH TLS first
            ftp.prot_p()
            ftp.voidcmd("TYPE I")
            return ftp, ftp.transfercmd("RETR big.bin")  # after its 150
        except BaseException:
            ftp.close()
            raise

    ftp, conn = await in_thread(open_download)
    try:
        session = only_session(server)
        await until(lambda: "channel" in session.active_info)
        channel = session.active_info["channel"]
        assert channel.tls
        assert not isinstance(channel.transport, RawTransport)

        def finish() -> tuple[bytes, str]:
            with conn:
                received = bytearray()
                while chunk := conn.recv(1 << 20):
                    received += chunk
                conn.unwrap()  # type: ignore[attr-defined]
            return bytes(received), ftp.voidresp()

        received, reply = await in_thread(finish)
        assert reply.startswith("226")
        assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
        await in_thread(ftp.quit)
    finally:
        ftp.close()
    await settled(server)


# --- 3. data connections that go wrong ---------------------------------------------------------


async def test_a_data_connection_never_used_is_closed_by_the_next_epsv(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    (tmp_path / "small.bin").write_bytes(b"small file")
    server = await start()
    async with logged_in(server) as client:
        unused = await client.data()
        try:
            first = await delivered(only_session(server))
            assert isinstance(first.transport, RawTransport)
            second = await client.data()  # a new EPSV drops the waiting connection
            assert await closed_by_peer(unused)
            # closed by the server: closing, or already lost (and its transport let go)
            assert first.is_lost or (first.transport is not None and first.transport.is_closing())
        finally:
            unused.close()
        assert (await client.command("NOOP"))[0] == "200"
        assert (await client.command("RETR small.bin"))[0] == "150"
        assert await recv_to_eof(second) == b"small file"
        second.close()
        assert (await client.reply())[0] == "226"


@pytest.mark.parametrize("command", ["RETR small.bin", "STOR up.bin", "APPE small.bin"])
async def test_a_data_connection_reset_before_the_transfer(
    start: Callable[..., Awaitable[Server]], tmp_path: Path, command: str
) -> None:
    (tmp_path / "small.bin").write_bytes(b"small file")
    server = await start()
    async with logged_in(server) as client:
        sock = await client.data()
        channel = await delivered(only_session(server))
        assert isinstance(channel.transport, RawTransport)
        reset(sock)
        await asyncio.sleep(QUIET)  # the RST is there before the command
        assert (await client.command(command))[0] == "150"
        code, text = await client.reply()
        assert code in ("425", "426"), text
        assert (tmp_path / "small.bin").read_bytes() == b"small file"
        assert not (tmp_path / "up.bin").exists()
        assert (await client.command("NOOP"))[0] == "200"
        # the session goes on: a good transfer after it
        await retr_gives(client, "small.bin", b"small file")


async def test_a_data_connection_from_another_host_is_refused(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    (tmp_path / "small.bin").write_bytes(b"small file")
    server = await start()
    async with logged_in(server) as client:
        port = await client.epsv()
        try:
            stranger = await connect_to(("127.0.0.1", port), source="127.0.0.2")
        except OSError as exc:  # pragma: no cover - 127.0.0.2 not usable here
            pytest.skip(f"can not connect from 127.0.0.2: {exc}")
        try:
            assert await closed_by_peer(stranger)
        finally:
            stranger.close()
        assert "data_connection" not in only_session(server).connection
        sock = await connect_to(("127.0.0.1", port))  # the listener still waits
        assert (await client.command("RETR small.bin"))[0] == "150"
        assert await recv_to_eof(sock) == b"small file"
        sock.close()
        assert (await client.reply())[0] == "226"


async def test_a_data_connection_after_the_transfer_gave_up_waiting(
    start: Callable[..., Awaitable[Server]], tmp_path: Path
) -> None:
    (tmp_path / "small.bin").write_bytes(b"small file")
    server = await start(wait_future_timeout=0.2)
    async with logged_in(server) as client:
        port = await client.epsv()
        assert (await client.command("RETR small.bin"))[0] == "150"
        code, text = await client.reply()  # nobody connected in time
        assert code == "425", text
        try:  # too late: the listener is gone (refused), or the connection is dropped
            late = await connect_to(("127.0.0.1", port))
        except ConnectionRefusedError:
            pass
        else:
            try:
                assert await closed_by_peer(late)
            finally:
                late.close()
        assert (await client.command("NOOP"))[0] == "200"
        await retr_gives(client, "small.bin", b"small file")


def test_control_stream_is_not_a_buffered_protocol() -> None:
    # The transport picks get_buffer/buffer_updated only for buffered protocols: control
    # connections keep data_received.
    assert not isinstance(ControlStream(lambda _: None), asyncio.BufferedProtocol)
    assert isinstance(DataChannel(4096), asyncio.BufferedProtocol)


@pytest.mark.parametrize("command", ["LIST", "NLST", "MLSD"])
async def test_a_listing_to_a_reset_data_connection_is_426_not_226(
    start: Callable[..., Awaitable[Server]], tmp_path: Path, command: str
) -> None:
    for number in range(20):
        (tmp_path / f"entry-{number:02d}.txt").write_bytes(b"x")
    server = await start()
    async with logged_in(server) as client:
        sock = await client.data()
        await delivered(only_session(server))
        reset(sock)
        await asyncio.sleep(QUIET)  # the RST is there before the command
        assert (await client.command(command))[0] == "150"
        code, text = await client.reply()
        assert code in ("425", "426"), text
        assert (await client.command("NOOP"))[0] == "200"


async def test_an_unforeseen_error_in_a_transfer_still_closes_its_data_connection(
    start: Callable[..., Awaitable[Server]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the transfer code")

    monkeypatch.setattr(transfer, "send_file", broken)
    (tmp_path / "file.bin").write_bytes(b"data")
    server = await start()
    async with logged_in(server) as client:
        sock = await client.data()
        assert (await client.command("RETR file.bin"))[0] == "150"
        code, text = await client.reply()
        assert code == "451", text
        try:
            assert await recv_to_eof(sock) == b""  # the client sees the end at once
        finally:
            sock.close()
        assert (await client.command("NOOP"))[0] == "200"
