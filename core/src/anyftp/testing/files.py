"""Conformance tests for files: ``open`` in every mode, ``read``/``write``/``seek``,
``close``/``abort``, ``iter_by_block``, ``fileno``, and binary round trips of 0 bytes,
1 byte and several MiB (compared by SHA-256).
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import PurePath

import pytest

from ..pathio import AbstractPathIO, Capabilities
from .fixtures import (
    BackendFixtures,
    MakePathIO,
    raises_path_io_error,
    read_bytes,
    write_bytes,
)

__all__ = ("FileConformance", "FileErrorConformance", "RoundTripConformance")


class _Boom(Exception):
    """Raised inside ``async with`` to check that the file is aborted."""


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


class RoundTripConformance(BackendFixtures):
    """What is written is read back, byte for byte."""

    pytestmark = [pytest.mark.asyncio]

    async def test_round_trip_of_an_empty_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "empty"
        await write_bytes(path_io, path, b"")
        assert await path_io.is_file(path)
        assert (await path_io.stat(path)).st_size == 0
        assert await read_bytes(path_io, path) == b""

    async def test_round_trip_of_one_byte(self, path_io: AbstractPathIO, base: PurePath) -> None:
        for value in (b"\x00", b"\xff", b"\n"):
            await write_bytes(path_io, base / "one", value)
            assert await read_bytes(path_io, base / "one") == value
            assert (await path_io.stat(base / "one")).st_size == 1

    async def test_round_trip_of_several_mebibytes(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        size = self.large_file_size
        data = _random_bytes(size, seed=size)
        path = base / "large.bin"
        async with path_io.open(path, "wb") as file:
            view = memoryview(data)
            step = 256 * 1024 + 17
            for start in range(0, size, step):
                await file.write(view[start : start + step])
        assert (await path_io.stat(path)).st_size == size
        digest = hashlib.sha256()
        async with path_io.open(path, "rb") as file:
            async for block in file.iter_by_block(192 * 1024):
                digest.update(block)
        assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
        whole = await read_bytes(path_io, path)
        assert hashlib.sha256(whole).digest() == hashlib.sha256(data).digest()

    async def test_writes_of_bytes_bytearray_and_memoryview_concatenate(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "parts"
        async with path_io.open(path, "wb") as file:
            await file.write(b"abc")
            await file.write(bytearray(b"def"))
            await file.write(memoryview(b"--ghi--")[2:5])
            await file.write(b"")
        assert await read_bytes(path_io, path) == b"abcdefghi"

    async def test_written_data_is_visible_to_another_instance_after_close(
        self, path_io: AbstractPathIO, make_path_io: MakePathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "shared", b"seen elsewhere")
        other = make_path_io()
        assert await read_bytes(other, base / "shared") == b"seen elsewhere"


class FileConformance(BackendFixtures):
    """Modes, positions, blocks, closing and aborting."""

    pytestmark = [pytest.mark.asyncio]

    async def test_open_can_be_awaited_and_closed(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "file"
        file = await path_io.open(path, "wb")
        await file.write(b"awaited")
        await file.close()
        assert file.closed
        await file.close()  # closing twice is harmless
        file = await path_io.open(path, "rb")
        try:
            assert await file.read() == b"awaited"
        finally:
            await file.close()

    async def test_async_with_closes_the_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        async with path_io.open(base / "file", "wb") as file:
            await file.write(b"x")
        assert file.closed
        assert await read_bytes(path_io, base / "file") == b"x"

    async def test_read_in_blocks_ends_with_a_short_block_then_empty(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"0123456789")
        async with path_io.open(base / "file", "rb") as file:
            assert await file.read(4) == b"0123"
            assert await file.read(4) == b"4567"
            assert await file.read(4) == b"89"
            assert await file.read(4) == b""
            assert await file.read() == b""

    async def test_iter_by_block_yields_blocks_of_the_requested_size(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        data = _random_bytes(10_000, seed=1)
        await write_bytes(path_io, base / "file", data)
        async with path_io.open(base / "file", "rb") as file:
            blocks = [block async for block in file.iter_by_block(3000)]
        assert b"".join(blocks) == data
        assert all(len(block) <= 3000 for block in blocks)
        assert all(blocks)

    async def test_wb_truncates_an_existing_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"a long old content")
        await write_bytes(path_io, base / "file", b"new")
        assert await read_bytes(path_io, base / "file") == b"new"
        await write_bytes(path_io, base / "file", b"")
        assert await read_bytes(path_io, base / "file") == b""

    async def test_ab_appends_or_is_refused(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"head-")
        if not capabilities.append:
            with raises_path_io_error():
                await write_bytes(path_io, path, b"tail", mode="ab")
            return
        await write_bytes(path_io, path, b"tail", mode="ab")
        assert await read_bytes(path_io, path) == b"head-tail"
        async with path_io.open(path, "ab") as file:
            await file.seek(0)  # appending ignores the position, as O_APPEND does
            await file.write(b"!")
        assert await read_bytes(path_io, path) == b"head-tail!"

    async def test_ab_creates_a_missing_file(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        if not capabilities.append:
            with raises_path_io_error():
                await write_bytes(path_io, base / "new", b"x", mode="ab")
            return
        await write_bytes(path_io, base / "new", b"created", mode="ab")
        assert await read_bytes(path_io, base / "new") == b"created"

    async def test_r_plus_b_overwrites_in_place_or_is_refused(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"0123456789")
        if not capabilities.seek_write:
            with raises_path_io_error():
                async with path_io.open(path, "r+b") as file:
                    await file.seek(3)
                    await file.write(b"XY")
            return
        async with path_io.open(path, "r+b") as file:
            assert await file.seek(3) == 3
            await file.write(b"XY")
            assert await file.seek(0) == 0
            assert await file.read(6) == b"012XY5"
        assert await read_bytes(path_io, path) == b"012XY56789"

    async def test_r_plus_b_write_past_the_end_fills_the_gap_with_zeros(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        if not capabilities.seek_write:
            pytest.xfail("the backend declares seek_write=False")
        path = base / "file"
        await write_bytes(path_io, path, b"abc")
        async with path_io.open(path, "r+b") as file:
            assert await file.seek(6) == 6
            await file.write(b"Z")
        assert await read_bytes(path_io, path) == b"abc\x00\x00\x00Z"

    async def test_r_plus_b_of_a_missing_file_fails(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        causes: tuple[type[BaseException], ...] = (
            (FileNotFoundError,) if capabilities.seek_write else ()
        )
        with raises_path_io_error(*causes):
            await path_io.open(base / "missing", "r+b")
        assert not await path_io.exists(base / "missing")

    async def test_seek_returns_the_absolute_position(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"0123456789")
        async with path_io.open(base / "file", "rb") as file:
            assert await file.seek(4) == 4
            assert await file.read(2) == b"45"
            assert await file.seek(1, io.SEEK_CUR) == 7
            assert await file.read(1) == b"7"
            assert await file.seek(-3, io.SEEK_END) == 7
            assert await file.read() == b"789"
            assert await file.seek(0) == 0
            assert await file.read(1) == b"0"

    async def test_seek_past_the_end_then_read_returns_nothing(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"abc")
        async with path_io.open(base / "file", "rb") as file:
            assert await file.seek(100) == 100
            assert await file.read(10) == b""

    async def test_read_from_an_offset_returns_the_rest(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        data = _random_bytes(100_000, seed=2)
        await write_bytes(path_io, base / "file", data)
        for offset in (0, 1, 65_535, 65_536, 99_999, 100_000):
            async with path_io.open(base / "file", "rb") as file:
                await file.seek(offset)
                assert await file.read() == data[offset:]

    async def test_leaving_async_with_by_an_exception_aborts_the_file(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "file"
        await write_bytes(path_io, path, b"previous")
        with pytest.raises(_Boom):
            async with path_io.open(path, "wb") as file:
                await file.write(b"partial")
                raise _Boom
        assert file.closed
        # An aborted write leaves the old content, nothing, or what was written - never
        # anything else - and the backend goes on working.
        if await path_io.exists(path):
            assert await read_bytes(path_io, path) in (b"previous", b"partial", b"")
        await write_bytes(path_io, path, b"after")
        assert await read_bytes(path_io, path) == b"after"

    async def test_abort_of_a_new_file_leaves_the_backend_usable(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        path = base / "new"
        file = await path_io.open(path, "wb")
        await file.write(b"half")
        await file.abort()
        assert file.closed
        await file.abort()  # aborting twice is harmless
        if await path_io.exists(path):
            assert await read_bytes(path_io, path) in (b"half", b"")
        await write_bytes(path_io, path, b"whole")
        assert await read_bytes(path_io, path) == b"whole"

    async def test_fileno_is_a_real_descriptor_or_is_unsupported(
        self, path_io: AbstractPathIO, base: PurePath, capabilities: Capabilities
    ) -> None:
        await write_bytes(path_io, base / "file", b"descriptor")
        async with path_io.open(base / "file", "rb") as file:
            if not capabilities.file_descriptor:
                with pytest.raises(io.UnsupportedOperation):
                    file.fileno()
                return
            fd = file.fileno()
            assert os.fstat(fd).st_size == 10
            assert os.pread(fd, 4, 3) == b"crip"


class FileErrorConformance(BackendFixtures):
    """Opening what can not be opened, and using a file the wrong way."""

    pytestmark = [pytest.mark.asyncio]

    async def test_open_of_a_missing_file_for_reading_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await path_io.open(base / "missing", "rb")
        with raises_path_io_error(FileNotFoundError):
            async with path_io.open(base / "missing", "rb"):
                pass  # pragma: no cover - never opened

    async def test_open_of_a_directory_for_reading_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await path_io.mkdir(base / "dir")
        await write_bytes(path_io, base / "dir" / "keep", b"k")
        with raises_path_io_error(IsADirectoryError):
            await path_io.open(base / "dir", "rb")

    async def test_open_of_a_directory_for_writing_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await path_io.mkdir(base / "dir")
        await write_bytes(path_io, base / "dir" / "keep", b"k")
        with raises_path_io_error(IsADirectoryError):
            await write_bytes(path_io, base / "dir", b"data")
        assert await path_io.is_dir(base / "dir")

    async def test_open_in_a_missing_directory_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(FileNotFoundError):
            await write_bytes(path_io, base / "missing" / "file", b"data")
        assert not await path_io.exists(base / "missing")

    async def test_open_through_a_file_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        with raises_path_io_error(NotADirectoryError, FileNotFoundError):
            await write_bytes(path_io, base / "file" / "below", b"x")
        with raises_path_io_error(NotADirectoryError, FileNotFoundError):
            await path_io.open(base / "file" / "below", "rb")
        assert await read_bytes(path_io, base / "file") == b"data"

    async def test_open_with_an_unknown_mode_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        with raises_path_io_error(ValueError):
            await path_io.open(base / "file", "w")
        assert not await path_io.exists(base / "file")

    async def test_write_to_a_file_opened_for_reading_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        await write_bytes(path_io, base / "file", b"data")
        async with path_io.open(base / "file", "rb") as file:
            with raises_path_io_error(OSError, ValueError):
                await file.write(b"nope")
        assert await read_bytes(path_io, base / "file") == b"data"

    async def test_read_from_a_file_opened_for_writing_fails(
        self, path_io: AbstractPathIO, base: PurePath
    ) -> None:
        async with path_io.open(base / "file", "wb") as file:
            await file.write(b"data")
            with raises_path_io_error(OSError, ValueError):
                await file.read()

    async def test_read_after_close_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        file = await path_io.open(base / "file", "rb")
        await file.close()
        with raises_path_io_error(OSError, ValueError):
            await file.read(1)

    async def test_negative_seek_fails(self, path_io: AbstractPathIO, base: PurePath) -> None:
        await write_bytes(path_io, base / "file", b"data")
        async with path_io.open(base / "file", "rb") as file:
            with raises_path_io_error(OSError, ValueError):
                await file.seek(-1)
            with raises_path_io_error(OSError, ValueError):
                await file.seek(-10, io.SEEK_END)
