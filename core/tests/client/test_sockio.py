"""The bare-socket data path (anyftp.client.sockio), on socket pairs."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from collections.abc import Iterator

import pytest

from anyftp.client import sockio
from anyftp.client.sockio import socket_streams

pytestmark = pytest.mark.timeout(10)


def closing(
    ours: socket.socket, theirs: socket.socket
) -> Iterator[tuple[socket.socket, socket.socket]]:
    """Yield the pair (the peer's calls bounded), then close both ends."""
    theirs.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    yield from closing(*socket.socketpair())


async def test_read_returns_available_data_then_empty_at_end(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    theirs.sendall(b"hello")
    assert await reader.read(100) == b"hello"
    theirs.shutdown(socket.SHUT_WR)
    assert await reader.read(100) == b""
    assert reader.at_eof()
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), 5)


async def test_readline_and_readexactly_keep_bytes_past_the_line(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    theirs.sendall(b"one\ntwo\nrest-of-it")
    theirs.shutdown(socket.SHUT_WR)
    assert await reader.readline() == b"one\n"
    assert await reader.readexactly(4) == b"two\n"
    assert await reader.read() == b"rest-of-it"
    with pytest.raises(asyncio.IncompleteReadError):
        await reader.readexactly(1)
    writer.close()


async def test_write_and_drain_deliver_everything(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    _, writer = socket_streams(ours)
    payload = bytes(range(256)) * 8192  # 2 MiB: more than the socket buffers hold
    received = bytearray()

    def drain_peer() -> None:
        while len(received) < len(payload):
            received.extend(theirs.recv(65536))

    consumer = asyncio.get_running_loop().run_in_executor(None, drain_peer)
    writer.write(payload)
    await writer.drain()
    await asyncio.wait_for(consumer, 5)
    assert bytes(received) == payload
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), 5)


