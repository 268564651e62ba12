"""Behaviour of the memory backend beyond the conformance suite: relative paths, the
shared tree, copy-on-write files, aborts, inode numbers and edge cases of rename."""

from __future__ import annotations

import errno
import stat as stat_module
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.errors import PathIOError
from anyftp.pathio import PathStat
from anyftp.testing import raises_path_io_error, read_bytes, write_bytes
from anyftp_memory import MemoryPathIO
from anyftp_memory.tree import MemoryTree

P = PurePosixPath


@pytest.fixture
def memory() -> MemoryPathIO:
    return MemoryPathIO()


def test_the_package_name_resolves_to_this_class() -> None:
    assert anyftp.MemoryPathIO is MemoryPathIO


async def test_relative_paths_are_relative_to_the_tree_root(memory: MemoryPathIO) -> None:
    await write_bytes(memory, Path(".") / "file", b"relative")
    assert await read_bytes(memory, P("/file")) == b"relative"
    await memory.mkdir(Path(".") / "dir")
    assert await memory.is_dir(P("/dir"))
    assert {str(p) for p in await memory.list(Path("."))} == {"file", "dir"}


async def test_listing_keeps_the_form_of_the_given_path(memory: MemoryPathIO) -> None:
    await memory.mkdir(P("/d"))
    await write_bytes(memory, P("/d/f"), b"")
    assert await memory.list(P("/d")) == [P("/d/f")]
    assert await memory.list(P("d")) == [P("d/f")]


async def test_cwd_anchors_relative_paths() -> None:
    tree = MemoryTree()
    home = MemoryPathIO(state=tree, cwd="/home/user")
    top = MemoryPathIO(state=tree)
    await top.mkdir(P("/home/user"), parents=True)
    await write_bytes(home, P("notes.txt"), b"n")
    assert await read_bytes(top, P("/home/user/notes.txt")) == b"n"


