"""The client against real servers: pyftpdlib, vsftpd and anyftp, plain and explicit TLS.

Every test runs once per server (see conftest.py). Transferred content is compared by
sha256, on the server's disk and after a round trip. After aborts and refusals the next
command must succeed, which shows the control connection stayed in step.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.errors import StatusCodeError

from .conftest import FTPServerInfo, Workspace

pytestmark = pytest.mark.timeout(120)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha(path: Path) -> str:
    return sha(path.read_bytes())


def payload(size: int, seed: int = 0) -> bytes:
    return (hashlib.sha256(str(seed).encode()).digest() + os.urandom(32)) * (
        size // 64
    ) + os.urandom(size % 64)


async def test_connect_returns_greeting_and_login_gives_a_working_session(
    ftp_server: FTPServerInfo,
) -> None:
    client = anyftp.Client(**ftp_server.client_kwargs())
    greeting = await ftp_server.connect(client)
    try:
        assert isinstance(greeting, list) and greeting
        assert isinstance(await client.get_current_directory(), PurePosixPath)
    finally:
        await client.quit()


async def test_wrong_password_raises_status_code_error_530(ftp_server: FTPServerInfo) -> None:
    client = anyftp.Client(**ftp_server.client_kwargs())
    await ftp_server.connect(client, login=False)
    try:
        with pytest.raises(StatusCodeError) as info:
            await client.login("nobody-" + ftp_server.user, "wrong password")
        assert info.value.received_codes[-1].matches("530")
        assert info.value.expected_codes
        assert isinstance(info.value.info, list)
    finally:
        client.close()


async def test_context_and_client_session_log_in_and_quit(
    ftp_server: FTPServerInfo, workspace: Workspace
) -> None:
    kwargs = ftp_server.client_kwargs()
    tls = ftp_server.ssl_context() if ftp_server.tls == "explicit" else False
    async with anyftp.Client.context(
        ftp_server.host,
        ftp_server.port,
        ftp_server.user,
        ftp_server.password,
        upgrade_to_tls=tls,
        **kwargs,
    ) as client:
        await client.change_directory(workspace.remote)
        assert await client.list() == []
    async with anyftp.ClientSession(
        ftp_server.host,
        ftp_server.port,
        ftp_server.user,
        ftp_server.password,
        upgrade_to_tls=tls,
        **kwargs,
    ) as client:
        assert str(await client.get_current_directory())


async def test_directories_are_made_listed_changed_and_removed(
    client: anyftp.Client, workspace: Workspace
) -> None:
    start = await client.get_current_directory()
    await client.make_directory("a/b/c")
    assert (workspace.local / "a" / "b" / "c").is_dir()
    await client.make_directory("a/b/c")  # parents=True: existing is fine
    assert await client.is_dir("a/b")
    assert not await client.is_file("a/b")
    await client.change_directory("a/b")
    assert await client.get_current_directory() == start / "a" / "b"
    await client.change_directory()
    assert await client.get_current_directory() == start / "a"
    await client.change_directory("..")
    await client.remove_directory("a/b/c")
    assert not (workspace.local / "a" / "b" / "c").exists()
    with pytest.raises(StatusCodeError):
        await client.make_directory("x/y", parents=False)


async def test_upload_and_download_file_keep_content(
    client: anyftp.Client, workspace: Workspace, tmp_path: Path
) -> None:
    data = payload(3 * 1024 * 1024 + 123)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    await client.upload(source)
    assert file_sha(workspace.local / "big.bin") == sha(data)
    await client.upload(source, "sub/renamed.bin", write_into=True)
    assert file_sha(workspace.local / "sub" / "renamed.bin") == sha(data)
    await client.download("sub/renamed.bin", tmp_path / "out")
    assert file_sha(tmp_path / "out" / "renamed.bin") == sha(data)
    await client.download("big.bin", tmp_path / "copy.bin", write_into=True, block_size=1000)
    assert file_sha(tmp_path / "copy.bin") == sha(data)


async def test_empty_file_round_trip(
    client: anyftp.Client, workspace: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "empty").write_bytes(b"")
    await client.upload(tmp_path / "empty")
    assert (workspace.local / "empty").read_bytes() == b""
    await client.download("empty", tmp_path / "back", write_into=True)
    assert (tmp_path / "back").read_bytes() == b""
    assert (await client.stat("empty"))["size"] == "0"


async def test_upload_and_download_directory_trees(
    client: anyftp.Client, workspace: Workspace, tmp_path: Path
) -> None:
    tree = tmp_path / "folder1"
    (tree / "deep" / "deeper").mkdir(parents=True)
    (tree / "empty dir").mkdir()
    files = {
        "a.txt": b"alpha\n",
        "deep/b.bin": payload(70000, 1),
        "deep/deeper/c with space.dat": payload(1000, 2),
    }
    for name, content in files.items():
        (tree / name).write_bytes(content)
    await client.upload(tree, "folder2", write_into=True)
    await client.upload(tree, "folder2")
    for name, content in files.items():
        assert file_sha(workspace.local / "folder2" / name) == sha(content)
        assert file_sha(workspace.local / "folder2" / "folder1" / name) == sha(content)
    assert (workspace.local / "folder2" / "empty dir").is_dir()

    await client.download("folder2", tmp_path / "down", write_into=True)
    for name, content in files.items():
        assert file_sha(tmp_path / "down" / name) == sha(content)
        assert file_sha(tmp_path / "down" / "folder1" / name) == sha(content)
    assert (tmp_path / "down" / "empty dir").is_dir()
    await client.download("folder2", tmp_path / "again")
    assert file_sha(tmp_path / "again" / "folder2" / "a.txt") == sha(b"alpha\n")


async def test_upload_accepts_a_file_object(client: anyftp.Client, workspace: Workspace) -> None:
    data = payload(100000, 3)
    await client.upload(io.BytesIO(data), "from_object.bin")
    assert file_sha(workspace.local / "from_object.bin") == sha(data)


async def test_streams_with_offset_resume_upload_and_download(
    client: anyftp.Client, workspace: Workspace
) -> None:
    data = payload(500000, 4)
    async with client.upload_stream("resume.bin") as stream:
        await stream.write(data[:200000])
    size = int((await client.stat("resume.bin"))["size"])
    assert size == 200000
    async with client.upload_stream("resume.bin", offset=size) as stream:
        await stream.write(data[size:])
    assert file_sha(workspace.local / "resume.bin") == sha(data)

    async with client.download_stream("resume.bin", offset=123456) as stream:
        tail = b"".join([block async for block in stream.iter_by_block()])
    assert sha(tail) == sha(data[123456:])
    stream = await client.download_stream("resume.bin")
    whole = await stream.read()
    rest = b"".join([block async for block in stream.iter_by_block(7777)])
    await stream.finish()
    assert sha(whole + rest) == sha(data)


async def test_append_stream_appends(client: anyftp.Client, workspace: Workspace) -> None:
    async with client.upload_stream("log.txt") as stream:
        await stream.write(b"one\n")
    async with client.append_stream("log.txt") as stream:
        await stream.write(b"two\n")
    assert (workspace.local / "log.txt").read_bytes() == b"one\ntwo\n"
    async with client.download_stream("log.txt") as stream:
        lines = [line async for line in stream.iter_by_line()]
    assert lines == [b"one\n", b"two\n"]


async def test_list_stat_exists_rename_and_remove(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "dir" / "sub").mkdir(parents=True)
    (workspace.local / "dir" / "f.txt").write_bytes(b"12345")
    (workspace.local / "dir" / "sub" / "g.txt").write_bytes(b"x" * 10)
    (workspace.local / "name with spaces.txt").write_bytes(b"s")

    listed = dict(await client.list())
    assert set(listed) == {PurePosixPath("dir"), PurePosixPath("name with spaces.txt")}
    assert listed[PurePosixPath("dir")]["type"] == "dir"
    assert listed[PurePosixPath("name with spaces.txt")]["type"] == "file"

    recursive = {str(p): info async for p, info in client.list("dir", recursive=True)}
    assert set(recursive) == {"dir/sub", "dir/f.txt", "dir/sub/g.txt"}
    assert recursive["dir/f.txt"]["size"] == "5"
    assert recursive["dir/sub/g.txt"]["size"] == "10"
    assert len(recursive["dir/f.txt"]["modify"]) == 14

    via_list = dict(await client.list("dir", raw_command="LIST"))
    assert via_list[PurePosixPath("dir/f.txt")]["size"] == "5"
    assert via_list[PurePosixPath("dir/sub")]["type"] == "dir"

    info = await client.stat("dir/f.txt")
    assert info["type"] == "file" and info["size"] == "5"
    assert (await client.stat("dir"))["type"] == "dir"
    assert await client.exists("dir/sub/g.txt")
    assert await client.exists("name with spaces.txt")
    assert not await client.exists("dir/missing")
    assert await client.is_file("dir/f.txt")
    assert not await client.is_dir("dir/f.txt")
    assert not await client.is_file("missing")
    with pytest.raises(StatusCodeError) as error:
        await client.stat("missing-file")
    assert error.value.received_codes[-1].matches("550")

    await client.rename("dir/f.txt", "dir/sub/h.txt")
    assert (workspace.local / "dir" / "sub" / "h.txt").read_bytes() == b"12345"
    await client.rename("dir/sub", "moved")
    assert (workspace.local / "moved" / "g.txt").exists()
    await client.remove_file("moved/g.txt")
    assert not (workspace.local / "moved" / "g.txt").exists()
    await client.remove("moved")
    assert not (workspace.local / "moved").exists()
    await client.remove("name with spaces.txt")
    await client.remove("does-not-exist")  # nothing to do
    await client.remove("dir")
    assert list(workspace.local.iterdir()) == []


async def test_abort_during_download_keeps_connection_in_step(
    client: anyftp.Client, workspace: Workspace
) -> None:
    data = payload(8 * 1024 * 1024, 5)
    (workspace.local / "big.bin").write_bytes(data)
    stream = await client.download_stream("big.bin")
    async for _block in stream.iter_by_block():
        await client.abort()
        stream.close()
        break
    assert await client.get_current_directory()
    # a transfer after the abort works and is complete
    async with client.download_stream("big.bin") as stream:
        assert sha(await stream.read_all()) == sha(data)


async def test_abort_after_transfer_completed_consumes_both_replies(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "small.txt").write_bytes(b"tiny")
    stream = await client.download_stream("small.txt")
    assert await stream.read_all() == b"tiny"
    await client.abort()
    stream.close()
    await client.make_directory("after-abort")
    assert (workspace.local / "after-abort").is_dir()


async def test_abort_without_wait_syncs_before_next_command(
    client: anyftp.Client, workspace: Workspace
) -> None:
    data = payload(4 * 1024 * 1024, 6)
    (workspace.local / "big.bin").write_bytes(data)
    stream = await client.download_stream("big.bin")
    await stream.read(1000)
    await client.abort(wait=False)
    stream.close()
    assert (await client.stat("big.bin"))["size"] == str(len(data))


async def test_leaving_a_stream_by_exception_leaves_the_session_usable(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "f.bin").write_bytes(payload(2 * 1024 * 1024, 7))
    with pytest.raises(RuntimeError):
        async with client.download_stream("f.bin") as stream:
            await stream.read(10)
            raise RuntimeError("stop here")
    assert await client.is_file("f.bin")


async def test_refused_transfer_raises_and_session_continues(client: anyftp.Client) -> None:
    with pytest.raises(StatusCodeError) as error:
        async with client.download_stream("no-such-file") as stream:
            await stream.read()
    assert error.value.received_codes[-1].matches("5xx")
    assert await client.get_current_directory()


async def test_listing_with_mlsd_refused_falls_back_to_list(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "x.txt").write_bytes(b"abc")
    if client._mlsd_ok:
        # Force the refusal path on servers that have MLSD: an unknown command gets 500.
        listed = await client.list(raw_command="LIST")
    else:
        listed = await client.list()
    assert [(str(p), i["size"]) for p, i in listed] == [("x.txt", "3")]
    assert await client.get_current_directory()


async def test_command_with_expected_codes_and_status_code_error_fields(
    client: anyftp.Client,
) -> None:
    result = await client.command("NOOP", "2xx")
    assert result is not None and result[0].matches("2xx")
    with pytest.raises(StatusCodeError) as error:
        await client.command("XYZZY", "2xx")
    assert error.value.expected_codes == (anyftp.Code("2xx"),)
    assert error.value.received_codes[-1].matches("5xx")
    assert error.value.info
    assert await client.command("NOOP", "200")


async def test_get_stream_and_retrieve_run_arbitrary_data_commands(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "one.txt").write_bytes(b"1")
    (workspace.local / "two.txt").write_bytes(b"2")
    async with client.get_stream("NLST", "1xx") as stream:
        names = (await stream.read_all()).decode().split()
    assert sorted(PurePosixPath(n).name for n in names) == ["one.txt", "two.txt"]
    received: list[bytes] = []
    await client.retrieve("RETR one.txt", "1xx", callback=received.append)
    assert b"".join(received) == b"1"
    await client.store("STOR three.txt", "1xx", data=[b"3", b"33"])
    assert (workspace.local / "three.txt").read_bytes() == b"333"


async def test_throttle_limit_set_on_open_stream_applies(
    client: anyftp.Client, workspace: Workspace
) -> None:
    (workspace.local / "t.bin").write_bytes(payload(600000, 8))
    stream = await client.download_stream("t.bin")
    client.throttle.read.limit = 50 * 1024 * 1024
    data = await stream.read_all()
    await stream.finish()
    assert len(data) == 600000
    assert client.throttle.read._sum > 0  # the throttle saw the bytes
    client.throttle.read.limit = None


async def test_throttle_limit_set_between_blocks_of_iter_by_block_applies(
    client: anyftp.Client, workspace: Workspace
) -> None:
    data = payload(3 * 1024 * 1024, 10)
    (workspace.local / "t.bin").write_bytes(data)
    blocks: list[bytes] = []
    try:
        async with client.download_stream("t.bin") as stream:
            async for block in stream.iter_by_block(64 * 1024):
                if not blocks:
                    client.throttle.read.limit = 100 * 1024 * 1024
                blocks.append(block)
        # Every block after the first went through the throttle.
        assert client.throttle.read._sum >= len(data) - len(blocks[0])
    finally:
        client.throttle.read.limit = None
    assert sha(b"".join(blocks)) == sha(data)
    assert max(map(len, blocks)) <= 64 * 1024


async def test_active_mode_transfers(ftp_server: FTPServerInfo, workspace: Workspace) -> None:
    client = anyftp.Client(active=True, **ftp_server.client_kwargs())
    await ftp_server.connect(client)
    try:
        await client.change_directory(workspace.remote)
        data = payload(1024 * 1024 + 5, 9)
        async with client.upload_stream("active.bin") as stream:
            await stream.write(data)
        assert file_sha(workspace.local / "active.bin") == sha(data)
        async with client.download_stream("active.bin") as stream:
            assert sha(await stream.read_all()) == sha(data)
        assert [p.name for p, _ in await client.list()] == ["active.bin"]
    finally:
        await client.quit()


async def test_pasv_only_client_works(ftp_server: FTPServerInfo, workspace: Workspace) -> None:
    client = anyftp.Client(passive_commands=("pasv",), **ftp_server.client_kwargs())
    await ftp_server.connect(client)
    try:
        await client.change_directory(workspace.remote)
        await client.upload(io.BytesIO(b"via pasv"), "p.txt")
        async with client.download_stream("p.txt") as stream:
            assert await stream.read_all() == b"via pasv"
    finally:
        await client.quit()


@pytest.mark.parametrize("server_fixture", ["vsftpd_tls_server", "anyftp_tls_server"])
async def test_servers_requiring_tls_reuse_refuse_a_fresh_session_and_session_continues(
    server_fixture: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server: FTPServerInfo = request.getfixturevalue(server_fixture)
    name = f"reuse_{os.getpid()}_{server_fixture}"
    (server.local_work_dir / name).mkdir(mode=0o777)
    (server.local_work_dir / name / "f.txt").write_bytes(b"reused")
    client = anyftp.Client(**server.client_kwargs())
    await server.connect(client)
    try:
        await client.change_directory(f"{server.work_dir}/{name}" if server.work_dir else name)
        async with client.download_stream("f.txt") as stream:  # with reuse: accepted
            assert await stream.read_all() == b"reused"

        import anyftp.client.dataconn as dataconn

        monkeypatch.setattr(dataconn, "data_context_for", lambda ssl_object: ssl_object.context)
        with pytest.raises((StatusCodeError, ConnectionError, OSError)):
            async with client.download_stream("f.txt") as stream:
                await stream.read_all()
        monkeypatch.undo()
        if server.name == "vsftpd-tls":
            # vsftpd answers 522 and then ends the whole session; the 522 was read as the
            # transfer's reply, so what follows is the closed connection, not a stale reply.
            with pytest.raises(ConnectionError):
                await client.get_current_directory()
            return
        assert await client.get_current_directory()
        async with client.download_stream("f.txt") as stream:
            assert await stream.read_all() == b"reused"
    finally:
        client.close()
