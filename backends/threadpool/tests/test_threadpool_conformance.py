"""The threadpool backend passes the anyftp conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from anyftp.testing import ConformanceSuite, SymlinkConformance
from anyftp_threadpool import AsyncPathIO


class TestAsyncPathIOWithServerState(ConformanceSuite, SymlinkConformance):
    """With its own pool from ``create_state`` (how the server runs it)."""

    @pytest_asyncio.fixture
    async def path_io(self) -> AsyncIterator[AsyncPathIO]:
        state = AsyncPathIO.create_state(max_workers=4)
        yield AsyncPathIO(state=state)
        await AsyncPathIO.close_state(state)

    @pytest.fixture
    def base(self, tmp_path: Path) -> Path:
        path = tmp_path / "base"
        path.mkdir()
        return path


class TestAsyncPathIOWithDefaultPool(ConformanceSuite):
    """Made as aioftp users make it: ``AsyncPathIO()``, on the process-wide pool."""

    @pytest.fixture
    def path_io(self) -> AsyncPathIO:
        return AsyncPathIO()

    @pytest.fixture
    def base(self, tmp_path: Path) -> Path:
        path = tmp_path / "base"
        path.mkdir()
        return path
