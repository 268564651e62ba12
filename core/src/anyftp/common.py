"""Pieces shared by the client and the server: constants, throttles, timed streams.

A :class:`Throttle` limits one direction of traffic to ``limit`` bytes per second; several
throttles (server-wide, per user, per connection) may watch the same stream, and the
slowest decides. With no limit set a throttle costs one attribute check per block.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from .protocol.replies import Code

__all__ = (
    "DEFAULT_PORT", "DEFAULT_USER", "DEFAULT_PASSWORD", "DEFAULT_ACCOUNT", "DEFAULT_BLOCK_SIZE",
    "END_OF_LINE", "Code", "Throttle", "StreamThrottle", "StreamIO", "ThrottleStreamIO",
    "with_timeout", "wrap_with_container", "wrap_into_codes", "AsyncStreamIterator",
    "async_enterable",
)

END_OF_LINE = "\r\n"
DEFAULT_BLOCK_SIZE = 8192  # aioftp's default for Client.upload/download block_size
DEFAULT_PORT = 21
DEFAULT_USER = "anonymous"
DEFAULT_PASSWORD = "anon@"
DEFAULT_ACCOUNT = ""

T = TypeVar("T")


def wrap_with_container(o: Any) -> tuple[Any, ...]:
    """*o* as a tuple (a str is one item)."""
    if isinstance(o, str | bytes) or not isinstance(o, Iterable):
        return (o,)
    return tuple(o)


def wrap_into_codes(o: Any) -> tuple[Code, ...]:
    return tuple(Code(c) for c in wrap_with_container(o))


def with_timeout(func: Callable[..., Awaitable[T]] | None = None, *,
                 name: str = "timeout") -> Any:
    """Decorator: bound a coroutine method by ``self.<name>`` (or a ``timeout=`` kwarg)."""

    def decorator(f: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(f)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
            value = kwargs.pop("timeout", getattr(self, name, None))
            if value is None:
                return await f(self, *args, **kwargs)
            async with asyncio.timeout(value):
                return await f(self, *args, **kwargs)

        return wrapper

    if func is not None:
        return decorator(func)
    return decorator


class AsyncStreamIterator(AsyncIterator[T]):
    """Calls ``read_coro()`` until it returns something falsy."""

    def __init__(self, read_coro: Callable[[], Awaitable[T]]) -> None:
        self.read_coro = read_coro

    def __aiter__(self) -> AsyncStreamIterator[T]:
        return self

    async def __anext__(self) -> T:
        data = await self.read_coro()
        if data:
            return data
        raise StopAsyncIteration


class Throttle:
    """Limits a flow to ``limit`` bytes per second (``None``: no limit).

    ``reset_rate`` is the time window (seconds) over which the rate is averaged; a burst
    after a quiet period is bounded by one window. ``limit`` may be changed at any time.
    """

    __slots__ = ("_limit", "_start", "_sum", "reset_rate")

    def __init__(self, *, limit: int | None = None, reset_rate: float = 10) -> None:
        self._limit = limit
        self.reset_rate = reset_rate
        self._start: float | None = None
        self._sum = 0

    @property
    def limit(self) -> int | None:
        return self._limit

    @limit.setter
    def limit(self, value: int | None) -> None:
        self._limit = value
        self._start = None
        self._sum = 0

    def delay(self) -> float:
        """Seconds to wait before the next block may go."""
        if self._limit is None or self._start is None:
            return 0.0
        now = time.monotonic()
        elapsed = now - self._start
        wanted = self._sum / self._limit
        if elapsed > self.reset_rate and wanted <= elapsed:
            self._start = now
            self._sum = 0
            return 0.0
        return max(0.0, wanted - elapsed)

    async def wait(self) -> None:
        if self._limit is None:
            return
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)

    def append(self, data: bytes | bytearray | memoryview | int, start: float | None = None
               ) -> None:
        """Account for *data* (bytes or a byte count) just transferred."""
        if self._limit is None:
            return
        if self._start is None:
            self._start = time.monotonic() if start is None else start
        self._sum += data if isinstance(data, int) else len(data)

    def clone(self) -> Throttle:
        return Throttle(limit=self._limit, reset_rate=self.reset_rate)

    def __repr__(self) -> str:
        return f"Throttle(limit={self._limit!r}, reset_rate={self.reset_rate!r})"


class StreamThrottle(collections.namedtuple("StreamThrottle", "read write")):
    """A pair of throttles, one for each direction."""

    read: Throttle
    write: Throttle

    def clone(self) -> StreamThrottle:
        return StreamThrottle(read=self.read.clone(), write=self.write.clone())

    @classmethod
    def from_limits(cls, read_speed_limit: int | None = None,
                    write_speed_limit: int | None = None) -> StreamThrottle:
        return cls(read=Throttle(limit=read_speed_limit),
                   write=Throttle(limit=write_speed_limit))


class StreamIO:
    """A reader/writer pair whose every wait is bounded by ``timeout``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 timeout: float | None = None, read_timeout: float | None = None,
                 write_timeout: float | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.read_timeout = read_timeout or timeout
        self.write_timeout = write_timeout or timeout

    async def readline(self) -> bytes:
        async with asyncio.timeout(self.read_timeout):
            return await self.reader.readline()

    async def read(self, count: int = -1) -> bytes:
        async with asyncio.timeout(self.read_timeout):
            return await self.reader.read(count)

    async def readexactly(self, count: int) -> bytes:
        async with asyncio.timeout(self.read_timeout):
            return await self.reader.readexactly(count)

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writer.write(data)
        async with asyncio.timeout(self.write_timeout):
            await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


