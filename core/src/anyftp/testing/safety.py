"""Conformance tests for what keeps a server safe and shared: ``root`` containment,
per-server state (``create_state``/``close_state``) and use from many tasks at once.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any

import pytest

from ..errors import PathIOError, PathOutsideRootError
from ..pathio import AbstractPathIO, Capabilities
from .fixtures import BackendFixtures, MakePathIO, names_of, read_bytes, write_bytes

__all__ = ("ConcurrencyConformance", "RootConformance", "StateConformance")

#: Upper bound for one concurrency test; a backend that deadlocks fails instead of hanging.
CONCURRENCY_TIMEOUT = 120.0


def _operations(
    path_io: AbstractPathIO, inside: PurePath, outside: PurePath
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every path-taking method, called with *outside* in a path position."""

    async def list_awaited() -> Any:
        return await path_io.list(outside)

    async def list_iterated() -> Any:
        return [p async for p in path_io.list(outside)]

    async def open_read() -> Any:
        async with path_io.open(outside, "rb"):
            pass  # pragma: no cover - must be refused

    async def open_write() -> Any:
        async with path_io.open(outside, "wb") as file:
            await file.write(b"escaped")  # pragma: no cover - must be refused

    return {
        "exists": lambda: path_io.exists(outside),
        "is_file": lambda: path_io.is_file(outside),
        "is_dir": lambda: path_io.is_dir(outside),
        "mkdir": lambda: path_io.mkdir(outside),
        "mkdir(parents)": lambda: path_io.mkdir(outside / "deep", parents=True),
        "rmdir": lambda: path_io.rmdir(outside),
        "unlink": lambda: path_io.unlink(outside),
        "stat": lambda: path_io.stat(outside),
        "list (await)": list_awaited,
        "list (async for)": list_iterated,
        "list_with_stats": lambda: path_io.list_with_stats(outside),
        "list_names_with_stats": lambda: path_io.list_names_with_stats(outside),
        "rename (source)": lambda: path_io.rename(outside, inside / "moved-in"),
        "rename (destination)": lambda: path_io.rename(inside / "file", outside),
        "rename (keywords)": lambda: path_io.rename(source=inside / "file", destination=outside),
        "set_mtime": lambda: path_io.set_mtime(outside, 1_000_000_000.0),
        "chmod": lambda: path_io.chmod(outside, 0o600),
        "open rb": open_read,
        "open wb": open_write,
    }


class RootConformance(BackendFixtures):
    """With ``root=``, nothing outside the root can be reached."""

    pytestmark = [pytest.mark.asyncio]

    @pytest.fixture
    def outside_paths(self, base: PurePath) -> list[PurePath]:
        """Paths that look close to ``base`` but are outside it."""
        return [
            base.parent / (base.name + "-sibling"),  # the root's name as a prefix
            base / ".." / (base.name + "-dotdot"),
            base / "sub" / ".." / ".." / (base.name + "-deep"),
        ]

    async def test_paths_inside_the_root_work(
        self, make_path_io: MakePathIO, base: PurePath
    ) -> None:
        rooted = make_path_io(root=base)
        await rooted.mkdir(base / "dir")
        await write_bytes(rooted, base / "dir" / "file", b"inside")
        assert await read_bytes(rooted, base / "dir" / "file") == b"inside"
        await rooted.rename(base / "dir" / "file", base / "file")
        assert names_of(await rooted.list(base)) == {"dir", "file"}
        assert (await rooted.stat(base / "file")).st_size == 6
        assert await rooted.is_dir(base / "dir" / ".." / "dir")

    async def test_every_method_refuses_paths_outside_the_root(
        self,
        path_io: AbstractPathIO,
        make_path_io: MakePathIO,
        base: PurePath,
        outside_paths: list[PurePath],
    ) -> None:
        await write_bytes(path_io, base / "file", b"inside")
        rooted = make_path_io(root=base)
        for outside in outside_paths:
            for name, call in _operations(rooted, base, outside).items():
                with pytest.raises(PathIOError) as info:
                    await call()
                error = info.value
                assert isinstance(error, PathOutsideRootError), (name, outside, error)
                assert isinstance(error, PermissionError), name
        for outside in outside_paths:
            assert not await path_io.exists(outside), f"{outside} was created"
        assert await read_bytes(path_io, base / "file") == b"inside"

    async def test_the_root_itself_is_inside(
        self, make_path_io: MakePathIO, base: PurePath
    ) -> None:
        rooted = make_path_io(root=base)
        assert await rooted.is_dir(base)
        assert await rooted.list(base) == []
        rooted.contain(base)
        rooted.contain(base / "a" / "b")