async def test_close_from_another_task_ends_a_pending_read(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    reader, writer = socket_streams(ours)
    pending = asyncio.ensure_future(reader.read(100))
    await asyncio.sleep(0)  # let the read start waiting
    assert not pending.done()
    writer.close()
    assert await asyncio.wait_for(pending, 5) == b""
    await asyncio.wait_for(writer.wait_closed(), 5)
    assert ours.fileno() == -1  # closed once the read let go


async def test_write_after_close_raises(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    _, writer = socket_streams(ours)
    writer.close()
    assert writer.is_closing()
    with pytest.raises(ConnectionResetError):
        writer.write(b"late")


async def test_cancelled_read_leaves_the_socket_usable(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await reader.read(10)
    theirs.sendall(b"later")
    assert await reader.read(10) == b"later"
    writer.close()


# --- read_block: the download path, with the socket kept registered between waits -------


async def test_read_block_returns_waiting_data_then_waits_for_more(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    theirs.sendall(b"now")
    assert await reader.read_block(100, 5) == b"now"
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, theirs.sendall, b"later")
    assert await reader.read_block(100, 5) == b"later"
    theirs.shutdown(socket.SHUT_WR)
    assert await reader.read_block(100, 5) == b""
    assert reader.at_eof()
    # At the end the event loop no longer watches the socket.
    assert not reader._channel.watching
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), 5)
    assert ours.fileno() == -1


async def test_read_block_times_out_and_the_socket_stays_usable(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await reader.read_block(100, 0.1)
    assert 0.09 <= loop.time() - started < 2
    theirs.sendall(b"late but whole")
    assert await reader.read_block(100, 5) == b"late but whole"
    # The plain read (loop.sock_recv) takes the socket over from read_block's watch.
    loop.call_later(0.05, theirs.sendall, b"by read")
    assert await reader.read(100) == b"by read"
    writer.close()


async def test_close_from_another_task_ends_a_waiting_read_block(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    reader, writer = socket_streams(ours)
    pending = asyncio.ensure_future(reader.read_block(100, None))
    await asyncio.sleep(0.01)
    assert not pending.done()
    writer.close()
    assert await asyncio.wait_for(pending, 5) == b""
    await asyncio.wait_for(writer.wait_closed(), 5)
    assert ours.fileno() == -1 and not reader._channel.watching


async def test_unread_data_does_not_keep_the_event_loop_busy(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Between reads (the caller busy elsewhere), a readable socket must not make the
    loop spin: the socket is unregistered on the first wake-up nobody waits for."""
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    loop = asyncio.get_running_loop()
    loop.call_later(0.02, theirs.sendall, b"first")
    assert await reader.read_block(100, 5) == b"first"  # waited: socket registered
    theirs.sendall(b"second")  # readable, and nobody reads for a while
    cpu = time.process_time()
    await asyncio.sleep(0.2)
    assert time.process_time() - cpu < 0.15  # a spinning loop would use all 0.2 s
    assert not reader._channel.watching
    assert await reader.read_block(100, 5) == b"second"
    writer.close()


async def test_read_block_after_readline_returns_the_bytes_read_ahead(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    reader, writer = socket_streams(ours)
    theirs.sendall(b"line\nrest")
    theirs.shutdown(socket.SHUT_WR)
    assert await reader.readline() == b"line\n"
    assert await reader.read_block(100, 5) == b"rest"
    assert await reader.read_block(100, 5) == b""
    writer.close()


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected TCP pair on loopback: the low-water mark is a TCP matter."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        theirs = socket.create_connection(listener.getsockname(), timeout=5)
        ours, _ = listener.accept()
    yield from closing(ours, theirs)


async def test_a_waiting_read_block_holds_a_few_bytes_back_only_briefly(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    """The kernel is asked to wake the reader at WAKE_BYTES; a sender that sends less
    (and then nothing) is still heard within about COALESCE_DELAY, not at the timeout."""
    ours, theirs = tcp_pair
    reader, writer = socket_streams(ours)
    loop = asyncio.get_running_loop()
    for n in range(3):
        loop.call_later(0.01, theirs.sendall, b"tick %d" % n)
        started = loop.time()
        assert await reader.read_block(1024 * 1024, 30) == b"tick %d" % n
        assert loop.time() - started < 1
    # With no timeout at all, the few bytes still come.
    loop.call_later(0.01, theirs.sendall, b"tock")
    assert await asyncio.wait_for(reader.read_block(1024 * 1024, None), 5) == b"tock"
    writer.close()


@pytest.mark.skipif(sys.platform != "linux", reason="SO_RCVLOWAT and epoll")
async def test_the_low_water_mark_coalesces_and_the_timeout_returns_what_came(
    tcp_pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs = tcp_pair
    reader, writer = socket_streams(ours)
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(sockio, "COALESCE_DELAY", 0.4)
    # 1,000 bytes are below the mark: the wait ends by the coalescing timer.
    loop.call_later(0.02, theirs.sendall, b"x" * 1000)
    started = loop.time()
    assert await reader.read_block(1024 * 1024, 30) == b"x" * 1000
    assert 0.3 <= loop.time() - started < 2
    assert reader._channel.lowat == sockio.WAKE_BYTES
    # The plain read (readline, read(-1), ...) sees every byte again as it comes.
    loop.call_later(0.02, theirs.sendall, b"z" * 10)
    assert await asyncio.wait_for(reader.read(100), 0.3) == b"z" * 10
    # After a wait the timer ended, the next wait is for any byte ...
    loop.call_later(0.02, theirs.sendall, b"w" * 1000)
    started = loop.time()
    assert await reader.read_block(1024 * 1024, 30) == b"w" * 1000
    assert loop.time() - started < 0.3
    # ... and once a wait ends by data, the mark is back. A timeout shorter than the
    # coalescing delay then returns what came, without an error.
    loop.call_later(0.02, theirs.sendall, b"y" * 1000)
    started = loop.time()
    assert await reader.read_block(1024 * 1024, 0.15) == b"y" * 1000
    assert 0.1 <= loop.time() - started < 0.4
    assert reader._channel.lowat == sockio.WAKE_BYTES
    writer.close()


async def test_a_fast_sender_arrives_whole_through_read_block(
    tcp_pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = tcp_pair
    reader, writer = socket_streams(ours)
    payload = bytes(range(256)) * 4096 * 8  # 8 MiB
    sender = asyncio.get_running_loop().run_in_executor(None, theirs.sendall, payload)
    received = bytearray()
    while len(received) < len(payload):
        block = await reader.read_block(1024 * 1024, 5)
        assert block
        received += block
    await asyncio.wait_for(sender, 5)
    theirs.shutdown(socket.SHUT_WR)
    assert await reader.read_block(1024 * 1024, 5) == b""
    assert received == payload
    writer.close()
