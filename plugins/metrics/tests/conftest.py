"""A real anyftp server on 127.0.0.1 (port chosen by the OS) on the test's event loop;
ftplib runs in a worker thread through ``in_thread``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from metrics_helpers import TIMEOUT, stop

import anyftp


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
async def start_server(root: Path) -> AsyncIterator[Callable[..., Awaitable[anyftp.Server]]]:
    servers: list[anyftp.Server] = []

    async def start(**kwargs: Any) -> anyftp.Server:
        kwargs.setdefault("users", [anyftp.User(base_path=root)])
        server = anyftp.Server(login_failure_delay=0, socket_timeout=TIMEOUT, **kwargs)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await stop(server)
