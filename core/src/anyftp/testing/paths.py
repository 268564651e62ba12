"""Conformance tests for path operations: queries, directories, removal, stat, listing,
rename, modification times and permission bits.

Every test is a coroutine marked ``pytest.mark.asyncio`` (so it runs in pytest-asyncio's
strict mode too). A capability the backend declares it lacks is checked explicitly: the
operation must be refused with a :class:`~anyftp.errors.PathIOError`, or the test is
marked xfail with the reason; nothing is skipped silently.
"""

from __future__ import annotations

import errno
import stat as stat_module
import time
from pathlib import PurePath

import pytest

from ..errors import PathIOError
from ..pathio import AbstractPathIO, Capabilities
from .fixtures import (
    BackendFixtures,
    assert_errno,
    names_of,
    raises_path_io_error,
    read_bytes,
    write_bytes,
)

__all__ = (
    "DirectoryConformance",
    "ListingConformance",
    "MetadataConformance",
    "PathQueryConformance",
    "RemovalConformance",
    "RenameConformance",
    "StatConformance",
)

_NOT_EMPTY = (errno.ENOTEMPTY, errno.EEXIST)  # POSIX allows either for a non-empty directory


class PathQueryConformance(BackendFixtures):
    """``exists``, ``is_file`` and ``is_dir``."""

    pytestmark = [pytest.mark.asyncio]

    async def test_base_is_an_empty_directory(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        assert await path_io.is_dir(base)
        assert await path_io.list(base) == []

    async def test_queries_on_a_file(self, path_io: AbstractPathIO, base: PurePath) -> None:
        path = base / "file.txt"
        await write_bytes(path_io, path, b"data")
        assert await path_io.exists(path)
        assert await path_io.is_file(path)
        assert not await path_io.is_dir(path)

    async def test_queries_on_a_directory(self, path_io: AbstractPathIO, base: PurePath) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "inside", b"x")  # so even marker-less stores keep it
        assert await path_io.exists(path)
        assert await path_io.is_dir(path)
        assert not await path_io.is_file(path)

    async def test_queries_on_a_missing_path_are_false(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "missing"
        assert not await path_io.exists(path)
        assert not await path_io.is_file(path)
        assert not await path_io.is_dir(path)

    async def test_queries_through_a_file_are_false(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"data")
        path = base / "file" / "below"
        assert not await path_io.exists(path)
        assert not await path_io.is_file(path)
        assert not await path_io.is_dir(path)

    async def test_names_with_spaces_and_unicode_work(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        directory = base / "a dir ü"
        await path_io.mkdir(directory)
        path = directory / "naïve file; name.txt"
        await write_bytes(path_io, path, b"ok")
        assert await path_io.is_file(path)
        assert names_of(await path_io.list(directory)) == {"naïve file; name.txt"}
        assert await read_bytes(path_io, path) == b"ok"


class DirectoryConformance(BackendFixtures):
    """``mkdir`` and ``rmdir``."""

    pytestmark = [pytest.mark.asyncio]

    async def test_mkdir_makes_an_empty_directory(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "new"
        await path_io.mkdir(path)
        if not capabilities.empty_directories:
            pytest.xfail("the backend declares empty_directories=False")
        assert await path_io.is_dir(path)
        assert await path_io.list(path) == []
        assert names_of(await path_io.list(base)) == {"new"}

    async def test_mkdir_with_parents_makes_every_level(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "a" / "b" / "c"
        await path_io.mkdir(path, parents=True)
        if not capabilities.empty_directories:
            pytest.xfail("the backend declares empty_directories=False")
        assert await path_io.is_dir(base / "a")
        assert await path_io.is_dir(base / "a" / "b")
        assert await path_io.is_dir(path)

    async def test_mkdir_in_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.mkdir(base / "missing" / "new")
        assert not await path_io.exists(base / "missing")

    async def test_mkdir_over_an_existing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "keep", b"x")
        with raises_path_io_error(FileExistsError):
            await path_io.mkdir(path)

    async def test_mkdir_exist_ok_accepts_an_existing_directory(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "keep", b"x")
        await path_io.mkdir(path, exist_ok=True)
        await path_io.mkdir(path, parents=True, exist_ok=True)
        assert names_of(await path_io.list(path)) == {"keep"}

    async def test_mkdir_over_a_file_fails_even_with_exist_ok(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"data")
        with raises_path_io_error(FileExistsError):
            await path_io.mkdir(path)
        with raises_path_io_error(FileExistsError):
            await path_io.mkdir(path, exist_ok=True)
        assert await read_bytes(path_io, path) == b"data"

    async def test_mkdir_inside_a_file_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError, FileNotFoundError):
            await path_io.mkdir(base / "file" / "sub")
        with raises_path_io_error(NotADirectoryError, FileNotFoundError, FileExistsError):
            await path_io.mkdir(base / "file" / "sub", parents=True)

    async def test_rmdir_removes_an_empty_directory(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await path_io.rmdir(path)
        assert not await path_io.exists(path)
        assert await path_io.list(base) == []

    async def test_rmdir_of_a_non_empty_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "file", b"data")
        with raises_path_io_error(OSError) as info:
            await path_io.rmdir(path)
        assert_errno(info, _NOT_EMPTY)
        assert await read_bytes(path_io, path / "file") == b"data"

    async def test_rmdir_of_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.rmdir(base / "missing")

    async def test_rmdir_of_a_file_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"data")
        with raises_path_io_error(NotADirectoryError):
            await path_io.rmdir(path)
        assert await path_io.is_file(path)


class RemovalConformance(BackendFixtures):
    """``unlink``."""

    pytestmark = [pytest.mark.asyncio]

    async def test_unlink_removes_a_file(self, path_io: AbstractPathIO, base: PurePath) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"data")
        await path_io.unlink(path)
        assert not await path_io.exists(path)
        assert await path_io.list(base) == []

    async def test_unlink_of_a_missing_file_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.unlink(base / "missing")

    async def test_unlink_of_a_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "keep", b"x")
        with raises_path_io_error(IsADirectoryError):
            await path_io.unlink(path)
        assert await path_io.is_dir(path)


