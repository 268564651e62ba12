"""The control connection's bytes (``anyftp.server.control``): :class:`ControlStream` as
reader and writer, :class:`RawTransport` on asyncio's selector loop (back-pressure both
ways, half-close, resets, ``detach`` for AUTH TLS), :class:`RawListener` (addresses,
close, the pause on EMFILE) and the server's choice between the raw path and the loop's
own ``create_server``.

Every test uses real sockets on loopback with ports chosen by the OS; a client socket
(driven by the test's own loop, ``loop.sock_*``) stands for the FTP client.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import gc
import os
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.errors import InvalidCommand
from anyftp.protocol.framing import LineBuffer
from anyftp.server import Server
from anyftp.server.control import (
    LINES_HIGH,
    LINES_LOW,
    READ_LIMIT,
    RECV_SIZE,
    WRITE_HIGH,
    WRITE_LOW,
    ControlStream,
    RawListener,
    RawTransport,
    raw_listener_supported,
)
from anyftp.server.session import Session
from anyftp.testing.servers import close_server, in_thread

from .conftest import (
    TIMEOUT,
    ServerThread,
    Watched,
    connect_to,
    ipv6_available,
    loopback_pair,
    needs_ipv6,
)
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)

#: Enough to stay unsent behind a client that reads nothing (its buffers are made small).
BIG = 2 * 1024 * 1024
#: How long a test waits to see that something does *not* happen.
QUIET = 0.2


def pattern(size: int) -> bytes:
    """*size* bytes in which a lost or reordered block shows."""
    block = bytes(range(251))  # a prime length: no block boundary meets a power of two
    return (block * (size // len(block) + 1))[:size]


class Stream(ControlStream, Watched):
    """A ControlStream that records its protocol events and wakes the test at each one
    (no polling). The records are the test's own: no private state of the stream."""

    def __init__(self) -> None:
        self.seen_made: list[ControlStream] = []
        super().__init__(self.seen_made.append)
        self.changed = asyncio.Event()
        self.seen_bytes = 0  # received from the transport
        self.seen_eof = False
        self.seen_lost: list[BaseException | None] = []
        self.seen_pauses = 0
        self.seen_resumes: list[int] = []  # unsent bytes when writing was resumed

    def data_received(self, data: bytes) -> None:
        self.seen_bytes += len(data)
        super().data_received(data)
        self.changed.set()

    def eof_received(self) -> bool:
        self.seen_eof = True
        keep_open = super().eof_received()
        self.changed.set()
        return keep_open

    def connection_lost(self, exc: Exception | None) -> None:
        self.seen_lost.append(exc)
        super().connection_lost(exc)
        self.changed.set()

    def pause_writing(self) -> None:
        super().pause_writing()
        self.seen_pauses += 1

    def resume_writing(self) -> None:
        self.seen_resumes.append(self.transport.get_write_buffer_size())
        super().resume_writing()


