"""The server-side workload, modelled on pyftpdlib's ftpbench, run against one server.

One round measures every line of :func:`config.lines` once, in order, using the raw
client of :mod:`ftpload`:

1. STOR then RETR of one large file by a single client (MiB/s);
2. N clients connect and log in at once (s); they stay connected, idle. This line and
   line 5 take tens of milliseconds, so they are measured ``short_repeat`` times per
   round (the clients of one attempt QUIT, which is a sample of line 5, before the
   next logs in) and the round keeps the median of each;
3. STOR then RETR of the large file again while the N clients sit idle (MiB/s);
4. the N clients each RETR the small file at once, then each STOR one (s), with the
   server's peak RSS for both;
5. the N clients QUIT at once (s);
6. one client lists a directory of many files with MLSD (s).

Files a round uploads are deleted afterwards (untimed), so rounds do not accumulate
dirty pages on disk. Before each timed line the machine is brought to the same state,
untimed (:func:`settle`): what earlier lines left dirty is written back, and before a
line that writes, the memory it is about to fill is made ready. No line pays for what
the previous one (of any server) left behind.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator, Awaitable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from config import BenchConfig, MiB
from ftpload import FtpSession, Sink

__all__ = (
    "Target",
    "SourceFiles",
    "make_sources",
    "prepare_disk_root",
    "prepare_over_ftp",
    "run_round",
    "round_steps",
    "LineProbe",
    "LISTING_DIR",
    "SMALL_NAME",
    "settle",
)

LISTING_DIR = "many"
SMALL_NAME = "small.bin"
BIG_NAME = "big.bin"
T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """Where a server listens and how to log in."""

    host: str
    port: int
    user: str = "bench"
    password: str = "bench"

    async def session(self, binary: bool = True) -> FtpSession:
        """A logged-in session (switched to binary type unless *binary* is false)."""
        return await FtpSession.open(self.host, self.port, self.user, self.password, binary=binary)


@dataclass(frozen=True)
class SourceFiles:
    """Files on the load generator's side that STOR sends."""

    big: Path
    small: Path
    empty: Path


def _write_random(path: Path, size: int) -> None:
    import os

    chunk = os.urandom(min(size, MiB)) if size else b""
    with open(path, "wb") as file:
        left = size
        while left > 0:
            file.write(chunk[:left])
            left -= len(chunk)


def make_sources(directory: Path, config: BenchConfig) -> SourceFiles:
    """Write the files the generator uploads (random bytes, so nothing compresses)."""
    directory.mkdir(parents=True, exist_ok=True)
    sources = SourceFiles(directory / BIG_NAME, directory / SMALL_NAME, directory / "empty")
    for path, size in (
        (sources.big, config.big_size),
        (sources.small, config.small_size),
        (sources.empty, 0),
    ):
        if not path.exists() or path.stat().st_size != size:
            _write_random(path, size)
    return sources


def prepare_disk_root(root: Path, sources: SourceFiles, config: BenchConfig) -> None:
    """Put the fixtures straight into a server root that lives on disk."""
    root.mkdir(parents=True, exist_ok=True)
    (root / SMALL_NAME).write_bytes(sources.small.read_bytes())
    listing = root / LISTING_DIR
    listing.mkdir(exist_ok=True)
    for index in range(config.listing_files):
        (listing / f"file-{index:06d}").touch()


async def prepare_over_ftp(
    target: Target, sources: SourceFiles, config: BenchConfig, parallel: int = 8
) -> None:
    """Upload the fixtures through FTP (backends with no directory to fill directly)."""
    async with asyncio.timeout(config.line_timeout * 4):
        session = await target.session()
        await session.stor(SMALL_NAME, sources.small)
        await session.command(f"MKD {LISTING_DIR}", "2")
        await session.quit()
        names = [f"{LISTING_DIR}/file-{index:06d}" for index in range(config.listing_files)]

        async def worker(part: list[str]) -> None:
            uploader = await target.session()
            for name in part:
                await uploader.stor(name, sources.empty)
            await uploader.quit()

        async with asyncio.TaskGroup() as group:
            for offset in range(parallel):
                group.create_task(worker(names[offset::parallel]))