class StatConformance(BackendFixtures):
    """``stat``."""

    pytestmark = [pytest.mark.asyncio]

    async def test_stat_of_a_file_gives_size_and_regular_mode(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "file"
        before = time.time()
        await write_bytes(path_io, path, b"x" * 1234)
        st = await path_io.stat(path)
        assert st.st_size == 1234
        assert stat_module.S_ISREG(st.st_mode)
        assert st.st_nlink >= 1
        assert before - 300 <= st.st_mtime <= time.time() + 300
        assert st.st_ctime > 0

    async def test_stat_of_a_directory_gives_directory_mode(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "dir"
        await path_io.mkdir(path)
        await write_bytes(path_io, path / "keep", b"x")
        st = await path_io.stat(path)
        assert stat_module.S_ISDIR(st.st_mode)
        assert not stat_module.S_ISREG(st.st_mode)

    async def test_stat_size_follows_rewrites(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"0123456789")
        assert (await path_io.stat(path)).st_size == 10
        await write_bytes(path_io, path, b"abc")
        assert (await path_io.stat(path)).st_size == 3
        await write_bytes(path_io, path, b"")
        assert (await path_io.stat(path)).st_size == 0

    async def test_stat_of_a_missing_path_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.stat(base / "missing")

    async def test_stat_through_a_file_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError, FileNotFoundError):
            await path_io.stat(base / "file" / "below")


class ListingConformance(BackendFixtures):
    """``list`` (``async for`` and ``await``) and ``list_with_stats``."""

    pytestmark = [pytest.mark.asyncio]

    async def _populate(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "one", b"1")
        await write_bytes(path_io, base / "two", b"22")
        await path_io.mkdir(base / "sub")
        await write_bytes(path_io, base / "sub" / "deeper", b"333")

    async def test_list_yields_full_paths_with_async_for(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await self._populate(path_io, base)
        seen = [path async for path in path_io.list(base)]
        assert sorted(str(p) for p in seen) == sorted(
            str(base / name) for name in ("one", "two", "sub")
        )

    async def test_list_can_be_awaited_for_a_list(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await self._populate(path_io, base)
        listed = await path_io.list(base)
        assert isinstance(listed, list)
        assert {str(p) for p in listed} == {str(base / n) for n in ("one", "two", "sub")}

    async def test_list_does_not_include_grandchildren(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await self._populate(path_io, base)
        assert names_of(await path_io.list(base / "sub")) == {"deeper"}
        assert "deeper" not in names_of(await path_io.list(base))

    async def test_list_of_an_empty_directory_is_empty(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        assert await path_io.list(base) == []
        assert [p async for p in path_io.list(base)] == []
        assert await path_io.list_with_stats(base) == []

    async def test_list_of_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.list(base / "missing")
        with raises_path_io_error(FileNotFoundError):
            async for _ in path_io.list(base / "missing"):
                pass  # pragma: no cover - nothing to list

    async def test_list_of_a_file_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError):
            await path_io.list(base / "file")

    async def test_list_with_stats_agrees_with_stat(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await self._populate(path_io, base)
        entries = await path_io.list_with_stats(base)
        assert {str(p) for p, _ in entries} == {str(base / n) for n in ("one", "two", "sub")}
        for path, listed in entries:
            direct = await path_io.stat(path)
            assert stat_module.S_IFMT(listed.st_mode) == stat_module.S_IFMT(direct.st_mode)
            if stat_module.S_ISREG(direct.st_mode):
                assert listed.st_size == direct.st_size
            assert abs(listed.st_mtime - direct.st_mtime) < 1.0
        sizes = {p.name: s.st_size for p, s in entries if stat_module.S_ISREG(s.st_mode)}
        assert sizes == {"one": 1, "two": 2}

    async def test_list_with_stats_of_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.list_with_stats(base / "missing")

    async def test_list_with_stats_of_a_file_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError):
            await path_io.list_with_stats(base / "file")

    async def test_list_shows_hundreds_of_entries(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        expected = {f"entry-{i:04}" for i in range(300)}
        for name in expected:
            await write_bytes(path_io, base / name, name.encode())
        assert names_of(await path_io.list(base)) == expected
        assert names_of(p for p, _ in await path_io.list_with_stats(base)) == expected
        named = await path_io.list_names_with_stats(base)
        assert {name for name, _ in named} == expected
        assert {name: info.st_size for name, info in named} == {n: len(n) for n in expected}

    async def test_list_names_with_stats_agrees_with_list_with_stats(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await self._populate(path_io, base)
        named = await path_io.list_names_with_stats(base)
        assert all(isinstance(name, str) for name, _ in named)
        by_path = {p.name: info for p, info in await path_io.list_with_stats(base)}
        assert sorted(name for name, _ in named) == sorted(by_path) == ["one", "sub", "two"]
        for name, info in named:
            assert stat_module.S_IFMT(info.st_mode) == stat_module.S_IFMT(by_path[name].st_mode)
            assert info.st_size == by_path[name].st_size or stat_module.S_ISDIR(info.st_mode)
        below = await path_io.list_names_with_stats(base / "sub")
        assert [(name, info.st_size) for name, info in below] == [("deeper", 3)]

    async def test_list_names_with_stats_fails_as_list_with_stats(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        assert await path_io.list_names_with_stats(base) == []
        with raises_path_io_error(FileNotFoundError):
            await path_io.list_names_with_stats(base / "missing")
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError):
            await path_io.list_names_with_stats(base / "file")


class RenameConformance(BackendFixtures):
    """``rename`` of files and directories."""

    pytestmark = [pytest.mark.asyncio]

    async def test_rename_moves_a_file(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "old", b"content")
        await path_io.rename(base / "old", base / "new")
        assert not await path_io.exists(base / "old")
        assert await read_bytes(path_io, base / "new") == b"content"
        assert names_of(await path_io.list(base)) == {"new"}

    async def test_rename_replaces_an_existing_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "old", b"new content")
        await write_bytes(path_io, base / "target", b"old content")
        await path_io.rename(base / "old", base / "target")
        assert await read_bytes(path_io, base / "target") == b"new content"
        assert names_of(await path_io.list(base)) == {"target"}

    async def test_rename_moves_a_file_into_another_directory(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await path_io.mkdir(base / "dir")
        await write_bytes(path_io, base / "dir" / "keep", b"k")
        await write_bytes(path_io, base / "file", b"data")
        await path_io.rename(base / "file", base / "dir" / "moved")
        assert await read_bytes(path_io, base / "dir" / "moved") == b"data"
        assert names_of(await path_io.list(base)) == {"dir"}

    async def test_rename_to_itself_keeps_the_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"data")
        await path_io.rename(base / "file", base / "file")
        assert await read_bytes(path_io, base / "file") == b"data"

    async def test_rename_moves_a_directory_with_its_contents(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        await path_io.mkdir(base / "src" / "inner", parents=True)
        await write_bytes(path_io, base / "src" / "a", b"A")
        await write_bytes(path_io, base / "src" / "inner" / "b", b"BB")
        if not capabilities.rename_directories:
            with raises_path_io_error():
                await path_io.rename(base / "src", base / "dst")
            assert await read_bytes(path_io, base / "src" / "a") == b"A"
            return
        await path_io.rename(base / "src", base / "dst")
        assert not await path_io.exists(base / "src")
        assert await path_io.is_dir(base / "dst")
        assert await read_bytes(path_io, base / "dst" / "a") == b"A"
        assert await read_bytes(path_io, base / "dst" / "inner" / "b") == b"BB"
        assert names_of(await path_io.list(base)) == {"dst"}

    async def test_rename_of_a_directory_over_a_non_empty_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        await path_io.mkdir(base / "src")
        await write_bytes(path_io, base / "src" / "a", b"A")
        await path_io.mkdir(base / "dst")
        await write_bytes(path_io, base / "dst" / "b", b"B")
        with raises_path_io_error(OSError) as info:
            await path_io.rename(base / "src", base / "dst")
        if capabilities.rename_directories:
            assert_errno(info, _NOT_EMPTY)
        assert await read_bytes(path_io, base / "src" / "a") == b"A"
        assert await read_bytes(path_io, base / "dst" / "b") == b"B"

    async def test_rename_of_a_directory_over_a_file_fails(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        await path_io.mkdir(base / "src")
        await write_bytes(path_io, base / "src" / "a", b"A")
        await write_bytes(path_io, base / "file", b"F")
        causes: tuple[type[BaseException], ...] = (
            (NotADirectoryError,) if capabilities.rename_directories else ()
        )
        with raises_path_io_error(*causes):
            await path_io.rename(base / "src", base / "file")
        assert await read_bytes(path_io, base / "file") == b"F"

    async def test_rename_of_a_file_over_a_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await path_io.mkdir(base / "dir")
        await write_bytes(path_io, base / "dir" / "keep", b"k")
        await write_bytes(path_io, base / "file", b"F")
        with raises_path_io_error(IsADirectoryError):
            await path_io.rename(base / "file", base / "dir")
        assert await read_bytes(path_io, base / "file") == b"F"

    async def test_rename_of_a_missing_source_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.rename(base / "missing", base / "new")
        assert await path_io.list(base) == []

    async def test_rename_into_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(FileNotFoundError):
            await path_io.rename(base / "file", base / "missing" / "file")
        assert await read_bytes(path_io, base / "file") == b"data"


class MetadataConformance(BackendFixtures):
    """``set_mtime`` and ``chmod``: work when declared, are refused when not."""

    pytestmark = [pytest.mark.asyncio]

    async def test_set_mtime_sets_the_time_or_is_refused(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"data")
        when = 1_000_000_000.0  # 2001-09-09
        if not capabilities.set_mtime:
            with raises_path_io_error():
                await path_io.set_mtime(path, when)
            return
        await path_io.set_mtime(path, when)
        st = await path_io.stat(path)
        assert abs(st.st_mtime - when) < 1.0
        assert st.st_size == 4
        assert await read_bytes(path_io, path) == b"data"

    async def test_set_mtime_of_a_missing_path_fails(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        causes: tuple[type[BaseException], ...] = (
            (FileNotFoundError,) if capabilities.set_mtime else ()
        )
        with raises_path_io_error(*causes):
            await path_io.set_mtime(base / "missing", 1_000_000_000.0)

    async def test_chmod_sets_permission_bits_or_is_refused(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"data")
        if not capabilities.chmod:
            with raises_path_io_error():
                await path_io.chmod(path, 0o600)
            return
        await path_io.chmod(path, 0o600)
        st = await path_io.stat(path)
        assert stat_module.S_IMODE(st.st_mode) == 0o600
        assert stat_module.S_ISREG(st.st_mode)
        await path_io.chmod(path, 0o644)
        assert stat_module.S_IMODE((await path_io.stat(path)).st_mode) == 0o644
        assert await read_bytes(path_io, path) == b"data"

    async def test_chmod_of_a_missing_path_fails(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        causes: tuple[type[BaseException], ...] = (FileNotFoundError,) if capabilities.chmod else ()
        with raises_path_io_error(*causes):
            await path_io.chmod(base / "missing", 0o600)

    async def test_errors_keep_the_builtin_cause_and_reason(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with pytest.raises(PathIOError) as info:
            await path_io.stat(base / "missing")
        assert isinstance(info.value.cause, FileNotFoundError)
        # aioftp's contract: ``reason`` is the exc_info triple of the underlying error.
        assert info.value.reason is not None
        assert info.value.reason[1] is info.value.cause