class Pair:
    """A RawTransport + Stream on the server side of a loopback connection, and the
    client's socket (non-blocking, driven by the loop)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        stream: Stream,
        transport: RawTransport,
        client: socket.socket,
    ) -> None:
        self.loop = loop
        self.stream = stream
        self.transport = transport
        self.client = client

    async def send(self, data: bytes) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.loop.sock_sendall(self.client, data)

    async def recv_exactly(self, count: int) -> bytes:
        data = bytearray()
        async with asyncio.timeout(TIMEOUT):
            while len(data) < count:
                chunk = await self.loop.sock_recv(self.client, min(65536, count - len(data)))
                if not chunk:
                    raise EOFError(f"EOF after {len(data)} of {count} bytes")
                data += chunk
        return bytes(data)

    async def recv_to_eof(self) -> bytes:
        data = bytearray()
        async with asyncio.timeout(TIMEOUT):
            while chunk := await self.loop.sock_recv(self.client, 65536):
                data += chunk
        return bytes(data)

    def reset(self) -> None:
        """Close the client with SO_LINGER 0: the server gets an RST."""
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.client.close()


@pytest.fixture
async def connect() -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    """Make connected pairs; each is closed (both ends) at the end of the test."""
    loop = asyncio.get_running_loop()
    pairs: list[Pair] = []

    async def factory(small_buffers: bool = False) -> Pair:
        sock, client, peer = await loopback_pair(16384 if small_buffers else None)
        stream = Stream()
        transport = RawTransport(loop, sock, stream, peer, sock.getsockname())
        pair = Pair(loop, stream, transport, client)
        pairs.append(pair)
        return pair

    yield factory
    for pair in pairs:
        pair.client.close()
        stream = pair.stream
        if stream.seen_lost:
            continue
        detached = isinstance(stream.transport, RawTransport) and stream.transport.is_closing()
        if detached and stream.transport.get_extra_info("socket") is None:
            continue  # the test closed the socket it was given
        stream.abort()
        async with asyncio.timeout(TIMEOUT):
            await stream.wait_closed()


async def next_lines(stream: ControlStream, count: int) -> list[bytes]:
    """Pop *count* lines in line mode, waiting (bounded) as the session does."""
    out: list[bytes] = []
    async with asyncio.timeout(TIMEOUT):
        while len(out) < count:
            if stream.lines:
                out.append(stream.pop_line())
                continue
            waiter = stream.line_waiter()
            if waiter is None:
                break
            await waiter
    return out


# --- RawTransport + ControlStream: reading and writing --------------------------------------


async def test_connection_made_once_with_addresses(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream, transport = pair.stream, pair.transport
    assert stream.seen_made == [stream]
    assert stream.transport is transport
    assert transport.get_protocol() is stream
    assert stream.get_extra_info("peername") == pair.client.getsockname()
    assert stream.get_extra_info("sockname") == pair.client.getpeername()
    assert stream.get_extra_info("socket").fileno() >= 0
    assert stream.get_extra_info("nothing", "default") == "default"
    sock = stream.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_OOBINLINE)
    assert not stream.over_ssl
    assert transport.is_reading()
    assert not stream.is_closing()
    assert stream.flowing
    assert stream.can_write_eof()
    assert transport.get_write_buffer_limits() == (WRITE_LOW, WRITE_HIGH)


async def test_data_both_ways(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream = pair.stream
    stream.write(b"220 welcome\r\n")
    assert stream.buffered == 0  # a short reply goes straight to the kernel
    await stream.drain()
    assert await pair.recv_exactly(13) == b"220 welcome\r\n"
    stream.writelines([b"211-a\r\n", b"211 b\r\n"])
    assert await pair.recv_exactly(14) == b"211-a\r\n211 b\r\n"

    await pair.send(b"hello world")
    assert await stream.readexactly(5) == b"hello"
    assert await stream.read(0) == b""
    assert await stream.read(1) == b" "
    assert await stream.readexactly(5) == b"world"
    assert stream.empty
    assert not stream.at_eof()


async def test_read_returns_what_arrived_and_waits_for_more(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    reading = asyncio.create_task(pair.stream.read(100))
    done, _ = await asyncio.wait([reading], timeout=QUIET)
    assert not done  # nothing arrived yet
    await pair.send(b"abc")
    async with asyncio.timeout(TIMEOUT):
        assert await reading == b"abc"  # up to 100: what is there


async def test_readline_across_reads_and_at_eof(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream = pair.stream
    await pair.send(b"one\ntwo\nthr")
    async with asyncio.timeout(TIMEOUT):
        assert await stream.readline() == b"one\n"
        assert await stream.readline() == b"two\n"
        rest = asyncio.create_task(stream.readline())
        done, _ = await asyncio.wait([rest], timeout=QUIET)
        assert not done  # "thr" is not a line yet
        await pair.send(b"ee\r\nfour")
        assert await rest == b"three\r\n"
        pair.client.shutdown(socket.SHUT_WR)
        assert await stream.readline() == b"four"  # what is left at EOF, without \n
        assert stream.at_eof()
        assert await stream.readline() == b""
        assert await stream.read() == b""


async def test_readexactly_at_eof_is_incomplete_read(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    await pair.send(b"abc")
    pair.client.shutdown(socket.SHUT_WR)
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(asyncio.IncompleteReadError) as caught:
            await pair.stream.readexactly(5)
    assert caught.value.partial == b"abc"
    assert caught.value.expected == 5
    assert pair.stream.at_eof()
    assert await pair.stream.read(10) == b""


async def test_at_eof_only_once_the_buffer_is_read(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    await pair.send(b"last")
    pair.client.shutdown(socket.SHUT_WR)
    stream = pair.stream
    await stream.until(lambda: stream.seen_eof)
    assert not stream.at_eof()  # "last" is still unread
    assert await stream.read() == b"last"
    assert stream.at_eof()


# --- back-pressure on writes --------------------------------------------------------------


async def test_drain_waits_until_the_client_reads(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect(small_buffers=True)
    stream, transport = pair.stream, pair.transport
    payload = pattern(BIG)
    stream.write(payload)
    assert transport.get_write_buffer_size() > WRITE_HIGH
    assert stream.buffered == transport.get_write_buffer_size()
    assert not stream.flowing
    drain = asyncio.create_task(stream.drain())
    done, _ = await asyncio.wait([drain], timeout=QUIET)
    assert not done, "drain() returned while the client read nothing"
    received = await pair.recv_exactly(len(payload))
    async with asyncio.timeout(TIMEOUT):
        await drain
    assert received == payload
    assert transport.get_write_buffer_size() == 0
    assert stream.flowing
    await stream.drain()  # nothing to wait for any more


async def test_drain_returns_once_below_the_low_water_mark(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect(small_buffers=True)
    stream, transport = pair.stream, pair.transport
    payload = pattern(BIG)
    stream.write(payload)
    drain = asyncio.create_task(stream.drain())
    received = bytearray()
    async with asyncio.timeout(TIMEOUT):
        while not drain.done():
            received += await pair.loop.sock_recv(pair.client, 4096)
    # paused once above WRITE_HIGH, resumed once at or below WRITE_LOW
    assert stream.seen_pauses == 1
    [resumed_at] = stream.seen_resumes
    assert resumed_at <= WRITE_LOW
    received += await pair.recv_exactly(len(payload) - len(received))
    assert received == payload
    assert stream.seen_pauses == 1
    assert transport.get_write_buffer_size() == 0


async def test_concurrent_drains_all_return(connect: Callable[..., Awaitable[Pair]]) -> None:
    # The session's command loop and its transfer task both reply (and drain) while a
    # transfer runs; a client slow to read pauses both.
    pair = await connect(small_buffers=True)
    stream = pair.stream
    payload = pattern(BIG)
    stream.write(payload)
    first = asyncio.create_task(stream.drain())
    await asyncio.sleep(0)  # the first drain waits
    second = asyncio.create_task(stream.drain())
    await asyncio.sleep(0)
    await pair.recv_exactly(len(payload))
    async with asyncio.timeout(TIMEOUT):
        await second  # the last one is woken
    assert stream.flowing
    done, _ = await asyncio.wait([first], timeout=1)
    if not done:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
    assert done, "the first drain() was never woken"


async def test_close_sends_everything_then_closes(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect(small_buffers=True)
    stream = pair.stream
    payload = pattern(BIG)
    stream.write(payload)
    assert stream.buffered > WRITE_HIGH
    stream.close()
    assert stream.is_closing()
    assert not stream.flowing
    assert not pair.transport.is_reading()
    assert not stream.seen_lost  # not before the last byte is sent
    assert await pair.recv_to_eof() == payload
    async with asyncio.timeout(TIMEOUT):
        await stream.wait_closed()
    assert stream.seen_lost == [None]
    assert stream.exception() is None
    assert pair.transport.get_extra_info("socket") is None
    stream.write(b"dropped")  # after the connection is gone: ignored
    with pytest.raises(ConnectionResetError):
        await stream.drain()


async def test_close_without_pending_data(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    pair.stream.write(b"221 bye\r\n")
    pair.stream.close()
    pair.stream.close()  # twice: nothing more happens
    assert await pair.recv_to_eof() == b"221 bye\r\n"
    async with asyncio.timeout(TIMEOUT):
        await pair.stream.wait_closed()
    assert pair.stream.seen_lost == [None]


async def test_abort_drops_pending_data_and_closes_at_once(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect(small_buffers=True)
    stream = pair.stream
    payload = pattern(BIG)
    stream.write(payload)
    assert stream.buffered > WRITE_HIGH
    stream.abort()
    assert stream.buffered == 0
    assert stream.is_closing()
    async with asyncio.timeout(1):
        await stream.wait_closed()  # without the client reading anything
    assert stream.seen_lost == [None]
    assert pair.transport.get_extra_info("socket") is None
    received = await pair.recv_to_eof()
    assert len(received) < len(payload)  # only what the kernel had already
    assert received == payload[: len(received)]


async def test_write_eof_after_pending_data(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect(small_buffers=True)
    stream = pair.stream
    payload = pattern(BIG)
    stream.write(payload)
    stream.write_eof()
    with pytest.raises(RuntimeError):
        stream.transport.write(b"more")
    assert await pair.recv_to_eof() == payload  # every byte, then EOF
    # the other direction still works
    await pair.send(b"still here")
    assert await stream.readexactly(10) == b"still here"


# --- back-pressure on reads ---------------------------------------------------------------


async def test_byte_mode_stops_reading_above_read_limit(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream, transport = pair.stream, pair.transport
    payload = pattern(READ_LIMIT * 4)
    sending = asyncio.create_task(pair.send(payload))
    await stream.until(lambda: not transport.is_reading())
    held = stream.seen_bytes  # nothing was read yet: all of it is held
    assert READ_LIMIT < held <= READ_LIMIT + RECV_SIZE
    # nothing more is taken from the socket while nobody reads
    await asyncio.sleep(QUIET)
    assert stream.seen_bytes == held
    first = await stream.read(held - READ_LIMIT)  # down to the limit: reading again
    assert transport.is_reading()
    rest = await stream.readexactly(len(payload) - len(first))
    assert first + rest == payload
    async with asyncio.timeout(TIMEOUT):
        await sending
    assert transport.is_reading()


async def test_readline_longer_than_read_limit_is_an_error(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    sending = asyncio.create_task(pair.send(b"x" * (READ_LIMIT * 2)))
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(ValueError, match="longer than"):
            await pair.stream.readline()
    sending.cancel()


async def test_line_mode_pauses_above_lines_high_and_resumes_below_lines_low(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream, transport = pair.stream, pair.transport
    lines = stream.use_lines(LineBuffer())
    total = LINES_HIGH * 3
    await pair.send(b"".join(b"NOOP %d\r\n" % i for i in range(total)))
    await stream.until(lambda: not transport.is_reading())
    assert len(lines) > LINES_HIGH
    # while paused, more commands stay in the kernel
    await pair.send(b"LAST\r\n")
    queued = len(lines)
    await asyncio.sleep(QUIET)
    assert len(lines) == queued
    popped = []
    while len(lines) > LINES_LOW:
        popped.append(stream.pop_line())
        assert not transport.is_reading() or len(lines) < LINES_LOW
    assert len(lines) == LINES_LOW
    assert not transport.is_reading()  # LINES_LOW left: still held
    popped.append(stream.pop_line())
    assert len(lines) == LINES_LOW - 1
    assert transport.is_reading()  # below LINES_LOW: reading again
    popped += await next_lines(stream, total + 1 - len(popped))
    assert popped == [b"NOOP %d" % i for i in range(total)] + [b"LAST"]


async def test_line_waiter_resumes_a_paused_transport(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream, transport = pair.stream, pair.transport
    lines = stream.use_lines(LineBuffer())
    await pair.send(b"A\r\n" * (LINES_HIGH + 1))
    await stream.until(lambda: not transport.is_reading())
    lines.clear()  # the session dropped them (say, after an error)
    waiter = stream.line_waiter()
    assert waiter is not None
    assert transport.is_reading()
    waiter.cancel()


# --- line mode ----------------------------------------------------------------------------


async def test_line_mode_frames_lines_split_across_reads(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream = pair.stream
    lines = stream.use_lines(LineBuffer())
    assert lines is stream.lines
    waiter = stream.line_waiter()
    assert waiter is not None
    await pair.send(b"US")
    async with asyncio.timeout(TIMEOUT):
        await waiter
    assert not lines  # half a line is no line
    waiter = stream.line_waiter()
    assert waiter is not None
    await pair.send(b"ER anonymous\r")
    async with asyncio.timeout(TIMEOUT):
        await waiter
    assert not lines
    await pair.send(b"\nPASS x\r\nSYST\nPWD\r\n")  # the rest and several lines in one read
    assert await next_lines(stream, 4) == [b"USER anonymous", b"PASS x", b"SYST", b"PWD"]


async def test_line_mode_line_too_long_is_invalid_command(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream = pair.stream
    stream.use_lines(LineBuffer(max_length=32))
    await pair.send(b"B" * 32 + b"\r\n")  # exactly the limit: a line
    assert await next_lines(stream, 1) == [b"B" * 32]
    await pair.send(b"A" * 100)
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(InvalidCommand):
            while True:
                waiter = stream.line_waiter()
                assert waiter is not None
                await waiter
    assert isinstance(stream.line_error, InvalidCommand)
    await pair.send(b"\r\nNOOP\r\n")  # nothing is framed after the error
    await asyncio.sleep(QUIET)
    assert not stream.lines
    with pytest.raises(InvalidCommand):
        stream.line_waiter()


async def test_bytes_received_before_use_lines_are_framed(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream = pair.stream
    await pair.send(b"USER x\r\nPA")
    await stream.until(lambda: stream.seen_bytes == 10)
    lines = stream.use_lines(LineBuffer())
    assert list(lines) == [b"USER x"]
    assert stream.empty
    await pair.send(b"SS y\r\n")
    assert await next_lines(stream, 2) == [b"USER x", b"PASS y"]


async def test_too_long_line_before_use_lines_is_kept_as_the_error(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream = pair.stream
    await pair.send(b"Z" * 64)
    await stream.until(lambda: stream.seen_bytes == 64)
    stream.use_lines(LineBuffer(max_length=16))
    with pytest.raises(InvalidCommand):
        stream.line_waiter()


async def test_line_waiter_is_none_at_eof(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream = pair.stream
    stream.use_lines(LineBuffer())
    await pair.send(b"QUIT\r\n")
    pair.client.shutdown(socket.SHUT_WR)
    assert await next_lines(stream, 5) == [b"QUIT"]  # then None: the input ended
    assert stream.line_waiter() is None


# --- half-close and reset -----------------------------------------------------------------


async def test_half_close_keeps_the_reply_path_open(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect()
    stream, transport = pair.stream, pair.transport
    await pair.send(b"QUIT\r\n")
    pair.client.shutdown(socket.SHUT_WR)
    assert await stream.readline() == b"QUIT\r\n"
    assert await stream.read() == b""
    assert stream.at_eof()
    assert not stream.is_closing()  # eof_received kept the transport open
    assert not stream.seen_lost
    assert not transport.is_reading()
    transport.resume_reading()  # no reader for a socket at EOF
    assert not transport.is_reading()
    stream.write(b"221 bye\r\n")
    await stream.drain()
    assert await pair.recv_exactly(9) == b"221 bye\r\n"
    stream.close()
    assert await pair.recv_to_eof() == b""
    async with asyncio.timeout(TIMEOUT):
        await stream.wait_closed()
    assert stream.seen_lost == [None]


async def test_reset_by_peer(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream = pair.stream
    reading = asyncio.create_task(stream.read())
    await asyncio.sleep(0)
    pair.reset()
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(ConnectionResetError):
            await reading
        await stream.wait_closed()
    assert len(stream.seen_lost) == 1
    assert isinstance(stream.seen_lost[0], ConnectionResetError)
    assert stream.exception() is stream.seen_lost[0]
    with pytest.raises(ConnectionResetError):
        await stream.read()
    with pytest.raises(ConnectionResetError):
        await stream.readline()
    with pytest.raises(ConnectionResetError):
        await stream.readexactly(1)
    with pytest.raises(ConnectionResetError):
        await stream.drain()
    with pytest.raises(ConnectionResetError):
        await stream.flush()
    stream.write(b"dropped")
    assert pair.transport.get_extra_info("socket") is None
    assert not stream.flowing


async def test_reset_wakes_a_line_waiter(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    stream = pair.stream
    stream.use_lines(LineBuffer())
    waiter = stream.line_waiter()
    assert waiter is not None
    pair.reset()
    async with asyncio.timeout(TIMEOUT):
        await waiter
    with pytest.raises(ConnectionResetError):
        stream.line_waiter()


async def test_reset_while_drain_waits(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect(small_buffers=True)
    stream = pair.stream
    stream.write(pattern(BIG))
    drain = asyncio.create_task(stream.drain())
    done, _ = await asyncio.wait([drain], timeout=QUIET)
    assert not done
    pair.reset()
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(ConnectionResetError):
            await drain
        await stream.wait_closed()
    assert stream.buffered == 0
    assert isinstance(stream.exception(), ConnectionResetError)


# --- detach and start_tls -----------------------------------------------------------------


async def test_detach_gives_the_socket_away(connect: Callable[..., Awaitable[Pair]]) -> None:
    pair = await connect()
    transport = pair.transport
    sock = transport.detach()
    try:
        assert transport.is_closing()
        assert not transport.is_reading()
        assert transport.get_extra_info("socket") is None
        with pytest.raises(ConnectionResetError):
            transport.detach()
        transport.close()  # no effect: the socket is not the transport's any more
        transport.abort()
        await asyncio.sleep(0)
        assert pair.stream.seen_lost == []  # the protocol is not told
        # the socket still works, untouched
        await pair.loop.sock_sendall(sock, b"after")
        assert await pair.recv_exactly(5) == b"after"
    finally:
        sock.close()


async def test_detach_with_unsent_data_is_refused(
    connect: Callable[..., Awaitable[Pair]],
) -> None:
    pair = await connect(small_buffers=True)
    pair.stream.write(pattern(BIG))
    with pytest.raises(RuntimeError, match="unsent"):
        pair.transport.detach()
    assert pair.transport.get_extra_info("socket") is not None


async def test_start_tls_refuses_clear_bytes_already_read(
    connect: Callable[..., Awaitable[Pair]], server_tls_context: ssl.SSLContext
) -> None:
    pair = await connect()
    await pair.send(b"NOOP\r\n")
    await pair.stream.until(lambda: not pair.stream.empty)
    with pytest.raises(ConnectionError, match="before the TLS handshake"):
        await pair.stream.start_tls(server_tls_context)
    assert isinstance(pair.stream.transport, RawTransport)  # nothing changed


async def test_start_tls_over_a_raw_transport(
    connect: Callable[..., Awaitable[Pair]],
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
) -> None:
    pair = await connect()
    stream = pair.stream
    stream.hold_reading()
    assert not pair.transport.is_reading()
    pair.client.setblocking(True)
    pair.client.settimeout(TIMEOUT)

    def tls_client() -> bytes:
        with client_tls_context.wrap_socket(pair.client, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"secret\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = tls.recv(100)
                if not chunk:
                    break
                data += chunk
            tls.unwrap()
            return data

    client = asyncio.create_task(in_thread(tls_client))
    async with asyncio.timeout(TIMEOUT):
        await stream.start_tls(server_tls_context, ssl_handshake_timeout=TIMEOUT)
    assert stream.over_ssl
    assert not isinstance(stream.transport, RawTransport)
    assert stream.seen_made == [stream]  # the session was not started again
    assert stream.seen_lost == []
    assert await stream.readline() == b"secret\n"
    stream.write(b"reply\n")
    await stream.drain()
    async with asyncio.timeout(TIMEOUT):
        assert await client == b"reply\n"
        stream.close()
        await stream.wait_closed()
    assert stream.seen_lost == [None]


# --- the full server: AUTH TLS over the raw transport ----------------------------------------


def session_streams(thread: ServerThread) -> list[tuple[str, bool]]:
    return thread.call(
        lambda: [
            (type(s.writer.transport).__name__, s.writer.over_ssl) for s in thread.server.sessions
        ]
    )


def test_auth_tls_upgrades_a_raw_connection(
    make_server: Callable[..., ServerThread],
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
) -> None:
    thread = make_server(auth_tls=server_tls_context)
    assert thread.call(lambda: isinstance(thread.server.server, RawListener))
    ftp = ftplib.FTP_TLS(context=client_tls_context)
    ftp.connect(thread.host, thread.port, timeout=TIMEOUT)
    try:
        assert session_streams(thread) == [("RawTransport", False)]
        ftp.auth()
        ftp.login()
        ftp.prot_p()
        assert ftp.voidcmd("NOOP").startswith("200")
        assert ftp.nlst() == []
        [(kind, over_ssl)] = session_streams(thread)
        assert kind != "RawTransport"
        assert over_ssl
        assert ftp.quit().startswith("221")
    finally:
        ftp.close()


def test_clear_command_pipelined_after_auth_tls_closes(
    make_server: Callable[..., ServerThread], server_tls_context: ssl.SSLContext
) -> None:
    thread = make_server(auth_tls=server_tls_context)
    with RawControl(thread.host, thread.port) as control:
        assert control.reply().code == "220"
        control.send_raw(b"AUTH TLS\r\nMKD injected\r\n")
        received = control.buffer
        while chunk := control.sock.recv(4096):
            received += chunk
    # 234 may or may not have gone out, the command after it never ran
    assert all(line.startswith(b"234 ") for line in received.splitlines()), received
    with thread.ftp() as ftp:
        assert ftp.nlst() == []


# --- RawListener --------------------------------------------------------------------------


class Accepted:
    """on_accept for a RawListener: keeps what it is given, wakes the test."""

    def __init__(self) -> None:
        self.calls: list[tuple[socket.socket, Any, Any]] = []
        self.event = asyncio.Event()

    def __call__(self, conn: socket.socket, peer: Any, local: Any, poller: Any = None) -> None:
        self.calls.append((conn, peer, local))
        self.poller = poller
        self.event.set()

    async def wait(self, count: int) -> None:
        async with asyncio.timeout(TIMEOUT):
            while len(self.calls) < count:
                self.event.clear()
                await self.event.wait()

    def close(self) -> None:
        for conn, _, _ in self.calls:
            conn.close()


@pytest.fixture
async def accepted() -> AsyncIterator[Accepted]:
    accepted = Accepted()
    yield accepted
    accepted.close()


async def test_listener_on_one_address(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    listener = await RawListener.bind(loop, accepted, "127.0.0.1", 0)
    try:
        assert listener.is_serving()
        assert listener.get_loop() is loop
        [sock] = listener.sockets
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        address = sock.getsockname()
        clients = [await connect_to(address) for _ in range(3)]
        try:
            await accepted.wait(3)
            for (conn, peer, local), client in zip(accepted.calls, clients, strict=True):
                assert peer == client.getsockname()
                assert local == address  # known from the listener: no getsockname()
                assert conn.getblocking() is False
                assert conn.getpeername() == client.getsockname()
        finally:
            for client in clients:
                client.close()
    finally:
        listener.close()
    await listener.wait_closed()


async def test_listener_on_every_address_when_host_is_none(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    expected = {(info[0], info[4][0]) for info in infos}
    listener = await RawListener.bind(loop, accepted, None, 0)
    try:
        sockets = listener.sockets
        assert {(s.family, s.getsockname()[0]) for s in sockets} == expected
        assert len(sockets) == len(expected)
        clients = []
        try:
            for sock in sockets:
                if sock.family == socket.AF_INET6:
                    if not ipv6_available():
                        continue
                    assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
                    clients.append(
                        await connect_to(("::1", sock.getsockname()[1]), family=socket.AF_INET6)
                    )
                else:
                    clients.append(await connect_to(("127.0.0.1", sock.getsockname()[1])))
            await accepted.wait(len(clients))
            # a wildcard listener leaves the local address to getsockname()
            assert [local for _, _, local in accepted.calls] == [None] * len(clients)
        finally:
            for client in clients:
                client.close()
    finally:
        listener.close()


@needs_ipv6
async def test_listener_on_ipv6_loopback(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    listener = await RawListener.bind(loop, accepted, "::1", 0)
    try:
        [sock] = listener.sockets
        assert sock.family == socket.AF_INET6
        address = sock.getsockname()
        client = await connect_to(address[:2], family=socket.AF_INET6)
        try:
            await accepted.wait(1)
            conn, peer, local = accepted.calls[0]
            assert conn.family == socket.AF_INET6
            assert peer[:2] == client.getsockname()[:2]
            assert local == address
        finally:
            client.close()
    finally:
        listener.close()


@needs_ipv6
async def test_listener_on_a_list_of_hosts(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    listener = await RawListener.bind(loop, accepted, ["127.0.0.1", "::1"], 0)
    try:
        assert sorted(s.getsockname()[0] for s in listener.sockets) == ["127.0.0.1", "::1"]
    finally:
        listener.close()


async def test_listener_bind_error_closes_what_it_opened(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        before = _fd_count()
        with pytest.raises(OSError, match="error while attempting to bind"):
            await RawListener.bind(loop, accepted, "127.0.0.1", port)
        if before is not None:
            assert _fd_count() == before


async def test_listener_close_stops_accepting(accepted: Accepted) -> None:
    loop = asyncio.get_running_loop()
    listener = await RawListener.bind(loop, accepted, "127.0.0.1", 0)
    [sock] = listener.sockets
    address = sock.getsockname()
    listener.close()
    listener.close()  # twice: nothing more happens
    assert not listener.is_serving()
    assert listener.sockets == ()
    assert sock.fileno() == -1
    with pytest.raises(ConnectionRefusedError):
        client = await connect_to(address)
        client.close()
    assert accepted.calls == []


EMFILE_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, os, resource, sys, time
    from anyftp.server.control import RawListener

    async def main():
        loop = asyncio.get_running_loop()
        fillers = []
        paused = loop.create_future()
        accepted = loop.create_future()

        class Handler(logging.Handler):
            def emit(self, record):
                print("LOG", record.getMessage(), flush=True)
                if "pausing" in record.getMessage() and not paused.done():
                    paused.set_result(time.monotonic())

        logger = logging.getLogger("anyftp.server")
        logger.addHandler(Handler())
        logger.setLevel(logging.INFO)

        def on_accept(conn, peer, local, poller=None):
            conn.send(b"hello\\n")
            conn.close()
            if not accepted.done():
                accepted.set_result(time.monotonic())

        listener = await RawListener.bind(loop, on_accept, "127.0.0.1", 0)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
        try:
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        print("PORT", listener.sockets[0].getsockname()[1], flush=True)
        pause = await asyncio.wait_for(paused, 10)
        for fd in fillers:  # descriptors are free again at once; accepting waits 1 s
            os.close(fd)
        done = await asyncio.wait_for(accepted, 10)
        print("ACCEPTED", done - pause, flush=True)
        listener.close()

    asyncio.run(main())
    """
)


