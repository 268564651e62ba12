"""The fsspec backend passes the anyftp conformance suite on ``memory://``, ``file://``
and ``s3://`` (s3fs against a moto server on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import pytest_asyncio

from anyftp.pathio import Capabilities
from anyftp.testing import ConformanceSuite, SymlinkConformance
from anyftp_fsspec import FsspecPathIO


class FsspecSuite(ConformanceSuite):
    """The suite on one served URL; subclasses give ``state_options``."""

    @pytest_asyncio.fixture
    async def path_io(self, state_options: dict[str, Any]) -> AsyncIterator[FsspecPathIO]:
        state = FsspecPathIO.create_state(**state_options)
        yield FsspecPathIO(timeout=60, state=state)
        await FsspecPathIO.close_state(state)

    @pytest_asyncio.fixture
    async def base(self, path_io: FsspecPathIO) -> PurePosixPath:
        path = PurePosixPath("/srv/conformance")
        await path_io.mkdir(path, parents=True)
        return path

    @pytest.fixture
    def capabilities(self, path_io: FsspecPathIO) -> Capabilities:
        # Capabilities depend on the served filesystem, so they belong to the instance.
        return path_io.capabilities


class TestMemory(FsspecSuite):
    @pytest.fixture
    def state_options(self, memory_state_options: dict[str, Any]) -> dict[str, Any]:
        return memory_state_options


class TestMemoryRelativePaths(TestMemory):
    """The server's default ``User.base_path`` is ``Path(".")``: relative paths work."""

    @pytest_asyncio.fixture
    async def base(self, path_io: FsspecPathIO) -> PurePosixPath:
        path = PurePosixPath(".") / "home"
        await path_io.mkdir(path)
        return path


class TestLocalFile(FsspecSuite):
    @pytest.fixture
    def state_options(self, file_state_options: dict[str, Any]) -> dict[str, Any]:
        return file_state_options


class TestLocalFileWithRealPaths(FsspecSuite, SymlinkConformance):
    """``file:///`` makes served paths real paths, as the symlink tests need."""

    @pytest.fixture
    def state_options(self) -> dict[str, Any]:
        return {"url": "file:///"}

    @pytest_asyncio.fixture
    async def base(self, path_io: FsspecPathIO, tmp_path: Path) -> PurePosixPath:
        path = tmp_path / "conformance"
        path.mkdir()
        return PurePosixPath(path)


class TestS3(FsspecSuite):
    concurrency = 20

    @pytest.fixture
    def state_options(self, s3_state_options: dict[str, Any]) -> dict[str, Any]:
        return s3_state_options
