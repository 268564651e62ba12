"""The client examples of the seed documents, run with ``import anyftp as aioftp``.

The snippets of client_tutorial.rst, client_api_reference.md, index.rst and the client
part of developer_tutorial.rst are written out here as close to their text as running
them allows (file names, hosts and ports filled in), against pyftpdlib and our server.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path, PurePosixPath

import pytest

import anyftp as aioftp

from .conftest import FTPServerInfo, Workspace

pytestmark = pytest.mark.timeout(120)

SEED_SERVERS = ("pyftpdlib", "anyftp")
_FIXTURES = {"pyftpdlib": "pyftpdlib_server", "anyftp": "anyftp_server"}


@pytest.fixture(params=SEED_SERVERS)
def ftp_server(request: pytest.FixtureRequest) -> FTPServerInfo:
    info: FTPServerInfo = request.getfixturevalue(_FIXTURES[request.param])
    return info


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_client_tutorial_walkthrough(
    ftp_server: FTPServerInfo, workspace: Workspace, here: Path
) -> None:
    HOST, PORT = ftp_server.host, ftp_server.port
    (here / "test.py").write_text("print('hello')\n")
    (here / "folder1" / "sub").mkdir(parents=True)
    (here / "folder1" / "a.mp3").write_bytes(b"ID3" + os.urandom(1000))
    (here / "folder1" / "sub" / "b.txt").write_bytes(b"b")

    # Connecting to server
    client = aioftp.Client()
    await client.connect(HOST, PORT)
    await client.login("user", "secret")
    await client.change_directory(workspace.remote)
    await client.quit()

    async with aioftp.ClientSession(HOST, PORT, "user", "secret") as client:
        await client.change_directory(workspace.remote)
        # Download and upload paths
        await client.upload("test.py")
        await client.upload("test.py", "tmp/test.py", write_into=True)
        await client.upload("folder1", "folder2", write_into=True)
        await client.upload("folder1", "folder3")
        assert (workspace.local / "test.py").exists()
        assert (workspace.local / "tmp" / "test.py").exists()
        assert (workspace.local / "folder2" / "sub" / "b.txt").exists()
        assert (workspace.local / "folder3" / "folder1" / "sub" / "b.txt").exists()
        await client.download("tmp/test.py", "foo.py", write_into=True)
        await client.download("folder2")
        assert (here / "foo.py").read_text() == "print('hello')\n"
        assert (here / "folder2" / "sub" / "b.txt").read_bytes() == b"b"

        # Listing paths
        listed = await client.list()
        assert PurePosixPath("test.py") in [path for path, info in listed]
        recursive = await client.list("folder2", recursive=True)
        assert {str(path) for path, info in recursive} >= {"folder2/sub/b.txt"}
        async for path, _info in client.list("folder2", recursive=True):
            assert path.parts[0] == "folder2"
        for path, info in await client.list("folder2"):
            if info["type"] == "file":
                await client.download(path, path.name)
        assert (here / "a.mp3").exists()

        # Getting path stats
        stat = await client.stat("test.py")
        assert stat["type"] == "file" and int(stat["size"]) == 15
        assert (await client.stat("folder2"))["type"] == "dir"
        assert await client.is_file("folder2") is False
        assert await client.is_dir("folder2") is True
        assert await client.is_file("test.py") is True
        assert await client.exists("test.py") is True
        assert await client.exists("naked-guido.png") is False

        # Remove path
        await client.remove("foo.py")  # not there: nothing happens
        await client.remove("tmp")
        assert not (workspace.local / "tmp").exists()

        # Dealing with directories
        start = await client.get_current_directory()
        await client.change_directory("folder2")
        assert await client.get_current_directory() == start / "folder2"
        await client.change_directory()
        assert await client.get_current_directory() == start
        await client.make_directory("folder4")
        await client.change_directory("folder4")
        assert await client.get_current_directory() == start / "folder4"
        await client.change_directory()

        # Rename (move) path
        await client.rename("test.py", "foo.py")
        assert [p for p, _ in await client.list() if p.name == "foo.py"]


async def test_client_tutorial_streams_abort_and_restart(
    ftp_server: FTPServerInfo, workspace: Workspace
) -> None:
    HOST, PORT = ftp_server.host, ftp_server.port
    data = os.urandom(3 * 1024 * 1024)
    (workspace.local / "tmp.py").write_bytes(data)
    async with aioftp.ClientSession(HOST, PORT, "user", "secret") as client:
        await client.change_directory(workspace.remote)
        blocks = []
        async with client.download_stream("tmp.py") as stream:
            async for block in stream.iter_by_block():
                blocks.append(block)
        assert hashlib.sha256(b"".join(blocks)).digest() == hashlib.sha256(data).digest()

        stream = await client.download_stream("tmp.py")
        something_not_interesting = True
        async for _block in stream.iter_by_block():
            if something_not_interesting:
                await client.abort()
                stream.close()
                break
        else:
            await stream.finish()

        tail = b""
        async with client.download_stream("tmp.py", offset=256) as stream:
            async for block in stream.iter_by_block():
                tail += block
        assert tail == data[256:]

    # "Or if you want to restore upload/download process"
    filename = "restored.bin"
    block_size = 64 * 1024
    file_in = io.BytesIO(data)
    (workspace.local / filename).write_bytes(data[:1000000])  # an interrupted upload
    while True:
        try:
            async with aioftp.ClientSession(HOST, PORT, "user", "secret") as client:
                await client.change_directory(workspace.remote)
                if await client.exists(filename):
                    stat = await client.stat(filename)
                    size = int(stat["size"])
                else:
                    size = 0
                file_in.seek(size)
                async with client.upload_stream(filename, offset=size) as stream:
                    while True:
                        data_block = file_in.read(block_size)
                        if not data_block:
                            break
                        await stream.write(data_block)
            break
        except ConnectionResetError:
            pass
    assert (workspace.local / filename).read_bytes() == data


async def test_client_tutorial_throttle_path_io_and_timeouts(
    ftp_server: FTPServerInfo, workspace: Workspace
) -> None:
    client = aioftp.Client(read_speed_limit=100 * 1024)  # 100 Kib/s
    client.throttle.write.limit = 250 * 1024
    assert client.throttle.read.limit == 100 * 1024
    client = aioftp.Client(socket_timeout=1)
    client = aioftp.Client(path_timeout=1, path_io_factory=aioftp.AsyncPathIO)

    client = aioftp.Client(path_io_factory=aioftp.MemoryPathIO, socket_timeout=10)
    (workspace.local / "remote.txt").write_bytes(b"into memory")
    await client.connect(ftp_server.host, ftp_server.port)
    await client.login("user", "secret")
    await client.change_directory(workspace.remote)
    await client.download("remote.txt", "/mem/copy.txt", write_into=True)
    assert await client.path_io.is_file(PurePosixPath("/mem/copy.txt"))
    await client.upload("/mem/copy.txt", "back.txt", write_into=True)
    assert (workspace.local / "back.txt").read_bytes() == b"into memory"
    await client.quit()


async def test_api_reference_examples(
    ftp_server: FTPServerInfo, workspace: Workspace, here: Path
) -> None:
    host, port = ftp_server.host, ftp_server.port
    (here / "local_file.txt").write_bytes(b"local")

    async def basic_transfer() -> None:
        async with aioftp.Client.context(host, port, user="user", password="secret") as client:
            await client.change_directory(workspace.remote)
            await client.upload("local_file.txt", "remote_file.txt", write_into=True)
            await client.download("remote_file.txt", "downloaded_file.txt", write_into=True)
            assert await client.exists("remote_file.txt")

    async def directory_operations() -> list[str]:
        lines = []
        async with aioftp.Client.context(host, port, "user", "secret") as client:
            await client.change_directory(workspace.remote)
            current = await client.get_current_directory()
            assert isinstance(current, PurePosixPath)
            await client.make_directory("new_folder")
            await client.change_directory("new_folder")
            await client.upload("local_file.txt")
            async for path, info in client.list():
                file_type = "DIR" if info.get("type") == "dir" else "FILE"
                size = info.get("size", "unknown")
                lines.append(f"{file_type}: {path} ({size} bytes)")
        return lines

    async def streaming_transfer() -> bytes:
        async with aioftp.Client.context(host, port, "user", "secret") as client:
            await client.change_directory(workspace.remote)
            async with client.upload_stream("remote_file.txt") as stream:
                await stream.write(b"Hello, ")
                await stream.write(b"World!")
            async with client.download_stream("remote_file.txt") as stream:
                data: bytes = await stream.read()
            return data

    await basic_transfer()
    assert (here / "downloaded_file.txt").read_bytes() == b"local"
    assert await directory_operations() == ["FILE: local_file.txt (5 bytes)"]
    assert (await streaming_transfer()).decode() == "Hello, World!"


async def test_index_get_mp3_example(
    ftp_server: FTPServerInfo, workspace: Workspace, here: Path
) -> None:
    (workspace.local / "music" / "album").mkdir(parents=True)
    (workspace.local / "music" / "album" / "song.mp3").write_bytes(b"mp3!")
    (workspace.local / "music" / "notes.txt").write_bytes(b"skip")

    async def get_mp3(host: str, port: int, login: str, password: str) -> None:
        async with aioftp.ClientSession(host, port, login, password) as client:
            await client.change_directory(workspace.remote)
            for path, info in await client.list(recursive=True):
                if info["type"] == "file" and path.suffix == ".mp3":
                    await client.download(path)

    tasks = [get_mp3(ftp_server.host, ftp_server.port, "user", "secret") for _ in range(3)]
    await asyncio.wait([asyncio.ensure_future(t) for t in tasks])
    assert (here / "song.mp3").read_bytes() == b"mp3!"
    assert not (here / "notes.txt").exists()


async def test_developer_tutorial_client_extension(
    ftp_server: FTPServerInfo, workspace: Workspace
) -> None:
    (workspace.local / "numbers.bin").write_bytes(bytes(range(256)) * 40)

    class MyClient(aioftp.Client):
        async def noop(self) -> None:
            await self.command("NOOP", "2xx")

        async def collect(self, count: int) -> list[int]:
            def callback(data: bytes) -> None:
                for x in data:
                    if x % 2 == 0:
                        collected.append(x)

            collected: list[int] = []
            await self.retrieve("RETR numbers.bin", "1xx", callback=callback)
            return collected[:count]

    client = MyClient()
    await client.connect(ftp_server.host, ftp_server.port)
    await client.login("user", "secret")
    await client.change_directory(workspace.remote)
    await client.noop()
    assert await client.collect(100) == [x % 256 for x in range(0, 200, 2)]
    await client.quit()