def _readline(process: subprocess.Popen[str], timeout: float) -> str:
    stdout = process.stdout
    assert stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError("the child printed nothing")
    return stdout.readline()


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_listener_pauses_on_emfile_and_accepts_later() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SCRIPT],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = _readline(process, TIMEOUT)
        assert first.startswith("PORT "), first + process.communicate(timeout=TIMEOUT)[1]
        port = int(first.split()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as client:
            started = time.monotonic()
            # waits in the backlog through the pause, then is accepted
            assert client.makefile("rb").readline() == b"hello\n"
            waited = time.monotonic() - started
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    [logged] = [line for line in out.splitlines() if line.startswith("LOG ")]
    assert "Too many open files" in logged and "pausing" in logged, out
    [accepted] = [line for line in out.splitlines() if line.startswith("ACCEPTED ")]
    delay = float(accepted.split()[1])
    assert 0.9 <= delay <= 3.0, out
    assert 0.9 <= waited <= 5.0


# --- the server's choice of path ------------------------------------------------------------


async def test_raw_listener_supported_on_asyncio_loop() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, asyncio.SelectorEventLoop)
    assert raw_listener_supported(loop, {})
    assert raw_listener_supported(loop, {"backlog": 5})
    assert raw_listener_supported(loop, ["backlog", "reuse_port", "family", "flags"])
    assert not raw_listener_supported(loop, {"ssl_handshake_timeout": 5})
    assert not raw_listener_supported(loop, {"backlog": 5, "start_serving": True})


