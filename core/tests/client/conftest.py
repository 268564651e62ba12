"""Fixtures for the client tests: a scriptable fake FTP server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from .fakeserver import Behaviour, FakeFTPServer

StartFake = Callable[..., Awaitable[FakeFTPServer]]


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """``await start_fake(abor_style="one", ...)`` starts a FakeFTPServer; all are closed
    when the test ends."""
    servers: list[FakeFTPServer] = []

    async def start(**options: object) -> FakeFTPServer:
        server = await FakeFTPServer(Behaviour(**options)).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
