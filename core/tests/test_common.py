"""Shared pieces: throttles (checked through their computed delay, not by sleeping),
streams over real loopback sockets, async_enterable, with_timeout and small helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from anyftp.common import (
    AsyncStreamIterator,
    Code,
    StreamIO,
    StreamThrottle,
    Throttle,
    ThrottleStreamIO,
    async_enterable,
    with_timeout,
    wrap_into_codes,
    wrap_with_container,
)

WAIT = 10.0


# --- Throttle ------------------------------------------------------------------------------


def test_without_a_limit_a_throttle_never_delays_and_keeps_no_count() -> None:
    throttle = Throttle()
    throttle.append(b"x" * 1_000_000)
    assert throttle.delay() == 0.0
    assert throttle._start is None and throttle._sum == 0


def test_a_limit_delays_by_bytes_over_rate_minus_elapsed() -> None:
    throttle = Throttle(limit=1000)
    now = time.monotonic()
    throttle.append(b"x" * 500, start=now)
    delay = throttle.delay()
    assert 0.4 < delay <= 0.5  # 500 bytes at 1000 B/s take 0.5 s; a little has elapsed
    throttle.append(500)
    assert 0.9 < throttle.delay() <= 1.0


def test_bytes_sent_long_enough_ago_need_no_delay() -> None:
    throttle = Throttle(limit=1000)
    throttle.append(1000, start=time.monotonic() - 5)  # 1 s worth of bytes, 5 s ago
    assert throttle.delay() == 0.0


def test_after_a_quiet_window_the_count_starts_over() -> None:
    throttle = Throttle(limit=100, reset_rate=1)
    throttle.append(50, start=time.monotonic() - 2)
    assert throttle.delay() == 0.0  # window passed and rate kept: reset
    assert throttle._sum == 0
    throttle.append(100)  # a new window starts now
    assert 0.9 < throttle.delay() <= 1.0


def test_changing_the_limit_starts_over() -> None:
    throttle = Throttle(limit=10)
    throttle.append(100, start=time.monotonic())
    assert throttle.delay() > 9
    throttle.limit = 1_000_000
    assert throttle.limit == 1_000_000
    assert throttle.delay() == 0.0
    throttle.limit = None
    throttle.append(10**9)
    assert throttle.delay() == 0.0


async def test_wait_sleeps_for_the_delay() -> None:
    throttle = Throttle(limit=1000)
    throttle.append(100, start=time.monotonic())  # about 0.1 s
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(WAIT):
        await throttle.wait()
    assert loop.time() - started >= 0.05
    assert throttle.delay() == 0.0


async def test_wait_without_a_limit_returns_at_once() -> None:
    async with asyncio.timeout(WAIT):
        await Throttle().wait()


def test_clones_share_the_limit_but_not_the_count() -> None:
    throttle = Throttle(limit=10, reset_rate=3)
    throttle.append(100, start=time.monotonic())
    clone = throttle.clone()
    assert (clone.limit, clone.reset_rate) == (10, 3)
    assert clone.delay() == 0.0
    assert repr(clone) == "Throttle(limit=10, reset_rate=3)"


def test_stream_throttles_hold_one_throttle_per_direction() -> None:
    pair = StreamThrottle.from_limits(read_speed_limit=5, write_speed_limit=7)
    assert (pair.read.limit, pair.write.limit) == (5, 7)
    clone = pair.clone()
    assert clone.read is not pair.read and clone.write.limit == 7
    assert StreamThrottle.from_limits().read.limit is None


# --- streams over loopback -----------------------------------------------------------------


@dataclass
class Link:
    """A client stream connected to a server stream over 127.0.0.1."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_reader: asyncio.StreamReader
    server_writer: asyncio.StreamWriter


@pytest_asyncio.fixture
async def link() -> AsyncIterator[Link]:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        server_reader, server_writer = await accepted.get()
    yield Link(reader, writer, server_reader, server_writer)
    for w in (writer, server_writer):
        w.close()
    server.close()
    async with asyncio.timeout(WAIT):
        await server.wait_closed()


async def test_a_throttled_write_is_counted_and_delays_the_next_one(link: Link) -> None:
    throttles = {"connection": StreamThrottle.from_limits(write_speed_limit=10_000)}
    stream = ThrottleStreamIO(
        link.client_reader, link.client_writer, throttles=throttles, timeout=WAIT
    )
    await stream.write(b"x" * 5000)
    assert 0.3 < throttles["connection"].write.delay() <= 0.5  # 5000 bytes at 10 000 B/s
    async with asyncio.timeout(WAIT):
        assert await link.server_reader.readexactly(5000) == b"x" * 5000


