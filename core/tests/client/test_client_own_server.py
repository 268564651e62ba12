"""The client against this project's own server, in process: IPv6, active mode, trees.

(The full interop suite against real servers lives in tests/client_interop.)
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import anyftp

pytestmark = pytest.mark.timeout(60)

server_module = pytest.importorskip("anyftp.server", reason="anyftp.server not importable")


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.fixture(params=["127.0.0.1", "::1"])
async def server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, int, Path]]:
    host = request.param
    if host == "::1" and not _has_ipv6():
        pytest.skip("no IPv6 loopback")
    root = tmp_path / "root"
    root.mkdir()
    ftp = anyftp.Server([anyftp.User("u", "p", base_path=root)], socket_timeout=10)
    await ftp.start(host, 0)
    try:
        yield host, ftp.address[1], root
    finally:
        await ftp.close()


@pytest.mark.parametrize("active", [False, True], ids=["passive", "active"])
async def test_transfers_over_ipv4_and_ipv6(
    server: tuple[str, int, Path], active: bool, tmp_path: Path
) -> None:
    host, port, root = server
    async with anyftp.Client.context(
        host, port, "u", "p", socket_timeout=10, active=active
    ) as client:
        async with client.upload_stream("f.bin") as stream:
            await stream.write(b"abc" * 100000)
        assert (root / "f.bin").read_bytes() == b"abc" * 100000
        async with client.download_stream("f.bin", offset=3) as stream:
            assert await stream.read_all() == b"abc" * 99999
        assert [p.name for p, _ in await client.list()] == ["f.bin"]


async def test_uploading_a_tree_twice_reuses_existing_directories(
    server: tuple[str, int, Path], tmp_path: Path
) -> None:
    host, port, root = server
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f.txt").write_bytes(b"one")
    async with anyftp.Client.context(host, port, "u", "p", socket_timeout=10) as client:
        await client.upload(tree)
        (tree / "a" / "b" / "f.txt").write_bytes(b"two")
        await client.upload(tree)
    assert (root / "tree" / "a" / "b" / "f.txt").read_bytes() == b"two"
