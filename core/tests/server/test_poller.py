"""The server's epoll set (``anyftp.server.poller``): readers and writers dispatched from
one reader of the loop, level-triggered; an error or hang-up wakes both callbacks; a
failing callback goes to the loop's exception handler; a descriptor unregistered by an
earlier callback of the same round is not called; the retain/drop/release lifetime.

Every test uses real sockets (socket pairs and TCP on 127.0.0.1, ports chosen by the OS)
and real readiness; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from anyftp.server.poller import Poller

from .conftest import Handled, Watched, loopback_pair

pytestmark = [
    pytest.mark.skipif(not hasattr(select, "epoll"), reason="the poller needs select.epoll"),
    pytest.mark.timeout(60),
]

TIMEOUT = 10
#: How long a test waits to see that something does *not* happen.
QUIET = 0.1
#: Enough to fill the kernel buffers of a connection whose peer reads nothing.
FILL = 1 << 16

EPOLLIN = getattr(select, "EPOLLIN", 1)
EPOLLOUT = getattr(select, "EPOLLOUT", 4)


class Calls(Watched):
    """Callbacks that record their calls (by name) and wake the test at each one."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.changed = asyncio.Event()

    def make(self, name: str, then: Callable[[], Any] | None = None) -> Callable[[], None]:
        def callback() -> None:
            self.seen.append(name)
            self.changed.set()
            if then is not None:
                then()

        return callback

    def count(self, name: str) -> int:
        return self.seen.count(name)


@pytest.fixture
async def poller() -> AsyncIterator[Poller]:
    """A poller on the test's loop, released (and closed, once unused) at the end."""
    poller = Poller(asyncio.get_running_loop())
    yield poller
    poller.release()


@pytest.fixture
def sockets() -> Iterator[Callable[[], tuple[socket.socket, socket.socket]]]:
    """Make non-blocking AF_UNIX socket pairs; every socket is closed at the end."""
    made: list[socket.socket] = []

    def factory() -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair()
        made.extend((a, b))
        a.setblocking(False)
        b.setblocking(False)
        return a, b

    yield factory
    for sock in made:
        sock.close()


@pytest.fixture
async def tcp() -> AsyncIterator[Callable[..., Any]]:
    """Make connected loopback TCP pairs (server end, client end), non-blocking, with
    small buffers on request; every socket is closed at the end."""
    made: list[socket.socket] = []

    async def factory(small_buffers: bool = False) -> tuple[socket.socket, socket.socket]:
        server, client, _ = await loopback_pair(4096 if small_buffers else None)
        made.extend((client, server))
        return server, client

    yield factory
    for sock in made:
        sock.close()


def fill(sock: socket.socket) -> int:
    """Send until the kernel takes no more (the peer reads nothing); the bytes sent."""
    total = 0
    chunk = b"x" * FILL
    while True:
        try:
            total += sock.send(chunk)
        except BlockingIOError:
            return total


def drain(sock: socket.socket) -> int:
    """Read what is there without waiting; the bytes read."""
    total = 0
    while True:
        try:
            data = sock.recv(1 << 20)
        except BlockingIOError:
            return total
        if not data:
            return total
        total += len(data)