class StateConformance(BackendFixtures):
    """Per-server shared state."""

    pytestmark = [pytest.mark.asyncio]

    async def test_create_state_refuses_unknown_options(
        self, path_io: AbstractPathIO, state_options: dict[str, Any]
    ) -> None:
        with pytest.raises(TypeError, match="anyftp_no_such_option"):
            type(path_io).create_state(**state_options, anyftp_no_such_option=1)

    async def test_a_created_state_can_be_closed(
        self, path_io: AbstractPathIO, state_options: dict[str, Any]
    ) -> None:
        cls = type(path_io)
        state = cls.create_state(**state_options)
        await cls.close_state(state)

    async def test_instances_sharing_a_state_see_the_same_files(
        self, path_io: AbstractPathIO, make_path_io: MakePathIO, base: PurePath
    ) -> None:
        first, second = make_path_io(), make_path_io()
        await write_bytes(first, base / "from-first", b"1")
        await second.mkdir(base / "from-second")
        assert names_of(await path_io.list(base)) == {"from-first", "from-second"}
        assert await read_bytes(second, base / "from-first") == b"1"
        await second.unlink(base / "from-first")
        assert not await first.exists(base / "from-first")


class ConcurrencyConformance(BackendFixtures):
    """Many tasks using one backend at once."""

    pytestmark = [pytest.mark.asyncio]

    async def test_many_tasks_write_read_and_list_at_once(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        count = self.concurrency
        rng = random.Random(count)
        payloads = {f"task-{i:03}": rng.randbytes(4096 * (1 + i % 7) + i) for i in range(count)}
        # A backend that can not hold two files open for writing still gets its reads and
        # listings run concurrently; only the writes take turns.
        write_turn = asyncio.Lock() if not capabilities.concurrent_writes else None
        finished = asyncio.Event()

        async def writer(name: str, data: bytes) -> None:
            path = base / name
            if write_turn is not None:
                async with write_turn:
                    await write_in_chunks(path, data)
            else:
                await write_in_chunks(path, data)
            assert await read_bytes(path_io, path) == data
            assert (await path_io.stat(path)).st_size == len(data)

        async def write_in_chunks(path: PurePath, data: bytes) -> None:
            async with path_io.open(path, "wb") as file:
                for start in range(0, len(data), 4096):
                    await file.write(data[start : start + 4096])
                    await asyncio.sleep(0)  # let the other tasks in between chunks

        async def lister() -> int:
            rounds = 0
            while not finished.is_set() and rounds < 10_000:
                listed = names_of(await path_io.list(base))
                assert listed <= set(payloads), listed - set(payloads)
                names_of(p for p, _ in await path_io.list_with_stats(base))
                rounds += 1
                await asyncio.sleep(0)
            return rounds

        async with asyncio.timeout(CONCURRENCY_TIMEOUT):
            listers = [asyncio.create_task(lister()) for _ in range(5)]
            try:
                await asyncio.gather(*(writer(n, d) for n, d in payloads.items()))
            finally:
                finished.set()
                rounds = await asyncio.gather(*listers)
        assert all(r >= 1 for r in rounds)
        assert names_of(await path_io.list(base)) == set(payloads)

    async def test_many_readers_of_one_file_see_the_same_bytes(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        data = random.Random(7).randbytes(300_000)
        path = base / "shared.bin"
        await write_bytes(path_io, path, data)

        async def reader(block: int) -> bytes:
            parts = []
            async with path_io.open(path, "rb") as file:
                async for part in file.iter_by_block(block):
                    parts.append(part)
                    await asyncio.sleep(0)
            return b"".join(parts)

        async with asyncio.timeout(CONCURRENCY_TIMEOUT):
            results = await asyncio.gather(
                *(reader(1000 + 997 * i) for i in range(self.concurrency))
            )
        assert all(result == data for result in results)

    async def test_directories_made_and_removed_by_many_tasks(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        async def cycle(i: int) -> None:
            path = base / f"dir-{i:03}"
            await path_io.mkdir(path / "inner", parents=True)
            await write_bytes(path_io, path / "inner" / "file", b"x")
            await path_io.unlink(path / "inner" / "file")
            await path_io.rmdir(path / "inner")
            await path_io.rmdir(path)

        async with asyncio.timeout(CONCURRENCY_TIMEOUT):
            await asyncio.gather(*(cycle(i) for i in range(self.concurrency)))
        assert await path_io.list(base) == []