class ThrottleStreamIO(StreamIO):
    """A :class:`StreamIO` watched by named :class:`StreamThrottle` objects.

    ``throttles`` maps a name ("server", "user", "connection", ...) to a StreamThrottle;
    the same StreamThrottle shared by many streams limits their sum.
    """

    def __init__(self, *args: Any, throttles: Mapping[str, StreamThrottle] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.throttles: dict[str, StreamThrottle] = dict(throttles or {})

    def _limited(self, direction: str) -> list[Throttle]:
        return [t for st in self.throttles.values()
                if (t := getattr(st, direction)).limit is not None]

    async def wait(self, direction: str) -> None:
        for throttle in self._limited(direction):
            await throttle.wait()

    def append(self, direction: str, data: bytes | int, start: float) -> None:
        for throttle in self._limited(direction):
            throttle.append(data, start)

    async def read(self, count: int = -1) -> bytes:
        limited = self._limited("read")
        if not limited:
            return await super().read(count)
        for throttle in limited:
            await throttle.wait()
        start = time.monotonic()
        data = await super().read(count)
        for throttle in limited:
            throttle.append(data, start)
        return data

    async def readline(self) -> bytes:
        limited = self._limited("read")
        for throttle in limited:
            await throttle.wait()
        start = time.monotonic()
        data = await super().readline()
        for throttle in limited:
            throttle.append(data, start)
        return data

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        limited = self._limited("write")
        if not limited:
            return await super().write(data)
        for throttle in limited:
            await throttle.wait()
        start = time.monotonic()
        await super().write(data)
        for throttle in limited:
            throttle.append(len(data), start)
        return None

    def iter_by_line(self) -> AsyncStreamIterator[bytes]:
        return AsyncStreamIterator(self.readline)

    def iter_by_block(self, count: int = DEFAULT_BLOCK_SIZE) -> AsyncStreamIterator[bytes]:
        return AsyncStreamIterator(lambda: self.read(count))


class async_enterable:
    """Wrap a coroutine function so its result can be awaited or used with ``async with``."""

    def __init__(self, f: Callable[..., Awaitable[Any]]) -> None:
        self.f = f
        functools.update_wrapper(self, f)

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return functools.partial(self.__call__, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> _AsyncEnterableInstance:
        return _AsyncEnterableInstance(self.f(*args, **kwargs))


class _AsyncEnterableInstance:
    __slots__ = ("coro", "value")

    def __init__(self, coro: Awaitable[Any]) -> None:
        self.coro = coro
        self.value: Any = None

    def __await__(self) -> Any:
        return self.coro.__await__()

    async def __aenter__(self) -> Any:
        self.value = await self.coro
        return await self.value.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.value.__aexit__(*exc)
