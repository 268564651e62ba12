"""The memory backend passes the anyftp conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath

import pytest
import pytest_asyncio

from anyftp.testing import ConformanceSuite
from anyftp_memory import MemoryPathIO


class TestMemoryPathIO(ConformanceSuite):
    @pytest_asyncio.fixture
    async def path_io(self) -> AsyncIterator[MemoryPathIO]:
        state = MemoryPathIO.create_state()
        yield MemoryPathIO(state=state)
        await MemoryPathIO.close_state(state)

    @pytest_asyncio.fixture
    async def base(self, path_io: MemoryPathIO) -> PurePosixPath:
        path = PurePosixPath("/srv/conformance")
        await path_io.mkdir(path, parents=True)
        return path


class TestMemoryPathIORelativePaths(ConformanceSuite):
    """The server's default ``User.base_path`` is ``Path(".")``: relative paths work."""

    @pytest.fixture
    def path_io(self) -> MemoryPathIO:
        return MemoryPathIO()

    @pytest_asyncio.fixture
    async def base(self, path_io: MemoryPathIO) -> PurePosixPath:
        path = PurePosixPath(".") / "home"
        await path_io.mkdir(path)
        return path