async def test_dotdot_above_the_top_stays_at_the_top(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/file"), b"x")
    assert await read_bytes(memory, P("/../../file")) == b"x"
    assert await memory.is_dir(P("/.."))


async def test_instances_without_state_have_their_own_tree() -> None:
    first, second = MemoryPathIO(), MemoryPathIO()
    await write_bytes(first, P("/only-here"), b"1")
    assert not await second.exists(P("/only-here"))
    assert first.state is not second.state


async def test_instances_given_one_state_share_the_tree() -> None:
    state = MemoryPathIO.create_state()
    first, second = MemoryPathIO(state=state), MemoryPathIO(state=state)
    await write_bytes(first, P("/shared"), b"1")
    assert await read_bytes(second, P("/shared")) == b"1"


async def test_close_state_empties_the_tree() -> None:
    state = MemoryPathIO.create_state()
    memory = MemoryPathIO(state=state)
    await memory.mkdir(P("/a/b"), parents=True)
    await MemoryPathIO.close_state(state)
    assert await memory.list(P("/")) == []


async def test_a_reader_keeps_the_version_it_opened(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"old version")
    reader = await memory.open(P("/f"), "rb")
    assert await reader.read(4) == b"old "
    await write_bytes(memory, P("/f"), b"NEW")
    assert await reader.read() == b"version"
    await reader.close()
    assert await read_bytes(memory, P("/f")) == b"NEW"


async def test_a_file_being_written_shows_its_previous_content(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"previous")
    writer = await memory.open(P("/f"), "wb")
    await writer.write(b"next, still being written")
    assert await read_bytes(memory, P("/f")) == b"previous"
    assert (await memory.stat(P("/f"))).st_size == len(b"previous")
    await writer.close()
    assert await read_bytes(memory, P("/f")) == b"next, still being written"


async def test_a_new_file_exists_as_soon_as_it_is_opened_for_writing(
    memory: MemoryPathIO,
) -> None:
    writer = await memory.open(P("/new"), "wb")
    assert await memory.is_file(P("/new"))
    assert await read_bytes(memory, P("/new")) == b""
    await writer.write(b"data")
    await writer.close()
    assert await read_bytes(memory, P("/new")) == b"data"


async def test_of_two_writers_the_last_to_close_wins(memory: MemoryPathIO) -> None:
    first = await memory.open(P("/f"), "wb")
    second = await memory.open(P("/f"), "wb")
    await first.write(b"first")
    await second.write(b"second")
    await second.close()
    await first.close()
    assert await read_bytes(memory, P("/f")) == b"first"


async def test_abort_keeps_the_previous_content(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"keep me")
    for mode in ("wb", "ab", "r+b"):
        file = await memory.open(P("/f"), mode)
        await file.write(b"garbage")
        await file.abort()
        assert await read_bytes(memory, P("/f")) == b"keep me", mode


async def test_abort_removes_a_file_the_open_created(memory: MemoryPathIO) -> None:
    file = await memory.open(P("/new"), "wb")
    await file.write(b"half")
    await file.abort()
    assert not await memory.exists(P("/new"))


async def test_abort_leaves_a_file_another_writer_published(memory: MemoryPathIO) -> None:
    aborted = await memory.open(P("/new"), "wb")
    other = await memory.open(P("/new"), "wb")
    await other.write(b"published")
    await other.close()
    await aborted.abort()
    assert await read_bytes(memory, P("/new")) == b"published"


async def test_writing_to_an_unlinked_file_does_not_resurrect_it(memory: MemoryPathIO) -> None:
    file = await memory.open(P("/f"), "wb")
    await memory.unlink(P("/f"))
    await file.write(b"lost")
    await file.close()
    assert not await memory.exists(P("/f"))


async def test_a_file_renamed_while_written_gets_the_data(memory: MemoryPathIO) -> None:
    file = await memory.open(P("/f"), "wb")
    await memory.rename(P("/f"), P("/g"))
    await file.write(b"follows the node")
    await file.close()
    assert await read_bytes(memory, P("/g")) == b"follows the node"


async def test_r_plus_b_reads_its_own_writes(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"abcdef")
    async with memory.open(P("/f"), "r+b") as file:
        await file.write(b"XY")
        assert await file.read() == b"cdef"
        await file.seek(0)
        assert await file.read() == b"XYcdef"


async def test_rename_of_a_directory_into_itself_fails(memory: MemoryPathIO) -> None:
    await memory.mkdir(P("/a/b"), parents=True)
    with raises_path_io_error(OSError) as info:
        await memory.rename(P("/a"), P("/a/b/c"))
    assert info.value.cause is not None
    assert getattr(info.value.cause, "errno", None) == errno.EINVAL
    assert await memory.is_dir(P("/a/b"))


async def test_rename_of_a_directory_over_an_empty_directory_replaces_it(
    memory: MemoryPathIO,
) -> None:
    await memory.mkdir(P("/src"))
    await write_bytes(memory, P("/src/f"), b"f")
    await memory.mkdir(P("/empty"))
    await memory.rename(P("/src"), P("/empty"))
    assert await read_bytes(memory, P("/empty/f")) == b"f"
    assert not await memory.exists(P("/src"))


async def test_the_top_directory_can_not_be_removed_or_renamed(memory: MemoryPathIO) -> None:
    with raises_path_io_error(OSError):
        await memory.rmdir(P("/"))
    with raises_path_io_error(IsADirectoryError):
        await memory.unlink(P("/"))
    with raises_path_io_error(OSError):
        await memory.rename(P("/"), P("/x"))
    with raises_path_io_error(FileExistsError):
        await memory.mkdir(P("/"))
    await memory.mkdir(P("/"), exist_ok=True)


async def test_stat_reports_inodes_links_and_mode_bits(memory: MemoryPathIO) -> None:
    await memory.mkdir(P("/d/sub1"), parents=True)
    await memory.mkdir(P("/d/sub2"))
    await write_bytes(memory, P("/d/f"), b"x")
    d, f = await memory.stat(P("/d")), await memory.stat(P("/d/f"))
    assert d.st_nlink == 4  # itself, its entry, and two subdirectories' ".."
    assert f.st_nlink == 1
    assert isinstance(d, PathStat)
    assert isinstance(f, PathStat)
    assert d.st_ino != f.st_ino
    await memory.chmod(P("/d"), 0o700)
    mode = (await memory.stat(P("/d"))).st_mode
    assert stat_module.S_ISDIR(mode)
    assert stat_module.S_IMODE(mode) == 0o700
    await memory.rmdir(P("/d/sub2"))
    assert (await memory.stat(P("/d"))).st_nlink == 3


async def test_writing_updates_the_modification_time(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"1")
    await memory.set_mtime(P("/f"), 1000.0)
    assert (await memory.stat(P("/f"))).st_mtime == 1000.0
    await write_bytes(memory, P("/f"), b"2")
    assert (await memory.stat(P("/f"))).st_mtime > 1000.0


async def test_a_directory_gets_its_modification_time_set(memory: MemoryPathIO) -> None:
    await memory.mkdir(P("/d"))
    await memory.set_mtime(P("/d"), 12345.0)
    assert (await memory.stat(P("/d"))).st_mtime == 12345.0


async def test_many_entries_and_deep_paths_are_found(memory: MemoryPathIO) -> None:
    for i in range(5000):
        await write_bytes(memory, P(f"/f{i}"), b"")
    assert len(await memory.list(P("/"))) == 5000
    assert await memory.is_file(P("/f4999"))
    deep = P("/" + "/".join(f"d{i}" for i in range(200)))
    await memory.mkdir(deep, parents=True)
    assert await memory.is_dir(deep)
    await write_bytes(memory, deep / "leaf", b"leaf")
    assert await read_bytes(memory, deep / "leaf") == b"leaf"


async def test_a_root_given_as_a_relative_path_contains_relative_paths() -> None:
    memory = MemoryPathIO(root=".")
    await write_bytes(memory, Path(".") / "inside", b"ok")
    tree = memory.state
    jailed = MemoryPathIO(state=tree, root=P("home"))
    await jailed.mkdir(P("home"))
    await write_bytes(jailed, P("home/x"), b"x")
    with pytest.raises(PathIOError):
        await jailed.stat(P("inside"))
    with pytest.raises(PathIOError):
        await jailed.stat(P("home/../inside"))


async def test_opening_with_rb_plus_is_r_plus_b(memory: MemoryPathIO) -> None:
    await write_bytes(memory, P("/f"), b"abc")
    async with memory.open(P("/f"), "rb+") as file:
        await file.write(b"X")
    assert await read_bytes(memory, P("/f")) == b"Xbc"