def test_raw_listener_not_supported_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        assert not raw_listener_supported(loop, {})
    finally:
        loop.close()


def ftp_session(port: int) -> list[str]:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
    try:
        return [ftp.login(), ftp.voidcmd("NOOP"), ftp.quit()]
    finally:
        ftp.close()


async def test_server_uses_the_raw_listener_with_backlog(tmp_path: Path) -> None:
    server = Server([anyftp.User(base_path=tmp_path)], login_failure_delay=0)
    await server.start("127.0.0.1", 0, backlog=10)
    try:
        assert isinstance(server.server, RawListener)
        replies = await in_thread(lambda: ftp_session(server.server_port))
        assert [reply[:3] for reply in replies] == ["230", "200", "221"]
    finally:
        await close_server(server)


async def test_server_falls_back_to_create_server_for_other_options(tmp_path: Path) -> None:
    server = Server([anyftp.User(base_path=tmp_path)], login_failure_delay=0)
    # start_serving is create_server's, not the raw listener's
    await server.start("127.0.0.1", 0, start_serving=True)
    try:
        assert isinstance(server.server, asyncio.Server)
        kinds: list[str] = []

        def login_and_look() -> list[str]:
            ftp = ftplib.FTP()
            ftp.connect("127.0.0.1", server.server_port, timeout=TIMEOUT)
            try:
                replies = [ftp.login()]
                kinds.extend(
                    asyncio.run_coroutine_threadsafe(transport_kinds(server), loop).result(TIMEOUT)
                )
                replies += [ftp.voidcmd("NOOP"), ftp.quit()]
                return replies
            finally:
                ftp.close()

        loop = asyncio.get_running_loop()
        replies = await in_thread(login_and_look)
        assert [reply[:3] for reply in replies] == ["230", "200", "221"]
        assert kinds and "RawTransport" not in kinds
    finally:
        await close_server(server)