def settle(scratch: Path, write_bytes: int = 0) -> None:
    """Bring the machine to the same state before a timed line (untimed).

    1. ``sync``: every dirty page is written back now. Without it, the 512 MiB files the
       STOR lines leave dirty (several servers' worth, a few seconds apart) pass the
       kernel's background-writeback threshold during whichever server's 200 x STOR
       line comes next, which then shares the CPUs with the writeback. A 512 MiB file
       takes about 0.3 s to sync here; nothing dirty, 1 ms.
    2. For a line that will write *write_bytes* into the server's page cache: a scratch
       file of that size (and an eighth more) is written next to *scratch* and deleted,
       so the free memory the line takes was in use a moment ago. On a virtual machine
       that hands free memory back to its host (virtio-balloon free page reporting, as
       on the machine the README's table comes from), memory left free for a while
       must be faulted in from the host again when next used: writing 2 GiB into the
       page cache measured 0.7-3.3 s of system time from that state and 0.44-0.55 s
       right after such a scratch file. Which state a server met depended on which
       server ran before it; now every server meets the second.
    """
    os.sync()
    if write_bytes <= 0:
        return
    path = scratch.with_name(f".settle-{os.getpid()}")
    block = bytes(MiB)
    left = write_bytes + write_bytes // 8
    try:
        with open(path, "wb", buffering=0) as file:
            while left > 0:
                left -= file.write(block[: min(left, MiB)])
    finally:
        path.unlink(missing_ok=True)


