"""The s3 backend passes the anyftp conformance suite, against a real S3 endpoint (moto's
server on loopback, reached over HTTP by aiobotocore)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

import pytest
import pytest_asyncio

from anyftp.testing import (
    ConformanceSuite,
    DirectoryConformance,
    PathQueryConformance,
    RemovalConformance,
    RenameConformance,
    RootConformance,
    RoundTripConformance,
    StatConformance,
)
from anyftp_s3 import S3PathIO


class TestS3PathIO(ConformanceSuite):
    """Absolute paths, as with a ``User(base_path="/srv/ftp")``."""

    #: Tasks at once in the concurrency tests: moto answers requests one by one in
    #: Python, so 20 already keeps it saturated.
    concurrency = 20

    @pytest.fixture
    def state_options(self, s3_options: dict[str, Any]) -> dict[str, Any]:
        return s3_options

    @pytest_asyncio.fixture
    async def path_io(self, s3_options: dict[str, Any]) -> AsyncIterator[S3PathIO]:
        state = S3PathIO.create_state(**s3_options)
        yield S3PathIO(timeout=60, state=state)
        await S3PathIO.close_state(state)

    @pytest_asyncio.fixture
    async def base(self, path_io: S3PathIO) -> PurePosixPath:
        path = PurePosixPath("/srv/conformance")
        await path_io.mkdir(path, parents=True)
        return path


class TestS3PathIOWithPrefixAndRelativePaths(
    PathQueryConformance,
    DirectoryConformance,
    RemovalConformance,
    StatConformance,
    RenameConformance,
    RoundTripConformance,
    RootConformance,
):
    """The server's default ``base_path`` is ``.``; the tree lives under a key prefix.

    The parts of the suite where paths and keys meet; file I/O, listing size and
    concurrency do not depend on the prefix and run once, above.
    """

    @pytest.fixture
    def state_options(self, s3_options: dict[str, Any]) -> dict[str, Any]:
        return {**s3_options, "prefix": "tenant/ftp"}

    @pytest_asyncio.fixture
    async def path_io(self, state_options: dict[str, Any]) -> AsyncIterator[S3PathIO]:
        state = S3PathIO.create_state(**state_options)
        yield S3PathIO(timeout=60, state=state, root=PurePosixPath("."))
        await S3PathIO.close_state(state)

    @pytest_asyncio.fixture
    async def base(self, path_io: S3PathIO) -> PurePosixPath:
        path = PurePosixPath(".") / "home"
        await path_io.mkdir(path)
        return path
