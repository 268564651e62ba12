"""The third-party backend runs anyftp's conformance suite, in strict asyncio mode."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
import pytest_asyncio
from anyftp_extdemo.pathio import DictPathIO

from anyftp.registry import get_backend
from anyftp.testing import ConformanceSuite


class TestDictPathIO(ConformanceSuite):
    @pytest.fixture
    def path_io(self) -> DictPathIO:
        return DictPathIO(state=DictPathIO.create_state())

    @pytest_asyncio.fixture
    async def base(self, path_io: DictPathIO) -> PurePosixPath:
        path = PurePosixPath("/base")
        await path_io.mkdir(path)
        return path


def test_the_backend_is_found_by_its_entry_point_name() -> None:
    assert get_backend("extdemo") is DictPathIO
