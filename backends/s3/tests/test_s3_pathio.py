"""S3PathIO against a real S3 endpoint (moto server on loopback): the object-storage
semantics of the tree, the files, and what lands in the bucket."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import PurePosixPath
from typing import Any

import pytest

from anyftp.errors import PathIOError, reply_for_path_error
from anyftp_s3.client import S3State
from anyftp_s3.pathio import S3PathIO

MIB = 1024 * 1024
P = PurePosixPath


async def put(admin: Any, bucket: str, key: str, body: bytes = b"") -> None:
    await admin.put_object(Bucket=bucket, Key=key, Body=body)


async def get(admin: Any, bucket: str, key: str) -> bytes:
    response = await admin.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        data: bytes = await body.read()
    return data


async def keys_in(admin: Any, bucket: str) -> list[str]:
    page = await admin.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in page.get("Contents", ()))


async def open_uploads(admin: Any, bucket: str) -> list[dict[str, Any]]:
    page = await admin.list_multipart_uploads(Bucket=bucket)
    return list(page.get("Uploads", ()))


async def write_file(
    path_io: S3PathIO,
    path: PurePosixPath,
    data: bytes,
    mode: str = "wb",
    seek: int | None = None,
    block: int = 256 * 1024,
) -> None:
    async with path_io.open(path, mode) as file:
        if seek is not None:
            await file.seek(seek)
        for start in range(0, len(data), block):
            await file.write(data[start : start + block])


async def read_file(path_io: S3PathIO, path: PurePosixPath, offset: int = 0) -> bytes:
    async with path_io.open(path, "rb") as file:
        if offset:
            await file.seek(offset)
        return b"".join([block async for block in file.iter_by_block(128 * 1024)])


def cause_of(info: pytest.ExceptionInfo[PathIOError]) -> BaseException | None:
    return info.value.cause


# --- directories ----------------------------------------------------------------------------


async def test_mkdir_writes_a_marker_and_the_empty_directory_is_listed(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await path_io.mkdir(P("docs"))
    assert await keys_in(s3_admin, bucket) == ["docs/"]
    assert await path_io.is_dir(P("docs"))
    assert not await path_io.is_file(P("docs"))
    assert [p for p, _ in await path_io.list_with_stats(P("."))] == [P("docs")]
    assert await path_io.list(P("docs")) == []


async def test_mkdir_without_parent_fails_and_with_parents_makes_every_marker(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    with pytest.raises(PathIOError) as info:
        await path_io.mkdir(P("a/b/c"))
    assert isinstance(cause_of(info), FileNotFoundError)
    await path_io.mkdir(P("a/b/c"), parents=True)
    assert await keys_in(s3_admin, bucket) == ["a/", "a/b/", "a/b/c/"]


async def test_mkdir_of_existing_name_fails_unless_exist_ok(path_io: S3PathIO) -> None:
    await path_io.mkdir(P("d"))
    with pytest.raises(PathIOError) as info:
        await path_io.mkdir(P("d"))
    assert isinstance(cause_of(info), FileExistsError)
    await path_io.mkdir(P("d"), exist_ok=True)
    await write_file(path_io, P("f"), b"x")
    with pytest.raises(PathIOError) as info:
        await path_io.mkdir(P("f"), exist_ok=True)
    assert isinstance(cause_of(info), FileExistsError)


async def test_directory_made_by_other_tools_without_marker_is_a_directory(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await put(s3_admin, bucket, "implicit/deep/file.txt", b"data")
    assert await path_io.is_dir(P("implicit"))
    assert await path_io.is_dir(P("/implicit/deep"))
    assert (await path_io.stat(P("implicit"))).st_mode & 0o170000 == 0o040000
    assert [p for p, _ in await path_io.list_with_stats(P("implicit"))] == [P("implicit/deep")]


async def test_deleting_the_last_file_keeps_a_markerless_directory(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await put(s3_admin, bucket, "implicit/only.txt", b"data")
    await path_io.unlink(P("implicit/only.txt"))
    assert await path_io.is_dir(P("implicit"))
    assert await keys_in(s3_admin, bucket) == ["implicit/"]


async def test_rmdir_removes_only_empty_directories(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await path_io.mkdir(P("full"))
    await write_file(path_io, P("full/f"), b"1")
    with pytest.raises(PathIOError) as info:
        await path_io.rmdir(P("full"))
    assert isinstance(cause_of(info), OSError)
    assert cause_of(info).errno == errno.ENOTEMPTY  # type: ignore[union-attr]
    assert reply_for_path_error(info.value)[0] == "550"
    await path_io.mkdir(P("empty"))
    await path_io.rmdir(P("empty"))
    assert not await path_io.exists(P("empty"))
    with pytest.raises(PathIOError) as info:
        await path_io.rmdir(P("empty"))
    assert isinstance(cause_of(info), FileNotFoundError)
    with pytest.raises(PathIOError) as info:
        await path_io.rmdir(P("full/f"))
    assert isinstance(cause_of(info), NotADirectoryError)


async def test_unlink_refuses_directories_and_missing_files(path_io: S3PathIO) -> None:
    await path_io.mkdir(P("d"))
    with pytest.raises(PathIOError) as info:
        await path_io.unlink(P("d"))
    assert isinstance(cause_of(info), IsADirectoryError)
    with pytest.raises(PathIOError) as info:
        await path_io.unlink(P("nothing"))
    assert isinstance(cause_of(info), FileNotFoundError)


# --- listing and stat -----------------------------------------------------------------------


async def test_listing_takes_stats_from_list_pages_not_a_request_per_entry(
    s3_options: dict[str, Any], s3_admin: Any, bucket: str
) -> None:
    state = S3PathIO.create_state(**{**s3_options, "list_page_size": 10})
    try:
        path_io = S3PathIO(state=state)
        for index in range(23):
            await put(s3_admin, bucket, f"many/file{index:02}", b"x" * index)
        await put(s3_admin, bucket, "many/sub/inner", b"")
        state.requests.clear()
        entries = dict(await path_io.list_with_stats(P("many")))
        assert state.requests == {"list_objects_v2": 3}
        assert len(entries) == 24
        assert entries[P("many/file07")].st_size == 7
        assert entries[P("many/sub")].st_mode & 0o170000 == 0o040000
    finally:
        await S3PathIO.close_state(state)


async def test_name_that_is_both_object_and_prefix_is_listed_once_as_directory(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await put(s3_admin, bucket, "both", b"file")
    await put(s3_admin, bucket, "both/child", b"")
    listed = await path_io.list_with_stats(P("/"))
    assert [(p, s.st_mode & 0o170000) for p, s in listed] == [(P("/both"), 0o040000)]


async def test_listing_a_file_or_missing_directory_fails(path_io: S3PathIO) -> None:
    await write_file(path_io, P("f"), b"x")
    with pytest.raises(PathIOError) as info:
        await path_io.list_with_stats(P("f"))
    assert isinstance(cause_of(info), NotADirectoryError)
    with pytest.raises(PathIOError) as info:
        await path_io.list(P("missing"))
    assert isinstance(cause_of(info), FileNotFoundError)


async def test_stat_gives_size_and_mtime_of_the_object(path_io: S3PathIO) -> None:
    await write_file(path_io, P("f"), b"12345")
    stat = await path_io.stat(P("f"))
    assert stat.st_size == 5
    assert stat.st_mtime > 1_000_000_000
    assert stat.st_mode & 0o170000 == 0o100000
    with pytest.raises(PathIOError) as info:
        await path_io.stat(P("missing"))
    assert isinstance(cause_of(info), FileNotFoundError)
    assert (await path_io.stat(P("/"))).st_mode & 0o170000 == 0o040000


async def test_prefix_confines_the_tree(
    s3_options: dict[str, Any], s3_admin: Any, bucket: str
) -> None:
    state = S3PathIO.create_state(**{**s3_options, "prefix": "/ftp/root"})
    try:
        path_io = S3PathIO(state=state, root=P("/"))
        await path_io.mkdir(P("/d"))
        await write_file(path_io, P("/d/f.txt"), b"hello")
        await put(s3_admin, bucket, "outside.txt", b"no")
        assert await keys_in(s3_admin, bucket) == ["ftp/root/d/", "ftp/root/d/f.txt", "outside.txt"]
        assert [p for p, _ in await path_io.list_with_stats(P("/"))] == [P("/d")]
        with pytest.raises(PathIOError):
            await path_io.stat(P("/../outside.txt"))
    finally:
        await S3PathIO.close_state(state)


# --- writing ----------------------------------------------------------------------------------


async def test_small_file_is_stored_with_one_put(
    path_io: S3PathIO, s3_state: S3State, s3_admin: Any, bucket: str
) -> None:
    s3_state.requests.clear()
    await write_file(path_io, P("small.bin"), b"abc" * 1000)
    assert s3_state.requests["put_object"] == 1
    assert s3_state.requests["create_multipart_upload"] == 0
    assert await get(s3_admin, bucket, "small.bin") == b"abc" * 1000


async def test_empty_file_is_stored(path_io: S3PathIO, s3_admin: Any, bucket: str) -> None:
    async with path_io.open(P("empty"), "wb"):
        pass
    assert await get(s3_admin, bucket, "empty") == b""
    assert await read_file(path_io, P("empty")) == b""


async def test_large_file_streams_as_multipart_upload(
    path_io: S3PathIO, s3_state: S3State, s3_admin: Any, bucket: str
) -> None:
    data = os.urandom(12 * MIB + 123)
    s3_state.requests.clear()
    await write_file(path_io, P("big.bin"), data)
    assert s3_state.requests["create_multipart_upload"] == 1
    assert s3_state.requests["upload_part"] == 3
    assert s3_state.requests["complete_multipart_upload"] == 1
    stored = await get(s3_admin, bucket, "big.bin")
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    assert await open_uploads(s3_admin, bucket) == []


async def test_aborted_upload_leaves_no_object_and_no_multipart_upload(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await write_file(path_io, P("target"), b"old content")

    class ClientWentAway(Exception):
        pass

    with pytest.raises(ClientWentAway):
        async with path_io.open(P("target"), "wb") as file:
            for _ in range(12):
                await file.write(os.urandom(MIB))
            raise ClientWentAway
    assert await get(s3_admin, bucket, "target") == b"old content"
    assert await open_uploads(s3_admin, bucket) == []
    with pytest.raises(ClientWentAway):
        async with path_io.open(P("new"), "wb") as file:
            await file.write(os.urandom(6 * MIB))
            raise ClientWentAway
    assert await keys_in(s3_admin, bucket) == ["target"]
    assert await open_uploads(s3_admin, bucket) == []


async def test_store_into_missing_directory_or_over_directory_fails(path_io: S3PathIO) -> None:
    with pytest.raises(PathIOError) as info:
        await path_io.open(P("nodir/f"), "wb")
    assert isinstance(cause_of(info), FileNotFoundError)
    await path_io.mkdir(P("d"))
    with pytest.raises(PathIOError) as info:
        await path_io.open(P("d"), "wb")
    assert isinstance(cause_of(info), IsADirectoryError)


@pytest.mark.parametrize("old_size", [0, 1000, 6 * MIB], ids=["empty", "small", "large"])
@pytest.mark.parametrize("new_size", [10, 7 * MIB], ids=["few-bytes", "several-parts"])
async def test_append_adds_to_the_end(
    path_io: S3PathIO, s3_state: S3State, s3_admin: Any, bucket: str, old_size: int, new_size: int
) -> None:
    old, new = os.urandom(old_size), os.urandom(new_size)
    await write_file(path_io, P("log"), old)
    s3_state.requests.clear()
    await write_file(path_io, P("log"), new, mode="ab")
    assert await get(s3_admin, bucket, "log") == old + new
    if old_size >= 5 * MIB:
        # The old object is copied on the S3 side, never downloaded.
        assert s3_state.requests["upload_part_copy"] >= 1
        assert s3_state.requests["get_object"] == 0
    assert await open_uploads(s3_admin, bucket) == []


async def test_append_creates_a_missing_file(path_io: S3PathIO, s3_admin: Any, bucket: str) -> None:
    await write_file(path_io, P("fresh"), b"first", mode="ab")
    assert await get(s3_admin, bucket, "fresh") == b"first"


@pytest.mark.parametrize(
    ("old_size", "offset", "new_size"),
    [
        (100, 100, 50),  # resume at the end of a small file
        (6 * MIB, 6 * MIB, 3 * MIB),  # resume at the end of a large file
        (100, 40, 20),  # overwrite inside a small file, tail kept
        (12 * MIB, 6 * MIB, 1000),  # small write inside a large file: head and tail copied
        (12 * MIB, 1000, 6 * MIB),  # small head downloaded, large tail copied
        (7 * MIB, 2 * MIB, 6 * MIB),  # write past the old end
        (12 * MIB, 13 * MIB, 10),  # past the end of a large file: the gap becomes zeros
        (1000, 1000, 7 * MIB),  # small file grows past one part: editing turns to streaming
    ],
)
async def test_write_after_seek_keeps_the_bytes_around_it(
    path_io: S3PathIO, s3_admin: Any, bucket: str, old_size: int, offset: int, new_size: int
) -> None:
    old, new = os.urandom(old_size), os.urandom(new_size)
    await write_file(path_io, P("f"), old)
    await write_file(path_io, P("f"), new, mode="r+b", seek=offset)
    expected = old[:offset] + bytes(max(0, offset - old_size)) + new + old[offset + new_size :]
    stored = await get(s3_admin, bucket, "f")
    assert len(stored) == len(expected)
    assert stored == expected
    assert await open_uploads(s3_admin, bucket) == []


async def test_small_object_opened_r_plus_b_is_fully_random_access(
    path_io: S3PathIO, s3_state: S3State
) -> None:
    await write_file(path_io, P("f"), b"0123456789")
    s3_state.requests.clear()
    async with path_io.open(P("f"), "r+b") as file:
        await file.seek(8)
        await file.write(b"AB")
        await file.seek(1)
        await file.write(b"x")
        assert await file.seek(0) == 0
        assert await file.read() == b"0x234567AB"
    assert await read_file(path_io, P("f")) == b"0x234567AB"
    assert s3_state.requests["put_object"] == 1


async def test_large_object_refuses_a_second_seek_and_reads_and_stays_unchanged(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    old = os.urandom(6 * MIB)
    await write_file(path_io, P("f"), old)
    with pytest.raises(PathIOError) as info:
        async with path_io.open(P("f"), "r+b") as file:
            await file.seek(2)
            await file.write(b"ab")
            await file.seek(0)
    assert isinstance(cause_of(info), io.UnsupportedOperation)
    with pytest.raises(PathIOError):
        async with path_io.open(P("f"), "r+b") as file:
            await file.read(1)
    assert await get(s3_admin, bucket, "f") == old
    assert await open_uploads(s3_admin, bucket) == []


# --- reading ----------------------------------------------------------------------------------


async def test_read_from_offset_uses_a_ranged_get(path_io: S3PathIO, s3_state: S3State) -> None:
    data = os.urandom(3 * MIB)
    await write_file(path_io, P("f"), data)
    s3_state.requests.clear()
    assert await read_file(path_io, P("f"), offset=MIB + 7) == data[MIB + 7 :]
    assert s3_state.requests["get_object"] == 1
    assert await read_file(path_io, P("f"), offset=3 * MIB) == b""


async def test_object_replaced_while_read_is_an_error_not_a_mix(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await write_file(path_io, P("f"), b"a" * 1000)
    async with path_io.open(P("f"), "rb") as file:
        await put(s3_admin, bucket, "f", b"b" * 1000)
        with pytest.raises(PathIOError) as info:
            await file.read(10)
    assert reply_for_path_error(info.value)[0] == "451"


async def test_open_missing_or_directory_for_reading_fails(path_io: S3PathIO) -> None:
    with pytest.raises(PathIOError) as info:
        await path_io.open(P("missing"), "rb")
    assert isinstance(cause_of(info), FileNotFoundError)
    await path_io.mkdir(P("d"))
    with pytest.raises(PathIOError) as info:
        await path_io.open(P("d"), "rb")
    assert isinstance(cause_of(info), IsADirectoryError)


# --- rename ---------------------------------------------------------------------------------


async def test_rename_file_copies_on_server_then_deletes(
    path_io: S3PathIO, s3_state: S3State, s3_admin: Any, bucket: str
) -> None:
    await path_io.mkdir(P("d"))
    await write_file(path_io, P("a.txt"), b"content")
    await write_file(path_io, P("d/b.txt"), b"old")
    s3_state.requests.clear()
    await path_io.rename(P("a.txt"), P("d/b.txt"))
    assert s3_state.requests["copy_object"] == 1
    assert s3_state.requests["get_object"] == 0
    assert await keys_in(s3_admin, bucket) == ["d/", "d/b.txt"]
    assert await get(s3_admin, bucket, "d/b.txt") == b"content"


async def test_rename_large_file_uses_multipart_copy(
    s3_options: dict[str, Any], s3_admin: Any, bucket: str
) -> None:
    state = S3PathIO.create_state(
        **{**s3_options, "copy_threshold": 5 * MIB, "copy_part_size": 5 * MIB}
    )
    try:
        path_io = S3PathIO(state=state)
        data = os.urandom(11 * MIB)
        await write_file(path_io, P("big"), data)
        state.requests.clear()
        await path_io.rename(P("big"), P("moved"))
        assert state.requests["upload_part_copy"] == 2
        assert state.requests["copy_object"] == 0
        assert await keys_in(s3_admin, bucket) == ["moved"]
        assert await get(s3_admin, bucket, "moved") == data
    finally:
        await S3PathIO.close_state(state)


async def test_rename_directory_moves_every_key_under_it(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await path_io.mkdir(P("src/inner"), parents=True)
    await write_file(path_io, P("src/a"), b"a")
    await write_file(path_io, P("src/inner/b"), b"b")
    await path_io.mkdir(P("other"))
    await path_io.rename(P("src"), P("other/dst"))
    assert await keys_in(s3_admin, bucket) == [
        "other/",
        "other/dst/",
        "other/dst/a",
        "other/dst/inner/",
        "other/dst/inner/b",
    ]
    assert await read_file(path_io, P("other/dst/inner/b")) == b"b"


async def test_rename_markerless_directory_keeps_it_a_directory(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    await put(s3_admin, bucket, "implicit/f", b"f")
    await path_io.rename(P("implicit"), P("moved"))
    assert await keys_in(s3_admin, bucket) == ["moved/", "moved/f"]


async def test_rename_directory_into_itself_or_onto_nonempty_directory_fails(
    path_io: S3PathIO,
) -> None:
    await path_io.mkdir(P("a/b"), parents=True)
    await path_io.mkdir(P("c"))
    await write_file(path_io, P("c/f"), b"")
    with pytest.raises(PathIOError) as info:
        await path_io.rename(P("a"), P("a/b/a"))
    assert cause_of(info).errno == errno.EINVAL  # type: ignore[union-attr]
    with pytest.raises(PathIOError) as info:
        await path_io.rename(P("a"), P("c"))
    assert cause_of(info).errno == errno.ENOTEMPTY  # type: ignore[union-attr]
    with pytest.raises(PathIOError) as info:
        await path_io.rename(P("missing"), P("x"))
    assert isinstance(cause_of(info), FileNotFoundError)


# --- state --------------------------------------------------------------------------------


async def test_all_instances_share_one_client_closed_with_the_state(
    s3_options: dict[str, Any],
) -> None:
    state = S3PathIO.create_state(**s3_options)
    first, second = S3PathIO(state=state), S3PathIO(state=state)
    await first.mkdir(P("x"))
    assert await second.is_dir(P("x"))
    assert await state.client() is await state.client()
    await S3PathIO.close_state(state)
    with pytest.raises(PathIOError) as info:
        await first.is_dir(P("x"))
    assert isinstance(cause_of(info), ConnectionError)


def test_unknown_option_is_named_in_the_error() -> None:
    with pytest.raises(TypeError, match="colour"):
        S3PathIO.create_state(bucket="b", colour="blue")


def test_options_given_as_text_are_converted() -> None:
    state = S3PathIO.create_state(
        bucket="b",
        part_size="6291456",
        max_retries="1",
        retry_base_delay="0.5",
        region_name="none",
        prefix="p",
    )
    assert state.options.part_size == 6 * MIB
    assert state.options.max_retries == 1
    assert state.options.retry_base_delay == 0.5
    assert state.options.region_name is None
    assert state.keys.prefix == "p/"
    with pytest.raises(ValueError, match="part_size"):
        S3PathIO.create_state(bucket="b", part_size=1024)


async def test_backend_is_found_by_entry_point_name() -> None:
    from anyftp.registry import get_backend

    assert get_backend("s3") is S3PathIO


async def test_users_base_path_exists_without_anything_stored_under_it(
    s3_state: S3State, s3_admin: Any, bucket: str
) -> None:
    home = S3PathIO(state=s3_state, root=P("/home/bob"))
    assert await home.is_dir(P("/home/bob"))
    assert await home.list(P("/home/bob")) == []
    await home.mkdir(P("/home/bob/docs"))
    with pytest.raises(PathIOError) as info:
        await home.rmdir(P("/home/bob"))
    assert isinstance(cause_of(info), PermissionError)
    with pytest.raises(PathIOError):
        await home.stat(P("/home/alice"))  # outside bob's root
    assert not await S3PathIO(state=s3_state).is_dir(P("/home/carol"))
    assert await keys_in(s3_admin, bucket) == ["home/bob/docs/"]


async def test_names_with_spaces_unicode_and_url_characters_round_trip(
    path_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    directory, name = P("dir with space"), "файл #1 & 100%+?.txt"
    await path_io.mkdir(directory)
    await write_file(path_io, directory / name, b"payload")
    assert [p for p, _ in await path_io.list_with_stats(directory)] == [directory / name]
    assert await read_file(path_io, directory / name) == b"payload"
    await path_io.rename(directory / name, directory / (name + ".moved"))
    assert await keys_in(s3_admin, bucket) == ["dir with space/", f"dir with space/{name}.moved"]