def reset(sock: socket.socket) -> None:
    """Close *sock* with SO_LINGER 0: its peer gets an RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def connected_pair(
    how: str,
    tcp: Callable[..., Any],
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
    **options: Any,
) -> tuple[socket.socket, socket.socket]:
    """A connected pair for a hang-up test: TCP over loopback or a Unix socket pair."""
    if how == "tcp reset":
        pair: tuple[socket.socket, socket.socket] = await tcp(**options)
        return pair
    return sockets()


def hang_up(peer: socket.socket, how: str) -> None:
    """The peer goes: a TCP reset, or a plain close of a Unix socket."""
    if how == "tcp reset":
        reset(peer)
    else:
        peer.close()


async def turns(count: int = 5) -> None:
    """Let the loop run *count* times round (and the poller dispatch, if anything is
    ready), then a little more time for good measure."""
    for _ in range(count):
        await asyncio.sleep(0)
    await asyncio.sleep(QUIET)


def loop_watches_reader(loop: asyncio.AbstractEventLoop, fd: int) -> bool:
    """Whether the loop itself has a reader on *fd* (asking removes it: re-add after)."""
    return loop.remove_reader(fd)


# --- readers and writers ------------------------------------------------------------------------


async def test_reader_is_called_again_while_data_remains(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    a, b = sockets()
    calls = Calls()
    got = bytearray()

    def read_one() -> None:
        got.extend(a.recv(1))  # one byte per call: the rest stays for the next turn

    poller.add_reader(a.fileno(), calls.make("reader", read_one))
    await turns()
    assert calls.seen == []  # nothing to read: never called
    b.send(b"abcd")
    await calls.until(lambda: len(got) == 4)
    assert bytes(got) == b"abcd"
    assert calls.count("reader") == 4  # level-triggered: once per byte left
    await turns()
    assert calls.count("reader") == 4  # all read: quiet again
    b.send(b"e")
    await calls.until(lambda: len(got) == 5)
    poller.remove_reader(a.fileno())
    b.send(b"f")
    await turns()
    assert calls.count("reader") == 5 and bytes(got) == b"abcde"
    assert a.fileno() not in poller._masks


async def test_reader_that_reads_nothing_is_called_every_turn(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    a, b = sockets()
    calls = Calls()
    poller.add_reader(a.fileno(), calls.make("reader"))
    b.send(b"left there")
    await calls.until(lambda: calls.count("reader") >= 3)
    poller.remove_reader(a.fileno())
    assert a.recv(100) == b"left there"


async def test_writer_is_called_when_writable_and_not_when_full(
    poller: Poller, tcp: Callable[..., Any]
) -> None:
    server, client = await tcp(small_buffers=True)
    calls = Calls()
    poller.add_writer(server.fileno(), calls.make("writer"))
    await calls.until(lambda: calls.count("writer") >= 2)  # writable: every turn
    poller.remove_writer(server.fileno())
    assert server.fileno() not in poller._masks
    sent = fill(server)
    assert sent > 0
    calls.seen.clear()
    poller.add_writer(server.fileno(), calls.make("writer"))
    await turns()
    assert calls.seen == []  # full: not writable
    received = 0
    async with asyncio.timeout(TIMEOUT):
        while not calls.seen:  # the peer reads: room again
            received += drain(client)
            await asyncio.sleep(0.001)
    assert calls.count("writer") >= 1
    poller.remove_writer(server.fileno())


async def test_reader_and_writer_on_one_descriptor(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    a, b = sockets()
    fd = a.fileno()
    calls = Calls()
    poller.add_reader(fd, calls.make("reader"))
    poller.add_writer(fd, calls.make("writer"))
    assert poller._masks[fd] == EPOLLIN | EPOLLOUT
    b.send(b"data")
    await calls.until(lambda: calls.count("reader") >= 1 and calls.count("writer") >= 1)

    # without the reader: the writer goes on, the reader is not called though data waits
    poller.remove_reader(fd)
    assert poller._masks[fd] == EPOLLOUT
    calls.seen.clear()
    await calls.until(lambda: calls.count("writer") >= 2)
    assert calls.count("reader") == 0

    # the reader back, the writer gone: the reader is called, the writer not
    poller.add_reader(fd, calls.make("reader"))
    poller.remove_writer(fd)
    assert poller._masks[fd] == EPOLLIN
    calls.seen.clear()
    await calls.until(lambda: calls.count("reader") >= 2)
    assert calls.count("writer") == 0

    # a new callback replaces the old one (same mask)
    poller.add_reader(fd, calls.make("reader 2"))
    calls.seen.clear()
    await calls.until(lambda: calls.count("reader 2") >= 1)
    assert calls.count("reader") == 0

    poller.remove_reader(fd)
    assert fd not in poller._masks
    assert fd not in poller._readers and fd not in poller._writers
    calls.seen.clear()
    await turns()
    assert calls.seen == []
    # removing what is not there is harmless
    poller.remove_reader(fd)
    poller.remove_writer(fd)
    assert a.recv(10) == b"data"


async def test_a_descriptor_the_kernel_refuses_is_not_remembered(poller: Poller) -> None:
    regular = os.open(__file__, os.O_RDONLY)  # epoll refuses regular files (EPERM)
    try:
        with pytest.raises(OSError):
            poller.add_reader(regular, lambda: None)
        assert regular not in poller._masks
        assert regular not in poller._readers
    finally:
        os.close(regular)


# --- errors and hang-ups ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["tcp reset", "unix close"])
async def test_hang_up_wakes_a_write_only_registration(
    poller: Poller,
    tcp: Callable[..., Any],
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
    how: str,
) -> None:
    mine, peer = await connected_pair(how, tcp, sockets, small_buffers=True)
    fill(mine)  # not writable: only the hang-up can wake the writer
    calls = Calls()
    poller.add_writer(mine.fileno(), calls.make("writer"))
    await turns()
    assert calls.seen == []
    hang_up(peer, how)
    await calls.until(lambda: calls.count("writer") >= 1)
    with pytest.raises(OSError):  # what the writer finds: the connection is gone
        mine.send(b"more")
    poller.remove_writer(mine.fileno())


async def test_a_hang_up_alone_wakes_the_reader(poller: Poller) -> None:
    # A TCP socket that is not connected is "hung up" (EPOLLHUP) and not readable: the
    # event has no EPOLLIN bit, the reader is called all the same.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lonely:
        lonely.setblocking(False)
        calls = Calls()
        poller.add_reader(lonely.fileno(), calls.make("reader"))
        try:
            await calls.until(lambda: calls.count("reader") >= 1)
        finally:
            poller.remove_reader(lonely.fileno())


@pytest.mark.parametrize("how", ["tcp reset", "unix close"])
async def test_hang_up_wakes_a_read_only_registration(
    poller: Poller,
    tcp: Callable[..., Any],
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
    how: str,
) -> None:
    mine, peer = await connected_pair(how, tcp, sockets)
    calls = Calls()
    poller.add_reader(mine.fileno(), calls.make("reader"))
    await turns()
    assert calls.seen == []
    hang_up(peer, how)
    await calls.until(lambda: calls.count("reader") >= 1)
    poller.remove_reader(mine.fileno())
    if how == "tcp reset":
        with pytest.raises(ConnectionResetError):
            mine.recv(10)
    else:
        assert mine.recv(10) == b""


async def test_a_reset_wakes_the_writer_of_a_reading_registration_too(
    poller: Poller, tcp: Callable[..., Any]
) -> None:
    # Reader and writer on one descriptor, the send buffer full and nothing to read:
    # the reset wakes both (whoever waits finds out).
    mine, peer = await tcp(small_buffers=True)
    fill(mine)
    calls = Calls()
    poller.add_reader(mine.fileno(), calls.make("reader"))
    poller.add_writer(mine.fileno(), calls.make("writer"))
    await turns()
    assert calls.seen == []
    reset(peer)
    await calls.until(lambda: calls.count("reader") >= 1 and calls.count("writer") >= 1)
    poller.remove_reader(mine.fileno())
    poller.remove_writer(mine.fileno())


# --- callbacks of one round -----------------------------------------------------------------


async def test_a_failing_callback_goes_to_the_exception_handler_and_the_round_goes_on(
    poller: Poller,
    handled: Handled,
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
) -> None:
    a, b = sockets()
    c, d = sockets()
    calls = Calls()

    def boom() -> None:
        raise ValueError("reader failed")

    def boom_writer() -> None:
        raise LookupError("writer failed")

    # a: its reader fails, its writer (same event, same round) still runs
    poller.add_reader(a.fileno(), calls.make("a reader", boom))
    poller.add_writer(a.fileno(), calls.make("a writer"))
    # c: its writer fails, its reader still runs
    poller.add_reader(c.fileno(), calls.make("c reader"))
    poller.add_writer(c.fileno(), calls.make("c writer", boom_writer))
    b.send(b"1")
    d.send(b"1")
    poller._dispatch()  # one round, now: both descriptors are ready
    assert sorted(calls.seen) == ["a reader", "a writer", "c reader", "c writer"]
    errors = [context["exception"] for context in handled.contexts]
    assert sorted(type(exc).__name__ for exc in errors) == ["LookupError", "ValueError"]
    messages = sorted(context["message"] for context in handled.contexts)
    assert "reader" in messages[0] and "writer" in messages[1]

    # the same from the loop: the poller keeps serving after failures
    calls.seen.clear()
    await calls.until(lambda: calls.count("a writer") >= 2 and calls.count("c reader") >= 2)
    for fd in (a.fileno(), c.fileno()):
        poller.remove_reader(fd)
        poller.remove_writer(fd)
    assert len(handled.contexts) > 2


async def test_keyboard_interrupt_in_a_callback_is_not_swallowed(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    a, b = sockets()

    def interrupt() -> None:
        raise KeyboardInterrupt

    poller.add_reader(a.fileno(), interrupt)
    b.send(b"1")
    try:
        with pytest.raises(KeyboardInterrupt):
            poller._dispatch()
    finally:
        poller.remove_reader(a.fileno())


@pytest.mark.parametrize("close", [False, True])
async def test_a_descriptor_removed_by_an_earlier_callback_is_not_called(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]], close: bool
) -> None:
    a, b = sockets()
    c, d = sockets()
    calls = Calls()
    pair = {a.fileno(): c, c.fileno(): a}

    def remove_the_other(mine: socket.socket) -> Callable[[], None]:
        def callback() -> None:
            other = pair[mine.fileno()]
            if other.fileno() in poller._readers:
                poller.remove_reader(other.fileno())
                if close:
                    other.close()

        return callback

    poller.add_reader(a.fileno(), calls.make("a", remove_the_other(a)))
    poller.add_reader(c.fileno(), calls.make("c", remove_the_other(c)))
    b.send(b"1")
    d.send(b"1")
    # both are ready in this round; whichever runs first removes the other, which is
    # then not called
    poller._dispatch()
    assert calls.seen in (["a"], ["c"])
    survivor = a if calls.seen == ["a"] else c
    poller.remove_reader(survivor.fileno())
    assert not poller._readers and not poller._masks


async def test_a_reader_that_removes_the_writer_of_its_own_descriptor(
    poller: Poller, sockets: Callable[[], tuple[socket.socket, socket.socket]]
) -> None:
    # One event carries both readiness bits; the reader goes first and removes the
    # writer, which is then not called in that round.
    a, b = sockets()
    fd = a.fileno()
    calls = Calls()
    poller.add_reader(fd, calls.make("reader", lambda: poller.remove_writer(fd)))
    poller.add_writer(fd, calls.make("writer"))
    b.send(b"1")
    poller._dispatch()
    assert calls.seen == ["reader"]
    assert poller._masks[fd] == EPOLLIN
    poller.remove_reader(fd)


async def test_a_callback_that_closes_the_poller(
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
) -> None:
    # The last user leaves from inside a callback: the set closes, the rest of the round
    # calls nothing and nothing fails.
    poller = Poller(asyncio.get_running_loop())
    poller.retain()
    poller.release()
    a, b = sockets()
    c, d = sockets()
    calls = Calls()

    def leave() -> None:
        poller.remove_reader(a.fileno())
        poller.remove_reader(c.fileno())
        poller.drop()

    poller.add_reader(a.fileno(), calls.make("a", leave))
    poller.add_reader(c.fileno(), calls.make("c", leave))
    b.send(b"1")
    d.send(b"1")
    poller._dispatch()
    assert calls.seen in (["a"], ["c"])
    assert poller.closed
    await turns()
    assert len(calls.seen) == 1


# --- lifetime ------------------------------------------------------------------------------------


async def test_add_after_close_raises_and_remove_is_harmless(
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
) -> None:
    loop = asyncio.get_running_loop()
    a, b = sockets()
    poller = Poller(loop)
    poller.add_reader(a.fileno(), lambda: None)
    assert not poller.closed
    poller.release()
    assert poller.closed
    assert not poller._readers and not poller._writers and not poller._masks
    with pytest.raises(RuntimeError):
        poller.add_reader(a.fileno(), lambda: None)
    with pytest.raises(RuntimeError):
        poller.add_writer(a.fileno(), lambda: None)
    poller.remove_reader(a.fileno())
    poller.remove_writer(a.fileno())
    poller.release()  # again: nothing
    # the descriptor is free for the loop again
    woke = asyncio.Event()
    loop.add_reader(a.fileno(), woke.set)
    try:
        b.send(b"1")
        async with asyncio.timeout(TIMEOUT):
            await woke.wait()
    finally:
        loop.remove_reader(a.fileno())


async def test_closes_only_when_released_and_unused(
    sockets: Callable[[], tuple[socket.socket, socket.socket]],
) -> None:
    loop = asyncio.get_running_loop()
    poller = Poller(loop)
    epoll_fd = poller._epoll.fileno()
    poller.retain()
    poller.retain()
    poller.drop()
    poller.drop()
    assert not poller.closed  # no users, but not released: stays
    poller.retain()
    poller.retain()
    poller.release()
    assert not poller.closed  # released, two users
    a, b = sockets()
    calls = Calls()
    poller.add_reader(a.fileno(), calls.make("reader", lambda: a.recv(10)))
    b.send(b"1")
    await calls.until(lambda: calls.count("reader") == 1)  # still serving
    poller.drop()
    assert not poller.closed  # one user left
    poller.drop()
    assert poller.closed
    assert not poller._readers and not poller._masks
    assert not loop_watches_reader(loop, epoll_fd)  # the loop watches it no more
    b.send(b"2")
    await turns()
    assert calls.count("reader") == 1
    assert a.recv(10) == b"2"


async def test_for_loop_makes_a_poller_watched_by_the_loop() -> None:
    loop = asyncio.get_running_loop()
    poller = Poller.for_loop(loop)
    assert poller is not None
    try:
        epoll_fd = poller._epoll.fileno()
        assert loop_watches_reader(loop, epoll_fd)
        loop.add_reader(epoll_fd, poller._dispatch)  # put back what the look removed
    finally:
        poller.release()
    assert poller.closed


async def test_for_loop_without_epoll_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(select, "epoll")
    assert Poller.for_loop(asyncio.get_running_loop()) is None