async def _timed(awaitable: Awaitable[T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = await awaitable
    return time.perf_counter() - start, result


async def _all(coroutines: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run the coroutines at once; the first failure cancels the others."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(coroutine) for coroutine in coroutines]
    return [task.result() for task in tasks]


class LineProbe(Protocol):
    """Something watching the server around each line (peak memory, a profiler)."""

    def begin(self, key: str) -> None: ...

    def end(self, key: str) -> dict[str, float]: ...


#: Lines that need the N idle clients connected.
NEEDS_CLIENTS = ("login", "stor_idle", "retr_idle", "retr_many", "stor_many", "quit")


async def round_steps(
    target: Target,
    sources: SourceFiles,
    config: BenchConfig,
    results: dict[str, float],
    probe: LineProbe | None = None,
    only: frozenset[str] | None = None,
) -> AsyncGenerator[str, None]:
    """Measure every line (or the lines in *only*) once into *results*, yielding each
    line's key once it is measured, so several servers can be driven line by line.

    Whatever *probe* reports is added. Lines left out are not run unless another line
    needs them (the large file is stored for RETR; the idle clients log in and quit).
    """
    sink = Sink()

    def wanted(*keys: str) -> bool:
        return only is None or any(key in only for key in keys)

    async def measure(
        key: str,
        coroutine: Coroutine[Any, Any, Any],
        into: dict[str, float] = results,
        writes: int = 0,
    ) -> None:
        settle(sources.big, writes)
        if probe is not None and wanted(key):
            probe.begin(key)
        try:
            async with asyncio.timeout(config.line_timeout):
                seconds, _ = await _timed(coroutine)
        finally:
            if probe is not None and wanted(key):
                into.update(probe.end(key))
        if wanted(key):
            into[key] = seconds

    # The short lines are measured config.short_repeat times a round (see BenchConfig);
    # each sample is a dict like ``results``, and the round keeps the median of each value.
    short_samples: dict[str, list[dict[str, float]]] = {"login": [], "quit": []}

    def keep_median(key: str) -> None:
        samples = short_samples[key]
        for name in {name for sample in samples for name in sample}:
            values = [sample[name] for sample in samples if name in sample]
            results[name] = median(values)

    async def throughput(session: FtpSession, key: str, retr: bool) -> None:
        if retr:
            coroutine = session.retr(BIG_NAME, sink, config.big_size)
        else:
            coroutine = session.stor(BIG_NAME, sources.big)
        await measure(key, coroutine, writes=0 if retr else config.big_size)
        if key in results:
            results[key] = config.big_size / MiB / results[key]

    single = await target.session()
    if wanted("stor", "retr", "retr_idle"):
        await throughput(single, "stor", retr=False)
        if wanted("stor"):
            yield "stor"
    if wanted("retr"):
        await throughput(single, "retr", retr=True)
        yield "retr"

    idle: list[FtpSession] = []

    async def log_in(index: int) -> None:
        session = await target.session(binary=False)
        idle.append(session)

    try:
        if wanted(*NEEDS_CLIENTS):
            attempts = config.short_repeat if wanted("login", "quit") else 1
            for attempt in range(attempts):
                if attempt:  # the previous attempt's clients leave: a sample of QUIT
                    sample: dict[str, float] = {}
                    await measure("quit", _all([s.quit() for s in idle]), sample)
                    short_samples["quit"].append(sample)
                    idle.clear()
                sample = {}
                await measure("login", _all([log_in(i) for i in range(config.clients)]), sample)
                short_samples["login"].append(sample)
            keep_median("login")
            async with asyncio.timeout(config.line_timeout):
                await _all([s.command("TYPE I", "2") for s in idle])
            if wanted("login"):
                yield "login"
        if wanted("stor_idle"):
            await throughput(single, "stor_idle", retr=False)
            yield "stor_idle"
        if wanted("retr_idle"):
            await throughput(single, "retr_idle", retr=True)
            yield "retr_idle"
        if wanted("retr_many"):
            await measure(
                "retr_many", _all([s.retr(SMALL_NAME, sink, config.small_size) for s in idle])
            )
            yield "retr_many"
        if wanted("stor_many"):
            await measure(
                "stor_many",
                _all([s.stor(f"up-{i:04d}.bin", sources.small) for i, s in enumerate(idle)]),
                writes=len(idle) * config.small_size,
            )
            # Untimed: the uploads go at once, so the kernel drops their dirty pages
            # instead of writing them back to disk while the next server's lines run.
            async with asyncio.timeout(config.line_timeout):
                for index in range(config.clients):
                    await single.command(f"DELE up-{index:04d}.bin", "2")
            yield "stor_many"
        if idle:
            sample = {}
            await measure("quit", _all([s.quit() for s in idle]), sample)
            short_samples["quit"].append(sample)
            keep_median("quit")
            if wanted("quit"):
                yield "quit"
    finally:
        for session in idle:
            session.close()

    if wanted("mlsd"):
        listing = b""

        async def list_directory() -> None:
            nonlocal listing
            listing = await single.listing(f"MLSD {LISTING_DIR}")

        await measure("mlsd", list_directory())
        entries = sum(1 for line in listing.split(b"\r\n") if b"type=file" in line.lower())
        if entries != config.listing_files:
            raise RuntimeError(f"MLSD listed {entries} files, expected {config.listing_files}")
        yield "mlsd"

    async with asyncio.timeout(config.line_timeout):
        # Untimed clean-up; a file a skipped line never wrote answers 550, which is fine.
        await single.command(f"DELE {BIG_NAME}", "25")
        await single.quit()


async def run_round(
    target: Target,
    sources: SourceFiles,
    config: BenchConfig,
    probe: LineProbe | None = None,
    only: frozenset[str] | None = None,
) -> dict[str, float]:
    """One server, one round: every line once; return ``{line key: value}``."""
    results: dict[str, float] = {}
    async for _ in round_steps(target, sources, config, results, probe, only):
        pass
    return results


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
