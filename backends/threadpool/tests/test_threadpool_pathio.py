"""Behaviour of the threadpool backend beyond the conformance suite: calls leave the
event loop free, ``timeout`` ends a call that blocks in the disk, the pool comes from the
argument, the server state or a shared default, and files work with ``os.sendfile``.

A FIFO stands in for a disk that hangs: opening it for reading blocks until a writer
opens the other end, which the test controls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

import anyftp
from anyftp.pathio import AsyncFile
from anyftp.testing import raises_path_io_error, write_bytes
from anyftp_threadpool import AsyncPathIO
from anyftp_threadpool.pathio import THREAD_NAME_PREFIX, ThreadPoolState

WAIT = 10.0  # bound for every wait in this module


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path


@pytest_asyncio.fixture
async def state() -> AsyncIterator[ThreadPoolState]:
    state = AsyncPathIO.create_state(max_workers=2)
    yield state
    await AsyncPathIO.close_state(state)


async def open_writer_end(fifo: Path) -> int:
    """Open the FIFO's write end (this is what lets a blocked reader's open return)."""
    async with asyncio.timeout(WAIT):
        return await asyncio.to_thread(os.open, fifo, os.O_WRONLY)


def opened_paths() -> set[str]:
    """What this process's file descriptors point at."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return found


def test_the_package_name_resolves_to_this_class() -> None:
    assert anyftp.AsyncPathIO is AsyncPathIO


async def test_a_blocked_open_leaves_the_event_loop_running(
    tmp_path: Path, fifo: Path, state: ThreadPoolState
) -> None:
    path_io = AsyncPathIO(state=state)

    async def open_fifo() -> AsyncFile:
        return await path_io.open(fifo, "rb")

    opening = asyncio.create_task(open_fifo())
    # While one worker is stuck in open(), the loop and the other worker go on.
    await write_bytes(path_io, tmp_path / "other", b"meanwhile")
    assert (tmp_path / "other").read_bytes() == b"meanwhile"
    assert not opening.done()
    fd = await open_writer_end(fifo)
    try:
        async with asyncio.timeout(WAIT):
            file = await opening
        os.write(fd, b"through the fifo")
    finally:
        os.close(fd)
    async with file:
        assert await file.read() == b"through the fifo"


async def test_timeout_ends_a_blocked_call_and_the_late_file_is_closed(
    fifo: Path, state: ThreadPoolState
) -> None:
    path_io = AsyncPathIO(state=state, timeout=0.2)
    with raises_path_io_error(TimeoutError):
        await path_io.open(fifo, "rb")
    # Let the stuck worker finish its open(), then wait for the pool to drain.
    os.close(await open_writer_end(fifo))
    async with asyncio.timeout(WAIT):
        await asyncio.to_thread(state.executor.shutdown, True)
    assert str(fifo) not in opened_paths()


async def test_every_call_runs_in_a_worker_thread_of_the_pool(state: ThreadPoolState) -> None:
    path_io = AsyncPathIO(state=state)
    name = await path_io._run((), lambda: threading.current_thread().name)
    assert name.startswith(THREAD_NAME_PREFIX)
    assert name != threading.current_thread().name


async def test_an_executor_given_to_the_constructor_is_used() -> None:
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="given") as executor:
        path_io = AsyncPathIO(None, None, None, executor)  # aioftp's positional order
        assert path_io.executor is executor
        name = await path_io._run((), lambda: threading.current_thread().name)
    assert name.startswith("given")


async def test_without_state_or_executor_the_shared_pool_is_used() -> None:
    path_io = AsyncPathIO()
    name = await path_io._run((), lambda: threading.current_thread().name)
    assert name.startswith(THREAD_NAME_PREFIX)


async def test_after_close_state_calls_fail_with_path_io_error(tmp_path: Path) -> None:
    state = AsyncPathIO.create_state()
    path_io = AsyncPathIO(state=state)
    assert await path_io.exists(tmp_path)
    await AsyncPathIO.close_state(state)
    with raises_path_io_error(RuntimeError):
        await path_io.exists(tmp_path)


async def test_create_state_takes_max_workers_and_refuses_other_options() -> None:
    state = AsyncPathIO.create_state(max_workers=3)
    try:
        assert isinstance(state, ThreadPoolState)
        assert state.executor._max_workers == 3
    finally:
        await AsyncPathIO.close_state(state)
    with pytest.raises(TypeError, match="bucket"):
        AsyncPathIO.create_state(bucket="x")


async def test_files_can_be_sent_with_sendfile(tmp_path: Path, state: ThreadPoolState) -> None:
    path_io = AsyncPathIO(state=state)
    data = os.urandom(100_000)
    await write_bytes(path_io, tmp_path / "f", data)
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(WAIT)
        async with path_io.open(tmp_path / "f", "rb") as file:
            sent = 0
            while sent < len(data):
                sent += os.sendfile(left.fileno(), file.fileno(), sent, len(data) - sent)
        left.shutdown(socket.SHUT_WR)
        received = b"".join(iter(lambda: right.recv(65536), b""))
    assert received == data
