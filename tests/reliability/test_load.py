"""300 concurrent sessions mixing uploads, downloads, listings and renames against a server
in its own process (``anyftp serve``), on the local and the memory backend.

Every session must get exactly the replies it expects; every file left behind is checked
by sha256 through fresh sessions (and on disk for the local backend); after the sessions
close, the server's open descriptors are back to their level before any session, and its
resident memory after the load rounds stays near its level after the warm-up rounds (a leak
would grow it every round). Both event loops are tested: asyncio's and uvloop (skipped when
uvloop is not installed), which ``anyftp serve --loop auto``, the default, takes.

Why three warm-up rounds: resident memory only stops growing once the C allocator's heap has
reached the peak of live memory, and with the memory backend that peak comes in the first
rounds that *overwrite* files, not in the first round. Round 0 fills an empty store; from
round 1 on, each upload's new content is live next to the content it replaces until it is
published (and the round's read buffers on top). Measured on HEAD 8016a7b (2 CPUs, glibc
2.36, Python 3.11, uvloop 0.23), memory backend, RSS after each round:

* asyncio: 64.3, 81.0, 82.1, 82.1, 83.7, 85.8, then 85.8-84.9 MiB up to round 19;
* uvloop: 66.3, 83.6, 89.3, 89.5, 89.6, 89.6, 90.0, 90.3, then 91.0-90.3 MiB to round 29.

It is no leak: glibc's ``mallinfo2`` bytes in use stay at 34-37 MiB in every round (the
stored files are about 28 MiB of it) while its free heap bytes take the difference, and
``malloc_trim(0)`` gives it back (RSS 65-68 MiB after any round, either loop); tracemalloc's
traced Python memory is the same after every round (44-46 MB, the stored files), its peak
rises 50.9 -> 65.2 -> 71.7 MB over rounds 0-2 and never again; the gc-tracked objects are
exactly as many after every round (no session, transport, task or buffer kept). A single
warm-up round therefore measured the climb to the plateau (about +21 MiB), which under
uvloop (2-5 MiB higher: its module, libuv's threads and read buffers) crossed the bound
and under asyncio would have too with three load rounds. After three warm-up rounds the
measured growth over the next three rounds was at most 4.5 MiB (memory backend, either
loop; the local backend levels off at 38.9 MiB on asyncio and 42.6 MiB on uvloop from round
2), inside the bound below, which is the one the single warm-up round had: it fails a leak
of about 11 MiB a round, and did fail a leak of 40 KiB kept per session injected into the
server (memory backend, RSS 115.9 -> 157.3 MiB on asyncio, 125.6 -> 162.4 MiB on uvloop).

This test did catch a real fault on uvloop (CI at 3d8b00f: RSS 79.1 -> 129.1 MiB in one
round, then flat; about one run in six). uvloop reads a new data connection's first bytes
before the STOR asks for them, and an upload that had such bytes went through the
transport with two 256 KiB transfer buffers instead of the shared receive buffers: the
main heap's peak followed how many uploads that happened to, 300 of 3,600 in four rounds
(156 MiB of heap against 51 MiB). The raw receiver now gives those early bytes out first.
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
WARMUP_ROUNDS = 3  # the first round fills the store, the next two overwrite it (see above)
LOAD_ROUNDS = 3
MiB = 1024 * 1024


def start(
    cli_server: Callable[..., CliServer], backend: str, root: Path, loop: str = "asyncio"
) -> CliServer:
    return cli_server(
        "--loop",
        loop,
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
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("backend", ["local", "memory"])
def test_300_concurrent_sessions_lose_nothing_and_leak_nothing(
    cli_server: Callable[..., CliServer], tmp_path: Path, backend: str, loop: str
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="uvloop is not installed (anyftp[speed])")
    root = tmp_path / "root"
    root.mkdir()
    server = start(cli_server, backend, root, loop)
    descriptors = server.fds()

    def closed() -> bool:
        return server.fds() == descriptors

    levels: list[int] = []
    for seed in range(WARMUP_ROUNDS + LOAD_ROUNDS):
        result = play(server, seed)
        wait_for(closed, what="the server's descriptors back to their start level")
        levels.append(server.rss())
    # Warm-up: buffers, caches and the allocator's heap reach their size (see above).
    warm, after = levels[WARMUP_ROUNDS - 1], levels[-1]

    shown = ", ".join(f"{level / MiB:.1f}" for level in levels)
    assert after <= warm * 1.2 + 8 * MiB, f"RSS {warm / MiB:.1f} -> {after / MiB:.1f} MiB ({shown})"
    assert server.proc.poll() is None
    if backend == "local":
        for path, digest in result.files.items():
            assert hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest() == digest
        assert [p for p in root.rglob("*") if p.name.endswith(TEMPORARY_SUFFIX)] == []