async def test_one_throttle_shared_by_two_streams_limits_their_sum(link: Link) -> None:
    shared = StreamThrottle.from_limits(write_speed_limit=10_000)
    first = ThrottleStreamIO(link.client_reader, link.client_writer, throttles={"user": shared})
    second = ThrottleStreamIO(link.server_reader, link.server_writer, throttles={"user": shared})
    await first.write(b"a" * 3000)
    assert 0.1 < shared.write.delay() <= 0.3
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(WAIT):
        await second.write(b"b" * 3000)  # waits for the first stream's bytes
    assert loop.time() - started >= 0.1
    assert shared.write._sum == 6000


async def test_a_throttled_read_is_counted(link: Link) -> None:
    throttles = {"server": StreamThrottle.from_limits(read_speed_limit=20)}
    stream = ThrottleStreamIO(
        link.client_reader, link.client_writer, throttles=throttles, timeout=WAIT
    )
    link.server_writer.write(b"hello\nworld")
    await link.server_writer.drain()
    assert await stream.readline() == b"hello\n"
    assert 0.15 < throttles["server"].read.delay() <= 0.3  # 6 bytes at 20 B/s
    assert await stream.read(5) == b"world"
    assert throttles["server"].read._sum == 11


async def test_unlimited_throttles_cost_nothing(link: Link) -> None:
    throttles = {"server": StreamThrottle.from_limits()}
    stream = ThrottleStreamIO(link.client_reader, link.client_writer, throttles=throttles)
    await stream.write(b"x" * 100_000)
    assert throttles["server"].write._sum == 0
    async with asyncio.timeout(WAIT):
        await link.server_reader.readexactly(100_000)


async def test_a_read_that_gets_nothing_times_out(link: Link) -> None:
    stream = StreamIO(link.client_reader, link.client_writer, read_timeout=0.05)
    with pytest.raises(TimeoutError):
        await stream.read(1)


async def test_lines_and_blocks_can_be_iterated_until_the_peer_closes(link: Link) -> None:
    stream = ThrottleStreamIO(link.client_reader, link.client_writer, timeout=WAIT)
    link.server_writer.write(b"one\ntwo\n")
    await link.server_writer.drain()
    link.server_writer.close()
    assert [line async for line in stream.iter_by_line()] == [b"one\n", b"two\n"]
    assert [block async for block in stream.iter_by_block(4)] == []


async def test_blocks_come_in_the_requested_size(link: Link) -> None:
    stream = ThrottleStreamIO(link.client_reader, link.client_writer, timeout=WAIT)
    link.server_writer.write(b"0123456789")
    await link.server_writer.drain()
    link.server_writer.close()
    data = [block async for block in stream.iter_by_block(4)]
    assert b"".join(data) == b"0123456789"
    assert all(len(block) <= 4 for block in data)
    stream.close()


# --- helpers -----------------------------------------------------------------------------


class Resource:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def __aenter__(self) -> Resource:
        self.events.append("enter")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.events.append("exit")


class Opener:
    def __init__(self) -> None:
        self.timeout: float | None = None
        self.gate = asyncio.Event()

    @async_enterable
    async def open(self) -> Resource:
        return Resource()

    @with_timeout
    async def slow(self) -> str:
        await self.gate.wait()
        return "done"


async def test_async_enterable_can_be_awaited_or_entered() -> None:
    opener = Opener()
    resource = await opener.open()
    assert isinstance(resource, Resource) and resource.events == []
    async with opener.open() as entered:
        assert entered.events == ["enter"]
    assert entered.events == ["enter", "exit"]


async def test_with_timeout_uses_the_attribute_or_a_keyword() -> None:
    opener = Opener()
    opener.timeout = 0.05
    with pytest.raises(TimeoutError):
        await opener.slow()
    with pytest.raises(TimeoutError):
        await opener.slow(timeout=0.01)
    opener.gate.set()
    assert await opener.slow(timeout=None) == "done"


async def test_async_stream_iterator_stops_at_a_falsy_value() -> None:
    values = iter([b"a", b"b", b""])

    async def read() -> bytes:
        return next(values)

    assert [v async for v in AsyncStreamIterator(read)] == [b"a", b"b"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("200", ("200",)), (b"ab", (b"ab",)), (["1", "2"], ("1", "2")), (5, (5,)), ((), ())],
)
def test_wrap_with_container(value: Any, expected: tuple[Any, ...]) -> None:
    assert wrap_with_container(value) == expected


def test_wrap_into_codes_gives_code_objects() -> None:
    codes = wrap_into_codes(("226", "250"))
    assert codes == ("226", "250") and all(isinstance(c, Code) for c in codes)
    assert wrap_into_codes("2xx")[0].matches("2xx")