async def transport_kinds(server: Server) -> list[str]:
    return [type(s.writer.transport).__name__ for s in server.sessions]


def test_server_on_uvloop_uses_its_own_transports(
    make_server: Callable[..., ServerThread],
) -> None:
    pytest.importorskip("uvloop")
    thread = make_server(loop="uvloop")
    assert thread.call(lambda: not isinstance(thread.server.server, RawListener))
    ftp = ftplib.FTP()
    ftp.connect(thread.host, thread.port, timeout=TIMEOUT)
    try:
        assert ftp.login().startswith("230")
        [(kind, over_ssl)] = session_streams(thread)
        assert kind != "RawTransport"
        assert not over_ssl
        assert ftp.voidcmd("NOOP").startswith("200")
        assert ftp.quit().startswith("221")
    finally:
        ftp.close()


# --- many sessions: nothing stays behind ------------------------------------------------------


def _fd_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


async def _raw_session(port: int) -> None:
    """Welcome, anonymous login, NOOP, QUIT, EOF, on the test's loop."""
    loop = asyncio.get_running_loop()
    sock = await connect_to(("127.0.0.1", port))
    try:
        received = b""

        async def expect(code: bytes) -> None:
            nonlocal received
            while b"\n" not in received:
                chunk = await loop.sock_recv(sock, 4096)
                assert chunk, f"EOF waiting for {code!r}"
                received += chunk
            line, _, received = received.partition(b"\n")
            assert line.startswith(code + b" "), line

        await expect(b"220")
        await loop.sock_sendall(sock, b"USER anonymous\r\n")
        await expect(b"230")
        await loop.sock_sendall(sock, b"NOOP\r\n")
        await expect(b"200")
        await loop.sock_sendall(sock, b"QUIT\r\n")
        await expect(b"221")
        assert await loop.sock_recv(sock, 4096) == b""  # the server closed its end
    finally:
        sock.close()


