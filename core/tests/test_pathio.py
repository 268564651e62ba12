"""The AbstractPathIO contract itself: error wrapping, timeouts, root checks (positional
and keyword paths), default methods, AsyncLister, AsyncFile and the open context.

Each test uses a small real subclass; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat as stat_module
from collections.abc import AsyncIterator
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

import pytest

from anyftp.errors import PathIOError, PathOutsideRootError
from anyftp.pathio import (
    AbstractPathIO,
    AsyncLister,
    PathStat,
    contain_resolved,
    is_inside_resolved,
    iter_parents,
    mode_bits_to_text,
    unique_id,
)

P = PurePosixPath


class Recorder(AbstractPathIO):
    """Records calls; ``fail`` makes ``stat`` raise it; ``gate`` makes ``exists`` wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: BaseException | None = None
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def exists(self, path: PurePath) -> bool:
        self.entered.set()
        await self.gate.wait()
        return True

    async def stat(self, path: PurePath) -> PathStat:
        self.calls.append(("stat", (path,)))
        if self.fail is not None:
            raise self.fail
        return PathStat.for_file(1, 0.0)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        self.calls.append(("rename", (source, destination)))

    async def _open(self, path: PurePath, mode: str) -> list[bytes]:
        self.calls.append(("open", (path, mode)))
        return []

    async def write(self, file: list[bytes], data: bytes | bytearray | memoryview) -> None:
        file.append(bytes(data))

    async def read(self, file: list[bytes], block_size: int = -1) -> bytes:
        return file.pop(0) if file else b""

    async def close(self, file: list[bytes]) -> None:
        self.calls.append(("close", ()))

    async def abort(self, file: list[bytes]) -> None:
        self.calls.append(("abort", ()))


class ListOnly(AbstractPathIO):
    """Implements ``list`` and ``stat`` only; ``gone`` vanishes between the two."""

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            for name in ("a", "gone", "b"):
                yield path / name

        return AsyncLister(entries())

    async def stat(self, path: PurePath) -> PathStat:
        if path.name == "gone":
            raise FileNotFoundError(path)
        return PathStat.for_file(len(path.name), 0.0)


class StatsOnly(AbstractPathIO):
    """Implements ``list_with_stats`` only."""

    async def list_with_stats(self, path: PurePath) -> list[tuple[PurePath, PathStat]]:
        if path.name == "missing":
            raise FileNotFoundError(path)
        return [(path / "x", PathStat.for_file(3, 0.0)), (path / "d", PathStat.for_dir(0.0))]


class Nothing(AbstractPathIO):
    """Implements nothing at all."""


async def test_a_plain_exception_becomes_a_path_io_error_keeping_the_cause() -> None:
    backend = Recorder()
    backend.fail = ValueError("bad")
    with pytest.raises(PathIOError) as info:
        await backend.stat(P("/x"))
    assert isinstance(info.value.cause, ValueError)
    assert info.value.reason is not None
    assert info.value.reason[0] is ValueError
    assert info.value.reason[1] is info.value.cause
    assert info.value.__cause__ is info.value.cause
    assert "stat" in str(info.value)


async def test_a_path_io_error_from_the_backend_passes_unchanged() -> None:
    backend = Recorder()
    original = PathIOError("as is")
    backend.fail = original
    with pytest.raises(PathIOError) as info:
        await backend.stat(P("/x"))
    assert info.value is original


async def test_cancellation_is_not_turned_into_a_path_io_error() -> None:
    backend = Recorder()
    task = asyncio.create_task(backend.exists(P("/x")))
    async with asyncio.timeout(10):
        await backend.entered.wait()  # the call is inside the wrapper now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_timeout_ends_a_slow_call_with_a_path_io_error() -> None:
    backend = Recorder(timeout=0.05)
    with pytest.raises(PathIOError) as info:
        await backend.exists(P("/x"))
    assert isinstance(info.value.cause, TimeoutError)
    backend.gate.set()
    assert await backend.exists(P("/x"))


async def test_unimplemented_optional_methods_are_refused_with_path_io_error() -> None:
    backend = Nothing()
    for call in (
        backend.set_mtime(P("/x"), 1.0),
        backend.chmod(P("/x"), 0o600),
        backend.stat(P("/x")),
        backend.exists(P("/x")),
        backend.list_with_stats(P("/x")),
    ):
        with pytest.raises(PathIOError) as info:
            await call
        assert isinstance(info.value.cause, NotImplementedError)
    with pytest.raises(NotImplementedError):
        backend.list(P("/x"))


