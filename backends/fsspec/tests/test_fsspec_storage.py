"""How the fsspec backend drives filesystems: async ones on the loop, blocking ones in a
bounded pool, one ``ls`` per listing, ranged reads from an offset, uploads that abort
cleanly, and a root that neither ``..`` nor a symlink can leave."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import random
import threading
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import fsspec
import pytest
import pytest_asyncio
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.spec import AbstractFileSystem
from s3fs import S3FileSystem

from anyftp.errors import PathIOError, PathOutsideRootError
from anyftp.testing import read_bytes, write_bytes
from anyftp_fsspec import FsspecPathIO
from anyftp_fsspec.files import grow_part_size

TIMEOUT = 30.0
MiB = 1024 * 1024
P = PurePosixPath


async def make(**options: Any) -> FsspecPathIO:
    return FsspecPathIO(timeout=TIMEOUT, state=FsspecPathIO.create_state(**options))


@pytest_asyncio.fixture
async def opened() -> AsyncIterator[list[FsspecPathIO]]:
    """Path-IOs made by a test; their states are closed at the end."""
    made: list[FsspecPathIO] = []
    yield made
    for path_io in made:
        await FsspecPathIO.close_state(path_io.state)


# --- instrumented filesystems (real implementations that also count their calls) --------


class Gate:
    """Holds blocking calls until opened, counting how many are in flight."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.changed = threading.Condition()
        self.in_flight = 0
        self.peak = 0
        self.threads: set[int] = set()

    def wait_for_in_flight(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.in_flight >= count, TIMEOUT)


class GateFileSystem(AbstractFileSystem):
    """A blocking filesystem whose ``info`` waits on a :class:`Gate`."""

    protocol = "anyftpgate"
    root_marker = "/"

    def __init__(self, gate: Gate, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        gate = self.gate
        with gate.changed:
            gate.in_flight += 1
            gate.peak = max(gate.peak, gate.in_flight)
            gate.threads.add(threading.get_ident())
            gate.changed.notify_all()
        try:
            assert gate.open.wait(TIMEOUT), "the gate was never opened"
        finally:
            with gate.changed:
                gate.in_flight -= 1
        return {"name": path, "type": "file", "size": 0}


class CountingMemoryFileSystem(MemoryFileSystem):
    """fsspec's memory filesystem under another protocol, counting ``ls`` and ``info``."""

    protocol = ("anyftpcountmem",)
    calls: ClassVar[Counter[str]] = Counter()

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, str):
            path = path.replace("anyftpcountmem://", "memory://", 1)
        return super()._strip_protocol(path)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        self.calls["ls"] += 1
        return super().ls(path, detail=detail, **kwargs)

    def info(self, path: str, **kwargs: Any) -> Any:
        self.calls["info"] += 1
        return super().info(path, **kwargs)


class RangeRecordingS3FileSystem(S3FileSystem):
    """s3fs, recording the byte ranges it fetches."""

    protocol = ("anyftps3ranges", "s3")
    ranges: ClassVar[list[tuple[int | None, int | None]]] = []

    async def _cat_file(
        self, path: str, version_id: Any = None, start: int | None = None, end: int | None = None
    ) -> bytes:
        self.ranges.append((start, end))
        data: bytes = await super()._cat_file(path, version_id=version_id, start=start, end=end)
        return data


for _cls in (GateFileSystem, CountingMemoryFileSystem, RangeRecordingS3FileSystem):
    fsspec.register_implementation(
        _cls.protocol if isinstance(_cls.protocol, str) else _cls.protocol[0], _cls, clobber=True
    )


# --- async and blocking filesystems ---------------------------------------------------------


async def test_an_async_filesystem_is_made_on_and_bound_to_the_running_loop(
    s3_state_options: dict[str, Any], opened: list[FsspecPathIO]
) -> None:
    path_io = await make(**s3_state_options)
    opened.append(path_io)
    await write_bytes(path_io, P("/file"), b"data")
    fs = await path_io.storage.filesystem()
    assert fs.asynchronous
    assert fs.loop is asyncio.get_running_loop()
    assert await read_bytes(path_io, P("/file")) == b"data"


async def test_blocking_calls_run_off_the_loop_at_most_max_workers_at_once(
    opened: list[FsspecPathIO],
) -> None:
    gate = Gate()
    path_io = await make(url="anyftpgate:///srv", storage_options={"gate": gate}, max_workers=2)
    opened.append(path_io)
    tasks = [asyncio.create_task(path_io.stat(P(f"/file-{i}"))) for i in range(6)]
    try:
        # Two calls block in worker threads; the loop meanwhile goes on running tasks.
        assert await asyncio.to_thread(gate.wait_for_in_flight, 2)
        assert threading.get_ident() not in gate.threads
        assert gate.in_flight == 2
        assert not any(task.done() for task in tasks)
    finally:
        gate.open.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert len(results) == 6
    assert gate.peak == 2