def _alive(server: Server) -> tuple[int, int, int]:
    """Sessions of *server*, and ControlStreams and RawTransports of anyone, that the
    garbage collector tracks (alive, or garbage in reference cycles not yet collected)."""
    sessions = streams = transports = 0
    for obj in gc.get_objects():
        if isinstance(obj, Session):
            sessions += obj.server is server
        elif isinstance(obj, ControlStream):
            streams += 1
        elif isinstance(obj, RawTransport):
            transports += 1
    return sessions, streams, transports


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
async def test_many_sessions_leave_no_objects_and_no_descriptors(tmp_path: Path) -> None:
    server = Server(
        [anyftp.User(base_path=tmp_path)], login_failure_delay=0, socket_timeout=TIMEOUT
    )
    gc.collect()
    _, streams, transports = _alive(server)
    baseline = _fd_count()
    await server.start("127.0.0.1", 0)
    port = server.server_port
    try:
        assert isinstance(server.server, RawListener)
        gate = asyncio.Semaphore(8)

        async def one() -> None:
            async with gate:
                await _raw_session(port)

        async with asyncio.timeout(20):
            await asyncio.gather(*(one() for _ in range(200)))
    finally:
        await close_server(server)
    assert not server.sessions
    gc.collect()
    assert _alive(server) == (0, streams, transports)
    assert _fd_count() == baseline