async def test_list_with_stats_defaults_to_list_and_stat_and_skips_vanished_entries() -> None:
    entries = await ListOnly().list_with_stats(P("/d"))
    assert [(str(p), s.st_size) for p, s in entries] == [("/d/a", 1), ("/d/b", 1)]


async def test_list_defaults_to_list_with_stats() -> None:
    backend = StatsOnly()
    assert await backend.list(P("/d")) == [P("/d/x"), P("/d/d")]
    assert [p async for p in backend.list(P("/d"))] == [P("/d/x"), P("/d/d")]
    with pytest.raises(PathIOError) as info:
        await backend.list(P("/missing"))
    assert isinstance(info.value.cause, FileNotFoundError)


async def test_root_is_checked_for_positional_and_keyword_paths() -> None:
    backend = Recorder(root="/srv")
    await backend.rename(P("/srv/a"), P("/srv/b"))
    for call in (
        backend.rename(P("/srv/a"), P("/etc/passwd")),
        backend.rename(P("/etc/passwd"), destination=P("/srv/b")),
        backend.rename(source=P("/srv/a"), destination=P("/etc/passwd")),
        backend.stat(path=P("/etc")),
        backend.stat(P("/srv/../etc")),
        backend.stat(P("/srvx")),
    ):
        with pytest.raises(PathOutsideRootError):
            await call
    assert backend.calls == [("rename", (P("/srv/a"), P("/srv/b")))]


async def test_root_is_checked_before_opening_and_listing() -> None:
    backend = StatsOnly(root="/srv")
    with pytest.raises(PathOutsideRootError):
        await backend.list(P("/etc"))
    recorder = Recorder(root="/srv")
    with pytest.raises(PathOutsideRootError):
        await recorder.open(P("/etc/shadow"), "rb")
    assert recorder.calls == []


async def test_a_backend_that_contains_paths_itself_is_not_checked_by_the_wrapper() -> None:
    class SelfChecking(Recorder):
        contains_paths_itself = True

        def contain(self, path: PurePath) -> None:
            raise AssertionError("the wrapper must not call contain()")

    backend = SelfChecking(root="/srv")
    assert (await backend.stat(P("/elsewhere"))).st_size == 1


def test_lexical_containment_collapses_dotdot_and_respects_name_boundaries() -> None:
    backend = Recorder(root="/srv/ftp")
    backend.contain(P("/srv/ftp"))
    backend.contain(P("/srv/ftp/a/../b"))
    for outside in ("/srv/ftp/..", "/srv/ftpx", "/srv", "/srv/ftp/a/../../x", "relative"):
        with pytest.raises(PathOutsideRootError):
            backend.contain(P(outside))


async def test_open_with_an_unknown_mode_is_refused_before_the_backend_is_asked() -> None:
    backend = Recorder()
    for mode in ("r", "w", "a", "rt", "x"):
        with pytest.raises(PathIOError) as info:
            await backend.open(P("/f"), mode)
        assert isinstance(info.value.cause, ValueError)
    assert backend.calls == []


async def test_async_with_closes_on_success_and_aborts_on_an_exception() -> None:
    backend = Recorder()
    async with backend.open(P("/f"), "wb") as file:
        await file.write(b"x")
    assert backend.calls[-1] == ("close", ())
    with pytest.raises(KeyError):
        async with backend.open(P("/f"), "wb") as file:
            raise KeyError("boom")
    assert backend.calls[-1] == ("abort", ())
    assert file.closed


async def test_a_file_is_closed_or_aborted_once() -> None:
    backend = Recorder()
    file = await backend.open(P("/f"), "wb")
    await file.close()
    await file.close()
    await file.abort()
    assert [c for c, _ in backend.calls].count("close") == 1
    assert [c for c, _ in backend.calls].count("abort") == 0


async def test_the_default_abort_closes_the_file() -> None:
    class ClosesOnly(Recorder):
        abort = AbstractPathIO.abort

    backend = ClosesOnly()
    file = await backend.open(P("/f"), "wb")
    await file.abort()
    assert backend.calls[-1] == ("close", ())


async def test_iter_by_block_reads_until_empty() -> None:
    backend = Recorder()
    file = await backend.open(P("/f"), "rb")
    file.raw.extend([b"ab", b"cd", b"e"])
    assert [block async for block in file.iter_by_block(2)] == [b"ab", b"cd", b"e"]