async def test_closing_the_state_waits_for_calls_still_in_threads() -> None:
    gate = Gate()
    path_io = await make(url="anyftpgate:///srv", storage_options={"gate": gate})
    call = asyncio.create_task(path_io.stat(P("/file")))
    assert await asyncio.to_thread(gate.wait_for_in_flight, 1)
    closing = asyncio.create_task(FsspecPathIO.close_state(path_io.state))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not closing.done()  # a thread still runs: the loop must stay for it
    gate.open.set()
    await asyncio.wait_for(closing, TIMEOUT)
    assert gate.in_flight == 0
    await asyncio.wait_for(call, TIMEOUT)


async def test_a_listing_is_one_ls_call_whatever_the_number_of_entries(
    opened: list[FsspecPathIO],
) -> None:
    path_io = await make(url=f"anyftpcountmem://listing-{os.getpid()}-{id(opened)}")
    opened.append(path_io)
    await path_io.mkdir(P("/dir"))
    for i in range(40):
        await write_bytes(path_io, P(f"/dir/file-{i}"), b"x" * i)
    await path_io.mkdir(P("/dir/sub"))
    CountingMemoryFileSystem.calls.clear()
    entries = await path_io.list_with_stats(P("/dir"))
    assert len(entries) == 41
    assert CountingMemoryFileSystem.calls == Counter({"ls": 1})
    sizes = {path.name: st.st_size for path, st in entries}
    assert sizes["file-39"] == 39


async def test_reading_from_an_offset_fetches_only_ranges_from_there(
    s3_state_options: dict[str, Any], opened: list[FsspecPathIO]
) -> None:
    url = s3_state_options["url"].replace("s3://", "anyftps3ranges://", 1)
    path_io = await make(**{**s3_state_options, "url": url, "read_chunk_size": MiB})
    opened.append(path_io)
    data = random.Random(5).randbytes(10 * MiB + 5)
    await write_bytes(path_io, P("/big"), data)
    RangeRecordingS3FileSystem.ranges.clear()
    async with path_io.open(P("/big"), "rb") as file:
        assert await file.seek(9 * MiB) == 9 * MiB
        first = await file.read(64 * 1024)
        await asyncio.sleep(0)  # let the read-ahead task start
        assert RangeRecordingS3FileSystem.ranges == [(9 * MiB, 10 * MiB), (10 * MiB, 10 * MiB + 5)]
        rest = await file.read()
    assert first + rest == data[9 * MiB :]
    assert len(RangeRecordingS3FileSystem.ranges) == 2


# --- uploads to object stores ----------------------------------------------------------------


async def test_an_aborted_multipart_upload_leaves_nothing_on_s3(
    s3_state_options: dict[str, Any], sync_s3: Any, bucket: str, opened: list[FsspecPathIO]
) -> None:
    path_io = await make(**s3_state_options, write_block_size=5 * MiB)
    opened.append(path_io)
    file = await path_io.open(P("/big"), "wb")
    for _ in range(6):
        await file.write(random.randbytes(2 * MiB))
    assert sync_s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "no multipart yet"
    await file.abort()
    assert "Uploads" not in sync_s3.list_multipart_uploads(Bucket=bucket)
    assert not await path_io.exists(P("/big"))


async def test_a_finished_multipart_upload_is_one_object_with_the_same_bytes(
    s3_state_options: dict[str, Any], sync_s3: Any, bucket: str, opened: list[FsspecPathIO]
) -> None:
    path_io = await make(**s3_state_options, write_block_size=5 * MiB)
    opened.append(path_io)
    data = random.Random(6).randbytes(12 * MiB + 1)
    async with path_io.open(P("/big"), "wb") as file:
        for start in range(0, len(data), MiB):
            await file.write(data[start : start + MiB])
    body = sync_s3.get_object(Bucket=bucket, Key="ftp-root/big")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    assert "Uploads" not in sync_s3.list_multipart_uploads(Bucket=bucket)