async def test_sessions_are_freed_without_the_cycle_collector(tmp_path: Path) -> None:
    server = Server(
        [anyftp.User(base_path=tmp_path)], login_failure_delay=0, socket_timeout=TIMEOUT
    )
    gc.collect()
    _, streams, transports = _alive(server)
    gc.disable()
    try:
        await server.start("127.0.0.1", 0)
        try:
            async with asyncio.timeout(TIMEOUT):
                for _ in range(20):
                    await _raw_session(server.server_port)
        finally:
            await close_server(server)
        # reference counting alone freed them: nothing waits for the cycle collector
        assert _alive(server) == (0, streams, transports)
    finally:
        gc.enable()


@pytest.mark.skipif(not hasattr(__import__("select"), "epoll"), reason="epoll only")
async def test_connections_share_one_poller_that_outlives_the_listener() -> None:
    # The control connections of a listener are read through one epoll set; closing the
    # listener leaves it to the connections still open, and the last one closes it.
    loop = asyncio.get_running_loop()
    streams: list[ControlStream] = []
    made = asyncio.Event()

    def on_accept(conn: socket.socket, peer: Any, local: Any, poller: Any) -> None:
        stream = ControlStream(lambda _: None)
        RawTransport(loop, conn, stream, peer, local, poller)
        streams.append(stream)
        if len(streams) == 2:
            made.set()

    listener = await RawListener.bind(loop, on_accept, "127.0.0.1", 0)
    poller = listener.poller
    assert poller is not None
    address = listener.sockets[0].getsockname()
    clients = [await connect_to(address) for _ in range(2)]
    try:
        async with asyncio.timeout(TIMEOUT):
            await made.wait()
        assert all(stream.transport._poller is poller for stream in streams)
        listener.close()
        assert not poller._epoll.closed  # two connections still use it
        for client, stream in zip(clients, streams, strict=True):
            await loop.sock_sendall(client, b"ping\n")
            async with asyncio.timeout(TIMEOUT):
                assert await stream.readline() == b"ping\n"
        streams[0].transport.pause_reading()  # paused: not in the set, still a user
        streams[1].close()
        await asyncio.sleep(0)
        assert not poller._epoll.closed
        streams[0].transport.resume_reading()
        await loop.sock_sendall(clients[0], b"pong\n")
        async with asyncio.timeout(TIMEOUT):
            assert await streams[0].readline() == b"pong\n"
        streams[0].close()
        await asyncio.sleep(0)
        assert poller._epoll.closed
    finally:
        for client in clients:
            client.close()