async def test_fileno_is_unsupported_by_default() -> None:
    file = await Recorder().open(P("/f"), "rb")
    with pytest.raises(io.UnsupportedOperation):
        file.fileno()


async def test_async_lister_can_be_awaited_or_iterated_once() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    assert await AsyncLister(numbers()) == [0, 1, 2]
    lister = AsyncLister(numbers())
    assert [i async for i in lister] == [0, 1, 2]
    assert await lister == []


def test_default_state_takes_no_options() -> None:
    assert Recorder.create_state() is None
    with pytest.raises(TypeError, match="bucket"):
        Recorder.create_state(bucket="b")


async def test_default_close_state_accepts_none() -> None:
    await Recorder.close_state(None)


def test_path_stat_builders_set_the_file_type() -> None:
    f = PathStat.for_file(5, 10.0)
    d = PathStat.for_dir(20.0, ctime=5.0)
    assert stat_module.S_ISREG(f.st_mode) and stat_module.S_IMODE(f.st_mode) == 0o644
    assert (f.st_size, f.st_mtime, f.st_ctime, f.st_nlink) == (5, 10.0, 10.0, 1)
    assert stat_module.S_ISDIR(d.st_mode) and stat_module.S_IMODE(d.st_mode) == 0o755
    assert (d.st_mtime, d.st_ctime, d.st_nlink) == (20.0, 5.0, 2)


def test_small_helpers() -> None:
    assert mode_bits_to_text(stat_module.S_IFDIR | 0o750) == "drwxr-x---"
    assert unique_id(PathStat(0, 0, 0, 1, 0, st_ino=0xAB, st_dev=0x1)) == "1gab"
    assert list(iter_parents(P("/a/b"))) == [P("/a/b"), P("/a"), P("/")]


def test_resolved_containment_follows_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "escape")
    os.symlink(root / "dir", root / "inner")
    assert is_inside_resolved(root / "dir" / "new-file", root)
    assert is_inside_resolved(root / "inner" / "x", root)
    assert is_inside_resolved(root, root)
    assert not is_inside_resolved(root / "escape" / "x", root)
    assert not is_inside_resolved(root / "inner" / ".." / ".." / "outside", root)
    contain_resolved(root / "dir", root)
    with pytest.raises(PathOutsideRootError):
        contain_resolved(root / "escape", root)


class SyncRecorder(Recorder):
    """Stores at once too; ``full`` makes ``write_sync`` fail as a full disk does."""

    full = False

    def write_sync(self, file: list[bytes], data: memoryview) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        file.append(bytes(data))


class ChangesWrite(SyncRecorder):
    """Overrides ``write`` only: the inherited ``write_sync`` would skip what it adds."""

    async def write(self, file: list[bytes], data: bytes | bytearray | memoryview) -> None:
        file.append(bytes(data).upper())


class ChangesBoth(ChangesWrite):
    def write_sync(self, file: list[bytes], data: memoryview) -> None:
        file.append(bytes(data).upper())


async def test_sync_writer_stores_at_once_and_maps_errors_as_write_does() -> None:
    backend = SyncRecorder()
    file = await backend.open(P("/f"), "wb")
    store = file.sync_writer()
    assert store is not None
    buffer = bytearray(b"abc")
    store(memoryview(buffer))
    buffer[:] = b"xyz"  # the caller reuses its buffer: the file kept a copy
    assert file.raw == [b"abc"]
    backend.full = True
    with pytest.raises(PathIOError) as caught:
        store(memoryview(b"more"))
    assert isinstance(caught.value.cause, OSError) and caught.value.cause.errno == 28
    assert caught.value.__cause__ is caught.value.cause
    assert "write" in str(caught.value)


async def test_a_backend_without_write_sync_has_no_sync_writer() -> None:
    assert (await Recorder().open(P("/f"), "wb")).sync_writer() is None


async def test_overriding_write_alone_drops_the_inherited_write_sync() -> None:
    assert ChangesWrite.write_sync is None
    assert (await ChangesWrite().open(P("/f"), "wb")).sync_writer() is None
    both = await ChangesBoth().open(P("/f"), "wb")
    store = both.sync_writer()
    assert store is not None
    store(memoryview(b"abc"))
    assert both.raw == [b"ABC"]