async def test_parts_grow_so_ten_thousand_are_enough_for_the_largest_object(
    s3_state_options: dict[str, Any], opened: list[FsspecPathIO]
) -> None:
    path_io = await make(**s3_state_options, write_block_size=5 * MiB)
    opened.append(path_io)
    file = await path_io.open(P("/big"), "wb")
    try:
        await file.write(b"x" * 6 * MiB)
        await file.raw._flush()  # the buffered write has reached S3
        s3_file = file.raw.raw
        assert s3_file.parts and s3_file.blocksize == 5 * MiB  # small files: small parts
        s3_file.offset = 50 * 1024**3  # as if 50 GiB had been sent in 5 MiB parts
        grow_part_size(s3_file)
        assert s3_file.blocksize == 50 * 1024**3 // 1000
        s3_file.offset = 4 * 1024**4
        grow_part_size(s3_file)
        assert s3_file.blocksize == 4 * 1024**4 // 1000
        # From any size, 10,000 parts growing this way pass the 5 TiB object limit.
        sent, part = 6 * MiB, 5 * MiB
        for _ in range(10_000):
            part = max(part, sent // 1000)
            sent += part
        assert sent > 5 * 1024**4
    finally:
        await file.abort()


async def test_removing_the_last_entry_keeps_the_directory_on_s3(
    s3_state_options: dict[str, Any], opened: list[FsspecPathIO]
) -> None:
    path_io = await make(**s3_state_options)
    opened.append(path_io)
    await path_io.mkdir(P("/a/b/c"), parents=True)
    await write_bytes(path_io, P("/a/b/file"), b"x")
    await path_io.rmdir(P("/a/b/c"))
    await path_io.unlink(P("/a/b/file"))
    assert await path_io.is_dir(P("/a/b"))
    assert await path_io.list(P("/a/b")) == []


# --- the root ----------------------------------------------------------------------------------


async def test_dot_dot_never_leaves_the_url_root(opened: list[FsspecPathIO]) -> None:
    outside = await make(url=f"memory://anyftp-outside-{id(opened)}")
    inside = await make(url=f"memory://anyftp-outside-{id(opened)}/jail")
    opened += [outside, inside]
    await write_bytes(outside, P("/secret"), b"secret")
    await inside.mkdir(P("/"), exist_ok=True)
    with pytest.raises(PathIOError) as info:
        await read_bytes(inside, P("/../secret"))
    assert isinstance(info.value.cause, FileNotFoundError)
    await write_bytes(inside, P("/../../escaped"), b"kept inside")
    assert await read_bytes(inside, P("/escaped")) == b"kept inside"
    assert not await outside.exists(P("/escaped"))


async def test_symlinks_out_of_a_file_root_are_refused(
    tmp_path: Path, opened: list[FsspecPathIO]
) -> None:
    served, elsewhere = tmp_path / "served", tmp_path / "elsewhere"
    (served / "home" / "alice").mkdir(parents=True)
    (served / "home" / "bob").mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret").write_bytes(b"secret")
    (served / "out").symlink_to(elsewhere)
    (served / "home" / "alice" / "to-bob").symlink_to(served / "home" / "bob")
    path_io = await make(url=served.as_uri())
    opened.append(path_io)
    for call in (
        lambda: path_io.stat(P("/out/secret")),
        lambda: read_bytes(path_io, P("/out/secret")),
        lambda: write_bytes(path_io, P("/out/new"), b"x"),
        lambda: path_io.list(P("/out")),
    ):
        with pytest.raises(PathOutsideRootError):
            await call()
    assert sorted(os.listdir(elsewhere)) == ["secret"]
    alice = FsspecPathIO(state=path_io.state, root=P("/home/alice"))
    with pytest.raises(PathOutsideRootError):
        await write_bytes(alice, P("/home/alice/to-bob/planted"), b"x")
    assert os.listdir(served / "home" / "bob") == []


# --- any fsspec filesystem -------------------------------------------------------------------


async def test_a_chained_zip_url_is_served_for_reading(
    tmp_path: Path, opened: list[FsspecPathIO]
) -> None:
    archive = tmp_path / "archive.zip"
    payload = random.Random(8).randbytes(300_000)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", b"hello")
        zf.writestr("data/blob.bin", payload)
    path_io = await make(url=f"zip://::{archive.as_uri()}")
    opened.append(path_io)
    assert {p.name for p in await path_io.list(P("/"))} == {"readme.txt", "data"}
    assert await path_io.is_dir(P("/data"))
    assert (await path_io.stat(P("/data/blob.bin"))).st_size == len(payload)
    async with path_io.open(P("/data/blob.bin"), "rb") as file:
        await file.seek(1000)
        assert await file.read() == payload[1000:]
    with pytest.raises(PathIOError):
        await write_bytes(path_io, P("/new"), b"x")
    with pytest.raises(PathIOError):
        await write_bytes(path_io, P("/readme.txt"), b"x", mode="ab")
    inner = await make(url=f"zip://data::{archive.as_uri()}")  # a root inside the archive
    opened.append(inner)
    assert [p.name for p in await inner.list(P("/"))] == ["blob.bin"]
    assert await read_bytes(inner, P("/blob.bin")) == payload


async def test_memory_readers_do_not_share_a_position(opened: list[FsspecPathIO]) -> None:
    path_io = await make(url=f"memory://anyftp-readers-{id(opened)}")
    opened.append(path_io)
    await write_bytes(path_io, P("/file"), b"0123456789")
    first = await path_io.open(P("/file"), "rb")
    second = await path_io.open(P("/file"), "rb")
    try:
        assert await first.read(4) == b"0123"
        assert await second.read(2) == b"01"
        assert await first.read() == b"456789"
        await second.seek(0, io.SEEK_END)
        assert await second.read() == b""
    finally:
        await first.close()
        await second.close()
