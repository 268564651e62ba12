"""Listing results of the client: the info dictionaries and the lazy/eager lister.

``Client.list`` returns an :class:`AbstractAsyncLister`: ``await`` it for a list of
``(path, info)`` pairs, or iterate it with ``async for``. ``info`` is a dict of strings
as in MLSx facts (``type``, ``size``, ``modify``, ...); entries parsed from LIST output
carry the Unix or Windows keys described in :mod:`anyftp.protocol.listparse`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Generator
from pathlib import PurePosixPath
from typing import Any, Generic, NotRequired, TypedDict, TypeVar

__all__ = (
    "BasicListInfo",
    "UnixListInfo",
    "ListInfo",
    "PathWithInfo",
    "AbstractAsyncLister",
    "AsyncLister",
)

T = TypeVar("T")


class BasicListInfo(TypedDict):
    """What every listing entry has: ``type`` (``file``/``dir``/``link``/...), ``size``
    and ``modify`` (``YYYYMMDDHHMMSS``), all strings as MLSx facts are."""

    type: str
    size: str
    modify: str
    create: NotRequired[str]


class UnixListInfo(BasicListInfo):
    """An entry parsed from a Unix ``ls -l`` line (LIST fallback).

    aioftp's keys (``unix.mode`` as an int, ``unix.links``, ``unix.owner``,
    ``unix.group``) and the plain ones (``permissions``, ``owner``, ``group``, ``links``).
    """

    permissions: NotRequired[str]
    owner: NotRequired[str]
    group: NotRequired[str]
    links: NotRequired[int]
    link_dst: NotRequired[str]


ListInfo = BasicListInfo | UnixListInfo
PathWithInfo = tuple[PurePosixPath, ListInfo]


class AbstractAsyncLister(ABC, Generic[T]):
    """Awaitable for a list, or usable with ``async for``; each step bounded by
    ``timeout``."""

    def __init__(self, *, timeout: float | None = None) -> None:
        self.timeout = timeout

    def __aiter__(self) -> AbstractAsyncLister[T]:
        return self

    @abstractmethod
    async def __anext__(self) -> T:
        """The next item, or StopAsyncIteration."""

    async def _to_list(self) -> list[T]:
        return [item async for item in self]

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._to_list().__await__()


class AsyncLister(AbstractAsyncLister[T]):
    """An :class:`AbstractAsyncLister` over an async iterator."""

    def __init__(self, iterator: AsyncIterator[T], *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self._iterator = iterator

    async def __anext__(self) -> T:
        if self.timeout is None:
            return await self._iterator.__anext__()
        async with asyncio.timeout(self.timeout):
            return await self._iterator.__anext__()
