"""The backend passes anyftp's conformance suite. TEMPLATE: keep this file; adapt the
two fixtures to your storage (a fresh, empty directory per test)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import PurePosixPath

import pytest_asyncio
from anyftp.registry import get_backend
from anyftp.testing import ConformanceSuite

from anyftp_example.pathio import ExamplePathIO, ExampleState


class TestExamplePathIO(ConformanceSuite):
    @pytest_asyncio.fixture
    async def path_io(self) -> AsyncIterator[ExamplePathIO]:
        # TEMPLATE: pass the options your create_state needs (bucket, endpoint, ...) and
        # override the ``state_options`` fixture with the same options.
        state = ExamplePathIO.create_state()
        yield ExamplePathIO(state=state)
        await ExamplePathIO.close_state(state)

    @pytest_asyncio.fixture
    async def base(self, path_io: ExamplePathIO) -> PurePosixPath:
        path = PurePosixPath(f"/conformance-{uuid.uuid4().hex}")
        await path_io.mkdir(path)
        return path


def test_the_backend_is_found_by_its_entry_point_name() -> None:
    assert get_backend("example") is ExamplePathIO  # TEMPLATE: the entry-point name


def test_the_state_is_made_by_create_state() -> None:
    assert isinstance(ExamplePathIO.create_state(), ExampleState)
