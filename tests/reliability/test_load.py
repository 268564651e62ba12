"""300 concurrent sessions mixing uploads, downloads, listings and renames against a server
in its own process (``anyftp serve``), on the local and the memory backend.

Every session must get exactly the replies it expects; every file left behind is checked
by sha256 through fresh sessions (and on disk for the local backend); after the sessions
close, the server's open descriptors are back to their level before any session, and its
resident memory after the load rounds stays near its level after a warm-up round (the
allocator keeps what the first burst of buffers took; a leak would grow it every round).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from anyftp.server.uploads import TEMPORARY_SUFFIX

from .harness import CliServer, wait_for
from .workload import RoundResult, run_round, verify

SESSIONS = 300
LOAD_ROUNDS = 2
MiB = 1024 * 1024


def start(cli_server: Callable[..., CliServer], backend: str, root: Path) -> CliServer:
    return cli_server(
        "--backend",
        backend,
        "--root",
        str(root) if backend == "local" else "/",
        "--write",
        "--max-connections",
        str(SESSIONS * 4),
        "--max-connections-per-ip",
        str(SESSIONS * 4),
        "--login-failure-delay",
        "0",
    )


def play(server: CliServer, seed: int) -> RoundResult:
    result = asyncio.run(run_round(server.host, server.port, SESSIONS, seed=seed, timeout=90))
    assert result.errors == [], [str(e) for e in result.errors[:5]]
    assert len(result.files) == SESSIONS * 3
    wrong = asyncio.run(verify(server.host, server.port, result.files))
    assert wrong == []
    return result


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "memory"])
def test_300_concurrent_sessions_lose_nothing_and_leak_nothing(
    cli_server: Callable[..., CliServer], tmp_path: Path, backend: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = start(cli_server, backend, root)
    descriptors = server.fds()

    def closed() -> bool:
        return server.fds() == descriptors

    play(server, seed=0)  # warm-up: buffers, caches and the allocator reach their size
    wait_for(closed, what="the server's descriptors back to their start level")
    warm = server.rss()

    for seed in range(1, LOAD_ROUNDS + 1):
        result = play(server, seed)
        wait_for(closed, what="the server's descriptors back to their start level")
    after = server.rss()

    assert after <= warm * 1.2 + 8 * MiB, f"RSS {warm / MiB:.1f} -> {after / MiB:.1f} MiB"
    assert server.proc.poll() is None
    if backend == "local":
        for path, digest in result.files.items():
            assert hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest() == digest
        assert [p for p in root.rglob("*") if p.name.endswith(TEMPORARY_SUFFIX)] == []
