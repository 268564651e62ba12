"""A real anyftp server on 127.0.0.1 (port chosen by the OS) on the test's event loop;
ftplib runs in a worker thread through ``in_thread``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.testing.servers import TIMEOUT, ServerGroup


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
async def start_server(root: Path) -> AsyncIterator[Callable[..., Awaitable[anyftp.Server]]]:
    group = ServerGroup(login_failure_delay=0, socket_timeout=TIMEOUT)

    async def start(**kwargs: Any) -> anyftp.Server:
        kwargs.setdefault("users", [anyftp.User(base_path=root)])
        return await group.start(**kwargs)

    yield start
    await group.close()
